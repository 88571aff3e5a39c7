//! The text rendering: one line per change, nested under the changed parent where
//! there is one, field changes below their `update`, then warnings, orphans and the
//! summary line.
//!
//! ```text
//!   + create Account partner-z (partner) in sub
//!     + create Account z-one (customer) in partner-z
//!   ~ update Account acme-fr
//!       displayName: "Acme Fr" → "ACME France"
//!   ↓ deactivate Account partner-x (cascades to 2 accounts: x-one, x-two)
//!
//! Plan: 2 to create, 1 to update, 1 to deactivate (cascades to 2 accounts).
//! ```
//!
//! A plan of more than [`BRIEF_ABOVE`] changes is shown by [`brief`]: only what takes
//! something away or moves it, then the counts.

use std::fmt::Write;

use rustc_hash::FxHashMap;

use crate::model::{Kind, NodeType};
use crate::plan::{Change, Op, Plan};

use super::{cascade, kept_orphans, symbol, target, value};

/// Cascade names shown inline before "and N more".
const CASCADE_NAMES_SHOWN: usize = 5;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// ANSI styling, or none at all.
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn op(&self, op: Op, text: &str) -> String {
        let code = match op {
            Op::Create | Op::AddUser | Op::Activate => GREEN,
            Op::Update | Op::UpdateUser | Op::ChangePlan | Op::Release => YELLOW,
            Op::Move | Op::Group | Op::Ungroup => CYAN,
            Op::Deactivate | Op::Delete | Op::RemoveUser => RED,
        };
        self.paint(code, text)
    }
}

/// Plans with more changes than this are rendered by [`brief`] unless every change
/// is asked for (`canopy plan -v`, or a machine format).
pub const BRIEF_ABOVE: usize = 50;

/// Renders the plan for a terminal (`color`) or a log (plain): every change.
pub fn text(plan: &Plan, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let depths = nesting(plan);
    let created = created_types(plan);
    for change in &plan.changes {
        let depth = depths.get(change.name.as_str()).copied().unwrap_or(0);
        write_change(
            &mut out,
            change,
            created_type(&created, change),
            depth,
            &style,
        );
    }
    if !plan.changes.is_empty() {
        out.push('\n');
    }
    write_tail(&mut out, plan, None, &style);
    out
}

/// Whether a change deserves a reader's eye in a large plan: it takes something away
/// or moves it (deactivations with their cascade, prunes, moves, plan changes, removed
/// users).
pub fn is_risky(op: Op) -> bool {
    matches!(
        op,
        Op::Deactivate
            | Op::Delete
            | Op::Move
            | Op::Group
            | Op::Ungroup
            | Op::ChangePlan
            | Op::RemoveUser
    )
}

/// Renders a large plan: the risky changes (at most [`BRIEF_ABOVE`] of them), a count
/// of the rest, the warnings and orphans (as many), and the summary line.
pub fn brief(plan: &Plan, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let created = created_types(plan);
    let risky: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|change| is_risky(change.op))
        .collect();
    for change in risky.iter().take(BRIEF_ABOVE) {
        write_change(&mut out, change, created_type(&created, change), 0, &style);
    }
    if risky.len() > BRIEF_ABOVE {
        let more = risky.len() - BRIEF_ABOVE;
        let noun = if more == 1 {
            "risky change"
        } else {
            "risky changes"
        };
        let _ = writeln!(out, "  … and {more} more {noun}");
    }
    let rest = plan.changes.len() - risky.len();
    if !risky.is_empty() {
        out.push('\n');
    }
    let listed = if risky.is_empty() {
        "No deactivations, prunes, moves or plan changes"
    } else {
        "Above: the deactivations, prunes, moves and plan changes"
    };
    let changes = if rest == 1 { "change" } else { "changes" };
    let _ = writeln!(
        out,
        "{listed}; not listed: {rest} other {changes} (creations, updates, activations, \
         releases, users added or updated). `-v` or `-o json` lists every change.\n"
    );
    write_tail(&mut out, plan, Some(BRIEF_ABOVE), &style);
    out
}

/// Warnings, orphans (each list cut at `limit` entries, if given) and the summary line.
fn write_tail(out: &mut String, plan: &Plan, limit: Option<usize>, style: &Style) {
    let limit = limit.unwrap_or(usize::MAX);
    if !plan.warnings.is_empty() {
        out.push_str(&style.paint(BOLD, "Warnings:"));
        out.push('\n');
        for warning in plan.warnings.iter().take(limit) {
            let code = style.paint(YELLOW, &format!("! {}", warning.code));
            let _ = writeln!(out, "  {code} {}: {}", warning.name, warning.message);
        }
        more(out, plan.warnings.len(), limit, "warning", "warnings");
        out.push('\n');
    }
    let orphans = kept_orphans(plan);
    if !orphans.is_empty() {
        let heading = format!(
            "Orphans ({}; no longer declared, deleted only with --prune):",
            orphans.len()
        );
        out.push_str(&style.paint(BOLD, &heading));
        out.push('\n');
        for orphan in orphans.iter().take(limit) {
            let _ = writeln!(out, "  {}", style.paint(DIM, orphan));
        }
        more(out, orphans.len(), limit, "orphan", "orphans");
        out.push('\n');
    }
    let summary = plan.summary();
    let line = if summary.total == 0 {
        summary.line()
    } else {
        format!("Plan: {}.", summary.line())
    };
    out.push_str(&style.paint(BOLD, &line));
    out.push('\n');
}

/// `  … and 3 more warnings` when a list of `total` was cut at `limit`.
fn more(out: &mut String, total: usize, limit: usize, singular: &str, plural: &str) {
    if total > limit {
        let more = total - limit;
        let noun = if more == 1 { singular } else { plural };
        let _ = writeln!(out, "  … and {more} more {noun}");
    }
}

/// The type of every node the plan creates, by name.
fn created_types(plan: &Plan) -> FxHashMap<&str, NodeType> {
    plan.writes
        .nodes
        .iter()
        .filter(|write| write.create)
        .map(|write| (write.name.as_str(), write.spec.node_type))
        .collect()
}

fn created_type(created: &FxHashMap<&str, NodeType>, change: &Change) -> Option<NodeType> {
    match change.op {
        Op::Create => created.get(change.name.as_str()).copied(),
        _ => None,
    }
}

/// How deep each changed node sits below other changed nodes (post-apply parents come
/// from the plan's node writes; the plan lists parents before children).
fn nesting(plan: &Plan) -> FxHashMap<&str, usize> {
    let parents: FxHashMap<&str, Option<&str>> = plan
        .writes
        .nodes
        .iter()
        .map(|write| (write.name.as_str(), write.spec.parent.as_deref()))
        .collect();
    let mut depths: FxHashMap<&str, usize> = FxHashMap::default();
    for change in &plan.changes {
        if change.kind == Kind::ServicePlan || matches!(change.op, Op::Delete | Op::Release) {
            continue;
        }
        let name = change.name.as_str();
        if depths.contains_key(name) {
            continue;
        }
        let depth = parents
            .get(name)
            .copied()
            .flatten()
            .and_then(|parent| depths.get(parent))
            .map_or(0, |parent_depth| parent_depth + 1);
        depths.insert(name, depth);
    }
    depths
}

fn write_change(
    out: &mut String,
    change: &Change,
    created_type: Option<NodeType>,
    depth: usize,
    style: &Style,
) {
    let indent = "  ".repeat(depth + 1);
    let head = style.op(change.op, &format!("{} {}", symbol(change.op), change.op));
    let _ = write!(out, "{indent}{head} {} {}", change.kind, change.name);
    if let Some(node_type) = created_type {
        let _ = write!(out, " ({node_type})");
    }
    if let Some(target) = target(change) {
        let separator = if change.op == Op::Create { " " } else { ": " };
        let _ = write!(out, "{separator}{target}");
    }
    if let Some(cascade) = change
        .cascade
        .as_ref()
        .and_then(|value| cascade(value, CASCADE_NAMES_SHOWN))
    {
        let _ = write!(out, " ({cascade})");
    }
    out.push('\n');
    for field in &change.fields {
        let _ = writeln!(
            out,
            "{indent}    {}: {} → {}",
            field.name,
            style.paint(RED, &value(&field.before)),
            style.paint(GREEN, &value(&field.after)),
        );
    }
}
