//! Renderings of a plan: [`text`] (a tree for terminals), [`json`] (the stable machine
//! format), [`markdown`] (a pull-request comment, with a [`mermaid`] diagram) and [`yaml_diff`] (a unified diff of
//! the objects the plan changes). All are pure functions of their inputs returning a
//! `String`; printing, paging and colour detection (`NO_COLOR`, a terminal or not) are
//! the caller's business. docs/plan-format.md shows each format.

mod json;
mod markdown;
pub mod mermaid;
mod text;
mod yaml_diff;

#[cfg(test)]
mod markdown_tests;
#[cfg(test)]
mod tests;

pub use json::json;
pub use markdown::{COMMENT_LIMIT, Held, Review, markdown};
pub use text::{BRIEF_ABOVE, brief, is_risky, text};
pub use yaml_diff::yaml_diff;

use rustc_hash::FxHashSet;
use serde_json::Value;

use super::{Cascade, Change, Op, Plan};

/// The symbol in front of a change, shared by text and Markdown.
pub fn symbol(op: Op) -> &'static str {
    match op {
        Op::Create | Op::AddUser => "+",
        Op::Update | Op::UpdateUser | Op::ChangePlan | Op::Release => "~",
        Op::Move | Op::Group | Op::Ungroup => "→",
        Op::Activate => "↑",
        Op::Deactivate => "↓",
        Op::Delete | Op::RemoveUser => "-",
    }
}

/// A field value as a manifest would show it: compact JSON (strings quoted), `none`
/// for null.
fn value(value: &Value) -> String {
    match value {
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

/// The part of a change line after the operation and name: `from → to`, the user, or
/// the parent of a created node.
fn target(change: &Change) -> Option<String> {
    let place = |parent: Option<&str>| parent.unwrap_or("(top level)").to_string();
    match change.op {
        Op::Create => change.to.as_deref().map(|parent| format!("in {parent}")),
        Op::Move | Op::Group | Op::Ungroup => Some(format!(
            "{} → {}",
            place(change.from.as_deref()),
            place(change.to.as_deref())
        )),
        Op::ChangePlan => Some(format!(
            "{} → {}",
            change.from.as_deref().unwrap_or("(no plan)"),
            change.to.as_deref().unwrap_or("(no plan)")
        )),
        Op::AddUser | Op::RemoveUser | Op::UpdateUser => change.user.clone(),
        Op::Release => Some(format!(
            "managed by {} → unmanaged (kept)",
            change.from.as_deref().unwrap_or("(no source)")
        )),
        Op::Update | Op::Activate | Op::Deactivate | Op::Delete => None,
    }
}

/// "cascades to 2 accounts: x-one, x-two" (at most `shown` names).
fn cascade(cascade: &Cascade, shown: usize) -> Option<String> {
    if cascade.count == 0 {
        return None;
    }
    let accounts = if cascade.count == 1 {
        "account"
    } else {
        "accounts"
    };
    let mut names = cascade
        .names
        .iter()
        .take(shown)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if cascade.names.len() > shown {
        names.push_str(&format!(" and {} more", cascade.names.len() - shown));
    }
    Some(format!("cascades to {} {accounts}: {names}", cascade.count))
}

/// Orphans that this plan keeps: a pruned orphan already shows as a `delete`, a
/// released one as a `release`.
fn kept_orphans(plan: &Plan) -> Vec<&str> {
    let deleted: FxHashSet<&str> = plan
        .changes
        .iter()
        .filter(|change| matches!(change.op, Op::Delete | Op::Release))
        .map(|change| change.name.as_str())
        .collect();
    plan.orphans
        .iter()
        .map(String::as_str)
        .filter(|name| !deleted.contains(name))
        .collect()
}
