//! The real binary against real databases: `canopy get`, `canopy usage`,
//! `canopy migrate`, and the errors a wrong database URL gives.

#[macro_use]
mod support;

use assert_cmd::Command;
use canopy::store::{ApplyContext, UsageRow};
use predicates::prelude::*;
use support::fixtures::{create_all, example};
use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(
    get_json_lists_every_object_with_the_documented_fields,
    get_tree_shows_effective_activation_and_numbers,
    usage_flags_accounts_and_groups_near_their_limits,
);

fn canopy(url: &str) -> Command {
    let mut command = Command::cargo_bin("canopy").expect("the canopy binary");
    command
        .env_remove("CANOPY_DATABASE_URL")
        .args(["--database-url", url]);
    command
}

fn populate(db: &TestDb) {
    let mut store = db.open();
    let base = store.snapshot().unwrap().fingerprint;
    let mut transaction = store.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &base), &ApplyContext::default())
        .unwrap();
    transaction.commit().unwrap();
}

fn get_json_lists_every_object_with_the_documented_fields(db: &TestDb) {
    populate(db);
    let output = canopy(&db.url)
        .args(["get", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let objects: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let hierarchy = example();
    assert_eq!(objects.len(), hierarchy.nodes.len() + hierarchy.plans.len());
    for object in &objects {
        for field in [
            "name",
            "kind",
            "type",
            "parent",
            "active",
            "effectiveActive",
            "accountNumber",
            "plan",
            "managedBy",
        ] {
            assert!(object.get(field).is_some(), "{field} missing in {object}");
        }
    }
    let shop = objects
        .iter()
        .find(|object| object["name"] == "shop-one")
        .unwrap();
    assert_eq!(shop["active"], true);
    assert_eq!(shop["effectiveActive"], false);
    assert!(shop["accountNumber"].is_i64());
    let group = objects
        .iter()
        .find(|object| object["name"] == "nordic-smb")
        .unwrap();
    assert_eq!(group["kind"], "AccountGroup");
    assert_eq!(group["type"], "customer");
    assert!(group["accountNumber"].is_null());

    // A subtree, as YAML.
    let output = canopy(&db.url)
        .args(["get", "bigcorp", "-o", "yaml"])
        .output()
        .unwrap();
    let subtree: Vec<serde_json::Value> = serde_yaml::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = subtree
        .iter()
        .filter_map(|object| object["name"].as_str())
        .collect();
    assert_eq!(names, ["bigcorp", "bigcorp-hr"]);
}

fn get_tree_shows_effective_activation_and_numbers(db: &TestDb) {
    populate(db);
    canopy(&db.url)
        .args(["get", "resellers"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(
            r"(?m)^resellers \(partner-group\) active\n  reseller-one \(partner\) #\d+ inactive\n    shop-one \(customer\) #\d+ inactive \(inherited\)\n$",
        )
        .unwrap());
    canopy(&db.url)
        .args(["get", "nobody"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`nobody`"));
}

fn usage_flags_accounts_and_groups_near_their_limits(db: &TestDb) {
    populate(db);
    let row = |account: &str, amount: f64| UsageRow {
        account: account.into(),
        metric: "documentsPerMonth".into(),
        period: "2025-03".into(),
        amount,
    };
    db.open()
        .record_usage(&[row("acme-eu", 5200.0), row("acme-dk", 12000.0)])
        .unwrap();
    let output = canopy(&db.url)
        .args(["usage", "--period", "2025-03", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let status = |name: &str| {
        report["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|line| line["name"] == name)
            .map(|line| line["status"].clone())
    };
    assert_eq!(status("acme-eu"), Some("exceeding".into()));
    // nordic-smb pools acme-eu and acme-dk: 17200 of 20000.
    assert_eq!(status("nordic-smb"), Some("approaching".into()));
    canopy(&db.url)
        .args(["usage", "--period", "March"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("YYYY-MM"));
}

#[test]
fn migrate_creates_the_default_database_then_has_nothing_to_do() {
    let directory = tempfile::tempdir().unwrap();
    let run = || {
        let mut command = Command::cargo_bin("canopy").unwrap();
        command
            .env_remove("CANOPY_DATABASE_URL")
            .current_dir(directory.path())
            .arg("migrate");
        command
    };
    run().assert().success().stdout(format!(
        "schema migrated from version 0 to {}\n",
        canopy::store::migrations::LATEST
    ));
    assert!(directory.path().join("canopy.db").is_file());
    run().assert().success().stdout(format!(
        "schema is up to date (version {})\n",
        canopy::store::migrations::LATEST
    ));
}

#[test]
fn a_newer_schema_stops_every_command_with_exit_1() {
    let db = TestDb::new(Backend::Sqlite);
    drop(db.open());
    db.execute("INSERT INTO canopy_schema_version (version, description) VALUES (7, 'future')");
    for command in [&["get"][..], &["migrate"], &["usage"]] {
        canopy(&db.url)
            .args(command)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "schema is at version 7, newer than this canopy knows",
            ));
    }
}

#[test]
fn a_database_with_tables_canopy_did_not_create_is_refused_in_one_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("other.db");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
        .unwrap();
    drop(connection);
    let url = format!("sqlite://{}", path.display());
    for command in [&["migrate"][..], &["get"]] {
        canopy(&url)
            .args(command)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "table accounts already exists: the database holds tables that canopy \
                 did not create",
            ))
            .stderr(predicate::str::contains("CREATE").not());
    }
    // The migration rolled back: the file holds its one table, and nothing of canopy's.
    let tables: Vec<String> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT name FROM sqlite_schema ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["accounts"]);
}

#[test]
fn wrong_database_urls_exit_1_with_a_clear_message() {
    canopy("mysql://db/canopy")
        .arg("get")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unsupported database url `mysql://db/canopy`",
        ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    canopy(&format!(
        "postgres://canopy:hunter2@127.0.0.1:{port}/canopy"
    ))
    .arg("get")
    .assert()
    .code(1)
    .stderr(
        predicate::str::contains(format!(
            "cannot connect to postgres://canopy:***@127.0.0.1:{port}/canopy"
        ))
        .and(predicate::str::contains("hunter2").not()),
    );
}
