//! Usage against plan limits (`canopy usage`, the daemon's status): pure, over a live
//! hierarchy and the usage rows other systems wrote.
//!
//! - An account is measured against its own plan's limits.
//! - A customer group's usage is the sum of all its members', nested ones included:
//!   the accounts directly in it and every account below them (a reseller customer's
//!   own customers count towards the reseller's group), measured against the group's
//!   plan. An account inside two customer groups (one below the other) counts in both.
//! - At or above 80% of a limit is `approaching`, above 100% is `exceeding`.
//!
//! Usage of names that are not live accounts (archived, or unknown to canopy) is left
//! out: there is no plan to measure it against.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Hierarchy, Kind, Node, NodeType};

use super::UsageRow;

/// Share of a limit from which an account is reported as approaching it.
pub const APPROACHING_PERCENT: f64 = 80.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageStatus {
    /// Below 80% of the limit.
    Ok,
    /// At least 80% and at most 100% of the limit.
    Approaching,
    /// Above the limit.
    Exceeding,
    /// The plan sets no limit for this metric (or there is no plan).
    Unlimited,
}

impl UsageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageStatus::Ok => "ok",
            UsageStatus::Approaching => "approaching",
            UsageStatus::Exceeding => "exceeding",
            UsageStatus::Unlimited => "unlimited",
        }
    }

    fn of(amount: f64, limit: Option<u64>) -> (Option<f64>, UsageStatus) {
        let Some(limit) = limit else {
            return (None, UsageStatus::Unlimited);
        };
        if limit == 0 {
            let status = if amount > 0.0 {
                UsageStatus::Exceeding
            } else {
                UsageStatus::Ok
            };
            return (None, status);
        }
        let percent = amount / limit as f64 * 100.0;
        let status = if percent > 100.0 {
            UsageStatus::Exceeding
        } else if percent >= APPROACHING_PERCENT {
            UsageStatus::Approaching
        } else {
            UsageStatus::Ok
        };
        (Some(percent), status)
    }
}

/// One (account or group, metric) measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    pub name: String,
    pub kind: Kind,
    pub plan: Option<String>,
    pub metric: String,
    pub amount: f64,
    pub limit: Option<u64>,
    pub percent: Option<f64>,
    pub status: UsageStatus,
}

/// The usage of one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    /// The period reported (`None`: no usage recorded at all).
    pub period: Option<String>,
    pub lines: Vec<UsageLine>,
}

/// Measures `rows` of `period` (default: the latest period in `rows`).
pub fn report(hierarchy: &Hierarchy, rows: &[UsageRow], period: Option<&str>) -> UsageReport {
    let period = period
        .map(str::to_string)
        .or_else(|| rows.iter().map(|row| row.period.clone()).max());
    let Some(period) = period else {
        return UsageReport {
            period: None,
            lines: Vec::new(),
        };
    };
    // name -> metric -> amount, for live nodes only.
    let mut totals: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for row in rows.iter().filter(|row| row.period == period) {
        let Some(node) = hierarchy.node(&row.account) else {
            continue;
        };
        if node.spec.node_type.is_group() {
            continue;
        }
        *totals
            .entry(node.name.as_str())
            .or_default()
            .entry(row.metric.as_str())
            .or_default() += row.amount;
        for group in groups_above(hierarchy, node) {
            *totals
                .entry(group.name.as_str())
                .or_default()
                .entry(row.metric.as_str())
                .or_default() += row.amount;
        }
    }
    let mut lines = Vec::new();
    for node in &hierarchy.nodes {
        lines.extend(lines_of(hierarchy, node, totals.get(node.name.as_str())));
    }
    UsageReport {
        period: Some(period),
        lines,
    }
}

/// Every customer group an account is in, directly or through its ancestors.
fn groups_above<'a>(hierarchy: &'a Hierarchy, node: &Node) -> Vec<&'a Node> {
    let mut groups = Vec::new();
    let mut cursor = node.spec.parent.as_deref();
    // A stored tree has no cycles; the bound only guards a corrupt one.
    for _ in 0..hierarchy.nodes.len() {
        let Some(parent) = cursor.and_then(|name| hierarchy.node(name)) else {
            break;
        };
        if parent.spec.node_type == NodeType::CustomerGroup {
            groups.push(parent);
        }
        cursor = parent.spec.parent.as_deref();
    }
    groups
}

fn lines_of(
    hierarchy: &Hierarchy,
    node: &Node,
    used: Option<&BTreeMap<&str, f64>>,
) -> Vec<UsageLine> {
    let plan = node
        .spec
        .plan
        .as_deref()
        .and_then(|name| hierarchy.plan(name));
    let mut metrics: BTreeMap<&str, (f64, Option<u64>)> = BTreeMap::new();
    if let Some(plan) = plan {
        for (metric, limit) in &plan.spec.limits {
            metrics.insert(metric, (0.0, Some(*limit)));
        }
    }
    if used.is_none() && metrics.is_empty() {
        return Vec::new();
    }
    for (metric, amount) in used.into_iter().flatten() {
        metrics.entry(metric).or_insert((0.0, None)).0 += amount;
    }
    metrics
        .into_iter()
        .map(|(metric, (amount, limit))| {
            let (percent, status) = UsageStatus::of(amount, limit);
            UsageLine {
                name: node.name.to_string(),
                kind: node.spec.node_type.kind(),
                plan: node.spec.plan.as_deref().map(str::to_string),
                metric: metric.to_string(),
                amount,
                limit,
                percent,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Billing, NodeSpec, PlanSpec, ServicePlan};

    fn node(name: &str, node_type: NodeType, parent: Option<&str>, plan: Option<&str>) -> Node {
        let mut spec = NodeSpec::new(node_type, name);
        spec.parent = parent.map(Into::into);
        spec.plan = plan.map(Into::into);
        Node {
            name: name.into(),
            spec,
            adopt: false,
            live: Default::default(),
            effective: None,
        }
    }

    fn hierarchy() -> Hierarchy {
        let plan = |name: &str, limit: u64| ServicePlan {
            name: name.into(),
            spec: PlanSpec {
                billing: Billing::Purchased,
                licenses: None,
                limits: [("documents".to_string(), limit)].into(),
                display_name: None,
            },
            adopt: false,
            live: Default::default(),
        };
        Hierarchy::new(
            vec![
                node("partner", NodeType::Partner, None, None),
                node(
                    "pool",
                    NodeType::CustomerGroup,
                    Some("partner"),
                    Some("pooled"),
                ),
                node("a", NodeType::Customer, Some("pool"), Some("small")),
                node("b", NodeType::Customer, Some("pool"), None),
                node("reseller", NodeType::Customer, Some("pool"), None),
                node("reseller-shop", NodeType::Customer, Some("reseller"), None),
            ],
            vec![plan("small", 100), plan("pooled", 1000)],
        )
    }

    fn usage(account: &str, amount: f64, period: &str) -> UsageRow {
        UsageRow {
            account: account.into(),
            metric: "documents".into(),
            period: period.into(),
            amount,
        }
    }

    fn line<'a>(report: &'a UsageReport, name: &str) -> &'a UsageLine {
        report.lines.iter().find(|line| line.name == name).unwrap()
    }

    #[rstest::rstest]
    #[case(79.0, UsageStatus::Ok)]
    #[case(80.0, UsageStatus::Approaching)]
    #[case(100.0, UsageStatus::Approaching)]
    #[case(101.0, UsageStatus::Exceeding)]
    fn an_account_is_measured_against_its_plan(#[case] amount: f64, #[case] status: UsageStatus) {
        let report = report(&hierarchy(), &[usage("a", amount, "2025-01")], None);
        assert_eq!(line(&report, "a").status, status);
    }

    #[test]
    fn a_customer_group_sums_its_members() {
        let rows = [usage("a", 500.0, "2025-01"), usage("b", 350.0, "2025-01")];
        let report = report(&hierarchy(), &rows, None);
        let pool = line(&report, "pool");
        assert_eq!(pool.amount, 850.0);
        assert_eq!(pool.status, UsageStatus::Approaching);
        assert_eq!(line(&report, "b").status, UsageStatus::Unlimited);
    }

    #[test]
    fn a_customer_group_sums_nested_members_too() {
        let rows = [
            usage("a", 500.0, "2025-01"),
            usage("reseller", 100.0, "2025-01"),
            usage("reseller-shop", 450.0, "2025-01"),
        ];
        let report = report(&hierarchy(), &rows, None);
        let pool = line(&report, "pool");
        assert_eq!(pool.amount, 1050.0);
        assert_eq!(pool.status, UsageStatus::Exceeding);
        assert_eq!(line(&report, "reseller").amount, 100.0);
    }

    #[test]
    fn the_latest_period_is_the_default() {
        let rows = [usage("a", 500.0, "2025-01"), usage("a", 10.0, "2025-02")];
        let report = report(&hierarchy(), &rows, None);
        assert_eq!(report.period.as_deref(), Some("2025-02"));
        assert_eq!(line(&report, "a").amount, 10.0);
    }

    #[test]
    fn usage_of_unknown_accounts_is_left_out() {
        let report = report(&hierarchy(), &[usage("ghost", 5.0, "2025-01")], None);
        assert!(report.lines.iter().all(|line| line.name != "ghost"));
    }
}
