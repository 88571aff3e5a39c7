//! Downward inheritance: the effective activation, services and settings of a node.
//!
//! - An account is effectively active only if it and every ancestor are active.
//!   Deactivating a partner leaves its customers' own flags alone, so reactivating it
//!   restores them.
//! - A service disabled on an ancestor is unavailable below it, whatever the
//!   descendants declare.
//! - A setting locked on an ancestor keeps the ancestor's effective value below it.
//!
//! The store keeps these values per row, so the rest of a platform reads one row (can
//! this user log in?) instead of walking the tree.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Hierarchy, NodeSpec, SettingValue};

/// The values a node ends up with after inheritance.
///
/// The inherited maps are shared: a node that declares no services or settings of its
/// own (most accounts) holds its parent's [`Inherited`], not a copy of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    pub active: bool,
    #[serde(flatten)]
    pub values: Arc<Inherited>,
}

/// The services, settings and locked settings a node inherits (merged with its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inherited {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, SettingValue>,
    /// Keys locked by this node or an ancestor, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked_settings: Vec<String>,
}

impl PartialEq for Effective {
    fn eq(&self, other: &Effective) -> bool {
        self.active == other.active
            && (Arc::ptr_eq(&self.values, &other.values) || self.values == other.values)
    }
}

impl Effective {
    /// The effective values of a root.
    pub fn root(spec: &NodeSpec) -> Effective {
        Effective {
            active: spec.active,
            values: Arc::new(Inherited {
                services: (*spec.services).clone(),
                settings: (*spec.settings).clone(),
                locked_settings: (*spec.locked_settings).clone(),
            }),
        }
    }

    /// The effective values of a node whose parent's effective values are `parent`.
    pub fn derive(parent: &Effective, spec: &NodeSpec) -> Effective {
        let active = parent.active && spec.active;
        // Fast path: most accounts declare nothing of their own.
        if spec.services.is_empty() && spec.settings.is_empty() && spec.locked_settings.is_empty() {
            return Effective {
                active,
                values: Arc::clone(&parent.values),
            };
        }
        let inherited = &parent.values;
        let mut services = inherited.services.clone();
        for (service, &enabled) in &spec.services {
            let above = inherited.services.get(service).copied().unwrap_or(true);
            services.insert(service.clone(), above && enabled);
        }
        let mut settings = inherited.settings.clone();
        for (key, value) in &spec.settings {
            if inherited.locked_settings.binary_search(key).is_err() {
                settings.insert(key.clone(), value.clone());
            }
        }
        let mut locked_settings = inherited.locked_settings.clone();
        for key in &spec.locked_settings {
            if let Err(at) = locked_settings.binary_search(key) {
                locked_settings.insert(at, key.clone());
            }
        }
        let values = Inherited {
            services,
            settings,
            locked_settings,
        };
        // A node may restate what it inherits: it still shares its parent's values.
        let values = if values == **inherited {
            Arc::clone(inherited)
        } else {
            Arc::new(values)
        };
        Effective { active, values }
    }

    /// The effective values of a node whose parent is `parent` (`None` for a root).
    pub fn of(parent: Option<&Effective>, spec: &NodeSpec) -> Effective {
        match parent {
            Some(parent) => Effective::derive(parent, spec),
            None => Effective::root(spec),
        }
    }
}

/// Effective values for every node of `hierarchy`, indexed like `hierarchy.nodes`.
///
/// A node whose parent is missing is treated as a root; nodes on a parent cycle (which
/// validation rejects on the desired side) are treated as roots too rather than
/// looping.
pub fn compute_all(hierarchy: &Hierarchy) -> Vec<Effective> {
    let parents = parent_indices(hierarchy);
    let order = top_down_order(&parents);
    let mut computed: Vec<Option<Effective>> = vec![None; hierarchy.nodes.len()];
    for index in order {
        let parent = parents[index].and_then(|p| computed[p].as_ref());
        computed[index] = Some(Effective::of(parent, &hierarchy.nodes[index].spec));
    }
    computed
        .into_iter()
        .zip(&hierarchy.nodes)
        .map(|(effective, node)| effective.unwrap_or_else(|| Effective::root(&node.spec)))
        .collect()
}

/// For each node, the index of its parent in `hierarchy.nodes`, if the parent exists.
pub fn parent_indices(hierarchy: &Hierarchy) -> Vec<Option<usize>> {
    hierarchy
        .nodes
        .iter()
        .map(|node| {
            node.spec
                .parent
                .as_deref()
                .and_then(|parent| hierarchy.node_index(parent))
        })
        .collect()
}

/// Node indices ordered so that every parent comes before its children. Nodes on a
/// cycle come last, each as if it were a root.
pub fn top_down_order(parents: &[Option<usize>]) -> Vec<usize> {
    let count = parents.len();
    let mut children_start = vec![0usize; count + 1];
    for parent in parents.iter().flatten() {
        children_start[parent + 1] += 1;
    }
    for i in 0..count {
        children_start[i + 1] += children_start[i];
    }
    let mut fill = children_start.clone();
    let mut children = vec![0usize; children_start[count]];
    for (child, parent) in parents.iter().enumerate() {
        if let Some(parent) = parent {
            children[fill[*parent]] = child;
            fill[*parent] += 1;
        }
    }
    let mut order = Vec::with_capacity(count);
    let mut seen = vec![false; count];
    let mut queue: Vec<usize> = (0..count).filter(|&i| parents[i].is_none()).collect();
    while let Some(index) = queue.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        order.push(index);
        queue.extend_from_slice(&children[children_start[index]..children_start[index + 1]]);
    }
    // Whatever is left hangs off a cycle.
    for (index, was_seen) in seen.iter().enumerate() {
        if !was_seen {
            order.push(index);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, NodeType};

    fn node(name: &str, node_type: NodeType, parent: Option<&str>, active: bool) -> Node {
        let mut spec = NodeSpec::new(node_type, name);
        spec.parent = parent.map(Into::into);
        spec.active = active;
        Node {
            name: name.into(),
            spec,
            adopt: false,
            live: Default::default(),
            effective: None,
        }
    }

    #[test]
    fn deactivating_a_partner_makes_its_customers_effectively_inactive() {
        let h = Hierarchy::new(
            vec![
                node("sub", NodeType::Subsidiary, None, true),
                node("p", NodeType::Partner, Some("sub"), false),
                node("c", NodeType::Customer, Some("p"), true),
            ],
            vec![],
        );
        let effective = compute_all(&h);
        let c = h.node_index("c").unwrap();
        assert!(!effective[c].active);
        assert!(
            h.nodes[c].spec.active,
            "the customer's own flag is untouched"
        );
    }

    #[test]
    fn a_service_disabled_above_stays_disabled_below() {
        let mut parent = node("p", NodeType::Partner, None, true);
        parent.spec.services.insert("scanning".into(), false);
        let mut child = node("c", NodeType::Customer, Some("p"), true);
        child.spec.services.insert("scanning".into(), true);
        let h = Hierarchy::new(vec![parent, child], vec![]);
        let effective = compute_all(&h);
        assert!(!effective[h.node_index("c").unwrap()].values.services["scanning"]);
    }

    #[test]
    fn a_locked_setting_cannot_be_overridden_below() {
        let mut parent = node("p", NodeType::Partner, None, true);
        parent
            .spec
            .settings
            .insert("passwordExpiryDays".into(), 90.into());
        parent
            .spec
            .locked_settings
            .push("passwordExpiryDays".into());
        let mut child = node("c", NodeType::Customer, Some("p"), true);
        child
            .spec
            .settings
            .insert("passwordExpiryDays".into(), 365.into());
        let h = Hierarchy::new(vec![parent, child], vec![]);
        let effective = compute_all(&h);
        assert_eq!(
            effective[h.node_index("c").unwrap()].values.settings["passwordExpiryDays"],
            serde_json::json!(90)
        );
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let h = Hierarchy::new(
            vec![
                node("a", NodeType::Partner, Some("b"), true),
                node("b", NodeType::Partner, Some("a"), true),
            ],
            vec![],
        );
        assert_eq!(compute_all(&h).len(), 2);
    }
}
