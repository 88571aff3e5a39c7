//! PostgreSQL writes of one apply, in a constant number of round trips: binary `COPY`
//! for rows that are new (accounts, users, audit), `unnest` arrays for rows that
//! change (upserts, effective values, archives). Every value travels as a parameter
//! or in the COPY stream, never in the SQL text.

use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use crate::plan::Plan;

use super::super::batch::{Batch, NodeRow};
use super::super::rows::{encode_effective, encode_limits};
use super::super::{ApplyContext, Result};
use super::database;

/// Takes `count` numbers from the counter in one statement; returns the first.
pub(super) fn allocate_numbers(transaction: &mut Transaction<'_>, count: i64) -> Result<i64> {
    if count == 0 {
        return Ok(0);
    }
    transaction
        .query_one(
            "UPDATE canopy_meta SET value = value + $1 WHERE key = 'next_account_number'
             RETURNING value - $1",
            &[&count],
        )
        .and_then(|row| row.try_get(0))
        .map_err(database("allocate account numbers"))
}

pub(super) fn write_batch(
    transaction: &mut Transaction<'_>,
    plan: &Plan,
    batch: &Batch<'_>,
    context: &ApplyContext,
) -> Result<()> {
    write_plans(transaction, plan)?;
    copy_nodes(transaction, &batch.inserts, &plan.source)?;
    upsert_nodes(transaction, &batch.upserts, &plan.source)?;
    write_users(transaction, batch)?;
    write_effective(transaction, plan)?;
    write_archives(transaction, plan)?;
    copy_audit(transaction, batch, context)
}

fn write_plans(transaction: &mut Transaction<'_>, plan: &Plan) -> Result<()> {
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
    transaction
        .execute(
            "INSERT INTO service_plans (name, billing, licenses, limits, display_name, managed_by)
             SELECT name, billing, licenses, limits, display_name, $6
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[])
                  AS p(name, billing, licenses, limits, display_name)
             ON CONFLICT (name) DO UPDATE SET
                 billing = EXCLUDED.billing, licenses = EXCLUDED.licenses,
                 limits = EXCLUDED.limits, display_name = EXCLUDED.display_name,
                 managed_by = EXCLUDED.managed_by, archived_at = NULL, updated_at = now()",
            &[
                &names,
                &billings,
                &licenses,
                &limits,
                &display_names,
                &plan.source,
            ],
        )
        .map_err(database("write service_plans"))?;
    Ok(())
}

const NODE_COLUMNS: &str = "name, node_type, display_name, parent, account_number, active,
    customer_type, reseller, plan, address, contact, services, settings, locked_settings,
    effective_active, effective_services, effective_settings, effective_locked_settings,
    managed_by";

const NODE_TYPES: [Type; 19] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// New rows go straight into `accounts` by binary COPY (the fastest path PostgreSQL has).
fn copy_nodes(transaction: &mut Transaction<'_>, rows: &[NodeRow<'_>], source: &str) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sink = transaction
        .copy_in(&format!(
            "COPY accounts ({NODE_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(database("copy accounts"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &NODE_TYPES);
    for row in rows {
        let write = row.write;
        let spec = &write.spec;
        let encoded = &row.encoded;
        let values: [&(dyn ToSql + Sync); 19] = [
            &write.name,
            &spec.node_type.as_str(),
            &spec.display_name,
            &spec.parent,
            &row.new_number,
            &spec.active,
            &spec.customer_type.map(|kind| kind.as_str()),
            &spec.reseller,
            &spec.plan,
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
        ];
        writer.write(&values).map_err(database("copy accounts"))?;
    }
    writer.finish().map_err(database("copy accounts"))?;
    Ok(())
}

/// Rows that exist (live or archived) are overwritten in one `INSERT … SELECT unnest`.
fn upsert_nodes(
    transaction: &mut Transaction<'_>,
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
    let names = column(&|r| Some(r.write.name.clone()));
    let types = column(&|r| Some(r.write.spec.node_type.as_str().to_string()));
    let display_names = column(&|r| Some(r.write.spec.display_name.clone()));
    let parents = column(&|r| r.write.spec.parent.clone());
    let numbers: Vec<Option<i64>> = rows.iter().map(|r| r.new_number).collect();
    let active = flags(&|r| r.write.spec.active);
    let customer_types = column(&|r| r.write.spec.customer_type.map(|k| k.as_str().to_string()));
    let resellers = flags(&|r| r.write.spec.reseller);
    let plans = column(&|r| r.write.spec.plan.clone());
    let addresses = column(&|r| r.encoded.address.clone());
    let contacts = column(&|r| r.encoded.contact.clone());
    let services = column(&|r| Some(r.encoded.services.to_string()));
    let settings = column(&|r| Some(r.encoded.settings.to_string()));
    let locked = column(&|r| Some(r.encoded.locked_settings.to_string()));
    let effective_active = flags(&|r| r.write.effective.active);
    let effective_services = column(&|r| Some(r.encoded.effective.services.to_string()));
    let effective_settings = column(&|r| Some(r.encoded.effective.settings.to_string()));
    let effective_locked = column(&|r| Some(r.encoded.effective.locked_settings.to_string()));
    transaction
        .execute(
            &format!(
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
            ),
            &[
                &names,
                &types,
                &display_names,
                &parents,
                &numbers,
                &active,
                &customer_types,
                &resellers,
                &plans,
                &addresses,
                &contacts,
                &services,
                &settings,
                &locked,
                &effective_active,
                &effective_services,
                &effective_settings,
                &effective_locked,
                &source,
            ],
        )
        .map_err(database("write accounts"))?;
    Ok(())
}

fn write_users(transaction: &mut Transaction<'_>, batch: &Batch<'_>) -> Result<()> {
    if !batch.clear_users.is_empty() {
        transaction
            .execute(
                "DELETE FROM users WHERE account = ANY($1)",
                &[&batch.clear_users],
            )
            .map_err(database("clear users"))?;
    }
    if batch
        .user_writes
        .iter()
        .all(|write| write.spec.users.is_empty())
    {
        return Ok(());
    }
    let sink = transaction
        .copy_in(
            "COPY users (account, email, position, name, role, language, timezone)
             FROM STDIN (FORMAT binary)",
        )
        .map_err(database("copy users"))?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for write in &batch.user_writes {
        for (position, user) in write.spec.users.iter().enumerate() {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            writer
                .write(&[
                    &write.name,
                    &user.email,
                    &position,
                    &user.name,
                    &user.role.as_str(),
                    &user.language,
                    &user.timezone,
                ])
                .map_err(database("copy users"))?;
        }
    }
    writer.finish().map_err(database("copy users"))?;
    Ok(())
}

fn write_effective(transaction: &mut Transaction<'_>, plan: &Plan) -> Result<()> {
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
    transaction
        .execute(
            "UPDATE accounts AS a
             SET effective_active = u.active, effective_services = u.services,
                 effective_settings = u.settings, effective_locked_settings = u.locked,
                 updated_at = now()
             FROM unnest($1::text[], $2::bool[], $3::text[], $4::text[], $5::text[])
                  AS u(name, active, services, settings, locked)
             WHERE a.name = u.name",
            &[&names, &active, &services, &settings, &locked],
        )
        .map_err(database("write effective values"))?;
    Ok(())
}

fn write_archives(transaction: &mut Transaction<'_>, plan: &Plan) -> Result<()> {
    if !plan.writes.archive_nodes.is_empty() {
        transaction
            .execute(
                "UPDATE accounts SET archived_at = now(), effective_active = false,
                                     updated_at = now()
                 WHERE name = ANY($1) AND archived_at IS NULL",
                &[&plan.writes.archive_nodes],
            )
            .map_err(database("archive accounts"))?;
    }
    if !plan.writes.archive_plans.is_empty() {
        transaction
            .execute(
                "UPDATE service_plans SET archived_at = now(), updated_at = now()
                 WHERE name = ANY($1) AND archived_at IS NULL",
                &[&plan.writes.archive_plans],
            )
            .map_err(database("archive service_plans"))?;
    }
    Ok(())
}

/// Audit rows by COPY: the identity column numbers them in stream order, which is
/// plan order.
fn copy_audit(
    transaction: &mut Transaction<'_>,
    batch: &Batch<'_>,
    context: &ApplyContext,
) -> Result<()> {
    if batch.audit.is_empty() {
        return Ok(());
    }
    let sink = transaction
        .copy_in(
            "COPY audit_log (actor, source, revision, op, kind, name, before, after)
             FROM STDIN (FORMAT binary)",
        )
        .map_err(database("copy audit_log"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::TEXT; 8]);
    for entry in &batch.audit {
        writer
            .write(&[
                &context.actor,
                &context.source,
                &context.revision,
                &entry.op.as_str(),
                &entry.kind.as_str(),
                &entry.name,
                &entry.before,
                &entry.after,
            ])
            .map_err(database("copy audit_log"))?;
    }
    writer.finish().map_err(database("copy audit_log"))?;
    Ok(())
}
