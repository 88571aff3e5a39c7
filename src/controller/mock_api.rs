//! A mock API server for the controller's tests, on `tower-test`: it holds the objects,
//! answers LIST and WATCH of the four kinds (a watch is parked until something
//! changes, then answered with the events since its resourceVersion), takes status
//! server-side applies, finalizer merge patches (a deleted object goes once its list
//! is empty) and Events, and records every request. Anything else is recorded as
//! unexpected, which the tests assert never happens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

/// The cluster's state, shared by the test and the server task.
#[derive(Default)]
pub struct Cluster {
    /// (plural, namespace, name) → object.
    objects: BTreeMap<(String, String, String), Value>,
    resource_version: u64,
    /// (resourceVersion, plural, type, object), in order.
    events: Vec<(u64, String, &'static str, Value)>,
    /// Watches waiting for an event: (plural, namespace filter, since).
    parked: Vec<Parked>,
    pub requests: Vec<Recorded>,
    pub unexpected: Vec<String>,
}

pub type Shared = Arc<Mutex<Cluster>>;

/// A watch waiting for an event: plural, namespace filter, resourceVersion, responder.
type Parked = (String, Option<String>, u64, SendResponse<Response<Body>>);

pub fn lock(cluster: &Shared) -> MutexGuard<'_, Cluster> {
    cluster
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A client talking to a fresh mock server, and the cluster behind it.
pub fn start() -> (Client, Shared) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let cluster: Shared = Arc::default();
    tokio::spawn(serve(handle, cluster.clone()));
    (Client::new(service, "default"), cluster)
}

impl Cluster {
    /// Creates or replaces an object (as `kubectl apply` would), keeping its status.
    pub fn apply(&mut self, plural: &str, mut object: Value) {
        let key = key_of(plural, &object);
        let previous = self.objects.get(&key).cloned();
        let created = previous.is_none();
        if let Some(previous) = previous {
            object["status"] = previous["status"].clone();
            object["metadata"]["finalizers"] = previous["metadata"]["finalizers"].clone();
            object["metadata"]["uid"] = previous["metadata"]["uid"].clone();
            let generation = previous["metadata"]["generation"].as_i64().unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        } else {
            object["metadata"]["uid"] = json!(format!("uid-{}", key.2));
            object["metadata"]["generation"] = json!(1);
        }
        self.store(
            plural,
            key,
            object,
            if created { "ADDED" } else { "MODIFIED" },
        );
    }

    /// Deletes an object: with finalizers it only gets a deletionTimestamp.
    pub fn delete(&mut self, plural: &str, namespace: &str, name: &str) {
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        let Some(mut object) = self.objects.get(&key).cloned() else {
            return;
        };
        if finalizers(&object).is_empty() {
            self.remove(plural, key);
        } else {
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            self.store(plural, key, object, "MODIFIED");
        }
    }

    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(plural.to_string(), namespace.to_string(), name.to_string()))
    }

    /// The recorded requests with this method whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    }

    fn store(
        &mut self,
        plural: &str,
        key: (String, String, String),
        mut object: Value,
        kind: &'static str,
    ) {
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.objects.insert(key, object.clone());
        self.events
            .push((self.resource_version, plural.to_string(), kind, object));
        self.flush();
    }

    fn remove(&mut self, plural: &str, key: (String, String, String)) {
        if let Some(object) = self.objects.remove(&key) {
            self.resource_version += 1;
            self.events
                .push((self.resource_version, plural.to_string(), "DELETED", object));
            self.flush();
        }
    }

    /// Answers every parked watch that has events now.
    fn flush(&mut self) {
        let parked = std::mem::take(&mut self.parked);
        for (plural, namespace, since, respond) in parked {
            match self.events_since(&plural, namespace.as_deref(), since) {
                Some(body) => respond.send_response(ok(body)),
                None => self.parked.push((plural, namespace, since, respond)),
            }
        }
    }

    fn events_since(&self, plural: &str, namespace: Option<&str>, since: u64) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        for (version, of, kind, object) in &self.events {
            if *version > since && of == plural && in_namespace(object, namespace) {
                let line = json!({"type": kind, "object": object});
                body.extend(serde_json::to_vec(&line).unwrap_or_default());
                body.push(b'\n');
            }
        }
        (!body.is_empty()).then_some(body)
    }

    fn list(&self, plural: &str, namespace: Option<&str>) -> Vec<u8> {
        let items: Vec<&Value> = self
            .objects
            .iter()
            .filter(|((of, _, _), object)| of == plural && in_namespace(object, namespace))
            .map(|(_, object)| object)
            .collect();
        let list = json!({
            "apiVersion": "canopy.dev/v1alpha1",
            "kind": "List",
            "metadata": {"resourceVersion": self.resource_version.to_string()},
            "items": items,
        });
        serde_json::to_vec(&list).unwrap_or_default()
    }
}

fn key_of(plural: &str, object: &Value) -> (String, String, String) {
    let text = |field: &str| {
        object["metadata"][field]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (plural.to_string(), text("namespace"), text("name"))
}

fn in_namespace(object: &Value, namespace: Option<&str>) -> bool {
    namespace.is_none_or(|ns| object["metadata"]["namespace"] == ns)
}

pub fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn ok(body: Vec<u8>) -> Response<Body> {
    respond(200, body)
}

fn respond(code: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn status(code: u16, reason: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason});
    respond(code, serde_json::to_vec(&body).unwrap_or_default())
}

/// A request's route: `/apis/canopy.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status]]`
/// (cluster-scoped objects under the empty namespace)
/// or `/apis/events.k8s.io/v1/namespaces/NS/events`.
#[derive(Debug)]
enum Route {
    Collection {
        plural: String,
        namespace: Option<String>,
    },
    Object {
        plural: String,
        namespace: String,
        name: String,
        status: bool,
    },
    Events,
}

fn route(path: &str) -> Option<Route> {
    if path.starts_with("/apis/events.k8s.io/v1/namespaces/") {
        return Some(Route::Events);
    }
    let rest = path.strip_prefix("/apis/canopy.dev/v1alpha1/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [plural] => Some(Route::Collection {
            plural: plural.to_string(),
            namespace: None,
        }),
        ["namespaces", namespace, plural] => Some(Route::Collection {
            plural: plural.to_string(),
            namespace: Some(namespace.to_string()),
        }),
        ["namespaces", namespace, plural, name, tail @ ..] if tail.len() <= 1 => {
            Some(Route::Object {
                plural: plural.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                status: tail == ["status"],
            })
        }
        [plural, name, tail @ ..] if tail.len() <= 1 => Some(Route::Object {
            plural: plural.to_string(),
            namespace: String::new(),
            name: name.to_string(),
            status: tail == ["status"],
        }),
        _ => None,
    }
}

fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

async fn serve(mut handle: Handle<Request<Body>, Response<Body>>, cluster: Shared) {
    while let Some((request, respond)) = handle.next_request().await {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let recorded = Recorded {
            method,
            path,
            query,
            content_type,
            body,
        };
        let mut cluster = lock(&cluster);
        cluster.requests.push(recorded.clone());
        handle_one(&mut cluster, recorded, respond);
    }
}

fn handle_one(cluster: &mut Cluster, request: Recorded, respond: SendResponse<Response<Body>>) {
    let watch = query_value(&request.query, "watch") == Some("true");
    match (request.method.as_str(), route(&request.path)) {
        ("GET", Some(Route::Collection { plural, namespace })) if watch => {
            let since = query_value(&request.query, "resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            match cluster.events_since(&plural, namespace.as_deref(), since) {
                Some(body) => respond.send_response(ok(body)),
                None => cluster.parked.push((plural, namespace, since, respond)),
            }
        }
        ("GET", Some(Route::Collection { plural, namespace })) => {
            respond.send_response(ok(cluster.list(&plural, namespace.as_deref())));
        }
        (
            "PATCH",
            Some(Route::Object {
                plural,
                namespace,
                name,
                status: true,
            }),
        ) if request.content_type == "application/apply-patch+yaml" => {
            let key = (plural.clone(), namespace, name);
            let Some(mut object) = cluster.objects.get(&key).cloned() else {
                return respond.send_response(status(404, "NotFound"));
            };
            object["status"] = request.body["status"].clone();
            cluster.store(&plural, key, object.clone(), "MODIFIED");
            respond.send_response(ok(serde_json::to_vec(&object).unwrap_or_default()));
        }
        (
            "PATCH",
            Some(Route::Object {
                plural,
                namespace,
                name,
                status: false,
            }),
        ) if request.content_type == "application/merge-patch+json" => {
            finalizer_patch(cluster, (plural, namespace, name), &request.body, respond);
        }
        ("POST" | "PATCH", Some(Route::Events)) => {
            respond.send_response(ok(serde_json::to_vec(&request.body).unwrap_or_default()));
        }
        _ => {
            cluster.unexpected.push(format!(
                "{} {}?{}",
                request.method, request.path, request.query
            ));
            respond.send_response(status(405, "MethodNotAllowed"));
        }
    }
}

fn finalizer_patch(
    cluster: &mut Cluster,
    key: (String, String, String),
    body: &Value,
    respond: SendResponse<Response<Body>>,
) {
    let Some(mut object) = cluster.objects.get(&key).cloned() else {
        return respond.send_response(status(404, "NotFound"));
    };
    let wanted = &body["metadata"]["resourceVersion"];
    if !wanted.is_null() && *wanted != object["metadata"]["resourceVersion"] {
        return respond.send_response(status(409, "Conflict"));
    }
    object["metadata"]["finalizers"] = body["metadata"]["finalizers"].clone();
    let plural = key.0.clone();
    let gone =
        object["metadata"]["deletionTimestamp"].is_string() && finalizers(&object).is_empty();
    if gone {
        cluster.remove(&plural, key);
    } else {
        cluster.store(&plural, key, object.clone(), "MODIFIED");
    }
    respond.send_response(ok(serde_json::to_vec(&object).unwrap_or_default()));
}
