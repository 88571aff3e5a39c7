//! Scenario tests of the planner, named after what they prove. Each starts from the
//! example tree of [`crate::plan::fixtures`] as the store would hold it and changes
//! the desired side.

mod ownership;
mod scale;
mod scope;
mod structure;
mod warnings;

use crate::model::Hierarchy;
use crate::plan::fixtures::{SOURCE, example, live_of};
use crate::plan::{Change, Op, Plan, PlanOptions, Problem, diff};

/// The example tree, live (managed by [`SOURCE`]) and desired (equal to it).
fn example_pair() -> (Hierarchy, Hierarchy) {
    let desired = example();
    (live_of(&desired, Some(SOURCE)), desired)
}

fn plan(live: &Hierarchy, desired: &Hierarchy) -> Plan {
    plan_with(live, desired, &PlanOptions::new(SOURCE))
}

fn plan_with(live: &Hierarchy, desired: &Hierarchy, options: &PlanOptions) -> Plan {
    match diff(live, desired, options) {
        Ok(plan) => plan,
        Err(error) => panic!("expected a plan, got: {error}"),
    }
}

fn problems(live: &Hierarchy, desired: &Hierarchy, options: &PlanOptions) -> Vec<Problem> {
    match diff(live, desired, options) {
        Ok(plan) => panic!("expected problems, got a plan: {:?}", plan.changes),
        Err(error) => error.problems().to_vec(),
    }
}

/// `(op, name)` of every change, in plan order.
fn ops(plan: &Plan) -> Vec<(Op, &str)> {
    plan.changes
        .iter()
        .map(|change| (change.op, change.name.as_str()))
        .collect()
}

fn only_change(plan: &Plan) -> &Change {
    assert_eq!(plan.changes.len(), 1, "changes: {:#?}", plan.changes);
    &plan.changes[0]
}
