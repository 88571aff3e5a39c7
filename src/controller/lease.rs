//! Leader election with a `coordination.k8s.io/v1` Lease, by `kube-lease-manager`:
//! only the instance holding the Lease reconciles Kubernetes resources (and, with
//! `--watch` as well, files).
//!
//! ```text
//! LeaseManager::watch ─ bool changes ─> Leadership { leader: Arc<AtomicBool>, changes }
//!      leader = false ─> the controller sends no batch and writes nothing to the API
//!                        server; the daemon's worker releases the single-writer lock
//!                        before its next pass (the store fences as well)
//! ```
//!
//! The manager renews the Lease before it expires (duration 15 s, renewed in the last
//! 5 s) and takes it over once another holder let it expire. The election runs in the
//! background: an API server that cannot be reached is retried with backoff, standing
//! by meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

use crate::daemon::backoff::Backoff;

/// How long a Lease is valid after its last renewal, in seconds.
pub const DURATION_SECONDS: u64 = 15;
/// The holder renews this long before the Lease expires.
pub const GRACE_SECONDS: u64 = 5;

/// Which Lease, and who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOptions {
    pub name: String,
    pub namespace: String,
    /// Unique among the replicas (the pod name in a cluster).
    pub identity: String,
}

#[derive(Debug, thiserror::Error)]
#[error("leader election with Lease {namespace}/{name}")]
pub struct LeaseError {
    pub name: String,
    pub namespace: String,
    #[source]
    pub source: kube_lease_manager::LeaseManagerError,
}

/// Whether this instance leads, now (`leader`) and as changes (`changes`).
#[derive(Debug, Clone)]
pub struct Leadership {
    pub leader: Arc<AtomicBool>,
    pub changes: watch::Receiver<bool>,
}

impl Leadership {
    /// Leads from the start and forever (no election).
    pub fn always() -> Leadership {
        let (sender, changes) = watch::channel(true);
        // Dropped at once: `changes` keeps its value and never reports a change.
        drop(sender);
        Leadership {
            leader: Arc::new(AtomicBool::new(true)),
            changes,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }
}

/// Starts taking part in the election, in the background: the flag is false until
/// the Lease is held, and follows it from then on. An API server that cannot be
/// reached (at start or later) is retried with backoff.
pub fn elect(client: Client, options: &LeaseOptions) -> Leadership {
    let leader = Arc::new(AtomicBool::new(false));
    let (sender, changes) = watch::channel(false);
    tokio::spawn(campaign(client, options.clone(), leader.clone(), sender));
    Leadership { leader, changes }
}

async fn campaign(
    client: Client,
    options: LeaseOptions,
    leader: Arc<AtomicBool>,
    sender: watch::Sender<bool>,
) {
    let mut backoff = Backoff::default();
    while !sender.is_closed() {
        match manager(&client, &options).await {
            Ok(manager) => {
                backoff.reset();
                follow(manager, &options.name, &leader, &sender).await;
            }
            Err(error) => {
                tracing::warn!(%error, cause = %error.source, "leader election; retrying");
            }
        }
        // Standing by until the election runs again.
        leader.store(false, Ordering::SeqCst);
        sender.send_if_modified(|leading| std::mem::replace(leading, false));
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

async fn manager(client: &Client, options: &LeaseOptions) -> Result<LeaseManager, LeaseError> {
    LeaseManagerBuilder::new(client.clone(), &options.name)
        .with_namespace(&options.namespace)
        .with_identity(&options.identity)
        .with_duration(DURATION_SECONDS)
        .with_grace(GRACE_SECONDS)
        .build()
        .await
        .map_err(|source| LeaseError {
            name: options.name.clone(),
            namespace: options.namespace.clone(),
            source,
        })
}

/// Mirrors the manager's view into `leader` and `sender` until it ends.
async fn follow(
    manager: LeaseManager,
    name: &str,
    leader: &AtomicBool,
    sender: &watch::Sender<bool>,
) {
    let (mut from_manager, task) = manager.watch().await;
    loop {
        let now = *from_manager.borrow_and_update();
        if now != leader.load(Ordering::SeqCst) {
            // The flag first: writers check it before every write.
            leader.store(now, Ordering::SeqCst);
            if now {
                tracing::info!(lease = %name, "took the leader Lease; this instance reconciles");
            } else {
                tracing::warn!(lease = %name, "lost the leader Lease; standing by");
            }
            if sender.send(now).is_err() {
                break;
            }
        }
        if from_manager.changed().await.is_err() {
            break;
        }
    }
    leader.store(false, Ordering::SeqCst);
    drop(from_manager);
    match task.await {
        Ok(Ok(_)) => tracing::info!(lease = %name, "left the leader election"),
        Ok(Err(error)) => tracing::error!(lease = %name, %error, "leader election failed"),
        Err(error) => tracing::error!(lease = %name, %error, "leader election task failed"),
    }
}

/// This instance's identity: `POD_NAME` when set (the chart sets it), else the host
/// name and process id.
pub fn identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!(
        "{}-{}",
        if host.is_empty() { "canopy" } else { &host },
        std::process::id()
    )
}
