//! The CI examples: the GitHub Actions workflow passes actionlint (and actionlint does
//! catch a broken one), the GitLab pipeline has the jobs its comments promise, and the
//! pull-request command line gives the exit codes the workflows rely on.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::readme::copy_tree;
use support::workspace::Workspace;

/// The actionlint runner `scripts/install-actionlint.sh` printed (`CANOPY_ACTIONLINT`,
/// set by scripts/test.sh), or the one it installs into target/tools.
fn actionlint() -> Option<PathBuf> {
    let path = std::env::var_os("CANOPY_ACTIONLINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/tools/actionlint/actionlint.mjs"));
    path.is_file().then_some(path)
}

fn lint(linter: &PathBuf, file: &std::path::Path) -> std::process::Output {
    Command::new("node")
        .arg(linter)
        .arg(file)
        .output()
        .expect("run node")
}

#[test]
fn the_github_workflow_passes_actionlint() {
    let Some(linter) = actionlint() else {
        eprintln!(
            "skipped: actionlint is not installed (bash scripts/install-actionlint.sh installs it)"
        );
        return;
    };
    let workflow = std::path::Path::new("examples/ci/github-actions.yml");
    let output = lint(&linter, workflow);
    assert!(
        output.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The same workflow with one bad expression must fail: the check is real.
    let broken = tempfile::tempdir().expect("temporary directory");
    let text = std::fs::read_to_string(workflow).expect("the workflow");
    let text = text.replacen("${{ github.base_ref }}", "${{ github.base_branch }}", 1);
    let file = broken.path().join("broken.yml");
    std::fs::write(&file, text).expect("write the broken workflow");
    let output = lint(&linter, &file);
    assert!(
        !output.status.success(),
        "actionlint accepted a bad expression"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("base_branch"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_gitlab_pipeline_previews_merge_requests_and_applies_by_hand() {
    let text = std::fs::read_to_string("examples/ci/gitlab-ci.yml").expect("the pipeline");
    let pipeline: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    let script = |job: &str| -> String {
        let lines = pipeline[job]["script"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{job} has a script"));
        lines
            .iter()
            .filter_map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let preview = script("canopy-preview");
    assert!(
        preview.contains("canopy plan --against") && preview.contains("-o markdown"),
        "{preview}"
    );
    assert!(
        preview.contains("<!-- canopy-plan -->"),
        "one sticky note: {preview}"
    );
    assert!(script("canopy-plan").contains("--out plan.json"));
    assert_eq!(script("canopy-apply"), "canopy apply plan.json");
    assert_eq!(
        pipeline["canopy-apply"]["rules"][0]["when"].as_str(),
        Some("manual"),
        "a person starts the apply"
    );
}

/// `plan --against BASE HEAD -o markdown --detailed-exitcode`, as both pipelines run it:
/// 2 with changes, 0 without, 1 on invalid manifests.
#[test]
fn the_pull_request_plan_exits_as_the_pipelines_expect() {
    let workspace = Workspace::default_database();
    let base = workspace.path("base");
    let head = workspace.path("head");
    copy_tree(
        std::path::Path::new("examples/document-capture/manifests"),
        &base,
    );
    copy_tree(
        std::path::Path::new("examples/document-capture/manifests"),
        &head,
    );
    let plan = |new: &str| {
        workspace.run(&[
            "plan",
            "--against",
            "base",
            new,
            "-o",
            "markdown",
            "--detailed-exitcode",
        ])
    };
    assert_eq!(plan("head").0, 0);
    copy_tree(
        std::path::Path::new("examples/document-capture/pull-request"),
        &head,
    );
    let (code, comment, _) = plan("head");
    assert_eq!(code, 2, "{comment}");
    assert!(comment.starts_with("### canopy plan"), "{comment}");
    workspace.write(
        "head/broken.yaml",
        "kind: Account\napiVersion: canopy.dev/v1alpha1\nmetadata: {name: Bad_Name}\n",
    );
    assert_eq!(plan("head").0, 1);
    assert!(!workspace.database().exists(), "no database needed or made");
}

/// `plan --hold-above N` says in the comment whether the daemon's gate would hold the
/// plan: the document-capture pull request deactivates 5 accounts (the partner and 4
/// below it).
#[test]
fn the_comment_says_when_the_approval_gate_would_hold_the_plan() {
    let workspace = Workspace::default_database();
    copy_tree(
        std::path::Path::new("examples/document-capture/manifests"),
        &workspace.path("base"),
    );
    copy_tree(
        std::path::Path::new("examples/document-capture/manifests"),
        &workspace.path("head"),
    );
    copy_tree(
        std::path::Path::new("examples/document-capture/pull-request"),
        &workspace.path("head"),
    );
    let comment = |gate: &str| {
        let (code, stdout, stderr) = workspace.run(&[
            "plan",
            "--against",
            "base",
            "head",
            "-o",
            "markdown",
            "--hold-above",
            gate,
        ]);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let held = comment("4");
    assert!(
        held.contains("deactivates, prunes or moves 5 accounts, more than `--hold-above 4`"),
        "{held}"
    );
    for gate in ["5", "off"] {
        assert!(
            !comment(gate).contains("Held by the approval gate"),
            "{gate}"
        );
    }
    let (code, _, stderr) =
        workspace.run(&["plan", "--against", "base", "head", "--hold-above", "many"]);
    assert_eq!(code, 1, "{stderr}");
}
