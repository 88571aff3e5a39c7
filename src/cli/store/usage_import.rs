//! `canopy usage --import FILE`: usage records from a CSV file (`account,metric,period,
//! amount`, a header line first), for trying canopy out and for tools that export CSV.
//! Metering systems usually write the usage table directly. Every record is checked
//! before anything is written; the first bad one is reported as `FILE:LINE: …`.

use std::path::Path;

use crate::manifest::is_valid_name;
use crate::store::UsageRow;

use super::usage_output::check_period;

const HEADER: [&str; 4] = ["account", "metric", "period", "amount"];

#[derive(Debug, thiserror::Error)]
pub enum UsageImportError {
    #[error("{file}: cannot read the usage file")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}; nothing was recorded")]
    Record {
        file: String,
        line: u64,
        message: String,
    },
}

/// One record and the line it is on.
pub type Located = (u64, UsageRow);

/// The records of a usage CSV file.
pub fn read(path: &Path) -> Result<Vec<Located>, UsageImportError> {
    let file = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| UsageImportError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&file, &text)
}

fn parse(file: &str, text: &[u8]) -> Result<Vec<Located>, UsageImportError> {
    let located = |line: u64, message: String| UsageImportError::Record {
        file: file.to_string(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 1;
        let record = record.map_err(|error| located(line, format!("not CSV: {error}")))?;
        let line = record.position().map_or(line, csv::Position::line);
        let fields: Vec<&str> = record.iter().collect();
        if index == 0 {
            if fields != HEADER {
                return Err(located(
                    line,
                    format!("the header must be `{}`", HEADER.join(",")),
                ));
            }
            continue;
        }
        let [account, metric, period, amount] = fields[..] else {
            return Err(located(
                line,
                format!(
                    "expected 4 fields ({}), got {}",
                    HEADER.join(","),
                    fields.len()
                ),
            ));
        };
        if !is_valid_name(account) {
            return Err(located(line, format!("`{account}` is not an account name")));
        }
        if metric.is_empty() {
            return Err(located(line, "the metric is empty".to_string()));
        }
        check_period(period).map_err(|error| located(line, error.to_string()))?;
        let amount = amount
            .parse::<f64>()
            .ok()
            .filter(|amount| amount.is_finite() && *amount >= 0.0)
            .ok_or_else(|| located(line, format!("amount `{amount}` is not a number >= 0")))?;
        let row = UsageRow {
            account: account.to_string(),
            metric: metric.to_string(),
            period: period.to_string(),
            amount,
        };
        rows.push((line, row));
    }
    Ok(rows)
}

/// Refuses the records of accounts the live state does not have (nothing recorded).
pub fn check_accounts(
    file: &Path,
    rows: &[Located],
    hierarchy: &crate::model::Hierarchy,
) -> Result<(), UsageImportError> {
    let unknown = rows.iter().find(|(_, row)| {
        hierarchy
            .node(&row.account)
            .is_none_or(|node| node.spec.node_type.is_group())
    });
    match unknown {
        Some((line, row)) => Err(UsageImportError::Record {
            file: file.display().to_string(),
            line: *line,
            message: format!("`{}` is not a live account", row.account),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_after_the_header() {
        let rows = parse(
            "u.csv",
            b"account,metric,period,amount\nacme,documentsPerMonth,2025-01,4200\nbeta,documentsPerMonth,2025-01,10.5\n",
        )
        .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1.amount, 10.5);
        assert_eq!(rows[1].0, 3);
    }

    #[rstest::rstest]
    #[case(b"name,metric,period,amount\n", "u.csv:1: the header must be")]
    #[case(
        b"account,metric,period,amount\nacme,docs,2025-13,1\n",
        "u.csv:2: --period `2025-13`"
    )]
    #[case(
        b"account,metric,period,amount\nacme,docs,2025-01,-1\n",
        "u.csv:2: amount `-1`"
    )]
    #[case(
        b"account,metric,period,amount\nacme,docs,2025-01,NaN\n",
        "u.csv:2: amount `NaN`"
    )]
    #[case(
        b"account,metric,period,amount\nAcme!,docs,2025-01,1\n",
        "u.csv:2: `Acme!` is not"
    )]
    #[case(
        b"account,metric,period,amount\nok,docs,2025-01,1\nacme,docs\n",
        "u.csv:3: expected 4 fields"
    )]
    fn a_bad_record_is_located(#[case] text: &[u8], #[case] expected: &str) {
        let error = parse("u.csv", text).expect_err("invalid");
        assert!(error.to_string().starts_with(expected), "{error}");
    }
}
