//! End-to-end scenarios with the real `canopy` binary on a copy of the realistic
//! example, on SQLite and on a real PostgreSQL (`sqlite::NAME`, `postgres::NAME`).

#[macro_use]
mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::Backend;
use support::workspace::{Workspace, copy_dir};

fn fixture(backend: Backend) -> Workspace {
    Workspace::new(backend)
}

on_both_backends!(
    applying_twice_is_a_no_op_the_second_time,
    deactivating_a_partner_cascades_and_reactivating_restores,
    ungrouping_and_grouping_keep_the_account_number,
    changing_a_customer_groups_plan_is_one_change_plan,
    a_saved_plan_applies_exactly_and_a_stale_one_is_refused,
    apply_without_yes_and_without_a_terminal_writes_nothing,
    export_then_plan_shows_no_changes,
    an_unmanaged_account_is_adopted_only_with_the_annotation,
    orphans_are_listed_and_pruned_only_within_the_guard,
    an_empty_directory_prunes_nothing,
    a_scoped_run_refuses_changes_outside_its_subtree,
);

/// `canopy plan manifests --format json EXTRA...`, which must succeed, parsed.
fn plan_json(workspace: &Workspace, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "manifests", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = workspace.run(&args);
    assert_eq!(code, 0, "plan failed: {stderr}");
    serde_json::from_str(&stdout).expect("plan JSON")
}

fn changes<'a>(plan: &'a Value, op: &str) -> Vec<&'a Value> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|change| change["op"] == op)
        .collect()
}

fn applying_twice_is_a_no_op_the_second_time(workspace: &Workspace) {
    // `plan` only reads: it needs a database to exist (migrate or apply creates it).
    workspace.canopy(&["migrate"]).assert().success();
    let (code, stdout, _) = workspace.run(&["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(code, 2, "changes are pending before the first apply");
    assert!(stdout.contains("to create"), "{stdout}");
    workspace.apply();
    let (code, stdout, _) = workspace.run(&["apply", "manifests", "--yes"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("No changes."), "{stdout}");
    let (code, _, _) = workspace.run(&["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing is pending after apply");
}

const NORDIC_CUSTOMERS: [&str; 4] = ["acme-eu", "fika-cafe", "fjord-fisk", "fjord-it"];

fn deactivating_a_partner_cascades_and_reactivating_restores(workspace: &Workspace) {
    workspace.apply();
    workspace.edit(
        "holding.yaml",
        "displayName: Nordic Service Bureau AB\n",
        "displayName: Nordic Service Bureau AB\n  active: false\n",
    );
    let plan = plan_json(workspace, &[]);
    let deactivate = changes(&plan, "deactivate");
    assert_eq!(deactivate.len(), 1);
    assert_eq!(deactivate[0]["name"], "partner-nordic");
    assert_eq!(
        deactivate[0]["cascade"]["count"], 4,
        "fjord-bygg was inactive already"
    );
    assert_eq!(
        deactivate[0]["cascade"]["names"],
        serde_json::json!(NORDIC_CUSTOMERS)
    );
    workspace.apply();
    for name in NORDIC_CUSTOMERS {
        let object = workspace.object(name);
        assert_eq!(
            object["effectiveActive"], false,
            "{name} is effectively inactive"
        );
        assert_eq!(object["active"], true, "{name} keeps its own flag");
    }

    workspace.edit("holding.yaml", "  active: false\n", "");
    let plan = plan_json(workspace, &[]);
    assert_eq!(changes(&plan, "activate")[0]["cascade"]["count"], 4);
    workspace.apply();
    for name in NORDIC_CUSTOMERS {
        assert_eq!(
            workspace.object(name)["effectiveActive"],
            true,
            "{name} is restored"
        );
    }
    assert_eq!(workspace.object("fjord-bygg")["effectiveActive"], false);
}

fn ungrouping_and_grouping_keep_the_account_number(workspace: &Workspace) {
    workspace.apply();
    let number = workspace.object("fika-cafe")["accountNumber"].clone();
    assert!(number.is_i64());
    let fika = "displayName: Fika Café AB\n  parent: nordic-smb\n";
    workspace.edit(
        "nordic.yaml",
        fika,
        "displayName: Fika Café AB\n  parent: partner-nordic\n",
    );
    let plan = plan_json(workspace, &[]);
    assert_eq!(
        plan["changes"].as_array().map(Vec::len),
        Some(1),
        "one change: {plan}"
    );
    let ungroup = &plan["changes"][0];
    assert_eq!(
        (
            ungroup["op"].as_str(),
            ungroup["from"].as_str(),
            ungroup["to"].as_str()
        ),
        (Some("ungroup"), Some("nordic-smb"), Some("partner-nordic"))
    );
    workspace.apply();
    assert_eq!(workspace.object("fika-cafe")["parent"], "partner-nordic");
    assert_eq!(workspace.object("fika-cafe")["accountNumber"], number);

    workspace.edit(
        "nordic.yaml",
        "parent: partner-nordic\n  users:\n    - {email: owner@fika",
        "parent: nordic-smb\n  users:\n    - {email: owner@fika",
    );
    let plan = plan_json(workspace, &[]);
    assert_eq!(changes(&plan, "group").len(), 1, "{plan}");
    workspace.apply();
    assert_eq!(workspace.object("fika-cafe")["accountNumber"], number);
}

fn changing_a_customer_groups_plan_is_one_change_plan(workspace: &Workspace) {
    workspace.apply();
    workspace.edit("nordic.yaml", "plan: smb-pooled", "plan: standard");
    let plan = plan_json(workspace, &[]);
    let change = changes(&plan, "change-plan");
    assert_eq!(change.len(), 1, "{plan}");
    assert_eq!(
        (
            change[0]["kind"].as_str(),
            change[0]["from"].as_str(),
            change[0]["to"].as_str()
        ),
        (Some("AccountGroup"), Some("smb-pooled"), Some("standard"))
    );
    workspace.apply();
    assert_eq!(workspace.object("nordic-smb")["plan"], "standard");
}

fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused(workspace: &Workspace) {
    workspace.apply();
    workspace.edit(
        "nordic.yaml",
        "displayName: Fika Café AB",
        "displayName: Fika Kafé AB",
    );
    workspace
        .canopy(&["plan", "manifests", "--out", "reviewed.json"])
        .assert()
        .success();
    workspace
        .canopy(&["apply", "reviewed.json", "--yes"])
        .assert()
        .success();
    assert_eq!(workspace.object("fika-cafe")["displayName"], "Fika Kafé AB");

    workspace.edit(
        "nordic.yaml",
        "displayName: Fika Kafé AB",
        "displayName: Fika Coffee AB",
    );
    workspace
        .canopy(&["plan", "manifests", "--out", "stale.json"])
        .assert()
        .success();
    // Someone else changes the live state after the plan was made.
    workspace.edit(
        "globex.yaml",
        "displayName: Globex Corporation",
        "displayName: Globex Corp.",
    );
    workspace.apply();
    let before = workspace.get();
    let (code, _, stderr) = workspace.run(&["apply", "stale.json", "--yes"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("changed since the plan was made"),
        "{stderr}"
    );
    assert_eq!(workspace.get(), before, "a refused plan writes nothing");
}

fn apply_without_yes_and_without_a_terminal_writes_nothing(workspace: &Workspace) {
    let output = workspace
        .canopy(&["apply", "manifests"])
        .write_stdin("yes\n")
        .output()
        .expect("run canopy");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(workspace.get(), Vec::<Value>::new());
}

fn export_then_plan_shows_no_changes(workspace: &Workspace) {
    workspace.apply();
    workspace
        .canopy(&["export", "--out", "exported"])
        .assert()
        .success();
    let (code, stdout, stderr) = workspace.run(&["plan", "exported", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("No changes."), "{stdout}");
}

fn an_unmanaged_account_is_adopted_only_with_the_annotation(workspace: &Workspace) {
    workspace.apply();
    // This plan stores the live state in the snapshot cache: the hand edit below must
    // still be seen by the next one.
    let (code, stdout, stderr) = workspace.run(&["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    workspace
        .test_db()
        .execute("UPDATE accounts SET managed_by = NULL WHERE name = 'globex'");
    let (code, _, stderr) = workspace.run(&["plan", "manifests"]);
    assert_eq!(
        code, 1,
        "declaring an unmanaged account needs the annotation"
    );
    assert!(
        stderr.contains("globex") && stderr.contains("canopy.dev/adopt"),
        "{stderr}"
    );

    workspace.edit(
        "globex.yaml",
        "metadata:\n  name: globex\n",
        "metadata:\n  name: globex\n  annotations: {canopy.dev/adopt: \"true\"}\n",
    );
    let plan = plan_json(workspace, &[]);
    let updates = changes(&plan, "update");
    assert_eq!(updates.len(), 1, "{plan}");
    assert_eq!(updates[0]["name"], "globex");
    assert_eq!(updates[0]["fields"][0]["name"], "managedBy");
    workspace.apply();
    assert_eq!(workspace.object("globex")["managedBy"], "default");
}

fn orphans_are_listed_and_pruned_only_within_the_guard(workspace: &Workspace) {
    workspace.apply();
    let numbers: Vec<Value> = ["globex", "globex-finance"]
        .iter()
        .map(|name| workspace.object(name)["accountNumber"].clone())
        .collect();
    let globex = std::fs::read_to_string(workspace.manifests().join("globex.yaml")).expect("read");
    std::fs::remove_file(workspace.manifests().join("globex.yaml")).expect("remove");

    let plan = plan_json(workspace, &[]);
    assert!(
        changes(&plan, "delete").is_empty(),
        "no deletes without --prune"
    );
    let orphans = plan["orphans"].as_array().expect("orphans");
    assert!(orphans.contains(&Value::from("globex")), "{plan}");

    let (code, _, stderr) = workspace.run(&["plan", "manifests", "--prune"]);
    assert_eq!(code, 1, "3 of 16 accounts is more than the default 10%");
    assert!(stderr.contains("prune"), "{stderr}");

    workspace
        .canopy(&[
            "apply",
            "manifests",
            "--yes",
            "--prune",
            "--max-prune",
            "50",
        ])
        .assert()
        .success();
    assert!(
        workspace
            .get()
            .iter()
            .all(|object| object["name"] != "globex")
    );

    std::fs::write(workspace.manifests().join("globex.yaml"), globex).expect("restore file");
    workspace.apply();
    let restored: Vec<Value> = ["globex", "globex-finance"]
        .iter()
        .map(|name| workspace.object(name)["accountNumber"].clone())
        .collect();
    assert_eq!(restored, numbers, "a restored account keeps its number");
}

fn an_empty_directory_prunes_nothing(workspace: &Workspace) {
    workspace.apply();
    let before = workspace.get();
    std::fs::create_dir_all(workspace.directory.path().join("empty")).expect("mkdir");
    let (code, _, stderr) =
        workspace.run(&["apply", "empty", "--yes", "--prune", "--max-prune", "100"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(workspace.get(), before);
}

fn a_scoped_run_refuses_changes_outside_its_subtree(workspace: &Workspace) {
    workspace.apply();
    let (code, _, stderr) = workspace.run(&["plan", "manifests", "--scope", "partner-nordic"]);
    assert_eq!(code, 1, "the whole tree is outside a partner's scope");
    assert!(stderr.contains("acme-holding"), "{stderr}");

    let scoped = workspace.directory.path().join("nordic-only");
    std::fs::create_dir_all(&scoped).expect("mkdir");
    for file in ["nordic.yaml", "acme-eu-users.csv"] {
        std::fs::copy(workspace.manifests().join(file), scoped.join(file)).expect("copy");
    }
    let (code, stdout, stderr) = workspace.run(&[
        "plan",
        "nordic-only",
        "--scope",
        "partner-nordic",
        "--detailed-exitcode",
    ]);
    assert_eq!(code, 0, "the subtree as it is live: {stdout}{stderr}");

    let nordic = scoped.join("nordic.yaml");
    let text = std::fs::read_to_string(&nordic).expect("read");
    std::fs::write(
        &nordic,
        text.replacen(
            "parent: nordic-smb\n  users:\n    - {email: owner@fika",
            "parent: partner-south\n  users:\n    - {email: owner@fika",
            1,
        ),
    )
    .expect("write");
    let (code, _, stderr) = workspace.run(&["plan", "nordic-only", "--scope", "partner-nordic"]);
    assert_eq!(code, 1, "moving out of the scope is refused");
    assert!(stderr.contains("fika-cafe"), "{stderr}");
}

/// Every file of the SQLite database (main file, WAL, shared memory), by name.
fn sqlite_files(workspace: &Workspace) -> Vec<(String, Vec<u8>)> {
    let path = PathBuf::from(workspace.url().trim_start_matches("sqlite://"));
    let directory = path.parent().expect("database directory");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(directory)
        .expect("read directory")
        .map(|entry| {
            let entry = entry.expect("entry");
            let bytes = std::fs::read(entry.path()).expect("read database file");
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_plan_leaves_the_database_byte_for_byte_unchanged() {
    let workspace = Workspace::new(Backend::Sqlite);
    workspace.apply();
    workspace.edit(
        "holding.yaml",
        "displayName: Nordic Service Bureau AB\n",
        "displayName: Nordic Service Bureau AB\n  active: false\n",
    );
    let before = sqlite_files(&workspace);
    for format in ["text", "json", "markdown", "diff"] {
        let (code, _, stderr) =
            workspace.run(&["plan", "manifests", "--format", format, "--out", "p.json"]);
        assert_eq!(code, 0, "{stderr}");
    }
    assert!(
        sqlite_files(&workspace) == before,
        "planning wrote to the database"
    );
}

#[test]
fn plan_against_compares_two_directories_without_a_database() {
    let workspace = Workspace::new(Backend::Sqlite);
    let old = workspace.directory.path().join("old");
    copy_dir(&workspace.manifests(), &old);
    workspace.edit("nordic.yaml", "plan: smb-pooled", "plan: standard");
    let (code, stdout, stderr) = workspace.run(&[
        "plan",
        "--against",
        "old",
        "manifests",
        "--format",
        "markdown",
        "--detailed-exitcode",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stdout.contains("change-plan") && stdout.contains("nordic-smb"),
        "{stdout}"
    );
    let database = PathBuf::from(workspace.url().trim_start_matches("sqlite://"));
    assert!(!database.exists(), "--against must not open the database");
}
