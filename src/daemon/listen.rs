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
//! ([`super::worker::Worker::known_counter`]): the run loop compares them with that
//! counter once the pass that committed has finished ([`is_foreign`]), so they never
//! cause a pass. A lost connection is re-established (sqlx does it); notifications sent
//! meanwhile are lost, so a reconnect wakes a pass that re-checks the counter.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::store::{self, Location};

/// How long to wait before listening again after the listener failed to connect.
const RECONNECT: Duration = Duration::from_secs(1);

/// What the listener passes on: the counter a notification carries, `None` when it
/// carries none or notifications may have been lost (a reconnect, an error).
pub type Wake = Option<i64>;

/// Whether a notification calls for a pass, given the counter the worker keeps.
pub fn is_foreign(wake: Wake, known: i64) -> bool {
    wake.is_none_or(|counter| counter > known)
}

/// Spawns the listener when `url` is a PostgreSQL database; every notification goes
/// to `wake`.
pub fn spawn(url: &str, wake: UnboundedSender<Wake>) -> Option<tokio::task::JoinHandle<()>> {
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
                        let _ = wake.send(None);
                    }
                    failing = false;
                    tracing::debug!("listening on {}", store::postgres::CHANNEL);
                    while let Some(item) = notifications.next().await {
                        let counter = match item {
                            Ok(notification) => notification.counter,
                            Err(error) => {
                                // The server is away: no busy reconnect loop.
                                tracing::debug!(%error, "database change listener");
                                tokio::time::sleep(RECONNECT).await;
                                None
                            }
                        };
                        if wake.send(counter).is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case(Some(7), 7, false)]
    #[case(Some(6), 7, false)]
    #[case(Some(8), 7, true)]
    #[case(None, 7, true)]
    fn only_counters_beyond_canopys_own_commit_wake_a_pass(
        #[case] wake: Wake,
        #[case] known: i64,
        #[case] foreign: bool,
    ) {
        assert_eq!(is_foreign(wake, known), foreign);
    }
}
