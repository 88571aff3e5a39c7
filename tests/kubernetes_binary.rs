//! `canopy run --kubernetes` end to end: the real binary against the fake API server
//! (`canopy::testing::kube_api`, pointed to by a generated KUBECONFIG) and a real
//! database, synchronised by polling the fake's objects and the database. Each test
//! checks the database and the requests the controller sent (status applies, finalizer
//! patches, Events), and that it sent nothing the fake does not serve.

#[macro_use]
mod support;

use canopy::testing::kube_api::{FakeApi, RecordedRequest};
use serde_json::{Value, json};
use support::daemon::Daemon;
use support::{Backend, TestDb};

on_both_backends!(an_applied_account_becomes_ready_and_a_parent_change_keeps_its_number);

#[test]
fn sqlite_a_namespace_without_scope_and_a_parent_outside_the_scope_stall_and_write_nothing() {
    out_of_scope_resources_stall_and_write_nothing(Backend::Sqlite);
}

#[test]
fn sqlite_deleting_orphans_an_account_and_archives_one_with_archive_policy() {
    deleting_orphans_or_archives(Backend::Sqlite);
}

#[test]
fn postgres_deleting_orphans_an_account_and_archives_one_with_archive_policy() {
    deleting_orphans_or_archives(Backend::Postgres);
}

#[test]
fn sqlite_a_thousand_accounts_applied_at_once_are_a_few_transactions() {
    a_thousand_accounts_at_once(Backend::Sqlite);
}

#[test]
fn postgres_a_database_outage_is_retried_and_the_resource_made_meanwhile_applied() {
    let mut cluster = Cluster::start(
        Backend::Postgres,
        &[
            scope("platform", &["team"], None),
            partner("team", "nordic"),
        ],
        &[],
    );
    cluster.wait_ready("team", "nordic");
    let server = cluster.db.server().expect("a PostgreSQL server");
    server.stop();
    cluster
        .fake
        .apply(customer("team", "acme", "nordic"))
        .expect("apply during the outage");
    cluster
        .daemon
        .eventually("the outage to be noticed", |daemon| {
            daemon
                .status()
                .is_some_and(|status| !status["databaseError"].is_null())
        });
    let acme = cluster.object("accounts", "team", "acme").expect("acme");
    assert!(
        ready_number(&acme).is_none(),
        "Ready while the database is down"
    );
    let server = cluster.db.server().expect("a PostgreSQL server");
    server.restart();
    let number = cluster.wait_ready("team", "acme");
    let stored = row(&cluster.db, "acme").expect("acme in the database");
    assert_eq!(stored[0].as_deref(), Some(number.as_str()));
    cluster.assert_all_served();
}

#[test]
fn sqlite_a_standby_writes_nothing_until_it_takes_the_lease() {
    standby_until_the_lease_is_free(Backend::Sqlite);
}

#[test]
fn sqlite_statuses_are_applied_only_when_they_change() {
    statuses_only_on_change(Backend::Sqlite);
}

/// The fake, a database and the controller running against both.
struct Cluster {
    fake: FakeApi,
    db: TestDb,
    daemon: Daemon,
}

impl Cluster {
    /// Starts the controller (no leader election unless `args` asks) once `seed`
    /// objects are in the fake.
    fn start(backend: Backend, seed: &[Value], args: &[&str]) -> Cluster {
        let fake = FakeApi::start().expect("start the fake API server");
        for object in seed {
            fake.apply(object.clone()).expect("seed the fake");
        }
        let db = TestDb::new(backend);
        let mut all_args = vec!["--debounce", "50ms"];
        all_args.extend_from_slice(args);
        if !args.contains(&"--lease-name") {
            all_args.push("--no-leader-election");
        }
        let mut daemon =
            Daemon::start_kubernetes(&db.url, &fake.kubeconfig(), fake.directory(), &all_args);
        daemon.wait_ready();
        Cluster { fake, db, daemon }
    }

    fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.fake.get(plural, Some(namespace), name)
    }

    /// Waits until the Account's status says Ready for its current generation, and
    /// returns its account number.
    fn wait_ready(&mut self, namespace: &str, name: &str) -> String {
        let what = format!("Account {namespace}/{name} to be Ready");
        let fake = &self.fake;
        self.daemon.eventually(&what, |_| {
            fake.get("accounts", Some(namespace), name)
                .is_some_and(|object| ready_number(&object).is_some())
        });
        self.object("accounts", namespace, name)
            .as_ref()
            .and_then(ready_number)
            .expect("ready")
    }

    /// Waits until the object's `Stalled` condition is True, and returns its reason.
    fn wait_stalled(&mut self, plural: &str, namespace: &str, name: &str) -> String {
        let what = format!("{plural} {namespace}/{name} to be Stalled");
        let fake = &self.fake;
        self.daemon.eventually(&what, |_| {
            fake.get(plural, Some(namespace), name)
                .is_some_and(|object| {
                    condition(&object, "Stalled").is_some_and(|c| c["status"] == "True")
                })
        });
        let object = self.object(plural, namespace, name).expect("the object");
        let stalled = condition(&object, "Stalled").expect("a Stalled condition");
        assert_eq!(
            condition(&object, "Ready").map(|c| c["status"].clone()),
            Some(json!("False"))
        );
        stalled["reason"].as_str().unwrap_or_default().to_owned()
    }

    fn status_patches_of(&self, namespace: &str, name: &str) -> Vec<RecordedRequest> {
        let suffix = format!("/namespaces/{namespace}/accounts/{name}/status");
        self.fake
            .status_patches()
            .into_iter()
            .filter(|request| request.path.ends_with(&suffix))
            .collect()
    }

    /// Polls `condition` on the fake and the database (the daemon must stay up).
    fn eventually(&mut self, what: &str, condition: impl Fn(&FakeApi, &TestDb) -> bool) {
        let (fake, db) = (&self.fake, &self.db);
        self.daemon.eventually(what, |_| condition(fake, db));
    }

    fn assert_all_served(&self) {
        let unserved = self.fake.unserved();
        assert!(
            unserved.is_empty(),
            "requests the fake does not serve: {unserved:#?}"
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller log:\n{}", self.daemon.log());
        }
    }
}

fn fixture(backend: Backend) -> Backend {
    backend
}

/// The `(status, reason)` of condition `kind`, if present.
fn condition(object: &Value, kind: &str) -> Option<Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
        .cloned()
}

/// The account number, once the status is Ready for the object's generation.
fn ready_number(object: &Value) -> Option<String> {
    let status = &object["status"];
    let current = status["observedGeneration"] == object["metadata"]["generation"];
    let ready = condition(object, "Ready").is_some_and(|c| c["status"] == "True");
    let number = status["accountNumber"]
        .as_str()
        .filter(|n| *n != "Pending")?;
    (current && ready).then(|| number.to_owned())
}

/// `(account_number, parent, managed_by, live|archived)` of an account in the database.
fn row(db: &TestDb, name: &str) -> Option<Vec<Option<String>>> {
    db.query_text(&format!(
        "SELECT CAST(account_number AS TEXT), parent, managed_by, \
         CASE WHEN archived_at IS NULL THEN 'live' ELSE 'archived' END \
         FROM accounts WHERE name = '{name}'"
    ))
    .into_iter()
    .next()
}

/// The orphans the real `canopy plan --source SOURCE` lists when the partner `declared[0]`
/// and its customers `declared[1..]` are declared (in a file, as the namespace does).
fn orphans_of(db: &TestDb, source: &str, declared: &[&str]) -> Vec<String> {
    let documents: Vec<String> = declared
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let spec = match index {
                0 => json!({"type": "partner"}),
                _ => json!({"type": "customer", "parent": declared[0], "customerType": "endCustomer"}),
            };
            json!({"apiVersion": "canopy.dev/v1alpha1", "kind": "Account",
                "metadata": {"name": name}, "spec": spec})
            .to_string()
        })
        .collect();
    let directory = tempfile::tempdir().expect("a directory");
    let file = directory.path().join("declared.yaml");
    std::fs::write(&file, documents.join("\n---\n")).expect("write the manifest");
    let output = db
        .canopy()
        .args(["plan", "--source", source, "-o", "json"])
        .arg(&file)
        .output()
        .expect("canopy plan");
    assert!(
        output.status.success(),
        "canopy plan: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).expect("a JSON plan");
    serde_json::from_value(plan["orphans"].clone()).expect("a list of orphans")
}

/// The sum of `canopy_reconciles_total` over its results.
fn reconciles(daemon: &Daemon) -> u64 {
    let metrics = daemon.get("/metrics").unwrap_or_default();
    metrics
        .lines()
        .filter(|line| line.starts_with("canopy_reconciles_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn has_finalizer(fake: &FakeApi, namespace: &str, name: &str) -> bool {
    fake.get("accounts", Some(namespace), name)
        .is_some_and(|object| {
            object["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|list| list.iter().any(|f| f == "canopy.dev/deletion-policy"))
        })
}

fn scope(name: &str, namespaces: &[&str], root: Option<&str>) -> Value {
    let mut spec = json!({"namespaces": namespaces});
    if let Some(root) = root {
        spec["root"] = json!(root);
    }
    json!({
        "apiVersion": "canopy.dev/v1alpha1", "kind": "AccountScope",
        "metadata": {"name": name}, "spec": spec,
    })
}

fn account(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "canopy.dev/v1alpha1", "kind": "Account",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec,
    })
}

fn partner(namespace: &str, name: &str) -> Value {
    account(namespace, name, json!({"type": "partner"}))
}

fn customer(namespace: &str, name: &str, parent: &str) -> Value {
    account(
        namespace,
        name,
        json!({"type": "customer", "parent": parent, "customerType": "endCustomer"}),
    )
}

fn an_applied_account_becomes_ready_and_a_parent_change_keeps_its_number(backend: &Backend) {
    let mut cluster = Cluster::start(
        *backend,
        &[
            scope("platform", &["team"], None),
            partner("team", "nordic"),
            partner("team", "baltic"),
            customer("team", "acme", "nordic"),
        ],
        &[],
    );
    let number = cluster.wait_ready("team", "acme");
    let stored = row(&cluster.db, "acme").expect("acme in the database");
    assert_eq!(stored[0].as_deref(), Some(number.as_str()));
    assert_eq!(stored[1].as_deref(), Some("nordic"));
    assert_eq!(stored[2].as_deref(), Some("kubernetes/team"));
    let applies = cluster.status_patches_of("team", "acme");
    let body = applies[0].json().expect("a status apply body");
    assert_eq!(body["kind"], "Account");
    assert!(
        applies[0].query.contains("fieldManager=canopy"),
        "{}",
        applies[0].query
    );
    let acme = cluster.object("accounts", "team", "acme").expect("acme");
    assert!(
        acme["metadata"]["managedFields"]
            .as_array()
            .is_some_and(|entries| entries
                .iter()
                .any(|entry| entry["manager"] == "canopy" && entry["subresource"] == "status")),
        "{acme:#}"
    );

    cluster
        .fake
        .apply(customer("team", "acme", "baltic"))
        .expect("move acme");
    let fake = &cluster.fake;
    cluster.daemon.eventually("acme to be under baltic", |_| {
        fake.get("accounts", Some("team"), "acme")
            .is_some_and(|object| {
                object["metadata"]["generation"] == 2 && ready_number(&object).is_some()
            })
    });
    let moved = row(&cluster.db, "acme").expect("acme in the database");
    assert_eq!(moved[1].as_deref(), Some("baltic"));
    assert_eq!(
        moved[0].as_deref(),
        Some(number.as_str()),
        "a move keeps the number"
    );
    assert_eq!(cluster.wait_ready("team", "acme"), number);
    cluster.assert_all_served();
}

fn out_of_scope_resources_stall_and_write_nothing(backend: Backend) {
    let mut cluster = Cluster::start(
        backend,
        &[
            scope("platform", &["team"], None),
            scope("nordic", &["tenant"], Some("nordic")),
            partner("team", "nordic"),
            partner("team", "baltic"),
            partner("stray", "lone"),
            customer("tenant", "sneaky", "baltic"),
            customer("tenant", "fine", "nordic"),
        ],
        &[],
    );
    cluster.wait_ready("team", "nordic");
    assert_eq!(cluster.wait_stalled("accounts", "stray", "lone"), "NoScope");
    assert_eq!(
        cluster.wait_stalled("accounts", "tenant", "sneaky"),
        "OutOfScope"
    );
    // A namespace is applied all or nothing: its valid resource waits too.
    assert_eq!(
        cluster.wait_stalled("accounts", "tenant", "fine"),
        "NamespaceRejected"
    );
    assert!(row(&cluster.db, "fine").is_none());
    assert!(
        row(&cluster.db, "lone").is_none(),
        "a namespace without scope wrote"
    );
    assert!(
        row(&cluster.db, "sneaky").is_none(),
        "a parent outside the scope was written"
    );
    let fake = &cluster.fake;
    cluster.daemon.eventually("a NoScope warning event", |_| {
        fake.list("events", Some("stray"))
            .iter()
            .any(|event| event["reason"] == "NoScope" && event["type"] == "Warning")
    });
    cluster.assert_all_served();
}

fn deleting_orphans_or_archives(backend: Backend) {
    let archived = account(
        "team",
        "gone",
        json!({"type": "customer", "parent": "nordic", "customerType": "endCustomer",
            "deletionPolicy": "Archive"}),
    );
    let mut cluster = Cluster::start(
        backend,
        &[
            scope("platform", &["team"], None),
            partner("team", "nordic"),
            customer("team", "kept", "nordic"),
            archived,
        ],
        &[],
    );
    let kept_number = cluster.wait_ready("team", "kept");
    let gone_number = cluster.wait_ready("team", "gone");
    cluster.eventually("the deletion finalizers", |fake, _| {
        has_finalizer(fake, "team", "kept") && has_finalizer(fake, "team", "gone")
    });
    for name in ["kept", "gone"] {
        let marked = cluster
            .fake
            .delete("accounts", Some("team"), name)
            .expect("delete");
        assert!(
            !marked["metadata"]["deletionTimestamp"].is_null(),
            "held by the finalizer"
        );
    }
    cluster.eventually("both resources to be gone", |fake, _| {
        fake.get("accounts", Some("team"), "kept").is_none()
            && fake.get("accounts", Some("team"), "gone").is_none()
    });
    // One more pass of the namespace must not prune the orphan.
    cluster
        .fake
        .apply(customer("team", "later", "nordic"))
        .expect("one more customer");
    cluster.wait_ready("team", "later");
    let this = &cluster;
    let kept = row(&this.db, "kept").expect("an orphaned account stays");
    assert_eq!(kept[3].as_deref(), Some("live"), "an orphan stays live");
    assert_eq!(kept[0].as_deref(), Some(kept_number.as_str()));
    assert_eq!(kept[2], None, "an orphan is released: unmanaged");
    cluster.eventually("a Released event", |fake, _| {
        fake.list("events", Some("team"))
            .iter()
            .any(|event| event["reason"] == "Released" && event["regarding"]["name"] == "kept")
    });
    let this = &cluster;
    assert_eq!(
        orphans_of(&this.db, "kubernetes/team", &["nordic", "later"]),
        Vec::<String>::new(),
        "the released account is nobody's orphan"
    );
    let gone = row(&this.db, "gone").expect("an archived account keeps its row");
    assert_eq!(gone[0].as_deref(), Some(gone_number.as_str()));
    assert_eq!(gone[3].as_deref(), Some("archived"));
    this.assert_all_served();
}

fn a_thousand_accounts_at_once(backend: Backend) {
    let mut cluster = Cluster::start(
        backend,
        &[scope("platform", &["team"], None), partner("team", "root")],
        &[],
    );
    cluster.wait_ready("team", "root");
    for index in 0..1000 {
        cluster
            .fake
            .apply(customer("team", &format!("c-{index:04}"), "root"))
            .expect("apply a customer");
    }
    let fake = &cluster.fake;
    cluster
        .daemon
        .eventually("a thousand customers Ready", |_| {
            fake.list("accounts", Some("team"))
                .iter()
                .filter(|object| ready_number(object).is_some())
                .count()
                == 1001
        });
    let rows = cluster.db.query_text(
        "SELECT CAST(COUNT(*) AS TEXT), CAST(COUNT(DISTINCT at) AS TEXT) FROM audit_log WHERE name LIKE 'c-%' AND op = 'create'",
    );
    let created: u64 = rows[0][0]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    let transactions: u64 = rows[0][1]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert_eq!(created, 1000);
    assert!(
        (1..=5).contains(&transactions),
        "1,000 resources took {transactions} transactions"
    );
    eprintln!("1,000 resources applied at once: {transactions} transaction(s)");
    cluster.assert_all_served();
}

fn statuses_only_on_change(backend: Backend) {
    let mut cluster = Cluster::start(
        backend,
        &[
            scope("platform", &["team"], None),
            partner("team", "nordic"),
            customer("team", "acme", "nordic"),
        ],
        &["--resync-interval", "100ms"],
    );
    cluster.wait_ready("team", "acme");
    let before = cluster.status_patches_of("team", "acme").len();
    let passes = reconciles(&cluster.daemon);
    cluster
        .daemon
        .eventually("three more passes (resyncs)", |daemon| {
            reconciles(daemon) >= passes + 3
        });
    // A change that does need a status: once it is Ready, the writes of the passes
    // before it are done too.
    cluster
        .fake
        .apply(customer("team", "zeta", "nordic"))
        .expect("one more customer");
    cluster.wait_ready("team", "zeta");
    let after = cluster.status_patches_of("team", "acme").len();
    assert_eq!(after, before, "resyncs re-applied an unchanged status");
    assert_eq!(cluster.status_patches_of("team", "zeta").len(), 1);
    cluster.assert_all_served();
}

/// The Lease, held by `holder` since 8 of its 15 seconds (the manager waits for a
/// held Lease to expire before it tries again, so this keeps the test short).
fn lease(holder: Option<&str>) -> Value {
    let renewed =
        k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(8);
    let now = renewed.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string();
    let spec = match holder {
        Some(holder) => json!({"holderIdentity": holder, "leaseDurationSeconds": 15,
            "acquireTime": now, "renewTime": now}),
        None => json!({}),
    };
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "canopy-leader", "namespace": "canopy"}, "spec": spec,
    })
}

fn standby_until_the_lease_is_free(backend: Backend) {
    let fake = FakeApi::start().expect("start the fake API server");
    for object in [
        scope("platform", &["team"], None),
        partner("team", "nordic"),
        lease(Some("someone-else")),
    ] {
        fake.apply(object).expect("seed the fake");
    }
    let db = TestDb::new(backend);
    let args = [
        "--debounce",
        "50ms",
        "--lease-name",
        "canopy-leader",
        "--lease-namespace",
        "canopy",
    ];
    let mut daemon = Daemon::start_kubernetes(&db.url, &fake.kubeconfig(), fake.directory(), &args);
    daemon.eventually("the controller to stand by", |daemon| {
        daemon
            .status()
            .is_some_and(|status| status["role"] == "standby")
    });
    assert!(
        row(&db, "nordic").is_none(),
        "a standby wrote to the database"
    );
    assert!(fake.status_patches().is_empty(), "a standby wrote a status");

    // The other holder lets go (or its Lease expires): the controller takes the
    // Lease, then reconciles.
    fake.apply(lease(None)).expect("release the lease");
    let mut cluster = Cluster { fake, db, daemon };
    cluster.wait_ready("team", "nordic");
    let holder = cluster
        .fake
        .get("leases", Some("canopy"), "canopy-leader")
        .expect("the lease");
    assert!(
        holder["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|holder| holder != "someone-else"),
        "{holder:#}"
    );
    // The fake records a request once it has served it: the status it wrote can be
    // seen a moment before the request that wrote it is on the record.
    let fake = &cluster.fake;
    cluster
        .daemon
        .eventually("the status apply to be recorded", |_| {
            fake.requests().iter().any(RecordedRequest::is_status_apply)
        });
    let requests = cluster.fake.requests();
    let took = requests
        .iter()
        .position(|request| {
            request.method == "PATCH" && request.path.ends_with("/leases/canopy-leader")
        })
        .expect("the controller patched the lease");
    let first_status = requests
        .iter()
        .position(RecordedRequest::is_status_apply)
        .expect("a status apply");
    assert!(
        took < first_status,
        "a status was written before the lease was taken"
    );
    cluster.assert_all_served();
}
