//! Two daemons and a CLI apply on one database at once, through the real binary on
//! both backends: exactly one daemon is active; the CLI apply (another source,
//! another subtree) succeeds while the active daemon applies edits; both writers'
//! changes are in the database afterwards, and nothing was applied twice.

#[macro_use]
mod support;

use assert_cmd::Command;
use support::daemon::Daemon;
use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(two_daemons_and_a_cli_apply_share_one_database);

fn account(name: &str, parent: &str, display: &str) -> String {
    format!(
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\nspec:\n  type: customer\n  parent: {parent}\n  displayName: {display}\n"
    )
}

fn role(daemon: &Daemon) -> String {
    daemon
        .status()
        .map(|status| status["role"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

fn two_daemons_and_a_cli_apply_share_one_database(db: &TestDb) {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    support::copy_example(&repo);
    let args = ["--resync-interval", "300ms", "--debounce", "20ms"];
    let mut first = Daemon::start(&db.url, &repo, root.path(), &args);
    let mut second = Daemon::start(&db.url, &repo, root.path(), &args);
    first.eventually("one daemon active, one standby", |first| {
        let roles = [role(first), role(&second)];
        roles.contains(&"active".to_string()) && roles.contains(&"standby".to_string())
    });
    second.eventually("the checkout applied", |_| {
        db.query_text("SELECT name FROM accounts WHERE name = 'fika-cafe'")
            .len()
            == 1
    });

    // The CLI, as another source, adds customers under partner-baltic while the
    // active daemon applies edits to its own files.
    let cli_repo = root.path().join("cli");
    std::fs::create_dir_all(&cli_repo).unwrap();
    let mut yaml = String::new();
    for index in 0..30 {
        yaml.push_str("---\n");
        yaml.push_str(&account(
            &format!("cli-{index}"),
            "partner-baltic",
            &format!("CLI {index}"),
        ));
    }
    std::fs::write(cli_repo.join("cli.yaml"), yaml).unwrap();
    let cli = std::thread::spawn({
        let url = db.url.clone();
        move || {
            Command::cargo_bin("canopy")
                .unwrap()
                .env("CANOPY_DATABASE_URL", url)
                .args(["apply", "--yes", "-q", "--source", "cli"])
                .arg(&cli_repo)
                .output()
                .unwrap()
        }
    });
    for edit in 0..20 {
        std::fs::write(
            repo.join(format!("daemon-{edit}.yaml")),
            account(
                &format!("daemon-{edit}"),
                "partner-south",
                &format!("Daemon {edit}"),
            ),
        )
        .unwrap();
    }
    let output = cli.join().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    first.eventually("every edit of both writers", |_| {
        let count = |pattern: &str| {
            db.query_text(&format!(
                "SELECT name FROM accounts WHERE name LIKE '{pattern}' AND archived_at IS NULL"
            ))
            .len()
        };
        count("cli-%") == 30 && count("daemon-%") == 20
    });
    let creates = db.query_text(
        "SELECT name FROM audit_log WHERE op = 'create'
         AND (name LIKE 'cli-%' OR name LIKE 'daemon-%')",
    );
    assert_eq!(creates.len(), 50, "each account created once");
    let roles = [role(&first), role(&second)];
    assert_eq!(
        roles.iter().filter(|role| *role == "active").count(),
        1,
        "{roles:?}"
    );
}
