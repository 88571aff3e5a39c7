//! The SQLite backend (the embedded default): one connection, WAL mode, foreign keys
//! on, deferred to commit so that a plan may write a child before its parent.
//!
//! Reads go through borrowed rows ([`rows::AccountRow`]) so a snapshot copies each
//! string once. Writes are prepared statements (new rows in multi-row `INSERT`s) inside
//! the one `BEGIN IMMEDIATE` transaction, which is also the single-writer lock: a
//! second writer waits (busy timeout) until the first commits. A bulk write suspends
//! the change counter's per-row triggers for its duration ([`write::BULK_ROWS`]).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::model::{Interner, Node, ServicePlan};
use crate::plan::Plan;

mod control;
mod storage;
mod write;

use super::batch::{self, Batch, Loaded};
use super::migrations::{self, Migrated};
use super::rows::{
    AccountDecoder, AccountRow, Columns, Fingerprinter, PlanRow, SELECT_PLANS, UserAttacher,
    UserRow, select_accounts, select_users,
};
use super::{
    ApplyContext, ApplyReport, AuditRecord, Cause, ChangeStamp, Result, Retry, Snapshot, Store,
    StoreError, UsageRow, WriteTxn, redact,
};

/// How long a writer waits for another writer's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const NOW: &str = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// A SQLite database file (or an in-memory database).
pub struct SqliteStore {
    connection: Connection,
    session: SessionLock,
    /// The database file (`None` in memory), to explain filesystem errors.
    path: Option<PathBuf>,
}

/// The session lock: an exclusive `flock` on `<database file>.lock`, held by keeping
/// the file open (the kernel releases it when the process dies). An in-memory database
/// belongs to its one store, which always gets it.
enum SessionLock {
    File {
        path: PathBuf,
        held: Option<std::fs::File>,
    },
    Memory {
        held: bool,
    },
}

/// `<database file>.lock`, beside the database.
fn lock_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

impl SessionLock {
    fn try_lock(&mut self) -> Result<bool> {
        match self {
            SessionLock::Memory { held } => {
                *held = true;
                Ok(true)
            }
            SessionLock::File { held: Some(_), .. } => Ok(true),
            SessionLock::File { path, held } => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&*path)
                    .map_err(|error| {
                        StoreError::database(format!("open {}", path.display()), error)
                    })?;
                match file.try_lock() {
                    Ok(()) => {
                        *held = Some(file);
                        Ok(true)
                    }
                    Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                    Err(std::fs::TryLockError::Error(error)) => Err(StoreError::database(
                        format!("lock {}", path.display()),
                        error,
                    )),
                }
            }
        }
    }

    fn unlock(&mut self) {
        match self {
            SessionLock::Memory { held } => *held = false,
            // Closing the file releases the lock.
            SessionLock::File { held, .. } => *held = None,
        }
    }

    fn held(&self) -> bool {
        match self {
            SessionLock::Memory { held } => *held,
            SessionLock::File { held, .. } => held.is_some(),
        }
    }
}

fn database(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| StoreError::database(operation, error)
}

impl From<rusqlite::Error> for Cause {
    /// A busy or locked database (another writer) is transient; anything else is not.
    fn from(error: rusqlite::Error) -> Cause {
        let retry = match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Retry::Transient
            }
            _ => Retry::Permanent,
        };
        // A statement SQLite could not prepare is reported by its message alone: the
        // driver's text would quote canopy's whole SQL (a migration script, say).
        let message = match &error {
            rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
            _ => error.to_string(),
        };
        let cause = Cause::new(message, retry);
        let cause = match error.sqlite_error_code() {
            Some(code) => cause.with_code(format!("{code:?}")),
            None => cause,
        };
        cause.with_driver(error)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the file and migrates it. `url` is only for messages.
    pub fn open_file(path: &Path, url: &str) -> Result<(SqliteStore, Migrated)> {
        let connect_error = |error: rusqlite::Error| StoreError::Connect {
            url: redact(url),
            cause: error.into(),
        };
        let connection = Connection::open(path)
            .map_err(connect_error)
            .map_err(|error| storage::explain(error, path))?;
        let session = SessionLock::File {
            path: lock_path(path),
            held: None,
        };
        Self::configure(connection, session, Some(path.to_path_buf())).map_err(|error| {
            let error = match error {
                StoreError::Database { cause, .. } => StoreError::Connect {
                    url: redact(url),
                    cause,
                },
                other => other,
            };
            storage::explain(error, path)
        })
    }

    /// A private in-memory database, migrated.
    pub fn open_memory() -> Result<(SqliteStore, Migrated)> {
        let connection = Connection::open_in_memory().map_err(|error| StoreError::Connect {
            url: "sqlite::memory:".to_string(),
            cause: error.into(),
        })?;
        Self::configure(connection, SessionLock::Memory { held: false }, None)
    }

    fn configure(
        connection: Connection,
        session: SessionLock,
        path: Option<PathBuf>,
    ) -> Result<(SqliteStore, Migrated)> {
        let file = matches!(session, SessionLock::File { .. });
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(database("set busy timeout"))?;
        if file {
            // journal_mode answers with a row, so it is read rather than executed.
            let _mode: String = connection
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(database("enable WAL"))?;
        }
        // Every row canopy writes fires the change-counter trigger, so each statement
        // keeps a statement journal: in memory, not in a temporary file written per
        // statement (a third of a large apply's time went to those writes).
        connection
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(database("configure connection"))?;
        let mut store = SqliteStore {
            connection,
            session,
            path,
        };
        let migrated = store.migrate()?;
        Ok((store, migrated))
    }

    fn schema_version(connection: &Connection) -> Result<i64> {
        let exists: Option<i64> = connection
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'canopy_schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(database("read schema version"))?;
        if exists.is_none() {
            return Ok(0);
        }
        connection
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM canopy_schema_version",
                [],
                |row| row.get(0),
            )
            .map_err(database("read schema version"))
    }

    fn migrate(&mut self) -> Result<Migrated> {
        let found = Self::schema_version(&self.connection)?;
        if migrations::pending(migrations::SQLITE, found)?.is_empty() {
            return Ok(Migrated {
                from: found,
                to: found,
            });
        }
        // Another process may be migrating too: re-read under the write lock.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(database("lock for migration"))?;
        transaction
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS canopy_schema_version (
                     version     INTEGER PRIMARY KEY,
                     description TEXT NOT NULL,
                     applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                 )",
            )
            .map_err(database("create canopy_schema_version"))?;
        let from = Self::schema_version(&transaction)?;
        let mut to = from;
        for migration in migrations::pending(migrations::SQLITE, from)? {
            transaction
                .execute_batch(migration.sql)
                .map_err(|error| migration_failed(migration, from, error))?;
            transaction
                .execute(
                    "INSERT INTO canopy_schema_version (version, description) VALUES (?1, ?2)",
                    params![migration.version, migration.description],
                )
                .map_err(database("record migration"))?;
            to = migration.version;
        }
        transaction.commit().map_err(database("commit migration"))?;
        Ok(Migrated { from, to })
    }
}

/// A migration's error, with a hint when a database canopy has never migrated turns
/// out to hold tables of canopy's names that canopy did not create.
fn migration_failed(
    migration: &migrations::Migration,
    from: i64,
    error: rusqlite::Error,
) -> StoreError {
    let cause = Cause::from(error);
    let cause = if from == 0 && cause.message().contains("already exists") {
        let message = format!(
            "{}: the database holds tables that canopy did not create; give canopy a \
             database of its own (a new file, or one canopy created)",
            cause.message()
        );
        cause.with_message(message)
    } else {
        cause
    };
    StoreError::database(
        format!(
            "run migration {} ({})",
            migration.version, migration.description
        ),
        cause,
    )
}

impl<'r> Columns<'r> for &'r rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, index: usize) -> rusqlite::Result<&'r str> {
        Ok(self.get_ref(index)?.as_str()?)
    }
    fn optional_text(&self, index: usize) -> rusqlite::Result<Option<&'r str>> {
        Ok(self.get_ref(index)?.as_str_or_null()?)
    }
    fn integer(&self, index: usize) -> rusqlite::Result<i64> {
        Ok(self.get_ref(index)?.as_i64()?)
    }
    fn optional_integer(&self, index: usize) -> rusqlite::Result<Option<i64>> {
        Ok(self.get_ref(index)?.as_i64_or_null()?)
    }
    fn flag(&self, index: usize) -> rusqlite::Result<bool> {
        Ok(self.get_ref(index)?.as_i64()? != 0)
    }
}

/// Which rows a load reads: all of them (a snapshot), or those of some node names
/// (an apply after the snapshot was handed out).
#[derive(Clone, Copy)]
enum Rows<'a> {
    All,
    Named(&'a str),
}

impl Rows<'_> {
    /// The WHERE clause limiting `column` to the named rows (a JSON array bound as ?1).
    fn filter(self, column: &str) -> String {
        match self {
            Rows::All => String::new(),
            Rows::Named(_) => format!("WHERE {column} IN (SELECT value FROM json_each(?1))"),
        }
    }

    fn query<'s>(
        self,
        statement: &'s mut rusqlite::Statement<'_>,
    ) -> rusqlite::Result<rusqlite::Rows<'s>> {
        match self {
            Rows::All => statement.query([]),
            Rows::Named(names) => statement.query([names]),
        }
    }
}

fn load_accounts(
    connection: &Connection,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
) -> Result<Vec<Node>> {
    hasher.table("accounts");
    let mut statement = connection
        .prepare_cached(&select_accounts(&rows.filter("name")))
        .map_err(database("read accounts"))?;
    let mut result = Vec::new();
    let mut decoder = AccountDecoder::default();
    let mut cursor = rows
        .query(&mut statement)
        .map_err(database("read accounts"))?;
    while let Some(row) = cursor.next().map_err(database("read accounts"))? {
        let account = AccountRow::read(&row).map_err(database("read accounts"))?;
        hasher.account(&account);
        result.push(account.decode(&mut decoder)?);
    }
    Ok(result)
}

/// Streams the users into the (sorted) nodes they belong to.
fn load_users(
    connection: &Connection,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
    nodes: &mut [Node],
) -> Result<()> {
    hasher.table("users");
    let mut statement = connection
        .prepare_cached(&select_users(&rows.filter("account")))
        .map_err(database("read users"))?;
    let mut attacher = UserAttacher::new(nodes);
    let mut strings = Interner::default();
    let mut cursor = rows.query(&mut statement).map_err(database("read users"))?;
    while let Some(row) = cursor.next().map_err(database("read users"))? {
        let user = UserRow::read(&row).map_err(database("read users"))?;
        hasher.user(&user);
        attacher.attach(user.account, user.decode(&mut strings)?);
    }
    attacher.finish();
    Ok(())
}

fn load_plans(connection: &Connection, hasher: &mut Fingerprinter) -> Result<Vec<ServicePlan>> {
    hasher.table("service_plans");
    let mut statement = connection
        .prepare_cached(SELECT_PLANS)
        .map_err(database("read service_plans"))?;
    let mut result = Vec::new();
    let mut cursor = statement
        .query([])
        .map_err(database("read service_plans"))?;
    while let Some(row) = cursor.next().map_err(database("read service_plans"))? {
        let plan = PlanRow::read(&row).map_err(database("read service_plans"))?;
        hasher.plan(&plan);
        result.push(plan.decode()?);
    }
    Ok(result)
}

/// Reads everything (or the named nodes, all plans) in three queries. Callers hold a
/// transaction so the three agree.
fn load(connection: &Connection, rows: Rows<'_>) -> Result<Loaded> {
    let mut hasher = Fingerprinter::new();
    let plans = load_plans(connection, &mut hasher)?;
    let nodes = load_accounts(connection, rows, &mut hasher)?;
    let mut loaded = batch::assemble(nodes, plans);
    load_users(
        connection,
        rows,
        &mut hasher,
        &mut loaded.snapshot.hierarchy.nodes,
    )?;
    loaded.snapshot.fingerprint = hasher.finish();
    Ok(loaded)
}

/// The fingerprint of everything [`load`] reads, from the same queries in the same
/// order, the rows hashed but not decoded.
fn fingerprint(connection: &Connection) -> Result<String> {
    let mut hasher = Fingerprinter::new();
    hasher.table("service_plans");
    hash_rows(connection, "read service_plans", SELECT_PLANS, |row| {
        hasher.plan(&PlanRow::read(&row)?);
        Ok(())
    })?;
    hasher.table("accounts");
    let accounts = select_accounts(&Rows::All.filter("name"));
    hash_rows(connection, "read accounts", &accounts, |row| {
        hasher.account(&AccountRow::read(&row)?);
        Ok(())
    })?;
    hasher.table("users");
    let users = select_users(&Rows::All.filter("account"));
    hash_rows(connection, "read users", &users, |row| {
        hasher.user(&UserRow::read(&row)?);
        Ok(())
    })?;
    Ok(hasher.finish())
}

fn hash_rows(
    connection: &Connection,
    operation: &'static str,
    sql: &str,
    mut visit: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(database(operation))?;
    let mut cursor = statement.query([]).map_err(database(operation))?;
    while let Some(row) = cursor.next().map_err(database(operation))? {
        visit(row).map_err(database(operation))?;
    }
    Ok(())
}

/// What an apply needs of the live state. When the snapshot was handed out (its
/// fingerprint is `handed_out`), only the rows the plan names are read again (see
/// [`batch::touched`]): the writer lock, held since `begin`, kept that state.
fn load_for_apply(
    connection: &Connection,
    handed_out: Option<String>,
    plan: &Plan,
) -> Result<Loaded> {
    Ok(match handed_out {
        None => load(connection, Rows::All)?,
        Some(fingerprint) => {
            let names = super::rows::to_json(&batch::touched(plan))?;
            let mut loaded = load(connection, Rows::Named(&names))?;
            loaded.snapshot.fingerprint = fingerprint;
            loaded
        }
    })
}

impl Store for SqliteStore {
    fn snapshot(&mut self) -> Result<Snapshot> {
        // A read transaction, so the three queries see one state.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(database("begin read"))?;
        let loaded = load(&transaction, Rows::All)?;
        transaction.commit().map_err(database("end read"))?;
        Ok(loaded.snapshot)
    }

    fn begin(&mut self) -> Result<Box<dyn WriteTxn + '_>> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(database("take the writer lock (BEGIN IMMEDIATE)"))
            .map_err(|error| explained(error, path.as_deref()))?;
        Ok(Box::new(SqliteTxn {
            transaction,
            handed_out: None,
            path,
        }))
    }

    fn usage(&mut self, period: Option<&str>) -> Result<Vec<UsageRow>> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT account, metric, period, amount FROM usage
                 WHERE ?1 IS NULL OR period = ?1
                 ORDER BY period, account, metric",
            )
            .map_err(database("read usage"))?;
        let rows = statement
            .query_map([period], |row| {
                Ok(UsageRow {
                    account: row.get(0)?,
                    metric: row.get(1)?,
                    period: row.get(2)?,
                    amount: row.get(3)?,
                })
            })
            .map_err(database("read usage"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(database("read usage"))
    }

    fn record_usage(&mut self, usage: &[UsageRow]) -> Result<()> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(database("begin usage write"))?;
        {
            let mut statement = transaction
                .prepare(
                    "INSERT INTO usage (account, metric, period, amount) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account, metric, period) DO UPDATE SET amount = excluded.amount",
                )
                .map_err(database("write usage"))?;
            for row in usage {
                statement
                    .execute(params![row.account, row.metric, row.period, row.amount])
                    .map_err(database("write usage"))?;
            }
        }
        transaction.commit().map_err(database("commit usage"))
    }

    fn audit(&mut self, after_sequence: i64, limit: usize) -> Result<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self
            .connection
            .prepare(
                "SELECT sequence, at, actor, source, revision, op, kind, name, before, after
                 FROM audit_log WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
            )
            .map_err(database("read audit_log"))?;
        let rows = statement
            .query_map(params![after_sequence, limit], |row| {
                Ok(AuditRecord {
                    sequence: row.get(0)?,
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    source: row.get(3)?,
                    revision: row.get(4)?,
                    op: row.get(5)?,
                    kind: row.get(6)?,
                    name: row.get(7)?,
                    before: super::audit::parse_json(row.get_ref(8)?.as_str_or_null()?),
                    after: super::audit::parse_json(row.get_ref(9)?.as_str_or_null()?),
                })
            })
            .map_err(database("read audit_log"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(database("read audit_log"))
    }

    fn suspension(&mut self) -> Result<Option<super::Suspension>> {
        control::suspension(&self.connection)
    }

    fn suspend(&mut self, seconds: i64, reason: &str, by: &str) -> Result<super::Suspension> {
        control::suspend(&self.connection, seconds, reason, by)
    }

    fn resume(&mut self) -> Result<bool> {
        control::resume(&self.connection)
    }

    fn hold_plan(&mut self, held: &super::HeldPlan) -> Result<()> {
        control::hold_plan(&mut self.connection, held)
    }

    fn held_plans(&mut self) -> Result<Vec<super::HeldPlan>> {
        control::held_plans(&self.connection)
    }

    fn release_held_plans(&mut self, source: &str, id: Option<&str>) -> Result<()> {
        control::release_held_plans(&self.connection, source, id)
    }

    fn change_counter(&mut self) -> Result<i64> {
        self.connection
            .query_row(
                "SELECT counter FROM canopy_changes WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .map_err(database("read the change counter"))
    }

    fn change_stamp(&mut self) -> Result<ChangeStamp> {
        read_stamp(&self.connection)
    }

    fn try_lock_session(&mut self) -> Result<bool> {
        self.session.try_lock()
    }

    fn unlock_session(&mut self) -> Result<()> {
        self.session.unlock();
        Ok(())
    }

    fn holds_session_lock(&mut self) -> Result<bool> {
        Ok(self.session.held())
    }
}

/// A write transaction: `BEGIN IMMEDIATE` is the single-writer lock.
struct SqliteTxn<'a> {
    transaction: rusqlite::Transaction<'a>,
    /// The fingerprint of the snapshot handed out by `snapshot`, which is moved to the
    /// caller rather than copied.
    handed_out: Option<String>,
    path: Option<PathBuf>,
}

/// [`storage::explain`] for a file database.
fn explained(error: StoreError, path: Option<&Path>) -> StoreError {
    match path {
        Some(path) => storage::explain(error, path),
        None => error,
    }
}

impl WriteTxn for SqliteTxn<'_> {
    fn change_counter(&mut self) -> Result<i64> {
        self.transaction
            .query_row(
                "SELECT counter FROM canopy_changes WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .map_err(database("read the change counter"))
    }

    fn change_stamp(&mut self) -> Result<ChangeStamp> {
        read_stamp(&self.transaction)
    }

    fn trust_snapshot(&mut self, fingerprint: &str) {
        self.handed_out = Some(fingerprint.to_string());
    }

    fn read_nodes(&mut self, names: &[&str]) -> Result<Snapshot> {
        let names = super::rows::to_json(&names)?;
        Ok(load(&self.transaction, Rows::Named(&names))?.snapshot)
    }

    fn fingerprint(&mut self) -> Result<String> {
        fingerprint(&self.transaction)
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let loaded = load(&self.transaction, Rows::All)?;
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
        let live = match live {
            Some(live) if handed_out.as_ref() == Some(&live.fingerprint) => Cow::Borrowed(live),
            _ => Cow::Owned(load_for_apply(&self.transaction, handed_out, plan)?.snapshot),
        };
        write_plan(&self.transaction, plan, &live, context)
            .map_err(|error| explained(error, self.path.as_deref()))
    }

    fn commit(self: Box<Self>) -> Result<()> {
        // COMMIT is run by hand so that, when a deferred foreign key fails it, the
        // transaction is still open to name the broken references before rolling back.
        match self.transaction.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(error) => {
                let broken = write::broken_references(&self.transaction);
                Err(match broken {
                    Ok(list) if !list.is_empty() => StoreError::BrokenReferences { list },
                    _ => explained(database("commit")(error), self.path.as_deref()),
                })
            }
        }
    }
}

fn write_plan(
    connection: &Connection,
    plan: &Plan,
    live: &Snapshot,
    context: &ApplyContext,
) -> Result<ApplyReport> {
    batch::check_fingerprint(plan, live)?;
    let now: String = connection
        .query_row(NOW, [], |row| row.get(0))
        .map_err(database("read the clock"))?;
    let needed = batch::numbers_needed(plan, live);
    let first_number = write::allocate_numbers(connection, needed)?;
    let start = std::time::Instant::now();
    let batch: Batch<'_> = batch::prepare(plan, live, first_number)?;
    let audit_rows = batch.audit.len();
    tracing::trace!(took = ?start.elapsed(), audit_rows, "write: prepared the rows");
    write::write_batch(connection, plan, &batch, &now, context)?;
    Ok(ApplyReport {
        assigned: batch.assigned,
        audit_rows: batch.audit.len(),
    })
}

fn read_stamp(connection: &Connection) -> Result<ChangeStamp> {
    connection
        .query_row(
            "SELECT counter, nonce FROM canopy_changes WHERE id = 1",
            [],
            |row| {
                Ok(ChangeStamp {
                    counter: row.get(0)?,
                    nonce: row.get(1)?,
                })
            },
        )
        .map_err(database("read the change stamp"))
}
