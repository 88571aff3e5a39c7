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
