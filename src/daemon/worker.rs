//! The blocking side of the daemon: it owns the store (the `Store` trait is synchronous,
//! so the run loop moves the worker onto a blocking thread for each pass) and runs one
//! pass per trigger through [`crate::reconcile`], keeping the live state between passes
//! ([`crate::reconcile::LiveCache`]: trusted while the change counter is the one after
//! its own last commit).
//!
//! ```text
//! open store ─> session lock? ─no─> Standby
//!                  │yes (fenced: re-checked before every pass)
//!              suspended? ─yes─> Suspended
//!                  │no
//!   notification, counter unchanged? ─> Skipped
//!                  │
//!   Pass::begin_kept (resync: read all) ─> plan ─> no writes: Unchanged │ drift report: Drift
//!                                                  │ gate: Held (planned on a full read) │ Applied
//! ```
//!
//! Drift is what changed in the live rows behind canopy's back: the names whose rows
//! differ between the state canopy last knew (after its own commit) and a fresh read.
//! Only plan changes on those names are drift; the rest come from the files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Instant;

use rustc_hash::FxHashSet;

use crate::manifest::{self, Diagnostic, KeptFiles};
use crate::plan::{Change, Plan};
use crate::reconcile::{self, BlastRadius, LiveCache, ReconcileError, RetryClass};
use crate::store::{self, ApplyContext, HeldPlan, Store, Suspension, control};

use super::memory::Trimmer;
use super::status::Phases;
use super::{Config, DriftMode};

/// What [`Worker::known_counter`] holds when no live state is kept.
pub const NO_COUNTER: i64 = i64::MIN;

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    Files,
    Rescan,
    Resync,
    /// PostgreSQL notified a write canopy did not make.
    Notify,
    /// The periodic check of a standby or a suspended daemon.
    Control,
    Retry,
    /// The renewal of a lease-based single-writer lock (`canopy_lock=table`): no pass.
    Heartbeat,
    /// A batch of namespaces from the Kubernetes controller ([`Worker::guarded`]).
    Kubernetes,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Files => "files",
            Trigger::Rescan => "rescan",
            Trigger::Resync => "resync",
            Trigger::Notify => "notify",
            Trigger::Control => "control",
            Trigger::Heartbeat => "heartbeat",
            Trigger::Retry => "retry",
            Trigger::Kubernetes => "kubernetes",
        }
    }
}

/// How a pass ended.
#[derive(Debug)]
// One value per pass, moved and never kept in bulk: the plan stays inline.
#[allow(clippy::large_enum_variant)]
pub enum PassResult {
    /// Another instance holds the single-writer lock.
    Standby,
    Suspended(Suspension),
    /// A notification, but the change counter is still the one after canopy's own
    /// last commit: nothing to do.
    Skipped,
    Unchanged,
    Applied {
        plan: Plan,
        /// The changes that undo drift (a subset of the plan's).
        drift: Vec<Change>,
    },
    DriftReported {
        /// The changes that would undo the drift.
        drift: Vec<Change>,
    },
    Held {
        id: String,
        summary: String,
        radius: BlastRadius,
        changes: usize,
    },
    /// The manifests are invalid: nothing was applied.
    Invalid(Vec<Diagnostic>),
    /// A permanent problem other than the manifests: a plan error, or a write the
    /// database refused (`database`).
    Failed {
        message: String,
        database: bool,
    },
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
            PassResult::Failed { .. } => "failed",
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
    pub phases: Phases,
}

pub struct Worker {
    config: Arc<Config>,
    store: Option<Box<dyn Store>>,
    active: bool,
    /// The live state after the last pass, valid at its change counter.
    kept: Option<LiveCache>,
    /// That counter, for the run loop to tell its own notifications from others'.
    known_counter: Arc<AtomicI64>,
    /// Names found drifted and reported (`--drift=report`), until a pass applies.
    drifted: FxHashSet<String>,
    /// The steps of the last pass.
    phases: Phases,
    /// The checkout's files as last read: unchanged ones are not read again.
    files: KeptFiles,
    /// The paths the watcher saw change since the last pass that loaded the manifests:
    /// a pass for file events looks only at them.
    touched: FxHashSet<PathBuf>,
    /// After a pass that converged (applied its plan, or had nothing to do): the
    /// orphans it left. While set and the kept live state is trusted, an edit of a few
    /// files is planned on its neighbourhood ([`reconcile::delta`]).
    converged: Option<Vec<String>>,
    /// Drops what a pass leaves behind and returns freed memory to the system once
    /// the daemon is idle.
    trimmer: Trimmer,
    /// What the last pass left behind (its desired state), for the trimmer to drop.
    leftover: Option<manifest::Loaded>,
    /// With `--kubernetes` and leader election: whether this instance holds the Lease.
    /// Without it the worker gives up (or never takes) the single-writer lock.
    leader: Option<Arc<AtomicBool>>,
}

/// How work of another source (the Kubernetes controller) went: it ran only after the
/// same checks as a file pass (store open, single-writer lock held, not suspended).
#[derive(Debug)]
pub enum Guarded<R> {
    Ran(R),
    Standby,
    Suspended(Suspension),
    DatabaseDown(String),
}

impl Worker {
    pub fn new(config: Arc<Config>) -> Worker {
        Worker {
            config,
            store: None,
            active: false,
            kept: None,
            known_counter: Arc::new(AtomicI64::new(NO_COUNTER)),
            drifted: FxHashSet::default(),
            phases: Phases::default(),
            files: KeptFiles::default(),
            touched: FxHashSet::default(),
            converged: None,
            trimmer: Trimmer::start(),
            leftover: None,
            leader: None,
        }
    }

    /// Applies only while `leader` is set (the Kubernetes Lease is held).
    pub fn fence_on(&mut self, leader: Arc<AtomicBool>) {
        self.leader = Some(leader);
    }

    /// Runs `work` on the store after the checks of a pass; the kept live state is
    /// dropped (the next file pass reads the live state whole).
    pub fn guarded<R>(&mut self, work: impl FnOnce(&mut dyn Store) -> R) -> (Guarded<R>, Observed) {
        self.phases = Phases::default();
        self.kept = None;
        self.converged = None;
        self.known_counter.store(NO_COUNTER, Ordering::SeqCst);
        let result = match self.guard() {
            Ok(None) => match self.store.as_mut() {
                Some(store) => {
                    let ran = work(store.as_mut());
                    self.trimmer.pass_ended(None);
                    Guarded::Ran(ran)
                }
                None => Guarded::Standby,
            },
            Ok(Some(refusal)) => refusal,
            Err(error) => {
                self.store = None;
                self.active = false;
                Guarded::DatabaseDown(format!("{error:#}"))
            }
        };
        (result, self.observe())
    }

    /// Opens the store, holds the lock, checks suspension: `None` when work may run.
    fn guard<R>(&mut self) -> Result<Option<Guarded<R>>, ReconcileError> {
        if self.store.is_none() {
            self.store = Some(store::open(&self.config.database_url)?);
        }
        if !self.hold_lock()? {
            return Ok(Some(Guarded::Standby));
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(Some(Guarded::Standby));
        };
        Ok(store.suspension()?.map(Guarded::Suspended))
    }

    /// Adds paths the watcher saw change; the next pass for file events looks at them.
    pub fn touch(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.touched.extend(paths);
    }

    /// The change counter of the kept live state ([`NO_COUNTER`] when none is kept).
    pub fn known_counter(&self) -> Arc<AtomicI64> {
        self.known_counter.clone()
    }

    /// One pass; never panics on input, never returns an error (it is in the result).
    pub fn pass(&mut self, trigger: Trigger) -> (PassResult, Observed) {
        self.phases = Phases::default();
        let result = match self.guarded_pass(trigger) {
            Ok(result) => result,
            Err(error) => {
                self.kept = None;
                self.failed(error)
            }
        };
        let counter = self.kept.as_ref().map_or(NO_COUNTER, |kept| kept.counter);
        self.known_counter.store(counter, Ordering::SeqCst);
        let observed = self.observe();
        if !matches!(
            result,
            PassResult::Standby | PassResult::Suspended(_) | PassResult::Skipped
        ) {
            self.trimmer.pass_ended(self.leftover.take());
        }
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
            self.kept = None;
        }
        if !self.hold_lock()? {
            self.kept = None;
            return Ok(PassResult::Standby);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(PassResult::Standby);
        };
        if let Some(suspension) = store.suspension()? {
            return Ok(PassResult::Suspended(suspension));
        }
        if config.watch.is_none() {
            // `--kubernetes` alone: no file source; the lock is held for the controller.
            return Ok(PassResult::Unchanged);
        }
        if trigger == Trigger::Notify
            && let Some(kept) = &self.kept
            && store.change_counter()? == kept.counter
        {
            return Ok(PassResult::Skipped);
        }
        let previous = self.kept.take();
        if trigger == Trigger::Rescan {
            // The watcher lost events: read every file again rather than trust a stamp.
            self.files.clear();
        }
        let mut run = PassRun {
            config: &config,
            trigger,
            drifted: &mut self.drifted,
            phases: &mut self.phases,
            files: &mut self.files,
            touched: &mut self.touched,
            converged: &mut self.converged,
            leftover: &mut self.leftover,
        };
        let (result, kept) = run.run(store.as_mut(), previous)?;
        self.kept = kept;
        Ok(result)
    }

    /// Takes the session lock if free, or checks this store still holds it (the fence:
    /// the pass then runs on the very connection that holds it).
    /// The lease length when this active instance holds its role by a lease that it
    /// must renew ([`Worker::renew`]); `None` otherwise.
    pub fn lease(&self) -> Option<std::time::Duration> {
        if !self.active {
            return None;
        }
        self.store.as_ref()?.session_lease()
    }

    /// Renews the single-writer lease without a pass; `false` when it was lost (the
    /// next pass stands by).
    pub fn renew(&mut self) -> bool {
        if !self.active {
            return false;
        }
        match self.hold_lock() {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "renewing the single-writer lease");
                self.store = None;
                self.active = false;
                false
            }
        }
    }

    fn hold_lock(&mut self) -> Result<bool, ReconcileError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(false);
        };
        if let Some(leader) = &self.leader
            && !leader.load(Ordering::SeqCst)
        {
            if self.active {
                tracing::info!("not the Kubernetes leader: releasing the single-writer lock");
                self.active = false;
                store.unlock_session()?;
            }
            return Ok(false);
        }
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
            error => PassResult::Failed {
                database: matches!(error, ReconcileError::Store(_)),
                message: error.to_string(),
            },
        }
    }

    fn observe(&mut self) -> Observed {
        let active = self.active;
        let phases = self.phases;
        let Some(store) = self.store.as_mut() else {
            return Observed {
                phases,
                ..Observed::default()
            };
        };
        Observed {
            held: store.held_plans().unwrap_or_default(),
            suspension: store.suspension().unwrap_or_default(),
            active,
            phases,
        }
    }
}

/// One pass on the store: begin (trusting the kept live state unless this is a resync
/// or someone else wrote) → load → diff, then the daemon's decision, then apply → commit.
struct PassRun<'a> {
    config: &'a Config,
    trigger: Trigger,
    drifted: &'a mut FxHashSet<String>,
    phases: &'a mut Phases,
    files: &'a mut KeptFiles,
    touched: &'a mut FxHashSet<PathBuf>,
    converged: &'a mut Option<Vec<String>>,
    /// The desired state the pass planned with, dropped off the pass's path.
    leftover: &'a mut Option<manifest::Loaded>,
}

impl PassRun<'_> {
    fn run(
        &mut self,
        store: &mut dyn Store,
        previous: Option<LiveCache>,
    ) -> Result<(PassResult, Option<LiveCache>), ReconcileError> {
        let config = self.config;
        let converged = self.converged.take();
        let planned = self.plan(store, previous, converged)?;
        let plan_source = planned.plan().source.clone();
        if !planned.has_writes() {
            let (plan, kept, _) = planned.into_kept();
            *self.converged = Some(plan.orphans);
            self.drifted.clear();
            store.release_held_plans(&plan_source, None)?;
            return Ok((PassResult::Unchanged, kept));
        }
        let drift: Vec<Change> = planned
            .plan()
            .changes
            .iter()
            .filter(|change| self.drifted.contains(change.name.as_str()))
            .cloned()
            .collect();
        let from_files = matches!(self.trigger, Trigger::Files | Trigger::Rescan);
        if !drift.is_empty() && !from_files && config.drift == DriftMode::Report {
            let (_, kept, _) = planned.into_kept();
            return Ok((PassResult::DriftReported { drift }, kept));
        }
        let radius = planned.radius();
        if config.gate.holds(&radius) {
            if !planned.live_is_exact() {
                // A held plan is approved against a full read: plan it on one.
                drop(planned);
                return self.run(store, None);
            }
            let (plan, kept, _) = planned.into_kept();
            return Ok((hold(store, plan, radius)?, kept));
        }
        let applied = self.apply(planned)?;
        *self.converged = Some(reconcile::delta::orphans_left(&applied.plan));
        self.drifted.clear();
        store.release_held_plans(&plan_source, None)?;
        let result = PassResult::Applied {
            plan: applied.plan,
            drift,
        };
        Ok((result, Some(applied.kept)))
    }

    /// Begins (a resync reads the live state whole), records what changed behind
    /// canopy's back since the state it knew, loads the manifests and diffs.
    fn plan<'s>(
        &mut self,
        store: &'s mut dyn Store,
        previous: Option<LiveCache>,
        converged: Option<Vec<String>>,
    ) -> Result<reconcile::Planned<'s>, ReconcileError> {
        let started = Instant::now();
        // A resync checks the live rows against the kept state (decoding them only when
        // they differ); other passes trust the kept state while the counter says nothing
        // else wrote.
        let (pass, outdated, as_left) = if self.trigger == Trigger::Resync {
            reconcile::Pass::begin_verified(store, previous)?
        } else {
            let offered = previous.is_some();
            let (pass, outdated) = reconcile::Pass::begin_kept(store, previous)?;
            let trusted = offered && outdated.is_none();
            (pass, outdated, trusted)
        };
        self.phases.read_live = !as_left;
        self.phases.begin_ms = milliseconds(started);
        // The live state is the one the last pass left: trusted by the counter, found
        // equal to it by its fingerprint (an idle resync), or read whole and compared.
        let mut as_left = as_left;
        if let Some(known) = outdated {
            let changed =
                reconcile::live::changed_names(&known.snapshot.hierarchy, &pass.live().hierarchy);
            as_left = changed.is_empty();
            self.drifted.extend(changed);
        }
        let inputs = [self
            .config
            .watch
            .as_deref()
            .map(|watch| watch.to_string_lossy().into_owned())
            .unwrap_or_default()];
        // Whatever loads next sees every change up to now.
        let touched = std::mem::take(self.touched);
        let hint = (self.trigger == Trigger::Files).then_some(&touched);
        let pass = match converged.filter(|_| as_left) {
            Some(orphans) => match self.plan_edit(pass, &inputs, &orphans, hint) {
                Ok(mut planned) => {
                    *self.leftover = planned.take_desired();
                    return Ok(planned);
                }
                Err(pass) => *pass,
            },
            None => pass,
        };
        let started = Instant::now();
        let mut load_ms = 0.0;
        let files = &mut *self.files;
        // Nothing reads the desired state after the diff (a held plan is stored, drift
        // is told from the plan's changes): the written nodes' specs move into the plan,
        // and the rest, as an edit's desired state above, is dropped off the pass's path.
        let (planned, spent) = pass.plan_moving(
            |live: &crate::model::Hierarchy| {
                let loaded = manifest::load_kept(&inputs, Some(live), files);
                load_ms = milliseconds(started);
                loaded
            },
            &self.config.plan,
        )?;
        *self.leftover = Some(spent);
        self.phases.load_ms = load_ms;
        self.phases.diff_ms = milliseconds(started) - load_ms;
        Ok(planned)
    }

    /// Plans an edit on its neighbourhood: only the changed files are read, and only
    /// the objects around what they declare are diffed. The pass comes back when the
    /// whole load and diff must plan it.
    fn plan_edit<'s>(
        &mut self,
        pass: reconcile::Pass<'s>,
        inputs: &[String],
        orphans: &[String],
        touched: Option<&FxHashSet<PathBuf>>,
    ) -> Result<reconcile::Planned<'s>, Box<reconcile::Pass<'s>>> {
        let started = Instant::now();
        let live = &pass.live().hierarchy;
        let Some(changed) = manifest::load_changed(inputs, live, self.files, touched) else {
            return Err(Box::new(pass));
        };
        let load_ms = milliseconds(started);
        let before = (&changed.nodes_before[..], &changed.plans_before[..]);
        let planned = pass.plan_edit(changed.loaded, before, orphans, &self.config.plan)?;
        self.phases.load_ms = load_ms;
        self.phases.diff_ms = milliseconds(started) - load_ms;
        self.phases.edit = true;
        self.phases.watched = touched.is_some();
        Ok(planned)
    }

    fn apply(
        &mut self,
        planned: reconcile::Planned<'_>,
    ) -> Result<reconcile::AppliedKept, ReconcileError> {
        let config = self.config;
        let context = ApplyContext {
            actor: config.actor.clone(),
            source: planned.plan().source.clone(),
            revision: config
                .revision
                .clone()
                .or_else(|| config.watch.as_deref().and_then(git_revision)),
        };
        let started = Instant::now();
        let applied = planned.apply_kept(&context)?;
        self.phases.write_ms = milliseconds(started);
        Ok(applied)
    }
}

fn milliseconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
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
