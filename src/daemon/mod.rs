//! `canopy run --watch DIR`: the daemon that keeps the database equal to a checkout.
//!
//! ```text
//!  watch (notify-debouncer-full) ──FileEvent──┐
//!  resync interval ───────────────────────────┤
//!  LISTEN canopy_changes (PostgreSQL) ────────┤
//!  control tick (standby, suspended, retry) ──┼─> run loop ─spawn_blocking─> Worker::pass
//!  SIGTERM / SIGINT ─────────────────────────┘      │                  (reconcile::Pass on
//!                                                   │                   the store it owns)
//!                     /status /readyz /metrics <── Shared (status, metrics) ── http (axum)
//! ```
//!
//! The store is synchronous: the [`worker::Worker`] that owns it moves onto a blocking
//! thread for each pass and back. Every pass re-reads the checkout through the parse
//! cache (unchanged files are decoded from the cache, not parsed). The live state is
//! kept in memory between passes and trusted while the database's change counter is
//! the one after canopy's own last commit (one row read, not every account); the
//! periodic resync reads it whole and tells drift from file changes. On PostgreSQL,
//! [`listen`] wakes a pass as soon as someone else writes.
//! docs/daemon.md documents flags, endpoints, metrics, the gate, suspension and the
//! single writer.

pub mod approve;
pub mod backoff;
pub mod duration;
pub mod http;
mod listen;
mod memory;
pub mod metrics;
mod record;
mod runner;
pub mod status;
pub mod watch;
pub mod worker;

use std::path::PathBuf;
use std::time::Duration;

use crate::plan::PlanOptions;
use crate::reconcile::Gate;

/// What `--drift` asks for when a resync finds the database changed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMode {
    /// Apply the plan that undoes it (each correction logged and counted).
    Correct,
    /// Only log it and show it in `/status`.
    Report,
}

/// Everything a daemon run needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// The checkout directory.
    pub watch: PathBuf,
    pub listen: String,
    pub resync_interval: Duration,
    pub debounce: Duration,
    pub drift: DriftMode,
    pub gate: Gate,
    /// Source, prune, max prune, scope (the fingerprint is set by each pass).
    pub plan: PlanOptions,
    pub actor: String,
    /// Recorded in the audit log; read from the checkout's `.git` when absent.
    pub revision: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("--watch {}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot watch {}: {source}", .directory.display())]
    Watch {
        directory: PathBuf,
        #[source]
        source: notify_debouncer_full::notify::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Runs the daemon until SIGTERM or SIGINT; then the current pass finishes (or rolls
/// back), the single-writer lock is released and `Ok` is returned.
pub fn run(config: Config) -> Result<(), DaemonError> {
    if !config.watch.is_dir() {
        return Err(DaemonError::NotADirectory(config.watch.clone()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(runner::run(config))
}
