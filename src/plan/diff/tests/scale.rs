//! Plans over large generated trees: the results that must hold at scale. Timings are
//! printed by the ignored `timing_*` tests (run with `--release -- --ignored
//! --nocapture`); no test asserts a duration.

use std::time::Instant;

use super::{plan, plan_with};
use crate::model::Hierarchy;
use crate::plan::fixtures::{SOURCE, customer, edit, large, live_of};
use crate::plan::{Op, PlanOptions, diff_moving};

/// 10% of the customers renamed, 1% of the partners deactivated, 1% new customers.
fn ten_percent_changed(desired: &mut Hierarchy, partners: usize, customers: usize) {
    for p in 0..partners {
        for c in (0..customers).step_by(10) {
            edit(desired, &format!("customer-{p:05}-{c:03}"), |node| {
                node.spec.display_name.push_str(" (renamed)")
            });
        }
        if p % 100 == 0 {
            edit(desired, &format!("partner-{p:05}"), |node| {
                node.spec.active = false
            });
        }
    }
    let created = (0..partners).map(|p| {
        let mut node = customer(&format!("new-{p:05}"), &format!("partner-{p:05}"));
        node.spec.display_name = format!("Customer {p:05} 999 GmbH").into();
        node
    });
    let nodes = std::mem::take(&mut desired.nodes);
    *desired = Hierarchy::new(
        nodes.into_iter().chain(created).collect(),
        std::mem::take(&mut desired.plans),
    );
}

/// The generated tree as the store holds it, and declared with [`ten_percent_changed`].
fn changed_pair(partners: usize, customers: usize) -> (Hierarchy, Hierarchy) {
    let live = live_of(&large(partners, customers), Some(SOURCE));
    let mut desired = large(partners, customers);
    ten_percent_changed(&mut desired, partners, customers);
    (live, desired)
}

#[test]
fn a_large_unchanged_tree_plans_nothing() {
    let desired = large(200, 20);
    let live = live_of(&desired, Some(SOURCE));
    let plan = plan(&live, &desired);
    assert!(plan.is_empty() && plan.writes.is_empty());
}

#[test]
fn a_large_tree_with_many_changes_counts_them_exactly() {
    let (partners, customers) = (200, 20);
    let (live, desired) = changed_pair(partners, customers);
    let plan = plan(&live, &desired);
    let summary = plan.summary();
    assert_eq!(summary.count(Op::Update), partners * customers / 10);
    assert_eq!(summary.count(Op::Deactivate), 2);
    assert_eq!(summary.count(Op::Create), partners);
    // Each deactivated partner cascades to its 20 customers (new ones are not counted).
    assert_eq!(summary.deactivate_cascade, 2 * customers);
    assert!(
        plan.warnings.is_empty(),
        "numbered names are not similar: {:?}",
        plan.warnings.first()
    );
}

#[test]
fn moving_the_specs_plans_exactly_what_copying_them_does() {
    let (live, mut desired) = changed_pair(50, 20);
    // Unsorted on purpose: the moving diff sorts what it is given in place.
    desired.nodes.reverse();
    let options = PlanOptions::new(SOURCE);
    let copied = plan_with(&live, &desired, &options);
    let before = Hierarchy::new(desired.nodes.clone(), desired.plans.clone());
    let moved = match diff_moving(&live, &mut desired, &options) {
        Ok(plan) => plan,
        Err(error) => panic!("expected a plan, got: {error}"),
    };
    assert_eq!(moved, copied);
    assert!(!moved.writes.nodes.is_empty());
    // Written nodes keep their name and type; every other node is as declared.
    let written: std::collections::BTreeSet<&str> = moved
        .writes
        .nodes
        .iter()
        .map(|write| write.name.as_str())
        .collect();
    for node in &desired.nodes {
        let declared = before.node(&node.name).expect("every node is kept");
        if written.contains(node.name.as_str()) {
            assert_eq!(node.spec.node_type, declared.spec.node_type);
            assert!(node.spec.display_name.is_empty() && node.spec.parent.is_none());
        } else {
            assert_eq!(node, declared);
        }
    }
}

fn timed<T>(label: &str, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = work();
    println!(
        "{label}: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    result
}

#[test]
#[ignore = "prints timings; run in release mode"]
fn timing_100k_accounts() {
    let live = timing_plans(4_000, 23);
    let mut copies = Hierarchy::new(Vec::new(), live.plans.clone());
    copies.nodes = live
        .nodes
        .iter()
        .map(|node| {
            let mut node = node.clone();
            node.name = format!("copy-{}", node.name).into();
            if let Some(parent) = &mut node.spec.parent {
                *parent = format!("copy-{parent}").into();
            }
            node
        })
        .collect();
    let both = Hierarchy::new(
        live.nodes.iter().cloned().chain(copies.nodes).collect(),
        live.plans.clone(),
    );
    let options = PlanOptions::new(SOURCE);
    let plan = timed("100k creates against 100k", || {
        plan_with(&live, &both, &options)
    });
    println!(
        "{} ({} warnings)",
        plan.summary().line(),
        plan.warnings.len()
    );
}

#[test]
#[ignore = "prints timings; run in release mode"]
fn timing_1m_accounts() {
    timing_plans(40_000, 23);
}

/// Times a no-op plan (three times) and a plan with 10% changes; returns the live tree.
fn timing_plans(partners: usize, customers: usize) -> Hierarchy {
    let desired = large(partners, customers);
    let live = live_of(&desired, Some(SOURCE));
    println!("{} nodes", desired.nodes.len());
    let options = PlanOptions::new(SOURCE);
    for _ in 0..3 {
        let noop = timed("no-op plan", || plan_with(&live, &desired, &options));
        assert!(noop.is_empty());
    }
    let mut changed = desired;
    ten_percent_changed(&mut changed, partners, customers);
    let plan = timed("10% changes", || plan_with(&live, &changed, &options));
    println!("{}", plan.summary().line());
    live
}
