//! `?canopy_lock=table`: canopy on a PostgreSQL-compatible engine without advisory
//! locks. The server here is a real PostgreSQL whose advisory-lock functions are
//! revoked from the role canopy connects as, so the default mode fails and the table
//! mode must do everything itself: migrations, applies (the real binary), writers that
//! exclude each other, and the single-writer lease with takeover and fencing.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use canopy::store::{self, ApplyContext, Store, StoreError};
use predicates::prelude::*;
use support::fixtures::{SOURCE, create_all, example};
use support::postgres::PostgresServer;

/// A server with a database `canopy` without advisory locks for `plain`, and the URL.
fn server_without_advisory_locks() -> (PostgresServer, String) {
    let server = PostgresServer::start();
    let url = server.database_without_advisory_locks("canopy");
    (server, url)
}

fn open(url: &str) -> Box<dyn Store> {
    store::open(url).unwrap_or_else(|error| panic!("open {url}: {error}"))
}

fn context() -> ApplyContext {
    ApplyContext {
        actor: "ci@example".into(),
        source: SOURCE.into(),
        revision: None,
    }
}

/// Polls `condition` until it holds, failing the test after 60 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_advisory_locks_only_the_table_mode_works() {
    let (_server, url) = server_without_advisory_locks();
    let refused = store::open(&url).err().expect("advisory locks are revoked");
    assert!(
        refused.to_string().contains("lock for migration"),
        "{refused}"
    );
    let cause = std::error::Error::source(&refused)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(cause.contains("permission denied"), "{cause}");

    let table = format!("{url}?canopy_lock=table");
    let mut store = open(&table);
    let base = store.snapshot().unwrap().fingerprint;
    let mut transaction = store.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &base), &context())
        .unwrap();
    transaction.commit().unwrap();
    let live = store.snapshot().unwrap();
    support::fixtures::assert_round_trip(&live.hierarchy, &example());
}

#[test]
fn the_binary_applies_and_reads_with_canopy_lock_table() {
    let (_server, url) = server_without_advisory_locks();
    let table = format!("{url}?canopy_lock=table");
    let canopy = || {
        let mut command = Command::cargo_bin("canopy").unwrap();
        command.env_remove("CANOPY_DATABASE_URL");
        command
    };
    canopy()
        .args([
            "apply",
            "examples/realistic",
            "--yes",
            "--database-url",
            &table,
        ])
        .assert()
        .success();
    canopy()
        .args(["plan", "examples/realistic", "--database-url", &table])
        .assert()
        .success()
        .stdout(predicate::str::contains("No changes"));
    canopy()
        .args(["get", "-o", "json", "--database-url", &table])
        .assert()
        .success()
        .stdout(predicate::str::is_empty().not());
}

#[test]
fn writers_wait_for_each_other_on_the_lock_row() {
    let (server, url) = server_without_advisory_locks();
    let table = format!("{url}?canopy_lock=table");
    let mut first = open(&table);
    let base = first.snapshot().unwrap().fingerprint;
    let mut transaction = first.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &base), &context())
        .unwrap();

    let second_url = format!("{table}&application_name=second_writer");
    let second = std::thread::spawn(move || {
        let mut store = open(&second_url);
        // Blocks on the writer row until the first transaction ends, then sees its rows.
        let transaction = store.begin().unwrap();
        drop(transaction);
        store.snapshot().unwrap().hierarchy.nodes.len()
    });
    let mut watcher = server.connect("postgres");
    eventually("the second writer waits on a lock", || {
        let waiting = watcher
            .query_one_text(
                "SELECT count(*)::text FROM pg_stat_activity
                 WHERE application_name = 'second_writer' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap();
        waiting.as_deref() == Some("1")
    });
    assert!(!second.is_finished());
    transaction.commit().unwrap();
    let seen = second.join().expect("the second writer");
    assert_eq!(seen, example().nodes.len());
}

#[test]
fn the_lease_has_one_holder_and_passes_on_when_it_expires() {
    let (_server, url) = server_without_advisory_locks();
    let table = format!("{url}?canopy_lock=table&canopy_lock_ttl=2");
    let mut first = open(&table);
    let mut second = open(&table);
    assert!(first.try_lock_session().unwrap());
    assert!(
        first.try_lock_session().unwrap(),
        "taking it again keeps it"
    );
    assert!(!second.try_lock_session().unwrap());
    assert!(first.holds_session_lock().unwrap());
    assert!(!second.holds_session_lock().unwrap());

    first.unlock_session().unwrap();
    assert!(!first.holds_session_lock().unwrap());
    assert!(second.try_lock_session().unwrap(), "released: free at once");

    // The holder dies without releasing: the lease runs out and a standby takes over.
    drop(second);
    let mut standby = open(&table);
    assert!(!standby.try_lock_session().unwrap(), "still leased");
    eventually("the standby takes the expired lease", || {
        standby.try_lock_session().unwrap()
    });
    assert!(standby.holds_session_lock().unwrap());
    assert!(!first.try_lock_session().unwrap());
}

#[test]
fn a_writer_whose_lease_was_taken_over_cannot_write() {
    let (server, url) = server_without_advisory_locks();
    let table = format!("{url}?canopy_lock=table");
    let mut first = open(&table);
    let mut second = open(&table);
    assert!(first.try_lock_session().unwrap());

    // While the holder writes, nobody can take the lease, expired or not.
    let transaction = first.begin().unwrap();
    assert!(!second.try_lock_session().unwrap());
    drop(transaction);

    // The lease runs out (a paused process) and the standby takes it over.
    server
        .connect("canopy")
        .execute("UPDATE canopy_locks SET expires_at = now() - interval '1 second' WHERE name = 'session'")
        .unwrap();
    assert!(second.try_lock_session().unwrap());
    let fenced = first.begin().err().expect("fenced");
    assert!(matches!(fenced, StoreError::LostSessionLock), "{fenced}");
    assert!(fenced.is_transient());
    assert!(!first.holds_session_lock().unwrap());
    // A store that never held the lease (a CLI apply) still writes, after the holder.
    let mut cli = open(&table);
    let base = cli.snapshot().unwrap().fingerprint;
    let mut transaction = cli.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &base), &context())
        .unwrap();
    transaction.commit().unwrap();
}
