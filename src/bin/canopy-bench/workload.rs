//! One size's workload: the generated hierarchy and its 10% change, both written as
//! repositories, the changed rows of the raw change baseline, and the backend-independent
//! figures (parsing the repository, against serde_yaml alone on one thread). Up to
//! [`SHAPES_UP_TO`] accounts, the generated hierarchy is also written in [`SHAPES`],
//! each beside serde_yaml over its own bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use canopy::manifest;
use canopy::model::Hierarchy;
use canopy::testing::baseline::RawChange;
use canopy::testing::repo::{self, Layout};

use crate::child;
use crate::report::{self, Report, figure};
use crate::timing;

/// The source name every apply in the benchmark manages its objects under.
pub const SOURCE: &str = "bench";

/// Account numbers the raw baselines give new accounts start here (canopy's own
/// counter starts at 1000; the values only need to be unique).
pub const RAW_FIRST_NUMBER: i64 = 1000;
const RAW_CHANGE_FIRST_NUMBER: i64 = 100_000_000;

/// Percent of the accounts `generate::mutate` changes for the change figures.
pub const CHANGE_PERCENT: u32 = 10;

/// The generated hierarchy written in a layout unlike the generator's, for the no-op
/// plan figures over repositories of other shapes.
pub struct Shape {
    /// The figure id's stem (`plan_noop.<id>`).
    pub id: &'static str,
    pub label: &'static str,
    pub layout: Layout,
}

/// Accounts per file of the `chunks` shape.
pub const CHUNK: usize = 10_000;

pub static SHAPES: [Shape; 3] = [
    Shape {
        id: "flow",
        label: "flow-style documents (one line each)",
        layout: Layout::Flow,
    },
    Shape {
        id: "per_node",
        label: "one account per file",
        layout: Layout::PerNode,
    },
    Shape {
        id: "chunks",
        label: "10,000 accounts per file",
        layout: Layout::Chunks(CHUNK),
    },
];

/// The largest size written in every shape (a million files of one account each is a
/// file system benchmark).
pub const SHAPES_UP_TO: usize = 100_000;

/// A shape's repository of the base hierarchy.
pub struct ShapeRepository {
    pub shape: &'static Shape,
    pub directory: PathBuf,
    /// serde_yaml alone, one thread, parsing this repository's bytes.
    pub serde_yaml: Duration,
}

pub struct Prepared {
    /// The requested size (the key of every figure; `workload` has exact counts).
    pub accounts: usize,
    pub base: Hierarchy,
    pub changed: Hierarchy,
    pub base_directory: PathBuf,
    pub changed_directory: PathBuf,
    pub raw_change: RawChange,
    /// serde_yaml alone, one thread, parsing the base repository's bytes.
    pub serde_yaml: Duration,
    /// The base hierarchy in each of [`SHAPES`] (none above [`SHAPES_UP_TO`]).
    pub shapes: Vec<ShapeRepository>,
}

pub const SERDE_YAML: &str = "serde_yaml, 1 thread";

/// Generates and writes the repositories of one size under `directory` (replacing
/// what an earlier run left there) and measures parsing them.
pub fn prepare(
    accounts: usize,
    seed: u64,
    directory: &Path,
    report: &mut Report,
) -> anyhow::Result<Prepared> {
    if directory.exists() {
        std::fs::remove_dir_all(directory)
            .with_context(|| format!("remove the old workload {}", directory.display()))?;
    }
    eprintln!(
        "{accounts} accounts: generating into {}",
        directory.display()
    );
    let base = canopy::generate::hierarchy(accounts, seed);
    let changed = canopy::generate::mutate(&base, seed, CHANGE_PERCENT);
    let base_directory = directory.join("base");
    let changed_directory = directory.join("changed");
    let summary = repo::write(&base, &base_directory)?;
    repo::write(&changed, &changed_directory)?;
    let raw_change = RawChange::between(&base, &changed, SOURCE, RAW_CHANGE_FIRST_NUMBER)?;
    report.workloads.push(report::Workload {
        accounts: summary.accounts,
        nodes: summary.nodes,
        users: summary.users,
        csv_users: summary.csv_users,
        manifest_files: summary.manifest_files,
        csv_files: summary.csv_files,
        manifest_bytes: summary.manifest_bytes,
        changed_nodes: changed.nodes.len(),
        changed_rows: raw_change.row_count(),
    });
    let serde_yaml = serde_yaml_baseline(&base_directory)?;
    let shapes = if accounts <= SHAPES_UP_TO {
        write_shapes(&base, directory)?
    } else {
        Vec::new()
    };
    let prepared = Prepared {
        accounts,
        base,
        changed,
        base_directory,
        changed_directory,
        raw_change,
        serde_yaml,
        shapes,
    };
    measure_parsing(&prepared, report)?;
    Ok(prepared)
}

/// Writes `base` in every one of [`SHAPES`] under `directory` and times serde_yaml
/// over each.
fn write_shapes(base: &Hierarchy, directory: &Path) -> anyhow::Result<Vec<ShapeRepository>> {
    SHAPES
        .iter()
        .map(|shape| {
            let shape_directory = directory.join(shape.id);
            let summary = repo::write_with(base, &shape_directory, shape.layout)?;
            eprintln!(
                "  shape {}: {} manifest files, {} bytes",
                shape.id, summary.manifest_files, summary.manifest_bytes
            );
            Ok(ShapeRepository {
                shape,
                serde_yaml: serde_yaml_baseline(&shape_directory)?,
                directory: shape_directory,
            })
        })
        .collect()
}

/// Reads every manifest (not timed), then parses each document into a
/// `serde_yaml::Value` on this one thread.
fn serde_yaml_baseline(directory: &Path) -> anyhow::Result<Duration> {
    let mut texts = Vec::new();
    read_manifests(directory, &mut texts)?;
    let (time, ()) = timing::best(|| {
        for text in &texts {
            for document in serde_yaml::Deserializer::from_str(text) {
                let value: serde_yaml::Value = serde::Deserialize::deserialize(document)
                    .context("a generated manifest is not YAML")?;
                std::hint::black_box(value);
            }
        }
        Ok(())
    })?;
    Ok(time)
}

/// canopy's reader of one file ([`manifest::parse_file`]: the YAML subset's fast path,
/// serde_yaml for what it leaves) over the same bytes on this one thread; also counts
/// the documents the fast path read and all documents.
fn reader_alone(directory: &Path) -> anyhow::Result<(Duration, usize, usize)> {
    let mut texts = Vec::new();
    read_manifests(directory, &mut texts)?;
    let (time, ()) = timing::best(|| {
        for text in &texts {
            std::hint::black_box(manifest::parse_file(text));
        }
        Ok(())
    })?;
    let mut read = 0;
    let mut documents = 0;
    for text in &texts {
        for chunk in manifest::parse::split_documents(text) {
            documents += 1;
            read += usize::from(manifest::parse::read_by_subset(chunk.text));
        }
    }
    Ok((time, read, documents))
}

fn read_manifests(directory: &Path, texts: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.is_dir() {
            read_manifests(&path, texts)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml")
        {
            texts.push(std::fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

/// Loads the base repository as a directory argument, the way `canopy` does.
pub fn load(directory: &Path, live: Option<&Hierarchy>) -> anyhow::Result<manifest::Loaded> {
    let inputs = vec![directory.display().to_string()];
    manifest::load(&inputs, live).map_err(|error| anyhow::anyhow!("{error}"))
}

/// Parse+validate, cold (a fresh process, parse cache off) and warm (this process,
/// after one load), each against serde_yaml alone.
fn measure_parsing(prepared: &Prepared, report: &mut Report) -> anyhow::Result<()> {
    let accounts = prepared.accounts;
    let (reader, read, documents) = reader_alone(&prepared.base_directory)?;
    figure(
        "parse.reader",
        "canopy's YAML reader alone, 1 thread",
        accounts,
        None,
    )
    .seconds(reader)
    .against(SERDE_YAML, prepared.serde_yaml)
    .record(report);
    report.check(
        accounts,
        None,
        "the YAML subset's fast path reads every generated document",
        read == documents,
        format!("{read} of {documents} documents"),
    );
    let cold = cold_load(&prepared.base_directory)?;
    figure(
        "parse.cold",
        "parse+validate, cold (own process, cache off)",
        accounts,
        None,
    )
    .seconds(cold)
    .against(SERDE_YAML, prepared.serde_yaml)
    .record(report);
    let first = load(&prepared.base_directory, None)?;
    let same = first.hierarchy == prepared.base;
    report.check(
        accounts,
        None,
        "the written repository loads back to the generated hierarchy",
        same,
        format!(
            "{} nodes loaded, {} generated",
            first.hierarchy.nodes.len(),
            prepared.base.nodes.len()
        ),
    );
    drop(first);
    let changed = load(&prepared.changed_directory, None)?;
    report.check(
        accounts,
        None,
        "the changed repository loads back to the changed hierarchy",
        changed.hierarchy == prepared.changed,
        format!("{} nodes loaded", changed.hierarchy.nodes.len()),
    );
    drop(changed);
    let (warm, _) = timing::best(|| load(&prepared.base_directory, None).map(drop))?;
    figure(
        "parse.warm",
        "parse+validate, warm (after one load)",
        accounts,
        None,
    )
    .seconds(warm)
    .against(SERDE_YAML, prepared.serde_yaml)
    .record(report);
    Ok(())
}

/// What `canopy-bench load` prints: the time of one load in a fresh process.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LoadOnce {
    pub seconds: f64,
    pub accounts: usize,
}

/// Runs `canopy-bench load DIR` (this binary) with the parse cache off.
fn cold_load(directory: &Path) -> anyhow::Result<Duration> {
    let this = std::env::current_exe().context("the path of canopy-bench")?;
    let run = child::run(
        Command::new(this)
            .arg("load")
            .arg(directory)
            .env("CANOPY_CACHE", "off"),
    )?;
    anyhow::ensure!(
        run.exit_code == Some(0),
        "canopy-bench load failed: {}",
        run.stderr
    );
    let figures: LoadOnce =
        serde_json::from_str(run.stdout.trim()).context("the output of canopy-bench load")?;
    Ok(Duration::from_secs_f64(figures.seconds))
}
