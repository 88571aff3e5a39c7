//! What a new user meets first, with the real binary on SQLite in a temporary
//! directory: the README's quick start as written, exit codes, read-only commands that
//! never create a database, saved plans, and the shared flag vocabulary.

mod support;

use std::path::Path;

use canopy::plan::saved::SavedPlan;
use predicates::prelude::*;
use serde_json::Value;
use support::workspace::{Workspace, copy_dir};

/// The README's quick-start command line: the first line of the first `sh` block
/// after "## Quick start".
fn quick_start() -> String {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("a Quick start section");
    let blocks = support::readme::sh_blocks(section);
    let block = blocks.first().expect("an sh block");
    block.lines().next().expect("a command").to_string()
}

#[test]
fn the_readme_quick_start_works_as_written() {
    let line = quick_start();
    let workspace = Workspace::default_database();
    copy_dir(
        Path::new("examples/realistic"),
        &workspace.path("examples/realistic"),
    );
    let mut outputs = Vec::new();
    for step in line.split("&&") {
        let words: Vec<&str> = step.split_whitespace().collect();
        let args = words
            .strip_prefix(&["cargo", "run", "--release", "--"][..])
            .unwrap_or_else(|| panic!("`{step}` is not `cargo run --release -- ARGS`"));
        let output = workspace.canopy(args).output().expect("run canopy");
        assert!(
            output.status.success(),
            "`{step}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    assert_eq!(outputs.len(), 2, "apply, then get: {line}");
    assert!(workspace.database().is_file(), "apply created canopy.db");
    let tree = &outputs[1];
    for name in ["holding", "partner-nordic", "acme-eu", "fika-cafe"] {
        assert!(tree.contains(name), "get shows {name}:\n{tree}");
    }
}

#[test]
fn the_readme_says_how_to_install_and_how_long_the_first_build_takes() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    assert!(readme.contains("cargo install --path ."), "{readme}");
    assert!(readme.contains("first build"), "{readme}");
}

#[test]
fn usage_errors_exit_1_not_2() {
    let workspace = Workspace::default_database();
    for args in [
        &["plan", "manifests", "--detailed-exitcode", "--bogus"][..],
        &["apply"][..],
        &["get", "-o", "xml"][..],
        &["frobnicate"][..],
        &[][..],
    ] {
        let (code, _, stderr) = workspace.run(args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(!stderr.is_empty(), "{args:?} explains the usage error");
    }
    assert!(!workspace.database().exists());
}

#[test]
fn help_documents_the_exit_codes_and_every_command_has_an_example() {
    let workspace = Workspace::default_database();
    workspace
        .canopy(&["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("2  only with --detailed-exitcode"));
    for command in [
        "validate",
        "plan",
        "apply",
        "get",
        "export",
        "usage",
        "history",
        "migrate",
        "crds",
        "schema",
        "version",
        "completions",
        "run",
        "approve",
        "suspend",
        "resume",
    ] {
        workspace
            .canopy(&[command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:\n  canopy "));
    }
}

#[test]
fn read_only_commands_never_create_a_database() {
    let workspace = Workspace::default_database();
    for args in [
        &["get"][..],
        &["get", "-o", "json"][..],
        &["plan", "manifests"][..],
        &["usage"][..],
        &["export"][..],
        &["history"][..],
    ] {
        let (code, stdout, stderr) = workspace.run(args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(
            stderr,
            "error: no canopy database at canopy.db (set --database-url or \
             CANOPY_DATABASE_URL; `canopy apply` creates it)\n",
            "{args:?}"
        );
        assert!(!workspace.database().exists(), "{args:?} created canopy.db");
    }
    workspace.canopy(&["migrate"]).assert().success();
    assert!(
        workspace.database().is_file(),
        "migrate creates the database"
    );
    workspace.canopy(&["get"]).assert().success();
}

#[test]
fn apply_creates_the_database() {
    let workspace = Workspace::default_database();
    workspace.apply();
    assert!(workspace.database().is_file());
}

#[test]
fn a_saved_plan_applies_without_asking_again() {
    let workspace = Workspace::default_database();
    workspace
        .canopy(&["plan", "manifests", "--out", "plan.json"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no canopy database"));
    workspace.canopy(&["migrate"]).assert().success();
    workspace
        .canopy(&["plan", "manifests", "--out", "plan.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("canopy apply plan.json"));
    // No terminal and no --yes: the review of the saved plan was the confirmation.
    workspace
        .canopy(&["apply", "plan.json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Applied "));
    let names: Vec<Value> = workspace
        .get()
        .iter()
        .map(|object| object["name"].clone())
        .collect();
    assert!(names.contains(&Value::from("acme-eu")), "{names:?}");
    // The same plan again is stale: the live state moved on.
    let (code, _, stderr) = workspace.run(&["apply", "plan.json"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("changed since the plan was made"),
        "{stderr}"
    );
}

#[test]
fn a_plan_file_among_manifest_paths_is_an_error() {
    let workspace = Workspace::default_database();
    workspace.apply();
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Kafé AB");
    workspace
        .canopy(&["plan", "manifests", "--out", "plan.json"])
        .assert()
        .success();
    let before = workspace.get();
    let (code, _, stderr) = workspace.run(&["apply", "plan.json", "manifests", "--yes"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not both"), "{stderr}");
    let (code, _, stderr) = workspace.run(&["apply", "plan.json", "--prune"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("give them to `canopy plan`"), "{stderr}");
    assert_eq!(workspace.get(), before);
}

/// Plans a one-field change, edits the saved file with `tamper`, and checks that
/// applying it is refused with `message` and writes nothing.
fn assert_tampered_plan_is_refused(tamper: impl FnOnce(&Path), message: &str) {
    let workspace = Workspace::default_database();
    workspace.apply();
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Kafé AB");
    workspace
        .canopy(&["plan", "manifests", "--out", "plan.json"])
        .assert()
        .success();
    tamper(&workspace.path("plan.json"));
    let database = std::fs::read(workspace.database()).expect("read canopy.db");
    let (code, _, stderr) = workspace.run(&["apply", "plan.json", "--yes"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    assert_eq!(
        std::fs::read(workspace.database()).expect("read canopy.db"),
        database,
        "a refused plan leaves the database byte for byte"
    );
}

/// Reads, edits and re-seals a plan file, as someone who also fixes the digest would.
fn reseal(path: &Path, edit: impl FnOnce(&mut canopy::plan::saved::Content)) {
    let saved = SavedPlan::from_json(&std::fs::read(path).expect("read plan")).expect("a plan");
    let mut content = saved.content;
    edit(&mut content);
    let sealed = SavedPlan::seal(content).expect("seal");
    std::fs::write(path, sealed.to_json().expect("json")).expect("write plan");
}

#[test]
fn an_edited_plan_file_is_refused_by_its_digest() {
    assert_tampered_plan_is_refused(
        |path| {
            let text = std::fs::read_to_string(path).expect("read plan");
            let edited = text.replace("Fika Kafé AB", "Fika Evil AB");
            assert_ne!(text, edited);
            std::fs::write(path, edited).expect("write plan");
        },
        "digest does not match",
    );
}

#[test]
fn a_resealed_plan_with_a_changed_field_is_refused() {
    assert_tampered_plan_is_refused(
        |path| {
            reseal(path, |content| {
                let node = content
                    .desired
                    .nodes
                    .iter_mut()
                    .find(|node| node.name == "fika-cafe")
                    .expect("fika-cafe");
                node.spec.active = false;
            })
        },
        "does not show what applying it would do",
    );
}

#[test]
fn a_resealed_plan_with_a_changed_operation_is_refused() {
    assert_tampered_plan_is_refused(
        |path| {
            reseal(path, |content| {
                let change = content.changes.first_mut().expect("one change");
                change.name = "globex".into();
            })
        },
        "does not show what applying it would do",
    );
}

#[test]
fn plan_json_of_invalid_manifests_prints_the_diagnostics_as_json() {
    let workspace = Workspace::default_database();
    workspace.apply();
    std::fs::copy(
        "examples/invalid/dangling-parent.yaml",
        workspace.path("manifests/dangling-parent.yaml"),
    )
    .expect("copy");
    for flag in ["-o", "--format"] {
        let (code, stdout, stderr) = workspace.run(&["plan", "manifests", flag, "json"]);
        assert_eq!(code, 1, "{stderr}");
        let report: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
        assert_eq!(report["valid"], false);
        let diagnostic = &report["diagnostics"][0];
        assert_eq!(diagnostic["severity"], "error");
        assert!(
            diagnostic["file"]
                .as_str()
                .is_some_and(|file| file.ends_with("dangling-parent.yaml")),
            "{report}"
        );
        assert!(diagnostic["line"].is_u64(), "{report}");
    }
}

#[test]
fn color_follows_the_flags_and_no_color() {
    let workspace = Workspace::default_database();
    workspace.canopy(&["migrate"]).assert().success();
    let colored = |args: &[&str], no_color: bool| {
        let mut command = workspace.canopy(args);
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let output = command.output().expect("run canopy");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).contains('\u{1b}')
    };
    assert!(colored(&["plan", "manifests", "--color", "always"], false));
    assert!(!colored(&["plan", "manifests", "--color", "never"], false));
    assert!(!colored(
        &["plan", "manifests", "--color", "always", "--no-color"],
        false
    ));
    assert!(!colored(&["plan", "manifests"], false), "not a terminal");
    assert!(!colored(&["plan", "manifests"], true));
}

#[test]
fn quiet_leaves_only_errors_on_standard_error() {
    let workspace = Workspace::default_database();
    workspace
        .canopy(&["apply", "manifests", "--yes", "-q"])
        .assert()
        .success()
        .stderr("");
    workspace
        .canopy(&["get", "nobody", "-q"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nobody"));
}

#[test]
fn version_names_the_schema_version() {
    let workspace = Workspace::default_database();
    workspace
        .canopy(&["version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(format!(
            "canopy {}\ndatabase schema version ",
            env!("CARGO_PKG_VERSION")
        )));
    let (_, stdout, _) = workspace.run(&["version", "-o", "json"]);
    let version: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["schemaVersion"], canopy::store::migrations::LATEST);
}

#[test]
fn completions_cover_four_shells() {
    let workspace = Workspace::default_database();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef canopy"),
        ("fish", "complete -c canopy"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        workspace
            .canopy(&["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker))
            .stdout(predicate::str::contains("detailed-exitcode"));
    }
    workspace.canopy(&["completions", "tcsh"]).assert().code(1);
}

/// `metadata.name` of every document of a multi-document YAML stream, in order.
fn metadata_names(yaml: &str) -> Vec<String> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| {
            let value = <serde_yaml::Value as serde::Deserialize>::deserialize(document)
                .expect("a YAML document");
            value["metadata"]["name"]
                .as_str()
                .expect("metadata.name")
                .to_string()
        })
        .collect()
}

const NUMBERED: &str = "\
apiVersion: canopy.dev/v1alpha1
kind: AccountTree
metadata: {name: shops}
spec:
  type: partner
  displayName: Shop Holding
  children:
    - {name: shop-10, type: customer, displayName: Shop Ten}
    - {name: shop-2, type: customer, displayName: Shop Two}
    - {name: shop-1, type: customer, displayName: Shop One}
";

#[test]
fn get_and_export_list_names_in_natural_order() {
    let workspace = Workspace::default_database();
    std::fs::create_dir(workspace.path("shops")).expect("mkdir");
    std::fs::write(workspace.path("shops/shops.yaml"), NUMBERED).expect("write");
    let (code, stdout, stderr) = workspace.run(&["apply", "shops", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("similar-name") && !stdout.contains("similar"),
        "Shop One / Shop Ten are no near-duplicates: {stdout}{stderr}"
    );
    workspace
        .canopy(&["get", "-o", "name"])
        .assert()
        .success()
        .stdout("shops\nshop-1\nshop-2\nshop-10\n");
    let (_, exported, _) = workspace.run(&["export"]);
    assert_eq!(
        metadata_names(&exported),
        ["shops", "shop-1", "shop-2", "shop-10"],
        "{exported}"
    );
}

#[test]
fn export_only_writes_one_subtree_and_its_plans() {
    let workspace = Workspace::default_database();
    workspace.apply();
    let (code, exported, stderr) = workspace.run(&["export", "--only", "nordic-smb"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        metadata_names(&exported),
        ["smb-pooled", "nordic-smb", "acme-eu", "fika-cafe"],
        "{exported}"
    );
    let (code, _, stderr) = workspace.run(&["export", "--only", "nobody"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`nobody` is not an exported account or group"),
        "{stderr}"
    );
}

/// `history -o json`: one JSON object per line.
fn history_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn history_lists_the_audit_log_by_name_and_after_a_sequence() {
    let workspace = Workspace::default_database();
    workspace
        .canopy(&["apply", "manifests", "--yes", "--revision", "r1"])
        .assert()
        .success();
    let (code, stdout, stderr) = workspace.run(&["history", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let entries = history_lines(&stdout);
    assert!(entries.len() > 10, "{stdout}");
    let sequences: Vec<i64> = entries
        .iter()
        .map(|entry| entry["sequence"].as_i64().expect("sequence"))
        .collect();
    assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]));
    for entry in &entries {
        assert_eq!(entry["revision"], "r1");
        assert!(entry["at"].is_string() && entry["actor"].is_string());
    }

    let (_, stdout, _) = workspace.run(&["history", "acme-eu", "-o", "json"]);
    let acme = history_lines(&stdout);
    assert!(!acme.is_empty());
    assert!(
        acme.iter().all(|entry| entry["name"] == "acme-eu"),
        "{stdout}"
    );

    let middle = sequences[sequences.len() / 2];
    let (_, stdout, _) = workspace.run(&["history", "-o", "json", "--after", &middle.to_string()]);
    let rest: Vec<i64> = history_lines(&stdout)
        .iter()
        .map(|entry| entry["sequence"].as_i64().expect("sequence"))
        .collect();
    assert_eq!(rest, sequences[sequences.len() / 2 + 1..]);

    let (_, text, _) = workspace.run(&["history", "acme-eu"]);
    assert!(text.starts_with('#') && text.contains("create"), "{text}");
}

#[test]
fn history_follow_streams_new_entries_in_order() {
    use std::io::BufRead;

    let workspace = Workspace::default_database();
    workspace.apply();
    let (_, stdout, _) = workspace.run(&["history", "-o", "json"]);
    let last = history_lines(&stdout)
        .last()
        .and_then(|entry| entry["sequence"].as_i64())
        .expect("entries");
    let binary = assert_cmd::cargo::cargo_bin("canopy");
    let mut follower = std::process::Command::new(binary)
        .current_dir(workspace.directory.path())
        .env_remove("CANOPY_DATABASE_URL")
        .args([
            "history",
            "--follow",
            "-o",
            "json",
            "--poll-interval",
            "50ms",
        ])
        .args(["--after", &last.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start history --follow");
    let stdout = follower.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    workspace.edit("nordic.yaml", "Fika Café AB", "Fika Kafé AB");
    workspace.apply();
    // Bounded wait for the streamed line (a hung follower fails instead of blocking).
    let line = received
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("history --follow printed the new entry");
    follower.kill().expect("stop the follower");
    follower.wait().expect("reap the follower");
    let entry: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(entry["sequence"].as_i64(), Some(last + 1), "{entry}");
    assert_eq!(entry["name"], "fika-cafe");
    assert_eq!(entry["op"], "update");
    assert_eq!(entry["after"]["displayName"], "Fika Kafé AB", "{entry}");
}
