//! `diff(live, desired, options) -> Plan`: the planning engine, pure and deterministic.
//!
//! ```text
//! live ─┐  join by name      roles           post-apply tree     effects        plan
//!       ├─> (join) ───> ownership, scope ──> (tree) parents, ──> (effects) ──> changes,
//! desired┘               orphans, prune       order, rules        cascades       writes,
//!                        (scope, prune)                                          warnings
//! ```
//!
//! Every check runs before any change is built, and every problem is reported at once
//! as a [`PlanError`]. The same inputs always give a byte-identical plan: every walk
//! follows name order or the post-apply tree's pre-order, never hash order.
//! docs/plan-format.md documents the semantics implemented here.

mod changes;
mod effects;
mod fields;
mod join;
mod prune;
mod restore;
mod scope;
mod service_plans;
mod similar;
mod tree;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use crate::model::{CompactString, Hierarchy, Node, NodeSpec, ServicePlan};
use crate::plan::Plan;
use crate::plan::error::{PlanError, Problem};

use effects::Effects;
use join::{Joined, NameIndex, position};
use scope::Scope;
use tree::Tree;

/// What a plan is for and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// The source whose objects this plan manages (`managed_by` in the store).
    pub source: String,
    /// Fingerprint of the live snapshot, copied into the plan.
    pub base_fingerprint: String,
    /// Delete (archive) orphans.
    pub prune: bool,
    /// Refuse a prune of more than this percentage of the source's managed accounts.
    pub max_prune_percent: f64,
    /// Limit the run to the subtree of this account or group.
    pub scope: Option<String>,
    /// Orphans to archive even without `prune` (and whatever else the source declares):
    /// the Kubernetes resources deleted with `deletionPolicy: Archive`.
    pub archive: Vec<String>,
    /// Orphans to keep but release (make unmanaged: `managed_by` cleared), whatever
    /// `prune` says: the Kubernetes resources deleted with `deletionPolicy: Orphan`.
    pub release: Vec<String>,
}

impl PlanOptions {
    /// Options for `source` with the CLI's defaults: no prune, a 10% prune limit, no
    /// scope, an empty fingerprint.
    pub fn new(source: impl Into<String>) -> PlanOptions {
        PlanOptions {
            source: source.into(),
            base_fingerprint: String::new(),
            prune: false,
            max_prune_percent: 10.0,
            scope: None,
            archive: Vec::new(),
            release: Vec::new(),
        }
    }
}

/// Compares what `options.source` declares (`desired`) with the whole live database
/// (`live`) and returns the plan that makes them equal, or every reason it cannot.
pub fn diff(
    live: &Hierarchy,
    desired: &Hierarchy,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let desired = sorted(desired);
    let (mut plan, written) = plan_rows(live, &desired, options)?;
    for (write, position) in plan.writes.nodes.iter_mut().zip(written) {
        write.spec = desired.nodes[position].spec.clone();
    }
    Ok(plan)
}

/// [`diff`] for a caller with no further use for the declared specs (`canopy apply`
/// when its output does not show the desired tree): the spec of each node the plan
/// writes is moved out of `desired` into the plan instead of copied, so a plan that
/// creates a million accounts does not hold their specs twice. Afterwards those nodes
/// of `desired` keep their name and type only; the others are untouched.
pub fn diff_moving(
    live: &Hierarchy,
    desired: &mut Hierarchy,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    if !is_sorted(desired) {
        *desired = sort(std::mem::take(desired));
    }
    let (mut plan, written) = plan_rows(live, desired, options)?;
    for (write, position) in plan.writes.nodes.iter_mut().zip(written) {
        let node = &mut desired.nodes[position];
        let bare = NodeSpec::new(node.spec.node_type, CompactString::default());
        write.spec = std::mem::replace(&mut node.spec, bare);
    }
    Ok(plan)
}

/// The plan of a sorted `desired` with every node write's spec left empty, and the
/// position in `desired.nodes` of each node write's declared node, in order.
fn plan_rows(
    live: &Hierarchy,
    desired: &Hierarchy,
    options: &PlanOptions,
) -> Result<(Plan, Vec<usize>), PlanError> {
    let live = sorted(live);
    let mut problems = Vec::new();
    let source = options.source.as_str();
    let mut nodes = join::join(&live.nodes, &desired.nodes, source, &mut problems);
    let mut plans = join::join(&live.plans, &desired.plans, source, &mut problems);
    let index = NameIndex::new(&nodes);
    let scope =
        options
            .scope
            .as_deref()
            .and_then(|root| match Scope::resolve(&nodes, &index, root) {
                Ok(scope) => Some(scope),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            });
    restore::check(&nodes, &index, &live, source, scope.as_ref(), &mut problems);
    let desired_is_empty = desired.nodes.is_empty() && desired.plans.is_empty();
    let orphans = prune::select(
        &mut nodes,
        &mut plans,
        options,
        scope.as_ref(),
        desired_is_empty,
        &mut problems,
    );
    let tree = Tree::build(&nodes, &index, &mut problems);
    tree::check_placement(&nodes, &tree, &mut problems);
    check_plan_references(&nodes, &plans, &mut problems);
    if let Some(scope) = &scope {
        scope.check(&nodes, &plans, &tree, &mut problems);
    }
    if !problems.is_empty() {
        return Err(PlanError::Rejected(problems));
    }
    let effects = Effects::compute(&nodes, &tree, &live);
    let planner = Planner {
        options,
        nodes: &nodes,
        index: &index,
        plans: &plans,
        tree: &tree,
        effects,
        written: Vec::new(),
    };
    let (mut plan, written) = planner.plan();
    plan.orphans = orphans.names;
    plan.warnings.extend(orphans.warning);
    plan.warnings
        .sort_by(|a, b| (&a.code, &a.name).cmp(&(&b.code, &b.name)));
    debug_assert_eq!(plan.writes.nodes.len(), written.len());
    // The rows to write get their specs last, once the planner's working state (the
    // join, tree, index and effective values: about 110 bytes a node) is freed: a
    // plan that creates every node copies (or moves) every declared spec.
    Ok((plan, positions(&desired.nodes, &written)))
}

/// The position in `nodes` of each of `written`, which all point into `nodes`.
fn positions(nodes: &[Node], written: &[&Node]) -> Vec<usize> {
    let start = nodes.as_ptr().addr();
    let size = std::mem::size_of::<Node>();
    written
        .iter()
        .map(|node| {
            let position = (std::ptr::from_ref::<Node>(node).addr() - start) / size;
            debug_assert!(std::ptr::eq(&nodes[position], *node));
            position
        })
        .collect()
}

/// Hierarchies are normally built sorted ([`Hierarchy::new`]); the fields are public,
/// so an unsorted one is sorted here rather than silently mis-joined.
fn sorted(hierarchy: &Hierarchy) -> Cow<'_, Hierarchy> {
    if is_sorted(hierarchy) {
        Cow::Borrowed(hierarchy)
    } else {
        Cow::Owned(sort(hierarchy.clone()))
    }
}

fn is_sorted(hierarchy: &Hierarchy) -> bool {
    hierarchy.nodes.is_sorted_by(|a, b| a.name <= b.name)
        && hierarchy.plans.is_sorted_by(|a, b| a.name <= b.name)
}

fn sort(hierarchy: Hierarchy) -> Hierarchy {
    let mut sorted = Hierarchy::new(hierarchy.nodes, hierarchy.plans);
    sorted.archived = hierarchy.archived;
    sorted.archived.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    sorted
}

/// Every declared node's service plan must exist after the plan, and no remaining node
/// may keep a plan that is being pruned.
fn check_plan_references(
    nodes: &[Joined<'_, Node>],
    plans: &[Joined<'_, ServicePlan>],
    problems: &mut Vec<Problem>,
) {
    for node in nodes.iter().filter(|node| !node.removed()) {
        let Some(plan_name) = node.spec().plan.as_deref() else {
            continue;
        };
        let kind = node.spec().node_type.kind();
        match position(plans, plan_name).map(|index| &plans[index]) {
            None if node.desired.is_some() => problems.push(Problem::MissingServicePlan {
                kind,
                name: node.name.to_string(),
                plan: plan_name.to_string(),
            }),
            Some(plan) if plan.removed() => problems.push(Problem::PrunedServicePlanInUse {
                plan: plan_name.to_string(),
                kind,
                name: node.name.to_string(),
            }),
            _ => {}
        }
    }
}

/// Builds the plan from checked inputs. Split across `changes` (nodes),
/// `service_plans` and `similar` (duplicate warnings).
struct Planner<'p, 'a> {
    options: &'p PlanOptions,
    nodes: &'p [Joined<'a, Node>],
    index: &'p NameIndex,
    plans: &'p [Joined<'a, ServicePlan>],
    tree: &'p Tree,
    effects: Effects<'p>,
    /// The desired node of each of the plan's node writes, in order: the writes are
    /// planned with an empty spec, which [`diff`] fills in from these.
    written: Vec<&'a Node>,
}

impl<'a> Planner<'_, 'a> {
    /// Service plan creates/updates, node changes top-down, node deletes (children
    /// first), service plan deletes; with the desired node of each node write.
    fn plan(mut self) -> (Plan, Vec<&'a Node>) {
        let mut plan = Plan {
            source: self.options.source.clone(),
            base_fingerprint: self.options.base_fingerprint.clone(),
            ..Plan::default()
        };
        // First: comparing names sorts keys for every account, and that working state
        // is freed before the changes and rows of a plan that creates them all exist.
        let similar = similar::similar_name_warnings(self.nodes);
        self.plan_service_plans(&mut plan);
        for position in 0..self.tree.order.len() {
            let index = self.tree.order[position];
            self.plan_node(index, &mut plan);
        }
        self.plan_node_deletes(&mut plan);
        self.plan_service_plan_deletes(&mut plan);
        plan.warnings.extend(similar);
        (plan, self.written)
    }
}
