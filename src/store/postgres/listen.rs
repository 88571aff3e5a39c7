//! `LISTEN canopy_changes`: the notifications the change-counter trigger sends on every
//! committed write to the tables canopy owns, canopy's or a hand edit, as an async
//! stream for the daemon (which runs on tokio; the [`Store`](super::Store) stays
//! synchronous).
//!
//! sqlx's `PgListener` reconnects by itself when its connection is lost and listens
//! again; notifications sent while it was away are lost, so a daemon rereads the
//! counter (or resyncs) after an error item.

use futures_util::{Stream, StreamExt};
use sqlx::postgres::PgListener;

use super::super::{Result, StoreError};
use super::connect::Settings;

/// The channel the trigger notifies.
pub const CHANNEL: &str = "canopy_changes";

/// One notification: the change counter after the write that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The counter value the payload carries (`None` if the payload was not a number:
    /// someone else sent a NOTIFY on the channel).
    pub counter: Option<i64>,
    /// The backend process that wrote.
    pub process_id: u32,
}

/// Connects to the database a URL names (the same settings as the store: TLS, `PG*`
/// variables, `connect_timeout`) and listens on [`CHANNEL`]. Call from a tokio
/// runtime with I/O and time enabled.
pub async fn listen(url: &str) -> Result<impl Stream<Item = Result<Notification>> + Unpin> {
    let settings = Settings::parse(url)?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(
            settings
                .connect_timeout
                .unwrap_or(std::time::Duration::from_secs(u64::from(u32::MAX))),
        )
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(settings.options.clone());
    // The first connection is made here, so a bad URL or server fails now, explained.
    drop(settings.connect().await?);
    let mut listener =
        PgListener::connect_with(&pool)
            .await
            .map_err(|error| StoreError::Connect {
                url: settings.shown.clone(),
                cause: error.into(),
            })?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(|error| StoreError::database("listen canopy_changes", error))?;
    Ok(listener.into_stream().map(|item| {
        item.map(|notification| Notification {
            counter: notification.payload().parse().ok(),
            process_id: notification.process_id(),
        })
        .map_err(|error| StoreError::database("receive from canopy_changes", error))
    }))
}
