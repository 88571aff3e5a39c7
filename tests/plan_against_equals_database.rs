//! A pull request's offline plan (`plan --against BASE HEAD`, no database) shows the
//! same operations, and the same comment, as the plan of HEAD against a database that
//! holds BASE, on both backends: deactivation with cascade, regrouping, plan changes,
//! creations, removed users and prunes.

#[macro_use]
mod support;

use std::path::Path;

use serde_json::Value;
use support::Backend;
use support::readme::copy_tree;
use support::workspace::Workspace;

fn fixture(backend: Backend) -> Workspace {
    Workspace::new(backend)
}

on_both_backends!(
    the_document_capture_pull_request,
    the_msp_pull_request,
    a_pruning_pull_request
);

/// BASE applied to the workspace's database; HEAD is BASE with `changed` files copied
/// over it and `removed` files deleted.
fn pull_request(workspace: &Workspace, example: &str, removed: &[&str]) {
    let manifests = format!("examples/{example}/manifests");
    copy_tree(Path::new(&manifests), &workspace.path("base"));
    copy_tree(Path::new(&manifests), &workspace.path("head"));
    copy_tree(
        Path::new(&format!("examples/{example}/pull-request")),
        &workspace.path("head"),
    );
    for file in removed {
        std::fs::remove_file(workspace.path("head").join(file)).expect("remove a file");
    }
    workspace
        .canopy(&["apply", "base", "--yes"])
        .assert()
        .success();
}

fn run(workspace: &Workspace, args: &[&str]) -> String {
    let (code, stdout, stderr) = workspace.run(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

/// The JSON plan without the one member only a database has (its fingerprint).
fn operations(json: &str) -> Value {
    let mut plan: Value = serde_json::from_str(json).expect("plan JSON");
    plan.as_object_mut()
        .expect("an object")
        .remove("baseFingerprint");
    plan
}

fn assert_same_plan(workspace: &Workspace, extra: &[&str]) {
    let offline = |format: &str| {
        let mut args = vec!["plan", "--against", "base", "head", "-o", format];
        args.extend(extra);
        run(workspace, &args)
    };
    let database = |format: &str| {
        let mut args = vec!["plan", "head", "-o", format];
        args.extend(extra);
        run(workspace, &args)
    };
    let json = operations(&offline("json"));
    assert!(
        !json["changes"].as_array().expect("changes").is_empty(),
        "a pull request with changes"
    );
    assert_eq!(json, operations(&database("json")));
    assert_eq!(offline("markdown"), database("markdown"));
}

fn the_document_capture_pull_request(workspace: &Workspace) {
    pull_request(workspace, "document-capture", &[]);
    assert_same_plan(workspace, &[]);
}

fn the_msp_pull_request(workspace: &Workspace) {
    pull_request(workspace, "msp", &[]);
    assert_same_plan(workspace, &[]);
}

fn a_pruning_pull_request(workspace: &Workspace) {
    pull_request(workspace, "document-capture", &["partner-alpine.yaml"]);
    assert_same_plan(workspace, &["--prune", "--max-prune", "100"]);
}
