//! Bulk paths at scale, on both backends: creating a generated hierarchy in one apply
//! and loading it back must round-trip. The size is `CANOPY_BULK_ACCOUNTS` (default
//! 3,000 so the suite stays quick); with `--release` and 100000 it prints the figures
//! next to a raw baseline of the same rows (SQLite prepared inserts in one
//! transaction, PostgreSQL binary COPY). Figures are printed, never asserted.

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

    assert_eq!(report.assigned.len(), desired.account_count());
    support::fixtures::assert_round_trip(&live, &desired);

    let baseline = raw_baseline(backend, &desired);
    eprintln!(
        "{backend:?}: {} nodes, {} users: apply {apply_time:.2?} (raw insert {:.2?}), snapshot {snapshot_time:.2?} (raw read {:.2?})",
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

/// The same account rows written and read with no canopy code in between, into a
/// fresh database with the same schema.
fn raw_baseline(
    backend: Backend,
    desired: &Hierarchy,
) -> (std::time::Duration, std::time::Duration) {
    let db = TestDb::new(backend);
    drop(db.open());
    // Plans first, so the foreign keys hold, as in the real apply.
    let plans: Vec<String> = desired.plans.iter().map(|plan| plan.name.clone()).collect();
    for plan in &plans {
        db.execute(&format!(
            "INSERT INTO service_plans (name, billing) VALUES ('{plan}', 'purchased')"
        ));
    }
    match backend {
        Backend::Sqlite => sqlite_baseline(&db, desired),
        Backend::Postgres => postgres_baseline(&db, desired),
    }
}

fn sqlite_baseline(db: &TestDb, desired: &Hierarchy) -> (std::time::Duration, std::time::Duration) {
    let path = db.url.trim_start_matches("sqlite://");
    let mut connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL")
        .unwrap();
    let started = Instant::now();
    let transaction = connection.transaction().unwrap();
    {
        let mut statement = transaction
            .prepare(
                "INSERT INTO accounts (name, node_type, display_name, parent, account_number,
                                       active, plan, effective_active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
            )
            .unwrap();
        for (number, node) in desired.nodes.iter().enumerate() {
            statement
                .execute(rusqlite::params![
                    node.name,
                    node.spec.node_type.as_str(),
                    node.spec.display_name,
                    node.spec.parent,
                    number as i64,
                    node.spec.active,
                    node.spec.plan,
                ])
                .unwrap();
        }
    }
    transaction.commit().unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    let mut statement = connection
        .prepare("SELECT name, node_type, display_name, parent, account_number, active, plan FROM accounts ORDER BY name")
        .unwrap();
    let rows: Vec<(
        String,
        String,
        String,
        Option<String>,
        i64,
        bool,
        Option<String>,
    )> = statement
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
    assert_eq!(rows.len(), desired.nodes.len());
    (write, started.elapsed())
}

fn postgres_baseline(
    db: &TestDb,
    desired: &Hierarchy,
) -> (std::time::Duration, std::time::Duration) {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let mut client = db.raw_postgres();
    let started = Instant::now();
    let mut transaction = client.transaction().unwrap();
    let sink = transaction
        .copy_in(
            "COPY accounts (name, node_type, display_name, parent, account_number, active, plan,
                            effective_active) FROM STDIN (FORMAT binary)",
        )
        .unwrap();
    let mut writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::BOOL,
        ],
    );
    for (number, node) in desired.nodes.iter().enumerate() {
        let number = number as i64;
        writer
            .write(&[
                &node.name,
                &node.spec.node_type.as_str(),
                &node.spec.display_name,
                &node.spec.parent,
                &number,
                &node.spec.active,
                &node.spec.plan,
                &node.spec.active,
            ])
            .unwrap();
    }
    writer.finish().unwrap();
    transaction.commit().unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    let rows = client
        .query("SELECT name, node_type, display_name, parent, account_number, active, plan FROM accounts ORDER BY name", &[])
        .unwrap();
    let decoded: Vec<(
        String,
        String,
        String,
        Option<String>,
        i64,
        bool,
        Option<String>,
    )> = rows
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
            )
        })
        .collect();
    assert_eq!(decoded.len(), desired.nodes.len());
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
