//! The benchmark harness as CI runs it: the real `canopy-bench` binary at 10k
//! accounts on both backends. It proves the harness completes, that its JSON holds
//! every figure, and that every correctness check it makes on the way passes. No
//! figure is compared with a limit here: timings on a shared machine are not test
//! results. PostgreSQL is never skipped: without its server binaries the run fails.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const ACCOUNTS: usize = 10_000;

/// The no-op plans of the other repository shapes, per backend, each with a ratio.
const SHAPE_FIGURES: [&str; 6] = [
    "plan_noop.flow",
    "plan_noop.flow_warm",
    "plan_noop.per_node",
    "plan_noop.per_node_warm",
    "plan_noop.chunks",
    "plan_noop.chunks_warm",
];

/// Every other figure measured per backend.
const BACKEND_FIGURES: [&str; 17] = [
    "apply_new.binary",
    "apply_new.binary_peak_rss",
    "apply_new.write",
    "apply_new.end_to_end",
    "snapshot",
    "diff.noop",
    "plan_noop.in_process",
    "plan_noop.binary",
    "plan_noop.binary_peak_rss",
    "plan_noop.binary_warm",
    "plan_noop.binary_warm_peak_rss",
    "diff.change",
    "render.text",
    "render.json",
    "apply_change.write",
    "apply_change.end_to_end",
    "apply_change.binary",
];

/// Figures that stand beside a baseline and so carry a ratio (as every one of
/// `SHAPE_FIGURES` does).
const COMPARED_FIGURES: [&str; 13] = [
    "parse.reader",
    "apply_new.binary",
    "plan_noop.binary_warm",
    "parse.cold",
    "parse.warm",
    "apply_new.write",
    "apply_new.end_to_end",
    "snapshot",
    "plan_noop.in_process",
    "plan_noop.binary",
    "apply_change.write",
    "apply_change.end_to_end",
    "apply_change.binary",
];

/// The (id, backend) of every figure, each present once.
fn figure_keys(report: &Value) -> BTreeSet<(String, Option<String>)> {
    let measurements = report["measurements"]
        .as_array()
        .expect("a measurements list");
    let keys: BTreeSet<(String, Option<String>)> = measurements
        .iter()
        .map(|m| {
            assert_eq!(m["accounts"], ACCOUNTS, "{m}");
            assert!(m["value"].as_f64().is_some_and(|v| v > 0.0), "{m}");
            let id = m["id"].as_str().expect("an id").to_string();
            if COMPARED_FIGURES.contains(&id.as_str()) || SHAPE_FIGURES.contains(&id.as_str()) {
                assert!(m["ratio"].as_f64().is_some_and(|r| r > 0.0), "{m}");
            }
            (id, m["backend"].as_str().map(str::to_string))
        })
        .collect();
    assert_eq!(keys.len(), measurements.len(), "a figure is measured twice");
    keys
}

fn which_sqlite3() -> bool {
    std::process::Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn the_harness_measures_everything_on_both_backends() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let json = directory.path().join("report.json");
    let output = Command::cargo_bin("canopy-bench")
        .expect("the canopy-bench binary")
        .args(["run", "--accounts", &ACCOUNTS.to_string()])
        .args(["--backends", "sqlite,postgres", "--json"])
        .arg(&json)
        .arg("--workdir")
        .arg(directory.path().join("work"))
        .output()
        .expect("run canopy-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "canopy-bench failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("| accounts | backend | measurement |"),
        "{stdout}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report"))
            .expect("valid JSON");
    let keys = figure_keys(&report);
    let mut expected: BTreeSet<(String, Option<String>)> =
        ["parse.reader", "parse.cold", "parse.warm"]
            .iter()
            .map(|id| (id.to_string(), None))
            .collect();
    for backend in ["sqlite", "postgres"] {
        for id in BACKEND_FIGURES.iter().chain(&SHAPE_FIGURES) {
            expected.insert((id.to_string(), Some(backend.to_string())));
        }
    }
    // Beside `sqlite3 .import`, when this machine has the program.
    if which_sqlite3() {
        expected.insert((
            "apply_new.binary_vs_import".to_string(),
            Some("sqlite".to_string()),
        ));
    }
    assert_eq!(keys, expected);

    let checks = report["checks"].as_array().expect("a checks list");
    assert!(checks.len() >= 10, "{checks:?}");
    let failed: Vec<&Value> = checks.iter().filter(|c| c["passed"] != true).collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}");
    let workload = &report["workloads"][0];
    assert!(
        workload["csv_files"].as_u64().is_some_and(|n| n > 0),
        "{workload}"
    );
    assert!(
        report["targets"].as_array().is_some_and(|t| t.len() >= 8),
        "{report}"
    );
}

fn load(directory: &Path) -> canopy::model::Hierarchy {
    let inputs = vec![directory.display().to_string()];
    canopy::manifest::load(&inputs, None)
        .unwrap_or_else(|error| panic!("{error}"))
        .hierarchy
}

#[test]
fn a_generated_repository_validates_and_loads_back_to_the_generated_hierarchy() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let repository = directory.path().join("repo");
    Command::cargo_bin("canopy-bench")
        .expect("the canopy-bench binary")
        .args(["generate", "--accounts", "3000", "--seed", "9", "--out"])
        .arg(&repository)
        .assert()
        .success();
    Command::cargo_bin("canopy")
        .expect("the canopy binary")
        .arg("validate")
        .arg(&repository)
        .assert()
        .success();
    let csv_files = std::fs::read_dir(repository.join("sub0"))
        .expect("the root's folder")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().to_string_lossy().ends_with(".users.csv"))
        })
        .count();
    assert!(csv_files > 0, "some users come from CSV files");
    assert_eq!(load(&repository), canopy::generate::hierarchy(3000, 9));
}

#[test]
fn generating_into_a_used_directory_fails_and_says_why() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(directory.path().join("old.yaml"), "kind: Other\n").expect("write");
    Command::cargo_bin("canopy-bench")
        .expect("the canopy-bench binary")
        .args(["generate", "--accounts", "100", "--out"])
        .arg(directory.path())
        .assert()
        .failure()
        .code(1)
        .stderr(predicates::str::contains("is not empty"));
}

/// `canopy-bench kubernetes` at two small sizes: the controller against the fake API
/// server completes, and every figure is there once per size.
#[test]
fn the_kubernetes_bench_measures_every_figure_at_each_size() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let json = directory.path().join("kubernetes.json");
    let output = Command::cargo_bin("canopy-bench")
        .expect("the canopy-bench binary")
        .args([
            "kubernetes",
            "--resources",
            "1,50",
            "--events",
            "3",
            "--json",
        ])
        .arg(&json)
        .arg("--workdir")
        .arg(directory.path().join("work"))
        .output()
        .expect("run canopy-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "canopy-bench failed:\n{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report"))
            .expect("JSON");
    let measured: BTreeSet<(String, u64)> = report["measurements"]
        .as_array()
        .expect("a measurements list")
        .iter()
        .map(|m| {
            assert!(m["value"].as_f64().is_some_and(|v| v > 0.0), "{m}");
            (
                m["id"].as_str().expect("an id").to_string(),
                m["accounts"].as_u64().expect("a size"),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64)> = [1, 50]
        .into_iter()
        .flat_map(|size| {
            [
                "kubernetes.event_to_ready.p50",
                "kubernetes.event_to_ready.p99",
                "kubernetes.initial_sync",
                "kubernetes.rss",
            ]
            .map(|id| (id.to_string(), size))
        })
        .collect();
    assert_eq!(measured, expected);
}
