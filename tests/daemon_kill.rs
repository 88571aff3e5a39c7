//! SIGKILL during a daemon reconcile: the daemon is killed at a random moment after a
//! 3,000-account file is saved (before its pass, while it writes, or after it
//! committed). Each time the database holds none of the file's accounts or all of
//! them, never a part; the restarted daemon then applies what is missing. Real binary,
//! both backends, ten kills each.

#[macro_use]
mod support;

use std::path::Path;
use std::time::Duration;

use canopy::generate::Rng;
use support::daemon::Daemon;
use support::{Backend, TestDb};

const ACCOUNTS: usize = 1_000;
const KILLS: usize = 10;

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(a_killed_reconcile_leaves_none_or_all);

fn write_batch(repo: &Path, round: usize) {
    let mut yaml = String::new();
    for index in 0..ACCOUNTS {
        yaml.push_str(&format!(
            "---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: r{round}-{index}}}\nspec: {{type: customer, parent: partner-south}}\n"
        ));
    }
    let temporary = repo.join(".batch.tmp");
    std::fs::write(&temporary, yaml).unwrap();
    std::fs::rename(temporary, repo.join(format!("round-{round}.yaml"))).unwrap();
}

fn count(db: &TestDb, round: usize) -> usize {
    db.query_text(&format!(
        "SELECT name FROM accounts WHERE name LIKE 'r{round}-%'"
    ))
    .len()
}

fn a_killed_reconcile_leaves_none_or_all(db: &TestDb) {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    support::copy_example(&repo);
    let args = ["--resync-interval", "1h", "--debounce", "20ms"];
    let mut rng = Rng::new(7);
    let (mut none, mut all) = (0, 0);
    for round in 0..KILLS {
        let mut daemon = Daemon::start(&db.url, &repo, root.path(), &args);
        daemon.wait_ready();
        if round > 0 {
            // The restarted daemon applied what the kill left out.
            assert_eq!(count(db, round - 1), ACCOUNTS, "round {}", round - 1);
        }
        write_batch(&repo, round);
        std::thread::sleep(Duration::from_millis(rng.below(1_500) as u64));
        drop(daemon); // SIGKILL
        match count(db, round) {
            0 => none += 1,
            ACCOUNTS => all += 1,
            some => panic!("round {round}: {some} of {ACCOUNTS} accounts after the kill"),
        }
    }
    println!("{KILLS} kills: {none} left none, {all} left all");
}
