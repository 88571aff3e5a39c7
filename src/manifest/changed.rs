//! Loading only the files that changed since the last load that succeeded (the
//! daemon's edit path): what they declare now, validated against the live hierarchy,
//! and what they declared before.
//!
//! ```text
//! list + stat every file ─> changed = new, rewritten, removed (stamps, see `kept`)
//!    ├─ too many, a users CSV changed, a problem anywhere ─> None: load everything
//!    └─ read + declare the changed files ─> validate them against live ─> Changed
//! ```
//!
//! Validating the changed files alone against the live hierarchy is what validating
//! everything would find about them when the live state equals what the unchanged
//! files declare (the caller knows when it does: the last pass converged and nothing
//! else wrote since). What a changed file does to objects declared elsewhere (a
//! parent's type changed under its children) is checked by the planner, on the
//! objects around the edit. Any problem here gives `None`: the whole load then reports
//! it with every location.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::declare::{Declared, Place};
use super::diagnostic::Severity;
use super::input::{self, Source};
use super::kept::{Keep, KeptFiles, LastLoad, Names, Stamp};
use super::{Loaded, ParseCache, declare_kept, read_csv_users, resolve, saturating, validate};
use crate::model::{Hierarchy, Node};

/// More changed files than this are loaded as a whole (a checkout, not an edit).
pub const MAX_CHANGED_FILES: usize = 64;

/// What the changed files declare now and declared before.
#[derive(Debug)]
pub struct Changed {
    /// Their nodes and plans (sorted by name) and warnings; `files` counts them,
    /// removed files included.
    pub loaded: Loaded,
    /// The node names they declared at the last load.
    pub nodes_before: Vec<String>,
    /// The service plan names they declared at the last load.
    pub plans_before: Vec<String>,
}

/// The files of `inputs` that changed since the last load into `kept` that succeeded,
/// or `None` when only loading everything can tell what they declare. A manifest that
/// names a changed users CSV counts as changed. Changed files are kept as
/// [`super::load_kept`] keeps them.
///
/// `touched`, when given, holds every path that a file watcher saw change since the
/// last load into `kept` (the watcher of the single directory in `inputs`): only those
/// paths are looked at, instead of listing and stamping the whole checkout. A new
/// manifest file or a directory among them makes it `None`.
pub fn load_changed(
    inputs: &[String],
    live: &Hierarchy,
    kept: &mut KeptFiles,
    touched: Option<&FxHashSet<PathBuf>>,
) -> Option<Changed> {
    load_changed_at(inputs, live, kept, touched, SystemTime::now())
}

/// The files to read for an edit: manifests (in load order) with those to read even
/// when their bytes are the ones last declared from (they name a changed users CSV),
/// and the manifests that were removed.
struct Candidates {
    sources: Vec<Source>,
    forced: FxHashSet<PathBuf>,
    removed: Vec<PathBuf>,
}

/// Candidates from listing and stamping every file of `inputs`.
fn listed_candidates(
    inputs: &[String],
    kept: &KeptFiles,
    last: &LastLoad,
    now: SystemTime,
) -> Option<Candidates> {
    let (mut sources, listing) = input::expand(inputs);
    if !listing.is_empty() {
        return None;
    }
    let mut paths = Vec::with_capacity(sources.len());
    for source in &sources {
        match &source.origin {
            input::Origin::File(path) => paths.push(path),
            input::Origin::Stdin(_) | input::Origin::Unreadable => return None,
        }
    }
    let position: FxHashMap<&PathBuf, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| (*path, i))
        .collect();
    let removed: Vec<PathBuf> = last
        .files
        .keys()
        .filter(|path| !position.contains_key(path))
        .cloned()
        .collect();
    let mut changed: Vec<bool> = paths
        .par_iter()
        .map(|path| !kept.manifests.unchanged(path, now))
        .collect();
    let csv: Vec<(&PathBuf, &Vec<PathBuf>)> = last.csv.iter().collect();
    let csv_changed: Vec<bool> = csv
        .par_iter()
        .map(|(path, _)| !kept.users.unchanged(path, now))
        .collect();
    // Read whole even when their bytes are the same: the users they name changed.
    let mut forced = FxHashSet::default();
    for ((_, manifests), _) in csv.iter().zip(csv_changed).filter(|(_, changed)| *changed) {
        for manifest in manifests.iter() {
            if let Some(&i) = position.get(manifest) {
                changed[i] = true;
                forced.insert(manifest.clone());
            }
        }
    }
    let mut keep = changed.into_iter();
    sources.retain(|_| keep.next().unwrap_or(false));
    Some(Candidates {
        sources,
        forced,
        removed,
    })
}

/// Candidates from the paths a watcher saw change: only they are stamped.
fn touched_candidates(
    inputs: &[String],
    touched: &FxHashSet<PathBuf>,
    working: &Path,
    kept: &KeptFiles,
    last: &LastLoad,
    now: SystemTime,
) -> Option<Candidates> {
    let [directory] = inputs else {
        return None;
    };
    let root: Arc<Path> = Arc::from(Path::new(directory));
    // The watcher names paths under the directory made absolute; the listing names
    // them under the directory as given.
    let absolute = working.join(&root);
    let mut files: Vec<PathBuf> = Vec::new();
    let mut forced = FxHashSet::default();
    let mut removed = Vec::new();
    for reported in touched {
        let Ok(inside) = reported
            .strip_prefix(&root)
            .or_else(|_| reported.strip_prefix(&absolute))
        else {
            return None; // not a path of the checkout as listed: the listing decides
        };
        if inside.components().any(|part| {
            part.as_os_str()
                .to_str()
                .is_none_or(|name| name.starts_with('.'))
        }) {
            continue; // hidden (`.git/`, an editor's temporary file): never loaded
        }
        let path = &root.join(inside);
        let known = last.files.contains_key(path);
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => return None,
            Ok(_) if known => {
                if !kept.manifests.unchanged(path, now) {
                    files.push(path.clone());
                }
            }
            Ok(_) if input::is_manifest(path) => return None, // a new manifest file
            Ok(_) => {
                if let Some(manifests) = last.csv.get(path)
                    && !kept.users.unchanged(path, now)
                {
                    // Read whole even when their bytes are the same: the users they
                    // name changed.
                    files.extend(manifests.iter().cloned());
                    forced.extend(manifests.iter().cloned());
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if known {
                    removed.push(path.clone());
                } else if last.csv.contains_key(path) {
                    // A users CSV removed: the manifests naming it now fail.
                    return None;
                } else if !input::is_manifest(path)
                    && last.files.keys().any(|file| file.starts_with(path))
                {
                    return None; // a directory moved or removed
                }
            }
            Err(_) => return None,
        }
        if files.len() + removed.len() > MAX_CHANGED_FILES {
            return None;
        }
    }
    files.sort_unstable();
    files.dedup();
    let sources = files
        .into_iter()
        .map(|path| Source::file(path).in_repository(&root))
        .collect();
    Some(Candidates {
        sources,
        forced,
        removed,
    })
}

/// [`load_changed`] with `now` deciding which stamps are settled.
fn load_changed_at(
    inputs: &[String],
    live: &Hierarchy,
    kept: &mut KeptFiles,
    touched: Option<&FxHashSet<PathBuf>>,
    now: SystemTime,
) -> Option<Changed> {
    let last = kept.last.as_ref()?;
    let Candidates {
        sources,
        forced,
        removed,
    } = match touched {
        Some(touched) => {
            let working = std::env::current_dir().ok()?;
            touched_candidates(inputs, touched, &working, kept, last, now)?
        }
        None => listed_candidates(inputs, kept, last, now)?,
    };
    if sources.len() + removed.len() > MAX_CHANGED_FILES {
        return None;
    }
    let paths: Vec<&PathBuf> = sources
        .iter()
        .filter_map(|source| match &source.origin {
            input::Origin::File(path) => Some(path),
            input::Origin::Stdin(_) | input::Origin::Unreadable => None,
        })
        .collect();
    if paths.len() != sources.len() {
        return None;
    }
    let changed: Vec<usize> = (0..paths.len()).collect();
    let cache = ParseCache::from_environment();
    // Each changed file read (stat first: a change after it makes the next stamp
    // differ); `Some(None)` when its bytes are the ones last declared from.
    let parsed: Vec<_> = changed
        .par_iter()
        .map(|&i| {
            let stamp = Stamp::trusted(paths[i], now);
            let bytes = input::read_bytes(paths[i]).ok()?;
            let digest = *blake3::hash(&bytes).as_bytes();
            let names = last.files.get(paths[i]);
            let same = names.is_some_and(|names| names.digest == Some(digest));
            if same && !forced.contains(paths[i]) {
                return Some(None);
            }
            let file = cache.parse_bytes(bytes).ok()?;
            Some(Some((file, stamp, digest)))
        })
        .collect();
    let mut own_sources: Vec<Source> = Vec::with_capacity(changed.len());
    let mut declared = Declared::default();
    let mut findings = Vec::new();
    let mut keeps = Vec::with_capacity(changed.len());
    let mut digests = Vec::with_capacity(changed.len());
    let mut read = Vec::with_capacity(changed.len());
    for (&i, parsed) in changed.iter().zip(parsed) {
        let Some((file, stamp, digest)) = parsed? else {
            continue; // the same bytes: nothing changed
        };
        read.push(i);
        let source = saturating(own_sources.len());
        own_sources.push(sources[i].clone());
        let documents = file.documents;
        let keep = declare_kept(source, file, stamp, &mut declared, &mut findings);
        keeps.push((paths[i].clone(), keep, documents));
        digests.push(digest);
    }
    let changed = read;
    findings.append(&mut declared.findings);
    let manifest_count = own_sources.len();
    let csv_reads = read_csv_users(
        &mut declared,
        &mut own_sources,
        &mut findings,
        &cache,
        (Some(&kept.users), now),
    );
    if !declared.unparsed.is_empty() {
        return None;
    }
    findings.extend(validate::check(&declared, Some(live)));
    if findings
        .iter()
        .any(|finding| finding.severity == Severity::Error)
    {
        return None;
    }
    // Everything checked: update what is kept, and what the files declare.
    let named_by = csv_named_by(csv_reads.named_by, &own_sources);
    let mut now_declared = names_by_file(&declared, &own_sources[..manifest_count]);
    for (&i, digest) in changed.iter().zip(digests) {
        if let Some(names) = now_declared.get_mut(paths[i]) {
            names.digest = Some(digest);
        }
    }
    let last = kept.last.as_mut()?;
    let mut nodes_before = Vec::new();
    let mut plans_before = Vec::new();
    let gone: FxHashSet<&PathBuf> = removed
        .iter()
        .chain(changed.iter().map(|&i| paths[i]))
        .collect();
    for path in &gone {
        if let Some(names) = last.files.remove(*path) {
            nodes_before.extend(names.nodes);
            plans_before.extend(names.plans);
        }
    }
    last.files.extend(now_declared);
    last.csv.retain(|_, manifests| {
        manifests.retain(|manifest| !gone.contains(manifest));
        !manifests.is_empty()
    });
    for (csv, manifests) in named_by {
        last.csv.entry(csv).or_default().extend(manifests);
    }
    let mut documents = 0;
    for (path, keep, count) in keeps {
        documents += count as usize;
        kept.manifests.set(&path, keep);
    }
    for path in &removed {
        kept.manifests.set(path, Keep::Nothing);
    }
    for (path, keep) in csv_reads.keeps {
        kept.users.set(&path, keep);
    }
    let files = changed.len() + removed.len();
    let diagnostics = resolve::diagnostics(findings, &own_sources);
    let mut nodes: Vec<Node> = declared.nodes.into_iter().map(|entry| entry.node).collect();
    nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let plans = declared.plans.into_iter().map(|entry| entry.plan).collect();
    Some(Changed {
        loaded: Loaded {
            hierarchy: Hierarchy::new(nodes, plans),
            diagnostics,
            files,
            documents,
        },
        nodes_before,
        plans_before,
    })
}

/// Each users CSV file with the manifest files (of `sources`) that named it.
pub(super) fn csv_named_by(
    named_by: Vec<(PathBuf, u32)>,
    sources: &[Source],
) -> FxHashMap<PathBuf, Vec<PathBuf>> {
    let mut files: FxHashMap<PathBuf, Vec<PathBuf>> = FxHashMap::default();
    for (csv, source) in named_by {
        let manifest = files_index(source, sources.len()).map(|i| &sources[i].origin);
        if let Some(input::Origin::File(manifest)) = manifest {
            let named = files.entry(csv).or_default();
            if !named.contains(manifest) {
                named.push(manifest.clone());
            }
        }
    }
    files
}

/// The names each manifest file of `sources` declared (every file, empty ones too).
pub(super) fn names_by_file(declared: &Declared, sources: &[Source]) -> FxHashMap<PathBuf, Names> {
    let mut files: Vec<Names> = vec![Names::default(); sources.len()];
    let file_of = |place: &Place| match place {
        Place::File { source, .. } => files_index(*source, sources.len()),
        _ => None,
    };
    for entry in &declared.nodes {
        if let Some(file) = file_of(&entry.origin.place) {
            files[file].nodes.push(entry.node.name.to_string());
        }
    }
    for entry in &declared.plans {
        if let Some(file) = file_of(&entry.origin.place) {
            files[file].plans.push(entry.plan.name.clone());
        }
    }
    sources
        .iter()
        .zip(files)
        .filter_map(|(source, names)| match &source.origin {
            input::Origin::File(path) => Some((path.clone(), names)),
            input::Origin::Stdin(_) | input::Origin::Unreadable => None,
        })
        .collect()
}

fn files_index(source: u32, count: usize) -> Option<usize> {
    let index = usize::try_from(source).ok()?;
    (index < count).then_some(index)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    const PARTNER: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: partner-nordic}\nspec: {type: partner}\n";

    fn customer(name: &str, display: &str, users_from: bool) -> String {
        let users = if users_from {
            ", usersFrom: users.csv"
        } else {
            ""
        };
        format!(
            "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: {name}}}\nspec: {{type: customer, parent: partner-nordic, displayName: {display}{users}}}\n"
        )
    }

    /// Written aside and renamed into place, as editors save.
    fn save(directory: &Path, name: &str, text: &str) {
        let aside = directory.join(".aside");
        std::fs::write(&aside, text).expect("write");
        std::fs::rename(&aside, directory.join(name)).expect("rename");
    }

    /// A time at which every file written so far is settled.
    fn later() -> SystemTime {
        SystemTime::now() + super::super::kept::RACY_WINDOW * 2 + Duration::from_secs(1)
    }

    /// A checkout of a partner and two customers (one with a users CSV), loaded whole
    /// once into `kept`.
    /// The live hierarchy is what it declares (as after a pass that applied it).
    fn checkout() -> (tempfile::TempDir, Vec<String>, KeptFiles, Hierarchy) {
        let directory = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| save(directory.path(), name, text);
        write("partner.yaml", PARTNER);
        write("a.yaml", &customer("acme", "Acme", true));
        write("b.yaml", &customer("bolt", "Bolt", false));
        write(
            "users.csv",
            "email,name,role,language,timezone\none@x.example,One,admin,,\n",
        );
        let inputs = vec![directory.path().display().to_string()];
        let mut kept = KeptFiles::default();
        let cache = ParseCache::disabled();
        let loaded =
            super::super::load_files(&inputs, None, &cache, &|| {}, Some(&mut kept), later())
                .expect("a valid checkout");
        (directory, inputs, kept, loaded.hierarchy)
    }

    fn names(hierarchy: &Hierarchy) -> Vec<&str> {
        hierarchy
            .nodes
            .iter()
            .map(|node| node.name.as_str())
            .collect()
    }

    #[test]
    fn only_the_changed_file_is_declared_with_what_it_declared_before() {
        let (directory, inputs, mut kept, live) = checkout();
        let unchanged = load_changed_at(&inputs, &live, &mut kept, None, later()).expect("changes");
        assert!(unchanged.loaded.hierarchy.nodes.is_empty());
        assert!(unchanged.nodes_before.is_empty());
        save(
            directory.path(),
            "b.yaml",
            &customer("bolt", "Bolt AB", false),
        );
        let changed = load_changed_at(&inputs, &live, &mut kept, None, later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["bolt"]);
        assert_eq!(
            changed.loaded.hierarchy.nodes[0].spec.display_name,
            "Bolt AB"
        );
        assert_eq!(changed.nodes_before, ["bolt"]);
        // The same bytes again under a new stamp: nothing changed.
        save(
            directory.path(),
            "b.yaml",
            &customer("bolt", "Bolt AB", false),
        );
        let same = load_changed_at(&inputs, &live, &mut kept, None, later()).expect("changes");
        assert!(same.loaded.hierarchy.nodes.is_empty() && same.nodes_before.is_empty());
    }

    #[test]
    fn a_changed_users_csv_declares_the_accounts_that_name_it_again() {
        let (directory, inputs, mut kept, live) = checkout();
        save(
            directory.path(),
            "users.csv",
            "email,name,role,language,timezone\ntwo@x.example,Two,admin,,\n",
        );
        let changed = load_changed_at(&inputs, &live, &mut kept, None, later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["acme"]);
        let acme = &changed.loaded.hierarchy.nodes[0];
        assert_eq!(&*acme.spec.users[0].email, "two@x.example");
    }

    #[test]
    fn a_removed_file_declares_nothing_now_and_its_names_before() {
        let (directory, inputs, mut kept, live) = checkout();
        std::fs::remove_file(directory.path().join("b.yaml")).expect("remove");
        let changed = load_changed_at(&inputs, &live, &mut kept, None, later()).expect("changes");
        assert!(changed.loaded.hierarchy.nodes.is_empty());
        assert_eq!(changed.nodes_before, ["bolt"]);
        assert_eq!(changed.loaded.files, 1);
    }

    #[test]
    fn a_problem_or_a_checkout_is_left_to_the_whole_load() {
        let (directory, inputs, mut kept, live) = checkout();
        save(
            directory.path(),
            "b.yaml",
            "apiVersion: canopy.dev/v1alpha1\nkind: [Account\n",
        );
        assert!(load_changed_at(&inputs, &live, &mut kept, None, later()).is_none());
        save(
            directory.path(),
            "b.yaml",
            &customer("bolt", "Bolt", false).replace("partner-nordic", "nowhere"),
        );
        assert!(
            load_changed_at(&inputs, &live, &mut kept, None, later()).is_none(),
            "a dangling parent"
        );
        save(directory.path(), "b.yaml", &customer("bolt", "Bolt", false));
        assert!(
            load_changed_at(&inputs, &live, &mut kept, None, later()).is_some(),
            "fixed"
        );
        for index in 0..=MAX_CHANGED_FILES {
            save(
                directory.path(),
                &format!("c{index}.yaml"),
                &customer(&format!("c{index}"), "C", false),
            );
        }
        assert!(load_changed_at(&inputs, &live, &mut kept, None, later()).is_none());
        // Nothing is known after a load that failed: the whole load comes first.
        kept.last = None;
        assert!(load_changed_at(&inputs, &live, &mut kept, None, later()).is_none());
    }

    fn touched(directory: &Path, names: &[&str]) -> FxHashSet<PathBuf> {
        names.iter().map(|name| directory.join(name)).collect()
    }

    #[test]
    fn with_the_watched_paths_only_they_are_looked_at() {
        let (directory, inputs, mut kept, live) = checkout();
        let path = directory.path();
        save(path, "a.yaml", &customer("acme", "Acme AB", true));
        save(path, "b.yaml", &customer("bolt", "Bolt AB", false));
        let only_b = touched(path, &["b.yaml", ".aside", ".git/index", "notes.txt"]);
        let changed =
            load_changed_at(&inputs, &live, &mut kept, Some(&only_b), later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["bolt"]);
        assert_eq!(changed.nodes_before, ["bolt"]);
        let only_a = touched(path, &["a.yaml"]);
        let changed =
            load_changed_at(&inputs, &live, &mut kept, Some(&only_a), later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["acme"]);
        assert_eq!(changed.loaded.hierarchy.nodes[0].spec.users.len(), 1);
        save(
            path,
            "users.csv",
            "email,name,role,language,timezone\ntwo@x.example,Two,admin,,\n",
        );
        let csv = touched(path, &["users.csv"]);
        let changed =
            load_changed_at(&inputs, &live, &mut kept, Some(&csv), later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["acme"]);
        assert_eq!(
            &*changed.loaded.hierarchy.nodes[0].spec.users[0].email,
            "two@x.example"
        );
        std::fs::remove_file(path.join("b.yaml")).expect("remove");
        let gone = touched(path, &["b.yaml"]);
        let changed =
            load_changed_at(&inputs, &live, &mut kept, Some(&gone), later()).expect("changes");
        assert!(changed.loaded.hierarchy.nodes.is_empty());
        assert_eq!(changed.nodes_before, ["bolt"]);
    }

    #[test]
    fn a_watched_new_file_or_directory_is_left_to_the_whole_load() {
        let (directory, inputs, mut kept, live) = checkout();
        let path = directory.path();
        save(path, "c.yaml", &customer("crux", "Crux", false));
        let new_file = touched(path, &["c.yaml"]);
        assert!(load_changed_at(&inputs, &live, &mut kept, Some(&new_file), later()).is_none());
        std::fs::create_dir(path.join("more")).expect("mkdir");
        let new_directory = touched(path, &["more"]);
        assert!(
            load_changed_at(&inputs, &live, &mut kept, Some(&new_directory), later()).is_none()
        );
        std::fs::remove_file(path.join("users.csv")).expect("remove");
        let csv_gone = touched(path, &["users.csv"]);
        assert!(load_changed_at(&inputs, &live, &mut kept, Some(&csv_gone), later()).is_none());
    }

    #[test]
    fn a_directory_given_relative_is_matched_with_the_absolute_paths_the_watcher_reports() {
        let (directory, _, _, live) = checkout();
        // The same checkout named relative to the working directory, as `--watch` may be.
        let working = std::env::current_dir().expect("working directory");
        let up = "../".repeat(working.components().count().saturating_sub(1));
        let absolute = directory.path().display().to_string();
        let relative = format!("{up}{}", absolute.trim_start_matches('/'));
        let inputs = vec![relative.clone()];
        let mut kept = KeptFiles::default();
        let cache = ParseCache::disabled();
        super::super::load_files(&inputs, None, &cache, &|| {}, Some(&mut kept), later())
            .expect("a valid checkout");
        save(
            directory.path(),
            "b.yaml",
            &customer("bolt", "Bolt AB", false),
        );
        // The watcher makes the directory absolute by joining it to the working directory.
        let reported = touched(&working.join(&relative), &["b.yaml"]);
        let changed =
            load_changed_at(&inputs, &live, &mut kept, Some(&reported), later()).expect("changes");
        assert_eq!(names(&changed.loaded.hierarchy), ["bolt"]);
        // A path the listing would not name is never skipped: the whole load decides.
        let elsewhere = touched(Path::new("/elsewhere"), &["b.yaml"]);
        assert!(load_changed_at(&inputs, &live, &mut kept, Some(&elsewhere), later()).is_none());
    }
}
