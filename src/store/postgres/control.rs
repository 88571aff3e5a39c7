//! PostgreSQL side of [`crate::store::control`]: the suspension row and held plans.
//! Times are the server's (`now()`), rendered as RFC 3339 UTC.

use postgres::Client;

use super::database;
use crate::store::{HeldPlan, Result, StoreError, Suspension};

/// `until_at` as RFC 3339 UTC text with milliseconds.
const UNTIL: &str = "to_char(until_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
const HELD_AT: &str = "to_char(held_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

pub(super) fn suspension(client: &mut Client) -> Result<Option<Suspension>> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {UNTIL}, reason, suspended_by FROM canopy_suspension
                 WHERE id = 1 AND until_at > now()"
            ),
            &[],
        )
        .map_err(database("read canopy_suspension"))?;
    Ok(row.map(|row| Suspension {
        until: row.get(0),
        reason: row.get(1),
        by: row.get(2),
    }))
}

pub(super) fn suspend(
    client: &mut Client,
    seconds: i64,
    reason: &str,
    by: &str,
) -> Result<Suspension> {
    let seconds = seconds as f64;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO canopy_suspension (id, until_at, reason, suspended_by)
                 VALUES (1, now() + make_interval(secs => $1), $2, $3)
                 ON CONFLICT (id) DO UPDATE SET until_at = excluded.until_at,
                     reason = excluded.reason, suspended_by = excluded.suspended_by,
                     suspended_at = excluded.suspended_at
                 RETURNING {UNTIL}, reason, suspended_by"
            ),
            &[&seconds, &reason, &by],
        )
        .map_err(database("write canopy_suspension"))?;
    Ok(Suspension {
        until: row.get(0),
        reason: row.get(1),
        by: row.get(2),
    })
}

pub(super) fn resume(client: &mut Client) -> Result<bool> {
    let active = suspension(client)?.is_some();
    client
        .execute("DELETE FROM canopy_suspension", &[])
        .map_err(database("delete canopy_suspension"))?;
    Ok(active)
}

pub(super) fn hold_plan(client: &mut Client, held: &HeldPlan) -> Result<()> {
    let plan = serde_json::to_string(&held.plan).map_err(|error| StoreError::InvalidRow {
        table: "canopy_held_plans".to_string(),
        name: held.id.clone(),
        message: error.to_string(),
    })?;
    let mut transaction = client.transaction().map_err(database("begin hold plan"))?;
    transaction
        .execute(
            "DELETE FROM canopy_held_plans WHERE source = $1 AND id <> $2",
            &[&held.source, &held.id],
        )
        .map_err(database("replace canopy_held_plans"))?;
    transaction
        .execute(
            "INSERT INTO canopy_held_plans (id, source, summary, plan) VALUES ($1, $2, $3, $4::text::jsonb)
             ON CONFLICT (id) DO NOTHING",
            &[&held.id, &held.source, &held.summary, &plan],
        )
        .map_err(database("write canopy_held_plans"))?;
    transaction.commit().map_err(database("commit hold plan"))
}

pub(super) fn held_plans(client: &mut Client) -> Result<Vec<HeldPlan>> {
    let rows = client
        .query(
            &format!(
                "SELECT id, source, summary, plan::text, {HELD_AT} FROM canopy_held_plans
                 ORDER BY held_at, id"
            ),
            &[],
        )
        .map_err(database("read canopy_held_plans"))?;
    rows.into_iter()
        .map(|row| {
            let id: String = row.get(0);
            let plan: String = row.get(3);
            let plan = crate::store::control::decode_plan(&id, &plan)?;
            Ok(HeldPlan {
                id,
                source: row.get(1),
                summary: row.get(2),
                plan,
                held_at: row.get(4),
            })
        })
        .collect()
}

pub(super) fn release_held_plans(
    client: &mut Client,
    source: &str,
    id: Option<&str>,
) -> Result<()> {
    client
        .execute(
            "DELETE FROM canopy_held_plans WHERE source = $1 AND ($2::text IS NULL OR id = $2)",
            &[&source, &id],
        )
        .map_err(database("delete canopy_held_plans"))?;
    Ok(())
}
