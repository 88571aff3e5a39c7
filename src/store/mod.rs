//! The live store: the database that is the system of record, behind one trait.
//!
//! ```text
//!            ┌──────────── Store ────────────┐
//! open(url) ─┤ sqlite::SqliteStore (default) │── snapshot() ─> Snapshot
//!            │ postgres::PostgresStore       │── begin()    ─> WriteTxn: snapshot, apply, commit
//!            └───────────────────────────────┘
//! ```
//!
//! SQL lives only in the backend modules ([`sqlite`], [`postgres`]); what they share
//! is plain data: [`rows`] (row shapes, JSON columns, the fingerprint), [`batch`] (what
//! an apply writes, numbering), [`audit`] (before/after of each change) and
//! [`migrations`] (the versioned schema). A [`WriteTxn`] holds the single-writer lock
//! (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory transaction lock) for its whole
//! life, so a snapshot read inside it cannot go stale before `apply` writes.
//! docs/schema.md documents the tables for the systems that read them. The raw-SQL
//! baselines that `canopy-bench` measures canopy against are not here: they are test
//! code (`crate::testing::baseline`, cargo feature `testing`).

mod audit;
mod batch;
pub mod control;
mod error;
pub mod migrations;
pub mod postgres;
pub(crate) mod rows;
pub mod snapshot_cache;
mod snapshot_entry;
pub mod sqlite;
pub mod usage;

use crate::model::{CompactString, Hierarchy};
use crate::plan::Plan;

pub use control::{HeldPlan, Suspension};
pub use error::{Cause, Retry, StoreError};
pub use migrations::Migrated;
pub use snapshot_cache::{ChangeStamp, SnapshotCache};

/// The live state as loaded from the database.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Every non-archived node and plan, with `live` metadata and stored effective
    /// values. A created name that exists archived is restored by the store, keeping
    /// its account number.
    pub hierarchy: Hierarchy,
    /// A hash of every row the snapshot read: equal fingerprints, equal live state.
    pub fingerprint: String,
}

/// Who applies, from where: recorded in every audit row.
#[derive(Debug, Clone, Default)]
pub struct ApplyContext {
    pub actor: String,
    pub source: String,
    pub revision: Option<String>,
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Account numbers assigned to created accounts, by name.
    pub assigned: Vec<(CompactString, i64)>,
    pub audit_rows: usize,
}

/// A usage record written by other systems (billing, metering).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub account: String,
    pub metric: String,
    pub period: String,
    pub amount: f64,
}

/// One audit log entry, in append order.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub sequence: i64,
    pub at: String,
    pub actor: String,
    pub source: String,
    pub revision: Option<String>,
    pub op: String,
    pub kind: String,
    pub name: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The live store of one database.
pub trait Store: Send {
    /// Loads every live object (no lock).
    fn snapshot(&mut self) -> Result<Snapshot>;
    /// Begins a write transaction holding the single-writer lock.
    fn begin(&mut self) -> Result<Box<dyn WriteTxn + '_>>;
    /// Usage records, optionally of one period (`YYYY-MM`).
    fn usage(&mut self, period: Option<&str>) -> Result<Vec<UsageRow>>;
    /// Writes usage records (for tests and tools; metering systems write the table directly).
    fn record_usage(&mut self, rows: &[UsageRow]) -> Result<()>;
    /// Audit records after `after_sequence`, oldest first, at most `limit`.
    fn audit(&mut self, after_sequence: i64, limit: usize) -> Result<Vec<AuditRecord>>;
    /// The suspension in force (`None` when there is none or it expired).
    fn suspension(&mut self) -> Result<Option<Suspension>>;
    /// Suspends reconciling for `seconds` from now (replacing any suspension).
    fn suspend(&mut self, seconds: i64, reason: &str, by: &str) -> Result<Suspension>;
    /// Lifts the suspension; `false` when none was in force.
    fn resume(&mut self) -> Result<bool>;
    /// Records a held plan, replacing every other plan held for its source.
    fn hold_plan(&mut self, held: &HeldPlan) -> Result<()>;
    /// Every held plan, oldest first.
    fn held_plans(&mut self) -> Result<Vec<HeldPlan>>;
    /// Forgets the held plans of `source` (only `id`, when given).
    fn release_held_plans(&mut self, source: &str, id: Option<&str>) -> Result<()>;
    /// The change counter: bumped by a trigger on every write to the tables canopy
    /// owns, canopy's or anyone's. Equal values, nothing changed in between.
    fn change_counter(&mut self) -> Result<i64>;
    /// The change counter with the random nonce each change draws: one state of one
    /// database (see [`snapshot_cache`]).
    fn change_stamp(&mut self) -> Result<ChangeStamp>;
    /// Takes the session-level single-writer lock (a daemon's role) without waiting:
    /// `false` when another store holds it. Held until [`Store::unlock_session`], or
    /// until the connection or the process dies (or, for a lease, until it is not
    /// renewed in time). Taking it again is a no-op.
    fn try_lock_session(&mut self) -> Result<bool>;
    /// Releases the session lock if this store holds it.
    fn unlock_session(&mut self) -> Result<()>;
    /// Whether this store still holds the session lock, asked of the database (a lost
    /// connection lost it): a writer checks it before commit to fence itself. Renews
    /// a lease ([`Store::session_lease`]).
    fn holds_session_lock(&mut self) -> Result<bool>;
    /// `Some(length)` when the session lock is a lease that expires unless
    /// [`Store::holds_session_lock`] renews it within `length` (PostgreSQL with
    /// `canopy_lock=table`); `None` when it lasts as long as the connection.
    fn session_lease(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A write transaction under the single-writer lock. Dropping it without `commit`
/// rolls everything back.
pub trait WriteTxn {
    /// The live state as this transaction sees it, read on each call and handed over
    /// (the transaction keeps no copy: a following [`WriteTxn::apply_against`] given
    /// it reads nothing again; [`WriteTxn::apply`] re-reads only the rows its plan
    /// names, under the lock it holds).
    fn snapshot(&mut self) -> Result<Snapshot>;
    /// Writes a plan's `writes` and one audit row per change. Refuses with
    /// [`StoreError::StalePlan`] when `plan.base_fingerprint` is not the fingerprint of
    /// the state this transaction sees.
    fn apply(&mut self, plan: &Plan, context: &ApplyContext) -> Result<ApplyReport> {
        self.apply_against(plan, None, context)
    }
    /// [`WriteTxn::apply`] given the `live` snapshot the caller planned against: when
    /// it is the one this transaction handed out ([`WriteTxn::snapshot`]) or was told
    /// to trust ([`WriteTxn::trust_snapshot`]), the writer lock held since then kept
    /// that state and no row is read again; otherwise the rows the plan touches are
    /// read (all of them when nothing was handed out).
    fn apply_against(
        &mut self,
        plan: &Plan,
        live: Option<&Snapshot>,
        context: &ApplyContext,
    ) -> Result<ApplyReport>;
    fn commit(self: Box<Self>) -> Result<()>;
    /// The change counter as this transaction sees it. On PostgreSQL the counter row is
    /// locked until the transaction ends, so no other write to canopy's tables commits
    /// meanwhile (its trigger waits): equal to a value known from before, nothing changed.
    fn change_counter(&mut self) -> Result<i64>;
    /// [`Store::change_stamp`] as this transaction sees it (locked as
    /// [`WriteTxn::change_counter`] is).
    fn change_stamp(&mut self) -> Result<ChangeStamp>;
    /// Instead of [`WriteTxn::snapshot`]: the caller holds a snapshot of this very state
    /// (checked with [`WriteTxn::change_counter`]) with this fingerprint; `apply` then
    /// reads only the rows its plan names.
    fn trust_snapshot(&mut self, fingerprint: &str);
    /// The named nodes (live in `nodes`, archived in `archived`) and every plan, as this
    /// transaction sees them; the fingerprint covers only those rows.
    fn read_nodes(&mut self, names: &[&str]) -> Result<Snapshot>;
    /// The fingerprint [`WriteTxn::snapshot`] would give, from the same rows read and
    /// hashed but not decoded: equal to a kept snapshot's, that snapshot is this state.
    fn fingerprint(&mut self) -> Result<String>;
}

/// The backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (relative paths are relative to the working directory).
    SqliteFile(std::path::PathBuf),
    /// A private in-memory SQLite database (`sqlite::memory:`), gone when closed.
    SqliteMemory,
    /// A PostgreSQL connection URL, passed to the driver as given.
    Postgres(String),
}

impl Location {
    /// Parses `sqlite://PATH`, `sqlite::memory:`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Location> {
        if url == "sqlite::memory:" {
            return Ok(Location::SqliteMemory);
        }
        if let Some(path) = url.strip_prefix("sqlite://")
            && !path.is_empty()
        {
            return Ok(Location::SqliteFile(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_string()));
        }
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

/// Opens the store a URL names, creating a SQLite file on first use and bringing the
/// schema up to date (see [`migrate`]).
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    Ok(match Location::parse(url)? {
        Location::SqliteFile(path) => Box::new(sqlite::SqliteStore::open_file(&path, url)?.0),
        Location::SqliteMemory => Box::new(sqlite::SqliteStore::open_memory()?.0),
        Location::Postgres(url) => Box::new(postgres::PostgresStore::connect(&url)?.0),
    })
}

/// Like [`open`], for commands that only read: a SQLite file that does not exist is
/// [`StoreError::NoDatabase`] instead of a new, empty database.
pub fn open_existing(url: &str) -> Result<Box<dyn Store>> {
    if let Location::SqliteFile(path) = Location::parse(url)?
        && !path.exists()
    {
        return Err(StoreError::NoDatabase(path));
    }
    open(url)
}

/// Opens the database a URL names and brings its schema up to date, reporting the
/// versions before and after. Refuses a schema newer than this binary knows.
pub fn migrate(url: &str) -> Result<Migrated> {
    Ok(match Location::parse(url)? {
        Location::SqliteFile(path) => sqlite::SqliteStore::open_file(&path, url)?.1,
        Location::SqliteMemory => sqlite::SqliteStore::open_memory()?.1,
        Location::Postgres(url) => postgres::PostgresStore::connect(&url)?.1,
    })
}

/// The URL with any password replaced by `***`, fit for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = redact_query_password(tail);
    format!("{scheme}://{authority}{tail}")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case(
        "postgres://canopy:secret@db:5432/canopy",
        "postgres://canopy:***@db:5432/canopy"
    )]
    #[case("postgresql://canopy@db/canopy", "postgresql://canopy@db/canopy")]
    #[case(
        "postgres://db/canopy?user=a&password=b",
        "postgres://db/canopy?user=a&password=***"
    )]
    #[case("postgres://a:p@ss@db/x", "postgres://a:***@db/x")]
    fn passwords_never_reach_messages(#[case] url: &str, #[case] shown: &str) {
        assert_eq!(redact(url), shown);
    }

    #[rstest::rstest]
    #[case("mysql://localhost/canopy")]
    #[case("canopy.db")]
    #[case("sqlite://")]
    fn urls_of_other_databases_are_refused(#[case] url: &str) {
        assert!(matches!(
            Location::parse(url),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[rstest::rstest]
    #[case("sqlite://canopy.db", Location::SqliteFile("canopy.db".into()))]
    #[case("sqlite:///var/lib/canopy.db", Location::SqliteFile("/var/lib/canopy.db".into()))]
    #[case("sqlite::memory:", Location::SqliteMemory)]
    fn sqlite_urls_name_a_file_or_memory(#[case] url: &str, #[case] location: Location) {
        assert_eq!(Location::parse(url).unwrap(), location);
    }
}
