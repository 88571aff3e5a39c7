//! `canopy run --watch` end to end: the real binary against real SQLite and a real
//! PostgreSQL, a checkout in a temporary directory, synchronised by polling `/status`
//! and the database (never by sleeping a fixed time).

#[macro_use]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::free_port;
use support::{Backend, TestDb};

on_both_backends!(
    an_edited_file_is_applied,
    an_edit_is_planned_on_the_files_it_changed,
    a_broken_file_applies_nothing_until_it_is_fixed,
    an_atomic_save_and_a_thousand_file_checkout_are_one_reconcile_each,
    a_hand_edit_is_corrected_at_once_on_postgres_and_at_the_next_resync_on_sqlite,
    an_edit_after_a_hand_edit_applies_both_the_edit_and_the_correction,
    a_file_edit_first_read_by_a_resync_is_not_drift,
    a_hand_edit_is_only_reported_with_drift_report,
    a_deactivation_over_the_gate_is_held_until_approved,
    an_approval_is_refused_when_the_live_state_moved,
    a_suspension_stops_applying_until_resumed_or_expired,
    a_standby_takes_over_when_the_active_daemon_dies,
    sigterm_mid_reconcile_leaves_the_state_before_or_after,
);

/// How long any awaited condition may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn fixture(backend: Backend) -> Workspace {
    Workspace::new(backend)
}

/// A copy of examples/realistic and a fresh database.
struct Workspace {
    db: TestDb,
    directory: tempfile::TempDir,
}

impl Workspace {
    fn new(backend: Backend) -> Workspace {
        let directory = tempfile::tempdir().expect("temporary directory");
        copy_dir(
            Path::new("examples/realistic"),
            &directory.path().join("repo"),
        );
        Workspace {
            db: TestDb::new(backend),
            directory,
        }
    }

    fn repo(&self) -> PathBuf {
        self.directory.path().join("repo")
    }

    fn canopy(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(assert_cmd::cargo::cargo_bin!("canopy"))
            .current_dir(self.directory.path())
            .env("CANOPY_DATABASE_URL", &self.db.url)
            .env("CANOPY_CACHE", "off")
            .env_remove("CANOPY_SOURCE")
            .args(args)
            .output()
            .expect("run canopy");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts a daemon on this checkout with short intervals and `extra` flags.
    fn daemon(&self, extra: &[&str]) -> Daemon {
        let port = free_port();
        let log = self.directory.path().join(format!("daemon-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("daemon log");
        let repo = self.repo();
        let mut args = vec![
            "run".to_string(),
            "--watch".to_string(),
            repo.display().to_string(),
            "--listen".to_string(),
            format!("127.0.0.1:{port}"),
        ];
        if !extra.contains(&"--debounce") {
            args.extend(["--debounce".to_string(), "50ms".to_string()]);
        }
        if !extra.contains(&"--resync-interval") {
            args.extend(["--resync-interval".to_string(), "300ms".to_string()]);
        }
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let child = Command::new(assert_cmd::cargo::cargo_bin!("canopy"))
            .current_dir(self.directory.path())
            .env("CANOPY_DATABASE_URL", &self.db.url)
            .env("CANOPY_CACHE", "off")
            .env("CANOPY_LOG", "canopy=debug")
            .env_remove("CANOPY_SOURCE")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start canopy run");
        Daemon {
            child: Some(child),
            port,
            log,
        }
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.repo().join(file);
        let text = std::fs::read_to_string(&path).expect("read manifest");
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write manifest");
    }

    /// A column of one account, read behind the daemon's back.
    fn account(&self, name: &str, column: &str) -> Option<String> {
        let sql = format!("SELECT CAST({column} AS TEXT) FROM accounts WHERE name = '{name}'");
        self.db
            .query_text(&sql)
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
    }

    fn count(&self, sql: &str) -> i64 {
        let rows = self.db.query_text(sql);
        rows.first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("{sql} gave no count"))
    }
}

/// A running `canopy run`; killed when dropped.
struct Daemon {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    /// `(status code, body)` of a request, or `None` while nothing listens.
    fn request(&self, method: &str, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let code = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body)?;
        Some((code, body.to_string()))
    }

    fn status(&self) -> Option<Value> {
        let (code, body) = self.request("GET", "/status")?;
        (code == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// Polls until `found` gives a value; fails the test (with the log) otherwise.
    fn wait_until<T>(&mut self, what: &str, found: impl Fn(&Daemon) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = found(self) {
                return value;
            }
            self.assert_running(what);
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `/metrics` until `condition` holds.
    fn wait_for_metrics(&mut self, what: &str, condition: impl Fn(&str) -> bool) {
        self.wait_until(what, |daemon| {
            let (_, metrics) = daemon.request("GET", "/metrics")?;
            condition(&metrics).then_some(())
        });
    }

    /// Polls `/status` until `condition` holds.
    fn wait_for(&mut self, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        self.wait_until(what, |daemon| {
            daemon.status().filter(|status| condition(status))
        })
    }

    fn applied(status: &Value) -> u64 {
        status["reconciles"]["applied"].as_u64().unwrap_or(0)
    }

    /// Waits for the first pass to finish and returns the number of applied passes.
    fn wait_started(&mut self) -> u64 {
        let status = self.wait_for("the first reconcile", |status| {
            status["ready"] == true && status["role"] == "active"
        });
        Daemon::applied(&status)
    }

    fn assert_running(&mut self, what: &str) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(exit)) = child.try_wait()
        {
            panic!(
                "daemon exited ({exit}) while waiting for {what}\n{}",
                self.log()
            );
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().expect("a running daemon").id();
        let pid = i32::try_from(pid).expect("pid");
        // SAFETY: kill(2) with a pid this test spawned and still owns.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Waits for the process to exit and returns its code.
    fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take().expect("a running daemon");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(exit) = child.try_wait().expect("wait for the daemon") {
                return exit.code();
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls a condition on the database (or anything) until it holds.
fn eventually(what: &str, daemon: &mut Daemon, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        daemon.assert_running(what);
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
    }
}

fn customer(name: &str) -> String {
    format!(
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\nspec:\n  type: customer\n  displayName: Bulk {name}\n  parent: partner-south\n"
    )
}

#[test]
fn a_database_outage_is_retried_and_the_change_made_meanwhile_applied() {
    let workspace = Workspace::new(Backend::Postgres);
    let mut daemon = workspace.daemon(&[]);
    daemon.wait_started();
    let server = workspace.db.server().expect("a PostgreSQL server");
    server.stop();
    let status = daemon.wait_for("the outage to be noticed", |status| {
        status["ready"] == false && !status["databaseError"].is_null()
    });
    assert!(status["databaseError"]["message"].is_string(), "{status}");
    assert_eq!(
        daemon.request("GET", "/readyz").map(|(code, _)| code),
        Some(503)
    );
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika After Outage");
    daemon.wait_for("a retry during the outage", |status| {
        status["databaseError"]["retries"].as_u64().unwrap_or(0) >= 2
    });
    server.restart();
    eventually("the change made meanwhile", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika After Outage")
    });
    daemon.wait_for("ready again", |status| {
        status["ready"] == true && status["role"] == "active"
    });
    let log = daemon.log();
    assert_eq!(
        log.matches("database unavailable").count(),
        1,
        "logged once\n{log}"
    );
    assert_eq!(log.matches("database available again").count(), 1, "{log}");
}

// ---------------------------------------------------------------------------------

fn an_edited_file_is_applied(workspace: &Workspace) {
    // No resync: a resync could read the edit before the watcher reports it.
    let mut daemon = workspace.daemon(&["--resync-interval", "1h"]);
    let applied = daemon.wait_started();
    assert_eq!(applied, 1, "the startup pass creates the checkout");
    assert_eq!(
        workspace.account("fika-cafe", "display_name").as_deref(),
        Some("Fika Café AB")
    );
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Café Stockholm");
    eventually("the edit to be committed", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Café Stockholm")
    });
    let status = daemon.wait_for("the status of the edit", |status| {
        Daemon::applied(status) == 2
    });
    assert_eq!(status["lastReconcile"]["trigger"], "files", "{status}");
    let (code, body) = daemon.request("GET", "/metrics").expect("metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("canopy_reconciles_total{result=\"applied\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("canopy_edit_to_commit_seconds_count 1"),
        "{body}"
    );
}

fn an_edit_is_planned_on_the_files_it_changed(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--resync-interval", "1h"]);
    daemon.wait_started();
    let edit_planned = |status: &Value| status["lastReconcile"]["phases"]["edit"].clone();
    let watched = |status: &Value| status["lastReconcile"]["phases"]["watched"].clone();
    // A rename: only nordic.yaml is read (the watcher named it: no other file is
    // stamped), only the objects around fika-cafe diffed.
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Café Göteborg");
    let status = daemon.wait_for("the rename", |status| Daemon::applied(status) == 2);
    assert_eq!(edit_planned(&status), true, "{status}");
    assert_eq!(watched(&status), true, "{status}");
    assert_eq!(
        workspace.account("fika-cafe", "display_name").as_deref(),
        Some("Fika Café Göteborg")
    );
    // A users CSV changed: the manifest that names it is planned again, alone.
    let csv = workspace.repo().join("acme-eu-users.csv");
    let mut users = std::fs::read_to_string(&csv).expect("read users");
    users.push_str("fred@acme.example,Fred Ek,user,sv,Europe/Stockholm\n");
    std::fs::write(&csv, users).expect("write users");
    let status = daemon.wait_for("the new user", |status| Daemon::applied(status) == 3);
    assert_eq!(edit_planned(&status), true, "{status}");
    assert_eq!(watched(&status), true, "{status}");
    let fred = "SELECT CAST(COUNT(*) AS TEXT) FROM users WHERE account = 'acme-eu' AND email = 'fred@acme.example'";
    assert_eq!(workspace.count(fred), 1);
    // A created account is compared with every other name: the whole diff plans it.
    let path = workspace.repo().join("nordic.yaml");
    let mut text = std::fs::read_to_string(&path).expect("read manifest");
    text.push_str("---\n");
    text.push_str(&customer("kiosk-nord").replace("partner-south", "partner-nordic"));
    std::fs::write(&path, text).expect("write manifest");
    let status = daemon.wait_for("the create", |status| Daemon::applied(status) == 4);
    assert_eq!(edit_planned(&status), false, "{status}");
    assert!(workspace.account("kiosk-nord", "account_number").is_some());
    // Back on the edit path, a name declared twice (here and in globex.yaml) is
    // reported by the whole load, with both places, and nothing is written.
    workspace.edit("nordic.yaml", "name: kiosk-nord", "name: globex");
    let status = daemon.wait_for("the duplicate", |status| {
        status["lastReconcile"]["result"] == "invalid"
    });
    let errors = status["manifestErrors"].to_string();
    assert!(
        errors.contains("nordic.yaml") && errors.contains("globex"),
        "{status}"
    );
    assert_eq!(Daemon::applied(&status), 4, "{status}");
    assert!(workspace.account("kiosk-nord", "account_number").is_some());
}

fn a_broken_file_applies_nothing_until_it_is_fixed(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&[]);
    daemon.wait_started();
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Café Broken");
    workspace.edit(
        "nordic.yaml",
        "  type: customer\n  displayName: Fika",
        "  type: [customer\n  displayName: Fika",
    );
    let status = daemon.wait_for("the manifest error", |status| {
        status["manifestErrors"]
            .as_array()
            .is_some_and(|errors| !errors.is_empty())
    });
    let error = &status["manifestErrors"][0];
    assert!(
        error["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("nordic.yaml")),
        "{status}"
    );
    assert!(
        error["line"].as_u64().is_some_and(|line| line > 1),
        "{status}"
    );
    assert!(error["column"].as_u64().is_some(), "{status}");
    assert_eq!(status["lastReconcile"]["result"], "invalid");
    assert_eq!(
        daemon.request("GET", "/readyz").map(|(code, _)| code),
        Some(200)
    );
    let (_, metrics) = daemon.request("GET", "/metrics").expect("metrics");
    assert!(
        metrics.contains("canopy_manifest_errors 1")
            || metrics.contains("canopy_manifest_errors 2"),
        "{metrics}"
    );
    assert_eq!(
        workspace.account("fika-cafe", "display_name").as_deref(),
        Some("Fika Café AB"),
        "nothing of a broken checkout is applied"
    );
    workspace.edit("nordic.yaml", "  type: [customer\n", "  type: customer\n");
    eventually("the fix to be applied", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Café Broken")
    });
    let status = daemon.wait_for("the errors to clear", |status| {
        status["manifestErrors"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert_eq!(Daemon::applied(&status), 2, "{status}");
    assert_eq!(
        daemon
            .log()
            .matches("invalid manifest; nothing applied")
            .count(),
        1,
        "each error is logged once\n{}",
        daemon.log()
    );
}

fn an_atomic_save_and_a_thousand_file_checkout_are_one_reconcile_each(workspace: &Workspace) {
    // A burst is one pass while its gaps stay under the debounce (generous here: a
    // loaded machine may pause the writing loop). No resync: a pass started by one
    // reads the checkout as it is, half-written burst included.
    let mut daemon = workspace.daemon(&["--debounce", "300ms", "--resync-interval", "1h"]);
    let before = daemon.wait_started();
    // An editor's save: the whole new content in a temporary file, renamed over.
    let path = workspace.repo().join("nordic.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("Fika Café AB", "Fika Atomic");
    let temporary = workspace.repo().join(".nordic.yaml.swp");
    std::fs::write(&temporary, text).expect("write temporary");
    std::fs::rename(&temporary, &path).expect("rename over");
    eventually("the atomic save", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Atomic")
    });
    let status = daemon.wait_for("its status", |status| Daemon::applied(status) == before + 1);
    assert!(status["reconciles"]["invalid"].is_null(), "{status}");
    // A checkout writing 1,000 files.
    let bulk = workspace.repo().join("bulk");
    std::fs::create_dir(&bulk).expect("bulk directory");
    for number in 0..1000 {
        let name = format!("bulk-{number:04}");
        std::fs::write(bulk.join(format!("{name}.yaml")), customer(&name)).expect("write");
    }
    eventually("the 1,000 accounts", &mut daemon, || {
        workspace.count("SELECT CAST(COUNT(*) AS TEXT) FROM accounts WHERE name LIKE 'bulk-%'")
            == 1000
    });
    let transactions = workspace
        .count("SELECT CAST(COUNT(DISTINCT at) AS TEXT) FROM audit_log WHERE name LIKE 'bulk-%'");
    assert_eq!(transactions, 1, "one transaction created them all");
    let status = daemon.wait_for("its status", |status| Daemon::applied(status) >= before + 2);
    assert_eq!(Daemon::applied(&status), before + 2, "{status}");
}

fn a_hand_edit_is_corrected_at_once_on_postgres_and_at_the_next_resync_on_sqlite(
    workspace: &Workspace,
) {
    // PostgreSQL: no resync within the test's patience, so only the notification of the
    // hand edit (LISTEN canopy_changes) can correct it.
    let (resync, trigger) = match workspace.db.backend {
        Backend::Postgres => ("1h", "notify"),
        Backend::Sqlite => ("300ms", "resync"),
    };
    let mut daemon = workspace.daemon(&["--resync-interval", resync]);
    daemon.wait_started();
    workspace
        .db
        .execute("UPDATE accounts SET display_name = 'Edited by hand' WHERE name = 'fika-cafe'");
    eventually("the correction", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Café AB")
    });
    let status = daemon.wait_for("the drift in the status", |status| {
        status["drift"]["action"] == "corrected"
    });
    let changes = status["drift"]["changes"].to_string();
    assert!(changes.contains("fika-cafe"), "{status}");
    assert_eq!(status["lastReconcile"]["trigger"], trigger, "{status}");
    let (_, metrics) = daemon.request("GET", "/metrics").expect("metrics");
    assert!(
        metrics.contains("canopy_drift_corrections_total 1"),
        "{metrics}"
    );
}

/// The daemon keeps the live state between passes; a write behind its back must make
/// the next pass read the database again (the change counter moved), not plan against
/// the copy it kept.
fn an_edit_after_a_hand_edit_applies_both_the_edit_and_the_correction(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--resync-interval", "1h"]);
    daemon.wait_started();
    workspace
        .db
        .execute("UPDATE accounts SET display_name = 'Edited by hand' WHERE name = 'fika-cafe'");
    workspace.edit(
        "holding.yaml",
        "Nordic Service Bureau AB",
        "Nordic Bureau Renamed",
    );
    eventually("the file edit", &mut daemon, || {
        workspace
            .account("partner-nordic", "display_name")
            .as_deref()
            == Some("Nordic Bureau Renamed")
    });
    eventually("the hand edit corrected", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Café AB")
    });
    // Counted, not read from /status: when the notification's pass applies both, the
    // file event's pass that follows finds nothing and clears /status's drift.
    daemon.wait_for_metrics("the correction counted as drift, once", |metrics| {
        metrics
            .lines()
            .any(|line| line == "canopy_drift_corrections_total 1")
    });
    let log = daemon.log();
    let corrected: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("drift corrected"))
        .collect();
    assert!(
        corrected.iter().any(|line| line.contains("fika-cafe")),
        "{log}"
    );
    assert!(
        !corrected.iter().any(|line| line.contains("partner-nordic")),
        "a file edit is not drift: {log}"
    );
}

/// With a debounce far longer than the resync interval, the resync is the pass that
/// reads an edited file first: it applies it, and counts no drift (the live rows did
/// not change behind canopy's back).
fn a_file_edit_first_read_by_a_resync_is_not_drift(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--debounce", "20s", "--resync-interval", "200ms"]);
    daemon.wait_started();
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Read By Resync");
    eventually("the edit applied by a resync", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Read By Resync")
    });
    let status = daemon.wait_for("the status of that pass", |status| {
        Daemon::applied(status) == 2
    });
    assert_eq!(status["lastReconcile"]["trigger"], "resync", "{status}");
    assert!(status["drift"].is_null(), "{status}");
    let (_, metrics) = daemon.request("GET", "/metrics").expect("metrics");
    assert!(
        metrics.contains("canopy_drift_corrections_total 0"),
        "{metrics}"
    );
}

fn a_hand_edit_is_only_reported_with_drift_report(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--drift", "report"]);
    daemon.wait_started();
    workspace
        .db
        .execute("UPDATE accounts SET display_name = 'Edited by hand' WHERE name = 'fika-cafe'");
    let status = daemon.wait_for("the reported drift", |status| {
        status["drift"]["action"] == "reported"
    });
    assert!(
        status["drift"]["changes"].to_string().contains("fika-cafe"),
        "{status}"
    );
    // Reported again at the next resync, still not corrected.
    let reported = status["reconciles"]["drift-reported"].as_u64().unwrap_or(0);
    daemon.wait_for("a second resync", |status| {
        status["reconciles"]["drift-reported"].as_u64().unwrap_or(0) > reported
    });
    assert_eq!(
        workspace.account("fika-cafe", "display_name").as_deref(),
        Some("Edited by hand")
    );
}

const DEACTIVATE_NORDIC: (&str, &str) = (
    "  displayName: Nordic Service Bureau AB\n",
    "  displayName: Nordic Service Bureau AB\n  active: false\n",
);

fn held_plan_id(daemon: &mut Daemon) -> String {
    let status = daemon.wait_for("a held plan", |status| {
        status["heldPlans"]
            .as_array()
            .is_some_and(|held| !held.is_empty())
    });
    let held = &status["heldPlans"][0];
    assert!(
        held["radius"]["deactivated"]
            .as_u64()
            .is_some_and(|count| count > 2),
        "{status}"
    );
    assert!(
        held["summary"]
            .as_str()
            .is_some_and(|summary| summary.contains("deactivate")),
        "{status}"
    );
    held["id"].as_str().expect("a plan id").to_string()
}

fn a_deactivation_over_the_gate_is_held_until_approved(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--hold-above", "2"]);
    daemon.wait_started();
    workspace.edit("holding.yaml", DEACTIVATE_NORDIC.0, DEACTIVATE_NORDIC.1);
    let id = held_plan_id(&mut daemon);
    let active = workspace.account("partner-nordic", "active");
    assert!(
        matches!(active.as_deref(), Some("1" | "true")),
        "held, not applied: {active:?}"
    );
    let (_, metrics) = daemon.request("GET", "/metrics").expect("metrics");
    assert!(metrics.contains("canopy_held_plans 1"), "{metrics}");
    let (code, _, stderr) = workspace.canopy(&["approve", &id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&id), "{stderr}");
    let active = workspace.account("partner-nordic", "active");
    assert!(
        matches!(active.as_deref(), Some("0" | "false")),
        "approved: {active:?}"
    );
    daemon.wait_for("the hold to clear", |status| {
        status["heldPlans"].as_array().is_some_and(Vec::is_empty)
    });
    let (code, _, _) = workspace.canopy(&["approve", &id]);
    assert_eq!(code, 1, "an applied plan is no longer held");
}

fn an_approval_is_refused_when_the_live_state_moved(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&["--hold-above", "2", "--resync-interval", "1h"]);
    daemon.wait_started();
    workspace.edit("holding.yaml", DEACTIVATE_NORDIC.0, DEACTIVATE_NORDIC.1);
    let id = held_plan_id(&mut daemon);
    // Suspended (committed before the hand edit, so any pass it wakes sees it), so that
    // the daemon does not plan again on the hand edit (PostgreSQL notifies it at once)
    // and replace the held plan.
    let (code, _, stderr) = workspace.canopy(&["suspend", "--for", "1h", "--reason", "test"]);
    assert_eq!(code, 0, "{stderr}");
    workspace
        .db
        .execute("UPDATE accounts SET display_name = 'Moved meanwhile' WHERE name = 'fika-cafe'");
    let (code, _, stderr) = workspace.canopy(&["approve", &id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("live state changed"), "{stderr}");
    let active = workspace.account("partner-nordic", "active");
    assert!(
        matches!(active.as_deref(), Some("1" | "true")),
        "nothing applied: {active:?}"
    );
}

fn a_suspension_stops_applying_until_resumed_or_expired(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&[]);
    daemon.wait_started();
    let (code, _, stderr) = workspace.canopy(&["suspend", "--for", "1h", "--reason", "migration"]);
    assert_eq!(code, 0, "{stderr}");
    daemon.wait_for("the suspension", |status| {
        status["suspended"]["reason"] == "migration"
    });
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Suspended");
    let status = daemon.wait_for("a suspended pass after the edit", |status| {
        status["lastReconcile"]["result"] == "suspended"
            && status["reconciles"]["suspended"].as_u64().unwrap_or(0) >= 2
    });
    assert_eq!(status["suspended"]["reason"], "migration");
    assert_eq!(
        workspace.account("fika-cafe", "display_name").as_deref(),
        Some("Fika Café AB")
    );
    let (_, metrics) = daemon.request("GET", "/metrics").expect("metrics");
    assert!(metrics.contains("canopy_suspended 1"), "{metrics}");
    let (code, _, stderr) = workspace.canopy(&["resume"]);
    assert_eq!(code, 0, "{stderr}");
    eventually("the edit after resume", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Suspended")
    });
    // A forgotten suspension ends by itself.
    let (code, _, stderr) = workspace.canopy(&["suspend", "--for", "1s", "--reason", "short"]);
    assert_eq!(code, 0, "{stderr}");
    daemon.wait_for("the short suspension", |status| {
        status["suspended"]["reason"] == "short"
    });
    workspace.edit("nordic.yaml", "Fika Suspended", "Fika Expired");
    eventually("the edit after expiry", &mut daemon, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Expired")
    });
    daemon.wait_for("the status to show no suspension", |status| {
        status["suspended"].is_null()
    });
}

fn a_standby_takes_over_when_the_active_daemon_dies(workspace: &Workspace) {
    let mut first = workspace.daemon(&[]);
    first.wait_started();
    let mut second = workspace.daemon(&[]);
    second.wait_for("the standby", |status| {
        status["role"] == "standby" && status["ready"] == true
    });
    assert_eq!(
        second.request("GET", "/readyz"),
        Some((200, "standby\n".to_string()))
    );
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika One");
    eventually("the first daemon's apply", &mut first, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika One")
    });
    first.wait_for("its status", |status| Daemon::applied(status) == 2);
    let standby = second.status().expect("standby status");
    assert_eq!(
        Daemon::applied(&standby),
        0,
        "the standby applies nothing: {standby}"
    );
    first.signal(libc::SIGKILL);
    first.wait_exit();
    second.wait_for("the takeover", |status| status["role"] == "active");
    workspace.edit("nordic.yaml", "Fika One", "Fika Two");
    eventually("the second daemon's apply", &mut second, || {
        workspace.account("fika-cafe", "display_name").as_deref() == Some("Fika Two")
    });
}

fn sigterm_mid_reconcile_leaves_the_state_before_or_after(workspace: &Workspace) {
    let mut daemon = workspace.daemon(&[]);
    daemon.wait_started();
    let bulk = workspace.repo().join("bulk");
    std::fs::create_dir(&bulk).expect("bulk directory");
    for number in 0..1000 {
        let name = format!("bulk-{number:04}");
        std::fs::write(bulk.join(format!("{name}.yaml")), customer(&name)).expect("write");
    }
    let deadline = Instant::now() + PATIENCE;
    while !daemon.log().contains("reconcile started (files)") {
        assert!(
            Instant::now() < deadline,
            "no pass started\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());
    let created =
        workspace.count("SELECT CAST(COUNT(*) AS TEXT) FROM accounts WHERE name LIKE 'bulk-%'");
    assert!(
        created == 0 || created == 1000,
        "before or after, never between: {created}"
    );
    // The lock was released: a new daemon becomes active and finishes the job.
    let mut next = workspace.daemon(&[]);
    next.wait_started();
    eventually("the rest of the checkout", &mut next, || {
        workspace.count("SELECT CAST(COUNT(*) AS TEXT) FROM accounts WHERE name LIKE 'bulk-%'")
            == 1000
    });
}
