use super::*;
use crate::model::{Effective, LiveMeta, Node, NodeSpec};
use crate::store::usage::{UsageLine, UsageStatus as Level};

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:05:00Z";

fn live(mut nodes: Vec<Node>) -> Hierarchy {
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Hierarchy {
        nodes,
        ..Hierarchy::default()
    }
}

fn node(name: &str, node_type: NodeType, number: Option<i64>, active: bool) -> Node {
    let spec = NodeSpec::new(node_type, name);
    Node {
        name: name.into(),
        effective: Some(Effective {
            active,
            ..Effective::root(&spec)
        }),
        spec,
        adopt: false,
        live: LiveMeta {
            account_number: number,
            managed_by: Some("kubernetes/a".into()),
            archived: false,
        },
    }
}

fn condition<'a>(conditions: &'a [StatusCondition], condition_type: &str) -> &'a StatusCondition {
    conditions
        .iter()
        .find(|c| c.condition_type == condition_type)
        .expect("every condition is present")
}

#[test]
fn an_applied_account_is_ready_with_its_number_and_effective_activation() {
    let live = live(vec![node("acme", NodeType::Customer, Some(1042), false)]);
    let status = account_status("acme", Some(3), &ObjectState::Ready, &live, None, T0)
        .expect("a first status is a change");
    assert_eq!(status.account_number.as_deref(), Some("1042"));
    assert_eq!(status.effective_active, Some(false));
    assert_eq!(status.observed_generation, Some(3));
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::True, "Applied")
    );
    assert_eq!(
        condition(&status.conditions, "Stalled").status,
        ConditionStatus::False
    );
}

#[test]
fn an_account_not_in_the_database_yet_is_pending() {
    let state = Outcome::Retrying {
        message: "database unavailable".to_string(),
    }
    .state_of(Kind::Account, "acme");
    let status = account_status("acme", Some(1), &state, &Hierarchy::default(), None, T0)
        .expect("a first status is a change");
    assert_eq!(status.account_number.as_deref(), Some(PENDING));
    assert_eq!(status.effective_active, None);
    assert_eq!(
        condition(&status.conditions, "Reconciling").status,
        ConditionStatus::True
    );
    assert_eq!(condition(&status.conditions, "Ready").reason, "Retrying");
}

#[test]
fn an_unchanged_status_is_not_patched_again() {
    let live = live(vec![node("acme", NodeType::Customer, Some(1042), true)]);
    let first = account_status("acme", Some(1), &ObjectState::Ready, &live, None, T0);
    let again = account_status(
        "acme",
        Some(1),
        &ObjectState::Ready,
        &live,
        first.as_ref(),
        T1,
    );
    assert!(first.is_some());
    assert_eq!(again, None, "a resync with nothing new writes nothing");
}

#[test]
fn a_new_message_keeps_the_transition_time_a_new_status_moves_it() {
    let stalled = |message: &str| ObjectState::Stalled {
        reason: "Invalid".to_string(),
        message: message.to_string(),
    };
    let live = Hierarchy::default();
    let first =
        account_status("acme", Some(1), &stalled("one"), &live, None, T0).expect("first status");
    let reworded = account_status("acme", Some(2), &stalled("two"), &live, Some(&first), T1)
        .expect("a new message is a change");
    assert_eq!(condition(&reworded.conditions, "Stalled").message, "two");
    assert_eq!(
        condition(&reworded.conditions, "Stalled").last_transition_time,
        T0
    );
    let fixed = account_status(
        "acme",
        Some(3),
        &ObjectState::Ready,
        &live,
        Some(&reworded),
        T1,
    )
    .expect("becoming ready is a change");
    assert_eq!(
        condition(&fixed.conditions, "Stalled").last_transition_time,
        T1
    );
    assert_eq!(
        condition(&fixed.conditions, "Ready").last_transition_time,
        T1
    );
}

#[test]
fn a_namespace_without_scope_stalls_every_resource_with_no_scope() {
    let state = Outcome::Refused(Binding::NoScope).state_of(Kind::Account, "acme");
    let status = account_status("acme", Some(1), &state, &Hierarchy::default(), None, T0)
        .expect("first status");
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "NoScope")
    );
    assert_eq!(
        condition(&status.conditions, "Stalled").status,
        ConditionStatus::True
    );
}

#[test]
fn a_problem_stalls_its_own_object_and_blocks_the_rest_of_the_namespace() {
    let outcome = Outcome::Rejected(vec![Problem::OutsideScope {
        kind: Kind::Account,
        name: "intruder".to_string(),
        root: "partner-a".to_string(),
    }]);
    let ObjectState::Stalled { reason, message } = outcome.state_of(Kind::Account, "intruder")
    else {
        panic!("the object named by the problem is stalled");
    };
    assert_eq!(reason, "OutOfScope");
    assert!(message.contains("outside scope partner-a"), "{message}");
    assert!(matches!(
        outcome.state_of(Kind::Account, "bystander"),
        ObjectState::Stalled { reason, .. } if reason == "NamespaceRejected"
    ));
    assert!(matches!(
        outcome.state_of(Kind::ServicePlan, "intruder"),
        ObjectState::Stalled { reason, .. } if reason == "NamespaceRejected"
    ));
}

#[test]
fn a_held_plan_names_the_approval_command() {
    let outcome = Outcome::Held {
        message: "140 deactivated, 0 archived, 0 moved".to_string(),
    };
    let ObjectState::Stalled { reason, message } = outcome.state_of(Kind::Account, "x") else {
        panic!("a held plan stalls");
    };
    assert_eq!(reason, "Held");
    assert!(message.contains("140 deactivated"), "{message}");
    assert!(message.contains("canopy approve"), "{message}");
}

#[test]
fn a_customer_group_reports_pooled_usage_against_its_plan() {
    let live = live(vec![node("smb", NodeType::CustomerGroup, None, true)]);
    let report = UsageReport {
        period: Some("2026-01".to_string()),
        lines: vec![UsageLine {
            name: "smb".to_string(),
            kind: Kind::AccountGroup,
            plan: Some("pooled".to_string()),
            metric: "documentsPerMonth".to_string(),
            amount: 4500.0,
            limit: Some(5000),
            percent: Some(90.0),
            status: Level::Approaching,
        }],
    };
    let status = group_status(
        "smb",
        Some(1),
        &ObjectState::Ready,
        &live,
        Some(&report),
        None,
        T0,
    )
    .expect("first status");
    let usage = status.usage.expect("a customer group has usage");
    assert_eq!(usage.period, "2026-01");
    assert_eq!(usage.metrics[0].status, "approaching");
    assert_eq!(usage.metrics[0].limit, Some(5000));
}

#[test]
fn a_plan_is_ready_once_applied() {
    let status = plan_status(Some(1), &ObjectState::Ready, None, T0).expect("first status");
    assert_eq!(
        condition(&status.conditions, "Ready").status,
        ConditionStatus::True
    );
    assert_eq!(
        plan_status(Some(1), &ObjectState::Ready, Some(&status), T1),
        None
    );
}

#[test]
fn a_scope_sharing_a_namespace_with_another_is_not_ready() {
    use crate::manifest::AccountScope;
    use crate::manifest::types::AccountScopeSpec;
    let scope = |name: &str, namespaces: &[&str]| {
        AccountScope::new(
            name,
            AccountScopeSpec {
                namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
                root: None,
            },
        )
    };
    let index = ScopeIndex::new(&[scope("a", &["shared", "own"]), scope("b", &["shared"])]);
    let status = scope_status("a", Some(1), &index, None, T0).expect("first status");
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "ScopeConflict")
    );
    assert!(
        ready.message.contains("shared (also b)"),
        "{}",
        ready.message
    );
    let alone = ScopeIndex::new(&[scope("a", &["own"])]);
    let fixed = scope_status("a", Some(1), &alone, Some(&status), T1).expect("a change");
    assert_eq!(
        condition(&fixed.conditions, "Ready").status,
        ConditionStatus::True
    );
}
