//! A small fake of the Kubernetes API server, for tests and `canopy-bench` to run the
//! real `canopy run --kubernetes` (or kubectl, or a kube `Client`) against.
//!
//! ```text
//! FakeApi::start ── own thread + tokio runtime ── axum on 127.0.0.1:PORT (plain HTTP)
//!     │                 server::handle: record ─> route ─> discovery | Store | WATCH
//!     ├─ kubeconfig()   a generated kubeconfig pointing at it (KUBECONFIG=…)
//!     ├─ apply/get/list/delete   the test's own hands on the objects (same Store,
//!     │                          same resourceVersions, WATCH streams see them)
//!     └─ requests()/unserved()/status_patches()   what clients asked, in order
//! ```
//!
//! It serves discovery for `canopy.dev/v1alpha1` (from the generated CRDs: short
//! names, the `canopy` category, printer columns as a Table for kubectl),
//! `events.k8s.io/v1` Events, `coordination.k8s.io/v1` Leases and core Namespaces;
//! LIST (with `limit`/`continue`, label and name selectors) and WATCH (from a
//! resourceVersion, bookmarks, `sendInitialEvents`, `timeoutSeconds`); create, get,
//! update, delete with finalizers; PATCH as merge patch, JSON patch or server-side
//! apply (recording the field manager in `managedFields`). It does not check
//! authentication, schemas or CEL rules, and it keeps every change in memory (no
//! compaction, so no `410 Gone`). `/openapi/v2` and `/v3` are answered 404 on
//! purpose (kubectl copes). Anything else gets a `Status` 404 and is recorded
//! as unserved, so a test can fail on requests the fake does not know.

mod patch;
mod resources;
mod server;
mod store;
mod table;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::{oneshot, watch};

use self::resources::Target;
use self::server::Shared;
pub use self::store::ApiError;
use self::store::Store;

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeApiError {
    #[error("binding the fake API server to 127.0.0.1")]
    Bind(#[source] std::io::Error),
    #[error("starting the fake API server's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("writing the fake API server's kubeconfig")]
    Kubeconfig(#[source] std::io::Error),
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub content_type: String,
    pub accept: String,
    pub body: String,
    /// The status code answered.
    pub status: u16,
    /// False when the fake does not serve the path or method (answered 404).
    pub served: bool,
}

impl RecordedRequest {
    /// The body as JSON (or YAML, for server-side apply).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body)
            .ok()
            .or_else(|| serde_yaml::from_str(&self.body).ok())
    }

    /// Whether this is a server-side apply of a `/status` subresource.
    pub fn is_status_apply(&self) -> bool {
        self.method == "PATCH"
            && self.path.ends_with("/status")
            && self
                .content_type
                .starts_with("application/apply-patch+yaml")
    }
}

/// The running fake; stops when dropped.
pub struct FakeApi {
    shared: Arc<Shared>,
    address: SocketAddr,
    directory: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApi {
    /// Starts the fake on a free port of 127.0.0.1 and writes its kubeconfig.
    pub fn start() -> Result<FakeApi, FakeApiError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(FakeApiError::Bind)?;
        listener.set_nonblocking(true).map_err(FakeApiError::Bind)?;
        let address = listener.local_addr().map_err(FakeApiError::Bind)?;
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(resources::all())),
            requests: Mutex::new(Vec::new()),
            changed,
            address: address.to_string(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-kube-api")
            .enable_all()
            .build()
            .map_err(FakeApiError::Runtime)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(FakeApiError::Bind)?
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                // Not a graceful shutdown: open WATCH streams would hold it forever.
                tokio::select! {
                    served = axum::serve(listener, router) => {
                        if let Err(error) = served {
                            tracing::error!(%error, "the fake API server stopped");
                        }
                    }
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        let directory = tempfile::tempdir().map_err(FakeApiError::Kubeconfig)?;
        let fake = FakeApi {
            shared,
            address,
            directory,
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        std::fs::write(fake.kubeconfig(), fake.kubeconfig_text())
            .map_err(FakeApiError::Kubeconfig)?;
        Ok(fake)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The generated kubeconfig (context `fake`, namespace `default`, no credentials).
    pub fn kubeconfig(&self) -> PathBuf {
        self.directory.path().join("kubeconfig")
    }

    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    \
             cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n",
            self.url()
        )
    }

    /// A directory that lives as long as the fake (for logs, manifests).
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    fn target(&self, plural: &str, namespace: Option<&str>) -> Result<Target, ApiError> {
        let store = self.shared.store();
        let resource = store
            .resources
            .iter()
            .position(|resource| resource.plural == plural)
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("no resource {plural:?}")))?;
        Ok(Target {
            resource,
            namespace: namespace.map(str::to_owned),
            name: None,
            subresource: None,
        })
    }

    fn plural_of(&self, kind: &str) -> Option<String> {
        let store = self.shared.store();
        store
            .resources
            .iter()
            .find(|resource| resource.kind == kind)
            .map(|resource| resource.plural.clone())
    }

    /// Creates `object` (by its `kind` and `metadata.namespace`), or replaces its
    /// spec, labels, annotations and finalizers if it exists: what `kubectl apply`
    /// does, seen by WATCH streams as ADDED or MODIFIED.
    pub fn apply(&self, object: Value) -> Result<Value, ApiError> {
        let kind = object["kind"].as_str().unwrap_or_default();
        let plural = self
            .plural_of(kind)
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("no kind {kind:?}")))?;
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let target = self.target(&plural, namespace)?;
        self.shared.write(|store| match store.get(&target, name) {
            Ok(_) => {
                let mut object = object.clone();
                object["metadata"]["resourceVersion"] = Value::Null;
                store.update(&target, name, object)
            }
            Err(_) => store.create(&target, object.clone()),
        })
    }

    /// Server-side applies `status` to the object's `/status` as `manager`.
    pub fn apply_status(
        &self,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let mut target = self.target(plural, namespace)?;
        target.subresource = Some("status".into());
        let body = serde_json::json!({ "status": status });
        self.shared.write(|store| {
            store.patch(&target, name, store::PatchKind::Apply, &body, Some(manager))
        })
    }

    /// The object, if it exists.
    pub fn get(&self, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let target = self.target(plural, namespace).ok()?;
        let store = self.shared.store();
        store
            .get(&target, name)
            .ok()
            .map(|object| (*object).clone())
    }

    /// Every object of the kind (in the namespace, if given).
    pub fn list(&self, plural: &str, namespace: Option<&str>) -> Vec<Value> {
        let Ok(target) = self.target(plural, namespace) else {
            return Vec::new();
        };
        let store = self.shared.store();
        store
            .select(&target, &Default::default(), None)
            .map(|(_, object)| (**object).clone())
            .collect()
    }

    /// How many objects of the kind (in the namespace, if given) satisfy `condition`,
    /// counted without copying them.
    pub fn count(
        &self,
        plural: &str,
        namespace: Option<&str>,
        condition: impl Fn(&Value) -> bool,
    ) -> usize {
        let Ok(target) = self.target(plural, namespace) else {
            return 0;
        };
        let store = self.shared.store();
        store
            .select(&target, &Default::default(), None)
            .filter(|(_, object)| condition(object))
            .count()
    }

    /// DELETE, with finalizers honoured.
    pub fn delete(
        &self,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let target = self.target(plural, namespace)?;
        self.shared.write(|store| store.delete(&target, name))
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests().clone()
    }

    /// The requests the fake does not serve (a test should expect none).
    pub fn unserved(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| !request.served)
            .collect()
    }

    /// The server-side applies of `/status`, in order.
    pub fn status_patches(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_status_apply)
            .collect()
    }

    /// The current resourceVersion counter.
    pub fn revision(&self) -> u64 {
        self.shared.store().revision()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
