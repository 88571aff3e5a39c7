//! `canopy plan`: load the desired state, diff it against the live (or an older
//! directory's) state, render the plan, optionally save it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;

use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat, output, progress};
use crate::manifest;
use crate::model::{Hierarchy, Text, effective};
use crate::plan::saved::SavedPlan;
use crate::plan::{self, Plan, PlanOptions, render};
use crate::reconcile;
use crate::store;

/// How many files are read between two updates of the progress line.
const FILES_PER_MESSAGE: usize = 16;

pub struct PlanRequest {
    pub paths: Vec<String>,
    pub against: Option<String>,
    pub format: PlanFormat,
    pub out: Option<PathBuf>,
    pub detailed_exitcode: bool,
    pub hold_above: Option<reconcile::Gate>,
    pub options: PlanArgs,
}

pub fn plan(global: &GlobalArgs, request: &PlanRequest) -> anyhow::Result<Outcome> {
    let planned = {
        let _progress = progress::spinner("loading the manifests and planning");
        match &request.against {
            Some(old) => plan_against(old, &request.paths, &request.options),
            None => plan_against_database(global, &request.paths, &request.options),
        }
    };
    let (live, desired, plan) = match planned {
        // Machine output on failure too: the diagnostics as `validate -o json` prints them.
        Err(error) if request.format == PlanFormat::Json => {
            if let Some(invalid) = load_error(&error) {
                super::validate::print_invalid_json(&invalid.diagnostics)?;
            }
            return Err(error);
        }
        Err(error) => {
            report_refusals(&request.paths, &error);
            return Err(error);
        }
        Ok(planned) => planned,
    };
    print_plan(
        &plan,
        &render::Review {
            held: held(&plan, request.hold_above),
            ..render::Review::new(&live, &desired)
        },
        request.format,
        global.verbose,
    )?;
    let outcome = outcome(&plan, request.detailed_exitcode);
    match &request.out {
        Some(out) => {
            let options = plan_options(&request.options, plan.base_fingerprint.clone());
            let saved = SavedPlan::new(&plan, desired, &options, request.options.revision.clone())?;
            save(&saved, out)?;
        }
        // The command ends here: freeing both hierarchies node by node (a second or
        // so at a million accounts) would only delay the exit that frees them at once.
        None => std::mem::forget(desired),
    }
    std::mem::forget(live);
    Ok(outcome)
}

/// `--against OLD NEW`: two directories, no database. The old one stands for the live
/// state, every object in it managed by this source.
fn plan_against(
    old: &str,
    paths: &[String],
    options: &PlanArgs,
) -> anyhow::Result<(Hierarchy, Hierarchy, Plan)> {
    anyhow::ensure!(
        paths.len() == 1,
        "plan --against OLD_DIR takes exactly one NEW_DIR (got {})",
        paths.len()
    );
    let old_loaded = load_manifests(&[old.to_string()], None)?;
    let new_loaded = load_manifests(paths, None)?;
    let mut live = old_loaded.hierarchy;
    let effective = effective::compute_all(&live);
    let source = Text::from(options.source.as_str());
    for (node, effective) in live.nodes.iter_mut().zip(effective) {
        node.live.managed_by = Some(source.clone());
        node.effective = Some(effective);
    }
    for plan in &mut live.plans {
        plan.live.managed_by = Some(source.clone());
    }
    let plan = plan::diff(
        &live,
        &new_loaded.hierarchy,
        &plan_options(options, String::new()),
    )?;
    Ok((live, new_loaded.hierarchy, plan))
}

fn plan_against_database(
    global: &GlobalArgs,
    paths: &[String],
    options: &PlanArgs,
) -> anyhow::Result<(Hierarchy, Hierarchy, Plan)> {
    anyhow::ensure!(
        !paths.is_empty(),
        "plan needs at least one PATH (or `-` for standard input)"
    );
    let mut store = store::open_existing(&global.database_url)?;
    let preview = reconcile::preview_beside(
        &mut *store,
        &snapshot_cache(&global.database_url),
        || parse_manifests(paths),
        |parsed, live: &Hierarchy| resolve_manifests(parsed, Some(live)),
        &plan_options(options, String::new()),
    )?;
    Ok((
        preview.live.hierarchy,
        preview.desired.hierarchy,
        preview.plan,
    ))
}

/// Prints where each object the planner refused is declared in `paths`, one located
/// line per problem (`FILE:LINE:COL: error[refused]: …`), before the error itself.
pub fn report_refusals(paths: &[String], error: &anyhow::Error) {
    let rejected =
        error
            .downcast_ref::<crate::plan::PlanError>()
            .or_else(|| match error.downcast_ref::<reconcile::ReconcileError>() {
                Some(reconcile::ReconcileError::Plan(rejected)) => Some(rejected),
                _ => None,
            });
    let Some(rejected) = rejected else {
        return;
    };
    let refusals: Vec<(&str, String)> = rejected
        .problems()
        .iter()
        .map(|problem| (problem.object(), problem.to_string()))
        .collect();
    for diagnostic in manifest::locate_refusals(paths, &refusals) {
        eprintln!("{diagnostic}");
    }
}

/// The manifest errors an error carries, if invalid manifests caused it.
fn load_error(error: &anyhow::Error) -> Option<&manifest::LoadError> {
    error.downcast_ref::<manifest::LoadError>().or_else(|| {
        match error.downcast_ref::<reconcile::ReconcileError>() {
            Some(reconcile::ReconcileError::Load(invalid)) => Some(invalid),
            _ => None,
        }
    })
}

/// Loads manifests, printing warnings and notes to standard error; errors fail. The
/// phase on screen counts the files read, then says `planning`.
pub fn load_manifests(
    paths: &[String],
    external: Option<&Hierarchy>,
) -> Result<manifest::Loaded, manifest::LoadError> {
    resolve_manifests(parse_manifests(paths), external)
}

/// The first half of [`load_manifests`], which needs no live state: a planner runs it
/// while the snapshot is read.
pub fn parse_manifests(paths: &[String]) -> manifest::Parsed {
    let files = AtomicUsize::new(0);
    let file_read = || {
        let read = files.fetch_add(1, Ordering::Relaxed) + 1;
        if read.is_multiple_of(FILES_PER_MESSAGE) {
            progress::message(&format!("loading the manifests: {read} files read"));
        }
    };
    let cache = manifest::ParseCache::from_environment();
    manifest::parse_reporting(paths, &cache, &file_read)
}

/// Where the live state of the database at `url` is cached between commands: beside
/// the parse cache, off with it.
pub fn snapshot_cache(url: &str) -> store::SnapshotCache {
    let parse_cache = manifest::ParseCache::from_environment();
    store::SnapshotCache::new(parse_cache.directory(), url)
}

/// The second half of [`load_manifests`]: validation against `external`.
pub fn resolve_manifests(
    parsed: manifest::Parsed,
    external: Option<&Hierarchy>,
) -> Result<manifest::Loaded, manifest::LoadError> {
    let loaded = parsed.resolve(external);
    progress::message("planning");
    let loaded = loaded?;
    for diagnostic in &loaded.diagnostics {
        output::note(&diagnostic.to_string());
    }
    Ok(loaded)
}

pub fn plan_options(options: &PlanArgs, base_fingerprint: String) -> PlanOptions {
    PlanOptions {
        source: options.source.clone(),
        base_fingerprint,
        prune: options.prune,
        max_prune_percent: options.max_prune,
        scope: options.scope.clone(),
        archive: Vec::new(),
        release: Vec::new(),
    }
}

/// Renders a plan to standard output in the chosen format. A text plan of more than
/// [`render::BRIEF_ABOVE`] changes shows only the risky ones unless `-v` asks for all.
pub fn print_plan(
    plan: &Plan,
    review: &render::Review,
    format: PlanFormat,
    verbose: u8,
) -> anyhow::Result<()> {
    let rendered = match format {
        PlanFormat::Text if plan.changes.len() > render::BRIEF_ABOVE && verbose == 0 => {
            render::brief(plan, output::color())
        }
        PlanFormat::Text => render::text(plan, output::color()),
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => render::markdown(plan, review),
        PlanFormat::Diff => render::yaml_diff(review.live, review.desired, plan),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the plan to standard output")
}

/// Whether `--hold-above` would hold this plan, and the reach that decides it.
fn held(plan: &Plan, gate: Option<reconcile::Gate>) -> Option<render::Held> {
    let gate = gate?;
    let radius = reconcile::BlastRadius::of(plan);
    let reconcile::Gate::HoldAbove(hold_above) = gate else {
        return None;
    };
    gate.holds(&radius).then(|| render::Held {
        hold_above,
        accounts: radius.largest(),
    })
}

fn save(saved: &SavedPlan, out: &std::path::Path) -> anyhow::Result<()> {
    let json = saved.to_json()?;
    std::fs::write(out, json).with_context(|| format!("writing the plan to {}", out.display()))?;
    output::note(&format!(
        "Saved the plan to {}; apply it with `canopy apply {}`.",
        out.display(),
        out.display()
    ));
    Ok(())
}

pub fn outcome(plan: &Plan, detailed_exitcode: bool) -> Outcome {
    if detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    }
}
