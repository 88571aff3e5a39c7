//! The core promise, on both backends: for generated pairs of valid hierarchies A and B
//! (accounts of every type, groups, plans, users, deactivations, services, settings),
//! starting from A, applying plan(A→B) yields exactly B, planning again yields nothing,
//! and every account keeps the number it was first given, whatever moves, through
//! prunes and restores.
//!
//! Each case starts from the state the previous case left (so A is always a real,
//! previously applied database), and B is either a mutation of A (moves, groupings,
//! ungroupings, plan changes, (de)activations, user edits, new and removed accounts)
//! or an unrelated hierarchy (mass moves, type changes, prunes and restores).

mod support;

use std::collections::BTreeMap;

use canopy::generate::{self, Rng};
use canopy::model::Hierarchy;
use canopy::plan::{self, PlanOptions};
use canopy::store::{ApplyContext, Store};
use support::fixtures::{SOURCE, assert_round_trip};
use support::{Backend, TestDb};

/// At least 500 cases per backend per CI run; `CANOPY_PROPERTY_CASES` overrides.
fn cases() -> usize {
    std::env::var("CANOPY_PROPERTY_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(500)
}

fn options(base_fingerprint: String) -> PlanOptions {
    PlanOptions {
        source: SOURCE.to_string(),
        base_fingerprint,
        prune: true,
        max_prune_percent: 100.0,
        scope: None,
        archive: Vec::new(),
        release: Vec::new(),
    }
}

fn context() -> ApplyContext {
    ApplyContext {
        actor: "property-test".to_string(),
        source: SOURCE.to_string(),
        revision: None,
    }
}

/// Plans `desired` against the live state and applies it in one transaction.
fn plan_and_apply(store: &mut dyn Store, desired: &Hierarchy, case: usize) -> usize {
    let mut transaction = store.begin().expect("begin");
    let live = transaction.snapshot().expect("snapshot in transaction");
    let plan = plan::diff(&live.hierarchy, desired, &options(live.fingerprint))
        .unwrap_or_else(|error| panic!("case {case}: planning failed: {error}"));
    transaction
        .apply(&plan, &context())
        .unwrap_or_else(|error| panic!("case {case}: apply failed: {error}"));
    transaction
        .commit()
        .unwrap_or_else(|error| panic!("case {case}: commit failed: {error}"));
    plan.changes.len()
}

fn next_target(rng: &mut Rng, current: &Hierarchy) -> Hierarchy {
    let seed = rng.next_u64();
    if current.nodes.is_empty() || rng.chance(25) {
        generate::hierarchy(5 + rng.below(60), seed)
    } else {
        generate::mutate(current, seed, 5 + rng.below(40) as u32)
    }
}

fn applying_a_plan_yields_exactly_the_desired_state(db: &TestDb) {
    let mut store = db.open();
    let mut rng = Rng::new(0xC0FFEE);
    let mut current = Hierarchy::default();
    let mut first_numbers: BTreeMap<String, i64> = BTreeMap::new();
    let mut total_changes = 0;
    for case in 0..cases() {
        let target = next_target(&mut rng, &current);
        total_changes += plan_and_apply(store.as_mut(), &target, case);

        let live = store.snapshot().expect("snapshot");
        assert_round_trip(&live.hierarchy, &target);

        let again =
            plan::diff(&live.hierarchy, &target, &options(live.fingerprint)).expect("second plan");
        assert!(
            again.changes.is_empty() && again.writes.is_empty(),
            "case {case}: a second plan is not empty: {:?}",
            again.changes.iter().take(5).collect::<Vec<_>>()
        );

        for node in &live.hierarchy.nodes {
            if let Some(number) = node.live.account_number {
                let first = *first_numbers.entry(node.name.to_string()).or_insert(number);
                assert_eq!(
                    number, first,
                    "case {case}: {} changed its account number",
                    node.name
                );
            }
        }
        current = target;
    }
    let mut numbers: Vec<i64> = first_numbers.values().copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        first_numbers.len(),
        "an account number was reused"
    );
    assert!(
        total_changes > cases(),
        "the generator produced too few changes to prove anything"
    );
}

#[test]
fn sqlite_applying_a_plan_yields_exactly_the_desired_state() {
    applying_a_plan_yields_exactly_the_desired_state(&TestDb::new(Backend::Sqlite));
}

#[test]
fn postgres_applying_a_plan_yields_exactly_the_desired_state() {
    applying_a_plan_yields_exactly_the_desired_state(&TestDb::new(Backend::Postgres));
}
