//! On PostgreSQL: `LISTEN canopy_changes` on the daemon's runtime, so that a write made
//! outside canopy (a hand edit) wakes a pass at once instead of at the next resync.
//!
//! ```text
//! trigger ─NOTIFY counter─> PgListener ─> counter > known? ─yes─> Trigger::Notify
//!                                                 │no: canopy's own commit, ignored
//! ```
//!
//! The payload is the change counter after the writing statement. canopy's own commits
//! notify too, with values up to the counter its worker keeps after committing
//! ([`super::worker::Worker::known_counter`]): those are dropped here, so they never
//! cause a pass. A lost connection is re-established (sqlx does it); notifications
//! sent meanwhile are lost, so a reconnect wakes a pass that re-checks the counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::store::{self, Location};

/// How long to wait before listening again after the listener failed to connect.
const RECONNECT: Duration = Duration::from_secs(1);

/// Spawns the listener when `url` is a PostgreSQL database; each notification that is
/// not canopy's own sends `()` on `wake`.
pub fn spawn(
    url: &str,
    known: Arc<AtomicI64>,
    wake: UnboundedSender<()>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !matches!(Location::parse(url), Ok(Location::Postgres(_))) {
        return None;
    }
    let url = url.to_string();
    Some(tokio::spawn(async move {
        let mut failing = false;
        loop {
            match store::postgres::listen(&url).await {
                Ok(mut notifications) => {
                    if failing {
                        tracing::info!("listening for database changes again");
                        // Writes may have been missed meanwhile.
                        let _ = wake.send(());
                    }
                    failing = false;
                    tracing::debug!("listening on {}", store::postgres::CHANNEL);
                    while let Some(item) = notifications.next().await {
                        let foreign = match item {
                            Ok(notification) => notification
                                .counter
                                .is_none_or(|counter| counter > known.load(Ordering::SeqCst)),
                            Err(error) => {
                                tracing::debug!(%error, "database change listener");
                                true
                            }
                        };
                        if foreign && wake.send(()).is_err() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot listen for database changes; retrying");
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }))
}
