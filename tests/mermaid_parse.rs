//! Every Mermaid diagram canopy writes, parsed by the real `mermaid` package (npm, in
//! a jsdom window; `scripts/install-mermaid.sh`): the pull-request comments of the
//! examples, a plan of 10,000+ changes, and `get -o mermaid` of a live tree. A broken
//! diagram is fed too, so that a parser that accepts anything fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::readme::copy_tree;
use support::workspace::Workspace;

/// The checker `scripts/install-mermaid.sh` printed (`CANOPY_MERMAID`, set by
/// scripts/test.sh), or the one it installs into target/tools.
fn checker() -> Option<PathBuf> {
    let path = std::env::var_os("CANOPY_MERMAID")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/tools/mermaid/check.mjs"));
    path.is_file().then_some(path)
}

/// The ```` ```mermaid ```` blocks of a Markdown text.
fn mermaid_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```mermaid\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next().map(str::to_string))
        .collect()
}

/// The comment for the example's pull request (`--against` its main branch).
fn pull_request_comment(workspace: &Workspace, example: &str) -> String {
    let head = workspace.path(&format!("{example}-pr"));
    copy_tree(Path::new(&format!("examples/{example}/manifests")), &head);
    copy_tree(
        Path::new(&format!("examples/{example}/pull-request")),
        &head,
    );
    let old = format!("examples/{example}/manifests");
    let old = std::fs::canonicalize(old).expect("the example");
    let (code, stdout, stderr) = workspace.run(&[
        "plan",
        "--against",
        old.to_str().expect("a UTF-8 path"),
        head.to_str().expect("a UTF-8 path"),
        "-o",
        "markdown",
    ]);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// 10,000+ creations: `accounts.yaml` of 400 partners with 25 customers each.
fn large_manifests(workspace: &Workspace) -> String {
    let mut text = String::from(
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: big-root}\nspec: {type: subsidiary, displayName: Big}\n",
    );
    for partner in 0..400 {
        text.push_str(&format!(
            "---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: p-{partner}}}\nspec: {{type: partner, parent: big-root, displayName: P {partner}}}\n"
        ));
        for customer in 0..25 {
            text.push_str(&format!(
                "---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: c-{partner}-{customer}}}\nspec: {{type: customer, parent: p-{partner}, displayName: C {partner} {customer}}}\n"
            ));
        }
    }
    workspace.write("large/accounts.yaml", &text);
    std::fs::create_dir_all(workspace.path("empty")).expect("an empty directory");
    let (code, stdout, stderr) =
        workspace.run(&["plan", "--against", "empty", "large", "-o", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.len() < 65_536, "{} bytes", stdout.len());
    stdout
}

#[test]
fn every_diagram_canopy_writes_parses_as_mermaid() {
    let Some(checker) = checker() else {
        eprintln!("skipped: the Mermaid parser is not installed (bash scripts/install-mermaid.sh)");
        return;
    };
    let workspace = Workspace::default_database();
    let mut diagrams: Vec<(String, String)> = Vec::new();
    for example in ["document-capture", "msp"] {
        let comment = pull_request_comment(&workspace, example);
        for block in mermaid_blocks(&comment) {
            diagrams.push((format!("{example}-pr"), block));
        }
    }
    for block in mermaid_blocks(&large_manifests(&workspace)) {
        diagrams.push(("large".to_string(), block));
    }
    workspace.apply();
    let (code, live, stderr) = workspace.run(&["get", "-o", "mermaid"]);
    assert_eq!(code, 0, "{stderr}");
    diagrams.push(("live".to_string(), live));
    assert_eq!(diagrams.len(), 4, "one diagram per source");
    let mut files = Vec::new();
    for (index, (name, diagram)) in diagrams.iter().enumerate() {
        files.push(workspace.write(&format!("diagrams/{index}-{name}.mmd"), diagram));
    }
    let output = Command::new("node")
        .arg(&checker)
        .args(&files)
        .output()
        .expect("run node");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        report.matches(": ok (flowchart").count(),
        files.len(),
        "{report}"
    );
    // The parser does reject a broken diagram.
    let broken = workspace.write("diagrams/broken.mmd", "flowchart TD\n  n0[\"a --> n1\n");
    let output = Command::new("node")
        .arg(&checker)
        .arg(&broken)
        .output()
        .expect("run node");
    assert!(
        !output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
