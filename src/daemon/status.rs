//! What `/status` and `/readyz` show: a value the run loop updates after every pass
//! and the HTTP handlers read (behind one mutex, held only to copy or replace fields).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::manifest::{Diagnostic, Location};
use crate::reconcile::BlastRadius;

/// The role of this process among the daemons sharing a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Before the first pass.
    #[default]
    Starting,
    /// Holds the single-writer lock and reconciles.
    Active,
    /// Another instance holds the lock; this one waits to take over.
    Standby,
    /// Shutting down.
    Stopping,
}

/// The daemon's state as `/status` serializes it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub role: Role,
    /// Whether `/readyz` answers 200.
    pub ready: bool,
    pub last_reconcile: Option<LastReconcile>,
    /// The time of the last pass that ended applied or unchanged.
    pub last_success: Option<String>,
    /// Passes by result since start (`applied`, `unchanged`, `held`, ...).
    pub reconciles: std::collections::BTreeMap<String, u64>,
    /// Errors of the manifests as they are now (empty once fixed).
    pub manifest_errors: Vec<ManifestError>,
    /// A plan that could not be made (a permanent problem other than the manifests).
    pub plan_error: Option<String>,
    pub held_plans: Vec<HeldPlanStatus>,
    /// What the last resync found changed in the database by hand.
    pub drift: Option<Drift>,
    pub suspended: Option<SuspendedStatus>,
    /// Set while the database is unreachable or failing.
    pub database_error: Option<DatabaseError>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastReconcile {
    pub at: String,
    /// `applied`, `unchanged`, `held`, `invalid`, `failed`, `suspended`, `skipped`.
    pub result: String,
    /// `startup`, `files`, `rescan`, `resync`, `notify`, `control`, `retry`.
    pub trigger: String,
    pub revision: Option<String>,
    pub changes: usize,
    pub duration_ms: u64,
    /// Where the time went (milliseconds).
    pub phases: Phases,
}

/// The steps of one pass, in milliseconds: `begin` (lock, change counter, and the
/// full read when the kept live state could not be trusted), `load` (the manifests),
/// `diff`, `write` (apply, re-read of the written rows, commit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phases {
    pub begin_ms: f64,
    pub load_ms: f64,
    pub diff_ms: f64,
    pub write_ms: f64,
    /// The live state was read whole (not the kept copy).
    pub read_live: bool,
    /// Only the changed files were read and the objects around them diffed.
    pub edit: bool,
    /// The files to read were the paths the watcher reported: no other file was listed
    /// or stamped.
    pub watched: bool,
}

/// One manifest error with its location.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestError {
    /// `file:line:column` (or the file, or the object).
    pub location: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub rule: String,
    pub message: String,
}

impl ManifestError {
    pub fn of(diagnostic: &Diagnostic) -> ManifestError {
        let (line, column) = match &diagnostic.location {
            Location::Position { line, column, .. } => (Some(*line), Some(*column)),
            _ => (None, None),
        };
        ManifestError {
            location: diagnostic.location.to_string(),
            file: diagnostic.location.file().map(str::to_string),
            line,
            column,
            rule: diagnostic.rule.to_string(),
            message: diagnostic.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldPlanStatus {
    pub id: String,
    pub held_at: String,
    pub summary: String,
    pub radius: BlastRadius,
    pub changes: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub at: String,
    /// `corrected` or `reported`.
    pub action: String,
    /// `op kind name` of each difference found.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuspendedStatus {
    pub until: String,
    pub reason: String,
    pub by: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseError {
    pub since: String,
    pub message: String,
    pub retries: u32,
}

/// Now as RFC 3339 UTC with milliseconds, e.g. `2026-12-01T21:49:00.123Z`.
pub fn now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since_epoch.as_millis())
}

/// Unix time in seconds, as a float (for gauges).
pub fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn rfc3339(milliseconds: u128) -> String {
    let seconds = (milliseconds / 1000) as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
        milliseconds % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case(0, "1970-01-01T00:00:00.000Z")]
    #[case(951_782_400_000, "2000-02-29T00:00:00.000Z")]
    #[case(1_796_247_005_123, "2026-12-02T21:30:05.123Z")]
    fn timestamps_are_rfc3339_utc(#[case] milliseconds: u128, #[case] text: &str) {
        assert_eq!(rfc3339(milliseconds), text);
    }
}
