//! Status of the custom resources, computed as values: what the last reconcile pass
//! did for a namespace, plus the live state it left, becomes each object's status.
//!
//! ```text
//! Outcome (per namespace) ─ state_of(kind, name) ─> ObjectState ─┐
//! live Hierarchy (numbers, effective activation), usage report ──┼─> *_status(previous, ..)
//! previous status (from the reflector), now                    ──┘     → Some(patch) | None
//! ```
//!
//! Nothing here talks to the API server: the controller server-side-applies the
//! patches this returns. A status equal to the previous one is `None`, so a resync
//! writes nothing; `lastTransitionTime` moves only when a condition's `status` does
//! (a new reason or message keeps it). Conditions follow kstatus: `Ready` (True once
//! the object is in the database as declared), `Reconciling` (a pass is pending or
//! retrying) and `Stalled` (refused; waiting for a change).

use crate::manifest::Diagnostic;
use crate::manifest::types::{
    AccountGroupStatus, AccountScopeStatus, AccountStatus, ConditionStatus, MetricUsage,
    ServicePlanStatus, StatusCondition, UsageStatus,
};
use crate::model::{Hierarchy, Kind, NodeType};
use crate::plan::Problem;
use crate::store::usage::UsageReport;

use super::scope::{Binding, ScopeIndex};

/// `accountNumber` of an account the database has not numbered yet.
pub const PENDING: &str = "Pending";

/// What the last reconcile pass reported for one namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The desired state is in the database (applied, or nothing to do).
    Applied,
    /// The resources are invalid: every problem, each naming its object.
    Invalid(Vec<Diagnostic>),
    /// The plan was refused (scope, ownership, placement, prune limit).
    Rejected(Vec<Problem>),
    /// The blast-radius gate holds the plan (it reaches further than `--hold-above`).
    Held { message: String },
    /// The database refused the change for a reason retrying cannot fix.
    Failed { message: String },
    /// A transient failure (database down, lock busy); the pass is retried.
    Retrying { message: String },
    /// The namespace is not (or not unambiguously) bound to a scope.
    Refused(Binding),
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectState {
    Ready,
    Reconciling { reason: String, message: String },
    Stalled { reason: String, message: String },
}

impl Outcome {
    /// The state of the object `kind`/`name` of the namespace.
    pub fn state_of(&self, kind: Kind, name: &str) -> ObjectState {
        match self {
            Outcome::Applied => ObjectState::Ready,
            Outcome::Invalid(diagnostics) => invalid_state(diagnostics, name),
            Outcome::Rejected(problems) => rejected_state(problems, kind, name),
            Outcome::Held { message } => stalled(
                "Held",
                format!(
                    "the plan is held by the blast-radius gate ({message}); approve it with `canopy approve`, or split the change"
                ),
            ),
            Outcome::Failed { message } => stalled("DatabaseRefused", message.clone()),
            Outcome::Retrying { message } => ObjectState::Reconciling {
                reason: "Retrying".to_string(),
                message: message.clone(),
            },
            Outcome::Refused(Binding::NoScope) => stalled(
                "NoScope",
                "no AccountScope names this namespace, so its resources change nothing".to_string(),
            ),
            Outcome::Refused(Binding::Conflict { scopes }) => stalled(
                "ScopeConflict",
                format!(
                    "AccountScopes {} all name this namespace; it must be named by one",
                    scopes.join(", ")
                ),
            ),
            Outcome::Refused(Binding::Scoped { .. }) => ObjectState::Ready,
        }
    }
}

fn stalled(reason: &str, message: String) -> ObjectState {
    ObjectState::Stalled {
        reason: reason.to_string(),
        message,
    }
}

fn invalid_state(diagnostics: &[Diagnostic], name: &str) -> ObjectState {
    let own: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == crate::manifest::Severity::Error)
        .filter(|d| d.object.as_deref() == Some(name))
        .map(|d| d.message.clone())
        .collect();
    if own.is_empty() {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == crate::manifest::Severity::Error)
            .count();
        stalled(
            "NamespaceInvalid",
            format!("nothing in this namespace is applied: {errors} error(s) in other resources"),
        )
    } else {
        stalled("Invalid", own.join("; "))
    }
}

fn rejected_state(problems: &[Problem], kind: Kind, name: &str) -> ObjectState {
    let own: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.object() == name && problem_kind(p).is_none_or(|k| k == kind))
        .collect();
    match own.first() {
        Some(first) => stalled(
            reason_of(first),
            own.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        None => stalled(
            "NamespaceRejected",
            format!(
                "nothing in this namespace is applied: {} problem(s) with other resources",
                problems.len()
            ),
        ),
    }
}

fn problem_kind(problem: &Problem) -> Option<Kind> {
    match problem {
        Problem::DeclaredTwice { kind, .. }
        | Problem::ExistsUnmanaged { kind, .. }
        | Problem::ManagedByOtherSource { kind, .. }
        | Problem::MissingParent { kind, .. }
        | Problem::MissingServicePlan { kind, .. }
        | Problem::Placement { kind, .. }
        | Problem::RootPlacement { kind, .. }
        | Problem::OutsideScope { kind, .. }
        | Problem::MoveIntoScope { kind, .. }
        | Problem::MoveOutOfScope { kind, .. }
        | Problem::RestoreByOtherSource { kind, .. }
        | Problem::RestoreOutsideScope { kind, .. } => Some(*kind),
        Problem::ServicePlanInScope { .. } | Problem::PrunedServicePlanInUse { .. } => {
            Some(Kind::ServicePlan)
        }
        _ => None,
    }
}

/// The condition reason of a plan problem (CamelCase, stable: tools match on it).
pub fn reason_of(problem: &Problem) -> &'static str {
    match problem {
        Problem::DeclaredTwice { .. } => "DeclaredTwice",
        Problem::ExistsUnmanaged { .. } => "AdoptionRequired",
        Problem::ManagedByOtherSource { .. } => "ManagedElsewhere",
        Problem::MissingParent { .. } => "MissingParent",
        Problem::MissingServicePlan { .. } => "MissingServicePlan",
        Problem::Placement { .. } | Problem::RootPlacement { .. } => "Placement",
        Problem::ParentCycle { .. } => "ParentCycle",
        Problem::PrunedParentInUse { .. } | Problem::PrunedServicePlanInUse { .. } => "InUse",
        Problem::PruneLimit { .. } => "PruneLimit",
        Problem::ScopeRootMissing { .. } => "ScopeRootMissing",
        Problem::OutsideScope { .. }
        | Problem::MoveIntoScope { .. }
        | Problem::MoveOutOfScope { .. }
        | Problem::ScopeRootParentChange { .. }
        | Problem::ServicePlanInScope { .. }
        | Problem::PartnerInPartnerGroupScope { .. }
        | Problem::RestoreOutsideScope { .. } => "OutOfScope",
        Problem::RestoreByOtherSource { .. } => "ArchivedElsewhere",
    }
}

/// The three kstatus conditions of `state`, keeping each previous
/// `lastTransitionTime` whose `status` is unchanged.
pub fn conditions(
    state: &ObjectState,
    generation: Option<i64>,
    previous: &[StatusCondition],
    now: &str,
) -> Vec<StatusCondition> {
    use ConditionStatus::{False, True};
    let (ready, reconciling, stalled, reason, message) = match state {
        ObjectState::Ready => (True, False, False, "Applied", "in the database as declared"),
        ObjectState::Reconciling { reason, message } => (False, True, False, &**reason, &**message),
        ObjectState::Stalled { reason, message } => (False, False, True, &**reason, &**message),
    };
    [
        ("Ready", ready),
        ("Reconciling", reconciling),
        ("Stalled", stalled),
    ]
    .into_iter()
    .map(|(condition_type, status)| {
        // Ready always says why; Reconciling and Stalled only while True.
        let (reason, message) = if condition_type == "Ready" || status == True {
            (reason.to_string(), message.to_string())
        } else {
            (quiet_reason(condition_type), String::new())
        };
        let last_transition_time = previous
            .iter()
            .find(|c| c.condition_type == condition_type && c.status == status)
            .map_or_else(|| now.to_string(), |c| c.last_transition_time.clone());
        StatusCondition {
            condition_type: condition_type.to_string(),
            status,
            reason,
            message,
            last_transition_time,
            observed_generation: generation,
        }
    })
    .collect()
}

fn quiet_reason(condition_type: &str) -> String {
    match condition_type {
        "Reconciling" => "Idle",
        _ => "NotStalled",
    }
    .to_string()
}

/// The status of an Account, or `None` when it equals `previous`.
pub fn account_status(
    name: &str,
    generation: Option<i64>,
    state: &ObjectState,
    live: &Hierarchy,
    previous: Option<&AccountStatus>,
    now: &str,
) -> Option<AccountStatus> {
    let node = live.node(name);
    let status = AccountStatus {
        observed_generation: generation,
        conditions: conditions(
            state,
            generation,
            previous.map_or(&[], |p| &p.conditions),
            now,
        ),
        account_number: Some(
            node.and_then(|n| n.live.account_number)
                .map_or_else(|| PENDING.to_string(), |number| number.to_string()),
        ),
        effective_active: node.and_then(|n| n.effective.as_ref()).map(|e| e.active),
    };
    changed(status, previous)
}

/// The status of an AccountGroup (with pooled usage for a customer group), or `None`
/// when it equals `previous`.
pub fn group_status(
    name: &str,
    generation: Option<i64>,
    state: &ObjectState,
    live: &Hierarchy,
    usage: Option<&UsageReport>,
    previous: Option<&AccountGroupStatus>,
    now: &str,
) -> Option<AccountGroupStatus> {
    let customer_group = live
        .node(name)
        .is_some_and(|n| n.spec.node_type == NodeType::CustomerGroup);
    let status = AccountGroupStatus {
        observed_generation: generation,
        conditions: conditions(
            state,
            generation,
            previous.map_or(&[], |p| &p.conditions),
            now,
        ),
        usage: usage
            .filter(|_| customer_group)
            .and_then(|report| usage_of(report, name)),
    };
    changed(status, previous)
}

/// The status of a ServicePlan, or `None` when it equals `previous`.
pub fn plan_status(
    generation: Option<i64>,
    state: &ObjectState,
    previous: Option<&ServicePlanStatus>,
    now: &str,
) -> Option<ServicePlanStatus> {
    let status = ServicePlanStatus {
        observed_generation: generation,
        conditions: conditions(
            state,
            generation,
            previous.map_or(&[], |p| &p.conditions),
            now,
        ),
    };
    changed(status, previous)
}

/// The status of an AccountScope: Ready unless a namespace it names is named by
/// another scope too (then reason `ScopeConflict`), or `None` when unchanged.
pub fn scope_status(
    name: &str,
    generation: Option<i64>,
    index: &ScopeIndex,
    previous: Option<&AccountScopeStatus>,
    now: &str,
) -> Option<AccountScopeStatus> {
    let conflicts = index.conflicts_of(name);
    let state = if conflicts.is_empty() {
        ObjectState::Ready
    } else {
        let list: Vec<String> = conflicts
            .iter()
            .map(|(namespace, others)| format!("{namespace} (also {})", others.join(", ")))
            .collect();
        stalled(
            "ScopeConflict",
            format!(
                "namespaces named by another AccountScope too: {}",
                list.join("; ")
            ),
        )
    };
    let status = AccountScopeStatus {
        observed_generation: generation,
        conditions: conditions(
            &state,
            generation,
            previous.map_or(&[], |p| &p.conditions),
            now,
        ),
    };
    changed(status, previous)
}

fn changed<T: PartialEq>(status: T, previous: Option<&T>) -> Option<T> {
    (previous != Some(&status)).then_some(status)
}

/// A group's lines of the usage report, as status.
fn usage_of(report: &UsageReport, name: &str) -> Option<UsageStatus> {
    let period = report.period.clone()?;
    let metrics: Vec<MetricUsage> = report
        .lines
        .iter()
        .filter(|line| line.name == name)
        .map(|line| MetricUsage {
            metric: line.metric.clone(),
            amount: line.amount,
            limit: line.limit,
            status: line.status.as_str().to_string(),
        })
        .collect();
    (!metrics.is_empty()).then_some(UsageStatus { period, metrics })
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
