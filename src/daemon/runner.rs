//! The run loop: waits for a trigger (file batch, resync, control tick, retry, signal),
//! runs one pass on a blocking thread, records it (status, metrics, one log line).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustc_hash::FxHashSet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::{MissedTickBehavior, interval, interval_at, sleep_until, timeout};

use crate::controller::watch::Message;

use super::backoff::Backoff;
use super::http::{self, Shared};
use super::kubernetes;
use super::listen;
use super::metrics::Metrics;
use super::record::Recorder;
use super::status::{Role, Status};
use super::watch::{self, FileEvent};
use super::worker::{PassResult, Trigger, Worker};
use super::{Config, DaemonError};

/// How often a standby tries to take over and a suspended daemon checks for the end
/// of its suspension.
const CONTROL_TICK: Duration = Duration::from_secs(1);

pub async fn run(config: Config) -> Result<(), DaemonError> {
    // Registered first, so a signal during the first pass is handled, not fatal.
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Runtime)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Runtime)?;
    let config = Arc::new(config);
    let shared = Arc::new(Shared {
        status: Mutex::new(Status::default()),
        metrics: Metrics::default(),
        database_url: config.database_url.clone(),
    });
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            address: config.listen.clone(),
            source,
        })?;
    let (file_events, mut file_receiver) = unbounded_channel();
    let _watch = match &config.watch {
        Some(directory) => Some(
            watch::start(directory, config.debounce, file_events).map_err(|source| {
                DaemonError::Watch {
                    directory: directory.clone(),
                    source,
                }
            })?,
        ),
        None => None,
    };
    let mut kubernetes = match &config.kubernetes {
        Some(settings) => Some(kubernetes::start(settings, &shared.metrics).await?),
        None => None,
    };
    let server = tokio::spawn(axum::serve(listener, http::router(shared.clone())).into_future());
    tracing::info!(
        watch = ?config.watch,
        kubernetes = config.kubernetes.is_some(),
        listen = %config.listen,
        database = %crate::store::redact(&config.database_url),
        "canopy daemon started"
    );
    let mut recorder = Recorder::new(shared.clone(), config.clone());
    let mut first_worker = Worker::new(config.clone());
    if let Some(source) = &kubernetes {
        first_worker.fence_on(source.leader.clone());
    }
    let known_counter = first_worker.known_counter();
    let (wake, mut notified) = unbounded_channel();
    let listener = listen::spawn(&config.database_url, wake);
    let mut worker = Some(first_worker);
    let mut resync = interval_at(
        tokio::time::Instant::now() + config.resync_interval,
        config.resync_interval.max(Duration::from_millis(10)),
    );
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut control =
        interval(CONTROL_TICK.min(config.resync_interval.max(Duration::from_millis(10))));
    control.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut backoff = Backoff::default();
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut next = Some(Trigger::Startup);
    let mut first_edit: Option<Instant> = None;
    // The paths the watcher saw change, handed to the worker before its next pass.
    let mut touched: FxHashSet<PathBuf> = FxHashSet::default();
    // Set while this instance holds its role by a lease: renewed at a third of its length.
    let mut heartbeat: Option<tokio::time::Interval> = None;
    loop {
        let trigger = match next.take() {
            Some(trigger) => trigger,
            None => tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                Some(event) = file_receiver.recv() => {
                    let (trigger, first) =
                        gather(event, &mut file_receiver, config.debounce, &mut touched).await;
                    first_edit = Some(first_edit.map_or(first, |earlier| earlier.min(first)));
                    trigger
                }
                _ = resync.tick() => Trigger::Resync,
                Some(first) = notified.recv() => {
                    // Checked now, after the pass that may have sent them committed.
                    let known = known_counter.load(Ordering::SeqCst);
                    let mut foreign = listen::is_foreign(first, known);
                    while let Ok(more) = notified.try_recv() {
                        foreign |= listen::is_foreign(more, known);
                    }
                    if !foreign {
                        continue;
                    }
                    Trigger::Notify
                }
                Some(message) = kubernetes::next(&mut kubernetes) => match message {
                    Message::Leadership(_) => Trigger::Control,
                    Message::Batch(request) => {
                        let Some(current) = worker.take() else { break };
                        let settings = kubernetes::settings(&config);
                        worker = kubernetes::serve(current, request, settings, &mut recorder).await;
                        continue;
                    }
                },
                _ = control.tick(), if recorder.needs_control() => Trigger::Control,
                _ = tick(&mut heartbeat), if heartbeat.is_some() => Trigger::Heartbeat,
                _ = sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)), if retry_at.is_some() => Trigger::Retry,
            },
        };
        if retry_at.is_some() && trigger != Trigger::Retry {
            // Backing off: the change waits for the retry, which re-reads everything.
            continue;
        }
        let Some(mut current) = worker.take() else {
            break;
        };
        if trigger == Trigger::Heartbeat {
            let Ok((current, held)) = tokio::task::spawn_blocking(move || {
                let held = current.renew();
                (current, held)
            })
            .await
            else {
                tracing::error!("renewing the single-writer lease panicked; stopping");
                break;
            };
            worker = Some(current);
            if !held {
                heartbeat = None;
                next = Some(Trigger::Control);
            }
            continue;
        }
        current.touch(touched.drain());
        let started = Instant::now();
        tracing::debug!("reconcile started ({})", trigger.as_str());
        let joined = tokio::task::spawn_blocking(move || {
            let (result, observed) = current.pass(trigger);
            (current, result, observed)
        })
        .await;
        let Ok((current, result, observed)) = joined else {
            tracing::error!("a reconcile pass panicked; stopping");
            break;
        };
        heartbeat = match (current.lease(), heartbeat.take()) {
            (Some(_), Some(running)) => Some(running),
            (Some(lease), None) => {
                let mut renewal = interval(lease / 3);
                renewal.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Some(renewal)
            }
            (None, _) => None,
        };
        worker = Some(current);
        let edit = match result {
            PassResult::Applied { .. } => first_edit.take(),
            PassResult::DatabaseDown(_) | PassResult::Standby => None,
            _ => {
                first_edit = None;
                None
            }
        };
        retry_at = match result {
            PassResult::DatabaseDown(_) => Some(tokio::time::Instant::now() + backoff.next_delay()),
            _ => {
                backoff.reset();
                None
            }
        };
        recorder.record(
            trigger,
            &result,
            observed,
            started.elapsed(),
            edit,
            backoff.failures(),
        );
    }
    tracing::info!("shutting down: releasing the single-writer lock");
    shared.update(|status| {
        status.role = Role::Stopping;
        status.ready = false;
    });
    if let Some(mut worker) = worker {
        let _ = tokio::task::spawn_blocking(move || worker.shut_down()).await;
    }
    server.abort();
    drop(kubernetes.take());
    if let Some(listener) = listener {
        listener.abort();
    }
    Ok(())
}

/// The next tick of the lease renewal (never ready without one).
async fn tick(heartbeat: &mut Option<tokio::time::Interval>) {
    match heartbeat {
        Some(renewal) => {
            renewal.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Collects a burst: further events until none arrives for `quiet`, so a checkout
/// rewriting 1,000 files is one pass. A rescan anywhere in it makes it a rescan.
async fn gather(
    first: FileEvent,
    receiver: &mut UnboundedReceiver<FileEvent>,
    quiet: Duration,
    touched: &mut FxHashSet<PathBuf>,
) -> (Trigger, Instant) {
    let mut trigger = Trigger::Files;
    let mut earliest = Instant::now();
    let mut event = Some(first);
    while let Some(current) = event {
        match current {
            FileEvent::Changed { first, paths } => {
                earliest = earliest.min(first);
                touched.extend(paths);
            }
            FileEvent::Rescan => trigger = Trigger::Rescan,
        }
        event = timeout(quiet, receiver.recv()).await.ok().flatten();
    }
    (trigger, earliest)
}
