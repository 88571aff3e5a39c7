//! Approving a held plan: `canopy approve ID` and `POST /approve/ID` both end here.
//! The plan is applied exactly as it was held, in one transaction, and only while the
//! live state is still the one it was planned against.

use crate::reconcile::{self, ReconcileError};
use crate::store::{ApplyContext, ApplyReport, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("no plan `{0}` is held (see `held_plans` in the daemon's /status)")]
    NotHeld(String),
    #[error(
        "plan {0} was not applied: the live state changed since it was held; the daemon plans again and holds a new plan if it still reaches too far"
    )]
    Stale(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Reconcile(ReconcileError),
}

/// What an approval applied.
#[derive(Debug)]
pub struct Approved {
    pub summary: String,
    pub changes: usize,
    pub report: ApplyReport,
}

/// Applies the held plan `id` as `actor`, then forgets it. A plan that went stale is
/// forgotten too (it can never apply) and reported as [`ApproveError::Stale`].
pub fn approve(store: &mut dyn Store, id: &str, actor: &str) -> Result<Approved, ApproveError> {
    let held = store
        .held_plans()?
        .into_iter()
        .find(|held| held.id == id)
        .ok_or_else(|| ApproveError::NotHeld(id.to_string()))?;
    let context = ApplyContext {
        actor: actor.to_string(),
        source: held.source.clone(),
        revision: None,
    };
    let result = reconcile::Pass::begin(store)
        .and_then(|pass| pass.saved(held.plan.clone()).apply(&context));
    match result {
        Ok(applied) => {
            store.release_held_plans(&held.source, Some(id))?;
            Ok(Approved {
                summary: held.summary,
                changes: applied.plan.changes.len(),
                report: applied.report,
            })
        }
        Err(error) if error.is_stale_plan() => {
            store.release_held_plans(&held.source, Some(id))?;
            Err(ApproveError::Stale(id.to_string()))
        }
        Err(error) => Err(ApproveError::Reconcile(error)),
    }
}
