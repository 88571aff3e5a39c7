//! `canopy apply`: plan and apply in one transaction, or apply a saved plan exactly.
//!
//! The write transaction (and with it the single-writer lock) is taken before the live
//! snapshot is read, so nothing can change between planning and writing. A saved plan
//! is planned again inside that transaction ([`SavedPlan::replan`]) and refused unless
//! the live state is the one it was planned against and the changes are the ones saved.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

use super::plan::{load_manifests, plan_options, print_plan};
use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat, output};
use crate::plan::{self, saved::SavedPlan};
use crate::store::{self, ApplyContext};

pub fn apply(
    global: &GlobalArgs,
    paths: &[String],
    yes: bool,
    format: PlanFormat,
    options: &PlanArgs,
) -> anyhow::Result<Outcome> {
    let saved = saved_plan(paths, options)?;
    let mut store = store::open(&global.database_url)?;
    let mut txn = store.begin()?;
    let snapshot = txn.snapshot()?;
    // A saved plan was reviewed when it was made: that review is the confirmation.
    let reviewed = saved.is_some();
    let (plan, desired, revision) = match saved {
        Some(saved) => {
            let plan = saved.replan(&snapshot.hierarchy, &snapshot.fingerprint)?;
            let revision = options.revision.clone().or(saved.content.revision);
            (plan, saved.content.desired, revision)
        }
        None => {
            let loaded = load_manifests(paths, Some(&snapshot.hierarchy))?;
            let plan = plan::diff(
                &snapshot.hierarchy,
                &loaded.hierarchy,
                &plan_options(options, snapshot.fingerprint.clone()),
            )?;
            (plan, loaded.hierarchy, options.revision.clone())
        }
    };
    print_plan(&plan, &snapshot.hierarchy, &desired, format)?;
    if plan.is_empty() && plan.writes.is_empty() {
        return Ok(Outcome::Success);
    }
    if !yes && !reviewed {
        confirm()?;
    }
    let context = ApplyContext {
        actor: actor(),
        source: plan.source.clone(),
        revision,
    };
    let report = txn.apply(&plan, &context)?;
    txn.commit()?;
    output::note(&format!(
        "Applied {} ({} created).",
        output::count(plan.changes.len(), "change", "changes"),
        output::count(report.assigned.len(), "account", "accounts")
    ));
    Ok(Outcome::Success)
}

/// `Some` when the arguments name a saved plan file: a file not named `*.yaml`/`*.yml`.
/// A plan file among manifest paths is an error, not a silent skip.
fn saved_plan(paths: &[String], options: &PlanArgs) -> anyhow::Result<Option<SavedPlan>> {
    let is_plan_file = |path: &String| {
        let path = Path::new(path);
        let is_manifest = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml");
        path.as_os_str() != "-" && !is_manifest && path.is_file()
    };
    let Some(file) = paths.iter().find(|path| is_plan_file(path)) else {
        return Ok(None);
    };
    anyhow::ensure!(
        paths.len() == 1,
        "`{file}` is a saved plan: apply takes one saved plan file or manifest paths, not both"
    );
    anyhow::ensure!(
        !options.prune && options.scope.is_none(),
        "--prune and --scope were decided when `{file}` was planned; give them to `canopy plan`"
    );
    let bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let saved = SavedPlan::from_json(&bytes).with_context(|| format!("refusing {file}"))?;
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
