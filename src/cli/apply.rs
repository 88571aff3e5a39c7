//! `canopy apply`: plan and apply in one transaction, or apply a saved plan exactly.
//!
//! The steps are those of [`crate::reconcile::Pass`]: the write transaction (and with it
//! the single-writer lock) is taken before the live snapshot is read, so nothing can
//! change between planning, confirming and writing; a saved plan is refused unless the
//! live state still has the fingerprint it was planned against. A saved plan is planned
//! again inside that transaction ([`SavedPlan::replan`]) and refused unless the changes
//! are exactly the ones it shows.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

use super::plan::{parse_manifests, plan_options, print_plan, resolve_manifests, snapshot_cache};
use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat, output, progress};
use crate::model::Hierarchy;
use crate::plan::saved::SavedPlan;
use crate::reconcile;
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
    // The manifests are parsed while the lock is taken and the live state is read.
    let (pass, work) = {
        let _progress = progress::spinner("waiting for the writer lock and reading the live state");
        match saved {
            Some(saved) => (reconcile::Pass::begin(&mut *store)?, Work::Saved(saved)),
            None => {
                let cache = snapshot_cache(&global.database_url);
                let (pass, parsed) =
                    reconcile::Pass::begin_beside(&mut *store, &cache, || parse_manifests(paths))?;
                (pass, Work::Manifests(parsed))
            }
        }
    };
    // A saved plan was reviewed when it was made: that review is the confirmation.
    let reviewed = matches!(work, Work::Saved(_));
    let planning = progress::spinner("loading the manifests and planning");
    // Only the Markdown and diff outputs show the desired tree; otherwise the declared
    // specs move into the plan rather than being copied, and what is left of the
    // desired state (`spent`) is freed while the rows are written.
    let shows_desired = matches!(format, PlanFormat::Markdown | PlanFormat::Diff);
    let (mut planned, saved_desired, spent, revision) = match work {
        Work::Saved(saved) => {
            let live = pass.live();
            let plan = saved.replan(&live.hierarchy, &live.fingerprint)?;
            let revision = options.revision.clone().or(saved.content.revision);
            (
                pass.saved(plan),
                Some(saved.content.desired),
                None,
                revision,
            )
        }
        Work::Manifests(parsed) => {
            let desired = |live: &Hierarchy| resolve_manifests(parsed, Some(live));
            let plan_options = plan_options(options, String::new());
            let planned = if shows_desired {
                pass.plan(desired, &plan_options)
                    .map(|planned| (planned, None))
            } else {
                pass.plan_moving(desired, &plan_options)
                    .map(|(planned, spent)| (planned, Some(spent)))
            };
            let (planned, spent) = planned.map_err(|error| {
                let error = anyhow::Error::from(error);
                super::plan::report_refusals(paths, &error);
                error
            })?;
            (planned, None, spent, options.revision.clone())
        }
    };
    drop(planning);
    let no_desired = Hierarchy::default();
    let desired = planned
        .desired()
        .or(saved_desired.as_ref())
        .unwrap_or(&no_desired);
    print_plan(
        planned.plan(),
        &crate::plan::render::Review::new(&planned.live().hierarchy, desired),
        format,
        global.verbose,
    )?;
    if !planned.has_writes() {
        return Ok(Outcome::Success);
    }
    if !yes && !reviewed {
        confirm()?;
    }
    let context = ApplyContext {
        actor: actor(),
        source: planned.plan().source.clone(),
        revision,
    };
    let writing = progress::spinner(&format!(
        "writing {}",
        output::count(planned.plan().changes.len(), "change", "changes")
    ));
    // The write needs the plan and the live state only: the desired hierarchy (as
    // large as the live one) is freed on another thread while the rows are written.
    let desired = (planned.take_desired(), spent, saved_desired);
    let freeing = std::thread::spawn(move || drop(desired));
    let applied = planned.apply(&context)?;
    let _ = freeing.join();
    drop(writing);
    let changes = output::count(applied.plan.changes.len(), "change", "changes");
    output::note(&match applied.report.assigned.len() {
        0 => format!("Applied {changes}."),
        created => format!(
            "Applied {changes} ({} created).",
            output::count(created, "account", "accounts")
        ),
    });
    // Committed: what is left is data only (both states, the plan), which the exit
    // frees at once rather than node by node.
    std::mem::forget(applied);
    Ok(Outcome::Success)
}

/// What an apply plans from: a saved plan, or manifests parsed beside the snapshot.
enum Work {
    Saved(SavedPlan),
    Manifests(crate::manifest::Parsed),
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

pub(super) fn actor() -> String {
    std::env::var("CANOPY_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "canopy".to_string())
}
