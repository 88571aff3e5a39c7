//! SQLite writes of one apply, inside the caller's transaction: new rows through
//! multi-row `INSERT`s ([`Rows`]), updates through one prepared statement per kind.

use rusqlite::{Connection, OptionalExtension, Statement, ToSql, params};

use crate::plan::Plan;

use super::super::audit::AuditEntry;
use super::super::batch::{Batch, Keys, NodeRow, UserRow};
use super::super::rows::{encode_node, to_json};
use super::super::{ApplyContext, Result, StoreError};
use super::database;

/// Takes `count` numbers from the counter in one statement; returns the first.
pub(super) fn allocate_numbers(connection: &Connection, count: i64) -> Result<i64> {
    if count == 0 {
        return Ok(0);
    }
    connection
        .query_row(
            "UPDATE canopy_meta SET value = value + ?1 WHERE key = 'next_account_number'
             RETURNING value - ?1",
            [count],
            |row| row.get(0),
        )
        .map_err(database("allocate account numbers"))
}

pub(super) fn write_batch(
    connection: &Connection,
    plan: &Plan,
    batch: &Batch<'_>,
    now: &str,
    context: &ApplyContext,
) -> Result<()> {
    let suspended = if batch.big_table_rows(plan) >= BULK_ROWS {
        suspend_counting(connection)?
    } else {
        Vec::new()
    };
    // Restored whether the write succeeded or not: the caller decides what becomes of
    // a failed transaction, and it must not be left without its triggers.
    let written = write_rows(connection, plan, batch, now, context);
    let restored = restore_counting(connection, &suspended);
    written.and(restored)
}

/// Every row of the batch, one kind after the other.
fn write_rows(
    connection: &Connection,
    plan: &Plan,
    batch: &Batch<'_>,
    now: &str,
    context: &ApplyContext,
) -> Result<()> {
    let writes = &plan.writes;
    step("service plans", writes.plans.len(), || {
        write_plans(connection, plan, now)
    })?;
    let source = plan.source.as_str();
    step("new accounts", batch.inserts.len(), || {
        write_node_rows(connection, &batch.inserts, "", (source, now))
    })?;
    step("overwritten accounts", batch.upserts.len(), || {
        write_node_rows(connection, &batch.upserts, UPSERT_NODE, (source, now))
    })?;
    step("updated accounts", batch.updates.len(), || {
        update_nodes(connection, &batch.updates, source, now)
    })?;
    let users = batch.clear_users.len()
        + batch.user_deletes.len()
        + batch.user_updates.len()
        + batch.user_inserts.len();
    step("users", users, || write_users(connection, batch))?;
    step("effective values", writes.effective.len(), || {
        write_effective(connection, plan, now)
    })?;
    let archives = writes.archive_nodes.len() + writes.archive_plans.len();
    step("archives", archives, || {
        write_archives(connection, plan, now)
    })?;
    let releases = writes.release_nodes.len() + writes.release_plans.len();
    step("releases", releases, || {
        write_releases(connection, plan, now)
    })?;
    step("audit log", batch.audit.len(), || {
        write_audit(connection, batch, now, context)
    })
}

/// From this many `accounts` and `users` rows on, canopy's own write suspends the
/// change counter's per-row triggers on those two tables ([`suspend_counting`]) and
/// bumps the counter once itself: each trigger runs an `UPDATE` per row, about a
/// tenth of a bulk write. Below it, dropping and re-creating them costs more than
/// it saves.
const BULK_ROWS: usize = 2_000;

/// The per-row triggers of the change counter on the two big tables (schema
/// version 5); `service_plans` keeps its own, with its few rows.
const COUNTING_TRIGGERS: [&str; 6] = [
    "accounts_insert_count_change",
    "accounts_update_count_change",
    "accounts_delete_count_change",
    "users_insert_count_change",
    "users_update_count_change",
    "users_delete_count_change",
];

/// Drops the counting triggers inside the caller's transaction and returns their
/// stored definitions, for [`restore_counting`]. Nobody else sees the tables
/// without them: the transaction holds SQLite's one write lock until it ends, and a
/// rollback brings the triggers back with everything else. A trigger that is not
/// there (dropped by hand) is left out, and is not created again.
fn suspend_counting(connection: &Connection) -> Result<Vec<String>> {
    let mut read = connection
        .prepare_cached("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?1")
        .map_err(database("read the change counter's triggers"))?;
    let mut suspended = Vec::with_capacity(COUNTING_TRIGGERS.len());
    for name in COUNTING_TRIGGERS {
        let sql: Option<String> = read
            .query_row([name], |row| row.get(0))
            .optional()
            .map_err(database("read the change counter's triggers"))?;
        let Some(sql) = sql else { continue };
        // The name is one of the constants above (an identifier cannot be bound).
        connection
            .execute_batch(&format!("DROP TRIGGER {name}"))
            .map_err(database("suspend the change counter's triggers"))?;
        suspended.push(sql);
    }
    Ok(suspended)
}

/// Creates the [`suspend_counting`] triggers again from their stored definitions,
/// and bumps the change counter once for the rows they did not count.
fn restore_counting(connection: &Connection, suspended: &[String]) -> Result<()> {
    if suspended.is_empty() {
        return Ok(());
    }
    for sql in suspended {
        connection
            .execute_batch(sql)
            .map_err(database("restore the change counter's triggers"))?;
    }
    connection
        .execute(
            "UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1",
            [],
        )
        .map_err(database("bump the change counter"))?;
    Ok(())
}

/// Runs one kind of write (`rows` of them) and logs at `trace` how long it took.
fn step(kind: &'static str, rows: usize, write: impl FnOnce() -> Result<()>) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let start = std::time::Instant::now();
    write()?;
    tracing::trace!(took = ?start.elapsed(), rows, kind, "write: one kind of row");
    Ok(())
}

fn write_plans(connection: &Connection, plan: &Plan, now: &str) -> Result<()> {
    if plan.writes.plans.is_empty() {
        return Ok(());
    }
    let mut statement = connection
        .prepare(
            "INSERT INTO service_plans (name, billing, licenses, limits, display_name,
                                        managed_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (name) DO UPDATE SET
                 billing = excluded.billing, licenses = excluded.licenses,
                 limits = excluded.limits, display_name = excluded.display_name,
                 managed_by = excluded.managed_by, archived_at = NULL,
                 updated_at = excluded.updated_at",
        )
        .map_err(database("write service_plans"))?;
    for service_plan in &plan.writes.plans {
        let spec = &service_plan.spec;
        let limits = super::super::rows::encode_limits(spec)?;
        statement
            .execute(params![
                service_plan.name,
                spec.billing.as_str(),
                spec.licenses.map(i64::from),
                limits.as_ref(),
                spec.display_name,
                plan.source,
                now,
            ])
            .map_err(|error| {
                StoreError::database(format!("write service plan {}", service_plan.name), error)
            })?;
    }
    Ok(())
}

/// The columns of an `accounts` row canopy writes, in binding order.
const NODE_COLUMNS: &str = "name, node_type, display_name, parent, account_number, active,
    customer_type, reseller, plan, address, contact, services, settings, locked_settings,
    effective_active, effective_services, effective_settings, effective_locked_settings,
    managed_by, created_at, updated_at";
const NODE_VALUES: usize = 21;

/// Existing rows (live or archived): an existing row keeps its number and creation
/// time, and is restored if archived. New rows need no conflict clause.
const UPSERT_NODE: &str = "
    ON CONFLICT (name) DO UPDATE SET
        node_type = excluded.node_type, display_name = excluded.display_name,
        parent = excluded.parent,
        account_number = COALESCE(accounts.account_number, excluded.account_number),
        active = excluded.active, customer_type = excluded.customer_type,
        reseller = excluded.reseller, plan = excluded.plan, address = excluded.address,
        contact = excluded.contact, services = excluded.services,
        settings = excluded.settings, locked_settings = excluded.locked_settings,
        effective_active = excluded.effective_active,
        effective_services = excluded.effective_services,
        effective_settings = excluded.effective_settings,
        effective_locked_settings = excluded.effective_locked_settings,
        managed_by = excluded.managed_by, archived_at = NULL,
        updated_at = excluded.updated_at";

/// Binds one account row's [`NODE_COLUMNS`] from parameter `base + 1` on.
fn bind_node(
    statement: &mut Statement<'_>,
    base: usize,
    row: &NodeRow<'_>,
    source: &str,
    now: &str,
) -> rusqlite::Result<()> {
    let NodeRow {
        write, new_number, ..
    } = row;
    let encoded = encode_node(write)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
    let spec = &write.spec;
    let values: [&dyn ToSql; NODE_VALUES] = [
        &write.name.as_str(),
        &spec.node_type.as_str(),
        &spec.display_name.as_str(),
        &spec.parent.as_deref(),
        new_number,
        &spec.active,
        &spec.customer_type.map(|kind| kind.as_str()),
        &spec.reseller,
        &spec.plan.as_deref(),
        &encoded.address,
        &encoded.contact,
        &encoded.services.as_ref(),
        &encoded.settings.as_ref(),
        &encoded.locked_settings.as_ref(),
        &write.effective.active,
        &encoded.effective.services.as_ref(),
        &encoded.effective.settings.as_ref(),
        &encoded.effective.locked_settings.as_ref(),
        &source,
        &now,
        &now,
    ];
    bind_all(statement, base, &values)
}

fn describe_node(row: &NodeRow<'_>) -> String {
    format!("write account {}", row.write.name)
}

/// Account rows through multi-row `INSERT`s ending in `suffix`: nothing for rows that
/// do not exist yet, [`UPSERT_NODE`] for rows that exist, live or archived, whose
/// parent, plan or number change.
fn write_node_rows(
    connection: &Connection,
    rows: &[NodeRow<'_>],
    suffix: &'static str,
    (source, now): (&str, &str),
) -> Result<()> {
    let bind = |statement: &mut Statement<'_>, base, row: &NodeRow<'_>| {
        bind_node(statement, base, row, source, now)
    };
    let rows_of = Rows {
        table: "accounts",
        columns: NODE_COLUMNS,
        values: NODE_VALUES,
        suffix,
    };
    rows_of.write(connection, rows, bind, describe_node)
}

/// Live rows whose number stays: one `UPDATE` per row, setting parent and plan only
/// where they change ([`NodeRow::keys`]), so that the others' foreign-key checks and
/// index entries are left alone. One statement per combination.
fn update_nodes(
    connection: &Connection,
    rows: &[NodeRow<'_>],
    source: &str,
    now: &str,
) -> Result<()> {
    for parent in [false, true] {
        for plan in [false, true] {
            let keys = Keys { parent, plan };
            let mut shaped = rows.iter().filter(|row| row.keys == keys).peekable();
            if shaped.peek().is_none() {
                continue;
            }
            // Parameters numbered as in NODE_COLUMNS: [`bind_node`] binds them all (the
            // number and the creation time go unused).
            let mut sql = String::from(
                "UPDATE accounts SET node_type = ?2, display_name = ?3, active = ?6,
                     customer_type = ?7, reseller = ?8, address = ?10, contact = ?11,
                     services = ?12, settings = ?13, locked_settings = ?14,
                     effective_active = ?15, effective_services = ?16,
                     effective_settings = ?17, effective_locked_settings = ?18,
                     managed_by = ?19, updated_at = ?21",
            );
            if parent {
                sql.push_str(", parent = ?4");
            }
            if plan {
                sql.push_str(", plan = ?9");
            }
            sql.push_str(" WHERE name = ?1");
            let mut statement = connection
                .prepare_cached(&sql)
                .map_err(database("write accounts"))?;
            for row in shaped {
                bind_node(&mut statement, 0, row, source, now)
                    .and_then(|()| statement.raw_execute())
                    .map_err(|error| StoreError::database(describe_node(row), error))?;
            }
        }
    }
    Ok(())
}

/// A multi-row `INSERT` of one table: rows go [`ROWS_PER_STATEMENT`] at a time, so the
/// per-statement costs (a statement journal, since a row may fail a constraint or
/// fire the change counter's trigger) are paid once per chunk, not once per row.
#[derive(Clone, Copy)]
struct Rows {
    table: &'static str,
    columns: &'static str,
    /// Parameters per row.
    values: usize,
    /// After the `VALUES` list (a conflict clause).
    suffix: &'static str,
}

/// At most this many rows per statement (and at most [`MAX_PARAMETERS`] parameters).
const ROWS_PER_STATEMENT: usize = 200;
/// Well under SQLite's limit of 32,766 bound parameters per statement.
const MAX_PARAMETERS: usize = 8_000;

impl Rows {
    fn sql(&self, rows: usize) -> String {
        let one = format!("({})", vec!["?"; self.values].join(", "));
        let list = vec![one.as_str(); rows].join(",\n");
        format!(
            "INSERT INTO {} ({}) VALUES {list}{}",
            self.table, self.columns, self.suffix
        )
    }

    /// Writes `rows`; `bind` binds one row's values from parameter `base + 1` on. A
    /// chunk that fails is written again row by row, so that the error names the row
    /// (`describe`): a failed statement wrote nothing.
    fn write<R>(
        &self,
        connection: &Connection,
        rows: &[R],
        bind: impl Fn(&mut Statement<'_>, usize, &R) -> rusqlite::Result<()>,
        describe: impl Fn(&R) -> String,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let per_statement = ROWS_PER_STATEMENT.min(MAX_PARAMETERS / self.values).max(1);
        let full = self.sql(per_statement);
        for chunk in rows.chunks(per_statement) {
            let last;
            let sql = if chunk.len() == per_statement {
                &full
            } else {
                last = self.sql(chunk.len());
                &last
            };
            let mut statement = connection
                .prepare_cached(sql)
                .map_err(|error| StoreError::database(format!("write {}", self.table), error))?;
            let executed = chunk
                .iter()
                .enumerate()
                .try_for_each(|(index, row)| bind(&mut statement, index * self.values, row))
                .and_then(|()| statement.raw_execute());
            if executed.is_err() {
                self.write_one_by_one(connection, chunk, &bind, &describe)?;
            }
        }
        Ok(())
    }

    fn write_one_by_one<R>(
        &self,
        connection: &Connection,
        rows: &[R],
        bind: &impl Fn(&mut Statement<'_>, usize, &R) -> rusqlite::Result<()>,
        describe: &impl Fn(&R) -> String,
    ) -> Result<()> {
        let mut statement = connection
            .prepare_cached(&self.sql(1))
            .map_err(|error| StoreError::database(format!("write {}", self.table), error))?;
        for row in rows {
            bind(&mut statement, 0, row)
                .and_then(|()| statement.raw_execute())
                .map_err(|error| StoreError::database(describe(row), error))?;
        }
        Ok(())
    }
}

/// Binds `values` to parameters `base + 1 ..`.
fn bind_all(
    statement: &mut Statement<'_>,
    base: usize,
    values: &[&dyn ToSql],
) -> rusqlite::Result<()> {
    for (offset, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(base + offset + 1, value)?;
    }
    Ok(())
}

fn write_users(connection: &Connection, batch: &Batch<'_>) -> Result<()> {
    if !batch.clear_users.is_empty() {
        let mut statement = connection
            .prepare_cached("DELETE FROM users WHERE account = ?1")
            .map_err(database("clear users"))?;
        for account in &batch.clear_users {
            statement
                .execute([account])
                .map_err(database("clear users"))?;
        }
    }
    if !batch.user_deletes.is_empty() {
        let mut statement = connection
            .prepare_cached("DELETE FROM users WHERE account = ?1 AND email = ?2")
            .map_err(database("delete users"))?;
        for (account, email) in &batch.user_deletes {
            statement.execute([account, email]).map_err(|error| {
                StoreError::database(format!("delete user {email} of {account}"), error)
            })?;
        }
    }
    if !batch.user_updates.is_empty() {
        let mut statement = connection
            .prepare_cached(
                "UPDATE users SET position = ?3, name = ?4, role = ?5, language = ?6,
                                  timezone = ?7
                 WHERE account = ?1 AND email = ?2",
            )
            .map_err(database("update users"))?;
        for row in &batch.user_updates {
            bind_user(&mut statement, 0, row)
                .and_then(|()| statement.raw_execute())
                .map_err(|error| StoreError::database(describe_user(row), error))?;
        }
    }
    let rows = Rows {
        table: "users",
        columns: "account, email, position, name, role, language, timezone",
        values: 7,
        suffix: "",
    };
    rows.write(connection, &batch.user_inserts, bind_user, describe_user)
}

/// Binds one user row's seven columns, in [`write_users`]'s order, from parameter
/// `base + 1` on.
fn bind_user(
    statement: &mut Statement<'_>,
    base: usize,
    (account, position, user): &UserRow<'_>,
) -> rusqlite::Result<()> {
    let values: [&dyn ToSql; 7] = [
        account,
        &user.email,
        position,
        &user.name.as_str(),
        &user.role.as_str(),
        &user.language.as_deref(),
        &user.timezone.as_deref(),
    ];
    bind_all(statement, base, &values)
}

fn describe_user((account, _, user): &UserRow<'_>) -> String {
    format!("write user {} of {account}", user.email)
}

fn write_effective(connection: &Connection, plan: &Plan, now: &str) -> Result<()> {
    if plan.writes.effective.is_empty() {
        return Ok(());
    }
    let mut statement = connection
        .prepare(
            "UPDATE accounts SET effective_active = ?2, effective_services = ?3,
                                 effective_settings = ?4, effective_locked_settings = ?5,
                                 updated_at = ?6
             WHERE name = ?1",
        )
        .map_err(database("write effective values"))?;
    for (name, effective) in &plan.writes.effective {
        let encoded = super::super::rows::encode_effective(effective)?;
        statement
            .execute(params![
                name,
                effective.active,
                encoded.services.as_ref(),
                encoded.settings.as_ref(),
                encoded.locked_settings.as_ref(),
                now,
            ])
            .map_err(database("write effective values"))?;
    }
    Ok(())
}

fn write_archives(connection: &Connection, plan: &Plan, now: &str) -> Result<()> {
    let targets = [
        (
            &plan.writes.archive_nodes,
            "UPDATE accounts SET archived_at = ?2, effective_active = 0, updated_at = ?2
             WHERE name = ?1 AND archived_at IS NULL",
        ),
        (
            &plan.writes.archive_plans,
            "UPDATE service_plans SET archived_at = ?2, updated_at = ?2
             WHERE name = ?1 AND archived_at IS NULL",
        ),
    ];
    for (names, sql) in targets {
        if names.is_empty() {
            continue;
        }
        let mut statement = connection.prepare(sql).map_err(database("archive"))?;
        for name in names {
            statement
                .execute(params![name, now])
                .map_err(database("archive"))?;
        }
    }
    Ok(())
}

/// Released orphans: `managed_by` cleared, one statement per table over a JSON array of
/// names (only rows this source still manages).
fn write_releases(connection: &Connection, plan: &Plan, now: &str) -> Result<()> {
    let targets = [
        (
            &plan.writes.release_nodes,
            "UPDATE accounts SET managed_by = NULL, updated_at = ?2
             WHERE name IN (SELECT value FROM json_each(?1)) AND managed_by = ?3
               AND archived_at IS NULL",
        ),
        (
            &plan.writes.release_plans,
            "UPDATE service_plans SET managed_by = NULL, updated_at = ?2
             WHERE name IN (SELECT value FROM json_each(?1)) AND managed_by = ?3
               AND archived_at IS NULL",
        ),
    ];
    for (names, sql) in targets {
        if names.is_empty() {
            continue;
        }
        let names = to_json(names)?;
        connection
            .execute(sql, params![names, now, plan.source])
            .map_err(database("release"))?;
    }
    Ok(())
}

fn write_audit(
    connection: &Connection,
    batch: &Batch<'_>,
    now: &str,
    context: &ApplyContext,
) -> Result<()> {
    let rows = Rows {
        table: "audit_log",
        columns: "at, actor, source, revision, op, kind, name, before, after",
        values: 9,
        suffix: "",
    };
    for entries in batch.audit.chunks(AUDIT_CHUNK) {
        write_audit_rows(connection, &rows, &entries?, now, context)?;
    }
    Ok(())
}

/// How many audit rows are encoded at a time.
const AUDIT_CHUNK: usize = 4_096;

fn write_audit_rows(
    connection: &Connection,
    rows: &Rows,
    entries: &[AuditEntry<'_>],
    now: &str,
    context: &ApplyContext,
) -> Result<()> {
    rows.write(
        connection,
        entries,
        |statement, base, entry| {
            let values: [&dyn ToSql; 9] = [
                &now,
                &context.actor,
                &context.source,
                &context.revision,
                &entry.op.as_str(),
                &entry.kind.as_str(),
                &entry.name,
                &entry.before,
                &entry.after,
            ];
            bind_all(statement, base, &values)
        },
        |entry| format!("write audit_log row of {}", entry.name),
    )
}

/// After a failed commit: the rows whose references point at nothing, for the message.
pub(super) fn broken_references(connection: &Connection) -> Result<String> {
    let mut statement = connection
        .prepare(
            "SELECT 'account ' || a.name || ': parent ' || a.parent FROM accounts a
             WHERE a.parent IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM accounts p WHERE p.name = a.parent)
             UNION ALL
             SELECT 'account ' || a.name || ': plan ' || a.plan FROM accounts a
             WHERE a.plan IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM service_plans s WHERE s.name = a.plan)
             UNION ALL
             SELECT 'user ' || u.email || ': account ' || u.account FROM users u
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.name = u.account)
             LIMIT 20",
        )
        .map_err(database("find broken references"))?;
    let found = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(database("find broken references"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(database("find broken references"))?;
    Ok(found.join("; "))
}
