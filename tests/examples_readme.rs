//! Each example's README followed literally, from a fresh directory to a populated
//! database and a pull-request comment (snapshotted: the comment a reviewer reads), and
//! what a first-time user should see checked.

mod support;

use support::readme::follow;

#[test]
fn the_document_capture_readme_works_as_written() {
    let run = follow("document-capture");
    let comment = run.read("comment.md");
    insta::assert_snapshot!("document_capture_comment", comment);
    assert!(
        comment.contains("⚠️ Review carefully: 1 deactivation (4 more accounts lose access)."),
        "{comment}"
    );
    assert!(comment.contains("```mermaid\nflowchart TD\n"), "{comment}");
    assert!(
        comment.contains("oslo-logistics · → moved from partner-nordic"),
        "{comment}"
    );
    let alpine = &run.outputs[run.outputs.len() - 1];
    assert!(alpine.contains("inactive (inherited)"), "{alpine}");
    assert!(alpine.contains("flowchart TD"), "{alpine}");
}

#[test]
fn the_msp_readme_works_as_written() {
    let run = follow("msp");
    let comment = run.read("comment.md");
    insta::assert_snapshot!("msp_comment", comment);
    assert!(
        comment.contains("**⚠️ Review carefully: 1 user removed.**"),
        "{comment}"
    );
    assert!(
        comment.contains("megacorp-research · + created"),
        "{comment}"
    );
    let output = run.all_output();
    assert!(
        output.contains("  megacorp-finance (customer) #1003 active"),
        "{output}"
    );
    assert!(
        output.contains("period,name,kind,plan,metric,amount,limit,percent,status"),
        "{output}"
    );
    let pool =
        "2026-05,resold,AccountGroup,reseller-pool,documentsPerMonth,11780,11000,107.09,exceeding";
    assert!(output.contains(pool), "{output}");
    assert!(
        output.contains(
            "2026-05,kanzlei-weber,Account,business,documentsPerMonth,9400,10000,94.00,approaching"
        ),
        "{output}"
    );
}

/// Runs `kubectl kustomize … | canopy plan -` as the README says; kubectl renders
/// locally (no cluster). Skipped, with a notice, where kubectl is not installed.
#[test]
fn the_kubernetes_readme_works_as_written() {
    if std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        eprintln!("skipped: kubectl is not installed (the README needs `kubectl kustomize`)");
        return;
    }
    let run = follow("kubernetes");
    let output = run.all_output();
    assert!(output.contains("Plan: 9 to create."), "{output}");
    assert!(output.contains("No changes."), "{output}");
    insta::assert_snapshot!("kubernetes_comment", run.read("comment.md"));
    for comment in [run.read("comment.md"), run.read("offline.md")] {
        assert!(
            comment.contains("**⚠️ Review carefully: 1 deactivation.**"),
            "{comment}"
        );
        assert!(comment.contains("uppsala-print · + created"), "{comment}");
    }
}

#[test]
fn the_partner_repo_readme_works_as_written() {
    let run = follow("partner-repo");
    let table = &run.outputs[0];
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("tallinn-tax") && line.contains("partner-baltic")),
        "{table}"
    );
    let comment = run.read("comment.md");
    insta::assert_snapshot!("partner_repo_comment", comment);
    assert!(
        comment.contains("**⚠️ Review carefully: 1 prune.**"),
        "{comment}"
    );
    assert!(comment.contains("vilnius-clinic · − pruned"), "{comment}");
}
