//! Why a reconcile pass failed, and whether trying again can help.

use crate::manifest::LoadError;
use crate::plan::PlanError;
use crate::store::StoreError;

/// What a caller should do about a failed pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryClass {
    /// The database was unreachable, busy or shutting down: retry with backoff and jitter.
    Transient,
    /// The input (or the request) is wrong: report it and wait for a change.
    Permanent,
}

/// A failed reconcile pass. Displays exactly as the error it wraps.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The desired state is invalid (every problem, with file:line:column).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The desired state cannot be planned against the live state.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The database failed or refused (a stale saved plan included).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReconcileError {
    /// Decided by the error itself: store errors classify themselves
    /// ([`StoreError::is_transient`]); invalid input is always permanent.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            ReconcileError::Store(error) if error.is_transient() => RetryClass::Transient,
            ReconcileError::Load(_) | ReconcileError::Plan(_) | ReconcileError::Store(_) => {
                RetryClass::Permanent
            }
        }
    }

    /// True when a plan was refused because the live state moved since it was made.
    pub fn is_stale_plan(&self) -> bool {
        matches!(self, ReconcileError::Store(StoreError::StalePlan { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_plan_and_invalid_manifests_are_not_retried() {
        let stale = ReconcileError::Store(StoreError::StalePlan {
            expected: "a".to_string(),
            found: "b".to_string(),
        });
        assert_eq!(stale.retry_class(), RetryClass::Permanent);
        assert!(stale.is_stale_plan());
        let invalid = ReconcileError::Load(LoadError {
            diagnostics: Vec::new(),
        });
        assert_eq!(invalid.retry_class(), RetryClass::Permanent);
        assert!(!invalid.is_stale_plan());
    }
}
