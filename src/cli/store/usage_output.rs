//! What `canopy usage` prints as a table or CSV (the JSON is the serialised
//! [`UsageReport`](crate::store::usage::UsageReport)).

use std::fmt::Write;

use crate::store::usage::{UsageLine, UsageReport, UsageStatus};

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("--period `{0}` is not a month written YYYY-MM")]
    BadPeriod(String),
    #[error("writing the usage as CSV")]
    Csv(#[source] csv::Error),
}

/// `-o csv`: a header line, then one record per (object, metric); `percent` and `limit`
/// are empty when there is none, `period` repeats on every record.
pub fn csv(report: &UsageReport) -> Result<String, UsageError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "period", "name", "kind", "plan", "metric", "amount", "limit", "percent", "status",
    ];
    writer.write_record(header).map_err(UsageError::Csv)?;
    let period = report.period.clone().unwrap_or_default();
    for line in &report.lines {
        writer
            .write_record([
                period.as_str(),
                &line.name,
                line.kind.as_str(),
                line.plan.as_deref().unwrap_or(""),
                &line.metric,
                &amount(line.amount),
                &line
                    .limit
                    .map(|limit| limit.to_string())
                    .unwrap_or_default(),
                &line
                    .percent
                    .map(|percent| format!("{percent:.2}"))
                    .unwrap_or_default(),
                line.status.as_str(),
            ])
            .map_err(UsageError::Csv)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| UsageError::Csv(error.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Refuses a period that is not `YYYY-MM`.
pub fn check_period(period: &str) -> Result<(), UsageError> {
    let bytes = period.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let month_ok = matches!(period.get(5..7), Some(month) if ("01"..="12").contains(&month));
    if bytes.len() == 7 && bytes[4] == b'-' && digits(0..4) && digits(5..7) && month_ok {
        Ok(())
    } else {
        Err(UsageError::BadPeriod(period.to_string()))
    }
}

fn amount(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// A whole percentage; an amount just over its limit shows as `>100%`, not `100%`.
fn percent(line: &UsageLine) -> String {
    match line.percent {
        None => "-".to_string(),
        Some(percent) if line.status == UsageStatus::Exceeding && percent.round() <= 100.0 => {
            ">100%".to_string()
        }
        Some(percent) => format!("{percent:.0}%"),
    }
}

/// An aligned table, one line per (object, metric).
pub fn text(report: &UsageReport) -> String {
    let Some(period) = &report.period else {
        return "no usage recorded\n".to_string();
    };
    let header = [
        "NAME", "KIND", "PLAN", "METRIC", "USED", "LIMIT", "USE", "STATUS",
    ];
    let rows: Vec<[String; 8]> = report
        .lines
        .iter()
        .map(|line| {
            [
                line.name.clone(),
                line.kind.as_str().to_string(),
                line.plan.clone().unwrap_or_else(|| "-".into()),
                line.metric.clone(),
                amount(line.amount),
                line.limit.map_or("-".into(), |limit| limit.to_string()),
                percent(line),
                line.status.as_str().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = format!("usage in {period}\n");
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Billing, Hierarchy, LiveMeta, Node, NodeSpec, NodeType, PlanSpec, ServicePlan,
    };
    use crate::store::UsageRow;

    #[rstest::rstest]
    #[case("2025-01", true)]
    #[case("2025-12", true)]
    #[case("2025-13", false)]
    #[case("2025-1", false)]
    #[case("january", false)]
    fn periods_are_months(#[case] period: &str, #[case] valid: bool) {
        assert_eq!(check_period(period).is_ok(), valid);
    }

    #[test]
    fn the_report_flags_approaching_and_exceeding_accounts() {
        let customer = |name: &str| {
            let mut spec = NodeSpec::new(NodeType::Customer, name);
            spec.plan = Some("standard".into());
            Node {
                name: name.into(),
                spec,
                adopt: false,
                live: LiveMeta::default(),
                effective: None,
            }
        };
        let hierarchy = Hierarchy::new(
            vec![customer("busy"), customer("calm"), customer("over")],
            vec![ServicePlan {
                name: "standard".into(),
                spec: PlanSpec {
                    billing: Billing::Purchased,
                    licenses: None,
                    limits: [("documentsPerMonth".to_string(), 5000)].into(),
                    display_name: None,
                },
                adopt: false,
                live: LiveMeta::default(),
            }],
        );
        let usage = |account: &str, amount: f64| UsageRow {
            account: account.into(),
            metric: "documentsPerMonth".into(),
            period: "2025-01".into(),
            amount,
        };
        let report = crate::store::usage::report(
            &hierarchy,
            &[
                usage("busy", 4200.0),
                usage("calm", 10.5),
                usage("over", 5001.0),
            ],
            None,
        );
        insta::assert_snapshot!(text(&report));
        insta::assert_snapshot!("usage_as_csv", csv(&report).expect("csv"));
    }
}
