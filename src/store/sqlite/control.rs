//! SQLite side of [`crate::store::control`]: the suspension row and held plans.

use rusqlite::{Connection, OptionalExtension, params};

use super::database;
use crate::store::{HeldPlan, Result, StoreError, Suspension};

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

pub(super) fn suspension(connection: &Connection) -> Result<Option<Suspension>> {
    connection
        .query_row(
            &format!(
                "SELECT until_at, reason, suspended_by FROM canopy_suspension
                 WHERE id = 1 AND until_at > {NOW}"
            ),
            [],
            |row| {
                Ok(Suspension {
                    until: row.get(0)?,
                    reason: row.get(1)?,
                    by: row.get(2)?,
                })
            },
        )
        .optional()
        .map_err(database("read canopy_suspension"))
}

pub(super) fn suspend(
    connection: &Connection,
    seconds: i64,
    reason: &str,
    by: &str,
) -> Result<Suspension> {
    let offset = format!("+{seconds} seconds");
    connection
        .query_row(
            "INSERT INTO canopy_suspension (id, until_at, reason, suspended_by)
             VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1), ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET until_at = excluded.until_at,
                 reason = excluded.reason, suspended_by = excluded.suspended_by,
                 suspended_at = excluded.suspended_at
             RETURNING until_at, reason, suspended_by",
            params![offset, reason, by],
            |row| {
                Ok(Suspension {
                    until: row.get(0)?,
                    reason: row.get(1)?,
                    by: row.get(2)?,
                })
            },
        )
        .map_err(database("write canopy_suspension"))
}

pub(super) fn resume(connection: &Connection) -> Result<bool> {
    let active = suspension(connection)?.is_some();
    connection
        .execute("DELETE FROM canopy_suspension", [])
        .map_err(database("delete canopy_suspension"))?;
    Ok(active)
}

pub(super) fn hold_plan(connection: &mut Connection, held: &HeldPlan) -> Result<()> {
    let plan = serde_json::to_string(&held.plan).map_err(|error| StoreError::InvalidRow {
        table: "canopy_held_plans".to_string(),
        name: held.id.clone(),
        message: error.to_string(),
    })?;
    let transaction = connection
        .transaction()
        .map_err(database("begin hold plan"))?;
    transaction
        .execute(
            "DELETE FROM canopy_held_plans WHERE source = ?1 AND id <> ?2",
            params![held.source, held.id],
        )
        .map_err(database("replace canopy_held_plans"))?;
    transaction
        .execute(
            "INSERT INTO canopy_held_plans (id, source, summary, plan) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
            params![held.id, held.source, held.summary, plan],
        )
        .map_err(database("write canopy_held_plans"))?;
    transaction.commit().map_err(database("commit hold plan"))
}

pub(super) fn held_plans(connection: &Connection) -> Result<Vec<HeldPlan>> {
    let mut statement = connection
        .prepare(
            "SELECT id, source, summary, plan, held_at FROM canopy_held_plans
             ORDER BY held_at, id",
        )
        .map_err(database("read canopy_held_plans"))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .map_err(database("read canopy_held_plans"))?;
    let mut held = Vec::new();
    for row in rows {
        let (id, source, summary, plan, held_at) =
            row.map_err(database("read canopy_held_plans"))?;
        let plan = crate::store::control::decode_plan(&id, &plan)?;
        held.push(HeldPlan {
            id,
            source,
            summary,
            plan,
            held_at,
        });
    }
    Ok(held)
}

pub(super) fn release_held_plans(
    connection: &Connection,
    source: &str,
    id: Option<&str>,
) -> Result<()> {
    connection
        .execute(
            "DELETE FROM canopy_held_plans WHERE source = ?1 AND (?2 IS NULL OR id = ?2)",
            params![source, id],
        )
        .map_err(database("delete canopy_held_plans"))?;
    Ok(())
}
