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

    /// `(account_number, parent, managed_by, archived)` of an account in the database.
    fn row(&self, name: &str) -> Option<Vec<Option<String>>> {
        self.db
            .query_text(&format!(
                "SELECT CAST(account_number AS TEXT), parent, managed_by, \
                 CASE WHEN archived_at IS NULL THEN 'live' ELSE 'archived' END \
                 FROM accounts WHERE name = '{name}'"
            ))
            .into_iter()
            .next()
    }

    fn status_patches_of(&self, namespace: &str, name: &str) -> Vec<RecordedRequest> {
        let suffix = format!("/namespaces/{namespace}/accounts/{name}/status");
        self.fake
            .status_patches()
            .into_iter()
            .filter(|request| request.path.ends_with(&suffix))
            .collect()
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
    let row = cluster.row("acme").expect("acme in the database");
    assert_eq!(row[0].as_deref(), Some(number.as_str()));
    assert_eq!(row[1].as_deref(), Some("nordic"));
    assert_eq!(row[2].as_deref(), Some("kubernetes/team"));
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
    let moved = cluster.row("acme").expect("acme in the database");
    assert_eq!(moved[1].as_deref(), Some("baltic"));
    assert_eq!(
        moved[0].as_deref(),
        Some(number.as_str()),
        "a move keeps the number"
    );
    assert_eq!(cluster.wait_ready("team", "acme"), number);
    cluster.assert_all_served();
}
