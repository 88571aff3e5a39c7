//! The fake Kubernetes API server (`canopy::testing::kube_api`) against real clients:
//! a kube `Client` (what the controller uses: list, watch from a resourceVersion,
//! server-side apply of status, finalizers by JSON patch, Leases, Events) and the real
//! `kubectl` (discovery, apply, the printer columns, the `canopy` category, delete).
//! If these pass, a test that runs the controller against the fake tests the
//! controller, not the fake.

use std::process::Command;

use canopy::manifest::Account;
use canopy::testing::kube_api::FakeApi;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

async fn client(fake: &FakeApi) -> Client {
    let kubeconfig = Kubeconfig::read_from(fake.kubeconfig()).expect("read the kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a config from the kubeconfig");
    Client::try_from(config).expect("a client")
}

fn account(name: &str, parent: Option<&str>) -> Value {
    let mut spec = json!({"type": if parent.is_some() { "customer" } else { "partner" }});
    if let Some(parent) = parent {
        spec["parent"] = json!(parent);
    }
    json!({
        "apiVersion": "canopy.dev/v1alpha1",
        "kind": "Account",
        "metadata": {"name": name, "namespace": "team"},
        "spec": spec,
    })
}

#[tokio::test]
async fn a_kube_client_lists_watches_and_applies_status() {
    let fake = FakeApi::start().expect("start the fake");
    let accounts: Api<Account> = Api::namespaced(client(&fake).await, "team");
    for index in 0..7 {
        fake.apply(account(&format!("a-{index}"), None))
            .expect("seed");
    }
    // A small page size makes the list take several pages, as kube-runtime's does.
    let first = accounts
        .list(&ListParams::default().limit(3))
        .await
        .expect("list");
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let rest = accounts
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .expect("second page");
    assert_eq!(rest.items.len(), 4);
    let revision = first.metadata.resource_version.clone().expect("a revision");

    let mut events = accounts
        .watch(&Default::default(), &revision)
        .await
        .expect("watch")
        .boxed();
    let status = json!({
        "apiVersion": "canopy.dev/v1alpha1", "kind": "Account",
        "status": {"accountNumber": "100001", "conditions": [{"type": "Ready", "status": "True",
            "reason": "Applied", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    });
    let params = PatchParams::apply("canopy").force();
    let patched = accounts
        .patch_status("a-0", &params, &Patch::Apply(&status))
        .await
        .expect("status apply");
    let patched_status = patched.status.expect("a status");
    assert_eq!(patched_status.account_number.as_deref(), Some("100001"));
    assert_eq!(patched.metadata.generation, Some(1), "status is not spec");
    let managers: Vec<_> = patched
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|entry| (entry.manager, entry.subresource))
        .collect();
    assert!(managers.contains(&(Some("canopy".into()), Some("status".into()))));

    // The same apply again changes nothing: no new resourceVersion, no event.
    let again = accounts
        .patch_status("a-0", &params, &Patch::Apply(&status))
        .await
        .expect("status apply again");
    assert_eq!(
        again.metadata.resource_version,
        patched.metadata.resource_version
    );
    fake.apply(account("a-late", None)).expect("one more");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match events.try_next().await.expect("a watch event") {
            Some(WatchEvent::Added(object)) => seen.push(("ADDED", object.metadata.name)),
            Some(WatchEvent::Modified(object)) => seen.push(("MODIFIED", object.metadata.name)),
            Some(WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected watch event {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("MODIFIED", Some("a-0".to_owned())),
            ("ADDED", Some("a-late".to_owned()))
        ]
    );
    assert_eq!(fake.status_patches().len(), 2);
    assert!(fake.unserved().is_empty(), "{:?}", fake.unserved());
}

/// A JSON patch (RFC 6902) of Account `name` in `team`, as kube-runtime's finalizer
/// helper sends it.
async fn json_patch(client: &Client, name: &str, patch: &Value) -> Account {
    let request = http::Request::patch(format!(
        "/apis/canopy.dev/v1alpha1/namespaces/team/accounts/{name}"
    ))
    .header("content-type", "application/json-patch+json")
    .body(serde_json::to_vec(patch).expect("a patch body"))
    .expect("a request");
    client.request(request).await.expect("json patch")
}

#[tokio::test]
async fn a_finalizer_holds_a_deletion_until_it_is_removed() {
    let fake = FakeApi::start().expect("start the fake");
    let client = client(&fake).await;
    let accounts: Api<Account> = Api::namespaced(client.clone(), "team");
    fake.apply(account("acme", None)).expect("seed");
    let finalizer =
        json!([{"op": "add", "path": "/metadata/finalizers", "value": ["canopy.dev/cleanup"]}]);
    json_patch(&client, "acme", &finalizer).await;
    accounts
        .delete("acme", &DeleteParams::default())
        .await
        .expect("delete");
    let held = accounts.get("acme").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());

    let revision = held.metadata.resource_version.clone().expect("a revision");
    let mut events = accounts
        .watch(&Default::default(), &revision)
        .await
        .expect("watch")
        .boxed();
    let removal = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["canopy.dev/cleanup"]},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]);
    json_patch(&client, "acme", &removal).await;
    let event = events.try_next().await.expect("a watch event");
    assert!(matches!(event, Some(WatchEvent::Deleted(_))), "{event:?}");
    let gone = accounts.get_opt("acme").await.expect("get");
    assert!(gone.is_none());
    assert!(fake.get("accounts", Some("team"), "acme").is_none());
}

#[tokio::test]
async fn leases_and_events_are_served_and_unknown_kinds_are_recorded() {
    let fake = FakeApi::start().expect("start the fake");
    let client = client(&fake).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "canopy");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "canopy-leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .expect("a lease");
    let created = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create the lease");
    let mut taken = created.clone();
    if let Some(spec) = taken.spec.as_mut() {
        spec.holder_identity = Some("b".into());
    }
    leases
        .replace("canopy-leader", &PostParams::default(), &taken)
        .await
        .expect("replace with the current resourceVersion");
    let stale = leases
        .replace("canopy-leader", &PostParams::default(), &created)
        .await;
    assert!(
        matches!(&stale, Err(kube::Error::Api(status)) if status.code == 409),
        "{stale:?}"
    );
    let merge = json!({"spec": {"holderIdentity": "c"}});
    let merged = leases
        .patch(
            "canopy-leader",
            &PatchParams::default(),
            &Patch::Strategic(&merge),
        )
        .await
        .expect("strategic merge");
    assert_eq!(
        merged.spec.and_then(|spec| spec.holder_identity).as_deref(),
        Some("c")
    );

    let events: Api<Event> = Api::namespaced(client.clone(), "team");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "acme.1"}, "reason": "Created", "action": "Create",
        "note": "account 100001 created", "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "canopy",
        "reportingInstance": "canopy-0",
        "regarding": {"kind": "Account", "namespace": "team", "name": "acme"}
    }))
    .expect("an event");
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("create the event");
    assert_eq!(fake.list("events", Some("team")).len(), 1);

    let deployments: Api<Deployment> = Api::namespaced(client, "team");
    let unknown = deployments.list(&ListParams::default()).await;
    assert!(
        matches!(&unknown, Err(kube::Error::Api(status)) if status.code == 404),
        "{unknown:?}"
    );
    let unserved = fake.unserved();
    assert_eq!(unserved.len(), 1);
    assert_eq!(
        unserved[0].path,
        "/apis/apps/v1/namespaces/team/deployments"
    );
}

/// Runs kubectl against the fake; `None` when kubectl is not installed.
fn kubectl(fake: &FakeApi, args: &[&str]) -> Option<std::process::Output> {
    let output = Command::new("kubectl")
        .env("KUBECONFIG", fake.kubeconfig())
        .env("HOME", fake.directory())
        .args(args)
        .output();
    match output {
        Ok(output) => Some(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => panic!("running kubectl: {error}"),
    }
}

fn succeeded(output: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn kubectl_applies_lists_and_deletes_through_the_fake() {
    let fake = FakeApi::start().expect("start the fake");
    let manifest = fake.directory().join("acme.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: acme\n  \
         namespace: team\nspec:\n  type: partner\n  displayName: ACME\n",
    )
    .expect("write the manifest");
    let manifest = manifest.to_string_lossy().into_owned();
    let Some(applied) = kubectl(&fake, &["apply", "--validate=false", "-f", &manifest]) else {
        eprintln!("skipped: kubectl is not installed");
        return;
    };
    assert!(succeeded(applied).contains("account.canopy.dev/acme created"));
    let stored = fake.get("accounts", Some("team"), "acme").expect("stored");
    assert_eq!(stored["spec"]["displayName"], "ACME");

    fake.apply_status(
        "accounts",
        Some("team"),
        "acme",
        json!({"accountNumber": "100042", "effectiveActive": true,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Applied",
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
        "test",
    )
    .expect("a status");
    let listed = succeeded(kubectl(&fake, &["get", "accounts", "-n", "team"]).expect("kubectl"));
    let header: Vec<&str> = listed
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "PARENT",
            "ACTIVE",
            "EFFECTIVE",
            "NUMBER",
            "READY",
            "AGE"
        ],
        "{listed}"
    );
    let row: Vec<&str> = listed
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    // Parent and Active are unset: blank cells, as a real server renders them.
    assert_eq!(
        row.get(..5),
        Some(&["acme", "partner", "true", "100042", "True"][..]),
        "{listed}"
    );
    let by_short_name =
        succeeded(kubectl(&fake, &["get", "acct", "-n", "team", "-o", "name"]).expect("kubectl"));
    assert_eq!(by_short_name.trim(), "account.canopy.dev/acme");
    let category =
        succeeded(kubectl(&fake, &["get", "canopy", "-A", "-o", "name"]).expect("kubectl"));
    assert_eq!(category.trim(), "account.canopy.dev/acme");

    let reapplied = succeeded(
        kubectl(&fake, &["apply", "--validate=false", "-f", &manifest]).expect("kubectl"),
    );
    assert!(reapplied.contains("unchanged"), "{reapplied}");
    let deleted = succeeded(kubectl(&fake, &["delete", "-f", &manifest]).expect("kubectl"));
    assert!(deleted.contains("deleted"), "{deleted}");
    assert!(fake.get("accounts", Some("team"), "acme").is_none());
    assert!(fake.unserved().is_empty(), "{:#?}", fake.unserved());
}
