//! Scoped runs: only the subtree of the scope root may be declared and changed.

use rstest::rstest;

use super::{ops, plan_with, problems};
use crate::model::{Billing, Hierarchy, Kind, NodeType};
use crate::plan::fixtures::{
    SOURCE, customer, edit, example, live_of, node, partner, remove, service_plan,
};
use crate::plan::{Op, PlanOptions, Problem};

fn scoped(root: &str) -> PlanOptions {
    PlanOptions {
        scope: Some(root.to_string()),
        ..PlanOptions::new(SOURCE)
    }
}

/// The nodes of the example tree at or below `root`, and no service plans: what a
/// team owning that subtree declares.
fn example_subtree(root: &str) -> Hierarchy {
    let full = example();
    Hierarchy::new(
        full.nodes
            .iter()
            .filter(|node| is_inside(&full, root, &node.name))
            .cloned()
            .collect(),
        vec![],
    )
}

fn is_inside<'a>(full: &'a Hierarchy, root: &str, mut name: &'a str) -> bool {
    loop {
        if name == root {
            return true;
        }
        match full.node(name).and_then(|node| node.spec.parent.as_deref()) {
            Some(parent) => name = parent,
            None => return false,
        }
    }
}

fn with(mut hierarchy: Hierarchy, extra: crate::model::Node) -> Hierarchy {
    hierarchy.nodes.retain(|node| node.name != extra.name);
    Hierarchy::new(
        hierarchy.nodes.into_iter().chain([extra]).collect(),
        hierarchy.plans,
    )
}

#[rstest]
#[case::a_root_that_does_not_exist("nowhere", example_subtree("partner-nordic"),
    Problem::ScopeRootMissing { root: "nowhere".into() })]
#[case::declaring_outside_the_scope("partner-nordic",
    with(example_subtree("partner-nordic"), customer("x-one", "partner-x")),
    Problem::OutsideScope { kind: Kind::Account, name: "x-one".into(), root: "partner-nordic".into() })]
#[case::creating_outside_the_scope("partner-nordic",
    with(example_subtree("partner-nordic"), customer("x-four", "partner-x")),
    Problem::OutsideScope { kind: Kind::Account, name: "x-four".into(), root: "partner-nordic".into() })]
#[case::moving_into_the_scope("partner-nordic",
    with(example_subtree("partner-nordic"), customer("x-one", "partner-nordic")),
    Problem::MoveIntoScope { kind: Kind::Account, name: "x-one".into(), root: "partner-nordic".into(), from: "partner-x".into() })]
#[case::moving_out_of_the_scope("partner-nordic",
    with(example_subtree("partner-nordic"), customer("acme-de", "partner-x")),
    Problem::MoveOutOfScope { kind: Kind::Account, name: "acme-de".into(), root: "partner-nordic".into(), to: Some("partner-x".into()) })]
#[case::changing_the_roots_parent("partner-nordic",
    with(example_subtree("partner-nordic"), partner("partner-nordic", Some("resellers"))),
    Problem::ScopeRootParentChange { kind: Kind::Account, root: "partner-nordic".into(), from: Some("sub".into()), to: Some("resellers".into()) })]
#[case::creating_a_service_plan("partner-nordic",
    Hierarchy::new(example_subtree("partner-nordic").nodes, vec![service_plan("gold", Billing::Purchased)]),
    Problem::ServicePlanInScope { name: "gold".into(), action: "created", root: "partner-nordic".into() })]
#[case::creating_a_partner_in_a_partner_group_scope("resellers",
    with(example_subtree("resellers"), partner("partner-w", Some("resellers"))),
    Problem::PartnerInPartnerGroupScope { name: "partner-w".into(), root: "resellers".into() })]
#[case::creating_a_partner_deeper_in_a_partner_group_scope("resellers",
    with(example_subtree("resellers"), partner("partner-v", Some("partner-y"))),
    Problem::PartnerInPartnerGroupScope { name: "partner-v".into(), root: "resellers".into() })]
fn scope_violations_are_refused(
    #[case] root: &str,
    #[case] desired: Hierarchy,
    #[case] expected: Problem,
) {
    let live = live_of(&example(), Some(SOURCE));
    let found = problems(&live, &desired, &scoped(root));
    assert!(
        found.contains(&expected),
        "expected {expected:?} in {found:#?}"
    );
}

#[test]
fn a_customer_group_scope_may_create_customers() {
    let live = live_of(&example(), Some(SOURCE));
    let desired = with(
        example_subtree("nordic-smb"),
        customer("acme-se", "nordic-smb"),
    );
    let plan = plan_with(&live, &desired, &scoped("nordic-smb"));
    assert_eq!(ops(&plan), [(Op::Create, "acme-se")]);
}

#[test]
fn a_partner_group_scope_may_create_customers_below_its_partners() {
    let live = live_of(&example(), Some(SOURCE));
    let desired = with(
        example_subtree("resellers"),
        node("y-one", NodeType::Customer, Some("partner-y")),
    );
    let plan = plan_with(&live, &desired, &scoped("resellers"));
    assert_eq!(ops(&plan), [(Op::Create, "y-one")]);
}

#[test]
fn a_scoped_run_sees_only_its_own_orphans() {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example_subtree("partner-nordic");
    remove(&mut desired, "acme-fr");
    let plan = plan_with(&live, &desired, &scoped("partner-nordic"));
    assert!(plan.changes.is_empty());
    assert_eq!(plan.orphans, ["acme-fr"]);
    let pruning = PlanOptions {
        prune: true,
        max_prune_percent: 25.0,
        ..scoped("partner-nordic")
    };
    let plan = plan_with(&live, &desired, &pruning);
    assert_eq!(ops(&plan), [(Op::Delete, "acme-fr")]);
}

#[test]
fn a_scoped_run_may_change_its_root_but_not_its_parent() {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example_subtree("partner-x");
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    let plan = plan_with(&live, &desired, &scoped("partner-x"));
    assert_eq!(ops(&plan), [(Op::Deactivate, "partner-x")]);
}

#[test]
fn a_scoped_run_may_not_restore_an_account_archived_outside_its_scope() {
    // acme-fr lived under partner-x; the team owning partner-nordic declares it there.
    let live = super::ownership::live_with_archived("acme-fr", "partner-x", SOURCE);
    let found = problems(
        &live,
        &example_subtree("partner-nordic"),
        &scoped("partner-nordic"),
    );
    assert_eq!(
        found,
        [Problem::RestoreOutsideScope {
            kind: Kind::Account,
            name: "acme-fr".to_string(),
            root: "partner-nordic".to_string(),
        }]
    );
}

#[test]
fn a_scoped_run_may_restore_an_account_archived_inside_its_scope() {
    let live = super::ownership::live_with_archived("acme-fr", "partner-nordic", SOURCE);
    let plan = plan_with(
        &live,
        &example_subtree("partner-nordic"),
        &scoped("partner-nordic"),
    );
    assert_eq!(ops(&plan), [(Op::Create, "acme-fr")]);
}
