//! The log lines of a pass: each phase (lock wait, snapshot, load, diff, write, commit)
//! with its duration and what it counted, at `debug` level under the
//! `canopy::reconcile` target. Only successful phases are logged; a failure is the
//! caller's error to report.

use std::time::{Duration, Instant};

use crate::manifest::Loaded;
use crate::plan::Plan;
use crate::store::{ApplyReport, Snapshot};

/// Runs `phase`, returning its result and how long it took.
fn timed<T>(phase: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = phase();
    (result, start.elapsed())
}

/// Beginning the write transaction: the wait for the single-writer lock.
pub(super) fn lock<T, E>(begin: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let (result, took) = timed(begin);
    if result.is_ok() {
        tracing::debug!(took = ?took, "lock: took the single-writer lock");
    }
    result
}

pub(super) fn snapshot<E>(read: impl FnOnce() -> Result<Snapshot, E>) -> Result<Snapshot, E> {
    let (result, took) = timed(read);
    if let Ok(snapshot) = &result {
        let hierarchy = &snapshot.hierarchy;
        tracing::debug!(
            took = ?took,
            accounts = hierarchy.account_count(),
            groups = hierarchy.nodes.len() - hierarchy.account_count(),
            plans = hierarchy.plans.len(),
            "snapshot: read the live state"
        );
    }
    result
}

pub(super) fn load<E>(load: impl FnOnce() -> Result<Loaded, E>) -> Result<Loaded, E> {
    let (result, took) = timed(load);
    if let Ok(loaded) = &result {
        let hierarchy = &loaded.hierarchy;
        tracing::debug!(
            took = ?took,
            files = loaded.files,
            documents = loaded.documents,
            accounts = hierarchy.account_count(),
            groups = hierarchy.nodes.len() - hierarchy.account_count(),
            plans = hierarchy.plans.len(),
            "load: read the desired state"
        );
    }
    result
}

pub(super) fn diff<E>(diff: impl FnOnce() -> Result<Plan, E>) -> Result<Plan, E> {
    let (result, took) = timed(diff);
    if let Ok(plan) = &result {
        tracing::debug!(
            took = ?took,
            changes = plan.changes.len(),
            node_writes = plan.writes.nodes.len(),
            "diff: planned"
        );
    }
    result
}

pub(super) fn write<E>(
    plan: &Plan,
    write: impl FnOnce() -> Result<ApplyReport, E>,
) -> Result<ApplyReport, E> {
    let (result, took) = timed(write);
    if let Ok(report) = &result {
        tracing::debug!(
            took = ?took,
            changes = plan.changes.len(),
            node_writes = plan.writes.nodes.len(),
            created = report.assigned.len(),
            audit_rows = report.audit_rows,
            "write: wrote the plan"
        );
    }
    result
}

pub(super) fn commit<E>(commit: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
    let (result, took) = timed(commit);
    if result.is_ok() {
        tracing::debug!(took = ?took, "commit: committed");
    }
    result
}
