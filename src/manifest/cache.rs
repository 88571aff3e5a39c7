//! The parse cache: a file whose bytes were parsed before is never parsed again.
//!
//! ```text
//! bytes ─ blake3(build identity + bytes) ─> key ─┬─ <dir>/parsed/<key>: decode (hit)
//!                                                └─ miss: UTF-8, parse_file, write entry
//! ```
//!
//! The key is a hash of the file's exact bytes, so a changed byte is always a miss. It
//! also covers the canopy version, [`FORMAT`] and the source text of the parser and of
//! the locked dependencies ([`PARSER_SOURCES`]), so entries written by another parser
//! are never read: a development build that changes how a file parses cannot see
//! stale entries either, while builds of the same code share them.
//! Only [`ParsedFile`]s without errors are stored, so that a file with errors is
//! always parsed afresh and reported exactly as without a cache; a hit therefore
//! skips even the UTF-8 check, which those bytes passed when they were stored.
//!
//! An entry is a small header (magic, format, key, payload length and payload hash)
//! followed by the MessagePack encoding of the [`ParsedFile`] (self-describing, so that
//! settings, which are `serde_json::Value`s, round-trip). An entry that is missing,
//! truncated, corrupt or of another format is ignored and the file is parsed; it is
//! never an error. Entries are written to a temporary file and renamed into place, so
//! concurrent canopy processes only ever see whole entries (two writers of one key
//! write the same bytes). Failing to write (a read-only directory) is logged at debug
//! level and otherwise ignored. Nothing is ever deleted: the directory may be removed
//! at any time. Manifests under [`SMALL_MANIFEST_BYTES`] are parsed afresh, never
//! stored. CSV files named by `usersFrom` are cached the same way (their users,
//! keyed by their bytes, when they have no problem).

use std::cell::RefCell;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diagnostic::{Problem, Severity};
use super::input;
use super::parse::{ParsedFile, parse_file};
use super::users_csv::{self, CsvUser};

/// Bump when [`ParsedFile`] (or anything it holds) changes shape or meaning in a file
/// outside [`PARSER_SOURCES`].
pub const FORMAT: u32 = 1;

/// Manifest files shorter than this are parsed afresh, never stored: reading an entry
/// (another file opened, read and decoded) costs more than parsing a file of a few
/// documents. Measured on 100k accounts written one per file (about 450 bytes each),
/// where looking every file up made a load slower than parsing them all.
pub const SMALL_MANIFEST_BYTES: usize = 1024;

/// The first bytes of every entry.
const MAGIC: [u8; 8] = *b"canopyPC";
/// Magic, format, key, payload length, payload hash.
const HEADER_LENGTH: usize = 8 + 4 + 32 + 8 + 32;
/// The sub-directory of the cache directory that holds parse entries.
const ENTRIES: &str = "parsed";

/// Where parsed files are cached, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCache {
    directory: Option<PathBuf>,
}

impl ParseCache {
    /// The cache the environment asks for: off when `CANOPY_CACHE` is `off` (or `0`,
    /// `false`, `no`), else in [`location`]'s directory.
    pub fn from_environment() -> ParseCache {
        let variable = |name: &str| std::env::var_os(name);
        if is_switched_off(variable("CANOPY_CACHE")) {
            return ParseCache::disabled();
        }
        ParseCache {
            directory: location(variable),
        }
    }

    /// A cache kept in `directory` (created when first written).
    pub fn in_directory(directory: impl Into<PathBuf>) -> ParseCache {
        ParseCache {
            directory: Some(directory.into()),
        }
    }

    /// No cache: every file is parsed.
    pub fn disabled() -> ParseCache {
        ParseCache { directory: None }
    }

    /// The cache directory, when caching is on.
    pub fn directory(&self) -> Option<&Path> {
        self.directory.as_deref()
    }

    /// The parse product of `text`: from the cache when an entry for these exact bytes
    /// exists, parsed (and stored, when free of errors) otherwise.
    pub fn parse(&self, text: &str) -> ParsedFile {
        let found = self.lookup(Kind::Manifest, text.as_bytes());
        match found {
            Lookup::Hit(parsed) => parsed,
            Lookup::Miss(pending) => self.parse_and_store(text, pending),
        }
    }

    /// The parse product of a file's bytes. Bytes seen before are not even checked
    /// for UTF-8 (only error-free parses are stored); new ones are made text with
    /// [`input::into_text`], whose problem is returned when they are not.
    pub fn parse_bytes(&self, bytes: Vec<u8>) -> Result<ParsedFile, Problem> {
        match self.lookup(Kind::Manifest, &bytes) {
            Lookup::Hit(parsed) => {
                input::recycle(bytes);
                Ok(parsed)
            }
            Lookup::Miss(pending) => {
                let text = input::into_text(bytes)?;
                let parsed = self.parse_and_store(&text, pending);
                input::recycle(text.into_bytes());
                Ok(parsed)
            }
        }
    }

    /// The users of a `usersFrom` CSV file's bytes: from the cache when these exact
    /// bytes were read before without a problem, parsed (and stored when free of
    /// problems) otherwise. A plain file ([`users_csv::is_plain`]) is always parsed,
    /// never stored: splitting it costs less than reading and decoding its entry.
    pub fn users(&self, bytes: Vec<u8>) -> (Vec<CsvUser>, Vec<Problem>) {
        match self.lookup::<Vec<CsvUser>>(Kind::UsersCsv, &bytes) {
            Lookup::Hit(users) => {
                input::recycle(bytes);
                (users, Vec::new())
            }
            Lookup::Miss(pending) => {
                let read = match input::into_text(bytes) {
                    Ok(text) => {
                        let read = users_csv::parse_users(&text);
                        input::recycle(text.into_bytes());
                        read
                    }
                    Err(problem) => (Vec::new(), vec![problem]),
                };
                if let Some(pending) = pending
                    && read.1.is_empty()
                {
                    write_entry(&pending, &read.0);
                }
                read
            }
        }
    }

    fn lookup<T: DeserializeOwned>(&self, kind: Kind, bytes: &[u8]) -> Lookup<T> {
        let Some(directory) = &self.directory else {
            return Lookup::Miss(None);
        };
        if !kind.worth_storing(bytes) {
            return Lookup::Miss(None);
        }
        let key = Key::of(kind, bytes);
        let entries = directory.join(ENTRIES);
        let path = entries.join(key.hex());
        match read_entry(&path, &key) {
            Some(parsed) => Lookup::Hit(parsed),
            None => Lookup::Miss(Some(Pending { entries, path, key })),
        }
    }

    fn parse_and_store(&self, text: &str, pending: Option<Pending>) -> ParsedFile {
        let parsed = parse_file(text);
        let has_errors = parsed
            .problems
            .iter()
            .any(|problem| problem.severity == Severity::Error);
        if let Some(pending) = pending
            && !has_errors
        {
            write_entry(&pending, &parsed);
        }
        parsed
    }
}

/// The answer of a lookup: the cached product, or where to store a new one (`None`
/// when the cache is off).
enum Lookup<T> {
    Hit(T),
    Miss(Option<Pending>),
}

/// What an entry holds: a manifest's [`ParsedFile`] or a CSV file's users. Part of the
/// key, so that the same bytes read as either never share an entry.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Manifest,
    UsersCsv,
}

impl Kind {
    /// Whether reading an entry for these bytes would cost less than parsing them:
    /// not for a manifest under [`SMALL_MANIFEST_BYTES`], nor for a plain CSV file
    /// ([`users_csv::is_plain`]), which are parsed afresh and never stored.
    fn worth_storing(self, bytes: &[u8]) -> bool {
        match self {
            Kind::Manifest => bytes.len() >= SMALL_MANIFEST_BYTES,
            Kind::UsersCsv => !users_csv::is_plain(bytes),
        }
    }
}

/// Where the entry of a missed key goes.
struct Pending {
    entries: PathBuf,
    path: PathBuf,
    key: Key,
}

/// The cache directory: `$CANOPY_CACHE_DIR`, else `$XDG_CACHE_HOME/canopy`, else
/// `$HOME/.cache/canopy`; `None` when none of them is set (empty counts as unset).
pub fn location(variable: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| variable(name).filter(|value| !value.is_empty());
    if let Some(directory) = set("CANOPY_CACHE_DIR") {
        return Some(PathBuf::from(directory));
    }
    if let Some(cache_home) = set("XDG_CACHE_HOME") {
        return Some(Path::new(&cache_home).join("canopy"));
    }
    set("HOME").map(|home| Path::new(&home).join(".cache").join("canopy"))
}

fn is_switched_off(value: Option<OsString>) -> bool {
    value
        .and_then(|value| value.into_string().ok())
        .is_some_and(|value| {
            matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        })
}

/// The cache key of one text: the hash of the build identity and the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u8; 32]);

impl Key {
    fn of(kind: Kind, bytes: &[u8]) -> Key {
        let mut hasher = build_identity().clone();
        hasher.update(match kind {
            Kind::Manifest => b"manifest\0",
            Kind::UsersCsv => b"usersCsv\0",
        });
        hasher.update(bytes);
        Key(*hasher.finalize().as_bytes())
    }

    fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

/// The source of everything that decides what bytes parse to: the parser, the
/// resource types and their serde attributes, the diagnostics, this cache's encoding,
/// and the locked versions of the dependencies (serde_yaml, k8s-openapi, rmp-serde).
/// Any edit to them is a new cache identity, so no build ever reads an entry that
/// another parser wrote, while every build of the same code (canopy, canopy-bench, a
/// rebuild) shares the entries.
const PARSER_SOURCES: [&str; 10] = [
    include_str!("parse.rs"),
    include_str!("yaml_subset.rs"),
    include_str!("users_csv.rs"),
    include_str!("guard.rs"),
    include_str!("input.rs"),
    include_str!("types.rs"),
    include_str!("tree.rs"),
    include_str!("diagnostic.rs"),
    include_str!("cache.rs"),
    include_str!("../../Cargo.lock"),
];

/// A hasher already fed with what identifies this parser, computed once per process.
fn build_identity() -> &'static blake3::Hasher {
    static IDENTITY: OnceLock<blake3::Hasher> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"canopy parse cache\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(&FORMAT.to_le_bytes());
        for source in PARSER_SOURCES {
            hasher.update(&(source.len() as u64).to_le_bytes());
            hasher.update(source.as_bytes());
        }
        hasher
    })
}

/// The entry at `path` if it is whole, of this format, for this key and decodes.
fn read_entry<T: DeserializeOwned>(path: &Path, key: &Key) -> Option<T> {
    ENTRY.with_borrow_mut(|bytes| {
        bytes.clear();
        let read = fs::File::open(path).and_then(|mut file| file.read_to_end(bytes));
        let parsed = match read {
            Ok(_) => decode_entry(bytes, key),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::debug!("parse cache: cannot read {}: {error}", path.display());
                return None;
            }
        };
        if parsed.is_none() {
            tracing::debug!("parse cache: ignoring damaged entry {}", path.display());
        }
        if bytes.capacity() > ENTRY_BUFFER_LIMIT {
            *bytes = Vec::new();
        }
        parsed
    })
}

thread_local! {
    /// Each thread reads entries into one buffer, grown to the largest entry read (up
    /// to [`ENTRY_BUFFER_LIMIT`]): a load reads thousands and keeps none of their bytes.
    static ENTRY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Entry buffers larger than this are freed after use rather than kept.
const ENTRY_BUFFER_LIMIT: usize = 8 * 1024 * 1024;

fn decode_entry<T: DeserializeOwned>(bytes: &[u8], key: &Key) -> Option<T> {
    let (header, payload) = bytes.split_at_checked(HEADER_LENGTH)?;
    let (magic, rest) = header.split_at(8);
    let (format, rest) = rest.split_at(4);
    let (entry_key, rest) = rest.split_at(32);
    let (length, hash) = rest.split_at(8);
    let length = u64::from_le_bytes(length.try_into().ok()?);
    let intact = magic == MAGIC
        && format == FORMAT.to_le_bytes()
        && entry_key == key.0
        && u64::try_from(payload.len()).ok()? == length
        && blake3::hash(payload).as_bytes() == hash;
    if !intact {
        return None;
    }
    rmp_serde::from_slice(payload).ok()
}

fn encode_entry<T: Serialize>(key: &Key, parsed: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    // Named fields: the resource types skip absent fields, which only a map encoding
    // can represent.
    let payload = rmp_serde::to_vec_named(parsed)?;
    let mut bytes = Vec::with_capacity(HEADER_LENGTH + payload.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&key.0);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Stores an entry; any failure is logged at debug level and otherwise ignored.
fn write_entry<T: Serialize>(pending: &Pending, parsed: &T) {
    let Pending { entries, path, key } = pending;
    let bytes = match encode_entry(key, parsed) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::debug!("parse cache: cannot encode an entry: {error}");
            return;
        }
    };
    if let Err(error) = write_atomically(entries, path, &bytes) {
        tracing::debug!("parse cache: cannot write {}: {error}", path.display());
    }
}

/// Writes a temporary file next to `path` and renames it into place, so that readers
/// see the whole entry or none. No fsync: an entry damaged by a crash is ignored.
fn write_atomically(entries: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().map(|name| name.to_string_lossy());
    let temporary = entries.join(format!(
        ".{}.{}.{}.tmp",
        file_name.unwrap_or_default(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ));
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
    };
    let mut file = match create() {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(entries)?;
            create()?
        }
        Err(error) => return Err(error),
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless, only untidy.
        let _ = fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_files_are_cached_by_their_bytes_and_only_without_problems() {
        let directory = tempfile::tempdir().unwrap();
        let cache = ParseCache::in_directory(directory.path());
        let entries =
            || fs::read_dir(directory.path().join(ENTRIES)).map_or(0, |listing| listing.count());
        let plain =
            b"email,name,role,language,timezone\nanna@acme.example,Anna,admin,de,Europe/Berlin\n";
        assert_eq!(cache.users(plain.to_vec()).0.len(), 1);
        assert_eq!(entries(), 0, "a plain file is parsed, not stored");
        let good = b"email,name,role,language,timezone\n\"anna@acme.example\",Anna,admin,de,Europe/Berlin\n";
        let (users, problems) = cache.users(good.to_vec());
        assert_eq!(problems, Vec::new());
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].user.language.as_deref(), Some("de"));
        assert_eq!(entries(), 1, "the users are stored");
        assert_eq!(
            cache.users(good.to_vec()),
            (users, Vec::new()),
            "and read back"
        );
        let bad = b"email,name\n\"anna@acme.example\",Anna\n";
        let (_, problems) = cache.users(bad.to_vec());
        assert!(!problems.is_empty());
        assert_eq!(entries(), 1, "a file with problems is not stored");
        assert_eq!(
            cache.users(bad.to_vec()).1,
            problems,
            "and is reported again"
        );
    }

    #[test]
    fn only_manifests_of_a_kilobyte_or_more_are_stored() {
        let directory = tempfile::tempdir().unwrap();
        let cache = ParseCache::in_directory(directory.path());
        let entries =
            || fs::read_dir(directory.path().join(ENTRIES)).map_or(0, |listing| listing.count());
        let small = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {type: partner}\n";
        let small_parsed = cache.parse(small);
        assert_eq!(small_parsed, parse_file(small));
        assert_eq!(entries(), 0, "a small file is parsed, not stored");
        let padding = "# padding\n".repeat(SMALL_MANIFEST_BYTES / 10);
        let large = format!("{padding}{small}");
        assert!(large.len() >= SMALL_MANIFEST_BYTES);
        let parsed = cache.parse(&large);
        assert_eq!(parsed, parse_file(&large));
        assert_eq!(entries(), 1, "a file of a kilobyte is stored");
        assert_eq!(cache.parse(&large), parsed, "and read back");
    }

    fn variables<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[rstest::rstest]
    #[case(&[("CANOPY_CACHE_DIR", "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], Some("/c"))]
    #[case(&[("CANOPY_CACHE_DIR", ""), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], Some("/x/canopy"))]
    #[case(&[("HOME", "/h")], Some("/h/.cache/canopy"))]
    #[case(&[], None)]
    fn the_cache_directory_follows_the_environment(
        #[case] pairs: &[(&str, &str)],
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(location(variables(pairs)), expected.map(PathBuf::from));
    }

    #[rstest::rstest]
    #[case(Some("off"), true)]
    #[case(Some("OFF"), true)]
    #[case(Some("0"), true)]
    #[case(Some("on"), false)]
    #[case(None, false)]
    fn canopy_cache_off_switches_the_cache_off(#[case] value: Option<&str>, #[case] off: bool) {
        assert_eq!(is_switched_off(value.map(OsString::from)), off);
    }

    const MANIFEST: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: acme}\nspec:\n  type: partner\n  settings: {retention: 30, ratio: 0.5, nested: {list: [1, -2, null, true, x]}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n";

    #[test]
    fn an_entry_decodes_to_the_parse_product_it_encodes() {
        let parsed = parse_file(MANIFEST);
        assert_eq!(parsed.resources.len(), 1);
        assert_eq!(parsed.problems.len(), 1, "the skipped ConfigMap note");
        let key = Key::of(Kind::Manifest, MANIFEST.as_bytes());
        let bytes = encode_entry(&key, &parsed).unwrap();
        assert_eq!(decode_entry(&bytes, &key), Some(parsed));
    }

    #[test]
    fn a_damaged_entry_decodes_to_nothing() {
        let key = Key::of(Kind::Manifest, MANIFEST.as_bytes());
        let bytes = encode_entry(&key, &parse_file(MANIFEST)).unwrap();
        let last = bytes.len() - 1;
        let mut flipped = bytes.clone();
        flipped[last] ^= 1;
        let mut other_format = bytes.clone();
        other_format[8] ^= 1;
        for damaged in [
            &bytes[..last],
            &bytes[..HEADER_LENGTH - 1],
            &[][..],
            &flipped[..],
            &other_format[..],
        ] {
            assert_eq!(decode_entry::<ParsedFile>(damaged, &key), None);
        }
        assert_eq!(
            decode_entry::<ParsedFile>(&bytes, &Key::of(Kind::Manifest, b"another text")),
            None
        );
    }

    #[test]
    fn a_changed_byte_is_another_key() {
        assert_ne!(
            Key::of(Kind::Manifest, MANIFEST.as_bytes()),
            Key::of(Kind::Manifest, MANIFEST.replace("acme", "acmf").as_bytes())
        );
        assert_eq!(
            Key::of(Kind::Manifest, MANIFEST.as_bytes()),
            Key::of(Kind::Manifest, MANIFEST.as_bytes())
        );
    }
}
