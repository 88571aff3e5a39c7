//! The PostgreSQL baselines: binary `COPY` for new rows, `COPY` into a temporary
//! table then one `UPDATE … FROM` for changed rows, `= ANY($1)` for the by-name work.
//! Same driver (sqlx) and COPY encoder as the store, none of its logic.

use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use super::{
    ACCOUNT_COLUMNS, RawAccount, RawChange, RawPlan, RawRead, RawRows, RawUser, USER_COLUMNS,
    database_error, timed,
};
use crate::store::Result;
use crate::store::postgres::{BinaryCopy, PostgresStore, simple};

pub(super) fn insert(url: &str, rows: &RawRows) -> Result<Duration> {
    let mut store = PostgresStore::connect_unmigrated(url)?;
    let (elapsed, ()) = timed(|| {
        store.run(async |connection| {
            simple(connection, "begin", "BEGIN").await?;
            for plan in &rows.plans {
                sqlx::query(
                    "INSERT INTO service_plans (name, billing, licenses, limits, display_name)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&plan.name)
                .bind(&plan.billing)
                .bind(plan.licenses)
                .bind(&plan.limits)
                .bind(&plan.display_name)
                .execute(&mut *connection)
                .await
                .map_err(database_error("insert plan"))?;
            }
            copy_accounts(connection, "accounts", &rows.accounts).await?;
            copy_users(connection, &rows.users).await?;
            simple(connection, "commit", "COMMIT").await
        })
    })?;
    Ok(elapsed)
}

async fn copy_accounts(
    connection: &mut PgConnection,
    table: &str,
    accounts: &[RawAccount],
) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let statement = format!("COPY {table} ({ACCOUNT_COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut copy = BinaryCopy::start(connection, &statement, "baseline: copy accounts").await?;
    for account in accounts {
        copy.row(19).await?;
        for text in &account.text {
            copy.text(text.as_deref());
        }
        copy.int8(account.number);
        for flag in account.flags {
            copy.bool(flag);
        }
    }
    copy.finish().await?;
    Ok(())
}

async fn copy_users(connection: &mut PgConnection, users: &[RawUser]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let statement = format!("COPY users ({USER_COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut copy = BinaryCopy::start(connection, &statement, "baseline: copy users").await?;
    for user in users {
        copy.row(7).await?;
        copy.text(Some(&user.account));
        copy.text(Some(&user.email));
        copy.int4(user.position);
        copy.text(Some(&user.name));
        copy.text(Some(&user.role));
        copy.text(user.language.as_deref());
        copy.text(user.timezone.as_deref());
    }
    copy.finish().await?;
    Ok(())
}

/// Streams a query's rows into `decode`, collecting what it returns.
async fn select_all<T>(
    connection: &mut PgConnection,
    sql: &str,
    decode: impl Fn(&PgRow) -> std::result::Result<T, sqlx::Error>,
) -> Result<Vec<T>> {
    // Built from this module's constant column lists only.
    let mut stream = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(connection);
    let mut values = Vec::new();
    while let Some(row) = stream.try_next().await.map_err(database_error("select"))? {
        values.push(decode(&row).map_err(database_error("decode"))?);
    }
    Ok(values)
}

pub(super) fn select(url: &str) -> Result<(Duration, RawRead)> {
    let mut store = PostgresStore::connect_unmigrated(url)?;
    timed(|| {
        store.run(async |connection| {
            simple(connection, "begin", "BEGIN").await?;
            let plans = select_all(
                connection,
                "SELECT name, billing, licenses, limits, display_name FROM service_plans
                 WHERE archived_at IS NULL ORDER BY name",
                |row| {
                    Ok(RawPlan {
                        name: row.try_get(0)?,
                        billing: row.try_get(1)?,
                        licenses: row.try_get(2)?,
                        limits: row.try_get(3)?,
                        display_name: row.try_get(4)?,
                    })
                },
            )
            .await?;
            let accounts = select_all(
                connection,
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE archived_at IS NULL ORDER BY name"
                ),
                read_account,
            )
            .await?;
            let users = select_all(
                connection,
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY account, position"),
                |row| {
                    Ok(RawUser {
                        account: row.try_get(0)?,
                        email: row.try_get(1)?,
                        position: row.try_get(2)?,
                        name: row.try_get(3)?,
                        role: row.try_get(4)?,
                        language: row.try_get(5)?,
                        timezone: row.try_get(6)?,
                    })
                },
            )
            .await?;
            simple(connection, "commit", "COMMIT").await?;
            Ok(RawRead {
                plans: std::hint::black_box(plans).len(),
                accounts: std::hint::black_box(accounts).len(),
                users: std::hint::black_box(users).len(),
            })
        })
    })
}

fn read_account(row: &PgRow) -> std::result::Result<RawAccount, sqlx::Error> {
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
    let mut store = PostgresStore::connect_unmigrated(url)?;
    let (elapsed, ()) = timed(|| {
        store.run(async |connection| {
            simple(connection, "begin", "BEGIN").await?;
            update_plans(connection, &change.plans).await?;
            copy_accounts(connection, "accounts", &change.inserted).await?;
            update_accounts(connection, &change.updated).await?;
            if !change.archived.is_empty() {
                sqlx::query(
                    "UPDATE accounts SET archived_at = now(), effective_active = false,
                     updated_at = now() WHERE name = ANY($1)",
                )
                .bind(&change.archived)
                .execute(&mut *connection)
                .await
                .map_err(database_error("archive accounts"))?;
            }
            if !change.users_replaced.is_empty() {
                sqlx::query("DELETE FROM users WHERE account = ANY($1)")
                    .bind(&change.users_replaced)
                    .execute(&mut *connection)
                    .await
                    .map_err(database_error("delete users"))?;
            }
            copy_users(connection, &change.users).await?;
            simple(connection, "commit", "COMMIT").await
        })
    })?;
    Ok(elapsed)
}

async fn update_plans(connection: &mut PgConnection, plans: &[RawPlan]) -> Result<()> {
    for plan in plans {
        sqlx::query(
            "UPDATE service_plans SET billing = $2, licenses = $3, limits = $4,
             display_name = $5, updated_at = now() WHERE name = $1",
        )
        .bind(&plan.name)
        .bind(&plan.billing)
        .bind(plan.licenses)
        .bind(&plan.limits)
        .bind(&plan.display_name)
        .execute(&mut *connection)
        .await
        .map_err(database_error("update plan"))?;
    }
    Ok(())
}

/// Every column but the name (the key) and the account number (never changes).
async fn update_accounts(connection: &mut PgConnection, accounts: &[RawAccount]) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    simple(
        connection,
        "create temporary table",
        "CREATE TEMPORARY TABLE changed_accounts (LIKE accounts INCLUDING DEFAULTS)
         ON COMMIT DROP",
    )
    .await?;
    copy_accounts(connection, "changed_accounts", accounts).await?;
    simple(
        connection,
        "update accounts from the copied rows",
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
    .await
}
