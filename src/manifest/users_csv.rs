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
///
/// A file without quotes, carriage returns or a byte-order mark (what a spreadsheet or
/// a script writes for plain values) is split by hand: building the csv crate's reader
/// costs more than reading a file of a few dozen rows. Both ways give the same users,
/// problems and lines (a test compares them).
pub fn parse_users(text: &str) -> (Vec<CsvUser>, Vec<Problem>) {
    if is_plain(text.as_bytes()) {
        parse_plain_users(text)
    } else {
        parse_users_with_csv(text)
    }
}

/// Whether a users file is split by hand: no quotes, carriage returns or byte-order
/// mark.
pub fn is_plain(bytes: &[u8]) -> bool {
    !bytes.starts_with("\u{feff}".as_bytes())
        && !bytes.iter().any(|&byte| matches!(byte, b'"' | b'\r'))
}

/// [`parse_users`] for a file without quotes, carriage returns or byte-order mark:
/// each non-empty line is a row, its fields split at commas. Blank lines are skipped
/// and lines numbered as the csv crate does: a row's line is the one after the
/// previous row's, blank lines between them included in the row's.
fn parse_plain_users(text: &str) -> (Vec<CsvUser>, Vec<Problem>) {
    let mut users = Vec::new();
    let mut problems = Vec::new();
    let mut next_line = 1;
    let mut header_read = false;
    let mut fields: Vec<&str> = Vec::with_capacity(HEADER.len());
    for (index, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let at = saturating_u32(next_line);
        next_line = index + 2;
        fields.clear();
        fields.extend(line.split(','));
        if !header_read {
            header_read = true;
            if let Some(problem) = header_problem(&fields) {
                return (Vec::new(), vec![problem]);
            }
            continue;
        }
        match row_user(&fields, at) {
            Ok(user) => users.push(CsvUser { user, line: at }),
            Err(problem) => problems.push(problem),
        }
    }
    if !header_read {
        return (Vec::new(), vec![empty_file()]);
    }
    (users, problems)
}

fn empty_file() -> Problem {
    Problem::error(
        Rule::CsvHeader,
        Spot::Position { line: 1, column: 1 },
        format!(
            "empty users file: the first row must be the header `{}`",
            HEADER.join(",")
        ),
    )
}

/// The problem with a first row that is not the header.
fn header_problem(fields: &[&str]) -> Option<Problem> {
    let found: Vec<&str> = fields.iter().map(|field| field.trim()).collect();
    (found != HEADER).then(|| {
        Problem::error(
            Rule::CsvHeader,
            Spot::Position { line: 1, column: 1 },
            header_mismatch(&found),
        )
    })
}

/// [`parse_users`] by the csv crate: any file.
fn parse_users_with_csv(text: &str) -> (Vec<CsvUser>, Vec<Problem>) {
    let mut users = Vec::new();
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    match records.next() {
        None => {
            problems.push(empty_file());
            return (users, problems);
        }
        Some(Ok(header)) => {
            let fields: Vec<&str> = header.iter().collect();
            if let Some(problem) = header_problem(&fields) {
                problems.push(problem);
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
                let fields: Vec<&str> = record.iter().collect();
                match row_user(&fields, line) {
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

fn row_user(record: &[&str], line: u32) -> Result<User, Problem> {
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
    let field = |index: usize| {
        record
            .get(index)
            .map(|field| field.trim())
            .unwrap_or_default()
    };
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
            .map(crate::model::Text::from)
    };
    Ok(User {
        email: field(0).into(),
        name: field(1).into(),
        role,
        language: optional(3),
        timezone: optional(4),
    })
}

/// The 1-based column where field `index` starts, for a row without quoted fields
/// (quotes make the raw column unknowable from the parsed record; 1 then).
fn column_of(record: &[&str], index: usize) -> usize {
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

    /// The plain split and the csv crate agree on files with blank lines, short and
    /// long rows, spaces, a missing header, and on random edits of such files.
    #[test]
    fn the_plain_split_reads_as_the_csv_crate_does() {
        let files = [
            "",
            "\n\n",
            "email,name,role,language,timezone\n",
            "email,name,role,language,timezone",
            " email , name ,role,language,timezone\na@x.example, A ,admin,de,UTC",
            "email,name,role,language,timezone\n\n\na@x.example,A,admin,de,UTC\n\nb@x.example,B,,,\n",
            "email,name,role,language,timezone\na@x.example,A,boss,de,UTC\nb@x.example,B\nc,C,user,,,extra\n   \n",
            "name,email,role,language,timezone\na@x.example,A,admin,de,UTC\n",
            "secret-token\n",
            "email,name,role,language,timezone\nå@x.example,Åsa Öberg,user,sv,Europe/Stockholm\n",
        ];
        let mut rng = crate::generate::Rng::new(7);
        let pieces = [",", "\n", " ", "x", "admin", "\n\n", "é", ""];
        let mut cases: Vec<String> = files.iter().map(|file| file.to_string()).collect();
        for _ in 0..2000 {
            let mut text = files[rng.below(files.len())].to_string();
            for _ in 0..=rng.below(4) {
                let mut at = rng.below(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, pieces[rng.below(pieces.len())]);
            }
            cases.push(text);
        }
        for text in &cases {
            assert!(!text.contains(['"', '\r']));
            assert_eq!(
                parse_plain_users(text),
                parse_users_with_csv(text),
                "{text:?}"
            );
        }
    }

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
