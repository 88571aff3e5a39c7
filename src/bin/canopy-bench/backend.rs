//! The figures of one size on one backend, in the order a platform meets them:
//! apply everything new, load a snapshot, plan with no change (in process and as the
//! real `canopy plan`), then plan and apply a 10% change. Each canopy figure is taken
//! beside its raw baseline on a second fresh database of the same backend.
//!
//! ```text
//! canopy database:  apply all-new ─> snapshot ─> no-op plan ─> apply 10% change ─> re-plan (empty)
//! raw database:     raw insert ───────────────────────────────> raw changed rows
//! binary database:  `canopy apply` all-new ─────────────────────> `canopy plan`, `canopy apply`,
//!                                                                `canopy plan` of the change
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use canopy::model::Hierarchy;
use canopy::plan::{self, Plan, PlanOptions};
use canopy::store::{self, ApplyContext, Snapshot};
use canopy::testing::baseline;
use canopy::testing::baseline::RawRows;

use crate::child;
use crate::report::{Report, figure};
use crate::timing;
use crate::workload::{self, Prepared, RAW_FIRST_NUMBER, SERDE_YAML, SOURCE};

/// The fresh databases of one backend for one size.
pub struct Databases {
    pub backend: &'static str,
    pub canopy: String,
    pub raw: String,
    /// For the real `canopy apply` of everything new.
    pub binary: String,
}

/// Everything one backend's measurements share.
pub struct Bench<'a> {
    pub prepared: &'a Prepared,
    pub databases: &'a Databases,
    pub canopy_binary: &'a Path,
    pub report: &'a mut Report,
}

impl Bench<'_> {
    fn backend(&self) -> Option<&'static str> {
        Some(self.databases.backend)
    }

    fn check(&mut self, what: &str, passed: bool, detail: String) {
        let accounts = self.prepared.accounts;
        let backend = self.backend();
        self.report.check(accounts, backend, what, passed, detail);
    }

    /// The real `canopy ARGS` in a fresh process, checked (`what`) to exit 0; `None`
    /// when it did not: the figures of a failed run would measure an error path.
    fn run_canopy(
        &mut self,
        args: &[std::ffi::OsString],
        what: &str,
    ) -> anyhow::Result<Option<child::ChildRun>> {
        let run = child::run_isolated(self.canopy_binary, args)?;
        let stderr: String = run.stderr.chars().take(300).collect();
        let succeeded = run.exit_code == Some(0);
        let detail = format!("exit {:?}; {}", run.exit_code, stderr.trim());
        self.check(what, succeeded, detail);
        Ok(succeeded.then_some(run))
    }

    fn record_peak_rss(&mut self, id: &str, label: &str, bytes: u64) {
        figure(id, label, self.prepared.accounts, self.backend())
            .bytes(bytes)
            .record(self.report);
    }

    fn record(
        &mut self,
        id: &str,
        label: &str,
        time: Duration,
        baseline: Option<(&str, Duration)>,
    ) {
        let mut figure = figure(id, label, self.prepared.accounts, self.backend()).seconds(time);
        if let Some((name, baseline)) = baseline {
            figure = figure.against(name, baseline);
        }
        figure.record(self.report);
    }
}

/// `canopy VERB DIRECTORY --database-url URL --source bench EXTRA…`.
fn canopy_args(verb: &str, directory: &Path, url: &str, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        verb.into(),
        directory.into(),
        "--database-url".into(),
        url.into(),
        "--source".into(),
        SOURCE.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    args
}

fn options(fingerprint: &str, prune: bool) -> PlanOptions {
    PlanOptions {
        base_fingerprint: fingerprint.to_string(),
        prune,
        ..PlanOptions::new(SOURCE)
    }
}

fn context() -> ApplyContext {
    ApplyContext {
        actor: "canopy-bench".to_string(),
        source: SOURCE.to_string(),
        revision: None,
    }
}

/// Runs every figure of one backend.
pub fn measure(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    eprintln!(
        "{} accounts on {}",
        bench.prepared.accounts, bench.databases.backend
    );
    drop(store::open(&bench.databases.raw)?);
    // Encoded per backend and dropped after use: at 1M rows they weigh gigabytes.
    let raw_rows = RawRows::of(&bench.prepared.base, SOURCE, RAW_FIRST_NUMBER)?;
    let raw_insert = baseline::insert(&bench.databases.raw, &raw_rows)?;
    drop(raw_rows);
    measure_binary_apply(bench, raw_insert)?;
    let desired = apply_all_new(bench, raw_insert)?;
    let live = measure_snapshot(bench)?;
    measure_noop(bench, &live, &desired)?;
    // The child's peak memory is the figure: this process holds as little as it can.
    drop((live, desired));
    measure_binary_plan(bench)?;
    measure_shapes(bench)?;
    let raw_change = measure_change(bench)?;
    measure_binary_change(bench, raw_change)
}

/// A timed apply: the store opened, a transaction begun, the snapshot read inside
/// it, the repository loaded against it, the diff, the write, the commit.
struct Applied {
    desired: Hierarchy,
    plan: Plan,
    write: Duration,
    end_to_end: Duration,
    diff: Duration,
    assigned: usize,
}

fn apply_directory(url: &str, directory: &Path, prune: bool) -> anyhow::Result<Applied> {
    let started = Instant::now();
    let mut store = store::open(url)?;
    let (begin, mut transaction) = timing::once(|| Ok(store.begin()?))?;
    let snapshot = transaction.snapshot()?;
    let loaded = workload::load(directory, Some(&snapshot.hierarchy))?;
    let (diff, plan) = timing::once(|| {
        Ok(plan::diff(
            &snapshot.hierarchy,
            &loaded.hierarchy,
            &options(&snapshot.fingerprint, prune),
        )?)
    })?;
    let (apply, report) =
        timing::once(|| Ok(transaction.apply_against(&plan, Some(&snapshot), &context())?))?;
    drop(snapshot);
    let (commit, ()) = timing::once(|| Ok(transaction.commit()?))?;
    Ok(Applied {
        desired: loaded.hierarchy,
        plan,
        write: begin + apply + commit,
        end_to_end: started.elapsed(),
        diff,
        assigned: report.assigned.len(),
    })
}

fn apply_all_new(bench: &mut Bench<'_>, raw_insert: Duration) -> anyhow::Result<Hierarchy> {
    let applied = apply_directory(
        &bench.databases.canopy,
        &bench.prepared.base_directory,
        false,
    )?;
    let raw = Some(("raw insert, same rows", raw_insert));
    bench.record(
        "apply_new.write",
        "apply all-new: write (begin..commit)",
        applied.write,
        raw,
    );
    bench.record(
        "apply_new.end_to_end",
        "apply all-new: end to end",
        applied.end_to_end,
        raw,
    );
    let expected = bench.prepared.base.account_count();
    bench.check(
        "apply of all-new assigns every account a number",
        applied.assigned == expected,
        format!("{} assigned, {expected} accounts", applied.assigned),
    );
    Ok(applied.desired)
}

fn measure_snapshot(bench: &mut Bench<'_>) -> anyhow::Result<Snapshot> {
    let mut store = store::open(&bench.databases.canopy)?;
    let (time, live) = timing::best(|| Ok(store.snapshot()?))?;
    let (raw_time, raw) = timing::best_reported(|| Ok(baseline::select(&bench.databases.canopy)?))?;
    bench.record(
        "snapshot",
        "snapshot load",
        time,
        Some(("raw SELECT, same rows", raw_time)),
    );
    let users: usize = live
        .hierarchy
        .nodes
        .iter()
        .map(|n| n.spec.users.len())
        .sum();
    bench.check(
        "the snapshot holds the rows a raw SELECT reads",
        (
            live.hierarchy.nodes.len(),
            users,
            live.hierarchy.plans.len(),
        ) == (raw.accounts, raw.users, raw.plans),
        format!(
            "snapshot {} nodes {users} users, raw {raw:?}",
            live.hierarchy.nodes.len()
        ),
    );
    let (same, detail) = same_specs(&live.hierarchy, &bench.prepared.base);
    bench.check(
        "the live state equals the generated hierarchy after apply",
        same,
        detail,
    );
    Ok(live)
}

/// Whether the live nodes and plans declare what `expected` declares (live-only
/// facts such as account numbers are not compared).
fn same_specs(live: &Hierarchy, expected: &Hierarchy) -> (bool, String) {
    if live.nodes.len() != expected.nodes.len() {
        return (
            false,
            format!(
                "{} live nodes, {} expected",
                live.nodes.len(),
                expected.nodes.len()
            ),
        );
    }
    let node = live
        .nodes
        .iter()
        .zip(&expected.nodes)
        .find(|(live, expected)| live.name != expected.name || live.spec != expected.spec);
    let plan = live
        .plans
        .iter()
        .map(|p| (&p.name, &p.spec))
        .ne(expected.plans.iter().map(|p| (&p.name, &p.spec)));
    match (node, plan) {
        (Some((live, _)), _) => (false, format!("`{}` differs", live.name)),
        (None, true) => (false, "the service plans differ".to_string()),
        (None, false) => (true, format!("{} nodes equal", live.nodes.len())),
    }
}

fn measure_noop(bench: &mut Bench<'_>, live: &Snapshot, desired: &Hierarchy) -> anyhow::Result<()> {
    let options = options(&live.fingerprint, false);
    let (diff, plan) = timing::best(|| Ok(plan::diff(&live.hierarchy, desired, &options)?))?;
    bench.record("diff.noop", "diff, no change", diff, None);
    bench.check(
        "a plan of the applied repository is empty",
        plan.is_empty(),
        format!("{} changes", plan.changes.len()),
    );
    let (in_process, changes) = timing::once(|| {
        let mut store = store::open(&bench.databases.canopy)?;
        let snapshot = store.snapshot()?;
        let loaded = workload::load(&bench.prepared.base_directory, Some(&snapshot.hierarchy))?;
        let plan = plan::diff(&snapshot.hierarchy, &loaded.hierarchy, &options)?;
        Ok(plan.changes.len())
    })?;
    let serde_yaml = Some((SERDE_YAML, bench.prepared.serde_yaml));
    bench.record(
        "plan_noop.in_process",
        "no-op plan in process (open+snapshot+load+diff)",
        in_process,
        serde_yaml,
    );
    bench.check(
        "the in-process no-op plan is empty",
        changes == 0,
        format!("{changes} changes"),
    );
    Ok(())
}

/// The real `canopy plan` twice: first with the parse cache warm (the loads before
/// filled it) and the snapshot cache cold (this run stores the live state), then with
/// both warm (the database unchanged since).
fn measure_binary_plan(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    let args = canopy_args(
        "plan",
        &bench.prepared.base_directory,
        &bench.databases.canopy,
        &["--detailed-exitcode"],
    );
    let runs = [
        ("plan_noop.binary", "no-op plan, `canopy plan` binary"),
        (
            "plan_noop.binary_warm",
            "no-op plan, `canopy plan` binary, snapshot cached",
        ),
    ];
    for (id, label) in runs {
        let what =
            "`canopy plan --detailed-exitcode` of the applied repository exits 0 (no changes)";
        let Some(run) = bench.run_canopy(&args, what)? else {
            continue;
        };
        let serde_yaml = Some((SERDE_YAML, bench.prepared.serde_yaml));
        bench.record(id, &format!("{label}: wall"), run.wall, serde_yaml);
        let peak = format!("{id}_peak_rss");
        bench.record_peak_rss(&peak, &format!("{label}: peak RSS"), run.peak_rss_bytes);
    }
    Ok(())
}

/// The real `canopy plan` of the same hierarchy in each other shape, twice: first
/// with the parse cache cold for its files (this run fills it), then warm. The live
/// state is unchanged since [`measure_binary_plan`], so its snapshot is cached. Each
/// against serde_yaml over that shape's own bytes.
fn measure_shapes(bench: &mut Bench<'_>) -> anyhow::Result<()> {
    for repository in &bench.prepared.shapes {
        let args = canopy_args(
            "plan",
            &repository.directory,
            &bench.databases.canopy,
            &["--detailed-exitcode"],
        );
        let shape = repository.shape;
        let serde_yaml = Some((SERDE_YAML, repository.serde_yaml));
        let runs = [
            (format!("plan_noop.{}", shape.id), "parse cache cold"),
            (format!("plan_noop.{}_warm", shape.id), "caches warm"),
        ];
        for (id, caches) in runs {
            let what = format!(
                "`canopy plan --detailed-exitcode` of the {} repository exits 0 (no changes)",
                shape.label
            );
            let Some(run) = bench.run_canopy(&args, &what)? else {
                continue;
            };
            let label = format!("no-op plan, {}, {caches}: wall", shape.label);
            bench.record(&id, &label, run.wall, serde_yaml);
        }
    }
    Ok(())
}

/// The real `canopy apply DIR --yes` of everything new into a fresh database (parse,
/// validate, plan, write, commit, as a user runs it), beside the raw insert and, on
/// SQLite, `sqlite3 .import` of the same accounts as a flat 9-column CSV file.
fn measure_binary_apply(bench: &mut Bench<'_>, raw_insert: Duration) -> anyhow::Result<()> {
    let args = canopy_args(
        "apply",
        &bench.prepared.base_directory,
        &bench.databases.binary,
        &["--yes", "--quiet"],
    );
    let what = "`canopy apply --yes` of the repository into a new database exits 0";
    let Some(run) = bench.run_canopy(&args, what)? else {
        return Ok(());
    };
    bench.record(
        "apply_new.binary",
        "apply all-new, `canopy apply` binary: wall",
        run.wall,
        Some(("raw insert, same rows", raw_insert)),
    );
    if let Some(path) = bench.databases.binary.strip_prefix("sqlite://") {
        let folder = Path::new(path).parent().unwrap_or(Path::new("."));
        match sqlite_import(&bench.prepared.base, folder)? {
            Some(import) => bench.record(
                "apply_new.binary_vs_import",
                "apply all-new, `canopy apply` binary: wall",
                run.wall,
                Some(("sqlite3 .import, flat 9-column CSV", import)),
            ),
            None => eprintln!("no sqlite3 program: the .import baseline is left out"),
        }
    }
    bench.record_peak_rss(
        "apply_new.binary_peak_rss",
        "apply all-new, `canopy apply` binary: peak RSS",
        run.peak_rss_bytes,
    );
    Ok(())
}

/// The 10% change in process on the canopy database; returns the raw baseline's time.
fn measure_change(bench: &mut Bench<'_>) -> anyhow::Result<Duration> {
    let raw_change = baseline::change(&bench.databases.raw, &bench.prepared.raw_change)?;
    let directory = &bench.prepared.changed_directory;
    let applied = apply_directory(&bench.databases.canopy, directory, true)?;
    bench.record("diff.change", "diff, 10% change", applied.diff, None);
    let (text, _) = timing::best(|| Ok(plan::render::text(&applied.plan, false)))?;
    bench.record("render.text", "render text, 10% change plan", text, None);
    let (json, _) = timing::best(|| Ok(plan::render::json(&applied.plan)))?;
    bench.record("render.json", "render json, 10% change plan", json, None);
    let raw = Some(("raw statements, changed rows", raw_change));
    bench.record(
        "apply_change.write",
        "apply 10% change: write (begin..commit)",
        applied.write,
        raw,
    );
    bench.record(
        "apply_change.end_to_end",
        "apply 10% change: end to end",
        applied.end_to_end,
        raw,
    );
    let summary = applied.plan.summary().line();
    bench.check(
        "the 10% change plan has changes",
        !applied.plan.is_empty(),
        summary,
    );
    let mut store = store::open(&bench.databases.canopy)?;
    let live = store.snapshot()?;
    let again = plan::diff(
        &live.hierarchy,
        &applied.desired,
        &options(&live.fingerprint, true),
    )?;
    bench.check(
        "planning the changed repository again after apply is empty",
        again.is_empty(),
        again.summary().line(),
    );
    let (same, detail) = same_specs(&live.hierarchy, &bench.prepared.changed);
    bench.check(
        "the live state equals the changed hierarchy after apply",
        same,
        detail,
    );
    Ok(raw_change)
}

/// The 10% change as a platform team ships it, with the real binary on the database
/// `canopy apply` filled: `canopy plan` of the changed repository (the pull request's
/// preview, which leaves both caches warm), then the timed `canopy apply --yes`, then
/// `canopy plan --detailed-exitcode`, which must find nothing left to do.
fn measure_binary_change(bench: &mut Bench<'_>, raw_change: Duration) -> anyhow::Result<()> {
    let directory = bench.prepared.changed_directory.clone();
    let url = bench.databases.binary.clone();
    let command = |verb: &str, extra: &[&str]| {
        let mut args = canopy_args(verb, &directory, &url, &["--prune"]);
        args.extend(extra.iter().map(Into::into));
        args
    };
    let preview = command("plan", &[]);
    if bench
        .run_canopy(
            &preview,
            "`canopy plan` of the 10% change (the preview) exits 0",
        )?
        .is_none()
    {
        return Ok(());
    }
    let apply = command("apply", &["--yes", "--quiet"]);
    let what = "`canopy apply --yes` of the 10% change exits 0";
    let Some(run) = bench.run_canopy(&apply, what)? else {
        return Ok(());
    };
    bench.record(
        "apply_change.binary",
        "apply 10% change, `canopy apply` binary after its preview: wall",
        run.wall,
        Some(("raw statements, changed rows", raw_change)),
    );
    let again = command("plan", &["--detailed-exitcode"]);
    bench.run_canopy(
        &again,
        "`canopy plan --detailed-exitcode` of the 10% change after its apply exits 0 (nothing left)",
    )?;
    Ok(())
}

/// `sqlite3 .import` of the accounts of `hierarchy` as a flat 9-column CSV file into a
/// new table of a new database in `folder`: the time of the `.import` process alone
/// (the file is written and the table created before). `None` without `sqlite3`.
fn sqlite_import(hierarchy: &Hierarchy, folder: &Path) -> anyhow::Result<Option<Duration>> {
    let csv_path = folder.join("flat-accounts.csv");
    let database = folder.join("import.db");
    let _ = std::fs::remove_file(&database);
    let mut writer = csv::Writer::from_path(&csv_path)?;
    for (number, node) in (RAW_FIRST_NUMBER..).zip(&hierarchy.nodes) {
        let spec = &node.spec;
        writer.write_record([
            node.name.as_str(),
            spec.node_type.as_str(),
            spec.display_name.as_str(),
            spec.parent.as_deref().unwrap_or(""),
            &number.to_string(),
            if spec.active { "1" } else { "0" },
            spec.plan.as_deref().unwrap_or(""),
            SOURCE,
            if spec.active { "1" } else { "0" },
        ])?;
    }
    writer.flush()?;
    drop(writer);
    let create = "CREATE TABLE accounts (name TEXT PRIMARY KEY, node_type TEXT NOT NULL,
        display_name TEXT NOT NULL, parent TEXT, account_number INTEGER UNIQUE,
        active INTEGER NOT NULL, plan TEXT, managed_by TEXT, effective_active INTEGER NOT NULL)";
    let created = match std::process::Command::new("sqlite3")
        .arg(&database)
        .arg(create)
        .status()
    {
        Ok(status) => status,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    anyhow::ensure!(
        created.success(),
        "sqlite3 could not create {}",
        database.display()
    );
    let started = Instant::now();
    let imported = std::process::Command::new("sqlite3")
        .arg(&database)
        .arg(format!(".import --csv {} accounts", csv_path.display()))
        .status()?;
    let took = started.elapsed();
    anyhow::ensure!(imported.success(), "sqlite3 .import failed");
    Ok(Some(took))
}
