//! Scope: a run limited to the subtree of one account or group (`--scope ROOT`).
//!
//! Admins see downward only. Membership is decided twice: in the live
//! tree (where a node is now) and in the post-apply tree (where the plan puts it), so
//! that both "declared outside" and "moved across the boundary" are caught:
//!
//! ```text
//! live ∈ scope, after ∈ scope → fine          live ∉, after ∈ → moves into scope
//! live ∈, after ∉             → moves out      live ∉, after ∉ → outside scope
//! ```
//!
//! Service plans are global, so a scoped run may not create, change or delete one.

use crate::model::{Node, NodeType, ServicePlan};
use crate::plan::error::Problem;

use super::join::{Joined, NameIndex, Role};
use super::tree::{Tree, subtree_members};

pub(super) struct Scope<'a> {
    root: &'a str,
    root_index: usize,
    root_type: NodeType,
    live_members: Vec<bool>,
}

impl<'a> Scope<'a> {
    /// Finds the root among the live nodes and the live subtree below it.
    pub fn resolve(
        nodes: &[Joined<'a, Node>],
        index: &NameIndex,
        root: &str,
    ) -> Result<Scope<'a>, Problem> {
        let root_index = index
            .get(root, nodes)
            .filter(|&index| nodes[index].live.is_some())
            .ok_or_else(|| Problem::ScopeRootMissing {
                root: root.to_string(),
            })?;
        let root_node = &nodes[root_index];
        let root_type = root_node
            .live
            .map_or(root_node.after.spec.node_type, |live| live.spec.node_type);
        let live_members = subtree_members(nodes.len(), root_index, |node| {
            let parent = nodes[node].live?.spec.parent.as_deref()?;
            index.get(parent, nodes)
        });
        Ok(Scope {
            root: root_node.name,
            root_index,
            root_type,
            live_members,
        })
    }

    /// Whether the node is in the scope's subtree now (before the plan).
    pub fn root(&self) -> &str {
        self.root
    }

    pub fn contains_live(&self, index: usize) -> bool {
        self.live_members[index]
    }

    /// Reports every declared node outside the scope or crossing its boundary, a
    /// changed root parent, partners created under a partner-group root, and any
    /// service plan the run would change.
    pub fn check(
        &self,
        nodes: &[Joined<'_, Node>],
        plans: &[Joined<'_, ServicePlan>],
        tree: &Tree,
        problems: &mut Vec<Problem>,
    ) {
        let after_members =
            subtree_members(nodes.len(), self.root_index, |index| tree.parent[index]);
        for (index, node) in nodes.iter().enumerate() {
            let Some(desired) = node.desired else {
                continue;
            };
            self.check_node(node, desired, after_members[index], index, problems);
        }
        for plan in plans {
            let action = match plan.role {
                Role::Create => "created",
                Role::Adopt => "adopted",
                Role::Pruned => "deleted",
                Role::Managed if plan.live.map(|live| &live.spec) != Some(&plan.after.spec) => {
                    "changed"
                }
                _ => continue,
            };
            problems.push(Problem::ServicePlanInScope {
                name: plan.name.to_string(),
                action,
                root: self.root.to_string(),
            });
        }
    }

    fn check_node(
        &self,
        node: &Joined<'_, Node>,
        desired: &Node,
        inside_after: bool,
        index: usize,
        problems: &mut Vec<Problem>,
    ) {
        let kind = desired.spec.node_type.kind();
        let name = node.name.to_string();
        let root = self.root.to_string();
        let live_parent = node
            .live
            .and_then(|live| live.spec.parent.as_deref().map(str::to_string));
        if index == self.root_index {
            if live_parent.as_deref() != desired.spec.parent.as_deref() {
                problems.push(Problem::ScopeRootParentChange {
                    kind,
                    root,
                    from: live_parent,
                    to: desired.spec.parent.as_deref().map(str::to_string),
                });
            }
            return;
        }
        let inside_before = node.live.is_some() && self.live_members[index];
        let problem = match (node.live.is_some(), inside_before, inside_after) {
            (_, true, true) | (false, _, true) => {
                if node.live.is_none()
                    && self.root_type == NodeType::PartnerGroup
                    && desired.spec.node_type == NodeType::Partner
                {
                    Some(Problem::PartnerInPartnerGroupScope { name, root })
                } else {
                    None
                }
            }
            (true, false, true) => Some(Problem::MoveIntoScope {
                kind,
                name,
                root,
                from: live_parent.unwrap_or_else(|| "the top level".to_string()),
            }),
            (true, true, false) => Some(Problem::MoveOutOfScope {
                kind,
                name,
                root,
                to: desired.spec.parent.as_deref().map(str::to_string),
            }),
            (_, _, false) => Some(Problem::OutsideScope { kind, name, root }),
        };
        problems.extend(problem);
    }
}
