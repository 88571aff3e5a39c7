//! PostgreSQL side of [`crate::store::control`]: the suspension row and held plans.
//! Times are the server's (`now()`), rendered as RFC 3339 UTC.

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use super::{database, simple};
use crate::store::{HeldPlan, Result, StoreError, Suspension};

const SUSPENSION: &str =
    "SELECT to_char(until_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
        reason, suspended_by FROM canopy_suspension
 WHERE id = 1 AND until_at > now()";

const SUSPEND: &str = "INSERT INTO canopy_suspension (id, until_at, reason, suspended_by)
 VALUES (1, now() + make_interval(secs => $1), $2, $3)
 ON CONFLICT (id) DO UPDATE SET until_at = excluded.until_at,
     reason = excluded.reason, suspended_by = excluded.suspended_by,
     suspended_at = excluded.suspended_at
 RETURNING to_char(until_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
     reason, suspended_by";

const HELD_PLANS: &str = "SELECT id, source, summary, plan::text,
        to_char(held_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
 FROM canopy_held_plans ORDER BY held_at, id";

fn suspension_of(row: &PgRow) -> std::result::Result<Suspension, sqlx::Error> {
    Ok(Suspension {
        until: row.try_get(0)?,
        reason: row.try_get(1)?,
        by: row.try_get(2)?,
    })
}

pub(super) async fn suspension(connection: &mut PgConnection) -> Result<Option<Suspension>> {
    let row = sqlx::query(SUSPENSION)
        .fetch_optional(connection)
        .await
        .map_err(database("read canopy_suspension"))?;
    row.as_ref()
        .map(suspension_of)
        .transpose()
        .map_err(database("read canopy_suspension"))
}

pub(super) async fn suspend(
    connection: &mut PgConnection,
    seconds: i64,
    reason: &str,
    by: &str,
) -> Result<Suspension> {
    let seconds = seconds as f64;
    let row = sqlx::query(SUSPEND)
        .bind(seconds)
        .bind(reason)
        .bind(by)
        .fetch_one(connection)
        .await
        .map_err(database("write canopy_suspension"))?;
    suspension_of(&row).map_err(database("write canopy_suspension"))
}

pub(super) async fn resume(connection: &mut PgConnection) -> Result<bool> {
    let active = suspension(connection).await?.is_some();
    sqlx::query("DELETE FROM canopy_suspension")
        .execute(connection)
        .await
        .map_err(database("delete canopy_suspension"))?;
    Ok(active)
}

pub(super) async fn hold_plan(connection: &mut PgConnection, held: &HeldPlan) -> Result<()> {
    let plan = serde_json::to_string(&held.plan).map_err(|error| StoreError::InvalidRow {
        table: "canopy_held_plans".to_string(),
        name: held.id.clone(),
        message: error.to_string(),
    })?;
    simple(connection, "begin hold plan", "BEGIN").await?;
    let written = write_held_plan(connection, held, &plan).await;
    let end = if written.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = simple(connection, "commit hold plan", end).await;
    written?;
    ended
}

async fn write_held_plan(connection: &mut PgConnection, held: &HeldPlan, plan: &str) -> Result<()> {
    sqlx::query("DELETE FROM canopy_held_plans WHERE source = $1 AND id <> $2")
        .bind(&held.source)
        .bind(&held.id)
        .execute(&mut *connection)
        .await
        .map_err(database("replace canopy_held_plans"))?;
    sqlx::query(
        "INSERT INTO canopy_held_plans (id, source, summary, plan)
         VALUES ($1, $2, $3, $4::text::jsonb)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&held.id)
    .bind(&held.source)
    .bind(&held.summary)
    .bind(plan)
    .execute(connection)
    .await
    .map_err(database("write canopy_held_plans"))?;
    Ok(())
}

pub(super) async fn held_plans(connection: &mut PgConnection) -> Result<Vec<HeldPlan>> {
    let rows = sqlx::query(HELD_PLANS)
        .fetch_all(connection)
        .await
        .map_err(database("read canopy_held_plans"))?;
    rows.iter()
        .map(|row| {
            let read = || -> std::result::Result<_, sqlx::Error> {
                Ok((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<String, _>(2)?,
                    row.try_get::<String, _>(3)?,
                    row.try_get::<String, _>(4)?,
                ))
            };
            let (id, source, summary, plan, held_at) =
                read().map_err(database("read canopy_held_plans"))?;
            let plan = crate::store::control::decode_plan(&id, &plan)?;
            Ok(HeldPlan {
                id,
                source,
                summary,
                plan,
                held_at,
            })
        })
        .collect()
}

pub(super) async fn release_held_plans(
    connection: &mut PgConnection,
    source: &str,
    id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM canopy_held_plans WHERE source = $1 AND ($2::text IS NULL OR id = $2)",
    )
    .bind(source)
    .bind(id)
    .execute(connection)
    .await
    .map_err(database("delete canopy_held_plans"))?;
    Ok(())
}
