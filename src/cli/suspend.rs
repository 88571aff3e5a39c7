//! `canopy suspend --for DUR --reason TEXT` and `canopy resume`: stop and restart every
//! daemon on the database (the suspension is stored there and expires by itself).

use std::time::Duration;

use super::{GlobalArgs, Outcome};
use crate::store;

pub fn suspend(global: &GlobalArgs, duration: Duration, reason: &str) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!duration.is_zero(), "--for must be longer than 0s");
    let seconds = i64::try_from(duration.as_secs().max(1)).unwrap_or(i64::MAX);
    let mut store = store::open_existing(&global.database_url)?;
    let suspension = store.suspend(seconds, reason, &super::apply::actor())?;
    eprintln!(
        "Suspended reconciling until {} ({}).",
        suspension.until, suspension.reason
    );
    Ok(Outcome::Success)
}

pub fn resume(global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut store = store::open_existing(&global.database_url)?;
    if store.resume()? {
        eprintln!("Resumed reconciling.");
    } else {
        eprintln!("Reconciling was not suspended.");
    }
    Ok(Outcome::Success)
}
