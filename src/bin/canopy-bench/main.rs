//! `canopy-bench`: generates realistic GitOps repositories and measures canopy on
//! them, each figure beside what serde_yaml or the database alone can do, in one run.
//! docs/benchmarks.md has the command, the figures and the JSON schema.

mod backend;
mod child;
mod daemon;
mod footprint;
mod kubernetes;
mod report;
mod run;
mod targets;
mod timing;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: footprint::Counting = footprint::Counting;

#[derive(Debug, Parser)]
#[command(
    name = "canopy-bench",
    about = "Benchmarks canopy against raw baselines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a generated hierarchy as a repository of manifests (about 100 accounts
    /// per file, plans in their own file, some users in CSV files).
    Generate {
        #[arg(long)]
        accounts: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
        /// Write the generated hierarchy with this percent of its accounts changed
        /// (the change workload of `run` uses 10), instead of the hierarchy itself.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        changed: Option<u32>,
        /// Lay the repository out in another shape (`run` measures these up to 100k).
        #[arg(long, value_enum, default_value = "tree")]
        shape: ShapeName,
    },
    /// Measure every size on every backend and print the table.
    Run {
        /// Sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        accounts: Vec<usize>,
        #[arg(
            long,
            value_delimiter = ',',
            value_enum,
            default_value = "sqlite,postgres"
        )]
        backends: Vec<run::BackendName>,
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Where repositories and SQLite files go (a `N-accounts` folder per size,
        /// replaced on each run).
        #[arg(long, default_value_os_t = std::env::temp_dir().join("canopy-bench"))]
        workdir: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The canopy binary to measure (default: beside this one).
        #[arg(long)]
        canopy: Option<PathBuf>,
    },
    /// Start the real `canopy run --watch` on a generated repository and measure
    /// one-account edits (edit to commit), a resync of unchanged state and the idle
    /// memory, beside raw SQL baselines. Not part of `run` (nor of CI).
    Daemon {
        #[arg(long, default_value_t = 100_000)]
        accounts: usize,
        /// One-account edits to time.
        #[arg(long, default_value_t = 100)]
        edits: usize,
        #[arg(
            long,
            value_delimiter = ',',
            value_enum,
            default_value = "sqlite,postgres"
        )]
        backends: Vec<run::BackendName>,
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Where repositories and SQLite files go (removed after each backend).
        #[arg(long, default_value_os_t = std::env::temp_dir().join("canopy-bench"))]
        workdir: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The canopy binary to run (default: beside this one).
        #[arg(long)]
        canopy: Option<PathBuf>,
    },
    /// Load one repository once and print the time as JSON (the cold parse figure
    /// runs this in a fresh process).
    /// The real `canopy run --kubernetes` against the fake API server: time from a
    /// resource event to its status Ready, and the controller's memory, per size.
    Kubernetes {
        /// Resources in the fake before the controller starts (comma-separated sizes).
        #[arg(long, value_delimiter = ',', default_value = "1,10000")]
        resources: Vec<usize>,
        /// Single-resource events timed at each size.
        #[arg(long, default_value_t = 50)]
        events: usize,
        #[arg(long, value_delimiter = ',', value_enum, default_value = "sqlite")]
        backends: Vec<run::BackendName>,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_os_t = std::env::temp_dir().join("canopy-bench"))]
        workdir: PathBuf,
        #[arg(long)]
        canopy: Option<PathBuf>,
    },
    /// The heap bytes per account of the live side (the snapshot of an existing
    /// database) and of the desired side (the repository's manifests), counted by the
    /// allocator; printed as JSON.
    Footprint {
        /// The repository (as `canopy plan` would be given it).
        repository: PathBuf,
        #[arg(long, default_value = "sqlite://canopy.db")]
        database_url: String,
    },
    #[command(hide = true)]
    Load { directory: PathBuf },
    /// Run a program and print its wall time and peak RSS as JSON. The plan figure runs
    /// `canopy` through this small, fresh process (see `child::run_isolated`).
    #[command(hide = true)]
    Measure {
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

fn main() -> ExitCode {
    match execute(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository layouts `generate` writes (`canopy::testing::repo::Layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ShapeName {
    /// A file per top-level partner's subtree, block style.
    Tree,
    /// The same files, every document one flow-style line.
    Flow,
    /// One file per account or group.
    PerNode,
    /// Files of 10,000 accounts each.
    Chunks,
}

impl ShapeName {
    fn layout(self) -> canopy::testing::repo::Layout {
        use canopy::testing::repo::Layout;
        match self {
            ShapeName::Tree => Layout::Tree,
            ShapeName::Flow => Layout::Flow,
            ShapeName::PerNode => Layout::PerNode,
            ShapeName::Chunks => Layout::Chunks(crate::workload::CHUNK),
        }
    }
}

/// The canopy binary to measure: the one given, or the one beside this binary.
fn canopy_binary(given: Option<std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => Ok(std::env::current_exe()?.with_file_name("canopy")),
    }
}

/// Prints the report, saves it as JSON when asked, and fails when a check failed.
fn finish(report: &report::Report, json: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    print!("{}", report::table(report));
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)?;
    }
    Ok(if report.failed_checks() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Generate {
            accounts,
            seed,
            out,
            changed,
            shape,
        } => {
            let mut hierarchy = canopy::generate::hierarchy(accounts, seed);
            if let Some(percent) = changed {
                hierarchy = canopy::generate::mutate(&hierarchy, seed, percent);
            }
            let summary = canopy::testing::repo::write_with(&hierarchy, &out, shape.layout())?;
            println!(
                "{} accounts ({} nodes, {} users, {} from CSV) in {} manifest files ({} bytes) and {} CSV files under {}",
                summary.accounts,
                summary.nodes,
                summary.users,
                summary.csv_users,
                summary.manifest_files,
                summary.manifest_bytes,
                summary.csv_files,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            accounts,
            backends,
            json,
            workdir,
            seed,
            canopy,
        } => {
            let canopy = canopy_binary(canopy)?;
            let report = run::run(&run::RunOptions {
                accounts,
                backends,
                json,
                workdir,
                seed,
                canopy,
            })?;
            Ok(if report.failed_checks() == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("{} checks failed", report.failed_checks());
                ExitCode::FAILURE
            })
        }
        Command::Daemon {
            accounts,
            edits,
            backends,
            json,
            workdir,
            seed,
            canopy,
        } => {
            let canopy = canopy_binary(canopy)?;
            let mut report = report::Report::new(run::machine(), seed);
            daemon::run(
                &daemon::DaemonOptions {
                    accounts,
                    edits,
                    backends,
                    workdir,
                    seed,
                    canopy,
                },
                &mut report,
            )?;
            finish(&report, json.as_deref())
        }
        Command::Kubernetes {
            resources,
            events,
            backends,
            json,
            workdir,
            canopy,
        } => {
            let canopy = canopy_binary(canopy)?;
            let mut report = report::Report::new(run::machine(), 1);
            kubernetes::run(
                &kubernetes::KubernetesOptions {
                    resources,
                    events,
                    backends,
                    workdir,
                    canopy,
                },
                &mut report,
            )?;
            finish(&report, json.as_deref())
        }
        Command::Measure { command } => {
            println!("{}", child::measure(&command)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Footprint {
            repository,
            database_url,
        } => {
            let footprint = footprint::measure(&repository, &database_url)?;
            println!("{}", serde_json::to_string_pretty(&footprint)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Load { directory } => {
            let (time, loaded) = timing::once(|| workload::load(&directory, None))?;
            let figures = workload::LoadOnce {
                seconds: time.as_secs_f64(),
                accounts: loaded.hierarchy.account_count(),
            };
            println!("{}", serde_json::to_string(&figures)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
