//! The SQLite baselines: prepared statements executed per row in one transaction,
//! on a connection configured as canopy's (WAL, `synchronous = NORMAL`, foreign keys,
//! statement journals in memory).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, Statement, ToSql, params};

use super::{
    ACCOUNT_COLUMNS, RawAccount, RawChange, RawPlan, RawRead, RawRows, RawUser, USER_COLUMNS,
    database_error, timed,
};
use crate::store::Result;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

fn open(path: &Path) -> Result<Connection> {
    let connection = Connection::open(path).map_err(database_error("open"))?;
    let _mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(database_error("enable WAL"))?;
    connection
        .execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )
        .map_err(database_error("configure"))?;
    Ok(connection)
}

pub(super) fn insert(path: &Path, rows: &RawRows) -> Result<Duration> {
    let mut connection = open(path)?;
    let (elapsed, ()) = timed(|| {
        let transaction = connection.transaction().map_err(database_error("begin"))?;
        insert_plans(&transaction, &rows.plans)?;
        insert_accounts(&transaction, &rows.accounts)?;
        insert_users(&transaction, &rows.users)?;
        transaction.commit().map_err(database_error("commit"))
    })?;
    Ok(elapsed)
}

fn insert_plans(connection: &Connection, plans: &[RawPlan]) -> Result<()> {
    let mut statement = connection
        .prepare(
            "INSERT INTO service_plans (name, billing, licenses, limits, display_name)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(database_error("prepare plan insert"))?;
    for plan in plans {
        statement
            .execute(params![
                plan.name,
                plan.billing,
                plan.licenses,
                plan.limits,
                plan.display_name
            ])
            .map_err(database_error("insert plan"))?;
    }
    Ok(())
}

/// Binds the 19 values of an accounts row in [`ACCOUNT_COLUMNS`] order.
fn account_values(account: &RawAccount) -> Vec<&dyn ToSql> {
    let mut values: Vec<&dyn ToSql> = account.text.iter().map(|text| text as &dyn ToSql).collect();
    values.push(&account.number);
    values.extend(account.flags.iter().map(|flag| flag as &dyn ToSql));
    values
}

fn insert_accounts(connection: &Connection, accounts: &[RawAccount]) -> Result<()> {
    let mut statement = connection
        .prepare(&format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
             ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ))
        .map_err(database_error("prepare account insert"))?;
    for account in accounts {
        statement
            .execute(account_values(account).as_slice())
            .map_err(database_error("insert account"))?;
    }
    Ok(())
}

fn insert_users(connection: &Connection, users: &[RawUser]) -> Result<()> {
    let mut statement = connection
        .prepare(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .map_err(database_error("prepare user insert"))?;
    for user in users {
        statement
            .execute(params![
                user.account,
                user.email,
                user.position,
                user.name,
                user.role,
                user.language,
                user.timezone
            ])
            .map_err(database_error("insert user"))?;
    }
    Ok(())
}

pub(super) fn select(path: &Path) -> Result<(Duration, RawRead)> {
    let mut connection = open(path)?;
    timed(|| {
        let transaction = connection.transaction().map_err(database_error("begin"))?;
        let plans = read_all(
            &mut prepare(
                &transaction,
                "SELECT name, billing, licenses, limits, display_name FROM service_plans
                 WHERE archived_at IS NULL ORDER BY name",
            )?,
            |row| {
                Ok(RawPlan {
                    name: row.get(0)?,
                    billing: row.get(1)?,
                    licenses: row.get(2)?,
                    limits: row.get(3)?,
                    display_name: row.get(4)?,
                })
            },
        )?;
        let accounts = read_all(
            &mut prepare(
                &transaction,
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE archived_at IS NULL
                     ORDER BY name"
                ),
            )?,
            read_account,
        )?;
        let users = read_all(
            &mut prepare(
                &transaction,
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY account, position"),
            )?,
            |row| {
                Ok(RawUser {
                    account: row.get(0)?,
                    email: row.get(1)?,
                    position: row.get(2)?,
                    name: row.get(3)?,
                    role: row.get(4)?,
                    language: row.get(5)?,
                    timezone: row.get(6)?,
                })
            },
        )?;
        transaction.commit().map_err(database_error("commit"))?;
        Ok(RawRead {
            plans: std::hint::black_box(plans).len(),
            accounts: std::hint::black_box(accounts).len(),
            users: std::hint::black_box(users).len(),
        })
    })
}

fn prepare<'a>(connection: &'a Connection, sql: &str) -> Result<Statement<'a>> {
    connection
        .prepare(sql)
        .map_err(database_error("prepare select"))
}

fn read_all<T>(
    statement: &mut Statement<'_>,
    decode: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    statement
        .query_map([], decode)
        .map_err(database_error("select"))?
        .collect::<rusqlite::Result<Vec<T>>>()
        .map_err(database_error("decode row"))
}

fn read_account(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawAccount> {
    let mut text: [Option<String>; 15] = Default::default();
    for (index, column) in text.iter_mut().enumerate() {
        *column = row.get(index)?;
    }
    Ok(RawAccount {
        text,
        number: row.get(15)?,
        flags: [row.get(16)?, row.get(17)?, row.get(18)?],
    })
}

pub(super) fn change(path: &Path, change: &RawChange) -> Result<Duration> {
    let mut connection = open(path)?;
    let (elapsed, ()) = timed(|| {
        let transaction = connection.transaction().map_err(database_error("begin"))?;
        update_plans(&transaction, &change.plans)?;
        insert_accounts(&transaction, &change.inserted)?;
        update_accounts(&transaction, &change.updated)?;
        archive_accounts(&transaction, &change.archived)?;
        replace_users(&transaction, &change.users_replaced)?;
        insert_users(&transaction, &change.users)?;
        transaction.commit().map_err(database_error("commit"))
    })?;
    Ok(elapsed)
}

fn update_plans(connection: &Connection, plans: &[RawPlan]) -> Result<()> {
    let mut statement = connection
        .prepare(&format!(
            "UPDATE service_plans SET billing = ?2, licenses = ?3, limits = ?4,
             display_name = ?5, updated_at = {NOW} WHERE name = ?1"
        ))
        .map_err(database_error("prepare plan update"))?;
    for plan in plans {
        statement
            .execute(params![
                plan.name,
                plan.billing,
                plan.licenses,
                plan.limits,
                plan.display_name
            ])
            .map_err(database_error("update plan"))?;
    }
    Ok(())
}

fn update_accounts(connection: &Connection, accounts: &[RawAccount]) -> Result<()> {
    // Every column but the name (the key) and the account number (never changes).
    let mut statement = connection
        .prepare(&format!(
            "UPDATE accounts SET node_type = ?2, display_name = ?3, parent = ?4,
                 customer_type = ?5, plan = ?6, address = ?7, contact = ?8, services = ?9,
                 settings = ?10, locked_settings = ?11, effective_services = ?12,
                 effective_settings = ?13, effective_locked_settings = ?14,
                 managed_by = ?15, active = ?16, reseller = ?17, effective_active = ?18,
                 updated_at = {NOW}
             WHERE name = ?1"
        ))
        .map_err(database_error("prepare account update"))?;
    for account in accounts {
        let mut values: Vec<&dyn ToSql> =
            account.text.iter().map(|text| text as &dyn ToSql).collect();
        values.extend(account.flags.iter().map(|flag| flag as &dyn ToSql));
        statement
            .execute(values.as_slice())
            .map_err(database_error("update account"))?;
    }
    Ok(())
}

fn archive_accounts(connection: &Connection, names: &[String]) -> Result<()> {
    let mut statement = connection
        .prepare(&format!(
            "UPDATE accounts SET archived_at = {NOW}, effective_active = 0,
             updated_at = {NOW} WHERE name = ?1"
        ))
        .map_err(database_error("prepare archive"))?;
    for name in names {
        statement
            .execute([name])
            .map_err(database_error("archive account"))?;
    }
    Ok(())
}

fn replace_users(connection: &Connection, accounts: &[String]) -> Result<()> {
    let mut statement = connection
        .prepare("DELETE FROM users WHERE account = ?1")
        .map_err(database_error("prepare user delete"))?;
    for account in accounts {
        statement
            .execute([account])
            .map_err(database_error("delete users"))?;
    }
    Ok(())
}
