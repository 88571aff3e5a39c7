//! One namespace through the reconcile pass, and the status patches that follow.
//!
//! ```text
//! DesiredSource ─ sync ─> reconcile::reconcile(store, |live| source.load(live), options)
//!                           Ok(Unchanged | Applied)  → Outcome::Applied   (+ live after)
//!                           Ok(Held)                 → Outcome::Held
//!                           Err(Load | Plan)         → Outcome::Invalid | Rejected (permanent)
//!                           Err(Store), transient    → Outcome::Retrying  (requeue)
//! Synced + resources + previous statuses ─ patches ─> Vec<StatusPatch> (changed ones only)
//! ```
//!
//! Synchronous, like the store (run it on a blocking thread): this is the controller's
//! only road to the database, and it is the same pass `canopy apply` and the file
//! daemon take. A refused namespace (no scope, or two) never reaches the store.

use serde_json::Value;

use crate::model::{Hierarchy, Kind};
use crate::plan::{Plan, PlanOptions};
use crate::reconcile::{self, Gate, ReconcileError, RetryClass};
use crate::store::usage::{self, UsageReport};
use crate::store::{ApplyContext, HeldPlan, Store, StoreError, control};

use super::desired::{DesiredSource, Resources};
use super::status::{self, Outcome};

/// What every namespace's pass may do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Recorded in the audit log as the actor.
    pub actor: String,
    pub gate: Gate,
    /// Refuse archiving more than this share of a source's accounts at once.
    pub max_prune_percent: f64,
}

/// What one namespace's pass did.
#[derive(Debug)]
pub struct Synced {
    pub outcome: Outcome,
    /// The live state after the pass (after its commit, when it wrote).
    pub live: Hierarchy,
    /// The plan, when one was made (for events: creates, moves, cascades).
    pub plan: Option<Plan>,
    /// Transient failure: try again later with backoff.
    pub retry: bool,
}

/// Runs `source` through the one reconcile pass.
pub fn sync(store: &mut dyn Store, source: &DesiredSource, settings: &Settings) -> Synced {
    let options = reconcile::Options {
        plan: PlanOptions {
            scope: source.scope.clone(),
            max_prune_percent: settings.max_prune_percent,
            archive: names(&source.archive),
            release: names(&source.release),
            ..PlanOptions::new(source.source.clone())
        },
        context: ApplyContext {
            actor: settings.actor.clone(),
            source: source.source.clone(),
            revision: None,
        },
        gate: settings.gate,
    };
    let result = reconcile::reconcile(store, |live: &Hierarchy| source.load(live), &options);
    match result {
        Ok(reconciled) => {
            let (outcome, wrote) = match reconciled.outcome {
                reconcile::Outcome::Unchanged => (Outcome::Applied, false),
                reconcile::Outcome::Applied(_) => (Outcome::Applied, true),
                reconcile::Outcome::Held => (held(&reconciled), false),
            };
            if let Err(error) = record_held(store, &reconciled) {
                return failed(ReconcileError::Store(error));
            }
            let live = if wrote {
                match store.snapshot() {
                    Ok(snapshot) => snapshot.hierarchy,
                    Err(error) => return failed(ReconcileError::Store(error)),
                }
            } else {
                reconciled.live.hierarchy
            };
            Synced {
                outcome,
                live,
                plan: Some(reconciled.plan),
                retry: false,
            }
        }
        Err(error) => failed(error),
    }
}

fn names(objects: &[(Kind, String)]) -> Vec<String> {
    objects.iter().map(|(_, name)| name.clone()).collect()
}

/// Keeps the held plan in the store (for `/status`, `canopy approve` and
/// `POST /approve/ID`, as for a file pass), or forgets the source's held plans once a
/// pass goes through without the gate.
fn record_held(
    store: &mut dyn Store,
    reconciled: &reconcile::Reconciled,
) -> Result<(), StoreError> {
    let plan = &reconciled.plan;
    if reconciled.outcome != reconcile::Outcome::Held {
        return store.release_held_plans(&plan.source, None);
    }
    let held = HeldPlan {
        id: control::held_plan_id(plan),
        source: plan.source.clone(),
        summary: plan.summary().line(),
        plan: plan.clone(),
        held_at: String::new(),
    };
    store.hold_plan(&held)
}

fn held(reconciled: &reconcile::Reconciled) -> Outcome {
    let radius = &reconciled.radius;
    Outcome::Held {
        message: format!(
            "{} deactivated, {} archived, {} moved",
            radius.deactivated, radius.pruned, radius.moved
        ),
    }
}

fn failed(error: ReconcileError) -> Synced {
    let retry = error.retry_class() == RetryClass::Transient;
    let outcome = match error {
        ReconcileError::Load(error) => Outcome::Invalid(error.diagnostics),
        ReconcileError::Plan(error) => Outcome::Rejected(error.problems().to_vec()),
        ReconcileError::Store(error) if retry => Outcome::Retrying {
            message: error.to_string(),
        },
        ReconcileError::Store(error) => permanent_store_error(&error),
    };
    Synced {
        outcome,
        live: Hierarchy::default(),
        plan: None,
        retry,
    }
}

fn permanent_store_error(error: &StoreError) -> Outcome {
    Outcome::Failed {
        message: format!("the database refused the change: {error}"),
    }
}

/// The usage report the pass's live state needs for customer groups' status.
pub fn usage_report(store: &mut dyn Store, live: &Hierarchy) -> Result<UsageReport, StoreError> {
    let rows = store.usage(None)?;
    Ok(usage::report(live, &rows, None))
}

/// A status to server-side apply to one object.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPatch {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// The whole `status` object (an apply patch owns every field it sets).
    pub status: Value,
}

/// The status patches of a namespace's objects after `synced`: only those whose
/// status changed. `now` is the RFC 3339 time of a condition that changes status.
pub fn patches(
    namespace: &str,
    resources: &Resources,
    synced: &Synced,
    usage: Option<&UsageReport>,
    now: &str,
) -> Vec<StatusPatch> {
    let mut out = Vec::new();
    let mut push = |kind: Kind, name: &str, status: Option<Value>| {
        if let Some(status) = status {
            out.push(StatusPatch {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                status,
            });
        }
    };
    let to_value = |status| serde_json::to_value(status).ok();
    for account in &resources.accounts {
        let name = account.metadata.name.as_deref().unwrap_or_default();
        let state = synced.outcome.state_of(Kind::Account, name);
        let generation = account.metadata.generation;
        let status = status::account_status(
            name,
            generation,
            &state,
            &synced.live,
            account.status.as_ref(),
            now,
        );
        push(Kind::Account, name, status.and_then(&to_value));
    }
    for group in &resources.groups {
        let name = group.metadata.name.as_deref().unwrap_or_default();
        let state = synced.outcome.state_of(Kind::AccountGroup, name);
        let status = status::group_status(
            name,
            group.metadata.generation,
            &state,
            &synced.live,
            usage,
            group.status.as_ref(),
            now,
        );
        push(
            Kind::AccountGroup,
            name,
            status.and_then(|s| serde_json::to_value(s).ok()),
        );
    }
    for plan in &resources.plans {
        let name = plan.metadata.name.as_deref().unwrap_or_default();
        let state = synced.outcome.state_of(Kind::ServicePlan, name);
        let status =
            status::plan_status(plan.metadata.generation, &state, plan.status.as_ref(), now);
        push(
            Kind::ServicePlan,
            name,
            status.and_then(|s| serde_json::to_value(s).ok()),
        );
    }
    out
}

/// The desired state a refused namespace would have had: none is loaded, and
/// [`Synced`] carries only the refusal.
pub fn refused(outcome: Outcome) -> Synced {
    Synced {
        outcome,
        live: Hierarchy::default(),
        plan: None,
        retry: false,
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
