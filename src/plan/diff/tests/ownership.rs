//! Ownership: adoption, refusals, orphans, pruning and its guards.

use serde_json::{Value, json};

use super::{example_pair, only_change, ops, plan, plan_with, problems};
use crate::model::{Hierarchy, Kind};
use crate::plan::fixtures::{SOURCE, customer, edit, example, live_of, remove};
use crate::plan::{Op, PlanOptions, Problem};

fn pruning(max_prune_percent: f64) -> PlanOptions {
    PlanOptions {
        prune: true,
        max_prune_percent,
        ..PlanOptions::new(SOURCE)
    }
}

/// The example tree live, with `name` unmanaged (or managed by `owner`).
fn live_with_owner(name: &str, owner: Option<&str>) -> Hierarchy {
    let mut live = live_of(&example(), Some(SOURCE));
    edit(&mut live, name, |node| {
        node.live.managed_by = owner.map(Into::into)
    });
    live
}

#[test]
fn adopting_an_unmanaged_account_takes_ownership_and_applies_changes() {
    let live = live_with_owner("acme-fr", None);
    let mut desired = example();
    edit(&mut desired, "acme-fr", |node| {
        node.adopt = true;
        node.spec.display_name = "ACME France".into();
    });
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::Update);
    let fields: Vec<(&str, &Value, &Value)> = change
        .fields
        .iter()
        .map(|field| (field.name.as_str(), &field.before, &field.after))
        .collect();
    assert_eq!(
        fields,
        [
            ("displayName", &json!("Acme Fr"), &json!("ACME France")),
            ("managedBy", &Value::Null, &json!(SOURCE)),
        ]
    );
    assert_eq!(plan.writes.nodes.len(), 1, "the adopted row is written");
}

#[test]
fn adopting_an_identical_account_is_still_a_change() {
    let live = live_with_owner("acme-fr", None);
    let mut desired = example();
    edit(&mut desired, "acme-fr", |node| node.adopt = true);
    let plan = plan(&live, &desired);
    assert_eq!(ops(&plan), [(Op::Update, "acme-fr")]);
}

#[test]
fn declaring_an_unmanaged_account_without_the_annotation_is_refused() {
    let live = live_with_owner("acme-fr", None);
    let found = problems(&live, &example(), &PlanOptions::new(SOURCE));
    assert_eq!(
        found,
        [Problem::ExistsUnmanaged {
            kind: Kind::Account,
            name: "acme-fr".to_string()
        }]
    );
    assert_eq!(
        found[0].to_string(),
        "Account acme-fr exists unmanaged; add annotation canopy.dev/adopt: \"true\" to adopt it"
    );
}

#[test]
fn declaring_another_sources_account_is_refused_even_with_adopt() {
    let live = live_with_owner("acme-fr", Some("team-b"));
    let mut desired = example();
    edit(&mut desired, "acme-fr", |node| node.adopt = true);
    let found = problems(&live, &desired, &PlanOptions::new(SOURCE));
    assert_eq!(
        found[0].to_string(),
        "Account acme-fr is managed by source team-b, not by default"
    );
}

#[test]
fn other_sources_and_unmanaged_objects_are_never_changed() {
    let mut live = live_of(&example(), None);
    edit(&mut live, "partner-nordic", |node| {
        node.live.managed_by = Some(SOURCE.into())
    });
    // The source declares only partner-nordic, and deactivates it.
    let mut desired = Hierarchy::new(
        example()
            .node("partner-nordic")
            .cloned()
            .into_iter()
            .collect(),
        vec![],
    );
    edit(&mut desired, "partner-nordic", |node| {
        node.spec.active = false
    });
    let plan = plan(&live, &desired);
    assert_eq!(ops(&plan), [(Op::Deactivate, "partner-nordic")]);
    assert!(plan.orphans.is_empty(), "unmanaged objects are not orphans");
    let written: Vec<&str> = plan.writes.nodes.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(written, ["partner-nordic"]);
    assert!(
        plan.writes
            .effective
            .iter()
            .all(|(_, effective)| !effective.active),
        "only the unmanaged descendants' effective values change"
    );
}

#[test]
fn undeclared_managed_objects_are_listed_as_orphans_and_kept() {
    let (live, mut desired) = example_pair();
    remove(&mut desired, "x-one");
    remove(&mut desired, "x-two");
    desired.plans.retain(|plan| plan.name != "smb-pooled");
    edit(&mut desired, "nordic-smb", |node| node.spec.plan = None);
    let plan = plan(&live, &desired);
    assert_eq!(ops(&plan), [(Op::ChangePlan, "nordic-smb")]);
    assert_eq!(plan.orphans, ["smb-pooled", "x-one", "x-two"]);
    assert!(plan.writes.archive_nodes.is_empty());
}

#[test]
fn orphans_named_for_release_are_kept_and_made_unmanaged() {
    let (live, mut desired) = example_pair();
    for name in ["x-one", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    desired.plans.retain(|plan| plan.name != "smb-pooled");
    edit(&mut desired, "nordic-smb", |node| node.spec.plan = None);
    let options = PlanOptions {
        release: ["x-two", "x-one", "smb-pooled", "acme-fr"]
            .map(String::from)
            .to_vec(),
        archive: vec!["x-three".to_string()],
        ..PlanOptions::new(SOURCE)
    };
    let plan = plan_with(&live, &desired, &options);
    assert_eq!(
        ops(&plan),
        [
            (Op::ChangePlan, "nordic-smb"),
            (Op::Delete, "x-three"),
            (Op::Release, "x-one"),
            (Op::Release, "x-two"),
            (Op::Release, "smb-pooled"),
        ],
        "a declared account (acme-fr) is never released"
    );
    let release = plan
        .changes
        .iter()
        .find(|change| change.op == Op::Release)
        .expect("a release");
    assert_eq!(release.kind, Kind::Account);
    assert_eq!(release.from.as_deref(), Some(SOURCE));
    assert_eq!(plan.writes.release_nodes, ["x-one", "x-two"]);
    assert_eq!(plan.writes.release_plans, ["smb-pooled"]);
    assert_eq!(plan.writes.archive_nodes, ["x-three"]);
    assert!(plan.writes.nodes.iter().all(|write| write.name != "x-one"));
    assert_eq!(plan.summary().count(Op::Release), 3);
}

#[test]
fn a_release_is_planned_even_with_prune_and_only_for_this_sources_orphans() {
    let (mut live, mut desired) = example_pair();
    edit(&mut live, "x-two", |node| {
        node.live.managed_by = Some("team-b".into())
    });
    remove(&mut desired, "x-one");
    remove(&mut desired, "x-two");
    let options = PlanOptions {
        release: vec!["x-one".to_string(), "x-two".to_string()],
        ..pruning(100.0)
    };
    let plan = plan_with(&live, &desired, &options);
    assert_eq!(ops(&plan), [(Op::Release, "x-one")]);
    assert!(plan.writes.archive_nodes.is_empty(), "released, not pruned");
}

#[test]
fn pruning_deletes_children_before_parents() {
    let (live, mut desired) = example_pair();
    for name in ["partner-x", "x-one", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    let plan = plan_with(&live, &desired, &pruning(100.0));
    assert_eq!(
        ops(&plan),
        [
            (Op::Delete, "x-one"),
            (Op::Delete, "x-three"),
            (Op::Delete, "x-two"),
            (Op::Delete, "partner-x"),
        ]
    );
    assert_eq!(
        plan.writes.archive_nodes,
        ["x-one", "x-three", "x-two", "partner-x"]
    );
}

#[test]
fn a_child_moved_away_lets_its_old_parent_be_pruned() {
    let (live, mut desired) = example_pair();
    for name in ["partner-x", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    edit(&mut desired, "x-one", |node| {
        node.spec.parent = Some("partner-nordic".into())
    });
    let plan = plan_with(&live, &desired, &pruning(100.0));
    assert_eq!(
        ops(&plan),
        [
            (Op::Move, "x-one"),
            (Op::Delete, "x-three"),
            (Op::Delete, "x-two"),
            (Op::Delete, "partner-x"),
        ]
    );
}

#[test]
fn pruning_a_parent_whose_child_stays_is_refused() {
    let (mut live, mut desired) = example_pair();
    edit(&mut live, "x-one", |node| {
        node.live.managed_by = Some("team-b".into())
    });
    remove(&mut desired, "x-one");
    for name in ["partner-x", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    let found = problems(&live, &desired, &pruning(100.0));
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["cannot prune partner-x: x-one is still under it (prune or move x-one too)"]
    );
}

#[test]
fn the_prune_guard_refuses_more_than_the_allowed_share() {
    let (live, mut desired) = example_pair();
    remove(&mut desired, "x-one");
    remove(&mut desired, "x-two");
    // 2 of the 10 managed accounts (groups are not counted) is 20%.
    let found = problems(&live, &desired, &pruning(10.0));
    assert!(
        matches!(
            &found[..],
            [Problem::PruneLimit {
                pruned: 2,
                managed: 10,
                ..
            }]
        ),
        "{found:?}"
    );
    assert_eq!(
        found[0].to_string(),
        "refusing to prune 2 of 10 accounts managed by default (20.0%, more than the 10% allowed by --max-prune); first pruned: x-one, x-two"
    );
    let allowed = plan_with(&live, &desired, &pruning(20.0));
    assert_eq!(allowed.writes.archive_nodes, ["x-one", "x-two"]);
}

#[test]
fn an_empty_source_prunes_nothing() {
    let (live, _) = example_pair();
    let plan = plan_with(&live, &Hierarchy::default(), &pruning(100.0));
    assert!(plan.changes.is_empty());
    assert!(plan.writes.is_empty());
    assert_eq!(plan.orphans.len(), 15, "13 nodes and 2 service plans");
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].code, "empty-source");
}

#[test]
fn a_source_declaring_one_account_is_not_empty() {
    let (live, _) = example_pair();
    let desired = Hierarchy::new(vec![customer("x-one", "partner-x")], vec![]);
    let found = problems(&live, &desired, &pruning(10.0));
    assert!(
        found
            .iter()
            .any(|problem| matches!(problem, Problem::PruneLimit { .. })),
        "{found:?}"
    );
}

/// The example tree live with `name` archived, last managed by `owner` under `parent`.
pub(super) fn live_with_archived(name: &str, parent: &str, owner: &str) -> Hierarchy {
    let mut live = live_of(&example(), Some(SOURCE));
    remove(&mut live, name);
    live.archived.push(crate::model::Archived {
        name: name.into(),
        parent: Some(parent.into()),
        managed_by: Some(owner.into()),
        account_number: Some(4711),
    });
    live
}

#[test]
fn the_source_that_archived_an_account_may_restore_it() {
    let live = live_with_archived("acme-fr", "partner-nordic", SOURCE);
    let plan = plan(&live, &example());
    assert_eq!(ops(&plan), [(Op::Create, "acme-fr")]);
}

#[test]
fn another_source_may_not_restore_an_archived_account() {
    let live = live_with_archived("acme-fr", "partner-nordic", "tenant-a");
    let found = problems(&live, &example(), &PlanOptions::new(SOURCE));
    assert_eq!(
        found,
        [Problem::RestoreByOtherSource {
            kind: Kind::Account,
            name: "acme-fr".to_string(),
            owner: "tenant-a".to_string(),
            source_name: SOURCE.to_string(),
        }]
    );
}
