//! YAML syntax errors in plain words: the parser's message ("did not find expected
//! key, while parsing a block mapping") rewritten, where the case is recognised, as
//! what is wrong and how to fix it, pointing at the line to change.
//!
//! | parser says | canopy says |
//! |-------------|-------------|
//! | did not find expected key / mapping values are not allowed | inconsistent indentation: `plan` is indented 1 space, its siblings 2 |
//! | found character that cannot start any token (a tab) | a tab indents the line: YAML indents with spaces |
//! | could not find expected ':' | missing `:` after the key `displayName` |
//! | found unexpected end of stream, while scanning a quoted scalar | unclosed quote |
//! | duplicate field | `type` is given twice |
//!
//! Values that swallowed the next line (a key indented deeper than its siblings, or a
//! key without its colon) fail later, as a wrong type; [`explain_value`] recognises
//! those from the text around the value.

/// A rewritten error: the message and the (1-based, within the document) line and
/// column it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explained {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Rewrites a syntax error of `text` (one document) reported at `line`:`column`
/// (1-based) with the parser's `raw` message, which may still carry `at line L column
/// C` phrases. `None` when the case is not recognised.
pub(crate) fn explain_syntax(
    raw: &str,
    text: &str,
    line: usize,
    column: usize,
) -> Option<Explained> {
    let lines: Vec<&str> = text.lines().collect();
    let at = |line: usize, column: usize, message: String| {
        Some(Explained {
            message,
            line,
            column,
        })
    };
    if raw.contains("while scanning a quoted scalar") {
        return Some(unclosed_quote(raw, &lines, line, column));
    }
    if raw.contains("could not find expected ':'") {
        let (key_line, key_column) =
            mark_after(raw, "while scanning a simple key").unwrap_or((line, column));
        let content = lines.get(key_line.checked_sub(1)?)?.trim();
        let key = content.split_whitespace().next().unwrap_or(content);
        return at(
            key_line,
            key_column,
            format!("missing `:` after the key `{key}`: write `{key}: VALUE`"),
        );
    }
    if let Some(tab_line) = tab_indented(&lines, line) {
        return at(
            tab_line,
            1,
            "a tab indents this line: YAML indents with spaces only; replace the tab with spaces"
                .to_string(),
        );
    }
    if raw.contains("did not find expected key") || raw.contains("mapping values are not allowed") {
        return indentation(&lines, line).map(|message| Explained {
            message,
            line,
            column: indent_of(lines[line - 1]) + 1,
        });
    }
    if let Some(field) = between(raw, "duplicate field `", "`") {
        return Some(duplicate_key(field, &lines, line, column));
    }
    None
}

/// A key given twice: the parser points at the mapping, this at the second `field:`.
fn duplicate_key(field: &str, lines: &[&str], line: usize, column: usize) -> Explained {
    let indent = line
        .checked_sub(1)
        .and_then(|index| lines.get(index))
        .map_or(0, |text| indent_of(text));
    let (line, column) = (line.saturating_sub(1)..lines.len())
        .filter(|&index| indent_of(lines[index]) == indent)
        .filter(|&index| key_of(lines[index]) == Some(field))
        .nth(1)
        .map_or((line, column), |index| (index + 1, indent + 1));
    Explained {
        message: format!("`{field}` is given twice in this mapping; keep one"),
        line,
        column,
    }
}

/// The opening quote of a string that never ends, from the parser's context mark.
fn unclosed_quote(raw: &str, lines: &[&str], line: usize, column: usize) -> Explained {
    let (line, column) =
        mark_after(raw, "while scanning a quoted scalar").unwrap_or((line, column));
    let quote = char_at(lines, line, column).unwrap_or('"');
    Explained {
        message: format!(
            "unclosed quote: the string opened with {quote} here never ends; \
             close it with {quote} on the same line"
        ),
        line,
        column,
    }
}

/// Recognises a value that swallowed the line after it (a wrong type or an unknown
/// variant whose text spans lines) and says why; `line`:`column` is where the value
/// starts. `None` when the value is an ordinary mistake.
pub(crate) fn explain_value(text: &str, line: usize, column: usize) -> Option<Explained> {
    let lines: Vec<&str> = text.lines().collect();
    let current = *lines.get(line.checked_sub(1)?)?;
    let next_index = (line..lines.len()).find(|&index| is_content(lines[index]))?;
    let next = lines[next_index];
    let next_key = key_of(next)?;
    let (indent, next_indent) = (indent_of(current), indent_of(next));
    // A line without `key:` that is followed by a key: its colon is missing.
    if key_of(current).is_none() && !current.trim_start().starts_with('-') {
        let content = current.trim();
        let key = content.split_whitespace().next().unwrap_or(content);
        return Some(Explained {
            message: format!(
                "missing `:` after the key `{key}` (YAML reads the lines below it as part of a \
                 value): write `{key}: VALUE`"
            ),
            line,
            column: indent + 1,
        });
    }
    let current_key = key_of(current)?;
    (next_indent > indent && !value_is_empty(current)).then(|| Explained {
        message: format!(
            "inconsistent indentation: `{next_key}` is indented {}, its sibling `{current_key}` {indent}, \
             so YAML reads `{next_key}` as part of the value of `{current_key}`; line up the keys",
            spaces(next_indent)
        ),
        line: next_index + 1,
        column: next_indent + 1,
    })
    .filter(|_| column > indent)
}

/// "`plan` is indented 1 space, its siblings 2" for the key on `line`, compared with
/// the content line above it.
fn indentation(lines: &[&str], line: usize) -> Option<String> {
    let current = *lines.get(line.checked_sub(1)?)?;
    let key = key_of(current)?;
    let above = (0..line - 1)
        .rev()
        .find(|&index| is_content(lines[index]))?;
    let (indent, above_indent) = (indent_of(current), indent_of(lines[above]));
    if indent == above_indent {
        return None;
    }
    let siblings = if key_of(lines[above]).is_some() {
        "its siblings"
    } else {
        "the line above"
    };
    Some(format!(
        "inconsistent indentation: `{key}` is indented {}, {siblings} {above_indent}; \
         keys of one mapping must line up",
        spaces(indent)
    ))
}

/// The line (1-based) whose indentation holds a tab: `line` itself, or the content line
/// just above it.
fn tab_indented(lines: &[&str], line: usize) -> Option<usize> {
    let has_tab = |index: usize| {
        lines.get(index).is_some_and(|text| {
            text.chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        })
    };
    let index = line.checked_sub(1)?;
    if has_tab(index) {
        Some(line)
    } else {
        index
            .checked_sub(1)
            .filter(|&above| has_tab(above))
            .map(|above| above + 1)
    }
}

fn spaces(count: usize) -> String {
    if count == 1 {
        "1 space".to_string()
    } else {
        format!("{count} spaces")
    }
}

fn indent_of(line: &str) -> usize {
    line.chars().take_while(|&c| c == ' ').count()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// The key of a `key: value` or `key:` line (a list item's key too).
fn key_of(line: &str) -> Option<&str> {
    let content = line.trim_start().trim_start_matches("- ").trim_start();
    let (key, _) = content
        .split_once(": ")
        .or_else(|| content.strip_suffix(':').map(|key| (key, "")))?;
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    plain.then_some(key)
}

fn value_is_empty(line: &str) -> bool {
    line.trim_end().ends_with(':')
}

fn char_at(lines: &[&str], line: usize, column: usize) -> Option<char> {
    lines
        .get(line.checked_sub(1)?)?
        .chars()
        .nth(column.checked_sub(1)?)
}

/// The `line L column C` after `phrase` in a parser message.
fn mark_after(raw: &str, phrase: &str) -> Option<(usize, usize)> {
    let rest = &raw[raw.find(phrase)? + phrase.len()..];
    let rest = rest.strip_prefix(" at line ")?;
    let (line, rest) = rest.split_once(" column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, column.parse().ok()?))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    rest.split_once(end).map(|(inside, _)| inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What canopy says about a document, through the real parser.
    fn explained(text: &str) -> Explained {
        let error = serde_yaml::from_str::<serde_yaml::Value>(text).expect_err("a syntax error");
        let location = error.location().expect("a location");
        explain_syntax(&error.to_string(), text, location.line(), location.column())
            .unwrap_or_else(|| panic!("not recognised: {error}"))
    }

    #[rstest::rstest]
    #[case::dedented(
        "spec:\n  type: customer\n  displayName: Acme\n plan: gold\n",
        "inconsistent indentation: `plan` is indented 1 space, its siblings 2; keys of one mapping must line up",
        (4, 2)
    )]
    #[case::first_too_deep(
        "spec:\n    type: customer\n  displayName: Acme\n",
        "inconsistent indentation: `displayName` is indented 2 spaces, its siblings 4; keys of one mapping must line up",
        (3, 3)
    )]
    #[case::tab(
        "spec:\n\ttype: customer\n",
        "a tab indents this line: YAML indents with spaces only; replace the tab with spaces",
        (2, 1)
    )]
    #[case::missing_colon(
        "spec:\n  type: customer\n  displayName Acme\n  plan: x\n",
        "missing `:` after the key `displayName`: write `displayName: VALUE`",
        (3, 3)
    )]
    #[case::unclosed_quote(
        "spec:\n  displayName: \"Acme\n  plan: x\n",
        "unclosed quote: the string opened with \" here never ends; close it with \" on the same line",
        (2, 16)
    )]
    fn syntax_errors_are_said_in_plain_words(
        #[case] text: &str,
        #[case] message: &str,
        #[case] (line, column): (usize, usize),
    ) {
        let explained = explained(text);
        assert_eq!(explained.message, message);
        assert_eq!((explained.line, explained.column), (line, column));
    }

    #[test]
    fn a_key_indented_under_its_sibling_is_named() {
        let text = "spec:\n  type: customer\n   displayName: Acme\n";
        let explained = explain_value(text, 2, 9).expect("recognised");
        assert_eq!(
            explained.message,
            "inconsistent indentation: `displayName` is indented 3 spaces, its sibling `type` 2, so YAML reads `displayName` as part of the value of `type`; line up the keys"
        );
        assert_eq!((explained.line, explained.column), (3, 4));
    }

    #[test]
    fn a_key_without_colon_swallowing_the_next_line_is_named() {
        let text = "spec:\n  type customer\n  displayName: Acme\n";
        let explained = explain_value(text, 2, 3).expect("recognised");
        assert!(
            explained
                .message
                .starts_with("missing `:` after the key `type`"),
            "{}",
            explained.message
        );
    }

    #[test]
    fn an_ordinary_wrong_value_is_left_alone() {
        let text = "spec:\n  active: maybe\n  displayName: Acme\n";
        assert_eq!(explain_value(text, 2, 11), None);
    }
}
