//! The audit rows of a plan: one per [`Change`], with before/after JSON, built from
//! the plan and the live snapshot it was applied to. Pure: the backends only write
//! what an [`AuditLog`] encodes, a chunk at a time (held whole, the JSON of 100k
//! creates was 64 MB of an all-new apply's 244 MB peak).
//!
//! | op | before | after |
//! |----|--------|-------|
//! | create | – | the full desired spec |
//! | update, update-user | the changed fields' old values | their new values |
//! | move, group, ungroup | `{"parent": from}` | `{"parent": to}` |
//! | change-plan | `{"plan": from}` | `{"plan": to}` |
//! | activate, deactivate | `{"active": old}` | `{"active": new, "cascade": …}` |
//! | add-user | – | the user |
//! | remove-user | the user as it was | – |
//! | delete | the live spec | – |
//! | release | `{"managedBy": source}` | `{"managedBy": null}` |

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::{CompactString, Hierarchy, Kind, User};
use crate::plan::{Change, NodeWrite, Op, Plan};

use super::StoreError;
use super::rows::to_json;

/// One audit row to append, before/after as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuditEntry<'a> {
    pub op: Op,
    pub kind: Kind,
    pub name: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

struct Lookup<'a, 'l> {
    plan: &'a Plan,
    live: &'l Hierarchy,
    node_writes: FxHashMap<&'a str, &'a NodeWrite>,
    /// The users of the accounts whose users change, by (account, email), live and
    /// desired: a lookup per user change, not a scan of the account's users.
    live_users: FxHashMap<(&'l str, &'l str), &'l User>,
    desired_users: FxHashMap<(&'a str, &'a str), &'a User>,
}

/// The audit rows of a plan, encoded when asked for: one per change, in the order of
/// `plan.changes`.
pub(crate) struct AuditLog<'a, 'l> {
    lookup: Lookup<'a, 'l>,
}

impl std::fmt::Debug for AuditLog<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("rows", &self.len())
            .finish()
    }
}

impl<'a, 'l> AuditLog<'a, 'l> {
    pub fn new(plan: &'a Plan, live: &'l Hierarchy) -> AuditLog<'a, 'l> {
        AuditLog {
            lookup: lookup(plan, live),
        }
    }

    /// How many rows the log has (one per change).
    pub fn len(&self) -> usize {
        self.lookup.plan.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows of the changes in `range`.
    pub fn entries(
        &self,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<AuditEntry<'a>>, StoreError> {
        let changes = &self.lookup.plan.changes[range];
        changes
            .iter()
            .map(|change| self.lookup.entry(change))
            .collect()
    }

    /// Every row, `size` at a time, in order.
    pub fn chunks(
        &self,
        size: usize,
    ) -> impl Iterator<Item = Result<Vec<AuditEntry<'a>>, StoreError>> + '_ {
        let size = size.max(1);
        (0..self.len())
            .step_by(size)
            .map(move |start| self.entries(start..self.len().min(start + size)))
    }
}

/// The audit rows for `plan`, in the order of `plan.changes`, all at once.
#[cfg(test)]
pub(crate) fn entries<'a>(
    plan: &'a Plan,
    live: &Hierarchy,
) -> Result<Vec<AuditEntry<'a>>, StoreError> {
    let log = AuditLog::new(plan, live);
    log.entries(0..log.len())
}

fn lookup<'a, 'l>(plan: &'a Plan, live: &'l Hierarchy) -> Lookup<'a, 'l> {
    let node_writes: FxHashMap<&str, &NodeWrite> = plan
        .writes
        .nodes
        .iter()
        .map(|write| (write.name.as_str(), write))
        .collect();
    let mut accounts: Vec<&str> = plan
        .changes
        .iter()
        .filter(|change| change.user.is_some())
        .map(|change| change.name.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let mut live_users = FxHashMap::default();
    let mut desired_users = FxHashMap::default();
    for account in accounts {
        if let Some(node) = live.node(account) {
            for user in &node.spec.users {
                live_users.insert((&*node.name, &*user.email), user);
            }
        }
        if let Some(write) = node_writes.get(account) {
            for user in &write.spec.users {
                desired_users.insert((&*write.name, &*user.email), user);
            }
        }
    }
    Lookup {
        plan,
        live,
        node_writes,
        live_users,
        desired_users,
    }
}

type Values = (Option<String>, Option<String>);

fn text<T: Serialize>(value: Option<T>) -> Result<Option<String>, StoreError> {
    value.map(|value| to_json(&value)).transpose()
}

/// `{"field": value}` objects from a change's field list.
fn fields(change: &Change) -> Result<Values, StoreError> {
    let mut before = Map::new();
    let mut after = Map::new();
    for field in &change.fields {
        before.insert(field.name.clone(), field.before.clone());
        after.insert(field.name.clone(), field.after.clone());
    }
    Ok((Some(to_json(&before)?), Some(to_json(&after)?)))
}

fn single(
    key: &str,
    before: Option<&CompactString>,
    after: Option<&CompactString>,
) -> Result<Values, StoreError> {
    Ok((
        text(Some(json!({ key: before })))?,
        text(Some(json!({ key: after })))?,
    ))
}

/// A release: the source that managed the object, then none.
fn released(change: &Change) -> Result<Values, StoreError> {
    single("managedBy", change.from.as_ref(), None)
}

impl<'a> Lookup<'a, '_> {
    fn entry(&self, change: &'a Change) -> Result<AuditEntry<'a>, StoreError> {
        let (before, after) = match change.kind {
            Kind::ServicePlan => self.plan_values(change)?,
            Kind::Account | Kind::AccountGroup => self.node_values(change)?,
        };
        Ok(AuditEntry {
            op: change.op,
            kind: change.kind,
            name: &change.name,
            before,
            after,
        })
    }

    fn plan_values(&self, change: &Change) -> Result<Values, StoreError> {
        let live = self.live.plan(&change.name).map(|plan| &plan.spec);
        let desired = self
            .plan
            .writes
            .plans
            .iter()
            .find(|plan| plan.name == change.name)
            .map(|plan| &plan.spec);
        match change.op {
            Op::Create => Ok((None, text(desired)?)),
            Op::Delete => Ok((text(live)?, None)),
            Op::Release => released(change),
            _ if !change.fields.is_empty() => fields(change),
            _ => Ok((text(live)?, text(desired)?)),
        }
    }

    fn live_user(&self, change: &Change) -> Option<&User> {
        let email = change.user.as_deref()?;
        self.live_users.get(&(change.name.as_str(), email)).copied()
    }

    fn desired_user(&self, change: &Change) -> Option<&User> {
        let email = change.user.as_deref()?;
        self.desired_users
            .get(&(change.name.as_str(), email))
            .copied()
    }

    fn node_values(&self, change: &Change) -> Result<Values, StoreError> {
        let live = self.live.node(&change.name).map(|node| &node.spec);
        let desired = self
            .node_writes
            .get(change.name.as_str())
            .map(|write| &write.spec);
        match change.op {
            Op::Create => Ok((None, text(desired)?)),
            Op::Delete => Ok((text(live)?, None)),
            Op::Release => released(change),
            Op::Move | Op::Group | Op::Ungroup => {
                single("parent", change.from.as_ref(), change.to.as_ref())
            }
            Op::ChangePlan => single("plan", change.from.as_ref(), change.to.as_ref()),
            Op::Activate | Op::Deactivate => {
                let active = change.op == Op::Activate;
                let after = match &change.cascade {
                    Some(cascade) => json!({ "active": active, "cascade": cascade }),
                    None => json!({ "active": active }),
                };
                Ok((
                    text(Some(json!({ "active": !active })))?,
                    text(Some(after))?,
                ))
            }
            Op::AddUser => Ok((None, text(self.desired_user(change))?)),
            Op::RemoveUser => Ok((text(self.live_user(change))?, None)),
            Op::Update | Op::UpdateUser if !change.fields.is_empty() => fields(change),
            Op::UpdateUser => Ok((
                text(self.live_user(change))?,
                text(self.desired_user(change))?,
            )),
            Op::Update => Ok((text(live)?, text(desired)?)),
        }
    }
}

/// Parses stored before/after text back into JSON (`None` stays `None`).
pub(crate) fn parse_json(text: Option<&str>) -> Option<Value> {
    text.map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Effective, Node, NodeSpec, NodeType, Role};
    use crate::plan::{Cascade, FieldChange};

    fn change(op: Op, name: &str) -> Change {
        Change {
            op,
            kind: Kind::Account,
            name: name.into(),
            from: None,
            to: None,
            user: None,
            fields: Vec::new(),
            cascade: None,
        }
    }

    fn user(email: &str) -> User {
        User {
            email: email.into(),
            name: "Anna".into(),
            role: Role::Admin,
            language: None,
            timezone: None,
        }
    }

    fn live() -> Hierarchy {
        let mut spec = NodeSpec::new(NodeType::Customer, "ACME");
        spec.users.push(user("old@acme.example"));
        Hierarchy::new(
            vec![Node {
                name: "acme".into(),
                spec,
                adopt: false,
                live: Default::default(),
                effective: None,
            }],
            vec![],
        )
    }

    fn parsed(text: &Option<String>) -> Value {
        text.as_deref()
            .map(|text| serde_json::from_str(text).unwrap())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn a_create_records_the_full_desired_spec() {
        let mut plan = Plan::default();
        let spec = NodeSpec::new(NodeType::Partner, "Nordic");
        plan.writes.nodes.push(NodeWrite {
            name: "nordic".into(),
            spec,
            effective: Effective::root(&NodeSpec::new(NodeType::Partner, "Nordic")),
            create: true,
            users_changed: false,
        });
        plan.changes.push(change(Op::Create, "nordic"));
        let rows = entries(&plan, &Hierarchy::default()).unwrap();
        assert_eq!(rows[0].before, None);
        assert_eq!(parsed(&rows[0].after)["displayName"], "Nordic");
    }

    #[test]
    fn the_log_in_chunks_gives_every_row_once_in_plan_order() {
        let mut plan = Plan::default();
        for index in 0..7 {
            let mut moved = change(Op::Move, &format!("acme-{index}"));
            moved.from = Some("a".into());
            moved.to = Some(format!("b-{index}").into());
            plan.changes.push(moved);
        }
        let live = live();
        let whole = entries(&plan, &live).unwrap();
        assert_eq!(whole.len(), 7);
        let log = AuditLog::new(&plan, &live);
        for size in [1, 2, 3, 7, 100] {
            let chunks: Vec<Vec<AuditEntry<'_>>> = log.chunks(size).map(Result::unwrap).collect();
            assert_eq!(chunks.len(), 7usize.div_ceil(size), "chunks of {size}");
            assert!(chunks.iter().all(|chunk| chunk.len() <= size));
            assert_eq!(chunks.concat(), whole, "chunks of {size}");
        }
        assert_eq!(AuditLog::new(&Plan::default(), &live).chunks(4).count(), 0);
    }

    #[test]
    fn a_move_records_old_and_new_parent() {
        let mut plan = Plan::default();
        let mut moved = change(Op::Move, "acme");
        moved.from = Some("a".into());
        moved.to = Some("b".into());
        plan.changes.push(moved);
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(parsed(&rows[0].before), json!({"parent": "a"}));
        assert_eq!(parsed(&rows[0].after), json!({"parent": "b"}));
    }

    #[test]
    fn an_update_records_only_the_changed_fields() {
        let mut plan = Plan::default();
        let mut update = change(Op::Update, "acme");
        update.fields.push(FieldChange {
            name: "displayName".into(),
            before: json!("ACME"),
            after: json!("ACME Europe"),
        });
        plan.changes.push(update);
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(parsed(&rows[0].before), json!({"displayName": "ACME"}));
        assert_eq!(
            parsed(&rows[0].after),
            json!({"displayName": "ACME Europe"})
        );
    }

    #[test]
    fn a_deactivation_records_its_cascade() {
        let mut plan = Plan::default();
        let mut deactivate = change(Op::Deactivate, "acme");
        deactivate.cascade = Some(Box::new(Cascade {
            count: 1,
            names: vec!["child".into()],
        }));
        plan.changes.push(deactivate);
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(parsed(&rows[0].before), json!({"active": true}));
        assert_eq!(parsed(&rows[0].after)["cascade"]["names"], json!(["child"]));
    }

    #[test]
    fn removing_a_user_records_the_user_as_it_was() {
        let mut plan = Plan::default();
        let mut remove = change(Op::RemoveUser, "acme");
        remove.user = Some("old@acme.example".into());
        plan.changes.push(remove);
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(parsed(&rows[0].before)["email"], "old@acme.example");
        assert_eq!(rows[0].after, None);
    }

    #[test]
    fn a_delete_records_the_live_spec() {
        let mut plan = Plan::default();
        plan.changes.push(change(Op::Delete, "acme"));
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(parsed(&rows[0].before)["displayName"], "ACME");
        assert_eq!(rows[0].after, None);
    }

    #[test]
    fn a_release_records_the_source_that_let_go() {
        let mut plan = Plan::default();
        let mut release = change(Op::Release, "acme");
        release.from = Some("kubernetes/team".into());
        plan.changes.push(release);
        let rows = entries(&plan, &live()).unwrap();
        assert_eq!(rows[0].op, Op::Release);
        assert_eq!(
            parsed(&rows[0].before),
            json!({"managedBy": "kubernetes/team"})
        );
        assert_eq!(parsed(&rows[0].after), json!({"managedBy": null}));
    }
}
