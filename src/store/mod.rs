//! The live store: the database that is the system of record, behind one trait.
//!
//! ```text
//!            ┌──────────── Store ────────────┐
//! open(url) ─┤ sqlite::SqliteStore (default) │── snapshot() ─> Snapshot
//!            │ postgres::PostgresStore       │── begin()    ─> WriteTxn: snapshot, apply, commit
//!            └───────────────────────────────┘
//! ```
//!
//! SQL lives only in the backend modules. A [`WriteTxn`] holds the single-writer lock
//! (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory transaction lock) for its whole
//! life, so a snapshot read inside it cannot go stale before `apply` writes.

use crate::model::Hierarchy;
use crate::plan::Plan;

/// The live state as loaded from the database.
#[derive(Debug, Clone, Default)]
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
    pub assigned: Vec<(String, i64)>,
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error(
        "the database schema is at version {found}, newer than this canopy knows ({known}); upgrade canopy"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "the live state changed since the plan was made (plan base {expected}, live {found}); plan again"
    )]
    StalePlan { expected: String, found: String },
    #[error("{operation}: {message}")]
    Database { operation: String, message: String },
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
}

/// A write transaction under the single-writer lock. Dropping it without `commit`
/// rolls everything back.
pub trait WriteTxn {
    /// The live state as this transaction sees it.
    fn snapshot(&mut self) -> Result<Snapshot>;
    /// Writes a plan's `writes` and one audit row per change. Refuses with
    /// [`StoreError::StalePlan`] when `plan.base_fingerprint` is not the fingerprint of
    /// the state this transaction sees.
    fn apply(&mut self, plan: &Plan, context: &ApplyContext) -> Result<ApplyReport>;
    fn commit(self: Box<Self>) -> Result<()>;
}
