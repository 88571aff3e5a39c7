//! The watching controller end to end against a mock API server (every request
//! recorded, anything unexpected failing the test) and a real SQLite store behind a
//! stand-in for the daemon's run loop, which runs each batch exactly as the worker does
//! ([`batch::run`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::watch as channel;

use super::*;
use crate::controller::batch;
use crate::controller::desired::FINALIZER;
use crate::controller::mock_api::{self, Shared, finalizers, lock};
use crate::reconcile::Gate;
use crate::store::Store as _;
use crate::store::sqlite::SqliteStore;

type Database = Arc<Mutex<SqliteStore>>;

struct Harness {
    cluster: Shared,
    database: Database,
    /// Batches the daemon side received (each namespace of one is one transaction).
    batches: Arc<AtomicUsize>,
    leader: Arc<AtomicBool>,
    leader_changes: channel::Sender<bool>,
}

/// A controller on a fresh mock API server; the first `refused` batches are answered
/// as the worker answers while the database is down.
fn harness(refused: usize, resync: Duration) -> Harness {
    let (client, cluster) = mock_api::start();
    let database: Database = Arc::new(Mutex::new(
        SqliteStore::open_memory().expect("an in-memory store").0,
    ));
    let batches = Arc::new(AtomicUsize::new(0));
    let leader = Arc::new(AtomicBool::new(true));
    let (leader_changes, changes) = channel::channel(true);
    let leadership = Leadership {
        leader: leader.clone(),
        changes,
    };
    let (sender, receiver) = unbounded_channel();
    let options = Options {
        namespace: None,
        debounce: Duration::from_millis(30),
        resync,
        instance: Some("test".to_string()),
    };
    tokio::spawn(run(client, options, leadership, sender, Default::default()));
    let marks = cluster.clone();
    tokio::spawn(daemon(
        receiver,
        database.clone(),
        batches.clone(),
        refused,
        marks,
    ));
    Harness {
        cluster,
        database,
        batches,
        leader,
        leader_changes,
    }
}

async fn daemon(
    mut receiver: UnboundedReceiver<Message>,
    database: Database,
    batches: Arc<AtomicUsize>,
    refused: usize,
    cluster: Shared,
) {
    let settings = sync::Settings {
        actor: "test".to_string(),
        gate: Gate::Off,
        max_prune_percent: 10.0,
    };
    while let Some(message) = receiver.recv().await {
        let Message::Batch(Request { items, reply }) = message else {
            continue;
        };
        let answer = if batches.fetch_add(1, Ordering::SeqCst) < refused {
            Reply::NotRun("database-error".to_string())
        } else {
            let mut store = database.lock().expect("the store");
            let done = batch::run(&mut *store, &items, &settings);
            // Marks in the request log where the batch's transactions had committed.
            lock(&cluster).requests.push(mock_api::Recorded {
                method: "COMMIT".to_string(),
                path: String::new(),
                query: String::new(),
                content_type: String::new(),
                body: Value::Null,
            });
            Reply::Done(done)
        };
        let _ = reply.send((items, answer));
    }
}

fn account(namespace: &str, name: &str, kind: &str, parent: Option<&str>) -> Value {
    json!({
        "apiVersion": "canopy.dev/v1alpha1",
        "kind": "Account",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": kind, "parent": parent},
    })
}

fn scope(name: &str, namespaces: &[&str], root: Option<&str>) -> Value {
    json!({
        "apiVersion": "canopy.dev/v1alpha1",
        "kind": "AccountScope",
        "metadata": {"name": name},
        "spec": {"namespaces": namespaces, "root": root},
    })
}

/// Polls `condition` until it holds (10 s at most).
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Harness {
    fn apply(&self, plural: &str, object: Value) {
        lock(&self.cluster).apply(plural, object);
    }

    fn condition(&self, namespace: &str, name: &str, condition: &str) -> Option<(String, String)> {
        let cluster = lock(&self.cluster);
        let object = cluster.get("accounts", namespace, name)?;
        let found = object["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == condition)?
            .clone();
        Some((
            found["status"].as_str()?.to_string(),
            found["reason"].as_str()?.to_string(),
        ))
    }

    fn ready(&self, namespace: &str, name: &str) -> bool {
        self.condition(namespace, name, "Ready")
            .is_some_and(|(status, _)| status == "True")
    }

    fn number(&self, namespace: &str, name: &str) -> Option<String> {
        let cluster = lock(&self.cluster);
        let object = cluster.get("accounts", namespace, name)?;
        object["status"]["accountNumber"]
            .as_str()
            .map(str::to_string)
    }

    fn parent_in_database(&self, name: &str) -> Option<Option<String>> {
        let mut store = self.database.lock().expect("the store");
        let live = store.snapshot().expect("a snapshot").hierarchy;
        live.node(name)
            .map(|node| node.spec.parent.as_deref().map(str::to_string))
    }

    /// The owner of a live account: `Some(None)` when it is unmanaged.
    fn owner_in_database(&self, name: &str) -> Option<Option<String>> {
        let mut store = self.database.lock().expect("the store");
        let live = store.snapshot().expect("a snapshot").hierarchy;
        live.node(name)
            .map(|node| node.live.managed_by.as_deref().map(str::to_string))
    }

    /// The orphans of `source` a pass of `declared` would list.
    fn orphans(&self, source: &str, declared: &[&str]) -> Vec<String> {
        let mut store = self.database.lock().expect("the store");
        let live = store.snapshot().expect("a snapshot").hierarchy;
        let desired = crate::model::Hierarchy::new(
            live.nodes
                .iter()
                .filter(|node| declared.contains(&node.name.as_str()))
                .cloned()
                .collect(),
            Vec::new(),
        );
        let options = crate::plan::PlanOptions::new(source);
        crate::plan::diff(&live, &desired, &options)
            .expect("a plan")
            .orphans
    }

    fn count(&self, method: &str, suffix: &str) -> usize {
        lock(&self.cluster).count(method, suffix)
    }

    fn assert_nothing_unexpected(&self) {
        let cluster = lock(&self.cluster);
        assert!(cluster.unexpected.is_empty(), "{:?}", cluster.unexpected);
    }

    /// The reasons of the Events recorded about `name`.
    fn events_about(&self, name: &str) -> Vec<String> {
        lock(&self.cluster)
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .filter(|r| r.body["regarding"]["name"] == name)
            .filter_map(|r| r.body["reason"].as_str().map(str::to_string))
            .collect()
    }
}

fn platform(harness: &Harness) {
    harness.apply("accountscopes", scope("platform", &["platform"], None));
    harness.apply(
        "accounts",
        account("platform", "partner-a", "partner", None),
    );
    harness.apply(
        "accounts",
        account("platform", "partner-b", "partner", None),
    );
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_new_account_reaches_the_database_and_its_status_is_ready_with_its_number() {
    let harness = harness(0, HOUR);
    platform(&harness);
    harness.apply(
        "accounts",
        account("platform", "acme", "customer", Some("partner-a")),
    );
    until("acme Ready", || harness.ready("platform", "acme")).await;
    assert_eq!(
        harness.parent_in_database("acme"),
        Some(Some("partner-a".to_string()))
    );
    let number = harness.number("platform", "acme").expect("a number");
    assert!(number.parse::<i64>().is_ok(), "{number}");
    until("the finalizer", || {
        lock(&harness.cluster)
            .get("accounts", "platform", "acme")
            .is_some_and(|o| finalizers(o) == [FINALIZER])
    })
    .await;
    until("the scope's own status Ready", || {
        lock(&harness.cluster)
            .get("accountscopes", "", "platform")
            .and_then(|scope| scope["status"]["conditions"].as_array().cloned())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    })
    .await;
    until("a Created event", || {
        harness
            .events_about("acme")
            .contains(&"Created".to_string())
    })
    .await;
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_parent_change_is_a_move_that_keeps_the_account_number() {
    let harness = harness(0, HOUR);
    platform(&harness);
    harness.apply(
        "accounts",
        account("platform", "acme", "customer", Some("partner-a")),
    );
    until("acme Ready", || harness.ready("platform", "acme")).await;
    let number = harness.number("platform", "acme");
    harness.apply(
        "accounts",
        account("platform", "acme", "customer", Some("partner-b")),
    );
    until("acme moved", || {
        harness.parent_in_database("acme") == Some(Some("partner-b".to_string()))
    })
    .await;
    until("a Moved event", || {
        harness.events_about("acme").contains(&"Moved".to_string())
    })
    .await;
    assert_eq!(harness.number("platform", "acme"), number);
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn unscoped_namespaces_and_parents_outside_the_scope_stall_and_write_nothing() {
    let harness = harness(0, HOUR);
    platform(&harness);
    harness.apply(
        "accountscopes",
        scope("team-a", &["team-a"], Some("partner-a")),
    );
    harness.apply("accounts", account("nowhere", "stray", "partner", None));
    harness.apply(
        "accounts",
        account("team-a", "intruder", "customer", Some("partner-b")),
    );
    until("stray stalled", || {
        harness.condition("nowhere", "stray", "Stalled") == Some(("True".into(), "NoScope".into()))
    })
    .await;
    until("intruder stalled", || {
        harness.condition("team-a", "intruder", "Stalled")
            == Some(("True".into(), "OutOfScope".into()))
    })
    .await;
    assert_eq!(harness.parent_in_database("stray"), None);
    assert_eq!(harness.parent_in_database("intruder"), None);
    for (namespace, name) in [("nowhere", "stray"), ("team-a", "intruder")] {
        let cluster = lock(&harness.cluster);
        let object = cluster
            .get("accounts", namespace, name)
            .expect("the object");
        assert!(finalizers(object).is_empty(), "{name} holds no finalizer");
    }
    until("a NoScope event", || {
        harness
            .events_about("stray")
            .contains(&"NoScope".to_string())
    })
    .await;
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn deletion_orphans_or_archives_and_the_finalizer_goes_only_after_the_commit() {
    let harness = harness(0, HOUR);
    platform(&harness);
    harness.apply(
        "accounts",
        account("platform", "kept", "customer", Some("partner-a")),
    );
    let mut archived = account("platform", "archived", "customer", Some("partner-a"));
    archived["spec"]["deletionPolicy"] = json!("Archive");
    harness.apply("accounts", archived);
    for name in ["kept", "archived"] {
        until("the finalizer", || {
            lock(&harness.cluster)
                .get("accounts", "platform", name)
                .is_some_and(|o| finalizers(o) == [FINALIZER])
        })
        .await;
    }
    let deleted_at = {
        let mut cluster = lock(&harness.cluster);
        cluster.delete("accounts", "platform", "kept");
        cluster.delete("accounts", "platform", "archived");
        cluster.requests.len()
    };
    until("both objects gone", || {
        let cluster = lock(&harness.cluster);
        cluster.get("accounts", "platform", "kept").is_none()
            && cluster.get("accounts", "platform", "archived").is_none()
    })
    .await;
    assert_eq!(
        harness.owner_in_database("kept"),
        Some(None),
        "Orphan keeps the account, released"
    );
    assert_eq!(
        harness.orphans("kubernetes/platform", &["partner-a", "partner-b"]),
        Vec::<String>::new(),
        "a later pass lists no orphan"
    );
    until("a Released event", || {
        harness
            .events_about("kept")
            .contains(&"Released".to_string())
    })
    .await;
    assert_eq!(
        harness.parent_in_database("archived"),
        None,
        "Archive archives it"
    );
    until("an Archived event", || {
        harness
            .events_about("archived")
            .contains(&"Archived".to_string())
    })
    .await;
    let requests = lock(&harness.cluster).requests.clone();
    let released = requests
        .iter()
        .position(|r| {
            r.path.ends_with("/accounts/archived") && r.body["metadata"]["finalizers"] == json!([])
        })
        .expect("the finalizer removed");
    assert!(
        requests[deleted_at..released]
            .iter()
            .any(|r| r.method == "COMMIT"),
        "the finalizer went before the archiving transaction committed"
    );
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_batch_the_database_could_not_take_is_requeued_and_succeeds_later() {
    let harness = harness(2, HOUR);
    platform(&harness);
    until("partner-a Ready", || harness.ready("platform", "partner-a")).await;
    assert!(
        harness.batches.load(Ordering::SeqCst) >= 3,
        "two refusals, then the pass"
    );
    assert!(harness.parent_in_database("partner-a").is_some());
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn after_the_lease_is_lost_nothing_is_written() {
    let harness = harness(0, HOUR);
    platform(&harness);
    until("partner-a Ready", || harness.ready("platform", "partner-a")).await;
    // Events go out on their own task: wait for them before counting the writes.
    until("the Created events", || {
        ["partner-a", "partner-b"]
            .iter()
            .all(|name| harness.events_about(name).contains(&"Created".to_string()))
    })
    .await;
    harness.leader.store(false, Ordering::SeqCst);
    harness
        .leader_changes
        .send(false)
        .expect("the controller listens");
    let batches = harness.batches.load(Ordering::SeqCst);
    let writes = lock(&harness.cluster)
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    harness.apply(
        "accounts",
        account("platform", "late", "customer", Some("partner-a")),
    );
    // Absence cannot be polled for: give the controller ten debounce periods to (not) act.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(harness.batches.load(Ordering::SeqCst), batches);
    let after = lock(&harness.cluster)
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(after, writes, "no status, finalizer or event written");
    assert_eq!(harness.parent_in_database("late"), None);
    harness.leader.store(true, Ordering::SeqCst);
    harness
        .leader_changes
        .send(true)
        .expect("the controller listens");
    until("late Ready once leading again", || {
        harness.ready("platform", "late")
    })
    .await;
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_resync_writes_no_status_that_did_not_change() {
    let harness = harness(0, Duration::from_millis(200));
    platform(&harness);
    until("both partners Ready", || {
        harness.ready("platform", "partner-a") && harness.ready("platform", "partner-b")
    })
    .await;
    until("the finalizers", || {
        harness.count("PATCH", "/accounts/partner-b") >= 1
    })
    .await;
    let statuses = harness.count("PATCH", "/status");
    let batches = harness.batches.load(Ordering::SeqCst);
    until("two more resyncs", || {
        harness.batches.load(Ordering::SeqCst) >= batches + 2
    })
    .await;
    assert_eq!(harness.count("PATCH", "/status"), statuses);
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_burst_of_a_thousand_resources_takes_a_handful_of_transactions() {
    let harness = harness(0, HOUR);
    harness.apply("accountscopes", scope("platform", &["platform"], None));
    {
        let mut cluster = lock(&harness.cluster);
        cluster.apply(
            "accounts",
            account("platform", "partner-a", "partner", None),
        );
        for index in 0..999 {
            let name = format!("customer-{index}");
            cluster.apply(
                "accounts",
                account("platform", &name, "customer", Some("partner-a")),
            );
        }
    }
    until("all 1,000 in the database", || {
        let mut store = harness.database.lock().expect("the store");
        store.snapshot().expect("a snapshot").hierarchy.nodes.len() == 1000
    })
    .await;
    let batches = harness.batches.load(Ordering::SeqCst);
    assert!(batches <= 3, "{batches} batches for one burst");
    eprintln!("1,000 resources at once: {batches} batch(es), one transaction each");
    until("the last one Ready", || {
        harness.ready("platform", "customer-998")
    })
    .await;
    harness.assert_nothing_unexpected();
}
