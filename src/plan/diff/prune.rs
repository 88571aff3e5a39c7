//! Orphans and pruning: what this source once managed and no longer declares.
//!
//! Orphans are always listed; they are deleted (archived by the store) only with
//! `--prune`, and even then never when the source declares nothing at all (an empty
//! or missing directory must not wipe a tree) and never beyond `--max-prune` percent of
//! the source's managed accounts. A scoped run only sees orphans inside its scope, and
//! leaves service plans (global) alone. The orphans named in `archive` (deleted one by
//! one, on purpose) are archived without `--prune` and without those guards; those
//! named in `release` are kept and made unmanaged (nobody's orphan any more), never
//! pruned.

use rustc_hash::FxHashSet;

use crate::model::{Node, ServicePlan};
use crate::plan::Warning;
use crate::plan::error::Problem;

use super::PlanOptions;
use super::join::{Joined, Role};
use super::scope::Scope;

/// The orphans found, and the warning when an empty source kept them from being pruned.
pub(super) struct Orphans {
    pub names: Vec<String>,
    pub warning: Option<Warning>,
}

/// Narrows orphans to the scope, lists them, and with `--prune` turns them into
/// [`Role::Pruned`], refusing (a [`Problem`]) when the prune guard trips.
pub(super) fn select(
    nodes: &mut [Joined<'_, Node>],
    plans: &mut [Joined<'_, ServicePlan>],
    options: &PlanOptions,
    scope: Option<&Scope<'_>>,
    desired_is_empty: bool,
    problems: &mut Vec<Problem>,
) -> Orphans {
    for (index, node) in nodes.iter_mut().enumerate() {
        if node.role == Role::Orphan && scope.is_some_and(|scope| !scope.contains_live(index)) {
            node.role = Role::Untouched;
        }
    }
    for plan in plans.iter_mut() {
        if plan.role == Role::Orphan && scope.is_some() {
            plan.role = Role::Untouched;
        }
    }
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|node| node.role == Role::Orphan)
        .map(|node| node.name.to_string())
        .chain(
            plans
                .iter()
                .filter(|plan| plan.role == Role::Orphan)
                .map(|plan| plan.name.to_string()),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    mark_named(nodes, plans, &options.archive, Role::Pruned);
    mark_named(nodes, plans, &options.release, Role::Released);
    if names.is_empty() {
        return Orphans {
            names,
            warning: None,
        };
    }
    if desired_is_empty {
        let warning = empty_source_warning(&options.source, names.len(), options.prune);
        return Orphans {
            names,
            warning: Some(warning),
        };
    }
    if options.prune {
        for node in nodes.iter_mut().filter(|node| node.role == Role::Orphan) {
            node.role = Role::Pruned;
        }
        for plan in plans.iter_mut().filter(|plan| plan.role == Role::Orphan) {
            plan.role = Role::Pruned;
        }
        check_guard(nodes, options, scope, problems);
    }
    Orphans {
        names,
        warning: None,
    }
}

/// The orphans named in `names` (archive or release) take `role`; a name in both
/// lists is archived (the first call wins).
fn mark_named(
    nodes: &mut [Joined<'_, Node>],
    plans: &mut [Joined<'_, ServicePlan>],
    names: &[String],
    role: Role,
) {
    if names.is_empty() {
        return;
    }
    let names: FxHashSet<&str> = names.iter().map(String::as_str).collect();
    let named = |name: &str| names.contains(name);
    for node in nodes.iter_mut() {
        if node.role == Role::Orphan && named(node.name) {
            node.role = role;
        }
    }
    for plan in plans.iter_mut() {
        if plan.role == Role::Orphan && named(plan.name) {
            plan.role = role;
        }
    }
}

fn empty_source_warning(source: &str, orphans: usize, prune: bool) -> Warning {
    let consequence = if prune {
        "nothing is pruned, so that an empty or missing directory cannot delete a tree"
    } else {
        "they are listed as orphans"
    };
    Warning {
        code: "empty-source".to_string(),
        name: source.to_string(),
        message: format!(
            "source {source} declares nothing but manages {orphans} object(s); {consequence}"
        ),
    }
}

/// Refuses a prune of more than `max_prune_percent` of the managed accounts (in scope).
fn check_guard(
    nodes: &[Joined<'_, Node>],
    options: &PlanOptions,
    scope: Option<&Scope<'_>>,
    problems: &mut Vec<Problem>,
) {
    let is_account = |node: &&Joined<'_, Node>| !node.after.spec.node_type.is_group();
    let managed = nodes
        .iter()
        .enumerate()
        .filter(|(index, node)| {
            node.live
                .is_some_and(|live| live.live.managed_by.as_deref() == Some(&options.source))
                && scope.is_none_or(|scope| scope.contains_live(*index))
        })
        .filter(|(_, node)| is_account(node))
        .count();
    let pruned: Vec<&str> = nodes
        .iter()
        .filter(|node| node.role == Role::Pruned)
        .filter(is_account)
        .map(|node| node.name)
        .collect();
    if pruned.is_empty() {
        return;
    }
    let percent = pruned.len() as f64 * 100.0 / managed.max(1) as f64;
    // Written so that a NaN limit refuses rather than allows.
    let within_limit = percent <= options.max_prune_percent;
    if !within_limit {
        problems.push(Problem::PruneLimit {
            source_name: options.source.clone(),
            pruned: pruned.len(),
            managed,
            percent,
            limit: options.max_prune_percent,
            examples: pruned.iter().take(5).map(|name| name.to_string()).collect(),
        });
    }
}
