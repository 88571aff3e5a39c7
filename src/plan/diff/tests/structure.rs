//! Re-parenting, plans, activation, fields, users, ordering and structural errors.

use rstest::rstest;
use serde_json::json;

use super::{example_pair, only_change, ops, plan, problems};
use crate::model::{Hierarchy, NodeType, Role};
use crate::plan::fixtures::{SOURCE, customer, edit, live_of, node, remove, user};
use crate::plan::{Cascade, FieldChange, Op, PlanOptions, Problem};

#[test]
fn planning_the_live_state_again_changes_nothing() {
    let (live, desired) = example_pair();
    let plan = plan(&live, &desired);
    assert!(plan.is_empty(), "changes: {:#?}", plan.changes);
    assert!(plan.writes.is_empty(), "writes: {:#?}", plan.writes);
    assert!(plan.warnings.is_empty() && plan.orphans.is_empty());
}

#[rstest]
#[case::grouping_a_customer("acme-de", "nordic-smb", Op::Group)]
#[case::moving_between_groups("acme-eu", "nordic-enterprise", Op::Move)]
#[case::ungrouping_to_the_partner_level("acme-eu", "partner-nordic", Op::Ungroup)]
#[case::moving_to_another_partner("acme-de", "partner-x", Op::Move)]
#[case::moving_out_of_a_group_elsewhere("acme-eu", "partner-x", Op::Move)]
#[case::moving_a_partner_into_a_partner_group("partner-x", "resellers", Op::Group)]
fn a_reparent_is_exactly_one_change(
    #[case] name: &str,
    #[case] new_parent: &str,
    #[case] expected: Op,
) {
    let (live, mut desired) = example_pair();
    let old_parent = desired.node(name).and_then(|node| node.spec.parent.clone());
    edit(&mut desired, name, |node| {
        node.spec.parent = Some(new_parent.into())
    });
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!((change.op, change.name.as_str()), (expected, name));
    assert_eq!(change.from.as_deref(), old_parent.as_deref());
    assert_eq!(change.to.as_deref(), Some(new_parent));
    let write = &plan.writes.nodes[0];
    assert!(
        !write.create,
        "a re-parent keeps the row and its account number"
    );
    assert_eq!(write.spec.parent.as_deref(), Some(new_parent));
}

#[test]
fn changing_a_customer_groups_plan_is_a_change_plan() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "nordic-smb", |node| {
        node.spec.plan = Some("standard".into())
    });
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::ChangePlan);
    assert_eq!(change.kind, crate::model::Kind::AccountGroup);
    assert_eq!(change.from.as_deref(), Some("smb-pooled"));
    assert_eq!(change.to.as_deref(), Some("standard"));
}

#[test]
fn deactivating_a_partner_cascades_to_its_active_customers() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::Deactivate);
    // x-three was inactive on its own: its effective activation does not change.
    assert_eq!(
        change.cascade.as_deref(),
        Some(&Cascade {
            count: 2,
            names: vec!["x-one".to_string(), "x-two".to_string()],
        })
    );
    let inactive: Vec<(&str, bool)> = plan
        .writes
        .effective
        .iter()
        .map(|(name, effective)| (name.as_str(), effective.active))
        .collect();
    assert_eq!(inactive, [("x-one", false), ("x-two", false)]);
    assert!(!plan.writes.nodes[0].effective.active);
    assert_eq!(
        plan.summary().line(),
        "1 to deactivate (cascades to 2 accounts)"
    );
}

#[test]
fn reactivating_a_partner_restores_its_customers() {
    let mut deactivated = crate::plan::fixtures::example();
    edit(&mut deactivated, "partner-x", |node| {
        node.spec.active = false
    });
    let live = live_of(&deactivated, Some(SOURCE));
    let desired = crate::plan::fixtures::example();
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::Activate);
    assert_eq!(
        change.cascade.as_ref().map(|cascade| cascade.names.clone()),
        Some(vec!["x-one".to_string(), "x-two".to_string()])
    );
    let restored: Vec<(&str, bool)> = plan
        .writes
        .effective
        .iter()
        .map(|(name, effective)| (name.as_str(), effective.active))
        .collect();
    assert_eq!(restored, [("x-one", true), ("x-two", true)]);
}

#[test]
fn a_cascade_counts_every_level_below_and_not_groups() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "partner-nordic", |node| {
        node.spec.active = false
    });
    let plan = plan(&live, &desired);
    let cascade = only_change(&plan).cascade.clone();
    assert_eq!(
        cascade.map(|cascade| cascade.names),
        Some(vec![
            "acme-de".to_string(),
            "acme-eu".to_string(),
            "acme-fr".to_string()
        ])
    );
    // The groups' stored effective activation changes too, without being counted.
    let rewritten: Vec<&str> = plan
        .writes
        .effective
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        rewritten,
        [
            "acme-de",
            "acme-fr",
            "nordic-enterprise",
            "nordic-smb",
            "acme-eu"
        ]
    );
}

#[test]
fn a_changed_field_is_one_update_with_sorted_before_and_after() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "acme-fr", |node| {
        node.spec.display_name = "ACME France".into();
        node.spec.services.insert("scanning".to_string(), false);
        node.spec.node_type = NodeType::Enterprise;
    });
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::Update);
    assert_eq!(
        change.fields,
        [
            FieldChange {
                name: "displayName".to_string(),
                before: json!("Acme Fr"),
                after: json!("ACME France"),
            },
            FieldChange {
                name: "services".to_string(),
                before: json!({}),
                after: json!({"scanning": false}),
            },
            FieldChange {
                name: "type".to_string(),
                before: json!("customer"),
                after: json!("enterprise"),
            },
        ]
    );
}

#[test]
fn one_node_with_several_changes_lists_them_in_the_documented_order() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "acme-de", |node| {
        node.spec.active = false;
        node.spec.display_name = "ACME Deutschland".into();
        node.spec.plan = Some("standard".into());
        node.spec.parent = Some("nordic-smb".into());
        node.spec.users = vec![user("ben@acme.example", Role::Admin)];
    });
    let plan = plan(&live, &desired);
    assert_eq!(
        ops(&plan),
        [
            (Op::Group, "acme-de"),
            (Op::ChangePlan, "acme-de"),
            (Op::Update, "acme-de"),
            (Op::Deactivate, "acme-de"),
            (Op::AddUser, "acme-de"),
        ]
    );
    assert!(plan.writes.nodes[0].users_changed);
}

#[test]
fn users_are_compared_by_email() {
    let (mut live, mut desired) = example_pair();
    let users = vec![
        user("a@acme.example", Role::Admin),
        user("b@acme.example", Role::User),
        user("c@acme.example", Role::User),
    ];
    edit(&mut live, "acme-fr", |node| node.spec.users = users.clone());
    edit(&mut desired, "acme-fr", |node| {
        // A new admin on top, b dropped, c promoted: a and c keep their relative
        // order, so neither is reported as moved.
        let mut promoted = user("c@acme.example", Role::Admin);
        promoted.language = Some("fr".into());
        node.spec.users = vec![
            user("new@acme.example", Role::Admin),
            user("a@acme.example", Role::Admin),
            promoted,
        ];
    });
    let plan = plan(&live, &desired);
    let user_ops: Vec<(Op, Option<&str>, Vec<&str>)> = plan
        .changes
        .iter()
        .map(|change| {
            (
                change.op,
                change.user.as_deref(),
                change
                    .fields
                    .iter()
                    .map(|field| field.name.as_str())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        user_ops,
        [
            (Op::AddUser, Some("new@acme.example"), vec![]),
            (
                Op::UpdateUser,
                Some("c@acme.example"),
                vec!["language", "role"]
            ),
            (Op::RemoveUser, Some("b@acme.example"), vec![]),
        ]
    );
}

#[test]
fn reordering_users_is_a_position_update() {
    let (mut live, mut desired) = example_pair();
    let first = user("a@acme.example", Role::Admin);
    let second = user("b@acme.example", Role::Admin);
    edit(&mut live, "acme-fr", |node| {
        node.spec.users = vec![first.clone(), second.clone()]
    });
    edit(&mut desired, "acme-fr", |node| {
        node.spec.users = vec![second.clone(), first.clone()]
    });
    let plan = plan(&live, &desired);
    let change = only_change(&plan);
    assert_eq!(change.op, Op::UpdateUser);
    assert_eq!(
        change.fields,
        [FieldChange {
            name: "position".to_string(),
            before: json!(1),
            after: json!(0),
        }]
    );
}

#[test]
fn creates_come_parent_first_with_their_parent_and_effective_values() {
    let (live, mut desired) = example_pair();
    let mut new_partner = node("partner-z", NodeType::Partner, Some("sub"));
    new_partner.spec.active = false;
    let mut new_customer = customer("z-one", "partner-z");
    new_customer.spec.users = vec![user("zed@z.example", Role::Admin)];
    desired = Hierarchy::new(
        desired
            .nodes
            .into_iter()
            .chain([new_customer, new_partner])
            .collect(),
        desired.plans,
    );
    let plan = plan(&live, &desired);
    assert_eq!(
        ops(&plan),
        [(Op::Create, "partner-z"), (Op::Create, "z-one")],
        "a create is one change, without add-user changes for its users"
    );
    assert_eq!(plan.changes[1].to.as_deref(), Some("partner-z"));
    let writes: Vec<(&str, bool, bool, bool)> = plan
        .writes
        .nodes
        .iter()
        .map(|write| {
            (
                write.name.as_str(),
                write.create,
                write.users_changed,
                write.effective.active,
            )
        })
        .collect();
    assert_eq!(
        writes,
        [
            ("partner-z", true, false, false),
            ("z-one", true, true, false)
        ]
    );
}

#[test]
fn service_plans_are_created_first_and_deleted_last() {
    let (live, mut desired) = example_pair();
    desired.plans.push(crate::plan::fixtures::service_plan(
        "trial",
        crate::model::Billing::Trial,
    ));
    desired.plans.retain(|plan| plan.name != "standard");
    edit(&mut desired, "nordic-enterprise", |node| {
        node.spec.plan = Some("trial".into())
    });
    remove(&mut desired, "x-three");
    let options = PlanOptions {
        prune: true,
        max_prune_percent: 100.0,
        ..PlanOptions::new(SOURCE)
    };
    let plan = super::plan_with(&live, &desired, &options);
    assert_eq!(
        ops(&plan),
        [
            (Op::Create, "trial"),
            (Op::ChangePlan, "nordic-enterprise"),
            (Op::Delete, "x-three"),
            (Op::Delete, "standard"),
        ]
    );
    assert_eq!(
        plan.writes.plans[0].live.managed_by.as_deref(),
        Some(SOURCE)
    );
    assert_eq!(plan.writes.archive_plans, ["standard"]);
}

#[test]
fn stored_effective_values_that_drifted_are_rewritten_without_a_change() {
    let (mut live, desired) = example_pair();
    edit(&mut live, "x-one", |node| {
        if let Some(effective) = &mut node.effective {
            effective.active = false;
        }
    });
    let plan = plan(&live, &desired);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.writes.effective.len(), 1);
    assert_eq!(plan.writes.effective[0].0, "x-one");
    assert!(plan.writes.effective[0].1.active);
}

#[test]
fn structural_errors_are_all_reported_at_once() {
    let (live, mut desired) = example_pair();
    edit(&mut desired, "acme-de", |node| {
        node.spec.parent = Some("nowhere".into())
    });
    edit(&mut desired, "acme-fr", |node| {
        node.spec.plan = Some("gold".into())
    });
    edit(&mut desired, "partner-y", |node| {
        node.spec.parent = Some("x-one".into())
    });
    edit(&mut desired, "partner-nordic", |node| {
        node.spec.parent = Some("acme-eu".into())
    });
    let found = problems(&live, &desired, &PlanOptions::new(SOURCE));
    let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "Account acme-de: parent nowhere does not exist",
            "acme-eu would be its own ancestor (parent cycle through acme-eu → nordic-smb → partner-nordic → acme-eu)",
            "Account partner-y under x-one: a customer cannot contain a partner",
            "Account acme-fr: service plan gold does not exist",
        ]
    );
    assert!(matches!(found[0], Problem::MissingParent { .. }));
}
