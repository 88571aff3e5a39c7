//! canopy's performance targets, judged on the figures of one run: ratios to the baselines at
//! every size (the targets are set at 100k), absolute limits at 1M and above, and the
//! 10% change's absolute limit at 100k.

use crate::report::{Report, Target, Unit, value_text};

/// A ratio a measurement must stay at or under.
struct RatioTarget {
    id: &'static str,
    limit: f64,
    text: &'static str,
}

const RATIOS: [RatioTarget; 9] = [
    RatioTarget {
        id: "plan_noop.in_process",
        limit: 0.5,
        text: "no-op plan (in process) <= 0.5x serde_yaml one-thread parse",
    },
    RatioTarget {
        id: "plan_noop.binary",
        limit: 0.5,
        text: "no-op plan (`canopy plan`) <= 0.5x serde_yaml one-thread parse",
    },
    RatioTarget {
        id: "apply_new.write",
        limit: 2.0,
        text: "apply of all-new <= 2x raw insert",
    },
    RatioTarget {
        id: "apply_change.write",
        limit: 2.0,
        text: "apply of a 10% change <= 2x raw statements",
    },
    RatioTarget {
        id: "plan_noop.binary_warm",
        limit: 0.35,
        text: "no-op plan (`canopy plan`, caches warm) <= 0.35x serde_yaml one-thread parse",
    },
    RatioTarget {
        id: "plan_noop.flow_warm",
        limit: 0.35,
        text: "no-op plan (`canopy plan`, caches warm), flow-style documents <= 0.35x serde_yaml",
    },
    RatioTarget {
        id: "plan_noop.per_node_warm",
        limit: 0.35,
        text: "no-op plan (`canopy plan`, caches warm), one account per file <= 0.35x serde_yaml",
    },
    RatioTarget {
        id: "plan_noop.chunks_warm",
        limit: 0.35,
        text: "no-op plan (`canopy plan`, caches warm), 10,000 accounts per file <= 0.35x serde_yaml",
    },
    RatioTarget {
        id: "apply_new.binary_vs_import",
        limit: 6.0,
        text: "apply of all-new (`canopy apply`) <= 6x sqlite3 .import",
    },
];

/// The size the 10% change's absolute target is set at, and that target.
const MEDIUM: usize = 100_000;
const MEDIUM_CHANGE_SECONDS: f64 = 1.0;

/// Sizes from which the absolute targets apply.
const LARGE: usize = 1_000_000;
const LARGE_PLAN_SECONDS: f64 = 10.0;
const LARGE_PEAK_BYTES: f64 = 1_000_000_000.0;
const LARGE_WARM_SECONDS: f64 = 5.0;
const LARGE_APPLY_SECONDS: f64 = 30.0;
const LARGE_CHANGE_SECONDS: f64 = 10.0;

pub fn judge(report: &mut Report) {
    let mut targets = Vec::new();
    for measurement in &report.measurements {
        let backend = measurement.backend.clone().unwrap_or_default();
        for ratio_target in RATIOS.iter().filter(|t| t.id == measurement.id) {
            if let Some(ratio) = measurement.ratio {
                targets.push(Target {
                    target: ratio_target.text.to_string(),
                    accounts: measurement.accounts,
                    backend: backend.clone(),
                    measured: format!("{ratio:.2}x"),
                    met: ratio <= ratio_target.limit,
                });
            }
        }
        if measurement.id == "apply_change.binary" && measurement.accounts == MEDIUM {
            targets.push(Target {
                target: "10% change applied end to end (`canopy apply`) < 1 s".to_string(),
                accounts: measurement.accounts,
                backend: backend.clone(),
                measured: value_text(measurement.unit, measurement.value),
                met: measurement.value < MEDIUM_CHANGE_SECONDS,
            });
        }
        if measurement.accounts < LARGE {
            continue;
        }
        let limit = match measurement.id.as_str() {
            "plan_noop.binary" => Some(("no-op plan < 10 s", LARGE_PLAN_SECONDS)),
            "plan_noop.binary_warm" => Some(("no-op plan, caches warm < 5 s", LARGE_WARM_SECONDS)),
            "plan_noop.binary_peak_rss" => Some(("no-op plan peak RSS < 1 GB", LARGE_PEAK_BYTES)),
            "apply_new.binary" => Some(("all-new apply < 30 s", LARGE_APPLY_SECONDS)),
            "apply_change.binary" => Some((
                "10% change applied end to end (`canopy apply`) < 10 s",
                LARGE_CHANGE_SECONDS,
            )),
            "apply_new.binary_peak_rss" => {
                Some(("all-new apply peak RSS < 1 GB", LARGE_PEAK_BYTES))
            }
            _ => None,
        };
        if let Some((text, limit)) = limit {
            let per_account = match measurement.unit {
                Unit::Bytes => format!(
                    " ({:.0} B/account)",
                    measurement.value / measurement.accounts as f64
                ),
                Unit::Seconds => String::new(),
            };
            targets.push(Target {
                target: text.to_string(),
                accounts: measurement.accounts,
                backend,
                measured: format!(
                    "{}{per_account}",
                    value_text(measurement.unit, measurement.value)
                ),
                met: measurement.value < limit,
            });
        }
    }
    report.targets = targets;
}
