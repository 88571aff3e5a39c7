//! `canopy-bench daemon`: the real `canopy run --watch DIR` on a generated repository,
//! on each backend, each figure beside its raw baseline measured in the same run.
//!
//! ```text
//! generate repo ─> canopy run (startup pass creates everything) ─> N one-account edits
//!   (write temp + rename, wait for /status to count the apply) ─> RSS while idle
//! stop ─> canopy run --resync-interval 1s ─> resync passes of unchanged state (/status)
//! stop ─> raw UPDATE + COMMIT of the same rows ; raw SELECT checksum of `accounts`
//! ```
//!
//! The daemon runs with `--debounce 10ms` (the default 100ms would be most of the
//! latency) and a parse cache in the work directory. Latency is from just before the
//! rename to the moment `/status` (polled every millisecond) shows the pass applied.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use canopy::testing::baseline;
use serde_json::Value;

use crate::report::{Report, Target, figure};
use crate::run::{BackendName, postgres_if_asked};

pub struct DaemonOptions {
    pub accounts: usize,
    pub edits: usize,
    pub backends: Vec<BackendName>,
    pub workdir: PathBuf,
    pub seed: u64,
    pub canopy: PathBuf,
}

/// How long the startup pass (creating every account) may take.
const STARTUP_PATIENCE: Duration = Duration::from_secs(900);
/// How long one edit or resync may take before the run fails.
const PASS_PATIENCE: Duration = Duration::from_secs(60);
const RESYNCS: usize = 3;
/// How long after the last edit the idle memory is read (the daemon trims after 1 s).
const IDLE_AFTER: Duration = Duration::from_secs(3);

pub fn run(options: &DaemonOptions, report: &mut Report) -> anyhow::Result<()> {
    let server = postgres_if_asked(&options.backends)?;
    for &backend in &options.backends {
        let directory = options
            .workdir
            .join(format!("daemon-{}-{backend:?}", options.accounts));
        if directory.exists() {
            std::fs::remove_dir_all(&directory)?;
        }
        std::fs::create_dir_all(&directory)?;
        let url = match (backend, server.as_ref()) {
            (BackendName::Sqlite, _) => {
                format!("sqlite://{}", directory.join("canopy.db").display())
            }
            (BackendName::Postgres, Some(server)) => {
                server.create_database(&format!("daemon_{}", options.accounts))?
            }
            (BackendName::Postgres, None) => anyhow::bail!("no PostgreSQL server"),
        };
        let name = match backend {
            BackendName::Sqlite => "sqlite",
            BackendName::Postgres => "postgres",
        };
        measure(options, &directory, &url, name, report)
            .with_context(|| format!("daemon bench on {name}"))?;
        std::fs::remove_dir_all(&directory)?;
    }
    Ok(())
}

/// The edits of one run: (file, account, new display name).
struct Edit {
    file: PathBuf,
    account: String,
    display_name: String,
}

fn measure(
    options: &DaemonOptions,
    directory: &Path,
    url: &str,
    backend: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let accounts = options.accounts;
    let repo = directory.join("repo");
    let hierarchy = canopy::generate::hierarchy(accounts, options.seed);
    canopy::testing::repo::write(&hierarchy, &repo)?;
    let edits = pick_edits(&hierarchy, &repo, options.edits)?;
    drop(hierarchy);
    eprintln!("{backend}: starting the daemon on {accounts} accounts");
    let mut daemon = Daemon::start(&options.canopy, directory, &repo, url, "1h")?;
    daemon.wait_for(STARTUP_PATIENCE, "the startup pass", |status| {
        status["ready"] == true && applied(status) >= 1
    })?;
    let mut latencies = Vec::new();
    let mut phases = Vec::new();
    for edit in &edits {
        let before = applied(&daemon.status().unwrap_or_default());
        let started = Instant::now();
        write_edit(edit)?;
        let status = daemon.wait_for(PASS_PATIENCE, "an edit's commit", |status| {
            applied(status) > before
        })?;
        latencies.push(started.elapsed());
        phases.push(status["lastReconcile"]["phases"].clone());
    }
    // Idle: past the daemon's quiet period, after which it drops what the last pass
    // left and trims freed memory (not a synchronisation: the figure is what an idle
    // daemon holds).
    std::thread::sleep(IDLE_AFTER);
    let rss = daemon.rss_bytes()?;
    daemon.stop()?;
    check_edits_applied(url, &edits, report, accounts, backend)?;
    let mut resync = Daemon::start(&options.canopy, directory, &repo, url, "1s")?;
    let mut resyncs = Vec::new();
    let mut resync_phases = Vec::new();
    for index in 0..RESYNCS {
        let status = resync.wait_for(PASS_PATIENCE, "a resync", |status| {
            status["lastReconcile"]["trigger"] == "resync" && unchanged(status) > index as u64 + 1
        })?;
        let milliseconds = status["lastReconcile"]["durationMs"].as_u64().unwrap_or(0);
        resyncs.push(Duration::from_millis(milliseconds));
        resync_phases.push(status["lastReconcile"]["phases"].clone());
    }
    resync.stop()?;
    let restore: Vec<(String, String)> = edits
        .iter()
        .map(|edit| (edit.account.clone(), format!("{} raw", edit.display_name)))
        .collect();
    let raw_updates = baseline::update_each(url, &restore)?;
    let raw_checksum = (0..RESYNCS)
        .map(|_| baseline::checksum(url).map(|(time, _)| time))
        .collect::<Result<Vec<_>, _>>()?;
    let figures = Figures {
        latencies,
        raw_updates,
        resyncs,
        raw_checksum,
        rss,
        phases,
        resync_phases,
    };
    figures.record(report, accounts, backend);
    Ok(())
}

struct Figures {
    latencies: Vec<Duration>,
    raw_updates: Vec<Duration>,
    resyncs: Vec<Duration>,
    raw_checksum: Vec<Duration>,
    rss: u64,
    phases: Vec<Value>,
    resync_phases: Vec<Value>,
}

/// The median of one phase (`beginMs`, …) over passes' `/status` phases.
fn phase_p50(phases: &[Value], phase: &str) -> Duration {
    let times: Vec<Duration> = phases
        .iter()
        .map(|phases| Duration::from_secs_f64(phases[phase].as_f64().unwrap_or(0.0) / 1000.0))
        .collect();
    percentile(&times, 50)
}

impl Figures {
    fn record(self, report: &mut Report, accounts: usize, backend: &str) {
        let at = |id: &str, label: &str| figure(id, label, accounts, Some(backend));
        let p50 = percentile(&self.latencies, 50);
        let p99 = percentile(&self.latencies, 99);
        let raw_p50 = percentile(&self.raw_updates, 50);
        let raw_p99 = percentile(&self.raw_updates, 99);
        at("daemon.edit.p50", "edit to commit, p50")
            .seconds(p50)
            .against("raw UPDATE + COMMIT, p50", raw_p50)
            .record(report);
        at("daemon.edit.p99", "edit to commit, p99")
            .seconds(p99)
            .against("raw UPDATE + COMMIT, p99", raw_p99)
            .record(report);
        for phase in ["beginMs", "loadMs", "diffMs", "writeMs"] {
            at(
                &format!("daemon.edit.{phase}"),
                &format!("edit pass: {phase} (p50)"),
            )
            .seconds(phase_p50(&self.phases, phase))
            .record(report);
        }
        if let Some((slowest, phases)) = self
            .latencies
            .iter()
            .zip(&self.phases)
            .max_by_key(|(latency, _)| **latency)
        {
            eprintln!("{backend}: slowest edit {slowest:?}, its phases {phases}");
        }
        for phase in ["beginMs", "loadMs", "diffMs"] {
            at(
                &format!("daemon.resync.{phase}"),
                &format!("resync: {phase} (p50)"),
            )
            .seconds(phase_p50(&self.resync_phases, phase))
            .record(report);
        }
        let resync = percentile(&self.resyncs, 50);
        at("daemon.resync", "resync of unchanged state (median)")
            .seconds(resync)
            .against(
                "raw SELECT checksum of accounts",
                percentile(&self.raw_checksum, 50),
            )
            .record(report);
        at("daemon.idle_rss", "daemon RSS while idle")
            .bytes(self.rss)
            .record(report);
        let per_account = self.rss as f64 / accounts.max(1) as f64;
        let mut target = |text: &str, measured: String, met: bool| {
            report.targets.push(Target {
                target: text.to_string(),
                accounts,
                backend: backend.to_string(),
                measured,
                met,
            });
        };
        let ms = |time: Duration| format!("{:.1} ms", time.as_secs_f64() * 1000.0);
        target(
            "edit to commit p50 < 50 ms",
            ms(p50),
            p50 < Duration::from_millis(50),
        );
        target(
            "edit to commit p99 < 200 ms",
            ms(p99),
            p99 < Duration::from_millis(200),
        );
        target(
            "idle resync < 0.5 s",
            ms(resync),
            resync < Duration::from_millis(500),
        );
        target(
            "idle memory < 600 B/account",
            format!("{per_account:.0} B/account"),
            per_account < 600.0,
        );
    }
}

/// The nearest-rank percentile.
pub(crate) fn percentile(times: &[Duration], percent: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent * sorted.len())
        .div_ceil(100)
        .clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One customer in each of `count` different files (spread over the repository), its
/// `displayName` line to be rewritten.
fn pick_edits(
    hierarchy: &canopy::model::Hierarchy,
    repo: &Path,
    count: usize,
) -> anyhow::Result<Vec<Edit>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for root in std::fs::read_dir(repo)? {
        let root = root?.path();
        if root.is_dir() {
            for file in std::fs::read_dir(&root)? {
                let file = file?.path();
                if file
                    .extension()
                    .is_some_and(|extension| extension == "yaml")
                {
                    files.push(file);
                }
            }
        }
    }
    files.sort();
    // Files with a customer (a subsidiary's own file has none).
    let mut candidates = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        if let Some(account) = last_customer(&text, hierarchy) {
            candidates.push((file, account));
        }
    }
    anyhow::ensure!(
        candidates.len() >= count,
        "{} files with a customer under {}, {count} edits asked for",
        candidates.len(),
        repo.display()
    );
    let step = (candidates.len() / count.max(1)).max(1);
    let edits = (0..count)
        .map(|index| {
            let (file, account) = candidates[index * step].clone();
            Edit {
                file,
                account,
                display_name: format!("Bench edit {index}"),
            }
        })
        .collect();
    Ok(edits)
}

/// The last `metadata.name` in a file that names a customer.
fn last_customer(text: &str, hierarchy: &canopy::model::Hierarchy) -> Option<String> {
    text.lines()
        .rev()
        .filter_map(|line| line.trim().strip_prefix("name: "))
        .map(|name| name.trim().trim_matches('\'').trim_matches('"').to_string())
        .find(|name| {
            hierarchy
                .node(name)
                .is_some_and(|node| node.spec.node_type == canopy::model::NodeType::Customer)
        })
}

/// Rewrites the `displayName` after the account's `name:` line, editor style (a
/// temporary file renamed over the original).
fn write_edit(edit: &Edit) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&edit.file)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines
        .iter()
        .position(|line| {
            line.trim().strip_prefix("name: ").is_some_and(|name| {
                name.trim().trim_matches('\'').trim_matches('"') == edit.account
            })
        })
        .context("the account's name line")?;
    let line = lines[start..]
        .iter()
        .position(|line| line.trim_start().starts_with("displayName:"))
        .map(|offset| start + offset)
        .context("the account's displayName line")?;
    let indent = lines[line].len() - lines[line].trim_start().len();
    lines[line] = format!("{}displayName: {}", " ".repeat(indent), edit.display_name);
    let temporary = edit.file.with_extension("yaml.tmp");
    std::fs::write(&temporary, lines.join("\n") + "\n")?;
    std::fs::rename(&temporary, &edit.file)?;
    Ok(())
}

fn check_edits_applied(
    url: &str,
    edits: &[Edit],
    report: &mut Report,
    accounts: usize,
    backend: &str,
) -> anyhow::Result<()> {
    let mut store = canopy::store::open(url)?;
    let snapshot = store.snapshot()?;
    let wrong: Vec<&str> = edits
        .iter()
        .filter(|edit| {
            snapshot
                .hierarchy
                .node(&edit.account)
                .is_none_or(|node| node.spec.display_name != edit.display_name)
        })
        .map(|edit| edit.account.as_str())
        .collect();
    report.check(
        accounts,
        Some(backend),
        "every daemon edit is committed",
        wrong.is_empty(),
        format!(
            "{} of {} edits missing: {wrong:?}",
            wrong.len(),
            edits.len()
        ),
    );
    Ok(())
}

fn applied(status: &Value) -> u64 {
    status["reconciles"]["applied"].as_u64().unwrap_or(0)
}

fn unchanged(status: &Value) -> u64 {
    status["reconciles"]["unchanged"].as_u64().unwrap_or(0)
}

/// A running `canopy run`; killed when dropped.
pub(crate) struct Daemon {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    fn start(
        canopy: &Path,
        directory: &Path,
        repo: &Path,
        url: &str,
        resync: &str,
    ) -> anyhow::Result<Daemon> {
        let mut command = Command::new(canopy);
        command
            .args(["run", "--watch"])
            .arg(repo)
            .args(["--debounce", "10ms", "--resync-interval", resync])
            .env("CANOPY_DATABASE_URL", url)
            .env("CANOPY_CACHE_DIR", directory.join("cache"))
            .env_remove("CANOPY_CACHE");
        Daemon::spawn(command, directory)
    }

    /// Starts `command` (a `canopy run …`) listening on a free port, its log in
    /// `directory`.
    pub(crate) fn spawn(mut command: Command, directory: &Path) -> anyhow::Result<Daemon> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = directory.join(format!("daemon-{port}.log"));
        let child = command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("CANOPY_SOURCE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("start {:?}", command.get_program()))?;
        Ok(Daemon {
            child: Some(child),
            port,
            log,
        })
    }

    fn status(&self) -> Option<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }

    pub(crate) fn wait_for(
        &mut self,
        patience: Duration,
        what: &str,
        condition: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.status()
                && condition(&status)
            {
                return Ok(status);
            }
            if let Some(child) = self.child.as_mut()
                && let Some(exit) = child.try_wait()?
            {
                anyhow::bail!(
                    "the daemon exited ({exit}) waiting for {what}: {}",
                    self.tail()
                );
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// An error if the daemon has exited.
    pub(crate) fn check_running(&mut self, what: &str) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(exit) = child.try_wait()?
        {
            anyhow::bail!(
                "the daemon exited ({exit}) waiting for {what}: {}",
                self.tail()
            );
        }
        Ok(())
    }

    /// The resident set size now (`VmRSS`).
    pub(crate) fn rss_bytes(&self) -> anyhow::Result<u64> {
        let pid = self.child.as_ref().context("a running daemon")?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS")?;
        Ok(kib * 1024)
    }

    /// SIGTERM, then waits for the exit (the daemon releases its lock).
    pub(crate) fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = i32::try_from(child.id())?;
        // SAFETY: kill(2) on the child this bench spawned and still owns.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let exit = child.wait()?;
        anyhow::ensure!(
            exit.success(),
            "the daemon exited with {exit}: {}",
            self.tail()
        );
        Ok(())
    }

    pub(crate) fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or_default().to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
