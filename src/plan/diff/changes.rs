//! The changes and writes of one node, in the per-node order of docs/plan-format.md:
//! create, move/group/ungroup, change-plan, update, activate/deactivate, user ops.
//! Deletes (prunes) come after every other node change, children first, then the
//! releases (orphans kept but made unmanaged) of nodes and service plans, by name.

use crate::model::{CompactString, Effective, Kind, Node, NodeSpec};
use crate::plan::{Change, NodeWrite, Op, Plan};

use super::Planner;
use super::fields::{adoption_field, insert_sorted, node_fields, user_changes};
use super::join::{Joined, Role};

/// A change with only its operation, kind and name set.
pub(super) fn change(op: Op, kind: Kind, name: &str) -> Change {
    Change {
        op,
        kind,
        name: name.into(),
        from: None,
        to: None,
        user: None,
        fields: Vec::new(),
        cascade: None,
    }
}

impl<'a> Planner<'_, 'a> {
    /// Plans one node of the post-apply tree. Called in pre-order (see
    /// [`super::effects::Effects::take_after`]).
    pub(super) fn plan_node(&mut self, index: usize, plan: &mut Plan) {
        let nodes = self.nodes;
        let node = &nodes[index];
        let write = match (node.role, node.live, node.desired) {
            (Role::Create, _, Some(desired)) => {
                let mut create = change(Op::Create, desired.spec.node_type.kind(), node.name);
                create.to = desired.spec.parent.as_deref().map(CompactString::from);
                plan.changes.push(create);
                Some((desired, true, !desired.spec.users.is_empty()))
            }
            (Role::Managed | Role::Adopt, Some(live), Some(desired)) => self
                .plan_compare(index, live, desired, plan)
                .then(|| (desired, false, live.spec.users != desired.spec.users)),
            _ => None,
        };
        match write {
            Some((desired, create, users_changed)) => {
                let effective = self
                    .effects
                    .take_after(index)
                    .unwrap_or_else(|| Effective::of(None, &desired.spec));
                self.written.push(desired);
                plan.writes.nodes.push(NodeWrite {
                    name: node.name.into(),
                    // Filled in from `written` once the plan is made.
                    spec: NodeSpec::new(desired.spec.node_type, CompactString::default()),
                    effective,
                    create,
                    users_changed,
                });
            }
            None if self.effects.changed(index) => {
                if let Some(effective) = self.effects.take_after(index) {
                    plan.writes
                        .effective
                        .push((node.name.to_string(), effective));
                }
            }
            None => {}
        }
    }

    /// Compares a declared node with its live twin; returns whether its row must be
    /// written (its spec differs or it is being adopted).
    fn plan_compare(&self, index: usize, live: &Node, desired: &Node, plan: &mut Plan) -> bool {
        let adopted = self.nodes[index].role == Role::Adopt;
        let (before, after) = (&live.spec, &desired.spec);
        if !adopted && before == after {
            return false;
        }
        let kind = after.node_type.kind();
        let name = self.nodes[index].name;
        if before.parent != after.parent {
            let op = self.reparent_op(before.parent.as_deref(), after.parent.as_deref());
            let mut reparent = change(op, kind, name);
            reparent.from = before.parent.as_deref().map(CompactString::from);
            reparent.to = after.parent.as_deref().map(CompactString::from);
            plan.changes.push(reparent);
        }
        if before.plan != after.plan {
            let mut change_plan = change(Op::ChangePlan, kind, name);
            change_plan.from = before.plan.as_deref().map(CompactString::from);
            change_plan.to = after.plan.as_deref().map(CompactString::from);
            plan.changes.push(change_plan);
        }
        let mut fields = node_fields(before, after);
        if adopted {
            insert_sorted(&mut fields, adoption_field(&self.options.source));
        }
        if !fields.is_empty() {
            let mut update = change(Op::Update, kind, name);
            update.fields = fields;
            plan.changes.push(update);
        }
        if before.active != after.active {
            let op = if after.active {
                Op::Activate
            } else {
                Op::Deactivate
            };
            let mut activation = change(op, kind, name);
            activation.cascade = Some(Box::new(self.effects.activation_cascade(self.tree, index)));
            plan.changes.push(activation);
        }
        if before.users != after.users {
            plan.changes
                .extend(user_changes(kind, name, &before.users, &after.users));
        }
        plan.warnings
            .extend(self.effects.inheritance_warnings(self.tree, index));
        true
    }

    /// Into a group from outside any group is `group`; from a group back to
    /// that group's own parent is `ungroup`; anything else is `move`.
    fn reparent_op(&self, before: Option<&str>, after: Option<&str>) -> Op {
        let find = |name: Option<&str>| {
            name.and_then(|name| self.index.get(name, self.nodes))
                .map(|index| &self.nodes[index])
        };
        let old_group = find(before).filter(|parent| {
            parent
                .live
                .is_some_and(|live| live.spec.node_type.is_group())
        });
        let new_is_group = find(after).is_some_and(|parent| parent.spec().node_type.is_group());
        match old_group {
            None if new_is_group => Op::Group,
            Some(group) if group.spec().parent.as_deref() == after => Op::Ungroup,
            _ => Op::Move,
        }
    }

    /// Deletes of pruned nodes, deepest first so that children go before parents.
    pub(super) fn plan_node_deletes(&self, plan: &mut Plan) {
        let mut pruned: Vec<(usize, &Joined<'_, Node>)> = self
            .nodes
            .iter()
            .filter(|node| node.role == Role::Pruned)
            .map(|node| (self.live_depth(node), node))
            .collect();
        pruned.sort_by(|(depth_a, a), (depth_b, b)| depth_b.cmp(depth_a).then(a.name.cmp(b.name)));
        for (_, node) in pruned {
            let kind = node.after.spec.node_type.kind();
            plan.changes.push(change(Op::Delete, kind, node.name));
            plan.writes.archive_nodes.push(node.name.to_string());
        }
        self.plan_releases(plan);
    }

    /// Releases: orphans kept, their `managed_by` cleared. Nodes, then service plans,
    /// each in name order; `from` names the source that managed them.
    fn plan_releases(&self, plan: &mut Plan) {
        let source = &self.options.source;
        let release = |plan: &mut Plan, kind: Kind, name: &str| {
            let mut release = change(Op::Release, kind, name);
            release.from = Some(source.as_str().into());
            plan.changes.push(release);
        };
        for node in self.nodes.iter().filter(|n| n.role == Role::Released) {
            release(plan, node.after.spec.node_type.kind(), node.name);
            plan.writes.release_nodes.push(node.name.to_string());
        }
        for entry in self.plans.iter().filter(|p| p.role == Role::Released) {
            release(plan, Kind::ServicePlan, entry.name);
            plan.writes.release_plans.push(entry.name.to_string());
        }
    }

    /// The number of ancestors in the live tree (bounded, should the data hold a cycle).
    fn live_depth(&self, node: &Joined<'_, Node>) -> usize {
        let mut depth = 0;
        let mut current = node.live.and_then(|live| live.spec.parent.as_deref());
        while let Some(parent) = current {
            depth += 1;
            if depth > self.nodes.len() {
                break;
            }
            current = self
                .index
                .get(parent, self.nodes)
                .and_then(|index| self.nodes[index].live)
                .and_then(|live| live.spec.parent.as_deref());
        }
        depth
    }
}
