//! The PostgreSQL baselines: binary `COPY` for new rows, `COPY` into a temporary
//! table then one `UPDATE … FROM` for changed rows, `= ANY($1)` for the by-name work.

use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Transaction};

use super::{
    ACCOUNT_COLUMNS, RawAccount, RawChange, RawPlan, RawRead, RawRows, RawUser, USER_COLUMNS,
    database_error, timed,
};
use crate::store::Result;

fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).map_err(database_error("connect"))
}

fn account_types() -> Vec<Type> {
    let mut types = vec![Type::TEXT; 15];
    types.extend([Type::INT8, Type::BOOL, Type::BOOL, Type::BOOL]);
    types
}

pub(super) fn insert(url: &str, rows: &RawRows) -> Result<Duration> {
    let mut client = connect(url)?;
    let (elapsed, ()) = timed(|| {
        let mut transaction = client.transaction().map_err(database_error("begin"))?;
        for plan in &rows.plans {
            transaction
                .execute(
                    "INSERT INTO service_plans (name, billing, licenses, limits, display_name)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &plan.name,
                        &plan.billing,
                        &plan.licenses,
                        &plan.limits,
                        &plan.display_name,
                    ],
                )
                .map_err(database_error("insert plan"))?;
        }
        copy_accounts(&mut transaction, "accounts", &rows.accounts)?;
        copy_users(&mut transaction, &rows.users)?;
        transaction.commit().map_err(database_error("commit"))
    })?;
    Ok(elapsed)
}

fn copy_accounts(
    transaction: &mut Transaction<'_>,
    table: &str,
    accounts: &[RawAccount],
) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let sink = transaction
        .copy_in(&format!(
            "COPY {table} ({ACCOUNT_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(database_error("copy accounts"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &account_types());
    for account in accounts {
        let mut values: Vec<&(dyn ToSql + Sync)> = account
            .text
            .iter()
            .map(|text| text as &(dyn ToSql + Sync))
            .collect();
        values.push(&account.number);
        values.extend(account.flags.iter().map(|flag| flag as &(dyn ToSql + Sync)));
        writer
            .write(&values)
            .map_err(database_error("copy account row"))?;
    }
    writer
        .finish()
        .map_err(database_error("finish account copy"))?;
    Ok(())
}

fn copy_users(transaction: &mut Transaction<'_>, users: &[RawUser]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let sink = transaction
        .copy_in(&format!(
            "COPY users ({USER_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(database_error("copy users"))?;
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
    for user in users {
        writer
            .write(&[
                &user.account,
                &user.email,
                &user.position,
                &user.name,
                &user.role,
                &user.language,
                &user.timezone,
            ])
            .map_err(database_error("copy user row"))?;
    }
    writer
        .finish()
        .map_err(database_error("finish user copy"))?;
    Ok(())
}

pub(super) fn select(url: &str) -> Result<(Duration, RawRead)> {
    let mut client = connect(url)?;
    timed(|| {
        let mut transaction = client.transaction().map_err(database_error("begin"))?;
        let plans: Vec<RawPlan> = query(
            &mut transaction,
            "SELECT name, billing, licenses, limits, display_name FROM service_plans
             WHERE archived_at IS NULL ORDER BY name",
        )?
        .iter()
        .map(|row| {
            Ok(RawPlan {
                name: row.try_get(0)?,
                billing: row.try_get(1)?,
                licenses: row.try_get(2)?,
                limits: row.try_get(3)?,
                display_name: row.try_get(4)?,
            })
        })
        .collect::<Result<_, postgres::Error>>()
        .map_err(database_error("decode plan"))?;
        let accounts: Vec<RawAccount> = query(
            &mut transaction,
            &format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE archived_at IS NULL ORDER BY name"
            ),
        )?
        .iter()
        .map(read_account)
        .collect::<Result<_, postgres::Error>>()
        .map_err(database_error("decode account"))?;
        let users: Vec<RawUser> = query(
            &mut transaction,
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY account, position"),
        )?
        .iter()
        .map(|row| {
            Ok(RawUser {
                account: row.try_get(0)?,
                email: row.try_get(1)?,
                position: row.try_get(2)?,
                name: row.try_get(3)?,
                role: row.try_get(4)?,
                language: row.try_get(5)?,
                timezone: row.try_get(6)?,
            })
        })
        .collect::<Result<_, postgres::Error>>()
        .map_err(database_error("decode user"))?;
        transaction.commit().map_err(database_error("commit"))?;
        Ok(RawRead {
            plans: std::hint::black_box(plans).len(),
            accounts: std::hint::black_box(accounts).len(),
            users: std::hint::black_box(users).len(),
        })
    })
}

fn query(transaction: &mut Transaction<'_>, sql: &str) -> Result<Vec<postgres::Row>> {
    transaction
        .query(sql, &[])
        .map_err(database_error("select"))
}

fn read_account(row: &postgres::Row) -> Result<RawAccount, postgres::Error> {
    let mut text: [Option<String>; 15] = Default::default();
    for (index, column) in text.iter_mut().enumerate() {
        *column = row.try_get(index)?;
    }
    Ok(RawAccount {
        text,
        number: row.try_get(15)?,
        flags: [row.try_get(16)?, row.try_get(17)?, row.try_get(18)?],
    })
}

pub(super) fn change(url: &str, change: &RawChange) -> Result<Duration> {
    let mut client = connect(url)?;
    let (elapsed, ()) = timed(|| {
        let mut transaction = client.transaction().map_err(database_error("begin"))?;
        update_plans(&mut transaction, &change.plans)?;
        copy_accounts(&mut transaction, "accounts", &change.inserted)?;
        update_accounts(&mut transaction, &change.updated)?;
        if !change.archived.is_empty() {
            transaction
                .execute(
                    "UPDATE accounts SET archived_at = now(), effective_active = false,
                     updated_at = now() WHERE name = ANY($1)",
                    &[&change.archived],
                )
                .map_err(database_error("archive accounts"))?;
        }
        if !change.users_replaced.is_empty() {
            transaction
                .execute(
                    "DELETE FROM users WHERE account = ANY($1)",
                    &[&change.users_replaced],
                )
                .map_err(database_error("delete users"))?;
        }
        copy_users(&mut transaction, &change.users)?;
        transaction.commit().map_err(database_error("commit"))
    })?;
    Ok(elapsed)
}

fn update_plans(transaction: &mut Transaction<'_>, plans: &[RawPlan]) -> Result<()> {
    for plan in plans {
        transaction
            .execute(
                "UPDATE service_plans SET billing = $2, licenses = $3, limits = $4,
                 display_name = $5, updated_at = now() WHERE name = $1",
                &[
                    &plan.name,
                    &plan.billing,
                    &plan.licenses,
                    &plan.limits,
                    &plan.display_name,
                ],
            )
            .map_err(database_error("update plan"))?;
    }
    Ok(())
}

/// Every column but the name (the key) and the account number (never changes).
fn update_accounts(transaction: &mut Transaction<'_>, accounts: &[RawAccount]) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    transaction
        .batch_execute(
            "CREATE TEMPORARY TABLE changed_accounts (LIKE accounts INCLUDING DEFAULTS)
             ON COMMIT DROP",
        )
        .map_err(database_error("create temporary table"))?;
    copy_accounts(transaction, "changed_accounts", accounts)?;
    transaction
        .batch_execute(
            "UPDATE accounts AS a SET node_type = c.node_type, display_name = c.display_name,
                 parent = c.parent, customer_type = c.customer_type, plan = c.plan,
                 address = c.address, contact = c.contact, services = c.services,
                 settings = c.settings, locked_settings = c.locked_settings,
                 effective_services = c.effective_services,
                 effective_settings = c.effective_settings,
                 effective_locked_settings = c.effective_locked_settings,
                 managed_by = c.managed_by, active = c.active, reseller = c.reseller,
                 effective_active = c.effective_active, updated_at = now()
             FROM changed_accounts AS c WHERE a.name = c.name",
        )
        .map_err(database_error("update accounts from the copied rows"))
}
