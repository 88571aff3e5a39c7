//! What a daemon needs of the store besides reads and writes: the change counter that
//! every write bumps (canopy's or a hand edit), PostgreSQL's `NOTIFY canopy_changes`,
//! the session lock that makes one instance the writer, and errors that say whether
//! to retry. Each generic test runs on SQLite and on a real PostgreSQL.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use canopy::store::{ApplyContext, Store};
use support::fixtures::{SOURCE, create_all, example};
use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(
    an_apply_bumps_the_change_counter_and_a_read_does_not,
    a_hand_edit_bumps_the_change_counter,
    only_one_store_holds_the_session_lock,
    the_session_lock_is_released_when_its_store_is_dropped,
    a_bulk_apply_bumps_the_change_counter_and_leaves_its_triggers,
    a_large_apply_audits_every_change_once_in_plan_order,
);

fn context() -> ApplyContext {
    ApplyContext {
        actor: "ci@example".into(),
        source: SOURCE.into(),
        revision: None,
    }
}

fn apply_example(store: &mut dyn Store) {
    let base = store.snapshot().unwrap().fingerprint;
    let mut transaction = store.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &base), &context())
        .unwrap();
    transaction.commit().unwrap();
}

/// Polls `condition` until it holds, failing the test after 20 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn an_apply_bumps_the_change_counter_and_a_read_does_not(db: &TestDb) {
    let mut store = db.open();
    let before = store.change_counter().unwrap();
    apply_example(store.as_mut());
    let after = store.change_counter().unwrap();
    assert!(after > before, "{before} -> {after}");
    store.snapshot().unwrap();
    assert_eq!(store.change_counter().unwrap(), after);
    // Another store on the same database reads the same counter.
    assert_eq!(db.open().change_counter().unwrap(), after);
}

fn a_hand_edit_bumps_the_change_counter(db: &TestDb) {
    let mut store = db.open();
    apply_example(store.as_mut());
    let mut seen = store.change_counter().unwrap();
    for edit in [
        "UPDATE accounts SET display_name = 'ACME by hand' WHERE name = 'acme-eu'",
        "UPDATE users SET name = 'Anna B.' WHERE email = 'anna@acme.example'",
        "INSERT INTO service_plans (name, billing) VALUES ('by-hand', 'trial')",
        "DELETE FROM service_plans WHERE name = 'by-hand'",
    ] {
        db.execute(edit);
        let now = store.change_counter().unwrap();
        assert!(now > seen, "`{edit}` left the counter at {now}");
        seen = now;
    }
    // Tables canopy does not own leave it alone.
    db.execute("INSERT INTO usage (account, metric, period, amount) VALUES ('acme-eu', 'documents', '2025-01', 1)");
    assert_eq!(store.change_counter().unwrap(), seen);
}

/// The database's triggers, by name, with their definitions.
fn triggers(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_text(match db.backend {
        Backend::Sqlite => {
            "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT tgname::text, pg_get_triggerdef(oid) FROM pg_trigger
             WHERE NOT tgisinternal ORDER BY tgname"
        }
    })
}

/// Enough rows that SQLite's write suspends the per-row counting triggers.
const BULK_ACCOUNTS: usize = 3_000;

fn a_bulk_apply_bumps_the_change_counter_and_leaves_its_triggers(db: &TestDb) {
    let mut store = db.open();
    let triggers_before = triggers(db);
    assert!(triggers_before.len() >= 5, "{triggers_before:?}");
    let before = store.change_counter().unwrap();
    let desired = canopy::generate::hierarchy(BULK_ACCOUNTS, 7);
    let base = store.snapshot().unwrap().fingerprint;
    let mut transaction = store.begin().unwrap();
    transaction
        .apply(&create_all(&desired, &base), &context())
        .unwrap();
    transaction.commit().unwrap();
    let mut seen = store.change_counter().unwrap();
    assert!(seen > before, "{before} -> {seen}");
    assert_eq!(triggers(db), triggers_before);
    // Every counting trigger still counts.
    let leaf = "(SELECT max(name) FROM accounts AS leaf
                 WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE parent = leaf.name))";
    for edit in [
        "UPDATE accounts SET display_name = 'by hand' WHERE name = (SELECT min(name) FROM accounts)".to_owned(),
        "UPDATE users SET name = 'By Hand' WHERE email = (SELECT min(email) FROM users)".to_owned(),
        format!("DELETE FROM users WHERE account = {leaf}"),
        format!("DELETE FROM accounts WHERE name = {leaf}"),
        "INSERT INTO users (account, email, position, name, role)
         SELECT min(name), 'by-hand@example.com', 99, 'By Hand', 'user' FROM accounts"
            .to_owned(),
    ] {
        db.execute(&edit);
        let now = store.change_counter().unwrap();
        assert!(now > seen, "`{edit}` left the counter at {now}");
        seen = now;
    }
}

/// The audit rows are encoded and written a few thousand at a time: a plan of more
/// changes than one such chunk still gets one row per change, in plan order.
fn a_large_apply_audits_every_change_once_in_plan_order(db: &TestDb) {
    let mut store = db.open();
    let desired = canopy::generate::hierarchy(9_000, 11);
    let base = store.snapshot().unwrap().fingerprint;
    let plan = create_all(&desired, &base);
    assert!(
        plan.changes.len() > 2 * 4_096,
        "{} changes",
        plan.changes.len()
    );
    let mut transaction = store.begin().unwrap();
    transaction.apply(&plan, &context()).unwrap();
    transaction.commit().unwrap();
    let mut audited = Vec::new();
    loop {
        let after = audited.last().map_or(0, |(sequence, _, _)| *sequence);
        let page = store.audit(after, 5_000).unwrap();
        if page.is_empty() {
            break;
        }
        audited.extend(
            page.into_iter()
                .map(|record| (record.sequence, record.op, record.name)),
        );
    }
    let expected: Vec<(String, String)> = plan
        .changes
        .iter()
        .map(|change| (change.op.as_str().to_string(), change.name.to_string()))
        .collect();
    let written: Vec<(String, String)> = audited
        .into_iter()
        .map(|(_, op, name)| (op, name))
        .collect();
    assert_eq!(written.len(), expected.len());
    assert!(
        written == expected,
        "the audit log differs from the plan's changes"
    );
}

/// A bulk write that fails half-way leaves the counting triggers in place, even for a
/// caller that commits what was written before the failure.
#[test]
fn sqlite_a_failed_bulk_write_keeps_the_counting_triggers() {
    let db = TestDb::sqlite();
    let mut store = db.open();
    let desired = canopy::generate::hierarchy(BULK_ACCOUNTS, 7);
    let refused = desired
        .nodes
        .iter()
        .rev()
        .find_map(|node| node.spec.users.last())
        .expect("a generated user");
    db.execute(&format!(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON users WHEN NEW.email = '{}'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        refused.email
    ));
    let triggers_before = triggers(&db);
    let before = store.change_counter().unwrap();
    let base = store.snapshot().unwrap().fingerprint;
    let mut transaction = store.begin().unwrap();
    let error = transaction
        .apply(&create_all(&desired, &base), &context())
        .unwrap_err();
    assert!(error.to_string().contains(&*refused.email), "{error}");
    // Committed anyway: the accounts went in, and so did the triggers, restored.
    transaction.commit().unwrap();
    assert_eq!(triggers(&db), triggers_before);
    let after = store.change_counter().unwrap();
    assert!(after > before, "{before} -> {after}");
    db.execute("UPDATE accounts SET display_name = 'by hand' WHERE name = (SELECT min(name) FROM accounts)");
    assert!(store.change_counter().unwrap() > after);
}

fn only_one_store_holds_the_session_lock(db: &TestDb) {
    let mut first = db.open();
    let mut second = db.open();
    assert!(first.try_lock_session().unwrap());
    assert!(
        first.try_lock_session().unwrap(),
        "taking it again is a no-op"
    );
    assert!(first.holds_session_lock().unwrap());
    assert!(!second.try_lock_session().unwrap());
    assert!(!second.holds_session_lock().unwrap());
    // One unlock releases it, however often it was taken.
    first.unlock_session().unwrap();
    assert!(!first.holds_session_lock().unwrap());
    assert!(second.try_lock_session().unwrap());
    assert!(second.holds_session_lock().unwrap());
    assert!(!first.try_lock_session().unwrap());
    // Writes by the standby still work: the session lock is not the writer lock.
    apply_example(first.as_mut());
}

fn the_session_lock_is_released_when_its_store_is_dropped(db: &TestDb) {
    let mut first = db.open();
    let mut second = db.open();
    assert!(first.try_lock_session().unwrap());
    assert!(!second.try_lock_session().unwrap());
    drop(first);
    // The server releases it when the closed connection's backend exits.
    eventually("the dropped store's lock is released", || {
        second.try_lock_session().unwrap()
    });
    assert!(second.holds_session_lock().unwrap());
}

#[test]
fn an_in_memory_database_always_gets_the_session_lock() {
    let mut store = canopy::store::open("sqlite::memory:").unwrap();
    assert!(store.try_lock_session().unwrap());
    assert!(store.holds_session_lock().unwrap());
    store.unlock_session().unwrap();
    assert!(!store.holds_session_lock().unwrap());
}

#[test]
fn postgres_a_killed_connection_loses_the_session_lock() {
    let db = TestDb::postgres();
    let mut store = db.open();
    assert!(store.try_lock_session().unwrap());
    let mut admin = db.raw_postgres();
    let killed = admin
        .query_one_text(
            "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert_eq!(killed.as_deref(), Some("1"));
    match store.holds_session_lock() {
        Ok(held) => assert!(!held, "a dead connection cannot hold the lock"),
        Err(error) => assert!(error.is_transient(), "{error:#}"),
    }
    // Another instance can take over.
    let mut standby = db.open();
    eventually("the killed connection's lock is released", || {
        standby.try_lock_session().unwrap()
    });
}

#[test]
fn postgres_a_hand_edit_is_notified_on_canopy_changes() {
    use futures_util::StreamExt;
    let db = TestDb::postgres();
    let mut store = db.open();
    apply_example(store.as_mut());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The listener belongs to this runtime, also when it is dropped.
    let _context = runtime.enter();
    let mut notifications = runtime
        .block_on(canopy::store::postgres::listen(&db.url))
        .unwrap();
    db.execute("UPDATE accounts SET active = false WHERE name = 'acme-eu'");
    let counter = store.change_counter().unwrap();
    let notification = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(20), notifications.next()).await
        })
        .expect("a notification within 20 s")
        .expect("the stream goes on")
        .unwrap();
    assert_eq!(notification.counter, Some(counter));
}

/// The daemon calls the synchronous store from tokio's blocking threads: the store's
/// private runtime must work there.
#[test]
fn postgres_the_store_works_from_spawn_blocking() {
    let db = TestDb::postgres();
    let url = db.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counted = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let mut store = canopy::store::open(&url).unwrap();
            apply_example(store.as_mut());
            let nodes = store.snapshot().unwrap().hierarchy.nodes.len();
            (nodes, store.change_counter().unwrap())
        })
        .await
        .unwrap()
    });
    assert_eq!(counted.0, example().nodes.len());
    assert!(counted.1 > 0);
}

#[test]
fn postgres_a_refused_connection_is_transient_and_a_stale_plan_is_not() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = canopy::store::open(&format!("postgres://canopy@127.0.0.1:{port}/canopy"))
        .err()
        .expect("nothing listens there");
    assert!(error.is_transient(), "{error:#}");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(source.is_some_and(|text| !text.is_empty()), "{error:#}");

    let db = TestDb::postgres();
    let mut store = db.open();
    let mut transaction = store.begin().unwrap();
    let stale = transaction
        .apply(&create_all(&example(), "not-the-live-state"), &context())
        .unwrap_err();
    assert!(!stale.is_transient(), "{stale:#}");
}
