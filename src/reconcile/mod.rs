//! One reconcile pass, shared by `canopy plan`, `canopy apply`, the daemon and the
//! Kubernetes controller: a second engine would be a defect.
//!
//! ```text
//! begin (single-writer lock) ─> snapshot ─> load desired(&live) ─> diff ─> gate ─> apply ─> commit
//!        Pass::begin              Pass          Pass::plan          Planned        Planned::apply
//! ```
//!
//! [`reconcile`] runs the whole pass. Callers that must act between planning and
//! writing (`canopy apply` renders the plan and asks for confirmation) take the steps
//! one by one: [`Pass::begin`], [`Pass::plan`] (or [`Pass::saved`] for a plan made
//! earlier), then [`Planned::apply`]; dropping a [`Pass`] or [`Planned`] rolls the
//! transaction back. [`preview`] plans without the lock and writes nothing.
//!
//! The desired state is loaded *inside* the pass, from the live hierarchy, because a
//! manifest may refer to parents and plans that only the database has: it is given as a
//! [`Desired`] (any `FnOnce(&Hierarchy) -> Result<Loaded, LoadError>`). The part of a
//! load that needs no live state (reading, parsing, declaring) can run on its own
//! thread while the snapshot is read: [`preview_beside`], [`Pass::begin_beside`]. Errors
//! say whether to retry ([`ReconcileError::retry_class`]).
//!
//! Each phase logs its duration and row counts at `debug` level ([`log`]): `canopy -v`
//! shows them, the daemon with `-v`.

pub mod delta;
mod error;
pub mod gate;
pub mod live;
mod log;

use crate::manifest::{LoadError, Loaded};
use crate::model::Hierarchy;
use crate::plan::{self, Plan, PlanOptions};
use crate::store::{ApplyContext, ApplyReport, Snapshot, SnapshotCache, Store, WriteTxn};

pub use error::{ReconcileError, RetryClass};
pub use gate::{BlastRadius, Gate};
pub use live::LiveCache;

/// The desired state of one pass, loaded against the live hierarchy (which resolves
/// references to objects only the database has).
pub trait Desired {
    fn load(self, live: &Hierarchy) -> Result<Loaded, LoadError>;
}

impl<F> Desired for F
where
    F: FnOnce(&Hierarchy) -> Result<Loaded, LoadError>,
{
    fn load(self, live: &Hierarchy) -> Result<Loaded, LoadError> {
        self(live)
    }
}

/// What a whole pass may do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Source, prune, scope; `base_fingerprint` is ignored (the pass sets it).
    pub plan: PlanOptions,
    /// Who applies, recorded in the audit log.
    pub context: ApplyContext,
    pub gate: Gate,
}

/// How a pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The live state already equals the desired one; nothing was written.
    Unchanged,
    /// The plan was applied and committed.
    Applied(ApplyReport),
    /// The plan reaches further than the gate allows; nothing was written.
    Held,
}

/// A finished pass: its outcome and everything it looked at.
#[derive(Debug)]
pub struct Reconciled {
    pub outcome: Outcome,
    pub plan: Plan,
    pub radius: BlastRadius,
    /// The live state the plan was made against (before any write).
    pub live: Snapshot,
    /// The desired state and its warnings.
    pub desired: Loaded,
}

/// The whole pass: begin → snapshot → load → diff → gate → apply → commit.
pub fn reconcile(
    store: &mut dyn Store,
    desired: impl Desired,
    options: &Options,
) -> Result<Reconciled, ReconcileError> {
    let planned = Pass::begin(store)?.plan(desired, &options.plan)?;
    let radius = planned.radius();
    let outcome = if !planned.has_writes() {
        Outcome::Unchanged
    } else if options.gate.holds(&radius) {
        Outcome::Held
    } else {
        return planned
            .apply(&options.context)
            .map(Applied::into_reconciled);
    };
    let (plan, live, desired) = planned.into_parts();
    Ok(Reconciled {
        outcome,
        plan,
        radius,
        live,
        desired: desired.unwrap_or_else(empty_loaded),
    })
}

/// Plans against a snapshot read without the writer lock; writes nothing.
pub fn preview(
    store: &mut dyn Store,
    desired: impl Desired,
    options: &PlanOptions,
) -> Result<Preview, ReconcileError> {
    let live = log::snapshot(|| store.snapshot())?;
    let loaded = log::load(|| desired.load(&live.hierarchy))?;
    previewed(live, loaded, options)
}

/// [`preview`] running `parse` on its own thread while the snapshot is read: the part
/// of loading the manifests that needs no live state (see
/// [`crate::manifest::parse_reporting`]). `desired` then finishes the load against
/// the snapshot.
///
/// The snapshot comes from `cache` when the database has not changed since it was
/// stored there.
pub fn preview_beside<P: Send>(
    store: &mut dyn Store,
    cache: &SnapshotCache,
    parse: impl FnOnce() -> P + Send,
    desired: impl FnOnce(P, &Hierarchy) -> Result<Loaded, LoadError>,
    options: &PlanOptions,
) -> Result<Preview, ReconcileError> {
    let (live, parsed) = beside(|| log::snapshot(|| cache.snapshot(store)), parse);
    let live = live?;
    let loaded = log::load(|| desired(parsed, &live.hierarchy))?;
    previewed(live, loaded, options)
}

fn previewed(
    live: Snapshot,
    loaded: Loaded,
    options: &PlanOptions,
) -> Result<Preview, ReconcileError> {
    let plan = diff(&live, &loaded, options)?;
    Ok(Preview {
        plan,
        live,
        desired: loaded,
    })
}

/// Runs `here` on this thread and `there` on a thread of its own, at the same time.
/// A panic on the other thread is resumed on this one.
fn beside<A, B: Send>(here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|scope| {
        let other = scope.spawn(|| log::beside(there));
        let here = here();
        match other.join() {
            Ok(there) => (here, there),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// What [`preview`] found.
#[derive(Debug)]
pub struct Preview {
    pub plan: Plan,
    pub live: Snapshot,
    pub desired: Loaded,
}

/// An open write transaction and the live state it sees.
pub struct Pass<'s> {
    txn: Box<dyn WriteTxn + 's>,
    live: Snapshot,
    /// The change counter at begin, when read ([`Pass::begin_kept`]).
    counter: Option<i64>,
    /// The live fingerprint hashes every row.
    exact: bool,
}

impl<'s> Pass<'s> {
    /// Takes the single-writer lock and reads the live state under it.
    pub fn begin(store: &'s mut dyn Store) -> Result<Pass<'s>, ReconcileError> {
        Self::open(store, &SnapshotCache::disabled())
    }

    /// [`Pass::begin`] running `parse` on its own thread meanwhile, as in
    /// [`preview_beside`] (and with its `cache`); `parse`'s product is returned with
    /// the pass.
    pub fn begin_beside<P: Send>(
        store: &'s mut dyn Store,
        cache: &SnapshotCache,
        parse: impl FnOnce() -> P + Send,
    ) -> Result<(Pass<'s>, P), ReconcileError> {
        let (pass, parsed) = beside(|| Self::open(store, cache), parse);
        Ok((pass?, parsed))
    }

    fn open(store: &'s mut dyn Store, cache: &SnapshotCache) -> Result<Pass<'s>, ReconcileError> {
        let mut txn = log::lock(|| store.begin())?;
        let live = log::snapshot(|| cache.snapshot_in(&mut *txn))?;
        Ok(Pass {
            txn,
            live,
            counter: None,
            exact: true,
        })
    }

    /// Takes the lock and reads the change counter: when it equals `kept`'s, nothing
    /// wrote since and the kept snapshot is trusted (no row is read); otherwise the live
    /// state is read whole and the outdated copy handed back (to tell what changed).
    pub fn begin_kept(
        store: &'s mut dyn Store,
        kept: Option<LiveCache>,
    ) -> Result<(Pass<'s>, Option<LiveCache>), ReconcileError> {
        let mut txn = log::lock(|| store.begin())?;
        let counter = txn.change_counter()?;
        let (live, exact, outdated) = match kept {
            Some(kept) if kept.counter == counter => {
                txn.trust_snapshot(&kept.snapshot.fingerprint);
                (kept.snapshot, kept.exact, None)
            }
            outdated => (log::snapshot(|| txn.snapshot())?, true, outdated),
        };
        let pass = Pass {
            txn,
            live,
            counter: Some(counter),
            exact,
        };
        Ok((pass, outdated))
    }

    /// Begins a pass that must see the live state as the database holds it (a resync):
    /// the rows are read and hashed, and decoded only when their fingerprint is not the
    /// kept snapshot's (one read whole, not patched). Returns the pass, the kept state
    /// when it was not the live one (to tell what changed behind canopy's back), and
    /// whether the kept state was found equal to the database.
    pub fn begin_verified(
        store: &'s mut dyn Store,
        kept: Option<LiveCache>,
    ) -> Result<(Pass<'s>, Option<LiveCache>, bool), ReconcileError> {
        let mut txn = log::lock(|| store.begin())?;
        let counter = txn.change_counter()?;
        let kept = match kept {
            Some(kept) if kept.exact => {
                let fingerprint = log::fingerprint(|| txn.fingerprint())?;
                if fingerprint == kept.snapshot.fingerprint {
                    txn.trust_snapshot(&fingerprint);
                    let pass = Pass {
                        txn,
                        live: kept.snapshot,
                        counter: Some(counter),
                        exact: true,
                    };
                    return Ok((pass, None, true));
                }
                Some(kept)
            }
            other => other,
        };
        let live = log::snapshot(|| txn.snapshot())?;
        let pass = Pass {
            txn,
            live,
            counter: Some(counter),
            exact: true,
        };
        Ok((pass, kept, false))
    }

    pub fn live(&self) -> &Snapshot {
        &self.live
    }

    /// Loads the desired state against the live one and diffs them.
    pub fn plan(
        self,
        desired: impl Desired,
        options: &PlanOptions,
    ) -> Result<Planned<'s>, ReconcileError> {
        let loaded = log::load(|| desired.load(&self.live.hierarchy))?;
        let plan = diff(&self.live, &loaded, options)?;
        Ok(Planned {
            pass: self,
            plan,
            desired: Some(loaded),
        })
    }

    /// [`Pass::plan`] for a caller that will not read the desired state again (`canopy
    /// apply` when its output does not show the desired tree): the specs of the nodes
    /// the plan writes move into the plan ([`plan::diff_moving`]) instead of being
    /// copied. The planned pass holds no desired state; what is left of it (names,
    /// unwritten nodes) is returned for the caller to free, e.g. while the rows are
    /// written.
    pub fn plan_moving(
        self,
        desired: impl Desired,
        options: &PlanOptions,
    ) -> Result<(Planned<'s>, Loaded), ReconcileError> {
        let mut loaded = log::load(|| desired.load(&self.live.hierarchy))?;
        let options = against(&self.live, options);
        let plan =
            log::diff(|| plan::diff_moving(&self.live.hierarchy, &mut loaded.hierarchy, &options))?;
        let planned = Planned {
            pass: self,
            plan,
            desired: None,
        };
        Ok((planned, loaded))
    }

    /// Plans an edit of a few files on its neighbourhood ([`delta`]), against a live
    /// state that had converged with the files before the edit (leaving `orphans`).
    /// `desired` is what the changed files declare now, `before` the node and plan
    /// names they declared before. The pass is handed back when only the whole diff
    /// can plan the edit.
    pub fn plan_edit(
        self,
        desired: Loaded,
        before: (&[String], &[String]),
        orphans: &[String],
        options: &PlanOptions,
    ) -> Result<Planned<'s>, Box<Pass<'s>>> {
        let options = PlanOptions {
            base_fingerprint: self.live.fingerprint.clone(),
            ..options.clone()
        };
        let started = std::time::Instant::now();
        let edit = delta::Edit {
            nodes: &desired.hierarchy.nodes,
            plans: &desired.hierarchy.plans,
            nodes_before: before.0,
            plans_before: before.1,
        };
        let Some(plan) = delta::plan(&self.live.hierarchy, edit, orphans, &options) else {
            tracing::debug!("the edit needs the whole diff");
            return Err(Box::new(self));
        };
        tracing::debug!(
            took = ?started.elapsed(),
            changes = plan.changes.len(),
            "planned the edit on its neighbourhood"
        );
        Ok(Planned {
            pass: self,
            plan,
            desired: Some(desired),
        })
    }

    /// A plan made earlier (`plan --out`, a held plan): applying it refuses with
    /// [`crate::store::StoreError::StalePlan`] unless the live state is still the one it
    /// was planned against.
    pub fn saved(self, plan: Plan) -> Planned<'s> {
        Planned {
            pass: self,
            plan,
            desired: None,
        }
    }
}

/// A plan inside its open transaction, ready to apply or to drop.
pub struct Planned<'s> {
    pass: Pass<'s>,
    plan: Plan,
    /// `None` for a saved plan.
    desired: Option<Loaded>,
}

impl<'s> Planned<'s> {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn live(&self) -> &Snapshot {
        &self.pass.live
    }

    /// The desired hierarchy (`None` for a saved plan).
    pub fn desired(&self) -> Option<&Hierarchy> {
        self.desired.as_ref().map(|loaded| &loaded.hierarchy)
    }

    pub fn radius(&self) -> BlastRadius {
        BlastRadius::of(&self.plan)
    }

    /// Whether applying would write anything (changes, or effective values only).
    pub fn has_writes(&self) -> bool {
        !self.plan.is_empty() || !self.plan.writes.is_empty()
    }

    /// Hands out the desired hierarchy (`None` for a saved plan, or once taken): the
    /// write needs only the plan and the live state, and a caller that keeps nothing
    /// after the apply can free it before writing.
    pub fn take_desired(&mut self) -> Option<Loaded> {
        self.desired.take()
    }

    /// Writes the plan and commits; nothing is written if any step fails.
    pub fn apply(mut self, context: &ApplyContext) -> Result<Applied, ReconcileError> {
        let live = Some(&self.pass.live);
        let report = log::write(&self.plan, || {
            self.pass.txn.apply_against(&self.plan, live, context)
        })?;
        let txn = self.pass.txn;
        log::commit(|| txn.commit())?;
        Ok(Applied {
            report,
            plan: self.plan,
            live: self.pass.live,
            desired: self.desired,
        })
    }

    /// Rolls back and hands out what the pass read.
    pub fn into_parts(self) -> (Plan, Snapshot, Option<Loaded>) {
        (self.plan, self.pass.live, self.desired)
    }

    /// Whether the live fingerprint hashes every row (see [`LiveCache::exact`]): a plan
    /// stored for a later approval must be made against such a snapshot.
    pub fn live_is_exact(&self) -> bool {
        self.pass.exact
    }

    /// Rolls back; the live state stays valid for the next [`Pass::begin_kept`]
    /// (`None` when the pass was begun without reading the counter).
    pub fn into_kept(self) -> (Plan, Option<LiveCache>, Option<Loaded>) {
        let kept = self.pass.counter.map(|counter| LiveCache {
            counter,
            snapshot: self.pass.live,
            exact: self.pass.exact,
        });
        (self.plan, kept, self.desired)
    }

    /// [`Planned::apply`], keeping the live state after the write: the written rows are
    /// re-read inside the transaction and patched into the snapshot the plan was made
    /// against, valid at the counter read just before the commit.
    pub fn apply_kept(mut self, context: &ApplyContext) -> Result<AppliedKept, ReconcileError> {
        let live = Some(&self.pass.live);
        let report = self.pass.txn.apply_against(&self.plan, live, context)?;
        let names = live::written_names(&self.plan);
        let reread = self.pass.txn.read_nodes(&names)?;
        let counter = self.pass.txn.change_counter()?;
        self.pass.txn.commit()?;
        let mut snapshot = self.pass.live;
        live::patch(&mut snapshot.hierarchy, reread.hierarchy, &names);
        snapshot.fingerprint = format!("kept at change {counter}");
        Ok(AppliedKept {
            report,
            plan: self.plan,
            kept: LiveCache {
                counter,
                snapshot,
                exact: false,
            },
            desired: self.desired,
        })
    }
}

/// A committed plan and the live state after it.
#[derive(Debug)]
pub struct AppliedKept {
    pub report: ApplyReport,
    pub plan: Plan,
    pub kept: LiveCache,
    pub desired: Option<Loaded>,
}

/// A committed plan and what it was made from.
#[derive(Debug)]
pub struct Applied {
    pub report: ApplyReport,
    pub plan: Plan,
    /// The live state before the write.
    pub live: Snapshot,
    pub desired: Option<Loaded>,
}

impl Applied {
    fn into_reconciled(self) -> Reconciled {
        Reconciled {
            radius: BlastRadius::of(&self.plan),
            outcome: Outcome::Applied(self.report),
            plan: self.plan,
            live: self.live,
            desired: self.desired.unwrap_or_else(empty_loaded),
        }
    }
}

fn diff(live: &Snapshot, desired: &Loaded, options: &PlanOptions) -> Result<Plan, ReconcileError> {
    let options = against(live, options);
    Ok(log::diff(|| {
        plan::diff(&live.hierarchy, &desired.hierarchy, &options)
    })?)
}

/// `options` for a plan of `live`: the plan records the snapshot's fingerprint.
fn against(live: &Snapshot, options: &PlanOptions) -> PlanOptions {
    PlanOptions {
        base_fingerprint: live.fingerprint.clone(),
        ..options.clone()
    }
}

fn empty_loaded() -> Loaded {
    Loaded {
        hierarchy: Hierarchy::default(),
        diagnostics: Vec::new(),
        files: 0,
        documents: 0,
    }
}

#[cfg(test)]
mod tests;
