//! The PostgreSQL backend (production), on sqlx: one connection, driven by a private
//! runtime behind the synchronous [`Store`] trait.
//!
//! ```text
//! caller thread (plain, or tokio's spawn_blocking)
//!   └─ PostgresStore::snapshot() ── runtime.block_on(async { sqlx … }) ── PgConnection
//!        private current-thread tokio runtime, owned by the store
//! ```
//!
//! **Why the trait stays synchronous.** SQLite (rusqlite) is synchronous and its work
//! belongs on a blocking thread anyway; canopy has one writer at a time, so a store is
//! used by one task at once; and the pure core (manifest, model, plan) stays free of
//! tokio. Async callers (the daemon, the controller) run store work on a blocking
//! thread (`tokio::task::spawn_blocking`, or one store thread fed by a channel). Each
//! `PostgresStore` owns a current-thread runtime and `block_on`s sqlx inside its
//! methods: a blocking thread of another runtime is not inside an async context, so
//! this works there (a test proves it). Never call a store directly on an async
//! worker thread: `block_on` panics there, as any blocking call would stall it.
//!
//! A write transaction starts with the writer lock ([`lock`]: `pg_advisory_xact_lock`,
//! or a row lock with `canopy_lock=table`), released by commit or rollback (or by the
//! server when the connection dies, which also rolls back). Snapshots outside a write transaction read in one
//! `REPEATABLE READ` transaction so the three queries see one state. Reads are
//! streamed ([`read`]); bulk writes use binary `COPY` ([`copy`]) for new rows and
//! `unnest` arrays for updates ([`write`]): a constant number of round trips per apply,
//! whatever its size. [`connect`] parses the URL (TLS, `PG*` variables, `.pgpass`,
//! `connect_timeout`) and explains failed connections; [`listen`] streams
//! `NOTIFY canopy_changes`.

mod connect;
mod control;
mod copy;
mod listen;
mod lock;
mod read;
mod write;

use std::borrow::Cow;

use sqlx::Row;
use sqlx::postgres::PgConnection;

use crate::plan::Plan;

use super::migrations::{self, Migrated};
use super::{
    ApplyContext, ApplyReport, AuditRecord, ChangeStamp, Result, Snapshot, Store, StoreError,
    UsageRow, WriteTxn,
};
use read::Rows;

#[cfg(feature = "testing")]
pub(crate) use copy::BinaryCopy;
pub use listen::{CHANNEL, Notification, listen};

/// The advisory lock key every canopy writer (and migrator) takes: "canopy" in ASCII.
pub const WRITER_LOCK: i64 = 0x6361_6e6f_7079;

/// The session-level advisory lock key of the single-writer role ([`Store::try_lock_session`]):
/// "canopyd" in ASCII, distinct from [`WRITER_LOCK`].
pub const SESSION_LOCK: i64 = 0x0063_616e_6f70_7964;

/// A PostgreSQL database.
pub struct PostgresStore {
    runtime: tokio::runtime::Runtime,
    connection: PgConnection,
    locks: lock::Locks,
}

fn database(operation: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| StoreError::database(operation, error)
}

/// Runs one statement (or several, with no parameters) with the simple protocol.
pub(crate) async fn simple(
    connection: &mut PgConnection,
    operation: &'static str,
    sql: &'static str,
) -> Result<()> {
    sqlx::raw_sql(sql)
        .execute(connection)
        .await
        .map_err(database(operation))?;
    Ok(())
}

impl PostgresStore {
    /// Connects and migrates.
    pub fn connect(url: &str) -> Result<(PostgresStore, Migrated)> {
        let mut store = PostgresStore::connect_unmigrated(url)?;
        let migrated = store.run_locked(async |connection, locks| {
            locks.prepare(connection).await?;
            migrate(connection, locks).await
        })?;
        Ok((store, migrated))
    }

    /// Connects without migrating (for the raw baselines, which time bare SQL).
    pub(crate) fn connect_unmigrated(url: &str) -> Result<PostgresStore> {
        let settings = connect::Settings::parse(url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|error| StoreError::Connect {
                url: settings.shown.clone(),
                cause: error.into(),
            })?;
        let connection = runtime.block_on(settings.connect())?;
        Ok(PostgresStore {
            runtime,
            connection,
            locks: lock::Locks::new(settings.locking),
        })
    }

    /// Runs async work on this store's connection, to completion, on its own runtime.
    pub(crate) fn run<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let PostgresStore {
            runtime,
            connection,
            ..
        } = self;
        runtime.block_on(work(connection))
    }

    /// [`run`](Self::run), with this store's locking state.
    fn run_locked<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut PgConnection, &mut lock::Locks) -> Result<T>,
    ) -> Result<T> {
        let PostgresStore {
            runtime,
            connection,
            locks,
        } = self;
        runtime.block_on(work(connection, locks))
    }
}

async fn schema_version(connection: &mut PgConnection) -> Result<i64> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('canopy_schema_version') IS NOT NULL")
            .fetch_one(&mut *connection)
            .await
            .map_err(database("read schema version"))?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::int8 FROM canopy_schema_version")
        .fetch_one(&mut *connection)
        .await
        .map_err(database("read schema version"))
}

async fn migrate(connection: &mut PgConnection, locks: &lock::Locks) -> Result<Migrated> {
    let found = schema_version(connection).await?;
    if migrations::pending(migrations::POSTGRES, found)?.is_empty() {
        return Ok(Migrated {
            from: found,
            to: found,
        });
    }
    simple(connection, "begin migration", "BEGIN").await?;
    let migrated = migrate_in_transaction(connection, locks).await;
    let end = if migrated.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = simple(connection, "end migration", end).await;
    let migrated = migrated?;
    ended?;
    Ok(migrated)
}

async fn migrate_in_transaction(
    connection: &mut PgConnection,
    locks: &lock::Locks,
) -> Result<Migrated> {
    locks.lock_writer(connection, "lock for migration").await?;
    simple(
        connection,
        "create canopy_schema_version",
        "CREATE TABLE IF NOT EXISTS canopy_schema_version (
             version     BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let from = schema_version(connection).await?;
    let mut to = from;
    for migration in migrations::pending(migrations::POSTGRES, from)? {
        simple(connection, "run migration", migration.sql).await?;
        sqlx::query("INSERT INTO canopy_schema_version (version, description) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(migration.description)
            .execute(&mut *connection)
            .await
            .map_err(database("record migration"))?;
        to = migration.version;
    }
    Ok(Migrated { from, to })
}

impl Store for PostgresStore {
    fn snapshot(&mut self) -> Result<Snapshot> {
        self.run(async |connection| {
            simple(
                connection,
                "begin read",
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            )
            .await?;
            let loaded = read::load(connection, Rows::All).await;
            let ended = simple(connection, "end read", "COMMIT").await;
            let loaded = loaded?;
            ended?;
            Ok(loaded.snapshot)
        })
    }

    fn begin(&mut self) -> Result<Box<dyn WriteTxn + '_>> {
        self.run_locked(async |connection, locks| {
            simple(connection, "begin write", "BEGIN").await?;
            let locked = locks.lock_writer(connection, "take the writer lock").await;
            if let Err(error) = locked {
                let _ = simple(connection, "roll back", "ROLLBACK").await;
                return Err(error);
            }
            Ok(())
        })?;
        Ok(Box::new(PostgresTxn {
            store: self,
            handed_out: None,
            open: true,
        }))
    }

    fn usage(&mut self, period: Option<&str>) -> Result<Vec<UsageRow>> {
        self.run(async |connection| {
            let rows = sqlx::query(
                "SELECT account, metric, period, amount FROM usage
                 WHERE $1::text IS NULL OR period = $1
                 ORDER BY period, account, metric",
            )
            .bind(period)
            .fetch_all(connection)
            .await
            .map_err(database("read usage"))?;
            rows.iter()
                .map(|row| {
                    Ok(UsageRow {
                        account: row.try_get(0)?,
                        metric: row.try_get(1)?,
                        period: row.try_get(2)?,
                        amount: row.try_get(3)?,
                    })
                })
                .collect::<std::result::Result<_, sqlx::Error>>()
                .map_err(database("read usage"))
        })
    }

    fn record_usage(&mut self, usage: &[UsageRow]) -> Result<()> {
        let accounts: Vec<&str> = usage.iter().map(|row| row.account.as_str()).collect();
        let metrics: Vec<&str> = usage.iter().map(|row| row.metric.as_str()).collect();
        let periods: Vec<&str> = usage.iter().map(|row| row.period.as_str()).collect();
        let amounts: Vec<f64> = usage.iter().map(|row| row.amount).collect();
        self.run(async |connection| {
            sqlx::query(
                "INSERT INTO usage (account, metric, period, amount)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[])
                 ON CONFLICT (account, metric, period) DO UPDATE SET amount = EXCLUDED.amount",
            )
            .bind(&accounts)
            .bind(&metrics)
            .bind(&periods)
            .bind(&amounts)
            .execute(connection)
            .await
            .map_err(database("write usage"))?;
            Ok(())
        })
    }

    fn audit(&mut self, after_sequence: i64, limit: usize) -> Result<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async |connection| {
            let rows = sqlx::query(
                "SELECT sequence,
                        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                        actor, source, revision, op, kind, name, before, after
                 FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2",
            )
            .bind(after_sequence)
            .bind(limit)
            .fetch_all(connection)
            .await
            .map_err(database("read audit_log"))?;
            rows.iter()
                .map(|row| {
                    Ok(AuditRecord {
                        sequence: row.try_get(0)?,
                        at: row.try_get(1)?,
                        actor: row.try_get(2)?,
                        source: row.try_get(3)?,
                        revision: row.try_get(4)?,
                        op: row.try_get(5)?,
                        kind: row.try_get(6)?,
                        name: row.try_get(7)?,
                        before: super::audit::parse_json(row.try_get(8)?),
                        after: super::audit::parse_json(row.try_get(9)?),
                    })
                })
                .collect::<std::result::Result<_, sqlx::Error>>()
                .map_err(database("read audit_log"))
        })
    }

    fn suspension(&mut self) -> Result<Option<super::Suspension>> {
        self.run(async |connection| control::suspension(connection).await)
    }

    fn suspend(&mut self, seconds: i64, reason: &str, by: &str) -> Result<super::Suspension> {
        self.run(async |connection| control::suspend(connection, seconds, reason, by).await)
    }

    fn resume(&mut self) -> Result<bool> {
        self.run(async |connection| control::resume(connection).await)
    }

    fn hold_plan(&mut self, held: &super::HeldPlan) -> Result<()> {
        self.run(async |connection| control::hold_plan(connection, held).await)
    }

    fn held_plans(&mut self) -> Result<Vec<super::HeldPlan>> {
        self.run(async |connection| control::held_plans(connection).await)
    }

    fn release_held_plans(&mut self, source: &str, id: Option<&str>) -> Result<()> {
        self.run(async |connection| control::release_held_plans(connection, source, id).await)
    }

    fn change_counter(&mut self) -> Result<i64> {
        self.run(async |connection| {
            sqlx::query_scalar("SELECT counter FROM canopy_changes WHERE id = 1")
                .fetch_one(connection)
                .await
                .map_err(database("read the change counter"))
        })
    }

    fn change_stamp(&mut self) -> Result<ChangeStamp> {
        self.run(async |connection| read_stamp(connection, READ_STAMP).await)
    }

    fn try_lock_session(&mut self) -> Result<bool> {
        self.run_locked(async |connection, locks| locks.try_lock_session(connection).await)
    }

    fn unlock_session(&mut self) -> Result<()> {
        self.run_locked(async |connection, locks| locks.unlock_session(connection).await)
    }

    fn holds_session_lock(&mut self) -> Result<bool> {
        self.run_locked(async |connection, locks| locks.holds_session_lock(connection).await)
    }

    fn session_lease(&self) -> Option<std::time::Duration> {
        match self.locks.mode {
            lock::Locking::Advisory => None,
            lock::Locking::Table { lease } => Some(lease),
        }
    }
}

/// A write transaction holding the writer lock; rolled back when dropped
/// uncommitted.
struct PostgresTxn<'a> {
    store: &'a mut PostgresStore,
    /// The fingerprint of the snapshot handed out by `snapshot`, which is moved to the
    /// caller rather than copied.
    handed_out: Option<String>,
    open: bool,
}

impl WriteTxn for PostgresTxn<'_> {
    fn change_counter(&mut self) -> Result<i64> {
        self.store.run(async |connection| {
            sqlx::query_scalar("SELECT counter FROM canopy_changes WHERE id = 1 FOR UPDATE")
                .fetch_one(connection)
                .await
                .map_err(database("read the change counter"))
        })
    }

    fn change_stamp(&mut self) -> Result<ChangeStamp> {
        self.store
            .run(async |connection| read_stamp(connection, LOCK_STAMP).await)
    }

    fn trust_snapshot(&mut self, fingerprint: &str) {
        self.handed_out = Some(fingerprint.to_string());
    }

    fn read_nodes(&mut self, names: &[&str]) -> Result<Snapshot> {
        let loaded = self
            .store
            .run(async |connection| read::load(connection, Rows::Named(names)).await)?;
        Ok(loaded.snapshot)
    }

    fn fingerprint(&mut self) -> Result<String> {
        self.store
            .run(async |connection| read::fingerprint(connection).await)
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let loaded = self
            .store
            .run(async |connection| read::load(connection, Rows::All).await)?;
        self.handed_out = Some(loaded.snapshot.fingerprint.clone());
        Ok(loaded.snapshot)
    }

    fn apply_against(
        &mut self,
        plan: &Plan,
        live: Option<&Snapshot>,
        context: &ApplyContext,
    ) -> Result<ApplyReport> {
        // Taken out: what this transaction sees changes with the writes.
        let handed_out = self.handed_out.take();
        self.store.run(async |connection| {
            let live = match live {
                Some(live) if handed_out.as_ref() == Some(&live.fingerprint) => Cow::Borrowed(live),
                _ => Cow::Owned(
                    read::load_for_apply(connection, handed_out, plan)
                        .await?
                        .snapshot,
                ),
            };
            super::batch::check_fingerprint(plan, &live)?;
            let needed = super::batch::numbers_needed(plan, &live);
            let first_number = write::allocate_numbers(connection, needed).await?;
            let batch = super::batch::prepare(plan, &live, first_number)?;
            write::write_batch(connection, plan, &batch, context).await?;
            Ok(ApplyReport {
                assigned: batch.assigned,
                audit_rows: batch.audit.len(),
            })
        })
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        // After COMMIT, failed or not, the transaction is over.
        self.open = false;
        self.store.run(async |connection| {
            sqlx::raw_sql("COMMIT")
                .execute(connection)
                .await
                .map(|_| ())
                .map_err(|error| {
                    let foreign_key = matches!(
                        &error,
                        sqlx::Error::Database(database) if database.code().as_deref() == Some("23503")
                    );
                    if foreign_key {
                        StoreError::BrokenReferences {
                            list: super::Cause::from(error).message().to_string(),
                        }
                    } else {
                        StoreError::database("commit", error)
                    }
                })
        })
    }
}

impl Drop for PostgresTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            // A lost connection rolled back already; nothing else can fail here.
            let _ = self
                .store
                .run(async |connection| simple(connection, "roll back", "ROLLBACK").await);
        }
    }
}

/// The change stamp, read by `sql` (one of the two below).
async fn read_stamp(connection: &mut PgConnection, sql: &'static str) -> Result<ChangeStamp> {
    let (counter, nonce): (i64, i64) = sqlx::query_as(sql)
        .fetch_one(connection)
        .await
        .map_err(database("read the change stamp"))?;
    Ok(ChangeStamp { counter, nonce })
}

const READ_STAMP: &str = "SELECT counter, nonce FROM canopy_changes WHERE id = 1";
/// Inside a write transaction: locked as the change counter is.
const LOCK_STAMP: &str = "SELECT counter, nonce FROM canopy_changes WHERE id = 1 FOR UPDATE";
