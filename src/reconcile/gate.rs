//! The blast-radius gate: how many accounts a plan effectively deactivates, prunes or
//! moves, and whether that is more than may flow without a person's approval.
//!
//! Pure: it reads a [`Plan`] and returns values.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Kind;
use crate::plan::{Op, Plan};

/// When a plan is held instead of applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every plan is applied (`--hold-above off`).
    Off,
    /// A plan that effectively deactivates, prunes or moves more than this many
    /// accounts is held (`0` holds everything destructive).
    HoldAbove(usize),
}

impl Gate {
    /// Whether a plan of this radius must wait for approval.
    pub fn holds(self, radius: &BlastRadius) -> bool {
        match self {
            Gate::Off => false,
            Gate::HoldAbove(limit) => radius.largest() > limit,
        }
    }
}

impl std::str::FromStr for Gate {
    type Err = String;

    /// `off` or a number of accounts.
    fn from_str(text: &str) -> Result<Gate, String> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(Gate::Off);
        }
        text.parse()
            .map(Gate::HoldAbove)
            .map_err(|_| format!("expected a number of accounts or `off`, got `{text}`"))
    }
}

/// The destructive reach of a plan, in accounts (and groups, for moves and prunes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlastRadius {
    /// Distinct accounts whose effective activation goes from active to inactive:
    /// deactivated accounts and every account a deactivation cascades to.
    pub deactivated: usize,
    /// Accounts and groups deleted (archived) by `--prune`.
    pub pruned: usize,
    /// Accounts and groups re-parented (`move`, `group`, `ungroup`).
    pub moved: usize,
}

impl BlastRadius {
    pub fn of(plan: &Plan) -> BlastRadius {
        let mut deactivated = BTreeSet::new();
        let mut radius = BlastRadius::default();
        for change in &plan.changes {
            match change.op {
                Op::Deactivate => {
                    if change.kind == Kind::Account {
                        deactivated.insert(change.name.as_str());
                    }
                    let cascade = change.cascade.iter().flat_map(|cascade| &cascade.names);
                    deactivated.extend(cascade.map(String::as_str));
                }
                Op::Delete if change.kind != Kind::ServicePlan => radius.pruned += 1,
                Op::Move | Op::Group | Op::Ungroup => radius.moved += 1,
                _ => {}
            }
        }
        radius.deactivated = deactivated.len();
        radius
    }

    /// The largest of the three counts: what the gate compares with its limit.
    pub fn largest(&self) -> usize {
        self.deactivated.max(self.pruned).max(self.moved)
    }

    /// Whether the plan does anything the gate counts.
    pub fn is_destructive(&self) -> bool {
        self.largest() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Cascade, Change};

    fn change(op: Op, kind: Kind, name: &str, cascade: &[&str]) -> Change {
        Change {
            op,
            kind,
            name: name.into(),
            from: None,
            to: None,
            user: None,
            fields: Vec::new(),
            cascade: (!cascade.is_empty()).then(|| {
                Box::new(Cascade {
                    count: cascade.len(),
                    names: cascade.iter().map(|name| name.to_string()).collect(),
                })
            }),
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            changes,
            ..Plan::default()
        }
    }

    #[test]
    fn a_deactivated_group_counts_the_accounts_it_cascades_to_once() {
        let plan = plan(vec![
            change(
                Op::Deactivate,
                Kind::AccountGroup,
                "partner",
                &["a", "b", "c"],
            ),
            change(Op::Deactivate, Kind::Account, "a", &["b"]),
            change(Op::Deactivate, Kind::Account, "d", &[]),
        ]);
        let radius = BlastRadius::of(&plan);
        assert_eq!(radius.deactivated, 4);
        assert_eq!(radius.largest(), 4);
    }

    #[test]
    fn moves_and_prunes_are_counted_apart() {
        let plan = plan(vec![
            change(Op::Move, Kind::Account, "a", &[]),
            change(Op::Group, Kind::Account, "b", &[]),
            change(Op::Ungroup, Kind::Account, "c", &[]),
            change(Op::Delete, Kind::Account, "d", &[]),
            change(Op::Delete, Kind::ServicePlan, "old-plan", &[]),
            change(Op::Update, Kind::Account, "e", &[]),
        ]);
        let radius = BlastRadius::of(&plan);
        assert_eq!(
            radius,
            BlastRadius {
                deactivated: 0,
                pruned: 1,
                moved: 3
            }
        );
    }

    #[rstest::rstest]
    #[case(Gate::Off, 1000, false)]
    #[case(Gate::HoldAbove(0), 0, false)]
    #[case(Gate::HoldAbove(0), 1, true)]
    #[case(Gate::HoldAbove(100), 100, false)]
    #[case(Gate::HoldAbove(100), 101, true)]
    fn the_gate_holds_only_above_its_limit(
        #[case] gate: Gate,
        #[case] moved: usize,
        #[case] held: bool,
    ) {
        let radius = BlastRadius {
            moved,
            ..BlastRadius::default()
        };
        assert_eq!(gate.holds(&radius), held);
    }

    #[rstest::rstest]
    #[case("off", Gate::Off)]
    #[case("OFF", Gate::Off)]
    #[case("0", Gate::HoldAbove(0))]
    #[case("100", Gate::HoldAbove(100))]
    fn gates_parse_from_flags(#[case] text: &str, #[case] gate: Gate) {
        assert_eq!(text.parse::<Gate>(), Ok(gate));
    }

    #[test]
    fn a_negative_or_wordy_gate_is_refused() {
        assert!("-1".parse::<Gate>().is_err());
        assert!("many".parse::<Gate>().is_err());
    }
}
