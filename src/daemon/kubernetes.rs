//! `--kubernetes`: the controller as one more source of the daemon. It watches the API
//! server on its own task and sends batches of namespaces; the run loop runs each batch
//! on the worker (same store, lock, suspension, gate, metrics and `/status` as a file
//! pass) and sends the results back for the controller to write status.
//!
//! ```text
//! controller::watch::run ── Message::Batch(Request) ──> run loop ─> serve ─spawn_blocking─>
//!          ^                Message::Leadership ──────> Trigger::Control (lock released)
//!          └──── (items, Reply) ──────────────────────── Worker::guarded(batch::run)
//! ```

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinHandle;

use crate::controller::batch::{self, Done};
use crate::controller::lease::{self, Leadership};
use crate::controller::status::Outcome;
use crate::controller::sync::Settings;
use crate::controller::watch::{self, Message, Reply, Request};
use crate::plan::Plan;
use crate::reconcile::BlastRadius;
use crate::store::control;

use super::metrics::Metrics;
use super::record::Recorder;
use super::worker::{Guarded, PassResult, Trigger, Worker};
use super::{Config, DaemonError, KubernetesConfig};

/// The running controller; dropping it stops watching.
pub struct Source {
    receiver: UnboundedReceiver<Message>,
    task: JoinHandle<()>,
    pub leader: Arc<AtomicBool>,
}

impl Drop for Source {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects (KUBECONFIG or in-cluster), joins the election and starts watching; Events
/// the controller drops from a full queue count on `metrics`.
pub async fn start(config: &KubernetesConfig, metrics: &Metrics) -> Result<Source, DaemonError> {
    let client = kube::Client::try_default()
        .await
        .map_err(|error| DaemonError::Kubernetes(error.to_string()))?;
    let leadership = match &config.lease {
        Some(options) => lease::elect(client.clone(), options),
        None => Leadership::always(),
    };
    let leader = leadership.leader.clone();
    let (sender, receiver) = unbounded_channel();
    let task = tokio::spawn(watch::run(
        client,
        config.controller.clone(),
        leadership,
        sender,
        metrics.kubernetes_events_dropped.clone(),
    ));
    Ok(Source {
        receiver,
        task,
        leader,
    })
}

/// The next message of the controller (never ready without one).
pub async fn next(source: &mut Option<Source>) -> Option<Message> {
    match source {
        Some(source) => source.receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The settings every namespace's pass gets from the daemon's flags.
pub fn settings(config: &Config) -> Settings {
    Settings {
        actor: config.actor.clone(),
        gate: config.gate,
        max_prune_percent: config.plan.max_prune_percent,
    }
}

/// Runs a batch on the worker, records it like a pass, replies; `None` if the worker
/// panicked (the daemon stops).
pub async fn serve(
    worker: Worker,
    request: Request,
    settings: Settings,
    recorder: &mut Recorder,
) -> Option<Worker> {
    let started = Instant::now();
    let Request { items, reply } = request;
    let joined = tokio::task::spawn_blocking(move || {
        let mut worker = worker;
        let (guarded, observed) = worker.guarded(|store| batch::run(store, &items, &settings));
        (worker, items, guarded, observed)
    })
    .await;
    let Ok((worker, items, guarded, observed)) = joined else {
        tracing::error!("a Kubernetes batch panicked; stopping");
        return None;
    };
    let result = summarize(&guarded);
    recorder.record(
        Trigger::Kubernetes,
        &result,
        observed,
        started.elapsed(),
        None,
        0,
    );
    let answer = match guarded {
        Guarded::Ran(done) => Reply::Done(done),
        _ => Reply::NotRun(result.label().to_string()),
    };
    let _ = reply.send((items, answer));
    Some(worker)
}

/// The batch as one pass result for logs, metrics and `/status`: a transient failure
/// first, then a held plan, a refusal, the changes applied, or nothing.
fn summarize(guarded: &Guarded<Vec<Done>>) -> PassResult {
    let done = match guarded {
        Guarded::Ran(done) => done,
        Guarded::Standby => return PassResult::Standby,
        Guarded::Suspended(suspension) => return PassResult::Suspended(suspension.clone()),
        Guarded::DatabaseDown(message) => return PassResult::DatabaseDown(message.clone()),
    };
    let outcomes = || {
        done.iter()
            .map(|d| (&d.synced.outcome, d.synced.plan.as_ref()))
    };
    if let Some((Outcome::Retrying { message }, _)) =
        outcomes().find(|(o, _)| matches!(o, Outcome::Retrying { .. }))
    {
        return PassResult::DatabaseDown(message.clone());
    }
    if let Some((_, Some(plan))) = outcomes().find(|(o, _)| matches!(o, Outcome::Held { .. })) {
        return PassResult::Held {
            changes: plan.changes.len(),
            id: control::held_plan_id(plan),
            summary: plan.summary().line(),
            radius: BlastRadius::of(plan),
        };
    }
    if let Some((Outcome::Invalid(diagnostics), _)) =
        outcomes().find(|(o, _)| matches!(o, Outcome::Invalid(_)))
    {
        return PassResult::Invalid(diagnostics.clone());
    }
    if let Some((outcome, _)) =
        outcomes().find(|(o, _)| matches!(o, Outcome::Rejected(_) | Outcome::Failed { .. }))
    {
        return PassResult::Failed {
            message: refusal(outcome),
            database: matches!(outcome, Outcome::Failed { .. }),
        };
    }
    let applied: Vec<&Plan> = outcomes()
        .filter(|(o, _)| **o == Outcome::Applied)
        .filter_map(|(_, plan)| plan)
        .filter(|plan| !plan.changes.is_empty())
        .collect();
    match applied.split_first() {
        None => PassResult::Unchanged,
        Some((first, rest)) => {
            let mut plan = (*first).clone();
            for other in rest {
                plan.changes.extend(other.changes.iter().cloned());
            }
            PassResult::Applied {
                plan,
                drift: Vec::new(),
            }
        }
    }
}

fn refusal(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Rejected(problems) => problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; "),
        Outcome::Failed { message } => message.clone(),
        _ => String::new(),
    }
}
