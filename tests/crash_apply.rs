//! A large apply killed with SIGKILL at random points leaves the database exactly as
//! before or exactly as after, never in between: 20 kills per backend.
//!
//! The state before (A) and the state a completed apply leaves (B) are recorded once
//! from a reference run; each kill starts from a fresh copy of A (a copied SQLite file,
//! or a PostgreSQL database created from a template), runs the real `canopy apply`,
//! kills it after a random delay spread over the reference apply's duration, and reads
//! the database back.

mod support;

use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::Instant;

use canopy::generate::{self, Rng};
use canopy::manifest;
use canopy::model::Hierarchy;
use canopy::plan::{self, PlanOptions};
use canopy::store::{self, ApplyContext};
use support::postgres::PostgresServer;

const KILLS: usize = 20;
const ACCOUNTS: usize = 4_000;

/// Where a copy of state A lives, and how to make another.
trait Databases {
    /// A fresh database holding state A, returned as a URL.
    fn fresh_copy(&mut self, index: usize) -> String;
    /// Waits until the server has finished with the killed client's session: a COMMIT
    /// already sent still completes after the client died, and reading before then
    /// would race it.
    fn settle(&mut self, _index: usize) {}
}

struct SqliteCopies {
    template: tempfile::TempDir,
    copies: tempfile::TempDir,
}

impl Databases for SqliteCopies {
    fn fresh_copy(&mut self, index: usize) -> String {
        let target = self.copies.path().join(format!("copy{index}"));
        std::fs::create_dir_all(&target).expect("copy directory");
        for entry in std::fs::read_dir(self.template.path()).expect("template") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), target.join(entry.file_name())).expect("copy file");
        }
        format!("sqlite://{}", target.join("canopy.db").display())
    }
}

struct PostgresCopies {
    server: PostgresServer,
}

impl Databases for PostgresCopies {
    fn fresh_copy(&mut self, index: usize) -> String {
        let name = format!("copy{index}");
        self.server
            .connect("postgres")
            .execute(&format!("CREATE DATABASE {name} TEMPLATE state_a"))
            .expect("copy the template database");
        self.server.url(&name)
    }

    fn settle(&mut self, index: usize) {
        let mut client = self.server.connect("postgres");
        let database = format!("copy{index}");
        for _ in 0..600 {
            let sessions = client
                .query_one_text(
                    "SELECT count(*)::text FROM pg_stat_activity WHERE datname = $1",
                    &[&database],
                )
                .expect("pg_stat_activity");
            if sessions.as_deref() == Some("0") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the killed client's session on {database} never ended");
    }
}

/// What a reader sees of the database: the hierarchy and how many audit rows exist.
fn observe(url: &str) -> (Hierarchy, usize) {
    let mut store = store::open(url).expect("open the database after the kill");
    let snapshot = store.snapshot().expect("snapshot after the kill");
    let audit = store.audit(0, usize::MAX).expect("audit log").len();
    (snapshot.hierarchy, audit)
}

fn apply_library(url: &str, desired: &Hierarchy) {
    let mut store = store::open(url).expect("open");
    let mut transaction = store.begin().expect("begin");
    let live = transaction.snapshot().expect("snapshot");
    let options = PlanOptions {
        base_fingerprint: live.fingerprint,
        prune: true,
        max_prune_percent: 100.0,
        ..PlanOptions::new("default")
    };
    let plan = plan::diff(&live.hierarchy, desired, &options).expect("plan A");
    transaction
        .apply(&plan, &ApplyContext::default())
        .expect("apply A");
    transaction.commit().expect("commit A");
}

fn spawn_apply(url: &str, manifests: &Path) -> Child {
    Process::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["apply", "--yes", "--prune", "--max-prune", "100"])
        .arg(manifests)
        .env("CANOPY_DATABASE_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn canopy apply")
}

fn killed_applies_leave_before_or_after(databases: &mut dyn Databases) {
    let state_b = generate::mutate(&generate::hierarchy(ACCOUNTS, 11), 12, 60);
    let manifests = tempfile::tempdir().expect("manifests directory");
    std::fs::write(manifests.path().join("b.yaml"), manifest::to_yaml(&state_b)).expect("write B");

    let reference = databases.fresh_copy(0);
    let before = observe(&reference);
    let started = Instant::now();
    let status = spawn_apply(&reference, manifests.path())
        .wait()
        .expect("reference apply");
    let duration = started.elapsed();
    assert!(status.success(), "the reference apply must succeed");
    let after = observe(&reference);
    assert_ne!(
        before.0, after.0,
        "B must differ from A for the test to prove anything"
    );

    let mut rng = Rng::new(2024);
    let (mut killed_running, mut saw_before, mut saw_after) = (0, 0, 0);
    for kill in 1..=KILLS {
        let url = databases.fresh_copy(kill);
        let delay = duration.mul_f64(rng.below(1000) as f64 / 1000.0);
        let mut child = spawn_apply(&url, manifests.path());
        std::thread::sleep(delay);
        if child.try_wait().expect("poll child").is_none() {
            killed_running += 1;
        }
        child.kill().ok();
        child.wait().expect("reap child");
        databases.settle(kill);
        let seen = observe(&url);
        if seen == before {
            saw_before += 1;
        } else if seen == after {
            saw_after += 1;
        } else {
            panic!("kill {kill} after {delay:?} left the database between before and after");
        }
    }
    eprintln!(
        "{KILLS} kills over {duration:?}: {killed_running} while running; {saw_before} before, {saw_after} after"
    );
    assert!(killed_running > 0, "no kill landed while apply was running");
}

/// State A (a generated hierarchy) applied through the library.
fn state_a() -> Hierarchy {
    generate::hierarchy(ACCOUNTS, 7)
}

#[test]
fn sqlite_a_killed_apply_leaves_the_database_before_or_after() {
    let template = tempfile::tempdir().expect("template directory");
    let url = format!("sqlite://{}", template.path().join("canopy.db").display());
    apply_library(&url, &state_a());
    let mut databases = SqliteCopies {
        template,
        copies: tempfile::tempdir().expect("copies directory"),
    };
    killed_applies_leave_before_or_after(&mut databases);
}

#[test]
fn postgres_a_killed_apply_leaves_the_database_before_or_after() {
    let server = PostgresServer::start();
    let url = server.create_database("state_a");
    apply_library(&url, &state_a());
    let mut databases = PostgresCopies { server };
    killed_applies_leave_before_or_after(&mut databases);
}
