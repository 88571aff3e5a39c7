//! What the CLI prints, with the real binary on SQLite in a temporary directory:
//! progress only on a terminal, large plans summarised, `-v` phase logs, YAML errors in
//! plain words, "did you mean" for fields, counted nouns, the whole object from `get`,
//! and database flags only where a database is used.

mod support;

use serde_json::Value;
use support::workspace::Workspace;

/// Runs `args` under a pseudo-terminal (`script`), so that standard error is a
/// terminal, and returns everything the terminal received.
fn on_a_terminal(workspace: &Workspace, args: &[&str]) -> String {
    let binary = assert_cmd::cargo::cargo_bin("canopy");
    let command = std::iter::once(binary.display().to_string())
        .chain(args.iter().map(|arg| arg.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(workspace.directory.path())
        .env_remove("CANOPY_DATABASE_URL")
        .env_remove("CANOPY_LOG")
        .output()
        .expect("run script(1)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn progress_is_drawn_on_a_terminal_only_and_never_with_quiet() {
    let workspace = Workspace::default_database();
    let terminal = on_a_terminal(&workspace, &["apply", "manifests", "--yes"]);
    assert!(
        terminal.contains("reading the live state")
            && terminal.contains("loading the manifests")
            && terminal.contains("writing 23 changes"),
        "{terminal}"
    );
    let (code, _, stderr) = workspace.run(&["get"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("reading the live state"), "{stderr}");
    let quiet = on_a_terminal(&workspace, &["get", "--quiet"]);
    assert!(!quiet.contains("reading the live state"), "{quiet}");
    assert!(quiet.contains("acme-holding"), "{quiet}");
}

/// 60 new customers under partner-nordic, and fjord-it (with its customers)
/// deactivated: a large plan with one risky change.
fn large_change(workspace: &Workspace) {
    let mut text = String::new();
    for index in 1..=60 {
        text.push_str(&format!(
            "---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: shop-{index}\n\
             spec:\n  type: customer\n  displayName: Shop number {index}\n  parent: partner-nordic\n"
        ));
    }
    workspace.write("manifests/shops.yaml", &text);
    workspace.edit(
        "nordic.yaml",
        "  reseller: true\n",
        "  reseller: true\n  active: false\n",
    );
}

#[test]
fn a_large_plan_shows_the_risky_changes_and_the_summary_unless_asked_for_all() {
    let workspace = Workspace::default_database();
    workspace.apply();
    large_change(&workspace);
    let (code, stdout, stderr) = workspace.run(&["plan", "manifests"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("↓ deactivate Account fjord-it (cascades to"),
        "{stdout}"
    );
    assert!(!stdout.contains("create Account shop-1 "), "{stdout}");
    assert!(stdout.contains("not listed: 60 other changes"), "{stdout}");
    assert!(
        stdout.contains("Plan: 60 to create, 1 to deactivate"),
        "{stdout}"
    );
    let (_, verbose, _) = workspace.run(&["plan", "manifests", "-v"]);
    for index in 1..=60 {
        assert!(
            verbose.contains(&format!("create Account shop-{index} ")),
            "{verbose}"
        );
    }
    let (_, json, _) = workspace.run(&["plan", "manifests", "-o", "json"]);
    let plan: Value = serde_json::from_str(&json).expect("plan JSON");
    assert_eq!(plan["changes"].as_array().map(Vec::len), Some(61));
    // The apply prints the same summary before writing everything.
    let (code, stdout, stderr) = workspace.run(&["apply", "manifests", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("not listed: 60 other changes"), "{stdout}");
    assert!(
        stderr.contains("Applied 61 changes (60 accounts created)."),
        "{stderr}"
    );
}

#[test]
fn verbose_logs_every_phase_with_its_duration() {
    let workspace = Workspace::default_database();
    let (code, _, stderr) = workspace.run(&["apply", "manifests", "--yes", "-v"]);
    assert_eq!(code, 0, "{stderr}");
    for phase in ["lock:", "snapshot:", "load:", "diff:", "write:", "commit:"] {
        let line = stderr
            .lines()
            .find(|line| line.contains(phase))
            .unwrap_or_else(|| panic!("no `{phase}` line in {stderr}"));
        assert!(line.contains("took="), "{line}");
    }
    let load = stderr
        .lines()
        .find(|line| line.contains("load:"))
        .unwrap_or_default();
    assert!(
        load.contains("files=5") && load.contains("accounts=16"),
        "{load}"
    );
    let (_, _, quiet) = workspace.run(&["plan", "manifests"]);
    assert!(!quiet.contains("snapshot:"), "logs only with -v: {quiet}");
}

#[rstest::rstest]
#[case::dedented(
    "spec:\n  type: customer\n  displayName: Acme\n plan: gold\n",
    "bad.yaml:9:2: error[yaml-syntax]: inconsistent indentation: `plan` is indented 1 space, its siblings 2"
)]
#[case::tab(
    "spec:\n\ttype: customer\n",
    "bad.yaml:7:1: error[yaml-syntax]: a tab indents this line: YAML indents with spaces only"
)]
#[case::missing_colon(
    "spec:\n  type: customer\n  displayName Acme\n  parent: partner-nordic\n",
    "bad.yaml:8:3: error[yaml-syntax]: missing `:` after the key `displayName`"
)]
#[case::unclosed_quote(
    "spec:\n  type: customer\n  displayName: \"Acme\n  parent: partner-nordic\n",
    "bad.yaml:8:16: error[yaml-syntax]: unclosed quote: the string opened with \" here never ends"
)]
#[case::swallowed_key(
    "spec:\n  type: customer\n   displayName: Acme\n",
    "bad.yaml:8:4: error[yaml-syntax]: inconsistent indentation: `displayName` is indented 3 spaces, its sibling `type` 2"
)]
#[case::duplicate_key(
    "spec:\n  type: customer\n  displayName: Acme\n  type: partner\n",
    "bad.yaml:9:3: error[yaml-syntax]: `type` is given twice in this mapping; keep one"
)]
#[case::unknown_field(
    "spec:\n  type: customer\n  dispalyName: Acme\n",
    "did you mean `displayName`?"
)]
fn manifest_mistakes_are_explained_with_their_fix(#[case] body: &str, #[case] expected: &str) {
    let workspace = Workspace::default_database();
    let head =
        "# a comment\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: acme\n";
    workspace.write("bad.yaml", &format!("{head}{body}"));
    let (code, stdout, stderr) = workspace.run(&["validate", "bad.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains(expected), "{stdout}");
    assert!(!workspace.database().exists());
}

#[test]
fn counts_are_singular_for_one() {
    let workspace = Workspace::default_database();
    workspace.write(
        "one/one.yaml",
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: solo\nspec:\n  type: subsidiary\n  displayName: Solo\n",
    );
    let (code, stdout, _) = workspace.run(&["validate", "one"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "valid: 1 account, 0 groups, 0 plans in 1 file (1 document); 0 errors, 0 warnings"
        ),
        "{stdout}"
    );
    let (code, stdout, stderr) = workspace.run(&["apply", "one", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Plan: 1 to create."), "{stdout}");
    assert!(
        stderr.contains("Applied 1 change (1 account created)."),
        "{stderr}"
    );
    let path = workspace.path("one/one.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{text}  active: false\n")).expect("write");
    let (_, stdout, _) = workspace.run(&["plan", "one"]);
    assert!(stdout.contains("Plan: 1 to deactivate."), "{stdout}");
    let (_, _, stderr) = workspace.run(&["apply", "one", "--yes"]);
    assert!(stderr.contains("Applied 1 change.\n"), "{stderr}");
}

#[test]
fn get_shows_the_whole_object_as_yaml_or_json_and_wide_or_name() {
    let workspace = Workspace::default_database();
    workspace.apply();
    let (code, yaml, stderr) = workspace.run(&["get", "acme-eu", "-o", "yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let objects: Vec<serde_json::Value> = serde_yaml::from_str(&yaml).expect("get YAML");
    let acme = objects
        .iter()
        .find(|object| object["name"] == "acme-eu")
        .expect("acme-eu");
    assert_eq!(acme["group"], "nordic-smb");
    assert_eq!(acme["spec"]["users"][0]["email"], "anna@acme.example");
    assert_eq!(acme["spec"]["services"]["invoice-capture"], true);
    assert_eq!(acme["spec"]["settings"]["passwordExpiryDays"], 60);
    // Inherited from acme-holding, which locks it.
    assert_eq!(acme["effective"]["settings"]["dataResidency"], "eu");
    assert_eq!(acme["effective"]["lockedSettings"][0], "dataResidency");
    let json = workspace.object("acme-eu");
    assert_eq!(&json, acme, "-o json and -o yaml show the same object");
    let (_, names, _) = workspace.run(&["get", "nordic-smb", "-o", "name"]);
    assert_eq!(names.lines().next(), Some("nordic-smb"), "{names}");
    assert!(names.lines().any(|name| name == "acme-eu"), "{names}");
    let (_, wide, _) = workspace.run(&["get", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "GROUP",
        "USERS",
        "DISABLED-SERVICES",
        "DISPLAY-NAME",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(wide.contains("ACME Europe GmbH"), "{wide}");
}

#[test]
fn database_flags_appear_only_where_a_database_is_used() {
    let workspace = Workspace::default_database();
    for command in ["validate", "crds", "schema", "version", "completions"] {
        let (code, help, _) = workspace.run(&[command, "--help"]);
        assert_eq!(code, 0);
        assert!(
            !help.contains("--database-url"),
            "`{command} --help`: {help}"
        );
    }
    for command in [
        "plan", "apply", "get", "export", "usage", "history", "migrate", "run",
    ] {
        let (_, help, _) = workspace.run(&[command, "--help"]);
        assert!(
            help.contains("--database-url"),
            "`{command} --help`: {help}"
        );
    }
    let (code, _, stderr) =
        workspace.run(&["validate", "manifests", "--database-url", "sqlite://x.db"]);
    assert_eq!(code, 1, "a usage error exits 1");
    assert!(
        stderr.contains("unexpected argument '--database-url'"),
        "{stderr}"
    );
    let (code, _, stderr) =
        workspace.run(&["--database-url", "sqlite://x.db", "validate", "manifests"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`canopy validate` uses no database"),
        "{stderr}"
    );
    // Before the command it is accepted too, where a database is used.
    let url = workspace.url();
    let (code, _, stderr) = workspace.run(&["--database-url", &url, "migrate"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(workspace.database().exists());
    std::fs::remove_file(workspace.database()).expect("remove canopy.db");
    // Two directories need no database: none is opened or created.
    let (code, _, stderr) = workspace.run(&["plan", "--against", "manifests", "manifests"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!workspace.database().exists());
}
