//! What a run found: every measurement beside its baseline, the targets judged
//! against them, and the correctness checks made on the way; printed as a table and
//! written as JSON (the schema is in docs/benchmarks.md).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// A figure's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Seconds,
    Bytes,
}

/// What a measurement is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub label: String,
    pub value: f64,
}

/// One figure of one size (and backend, where it depends on one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// Stable identifier, e.g. `apply_new.write`, for tracking across runs.
    pub id: String,
    pub accounts: usize,
    pub backend: Option<String>,
    pub label: String,
    pub unit: Unit,
    pub value: f64,
    pub baseline: Option<Baseline>,
    /// value / baseline.value.
    pub ratio: Option<f64>,
}

/// A correctness check made while measuring (a benchmark of a wrong result is
/// worthless, so these are reported beside the figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub accounts: usize,
    pub backend: Option<String>,
    pub what: String,
    pub passed: bool,
    pub detail: String,
}

/// One of the benchmark's targets, judged on this run's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub target: String,
    pub accounts: usize,
    pub backend: String,
    pub measured: String,
    pub met: bool,
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_bytes: u64,
    pub profile: &'static str,
}

/// Sizes of one generated workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub accounts: usize,
    pub nodes: usize,
    pub users: usize,
    pub csv_users: usize,
    pub manifest_files: usize,
    pub csv_files: usize,
    pub manifest_bytes: u64,
    /// Accounts and groups in the 10% changed repository.
    pub changed_nodes: usize,
    /// Rows the raw change baseline writes (plans, accounts, archives, users).
    pub changed_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub seed: u64,
    pub workloads: Vec<Workload>,
    pub measurements: Vec<Measurement>,
    pub targets: Vec<Target>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(machine: Machine, seed: u64) -> Report {
        Report {
            machine,
            seed,
            workloads: Vec::new(),
            measurements: Vec::new(),
            targets: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Records a check, echoing a failure at once on standard error.
    pub fn check(
        &mut self,
        accounts: usize,
        backend: Option<&str>,
        what: &str,
        passed: bool,
        detail: String,
    ) {
        if !passed {
            eprintln!("CHECK FAILED ({accounts}, {backend:?}): {what}: {detail}");
        }
        self.checks.push(Check {
            accounts,
            backend: backend.map(str::to_string),
            what: what.to_string(),
            passed,
            detail,
        });
    }

    pub fn failed_checks(&self) -> usize {
        self.checks.iter().filter(|check| !check.passed).count()
    }
}

/// A measurement builder: `figure("snapshot", "snapshot load").seconds(time)`.
pub struct Figure {
    measurement: Measurement,
}

pub fn figure(id: &str, label: &str, accounts: usize, backend: Option<&str>) -> Figure {
    Figure {
        measurement: Measurement {
            id: id.to_string(),
            accounts,
            backend: backend.map(str::to_string),
            label: label.to_string(),
            unit: Unit::Seconds,
            value: 0.0,
            baseline: None,
            ratio: None,
        },
    }
}

impl Figure {
    pub fn seconds(mut self, time: Duration) -> Figure {
        self.measurement.unit = Unit::Seconds;
        self.measurement.value = time.as_secs_f64();
        self
    }

    pub fn bytes(mut self, bytes: u64) -> Figure {
        self.measurement.unit = Unit::Bytes;
        self.measurement.value = bytes as f64;
        self
    }

    pub fn against(mut self, label: &str, baseline: Duration) -> Figure {
        let value = baseline.as_secs_f64();
        self.measurement.ratio = (value > 0.0).then(|| self.measurement.value / value);
        self.measurement.baseline = Some(Baseline {
            label: label.to_string(),
            value,
        });
        self
    }

    pub fn record(self, report: &mut Report) {
        let m = &self.measurement;
        eprintln!(
            "  {:>9} {:<8} {:<44} {}",
            m.accounts,
            m.backend.as_deref().unwrap_or("-"),
            m.label,
            value_text(m.unit, m.value)
        );
        report.measurements.push(self.measurement);
    }
}

pub fn value_text(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Seconds if value >= 1.0 => format!("{value:.2} s"),
        Unit::Seconds => format!("{:.1} ms", value * 1000.0),
        Unit::Bytes => format!("{:.0} MB", value / 1_000_000.0),
    }
}

/// The table for people: one row per measurement, then targets and failed checks.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| accounts | backend | measurement | canopy | baseline | baseline time | ratio |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---|---:|---:|");
    for m in &report.measurements {
        let (label, time) = match &m.baseline {
            Some(baseline) => (
                baseline.label.as_str(),
                value_text(Unit::Seconds, baseline.value),
            ),
            None => ("", String::new()),
        };
        let ratio = m.ratio.map(|r| format!("{r:.2}x")).unwrap_or_default();
        let value = match (m.unit, m.accounts) {
            (Unit::Bytes, accounts) if accounts > 0 => format!(
                "{} ({:.0} B/account)",
                value_text(m.unit, m.value),
                m.value / accounts as f64
            ),
            _ => value_text(m.unit, m.value),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.accounts,
            m.backend.as_deref().unwrap_or("-"),
            m.label,
            value,
            label,
            time,
            ratio
        );
    }
    if !report.targets.is_empty() {
        let _ = writeln!(out, "\n| target | accounts | backend | measured | met |");
        let _ = writeln!(out, "|---|---:|---|---|---|");
        for target in &report.targets {
            let met = if target.met { "yes" } else { "**no**" };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                target.target, target.accounts, target.backend, target.measured, met
            );
        }
    }
    let failed = report.failed_checks();
    let _ = writeln!(out, "\n{} checks, {} failed", report.checks.len(), failed);
    for check in report.checks.iter().filter(|check| !check.passed) {
        let _ = writeln!(
            out,
            "FAILED: {} ({:?}): {}: {}",
            check.accounts, check.backend, check.what, check.detail
        );
    }
    out
}
