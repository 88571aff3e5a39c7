//! The two ways a PostgreSQL store excludes other writers, chosen by the URL's
//! `canopy_lock` setting.
//!
//! * `advisory` (the default): the writer lock is `pg_advisory_xact_lock`, held by the
//!   transaction; the daemon's single-writer role is a session-level advisory lock on
//!   the store's connection, released by the server when the connection ends.
//! * `table`, for engines without advisory locks (CockroachDB, and any server where
//!   the advisory functions are revoked): the writer lock is a row lock
//!   (`SELECT … FOR UPDATE`) on the `writer` row of `canopy_locks`, held by the
//!   transaction; the single-writer role is a **lease** on the `session` row: a holder
//!   name and an expiry on the server's clock, renewed by every
//!   [`Store::holds_session_lock`](super::super::Store::holds_session_lock) call. A
//!   process that dies stops renewing, and a standby takes over once the lease has
//!   expired (`canopy_lock_ttl`, default 15 s). Writes are fenced: a write transaction
//!   of the lease holder first locks the `session` row and checks it still holds an
//!   unexpired lease, so a writer whose lease was taken over cannot commit, and no
//!   one can take the lease over while its transaction runs.
//!
//! Every process on one database must use the same setting: an advisory-lock writer
//! and a table-lock writer do not see each other's locks.

use std::time::Duration;

use sqlx::postgres::PgConnection;

use super::super::{Result, StoreError};
use super::{SESSION_LOCK, WRITER_LOCK, database, simple};

/// Lease length when the URL sets none.
pub(super) const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// How this store locks; parsed from the URL by [`super::connect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Locking {
    Advisory,
    Table { lease: Duration },
}

impl Locking {
    /// Parses the value of `canopy_lock`.
    pub(super) fn parse(value: &str, lease: Option<Duration>) -> std::result::Result<Self, String> {
        match (value, lease) {
            ("advisory", None) => Ok(Locking::Advisory),
            ("advisory", Some(_)) => {
                Err("canopy_lock_ttl applies only with canopy_lock=table".to_string())
            }
            ("table", lease) => Ok(Locking::Table {
                lease: lease.unwrap_or(DEFAULT_LEASE),
            }),
            (other, _) => Err(format!(
                "canopy_lock `{other}` is not one of `advisory` (the default) or `table`"
            )),
        }
    }
}

/// The lock table of `canopy_lock=table`, created before anything else (the
/// migrator itself takes the writer lock). Safe to run again.
const CREATE_LOCK_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS canopy_locks (
        name       TEXT PRIMARY KEY,
        holder     TEXT,
        expires_at TIMESTAMPTZ
    );
    INSERT INTO canopy_locks (name) VALUES ('writer'), ('session') ON CONFLICT (name) DO NOTHING";

/// A store's locking state: the mode, and in table mode the name this store holds the
/// lease under and whether it believes it holds it.
pub(super) struct Locks {
    pub(super) mode: Locking,
    holder: String,
    leased: bool,
}

impl Locks {
    pub(super) fn new(mode: Locking) -> Locks {
        Locks {
            mode,
            holder: holder_name(),
            leased: false,
        }
    }

    /// Prepares the database for this mode (table mode: the lock table exists).
    pub(super) async fn prepare(&self, connection: &mut PgConnection) -> Result<()> {
        if self.mode == Locking::Advisory {
            return Ok(());
        }
        // Two processes creating the table at the same moment: one of them fails on
        // the catalog's unique index and finds the table there when it tries again.
        match simple(connection, "create canopy_locks", CREATE_LOCK_TABLE).await {
            Ok(()) => Ok(()),
            Err(_) => simple(connection, "create canopy_locks", CREATE_LOCK_TABLE).await,
        }
    }

    /// Takes the writer lock inside the open transaction (migrations and applies), and,
    /// for the lease holder in table mode, checks the lease (the fence).
    pub(super) async fn lock_writer(
        &self,
        connection: &mut PgConnection,
        operation: &'static str,
    ) -> Result<()> {
        match self.mode {
            Locking::Advisory => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITER_LOCK)
                    .execute(&mut *connection)
                    .await
                    .map_err(database(operation))?;
            }
            Locking::Table { .. } => {
                sqlx::query("SELECT name FROM canopy_locks WHERE name = 'writer' FOR UPDATE")
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(database(operation))?
                    .ok_or_else(missing_row)?;
                if self.leased {
                    let held = sqlx::query(
                        "SELECT name FROM canopy_locks
                         WHERE name = 'session' AND holder = $1 AND expires_at > now()
                         FOR UPDATE",
                    )
                    .bind(&self.holder)
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(database("check the single-writer lease"))?;
                    if held.is_none() {
                        return Err(StoreError::LostSessionLock);
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes the single-writer role if free (or already ours).
    pub(super) async fn try_lock_session(&mut self, connection: &mut PgConnection) -> Result<bool> {
        let lease = match self.mode {
            Locking::Advisory => {
                // Advisory locks nest: take it only when not held, so one unlock releases it.
                if holds_advisory(connection).await? {
                    return Ok(true);
                }
                return sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(SESSION_LOCK)
                    .fetch_one(connection)
                    .await
                    .map_err(database("take the session lock"));
            }
            Locking::Table { lease } => lease,
        };
        // SKIP LOCKED: a holder's write transaction has the row locked, and the lease
        // is then certainly not free; waiting for it would stall a standby.
        let taken = sqlx::query(
            "UPDATE canopy_locks SET holder = $1, expires_at = now() + make_interval(secs => $2)
             WHERE name IN (SELECT name FROM canopy_locks WHERE name = 'session'
                            FOR UPDATE SKIP LOCKED)
               AND (holder IS NULL OR holder = $1 OR expires_at IS NULL OR expires_at <= now())
             RETURNING name",
        )
        .bind(&self.holder)
        .bind(lease.as_secs_f64())
        .fetch_optional(connection)
        .await
        .map_err(database("take the single-writer lease"))?;
        self.leased = taken.is_some();
        Ok(self.leased)
    }

    /// Whether this store still holds the role; in table mode this renews the lease.
    pub(super) async fn holds_session_lock(
        &mut self,
        connection: &mut PgConnection,
    ) -> Result<bool> {
        let lease = match self.mode {
            Locking::Advisory => return holds_advisory(connection).await,
            Locking::Table { lease } => lease,
        };
        if !self.leased {
            return Ok(false);
        }
        let renewed = sqlx::query(
            "UPDATE canopy_locks SET expires_at = now() + make_interval(secs => $2)
             WHERE name = 'session' AND holder = $1 AND expires_at > now()
             RETURNING name",
        )
        .bind(&self.holder)
        .bind(lease.as_secs_f64())
        .fetch_optional(connection)
        .await
        .map_err(database("renew the single-writer lease"))?;
        self.leased = renewed.is_some();
        Ok(self.leased)
    }

    /// Gives the role up (nothing happens when this store does not hold it).
    pub(super) async fn unlock_session(&mut self, connection: &mut PgConnection) -> Result<()> {
        match self.mode {
            Locking::Advisory => {
                if holds_advisory(connection).await? {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(SESSION_LOCK)
                        .execute(connection)
                        .await
                        .map_err(database("release the session lock"))?;
                }
            }
            Locking::Table { .. } => {
                if self.leased {
                    sqlx::query(
                        "UPDATE canopy_locks SET holder = NULL, expires_at = NULL
                         WHERE name = 'session' AND holder = $1",
                    )
                    .bind(&self.holder)
                    .execute(connection)
                    .await
                    .map_err(database("release the single-writer lease"))?;
                    self.leased = false;
                }
            }
        }
        Ok(())
    }
}

/// Whether this connection holds the session lock: its row in `pg_locks` (a bigint
/// advisory key is `classid` (high half), `objid` (low half), `objsubid` 1).
async fn holds_advisory(connection: &mut PgConnection) -> Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
            SELECT 1 FROM pg_locks
            WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
              AND classid::int8 = ($1::int8 >> 32) AND objid::int8 = ($1::int8 & 4294967295)
              AND objsubid = 1)",
    )
    .bind(SESSION_LOCK)
    .fetch_one(connection)
    .await
    .map_err(database("check the session lock"))
}

fn missing_row() -> StoreError {
    StoreError::database(
        "take the writer lock",
        super::super::Cause::new(
            "canopy_locks has no `writer` row (was it deleted by hand?)".to_string(),
            super::super::Retry::Permanent,
        ),
    )
}

/// A name no other store shares: host, process and a random part (two stores in one
/// process are two holders).
fn holder_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    format!("{host}/{}/{:016x}", std::process::id(), hasher.finish())
}
