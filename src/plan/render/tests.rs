//! Snapshot tests of every rendering, over a few example scenarios.

use crate::model::{Hierarchy, NodeType, Role};
use crate::plan::fixtures::{SOURCE, customer, edit, example, live_of, node, remove, user};
use crate::plan::render::{BRIEF_ABOVE, brief, json, text, yaml_diff};
use crate::plan::{Plan, PlanOptions, diff};

fn planned(live: &Hierarchy, desired: &Hierarchy, options: &PlanOptions) -> Plan {
    match diff(live, desired, options) {
        Ok(plan) => plan,
        Err(error) => panic!("expected a plan, got: {error}"),
    }
}

/// A bit of everything: creates nested under a created partner, a group, an update,
/// a deactivation with its cascade, a plan change, user changes, an adoption, a
/// similar name and an orphan.
pub(super) fn mixed() -> (Hierarchy, Hierarchy, Plan) {
    let mut live = live_of(&example(), Some(SOURCE));
    edit(&mut live, "acme-eu", |node| node.live.managed_by = None);
    let mut desired = example();
    edit(&mut desired, "acme-eu", |node| {
        node.adopt = true;
        node.spec.users.push(user("bo@acme.example", Role::User));
    });
    edit(&mut desired, "acme-de", |node| {
        node.spec.parent = Some("nordic-smb".into())
    });
    edit(&mut desired, "acme-fr", |node| {
        node.spec.display_name = "ACME France | Paris".into();
        node.spec.services.insert("scanning".to_string(), false);
    });
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    edit(&mut desired, "nordic-smb", |node| {
        node.spec.plan = Some("standard".into())
    });
    remove(&mut desired, "x-three");
    let mut new_customer = customer("z-one", "partner-z");
    new_customer.spec.display_name = "Acme Eu AG".into();
    let desired = Hierarchy::new(
        desired
            .nodes
            .into_iter()
            .chain([
                node("partner-z", NodeType::Partner, Some("sub")),
                new_customer,
            ])
            .collect(),
        desired.plans,
    );
    let plan = planned(&live, &desired, &PlanOptions::new(SOURCE));
    (live, desired, plan)
}

#[test]
fn text_shows_a_tree_of_changes_and_a_summary() {
    let (_, _, plan) = mixed();
    insta::assert_snapshot!(text(&plan, false));
}

#[test]
fn text_without_changes_says_so() {
    let desired = example();
    let live = live_of(&desired, Some(SOURCE));
    let plan = planned(&live, &desired, &PlanOptions::new(SOURCE));
    assert_eq!(text(&plan, false), "No changes.\n");
}

#[test]
fn text_is_coloured_only_when_asked() {
    let (_, _, plan) = mixed();
    let coloured = text(&plan, true);
    assert!(
        coloured.contains("\x1b[31m↓ deactivate\x1b[0m"),
        "{coloured}"
    );
    assert!(!text(&plan, false).contains('\x1b'));
}

#[test]
fn text_of_a_prune_lists_deletes_children_first() {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example();
    for name in ["partner-x", "x-one", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    let options = PlanOptions {
        prune: true,
        max_prune_percent: 50.0,
        ..PlanOptions::new(SOURCE)
    };
    insta::assert_snapshot!(text(&planned(&live, &desired, &options), false));
}

#[test]
fn json_follows_the_documented_schema() {
    let (_, _, plan) = mixed();
    insta::assert_snapshot!(json(&plan));
}

#[test]
fn json_parses_back_with_the_documented_members() {
    let (_, _, plan) = mixed();
    let parsed: serde_json::Value = match serde_json::from_str(&json(&plan)) {
        Ok(value) => value,
        Err(error) => panic!("json output does not parse: {error}"),
    };
    assert_eq!(parsed["summary"]["total"], plan.changes.len());
    assert_eq!(parsed["summary"]["deactivate"], 1);
    assert_eq!(parsed["summary"]["cascade"], 2);
    let deactivate = parsed["changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|change| change["op"] == "deactivate"));
    assert_eq!(
        deactivate.map(|change| &change["cascade"]),
        Some(&serde_json::json!({"count": 2, "names": ["x-one", "x-two"]}))
    );
    assert_eq!(parsed["orphans"], serde_json::json!(["x-three"]));
}

#[test]
fn yaml_diff_shows_only_the_changed_objects() {
    let (live, desired, plan) = mixed();
    insta::assert_snapshot!(yaml_diff(&live, &desired, &plan));
}

#[test]
fn yaml_diff_of_no_changes_is_empty() {
    let desired = example();
    let live = live_of(&desired, Some(SOURCE));
    let plan = planned(&live, &desired, &PlanOptions::new(SOURCE));
    assert_eq!(yaml_diff(&live, &desired, &plan), "");
}

/// `count` new customers under partner-x, and partner-x deactivated.
fn large(count: usize) -> Plan {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example();
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    let shops = (1..=count).map(|index| customer(&format!("shop-{index}"), "partner-x"));
    let desired = Hierarchy::new(
        desired.nodes.into_iter().chain(shops).collect(),
        desired.plans,
    );
    planned(&live, &desired, &PlanOptions::new(SOURCE))
}

#[test]
fn a_brief_plan_lists_only_the_risky_changes_and_counts_the_rest() {
    let plan = large(BRIEF_ABOVE + 10);
    let text = brief(&plan, false);
    assert!(text.contains("↓ deactivate Account partner-x"), "{text}");
    assert!(!text.contains("shop-1 "), "{text}");
    assert!(text.contains("not listed: 60 other changes"), "{text}");
    assert!(
        text.ends_with("Plan: 60 to create, 1 to deactivate (cascades to 2 accounts).\n"),
        "{text}"
    );
}

#[test]
fn a_brief_plan_cuts_a_long_list_of_risky_changes() {
    let shops = |active: bool| {
        let mut hierarchy = example();
        hierarchy.nodes.extend((1..=BRIEF_ABOVE + 3).map(|index| {
            let mut shop = customer(&format!("shop-{index}"), "partner-x");
            shop.spec.active = active;
            shop
        }));
        Hierarchy::new(hierarchy.nodes, hierarchy.plans)
    };
    let plan = planned(
        &live_of(&shops(true), Some(SOURCE)),
        &shops(false),
        &PlanOptions::new(SOURCE),
    );
    let text = brief(&plan, false);
    assert_eq!(text.matches("↓ deactivate").count(), BRIEF_ABOVE, "{text}");
    assert!(text.contains("  … and 3 more risky changes\n"), "{text}");
    assert!(text.contains("not listed: 0 other changes"), "{text}");
}

#[test]
fn a_release_is_shown_by_every_renderer_and_leaves_the_orphan_list() {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example();
    remove(&mut desired, "x-one");
    remove(&mut desired, "x-two");
    let options = PlanOptions {
        release: vec!["x-one".to_string()],
        ..PlanOptions::new(SOURCE)
    };
    let plan = planned(&live, &desired, &options);
    let shown = text(&plan, false);
    assert!(
        shown.contains("~ release Account x-one: managed by default → unmanaged (kept)"),
        "{shown}"
    );
    assert!(
        shown.contains("Orphans (1;"),
        "only x-two stays an orphan: {shown}"
    );
    assert!(shown.contains("Plan: 1 to release."), "{shown}");
    let parsed: serde_json::Value = match serde_json::from_str(&json(&plan)) {
        Ok(value) => value,
        Err(error) => panic!("json output does not parse: {error}"),
    };
    assert_eq!(
        parsed["changes"],
        serde_json::json!([{"op": "release", "kind": "Account", "name": "x-one", "from": SOURCE}])
    );
    assert_eq!(parsed["summary"]["release"], 1);
    let comment =
        crate::plan::render::markdown(&plan, &crate::plan::render::Review::new(&live, &desired));
    assert!(comment.contains("| ~ release | 1 |"), "{comment}");
    assert!(
        comment.contains(
            "| ~ | release | Account | `x-one` | managed by default → unmanaged (kept) |"
        ),
        "{comment}"
    );
    assert!(
        comment.contains("Routine"),
        "a release is not risky: {comment}"
    );
}
