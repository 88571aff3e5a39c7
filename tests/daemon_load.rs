//! The daemon under load: 1,000 edits to 100 account files, saved one after another as
//! editors do (temporary file + rename), while a resync runs every 200 ms. Every
//! account ends with its last edit, each account's audited values appear in the order
//! they were saved (none lost, none applied out of order), and the daemon stays up.
//! On both backends, the real binary. The note of the run reports the passes and the
//! resident memory at the end.
//!
//! CI saves as fast as it can (a few seconds). The minute-long run paces the saves:
//! `CANOPY_LOAD_PACE_MS=60 cargo nextest run --test daemon_load --no-capture`.

#[macro_use]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::{Backend, TestDb};

const ACCOUNTS: usize = 100;
const EDITS: usize = 1_000;

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(a_thousand_edits_under_resync_all_land_in_order);

fn write_account(repo: &Path, account: usize, edit: usize) {
    let text = format!(
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: load-{account}\nspec:\n  type: customer\n  parent: partner-south\n  displayName: edit {edit}\n"
    );
    let temporary = repo.join(format!(".load-{account}.yaml.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(temporary, repo.join(format!("load-{account}.yaml"))).unwrap();
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn a_thousand_edits_under_resync_all_land_in_order(db: &TestDb) {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    support::copy_example(&repo);
    for account in 0..ACCOUNTS {
        write_account(&repo, account, account);
    }
    let mut daemon = Daemon::start(
        &db.url,
        &repo,
        root.path(),
        &["--resync-interval", "200ms", "--debounce", "20ms"],
    );
    daemon.wait_ready();
    let pace: u64 = std::env::var("CANOPY_LOAD_PACE_MS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let started = Instant::now();
    for edit in ACCOUNTS..ACCOUNTS + EDITS {
        write_account(&repo, edit % ACCOUNTS, edit);
        // Pacing, not synchronisation: a stream of saves rather than one burst.
        if pace > 0 {
            std::thread::sleep(Duration::from_millis(pace));
        } else if edit % 10 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let written = started.elapsed();
    let last = |account: usize| ACCOUNTS + EDITS - ACCOUNTS + account;
    daemon.eventually("every account to carry its last edit", |_| {
        let rows = db.query_text(
            "SELECT name, display_name FROM accounts WHERE name LIKE 'load-%' ORDER BY name",
        );
        rows.len() == ACCOUNTS
            && rows.iter().all(|row| {
                let account: usize = row[0].as_deref().unwrap()["load-".len()..].parse().unwrap();
                row[1].as_deref() == Some(format!("edit {}", last(account)).as_str())
            })
    });
    let landed = started.elapsed();

    // The audit log: per account, the display names it went through, in commit order.
    let rows = db.query_text(
        "SELECT name, CAST(after AS TEXT) FROM audit_log
         WHERE name LIKE 'load-%' AND op = 'update' ORDER BY sequence",
    );
    let mut seen: Vec<Vec<usize>> = vec![Vec::new(); ACCOUNTS];
    for row in &rows {
        let account: usize = row[0].as_deref().unwrap()["load-".len()..].parse().unwrap();
        let after = row[1].as_deref().unwrap_or_default();
        let edit: usize = after
            .split("edit ")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("no edit in {after}"));
        seen[account].push(edit);
    }
    for (account, edits) in seen.iter().enumerate() {
        assert!(
            edits.windows(2).all(|pair| pair[0] < pair[1]),
            "load-{account} applied out of order: {edits:?}"
        );
        assert_eq!(edits.last(), Some(&last(account)), "load-{account}");
    }
    let status = daemon.status().expect("status");
    println!(
        "{EDITS} edits written in {written:?}, all committed after {landed:?}; \
         {} audited updates; passes: {}; resident {} KiB",
        rows.len(),
        status["reconciles"],
        resident_kib(daemon.pid()).unwrap_or_default()
    );
}
