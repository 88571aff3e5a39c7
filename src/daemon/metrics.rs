//! The Prometheus metrics `/metrics` serves (text exposition via `prometheus-client`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `canopy_reconciles_total` | counter | `result` |
//! | `canopy_reconcile_duration_seconds` | histogram | |
//! | `canopy_operations_applied_total` | counter | `op` |
//! | `canopy_drift_corrections_total` | counter | |
//! | `canopy_drift_found_total` | counter | |
//! | `canopy_held_plans` | gauge | |
//! | `canopy_last_success_timestamp_seconds` | gauge | |
//! | `canopy_manifest_errors` | gauge | |
//! | `canopy_database_errors_total` | counter | `class` (`transient`/`permanent`) |
//! | `canopy_edit_to_commit_seconds` | histogram | |
//! | `canopy_suspended` | gauge | |
//! | `canopy_active` | gauge (1: holds the single-writer lock) | |
//! | `canopy_kubernetes_events_dropped_total` | counter (Events dropped from the controller's full queue) | |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    pub op: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: String,
}

/// Every metric, registered once; clones share the values.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ResultLabel, Counter>,
    pub reconcile_duration: Histogram,
    pub operations_applied: Family<OpLabel, Counter>,
    pub drift_corrections: Counter,
    pub drift_found: Counter,
    pub held_plans: Gauge,
    pub last_success: Gauge<f64, AtomicU64>,
    pub manifest_errors: Gauge,
    pub database_errors: Family<ClassLabel, Counter>,
    pub edit_to_commit: Histogram,
    pub suspended: Gauge,
    pub active: Gauge,
    pub kubernetes_events_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let seconds = || Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let mut metrics = Metrics {
            registry: Registry::with_prefix("canopy"),
            reconciles: Family::default(),
            reconcile_duration: seconds(),
            operations_applied: Family::default(),
            drift_corrections: Counter::default(),
            drift_found: Counter::default(),
            held_plans: Gauge::default(),
            last_success: Gauge::default(),
            manifest_errors: Gauge::default(),
            database_errors: Family::default(),
            edit_to_commit: seconds(),
            suspended: Gauge::default(),
            active: Gauge::default(),
            kubernetes_events_dropped: Counter::default(),
        };
        metrics.register();
        for class in ["transient", "permanent"] {
            // Both series exist from the start, at zero.
            drop(metrics.database_errors.get_or_create(&ClassLabel {
                class: class.to_string(),
            }));
        }
        metrics
    }
}

impl Metrics {
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "reconciles",
            "Reconcile passes by result",
            self.reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of a reconcile pass",
            self.reconcile_duration.clone(),
        );
        registry.register(
            "operations_applied",
            "Plan operations committed, by op",
            self.operations_applied.clone(),
        );
        registry.register(
            "drift_corrections",
            "Differences made in the database by hand and corrected",
            self.drift_corrections.clone(),
        );
        registry.register(
            "drift_found",
            "Differences made in the database by hand and found at a resync",
            self.drift_found.clone(),
        );
        registry.register(
            "held_plans",
            "Plans held by the blast-radius gate",
            self.held_plans.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last pass that ended applied or unchanged",
            self.last_success.clone(),
        );
        registry.register(
            "manifest_errors",
            "Errors in the manifests as they are now",
            self.manifest_errors.clone(),
        );
        registry.register(
            "database_errors",
            "Database errors by retry class",
            self.database_errors.clone(),
        );
        registry.register(
            "edit_to_commit_seconds",
            "From the first file change of a batch to its commit",
            self.edit_to_commit.clone(),
        );
        registry.register(
            "suspended",
            "1 while reconciling is suspended",
            self.suspended.clone(),
        );
        registry.register(
            "active",
            "1 while this instance holds the single-writer lock",
            self.active.clone(),
        );
        registry.register(
            "kubernetes_events_dropped",
            "Kubernetes Events dropped because the controller's event queue was full",
            self.kubernetes_events_dropped.clone(),
        );
    }

    pub fn count_reconcile(&self, result: &str) {
        self.reconciles
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
    }

    pub fn count_operation(&self, op: &str) {
        self.operations_applied
            .get_or_create(&OpLabel { op: op.to_string() })
            .inc();
    }

    pub fn count_database_error(&self, class: &str) {
        self.database_errors
            .get_or_create(&ClassLabel {
                class: class.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_reconciles_appear_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.count_reconcile("applied");
        metrics.count_operation("create");
        metrics.held_plans.set(1);
        let text = metrics.encode();
        assert!(
            text.contains("canopy_reconciles_total{result=\"applied\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("canopy_operations_applied_total{op=\"create\"} 1"),
            "{text}"
        );
        assert!(text.contains("canopy_held_plans 1"), "{text}");
    }
}
