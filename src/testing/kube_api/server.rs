//! The HTTP side of the fake: one axum fallback handler that records the request,
//! routes it by path and method to discovery, the [`Store`] or a WATCH stream, and
//! answers anything it does not serve with a `Status` 404 (recorded as unserved, so
//! a test can fail on it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::RecordedRequest;
use super::resources::{self, Target};
use super::store::{ApiError, Change, PatchKind, Selector, Store};
use super::table;

/// What the handler shares: the objects, the request log, and the revision every
/// WATCH stream waits on.
pub struct Shared {
    pub store: Mutex<Store>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub changed: watch::Sender<u64>,
    /// `host:port`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
}

impl Shared {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn requests(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a write on the store and wakes the WATCH streams.
    pub fn write<T>(&self, write: impl FnOnce(&mut Store) -> T) -> T {
        let (result, revision) = {
            let mut store = self.store();
            let result = write(&mut store);
            (result, store.revision())
        };
        self.changed.send_replace(revision);
        result
    }
}

/// How a request was answered.
enum Reply {
    Json(u16, Value),
    /// A path or method the fake does not serve.
    Unserved(String),
    Watch(Body),
}

type Query = HashMap<String, String>;

/// The fallback handler: records, routes, answers.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 256 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query_text = parts.uri.query().unwrap_or_default().to_owned();
    let query: Query = form_urlencoded::parse(query_text.as_bytes())
        .into_owned()
        .collect();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header(header::CONTENT_TYPE);
    let reply = route(&shared, &parts.method, &path, &query, &parts.headers, &body);
    let (status, served) = match &reply {
        Reply::Json(code, _) => (*code, true),
        Reply::Unserved(_) => (404, false),
        Reply::Watch(_) => (200, true),
    };
    tracing::debug!(method = %parts.method, %path, query = %query_text, status, "fake api server request");
    shared.requests().push(RecordedRequest {
        method: parts.method.to_string(),
        path,
        query: query_text,
        content_type,
        accept: header(header::ACCEPT),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
        served,
    });
    match reply {
        Reply::Json(code, value) => json_response(code, &value),
        Reply::Unserved(message) => {
            json_response(404, &ApiError::new(404, "NotFound", message).status())
        }
        Reply::Watch(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

fn json_response(code: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let resources = shared.store().resources.clone();
    if method == Method::GET
        && let Some(document) = resources::discovery(&resources, path, &shared.address)
    {
        return Reply::Json(200, document);
    }
    if method == Method::GET && path.starts_with("/openapi/") {
        // Deliberately absent: kubectl then falls back to JSON merge patches for
        // custom resources, which is what it uses for them anyway.
        let error = ApiError::new(404, "NotFound", "the fake API server serves no OpenAPI");
        return Reply::Json(404, error.status());
    }
    let Some(target) = resources::parse_target(&resources, path) else {
        return Reply::Unserved(format!("the fake API server serves no {method} {path}"));
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let result = match (method.clone(), target.name.clone()) {
        (Method::GET, None) if is_true(query.get("watch")) => {
            return match Selector::parse(
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            ) {
                Ok(selector) => Reply::Watch(watch_stream(shared, target, selector, query)),
                Err(error) => Reply::Json(error.code, error.status()),
            };
        }
        (Method::GET, None) => list(shared, &target, query, accept),
        (Method::GET, Some(name)) => get(shared, &target, &name, query, accept),
        (Method::POST, None) if target.subresource.is_none() => parse_body(content_type, body)
            .and_then(|object| shared.write(|store| store.create(&target, object)))
            .map(|object| (201, object)),
        (Method::PUT, Some(name)) => parse_body(content_type, body)
            .and_then(|object| shared.write(|store| store.update(&target, &name, object)))
            .map(|object| (200, object)),
        (Method::PATCH, Some(name)) => patch(shared, &target, &name, query, content_type, body),
        (Method::DELETE, Some(name)) if target.subresource.is_none() => shared
            .write(|store| store.delete(&target, &name))
            .map(|object| (200, object)),
        _ => return Reply::Unserved(format!("the fake API server serves no {method} {path}")),
    };
    match result {
        Ok((code, value)) => Reply::Json(code, value),
        Err(error) => Reply::Json(error.code, error.status()),
    }
}

fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|value| value == "true" || value == "1")
}

fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let invalid = |error: String| ApiError::new(400, "BadRequest", error);
    if content_type.contains("yaml") {
        serde_yaml::from_slice(body).map_err(|error| invalid(error.to_string()))
    } else {
        serde_json::from_slice(body).map_err(|error| invalid(error.to_string()))
    }
}

fn get(
    shared: &Shared,
    target: &Target,
    name: &str,
    query: &Query,
    accept: &str,
) -> Result<(u16, Value), ApiError> {
    let store = shared.store();
    let object = store.get(target, name)?;
    if table::wants_table(accept) {
        let resource = &store.resources[target.resource];
        let whole = query
            .get("includeObject")
            .is_some_and(|value| value == "Object");
        return Ok((
            200,
            table::table(resource, &[&object], store.revision(), whole),
        ));
    }
    Ok((200, (*object).clone()))
}

/// LIST, paginated with `limit` and `continue` like the API server (the continue
/// token carries the list's resourceVersion and the last key returned).
fn list(
    shared: &Shared,
    target: &Target,
    query: &Query,
    accept: &str,
) -> Result<(u16, Value), ApiError> {
    let selector = Selector::parse(
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )?;
    let store = shared.store();
    let (revision, after) = match query.get("continue").filter(|token| !token.is_empty()) {
        Some(token) => parse_continue(token)?,
        None => (store.revision(), None),
    };
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit > 0)
        .unwrap_or(usize::MAX);
    let mut matching = store.select(target, &selector, after);
    let page: Vec<&Value> = matching
        .by_ref()
        .take(limit)
        .map(|(_, object)| &**object)
        .collect();
    let remaining = matching.count();
    let resource = &store.resources[target.resource];
    if table::wants_table(accept) {
        let whole = query
            .get("includeObject")
            .is_some_and(|value| value == "Object");
        return Ok((200, table::table(resource, &page, revision, whole)));
    }
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if remaining > 0
        && let Some(last) = page.last()
    {
        let namespace = last["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = last["metadata"]["name"].as_str().unwrap_or_default();
        metadata["continue"] = json!(format!("{revision}/{namespace}/{name}"));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok((
        200,
        json!({
            "apiVersion": resource.api_version(),
            "kind": format!("{}List", resource.kind),
            "metadata": metadata,
            "items": page,
        }),
    ))
}

fn parse_continue(token: &str) -> Result<(u64, Option<(String, String)>), ApiError> {
    let invalid = || {
        ApiError::new(
            400,
            "BadRequest",
            format!("invalid continue token {token:?}"),
        )
    };
    let mut parts = token.splitn(3, '/');
    let revision = parts.next().and_then(|revision| revision.parse().ok());
    match (revision, parts.next(), parts.next()) {
        (Some(revision), Some(namespace), Some(name)) => {
            Ok((revision, Some((namespace.to_owned(), name.to_owned()))))
        }
        _ => Err(invalid()),
    }
}

fn patch(
    shared: &Shared,
    target: &Target,
    name: &str,
    query: &Query,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    let kind = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json"
            if !shared.store().resources[target.resource].status_subresource =>
        {
            PatchKind::Merge
        }
        "application/json-patch+json" => PatchKind::Json,
        "application/apply-patch+yaml" => PatchKind::Apply,
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format {other:?}"),
            ));
        }
    };
    let patch = parse_body(content_type, body)?;
    let manager = query.get("fieldManager").map(String::as_str);
    shared
        .write(|store| store.patch(target, name, kind, &patch, manager))
        .map(|object| (200, object))
}

/// One WATCH stream: the changes after the requested resourceVersion (or the
/// current objects as ADDED when none is given, or with `sendInitialEvents`), then
/// every matching change as it happens, bookmarks if asked, until `timeoutSeconds`.
fn watch_stream(shared: &Arc<Shared>, target: Target, selector: Selector, query: &Query) -> Body {
    let since = query
        .get("resourceVersion")
        .and_then(|revision| revision.parse::<u64>().ok())
        .filter(|revision| *revision > 0);
    let bookmarks = is_true(query.get("allowWatchBookmarks"));
    let initial_events = is_true(query.get("sendInitialEvents"));
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(1800u64);
    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    let shared = shared.clone();
    tokio::spawn(async move {
        let watching = Watching {
            shared,
            target,
            selector,
            bookmarks,
            sender,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let _ = tokio::time::timeout_at(deadline, watching.run(since, initial_events)).await;
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|line| (Ok::<Bytes, std::io::Error>(line), receiver))
    });
    Body::from_stream(stream)
}

struct Watching {
    shared: Arc<Shared>,
    target: Target,
    selector: Selector,
    bookmarks: bool,
    sender: mpsc::Sender<Bytes>,
}

impl Watching {
    async fn run(self, since: Option<u64>, initial_events: bool) -> Option<()> {
        let mut changed = self.shared.changed.subscribe();
        changed.borrow_and_update();
        let mut cursor = match since {
            Some(since) if !initial_events => since,
            _ => {
                let (objects, revision) = {
                    let store = self.shared.store();
                    let objects: Vec<Arc<Value>> = store
                        .select(&self.target, &self.selector, None)
                        .map(|(_, object)| object.clone())
                        .collect();
                    (objects, store.revision())
                };
                for object in objects {
                    self.send("ADDED", &object).await?;
                }
                if initial_events {
                    self.bookmark(revision, true).await?;
                }
                revision
            }
        };
        loop {
            let (changes, revision) = {
                let store = self.shared.store();
                (
                    store.changes_after(cursor, &self.target, &self.selector),
                    store.revision(),
                )
            };
            for change in &changes {
                self.send_change(change).await?;
            }
            if changes.is_empty() && self.bookmarks && revision > cursor {
                self.bookmark(revision, false).await?;
            }
            cursor = revision;
            tokio::select! {
                result = changed.changed() => result.ok()?,
                () = self.sender.closed() => return None,
            }
            changed.borrow_and_update();
        }
    }

    async fn send_change(&self, change: &Change) -> Option<()> {
        self.send(change.kind.as_str(), &change.object).await
    }

    async fn send(&self, kind: &str, object: &Value) -> Option<()> {
        let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).ok()?;
        line.push(b'\n');
        self.sender.send(Bytes::from(line)).await.ok()
    }

    async fn bookmark(&self, revision: u64, initial_events_end: bool) -> Option<()> {
        let resource = self.shared.store().resources[self.target.resource].clone();
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "apiVersion": resource.api_version(),
            "kind": resource.kind,
            "metadata": metadata,
        });
        self.send("BOOKMARK", &object).await
    }
}
