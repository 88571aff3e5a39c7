//! Two daemons on a PostgreSQL without advisory locks (`?canopy_lock=table`): the
//! active one holds the single-writer lease and renews it while idle (its expiry
//! moves forward, its holder stays), the other stands by; when the active one is
//! SIGKILLed the lease runs out and the standby takes over and applies.

#[macro_use]
mod support;

use support::daemon::Daemon;
use support::postgres::PostgresServer;

fn lease(server: &PostgresServer) -> (Option<String>, Option<String>) {
    let rows = server
        .connect("canopy")
        .query_text(
            "SELECT holder, CAST(expires_at AS TEXT) FROM canopy_locks WHERE name = 'session'",
            &[],
        )
        .unwrap();
    let row = rows.into_iter().next().unwrap_or_default();
    let mut values = row.into_iter();
    (values.next().flatten(), values.next().flatten())
}

fn role(daemon: &Daemon) -> String {
    daemon
        .status()
        .map(|status| status["role"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[test]
fn the_lease_is_renewed_while_idle_and_taken_over_after_a_kill() {
    let server = PostgresServer::start();
    let url = format!(
        "{}?canopy_lock=table&canopy_lock_ttl=2",
        server.database_without_advisory_locks("canopy")
    );
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    support::copy_example(&repo);
    // No resync: only the heartbeat keeps the lease while nothing happens.
    let args = ["--resync-interval", "1h", "--debounce", "20ms"];
    let mut first = Daemon::start(&url, &repo, root.path(), &args);
    first.wait_ready();
    let mut second = Daemon::start(&url, &repo, root.path(), &args);
    second.eventually("the second daemon to stand by", |second| {
        role(second) == "standby"
    });

    let (holder, mut expiry) = lease(&server);
    let holder = holder.expect("a lease holder");
    let mut renewals = 0;
    first.eventually("three renewals of the lease while idle", |_| {
        let (now_holder, now_expiry) = lease(&server);
        assert_eq!(
            now_holder.as_deref(),
            Some(holder.as_str()),
            "the holder changed"
        );
        if now_expiry != expiry {
            renewals += 1;
            expiry = now_expiry;
        }
        renewals >= 3
    });
    assert_eq!(role(&second), "standby");

    drop(first); // SIGKILL: the lease is not released, it runs out.
    second.eventually("the standby to take over", |second| {
        role(second) == "active"
    });
    std::fs::write(
        repo.join("after.yaml"),
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: after-takeover\nspec:\n  type: customer\n  parent: partner-south\n",
    )
    .unwrap();
    second.eventually("the new active daemon to apply", |_| {
        !server
            .connect("canopy")
            .query_text(
                "SELECT name FROM accounts WHERE name = 'after-takeover'",
                &[],
            )
            .unwrap()
            .is_empty()
    });
    let (new_holder, _) = lease(&server);
    assert_ne!(new_holder.as_deref(), Some(holder.as_str()));
}
