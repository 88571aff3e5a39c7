//! Raw-SQL baselines for `canopy-bench`: the rows canopy writes and reads, moved with
//! no canopy code in between, so that each canopy figure stands beside what the
//! database can do at all with the same rows, measured in the same run.
//!
//! ```text
//! RawRows::of(h)            every plan, account (all columns) and user row of h
//! RawChange::between(a, b)  the rows that differ between a and b (found by comparing
//!                           the hierarchies and their effective values, not by the planner)
//! insert / select / change  one transaction each; the returned time covers BEGIN..COMMIT
//! ```
//!
//! SQLite: prepared statements executed per row in one transaction (its bulk path).
//! PostgreSQL: binary `COPY` for new rows, `COPY` into a temporary table then
//! `UPDATE … FROM` for changed ones. Rows are encoded before the clock starts. The
//! baselines write no audit rows, which canopy's apply does (one per change).

use std::time::{Duration, Instant};

use crate::model::effective::compute_all;
use crate::model::{Effective, Hierarchy, Node, NodeSpec, ServicePlan};

use crate::store::rows::to_json;
use crate::store::{Location, Result, StoreError};

mod edit;
mod postgres;
mod sqlite;

/// The account columns in [`RawAccount`] order: the 15 text columns, then the number
/// and the three flags.
const ACCOUNT_COLUMNS: &str = "name, node_type, display_name, parent, customer_type, plan,
    address, contact, services, settings, locked_settings, effective_services,
    effective_settings, effective_locked_settings, managed_by, account_number, active,
    reseller, effective_active";

const USER_COLUMNS: &str = "account, email, position, name, role, language, timezone";

/// One `accounts` row, every column canopy writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAccount {
    /// name, node_type, display_name, parent, customer_type, plan, address, contact,
    /// services, settings, locked_settings, effective_services, effective_settings,
    /// effective_locked_settings, managed_by.
    pub text: [Option<String>; 15],
    pub number: Option<i64>,
    /// active, reseller, effective_active.
    pub flags: [bool; 3],
}

/// One `users` row.
#[derive(Debug, Clone, PartialEq)]
pub struct RawUser {
    pub account: String,
    pub email: String,
    pub position: i32,
    pub name: String,
    pub role: String,
    pub language: Option<String>,
    pub timezone: Option<String>,
}

/// One `service_plans` row.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPlan {
    pub name: String,
    pub billing: String,
    pub licenses: Option<i64>,
    pub limits: String,
    pub display_name: Option<String>,
}

/// Every row of a hierarchy, as an apply of all of it writes them.
#[derive(Debug, Clone, Default)]
pub struct RawRows {
    pub plans: Vec<RawPlan>,
    pub accounts: Vec<RawAccount>,
    pub users: Vec<RawUser>,
}

/// The rows that differ between two states of a hierarchy.
#[derive(Debug, Clone, Default)]
pub struct RawChange {
    pub plans: Vec<RawPlan>,
    pub inserted: Vec<RawAccount>,
    /// Existing rows whose columns (spec or effective values) change.
    pub updated: Vec<RawAccount>,
    /// Rows archived (declared before, not after).
    pub archived: Vec<String>,
    /// Accounts whose user list is rewritten, with the new rows in `users`.
    pub users_replaced: Vec<String>,
    pub users: Vec<RawUser>,
}

/// How many rows a raw read decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawRead {
    pub plans: usize,
    pub accounts: usize,
    pub users: usize,
}

impl RawRows {
    /// The rows of `hierarchy` with its computed effective values, managed by
    /// `source`, accounts numbered from `first_number` (groups have no number).
    pub fn of(hierarchy: &Hierarchy, source: &str, first_number: i64) -> Result<RawRows> {
        let effective = compute_all(hierarchy);
        let mut rows = RawRows {
            plans: plan_rows(&hierarchy.plans)?,
            ..RawRows::default()
        };
        let mut number = first_number;
        for (node, effective) in hierarchy.nodes.iter().zip(&effective) {
            rows.accounts
                .push(account_row(node, effective, source, &mut number)?);
            push_users(&mut rows.users, node)?;
        }
        Ok(rows)
    }

    pub fn row_count(&self) -> usize {
        self.plans.len() + self.accounts.len() + self.users.len()
    }
}

impl RawChange {
    /// The rows to write to turn `before` into `after` (both complete hierarchies);
    /// new accounts are numbered from `first_number`.
    pub fn between(
        before: &Hierarchy,
        after: &Hierarchy,
        source: &str,
        first_number: i64,
    ) -> Result<RawChange> {
        let effective_before = compute_all(before);
        let effective_after = compute_all(after);
        let mut change = RawChange::default();
        let changed_plans: Vec<ServicePlan> = after
            .plans
            .iter()
            .filter(|plan| before.plan(&plan.name).map(|old| &old.spec) != Some(&plan.spec))
            .cloned()
            .collect();
        change.plans = plan_rows(&changed_plans)?;
        let mut number = first_number;
        for (node, effective) in after.nodes.iter().zip(&effective_after) {
            let old = before.node_index(&node.name);
            let row_changed = old.is_none_or(|index| {
                !same_columns(&before.nodes[index].spec, &node.spec)
                    || effective_before[index] != *effective
            });
            if row_changed {
                let mut row = account_row(node, effective, source, &mut number)?;
                if old.is_some() {
                    row.number = None;
                    change.updated.push(row);
                } else {
                    change.inserted.push(row);
                }
            }
            let old_users = old.map(|index| before.nodes[index].spec.users.as_slice());
            if old_users.unwrap_or_default() != node.spec.users.as_slice() {
                change.users_replaced.push(node.name.to_string());
                push_users(&mut change.users, node)?;
            }
        }
        change.archived = before
            .nodes
            .iter()
            .filter(|node| after.node(&node.name).is_none())
            .map(|node| node.name.to_string())
            .collect();
        Ok(change)
    }

    pub fn row_count(&self) -> usize {
        self.plans.len()
            + self.inserted.len()
            + self.updated.len()
            + self.archived.len()
            + self.users_replaced.len()
            + self.users.len()
    }
}

/// True when the `accounts` columns of two specs are equal (users live in their own
/// table). Destructured so that a new spec field cannot be forgotten here.
fn same_columns(a: &NodeSpec, b: &NodeSpec) -> bool {
    let NodeSpec {
        node_type,
        display_name,
        parent,
        active,
        customer_type,
        reseller,
        plan,
        address,
        contact,
        services,
        settings,
        locked_settings,
        users: _,
    } = a;
    *node_type == b.node_type
        && *display_name == b.display_name
        && *parent == b.parent
        && *active == b.active
        && *customer_type == b.customer_type
        && *reseller == b.reseller
        && *plan == b.plan
        && *address == b.address
        && *contact == b.contact
        && *services == b.services
        && *settings == b.settings
        && *locked_settings == b.locked_settings
}

fn plan_rows(plans: &[ServicePlan]) -> Result<Vec<RawPlan>> {
    plans
        .iter()
        .map(|plan| {
            Ok(RawPlan {
                name: plan.name.clone(),
                billing: plan.spec.billing.as_str().to_string(),
                licenses: plan.spec.licenses.map(i64::from),
                limits: to_json(&plan.spec.limits)?,
                display_name: plan.spec.display_name.clone(),
            })
        })
        .collect()
}

fn account_row(
    node: &Node,
    effective: &Effective,
    source: &str,
    number: &mut i64,
) -> Result<RawAccount> {
    let spec = &node.spec;
    let account_number = (!spec.node_type.is_group()).then(|| {
        *number += 1;
        *number - 1
    });
    Ok(RawAccount {
        text: [
            Some(node.name.to_string()),
            Some(spec.node_type.as_str().to_string()),
            Some(spec.display_name.to_string()),
            spec.parent.as_deref().map(str::to_string),
            spec.customer_type.map(|kind| kind.as_str().to_string()),
            spec.plan.as_deref().map(str::to_string),
            spec.address.as_ref().map(to_json).transpose()?,
            spec.contact.as_ref().map(to_json).transpose()?,
            Some(to_json(&spec.services)?),
            Some(to_json(&spec.settings)?),
            Some(to_json(&spec.locked_settings)?),
            Some(to_json(&effective.values.services)?),
            Some(to_json(&effective.values.settings)?),
            Some(to_json(&effective.values.locked_settings)?),
            Some(source.to_string()),
        ],
        number: account_number,
        flags: [spec.active, spec.reseller, effective.active],
    })
}

fn push_users(users: &mut Vec<RawUser>, node: &Node) -> Result<()> {
    for (position, user) in node.spec.users.iter().enumerate() {
        let position = i32::try_from(position).map_err(|_| StoreError::InvalidRow {
            table: "users".to_string(),
            name: node.name.to_string(),
            message: "more users than a position column holds".to_string(),
        })?;
        users.push(RawUser {
            account: node.name.to_string(),
            email: user.email.to_string(),
            position,
            name: user.name.to_string(),
            role: user.role.as_str().to_string(),
            language: user.language.as_deref().map(str::to_string),
            timezone: user.timezone.as_deref().map(str::to_string),
        });
    }
    Ok(())
}

/// The database a baseline runs on.
enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

fn target(url: &str) -> Result<Target> {
    match Location::parse(url)? {
        Location::SqliteFile(path) => Ok(Target::Sqlite(path)),
        Location::Postgres(url) => Ok(Target::Postgres(url)),
        Location::SqliteMemory => Err(StoreError::UnsupportedUrl(format!(
            "{url} (a baseline needs a database that outlives one connection)"
        ))),
    }
}

/// Writes every row of `rows` into the (migrated, empty) database at `url` in one
/// transaction; returns the time from BEGIN to COMMIT.
pub fn insert(url: &str, rows: &RawRows) -> Result<Duration> {
    match target(url)? {
        Target::Postgres(url) => postgres::insert(&url, rows),
        Target::Sqlite(path) => sqlite::insert(&path, rows),
    }
}

/// Reads every live plan, account and user row into plain values in one transaction;
/// returns the time and the row counts.
pub fn select(url: &str) -> Result<(Duration, RawRead)> {
    match target(url)? {
        Target::Postgres(url) => postgres::select(&url),
        Target::Sqlite(path) => sqlite::select(&path),
    }
}

/// Writes the rows of `change` in one transaction; returns the time from BEGIN to
/// COMMIT.
pub fn change(url: &str, change: &RawChange) -> Result<Duration> {
    match target(url)? {
        Target::Postgres(url) => postgres::change(&url, change),
        Target::Sqlite(path) => sqlite::change(&path, change),
    }
}

/// Sets the display name of each `(account, display name)` in its own transaction
/// (`UPDATE` + `COMMIT`); returns the time of each.
pub fn update_each(url: &str, edits: &[(String, String)]) -> Result<Vec<Duration>> {
    match target(url)? {
        Target::Postgres(url) => edit::postgres_updates(&url, edits),
        Target::Sqlite(path) => edit::sqlite_updates(&path, edits),
    }
}

/// A checksum over every `accounts` row in one `SELECT`; returns the time and the sum.
pub fn checksum(url: &str) -> Result<(Duration, f64)> {
    match target(url)? {
        Target::Postgres(url) => edit::postgres_checksum(&url),
        Target::Sqlite(path) => edit::sqlite_checksum(&path),
    }
}

/// Times `work` from its start to its end.
fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let started = Instant::now();
    let value = work()?;
    Ok((started.elapsed(), value))
}

fn database_error<E: Into<crate::store::Cause>>(
    operation: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |error| StoreError::database(format!("baseline: {operation}"), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_holds_only_rows_that_differ() {
        let before = crate::generate::hierarchy(600, 2);
        let after = crate::generate::mutate(&before, 2, 10);
        let change = RawChange::between(&before, &after, "bench", 1_000_000).expect("rows");
        assert!(!change.updated.is_empty() && change.updated.len() < before.nodes.len() / 2);
        let nothing = RawChange::between(&before, &before, "bench", 0).expect("rows");
        assert_eq!(nothing.row_count(), 0);
    }

    #[test]
    fn every_node_and_user_becomes_a_row() {
        let hierarchy = crate::generate::hierarchy(300, 4);
        let rows = RawRows::of(&hierarchy, "bench", 1000).expect("rows");
        assert_eq!(rows.accounts.len(), hierarchy.nodes.len());
        let users: usize = hierarchy.nodes.iter().map(|n| n.spec.users.len()).sum();
        assert_eq!(rows.users.len(), users);
        let numbered = rows.accounts.iter().filter(|a| a.number.is_some()).count();
        assert_eq!(numbered, hierarchy.account_count());
    }
}
