//! Concurrent writers: 2, 4 and 8 `canopy apply` processes (the real binary), each with
//! a different variant of one repository, started together on one database. The
//! single-writer lock must serialise them: every process succeeds, the final state is
//! exactly one variant (no account from one and another from a second), the audit log
//! holds each apply as one unbroken run of rows (no interleaving, no lost update), and
//! account numbers stay unique. On both backends.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{Backend, TestDb};

const CUSTOMERS: usize = 40;

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(concurrent_applies_serialise_into_exactly_one_variant);

/// Writes variant `k`: the same accounts, every display name marked with `k`.
fn write_variant(root: &Path, k: usize) -> PathBuf {
    let directory = root.join(format!("variant-{k}"));
    std::fs::create_dir_all(&directory).unwrap();
    let mut yaml = format!(
        "apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: hq}}
spec: {{type: subsidiary, displayName: HQ v{k}}}
---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: partner}}
spec: {{type: partner, parent: hq, displayName: Partner v{k}}}
"
    );
    for customer in 0..CUSTOMERS {
        yaml.push_str(&format!(
            "---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: customer-{customer}}}
spec: {{type: customer, parent: partner, displayName: Customer {customer} v{k}}}
"
        ));
    }
    std::fs::write(directory.join("accounts.yaml"), yaml).unwrap();
    directory
}

fn apply(url: &str, directory: &Path, revision: &str) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("canopy"));
    command
        .env_remove("CANOPY_DATABASE_URL")
        .env_remove("CANOPY_SOURCE")
        .args([
            "apply",
            "--yes",
            "-q",
            "--database-url",
            url,
            "--revision",
            revision,
        ])
        .arg(directory)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn concurrent_applies_serialise_into_exactly_one_variant(db: &TestDb) {
    let root = tempfile::tempdir().unwrap();
    let status = apply(&db.url, &write_variant(root.path(), 0), "v0")
        .status()
        .unwrap();
    assert!(status.success());
    let mut next = 1;
    for writers in [2, 4, 8] {
        let variants: Vec<usize> = (next..next + writers).collect();
        next += writers;
        let directories: Vec<PathBuf> = variants
            .iter()
            .map(|&k| write_variant(root.path(), k))
            .collect();
        let children: Vec<_> = variants
            .iter()
            .zip(&directories)
            .map(|(k, directory)| apply(&db.url, directory, &format!("v{k}")).spawn().unwrap())
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{writers} writers: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let last = check_serialised(db, &variants);
        check_one_variant(db, last);
    }
    let numbers = db.query_text(
        "SELECT CAST(COUNT(account_number) AS TEXT), CAST(COUNT(DISTINCT account_number) AS TEXT)
         FROM accounts",
    );
    assert_eq!(numbers[0][0], numbers[0][1], "account numbers unique");
    assert_eq!(numbers[0][0].as_deref(), Some("42"));
}

/// The audit rows of `variants`' applies, in sequence order, form one unbroken run per
/// apply, every variant present: returns the variant that applied last.
fn check_serialised(db: &TestDb, variants: &[usize]) -> usize {
    let first = variants[0];
    let revisions: Vec<usize> = db
        .query_text("SELECT revision FROM audit_log ORDER BY sequence")
        .into_iter()
        .filter_map(|row| row[0].clone())
        .filter_map(|revision| revision.trim_start_matches('v').parse().ok())
        .filter(|k| *k >= first)
        .collect();
    let mut runs: Vec<usize> = Vec::new();
    for k in revisions {
        if runs.last() != Some(&k) {
            assert!(!runs.contains(&k), "apply v{k} interleaved: {runs:?}");
            runs.push(k);
        }
    }
    let mut seen = runs.clone();
    seen.sort_unstable();
    assert_eq!(seen, variants, "every apply wrote its changes once");
    *runs.last().unwrap()
}

/// Every account carries the display name of variant `k`.
fn check_one_variant(db: &TestDb, k: usize) {
    let rows = db.query_text("SELECT name, display_name FROM accounts ORDER BY name");
    assert_eq!(rows.len(), CUSTOMERS + 2);
    let suffix = format!(" v{k}");
    for row in rows {
        let display = row[1].clone().unwrap_or_default();
        assert!(
            display.ends_with(&suffix),
            "{:?} is {display:?}, not variant {k}",
            row[0]
        );
    }
}
