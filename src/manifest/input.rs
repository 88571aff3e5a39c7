//! Finding and reading input files: paths given on the command line, directories read
//! recursively (`*.yaml`, `*.yml`), `-` for standard input, and the CSV files that
//! `usersFrom` names.
//!
//! Reading is where hostile input is stopped first: a file larger than
//! [`MAX_FILE_BYTES`] is refused before it is read, and bytes that are not UTF-8 are
//! reported with the line and column of the first bad byte.

use std::cell::Cell;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Problem, Rule, Spot};

/// The largest file canopy reads (32 MiB): far beyond any real manifest, small enough
/// that a stray dump or a malicious file cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Where a source's text comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    /// Standard input, kept because it cannot be read twice.
    Stdin(Option<Arc<str>>),
    /// A path that could not be read; its problem is reported already.
    Unreadable,
}

/// One input of a load: a manifest file, standard input, or a CSV file.
#[derive(Debug, Clone)]
pub struct Source {
    /// How the source is named in messages: the path as given, or `<stdin>`.
    pub display: String,
    pub origin: Origin,
    /// The repository a manifest belongs to: the directory given on the command line,
    /// the own directory of a file given alone, the working directory for standard
    /// input. Files that `usersFrom` names must resolve inside it.
    pub root: Option<Arc<Path>>,
}

impl Source {
    pub fn file(path: PathBuf) -> Source {
        Source {
            display: path.display().to_string(),
            origin: Origin::File(path),
            root: None,
        }
    }

    pub(super) fn in_repository(mut self, root: &Arc<Path>) -> Source {
        self.root = Some(Arc::clone(root));
        self
    }

    /// The source's text, read again if it is a file (used to resolve positions).
    pub fn text(&self) -> Result<Arc<str>, Problem> {
        match &self.origin {
            Origin::File(path) => read_file(path).map(Arc::from),
            Origin::Stdin(Some(text)) => Ok(Arc::clone(text)),
            Origin::Stdin(None) | Origin::Unreadable => Err(Problem::error(
                Rule::UnreadableFile,
                Spot::Whole,
                "the input could not be read",
            )),
        }
    }
}

/// The sources named by `inputs`, in order, directories expanded (sorted, so that
/// every run reads files in the same order), plus problems with paths that could not
/// be listed. `-` stands for standard input and may be given once.
pub fn expand(inputs: &[String]) -> (Vec<Source>, Vec<(String, Problem)>) {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    let mut stdin_seen = false;
    for input in inputs {
        if input == "-" {
            if stdin_seen {
                problems.push((
                    "<stdin>".to_string(),
                    Problem::error(
                        Rule::UnreadableFile,
                        Spot::Whole,
                        "`-` (standard input) was given more than once",
                    ),
                ));
            }
            stdin_seen = true;
            sources.push(Source {
                display: "<stdin>".to_string(),
                origin: Origin::Stdin(None),
                root: Some(Arc::from(Path::new("."))),
            });
            continue;
        }
        let path = PathBuf::from(input);
        match fs::metadata(&path) {
            Ok(metadata) if metadata.is_dir() => {
                let mut visited = Vec::new();
                let root: Arc<Path> = Arc::from(path.as_path());
                let first = sources.len();
                walk(&path, &mut visited, &mut sources, &mut problems);
                for source in &mut sources[first..] {
                    source.root = Some(Arc::clone(&root));
                }
            }
            Ok(_) => {
                let root: Arc<Path> = match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => Arc::from(parent),
                    _ => Arc::from(Path::new(".")),
                };
                sources.push(Source::file(path).in_repository(&root));
            }
            Err(error) => problems.push((
                input.clone(),
                Problem::error(
                    Rule::UnreadableFile,
                    Spot::Whole,
                    format!("cannot read `{input}`: {error}"),
                ),
            )),
        }
    }
    (sources, problems)
}

/// Collects the manifest files below `directory`. Hidden entries (`.git`) are skipped;
/// directories already visited through a symbolic link are not entered again.
fn walk(
    directory: &Path,
    visited: &mut Vec<PathBuf>,
    sources: &mut Vec<Source>,
    problems: &mut Vec<(String, Problem)>,
) {
    if let Ok(canonical) = fs::canonicalize(directory) {
        if visited.contains(&canonical) {
            return;
        }
        visited.push(canonical);
    }
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            let display = directory.display().to_string();
            let message = format!("cannot read directory `{display}`: {error}");
            problems.push((
                display,
                Problem::error(Rule::UnreadableFile, Spot::Whole, message),
            ));
            return;
        }
    };
    // The entry's type comes with the directory listing (no `stat` per entry); only a
    // symbolic link is followed to tell a directory from a file.
    let mut paths: Vec<(PathBuf, bool)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let path = entry.path();
            let name = path.file_name().and_then(|name| name.to_str())?;
            if name.starts_with('.') {
                return None;
            }
            let is_dir = match entry.file_type() {
                Ok(kind) if kind.is_symlink() => path.is_dir(),
                Ok(kind) => kind.is_dir(),
                Err(_) => path.is_dir(),
            };
            Some((path, is_dir))
        })
        .collect();
    // One directory's entries: their names decide the order, as `Path`'s would.
    paths.sort_unstable_by(|(a, _), (b, _)| a.file_name().cmp(&b.file_name()));
    for (path, is_dir) in paths {
        if is_dir {
            walk(&path, visited, sources, problems);
        } else if is_manifest(&path) {
            sources.push(Source::file(path));
        }
    }
}

pub(super) fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|extension| extension.to_str()),
        Some("yaml" | "yml")
    )
}

/// Reads a file as UTF-8 text, refusing files over [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<String, Problem> {
    read_bytes(path).and_then(into_text)
}

/// Reads a file's bytes, refusing files over [`MAX_FILE_BYTES`]; [`into_text`] makes
/// them text. Split so that the parse cache can look bytes up without checking them.
/// The bytes land in this thread's [`recycle`]d buffer when there is one.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, Problem> {
    let unreadable = |error: std::io::Error| {
        Problem::error(
            Rule::UnreadableFile,
            Spot::Whole,
            format!("cannot read `{}`: {error}", path.display()),
        )
    };
    let file = fs::File::open(path).map_err(unreadable)?;
    // No `stat` for the length: read into the recycled buffer until the end (a file
    // that fits takes one read and one that returns nothing). Only a file over the
    // limit is asked its length, for the message.
    let mut bytes = SPARE.take();
    bytes.reserve(FIRST_READ);
    read_capped(&file, bytes).map_err(|error| match error {
        CappedError::Io(error) => unreadable(error),
        CappedError::Problem(problem) => match file.metadata() {
            Ok(metadata) => too_large(metadata.len()),
            Err(_) => problem,
        },
    })
}

/// Room for a typical manifest in a fresh buffer, so that its first read is not a
/// handful of small ones.
const FIRST_READ: usize = 64 * 1024;

thread_local! {
    /// A buffer [`recycle`]d on this thread, for its next [`read_bytes`].
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this are freed rather than kept for the next read.
const SPARE_LIMIT: usize = 4 * 1024 * 1024;

/// Hands the buffer of bytes [`read_bytes`] returned (or of a text made of them) back
/// to this thread's next read. A load reads thousands of files and keeps none of
/// their bytes (the parse cache hands back every file it finds): reading each into
/// memory already mapped spares a fresh allocation and its page faults per file.
pub fn recycle(mut bytes: Vec<u8>) {
    if bytes.capacity() > SPARE_LIMIT {
        return;
    }
    bytes.clear();
    let kept = SPARE.take();
    SPARE.set(if kept.capacity() >= bytes.capacity() {
        kept
    } else {
        bytes
    });
}

/// Reads standard input as UTF-8 text, refusing more than [`MAX_FILE_BYTES`].
pub fn read_stdin() -> Result<String, Problem> {
    read_capped(std::io::stdin().lock(), Vec::new())
        .map_err(|error| match error {
            CappedError::Io(error) => Problem::error(
                Rule::UnreadableFile,
                Spot::Whole,
                format!("cannot read standard input: {error}"),
            ),
            CappedError::Problem(problem) => problem,
        })
        .and_then(into_text)
}

enum CappedError {
    Io(std::io::Error),
    Problem(Problem),
}

/// Reads at most one byte more than the cap, so that a file growing while it is read
/// (or an endless pipe) is still refused without unbounded memory.
fn read_capped(reader: impl Read, mut bytes: Vec<u8>) -> Result<Vec<u8>, CappedError> {
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(CappedError::Io)?;
    let length = bytes.len() as u64;
    if length > MAX_FILE_BYTES {
        return Err(CappedError::Problem(too_large(length)));
    }
    Ok(bytes)
}

/// Bytes as UTF-8 text without a byte-order mark, or the problem at the first bad byte.
pub fn into_text(bytes: Vec<u8>) -> Result<String, Problem> {
    let mut text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        invalid_utf8(valid)
    })?;
    // A byte-order mark is legal YAML but would hide a leading `---` from the
    // document splitter.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn too_large(length: u64) -> Problem {
    let shown = if length > MAX_FILE_BYTES + 1 {
        format!(" ({length} bytes)")
    } else {
        String::new()
    };
    Problem::error(
        Rule::FileTooLarge,
        Spot::Whole,
        format!("file is larger than the 32 MiB limit{shown}; split it into several files"),
    )
}

/// The problem for bytes that are not UTF-8, located at the first bad byte.
fn invalid_utf8(valid_prefix: &[u8]) -> Problem {
    // The prefix is valid UTF-8 by construction; a lossy view only guards the count.
    let prefix = String::from_utf8_lossy(valid_prefix);
    let line = prefix.matches('\n').count() + 1;
    let column = prefix
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    Problem::error(
        Rule::InvalidUtf8,
        Spot::Position {
            line: saturating_u32(line),
            column: saturating_u32(column),
        },
        format!(
            "file is not valid UTF-8 (invalid byte at offset {}); save it as UTF-8",
            valid_prefix.len()
        ),
    )
}

pub fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_located_at_the_first_bad_byte() {
        let bytes = b"a: 1\nbc: \xff\n".to_vec();
        let Err(problem) = into_text(bytes) else {
            panic!("invalid UTF-8 was accepted");
        };
        assert_eq!(problem.rule, Rule::InvalidUtf8);
        assert_eq!(problem.spot, Spot::Position { line: 2, column: 5 });
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let Ok(text) = into_text("\u{feff}---\na: 1\n".as_bytes().to_vec()) else {
            panic!("a file with a byte-order mark was refused");
        };
        assert!(text.starts_with("---"));
    }
}
