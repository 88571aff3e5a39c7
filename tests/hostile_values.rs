//! Hostile but valid values: SQL-injection strings and spreadsheet formulas in every
//! text field an account, a user and a plan have. They are data: stored verbatim
//! (never executed: the tables are all still there), read back exactly by
//! `canopy get -o json`, exported as YAML that loads back to the same values (`export`
//! then `plan` shows no changes). Through the real binary, on both backends.

#[macro_use]
mod support;

use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(injection_strings_are_stored_read_and_exported_verbatim);

const HOSTILE: &[&str] = &[
    "Robert'); DROP TABLE accounts; --",
    "x\" OR \"1\"=\"1",
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3",
    "'; DELETE FROM users WHERE ''='",
    "$1; SELECT pg_sleep(10); --",
];

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn repository(root: &std::path::Path) -> std::path::PathBuf {
    let directory = root.join("repo");
    std::fs::create_dir_all(&directory).unwrap();
    let mut yaml = format!(
        "apiVersion: canopy.dev/v1alpha1
kind: ServicePlan
metadata: {{name: hostile-plan}}
spec: {{billing: purchased, displayName: {}}}
---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: hq}}
spec: {{type: subsidiary, displayName: {}}}
---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: partner}}
spec: {{type: partner, parent: hq}}
",
        quoted(HOSTILE[0]),
        quoted(HOSTILE[1])
    );
    for (index, value) in HOSTILE.iter().enumerate() {
        let value = quoted(value);
        yaml.push_str(&format!(
            "---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {{name: customer-{index}}}
spec:
  type: customer
  parent: partner
  plan: hostile-plan
  displayName: {value}
  address: {{street: {value}, city: {value}, postalCode: {value}, state: {value}, country: DE}}
  contact: {{name: {value}, email: contact@example.com, phone: {value}}}
  settings: {{note: {value}}}
  users:
    - {{email: admin{index}@example.com, name: {value}, role: admin, language: {value}, timezone: {value}}}
"
        ));
    }
    // A users file whose cells are spreadsheet formulas and SQL.
    yaml.push_str(
        "---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {name: csv-customer}
spec: {type: customer, parent: partner, usersFrom: users.csv}
",
    );
    std::fs::write(directory.join("accounts.yaml"), yaml).unwrap();
    std::fs::write(
        directory.join("users.csv"),
        "email,name,role,language,timezone\n\
         formula@example.com,\"=cmd|' /C calc'!A0\",admin,\"=HYPERLINK(\"\"x\"\")\",@SUM(A1)\n\
         sql@example.com,\"Robert'); DROP TABLE users; --\",user,en,+1-1\n",
    )
    .unwrap();
    directory
}

fn canopy(db: &TestDb, args: &[&str]) -> String {
    let output = db.canopy().args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn injection_strings_are_stored_read_and_exported_verbatim(db: &TestDb) {
    let root = tempfile::tempdir().unwrap();
    let repo = repository(root.path());
    let repo = repo.display().to_string();
    canopy(db, &["apply", &repo, "--yes", "-q"]);
    for table in ["accounts", "users", "service_plans", "audit_log"] {
        let rows = db.query_text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"));
        assert_ne!(rows[0][0].as_deref(), Some("0"), "{table} is empty");
    }
    let objects: Vec<serde_json::Value> =
        serde_json::from_str(&canopy(db, &["get", "-o", "json"])).unwrap();
    for (index, value) in HOSTILE.iter().enumerate() {
        let name = format!("customer-{index}");
        let object = objects
            .iter()
            .find(|object| object["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing"));
        // In the database: the text columns hold the value, the JSON columns hold it
        // JSON-escaped (address: 4 lines, contact: name and phone, settings: 1).
        let row = db.query_text(&format!(
            "SELECT display_name, CAST(address AS TEXT), CAST(contact AS TEXT),
                    CAST(settings AS TEXT)
             FROM accounts WHERE name = '{name}'"
        ));
        let escaped = serde_json::to_string(value).unwrap();
        let json_columns = row[0][1..].iter().flatten().cloned().collect::<String>();
        assert_eq!(row[0][0].as_deref(), Some(*value), "{name}");
        assert_eq!(
            json_columns.matches(&escaped).count(),
            7,
            "{name}: {json_columns}"
        );
        let user = db.query_text(&format!(
            "SELECT name, language, timezone FROM users WHERE account = '{name}'"
        ));
        assert_eq!(user[0], vec![Some(value.to_string()); 3], "{name}");
        assert_eq!(object["displayName"], *value);
    }
    let csv_users = db.query_text(
        "SELECT email, name, language, timezone FROM users WHERE account = 'csv-customer'
         ORDER BY email",
    );
    assert_eq!(
        csv_users,
        vec![
            vec![
                Some("formula@example.com".to_string()),
                Some("=cmd|' /C calc'!A0".to_string()),
                Some("=HYPERLINK(\"x\")".to_string()),
                Some("@SUM(A1)".to_string()),
            ],
            vec![
                Some("sql@example.com".to_string()),
                Some("Robert'); DROP TABLE users; --".to_string()),
                Some("en".to_string()),
                Some("+1-1".to_string()),
            ],
        ]
    );
    let exported = root.path().join("exported");
    canopy(db, &["export", "--out", &exported.display().to_string()]);
    let plan = canopy(
        db,
        &[
            "plan",
            &exported.display().to_string(),
            "--detailed-exitcode",
        ],
    );
    assert!(plan.contains("No changes"), "{plan}");
}
