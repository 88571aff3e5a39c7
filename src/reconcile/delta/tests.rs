//! The neighbourhood plan equals the whole diff, on generated trees edited the way
//! `generate::mutate` edits them (moves, groupings, deactivations, renames, creates,
//! removals), spread over pretend files.

use std::hash::{Hash, Hasher};

use super::*;
use crate::generate;
use crate::manifest::Loaded;
use crate::reconcile::{self, Gate, Options, Outcome};
use crate::store::{self, ApplyContext, Store};

const FILES: u64 = 40;
const SOURCE: &str = "default";

/// The pretend file a node is declared in.
fn file_of(name: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    name.hash(&mut hasher);
    hasher.finish() % FILES
}

fn options(prune: bool) -> Options {
    let mut plan = PlanOptions::new(SOURCE);
    plan.prune = prune;
    plan.max_prune_percent = 100.0;
    Options {
        plan,
        context: ApplyContext {
            actor: "test".to_string(),
            source: SOURCE.to_string(),
            revision: None,
        },
        gate: Gate::Off,
    }
}

fn apply(store: &mut dyn Store, desired: &Hierarchy, options: &Options) -> reconcile::Reconciled {
    let desired = desired.clone();
    let load = move |_: &Hierarchy| {
        Ok(Loaded {
            hierarchy: desired,
            diagnostics: Vec::new(),
            files: 1,
            documents: 1,
        })
    };
    reconcile::reconcile(store, load, options).expect("a valid generated tree applies")
}

/// A generated tree applied to a fresh store, and the live state it converged to.
fn converged(accounts: usize, seed: u64, options: &Options) -> (Hierarchy, crate::store::Snapshot) {
    let mut store = store::open("sqlite::memory:").expect("in-memory store");
    let desired = generate::hierarchy(accounts, seed);
    apply(&mut *store, &desired, options);
    (desired, store.snapshot().expect("snapshot"))
}

/// The edit that turns `before` into `after`, file by file.
struct FileEdit {
    nodes: Vec<Node>,
    nodes_before: Vec<String>,
    /// Every service plan is in one file of its own.
    plans: Vec<ServicePlan>,
    plans_before: Vec<String>,
}

fn file_edit(before: &Hierarchy, after: &Hierarchy) -> FileEdit {
    let contents = |hierarchy: &Hierarchy, file: u64| -> Vec<Node> {
        let nodes = hierarchy
            .nodes
            .iter()
            .filter(|node| file_of(&node.name) == file);
        nodes.cloned().collect()
    };
    let mut edit = FileEdit {
        nodes: Vec::new(),
        nodes_before: Vec::new(),
        plans: Vec::new(),
        plans_before: Vec::new(),
    };
    if before.plans != after.plans {
        edit.plans = after.plans.clone();
        edit.plans_before = before.plans.iter().map(|plan| plan.name.clone()).collect();
    }
    for file in 0..FILES {
        let (old, new) = (contents(before, file), contents(after, file));
        if old != new {
            edit.nodes_before
                .extend(old.into_iter().map(|node| node.name.into_string()));
            edit.nodes.extend(new);
        }
    }
    edit.nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    edit
}

/// Plans the edit from `desired` to `next` both ways: when the neighbourhood plans it,
/// the plans must be equal. Returns (the neighbourhood planned, the whole diff did).
fn compare(
    live: &crate::store::Snapshot,
    desired: &Hierarchy,
    next: &Hierarchy,
    orphans: &[String],
    options: &Options,
) -> (bool, bool) {
    let edit = file_edit(desired, next);
    let plan_options = PlanOptions {
        base_fingerprint: live.fingerprint.clone(),
        ..options.plan.clone()
    };
    let whole = plan::diff(&live.hierarchy, next, &plan_options);
    let neighbourhood = super::plan(
        &live.hierarchy,
        Edit {
            nodes: &edit.nodes,
            plans: &edit.plans,
            nodes_before: &edit.nodes_before,
            plans_before: &edit.plans_before,
        },
        orphans,
        &plan_options,
    );
    let whole_planned = whole.is_ok();
    let Some(neighbourhood) = neighbourhood else {
        return (false, whole_planned);
    };
    let whole = whole.expect("the neighbourhood planned what the whole diff rejects");
    assert_eq!(neighbourhood, whole);
    (true, whole_planned)
}

/// Walks `steps` generated edits; at each, the neighbourhood plan (when it plans) must
/// equal the whole diff; then the whole plan is applied. Returns how many edits the
/// neighbourhood planned.
fn walk(seed: u64, accounts: usize, steps: u64, percent: u32, prune: bool) -> usize {
    let options = options(prune);
    let mut store = store::open("sqlite::memory:").expect("in-memory store");
    let mut desired = generate::hierarchy(accounts, seed);
    let mut orphans = orphans_left(&apply(&mut *store, &desired, &options).plan);
    let mut planned = 0;
    for step in 0..steps {
        let mut next = generate::mutate(&desired, seed * 1000 + step, percent);
        if step % 4 != 3 {
            // Mostly edits of what exists: no plan changes, no creates.
            next.plans = desired.plans.clone();
            next.nodes.retain(|node| desired.node(&node.name).is_some());
        }
        let live = store.snapshot().expect("snapshot");
        let (neighbourhood, whole_planned) = compare(&live, &desired, &next, &orphans, &options);
        planned += usize::from(neighbourhood);
        if !whole_planned {
            continue;
        }
        let applied = apply(&mut *store, &next, &options);
        assert!(matches!(
            applied.outcome,
            Outcome::Applied(_) | Outcome::Unchanged
        ));
        orphans = orphans_left(&applied.plan);
        desired = next;
    }
    eprintln!("seed {seed}: the neighbourhood planned {planned} of {steps} edits");
    planned
}

#[test]
fn the_neighbourhood_plans_what_the_whole_diff_plans() {
    let mut planned = 0;
    for seed in 1..=4 {
        planned += walk(seed, 400, 12, 1, false);
    }
    // Three edits in four create nothing and change no plan: the neighbourhood plans
    // them (the generator is seeded: the same edits every run).
    assert!(
        planned >= 30,
        "the neighbourhood planned only {planned} of 48 edits"
    );
    let wider = walk(7, 600, 8, 5, false);
    assert!(
        wider >= 4,
        "the neighbourhood planned only {wider} of 8 wider edits"
    );
}

#[test]
fn with_prune_the_neighbourhood_still_agrees() {
    let planned: usize = (5..=6).map(|seed| walk(seed, 300, 10, 1, true)).sum();
    assert!(
        planned >= 8,
        "the neighbourhood planned only {planned} of 20 edits"
    );
}

#[test]
fn cascades_moves_and_refusals_agree_with_the_whole_diff() {
    use crate::model::NodeType;
    let options = options(false);
    let (desired, live) = converged(600, 11, &options);
    let of_type = |node_type: NodeType| -> Vec<String> {
        let nodes = desired
            .nodes
            .iter()
            .filter(|node| node.spec.node_type == node_type);
        nodes.map(|node| node.name.to_string()).collect()
    };
    let (partners, groups, customers) = (
        of_type(NodeType::Partner),
        of_type(NodeType::CustomerGroup),
        of_type(NodeType::Customer),
    );
    let edited = |name: &str, change: &dyn Fn(&mut Node)| {
        let mut next = desired.clone();
        crate::plan::fixtures::edit(&mut next, name, |node| change(node));
        next
    };
    let cases = [
        // A deactivated partner cascades to everything below it.
        (
            "deactivate a partner",
            edited(&partners[1], &|node| node.spec.active = false),
        ),
        // A customer group moves, with its members, to another partner.
        (
            "move a group",
            edited(&groups[0], &|node| {
                node.spec.parent = Some(partners[2].as_str().into())
            }),
        ),
        // A disabled service and a locked setting change what accounts below get.
        (
            "disable a service",
            edited(&partners[0], &|node| {
                node.spec.services.insert("archive".to_string(), false);
                node.spec.locked_settings = vec!["passwordExpiryDays".to_string()].into();
            }),
        ),
        // A partner that becomes a customer leaves its customers misplaced: refused.
        (
            "partner to customer",
            edited(&partners[partners.len() - 1], &|node| {
                node.spec.node_type = NodeType::Customer;
            }),
        ),
        // A customer under another customer: refused.
        (
            "customer under customer",
            edited(&customers[0], &|node| {
                node.spec.parent = Some(customers[1].as_str().into());
            }),
        ),
    ];
    let mut planned = 0;
    for (what, next) in &cases {
        let (neighbourhood, whole) = compare(&live, &desired, next, &[], &options);
        assert!(whole || !neighbourhood, "{what}");
        planned += usize::from(neighbourhood);
    }
    assert_eq!(
        planned, 3,
        "the three valid edits are planned on their neighbourhood"
    );
}

#[test]
fn a_rename_is_planned_on_the_neighbourhood_alone() {
    let options = options(false);
    let (_, live) = converged(200, 9, &options);
    let leaf = live
        .hierarchy
        .nodes
        .iter()
        .find(|node| {
            node.spec.node_type == crate::model::NodeType::Customer
                && !live
                    .hierarchy
                    .nodes
                    .iter()
                    .any(|child| child.spec.parent.as_deref() == Some(&node.name))
        })
        .expect("a leaf customer");
    let mut renamed = as_declared(leaf);
    renamed.spec.display_name = "Renamed Customer".into();
    let before = [leaf.name.to_string()];
    let plan = super::plan(
        &live.hierarchy,
        Edit {
            nodes: std::slice::from_ref(&renamed),
            plans: &[],
            nodes_before: &before,
            plans_before: &[],
        },
        &[],
        &options.plan,
    )
    .expect("a rename is planned");
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].op, Op::Update);
    assert_eq!(plan.changes[0].name, leaf.name);
}

#[test]
fn a_name_another_file_declares_is_left_to_the_whole_load() {
    let options = options(false);
    let (_, live) = converged(100, 3, &options);
    let node = as_declared(&live.hierarchy.nodes[3]);
    // The changed file declared something else before: `node` is declared elsewhere.
    let before = ["some-other-name".to_string()];
    let plan = super::plan(
        &live.hierarchy,
        Edit {
            nodes: std::slice::from_ref(&node),
            plans: &[],
            nodes_before: &before,
            plans_before: &[],
        },
        &[],
        &options.plan,
    );
    assert!(plan.is_none());
}
