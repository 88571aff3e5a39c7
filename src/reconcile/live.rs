//! The live state kept between passes, so that a one-account edit does not re-read
//! every row.
//!
//! ```text
//! pass N:   begin ─ counter c ─ (c == kept.counter ? trust kept : read all) ─ plan ─ apply
//!                                                   re-read written names ─ counter c' ─ commit
//!           kept = kept patched with the re-read rows, valid at c'
//! pass N+1: begin ─ counter == c' ? nothing else wrote: trust kept : read all
//! ```
//!
//! The change counter is bumped by a trigger on every write to the tables canopy owns,
//! canopy's or anyone's, so an equal counter proves that the kept copy is the state the
//! transaction sees. After an apply the copy is patched with the rows the plan wrote,
//! re-read inside the same transaction (a few rows, not the whole table), so it is
//! exactly what a full read would give. Its fingerprint is then not a hash of every row:
//! [`LiveCache::exact`] says so, and a plan that must be stored for approval (a held
//! plan, checked against a full read later) is made from a full read.

use rustc_hash::FxHashSet;

use crate::model::{Archived, Hierarchy, Node};
use crate::plan::Plan;
use crate::store::Snapshot;

/// A live snapshot that is the database's state while its change counter is `counter`.
#[derive(Debug, Clone)]
pub struct LiveCache {
    pub counter: i64,
    pub snapshot: Snapshot,
    /// The fingerprint hashes every row (the snapshot was read whole, not patched).
    pub exact: bool,
}

/// Every node name whose row an apply of `plan` may have written: written nodes,
/// changed names (archives included) and effective-value updates. Sorted, unique.
pub fn written_names(plan: &Plan) -> Vec<&str> {
    let writes = &plan.writes;
    let mut names: Vec<&str> = writes
        .nodes
        .iter()
        .map(|write| write.name.as_str())
        .chain(writes.effective.iter().map(|(name, _)| name.as_str()))
        .chain(writes.archive_nodes.iter().map(String::as_str))
        .chain(
            plan.changes
                .iter()
                .filter(|change| change.kind != crate::model::Kind::ServicePlan)
                .map(|change| change.name.as_str()),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The live hierarchy after an apply: `before` with the rows of `names` (sorted,
/// unique) replaced by `reread` (those rows and every plan, read after the writes). A
/// name absent from `reread` has no row any more.
pub fn patch(before: &mut Hierarchy, reread: Hierarchy, names: &[&str]) {
    let Hierarchy {
        nodes,
        plans,
        archived,
    } = reread;
    before.plans = plans;
    replace_sorted(&mut before.nodes, nodes, names, node_name);
    replace_sorted(&mut before.archived, archived, names, archived_name);
}

/// Replaces the items of `names` in the name-sorted `items` by `new` (sorted, only
/// those names), keeping it sorted: in place by binary search for a few names (an
/// edit: an update moves nothing), by one filter and sort for many (a checkout).
fn replace_sorted<T>(items: &mut Vec<T>, new: Vec<T>, names: &[&str], name: fn(&T) -> &str) {
    if names.len() > 64 {
        let named: FxHashSet<&str> = names.iter().copied().collect();
        items.retain(|item| !named.contains(name(item)));
        items.extend(new);
        items.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        return;
    }
    let mut new = new.into_iter().peekable();
    for &wanted in names {
        let replacement = new.next_if(|item| name(item) == wanted);
        match (
            items.binary_search_by(|item| name(item).cmp(wanted)),
            replacement,
        ) {
            (Ok(at), Some(item)) => items[at] = item,
            (Ok(at), None) => {
                items.remove(at);
            }
            (Err(at), Some(item)) => items.insert(at, item),
            (Err(_), None) => {}
        }
    }
    // Rows under names not asked for (none are read): kept sorted all the same.
    for item in new {
        let at = items.partition_point(|existing| name(existing) < name(&item));
        items.insert(at, item);
    }
}

fn node_name(node: &Node) -> &str {
    &node.name
}

fn archived_name(node: &Archived) -> &str {
    &node.name
}

/// The node and plan names whose live rows differ between two snapshots (present in
/// one only, or unequal): what someone else changed when `before` was the state canopy
/// knew. Both hierarchies are sorted by name, so this is one merge walk.
pub fn changed_names(before: &Hierarchy, after: &Hierarchy) -> FxHashSet<String> {
    let mut changed = FxHashSet::default();
    differing(&before.nodes, &after.nodes, node_name, &mut changed);
    differing(
        &before.archived,
        &after.archived,
        archived_name,
        &mut changed,
    );
    differing(&before.plans, &after.plans, plan_name, &mut changed);
    changed
}

fn differing<T: PartialEq>(
    before: &[T],
    after: &[T],
    name: fn(&T) -> &str,
    changed: &mut FxHashSet<String>,
) {
    let (mut left, mut right) = (before.iter().peekable(), after.iter().peekable());
    loop {
        let different = match (left.peek(), right.peek()) {
            (None, None) => return,
            (Some(a), None) => Some(name(a)).inspect(|_| {
                left.next();
            }),
            (None, Some(b)) => Some(name(b)).inspect(|_| {
                right.next();
            }),
            (Some(a), Some(b)) => match name(a).cmp(name(b)) {
                std::cmp::Ordering::Less => Some(name(a)).inspect(|_| {
                    left.next();
                }),
                std::cmp::Ordering::Greater => Some(name(b)).inspect(|_| {
                    right.next();
                }),
                std::cmp::Ordering::Equal => {
                    let same = a == b;
                    let found = (!same).then(|| name(a));
                    left.next();
                    right.next();
                    found
                }
            },
        };
        if let Some(found) = different {
            changed.insert(found.to_string());
        }
    }
}

fn plan_name(plan: &crate::model::ServicePlan) -> &str {
    &plan.name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiveMeta, NodeSpec, NodeType};

    fn node(name: &str, display: &str) -> Node {
        Node {
            name: name.into(),
            spec: NodeSpec::new(NodeType::Partner, display),
            adopt: false,
            live: LiveMeta::default(),
            effective: None,
        }
    }

    #[test]
    fn patching_replaces_the_named_rows_and_keeps_the_rest_sorted() {
        let mut before = Hierarchy::new(
            vec![node("a", "A"), node("c", "C"), node("e", "E")],
            Vec::new(),
        );
        let mut reread = Hierarchy::new(vec![node("b", "B"), node("c", "C2")], Vec::new());
        reread.archived = vec![Archived {
            name: "e".into(),
            ..Archived::default()
        }];
        patch(&mut before, reread, &["b", "c", "e"]);
        let names: Vec<&str> = before.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            before.node("c").map(|n| n.spec.display_name.as_str()),
            Some("C2")
        );
        assert!(before.archived("e").is_some());
    }

    #[test]
    fn changed_names_are_the_rows_added_removed_or_edited() {
        let before = Hierarchy::new(
            vec![node("a", "A"), node("b", "B"), node("c", "C")],
            Vec::new(),
        );
        let after = Hierarchy::new(
            vec![node("b", "B2"), node("c", "C"), node("d", "D")],
            Vec::new(),
        );
        let mut changed: Vec<String> = changed_names(&before, &after).into_iter().collect();
        changed.sort();
        assert_eq!(changed, ["a", "b", "d"]);
        assert!(changed_names(&after, &after).is_empty());
    }
}
