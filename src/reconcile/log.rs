//! The log lines of a pass: each phase (lock wait, snapshot, load, diff, write, commit)
//! with its duration and what it counted, at `debug` level under the
//! `canopy::reconcile` target. Only successful phases are logged; a failure is the
//! caller's error to report.

use std::time::{Duration, Instant};

use crate::manifest::Loaded;
use crate::model::Hierarchy;
use crate::plan::Plan;
use crate::store::{ApplyReport, Snapshot};

/// Runs `phase` and, if it succeeds, `log`s its value and how long it took.
fn logged<T, E>(
    phase: impl FnOnce() -> Result<T, E>,
    log: impl FnOnce(&T, Duration),
) -> Result<T, E> {
    let start = Instant::now();
    let result = phase();
    if let Ok(value) = &result {
        log(value, start.elapsed());
    }
    result
}

/// (accounts, groups, plans) of a hierarchy.
fn counts(hierarchy: &Hierarchy) -> (usize, usize, usize) {
    let accounts = hierarchy.account_count();
    (
        accounts,
        hierarchy.nodes.len() - accounts,
        hierarchy.plans.len(),
    )
}

/// Beginning the write transaction: the wait for the single-writer lock.
pub(super) fn lock<T, E>(begin: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    logged(begin, |_, took| {
        tracing::debug!(?took, "lock: took the single-writer lock");
    })
}

pub(super) fn snapshot<E>(read: impl FnOnce() -> Result<Snapshot, E>) -> Result<Snapshot, E> {
    logged(read, |snapshot, took| {
        let (accounts, groups, plans) = counts(&snapshot.hierarchy);
        tracing::debug!(
            ?took,
            accounts,
            groups,
            plans,
            "snapshot: read the live state"
        );
    })
}

/// Work run on its own thread beside the snapshot (parsing the manifests).
pub(super) fn beside<T>(work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = work();
    let took = start.elapsed();
    tracing::debug!(?took, "parse: read the manifests beside the snapshot");
    value
}

pub(super) fn fingerprint<E>(read: impl FnOnce() -> Result<String, E>) -> Result<String, E> {
    logged(read, |_, took| {
        tracing::debug!(?took, "fingerprint: hashed the live rows");
    })
}

pub(super) fn load<E>(load: impl FnOnce() -> Result<Loaded, E>) -> Result<Loaded, E> {
    logged(load, |loaded, took| {
        let (accounts, groups, plans) = counts(&loaded.hierarchy);
        let (files, documents) = (loaded.files, loaded.documents);
        tracing::debug!(
            ?took,
            files,
            documents,
            accounts,
            groups,
            plans,
            "load: read the desired state"
        );
    })
}

pub(super) fn diff<E>(diff: impl FnOnce() -> Result<Plan, E>) -> Result<Plan, E> {
    logged(diff, |plan, took| {
        let (changes, node_writes) = (plan.changes.len(), plan.writes.nodes.len());
        tracing::debug!(?took, changes, node_writes, "diff: planned");
    })
}

pub(super) fn write<E>(
    plan: &Plan,
    write: impl FnOnce() -> Result<ApplyReport, E>,
) -> Result<ApplyReport, E> {
    logged(write, |report, took| {
        let (changes, node_writes) = (plan.changes.len(), plan.writes.nodes.len());
        let (created, audit_rows) = (report.assigned.len(), report.audit_rows);
        tracing::debug!(
            ?took,
            changes,
            node_writes,
            created,
            audit_rows,
            "write: wrote the plan"
        );
    })
}

pub(super) fn commit<E>(commit: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
    logged(commit, |(), took| {
        tracing::debug!(?took, "commit: committed")
    })
}
