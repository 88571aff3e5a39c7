//! The snapshot cache: the live state a command read, kept on disk under the change
//! stamp it was read at, so that the next command against an unchanged database reads
//! one row (the stamp) instead of every table.
//!
//! ```text
//! change_stamp() ─ (counter, nonce) ─┬─ entry at this exact stamp: decode it (hit)
//!                                    └─ miss: snapshot() ─ stamp unchanged? ─ write entry
//! ```
//!
//! Every write to the tables a snapshot reads, canopy's or anyone's, bumps the counter
//! and draws a new random nonce (triggers, schema version 5). The pair therefore names
//! one state: a database restored from a backup and changed again reaches the same
//! counter with another nonce, and never matches an entry made before the restore.
//!
//! One entry per database URL (`<cache dir>/live/<hash of the URL>`), replaced when
//! the state changes; the directory is the parse cache's (`CANOPY_CACHE_DIR`, …;
//! `CANOPY_CACHE=off` turns both off). An entry holds the snapshot's rows (names,
//! e-mail addresses), so it is created readable by its owner only. It starts with a
//! header (magic, the build's identity, the stamp, the payload's length and hash);
//! an entry that is missing, damaged or of another build is ignored, never an error.
//! Writing one that fails (a read-only directory) is logged at debug level.

use std::fs;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Result, Snapshot, Store, WriteTxn, snapshot_entry};

/// The first bytes of every entry.
const MAGIC: [u8; 8] = *b"canopySC";
/// Magic, build identity, counter, nonce, payload length, payload hash.
const HEADER_LENGTH: usize = 8 + 32 + 8 + 8 + 8 + 32;
/// The sub-directory of the cache directory that holds snapshot entries.
const ENTRIES: &str = "live";

/// One state of one database: the change counter and the nonce drawn by the change
/// that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeStamp {
    pub counter: i64,
    pub nonce: i64,
}

/// Where the snapshot of one database is cached, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotCache {
    entry: Option<PathBuf>,
}

impl SnapshotCache {
    /// The entry of the database at `url` inside the cache `directory` (`None`: off).
    pub fn new(directory: Option<&Path>, url: &str) -> SnapshotCache {
        let entry = directory.map(|directory| {
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"canopy snapshot cache\0");
            hasher.update(url.as_bytes());
            if url.starts_with("sqlite://") {
                // A relative SQLite path names another file in another directory.
                if let Ok(here) = std::env::current_dir() {
                    hasher.update(here.as_os_str().as_encoded_bytes());
                }
            }
            directory
                .join(ENTRIES)
                .join(hasher.finalize().to_hex().as_str())
        });
        SnapshotCache { entry }
    }

    /// No cache: every snapshot is read from the database.
    pub fn disabled() -> SnapshotCache {
        SnapshotCache { entry: None }
    }

    /// The live state, from the entry when it was stored at the database's current
    /// stamp, else read (and stored when no write happened during the read).
    pub fn snapshot(&self, store: &mut dyn Store) -> Result<Snapshot> {
        if self.entry.is_none() {
            return store.snapshot();
        }
        let stamp = store.change_stamp()?;
        if let Some(snapshot) = self.load(stamp) {
            return Ok(snapshot);
        }
        let snapshot = store.snapshot()?;
        if store.change_stamp()? == stamp {
            self.save(stamp, &snapshot);
        }
        Ok(snapshot)
    }

    /// [`SnapshotCache::snapshot`] inside a write transaction, whose lock keeps the
    /// stamp still: a hit is handed to the transaction as the state it sees
    /// ([`WriteTxn::trust_snapshot`]), so its apply reads only the rows it writes. A
    /// miss is not stored: the apply that follows changes the stamp, and storing would
    /// hold the writer lock the while.
    pub fn snapshot_in(&self, txn: &mut dyn WriteTxn) -> Result<Snapshot> {
        if self.entry.is_none() {
            return txn.snapshot();
        }
        let stamp = txn.change_stamp()?;
        if let Some(snapshot) = self.load(stamp) {
            txn.trust_snapshot(&snapshot.fingerprint);
            return Ok(snapshot);
        }
        txn.snapshot()
    }

    /// The entry's snapshot if it is whole, of this build and of exactly `stamp`.
    /// Decoded as it is read (the file is never held whole: at a million accounts it
    /// is hundreds of megabytes); its hash is checked at the end.
    fn load(&self, stamp: ChangeStamp) -> Option<Snapshot> {
        let entry = self.entry.as_deref()?;
        let file = match fs::File::open(entry) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::debug!("snapshot cache: cannot read {}: {error}", entry.display());
                return None;
            }
        };
        let snapshot = decode(file, stamp);
        match &snapshot {
            Some(_) => tracing::debug!(
                counter = stamp.counter,
                "snapshot cache: the live state is unchanged since it was stored"
            ),
            None => tracing::debug!("snapshot cache: the stored state is not this one"),
        }
        snapshot
    }

    /// Replaces the entry; any failure is logged at debug level and otherwise ignored.
    fn save(&self, stamp: ChangeStamp, snapshot: &Snapshot) {
        let Some(entry) = self.entry.as_deref() else {
            return;
        };
        if let Err(error) = write_privately(entry, |file| encode(file, stamp, snapshot)) {
            tracing::debug!("snapshot cache: cannot write {}: {error}", entry.display());
        }
    }
}

/// The source of what decides an entry's meaning: the model, the snapshot, this
/// encoding and the locked dependencies. Any edit to them is another identity.
const MODEL_SOURCES: [&str; 6] = [
    include_str!("../model/mod.rs"),
    include_str!("../model/effective.rs"),
    include_str!("mod.rs"),
    include_str!("snapshot_cache.rs"),
    include_str!("snapshot_entry.rs"),
    include_str!("../../Cargo.lock"),
];

fn build_identity() -> &'static [u8; 32] {
    static IDENTITY: OnceLock<[u8; 32]> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"canopy snapshot cache\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        for source in MODEL_SOURCES {
            hasher.update(&(source.len() as u64).to_le_bytes());
            hasher.update(source.as_bytes());
        }
        *hasher.finalize().as_bytes()
    })
}

/// The header: magic, build identity, stamp, then the payload's length and hash.
fn header(stamp: ChangeStamp, length: u64, hash: &blake3::Hash) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_LENGTH);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(build_identity());
    header.extend_from_slice(&stamp.counter.to_le_bytes());
    header.extend_from_slice(&stamp.nonce.to_le_bytes());
    header.extend_from_slice(&length.to_le_bytes());
    header.extend_from_slice(hash.as_bytes());
    header
}

/// Streams the entry into `file`: a header with an empty length and hash, the
/// payload (hashed as it is written), then the real header over the first.
fn encode(file: &mut fs::File, stamp: ChangeStamp, snapshot: &Snapshot) -> std::io::Result<()> {
    let unknown = blake3::Hash::from_bytes([0; 32]);
    file.write_all(&header(stamp, 0, &unknown))?;
    // Buffered before the hash, so that it hashes large blocks, not each small write.
    let mut payload = BufWriter::with_capacity(
        BUFFER,
        Hashing {
            inner: &mut *file,
            hasher: blake3::Hasher::new(),
            length: 0,
        },
    );
    snapshot_entry::write(&mut payload, snapshot)?;
    let hashed = payload.into_inner().map_err(|error| error.into_error())?;
    let (length, hash) = (hashed.length, hashed.hasher.finalize());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header(stamp, length, &hash))
}

fn decode(mut file: fs::File, stamp: ChangeStamp) -> Option<Snapshot> {
    let mut found = [0; HEADER_LENGTH];
    file.read_exact(&mut found).ok()?;
    let (expected, rest) = found.split_at(HEADER_LENGTH - 8 - 32);
    let (length, hash) = rest.split_at(8);
    let length = u64::from_le_bytes(length.try_into().ok()?);
    let unknown = blake3::Hash::from_bytes([0; 32]);
    if expected != &header(stamp, 0, &unknown)[..HEADER_LENGTH - 8 - 32] {
        return None;
    }
    let mut payload = BufReader::with_capacity(
        BUFFER,
        Hashing {
            inner: file,
            hasher: blake3::Hasher::new(),
            length: 0,
        },
    );
    let snapshot = snapshot_entry::read(&mut payload)?;
    // Nothing may follow the payload, and what was read must be what was written.
    std::io::copy(&mut payload, &mut std::io::sink()).ok()?;
    let hashed = payload.into_inner();
    let intact = hashed.length == length && hashed.hasher.finalize().as_bytes() == hash;
    intact.then_some(snapshot)
}

/// The read and write buffer of an entry's payload.
const BUFFER: usize = 1 << 16;

/// A reader or writer that hashes and counts the bytes going through it.
struct Hashing<T> {
    inner: T,
    hasher: blake3::Hasher,
    length: u64,
}

impl<T: Read> Read for Hashing<T> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        self.length += read as u64;
        Ok(read)
    }
}

impl<T: Write> Write for Hashing<T> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.length += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a temporary file (owner-only) next to `entry` with `write` and renames it
/// into place, so that readers see a whole entry or none.
fn write_privately(
    entry: &Path,
    write: impl FnOnce(&mut fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(entries) = entry.parent() else {
        return Ok(());
    };
    fs::create_dir_all(entries)?;
    let temporary = entry.with_extension(format!("{}.tmp", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| write(&mut file))
        .and_then(|()| fs::rename(&temporary, entry));
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless, only untidy.
        let _ = fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Hierarchy, Node, NodeSpec, NodeType};

    fn snapshot(name: &str) -> Snapshot {
        let node = Node {
            name: name.into(),
            spec: NodeSpec::new(NodeType::Subsidiary, name),
            adopt: false,
            live: Default::default(),
            effective: None,
        };
        Snapshot {
            hierarchy: Hierarchy::new(vec![node], Vec::new()),
            fingerprint: format!("fingerprint of {name}"),
        }
    }

    const STAMP: ChangeStamp = ChangeStamp {
        counter: 7,
        nonce: -42,
    };

    #[test]
    fn an_entry_is_read_back_only_at_its_own_stamp() {
        let directory = tempfile::tempdir().unwrap();
        let cache = SnapshotCache::new(Some(directory.path()), "sqlite://a.db");
        cache.save(STAMP, &snapshot("acme"));
        let read = cache
            .load(STAMP)
            .expect("a hit at the stamp it was stored at");
        assert_eq!(read.hierarchy, snapshot("acme").hierarchy);
        assert_eq!(read.fingerprint, "fingerprint of acme");
        let restored = ChangeStamp { nonce: 1, ..STAMP };
        assert!(
            cache.load(restored).is_none(),
            "same counter, another nonce"
        );
        let later = ChangeStamp {
            counter: 8,
            ..STAMP
        };
        assert!(cache.load(later).is_none(), "another counter");
    }

    #[test]
    fn a_damaged_or_foreign_entry_is_ignored() {
        let directory = tempfile::tempdir().unwrap();
        let cache = SnapshotCache::new(Some(directory.path()), "sqlite://a.db");
        cache.save(STAMP, &snapshot("acme"));
        let entry = cache.entry.clone().unwrap();
        let mut bytes = fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&entry, &bytes).unwrap();
        assert!(cache.load(STAMP).is_none(), "a flipped payload bit");
        fs::write(&entry, b"canopySC").unwrap();
        assert!(cache.load(STAMP).is_none(), "a truncated entry");
        let other = SnapshotCache::new(Some(directory.path()), "sqlite://b.db");
        assert!(other.load(STAMP).is_none(), "another database's entry");
    }

    #[test]
    fn an_entry_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().unwrap();
        let cache = SnapshotCache::new(Some(directory.path()), "sqlite://a.db");
        cache.save(STAMP, &snapshot("acme"));
        let mode = fs::metadata(cache.entry.unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
