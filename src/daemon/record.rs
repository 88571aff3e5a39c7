//! After each pass: the status `/status` shows, the metrics, and the log lines (one
//! per pass; manifest errors, database state and role changes once per change).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Config;
use super::http::Shared;
use super::status::{
    DatabaseError, Drift, HeldPlanStatus, LastReconcile, ManifestError, Role, Status,
    SuspendedStatus, now_rfc3339, unix_seconds,
};
use super::worker::{Observed, PassResult, Trigger, describe_changes, git_revision};
use crate::manifest::Severity;

pub struct Recorder {
    shared: Arc<Shared>,
    config: Arc<Config>,
    /// Manifest errors logged already (each is logged once, not on every pass).
    logged_errors: BTreeSet<String>,
    logged_failure: Option<String>,
}

impl Recorder {
    pub fn new(shared: Arc<Shared>, config: Arc<Config>) -> Recorder {
        Recorder {
            shared,
            config,
            logged_errors: BTreeSet::new(),
            logged_failure: None,
        }
    }

    /// Whether the loop should run control passes: a standby polls to take over, a
    /// suspended daemon polls for the end of its suspension.
    pub fn needs_control(&self) -> bool {
        let status = self.shared.status();
        status.role == Role::Standby || status.suspended.is_some()
    }

    pub fn record(
        &mut self,
        trigger: Trigger,
        result: &PassResult,
        observed: Observed,
        elapsed: Duration,
        first_edit: Option<Instant>,
        retries: u32,
    ) {
        let shared = self.shared.clone();
        let metrics = &shared.metrics;
        metrics.count_reconcile(result.label());
        if !matches!(result, PassResult::Skipped | PassResult::Standby) {
            metrics.reconcile_duration.observe(elapsed.as_secs_f64());
        }
        let changes = self.observe_result(result, first_edit);
        self.log_pass(trigger, result, changes, elapsed);
        let revision = self
            .config
            .revision
            .clone()
            .or_else(|| self.config.watch.as_deref().and_then(git_revision));
        let was_down = self.shared.status().database_error.is_some();
        self.shared.update(|status| {
            apply_to_status(
                status, trigger, result, &observed, elapsed, changes, revision, retries,
            );
        });
        self.log_transitions(result, was_down, &observed);
        let status = self.shared.status();
        metrics.held_plans.set(status.held_plans.len() as i64);
        metrics.suspended.set(i64::from(status.suspended.is_some()));
        metrics.active.set(i64::from(status.role == Role::Active));
        metrics
            .manifest_errors
            .set(status.manifest_errors.len() as i64);
    }

    /// Metrics and per-change logs of a result; returns its number of changes.
    fn observe_result(&mut self, result: &PassResult, first_edit: Option<Instant>) -> usize {
        let shared = self.shared.clone();
        let metrics = &shared.metrics;
        match result {
            PassResult::Applied { plan, drift } => {
                for change in &plan.changes {
                    metrics.count_operation(change.op.as_str());
                }
                metrics.drift_corrections.inc_by(drift.len() as u64);
                for line in describe_changes(drift) {
                    tracing::warn!(change = %line, "drift corrected");
                }
                if let Some(first) = first_edit {
                    metrics
                        .edit_to_commit
                        .observe(first.elapsed().as_secs_f64());
                }
                metrics.last_success.set(unix_seconds());
                plan.changes.len()
            }
            PassResult::Unchanged => {
                metrics.last_success.set(unix_seconds());
                0
            }
            PassResult::DriftReported { drift } => {
                metrics.drift_found.inc_by(drift.len() as u64);
                for line in describe_changes(drift) {
                    tracing::warn!(change = %line, "drift found (--drift=report: not corrected)");
                }
                drift.len()
            }
            PassResult::Held { changes, .. } => *changes,
            PassResult::Invalid(diagnostics) => {
                self.log_manifest_errors(diagnostics);
                0
            }
            PassResult::DatabaseDown(_) => {
                metrics.count_database_error("transient");
                0
            }
            PassResult::Failed { message, database } => {
                if *database {
                    metrics.count_database_error("permanent");
                }
                if self.logged_failure.as_deref() != Some(message) {
                    tracing::error!(error = %message, "reconcile failed; waiting for a change");
                    self.logged_failure = Some(message.clone());
                }
                0
            }
            PassResult::Standby | PassResult::Suspended(_) | PassResult::Skipped => 0,
        }
    }

    fn log_manifest_errors(&mut self, diagnostics: &[crate::manifest::Diagnostic]) {
        let now: BTreeSet<String> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
            .map(|diagnostic| diagnostic.to_string())
            .collect();
        for line in now.difference(&self.logged_errors) {
            tracing::error!(error = %line, "invalid manifest; nothing applied");
        }
        self.logged_errors = now;
    }

    fn log_pass(
        &mut self,
        trigger: Trigger,
        result: &PassResult,
        changes: usize,
        elapsed: Duration,
    ) {
        if !matches!(result, PassResult::Invalid(_)) {
            self.logged_errors.clear();
        }
        if !matches!(result, PassResult::Failed { .. }) {
            self.logged_failure = None;
        }
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        match result {
            PassResult::Skipped | PassResult::Standby | PassResult::Suspended(_) => {
                tracing::debug!(
                    trigger = trigger.as_str(),
                    result = result.label(),
                    "reconcile"
                );
            }
            PassResult::Held {
                id,
                summary,
                radius,
                ..
            } => tracing::warn!(
                trigger = trigger.as_str(),
                result = "held",
                plan_id = %id,
                summary = %summary,
                deactivated = radius.deactivated,
                pruned = radius.pruned,
                moved = radius.moved,
                duration_ms,
                "reconcile held by the blast-radius gate; approve with `canopy approve {id}`"
            ),
            _ => tracing::info!(
                trigger = trigger.as_str(),
                result = result.label(),
                changes,
                duration_ms,
                "reconcile"
            ),
        }
    }

    fn log_transitions(&self, result: &PassResult, was_down: bool, observed: &Observed) {
        match result {
            PassResult::DatabaseDown(message) if !was_down => {
                tracing::warn!(error = %message, "database unavailable; retrying with backoff");
            }
            PassResult::DatabaseDown(_) => {}
            _ if was_down => tracing::info!("database available again"),
            _ => {}
        }
        let _ = observed;
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_to_status(
    status: &mut Status,
    trigger: Trigger,
    result: &PassResult,
    observed: &Observed,
    elapsed: Duration,
    changes: usize,
    revision: Option<String>,
    retries: u32,
) {
    let now = now_rfc3339();
    *status
        .reconciles
        .entry(result.label().to_string())
        .or_insert(0) += 1;
    if let PassResult::DatabaseDown(message) = result {
        status.ready = false;
        let since = status
            .database_error
            .as_ref()
            .map_or_else(|| now.clone(), |error| error.since.clone());
        status.database_error = Some(DatabaseError {
            since,
            message: message.clone(),
            retries,
        });
        return;
    }
    status.database_error = None;
    status.ready = true;
    status.role = if observed.active {
        Role::Active
    } else {
        Role::Standby
    };
    status.held_plans = observed.held.iter().map(held_status).collect();
    status.suspended = observed
        .suspension
        .as_ref()
        .map(|suspension| SuspendedStatus {
            until: suspension.until.clone(),
            reason: suspension.reason.clone(),
            by: suspension.by.clone(),
        });
    if matches!(result, PassResult::Standby | PassResult::Skipped) {
        return;
    }
    status.last_reconcile = Some(LastReconcile {
        at: now.clone(),
        result: result.label().to_string(),
        trigger: trigger.as_str().to_string(),
        revision,
        changes,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        phases: observed.phases,
    });
    match result {
        PassResult::Invalid(diagnostics) => {
            status.manifest_errors = diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.severity == Severity::Error)
                .map(ManifestError::of)
                .collect();
        }
        PassResult::Suspended(_) => {}
        _ => status.manifest_errors.clear(),
    }
    status.plan_error = match result {
        PassResult::Failed { message, .. } => Some(message.clone()),
        _ => None,
    };
    match result {
        PassResult::Applied { drift: changes, .. } if !changes.is_empty() => {
            status.drift = Some(drift(&now, "corrected", changes));
        }
        PassResult::DriftReported { drift: changes } => {
            status.drift = Some(drift(&now, "reported", changes));
        }
        PassResult::Unchanged => status.drift = None,
        _ => {}
    }
    if matches!(result, PassResult::Applied { .. } | PassResult::Unchanged) {
        status.last_success = Some(now);
    }
}

fn drift(now: &str, action: &str, changes: &[crate::plan::Change]) -> Drift {
    Drift {
        at: now.to_string(),
        action: action.to_string(),
        changes: describe_changes(changes),
    }
}

fn held_status(held: &crate::store::HeldPlan) -> HeldPlanStatus {
    HeldPlanStatus {
        id: held.id.clone(),
        held_at: held.held_at.clone(),
        summary: held.summary.clone(),
        radius: crate::reconcile::BlastRadius::of(&held.plan),
        changes: held.plan.changes.len(),
    }
}
