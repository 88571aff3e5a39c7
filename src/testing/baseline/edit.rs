//! The daemon's baselines: one account row updated and committed (the least a
//! one-account edit costs the database), and a checksum over every column of the
//! `accounts` table (the least a full re-read costs it). The connection is opened
//! before the clock starts.

use std::path::Path;
use std::time::Duration;

use super::{database_error, timed};
use crate::store::Result;
use crate::store::postgres::{PostgresStore, simple};

/// SQLite: every column of every row is touched by the sum.
const SQLITE_CHECKSUM: &str = "SELECT count(*), total(length(name) + length(node_type)
    + length(display_name) + length(coalesce(parent, '')) + length(coalesce(plan, ''))
    + length(coalesce(services, '')) + length(coalesce(settings, ''))
    + length(coalesce(effective_services, '')) + length(coalesce(effective_settings, ''))
    + coalesce(account_number, 0) + active + effective_active) FROM accounts";

/// PostgreSQL: a hash of each whole row, summed.
const POSTGRES_CHECKSUM: &str =
    "SELECT count(*)::bigint, sum(hashtext(accounts::text)::bigint)::float8 FROM accounts";

const UPDATE: &str = "UPDATE accounts SET display_name = $1 WHERE name = $2";

/// A connection configured as canopy's (the database is in WAL mode already).
fn sqlite_open(path: &Path) -> Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open(path).map_err(database_error("open"))?;
    connection
        .execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )
        .map_err(database_error("configure"))?;
    Ok(connection)
}

pub(super) fn sqlite_updates(path: &Path, edits: &[(String, String)]) -> Result<Vec<Duration>> {
    let mut connection = sqlite_open(path)?;
    edits
        .iter()
        .map(|(name, display_name)| {
            let (elapsed, ()) = timed(|| {
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(database_error("begin"))?;
                transaction
                    .execute(
                        "UPDATE accounts SET display_name = ?1 WHERE name = ?2",
                        rusqlite::params![display_name, name],
                    )
                    .map_err(database_error("update"))?;
                transaction.commit().map_err(database_error("commit"))
            })?;
            Ok(elapsed)
        })
        .collect()
}

pub(super) fn sqlite_checksum(path: &Path) -> Result<(Duration, f64)> {
    let connection = sqlite_open(path)?;
    timed(|| {
        connection
            .query_row(SQLITE_CHECKSUM, [], |row| row.get::<_, f64>(1))
            .map_err(database_error("checksum"))
    })
}

pub(super) fn postgres_updates(url: &str, edits: &[(String, String)]) -> Result<Vec<Duration>> {
    let mut store = PostgresStore::connect_unmigrated(url)?;
    edits
        .iter()
        .map(|(name, display_name)| {
            let (elapsed, ()) = timed(|| {
                store.run(async |connection| {
                    simple(connection, "begin", "BEGIN").await?;
                    sqlx::query(UPDATE)
                        .bind(display_name)
                        .bind(name)
                        .execute(&mut *connection)
                        .await
                        .map_err(database_error("update"))?;
                    simple(connection, "commit", "COMMIT").await
                })
            })?;
            Ok(elapsed)
        })
        .collect()
}

pub(super) fn postgres_checksum(url: &str) -> Result<(Duration, f64)> {
    let mut store = PostgresStore::connect_unmigrated(url)?;
    timed(|| {
        store.run(async |connection| {
            let (_, sum): (i64, Option<f64>) = sqlx::query_as(POSTGRES_CHECKSUM)
                .fetch_one(&mut *connection)
                .await
                .map_err(database_error("checksum"))?;
            Ok(sum.unwrap_or(0.0))
        })
    })
}
