//! The PostgreSQL backend (production): one synchronous connection.
//!
//! A write transaction starts with `pg_advisory_xact_lock(WRITER_LOCK)`, the single-
//! writer lock, released by commit or rollback (or by the server when the connection
//! dies, which also rolls back). Snapshots outside a write transaction read in one
//! `REPEATABLE READ` transaction so the three queries see one state. Bulk writes use
//! binary `COPY` for new rows and `unnest` arrays for updates: a constant number of
//! round trips per apply, whatever its size.

mod control;
mod write;

use std::str::FromStr;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row};

use crate::model::{Node, ServicePlan};
use crate::plan::Plan;

use super::batch::{self, Loaded};
use super::error::retry_of_sqlstate;
use super::migrations::{self, Migrated};
use super::rows::{AccountRow, Fingerprinter, PlanRow, UserAttacher, UserRow};
use super::{
    ApplyContext, ApplyReport, AuditRecord, Cause, Result, Retry, Snapshot, Store, StoreError,
    UsageRow, WriteTxn, redact,
};

/// The advisory lock key every canopy writer (and migrator) takes: "canopy" in ASCII.
pub const WRITER_LOCK: i64 = 0x6361_6e6f_7079;

/// The session-level advisory lock key of the single-writer role ([`Store::try_lock_session`]):
/// "canopyd" in ASCII, distinct from [`WRITER_LOCK`].
pub const SESSION_LOCK: i64 = 0x0063_616e_6f70_7964;

/// Whether this connection holds the session lock: its row in `pg_locks` (a bigint
/// advisory key is `classid` (high half), `objid` (low half), `objsubid` 1).
const HOLDS_SESSION_LOCK: &str = "SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
      AND classid::int8 = ($1::int8 >> 32) AND objid::int8 = ($1::int8 & 4294967295)
      AND objsubid = 1)";

/// Applied when the URL sets no `connect_timeout`, so an unreachable host fails fast.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database.
pub struct PostgresStore {
    client: Client,
}

/// The server's message with its detail (which names the offending key), or the
/// driver's message when the server said nothing (e.g. the connection was lost).
pub(crate) fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => match db_error.detail() {
            Some(detail) => format!("{}: {detail}", db_error.message()),
            None => db_error.message().to_string(),
        },
        None => error.to_string(),
    }
}

impl From<postgres::Error> for Cause {
    /// Classified by SQLSTATE when the server answered; otherwise a closed connection
    /// or a socket failure is transient and anything else (a bad setting, a type
    /// mismatch) is not.
    fn from(error: postgres::Error) -> Cause {
        let message = describe(&error);
        let code = error.code().map(|state| state.code().to_string());
        let retry = match &code {
            Some(code) => retry_of_sqlstate(code),
            None => {
                let socket = std::error::Error::source(&error)
                    .is_some_and(|source| source.is::<std::io::Error>());
                if socket || error.is_closed() {
                    Retry::Transient
                } else {
                    Retry::Permanent
                }
            }
        };
        let cause = Cause::new(message, retry);
        let cause = match code {
            Some(code) => cause.with_code(code),
            None => cause,
        };
        cause.with_driver(error)
    }
}

fn database(operation: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |error| StoreError::database(operation, error)
}

impl PostgresStore {
    /// Connects and migrates.
    pub fn connect(url: &str) -> Result<(PostgresStore, Migrated)> {
        let mut config =
            postgres::Config::from_str(url).map_err(|error| StoreError::InvalidUrl {
                url: redact(url),
                message: describe(&error),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let client = config.connect(NoTls).map_err(|error| StoreError::Connect {
            url: redact(url),
            cause: error.into(),
        })?;
        let mut store = PostgresStore { client };
        let migrated = store.migrate()?;
        Ok((store, migrated))
    }

    fn schema_version(client: &mut impl GenericClient) -> Result<i64> {
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('canopy_schema_version') IS NOT NULL",
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(database("read schema version"))?;
        if !exists {
            return Ok(0);
        }
        client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::int8 FROM canopy_schema_version",
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(database("read schema version"))
    }

    fn migrate(&mut self) -> Result<Migrated> {
        let found = Self::schema_version(&mut self.client)?;
        if migrations::pending(migrations::POSTGRES, found)?.is_empty() {
            return Ok(Migrated {
                from: found,
                to: found,
            });
        }
        let mut transaction = self
            .client
            .transaction()
            .map_err(database("begin migration"))?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])
            .map_err(database("lock for migration"))?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS canopy_schema_version (
                     version     BIGINT PRIMARY KEY,
                     description TEXT NOT NULL,
                     applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .map_err(database("create canopy_schema_version"))?;
        let from = Self::schema_version(&mut transaction)?;
        let mut to = from;
        for migration in migrations::pending(migrations::POSTGRES, from)? {
            transaction
                .batch_execute(migration.sql)
                .map_err(database("run migration"))?;
            transaction
                .execute(
                    "INSERT INTO canopy_schema_version (version, description) VALUES ($1, $2)",
                    &[&migration.version, &migration.description],
                )
                .map_err(database("record migration"))?;
            to = migration.version;
        }
        transaction.commit().map_err(database("commit migration"))?;
        Ok(Migrated { from, to })
    }
}

/// Which rows a load reads: all of them (a snapshot), or those of some node names
/// (an apply after the snapshot was handed out).
#[derive(Clone, Copy)]
enum Rows<'a> {
    All,
    Named(&'a [&'a str]),
}

impl Rows<'_> {
    /// The WHERE clause limiting `column` to the named rows (an array bound as $1).
    fn filter(self, column: &str) -> String {
        match self {
            Rows::All => String::new(),
            Rows::Named(_) => format!("WHERE {column} = ANY($1::text[])"),
        }
    }
}

/// Runs a query and hands each row to `visit`, streaming (rows are not collected).
fn each_row(
    client: &mut impl GenericClient,
    operation: &'static str,
    sql: &str,
    rows: Rows<'_>,
    mut visit: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let statement = client.prepare(sql).map_err(database(operation))?;
    let mut stream = match rows {
        Rows::All => client.query_raw(&statement, std::iter::empty::<&[&str]>()),
        Rows::Named(names) => client.query_raw(&statement, [names]),
    }
    .map_err(database(operation))?;
    while let Some(row) = stream.next().map_err(database(operation))? {
        visit(&row)?;
    }
    Ok(())
}

fn load_accounts(
    client: &mut impl GenericClient,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
) -> Result<Vec<Node>> {
    const OPERATION: &str = "read accounts";
    hasher.table("accounts");
    let mut nodes = Vec::new();
    let sql = format!(
        "SELECT name, node_type, display_name, parent, account_number, active,
                customer_type, reseller, plan, address, contact, services, settings,
                locked_settings, effective_active, effective_services, effective_settings,
                effective_locked_settings, managed_by, archived_at IS NOT NULL
         FROM accounts {} ORDER BY name",
        rows.filter("name")
    );
    each_row(client, OPERATION, &sql, rows, |row| {
        let read = || -> std::result::Result<AccountRow<'_>, postgres::Error> {
            Ok(AccountRow {
                name: row.try_get(0)?,
                node_type: row.try_get(1)?,
                display_name: row.try_get(2)?,
                parent: row.try_get(3)?,
                account_number: row.try_get(4)?,
                active: row.try_get(5)?,
                customer_type: row.try_get(6)?,
                reseller: row.try_get(7)?,
                plan: row.try_get(8)?,
                address: row.try_get(9)?,
                contact: row.try_get(10)?,
                services: row.try_get(11)?,
                settings: row.try_get(12)?,
                locked_settings: row.try_get(13)?,
                effective_active: row.try_get(14)?,
                effective_services: row.try_get(15)?,
                effective_settings: row.try_get(16)?,
                effective_locked_settings: row.try_get(17)?,
                managed_by: row.try_get(18)?,
                archived: row.try_get(19)?,
            })
        };
        let account = read().map_err(database(OPERATION))?;
        hasher.account(&account);
        nodes.push(account.decode()?);
        Ok(())
    })?;
    Ok(nodes)
}

/// Streams the users into the (sorted) nodes they belong to.
fn load_users(
    client: &mut impl GenericClient,
    rows: Rows<'_>,
    hasher: &mut Fingerprinter,
    nodes: &mut [Node],
) -> Result<()> {
    const OPERATION: &str = "read users";
    hasher.table("users");
    let mut attacher = UserAttacher::new(nodes);
    let sql = format!(
        "SELECT account, email, position::int8, name, role, language, timezone
         FROM users {} ORDER BY account, position, email",
        rows.filter("account")
    );
    each_row(client, OPERATION, &sql, rows, |row| {
        let read = || -> std::result::Result<UserRow<'_>, postgres::Error> {
            Ok(UserRow {
                account: row.try_get(0)?,
                email: row.try_get(1)?,
                position: row.try_get(2)?,
                name: row.try_get(3)?,
                role: row.try_get(4)?,
                language: row.try_get(5)?,
                timezone: row.try_get(6)?,
            })
        };
        let user = read().map_err(database(OPERATION))?;
        hasher.user(&user);
        attacher.attach(user.account, user.decode()?);
        Ok(())
    })?;
    attacher.finish();
    Ok(())
}

fn load_plans(
    client: &mut impl GenericClient,
    hasher: &mut Fingerprinter,
) -> Result<Vec<ServicePlan>> {
    const OPERATION: &str = "read service_plans";
    hasher.table("service_plans");
    let mut plans = Vec::new();
    each_row(
        client,
        OPERATION,
        "SELECT name, billing, licenses, limits, display_name, managed_by,
                archived_at IS NOT NULL
         FROM service_plans ORDER BY name",
        Rows::All,
        |row| {
            let read = || -> std::result::Result<PlanRow<'_>, postgres::Error> {
                Ok(PlanRow {
                    name: row.try_get(0)?,
                    billing: row.try_get(1)?,
                    licenses: row.try_get(2)?,
                    limits: row.try_get(3)?,
                    display_name: row.try_get(4)?,
                    managed_by: row.try_get(5)?,
                    archived: row.try_get(6)?,
                })
            };
            let plan = read().map_err(database(OPERATION))?;
            hasher.plan(&plan);
            plans.push(plan.decode()?);
            Ok(())
        },
    )?;
    Ok(plans)
}

/// Reads everything (or the named nodes, all plans) in three queries, in the
/// caller's transaction.
fn load(client: &mut impl GenericClient, rows: Rows<'_>) -> Result<Loaded> {
    let mut hasher = Fingerprinter::new();
    let plans = load_plans(client, &mut hasher)?;
    let nodes = load_accounts(client, rows, &mut hasher)?;
    let mut loaded = batch::assemble(nodes, plans);
    load_users(
        client,
        rows,
        &mut hasher,
        &mut loaded.snapshot.hierarchy.nodes,
    )?;
    loaded.snapshot.fingerprint = hasher.finish();
    Ok(loaded)
}

/// What an apply needs of the live state. When the snapshot was handed out (its
/// fingerprint is `handed_out`), only the rows the plan names are read again (see
/// [`batch::touched`]): the writer lock, held since `begin`, kept that state.
fn load_for_apply(
    client: &mut impl GenericClient,
    handed_out: Option<String>,
    plan: &Plan,
) -> Result<Loaded> {
    Ok(match handed_out {
        None => load(client, Rows::All)?,
        Some(fingerprint) => {
            let names = batch::touched(plan);
            let mut loaded = load(client, Rows::Named(&names))?;
            loaded.snapshot.fingerprint = fingerprint;
            loaded
        }
    })
}

impl Store for PostgresStore {
    fn snapshot(&mut self) -> Result<Snapshot> {
        let mut transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(database("begin read"))?;
        let loaded = load(&mut transaction, Rows::All)?;
        transaction.commit().map_err(database("end read"))?;
        Ok(loaded.snapshot)
    }

    fn begin(&mut self) -> Result<Box<dyn WriteTxn + '_>> {
        let mut transaction = self.client.transaction().map_err(database("begin write"))?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])
            .map_err(database("take the writer lock"))?;
        Ok(Box::new(PostgresTxn {
            transaction,
            handed_out: None,
        }))
    }

    fn usage(&mut self, period: Option<&str>) -> Result<Vec<UsageRow>> {
        let rows = self
            .client
            .query(
                "SELECT account, metric, period, amount FROM usage
                 WHERE $1::text IS NULL OR period = $1
                 ORDER BY period, account, metric",
                &[&period],
            )
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
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(database("read usage"))
    }

    fn record_usage(&mut self, usage: &[UsageRow]) -> Result<()> {
        let accounts: Vec<&str> = usage.iter().map(|row| row.account.as_str()).collect();
        let metrics: Vec<&str> = usage.iter().map(|row| row.metric.as_str()).collect();
        let periods: Vec<&str> = usage.iter().map(|row| row.period.as_str()).collect();
        let amounts: Vec<f64> = usage.iter().map(|row| row.amount).collect();
        self.client
            .execute(
                "INSERT INTO usage (account, metric, period, amount)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[])
                 ON CONFLICT (account, metric, period) DO UPDATE SET amount = EXCLUDED.amount",
                &[&accounts, &metrics, &periods, &amounts],
            )
            .map_err(database("write usage"))?;
        Ok(())
    }

    fn audit(&mut self, after_sequence: i64, limit: usize) -> Result<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                "SELECT sequence,
                        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                        actor, source, revision, op, kind, name, before, after
                 FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2",
                &[&after_sequence, &limit],
            )
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
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(database("read audit_log"))
    }

    fn suspension(&mut self) -> Result<Option<super::Suspension>> {
        control::suspension(&mut self.client)
    }

    fn suspend(&mut self, seconds: i64, reason: &str, by: &str) -> Result<super::Suspension> {
        control::suspend(&mut self.client, seconds, reason, by)
    }

    fn resume(&mut self) -> Result<bool> {
        control::resume(&mut self.client)
    }

    fn hold_plan(&mut self, held: &super::HeldPlan) -> Result<()> {
        control::hold_plan(&mut self.client, held)
    }

    fn held_plans(&mut self) -> Result<Vec<super::HeldPlan>> {
        control::held_plans(&mut self.client)
    }

    fn release_held_plans(&mut self, source: &str, id: Option<&str>) -> Result<()> {
        control::release_held_plans(&mut self.client, source, id)
    }

    fn change_counter(&mut self) -> Result<i64> {
        self.client
            .query_one("SELECT counter FROM canopy_changes WHERE id = 1", &[])
            .and_then(|row| row.try_get(0))
            .map_err(database("read the change counter"))
    }

    fn try_lock_session(&mut self) -> Result<bool> {
        // Advisory locks nest: take it only when not held, so one unlock releases it.
        if self.holds_session_lock()? {
            return Ok(true);
        }
        self.client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SESSION_LOCK])
            .and_then(|row| row.try_get(0))
            .map_err(database("take the session lock"))
    }

    fn unlock_session(&mut self) -> Result<()> {
        if self.holds_session_lock()? {
            self.client
                .execute("SELECT pg_advisory_unlock($1)", &[&SESSION_LOCK])
                .map_err(database("release the session lock"))?;
        }
        Ok(())
    }

    fn holds_session_lock(&mut self) -> Result<bool> {
        self.client
            .query_one(HOLDS_SESSION_LOCK, &[&SESSION_LOCK])
            .and_then(|row| row.try_get(0))
            .map_err(database("check the session lock"))
    }
}

/// A write transaction holding the advisory writer lock.
struct PostgresTxn<'a> {
    transaction: postgres::Transaction<'a>,
    /// The fingerprint of the snapshot handed out by `snapshot`, which is moved to the
    /// caller rather than copied.
    handed_out: Option<String>,
}

impl WriteTxn for PostgresTxn<'_> {
    fn snapshot(&mut self) -> Result<Snapshot> {
        let loaded = load(&mut self.transaction, Rows::All)?;
        self.handed_out = Some(loaded.snapshot.fingerprint.clone());
        Ok(loaded.snapshot)
    }

    fn apply(&mut self, plan: &Plan, context: &ApplyContext) -> Result<ApplyReport> {
        let transaction = &mut self.transaction;
        // Taken out: what this transaction sees changes with the writes.
        let handed_out = self.handed_out.take();
        let loaded = load_for_apply(transaction, handed_out, plan)?;
        batch::check_fingerprint(plan, &loaded)?;
        let first_number =
            write::allocate_numbers(transaction, batch::numbers_needed(plan, &loaded))?;
        let batch = batch::prepare(plan, &loaded, first_number)?;
        write::write_batch(transaction, plan, &batch, context)?;
        Ok(ApplyReport {
            assigned: batch.assigned,
            audit_rows: batch.audit.len(),
        })
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.transaction.commit().map_err(|error| {
            let foreign_key = error.as_db_error().is_some_and(|db_error| {
                *db_error.code() == postgres::error::SqlState::FOREIGN_KEY_VIOLATION
            });
            if foreign_key {
                StoreError::BrokenReferences {
                    list: describe(&error),
                }
            } else {
                database("commit")(error)
            }
        })
    }
}
