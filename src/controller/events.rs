//! Kubernetes Events (events.k8s.io/v1) about what a pass did to each object, published
//! through kube-runtime's [`Recorder`] (a repeated event becomes a series: one PATCH,
//! not another object).
//!
//! ```text
//! plan changes of the namespace's objects ─> Normal: Created, Moved, Grouped, Ungrouped,
//!                                            Deactivated (with the cascade count), Archived
//! status patches entering Stalled          ─> Warning: the condition's reason and message
//!                                            (Held, Invalid, OutOfScope, NoScope, ...)
//! ```
//!
//! Errors are reported once, when an object's status turns Stalled, not at every resync.

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::manifest::types::API_VERSION;
use crate::model::Kind;
use crate::plan::{Change, Op, Plan};

use super::desired::Resources;
use super::sync::StatusPatch;
use super::write::CONCURRENT_WRITES;

/// The reporting controller of every event.
pub const CONTROLLER: &str = "canopy";

/// One event to publish, about `kind`/`name` of the namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: Kind,
    pub name: String,
    pub warning: bool,
    pub reason: String,
    pub note: String,
}

/// The events of a namespace's pass: its plan's changes and the statuses entering
/// Stalled.
pub fn of_pass(
    resources: &Resources,
    plan: Option<&Plan>,
    patches: &[StatusPatch],
) -> Vec<Planned> {
    let objects = resources.objects();
    let declared = |kind: Kind, name: &str| {
        objects
            .binary_search_by(|(k, n)| (*k, n.as_str()).cmp(&(kind, name)))
            .is_ok()
    };
    let mut out: Vec<Planned> = plan
        .map(|plan| plan.changes.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|change| declared(change.kind, &change.name))
        .filter_map(of_change)
        .collect();
    out.extend(patches.iter().filter_map(stalled));
    out
}

fn of_change(change: &Change) -> Option<Planned> {
    let to = change.to.as_deref().unwrap_or("the top");
    let from = change.from.as_deref().unwrap_or("the top");
    let (reason, note) = match change.op {
        Op::Create => ("Created", format!("created in the database under {to}")),
        Op::Move => ("Moved", format!("moved from {from} to {to}")),
        Op::Group => ("Grouped", format!("grouped into {to}")),
        Op::Ungroup => ("Ungrouped", format!("taken out of {from}")),
        Op::Deactivate => {
            let count = change.cascade.as_ref().map_or(0, |c| c.count);
            (
                "Deactivated",
                format!("deactivated; {count} account(s) below it follow"),
            )
        }
        Op::Delete => (
            "Archived",
            "archived (the account number is kept)".to_string(),
        ),
        _ => return None,
    };
    Some(Planned {
        kind: change.kind,
        name: change.name.clone(),
        warning: false,
        reason: reason.to_string(),
        note,
    })
}

fn stalled(patch: &StatusPatch) -> Option<Planned> {
    let conditions = patch.status.get("conditions")?.as_array()?;
    let condition = conditions
        .iter()
        .find(|c| c["type"] == "Stalled" && c["status"] == "True")?;
    Some(Planned {
        kind: patch.kind,
        name: patch.name.clone(),
        warning: true,
        reason: condition["reason"]
            .as_str()
            .unwrap_or("Stalled")
            .to_string(),
        note: condition["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

/// Publishes events; a failure is logged, never retried (events are best effort).
pub struct Publisher {
    recorder: Recorder,
}

impl Publisher {
    pub fn new(client: Client, instance: Option<String>) -> Publisher {
        let reporter = Reporter {
            controller: CONTROLLER.to_string(),
            instance,
        };
        Publisher {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// Publishes `events` about objects of `namespace` (`uid` finds each object's UID).
    pub fn publish<'a>(
        &'a self,
        namespace: &str,
        events: &'a [Planned],
        uid: impl Fn(Kind, &str) -> Option<String>,
    ) -> BoxFuture<'a, ()> {
        let references: Vec<ObjectReference> = events
            .iter()
            .map(|planned| ObjectReference {
                api_version: Some(API_VERSION.to_string()),
                kind: Some(planned.kind.as_str().to_string()),
                name: Some(planned.name.clone()),
                namespace: Some(namespace.to_string()),
                uid: uid(planned.kind, &planned.name),
                ..ObjectReference::default()
            })
            .collect();
        // Boxed with its lifetime spelled out, so that the controller's task stays `Send`.
        let writes: Vec<BoxFuture<'a, ()>> = events
            .iter()
            .zip(references)
            .map(|(planned, reference)| self.publish_one(planned, reference).boxed())
            .collect();
        async move {
            let _: Vec<()> = futures_util::stream::iter(writes)
                .buffer_unordered(CONCURRENT_WRITES)
                .collect()
                .await;
        }
        .boxed()
    }

    async fn publish_one(&self, planned: &Planned, reference: ObjectReference) {
        let event = Event {
            type_: if planned.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: planned.reason.clone(),
            note: Some(truncate(&planned.note)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            let name = &planned.name;
            tracing::warn!(%name, reason = %planned.reason, %error, "publishing an event");
        }
    }
}

/// Event notes are limited to 1 kB.
fn truncate(note: &str) -> String {
    const LIMIT: usize = 1000;
    if note.len() <= LIMIT {
        return note.to_string();
    }
    let mut end = LIMIT;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &note[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let note = "ä".repeat(600);
        let cut = truncate(&note);
        assert!(cut.len() <= 1004);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
