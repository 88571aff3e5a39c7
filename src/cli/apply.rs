//! `canopy apply`: plan and apply in one transaction, or apply a saved plan exactly.
//!
//! The write transaction (and with it the single-writer lock) is taken before the live
//! snapshot is read, so nothing can change between planning and writing; a saved plan
//! is refused unless the live state still has the fingerprint it was planned against.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

use super::plan::{SAVED_PLAN_VERSION, SavedPlan, load_manifests, plan_options, print_plan};
use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat};
use crate::model::Hierarchy;
use crate::plan;
use crate::store::{self, ApplyContext};

pub fn apply(
    global: &GlobalArgs,
    paths: &[String],
    yes: bool,
    format: PlanFormat,
    options: &PlanArgs,
) -> anyhow::Result<Outcome> {
    let saved = saved_plan(paths)?;
    let mut store = store::open(&global.database_url)?;
    let mut txn = store.begin()?;
    let snapshot = txn.snapshot()?;
    let (plan, desired) = match saved {
        Some(saved) => (saved.plan, None),
        None => {
            let loaded = load_manifests(paths, Some(&snapshot.hierarchy))?;
            let plan = plan::diff(
                &snapshot.hierarchy,
                &loaded.hierarchy,
                &plan_options(options, snapshot.fingerprint.clone()),
            )?;
            (plan, Some(loaded.hierarchy))
        }
    };
    let desired = desired.unwrap_or_else(Hierarchy::default);
    print_plan(&plan, &snapshot.hierarchy, &desired, format)?;
    if plan.is_empty() && plan.writes.is_empty() {
        return Ok(Outcome::Success);
    }
    if !yes {
        confirm()?;
    }
    let context = ApplyContext {
        actor: actor(),
        source: plan.source.clone(),
        revision: options.revision.clone(),
    };
    let report = txn.apply(&plan, &context)?;
    txn.commit()?;
    eprintln!(
        "Applied {} changes ({} accounts created).",
        plan.changes.len(),
        report.assigned.len()
    );
    Ok(Outcome::Success)
}

/// `Some` when the arguments name one saved plan file rather than manifests.
fn saved_plan(paths: &[String]) -> anyhow::Result<Option<SavedPlan>> {
    let [path] = paths else { return Ok(None) };
    let path = Path::new(path);
    let is_manifest = path
        .extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml");
    if path.as_os_str() == "-" || is_manifest || !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a saved canopy plan", path.display()))?;
    anyhow::ensure!(
        saved.canopy_plan_version == SAVED_PLAN_VERSION,
        "{} is a plan of format version {}, this canopy reads version {SAVED_PLAN_VERSION}",
        path.display(),
        saved.canopy_plan_version
    );
    Ok(Some(saved))
}

fn confirm() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    anyhow::ensure!(
        stdin.is_terminal(),
        "refusing to apply without confirmation: standard input is not a terminal (pass --yes)"
    );
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    anyhow::ensure!(
        answer.trim() == "yes",
        "apply cancelled; nothing was written"
    );
    Ok(())
}

fn actor() -> String {
    std::env::var("CANOPY_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "canopy".to_string())
}
