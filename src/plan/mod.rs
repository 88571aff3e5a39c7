//! Planning: the pure comparison of a desired [`Hierarchy`] with a live one.
//!
//! ```text
//! diff(&live, &desired, &options) ──> Plan { changes, warnings, orphans, writes }
//!                                        │          │
//!                          render (text|json|md|diff)   store::WriteTxn::apply
//! ```
//!
//! A [`Plan`] is a value: `plan`, `apply`, the daemon and the controller share it, tests
//! inspect it, `plan --out` saves what it was made from ([`saved`]). `changes` is what a person reads (and
//! what the audit log records); `writes` is the row-level work the store does, derived
//! in the same pass so that the store never re-plans. Nothing in this module does I/O.
//!
//! - [`diff`]: desired vs live → [`Plan`] (ownership, scope, prune, inheritance).
//! - [`render`]: a plan as text, JSON, Markdown or a unified YAML diff.
//! - [`summary`]: per-operation counts and the activation cascade total.
//! - [`error`]: every reason a plan cannot be made, reported all at once.
//! - [`saved`]: the plan file of `plan --out`, checked and planned again at apply.
//!
//! docs/plan-format.md documents the semantics and the JSON schema.

pub mod diff;
pub mod error;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod render;
pub mod saved;
pub mod summary;

pub use diff::{PlanOptions, diff, diff_moving};
pub use error::{PlanError, Problem};
pub use summary::Summary;

use serde::{Deserialize, Serialize};

use crate::model::{CompactString, Effective, Kind, NodeSpec, ServicePlan};

/// The operation vocabulary (the `op` field of JSON output, docs/plan-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Create,
    Update,
    Move,
    Group,
    Ungroup,
    ChangePlan,
    Activate,
    Deactivate,
    AddUser,
    RemoveUser,
    UpdateUser,
    Delete,
    /// An orphan kept but no longer managed by any source (`managed_by` cleared).
    Release,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Move => "move",
            Op::Group => "group",
            Op::Ungroup => "ungroup",
            Op::ChangePlan => "change-plan",
            Op::Activate => "activate",
            Op::Deactivate => "deactivate",
            Op::AddUser => "add-user",
            Op::RemoveUser => "remove-user",
            Op::UpdateUser => "update-user",
            Op::Delete => "delete",
            Op::Release => "release",
        }
    }

    pub const ALL: [Op; 13] = [
        Op::Create,
        Op::Update,
        Op::Move,
        Op::Group,
        Op::Ungroup,
        Op::ChangePlan,
        Op::Activate,
        Op::Deactivate,
        Op::AddUser,
        Op::RemoveUser,
        Op::UpdateUser,
        Op::Delete,
        Op::Release,
    ];
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field's value before and after an `update` (or `update-user`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub name: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// The descendants whose effective activation an `activate`/`deactivate` changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cascade {
    pub count: usize,
    pub names: Vec<String>,
}

/// One operation of a plan, as shown to a person and recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub op: Op,
    pub kind: Kind,
    pub name: CompactString,
    /// Old parent (move/group/ungroup), old plan (change-plan) or the source that
    /// managed a released object (release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<CompactString>,
    /// New parent (create/move/group/ungroup) or new plan (change-plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<CompactString>,
    /// The user's e-mail, for add-user/remove-user/update-user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<Box<Cascade>>,
}

/// Something worth a person's attention that does not stop the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// A stable, machine-readable code, e.g. `similar-name`.
    pub code: String,
    pub name: String,
    pub message: String,
}

/// A node's full desired row, written by the store as one upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeWrite {
    pub name: CompactString,
    pub spec: NodeSpec,
    pub effective: Effective,
    /// True when the row does not exist yet (the store assigns an account number).
    pub create: bool,
    /// True when the node's user list must be rewritten.
    pub users_changed: bool,
}

/// The row-level work of a plan: what the store writes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Writes {
    /// Plans to create or update (full desired rows).
    pub plans: Vec<ServicePlan>,
    /// Nodes to create or update, parents before children.
    pub nodes: Vec<NodeWrite>,
    /// Nodes whose spec is unchanged but whose effective values change (cascades).
    pub effective: Vec<(String, Effective)>,
    /// Nodes to archive (prune), children before parents.
    pub archive_nodes: Vec<String>,
    pub archive_plans: Vec<String>,
    /// Orphans kept but made unmanaged (`managed_by` cleared), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release_nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release_plans: Vec<String>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
            && self.nodes.is_empty()
            && self.effective.is_empty()
            && self.archive_nodes.is_empty()
            && self.archive_plans.is_empty()
            && self.release_nodes.is_empty()
            && self.release_plans.is_empty()
    }
}

/// The result of planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The source whose objects this plan manages (`managed_by` in the store).
    pub source: String,
    /// Fingerprint of the live snapshot the plan was computed from; a saved plan
    /// applies only while the live state still has it.
    pub base_fingerprint: String,
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
    /// Formerly managed objects no longer declared (deleted only with `--prune`,
    /// released only when asked by name).
    pub orphans: Vec<String>,
    pub writes: Writes,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan that creates a million accounts holds a change and a node write for
    /// each until they are written.
    #[test]
    fn a_change_and_a_node_write_stay_small() {
        let size = std::mem::size_of::<Change>();
        assert!(size <= 136, "a Change takes {size} bytes");
        let size = std::mem::size_of::<NodeWrite>();
        assert!(size <= 176, "a NodeWrite takes {size} bytes");
    }
}
