//! The Markdown rendering, for a pull-request comment (GitHub-flavoured): a heading
//! with the summary line, a count table, the changes as a table (collapsed when
//! long), warnings as a list, and orphans and long cascades in `<details>` blocks.

use std::fmt::Write;

use crate::plan::{Change, Op, Plan};

use super::{cascade, kept_orphans, symbol, target, value};

/// More changes than this and the change table starts collapsed.
const OPEN_CHANGES_LIMIT: usize = 25;
/// Cascade names shown in a table cell before the rest is collapsed.
const CASCADE_NAMES_SHOWN: usize = 10;

/// Renders the plan as a Markdown document ending with a newline.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### canopy plan · source {}\n", code(&plan.source));
    let summary = plan.summary();
    let _ = writeln!(out, "**{}**\n", summary.line());
    if summary.total > 0 {
        out.push_str("| Operation | Count |\n| --- | ---: |\n");
        for op in Op::ALL {
            let count = summary.count(op);
            if count > 0 {
                let _ = writeln!(out, "| {} {op} | {count} |", symbol(op));
            }
        }
        if summary.cascade > 0 {
            let _ = writeln!(
                out,
                "| accounts whose activation changes | {} |",
                summary.cascade
            );
        }
        out.push('\n');
        write_changes(&mut out, &plan.changes);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "#### Warnings ({})\n", plan.warnings.len());
        for warning in &plan.warnings {
            let _ = writeln!(
                out,
                "- ⚠️ **{}** {}: {}",
                warning.code,
                code(&warning.name),
                escape(&warning.message)
            );
        }
        out.push('\n');
    }
    let orphans = kept_orphans(plan);
    if !orphans.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Orphans ({}): no longer declared, deleted only with <code>--prune</code></summary>\n",
            orphans.len()
        );
        for orphan in orphans {
            let _ = writeln!(out, "- {}", code(orphan));
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn write_changes(out: &mut String, changes: &[Change]) {
    let open = if changes.len() > OPEN_CHANGES_LIMIT {
        ""
    } else {
        " open"
    };
    let _ = writeln!(
        out,
        "<details{open}><summary>Changes ({})</summary>\n",
        changes.len()
    );
    out.push_str("| | Operation | Kind | Name | Details |\n| --- | --- | --- | --- | --- |\n");
    for change in changes {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            symbol(change.op),
            change.op,
            change.kind,
            code(&change.name),
            details(change)
        );
    }
    out.push_str("\n</details>\n\n");
}

/// The details cell: target, field changes, cascade (collapsed when long).
fn details(change: &Change) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(target) = target(change) {
        parts.push(escape(&target));
    }
    for field in &change.fields {
        parts.push(format!(
            "{}: {} → {}",
            field.name,
            code(&value(&field.before)),
            code(&value(&field.after))
        ));
    }
    if let Some(value) = &change.cascade {
        if value.names.len() > CASCADE_NAMES_SHOWN {
            let names = value.names.join(", ");
            parts.push(format!(
                "<details><summary>cascades to {} accounts</summary>{}</details>",
                value.count,
                escape(&names)
            ));
        } else if let Some(text) = cascade(value, CASCADE_NAMES_SHOWN) {
            parts.push(escape(&text));
        }
    }
    parts.join("<br>")
}

/// Text safe inside a table cell: no pipes, no line breaks, no raw HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A code span that survives backticks and pipes in its content.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}
