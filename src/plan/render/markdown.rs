//! The Markdown rendering, for a pull-request comment (GitHub- and GitLab-flavoured),
//! readable in ten seconds and always under the 65,536 characters GitHub accepts:
//!
//! ```text
//! ### canopy plan · source `default`
//! **⚠️ Review carefully: 1 deactivation (46,297 accounts lose access)**   the verdict
//! Plan: 1 to deactivate (cascades to 46,297 accounts).                  the summary
//! | Operation | Count |                                                 counts
//! > ⏸️ held by the approval gate …                                      (with --hold-above)
//! #### ⚠️ Risky operations (1)        deactivations + cascade, prunes, moves out of a
//!                                     group, plan downgrades, removed users
//! #### Warnings (N)                   similar names, service/setting cascades
//! #### Tree: before → after           a Mermaid diagram of the affected part
//! <details> All changes (N) </details>   the table, cut to the size budget
//! <details> Orphans (N) </details>
//! ```
//!
//! Every user-supplied string goes through [`escape`] or [`code`] (Markdown and HTML)
//! or [`mermaid::label_text`](super::mermaid::label_text), and every list is capped, so
//! a plan of any size gives a comment of bounded size.

use std::fmt::Write;

use crate::model::{Billing, Hierarchy, ServicePlan};
use crate::plan::{Cascade, Change, Op, Plan};

use super::mermaid::plan_diagram;
use super::{kept_orphans, symbol, target, value};

/// GitHub refuses comments longer than 65,536 characters; stay well below.
pub const COMMENT_LIMIT: usize = 60_000;
/// The change table stops once the comment reaches this size (room for the rest).
const TABLE_BUDGET: usize = 52_000;
/// Risky operations listed before "… and N more".
const RISKY_SHOWN: usize = 50;
/// Warnings listed before "… and N more".
const WARNINGS_SHOWN: usize = 30;
/// Orphans listed before "… and N more".
const ORPHANS_SHOWN: usize = 100;
/// Changed accounts and groups drawn in the diagram.
const DIAGRAM_CHANGES: usize = 30;
/// Cascade names shown inline.
const CASCADE_NAMES_SHOWN: usize = 10;
/// A field value longer than this is cut (with `…`).
const VALUE_CHARS: usize = 120;

/// What the comment needs besides the plan: the trees before and after (for the
/// diagram and plan downgrades) and, when a gate applies, whether it holds the plan.
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    pub live: &'a Hierarchy,
    pub desired: &'a Hierarchy,
    pub held: Option<Held>,
}

/// The plan exceeds the approval gate (`--hold-above`): the daemon would hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub hold_above: usize,
    /// The largest of: accounts effectively deactivated, pruned, moved.
    pub accounts: usize,
}

impl<'a> Review<'a> {
    pub fn new(live: &'a Hierarchy, desired: &'a Hierarchy) -> Review<'a> {
        Review {
            live,
            desired,
            held: None,
        }
    }
}

/// Why a change needs a careful look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Risk {
    Deactivation,
    Prune,
    OutOfGroup,
    Downgrade,
    UserRemoved,
}

/// Renders the plan as a Markdown document ending with a newline.
pub fn markdown(plan: &Plan, review: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### canopy plan · source {}\n", code(&plan.source));
    let risky: Vec<(&Change, Risk)> = plan
        .changes
        .iter()
        .filter_map(|change| risk(change, review).map(|risk| (change, risk)))
        .collect();
    let summary = plan.summary();
    let _ = writeln!(out, "**{}**\n", verdict(plan, &risky));
    if summary.total == 0 {
        write_orphans(&mut out, plan);
        return out;
    }
    let _ = writeln!(out, "Plan: {}.\n", summary.line());
    out.push_str("| Operation | Count |\n| --- | ---: |\n");
    for op in Op::ALL {
        let count = summary.count(op);
        if count > 0 {
            let _ = writeln!(out, "| {} {op} | {} |", symbol(op), thousands(count));
        }
    }
    if summary.cascade > 0 {
        let _ = writeln!(
            out,
            "| accounts whose activation changes | {} |",
            thousands(summary.cascade)
        );
    }
    out.push('\n');
    if let Some(held) = review.held {
        let _ = writeln!(
            out,
            "> ⏸️ **Held by the approval gate**: this plan deactivates, prunes or moves {} accounts, more than `--hold-above {}`; the daemon waits for `canopy approve`.\n",
            thousands(held.accounts),
            held.hold_above
        );
    }
    write_risky(&mut out, &risky, review);
    write_warnings(&mut out, plan);
    write_diagram(&mut out, plan, review);
    write_changes(&mut out, &plan.changes);
    write_orphans(&mut out, plan);
    out
}

/// The first line a reviewer reads.
fn verdict(plan: &Plan, risky: &[(&Change, Risk)]) -> String {
    if plan.changes.is_empty() {
        return "✅ No changes: the live state already matches.".to_string();
    }
    let count = |wanted: Risk| risky.iter().filter(|(_, risk)| *risk == wanted).count();
    let mut parts = Vec::new();
    let deactivations = count(Risk::Deactivation);
    if deactivations > 0 {
        let cascade = plan.summary().deactivate_cascade;
        let mut part = plural(deactivations, "deactivation", "deactivations");
        if cascade > 0 {
            let _ = write!(part, " ({} more accounts lose access)", thousands(cascade));
        }
        parts.push(part);
    }
    for (risk, one, many) in [
        (Risk::Prune, "prune", "prunes"),
        (
            Risk::OutOfGroup,
            "move out of a group",
            "moves out of a group",
        ),
        (Risk::Downgrade, "plan downgrade", "plan downgrades"),
        (Risk::UserRemoved, "user removed", "users removed"),
    ] {
        let found = count(risk);
        if found > 0 {
            parts.push(plural(found, one, many));
        }
    }
    if parts.is_empty() {
        "✅ Routine: nothing is deactivated, pruned, moved out of a group or downgraded."
            .to_string()
    } else {
        format!("⚠️ Review carefully: {}.", parts.join(", "))
    }
}

fn risk(change: &Change, review: &Review) -> Option<Risk> {
    match change.op {
        Op::Deactivate => Some(Risk::Deactivation),
        Op::Delete => Some(Risk::Prune),
        Op::RemoveUser => Some(Risk::UserRemoved),
        Op::Ungroup => Some(Risk::OutOfGroup),
        Op::Move => {
            let from = change
                .from
                .as_deref()
                .and_then(|name| review.live.node(name));
            from.filter(|node| node.spec.node_type.is_group())
                .map(|_| Risk::OutOfGroup)
        }
        Op::ChangePlan => downgrade(change, review).map(|_| Risk::Downgrade),
        _ => None,
    }
}

/// Why the new plan is less than the old one: trial after purchased, fewer licences,
/// a lower limit, or no plan at all. `None` when it is not a downgrade.
fn downgrade(change: &Change, review: &Review) -> Option<String> {
    let find = |name: &str| -> Option<&ServicePlan> {
        review.desired.plan(name).or_else(|| review.live.plan(name))
    };
    let old = find(change.from.as_deref()?)?;
    let Some(new) = change.to.as_deref().and_then(find) else {
        return (!pooled(change, review)).then(|| "no plan any more".to_string());
    };
    let (old, new) = (&old.spec, &new.spec);
    if old.billing == Billing::Purchased && new.billing == Billing::Trial {
        return Some("purchased → trial".to_string());
    }
    if let (Some(before), Some(after)) = (old.licenses, new.licenses)
        && after < before
    {
        return Some(format!("licenses {before} → {after}"));
    }
    old.limits.iter().find_map(|(metric, &before)| {
        let after = *new.limits.get(metric)?;
        (after < before).then(|| format!("{metric} {before} → {after}"))
    })
}

/// Whether the changed node is, after the plan, in a customer group with a plan (a
/// member that drops its own plan uses the pool's).
fn pooled(change: &Change, review: &Review) -> bool {
    let node = |name: &str| review.desired.node(name).or_else(|| review.live.node(name));
    node(&change.name)
        .and_then(|member| member.spec.parent.as_deref())
        .and_then(node)
        .is_some_and(|group| group.spec.node_type.is_group() && group.spec.plan.is_some())
}

fn write_risky(out: &mut String, risky: &[(&Change, Risk)], review: &Review) {
    if risky.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "#### ⚠️ Risky operations ({})\n",
        thousands(risky.len())
    );
    for (change, risk) in risky.iter().take(RISKY_SHOWN) {
        let _ = writeln!(out, "- {}", risky_line(change, *risk, review));
    }
    if risky.len() > RISKY_SHOWN {
        let _ = writeln!(
            out,
            "- … and {} more risky operations (`canopy plan -o json` lists every change)",
            thousands(risky.len() - RISKY_SHOWN)
        );
    }
    out.push('\n');
}

fn risky_line(change: &Change, risk: Risk, review: &Review) -> String {
    // A list item starting with `-` or `+` would open a nested list.
    let symbol = match symbol(change.op) {
        sign @ ("-" | "+") => format!("\\{sign}"),
        other => other.to_string(),
    };
    let head = format!(
        "{symbol} **{}** {} {}",
        change.op,
        change.kind,
        code(&change.name)
    );
    match risk {
        Risk::Deactivation => match change.cascade.as_deref().and_then(cascade_text) {
            Some(text) => format!("{head}: {text}"),
            None => head,
        },
        Risk::Prune => format!("{head}: archived (`--prune`)"),
        Risk::UserRemoved => format!("{head}: {}", escape(change.user.as_deref().unwrap_or(""))),
        Risk::OutOfGroup => match target(change) {
            Some(text) => format!("{head}: {}", escape(&text)),
            None => head,
        },
        Risk::Downgrade => format!(
            "{head}: {} (a downgrade: {})",
            escape(&target(change).unwrap_or_default()),
            escape(&downgrade(change, review).unwrap_or_default())
        ),
    }
}

fn write_warnings(out: &mut String, plan: &Plan) {
    if plan.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "#### Warnings ({})\n", thousands(plan.warnings.len()));
    for warning in plan.warnings.iter().take(WARNINGS_SHOWN) {
        let _ = writeln!(
            out,
            "- ⚠️ **{}** {}: {}",
            escape(&warning.code),
            code(&warning.name),
            escape(&shorten(&warning.message, 2 * VALUE_CHARS))
        );
    }
    if plan.warnings.len() > WARNINGS_SHOWN {
        let _ = writeln!(
            out,
            "- … and {} more warnings",
            thousands(plan.warnings.len() - WARNINGS_SHOWN)
        );
    }
    out.push('\n');
}

fn write_diagram(out: &mut String, plan: &Plan, review: &Review) {
    let Some(diagram) = plan_diagram(plan, review.live, review.desired, DIAGRAM_CHANGES) else {
        return;
    };
    out.push_str("#### Tree: before → after\n\n```mermaid\n");
    out.push_str(&diagram.mermaid);
    out.push_str("```\n\n");
    if diagram.shown < diagram.changed {
        let _ = writeln!(
            out,
            "_The diagram shows the first {} of {} changed accounts and groups._\n",
            diagram.shown,
            thousands(diagram.changed)
        );
    }
}

fn write_changes(out: &mut String, changes: &[Change]) {
    let _ = writeln!(
        out,
        "<details><summary>All changes ({})</summary>\n",
        thousands(changes.len())
    );
    out.push_str("| | Operation | Kind | Name | Details |\n| --- | --- | --- | --- | --- |\n");
    let mut written = 0;
    for change in changes {
        let row = format!(
            "| {} | {} | {} | {} | {} |\n",
            symbol(change.op),
            change.op,
            change.kind,
            code(&change.name),
            details(change)
        );
        if out.len() + row.len() > TABLE_BUDGET {
            break;
        }
        out.push_str(&row);
        written += 1;
    }
    if written < changes.len() {
        let _ = writeln!(
            out,
            "\n… and {} more changes, left out to keep this comment under GitHub's size limit; `canopy plan -o json` lists every change.",
            thousands(changes.len() - written)
        );
    }
    out.push_str("\n</details>\n\n");
}

fn write_orphans(out: &mut String, plan: &Plan) {
    let orphans = kept_orphans(plan);
    if orphans.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>Orphans ({}): no longer declared, deleted only with <code>--prune</code></summary>\n",
        thousands(orphans.len())
    );
    for orphan in orphans.iter().take(ORPHANS_SHOWN) {
        let _ = writeln!(out, "- {}", code(orphan));
    }
    if orphans.len() > ORPHANS_SHOWN {
        let _ = writeln!(
            out,
            "- … and {} more",
            thousands(orphans.len() - ORPHANS_SHOWN)
        );
    }
    out.push_str("\n</details>\n");
}

/// The details cell: target, field changes (long values cut), cascade (names capped).
fn details(change: &Change) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(target) = target(change) {
        parts.push(escape(&target));
    }
    for field in &change.fields {
        parts.push(format!(
            "{}: {} → {}",
            escape(&field.name),
            code(&shorten(&value(&field.before), VALUE_CHARS)),
            code(&shorten(&value(&field.after), VALUE_CHARS))
        ));
    }
    if let Some(text) = change.cascade.as_deref().and_then(cascade_text) {
        parts.push(text);
    }
    parts.join("<br>")
}

/// At most `limit` characters, `…` marking a cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit).collect();
    cut.push('…');
    cut
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(count),
        if count == 1 { one } else { many }
    )
}

/// 46297 → "46,297".
fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "cascades to 46,297 accounts: `a`, `b` … and 46,287 more", names capped.
fn cascade_text(cascade: &Cascade) -> Option<String> {
    if cascade.count == 0 {
        return None;
    }
    let names: Vec<String> = cascade
        .names
        .iter()
        .take(CASCADE_NAMES_SHOWN)
        .map(|name| code(name))
        .collect();
    let mut text = format!(
        "cascades to {}: {}",
        plural(cascade.count, "account", "accounts"),
        names.join(", ")
    );
    if cascade.names.len() > CASCADE_NAMES_SHOWN {
        let _ = write!(
            text,
            " and {} more",
            thousands(cascade.names.len() - CASCADE_NAMES_SHOWN)
        );
    }
    Some(text)
}

/// Text safe inside a table cell or list item: no pipes, no line breaks, no raw HTML,
/// and no Markdown syntax (emphasis, links, images, code), so that a display name or
/// setting can never end a code span, close a `<details>` or add a link or a row.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(character);
            }
            other => out.push(other),
        }
    }
    out
}

/// A code span that survives backticks and pipes in its content: its fence is one
/// backtick longer than the longest run inside (CommonMark ends a span only at a run of
/// exactly the fence's length), padded with spaces so that content starting or ending
/// with a backtick stays inside.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for character in text.chars() {
        run = if character == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if longest == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code span's content as a CommonMark reader sees it: after the opening fence,
    /// up to the first run of backticks of exactly the fence's length.
    fn span_content(span: &str) -> &str {
        let fence = span.chars().take_while(|&c| c == '`').count();
        let rest = &span[fence..];
        let bytes = rest.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'`' {
                let run = bytes[index..].iter().take_while(|&&b| b == b'`').count();
                if run == fence {
                    return &rest[..index];
                }
                index += run;
            } else {
                index += 1;
            }
        }
        rest
    }

    #[rstest::rstest]
    #[case("plain")]
    #[case("one ` tick")]
    #[case("``double`` </details> | row |")]
    #[case("```triple```")]
    #[case("`leading and trailing`")]
    fn a_code_span_holds_any_run_of_backticks(#[case] text: &str) {
        let span = code(text);
        let fence = span.chars().take_while(|&c| c == '`').count();
        assert!(span.ends_with(&"`".repeat(fence)), "{span}");
        assert_eq!(
            span.len() - fence,
            span_content(&span).len() + fence,
            "{span}"
        );
        assert!(!span.contains("| row |"), "{span}");
    }

    #[test]
    fn escaped_text_carries_no_markup() {
        let hostile = "x</details><img src=x>[link](http://evil.example) *bold* | cell | `c`\nnext";
        let escaped = escape(hostile);
        for raw in [
            "</details>",
            "<img",
            "[link](",
            "*bold*",
            " | cell",
            "`c`",
            "\n",
        ] {
            assert!(!escaped.contains(raw), "`{raw}` survived: {escaped}");
        }
    }
}
