//! Planning a few changed files without diffing the whole tree.
//!
//! After a pass that converged (its plan applied, or nothing to do) and while nothing
//! else wrote (the change counter is the one after that pass), every object the
//! unchanged files declare is in the live snapshot exactly as declared. So the plan of
//! an edit to a few files depends only on what those files declare now and declared
//! before, and on the objects around them: the diff runs on that neighbourhood alone.
//!
//! ```text
//! touched = what the changed files declare otherwise than before (new, dropped, edited)
//! K = touched ∪ their ancestors (live and declared parents) ∪ every live descendant
//! desired(K) = the changed files' objects ∪ live copies of K's objects declared elsewhere
//! plan = diff(live(K), desired(K)) with the orphans outside K carried over
//! ```
//!
//! The neighbourhood is closed upwards (effective values and placement need every
//! ancestor) and downwards (cascades, effective values and placement of everything
//! below), so the diff computes for each object in it what the whole diff would, and
//! nothing outside it can change. Whatever needs the whole tree is declined (`None`:
//! the caller plans the whole tree): a service plan that changes, a created account
//! (its similar-name check compares it with every account), a prune or an archive (the
//! prune guard counts all managed accounts), a rejected plan (the full pass reports it
//! with locations), an edit that leaves the neighbourhood's desired side empty.

use rustc_hash::FxHashSet;

use crate::model::{Archived, Hierarchy, LiveMeta, Node, ServicePlan};
use crate::plan::{self, Op, Plan, PlanOptions};

/// What the changed files declare now and what they declared before.
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    /// The nodes the changed files declare now (validated), sorted by name.
    pub nodes: &'a [Node],
    /// The service plans they declare now.
    pub plans: &'a [ServicePlan],
    /// The node names they declared before.
    pub nodes_before: &'a [String],
    /// The service plan names they declared before.
    pub plans_before: &'a [String],
}

/// The plan of `edit` against `live`, where the state before the edit had converged
/// with `orphans` left over (the previous plan's orphans), or `None` when only the
/// whole diff can plan it. `options.base_fingerprint` is copied into the plan.
pub fn plan(
    live: &Hierarchy,
    edit: Edit<'_>,
    orphans: &[String],
    options: &PlanOptions,
) -> Option<Plan> {
    if !options.archive.is_empty()
        || !options.release.is_empty()
        || !plans_unchanged(live, edit, &options.source)
    {
        return None;
    }
    let source = options.source.as_str();
    let before: FxHashSet<&str> = edit.nodes_before.iter().map(String::as_str).collect();
    let orphaned: FxHashSet<&str> = orphans.iter().map(String::as_str).collect();
    // Declared by a file that did not change (for a name the edit does not declare):
    // managed here, not declared by the changed files before, not an orphan.
    let elsewhere = |node: &Node| {
        node.live.managed_by.as_deref() == Some(source)
            && !before.contains(node.name.as_str())
            && !orphaned.contains(node.name.as_str())
    };
    if edit
        .nodes
        .iter()
        .any(|node| live.node(&node.name).is_some_and(elsewhere))
    {
        return None; // declared twice: the full load reports the duplicate
    }
    let touched = touched(live, edit, &before, source);
    if touched.is_empty() {
        // Files rewritten as they were, or declaring nothing: the converged state stands.
        return Some(Plan {
            source: options.source.clone(),
            base_fingerprint: options.base_fingerprint.clone(),
            orphans: orphans.to_vec(),
            ..Plan::default()
        });
    }
    let neighbourhood = neighbourhood(live, edit, &touched, options.scope.as_deref());
    let mut live_nodes = Vec::with_capacity(neighbourhood.len());
    let mut desired_nodes = Vec::with_capacity(neighbourhood.len());
    let mut archived = Vec::new();
    for name in &neighbourhood {
        let live_node = live.node(name);
        if let Some(node) = live_node {
            live_nodes.push(node.clone());
        }
        if let Some(node) = live.archived(name) {
            archived.push(node.clone());
        }
        match edit_node(edit, name) {
            Some(declared) => desired_nodes.push(declared.clone()),
            None => {
                if let Some(node) = live_node.filter(|node| elsewhere(node)) {
                    desired_nodes.push(as_declared(node));
                }
            }
        }
    }
    if desired_nodes.is_empty() {
        return None; // the empty-source rule looks at the whole source
    }
    let mut live_part = Hierarchy::new(live_nodes, live.plans.clone());
    live_part.archived = archived;
    let desired_plans: Vec<ServicePlan> = live
        .plans
        .iter()
        .filter(|plan| {
            plan.live.managed_by.as_deref() == Some(source)
                && !orphaned.contains(plan.name.as_str())
        })
        .map(|plan| ServicePlan {
            name: plan.name.clone(),
            spec: plan.spec.clone(),
            adopt: false,
            live: LiveMeta::default(),
        })
        .collect();
    let desired_part = Hierarchy::new(desired_nodes, desired_plans);
    let mut planned = plan::diff(&live_part, &desired_part, options).ok()?;
    if planned
        .changes
        .iter()
        .any(|change| needs_whole_tree(change.op))
    {
        return None;
    }
    let inside: FxHashSet<&str> = neighbourhood.iter().map(String::as_str).collect();
    planned.orphans.extend(
        orphans
            .iter()
            .filter(|name| !inside.contains(name.as_str()))
            .cloned(),
    );
    planned.orphans.sort_unstable();
    planned.orphans.dedup();
    Some(planned)
}

/// The orphans still there once `plan` is applied: those it lists and does not prune
/// (or release).
pub fn orphans_left(plan: &Plan) -> Vec<String> {
    let writes = &plan.writes;
    let archived: FxHashSet<&str> = writes
        .archive_nodes
        .iter()
        .chain(&writes.archive_plans)
        .chain(&writes.release_nodes)
        .chain(&writes.release_plans)
        .map(String::as_str)
        .collect();
    let left = plan
        .orphans
        .iter()
        .filter(|name| !archived.contains(name.as_str()));
    left.cloned().collect()
}

/// The service plans the edit declares are the ones it declared before, each exactly
/// as it is live and managed here: the edit changes no plan.
fn plans_unchanged(live: &Hierarchy, edit: Edit<'_>, source: &str) -> bool {
    let mut now: Vec<&str> = edit.plans.iter().map(|plan| plan.name.as_str()).collect();
    let mut before: Vec<&str> = edit.plans_before.iter().map(String::as_str).collect();
    now.sort_unstable();
    before.sort_unstable();
    now == before
        && edit.plans.iter().all(|declared| {
            live.plan(&declared.name).is_some_and(|plan| {
                plan.live.managed_by.as_deref() == Some(source) && plan.spec == declared.spec
            })
        })
}

/// A create is checked for similar names against every account; a delete is a prune,
/// guarded by the share of all managed accounts it removes.
fn needs_whole_tree(op: Op) -> bool {
    match op {
        Op::Create | Op::Delete | Op::Release => true,
        Op::Update
        | Op::Move
        | Op::Group
        | Op::Ungroup
        | Op::ChangePlan
        | Op::Activate
        | Op::Deactivate
        | Op::AddUser
        | Op::RemoveUser
        | Op::UpdateUser => false,
    }
}

fn edit_node<'a>(edit: Edit<'a>, name: &str) -> Option<&'a Node> {
    edit.nodes
        .binary_search_by(|node| node.name.as_str().cmp(name))
        .ok()
        .map(|index| &edit.nodes[index])
}

/// A live node as a manifest declares it (no live metadata, no stored effective
/// values).
fn as_declared(node: &Node) -> Node {
    Node {
        name: node.name.clone(),
        spec: node.spec.clone(),
        adopt: false,
        live: LiveMeta::default(),
        effective: None,
    }
}

/// The names whose declaration the edit changes: declared now and not before (by these
/// files), declared before and not now, or declared otherwise than they are live. A
/// file rewritten as it was touches nothing.
fn touched<'a>(
    live: &Hierarchy,
    edit: Edit<'a>,
    before: &FxHashSet<&str>,
    source: &str,
) -> Vec<&'a str> {
    let as_live = |node: &Node| {
        live.node(&node.name).is_some_and(|live| {
            live.live.managed_by.as_deref() == Some(source) && live.spec == node.spec
        })
    };
    let changed = edit
        .nodes
        .iter()
        .filter(|node| !before.contains(node.name.as_str()) || !as_live(node))
        .map(|node| node.name.as_str());
    let dropped = edit
        .nodes_before
        .iter()
        .filter(|name| edit_node(edit, name).is_none())
        .map(String::as_str);
    changed.chain(dropped).collect()
}

/// Up to this many names, a sweep for their children compares names instead of hashing.
const SMALL_FRONTIER: usize = 16;

/// Every name the edit touches, their ancestors by live and by declared parent, the
/// scope root's ancestors, and every live descendant of any of them that was touched.
/// Sorted, unique.
fn neighbourhood<'a>(
    live: &'a Hierarchy,
    edit: Edit<'a>,
    touched: &[&'a str],
    scope: Option<&'a str>,
) -> Vec<String> {
    let mut inside: FxHashSet<&str> = FxHashSet::default();
    let mut below: FxHashSet<&str> = FxHashSet::default();
    for &name in touched {
        below.insert(name);
        add_ancestors(live, edit, name, &mut inside);
    }
    if let Some(root) = scope {
        add_ancestors(live, edit, root, &mut inside);
    }
    // Live descendants of the touched names, one level per sweep over every live node.
    // An edit's frontier is a few names: comparing each parent with them is far cheaper
    // than hashing every parent name (which was most of an edit pass).
    let mut frontier: Vec<&str> = below.iter().copied().collect();
    while !frontier.is_empty() {
        let large: Option<FxHashSet<&str>> =
            (frontier.len() > SMALL_FRONTIER).then(|| frontier.iter().copied().collect());
        let mut next = Vec::new();
        for node in &live.nodes {
            let Some(parent) = node.spec.parent.as_deref() else {
                continue;
            };
            let below_frontier = match &large {
                Some(set) => set.contains(parent),
                None => frontier.contains(&parent),
            };
            if below_frontier && below.insert(node.name.as_str()) {
                next.push(node.name.as_str());
            }
        }
        frontier = next;
    }
    // A descendant's ancestors are the touched name's, or in `below` already.
    inside.extend(below);
    let mut names: Vec<String> = inside.into_iter().map(str::to_string).collect();
    names.sort_unstable();
    names
}

/// `name` and its ancestors, following both the declared parent (the edit's, else the
/// live one) and the live parent, stopping at names already inside (cycles included).
fn add_ancestors<'a>(
    live: &'a Hierarchy,
    edit: Edit<'a>,
    name: &'a str,
    inside: &mut FxHashSet<&'a str>,
) {
    let mut stack = vec![name];
    while let Some(name) = stack.pop() {
        if !inside.insert(name) {
            continue;
        }
        let declared = edit_node(edit, name).and_then(|node| node.spec.parent.as_deref());
        let current = live.node(name).and_then(|node| node.spec.parent.as_deref());
        stack.extend(declared);
        stack.extend(current.filter(|parent| Some(*parent) != declared));
        if let Some(archived) = live
            .archived(name)
            .and_then(|node: &Archived| node.parent.as_deref())
        {
            stack.push(archived);
        }
    }
}

#[cfg(test)]
mod tests;
