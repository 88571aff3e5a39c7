//! A cheap structural scan of each document before serde_yaml sees it, refusing
//! documents that would make the YAML parser slow or memory-hungry.
//!
//! libyaml (under serde_yaml) takes time quadratic in the flow nesting depth
//! (`[[[[…`: 100,000 levels take minutes), and serde_yaml holds every event of a
//! document in memory (about 150 bytes per event, so a 32 MiB file of `[],` would
//! need gigabytes). Both are bounded here in one pass over the bytes, without parsing:
//!
//! - flow collections (`[`, `{`) may nest at most [`MAX_FLOW_DEPTH`] deep, and so
//!   may block collections started on one line (`- - - x`; nesting by indentation
//!   costs a byte per level per line, so the file size cap bounds it);
//! - a document may hold at most [`MAX_DOCUMENT_TOKENS`] structural characters
//!   (`[ { , : - ?` and line breaks), which track the parser's events closely.
//!
//! Quoted scalars, comments and block scalars are skipped so that their text does
//! not count. The scan errs towards counting: it may count a character the parser
//! would not, never the reverse for brackets that open collections.

use super::diagnostic::{Problem, Rule, Spot};
use super::input::saturating_u32;

/// Far beyond any manifest (they nest a handful of levels), far below where the
/// parser slows down.
pub const MAX_FLOW_DEPTH: usize = 64;

/// About 50,000 tree nodes in one AccountTree document; bounds the parser's memory
/// to a few hundred megabytes per document.
pub const MAX_DOCUMENT_TOKENS: usize = 3_000_000;

/// Scans one document. `first_line` is the 0-based line of the document in its file.
pub fn check(text: &str, first_line: usize) -> Result<(), Problem> {
    let mut scan = Scan::default();
    let mut block_scalar_indent: Option<usize> = None;
    let mut quote: Option<u8> = None;
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        if let Some(parent_indent) = block_scalar_indent {
            let blank = bytes[indent..].iter().all(|b| b.is_ascii_whitespace());
            if blank || indent > parent_indent {
                continue;
            }
            block_scalar_indent = None;
        }
        scan.tokens += 1;
        let position = |column: usize| (first_line + line_index + 1, column + 1);
        if quote.is_none() && compact_depth(&bytes[indent..]) > MAX_FLOW_DEPTH {
            let (line, column) = position(indent);
            return Err(problem(
                Rule::TooDeep,
                line,
                column,
                format!(
                    "block collections (`- - -`) nest more than {MAX_FLOW_DEPTH} levels deep on one line"
                ),
            ));
        }
        let outcome = scan.line(bytes, &mut quote);
        if let Some(column) = outcome.too_deep {
            let (line, column) = position(column);
            return Err(problem(
                Rule::TooDeep,
                line,
                column,
                format!(
                    "flow collections (`[` or `{{`) nest more than {MAX_FLOW_DEPTH} levels deep"
                ),
            ));
        }
        if scan.tokens > MAX_DOCUMENT_TOKENS {
            let (line, column) = position(0);
            return Err(problem(
                Rule::DocumentTooLarge,
                line,
                column,
                format!(
                    "document is too large: more than {MAX_DOCUMENT_TOKENS} YAML tokens; split it into several documents"
                ),
            ));
        }
        if outcome.block_scalar {
            block_scalar_indent = Some(indent);
        }
    }
    Ok(())
}

fn problem(rule: Rule, line: usize, column: usize, message: String) -> Problem {
    Problem::error(
        rule,
        Spot::Position {
            line: saturating_u32(line),
            column: saturating_u32(column),
        },
        message,
    )
}

#[derive(Default)]
struct Scan {
    flow_depth: usize,
    tokens: usize,
}

struct LineOutcome {
    /// The column where the flow depth went past the limit.
    too_deep: Option<usize>,
    /// The line ends with a block scalar header (`|` or `>`).
    block_scalar: bool,
}

impl Scan {
    /// Scans one line; `quote` carries an open quoted scalar across lines.
    fn line(&mut self, bytes: &[u8], quote: &mut Option<u8>) -> LineOutcome {
        let mut outcome = LineOutcome {
            too_deep: None,
            block_scalar: false,
        };
        // Whether a node may start here: at the start of a line, or after an
        // indicator (`- `, `? `, `: `, an opening bracket, a comma in a flow).
        let mut node_may_start = true;
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if let Some(open) = *quote {
                index = skip_quoted(bytes, index, open, quote);
                node_may_start = false;
                continue;
            }
            let next_is_space = bytes.get(index + 1).is_none_or(u8::is_ascii_whitespace);
            let in_flow = self.flow_depth > 0;
            node_may_start = match byte {
                b' ' | b'\t' | b'\r' | b'\n' => node_may_start,
                b'#' if index == 0 || bytes[index - 1].is_ascii_whitespace() => break,
                b'"' | b'\'' if node_may_start => {
                    *quote = Some(byte);
                    index += 1;
                    continue;
                }
                b'[' | b'{' if node_may_start || in_flow => {
                    self.flow_depth += 1;
                    self.tokens += 1;
                    if self.flow_depth > MAX_FLOW_DEPTH {
                        outcome.too_deep = Some(index);
                        return outcome;
                    }
                    true
                }
                b']' | b'}' if in_flow => {
                    self.flow_depth -= 1;
                    false
                }
                b',' if in_flow => {
                    self.tokens += 1;
                    true
                }
                b'-' | b'?' if next_is_space => {
                    self.tokens += 1;
                    true
                }
                b':' if next_is_space || in_flow => {
                    self.tokens += 1;
                    true
                }
                b'|' | b'>' if node_may_start && !in_flow => {
                    outcome.block_scalar = is_block_header(&bytes[index + 1..]);
                    false
                }
                b',' | b':' | b'-' | b'?' | b'[' | b'{' => {
                    // Inside a plain scalar: not structure, but counted so that the
                    // token bound stays an upper bound.
                    self.tokens += 1;
                    false
                }
                _ => false,
            };
            index += 1;
        }
        outcome
    }
}

/// Skips inside a quoted scalar from `index` (past its opening quote); clears `quote`
/// at the closing quote. Returns the index to continue from.
fn skip_quoted(bytes: &[u8], mut index: usize, open: u8, quote: &mut Option<u8>) -> usize {
    while index < bytes.len() {
        match bytes[index] {
            b'\\' if open == b'"' => index += 2,
            b'\'' if open == b'\'' && bytes.get(index + 1) == Some(&b'\'') => index += 2,
            byte if byte == open => {
                *quote = None;
                return index + 1;
            }
            _ => index += 1,
        }
    }
    index
}

/// How many block collections start on this line in compact form (`- - - x`): the
/// one way to nest block collections without paying indentation for each level.
fn compact_depth(line: &[u8]) -> usize {
    let mut depth = 0;
    let mut index = 0;
    while index < line.len()
        && matches!(line[index], b'-' | b'?')
        && line
            .get(index + 1)
            .is_none_or(|next| next.is_ascii_whitespace())
    {
        depth += 1;
        index += 1;
        while index < line.len() && matches!(line[index], b' ' | b'\t') {
            index += 1;
        }
    }
    depth
}

/// Whether what follows `|` or `>` is a block scalar header: optional indentation
/// and chomping indicators, then nothing but a comment.
fn is_block_header(rest: &[u8]) -> bool {
    let mut index = 0;
    while index < rest.len() && (rest[index].is_ascii_digit() || matches!(rest[index], b'+' | b'-'))
    {
        index += 1;
    }
    let tail = &rest[index..];
    let trimmed: &[u8] = tail.trim_ascii_start();
    trimmed.is_empty() || trimmed.starts_with(b"#")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn deep(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[rstest]
    #[case::in_double_quotes(format!("a: \"{}\"\n", "[".repeat(100)))]
    #[case::in_single_quotes(format!("a: '{}'\n", "[".repeat(100)))]
    #[case::in_a_comment(format!("a: 1 # {}\n", "[".repeat(100)))]
    #[case::in_a_block_scalar(format!("a: |\n  {}\n  more\nb: 2\n", "[".repeat(100)))]
    #[case::inside_a_plain_scalar(format!("a: x{}\n", "[".repeat(100)))]
    #[case::at_the_limit(format!("a: {}\n", deep(MAX_FLOW_DEPTH)))]
    fn brackets_that_open_no_collection_do_not_count(#[case] text: String) {
        assert_eq!(check(&text, 0), Ok(()));
    }

    #[test]
    fn flow_nesting_past_the_limit_is_refused_at_the_bracket() {
        let problem =
            check(&format!("a: 1\nb: {}\n", deep(MAX_FLOW_DEPTH + 1)), 10).expect_err("too deep");
        assert_eq!(problem.rule, Rule::TooDeep);
        assert_eq!(
            problem.spot,
            Spot::Position {
                line: 12,
                column: 4 + MAX_FLOW_DEPTH as u32
            }
        );
    }

    #[test]
    fn a_bracket_after_a_closed_quote_counts_again() {
        let text = format!("a: ['x]', {}]\n", deep(MAX_FLOW_DEPTH));
        assert!(check(&text, 0).is_err());
    }

    #[test]
    fn compact_block_nesting_past_the_limit_is_refused() {
        let text = format!("{}x\n", "- ".repeat(MAX_FLOW_DEPTH + 1));
        assert_eq!(check(&text, 0).map_err(|p| p.rule), Err(Rule::TooDeep));
        let text = format!("{}x\n", "- ".repeat(MAX_FLOW_DEPTH));
        assert_eq!(check(&text, 0), Ok(()));
    }
}
