//! Bulk paths at scale, on both backends: creating a generated hierarchy in one apply
//! and loading it back must round-trip. The size is `CANOPY_BULK_ACCOUNTS` (default
//! 3,000 so the suite stays quick); with `--release` and 100000 it prints the figures
//! next to a raw baseline of the same account and user rows (SQLite prepared inserts
//! in one transaction, PostgreSQL binary COPY; plain SELECTs into owned values).
//! Figures are printed, never asserted.

mod support;

use std::time::Instant;

use canopy::model::Hierarchy;
use canopy::store::ApplyContext;
use support::fixtures::create_all;
use support::{Backend, TestDb};

fn accounts() -> usize {
    std::env::var("CANOPY_BULK_ACCOUNTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3_000)
}

fn bulk_round_trip(backend: Backend) {
    let db = TestDb::new(backend);
    let desired = canopy::generate::hierarchy(accounts(), 7);
    let mut store = db.open();
    let base = store.snapshot().unwrap().fingerprint;
    let plan = create_all(&desired, &base);

    let started = Instant::now();
    let mut transaction = store.begin().unwrap();
    let report = transaction.apply(&plan, &ApplyContext::default()).unwrap();
    transaction.commit().unwrap();
    let apply_time = started.elapsed();

    let started = Instant::now();
    let live = store.snapshot().unwrap().hierarchy;
    let snapshot_time = started.elapsed();
    let started = Instant::now();
    drop(store.snapshot().unwrap());
    let second_snapshot_time = started.elapsed();

    assert_eq!(report.assigned.len(), desired.account_count());
    support::fixtures::assert_round_trip(&live, &desired);

    let baseline = raw_baseline(backend, &desired);
    eprintln!(
        "{backend:?}: {} nodes, {} users: apply {apply_time:.2?} (raw insert {:.2?}), snapshot {snapshot_time:.2?}, again {second_snapshot_time:.2?} (raw read {:.2?}); the raw rows are the accounts (every column) and users, without audit rows",
        desired.nodes.len(),
        desired
            .nodes
            .iter()
            .map(|node| node.spec.users.len())
            .sum::<usize>(),
        baseline.0,
        baseline.1,
    );
}

/// A users row: account, email, position, name, role, language, timezone.
type RawUser = (
    String,
    String,
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
);
/// The same row as SQLite returns its integer.
type ReadUser = (
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The rows canopy writes for `desired` (accounts with every column, users), encoded
/// ahead of time so that the baseline times only the database.
struct RawRows {
    accounts: Vec<RawAccount>,
    users: Vec<RawUser>,
}

struct RawAccount {
    text: [Option<String>; 15],
    number: i64,
    flags: [bool; 3],
}

const RAW_ACCOUNT_COLUMNS: &str = "name, node_type, display_name, parent, customer_type, plan,
    address, contact, services, settings, locked_settings, effective_services,
    effective_settings, effective_locked_settings, managed_by, account_number, active,
    reseller, effective_active";

fn raw_rows(desired: &Hierarchy) -> RawRows {
    let effective = canopy::model::effective::compute_all(desired);
    let json = |value: &dyn erased::Json| Some(value.text());
    let mut accounts = Vec::new();
    let mut users = Vec::new();
    for (index, node) in desired.nodes.iter().enumerate() {
        let spec = &node.spec;
        accounts.push(RawAccount {
            text: [
                Some(node.name.clone()),
                Some(spec.node_type.as_str().to_string()),
                Some(spec.display_name.clone()),
                spec.parent.clone(),
                spec.customer_type.map(|kind| kind.as_str().to_string()),
                spec.plan.clone(),
                spec.address
                    .as_ref()
                    .map(|a| serde_json::to_string(a).unwrap()),
                spec.contact
                    .as_ref()
                    .map(|c| serde_json::to_string(c).unwrap()),
                json(&spec.services),
                json(&spec.settings),
                json(&spec.locked_settings),
                json(&effective[index].services),
                json(&effective[index].settings),
                json(&effective[index].locked_settings),
                Some("raw".to_string()),
            ],
            number: index as i64,
            flags: [spec.active, spec.reseller, effective[index].active],
        });
        for (position, user) in spec.users.iter().enumerate() {
            users.push((
                node.name.clone(),
                user.email.clone(),
                position as i32,
                user.name.clone(),
                user.role.as_str().to_string(),
                user.language.clone(),
                user.timezone.clone(),
            ));
        }
    }
    RawRows { accounts, users }
}

mod erased {
    pub trait Json {
        fn text(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn text(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

/// The same rows written and read with no canopy code in between, into a fresh
/// database with the same schema: (write, read) durations.
fn raw_baseline(
    backend: Backend,
    desired: &Hierarchy,
) -> (std::time::Duration, std::time::Duration) {
    let db = TestDb::new(backend);
    drop(db.open());
    // Plans first, so the foreign keys hold, as in the real apply.
    for plan in &desired.plans {
        db.execute(&format!(
            "INSERT INTO service_plans (name, billing) VALUES ('{}', 'purchased')",
            plan.name
        ));
    }
    let rows = raw_rows(desired);
    match backend {
        Backend::Sqlite => sqlite_baseline(&db, &rows),
        Backend::Postgres => postgres_baseline(&db, &rows),
    }
}

fn sqlite_baseline(db: &TestDb, rows: &RawRows) -> (std::time::Duration, std::time::Duration) {
    let path = db.url.trim_start_matches("sqlite://");
    let mut connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL")
        .unwrap();
    let started = Instant::now();
    let transaction = connection.transaction().unwrap();
    {
        let mut statement = transaction
            .prepare(&format!(
                "INSERT INTO accounts ({RAW_ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
                 ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ))
            .unwrap();
        for account in &rows.accounts {
            let mut values: Vec<&dyn rusqlite::ToSql> = account
                .text
                .iter()
                .map(|text| text as &dyn rusqlite::ToSql)
                .collect();
            values.push(&account.number);
            values.extend(
                account
                    .flags
                    .iter()
                    .map(|flag| flag as &dyn rusqlite::ToSql),
            );
            statement.execute(values.as_slice()).unwrap();
        }
        let mut statement = transaction
            .prepare(
                "INSERT INTO users (account, email, position, name, role, language, timezone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        for (account, email, position, name, role, language, timezone) in &rows.users {
            statement
                .execute(rusqlite::params![
                    account, email, position, name, role, language, timezone
                ])
                .unwrap();
        }
    }
    transaction.commit().unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    let transaction = connection.transaction().unwrap();
    let mut statement = transaction
        .prepare(&format!(
            "SELECT {RAW_ACCOUNT_COLUMNS} FROM accounts ORDER BY name"
        ))
        .unwrap();
    let accounts: Vec<Vec<Option<String>>> = statement
        .query_map([], |row| (0..15).map(|index| row.get(index)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut statement = transaction
        .prepare("SELECT account, email, position, name, role, language, timezone FROM users ORDER BY account, position")
        .unwrap();
    let users: Vec<ReadUser> = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        (accounts.len(), users.len()),
        (rows.accounts.len(), rows.users.len())
    );
    (write, started.elapsed())
}

fn postgres_baseline(db: &TestDb, rows: &RawRows) -> (std::time::Duration, std::time::Duration) {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::{ToSql, Type};
    let mut client = db.raw_postgres();
    let started = Instant::now();
    let mut transaction = client.transaction().unwrap();
    let sink = transaction
        .copy_in(&format!(
            "COPY accounts ({RAW_ACCOUNT_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .unwrap();
    let mut types = vec![Type::TEXT; 15];
    types.extend([Type::INT8, Type::BOOL, Type::BOOL, Type::BOOL]);
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for account in &rows.accounts {
        let mut values: Vec<&(dyn ToSql + Sync)> = account
            .text
            .iter()
            .map(|text| text as &(dyn ToSql + Sync))
            .collect();
        values.push(&account.number);
        values.extend(account.flags.iter().map(|flag| flag as &(dyn ToSql + Sync)));
        writer.write(&values).unwrap();
    }
    writer.finish().unwrap();
    let sink = transaction
        .copy_in("COPY users (account, email, position, name, role, language, timezone) FROM STDIN (FORMAT binary)")
        .unwrap();
    let mut writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
        ],
    );
    for (account, email, position, name, role, language, timezone) in &rows.users {
        writer
            .write(&[account, email, position, name, role, language, timezone])
            .unwrap();
    }
    writer.finish().unwrap();
    transaction.commit().unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    let mut transaction = client.transaction().unwrap();
    let accounts: Vec<Vec<Option<String>>> = transaction
        .query(
            &format!("SELECT {RAW_ACCOUNT_COLUMNS} FROM accounts ORDER BY name"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (0..15).map(|index| row.get(index)).collect())
        .collect();
    let users: Vec<RawUser> = transaction
        .query("SELECT account, email, position, name, role, language, timezone FROM users ORDER BY account, position", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    transaction.commit().unwrap();
    assert_eq!(
        (accounts.len(), users.len()),
        (rows.accounts.len(), rows.users.len())
    );
    (write, started.elapsed())
}

#[test]
fn sqlite_a_generated_hierarchy_round_trips_in_bulk() {
    bulk_round_trip(Backend::Sqlite);
}

#[test]
fn postgres_a_generated_hierarchy_round_trips_in_bulk() {
    bulk_round_trip(Backend::Postgres);
}
