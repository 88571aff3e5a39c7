//! The pull-request comment: snapshots of the typical changes (deactivation with a
//! cascade, regrouping, pruning), its size bound on huge plans, and hostile values
//! read back by a real CommonMark parser.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::model::Hierarchy;
use crate::plan::fixtures::{SOURCE, edit, example, large, live_of, remove};
use crate::plan::render::{COMMENT_LIMIT, Held, Review, markdown};
use crate::plan::{Plan, PlanOptions, diff};

fn planned(live: &Hierarchy, desired: &Hierarchy, options: &PlanOptions) -> Plan {
    match diff(live, desired, options) {
        Ok(plan) => plan,
        Err(error) => panic!("expected a plan, got: {error}"),
    }
}

/// The comment for `desired` against the store holding `live_source`.
fn comment(live_source: &Hierarchy, desired: &Hierarchy, options: &PlanOptions) -> String {
    let live = live_of(live_source, Some(SOURCE));
    let plan = planned(&live, desired, options);
    markdown(&plan, &Review::new(&live, desired))
}

#[test]
fn markdown_is_ready_for_a_pull_request_comment() {
    let (live, desired, plan) = super::tests::mixed();
    insta::assert_snapshot!(markdown(&plan, &Review::new(&live, &desired)));
}

#[test]
fn a_deactivation_shows_its_cascade_first() {
    let mut desired = large(2, 15);
    let before = desired.clone();
    edit(&mut desired, "partner-00000", |node| {
        node.spec.active = false
    });
    insta::assert_snapshot!(comment(&before, &desired, &PlanOptions::new(SOURCE)));
}

#[test]
fn a_regroup_shows_moves_at_their_new_parent() {
    let before = example();
    let mut desired = example();
    edit(&mut desired, "acme-de", |node| {
        node.spec.parent = Some("nordic-smb".into())
    });
    edit(&mut desired, "acme-eu", |node| {
        node.spec.parent = Some("partner-nordic".into())
    });
    edit(&mut desired, "partner-y", |node| {
        node.spec.parent = Some("sub".into())
    });
    insta::assert_snapshot!(comment(&before, &desired, &PlanOptions::new(SOURCE)));
}

#[test]
fn a_prune_is_a_risky_operation() {
    let before = example();
    let mut desired = example();
    for name in ["partner-x", "x-one", "x-two", "x-three"] {
        remove(&mut desired, name);
    }
    let options = PlanOptions {
        prune: true,
        max_prune_percent: 50.0,
        ..PlanOptions::new(SOURCE)
    };
    insta::assert_snapshot!(comment(&before, &desired, &options));
}

#[test]
fn a_plan_downgrade_and_the_gate_are_called_out() {
    let live = live_of(&example(), Some(SOURCE));
    let mut desired = example();
    edit(&mut desired, "nordic-smb", |node| {
        node.spec.plan = Some("trial".into())
    });
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    desired.plans.push(crate::plan::fixtures::service_plan(
        "trial",
        crate::model::Billing::Trial,
    ));
    let desired = Hierarchy::new(desired.nodes, desired.plans);
    let plan = planned(&live, &desired, &PlanOptions::new(SOURCE));
    let review = Review {
        held: Some(Held {
            hold_above: 2,
            accounts: 3,
        }),
        ..Review::new(&live, &desired)
    };
    let text = markdown(&plan, &review);
    assert!(
        text.contains("2 plan downgrade") || text.contains("1 plan downgrade"),
        "{text}"
    );
    assert!(text.contains("purchased → trial"), "{text}");
    assert!(text.contains("Held by the approval gate"), "{text}");
    assert!(text.contains("`--hold-above 2`"), "{text}");
}

/// A first run creating 10,000+ accounts: every section capped, the table cut.
#[test]
fn ten_thousand_changes_stay_under_the_comment_limit() {
    let desired = large(400, 25);
    let plan = planned(&Hierarchy::default(), &desired, &PlanOptions::new(SOURCE));
    assert!(plan.changes.len() > 10_000, "{}", plan.changes.len());
    let text = markdown(&plan, &Review::new(&Hierarchy::default(), &desired));
    assert!(text.len() < COMMENT_LIMIT, "{} bytes", text.len());
    let lines: Vec<&str> = text.lines().collect();
    let shape: Vec<&str> = lines
        .iter()
        .take(50)
        .chain(["[…]"].iter())
        .chain(lines.iter().skip(lines.len() - 6))
        .copied()
        .collect();
    insta::assert_snapshot!(shape.join("\n"));
}

/// Deactivating a subsidiary of 46,000 accounts: a short comment, not half a megabyte.
#[test]
fn deactivating_a_huge_subsidiary_gives_a_short_comment() {
    let before = large(2000, 23);
    let mut desired = before.clone();
    edit(&mut desired, "root", |node| node.spec.active = false);
    let text = comment(&before, &desired, &PlanOptions::new(SOURCE));
    assert!(text.len() < 8_000, "{} bytes:\n{text}", text.len());
    assert!(text.contains("cascades to 48,000 accounts"), "{text}");
    assert!(text.contains("48,000 more accounts lose access"), "{text}");
}

/// The events a GitHub-flavoured reader sees, for checking what a value may inject.
fn events(text: &str) -> Vec<Event<'_>> {
    Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).collect()
}

#[test]
fn hostile_values_inject_no_markup() {
    let before = example();
    let mut desired = example();
    let hostile = "Evil ``` </details></summary> | x | y |\n[link](http://evil.example) <img src=x> **b** ` `` ~~s~~";
    edit(&mut desired, "acme-fr", |node| {
        node.spec.display_name = hostile.into();
        node.spec
            .settings
            .insert("banner".to_string(), serde_json::json!(hostile));
    });
    edit(&mut desired, "partner-x", |node| node.spec.active = false);
    edit(&mut desired, "acme-eu", |node| node.spec.users.clear());
    let text = comment(&before, &desired, &PlanOptions::new(SOURCE));
    assert!(text.contains("\\- **remove-user**"), "{text}");
    let mut rows = 0;
    let mut code_blocks = 0;
    let mut list_depth = 0;
    for event in events(&text) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => code_blocks += 1,
            Event::Start(Tag::List(_)) => {
                list_depth += 1;
                assert_eq!(list_depth, 1, "a nested list:\n{text}");
            }
            Event::End(TagEnd::List(_)) => list_depth -= 1,
            Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::Strikethrough) => {
                panic!("a value made a link, image or strikethrough:\n{text}")
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                let allowed = [
                    "<details",
                    "</details>",
                    "<summary>",
                    "</summary>",
                    "<br>",
                    "<code>",
                    "</code>",
                ];
                assert!(
                    allowed.iter().any(|tag| html.trim_start().starts_with(tag)),
                    "raw HTML from a value: {html}\n{text}"
                );
            }
            Event::End(TagEnd::TableRow) => rows += 1,
            _ => {}
        }
    }
    let summary = Plan::summary(&planned(
        &live_of(&before, Some(SOURCE)),
        &desired,
        &PlanOptions::new(SOURCE),
    ));
    let operations = crate::plan::Op::ALL
        .iter()
        .filter(|&&op| summary.count(op) > 0)
        .count();
    // One body row per operation counted (+ the cascade line), one per change.
    assert_eq!(rows, operations + 1 + summary.total, "{text}");
    assert!(text.contains("```mermaid"), "{text}");
    assert_eq!(code_blocks, 1, "only the diagram is a code block: {text}");
}

#[test]
fn no_changes_say_so_in_one_line() {
    let desired = example();
    let text = comment(&desired, &desired, &PlanOptions::new(SOURCE));
    assert!(text.contains("No changes"), "{text}");
    assert!(!text.contains("<details>"), "{text}");
}
