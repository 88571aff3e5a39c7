//! `canopy-bench run`: every size, every backend, one process, one report.
//!
//! ```text
//! for N in sizes:   workload::prepare (repos, changed rows, parse figures)
//!   for backend:    two fresh databases ─> backend::measure
//! targets::judge ─> table on stdout, JSON file
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use canopy::testing::postgres::PostgresServer;

use crate::backend::{self, Bench, Databases};
use crate::report::{self, Machine, Report};
use crate::{targets, workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendName {
    Sqlite,
    Postgres,
}

pub struct RunOptions {
    pub accounts: Vec<usize>,
    pub backends: Vec<BackendName>,
    pub json: Option<PathBuf>,
    pub workdir: PathBuf,
    pub seed: u64,
    pub canopy: PathBuf,
}

/// A throwaway PostgreSQL server when `backends` names PostgreSQL.
pub fn postgres_if_asked(backends: &[BackendName]) -> anyhow::Result<Option<PostgresServer>> {
    if !backends.contains(&BackendName::Postgres) {
        return Ok(None);
    }
    eprintln!("starting a throwaway PostgreSQL");
    Ok(Some(PostgresServer::start()?))
}

/// Measures everything and returns the report (already printed and saved).
pub fn run(options: &RunOptions) -> anyhow::Result<Report> {
    check_canopy_binary(&options.canopy)?;
    let server = postgres_if_asked(&options.backends)?;
    let mut report = Report::new(machine(), options.seed);
    for &accounts in &options.accounts {
        let directory = options.workdir.join(format!("{accounts}-accounts"));
        let prepared = workload::prepare(accounts, options.seed, &directory, &mut report)?;
        for &backend in &options.backends {
            let databases = fresh_databases(backend, accounts, &directory, server.as_ref())?;
            backend::measure(&mut Bench {
                prepared: &prepared,
                databases: &databases,
                canopy_binary: &options.canopy,
                report: &mut report,
            })
            .with_context(|| format!("{accounts} accounts on {}", databases.backend))?;
        }
    }
    targets::judge(&mut report);
    print!("{}", report::table(&report));
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(report)
}

/// The `canopy` binary must exist, and should be at least as new as this one (cargo
/// builds only the binary it is asked to run).
fn check_canopy_binary(canopy: &Path) -> anyhow::Result<()> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
    let canopy_time = modified(canopy).with_context(|| {
        format!(
            "the canopy binary {} (build it with `cargo build --release --features testing --bins`, or pass --canopy)",
            canopy.display()
        )
    })?;
    let this = std::env::current_exe()?;
    if let Ok(this_time) = modified(&this)
        && canopy_time < this_time
    {
        eprintln!(
            "note: {} is older than canopy-bench; if the library changed since it was built, \
             its figures are stale (`cargo build --release --features testing --bins` rebuilds both)",
            canopy.display()
        );
    }
    Ok(())
}

fn fresh_databases(
    backend: BackendName,
    accounts: usize,
    directory: &Path,
    server: Option<&PostgresServer>,
) -> anyhow::Result<Databases> {
    match (backend, server) {
        (BackendName::Sqlite, _) => {
            let folder = directory.join("sqlite");
            std::fs::create_dir_all(&folder)?;
            let url = |name: &str| format!("sqlite://{}", folder.join(name).display());
            Ok(Databases {
                backend: "sqlite",
                canopy: url("canopy.db"),
                raw: url("raw.db"),
                binary: url("binary.db"),
            })
        }
        (BackendName::Postgres, Some(server)) => Ok(Databases {
            backend: "postgres",
            canopy: server.create_database(&format!("canopy_{accounts}"))?,
            raw: server.create_database(&format!("raw_{accounts}"))?,
            binary: server.create_database(&format!("binary_{accounts}"))?,
        }),
        (BackendName::Postgres, None) => anyhow::bail!("no PostgreSQL server was started"),
    }
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_bytes: memory_kib * 1024,
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    }
}
