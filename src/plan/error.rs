//! Why a plan cannot be made.
//!
//! Planning never stops at the first problem: [`diff`](super::diff) collects every
//! [`Problem`] (each naming the object it is about) and returns them together in one
//! [`PlanError`], so an operator fixes a manifest once, not once per run.

use std::fmt;

use crate::model::Kind;

/// One reason the desired state cannot be planned against the live state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{kind} {name} is declared twice")]
    DeclaredTwice { kind: Kind, name: String },
    #[error(
        "{kind} {name} exists unmanaged; add annotation canopy.dev/adopt: \"true\" to adopt it"
    )]
    ExistsUnmanaged { kind: Kind, name: String },
    #[error("{kind} {name} is managed by source {owner}, not by {source_name}")]
    ManagedByOtherSource {
        kind: Kind,
        name: String,
        owner: String,
        source_name: String,
    },
    #[error("{kind} {name}: parent {parent} does not exist")]
    MissingParent {
        kind: Kind,
        name: String,
        parent: String,
    },
    #[error("{kind} {name}: service plan {plan} does not exist")]
    MissingServicePlan {
        kind: Kind,
        name: String,
        plan: String,
    },
    #[error("{kind} {name} under {parent}: {reason}")]
    Placement {
        kind: Kind,
        name: String,
        parent: String,
        reason: String,
    },
    #[error("{kind} {name} is a root: {reason}")]
    RootPlacement {
        kind: Kind,
        name: String,
        reason: String,
    },
    #[error("{name} would be its own ancestor (parent cycle through {})", .cycle.join(" → "))]
    ParentCycle { name: String, cycle: Vec<String> },
    #[error("cannot prune {name}: {child} is still under it (prune or move {child} too)")]
    PrunedParentInUse { name: String, child: String },
    #[error("cannot prune service plan {plan}: {kind} {name} still uses it")]
    PrunedServicePlanInUse {
        plan: String,
        kind: Kind,
        name: String,
    },
    #[error(
        "refusing to prune {pruned} of {managed} {} managed by {source_name} ({percent:.1}%, more than the {limit}% allowed by --max-prune); first pruned: {}",
        if *.managed == 1 { "account" } else { "accounts" },
        .examples.join(", ")
    )]
    PruneLimit {
        source_name: String,
        pruned: usize,
        managed: usize,
        percent: f64,
        limit: f64,
        examples: Vec<String>,
    },
    #[error("scope root {root} does not exist")]
    ScopeRootMissing { root: String },
    #[error("{kind} {name} is outside scope {root}")]
    OutsideScope {
        kind: Kind,
        name: String,
        root: String,
    },
    #[error("{kind} {name} would move into scope {root} from {from}")]
    MoveIntoScope {
        kind: Kind,
        name: String,
        root: String,
        from: String,
    },
    #[error("{kind} {name} would move out of scope {root} to {}", .to.as_deref().unwrap_or("the top level"))]
    MoveOutOfScope {
        kind: Kind,
        name: String,
        root: String,
        to: Option<String>,
    },
    #[error(
        "{kind} {root} is the scope root: its parent cannot change ({} → {})",
        .from.as_deref().unwrap_or("none"),
        .to.as_deref().unwrap_or("none")
    )]
    ScopeRootParentChange {
        kind: Kind,
        root: String,
        from: Option<String>,
        to: Option<String>,
    },
    #[error(
        "service plan {name} cannot be {action} in a run scoped to {root} (service plans are global)"
    )]
    ServicePlanInScope {
        name: String,
        action: &'static str,
        root: String,
    },
    #[error("scope {root} is a partner group: it may not create partner {name}")]
    PartnerInPartnerGroupScope { name: String, root: String },
    #[error(
        "{kind} {name} exists archived, last managed by source {owner}: only that source may restore it (not {source_name}); choose another name"
    )]
    RestoreByOtherSource {
        kind: Kind,
        name: String,
        owner: String,
        source_name: String,
    },
    #[error(
        "{kind} {name} exists archived outside scope {root}: a run scoped to {root} may not restore it"
    )]
    RestoreOutsideScope {
        kind: Kind,
        name: String,
        root: String,
    },
}

impl Problem {
    /// The object the problem is about (for a controller's status or a log field).
    pub fn object(&self) -> &str {
        match self {
            Problem::DeclaredTwice { name, .. }
            | Problem::ExistsUnmanaged { name, .. }
            | Problem::ManagedByOtherSource { name, .. }
            | Problem::MissingParent { name, .. }
            | Problem::MissingServicePlan { name, .. }
            | Problem::Placement { name, .. }
            | Problem::RootPlacement { name, .. }
            | Problem::ParentCycle { name, .. }
            | Problem::PrunedParentInUse { name, .. }
            | Problem::OutsideScope { name, .. }
            | Problem::MoveIntoScope { name, .. }
            | Problem::MoveOutOfScope { name, .. }
            | Problem::ServicePlanInScope { name, .. }
            | Problem::PartnerInPartnerGroupScope { name, .. }
            | Problem::RestoreByOtherSource { name, .. }
            | Problem::RestoreOutsideScope { name, .. } => name,
            Problem::PrunedServicePlanInUse { plan, .. } => plan,
            Problem::PruneLimit { source_name, .. } => source_name,
            Problem::ScopeRootMissing { root } | Problem::ScopeRootParentChange { root, .. } => {
                root
            }
        }
    }
}

/// Every problem that keeps a plan from being made, in a stable order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{}", Rejected(.0))]
    Rejected(Vec<Problem>),
}

impl PlanError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            PlanError::Rejected(problems) => problems,
        }
    }
}

/// Formats the problem list: one line for a single problem, a counted list otherwise,
/// cut at [`SHOWN_PROBLEMS`] so that a wholesale mistake (say, the wrong `--source` on
/// 100k accounts) stays readable; `PlanError::problems` still holds every one.
struct Rejected<'a>(&'a [Problem]);

/// How many problems the message lists before it only counts the rest.
pub const SHOWN_PROBLEMS: usize = 50;

impl fmt::Display for Rejected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [single] => write!(f, "cannot plan: {single}"),
            problems => {
                write!(f, "cannot plan: {} problems", problems.len())?;
                for problem in problems.iter().take(SHOWN_PROBLEMS) {
                    write!(f, "\n  - {problem}")?;
                }
                if problems.len() > SHOWN_PROBLEMS {
                    write!(f, "\n  … and {} more", problems.len() - SHOWN_PROBLEMS)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmanaged(count: usize) -> PlanError {
        PlanError::Rejected(
            (0..count)
                .map(|index| Problem::ExistsUnmanaged {
                    kind: Kind::Account,
                    name: format!("account-{index}"),
                })
                .collect(),
        )
    }

    #[test]
    fn a_long_problem_list_is_cut_and_counted() {
        let message = unmanaged(SHOWN_PROBLEMS + 10).to_string();
        assert!(message.starts_with("cannot plan: 60 problems"), "{message}");
        assert_eq!(
            message
                .lines()
                .filter(|line| line.starts_with("  - "))
                .count(),
            SHOWN_PROBLEMS
        );
        assert!(message.ends_with("… and 10 more"), "{message}");
        assert_eq!(unmanaged(SHOWN_PROBLEMS + 10).problems().len(), 60);
    }

    #[test]
    fn a_short_problem_list_is_shown_whole() {
        let message = unmanaged(3).to_string();
        assert_eq!(message.lines().count(), 4, "{message}");
        assert!(!message.contains("more"));
    }
}
