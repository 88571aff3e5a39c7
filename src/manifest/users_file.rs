//! Where a `usersFrom` path may lead: only to a file inside the repository being
//! loaded.
//!
//! A manifest is untrusted input (it arrives in a pull request), and whatever file it
//! names is read and its problems reported, possibly into a pull-request comment. So
//! a `usersFrom` path must be relative, and must stay inside the repository root (the
//! directory given on the command line, or the own directory of a manifest given
//! alone) both as written (`..` components) and once symbolic links are followed. A
//! path to a directory is refused as well. The path is checked lexically first, so
//! that a missing file outside the root is refused rather than reported as missing.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// A repository root, with where it really is (symbolic links followed) found at most
/// once and shared by every `usersFrom` checked against it in one load: a million
/// accounts may name tens of thousands of users files.
pub struct Root<'a> {
    path: &'a Path,
    canonical: OnceLock<Option<PathBuf>>,
}

impl<'a> Root<'a> {
    pub fn new(path: &'a Path) -> Root<'a> {
        Root {
            path,
            canonical: OnceLock::new(),
        }
    }

    pub fn path(&self) -> &'a Path {
        self.path
    }

    fn canonical(&self) -> Option<&Path> {
        self.canonical
            .get_or_init(|| fs::canonicalize(self.path).ok())
            .as_deref()
    }
}

/// The file `users_from` names, relative to the manifest's directory `base`, or why it
/// may not be read. `root` is the repository the manifest belongs to.
pub fn resolve(root: &Root<'_>, base: &Path, users_from: &str) -> Result<PathBuf, String> {
    let relative = Path::new(users_from);
    if relative.has_root() || relative.is_absolute() {
        return Err(format!(
            "`{users_from}` is an absolute path; name a file relative to the manifest, inside the repository"
        ));
    }
    let candidate = base.join(relative);
    let outside = || {
        format!(
            "`{users_from}` leads outside the repository `{}`; users files must live inside it",
            root.path.display()
        )
    };
    if !lexically_inside(root.path, &candidate) {
        return Err(outside());
    }
    let Ok(canonical) = fs::canonicalize(&candidate) else {
        // Missing: reported as such by the reader, at the same `usersFrom`.
        return Ok(candidate);
    };
    let canonical_root = root.canonical().ok_or_else(outside)?;
    if !canonical.starts_with(canonical_root) {
        return Err(format!(
            "`{users_from}` leads outside the repository `{}` through a symbolic link; users files must live inside it",
            root.path.display()
        ));
    }
    if canonical.is_dir() {
        return Err(format!("`{users_from}` is a directory; name a CSV file"));
    }
    Ok(candidate)
}

/// Whether `path` stays below `root` when `.` and `..` are resolved as written.
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let root = normalized(root);
    let path = normalized(path);
    // A root that itself climbs (`../repo`) still bounds what is below it; the root
    // itself is inside (and refused later as a directory).
    path.len() >= root.len()
        && path.starts_with(&root)
        && !path[root.len()..].contains(&Component::ParentDir)
}

/// The components of `path` with `.` dropped and `..` cancelling the part before it.
fn normalized(path: &Path) -> Vec<Component<'_>> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(parts.last(), None | Some(Component::ParentDir)) {
                    parts.push(component);
                } else {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> tempfile::TempDir {
        let directory = tempfile::tempdir().expect("temporary directory");
        fs::create_dir_all(directory.path().join("repo/team")).expect("create repo");
        fs::write(directory.path().join("repo/team/users.csv"), "email\n").expect("write");
        fs::write(directory.path().join("repo/top.csv"), "email\n").expect("write");
        fs::write(directory.path().join("secret.csv"), "email\n").expect("write");
        directory
    }

    #[test]
    fn a_file_next_to_the_manifest_is_read() {
        let directory = repository();
        let root = directory.path().join("repo");
        let path = resolve(&Root::new(&root), &root.join("team"), "users.csv").expect("inside");
        assert_eq!(path, root.join("team/users.csv"));
    }

    #[test]
    fn parent_components_that_stay_inside_are_allowed() {
        let directory = repository();
        let root = directory.path().join("repo");
        assert!(resolve(&Root::new(&root), &root.join("team"), "../top.csv").is_ok());
    }

    #[rstest::rstest]
    #[case("/etc/passwd", "absolute path")]
    #[case("/proc/self/environ", "absolute path")]
    #[case("../secret.csv", "leads outside")]
    #[case("team/../../secret.csv", "leads outside")]
    #[case("../../../../../../etc/passwd", "leads outside")]
    #[case("team", "is a directory")]
    fn paths_leaving_the_repository_are_refused(#[case] users_from: &str, #[case] why: &str) {
        let directory = repository();
        let root = directory.path().join("repo");
        let refusal = resolve(&Root::new(&root), &root, users_from).expect_err("refused");
        assert!(refusal.contains(why), "{refusal}");
    }

    #[test]
    fn a_missing_file_outside_is_refused_not_reported_missing() {
        let directory = repository();
        let root = directory.path().join("repo");
        assert!(resolve(&Root::new(&root), &root, "../nowhere.csv").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_leaving_the_repository_is_refused() {
        let directory = repository();
        let root = directory.path().join("repo");
        std::os::unix::fs::symlink(directory.path().join("secret.csv"), root.join("link.csv"))
            .expect("symlink");
        std::os::unix::fs::symlink("/proc/self", root.join("proc")).expect("symlink");
        for users_from in ["link.csv", "proc/environ"] {
            let refusal = resolve(&Root::new(&root), &root, users_from).expect_err("refused");
            assert!(refusal.contains("symbolic link"), "{refusal}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_inside_the_repository_is_followed() {
        let directory = repository();
        let root = directory.path().join("repo");
        std::os::unix::fs::symlink(root.join("top.csv"), root.join("team/alias.csv"))
            .expect("symlink");
        assert!(resolve(&Root::new(&root), &root.join("team"), "alias.csv").is_ok());
    }
}
