//! What daemons share through the database besides the live state: a suspension
//! (every instance stops reconciling until it expires or is lifted) and the plans the
//! blast-radius gate held (any instance, or `canopy approve`, may apply one while the
//! live state is still the one it was planned against). Schema version 3; the SQL is
//! in each backend's `control` module.

use crate::plan::Plan;

/// Reconciling is suspended until `until` (RFC 3339 UTC, the database's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub until: String,
    pub reason: String,
    pub by: String,
}

/// A plan held by the gate, waiting for approval.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldPlan {
    /// Derived from the plan's content and base fingerprint.
    pub id: String,
    pub source: String,
    /// The plan's one-line summary.
    pub summary: String,
    pub plan: Plan,
    /// RFC 3339 UTC (filled in by the database).
    pub held_at: String,
}

/// A held plan's id: a digest of the plan (and with it, of the live state it was
/// planned against), so the same hold keeps its id across passes and replicas.
pub fn held_plan_id(plan: &Plan) -> String {
    let json = serde_json::to_vec(plan).unwrap_or_default();
    let digest = blake3::hash(&json).to_hex();
    digest[..12].to_string()
}

/// A held plan's stored JSON, or why it does not decode.
pub(crate) fn decode_plan(id: &str, json: &str) -> Result<Plan, super::StoreError> {
    serde_json::from_str(json).map_err(|error| super::StoreError::InvalidRow {
        table: "canopy_held_plans".to_string(),
        name: id.to_string(),
        message: error.to_string(),
    })
}
