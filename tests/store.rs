//! The store suite: every test is one generic function over a fresh database, run on
//! SQLite and on a real PostgreSQL by `on_both_backends!` (`sqlite::NAME` and
//! `postgres::NAME`). Plans are built by hand: the store is tested without the planner.

#[macro_use]
mod support;

use canopy::model::{CompactString, Kind, Role};
use canopy::plan::{Op, Plan, PlanOptions, diff};
use canopy::store::{ApplyContext, ApplyReport, SnapshotCache, Store, StoreError, UsageRow};
use support::fixtures::{self, SOURCE, change, create_all, example, node, node_writes};
use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(
    the_example_round_trips_exactly,
    account_numbers_never_change_and_are_never_reused,
    archiving_and_restoring_keeps_the_number,
    releasing_keeps_the_rows_and_only_clears_their_owner,
    a_stale_plan_is_refused_and_writes_nothing,
    an_apply_that_fails_at_commit_leaves_nothing,
    a_transaction_dropped_without_commit_leaves_nothing,
    a_newer_schema_is_refused,
    migrating_twice_is_a_no_op,
    audit_rows_follow_plan_order,
    the_audit_log_refuses_updates_and_deletes,
    usage_is_read_back_by_period,
    a_hand_edit_changes_the_fingerprint,
    the_snapshot_cache_sees_every_hand_edit,
    unmanaged_rows_appear_unmanaged,
    users_of_inactive_accounts_cannot_log_in,
    effective_updates_and_user_rewrites_land,
    user_positions_written_by_hand_keep_the_declared_order,
    a_snapshot_inside_the_transaction_is_reused_by_apply,
    applying_after_a_transaction_snapshot_writes_the_same,
    a_second_apply_in_one_transaction_needs_a_new_base,
);

fn context() -> ApplyContext {
    ApplyContext {
        actor: "ci@example".into(),
        source: SOURCE.into(),
        revision: Some("abc123".into()),
    }
}

fn apply(store: &mut dyn Store, plan: &Plan) -> Result<ApplyReport, StoreError> {
    let mut transaction = store.begin()?;
    let report = transaction.apply(plan, &context())?;
    transaction.commit()?;
    Ok(report)
}

/// Creates the example and returns the store and the numbers assigned.
fn with_example(db: &TestDb) -> (Box<dyn Store>, ApplyReport) {
    let mut store = db.open();
    let base = store.snapshot().unwrap().fingerprint;
    let report = apply(store.as_mut(), &create_all(&example(), &base)).unwrap();
    (store, report)
}

fn number_of(store: &mut dyn Store, name: &str) -> Option<i64> {
    let snapshot = store.snapshot().unwrap();
    snapshot
        .hierarchy
        .node(name)
        .and_then(|node| node.live.account_number)
}

fn the_example_round_trips_exactly(db: &TestDb) {
    let (mut store, report) = with_example(db);
    let live = store.snapshot().unwrap().hierarchy;
    fixtures::assert_round_trip(&live, &example());
    assert_eq!(report.assigned.len(), example().account_count());
    // A second connection sees the same state.
    let again = db.open().snapshot().unwrap().hierarchy;
    assert_eq!(again, live);
}

fn account_numbers_never_change_and_are_never_reused(db: &TestDb) {
    let (mut store, report) = with_example(db);
    let before: Vec<(CompactString, i64)> = report.assigned.clone();
    let mut numbers: Vec<i64> = before.iter().map(|(_, number)| *number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), before.len(), "numbers are unique");

    // Move acme-eu out of its group and rename it: an update of an existing row.
    let snapshot = store.snapshot().unwrap();
    let mut desired = example();
    let index = desired.node_index("acme-eu").unwrap();
    desired.nodes[index].spec.parent = Some("partner-nordic".into());
    desired.nodes[index].spec.display_name = "ACME Europe SE".into();
    let mut plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: snapshot.fingerprint,
        ..Plan::default()
    };
    plan.writes.nodes = node_writes(&desired, false)
        .into_iter()
        .filter(|write| write.name == "acme-eu")
        .collect();
    plan.changes
        .push(change(Op::Move, Kind::Account, "acme-eu"));
    apply(store.as_mut(), &plan).unwrap();

    let snapshot = store.snapshot().unwrap();
    for (name, number) in &before {
        assert_eq!(
            number_of(store.as_mut(), name),
            Some(*number),
            "{name} kept its number"
        );
    }
    let moved = snapshot.hierarchy.node("acme-eu").unwrap();
    assert_eq!(moved.spec.parent.as_deref(), Some("partner-nordic"));

    // A new account gets a number above every number handed out so far.
    let mut plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: snapshot.fingerprint,
        ..Plan::default()
    };
    let mut newcomer = fixtures::node(
        "newcomer",
        canopy::model::NodeType::Customer,
        Some("partner-nordic"),
        "New",
    );
    newcomer.spec.customer_type = Some(canopy::model::CustomerType::EndCustomer);
    let with_newcomer = canopy::model::Hierarchy::new(
        snapshot
            .hierarchy
            .nodes
            .iter()
            .cloned()
            .chain([newcomer])
            .collect(),
        snapshot.hierarchy.plans.clone(),
    );
    plan.writes.nodes = node_writes(&with_newcomer, true)
        .into_iter()
        .filter(|write| write.name == "newcomer")
        .collect();
    plan.changes
        .push(change(Op::Create, Kind::Account, "newcomer"));
    let report = apply(store.as_mut(), &plan).unwrap();
    let (_, new_number) = report.assigned[0];
    assert!(numbers.iter().all(|number| *number < new_number));
}

fn archive_plan(store: &mut dyn Store, name: &str) -> Plan {
    let mut plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: store.snapshot().unwrap().fingerprint,
        ..Plan::default()
    };
    plan.writes.archive_nodes = vec![name.to_string()];
    plan.changes.push(change(Op::Delete, Kind::Account, name));
    plan
}

fn archiving_and_restoring_keeps_the_number(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let number = number_of(store.as_mut(), "bigcorp-hr").unwrap();
    let plan = archive_plan(store.as_mut(), "bigcorp-hr");
    apply(store.as_mut(), &plan).unwrap();
    assert!(
        store
            .snapshot()
            .unwrap()
            .hierarchy
            .node("bigcorp-hr")
            .is_none()
    );
    let archived = db.query_text(
        "SELECT CASE WHEN effective_active THEN 'active' ELSE 'inactive' END FROM accounts
         WHERE name = 'bigcorp-hr' AND archived_at IS NOT NULL",
    );
    assert_eq!(archived, vec![vec![Some("inactive".to_string())]]);

    // Create it again: the archived row comes back with its number.
    let mut plan = create_all(&example(), &store.snapshot().unwrap().fingerprint);
    plan.writes.plans.clear();
    plan.writes.nodes.retain(|write| write.name == "bigcorp-hr");
    plan.changes = vec![change(Op::Create, Kind::Account, "bigcorp-hr")];
    let report = apply(store.as_mut(), &plan).unwrap();
    assert_eq!(report.assigned, vec![("bigcorp-hr".into(), number)]);
    let live = store.snapshot().unwrap().hierarchy;
    fixtures::assert_round_trip(&live, &example());
}

/// Orphans released through the planner: rows, numbers and values kept, `managed_by`
/// cleared, one audit row each, and no orphan left for a later pass.
fn releasing_keeps_the_rows_and_only_clears_their_owner(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let numbers = [
        number_of(store.as_mut(), "bigcorp-hr"),
        number_of(store.as_mut(), "acme-dk-aarhus"),
    ];
    let live = store.snapshot().unwrap();
    let mut desired = example();
    desired
        .nodes
        .retain(|node| !["bigcorp-hr", "acme-dk-aarhus"].contains(&node.name.as_str()));
    desired.plans.retain(|plan| plan.name != "trial");
    let mut options = PlanOptions::new(SOURCE);
    options.base_fingerprint = live.fingerprint.clone();
    options.release = ["acme-dk-aarhus", "bigcorp-hr", "trial"]
        .map(String::from)
        .to_vec();
    let plan = diff(&live.hierarchy, &desired, &options).unwrap();
    let ops: Vec<(Op, &str)> = plan
        .changes
        .iter()
        .map(|change| (change.op, change.name.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (Op::Release, "acme-dk-aarhus"),
            (Op::Release, "bigcorp-hr"),
            (Op::Release, "trial"),
        ]
    );
    let audited = store.audit(0, 10_000).unwrap().len();
    apply(store.as_mut(), &plan).unwrap();

    let after = store.snapshot().unwrap().hierarchy;
    for (name, number) in ["bigcorp-hr", "acme-dk-aarhus"].into_iter().zip(numbers) {
        let kept = after.node(name).unwrap();
        assert_eq!(kept.live.managed_by, None, "{name} released");
        assert_eq!(kept.live.account_number, number, "{name} keeps its number");
        assert_eq!(kept.spec, live.hierarchy.node(name).unwrap().spec);
    }
    assert_eq!(after.plan("trial").unwrap().live.managed_by, None);
    assert_eq!(
        after.node("bigcorp").unwrap().live.managed_by.as_deref(),
        Some(SOURCE),
        "nothing else is released"
    );
    let records = store.audit(0, 10_000).unwrap();
    let released = &records[audited..];
    assert_eq!(released.len(), 3);
    assert!(released.iter().all(|record| record.op == "release"));
    assert_eq!(
        released[0].before,
        Some(serde_json::json!({"managedBy": SOURCE}))
    );
    assert_eq!(
        released[0].after,
        Some(serde_json::json!({"managedBy": null}))
    );

    let mut later_options = PlanOptions::new(SOURCE);
    later_options.base_fingerprint = store.snapshot().unwrap().fingerprint;
    let later = diff(&after, &desired, &later_options).unwrap();
    assert!(later.orphans.is_empty(), "{:?}", later.orphans);
    assert!(later.changes.is_empty(), "{:?}", later.changes);
}

fn a_stale_plan_is_refused_and_writes_nothing(db: &TestDb) {
    let mut store = db.open();
    let empty = store.snapshot().unwrap().fingerprint;
    let first = create_all(&example(), &empty);
    apply(store.as_mut(), &first).unwrap();
    let after_first = store.snapshot().unwrap();

    // The same plan again was made against the empty database: stale.
    let mut stale = first.clone();
    stale.writes.nodes.retain(|write| write.name == "acme-sub");
    stale.writes.nodes[0].spec.display_name = "Overwritten".into();
    let error = apply(store.as_mut(), &stale).unwrap_err();
    assert!(matches!(error, StoreError::StalePlan { .. }), "{error}");
    assert_eq!(
        store.snapshot().unwrap().fingerprint,
        after_first.fingerprint
    );
}

fn an_apply_that_fails_at_commit_leaves_nothing(db: &TestDb) {
    let mut store = db.open();
    let empty = store.snapshot().unwrap();
    let mut plan = create_all(&example(), &empty.fingerprint);
    // The last node refers to a parent that exists nowhere: the deferred foreign key
    // fails the commit after every other row was written.
    let mut orphan = fixtures::node_writes(&example(), true).pop().unwrap();
    orphan.name = "orphan".into();
    orphan.spec.parent = Some("no-such-parent".into());
    plan.writes.nodes.push(orphan);

    let mut transaction = store.begin().unwrap();
    transaction.apply(&plan, &context()).unwrap();
    let error = transaction.commit().unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, StoreError::BrokenReferences { .. }),
        "{message}"
    );
    assert!(message.contains("no-such-parent"), "{message}");

    let after = db.open().snapshot().unwrap();
    assert!(after.hierarchy.nodes.is_empty() && after.hierarchy.plans.is_empty());
    assert_eq!(after.fingerprint, empty.fingerprint);
    assert!(db.open().audit(0, 10).unwrap().is_empty());
    // The number counter was rolled back too.
    let report = apply(store.as_mut(), &create_all(&example(), &empty.fingerprint)).unwrap();
    assert_eq!(report.assigned[0].1, 1000);
}

fn a_transaction_dropped_without_commit_leaves_nothing(db: &TestDb) {
    let mut store = db.open();
    let empty = store.snapshot().unwrap();
    {
        let mut transaction = store.begin().unwrap();
        transaction
            .apply(&create_all(&example(), &empty.fingerprint), &context())
            .unwrap();
    }
    assert_eq!(store.snapshot().unwrap().fingerprint, empty.fingerprint);
    assert!(db.open().snapshot().unwrap().hierarchy.nodes.is_empty());
}

fn a_newer_schema_is_refused(db: &TestDb) {
    drop(db.open());
    db.execute("INSERT INTO canopy_schema_version (version, description) VALUES (999, 'future')");
    match canopy::store::open(&db.url) {
        Err(StoreError::SchemaTooNew { found: 999, known }) => {
            assert_eq!(known, canopy::store::migrations::LATEST)
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

fn migrating_twice_is_a_no_op(db: &TestDb) {
    let first = canopy::store::migrate(&db.url).unwrap();
    assert_eq!(
        (first.from, first.to),
        (0, canopy::store::migrations::LATEST)
    );
    let second = canopy::store::migrate(&db.url).unwrap();
    assert_eq!(second.from, second.to);
}

fn the_audit_log_refuses_updates_and_deletes(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let before = store.audit(0, 10_000).unwrap();
    assert!(!before.is_empty());
    for tamper in [
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE sequence = (SELECT MAX(sequence) FROM audit_log)",
    ] {
        let refused = db.try_execute(tamper).err().unwrap_or_else(|| {
            panic!("{tamper}: accepted");
        });
        assert!(refused.contains("append-only"), "{tamper}: {refused}");
    }
    if db.backend == Backend::Postgres {
        let refused = db.try_execute("TRUNCATE audit_log").expect_err("refused");
        assert!(refused.contains("append-only"), "{refused}");
    }
    let after = store.audit(0, 10_000).unwrap();
    assert_eq!(after, before);
    // Appending still works: a second apply adds its rows after the first ones.
    let live = store.snapshot().unwrap();
    let mut changed = example();
    changed.nodes[1].spec.display_name = "Renamed".into();
    let mut options = canopy::plan::PlanOptions::new(SOURCE);
    options.base_fingerprint = live.fingerprint.clone();
    let plan = canopy::plan::diff(&live.hierarchy, &changed, &options).unwrap();
    assert!(!plan.changes.is_empty());
    apply(store.as_mut(), &plan).unwrap();
    assert!(store.audit(0, 10_000).unwrap().len() > before.len());
}

fn audit_rows_follow_plan_order(db: &TestDb) {
    let mut store = db.open();
    let plan = create_all(&example(), &store.snapshot().unwrap().fingerprint);
    let report = apply(store.as_mut(), &plan).unwrap();
    assert_eq!(report.audit_rows, plan.changes.len());
    let records = store.audit(0, 1000).unwrap();
    let names: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
    let planned: Vec<&str> = plan
        .changes
        .iter()
        .map(|change| change.name.as_str())
        .collect();
    assert_eq!(names, planned);
    assert!(
        records
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence)
    );
    let first = &records[0];
    assert_eq!(
        (first.op.as_str(), first.kind.as_str()),
        ("create", "ServicePlan")
    );
    assert_eq!(first.actor, "ci@example");
    assert_eq!(first.revision.as_deref(), Some("abc123"));
    assert!(
        first.at.ends_with('Z') && first.at.len() == 24,
        "{}",
        first.at
    );
    let acme = records
        .iter()
        .find(|record| record.name == "acme-eu")
        .unwrap();
    assert_eq!(acme.before, None);
    assert_eq!(
        acme.after.as_ref().unwrap()["displayName"],
        "ACME Europe GmbH"
    );

    // A consumer resumes after the last sequence it saw.
    let resume_after = records[records.len() - 3].sequence;
    assert_eq!(store.audit(resume_after, 1000).unwrap().len(), 2);
    assert_eq!(store.audit(0, 2).unwrap().len(), 2);
}

fn usage_is_read_back_by_period(db: &TestDb) {
    let mut store = db.open();
    let row = |account: &str, period: &str, amount: f64| UsageRow {
        account: account.into(),
        metric: "documentsPerMonth".into(),
        period: period.into(),
        amount,
    };
    store
        .record_usage(&[
            row("acme-eu", "2025-01", 10.0),
            row("acme-dk", "2025-02", 2.5),
        ])
        .unwrap();
    store
        .record_usage(&[row("acme-eu", "2025-01", 4200.0)])
        .unwrap();
    assert_eq!(
        store.usage(Some("2025-01")).unwrap(),
        vec![row("acme-eu", "2025-01", 4200.0)]
    );
    assert_eq!(store.usage(None).unwrap().len(), 2);
}

fn a_hand_edit_changes_the_fingerprint(db: &TestDb) {
    let (mut store, _) = with_example(db);
    // The fingerprint read alone (rows hashed, not decoded) is the snapshot's.
    let alone = |store: &mut dyn Store| store.begin().unwrap().fingerprint().unwrap();
    let before = store.snapshot().unwrap().fingerprint;
    assert_eq!(alone(store.as_mut()), before);
    assert_eq!(
        store.snapshot().unwrap().fingerprint,
        before,
        "stable when nothing changes"
    );
    db.execute("UPDATE users SET name = 'Anna B.' WHERE email = 'anna@acme.example'");
    let after = store.snapshot().unwrap().fingerprint;
    assert_ne!(after, before);
    assert_eq!(alone(store.as_mut()), after);
    db.execute(
        "UPDATE service_plans SET limits = '{\"documentsPerMonth\":1}' WHERE name = 'standard'",
    );
    let planned = store.snapshot().unwrap().fingerprint;
    assert_ne!(planned, after);
    assert_eq!(alone(store.as_mut()), planned);
    db.execute("UPDATE accounts SET display_name = 'Nordic AB' WHERE name = 'partner-nordic'");
    let renamed = store.snapshot().unwrap().fingerprint;
    assert_ne!(renamed, planned);
    assert_eq!(alone(store.as_mut()), renamed);
}

fn the_snapshot_cache_sees_every_hand_edit(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let directory = tempfile::tempdir().unwrap();
    let cache = SnapshotCache::new(Some(directory.path()), "the database under test");
    let read = store.snapshot().unwrap();
    let stamp = store.change_stamp().unwrap();
    assert_eq!(
        store.change_stamp().unwrap(),
        stamp,
        "stable when nothing changes"
    );
    let first = cache.snapshot(store.as_mut()).unwrap();
    assert_eq!(first.hierarchy, read.hierarchy);
    assert_eq!(first.fingerprint, read.fingerprint);
    let entries = || {
        std::fs::read_dir(directory.path().join("live"))
            .unwrap()
            .count()
    };
    assert_eq!(entries(), 1, "the snapshot read whole is stored");
    let again = cache.snapshot(store.as_mut()).unwrap();
    assert_eq!(again.hierarchy, read.hierarchy);
    assert_eq!(again.fingerprint, read.fingerprint);

    db.execute("UPDATE accounts SET display_name = 'Nordic AB' WHERE name = 'partner-nordic'");
    let edited = store.change_stamp().unwrap();
    assert!(edited.counter > stamp.counter);
    assert_ne!(edited.nonce, stamp.nonce, "each change draws a nonce");
    let seen = cache.snapshot(store.as_mut()).unwrap();
    let nordic = seen.hierarchy.node("partner-nordic").unwrap();
    assert_eq!(nordic.spec.display_name, "Nordic AB");
    assert_eq!(seen.fingerprint, store.snapshot().unwrap().fingerprint);

    // Inside a write transaction a hit is the state the transaction trusts: its
    // fingerprint is the one a full read gives.
    let mut txn = store.begin().unwrap();
    let trusted = cache.snapshot_in(txn.as_mut()).unwrap();
    assert_eq!(trusted.fingerprint, seen.fingerprint);
    assert_eq!(trusted.hierarchy, seen.hierarchy);
    drop(txn);
    db.execute("DELETE FROM users WHERE email = 'anna@acme.example'");
    let mut txn = store.begin().unwrap();
    let after_delete = cache.snapshot_in(txn.as_mut()).unwrap();
    assert_ne!(after_delete.fingerprint, seen.fingerprint);
    assert_eq!(
        after_delete.fingerprint,
        txn.snapshot().unwrap().fingerprint
    );
}

fn unmanaged_rows_appear_unmanaged(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let flag = match db.backend {
        Backend::Sqlite => "1",
        Backend::Postgres => "true",
    };
    db.execute(&format!(
        "INSERT INTO accounts (name, node_type, display_name, parent, active, effective_active)
         VALUES ('legacy', 'customer', 'Legacy Ltd', 'partner-nordic', {flag}, {flag})"
    ));
    let live = store.snapshot().unwrap().hierarchy;
    let legacy = live.node("legacy").unwrap();
    assert_eq!(legacy.live.managed_by, None);
    assert_eq!(legacy.live.account_number, None);
    assert_eq!(legacy.spec, {
        let mut spec = node(
            "x",
            canopy::model::NodeType::Customer,
            Some("partner-nordic"),
            "Legacy Ltd",
        )
        .spec;
        spec.active = true;
        spec
    });
}

fn users_of_inactive_accounts_cannot_log_in(db: &TestDb) {
    let (_store, _) = with_example(db);
    let rows = db.query_text(
        "SELECT email, CASE WHEN can_log_in THEN 'yes' ELSE 'no' END FROM user_logins
         WHERE email IN ('owner@shop.example', 'anna@acme.example') ORDER BY email",
    );
    let expected =
        |email: &str, answer: &str| vec![Some(email.to_string()), Some(answer.to_string())];
    // shop-one sits under reseller-one, which is inactive.
    assert_eq!(
        rows,
        vec![
            expected("anna@acme.example", "yes"),
            expected("owner@shop.example", "no")
        ]
    );
}

fn effective_updates_and_user_rewrites_land(db: &TestDb) {
    let (mut store, _) = with_example(db);
    let snapshot = store.snapshot().unwrap();
    let mut plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: snapshot.fingerprint,
        ..Plan::default()
    };
    // Reactivate reseller-one: its own row changes, shop-one's effective value follows.
    let mut desired = example();
    let index = desired.node_index("reseller-one").unwrap();
    desired.nodes[index].spec.active = true;
    let writes = node_writes(&desired, false);
    plan.writes.nodes = writes
        .iter()
        .filter(|w| w.name == "reseller-one")
        .cloned()
        .collect();
    let shop = writes.iter().find(|w| w.name == "shop-one").unwrap();
    plan.writes.effective = vec![(shop.name.to_string(), shop.effective.clone())];
    // And rewrite acme-eu's users in a new order with one removed.
    let mut acme = writes.iter().find(|w| w.name == "acme-eu").unwrap().clone();
    acme.spec.users.reverse();
    acme.spec.users.pop();
    acme.spec
        .users
        .push(fixtures::user("new@acme.example", "New", Role::User));
    acme.users_changed = true;
    plan.writes.nodes.push(acme.clone());
    plan.changes
        .push(change(Op::Activate, Kind::Account, "reseller-one"));
    apply(store.as_mut(), &plan).unwrap();

    let live = store.snapshot().unwrap().hierarchy;
    assert!(
        live.node("shop-one")
            .unwrap()
            .effective
            .as_ref()
            .unwrap()
            .active
    );
    assert_eq!(live.node("acme-eu").unwrap().spec.users, acme.spec.users);
}

/// Users that stay are updated in place, so the positions stored must all be
/// rewritten: rows edited by hand need not hold 0, 1, 2…
fn user_positions_written_by_hand_keep_the_declared_order(db: &TestDb) {
    let (mut store, _) = with_example(db);
    db.execute("UPDATE users SET position = position * 10 + 5 WHERE account = 'acme-eu'");
    let snapshot = store.snapshot().unwrap();
    let mut acme = node_writes(&example(), false)
        .into_iter()
        .find(|write| write.name == "acme-eu")
        .unwrap();
    assert!(
        acme.spec.users.len() >= 2,
        "the example's acme-eu has users"
    );
    assert_eq!(
        snapshot.hierarchy.node("acme-eu").unwrap().spec.users,
        acme.spec.users
    );
    // A user appended at the end (position 2 < the first stored 5), one moved first.
    acme.spec
        .users
        .push(fixtures::user("last@acme.example", "Last", Role::User));
    acme.spec.users.rotate_right(1);
    acme.spec.users.swap(0, 1);
    acme.users_changed = true;
    let plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: snapshot.fingerprint.clone(),
        writes: canopy::plan::Writes {
            nodes: vec![acme.clone()],
            ..Default::default()
        },
        ..Plan::default()
    };
    let mut transaction = store.begin().unwrap();
    transaction.trust_snapshot(&snapshot.fingerprint);
    transaction
        .apply_against(&plan, Some(&snapshot), &context())
        .unwrap();
    transaction.commit().unwrap();
    let live = store.snapshot().unwrap().hierarchy;
    assert_eq!(live.node("acme-eu").unwrap().spec.users, acme.spec.users);
}

fn a_snapshot_inside_the_transaction_is_reused_by_apply(db: &TestDb) {
    let mut store = db.open();
    let mut transaction = store.begin().unwrap();
    let seen = transaction.snapshot().unwrap();
    transaction
        .apply(&create_all(&example(), &seen.fingerprint), &context())
        .unwrap();
    // After apply the transaction sees its own writes.
    assert_eq!(
        transaction.snapshot().unwrap().hierarchy.nodes.len(),
        example().nodes.len()
    );
    transaction.commit().unwrap();
}

#[test]
fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/canopy", "canopy.db", "http://x"] {
        assert!(
            matches!(canopy::store::open(url), Err(StoreError::UnsupportedUrl(_))),
            "{url}"
        );
    }
}

#[test]
fn an_unreachable_postgres_names_the_url_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://canopy:hunter2@127.0.0.1:{port}/canopy");
    let error = canopy::store::open(&url)
        .err()
        .expect("nothing listens there");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Connect { .. }), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_a_connect_error() {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/canopy.db", directory.path().display());
    assert!(matches!(
        canopy::store::open(&url),
        Err(StoreError::Connect { .. })
    ));
}

#[test]
fn a_file_that_is_not_a_database_is_a_connect_error() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("notes.db");
    std::fs::write(
        &path,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let error = canopy::store::open(&format!("sqlite://{}", path.display()))
        .err()
        .unwrap();
    assert!(matches!(error, StoreError::Connect { .. }), "{error}");
}

#[test]
fn postgres_a_killed_connection_leaves_nothing_half_written() {
    let db = TestDb::postgres();
    let mut store = db.open();
    let empty = store.snapshot().unwrap();
    let mut transaction = store.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &empty.fingerprint), &context())
        .unwrap();
    // Kill every other backend of the database: the store's connection dies mid-transaction.
    let mut admin = db.raw_postgres();
    let killed = admin
        .query_one_text(
            "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert_eq!(killed.as_deref(), Some("1"));
    assert!(transaction.commit().is_err());
    let after = db.open().snapshot().unwrap();
    assert_eq!(after.fingerprint, empty.fingerprint);
    let counts = db.query_text(
        "SELECT (SELECT count(*) FROM accounts)::text, (SELECT count(*) FROM audit_log)::text,
                (SELECT value FROM canopy_meta WHERE key = 'next_account_number')::text",
    );
    assert_eq!(
        counts,
        vec![vec![
            Some("0".into()),
            Some("0".into()),
            Some("1000".into())
        ]]
    );
}

#[test]
fn postgres_a_second_writer_waits_for_the_first() {
    let db = TestDb::postgres();
    let mut first = db.open();
    let empty = first.snapshot().unwrap();
    let mut transaction = first.begin().unwrap();
    transaction
        .apply(&create_all(&example(), &empty.fingerprint), &context())
        .unwrap();
    // While the first holds the lock, a second writer cannot take it.
    let mut admin = db.raw_postgres();
    let lock = canopy::store::postgres::WRITER_LOCK.to_string();
    let free = admin
        .query_one_text("SELECT pg_try_advisory_lock($1::int8)::text", &[&lock])
        .unwrap()
        == Some("true".into());
    assert!(!free, "the writer lock is held during a write transaction");
    transaction.commit().unwrap();
    let lock = canopy::store::postgres::WRITER_LOCK.to_string();
    let free = admin
        .query_one_text("SELECT pg_try_advisory_lock($1::int8)::text", &[&lock])
        .unwrap()
        == Some("true".into());
    assert!(free, "commit releases the writer lock");
}

/// The example with `bigcorp-hr` archived, and a plan over it that restores it
/// (keeping its number), reactivates `reseller-one` (an effective-only update follows
/// on `shop-one`), rewrites `acme-eu`'s users and creates a new customer: every path
/// that looks at existing rows.
fn mixed_scenario(db: &TestDb) -> (Box<dyn Store>, Plan, Option<i64>) {
    let (mut store, _) = with_example(db);
    let archived_number = number_of(store.as_mut(), "bigcorp-hr");
    let archive = archive_plan(store.as_mut(), "bigcorp-hr");
    apply(store.as_mut(), &archive).unwrap();
    let mut plan = Plan {
        source: SOURCE.into(),
        base_fingerprint: store.snapshot().unwrap().fingerprint,
        ..Plan::default()
    };
    let mut desired = example();
    let index = desired.node_index("reseller-one").unwrap();
    desired.nodes[index].spec.active = true;
    let acme = desired.node_index("acme-eu").unwrap();
    desired.nodes[acme].spec.users.reverse();
    let mut newcomer = desired.nodes[acme].clone();
    newcomer.name = "newcomer".into();
    newcomer.spec.display_name = "Newcomer".into();
    desired =
        canopy::model::Hierarchy::new([desired.nodes, vec![newcomer]].concat(), desired.plans);
    for mut write in node_writes(&desired, false) {
        match write.name.as_str() {
            "bigcorp-hr" | "newcomer" => {
                write.create = true;
                plan.changes
                    .push(change(Op::Create, Kind::Account, &write.name));
            }
            "reseller-one" => plan
                .changes
                .push(change(Op::Activate, Kind::Account, &write.name)),
            "acme-eu" => {
                write.users_changed = true;
                plan.changes
                    .push(change(Op::Update, Kind::Account, &write.name));
            }
            "shop-one" => {
                plan.writes.effective = vec![(write.name.to_string(), write.effective.clone())];
                continue;
            }
            _ => continue,
        }
        plan.writes.nodes.push(write);
    }
    (store, plan, archived_number)
}

/// `WriteTxn::snapshot` hands its snapshot out instead of copying it, so `apply` then
/// re-reads only the rows the plan names: the outcome must be the same as an apply
/// that read everything itself.
fn applying_after_a_transaction_snapshot_writes_the_same(db: &TestDb) {
    let (mut direct, plan, archived_number) = mixed_scenario(db);
    let direct_report = apply(direct.as_mut(), &plan).unwrap();

    let other = TestDb::new(db.backend);
    let (mut via_snapshot, same_plan, _) = mixed_scenario(&other);
    assert_eq!(same_plan, plan);
    let mut transaction = via_snapshot.begin().unwrap();
    let seen = transaction.snapshot().unwrap();
    assert_eq!(seen.fingerprint, plan.base_fingerprint);
    let report = transaction.apply(&plan, &context()).unwrap();
    transaction.commit().unwrap();

    assert_eq!(report, direct_report);
    let restored = report
        .assigned
        .iter()
        .find(|(name, _)| name == "bigcorp-hr");
    assert_eq!(
        restored.map(|(_, number)| *number),
        archived_number,
        "the restored account keeps its number"
    );
    assert_eq!(report.assigned.len(), 2, "bigcorp-hr and newcomer");
    let (left, right) = (via_snapshot.snapshot().unwrap(), direct.snapshot().unwrap());
    assert_eq!(left.hierarchy, right.hierarchy);
    assert_eq!(left.fingerprint, right.fingerprint);
    let audit = |store: &mut dyn Store| -> Vec<_> {
        let records = store.audit(0, 1000).unwrap();
        records
            .into_iter()
            .map(|record| {
                (
                    record.op,
                    record.kind,
                    record.name,
                    record.before,
                    record.after,
                )
            })
            .collect()
    };
    assert_eq!(audit(via_snapshot.as_mut()), audit(direct.as_mut()));
}

fn a_second_apply_in_one_transaction_needs_a_new_base(db: &TestDb) {
    let mut store = db.open();
    let mut transaction = store.begin().unwrap();
    let seen = transaction.snapshot().unwrap();
    let plan = create_all(&example(), &seen.fingerprint);
    transaction.apply(&plan, &context()).unwrap();
    let mut again = plan.clone();
    again.writes.nodes.retain(|write| write.name == "acme-eu");
    again.writes.nodes[0].create = false;
    again.writes.nodes[0].spec.display_name = "Overwritten".into();
    again.changes = vec![change(Op::Update, Kind::Account, "acme-eu")];
    let error = transaction.apply(&again, &context()).unwrap_err();
    assert!(matches!(error, StoreError::StalePlan { .. }), "{error}");
}
