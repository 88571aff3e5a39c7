//! Inheritance effects: effective values after the plan, and what they change.
//!
//! The effective activation, services and settings of every node in the post-apply
//! tree are recomputed top-down ([`crate::model::effective`]) and compared with what
//! the store holds. Only the differences are kept: a no-op plan of 100k nodes
//! allocates nothing here, because a node that inherits everything is checked against
//! its stored row without building a new value.
//!
//! The differences drive the activation cascade of `activate`/`deactivate`, the
//! `service-cascade` and `setting-cascade` warnings, and the effective-only writes.

use std::sync::Arc;

use crate::model::effective::compute_all;
use crate::model::{Effective, Hierarchy, Node, NodeSpec};
use crate::plan::{Cascade, Warning};

use super::join::Joined;
use super::tree::Tree;

/// The slot of a node whose effective value is unchanged.
const NONE: usize = usize::MAX;

/// Before and after effective values of the joined nodes.
pub(super) struct Effects<'a> {
    nodes: &'a [Joined<'a, Node>],
    /// Per node, where in `fresh` its computed value is ([`NONE`]: equal to the stored
    /// one). A slot per node rather than a value per node keeps a no-op plan of 100k
    /// nodes at one small allocation.
    slots: Vec<usize>,
    /// Computed values that differ from the stored ones (always, for new nodes).
    fresh: Vec<Option<Effective>>,
    /// Values computed from the live tree, for live rows stored without them.
    live_fallback: Option<(&'a Hierarchy, Vec<Effective>)>,
}

impl<'a> Effects<'a> {
    pub fn compute(nodes: &'a [Joined<'a, Node>], tree: &Tree, live: &'a Hierarchy) -> Self {
        let mut effects = Effects {
            nodes,
            slots: vec![NONE; nodes.len()],
            fresh: Vec::new(),
            live_fallback: None,
        };
        let mut needs_fallback = false;
        for &index in &tree.order {
            let node = &nodes[index];
            let spec = node.spec();
            let stored = stored_effective(node);
            needs_fallback |= node.live.is_some() && stored.is_none();
            let parent = tree.parent[index].and_then(|parent| effects.after(parent));
            if let Some(stored) = stored
                && inherits_unchanged(parent, spec, stored) == Some(true)
            {
                continue;
            }
            let value = Effective::of(parent, spec);
            if stored != Some(&value) {
                effects.slots[index] = effects.fresh.len();
                effects.fresh.push(Some(value));
            }
        }
        effects.live_fallback = needs_fallback.then(|| (live, compute_all(live)));
        effects
    }

    /// The value before the plan: stored, or computed from the live tree when the row
    /// has none. `None` for nodes the plan creates.
    pub fn before(&self, index: usize) -> Option<&Effective> {
        let live = self.nodes[index].live?;
        if let Some(stored) = &live.effective {
            return Some(stored);
        }
        let (hierarchy, computed) = self.live_fallback.as_ref()?;
        computed.get(hierarchy.node_index(&live.name)?)
    }

    /// The value after the plan (`None` only for pruned nodes).
    pub fn after(&self, index: usize) -> Option<&Effective> {
        match self.fresh.get(self.slots[index]) {
            Some(fresh) => fresh.as_ref(),
            None => stored_effective(&self.nodes[index]),
        }
    }

    /// Whether the stored value must be rewritten.
    pub fn changed(&self, index: usize) -> bool {
        self.slots[index] != NONE
    }

    /// Moves the after value out for a write. Only valid once every question about
    /// the node's subtree has been asked: the planner walks parents before children
    /// and asks only about descendants, so a taken value is never needed again.
    pub fn take_after(&mut self, index: usize) -> Option<Effective> {
        match self.fresh.get_mut(self.slots[index]) {
            Some(fresh) => fresh.take(),
            None => stored_effective(&self.nodes[index]).cloned(),
        }
    }

    /// The accounts below `index` whose effective activation the plan changes.
    pub fn activation_cascade(&self, tree: &Tree, index: usize) -> Cascade {
        let mut names: Vec<String> = tree
            .descendants(index)
            .filter(|&below| self.is_existing_account(below))
            .filter(|&below| {
                let before = self.before(below).map(|value| value.active);
                let after = self.after(below).map(|value| value.active);
                before.is_some() && before != after
            })
            .map(|below| self.nodes[below].name.to_string())
            .collect();
        names.sort_unstable();
        Cascade {
            count: names.len(),
            names,
        }
    }

    /// Warnings for services a declared node newly disables, and settings it newly
    /// locks, that change what accounts below it get.
    pub fn inheritance_warnings(&self, tree: &Tree, index: usize) -> Vec<Warning> {
        let node = &self.nodes[index];
        let (Some(live), Some(desired)) = (node.live, node.desired) else {
            return Vec::new();
        };
        let (before, after) = (&live.spec, &desired.spec);
        let mut warnings = Vec::new();
        for (service, &enabled) in &after.services {
            if enabled || before.services.get(service) == Some(&false) {
                continue;
            }
            let count = self.count_below(tree, index, |value| service_available(value, service));
            if count > 0 {
                warnings.push(Warning {
                    code: "service-cascade".to_string(),
                    name: node.name.to_string(),
                    message: format!(
                        "disabling {service} on {} makes it unavailable to {count} account(s)",
                        node.name
                    ),
                });
            }
        }
        for key in &after.locked_settings {
            if before.locked_settings.binary_search(key).is_ok() {
                continue;
            }
            let count =
                self.count_below(tree, index, |value| value.values.settings.get(key).cloned());
            if count > 0 {
                warnings.push(Warning {
                    code: "setting-cascade".to_string(),
                    name: node.name.to_string(),
                    message: format!(
                        "locking {key} on {} changes its effective value for {count} account(s)",
                        node.name
                    ),
                });
            }
        }
        warnings
    }

    /// Existing accounts below `index` for which `probe` differs before and after.
    fn count_below<T: PartialEq>(
        &self,
        tree: &Tree,
        index: usize,
        probe: impl Fn(&Effective) -> T,
    ) -> usize {
        tree.descendants(index)
            .filter(|&below| self.is_existing_account(below))
            .filter(|&below| match (self.before(below), self.after(below)) {
                (Some(before), Some(after)) => probe(before) != probe(after),
                _ => false,
            })
            .count()
    }

    fn is_existing_account(&self, index: usize) -> bool {
        let node = &self.nodes[index];
        node.live.is_some() && !node.spec().node_type.is_group()
    }
}

fn stored_effective<'a>(node: &Joined<'a, Node>) -> Option<&'a Effective> {
    node.live.and_then(|live| live.effective.as_ref())
}

/// A missing entry means the service was never disabled above: it is available.
fn service_available(value: &Effective, service: &str) -> bool {
    value.values.services.get(service) != Some(&false)
}

/// Whether `Effective::of(parent, spec)` equals `stored`, decided without allocating
/// for the common node that declares no services or settings of its own. `None` when
/// only building the value can tell.
fn inherits_unchanged(
    parent: Option<&Effective>,
    spec: &NodeSpec,
    stored: &Effective,
) -> Option<bool> {
    match parent {
        None => Some(
            stored.active == spec.active
                && stored.values.services == *spec.services
                && stored.values.settings == *spec.settings
                && stored.values.locked_settings == *spec.locked_settings,
        ),
        Some(parent)
            if spec.services.is_empty()
                && spec.settings.is_empty()
                && spec.locked_settings.is_empty() =>
        {
            Some(
                stored.active == (parent.active && spec.active)
                    && (Arc::ptr_eq(&stored.values, &parent.values)
                        || stored.values == parent.values),
            )
        }
        Some(_) => None,
    }
}
