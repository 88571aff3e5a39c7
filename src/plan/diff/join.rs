//! The name-wise join of live and desired objects, and who owns each pair.
//!
//! Both sides are sorted by name, so one merge pass pairs every live object with its
//! desired twin (if any) without hashing. Each pair gets a [`Role`]: what this plan may
//! do with it, decided by ownership (docs/plan-format.md):
//!
//! ```text
//! desired only                              → Create
//! both, live managed by this source         → Managed (compare)
//! both, live unmanaged, desired adopts it   → Adopt   (compare + take ownership)
//! both, live unmanaged or someone else's    → Refused (a Problem)
//! live only, managed by this source         → Orphan  (Pruned with --prune,
//!                                              Released when named in `release`)
//! live only, anything else                  → Untouched
//! ```

use crate::model::names::NameTable;

use crate::model::{Kind, Node, ServicePlan};
use crate::plan::error::Problem;

/// What the plan may do with one joined object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Create,
    Managed,
    Adopt,
    /// Declared, but ownership forbids planning it; a problem was reported.
    Refused,
    Orphan,
    Pruned,
    /// An orphan kept but made unmanaged (named in `PlanOptions::release`).
    Released,
    Untouched,
}

/// What the join needs to know about an object of either kind.
pub(super) trait Owned {
    fn name(&self) -> &str;
    fn kind(&self) -> Kind;
    fn managed_by(&self) -> Option<&str>;
    fn adopt(&self) -> bool;
}

impl Owned for Node {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> Kind {
        self.spec.node_type.kind()
    }
    fn managed_by(&self) -> Option<&str> {
        self.live.managed_by.as_deref()
    }
    fn adopt(&self) -> bool {
        self.adopt
    }
}

impl Owned for ServicePlan {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> Kind {
        Kind::ServicePlan
    }
    fn managed_by(&self) -> Option<&str> {
        self.live.managed_by.as_deref()
    }
    fn adopt(&self) -> bool {
        self.adopt
    }
}

/// One name, with its live and desired objects.
#[derive(Debug)]
pub(super) struct Joined<'a, T> {
    pub name: &'a str,
    /// The object as it will be after the plan: desired when declared, else live.
    pub after: &'a T,
    pub live: Option<&'a T>,
    pub desired: Option<&'a T>,
    pub role: Role,
}

impl<'a, T> Joined<'a, T> {
    /// Whether the object is gone after the plan (pruned).
    pub fn removed(&self) -> bool {
        self.role == Role::Pruned
    }
}

impl<'a> Joined<'a, Node> {
    pub fn spec(&self) -> &'a crate::model::NodeSpec {
        &self.after.spec
    }
}

/// Finds an object by name in a name-sorted join (for the few, small lookups).
pub(super) fn position<T>(joined: &[Joined<'_, T>], name: &str) -> Option<usize> {
    joined.binary_search_by(|entry| entry.name.cmp(name)).ok()
}

/// Name → index of the joined nodes, for the lookups made once per node.
///
/// A binary search over 100k names touches ~17 names scattered over the heap per
/// lookup; one hash probe touches one. Resolving every parent is the planner's
/// hottest loop, so it goes through this table, which holds positions only: each
/// lookup is handed the join it indexes.
pub(super) struct NameIndex {
    table: NameTable,
}

impl NameIndex {
    pub fn new<T>(joined: &[Joined<'_, T>]) -> NameIndex {
        // The join has each name once (a name declared twice is reported and joined
        // once), so there is no repetition to report.
        let table = NameTable::build(joined.len(), |at| joined[at].name, |_, _| {});
        NameIndex { table }
    }

    pub fn get<T>(&self, name: &str, joined: &[Joined<'_, T>]) -> Option<usize> {
        self.table.get(name, |at| joined[at].name)
    }
}

/// Joins name-sorted `live` and `desired` slices, assigning roles and reporting
/// ownership problems (and names declared twice) into `problems`.
pub(super) fn join<'a, T: Owned>(
    live: &'a [T],
    desired: &'a [T],
    source: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Joined<'a, T>> {
    let mut joined = Vec::with_capacity(live.len().max(desired.len()));
    let (mut at_live, mut at_desired) = (0, 0);
    loop {
        let live_object = live.get(at_live);
        let desired_object = desired.get(at_desired);
        let (live_side, desired_side) = match (live_object, desired_object) {
            (None, None) => break,
            (Some(l), Some(d)) => match l.name().cmp(d.name()) {
                std::cmp::Ordering::Less => (Some(l), None),
                std::cmp::Ordering::Greater => (None, Some(d)),
                std::cmp::Ordering::Equal => (Some(l), Some(d)),
            },
            (l, d) => (l, d),
        };
        at_live += usize::from(live_side.is_some());
        if let Some(declared) = desired_side {
            at_desired += 1;
            // Validation rejects duplicates; the planner must still not pair one live
            // object with two declarations.
            while desired
                .get(at_desired)
                .is_some_and(|next| next.name() == declared.name())
            {
                problems.push(Problem::DeclaredTwice {
                    kind: declared.kind(),
                    name: declared.name().to_string(),
                });
                at_desired += 1;
            }
        }
        let role = role(live_side, desired_side, source, problems);
        let after = match (desired_side, live_side) {
            (Some(object), _) | (None, Some(object)) => object,
            (None, None) => break,
        };
        joined.push(Joined {
            name: after.name(),
            after,
            live: live_side,
            desired: desired_side,
            role,
        });
    }
    joined
}

fn role<T: Owned>(
    live: Option<&T>,
    desired: Option<&T>,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Role {
    match (live, desired) {
        (None, _) => Role::Create,
        (Some(live), None) if live.managed_by() == Some(source) => Role::Orphan,
        (Some(_), None) => Role::Untouched,
        (Some(live), Some(desired)) => match live.managed_by() {
            Some(owner) if owner == source => Role::Managed,
            None if desired.adopt() => Role::Adopt,
            None => {
                problems.push(Problem::ExistsUnmanaged {
                    kind: desired.kind(),
                    name: desired.name().to_string(),
                });
                Role::Refused
            }
            Some(owner) => {
                problems.push(Problem::ManagedByOtherSource {
                    kind: desired.kind(),
                    name: desired.name().to_string(),
                    owner: owner.to_string(),
                    source_name: source.to_string(),
                });
                Role::Refused
            }
        },
    }
}
