//! The post-apply tree: live nodes overlaid with the desired ones, pruned nodes gone.
//!
//! ```text
//! joined nodes (sorted by name) ──> parent index per node ──> children (CSR, by name)
//!                                                         └─> order: pre-order walk,
//!                                                             parents first, siblings by name
//! ```
//!
//! Everything downstream (effective values, cascades, the order of changes and writes)
//! walks this one structure. Building it also finds what would make the result not a
//! tree or break the nesting rules: missing parents, children left under a pruned
//! node, parent cycles, forbidden placements.

use crate::model::{Node, NodeType, rules};
use crate::plan::error::Problem;

use super::join::{Joined, NameIndex};

/// Parent/child structure of the post-apply tree, indexed like the joined nodes.
pub(super) struct Tree {
    /// `None` for roots and for pruned nodes (which are not in the tree).
    pub parent: Vec<Option<usize>>,
    children_start: Vec<usize>,
    children: Vec<usize>,
    /// Every node of the tree, parents before children, siblings by name.
    pub order: Vec<usize>,
}

impl Tree {
    /// Builds the tree, reporting missing parents, children of pruned nodes and cycles.
    pub fn build(
        nodes: &[Joined<'_, Node>],
        index: &NameIndex,
        problems: &mut Vec<Problem>,
    ) -> Tree {
        let parent = resolve_parents(nodes, index, problems);
        let count = nodes.len();
        let mut children_start = vec![0usize; count + 1];
        for &parent_index in parent.iter().flatten() {
            children_start[parent_index + 1] += 1;
        }
        for index in 0..count {
            children_start[index + 1] += children_start[index];
        }
        let mut fill = children_start.clone();
        let mut children = vec![0usize; children_start[count]];
        // Walking children in index order keeps each sibling list sorted by name.
        for (child, parent_index) in parent.iter().enumerate() {
            if let Some(parent_index) = *parent_index {
                children[fill[parent_index]] = child;
                fill[parent_index] += 1;
            }
        }
        let mut tree = Tree {
            parent,
            children_start,
            children,
            order: Vec::with_capacity(count),
        };
        tree.order = tree.pre_order(nodes);
        if tree.order.len() < nodes.iter().filter(|node| !node.removed()).count() {
            report_cycles(nodes, &tree, problems);
        }
        tree
    }

    pub fn children(&self, index: usize) -> &[usize] {
        &self.children[self.children_start[index]..self.children_start[index + 1]]
    }

    /// Every node below `index` (not `index` itself), parents before children.
    pub fn descendants(&self, index: usize) -> Descendants<'_> {
        Descendants {
            tree: self,
            stack: self.children(index).iter().rev().copied().collect(),
        }
    }

    fn pre_order(&self, nodes: &[Joined<'_, Node>]) -> Vec<usize> {
        let mut order = Vec::with_capacity(nodes.len());
        let mut stack: Vec<usize> = (0..nodes.len())
            .rev()
            .filter(|&index| self.parent[index].is_none() && !nodes[index].removed())
            .collect();
        while let Some(index) = stack.pop() {
            order.push(index);
            stack.extend(self.children(index).iter().rev());
        }
        order
    }
}

/// Pre-order iterator over a subtree.
pub(super) struct Descendants<'t> {
    tree: &'t Tree,
    stack: Vec<usize>,
}

impl Iterator for Descendants<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let index = self.stack.pop()?;
        self.stack
            .extend(self.tree.children(index).iter().rev().copied());
        Some(index)
    }
}

fn resolve_parents(
    nodes: &[Joined<'_, Node>],
    index: &NameIndex,
    problems: &mut Vec<Problem>,
) -> Vec<Option<usize>> {
    nodes
        .iter()
        .map(|node| {
            if node.removed() {
                return None;
            }
            let parent_name = node.spec().parent.as_deref()?;
            let Some(parent_index) = index.get(parent_name, nodes) else {
                // A live row whose parent is missing is the database's concern, not
                // this source's; it stays a root as far as planning goes.
                if node.desired.is_some() {
                    problems.push(Problem::MissingParent {
                        kind: node.after.spec.node_type.kind(),
                        name: node.name.to_string(),
                        parent: parent_name.to_string(),
                    });
                }
                return None;
            };
            if nodes[parent_index].removed() {
                problems.push(Problem::PrunedParentInUse {
                    name: parent_name.to_string(),
                    child: node.name.to_string(),
                });
                return None;
            }
            Some(parent_index)
        })
        .collect()
}

/// Reports each parent cycle once, starting at its smallest name.
fn report_cycles(nodes: &[Joined<'_, Node>], tree: &Tree, problems: &mut Vec<Problem>) {
    let mut reached = vec![false; nodes.len()];
    for &index in &tree.order {
        reached[index] = true;
    }
    let mut walked = vec![false; nodes.len()];
    for start in 0..nodes.len() {
        if reached[start] || walked[start] || nodes[start].removed() {
            continue;
        }
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(index) = current {
            if walked[index] {
                if let Some(at) = path.iter().position(|&seen| seen == index) {
                    let mut cycle: Vec<String> = path[at..]
                        .iter()
                        .map(|&member: &usize| nodes[member].name.to_string())
                        .collect();
                    let smallest = (0..cycle.len())
                        .min_by(|&a, &b| cycle[a].cmp(&cycle[b]))
                        .unwrap_or(0);
                    cycle.rotate_left(smallest);
                    cycle.push(cycle[0].clone());
                    problems.push(Problem::ParentCycle {
                        name: cycle[0].clone(),
                        cycle,
                    });
                }
                break;
            }
            walked[index] = true;
            path.push(index);
            current = tree.parent[index];
        }
    }
}

/// For each node, whether `root` is the node or one of its ancestors under `parent_of`.
/// Linear: every walk stops at the first node whose answer is already known.
pub(super) fn subtree_members(
    count: usize,
    root: usize,
    parent_of: impl Fn(usize) -> Option<usize>,
) -> Vec<bool> {
    const UNKNOWN: u8 = 0;
    const INSIDE: u8 = 1;
    const OUTSIDE: u8 = 2;
    let mut state = vec![UNKNOWN; count];
    state[root] = INSIDE;
    let mut path = Vec::new();
    for start in 0..count {
        let mut current = Some(start);
        let verdict = loop {
            let Some(index) = current else { break OUTSIDE };
            if state[index] != UNKNOWN {
                break state[index];
            }
            if path.len() > count {
                break OUTSIDE; // a cycle never reaches the root
            }
            path.push(index);
            current = parent_of(index);
        };
        for index in path.drain(..) {
            state[index] = verdict;
        }
    }
    state.into_iter().map(|verdict| verdict == INSIDE).collect()
}

/// Checks the nesting rules for every declared node, and for the children of a
/// declared node whose type (or reseller flag) changes.
pub(super) fn check_placement(
    nodes: &[Joined<'_, Node>],
    tree: &Tree,
    problems: &mut Vec<Problem>,
) {
    for &index in &tree.order {
        let node = &nodes[index];
        let parent = tree.parent[index].map(|parent_index| &nodes[parent_index]);
        let parent_changed_shape = parent.is_some_and(|parent| {
            parent.desired.is_some()
                && parent.live.is_none_or(|live| {
                    live.spec.node_type != parent.spec().node_type
                        || live.spec.reseller != parent.spec().reseller
                })
        });
        if node.desired.is_none() && !parent_changed_shape {
            continue;
        }
        let declared_parent = node.spec().parent.is_some();
        if declared_parent && parent.is_none() {
            continue; // a missing or pruned parent is already reported
        }
        let parent_shape = parent.map(|parent| (parent.spec().node_type, parent.spec().reseller));
        let child_type: NodeType = node.spec().node_type;
        let Some(reason) = rules::explain(parent_shape, child_type) else {
            continue;
        };
        let kind = child_type.kind();
        let name = node.name.to_string();
        problems.push(match parent {
            Some(parent) => Problem::Placement {
                kind,
                name,
                parent: parent.name.to_string(),
                reason,
            },
            None => Problem::RootPlacement { kind, name, reason },
        });
    }
}
