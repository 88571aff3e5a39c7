//! Status writes against a mock API server that asserts every request (the shape of
//! kube-rs/controller-rs's fixtures): nothing unexpected may arrive.

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

use super::*;

type ApiServer = Handle<Request<Body>, Response<Body>>;

fn client() -> (Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

fn patch(kind: Kind, name: &str, status: Value) -> StatusPatch {
    StatusPatch {
        kind,
        namespace: "team-a".to_string(),
        name: name.to_string(),
        status,
    }
}

/// Expects one server-side apply of `status` at `path`, answers `code`.
async fn expect_status_apply(server: &mut ApiServer, path: &str, status: &Value, code: u16) {
    let (request, respond) = server.next_request().await.expect("a request");
    assert_eq!(request.method(), http::Method::PATCH);
    assert_eq!(request.uri().path(), path);
    let query = request.uri().query().unwrap_or_default().to_string();
    assert!(query.contains("fieldManager=canopy"), "{query}");
    assert!(query.contains("force=true"), "{query}");
    assert_eq!(
        request.headers()["content-type"],
        "application/apply-patch+yaml"
    );
    let body: Value = serde_json::from_slice(
        &request
            .into_body()
            .collect_bytes()
            .await
            .expect("a request body"),
    )
    .expect("a JSON body");
    assert_eq!(body["apiVersion"], "canopy.dev/v1alpha1");
    assert_eq!(&body["status"], status);
    let answer = if code == 200 {
        let spec = match body["kind"].as_str() {
            Some("ServicePlan") => json!({"billing": "trial"}),
            _ => json!({"type": "customer"}),
        };
        json!({
            "apiVersion": "canopy.dev/v1alpha1",
            "kind": body["kind"],
            "metadata": {"name": "x", "namespace": "team-a"},
            "spec": spec,
            "status": status,
        })
    } else {
        let reason = match code {
            404 => "NotFound",
            429 => "TooManyRequests",
            _ => "Forbidden",
        };
        json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "code": code, "reason": reason, "message": "refused",
        })
    };
    respond.send_response(
        Response::builder()
            .status(code)
            .body(Body::from(serde_json::to_vec(&answer).expect("JSON")))
            .expect("a response"),
    );
}

#[tokio::test]
async fn each_changed_status_is_server_side_applied_by_canopy() {
    let (client, mut server) = client();
    let account = json!({"accountNumber": "1042", "conditions": []});
    let group = json!({"conditions": []});
    let patches = vec![
        patch(Kind::Account, "acme", account.clone()),
        patch(Kind::AccountGroup, "smb", group.clone()),
    ];
    let writer = tokio::spawn(async move { apply_statuses(&client, &patches).await });
    expect_status_apply(
        &mut server,
        "/apis/canopy.dev/v1alpha1/namespaces/team-a/accounts/acme/status",
        &account,
        200,
    )
    .await;
    expect_status_apply(
        &mut server,
        "/apis/canopy.dev/v1alpha1/namespaces/team-a/accountgroups/smb/status",
        &group,
        200,
    )
    .await;
    let failed = writer.await.expect("the writer finishes");
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        server.next_request().await.is_none(),
        "nothing else is sent"
    );
}

#[tokio::test]
async fn no_patches_send_nothing() {
    let (client, mut server) = client();
    let failed = apply_statuses(&client, &[]).await;
    drop(client);
    assert!(failed.is_empty());
    assert!(server.next_request().await.is_none());
}

#[tokio::test]
async fn a_vanished_object_is_skipped_and_a_throttled_write_is_retried_later() {
    let (client, mut server) = client();
    let status = json!({"conditions": []});
    let patches = vec![
        patch(Kind::ServicePlan, "gone", status.clone()),
        patch(Kind::Account, "busy", status.clone()),
    ];
    let writer = tokio::spawn(async move { apply_statuses(&client, &patches).await });
    expect_status_apply(
        &mut server,
        "/apis/canopy.dev/v1alpha1/namespaces/team-a/serviceplans/gone/status",
        &status,
        404,
    )
    .await;
    expect_status_apply(
        &mut server,
        "/apis/canopy.dev/v1alpha1/namespaces/team-a/accounts/busy/status",
        &status,
        429,
    )
    .await;
    let failed = writer.await.expect("the writer finishes");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "busy");
    assert!(failed[0].is_transient());
}

#[tokio::test]
async fn a_forbidden_write_is_permanent() {
    let (client, mut server) = client();
    let status = json!({"conditions": []});
    let patches = vec![patch(Kind::Account, "acme", status.clone())];
    let writer = tokio::spawn(async move { apply_statuses(&client, &patches).await });
    expect_status_apply(
        &mut server,
        "/apis/canopy.dev/v1alpha1/namespaces/team-a/accounts/acme/status",
        &status,
        403,
    )
    .await;
    let failed = writer.await.expect("the writer finishes");
    assert!(!failed[0].is_transient());
}
