//! Writing status back: each [`StatusPatch`] server-side applied to the object's
//! `status` subresource, field manager `canopy`, forced (canopy owns status).
//!
//! ```text
//! Vec<StatusPatch> ─ apply_statuses ─> PATCH /apis/canopy.dev/v1alpha1/namespaces/NS/KIND/NAME/status
//!                                        ?fieldManager=canopy&force=true
//!                                        Content-Type: application/apply-patch+yaml
//! ```
//!
//! The patches come from [`super::sync::patches`], which leaves out every status that
//! did not change, so nothing is sent at a quiet resync. Failures say whether trying
//! again can help ([`is_transient`]): a vanished object is skipped, a throttled or
//! failing API server is retried, a refused patch is a defect reported once.

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::manifest::types::API_VERSION;
use crate::manifest::types::AccountScopeStatus;
use crate::manifest::{Account, AccountGroup, AccountScope, ServicePlan};
use crate::model::Kind;

use super::sync::StatusPatch;

/// The field manager of every write canopy makes to the API server.
pub const FIELD_MANAGER: &str = "canopy";

/// A status patch the API server did not take.
#[derive(Debug, thiserror::Error)]
#[error("status of {kind} {namespace}/{name}: {source}")]
pub struct WriteError {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    #[source]
    pub source: kube::Error,
}

impl WriteError {
    /// Worth retrying with backoff (see [`is_transient`]).
    pub fn is_transient(&self) -> bool {
        is_transient(&self.source)
    }
}

/// Whether an API call failed for a reason that may pass: throttling (429), a conflict
/// (409), a timeout or a server error (5xx), or no answer at all. Anything else (a
/// forbidden or invalid request) is permanent.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 409 | 429 | 500..=599),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// How many writes to the API server are in flight at once.
pub const CONCURRENT_WRITES: usize = 16;

/// Applies every patch ([`CONCURRENT_WRITES`] at a time, started in order); objects
/// deleted in the meantime are skipped. Returns the patches that failed.
pub fn apply_statuses<'a>(
    client: &'a Client,
    patches: &'a [StatusPatch],
) -> BoxFuture<'a, Vec<WriteError>> {
    // Boxed with its lifetime spelled out, so that the controller's task stays `Send`.
    let writes: Vec<BoxFuture<'a, Option<WriteError>>> = patches
        .iter()
        .map(|patch| apply_one(client, patch).boxed())
        .collect();
    let results = futures_util::stream::iter(writes)
        .buffered(CONCURRENT_WRITES)
        .collect::<Vec<Option<WriteError>>>();
    async move { results.await.into_iter().flatten().collect() }.boxed()
}

async fn apply_one(client: &Client, patch: &StatusPatch) -> Option<WriteError> {
    let result = match patch.kind {
        Kind::Account => apply::<Account>(client, patch).await,
        Kind::AccountGroup => apply::<AccountGroup>(client, patch).await,
        Kind::ServicePlan => apply::<ServicePlan>(client, patch).await,
    };
    match result {
        Ok(()) => None,
        Err(kube::Error::Api(status)) if status.is_not_found() => {
            tracing::debug!(kind = %patch.kind, namespace = %patch.namespace, name = %patch.name, "object gone before its status was written");
            None
        }
        Err(source) => Some(WriteError {
            kind: patch.kind,
            namespace: patch.namespace.clone(),
            name: patch.name.clone(),
            source,
        }),
    }
}

/// Server-side applies the status of the cluster-scoped AccountScope `name`.
pub async fn apply_scope_status(
    client: &Client,
    name: &str,
    status: &AccountScopeStatus,
) -> Result<(), kube::Error> {
    let api: Api<AccountScope> = Api::all(client.clone());
    let body = json!({
        "apiVersion": API_VERSION,
        "kind": "AccountScope",
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch_status(name, &params, &Patch::Apply(&body)).await {
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        other => other.map(drop),
    }
}

async fn apply<K>(client: &Client, patch: &StatusPatch) -> Result<(), kube::Error>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), &patch.namespace);
    let body = json!({
        "apiVersion": API_VERSION,
        "kind": patch.kind.as_str(),
        "status": patch.status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&patch.name, &params, &Patch::Apply(&body))
        .await
        .map(drop)
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
