//! Bulk paths at scale, on both backends: creating a generated hierarchy in one apply
//! and loading it back must round-trip. The size is `CANOPY_BULK_ACCOUNTS` (default
//! 3,000 so the suite stays quick); with `--release` and 100000 it prints the figures
//! next to a raw baseline of the same account and user rows (SQLite prepared inserts
//! in one transaction, PostgreSQL binary COPY; plain SELECTs into owned values).
//! Figures are printed, never asserted.

mod support;

use std::time::{Duration, Instant};

use canopy::model::Hierarchy;
use canopy::store::ApplyContext;
use canopy::testing::baseline;
use support::fixtures::{SOURCE, create_all};
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

/// The raw baseline from `canopy::testing::baseline` (the one the benchmark harness
/// uses): the same plan, account and user rows written in one transaction, then read
/// back with plain SELECTs, on a fresh database of the same backend.
fn raw_baseline(backend: Backend, desired: &Hierarchy) -> (Duration, Duration) {
    let db = TestDb::new(backend);
    drop(db.open());
    let rows = baseline::RawRows::of(desired, SOURCE, 1000).expect("raw rows");
    let write = baseline::insert(&db.url, &rows).expect("raw insert");
    let (read, counts) = baseline::select(&db.url).expect("raw select");
    assert_eq!(
        (counts.accounts, counts.users),
        (rows.accounts.len(), rows.users.len()),
        "the raw read sees every row the raw write wrote"
    );
    (write, read)
}

#[test]
fn sqlite_a_generated_hierarchy_round_trips_in_bulk() {
    bulk_round_trip(Backend::Sqlite);
}

#[test]
fn postgres_a_generated_hierarchy_round_trips_in_bulk() {
    bulk_round_trip(Backend::Postgres);
}
