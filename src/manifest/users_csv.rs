//! `usersFrom: users.csv`: users declared in bulk in a CSV file next to the manifest.
//!
//! The file needs the header row `email,name,role,language,timezone` (in that order);
//! every row must have exactly those five columns. Empty `role` means `user`, empty
//! `language` or `timezone` means none. Rows are appended after the manifest's own
//! `users`, in file order, each remembering its line for later messages.

use super::ParseCache;
use super::diagnostic::{Problem, Rule, Severity, Spot};
use super::input::{read_bytes, saturating_u32};
use crate::model::{Role, User};

/// The header a users CSV file must start with.
pub const HEADER: [&str; 5] = ["email", "name", "role", "language", "timezone"];

/// A user read from a CSV row, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CsvUser {
    pub user: User,
    pub line: u32,
}

/// Reads the users of one CSV file. Problems are located in the CSV file itself.
pub fn read_users(path: &std::path::Path) -> (Vec<CsvUser>, Vec<Problem>) {
    read_users_cached(path, &ParseCache::disabled())
}

/// [`read_users`] through the parse cache: bytes read before are not parsed again.
pub fn read_users_cached(
    path: &std::path::Path,
    cache: &ParseCache,
) -> (Vec<CsvUser>, Vec<Problem>) {
    match read_bytes(path) {
        Ok(bytes) => cache.users(bytes),
        Err(mut problem) => {
            if problem.rule == Rule::UnreadableFile {
                problem.rule = Rule::MissingCsv;
            }
            (Vec::new(), vec![problem])
        }
    }
}

/// Parses the text of a users CSV file.
pub fn parse_users(text: &str) -> (Vec<CsvUser>, Vec<Problem>) {
    let mut users = Vec::new();
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    match records.next() {
        None => {
            problems.push(Problem::error(
                Rule::CsvHeader,
                Spot::Position { line: 1, column: 1 },
                format!(
                    "empty users file: the first row must be the header `{}`",
                    HEADER.join(",")
                ),
            ));
            return (users, problems);
        }
        Some(Ok(header)) => {
            let found: Vec<&str> = header.iter().map(str::trim).collect();
            if found != HEADER {
                problems.push(Problem::error(
                    Rule::CsvHeader,
                    Spot::Position { line: 1, column: 1 },
                    header_mismatch(&found),
                ));
                return (users, problems);
            }
        }
        Some(Err(error)) => {
            problems.push(csv_error(&error));
            return (users, problems);
        }
    }
    for record in records {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |position| position.line());
                let line = saturating_u32(usize::try_from(line).unwrap_or(usize::MAX));
                match row_user(&record, line) {
                    Ok(user) => users.push(CsvUser { user, line }),
                    Err(problem) => problems.push(problem),
                }
            }
            Err(error) => problems.push(csv_error(&error)),
        }
    }
    (users, problems)
}

/// Why a first row is not the header, naming only the cells that are header names (a
/// file that is not a users file must not have its content printed: it may be
/// anything, and messages end up in pull-request comments).
fn header_mismatch(found: &[&str]) -> String {
    let expected = HEADER.join(",");
    let known: Vec<&str> = found
        .iter()
        .copied()
        .filter(|cell| HEADER.contains(cell))
        .collect();
    let others = found.len() - known.len();
    let mut message = format!(
        "the first row must be the header `{expected}`; it has {} {}",
        found.len(),
        if found.len() == 1 {
            "column"
        } else {
            "columns"
        }
    );
    if !known.is_empty() {
        message.push_str(&format!(", header names `{}`", known.join(",")));
    }
    if others > 0 {
        message.push_str(&format!(
            ", {others} {} not shown",
            if others == 1 {
                "other value"
            } else {
                "other values"
            }
        ));
    }
    message
}

fn row_user(record: &csv::StringRecord, line: u32) -> Result<User, Problem> {
    let at = |column: usize| Spot::Position {
        line,
        column: saturating_u32(column),
    };
    if record.len() != HEADER.len() {
        return Err(Problem::error(
            Rule::CsvColumns,
            at(1),
            format!(
                "row has {} columns, expected {} ({})",
                record.len(),
                HEADER.len(),
                HEADER.join(",")
            ),
        ));
    }
    let field = |index: usize| record.get(index).map(str::trim).unwrap_or_default();
    let column_of = |index: usize| column_of(record, index);
    let role = match field(2) {
        "" => Role::User,
        text => Role::parse(text).ok_or_else(|| {
            Problem::error(
                Rule::InvalidValue,
                at(column_of(2)),
                "role must be `admin` or `user` (or empty for `user`)".to_string(),
            )
        })?,
    };
    let optional = |index: usize| {
        Some(field(index))
            .filter(|text| !text.is_empty())
            .map(std::sync::Arc::from)
    };
    Ok(User {
        email: field(0).to_string(),
        name: field(1).to_string(),
        role,
        language: optional(3),
        timezone: optional(4),
    })
}

/// The 1-based column where field `index` starts, for a row without quoted fields
/// (quotes make the raw column unknowable from the parsed record; 1 then).
fn column_of(record: &csv::StringRecord, index: usize) -> usize {
    let as_written = record
        .iter()
        .take(index)
        .all(|field| !field.contains(['"', ',', '\n']));
    if !as_written {
        return 1;
    }
    1 + record
        .iter()
        .take(index)
        .map(|field| field.chars().count() + 1)
        .sum::<usize>()
}

fn csv_error(error: &csv::Error) -> Problem {
    let line = error.position().map_or(1, |position| {
        usize::try_from(position.line()).unwrap_or(usize::MAX)
    });
    Problem {
        severity: Severity::Error,
        rule: Rule::CsvColumns,
        spot: Spot::Position {
            line: saturating_u32(line),
            column: 1,
        },
        object: None,
        message: format!("unreadable CSV row: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_users_in_file_order() {
        let (users, problems) = parse_users(
            "email,name,role,language,timezone\nanna@x.example,Anna,admin,de,Europe/Berlin\nbo@x.example,Bo,,,\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].user.role, Role::Admin);
        assert_eq!(users[1].user.role, Role::User);
        assert_eq!(users[1].user.language, None);
        assert_eq!(users[1].line, 3);
    }

    #[test]
    fn a_row_with_the_wrong_column_count_is_reported_with_its_line() {
        let (users, problems) = parse_users(
            "email,name,role,language,timezone\na@x.example,A,admin,de\nb@x.example,B,user,en,UTC\n",
        );
        assert_eq!(users.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].rule, Rule::CsvColumns);
        assert_eq!(problems[0].spot, Spot::Position { line: 2, column: 1 });
    }

    #[test]
    fn a_missing_header_is_an_error() {
        let (users, problems) = parse_users("a@x.example,A,admin,de,UTC\n");
        assert!(users.is_empty());
        assert_eq!(problems[0].rule, Rule::CsvHeader);
    }

    #[test]
    fn a_bad_role_points_at_its_column() {
        let (_, problems) =
            parse_users("email,name,role,language,timezone\na@x.example,A,boss,de,UTC\n");
        assert_eq!(problems[0].rule, Rule::InvalidValue);
        assert_eq!(
            problems[0].spot,
            Spot::Position {
                line: 2,
                column: 15
            }
        );
    }
}
