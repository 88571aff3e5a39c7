//! Storage faults under the real binary: the SQLite file's filesystem full, then made
//! read-only (a real tmpfs, mounted by the test: CI runs as root), and a PostgreSQL
//! database switched to read-only. Each time: exit 1 with a message that names the
//! cause, no panic, the previous state intact and readable, and the apply succeeds
//! once the fault is gone.

#[macro_use]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::TestDb;

/// A small tmpfs, unmounted when dropped.
struct Tmpfs {
    directory: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let directory = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(directory.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs the tests as root)"
        );
        Tmpfs { directory }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    fn remount(&self, mode: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.directory.path())
            .status();
    }
}

/// A repository of `customers` customers under one partner.
fn repository(root: &Path, name: &str, customers: usize) -> PathBuf {
    let directory = root.join(name);
    std::fs::create_dir_all(&directory).unwrap();
    let mut yaml = String::from(
        "apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {name: hq}
spec: {type: subsidiary}
---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {name: partner}
spec: {type: partner, parent: hq}
",
    );
    for customer in 0..customers {
        yaml.push_str(&format!(
            "---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: customer-{customer}}}
spec: {{type: customer, parent: partner, displayName: Customer number {customer} of a long list}}
"
        ));
    }
    std::fs::write(directory.join("accounts.yaml"), yaml).unwrap();
    directory
}

fn canopy(url: &str, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("canopy")
        .unwrap()
        .env_remove("CANOPY_DATABASE_URL")
        .env_remove("CANOPY_SOURCE")
        .env("NO_COLOR", "1")
        .args(args)
        .args(["--database-url", url])
        .output()
        .unwrap()
}

/// What the database holds, as canopy reads it: every object and the audit log.
fn state(url: &str) -> (String, String) {
    let get = canopy(url, &["get", "-o", "json"]);
    assert!(
        get.status.success(),
        "get: {}",
        String::from_utf8_lossy(&get.stderr)
    );
    let history = canopy(url, &["history", "-o", "json"]);
    assert!(history.status.success());
    (
        String::from_utf8(get.stdout).unwrap(),
        String::from_utf8(history.stdout).unwrap(),
    )
}

fn assert_refused(output: &std::process::Output, cause: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        cause.iter().any(|text| stderr.contains(text)),
        "expected one of {cause:?}: {stderr}"
    );
}

/// Fills the filesystem at `directory` with one file until a write fails.
fn fill(directory: &Path) -> PathBuf {
    let path = directory.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 16 * 1024];
    while file
        .write_all(&block)
        .and_then(|()| file.sync_data())
        .is_ok()
    {}
    path
}

#[test]
fn sqlite_on_a_full_then_read_only_filesystem_keeps_its_state() {
    let mount = Tmpfs::mount("4m");
    let manifests = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", mount.path().join("canopy.db").display());
    let small = repository(manifests.path(), "small", 20);
    let large = repository(manifests.path(), "large", 8_000);

    let first = canopy(
        &url,
        &["apply", "--yes", "-q", &small.display().to_string()],
    );
    assert!(first.status.success());
    let before = state(&url);

    // SQLite re-creates its shared-memory index on every first open, so neither the
    // apply nor a read gets far on a full disk: both say why.
    let filler = fill(mount.path());
    let full = canopy(
        &url,
        &["apply", "--yes", "-q", &large.display().to_string()],
    );
    assert_refused(&full, &["is full"]);
    std::fs::remove_file(filler).unwrap();
    assert_eq!(state(&url), before, "a full disk left the state as it was");

    mount.remount("ro");
    let read_only = canopy(
        &url,
        &["apply", "--yes", "-q", &large.display().to_string()],
    );
    assert_refused(&read_only, &["is read-only"]);
    mount.remount("rw");
    assert_eq!(
        state(&url),
        before,
        "a read-only disk left the state as it was"
    );

    let recovered = canopy(
        &url,
        &["apply", "--yes", "-q", &large.display().to_string()],
    );
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    assert_ne!(state(&url), before);
}

#[test]
fn postgres_made_read_only_refuses_the_apply_and_keeps_its_state() {
    let db = TestDb::postgres();
    let manifests = tempfile::tempdir().unwrap();
    let small = repository(manifests.path(), "small", 20);
    let large = repository(manifests.path(), "large", 200);
    let first = canopy(
        &db.url,
        &["apply", "--yes", "-q", &small.display().to_string()],
    );
    assert!(first.status.success());
    let before = state(&db.url);

    db.execute("ALTER DATABASE canopy_test SET default_transaction_read_only = on");
    let refused = canopy(
        &db.url,
        &["apply", "--yes", "-q", &large.display().to_string()],
    );
    assert_refused(&refused, &["read-only"]);
    assert_eq!(state(&db.url), before);

    db.server()
        .expect("a PostgreSQL server")
        .connect("postgres")
        .execute("ALTER DATABASE canopy_test SET default_transaction_read_only = off")
        .unwrap();
    let recovered = canopy(
        &db.url,
        &["apply", "--yes", "-q", &large.display().to_string()],
    );
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
}
