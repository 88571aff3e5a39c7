//! The Kubernetes side of canopy: custom resources in, status out.
//!
//! ```text
//! AccountScope ── scope::ScopeIndex ── namespace → Binding (source kubernetes/<ns>, root)
//! Account/AccountGroup/ServicePlan ── desired::by_namespace ── desired::desired
//!        └─> DesiredSource per namespace ── sync::sync ──> reconcile::reconcile (the one
//!            engine, on a blocking thread) ──> Synced { outcome, live after }
//! Synced + previous statuses ── sync::patches (status::*: only changed ones)
//!        └─> write::apply_statuses ── server-side apply, field manager `canopy`
//! ```
//!
//! [`scope`], [`desired`] and [`status`] are pure: they compute values from the objects
//! a reflector holds and from what the reconcile pass reported. [`sync`] is the
//! synchronous road to the database (the same pass `canopy apply` takes) and
//! [`write`] the async road to the API server. Each is tested on its own: the pure
//! parts as values, [`sync`] against a real SQLite store, [`write`] against a mock API
//! server that asserts every request.
//!
//! [`watch`] ties them together in `canopy run --kubernetes`: reflectors and debounced
//! batches of namespaces, handed to the daemon's worker as [`batch::Item`]s (the
//! controller never opens the database itself), then status, [`events`] and the
//! deletion [`finalizer`] written back; [`lease`] elects the one instance that does.

pub mod batch;
pub mod desired;
pub mod events;
pub mod finalizer;
pub mod lease;
#[cfg(test)]
mod mock_api;
pub mod scope;
pub mod status;
pub mod sync;
pub mod watch;
pub mod write;
