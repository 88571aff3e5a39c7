//! Counting a plan: per-operation totals and the activation cascade, and the one-line
//! summary every renderer prints ("3 to create, 1 to move, 1 to deactivate (cascades
//! to 240 accounts)").

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Op, Plan};

/// What a plan does, in numbers. Serialized as the `summary` object of JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The number of changes.
    pub total: usize,
    /// Changes per operation; every operation is present, zero or not.
    #[serde(flatten)]
    pub counts: BTreeMap<Op, usize>,
    /// Distinct accounts whose effective activation changes through an `activate` or
    /// `deactivate` of an ancestor (an account counted by several cascades counts once).
    pub cascade: usize,
    /// The same, through `activate` changes only.
    pub activate_cascade: usize,
    /// The same, through `deactivate` changes only.
    pub deactivate_cascade: usize,
    pub warnings: usize,
    pub orphans: usize,
}

impl Summary {
    pub fn count(&self, op: Op) -> usize {
        self.counts.get(&op).copied().unwrap_or(0)
    }

    /// "3 to create, 1 to move, 1 to deactivate (cascades to 240 accounts)", or
    /// "No changes."
    pub fn line(&self) -> String {
        if self.total == 0 {
            return "No changes.".to_string();
        }
        let parts: Vec<String> = Op::ALL
            .iter()
            .filter_map(|&op| {
                let count = self.count(op);
                (count > 0).then(|| self.phrase(op, count))
            })
            .collect();
        parts.join(", ")
    }

    fn phrase(&self, op: Op, count: usize) -> String {
        let cascade = match op {
            Op::Activate => self.activate_cascade,
            Op::Deactivate => self.deactivate_cascade,
            _ => 0,
        };
        let plural = |word: &str| {
            if count == 1 {
                word.to_string()
            } else {
                format!("{word}s")
            }
        };
        let mut phrase = match op {
            Op::ChangePlan => format!("{count} {}", plural("plan change")),
            Op::AddUser => format!("{count} {} to add", plural("user")),
            Op::RemoveUser => format!("{count} {} to remove", plural("user")),
            Op::UpdateUser => format!("{count} {} to update", plural("user")),
            op => format!("{count} to {op}"),
        };
        if cascade > 0 {
            let accounts = if cascade == 1 { "account" } else { "accounts" };
            phrase.push_str(&format!(" (cascades to {cascade} {accounts})"));
        }
        phrase
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut counts: BTreeMap<Op, usize> = Op::ALL.iter().map(|&op| (op, 0)).collect();
        let mut activated = BTreeSet::new();
        let mut deactivated = BTreeSet::new();
        for change in &self.changes {
            *counts.entry(change.op).or_insert(0) += 1;
            let names = change.cascade.iter().flat_map(|cascade| &cascade.names);
            match change.op {
                Op::Activate => activated.extend(names.map(String::as_str)),
                Op::Deactivate => deactivated.extend(names.map(String::as_str)),
                _ => {}
            }
        }
        Summary {
            total: self.changes.len(),
            counts,
            cascade: activated.union(&deactivated).count(),
            activate_cascade: activated.len(),
            deactivate_cascade: deactivated.len(),
            warnings: self.warnings.len(),
            orphans: self.orphans.len(),
        }
    }
}
