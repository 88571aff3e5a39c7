//! `canopy get`, `canopy usage`, `canopy migrate`: read the live store and print it. The renderings are pure
//! functions in [`get_output`], [`get_diagram`] and [`usage_output`], tested with snapshots.

mod get_diagram;
mod get_output;
mod usage_import;
mod usage_output;

use anyhow::Context;

use super::{GetFormat, GlobalArgs, Outcome, UsageFormat, progress};
use crate::store;

fn open(global: &GlobalArgs) -> anyhow::Result<Box<dyn store::Store>> {
    // The store's errors already name the (redacted) URL.
    Ok(store::open_existing(&global.database_url)?)
}

pub fn get(
    global: &GlobalArgs,
    name: Option<&str>,
    depth: Option<usize>,
    output: GetFormat,
) -> anyhow::Result<Outcome> {
    let mut live = open(global)?;
    let reading = progress::spinner("reading the live state");
    let snapshot = live.snapshot().context("reading the live state")?;
    let usage_rows = live.usage(None).context("reading usage")?;
    drop(reading);
    tracing::info!(
        nodes = snapshot.hierarchy.nodes.len(),
        plans = snapshot.hierarchy.plans.len(),
        usage_rows = usage_rows.len(),
        "get: read the live state"
    );
    let usage = store::usage::report(&snapshot.hierarchy, &usage_rows, None);
    let mut objects = get_output::objects(&snapshot.hierarchy, &usage, name)?;
    if let Some(depth) = depth {
        objects.retain(|object| {
            object.kind == crate::model::Kind::ServicePlan || object.depth <= depth
        });
    }
    let text = match output {
        GetFormat::Tree => get_output::tree(&objects),
        GetFormat::Table => get_output::table(&objects),
        GetFormat::Wide => get_output::wide(&objects),
        GetFormat::Json => {
            let mut text = serde_json::to_string_pretty(&objects)?;
            text.push('\n');
            text
        }
        GetFormat::Yaml => serde_yaml::to_string(&objects)?,
        GetFormat::Mermaid => get_diagram::mermaid(&objects),
        GetFormat::Dot => get_diagram::dot(&objects),
        GetFormat::Name => objects
            .iter()
            .map(|object| format!("{}\n", object.name))
            .collect(),
    };
    print!("{text}");
    Ok(Outcome::Success)
}

pub fn usage(
    global: &GlobalArgs,
    period: Option<&str>,
    import: Option<&std::path::Path>,
    output: UsageFormat,
) -> anyhow::Result<Outcome> {
    if let Some(period) = period {
        usage_output::check_period(period)?;
    }
    let imported = import.map(usage_import::read).transpose()?;
    let mut live = open(global)?;
    let snapshot = live.snapshot().context("reading the live state")?;
    if let (Some(file), Some(rows)) = (import, imported) {
        usage_import::check_accounts(file, &rows, &snapshot.hierarchy)?;
        let rows: Vec<store::UsageRow> = rows.into_iter().map(|(_, row)| row).collect();
        live.record_usage(&rows).context("recording usage")?;
        tracing::info!(records = rows.len(), file = %file.display(), "usage: recorded");
        super::output::note(&format!(
            "Recorded {} usage records from {}.",
            rows.len(),
            file.display()
        ));
    }
    let rows = live.usage(period).context("reading usage")?;
    let report = store::usage::report(&snapshot.hierarchy, &rows, period);
    let text = match output {
        UsageFormat::Table => usage_output::text(&report),
        UsageFormat::Csv => usage_output::csv(&report)?,
        UsageFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report)?;
            text.push('\n');
            text
        }
    };
    print!("{text}");
    Ok(Outcome::Success)
}

pub fn migrate(global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let migrated = store::migrate(&global.database_url)?;
    if migrated.from == migrated.to {
        println!("schema is up to date (version {})", migrated.to);
    } else {
        println!(
            "schema migrated from version {} to {}",
            migrated.from, migrated.to
        );
    }
    Ok(Outcome::Success)
}
