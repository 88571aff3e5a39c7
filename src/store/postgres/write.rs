//! PostgreSQL writes of one apply, in a constant number of round trips: binary `COPY`
//! for rows that are new (accounts, users, audit), `unnest` arrays for rows that
//! change (upserts, effective values, archives). Every value travels as a parameter
//! or in the COPY stream, never in the SQL text.

use sqlx::postgres::PgConnection;

use crate::plan::Plan;

use super::super::batch::{Batch, NodeRow, UserRow};
use super::super::rows::{EncodedNode, encode_effective, encode_limits, encode_node};
use super::super::{ApplyContext, Result};
use super::copy::BinaryCopy;
use super::database;

/// Takes `count` numbers from the counter in one statement; returns the first.
pub(super) async fn allocate_numbers(connection: &mut PgConnection, count: i64) -> Result<i64> {
    if count == 0 {
        return Ok(0);
    }
    sqlx::query_scalar(
        "UPDATE canopy_meta SET value = value + $1 WHERE key = 'next_account_number'
         RETURNING value - $1",
    )
    .bind(count)
    .fetch_one(connection)
    .await
    .map_err(database("allocate account numbers"))
}

pub(super) async fn write_batch(
    connection: &mut PgConnection,
    plan: &Plan,
    batch: &Batch<'_>,
    context: &ApplyContext,
) -> Result<()> {
    write_plans(connection, plan).await?;
    copy_nodes(connection, &batch.inserts, &plan.source).await?;
    // PostgreSQL skips the foreign-key checks of unchanged columns by itself: rows
    // whose parent and plan stay are upserted like the others.
    upsert_nodes(connection, &batch.upserts, &plan.source).await?;
    upsert_nodes(connection, &batch.updates, &plan.source).await?;
    write_users(connection, batch).await?;
    write_effective(connection, plan).await?;
    write_archives(connection, plan).await?;
    write_releases(connection, plan).await?;
    copy_audit(connection, batch, context).await
}

async fn write_plans(connection: &mut PgConnection, plan: &Plan) -> Result<()> {
    if plan.writes.plans.is_empty() {
        return Ok(());
    }
    let plans = &plan.writes.plans;
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    let billings: Vec<&str> = plans.iter().map(|p| p.spec.billing.as_str()).collect();
    let licenses: Vec<Option<i64>> = plans
        .iter()
        .map(|p| p.spec.licenses.map(i64::from))
        .collect();
    let limits: Vec<String> = plans
        .iter()
        .map(|p| encode_limits(&p.spec).map(|text| text.into_owned()))
        .collect::<Result<_>>()?;
    let display_names: Vec<Option<&str>> = plans
        .iter()
        .map(|p| p.spec.display_name.as_deref())
        .collect();
    sqlx::query(
        "INSERT INTO service_plans (name, billing, licenses, limits, display_name, managed_by)
         SELECT name, billing, licenses, limits, display_name, $6
         FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[])
              AS p(name, billing, licenses, limits, display_name)
         ON CONFLICT (name) DO UPDATE SET
             billing = EXCLUDED.billing, licenses = EXCLUDED.licenses,
             limits = EXCLUDED.limits, display_name = EXCLUDED.display_name,
             managed_by = EXCLUDED.managed_by, archived_at = NULL, updated_at = now()",
    )
    .bind(&names)
    .bind(&billings)
    .bind(&licenses)
    .bind(&limits)
    .bind(&display_names)
    .bind(&plan.source)
    .execute(connection)
    .await
    .map_err(database("write service_plans"))?;
    Ok(())
}

const NODE_COLUMNS: &str = "name, node_type, display_name, parent, account_number, active,
    customer_type, reseller, plan, address, contact, services, settings, locked_settings,
    effective_active, effective_services, effective_settings, effective_locked_settings,
    managed_by";

/// New rows go straight into `accounts` by binary COPY (the fastest path PostgreSQL has).
async fn copy_nodes(
    connection: &mut PgConnection,
    rows: &[NodeRow<'_>],
    source: &str,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = format!("COPY accounts ({NODE_COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut copy = BinaryCopy::start(connection, &statement, "copy accounts").await?;
    for row in rows {
        let write = row.write;
        let spec = &write.spec;
        let encoded = encode_node(write)?;
        copy.row(19).await?;
        copy.text(Some(&write.name));
        copy.text(Some(spec.node_type.as_str()));
        copy.text(Some(&spec.display_name));
        copy.text(spec.parent.as_deref());
        copy.int8(row.new_number);
        copy.bool(spec.active);
        copy.text(spec.customer_type.map(|kind| kind.as_str()));
        copy.bool(spec.reseller);
        copy.text(spec.plan.as_deref());
        copy.text(encoded.address.as_deref());
        copy.text(encoded.contact.as_deref());
        copy.text(Some(&encoded.services));
        copy.text(Some(&encoded.settings));
        copy.text(Some(&encoded.locked_settings));
        copy.bool(write.effective.active);
        copy.text(Some(&encoded.effective.services));
        copy.text(Some(&encoded.effective.settings));
        copy.text(Some(&encoded.effective.locked_settings));
        copy.text(Some(source));
    }
    copy.finish().await?;
    Ok(())
}

/// Rows that exist (live or archived) are overwritten in one `INSERT … SELECT unnest`.
async fn upsert_nodes(
    connection: &mut PgConnection,
    rows: &[NodeRow<'_>],
    source: &str,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let column = |get: &dyn Fn(&NodeRow<'_>) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(get).collect()
    };
    let flags =
        |get: &dyn Fn(&NodeRow<'_>) -> bool| -> Vec<bool> { rows.iter().map(get).collect() };
    let names = column(&|r| Some(r.write.name.to_string()));
    let types = column(&|r| Some(r.write.spec.node_type.as_str().to_string()));
    let display_names = column(&|r| Some(r.write.spec.display_name.to_string()));
    let parents = column(&|r| r.write.spec.parent.as_deref().map(str::to_string));
    let numbers: Vec<Option<i64>> = rows.iter().map(|r| r.new_number).collect();
    let active = flags(&|r| r.write.spec.active);
    let customer_types = column(&|r| r.write.spec.customer_type.map(|k| k.as_str().to_string()));
    let resellers = flags(&|r| r.write.spec.reseller);
    let plans = column(&|r| r.write.spec.plan.as_deref().map(str::to_string));
    let encoded = rows
        .iter()
        .map(|row| encode_node(row.write))
        .collect::<Result<Vec<_>, _>>()?;
    let encoded_column = |get: &dyn Fn(&EncodedNode) -> Option<String>| -> Vec<Option<String>> {
        encoded.iter().map(get).collect()
    };
    let addresses = encoded_column(&|e| e.address.clone());
    let contacts = encoded_column(&|e| e.contact.clone());
    let services = encoded_column(&|e| Some(e.services.to_string()));
    let settings = encoded_column(&|e| Some(e.settings.to_string()));
    let locked = encoded_column(&|e| Some(e.locked_settings.to_string()));
    let effective_active = flags(&|r| r.write.effective.active);
    let effective_services = encoded_column(&|e| Some(e.effective.services.to_string()));
    let effective_settings = encoded_column(&|e| Some(e.effective.settings.to_string()));
    let effective_locked = encoded_column(&|e| Some(e.effective.locked_settings.to_string()));
    // NODE_COLUMNS is a constant; every value is bound.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO accounts ({NODE_COLUMNS})
         SELECT *, $19::text FROM unnest($1::text[], $2::text[], $3::text[],
             $4::text[], $5::int8[], $6::bool[], $7::text[], $8::bool[], $9::text[],
             $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
             $15::bool[], $16::text[], $17::text[], $18::text[])
         ON CONFLICT (name) DO UPDATE SET
             node_type = EXCLUDED.node_type, display_name = EXCLUDED.display_name,
             parent = EXCLUDED.parent,
             account_number = COALESCE(accounts.account_number, EXCLUDED.account_number),
             active = EXCLUDED.active, customer_type = EXCLUDED.customer_type,
             reseller = EXCLUDED.reseller, plan = EXCLUDED.plan,
             address = EXCLUDED.address, contact = EXCLUDED.contact,
             services = EXCLUDED.services, settings = EXCLUDED.settings,
             locked_settings = EXCLUDED.locked_settings,
             effective_active = EXCLUDED.effective_active,
             effective_services = EXCLUDED.effective_services,
             effective_settings = EXCLUDED.effective_settings,
             effective_locked_settings = EXCLUDED.effective_locked_settings,
             managed_by = EXCLUDED.managed_by, archived_at = NULL,
             updated_at = now()"
    )))
    .bind(&names)
    .bind(&types)
    .bind(&display_names)
    .bind(&parents)
    .bind(&numbers)
    .bind(&active)
    .bind(&customer_types)
    .bind(&resellers)
    .bind(&plans)
    .bind(&addresses)
    .bind(&contacts)
    .bind(&services)
    .bind(&settings)
    .bind(&locked)
    .bind(&effective_active)
    .bind(&effective_services)
    .bind(&effective_settings)
    .bind(&effective_locked)
    .bind(source)
    .execute(connection)
    .await
    .map_err(database("write accounts"))?;
    Ok(())
}

async fn write_users(connection: &mut PgConnection, batch: &Batch<'_>) -> Result<()> {
    if !batch.clear_users.is_empty() {
        sqlx::query("DELETE FROM users WHERE account = ANY($1)")
            .bind(&batch.clear_users)
            .execute(&mut *connection)
            .await
            .map_err(database("clear users"))?;
    }
    if !batch.user_deletes.is_empty() {
        let (accounts, emails): (Vec<&str>, Vec<&str>) = batch.user_deletes.iter().copied().unzip();
        sqlx::query(
            "DELETE FROM users USING unnest($1::text[], $2::text[]) AS d(account, email)
             WHERE users.account = d.account AND users.email = d.email",
        )
        .bind(&accounts)
        .bind(&emails)
        .execute(&mut *connection)
        .await
        .map_err(database("delete users"))?;
    }
    if !batch.user_updates.is_empty() {
        let sql = "UPDATE users SET position = u.position, name = u.name, role = u.role,
                                    language = u.language, timezone = u.timezone
                   FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[],
                               $6::text[], $7::text[])
                        AS u(account, email, position, name, role, language, timezone)
                   WHERE users.account = u.account AND users.email = u.email";
        with_user_arrays(connection, sql, &batch.user_updates, "update users").await?;
    }
    let inserts = &batch.user_inserts;
    if inserts.is_empty() {
        return Ok(());
    }
    if inserts.len() <= SMALL_BATCH {
        return insert_users(connection, inserts).await;
    }
    let mut copy = BinaryCopy::start(
        connection,
        "COPY users (account, email, position, name, role, language, timezone)
         FROM STDIN (FORMAT binary)",
        "copy users",
    )
    .await?;
    for (account, position, user) in inserts {
        copy.row(7).await?;
        copy.text(Some(account));
        copy.text(Some(&user.email));
        copy.int4(i32::try_from(*position).unwrap_or(i32::MAX));
        copy.text(Some(&user.name));
        copy.text(Some(user.role.as_str()));
        copy.text(user.language.as_deref());
        copy.text(user.timezone.as_deref());
    }
    copy.finish().await?;
    Ok(())
}

/// User rows as one array per column, for `unnest`.
struct UserColumns<'a> {
    accounts: Vec<&'a str>,
    emails: Vec<&'a str>,
    positions: Vec<i32>,
    names: Vec<&'a str>,
    roles: Vec<&'static str>,
    languages: Vec<Option<&'a str>>,
    timezones: Vec<Option<&'a str>>,
}

impl<'a> UserColumns<'a> {
    fn of(rows: &[UserRow<'a>]) -> UserColumns<'a> {
        let count = rows.len();
        let mut columns = UserColumns {
            accounts: Vec::with_capacity(count),
            emails: Vec::with_capacity(count),
            positions: Vec::with_capacity(count),
            names: Vec::with_capacity(count),
            roles: Vec::with_capacity(count),
            languages: Vec::with_capacity(count),
            timezones: Vec::with_capacity(count),
        };
        for &(account, position, user) in rows {
            columns.accounts.push(account);
            columns.emails.push(&user.email);
            columns
                .positions
                .push(i32::try_from(position).unwrap_or(i32::MAX));
            columns.names.push(&user.name);
            columns.roles.push(user.role.as_str());
            columns.languages.push(user.language.as_deref());
            columns.timezones.push(user.timezone.as_deref());
        }
        columns
    }
}

/// A few users in one statement (see [`SMALL_BATCH`]).
async fn insert_users(connection: &mut PgConnection, rows: &[UserRow<'_>]) -> Result<()> {
    let sql = "INSERT INTO users (account, email, position, name, role, language, timezone)
               SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[],
                                    $5::text[], $6::text[], $7::text[])";
    with_user_arrays(connection, sql, rows, "insert users").await
}

/// Runs `sql` with the user rows bound as seven arrays, `$1` … `$7` in the order
/// account, email, position, name, role, language, timezone.
async fn with_user_arrays(
    connection: &mut PgConnection,
    sql: &'static str,
    rows: &[UserRow<'_>],
    operation: &'static str,
) -> Result<()> {
    let columns = UserColumns::of(rows);
    sqlx::query(sql)
        .bind(&columns.accounts)
        .bind(&columns.emails)
        .bind(&columns.positions)
        .bind(&columns.names)
        .bind(&columns.roles)
        .bind(&columns.languages)
        .bind(&columns.timezones)
        .execute(connection)
        .await
        .map_err(database(operation))?;
    Ok(())
}

async fn write_effective(connection: &mut PgConnection, plan: &Plan) -> Result<()> {
    let updates = &plan.writes.effective;
    if updates.is_empty() {
        return Ok(());
    }
    let mut names = Vec::with_capacity(updates.len());
    let mut active = Vec::with_capacity(updates.len());
    let mut services = Vec::with_capacity(updates.len());
    let mut settings = Vec::with_capacity(updates.len());
    let mut locked = Vec::with_capacity(updates.len());
    for (name, effective) in updates {
        let encoded = encode_effective(effective)?;
        names.push(name.as_str());
        active.push(effective.active);
        services.push(encoded.services.into_owned());
        settings.push(encoded.settings.into_owned());
        locked.push(encoded.locked_settings.into_owned());
    }
    sqlx::query(
        "UPDATE accounts AS a
         SET effective_active = u.active, effective_services = u.services,
             effective_settings = u.settings, effective_locked_settings = u.locked,
             updated_at = now()
         FROM unnest($1::text[], $2::bool[], $3::text[], $4::text[], $5::text[])
              AS u(name, active, services, settings, locked)
         WHERE a.name = u.name",
    )
    .bind(&names)
    .bind(&active)
    .bind(&services)
    .bind(&settings)
    .bind(&locked)
    .execute(connection)
    .await
    .map_err(database("write effective values"))?;
    Ok(())
}

async fn write_archives(connection: &mut PgConnection, plan: &Plan) -> Result<()> {
    if !plan.writes.archive_nodes.is_empty() {
        sqlx::query(
            "UPDATE accounts SET archived_at = now(), effective_active = false,
                                 updated_at = now()
             WHERE name = ANY($1) AND archived_at IS NULL",
        )
        .bind(&plan.writes.archive_nodes)
        .execute(&mut *connection)
        .await
        .map_err(database("archive accounts"))?;
    }
    if !plan.writes.archive_plans.is_empty() {
        sqlx::query(
            "UPDATE service_plans SET archived_at = now(), updated_at = now()
             WHERE name = ANY($1) AND archived_at IS NULL",
        )
        .bind(&plan.writes.archive_plans)
        .execute(connection)
        .await
        .map_err(database("archive service_plans"))?;
    }
    Ok(())
}

/// Released orphans: `managed_by` cleared, one statement per table (only rows this
/// source still manages).
async fn write_releases(connection: &mut PgConnection, plan: &Plan) -> Result<()> {
    let targets = [
        (
            &plan.writes.release_nodes,
            "UPDATE accounts SET managed_by = NULL, updated_at = now()
             WHERE name = ANY($1) AND managed_by = $2 AND archived_at IS NULL",
            "release accounts",
        ),
        (
            &plan.writes.release_plans,
            "UPDATE service_plans SET managed_by = NULL, updated_at = now()
             WHERE name = ANY($1) AND managed_by = $2 AND archived_at IS NULL",
            "release service_plans",
        ),
    ];
    for (names, sql, what) in targets {
        if names.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(names)
            .bind(&plan.source)
            .execute(&mut *connection)
            .await
            .map_err(database(what))?;
    }
    Ok(())
}

/// Up to this many rows are inserted by one `INSERT … SELECT unnest` rather than by
/// `COPY`. A copy sends its data and its end in two writes, and the second waits for
/// the server to acknowledge the first (Nagle's algorithm meeting the server's delayed
/// acknowledgement: some 40 ms on Linux), which would be most of a small edit's commit.
const SMALL_BATCH: usize = 1_000;

/// How many audit rows are encoded at a time.
const AUDIT_CHUNK: usize = 4_096;

/// Audit rows by COPY (or, for a few, one insert): the identity column numbers them in
/// stream order, which is plan order.
async fn copy_audit(
    connection: &mut PgConnection,
    batch: &Batch<'_>,
    context: &ApplyContext,
) -> Result<()> {
    if batch.audit.is_empty() {
        return Ok(());
    }
    if batch.audit.len() <= SMALL_BATCH {
        return insert_audit(connection, batch, context).await;
    }
    let mut copy = BinaryCopy::start(
        connection,
        "COPY audit_log (actor, source, revision, op, kind, name, before, after)
         FROM STDIN (FORMAT binary)",
        "copy audit_log",
    )
    .await?;
    for entries in batch.audit.chunks(AUDIT_CHUNK) {
        for entry in entries? {
            copy.row(8).await?;
            copy.text(Some(&context.actor));
            copy.text(Some(&context.source));
            copy.text(context.revision.as_deref());
            copy.text(Some(entry.op.as_str()));
            copy.text(Some(entry.kind.as_str()));
            copy.text(Some(entry.name));
            copy.text(entry.before.as_deref());
            copy.text(entry.after.as_deref());
        }
    }
    copy.finish().await?;
    Ok(())
}

/// A few audit rows in one statement, inserted in plan order.
async fn insert_audit(
    connection: &mut PgConnection,
    batch: &Batch<'_>,
    context: &ApplyContext,
) -> Result<()> {
    let entries = &batch.audit.entries(0..batch.audit.len())?;
    let ops: Vec<&str> = entries.iter().map(|entry| entry.op.as_str()).collect();
    let kinds: Vec<&str> = entries.iter().map(|entry| entry.kind.as_str()).collect();
    let names: Vec<&str> = entries.iter().map(|entry| entry.name).collect();
    let before: Vec<Option<&str>> = entries
        .iter()
        .map(|entry| entry.before.as_deref())
        .collect();
    let after: Vec<Option<&str>> = entries.iter().map(|entry| entry.after.as_deref()).collect();
    sqlx::query(
        "INSERT INTO audit_log (actor, source, revision, op, kind, name, before, after)
         SELECT $1, $2, $3, op, kind, name, before, after
         FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
             WITH ORDINALITY AS entry (op, kind, name, before, after, position)
         ORDER BY position",
    )
    .bind(&context.actor)
    .bind(&context.source)
    .bind(context.revision.as_deref())
    .bind(&ops)
    .bind(&kinds)
    .bind(&names)
    .bind(&before)
    .bind(&after)
    .execute(connection)
    .await
    .map_err(database("insert audit_log"))?;
    Ok(())
}
