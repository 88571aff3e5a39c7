//! Files kept in memory between loads, for a process that loads the same checkout
//! again and again (the daemon): a file whose stamp (device, inode, size, modification
//! and change times) is the one it had when it was read is not read again; its parse
//! product (or its CSV users) is taken from memory.
//!
//! ```text
//! path ─ stat ─> stamp ─┬─ kept, same stamp: the kept value (no read, no hash, no decode)
//!                       └─ otherwise: read (through the parse cache) ─> keep if trusted
//! ```
//!
//! A manifest file is kept as what it declared (the nodes and plans with their
//! origins, before any `usersFrom` users are added), so a kept file is neither decoded
//! nor declared again; only files that declared without any problem are kept, so a
//! file with errors is always read and reported afresh.
//!
//! A stamp is trusted only when the file last changed more than [`RACY_WINDOW`]
//! before it was taken: file systems keep times at a coarse granularity, so a file
//! rewritten with the same size within the same tick as it was read would otherwise
//! keep its old stamp (git's "racily clean" entries). Such a file is read again on the
//! next load, until it is old enough to be kept. The change time (`ctime`) is part of
//! the stamp because no tool can set it back: a checkout that restores modification
//! times still changes it. Files no longer among the inputs are forgotten at each load.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

use super::declare::{DeclaredNode, DeclaredPlan, Place};
use super::diagnostic::Problem;
use super::users_csv::CsvUser;

/// How long after its last change a file's stamp is trusted.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What reading one users CSV file gives.
pub(super) type CsvRead = (Vec<CsvUser>, Vec<Problem>);

/// What a manifest file without problems declared.
#[derive(Debug, Clone)]
pub(super) struct FileDeclarations {
    pub nodes: Vec<DeclaredNode>,
    pub plans: Vec<DeclaredPlan>,
    pub documents: u32,
}

impl FileDeclarations {
    /// Points every origin at `source`, the file's position in this load.
    pub fn in_source(&mut self, source: u32) {
        let origins = self.nodes.iter_mut().map(|entry| &mut entry.origin);
        let origins = origins.chain(self.plans.iter_mut().map(|entry| &mut entry.origin));
        for origin in origins {
            if let Place::File { source: at, .. } = &mut origin.place {
                *at = source;
            }
        }
    }
}

/// The manifests and users CSV files of earlier loads; see the module documentation.
/// Empty when created; [`crate::manifest::load_kept`] fills it.
#[derive(Debug, Default)]
pub struct KeptFiles {
    pub(super) manifests: Memo<FileDeclarations>,
    pub(super) users: Memo<CsvRead>,
    /// What each file declared at the last load that succeeded; `None` after one that
    /// failed (or before any): an edit is then planned on the whole tree.
    pub(super) last: Option<LastLoad>,
}

/// The names a manifest file declared.
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    pub nodes: Vec<String>,
    pub plans: Vec<String>,
    /// A hash of the bytes they were declared from, when known: a file rewritten with
    /// the same bytes (or read again only because its stamp was not settled) has not
    /// changed.
    pub digest: Option<[u8; 32]>,
}

/// What a load that succeeded read: every manifest file with the names it declared
/// (files that declared nothing too), and each users CSV file that `usersFrom` named
/// with the manifest files that named it.
#[derive(Debug, Default)]
pub(super) struct LastLoad {
    pub files: FxHashMap<PathBuf, Names>,
    pub csv: FxHashMap<PathBuf, Vec<PathBuf>>,
}

impl KeptFiles {
    /// Forgets every file: the next load reads them all (a rescan, a resync).
    pub fn clear(&mut self) {
        self.manifests.entries.clear();
        self.users.entries.clear();
        self.last = None;
    }

    /// How many manifest files and users CSV files are kept.
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.manifests.entries.len(), self.users.entries.len())
    }
}

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    /// The stamp of `path` (following links, as reading does), if it can be trusted
    /// `now`: `None` when the file cannot be stat'ed or changed too recently.
    pub(super) fn trusted(path: &Path, now: SystemTime) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        let stamp = Stamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        };
        let latest = stamp.modified.max(stamp.changed);
        let latest = UNIX_EPOCH
            + Duration::from_secs(u64::try_from(latest.0).ok()?)
            + Duration::from_nanos(u64::try_from(latest.1).ok()?);
        let settled = now
            .duration_since(latest)
            .is_ok_and(|age| age > RACY_WINDOW);
        settled.then_some(stamp)
    }
}

/// One kept file.
#[derive(Debug)]
struct Entry<T> {
    stamp: Stamp,
    value: T,
}

/// What [`Memo::find`] found: the kept value, or what reading the file gave (with the
/// stamp to keep it under, when it can be trusted).
pub(super) enum Found<T, R> {
    Kept(T),
    Read(Result<R, Problem>, Option<Stamp>),
}

/// What a load does with a file's entry afterwards.
pub(super) enum Keep<T> {
    /// The kept entry was used: keep it.
    Same,
    /// The file was read and may be kept with this stamp.
    New(Stamp, T),
    /// Not kept (unreadable, or changed too recently).
    Nothing,
}

/// Kept values by path.
#[derive(Debug)]
pub(super) struct Memo<T> {
    entries: FxHashMap<PathBuf, Entry<T>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            entries: FxHashMap::default(),
        }
    }
}

impl<T> Memo<T> {
    /// Whether `path` is kept with the stamp it has now (and that stamp is settled).
    pub(super) fn unchanged(&self, path: &Path, now: SystemTime) -> bool {
        let stamp = Stamp::trusted(path, now);
        stamp.is_some_and(|stamp| {
            self.entries
                .get(path)
                .is_some_and(|entry| entry.stamp == stamp)
        })
    }

    /// Updates the entries of `path` alone: kept anew, or forgotten.
    pub(super) fn set(&mut self, path: &Path, keep: Keep<T>) {
        match keep {
            Keep::New(stamp, value) => {
                self.entries
                    .insert(path.to_path_buf(), Entry { stamp, value });
            }
            Keep::Nothing => {
                self.entries.remove(path);
            }
            Keep::Same => {}
        }
    }
}

impl<T: Clone> Memo<T> {
    /// The kept value of `path` if the file is unchanged, else what `read` gives.
    /// Runs on the parsing threads.
    pub(super) fn find<R>(
        &self,
        path: &Path,
        now: SystemTime,
        read: impl FnOnce(&Path) -> Result<R, Problem>,
    ) -> Found<T, R> {
        // Stat before reading: a change after the stat makes the next stamp differ.
        let stamp = Stamp::trusted(path, now);
        if let (Some(stamp), Some(entry)) = (stamp, self.entries.get(path))
            && entry.stamp == stamp
        {
            return Found::Kept(entry.value.clone());
        }
        Found::Read(read(path), stamp)
    }

    /// [`Memo::find`] where what is read is what is kept: the value, and what to keep
    /// ([`Memo::update`]).
    pub(super) fn get(
        &self,
        path: &Path,
        now: SystemTime,
        read: impl FnOnce(&Path) -> Result<T, Problem>,
    ) -> (Result<T, Problem>, Keep<T>) {
        match self.find(path, now, read) {
            Found::Kept(value) => (Ok(value), Keep::Same),
            Found::Read(Ok(value), Some(stamp)) => (Ok(value.clone()), Keep::New(stamp, value)),
            Found::Read(result, _) => (result, Keep::Nothing),
        }
    }

    /// Keeps exactly the files of this load: the used entries stay, new ones are added,
    /// everything else is forgotten.
    pub(super) fn update<'p>(&mut self, files: impl IntoIterator<Item = (&'p Path, Keep<T>)>) {
        let mut previous = std::mem::take(&mut self.entries);
        for (path, keep) in files {
            let entry = match keep {
                Keep::Same => previous.remove(path),
                Keep::New(stamp, value) => Some(Entry { stamp, value }),
                Keep::Nothing => None,
            };
            if let Some(entry) = entry {
                self.entries.insert(path.to_path_buf(), entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(path: &Path) -> Result<String, Problem> {
        Ok(std::fs::read_to_string(path).expect("readable"))
    }

    fn later() -> SystemTime {
        SystemTime::now() + RACY_WINDOW * 2
    }

    #[test]
    fn an_unchanged_settled_file_is_not_read_again() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("a.yaml");
        std::fs::write(&path, "one").expect("write");
        let mut memo = Memo::<String>::default();
        let (value, keep) = memo.get(&path, later(), read_text);
        assert_eq!(value.expect("read"), "one");
        memo.update([(path.as_path(), keep)]);
        let (value, keep) = memo.get(&path, later(), |_| panic!("read again"));
        assert_eq!(value.expect("kept"), "one");
        assert!(matches!(keep, Keep::Same));
    }

    #[test]
    fn a_rewritten_file_is_read_again_even_with_the_same_size() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("a.yaml");
        std::fs::write(&path, "one").expect("write");
        let mut memo = Memo::<String>::default();
        let (_, keep) = memo.get(&path, later(), read_text);
        memo.update([(path.as_path(), keep)]);
        // Replaced by rename, as editors save: another inode.
        let replacement = directory.path().join("a.yaml.tmp");
        std::fs::write(&replacement, "two").expect("write");
        std::fs::rename(&replacement, &path).expect("rename");
        let (value, _) = memo.get(&path, later(), read_text);
        assert_eq!(value.expect("read"), "two");
    }

    #[test]
    fn a_file_changed_within_the_racy_window_is_not_kept() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("a.yaml");
        std::fs::write(&path, "one").expect("write");
        let mut memo = Memo::<String>::default();
        let (_, keep) = memo.get(&path, SystemTime::now(), read_text);
        assert!(matches!(keep, Keep::Nothing));
        memo.update([(path.as_path(), keep)]);
        assert!(memo.entries.is_empty());
    }

    #[test]
    fn files_no_longer_loaded_are_forgotten() {
        let directory = tempfile::tempdir().expect("tempdir");
        let (a, b) = (directory.path().join("a"), directory.path().join("b"));
        std::fs::write(&a, "a").expect("write");
        std::fs::write(&b, "b").expect("write");
        let mut memo = Memo::<String>::default();
        let (_, keep_a) = memo.get(&a, later(), read_text);
        let (_, keep_b) = memo.get(&b, later(), read_text);
        memo.update([(a.as_path(), keep_a), (b.as_path(), keep_b)]);
        let (_, keep_a) = memo.get(&a, later(), read_text);
        memo.update([(a.as_path(), keep_a)]);
        assert_eq!(memo.entries.len(), 1);
        assert!(memo.entries.contains_key(&a));
    }

    const PARTNER: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: partner-nordic}\nspec: {type: partner}\n";

    fn customer(name: &str, display: &str) -> String {
        format!(
            "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: {name}}}\nspec: {{type: customer, parent: partner-nordic, displayName: {display}, usersFrom: users.csv}}\n"
        )
    }

    /// Writes a file aside and renames it into place, as editors and git do: a new
    /// inode, so the stamp differs even within one tick of the file system's clock (a
    /// rewrite in place within one tick is what the racy window guards against).
    fn save(directory: &Path, name: &str, text: &str) {
        let aside = directory.join(".aside");
        std::fs::write(&aside, text).expect("write");
        std::fs::rename(&aside, directory.join(name)).expect("rename");
    }

    type Load = Result<crate::manifest::Loaded, crate::manifest::LoadError>;

    /// Loads with `kept` at a time when every file is settled, and checks the result
    /// (hierarchy, or every diagnostic with its location) against a load that reads
    /// everything.
    fn load_both(kept: &mut KeptFiles, directory: &Path) -> Load {
        let inputs = [directory.display().to_string()];
        let cache = crate::manifest::ParseCache::disabled();
        let fresh = crate::manifest::load_with_cache(&inputs, None, &cache);
        let kept_load =
            crate::manifest::load_files(&inputs, None, &cache, &|| {}, Some(kept), later());
        assert_eq!(kept_load, fresh);
        kept_load
    }

    #[test]
    fn loading_with_kept_files_sees_every_edit_a_full_load_sees() {
        let directory = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| save(directory.path(), name, text);
        write("partner.yaml", PARTNER);
        write("a.yaml", &customer("acme", "Acme"));
        write("b.yaml", &customer("bolt", "Bolt"));
        write(
            "users.csv",
            "email,name,role,language,timezone\none@x.example,One,admin,,\n",
        );
        let mut kept = KeptFiles::default();
        load_both(&mut kept, directory.path()).expect("valid");
        assert_eq!(kept.len(), (3, 1));
        load_both(&mut kept, directory.path()).expect("valid");
        // Same size, other bytes; a changed CSV; a removed file.
        write("a.yaml", &customer("acme", "Acmf"));
        write(
            "users.csv",
            "email,name,role,language,timezone\ntwo@x.example,Two,admin,,\n",
        );
        std::fs::remove_file(directory.path().join("b.yaml")).expect("remove");
        let loaded = load_both(&mut kept, directory.path()).expect("valid");
        assert_eq!(kept.len(), (2, 1));
        let acme = loaded.hierarchy.node("acme").expect("acme");
        assert_eq!(acme.spec.display_name, "Acmf");
        assert_eq!(&*acme.spec.users[0].email, "two@x.example");
    }

    #[test]
    fn errors_in_kept_files_are_located_in_them_after_other_files_come_and_go() {
        let directory = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| save(directory.path(), name, text);
        write("partner.yaml", PARTNER);
        write(
            "users.csv",
            "email,name,role,language,timezone\none@x.example,One,admin,,\n",
        );
        write("m.yaml", &customer("acme", "Acme"));
        let mut kept = KeptFiles::default();
        load_both(&mut kept, directory.path()).expect("valid");
        // A file sorted before the kept one, and its parent gone: the dangling parent
        // is reported at m.yaml's line, from what was kept of m.yaml.
        write("a.yaml", &customer("bolt", "Bolt"));
        std::fs::remove_file(directory.path().join("partner.yaml")).expect("remove");
        let error = load_both(&mut kept, directory.path()).expect_err("dangling parents");
        assert!(
            error
                .diagnostics
                .iter()
                .any(|d| d.to_string().contains("m.yaml")),
            "{error}"
        );
        // A broken file is never kept: it is read (and reported) again every time.
        write(
            "z.yaml",
            "apiVersion: canopy.dev/v1alpha1\nkind: Account\nspec: [\n",
        );
        load_both(&mut kept, directory.path()).expect_err("broken");
        load_both(&mut kept, directory.path()).expect_err("still broken");
        assert_eq!(kept.len(), (2, 1));
    }
}
