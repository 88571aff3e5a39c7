//! The pass against a real (in-memory SQLite) store.

use super::*;
use crate::plan::fixtures::{SOURCE, edit, example};
use crate::store::{self, StoreError};

fn loaded(hierarchy: Hierarchy) -> impl FnOnce(&Hierarchy) -> Result<Loaded, LoadError> {
    move |_live: &Hierarchy| {
        Ok(Loaded {
            hierarchy,
            diagnostics: Vec::new(),
            files: 1,
            documents: 1,
        })
    }
}

fn options(gate: Gate) -> Options {
    Options {
        plan: PlanOptions::new(SOURCE),
        context: ApplyContext {
            actor: "test".to_string(),
            source: SOURCE.to_string(),
            revision: None,
        },
        gate,
    }
}

fn memory_store() -> Box<dyn Store> {
    store::open("sqlite::memory:").expect("in-memory store")
}

fn deactivated_partner() -> Hierarchy {
    let mut desired = example();
    edit(&mut desired, "partner-nordic", |node| {
        node.spec.active = false
    });
    desired
}

#[test]
fn a_pass_applies_then_finds_nothing_to_do() {
    let mut store = memory_store();
    let first = reconcile(&mut *store, loaded(example()), &options(Gate::Off)).unwrap();
    let Outcome::Applied(report) = &first.outcome else {
        panic!("expected an apply, got {:?}", first.outcome);
    };
    assert!(!report.assigned.is_empty());
    let second = reconcile(&mut *store, loaded(example()), &options(Gate::Off)).unwrap();
    assert_eq!(second.outcome, Outcome::Unchanged);
    assert_eq!(second.live.hierarchy.nodes.len(), example().nodes.len());
}

#[test]
fn a_deactivation_above_the_gate_is_held_and_writes_nothing() {
    let mut store = memory_store();
    reconcile(&mut *store, loaded(example()), &options(Gate::Off)).unwrap();
    let before = store.snapshot().unwrap().fingerprint;
    let held = reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::HoldAbove(3)),
    )
    .unwrap();
    assert_eq!(held.outcome, Outcome::Held);
    assert_eq!(
        held.radius.deactivated, 4,
        "partner-nordic, acme-de, acme-fr, acme-eu"
    );
    assert_eq!(store.snapshot().unwrap().fingerprint, before);
    let flowing = reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::HoldAbove(4)),
    )
    .unwrap();
    assert!(matches!(flowing.outcome, Outcome::Applied(_)));
}

#[test]
fn a_held_plan_applies_only_while_the_live_state_is_unchanged() {
    let mut store = memory_store();
    reconcile(&mut *store, loaded(example()), &options(Gate::Off)).unwrap();
    let held = reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::HoldAbove(0)),
    )
    .unwrap();
    assert_eq!(held.outcome, Outcome::Held);
    let mut moved = example();
    edit(&mut moved, "acme-de", |node| {
        node.spec.display_name = "Moved".into()
    });
    reconcile(&mut *store, loaded(moved), &options(Gate::Off)).unwrap();
    let context = options(Gate::Off).context;
    let refused = Pass::begin(&mut *store)
        .unwrap()
        .saved(held.plan.clone())
        .apply(&context)
        .unwrap_err();
    assert!(refused.is_stale_plan(), "{refused}");
    assert_eq!(refused.retry_class(), RetryClass::Permanent);
}

#[test]
fn a_saved_plan_applies_against_the_state_it_was_made_from() {
    let mut store = memory_store();
    reconcile(&mut *store, loaded(example()), &options(Gate::Off)).unwrap();
    let preview = preview(
        &mut *store,
        loaded(deactivated_partner()),
        &PlanOptions::new(SOURCE),
    )
    .unwrap();
    let context = options(Gate::Off).context;
    let applied = Pass::begin(&mut *store)
        .unwrap()
        .saved(preview.plan)
        .apply(&context)
        .unwrap();
    assert!(applied.report.audit_rows > 0);
    let again = reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::Off),
    )
    .unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);
}

#[test]
fn invalid_manifests_are_permanent_and_write_nothing() {
    let mut store = memory_store();
    let broken = |_: &Hierarchy| -> Result<Loaded, LoadError> {
        Err(LoadError {
            diagnostics: Vec::new(),
        })
    };
    let error = reconcile(&mut *store, broken, &options(Gate::Off)).unwrap_err();
    assert!(matches!(error, ReconcileError::Load(_)));
    assert_eq!(error.retry_class(), RetryClass::Permanent);
    assert!(store.snapshot().unwrap().hierarchy.nodes.is_empty());
}

#[test]
fn a_store_error_keeps_its_class() {
    let error = ReconcileError::from(StoreError::SchemaTooNew { found: 9, known: 2 });
    assert_eq!(error.retry_class(), RetryClass::Permanent);
}

/// The kept live state after an apply is exactly what a full read gives, for a change
/// with moves, groupings, cascades, renames and prunes, on an in-memory SQLite store.
#[cfg(feature = "testing")]
#[test]
fn the_kept_state_after_an_apply_equals_a_full_read() {
    let mut store = memory_store();
    let base = crate::generate::hierarchy(600, 3);
    let changed = crate::generate::mutate(&base, 3, 30);
    let mut plan_options = PlanOptions::new(SOURCE);
    plan_options.prune = true;
    plan_options.max_prune_percent = 100.0;
    let context = options(Gate::Off).context;
    let (pass, _) = Pass::begin_kept(&mut *store, None).unwrap();
    let first = pass
        .plan(loaded(base), &plan_options)
        .unwrap()
        .apply_kept(&context)
        .unwrap();
    assert_eq!(
        first.kept.snapshot.hierarchy,
        store.snapshot().unwrap().hierarchy
    );
    let (pass, outdated) = Pass::begin_kept(&mut *store, Some(first.kept)).unwrap();
    assert!(
        outdated.is_none(),
        "nothing else wrote: the kept state is trusted"
    );
    assert!(!pass.live().fingerprint.is_empty());
    let second = pass
        .plan(loaded(changed.clone()), &plan_options)
        .unwrap()
        .apply_kept(&context)
        .unwrap();
    assert!(!second.plan.changes.is_empty());
    let read = store.snapshot().unwrap();
    assert_eq!(second.kept.snapshot.hierarchy, read.hierarchy);
    assert_eq!(second.kept.counter, store.change_counter().unwrap());
    // Planning again against the kept state finds nothing, as against a full read.
    let (pass, _) = Pass::begin_kept(&mut *store, Some(second.kept)).unwrap();
    let again = pass.plan(loaded(changed), &plan_options).unwrap();
    assert!(!again.has_writes(), "{:?}", again.plan().changes);
}

/// The example applied by one pass, with the live state it keeps.
fn apply_example(store: &mut dyn Store) -> AppliedKept {
    let (pass, _) = Pass::begin_kept(store, None).unwrap();
    pass.plan(loaded(example()), &PlanOptions::new(SOURCE))
        .unwrap()
        .apply_kept(&options(Gate::Off).context)
        .unwrap()
}

#[test]
fn a_write_by_someone_else_makes_the_pass_read_everything() {
    let mut store = memory_store();
    let applied = apply_example(&mut *store);
    // Another writer: `canopy apply` of a deactivation, outside this pass.
    reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::Off),
    )
    .unwrap();
    let (pass, outdated) = Pass::begin_kept(&mut *store, Some(applied.kept)).unwrap();
    let outdated = outdated.expect("the counter moved: the kept copy is handed back");
    let changed = live::changed_names(&outdated.snapshot.hierarchy, &pass.live().hierarchy);
    assert!(changed.contains("partner-nordic"), "{changed:?}");
    let live = pass.live().hierarchy.clone();
    drop(pass);
    assert_eq!(live, store.snapshot().unwrap().hierarchy);
}

#[test]
fn a_resync_decodes_the_live_rows_only_when_they_are_not_the_kept_state() {
    let mut store = memory_store();
    let applied = apply_example(&mut *store);
    // Patched after its own writes, the kept state has no fingerprint of every row:
    // the rows are decoded and compared.
    let (pass, outdated, verified) = Pass::begin_verified(&mut *store, Some(applied.kept)).unwrap();
    assert!(!verified);
    let outdated = outdated.expect("a patched state is handed back to compare");
    assert!(live::changed_names(&outdated.snapshot.hierarchy, &pass.live().hierarchy).is_empty());
    let (_, kept, _) = pass
        .plan(loaded(example()), &PlanOptions::new(SOURCE))
        .unwrap()
        .into_kept();
    let kept = kept.expect("a state read whole is kept");
    // Read whole, then nothing wrote: its fingerprint is the rows', nothing is decoded.
    let (pass, outdated, verified) = Pass::begin_verified(&mut *store, Some(kept)).unwrap();
    assert!(verified && outdated.is_none());
    let (_, kept, _) = pass
        .plan(loaded(example()), &PlanOptions::new(SOURCE))
        .unwrap()
        .into_kept();
    // Another writer changed a row: the fingerprint differs, the rows are decoded.
    reconcile(
        &mut *store,
        loaded(deactivated_partner()),
        &options(Gate::Off),
    )
    .unwrap();
    let kept = kept.expect("kept");
    let (pass, outdated, verified) = Pass::begin_verified(&mut *store, Some(kept)).unwrap();
    assert!(!verified);
    let outdated = outdated.expect("the kept state is handed back");
    let changed = live::changed_names(&outdated.snapshot.hierarchy, &pass.live().hierarchy);
    assert!(changed.contains("partner-nordic"), "{changed:?}");
    let live = pass.live().hierarchy.clone();
    drop(pass);
    assert_eq!(live, store.snapshot().unwrap().hierarchy);
}
