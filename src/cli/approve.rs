//! `canopy approve ID`: apply a plan the daemon's blast-radius gate held, if the live
//! state is still the one it was planned against.

use super::{GlobalArgs, Outcome};
use crate::daemon::approve;
use crate::store;

pub fn approve(global: &GlobalArgs, id: &str) -> anyhow::Result<Outcome> {
    let mut store = store::open_existing(&global.database_url)?;
    let approved = approve::approve(store.as_mut(), id, &super::apply::actor())?;
    let created = approved.report.assigned.len();
    let mut counts = super::output::count(approved.changes, "change", "changes");
    if created > 0 {
        counts.push_str(&format!(
            ", {} created",
            super::output::count(created, "account", "accounts")
        ));
    }
    eprintln!("Applied held plan {id}: {} ({counts}).", approved.summary);
    Ok(Outcome::Success)
}
