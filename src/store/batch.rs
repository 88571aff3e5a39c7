//! What an apply writes, worked out before any SQL runs: which node writes are fresh
//! inserts, which overwrite an existing (possibly archived) row and which update a live
//! one (and which of its keys), which accounts need a new number, which user rows are
//! deleted, updated or inserted, and the audit rows. Pure: both backends execute the
//! same [`Batch`], so they cannot disagree about numbering, restores or users.
//!
//! Account numbers: every account (not group) without a number gets the next one from
//! the `next_account_number` counter, in plan order. A row that exists, live or
//! archived, keeps the number it has; restoring an archived name therefore brings its
//! old number back.

use crate::model::{Archived, CompactString, Hierarchy, Kind, Node, User};
use crate::plan::{NodeWrite, Plan};

use super::audit::AuditLog;
use super::{Snapshot, StoreError};

/// A snapshot as a write transaction reads it (archived rows in
/// `hierarchy.archived`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Loaded {
    pub snapshot: Snapshot,
}

/// The number a row of this name already has, if the row exists at all (live or
/// archived).
fn existing_row(live: &Snapshot, name: &str) -> Option<Option<i64>> {
    existing_beside(live, live.hierarchy.node(name), name)
}

/// [`existing_row`] when the live node of that name was already looked up.
fn existing_beside(live: &Snapshot, node: Option<&Node>, name: &str) -> Option<Option<i64>> {
    match node {
        Some(node) => Some(node.live.account_number),
        None => live
            .hierarchy
            .archived(name)
            .map(|archived| archived.account_number),
    }
}

/// One node write and the number to store. Its JSON columns are encoded as the row
/// is written (`rows::encode_node`): held for every row of a large batch, they took
/// about 200 bytes a row.
#[derive(Debug)]
pub(crate) struct NodeRow<'a> {
    pub write: &'a NodeWrite,
    /// A newly allocated number (the row keeps any number it already has).
    pub new_number: Option<i64>,
    /// Which of the two foreign-key columns the write sets: both for an insert or an
    /// upsert; for an update, those that differ from the live row.
    pub keys: Keys,
}

/// The foreign-key columns of an `accounts` row a write sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keys {
    pub parent: bool,
    pub plan: bool,
}

impl Keys {
    pub const BOTH: Keys = Keys {
        parent: true,
        plan: true,
    };
}

/// One `users` row: its account, its position among the account's users, the user.
pub(crate) type UserRow<'a> = (&'a str, i64, &'a User);

/// The row-level work of one apply.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    /// Rows that do not exist yet: plain inserts.
    pub inserts: Vec<NodeRow<'a>>,
    /// Rows that exist (live or archived): overwritten, number kept, archive cleared.
    pub upserts: Vec<NodeRow<'a>>,
    /// Live rows whose number stays: only the columns that may differ are written,
    /// parent and plan only when they do ([`NodeRow::keys`]). (SQLite checks the
    /// foreign keys and rewrites the index entries of every column an `UPDATE` sets,
    /// changed or not: leaving them out makes an update three to four times faster.)
    pub updates: Vec<NodeRow<'a>>,
    /// Existing rows that are not live (archived) and are written again: their users,
    /// whatever they are, are deleted first.
    pub clear_users: Vec<&'a str>,
    /// Users of live rows that are no longer declared: (account, email).
    pub user_deletes: Vec<(&'a str, &'a str)>,
    /// Users of live rows that stay but whose position or fields change.
    pub user_updates: Vec<UserRow<'a>>,
    /// Users that have no row yet (all the users of a new or cleared row).
    pub user_inserts: Vec<UserRow<'a>>,
    /// Numbers for created accounts (new or restored), by name, in plan order.
    pub assigned: Vec<(CompactString, i64)>,
    /// Encoded as it is written, a chunk at a time.
    pub audit: AuditLog<'a, 'a>,
}

impl Batch<'_> {
    /// About how many `accounts` and `users` rows the batch writes (a cleared
    /// account's users count as one): what a backend weighs a bulk write by.
    pub(crate) fn big_table_rows(&self, plan: &Plan) -> usize {
        let writes = &plan.writes;
        self.inserts.len()
            + self.upserts.len()
            + self.updates.len()
            + self.clear_users.len()
            + self.user_deletes.len()
            + self.user_updates.len()
            + self.user_inserts.len()
            + writes.effective.len()
            + writes.archive_nodes.len()
            + writes.release_nodes.len()
    }
}

/// How many new account numbers `plan` needs against the `live` state.
pub(crate) fn numbers_needed(plan: &Plan, live: &Snapshot) -> i64 {
    plan.writes
        .nodes
        .iter()
        .filter(|write| needs_number(write, existing_row(live, &write.name)))
        .count() as i64
}

fn needs_number(write: &NodeWrite, existing: Option<Option<i64>>) -> bool {
    !write.spec.node_type.is_group() && existing.flatten().is_none()
}

/// Builds the batch against the `live` state the transaction sees (whole, or the rows
/// the plan touches); `first_number` is the first of the `numbers_needed` numbers the
/// backend allocated.
pub(crate) fn prepare<'a>(
    plan: &'a Plan,
    live: &'a Snapshot,
    first_number: i64,
) -> Result<Batch<'a>, StoreError> {
    let mut next_number = first_number;
    let mut batch = Batch {
        inserts: Vec::new(),
        upserts: Vec::new(),
        updates: Vec::new(),
        clear_users: Vec::new(),
        user_deletes: Vec::new(),
        user_updates: Vec::new(),
        user_inserts: Vec::new(),
        assigned: Vec::new(),
        audit: AuditLog::new(plan, &live.hierarchy),
    };
    for write in &plan.writes.nodes {
        let live_node = live.hierarchy.node(&write.name);
        let existing = existing_beside(live, live_node, &write.name);
        let new_number = if needs_number(write, existing) {
            next_number += 1;
            Some(next_number - 1)
        } else {
            None
        };
        if write.create
            && let Some(number) = new_number.or(existing.flatten())
        {
            batch.assigned.push((write.name.clone(), number));
        }
        if write.create || write.users_changed {
            match live_node {
                Some(node) => user_rows(&mut batch, &write.name, &node.spec.users, write),
                None => {
                    if existing.is_some() {
                        batch.clear_users.push(&write.name);
                    }
                    let account = write.name.as_str();
                    batch.user_inserts.extend(
                        (0..)
                            .zip(&write.spec.users)
                            .map(|(position, user)| (account, position, user)),
                    );
                }
            }
        }
        let mut row = NodeRow {
            write,
            new_number,
            keys: Keys::BOTH,
        };
        match live_node {
            None if existing.is_none() => batch.inserts.push(row),
            Some(node) if new_number.is_none() => {
                row.keys = Keys {
                    parent: node.spec.parent != write.spec.parent,
                    plan: node.spec.plan != write.spec.plan,
                };
                batch.updates.push(row);
            }
            _ => batch.upserts.push(row),
        }
    }
    Ok(batch)
}

/// The user rows that turn the live row's users (`before`) into the declared ones:
/// users are keyed by e-mail within their account. A user that stays is updated in
/// place, position included, even when nothing about it changed: the positions
/// stored may not be the list's indexes (rows written by hand), so only rewriting
/// every position keeps the order. (Its key and indexes stay: cheaper by far than
/// deleting and inserting it again.)
fn user_rows<'a>(
    batch: &mut Batch<'a>,
    account: &'a str,
    before: &'a [User],
    write: &'a NodeWrite,
) {
    let after = &write.spec.users;
    let mut by_email: Vec<(&str, usize)> = (0..before.len())
        .map(|index| (&*before[index].email, index))
        .collect();
    by_email.sort_unstable();
    let find = |email: &str| {
        by_email
            .binary_search_by(|(known, _)| (*known).cmp(email))
            .ok()
            .map(|found| by_email[found].1)
    };
    let mut kept = vec![false; before.len()];
    for (position, user) in (0..).zip(after) {
        match find(&user.email) {
            Some(index) => {
                kept[index] = true;
                batch.user_updates.push((account, position, user));
            }
            None => batch.user_inserts.push((account, position, user)),
        }
    }
    batch.user_deletes.extend(
        before
            .iter()
            .zip(kept)
            .filter(|(_, kept)| !kept)
            .map(|(user, _)| (account, &*user.email)),
    );
}

/// Refuses a plan computed from another state than the one this transaction sees.
pub(crate) fn check_fingerprint(plan: &Plan, live: &Snapshot) -> Result<(), StoreError> {
    if plan.base_fingerprint == live.fingerprint {
        Ok(())
    } else {
        Err(StoreError::StalePlan {
            expected: plan.base_fingerprint.clone(),
            found: live.fingerprint.clone(),
        })
    }
}

/// Builds a snapshot from decoded rows: live nodes and plans go into the hierarchy,
/// archived ones into `Loaded`'s side tables. Users and the fingerprint come after
/// (the users query streams into the assembled nodes).
pub(crate) fn assemble(
    nodes: Vec<crate::model::Node>,
    plans: Vec<crate::model::ServicePlan>,
) -> Loaded {
    let mut archived = Vec::new();
    let mut nodes = nodes;
    // In place: the live nodes keep their allocation, with no second copy.
    nodes.retain_mut(|node| {
        if node.live.archived {
            archived.push(Archived {
                name: std::mem::take(&mut node.name),
                parent: node.spec.parent.take(),
                managed_by: node.live.managed_by.take(),
                account_number: node.live.account_number,
            });
        }
        !node.live.archived
    });
    // The snapshot lives as long as the plan: no room to spare.
    nodes.shrink_to_fit();
    archived.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let live_plans: Vec<_> = plans
        .into_iter()
        .filter(|plan| !plan.live.archived)
        .collect();
    let mut hierarchy = Hierarchy::new(nodes, live_plans);
    hierarchy.archived = archived;
    Loaded {
        snapshot: Snapshot {
            hierarchy,
            fingerprint: String::new(),
        },
    }
}

/// The node names whose live rows an apply looks at: the nodes it writes (to find
/// existing rows and numbers) and the nodes its changes name (audit before-values).
/// Sorted and unique.
pub(crate) fn touched(plan: &Plan) -> Vec<&str> {
    let mut names: Vec<&str> = plan
        .writes
        .nodes
        .iter()
        .map(|write| write.name.as_str())
        .chain(
            plan.changes
                .iter()
                .filter(|change| change.kind != Kind::ServicePlan)
                .map(|change| change.name.as_str()),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Effective, LiveMeta, Node, NodeSpec, NodeType};

    fn write(name: &str, node_type: NodeType, create: bool) -> NodeWrite {
        let spec = NodeSpec::new(node_type, name);
        NodeWrite {
            name: name.into(),
            effective: Effective::root(&spec),
            spec,
            create,
            users_changed: false,
        }
    }

    fn live_node(name: &str, number: Option<i64>, archived: bool) -> Node {
        Node {
            name: name.into(),
            spec: NodeSpec::new(NodeType::Partner, name),
            adopt: false,
            live: LiveMeta {
                account_number: number,
                managed_by: None,
                archived,
            },
            effective: None,
        }
    }

    #[test]
    fn new_accounts_get_numbers_in_plan_order_and_groups_get_none() {
        let mut plan = Plan::default();
        plan.writes.nodes = vec![
            write("b", NodeType::Partner, true),
            write("g", NodeType::CustomerGroup, true),
            write("a", NodeType::Customer, true),
        ];
        let live = Snapshot::default();
        assert_eq!(numbers_needed(&plan, &live), 2);
        let batch = prepare(&plan, &live, 1000).unwrap();
        assert_eq!(batch.assigned, vec![("b".into(), 1000), ("a".into(), 1001)]);
        assert_eq!(batch.inserts.len(), 3);
        assert!(batch.upserts.is_empty());
    }

    #[test]
    fn restoring_an_archived_account_keeps_its_number() {
        let mut plan = Plan::default();
        plan.writes.nodes = vec![write("old", NodeType::Partner, true)];
        let live = assemble(vec![live_node("old", Some(1005), true)], vec![]).snapshot;
        assert_eq!(numbers_needed(&plan, &live), 0);
        let batch = prepare(&plan, &live, 2000).unwrap();
        assert_eq!(batch.assigned, vec![("old".into(), 1005)]);
        assert_eq!(batch.upserts.len(), 1);
        assert_eq!(batch.clear_users, vec!["old"]);
    }

    #[test]
    fn an_updated_account_keeps_its_number() {
        let mut plan = Plan::default();
        plan.writes.nodes = vec![write("live", NodeType::Partner, false)];
        let live = assemble(vec![live_node("live", Some(1001), false)], vec![]).snapshot;
        let batch = prepare(&plan, &live, 2000).unwrap();
        assert!(batch.upserts.is_empty());
        assert_eq!(batch.updates[0].new_number, None);
        assert!(batch.assigned.is_empty());
    }

    #[test]
    fn live_rows_with_their_number_are_updates_that_set_only_the_keys_that_change() {
        let mut moved = write("moved", NodeType::Partner, false);
        moved.spec.parent = Some("elsewhere".into());
        let mut replanned = write("replanned", NodeType::Partner, false);
        replanned.spec.plan = Some("gold".into());
        let mut plan = Plan::default();
        plan.writes.nodes = vec![
            moved,
            replanned,
            write("renamed", NodeType::Partner, false),
            write("unnumbered", NodeType::Partner, false),
            write("restored", NodeType::Partner, true),
            write("new", NodeType::Partner, true),
        ];
        let live = assemble(
            vec![
                live_node("moved", Some(1001), false),
                live_node("renamed", Some(1002), false),
                live_node("replanned", Some(1003), false),
                live_node("restored", Some(1004), true),
                live_node("unnumbered", None, false),
            ],
            vec![],
        )
        .snapshot;
        let batch = prepare(&plan, &live, 2000).unwrap();
        let rows = |rows: &[NodeRow<'_>]| -> Vec<(String, bool, bool)> {
            rows.iter()
                .map(|row| (row.write.name.to_string(), row.keys.parent, row.keys.plan))
                .collect()
        };
        let row = |name: &str, parent, plan| (name.to_string(), parent, plan);
        assert_eq!(
            rows(&batch.updates),
            [
                row("moved", true, false),
                row("replanned", false, true),
                row("renamed", false, false),
            ]
        );
        assert_eq!(
            rows(&batch.upserts),
            [row("unnumbered", true, true), row("restored", true, true)]
        );
        assert_eq!(rows(&batch.inserts), [row("new", true, true)]);
    }

    fn user(email: &str, name: &str) -> User {
        User {
            email: email.into(),
            name: name.into(),
            role: crate::model::Role::User,
            language: None,
            timezone: None,
        }
    }

    #[test]
    fn users_of_live_rows_are_deleted_updated_and_inserted_by_email() {
        let mut node = live_node("acme", Some(1001), false);
        node.spec.users = vec![user("a@x", "A"), user("b@x", "B"), user("c@x", "C")];
        let live = assemble(vec![node, live_node("old", Some(1002), true)], vec![]).snapshot;
        let mut changed = write("acme", NodeType::Partner, false);
        changed.users_changed = true;
        changed.spec.users = vec![user("c@x", "C"), user("d@x", "D"), user("a@x", "A2")];
        let mut restored = write("old", NodeType::Partner, true);
        restored.spec.users = vec![user("e@x", "E")];
        let mut plan = Plan::default();
        plan.writes.nodes = vec![changed, restored];
        let batch = prepare(&plan, &live, 2000).unwrap();
        assert_eq!(batch.user_deletes, [("acme", "b@x")]);
        let emails = |rows: &[UserRow<'_>]| -> Vec<(String, i64)> {
            rows.iter()
                .map(|(account, position, user)| (format!("{account}/{}", user.email), *position))
                .collect()
        };
        // Every user that stays is rewritten, position included.
        assert_eq!(
            emails(&batch.user_updates),
            [("acme/c@x".to_string(), 0), ("acme/a@x".to_string(), 2)]
        );
        assert_eq!(
            emails(&batch.user_inserts),
            [("acme/d@x".to_string(), 1), ("old/e@x".to_string(), 0)]
        );
        assert_eq!(batch.clear_users, ["old"]);
    }

    #[test]
    fn a_plan_from_another_state_is_stale() {
        let plan = Plan {
            base_fingerprint: "old".into(),
            ..Plan::default()
        };
        let mut live = assemble(vec![], vec![]).snapshot;
        live.fingerprint = "new".into();
        assert!(matches!(
            check_fingerprint(&plan, &live),
            Err(StoreError::StalePlan { .. })
        ));
    }
}
