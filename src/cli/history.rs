//! `canopy history [NAME]`: the audit log, oldest first, as text or JSON Lines; with
//! `--follow` it keeps printing entries as they are recorded, resuming after `--after`.
//!
//! The log is read in pages by sequence number ([`store::Store::audit`]), so a stream
//! never skips or repeats an entry: a consumer that stops can resume with
//! `--after LAST_SEQUENCE_SEEN`.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::{GlobalArgs, Outcome, ReportFormat};
use crate::store::{self, AuditRecord};

/// Entries read per query.
const PAGE: usize = 1000;

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only the entries of this account, group or plan.
    pub name: Option<String>,
    /// `text`, or `json`: one JSON object per line (JSON Lines), also with --follow.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
    /// Keep running and print new entries as they are recorded.
    #[arg(short, long)]
    pub follow: bool,
    /// Only entries with a sequence number above this (resume a stream).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: i64,
    /// How often --follow looks for new entries: `500ms`, `2s`, `1m`.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::daemon::duration::parse)]
    pub poll_interval: Duration,
}

pub fn history(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<Outcome> {
    let mut live = store::open_existing(&global.database_url)?;
    let mut after = args.after;
    loop {
        let page = live.audit(after, PAGE).context("reading the audit log")?;
        let mut out = std::io::stdout().lock();
        for record in &page {
            if args.name.as_deref().is_none_or(|name| record.name == name) {
                let line = match args.output {
                    ReportFormat::Text => text_line(record),
                    ReportFormat::Json => json_line(record),
                };
                writeln!(out, "{line}").context("writing to standard output")?;
            }
        }
        out.flush().context("writing to standard output")?;
        drop(out);
        if let Some(last) = page.last() {
            after = last.sequence;
        }
        if page.len() == PAGE {
            continue;
        }
        if !args.follow {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(args.poll_interval);
    }
}

/// `#7  2026-05-01T10:00:00Z  anna  default  rev 1a2b  update account acme-eu  displayName`
fn text_line(record: &AuditRecord) -> String {
    let revision = record
        .revision
        .as_deref()
        .map(|revision| format!("  rev {revision}"))
        .unwrap_or_default();
    let fields = changed_fields(record);
    let fields = if fields.is_empty() {
        String::new()
    } else {
        format!("  ({})", fields.join(", "))
    };
    format!(
        "#{}  {}  {}  {}{revision}  {} {} {}{fields}",
        record.sequence,
        record.at,
        record.actor,
        record.source,
        record.op,
        record.kind,
        record.name
    )
}

/// The top-level fields whose values differ between before and after (updates).
fn changed_fields(record: &AuditRecord) -> Vec<String> {
    let (Some(serde_json::Value::Object(before)), Some(serde_json::Value::Object(after))) =
        (&record.before, &record.after)
    else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}

fn json_line(record: &AuditRecord) -> String {
    json!({
        "sequence": record.sequence,
        "at": record.at,
        "actor": record.actor,
        "source": record.source,
        "revision": record.revision,
        "op": record.op,
        "kind": record.kind,
        "name": record.name,
        "before": record.before,
        "after": record.after,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_line_names_the_changed_fields() {
        let record = AuditRecord {
            sequence: 7,
            at: "2026-05-01T10:00:00Z".to_string(),
            actor: "anna".to_string(),
            source: "default".to_string(),
            revision: Some("1a2b".to_string()),
            op: "update".to_string(),
            kind: "Account".to_string(),
            name: "acme-eu".to_string(),
            before: Some(json!({"displayName": "A", "active": true})),
            after: Some(json!({"displayName": "B", "active": true})),
        };
        assert_eq!(
            text_line(&record),
            "#7  2026-05-01T10:00:00Z  anna  default  rev 1a2b  update Account acme-eu  (displayName)"
        );
    }
}
