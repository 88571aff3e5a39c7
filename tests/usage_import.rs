//! `canopy usage --import FILE` with the real binary: a bad record anywhere is
//! reported with its line and nothing is recorded; good records are recorded and
//! reported, a customer group summing its members.

mod support;

use serde_json::Value;
use support::workspace::Workspace;

fn usage_json(workspace: &Workspace) -> Value {
    let (code, stdout, stderr) = workspace.run(&["usage", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("usage JSON")
}

#[test]
fn a_bad_record_is_located_and_nothing_is_recorded() {
    let workspace = Workspace::default_database();
    workspace.apply();
    workspace.write(
        "usage.csv",
        "account,metric,period,amount\nacme-eu,documentsPerMonth,2025-03,4200\nnobody,documentsPerMonth,2025-03,1\n",
    );
    let (code, _, stderr) = workspace.run(&["usage", "--import", "usage.csv"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("usage.csv:3: `nobody` is not a live account; nothing was recorded"),
        "{stderr}"
    );
    assert_eq!(usage_json(&workspace)["period"], Value::Null);
}

#[test]
fn imported_usage_is_reported_per_account_and_group() {
    let workspace = Workspace::default_database();
    workspace.apply();
    workspace.write(
        "usage.csv",
        "account,metric,period,amount\nacme-eu,documentsPerMonth,2025-03,4200\nfika-cafe,documentsPerMonth,2025-03,16000\n",
    );
    let (code, table, stderr) = workspace.run(&["usage", "--import", "usage.csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Recorded 2 usage records from usage.csv."),
        "{stderr}"
    );
    assert!(table.starts_with("usage in 2025-03\n"), "{table}");
    let report = usage_json(&workspace);
    let group = report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|line| line["name"] == "nordic-smb")
        .expect("the customer group's line");
    assert_eq!(group["amount"], 20200.0);
    assert_eq!(group["status"], "exceeding");
}
