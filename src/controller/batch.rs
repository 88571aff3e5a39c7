//! A batch of namespaces through the store, on the daemon's worker thread.
//!
//! ```text
//! watch (async) ── Vec<Item> ──> daemon run loop ─spawn_blocking─> Worker::guarded(|store| run(..))
//!                                                                    │ per namespace: sync::sync
//!                                       Vec<Done> <─ oneshot reply ──┘ (+ the usage report)
//! ```
//!
//! The watching side never touches the database: it hands the desired state of every
//! namespace a burst of events touched to the daemon, which runs them under the same
//! single-writer lock, suspension check and gate as a file pass. Each namespace is one
//! transaction, however many of its resources changed.

use crate::store::Store;
use crate::store::usage::UsageReport;

use super::desired::{Desired, Resources};
use super::status::Outcome;
use super::sync::{self, Settings, Synced};

/// One namespace to reconcile.
#[derive(Debug, Clone)]
pub struct Item {
    pub namespace: String,
    /// Every resource of the namespace (those being deleted included).
    pub resources: Resources,
    pub desired: Desired,
}

impl Item {
    /// The resources whose status the pass decides (those being deleted left out).
    pub fn status_resources(&self) -> &Resources {
        match &self.desired {
            Desired::Source(source) => &source.resources,
            Desired::Refused(_) => &self.resources,
        }
    }
}

/// What one namespace's pass did.
#[derive(Debug)]
pub struct Done {
    pub synced: Synced,
    /// For customer groups' status (read after the pass; `None` if it failed).
    pub usage: Option<UsageReport>,
}

/// Runs every item through the reconcile pass, in order; results in the same order.
pub fn run(store: &mut dyn Store, items: &[Item], settings: &Settings) -> Vec<Done> {
    items
        .iter()
        .map(|item| match &item.desired {
            Desired::Source(source) => {
                let synced = sync::sync(store, source, settings);
                let usage = match synced.outcome {
                    Outcome::Applied => sync::usage_report(store, &synced.live)
                        .inspect_err(|error| {
                            tracing::warn!(namespace = %item.namespace, %error, "reading usage for status");
                        })
                        .ok(),
                    _ => None,
                };
                Done { synced, usage }
            }
            Desired::Refused(binding) => Done {
                synced: sync::refused(Outcome::Refused(binding.clone())),
                usage: None,
            },
        })
        .collect()
}
