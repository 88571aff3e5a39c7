//! The deletion finalizer (`canopy.dev/deletion-policy`): canopy holds every resource
//! of a scoped namespace until the database transaction that applies its deletion has
//! committed, so that `deletionPolicy: Archive` cannot be skipped by a quick delete.
//!
//! ```text
//! after a namespace's pass:
//!   pass applied (committed, or nothing to do) ─> add the finalizer to objects lacking it
//!                                              └> remove it from objects being deleted
//!   namespace without a scope                  ─> remove it from objects being deleted
//!                                                 (they never changed the database)
//!   anything else (invalid, held, retrying)    ─> keep it: the deletion waits
//! ```
//!
//! Each change is a JSON merge patch of `metadata.finalizers` carrying the object's
//! `resourceVersion`, so a concurrent change to the list is a 409 conflict (retried)
//! rather than lost.

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::core::{NamespaceResourceScope, ObjectMeta};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::manifest::{Account, AccountGroup, ServicePlan};
use crate::model::Kind;

use super::batch::Item;
use super::desired::{Desired, FINALIZER};
use super::status::Outcome;
use super::write::CONCURRENT_WRITES;

/// A finalizer change the API server did not take.
#[derive(Debug, thiserror::Error)]
#[error("finalizer of {kind} {namespace}/{name}: {source}")]
pub struct FinalizerError {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    #[source]
    pub source: kube::Error,
}

/// One change to an object's finalizers.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub resource_version: Option<String>,
    /// The whole new list.
    pub finalizers: Vec<String>,
    /// Removing canopy's finalizer (the object goes away).
    pub release: bool,
}

/// The finalizer changes of a namespace after its pass ended with `outcome`.
pub fn changes(item: &Item, outcome: &Outcome) -> Vec<Change> {
    let (hold, release) = match (&item.desired, outcome) {
        (Desired::Source(_), Outcome::Applied) => (true, true),
        (Desired::Refused(_), _) => (false, true),
        _ => (false, false),
    };
    let mut out = Vec::new();
    let mut consider = |kind: Kind, meta: &ObjectMeta| {
        let finalizers = meta.finalizers.clone().unwrap_or_default();
        let has = finalizers.iter().any(|f| f == FINALIZER);
        let deleting = meta.deletion_timestamp.is_some();
        let change = |finalizers: Vec<String>, release: bool| Change {
            kind,
            name: meta.name.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone(),
            finalizers,
            release,
        };
        if deleting && has && release {
            let kept = finalizers.into_iter().filter(|f| f != FINALIZER).collect();
            out.push(change(kept, true));
        } else if !deleting && !has && hold {
            let mut added = finalizers;
            added.push(FINALIZER.to_string());
            out.push(change(added, false));
        }
    };
    let resources = &item.resources;
    resources
        .accounts
        .iter()
        .for_each(|a| consider(Kind::Account, &a.metadata));
    resources
        .groups
        .iter()
        .for_each(|g| consider(Kind::AccountGroup, &g.metadata));
    resources
        .plans
        .iter()
        .for_each(|p| consider(Kind::ServicePlan, &p.metadata));
    out
}

/// Applies every change (a few at a time, started in order); objects gone in the
/// meantime are skipped. Returns the changes that failed.
pub fn apply<'a>(
    client: &'a Client,
    namespace: &'a str,
    changes: &'a [Change],
) -> BoxFuture<'a, Vec<FinalizerError>> {
    // Boxed with its lifetime spelled out, so that the controller's task stays `Send`.
    let writes: Vec<BoxFuture<'a, Option<FinalizerError>>> = changes
        .iter()
        .map(|change| apply_one(client, namespace, change).boxed())
        .collect();
    let results = futures_util::stream::iter(writes)
        .buffered(CONCURRENT_WRITES)
        .collect::<Vec<Option<FinalizerError>>>();
    async move { results.await.into_iter().flatten().collect() }.boxed()
}

async fn apply_one(client: &Client, namespace: &str, change: &Change) -> Option<FinalizerError> {
    let result = match change.kind {
        Kind::Account => patch::<Account>(client, namespace, change).await,
        Kind::AccountGroup => patch::<AccountGroup>(client, namespace, change).await,
        Kind::ServicePlan => patch::<ServicePlan>(client, namespace, change).await,
    };
    match result {
        Ok(()) => None,
        Err(kube::Error::Api(status)) if status.is_not_found() => None,
        Err(source) => Some(FinalizerError {
            kind: change.kind,
            namespace: namespace.to_string(),
            name: change.name.clone(),
            source,
        }),
    }
}

async fn patch<K>(client: &Client, namespace: &str, change: &Change) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let body = json!({
        "metadata": {
            "finalizers": change.finalizers,
            "resourceVersion": change.resource_version,
        }
    });
    let params = PatchParams::default();
    api.patch(&change.name, &params, &Patch::Merge(&body))
        .await
        .map(drop)
}
