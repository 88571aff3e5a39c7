//! Kubernetes Events (events.k8s.io/v1) about what a pass did to each object, published
//! through kube-runtime's [`Recorder`] (a repeated event becomes a series: one PATCH,
//! not another object).
//!
//! ```text
//! plan changes of the namespace's objects ─> Normal: Created, Moved, Grouped, Ungrouped,
//!                                            Deactivated (with the cascade count), Archived,
//!                                            Released (kept, unmanaged: deletionPolicy Orphan)
//! status patches entering Stalled          ─> Warning: the condition's reason and message
//!                                            (Held, Invalid, OutOfScope, NoScope, ...)
//! ```
//!
//! Errors are reported once, when an object's status turns Stalled, not at every resync.
//!
//! Events are off the batch path: a batch hands its events to an [`EventQueue`] and
//! goes on; one task posts them ([`CONCURRENT_WRITES`] at a time) while the next batch
//! runs. The queue holds at most [`QUEUE_LIMIT`] events: beyond that the oldest are
//! dropped and counted (`canopy_kubernetes_events_dropped_total`), never waited for.
//! Nothing is posted while this instance is not the leader.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

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
        Op::Release => (
            "Released",
            format!("kept in the database, no longer managed by {from}"),
        ),
        _ => return None,
    };
    Some(Planned {
        kind: change.kind,
        name: change.name.to_string(),
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

/// Events waiting to be posted, at most; the oldest are dropped beyond (like
/// client-go's event broadcaster, which queues 1,000).
pub const QUEUE_LIMIT: usize = 1000;

/// One event waiting to be posted.
struct Queued {
    namespace: String,
    planned: Planned,
    uid: Option<String>,
}

struct Waiting {
    queue: Mutex<VecDeque<Queued>>,
    wake: Notify,
    dropped: Counter,
    limit: usize,
}

/// The controller's side of the event task: [`EventQueue::push`] never waits. Dropping
/// the queue stops the task.
pub struct EventQueue {
    waiting: Arc<Waiting>,
    task: JoinHandle<()>,
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventQueue {
    /// Starts the task posting through `publisher` while `leader` holds; events dropped
    /// from a full queue (at most `limit`) count on `dropped`.
    pub fn start(
        publisher: Publisher,
        leader: Arc<AtomicBool>,
        limit: usize,
        dropped: Counter,
    ) -> EventQueue {
        let waiting = Arc::new(Waiting {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            dropped,
            limit: limit.max(1),
        });
        let task = tokio::spawn(post(publisher, waiting.clone(), leader));
        EventQueue { waiting, task }
    }

    /// Queues `events` about objects of `namespace` (`uid` finds each object's UID),
    /// dropping the oldest queued ones beyond the limit.
    pub fn push(
        &self,
        namespace: &str,
        events: Vec<Planned>,
        uid: impl Fn(Kind, &str) -> Option<String>,
    ) {
        if events.is_empty() {
            return;
        }
        let mut dropped = 0;
        {
            let mut queue = self
                .waiting
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for planned in events {
                if queue.len() >= self.waiting.limit {
                    queue.pop_front();
                    dropped += 1;
                }
                let uid = uid(planned.kind, &planned.name);
                queue.push_back(Queued {
                    namespace: namespace.to_string(),
                    planned,
                    uid,
                });
            }
        }
        if dropped > 0 {
            self.waiting.dropped.inc_by(dropped);
            tracing::warn!(
                dropped,
                limit = self.waiting.limit,
                "event queue full: the oldest events were dropped"
            );
        }
        self.waiting.wake.notify_one();
    }
}

/// The event task: takes what is queued, posts it, waits for more.
async fn post(publisher: Publisher, waiting: Arc<Waiting>, leader: Arc<AtomicBool>) {
    loop {
        let taken: Vec<Queued> = {
            let mut queue = waiting.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if !queue.is_empty() && !leader.load(Ordering::SeqCst) {
                tracing::debug!(
                    events = queue.len(),
                    "not the leader: queued events not posted"
                );
                queue.clear();
            }
            let take = queue.len().min(CONCURRENT_WRITES * 4);
            queue.drain(..take).collect()
        };
        if taken.is_empty() {
            waiting.wake.notified().await;
            continue;
        }
        // Boxed so that the task stays `Send`; the Lease is checked as each post starts,
        // so losing it stops the rest at once.
        let leader = &*leader;
        let publisher = &publisher;
        let posts: Vec<BoxFuture<'_, ()>> = taken
            .iter()
            .map(|queued| {
                let reference = reference(&queued.namespace, &queued.planned, queued.uid.clone());
                async move {
                    if leader.load(Ordering::SeqCst) {
                        publisher.publish_one(&queued.planned, reference).await;
                    }
                }
                .boxed()
            })
            .collect();
        let _: Vec<()> = futures_util::stream::iter(posts)
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
    }
}

fn reference(namespace: &str, planned: &Planned, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some(API_VERSION.to_string()),
        kind: Some(planned.kind.as_str().to_string()),
        name: Some(planned.name.clone()),
        namespace: Some(namespace.to_string()),
        uid,
        ..ObjectReference::default()
    }
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
    use crate::controller::mock_api::{self, lock};

    fn planned(name: &str) -> Planned {
        Planned {
            kind: Kind::Account,
            name: name.to_string(),
            warning: false,
            reason: "Created".to_string(),
            note: "created".to_string(),
        }
    }

    fn posted(cluster: &mock_api::Shared) -> Vec<String> {
        lock(cluster)
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .filter_map(|r| r.body["regarding"]["name"].as_str().map(str::to_string))
            .collect()
    }

    async fn until(what: &str, condition: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !condition() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_events_and_counts_them() {
        let (client, cluster) = mock_api::start();
        let dropped = Counter::default();
        let leader = Arc::new(AtomicBool::new(true));
        let queue = EventQueue::start(Publisher::new(client, None), leader, 3, dropped.clone());
        // The task cannot run before this test yields: five events meet a queue of three.
        let events = ["a", "b", "c", "d", "e"].map(planned).to_vec();
        queue.push("team", events, |_, _| None);
        assert_eq!(dropped.get(), 2);
        until("three events posted", || posted(&cluster).len() == 3).await;
        let mut names = posted(&cluster);
        names.sort();
        assert_eq!(names, ["c", "d", "e"], "the newest are kept");
        queue.push("team", vec![planned("f")], |_, _| None);
        until("the next event posted", || posted(&cluster).len() == 4).await;
        assert_eq!(dropped.get(), 2);
        assert!(lock(&cluster).unexpected.is_empty());
    }

    #[tokio::test]
    async fn nothing_is_posted_while_not_the_leader() {
        let (client, cluster) = mock_api::start();
        let leader = Arc::new(AtomicBool::new(false));
        let queue = EventQueue::start(
            Publisher::new(client, None),
            leader.clone(),
            QUEUE_LIMIT,
            Counter::default(),
        );
        queue.push("team", vec![planned("a")], |_, _| None);
        until("the queue drained", || {
            queue
                .waiting
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        })
        .await;
        leader.store(true, Ordering::SeqCst);
        queue.push("team", vec![planned("b")], |_, _| None);
        until("b posted", || !posted(&cluster).is_empty()).await;
        assert_eq!(posted(&cluster), ["b"], "a was never posted");
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let note = "ä".repeat(600);
        let cut = truncate(&note);
        assert!(cut.len() <= 1004);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
