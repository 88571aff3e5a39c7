//! The blocking side of the daemon: it owns the store (CONTRACTS: the `Store` trait is
//! synchronous, so the run loop moves the worker onto a blocking thread for each pass)
//! and runs one pass per trigger through [`crate::reconcile`].
//!
//! ```text
//! open store ─> session lock? ─no─> Standby
//!                  │yes (fenced: re-checked before every pass)
//!              suspended? ─yes─> Suspended
//!                  │no
//!   resync and nothing changed (change counter, no file events)? ─> Skipped
//!                  │
//!   Pass::begin ─> plan ─> no writes: Unchanged │ drift report: Drift │ gate: Held │ apply: Applied
//! ```

use std::path::Path;

use crate::manifest::{self, Diagnostic};
use crate::plan::{Change, Plan};
use crate::reconcile::{self, BlastRadius, ReconcileError, RetryClass};
use crate::store::{self, ApplyContext, HeldPlan, Store, Suspension, control};

use super::{Config, DriftMode};

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    Files,
    Rescan,
    Resync,
    /// The periodic check of a standby or a suspended daemon.
    Control,
    Retry,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Files => "files",
            Trigger::Rescan => "rescan",
            Trigger::Resync => "resync",
            Trigger::Control => "control",
            Trigger::Retry => "retry",
        }
    }
}

/// How a pass ended.
#[derive(Debug)]
pub enum PassResult {
    /// Another instance holds the single-writer lock.
    Standby,
    Suspended(Suspension),
    /// A resync found nothing changed since the last pass.
    Skipped,
    Unchanged,
    Applied {
        plan: Plan,
        drift: bool,
    },
    DriftReported {
        plan: Plan,
    },
    Held {
        id: String,
        summary: String,
        radius: BlastRadius,
        changes: usize,
    },
    /// The manifests are invalid: nothing was applied.
    Invalid(Vec<Diagnostic>),
    /// A permanent problem other than the manifests (a plan error, a refused write).
    Failed(String),
    /// The database is unreachable or failing: retry with backoff.
    DatabaseDown(String),
}

impl PassResult {
    pub fn label(&self) -> &'static str {
        match self {
            PassResult::Standby => "standby",
            PassResult::Suspended(_) => "suspended",
            PassResult::Skipped => "skipped",
            PassResult::Unchanged => "unchanged",
            PassResult::Applied { .. } => "applied",
            PassResult::DriftReported { .. } => "drift-reported",
            PassResult::Held { .. } => "held",
            PassResult::Invalid(_) => "invalid",
            PassResult::Failed(_) => "failed",
            PassResult::DatabaseDown(_) => "database-error",
        }
    }
}

/// What the status page needs after a pass, read while the store is at hand.
#[derive(Debug, Default)]
pub struct Observed {
    pub held: Vec<HeldPlan>,
    pub suspension: Option<Suspension>,
    pub active: bool,
}

pub struct Worker {
    config: std::sync::Arc<Config>,
    store: Option<Box<dyn Store>>,
    active: bool,
    /// The change counter when a pass last found nothing to do.
    settled_at: Option<i64>,
    /// Files changed since the last pass that finished.
    files_dirty: bool,
}

impl Worker {
    pub fn new(config: std::sync::Arc<Config>) -> Worker {
        Worker {
            config,
            store: None,
            active: false,
            settled_at: None,
            files_dirty: true,
        }
    }

    /// Records that files changed while no pass could run (backing off).
    pub fn mark_files_dirty(&mut self, changed: bool) {
        self.files_dirty |= changed;
    }

    /// One pass; never panics on input, never returns an error (it is in the result).
    pub fn pass(&mut self, trigger: Trigger) -> (PassResult, Observed) {
        if matches!(trigger, Trigger::Files | Trigger::Rescan) {
            self.files_dirty = true;
        }
        let result = match self.guarded_pass(trigger) {
            Ok(result) => result,
            Err(error) => self.failed(error),
        };
        // A pass that did not read the checkout leaves its changes pending.
        if !matches!(
            result,
            PassResult::DatabaseDown(_) | PassResult::Standby | PassResult::Suspended(_)
        ) {
            self.files_dirty = false;
        }
        let observed = self.observe();
        (result, observed)
    }

    /// Releases the session lock and closes the store.
    pub fn shut_down(&mut self) {
        if let Some(store) = self.store.as_mut()
            && self.active
            && let Err(error) = store.unlock_session()
        {
            tracing::warn!(%error, "releasing the single-writer lock");
        }
        self.store = None;
        self.active = false;
    }

    fn guarded_pass(&mut self, trigger: Trigger) -> Result<PassResult, ReconcileError> {
        let config = self.config.clone();
        if self.store.is_none() {
            self.store = Some(store::open(&config.database_url)?);
            self.settled_at = None;
        }
        if !self.hold_lock()? {
            return Ok(PassResult::Standby);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(PassResult::Standby);
        };
        if let Some(suspension) = store.suspension()? {
            return Ok(PassResult::Suspended(suspension));
        }
        let counter = store.change_counter()?;
        if trigger == Trigger::Resync && !self.files_dirty && self.settled_at == Some(counter) {
            return Ok(PassResult::Skipped);
        }
        let result = run_pass(store.as_mut(), &config, trigger)?;
        self.settled_at = match result {
            PassResult::Unchanged => Some(counter),
            _ => None,
        };
        Ok(result)
    }

    /// Takes the session lock if free, or checks this store still holds it (the fence:
    /// the pass then runs on the very connection that holds it).
    fn hold_lock(&mut self) -> Result<bool, ReconcileError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(false);
        };
        if self.active {
            if store.holds_session_lock()? {
                return Ok(true);
            }
            tracing::warn!("lost the single-writer lock; standing by");
            self.active = false;
            self.store = None;
            return Ok(false);
        }
        if store.try_lock_session()? {
            tracing::info!("took the single-writer lock; this instance applies");
            self.active = true;
        }
        Ok(self.active)
    }

    fn failed(&mut self, error: ReconcileError) -> PassResult {
        match error {
            ReconcileError::Load(error) => PassResult::Invalid(error.diagnostics),
            error if error.retry_class() == RetryClass::Transient => {
                // The connection (and with it the session lock) may be gone: start over.
                self.store = None;
                self.active = false;
                PassResult::DatabaseDown(format!("{error:#}"))
            }
            error => PassResult::Failed(error.to_string()),
        }
    }

    fn observe(&mut self) -> Observed {
        let active = self.active;
        let Some(store) = self.store.as_mut() else {
            return Observed::default();
        };
        Observed {
            held: store.held_plans().unwrap_or_default(),
            suspension: store.suspension().unwrap_or_default(),
            active,
        }
    }
}

/// Begin → snapshot → load → diff, then the daemon's decision, then apply → commit.
fn run_pass(
    store: &mut dyn Store,
    config: &Config,
    trigger: Trigger,
) -> Result<PassResult, ReconcileError> {
    let inputs = [config.watch.to_string_lossy().into_owned()];
    let planned = reconcile::Pass::begin(store)?.plan(
        |live: &crate::model::Hierarchy| manifest::load(&inputs, Some(live)),
        &config.plan,
    )?;
    let plan_source = planned.plan().source.clone();
    if !planned.has_writes() {
        drop(planned);
        store.release_held_plans(&plan_source, None)?;
        return Ok(PassResult::Unchanged);
    }
    let drift = trigger == Trigger::Resync;
    if drift && config.drift == DriftMode::Report {
        let (plan, _, _) = planned.into_parts();
        return Ok(PassResult::DriftReported { plan });
    }
    let radius = planned.radius();
    if config.gate.holds(&radius) {
        let (plan, _, _) = planned.into_parts();
        return hold(store, plan, radius);
    }
    let context = ApplyContext {
        actor: config.actor.clone(),
        source: plan_source.clone(),
        revision: config
            .revision
            .clone()
            .or_else(|| git_revision(&config.watch)),
    };
    let applied = planned.apply(&context)?;
    store.release_held_plans(&plan_source, None)?;
    Ok(PassResult::Applied {
        plan: applied.plan,
        drift,
    })
}

fn hold(
    store: &mut dyn Store,
    plan: Plan,
    radius: BlastRadius,
) -> Result<PassResult, ReconcileError> {
    let held = HeldPlan {
        id: control::held_plan_id(&plan),
        source: plan.source.clone(),
        summary: plan.summary().line(),
        plan,
        held_at: String::new(),
    };
    store.hold_plan(&held)?;
    Ok(PassResult::Held {
        changes: held.plan.changes.len(),
        id: held.id,
        summary: held.summary,
        radius,
    })
}

/// The commit the checkout is at, read from `.git` (a branch ref or a detached HEAD).
pub fn git_revision(directory: &Path) -> Option<String> {
    let git = directory.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref: ") {
        Some(reference) => std::fs::read_to_string(git.join(reference))
            .ok()
            .map(|commit| commit.trim().to_string())
            .filter(|commit| !commit.is_empty()),
        None => (!head.is_empty()).then(|| head.to_string()),
    }
}

/// `op kind name` lines of a plan's changes, for logs and `/status`.
pub fn describe_changes(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|change| {
            let mut line = format!("{} {} {}", change.op, change.kind, change.name);
            for field in &change.fields {
                line.push_str(&format!(
                    " {}: {} -> {}",
                    field.name, field.before, field.after
                ));
            }
            line
        })
        .collect()
}
