//! `canopy apply`: plan and apply in one transaction, or apply a saved plan exactly.
//!
//! The steps are those of [`crate::reconcile::Pass`]: the write transaction (and with it
//! the single-writer lock) is taken before the live snapshot is read, so nothing can
//! change between planning, confirming and writing; a saved plan is refused unless the
//! live state still has the fingerprint it was planned against.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

use super::plan::{SAVED_PLAN_VERSION, SavedPlan, load_manifests, plan_options, print_plan};
use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat};
use crate::model::Hierarchy;
use crate::reconcile;
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
    let pass = reconcile::Pass::begin(&mut *store)?;
    let planned = match saved {
        Some(saved) => pass.saved(saved.plan),
        None => pass.plan(
            |live: &Hierarchy| load_manifests(paths, Some(live)),
            &plan_options(options, String::new()),
        )?,
    };
    let no_desired = Hierarchy::default();
    let desired = planned.desired().unwrap_or(&no_desired);
    print_plan(planned.plan(), &planned.live().hierarchy, desired, format)?;
    if !planned.has_writes() {
        return Ok(Outcome::Success);
    }
    if !yes {
        confirm()?;
    }
    let context = ApplyContext {
        actor: actor(),
        source: planned.plan().source.clone(),
        revision: options.revision.clone(),
    };
    let applied = planned.apply(&context)?;
    eprintln!(
        "Applied {} changes ({} accounts created).",
        applied.plan.changes.len(),
        applied.report.assigned.len()
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
