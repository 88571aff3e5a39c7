//! Hostile and broken input through the real binary: every case ends with a clear
//! diagnostic and exit 1, never a panic, a hang or unbounded memory. The big and bad
//! files are generated in a temporary directory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

const HEAD: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: partner-nordic}\nspec:\n  type: partner\n";

fn write(directory: &TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = directory.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the directory");
    }
    std::fs::write(&path, content).expect("write the test file");
    path
}

/// Runs `canopy validate` and returns (exit code, stdout); fails on a panic.
fn validate(paths: &[&Path], stdin: Option<Vec<u8>>) -> (Option<i32>, String) {
    let mut command = Command::cargo_bin("canopy").expect("the canopy binary is built");
    command.arg("validate");
    for path in paths {
        command.arg(path);
    }
    if let Some(stdin) = stdin {
        command.arg("-").write_stdin(stdin);
    }
    let output = command.output().expect("canopy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "canopy panicked: {stderr}");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Asserts a single error diagnostic with this location suffix and rule.
fn assert_single_error(stdout: &str, location: &str, rule: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let expected = format!("{location}: error[{rule}]: ");
    assert!(
        lines[0].starts_with(&expected),
        "expected `{expected}…`, got: {stdout}"
    );
}

#[test]
fn malformed_yaml_names_the_position() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(
        &directory,
        "broken.yaml",
        format!("{HEAD}  users: [ {{email: a@b.example\n"),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &format!("{}:7:1", path.display()), "yaml-syntax");
}

#[test]
fn a_syntax_error_spoils_only_its_own_document() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(
        &directory,
        "two.yaml",
        format!(
            "{HEAD}  displayName: a: b\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: other}}\nspec:\n  type: partnr\n"
        ),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains(":6:17: error[yaml-syntax]"), "{stdout}");
    assert!(lines[1].contains(":12:9: error[invalid-value]"), "{stdout}");
}

#[test]
fn a_50_megabyte_file_is_refused_without_reading_it() {
    let directory = TempDir::new().expect("a temporary directory");
    let mut content = HEAD.to_string();
    content.push_str("# ");
    content.push_str(&"x".repeat(50 * 1024 * 1024));
    let path = write(&directory, "big.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &path.display().to_string(), "file-too-large");
}

#[test]
fn a_50_megabyte_standard_input_is_refused() {
    let mut content = HEAD.as_bytes().to_vec();
    content.extend(std::iter::repeat_n(b'#', 50 * 1024 * 1024));
    let (code, stdout) = validate(&[], Some(content));
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, "<stdin>", "file-too-large");
}

#[test]
fn deeply_nested_flow_collections_are_refused_quickly() {
    let directory = TempDir::new().expect("a temporary directory");
    let depth = 100_000;
    let content = format!(
        "{HEAD}  settings:\n    x: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let path = write(&directory, "deep.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    // Column 72: the 65th `[` after `    x: `.
    assert_single_error(&stdout, &format!("{}:7:72", path.display()), "too-deep");
}

#[test]
fn deeply_nested_block_collections_are_refused() {
    let directory = TempDir::new().expect("a temporary directory");
    let content = format!("{HEAD}  lockedSettings:\n{}x\n", "- ".repeat(1_000_000));
    let path = write(&directory, "deep.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &format!("{}:7:1", path.display()), "too-deep");
}

#[test]
fn moderately_deep_nesting_inside_a_resource_hits_the_recursion_limit() {
    let directory = TempDir::new().expect("a temporary directory");
    // Nesting by indentation passes the structural scan (each level costs bytes);
    // serde_yaml's recursion limit of 128 stops it.
    let mut content = format!("{HEAD}  settings:\n");
    for level in 0..130 {
        content.push_str(&" ".repeat(4 + level));
        content.push_str("k:\n");
    }
    content.push_str(&" ".repeat(134));
    content.push_str("v\n");
    let path = write(&directory, "deep.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains("error[too-deep]: recursion limit exceeded"),
        "{stdout}"
    );
}

#[test]
fn exponential_aliases_are_refused() {
    let directory = TempDir::new().expect("a temporary directory");
    let mut content =
        format!("{HEAD}  settings:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = vec![previous; 9].join(", ");
        content.push_str(&format!("    a{level}: &a{level} [{items}]\n"));
    }
    let path = write(&directory, "laughs.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains("error[alias-expansion]: repetition limit exceeded"),
        "{stdout}"
    );
}

#[test]
fn a_document_with_millions_of_tokens_is_refused() {
    let directory = TempDir::new().expect("a temporary directory");
    let content = format!("{HEAD}  lockedSettings: [{}]\n", "a,".repeat(3_100_000));
    let path = write(&directory, "wide.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(
        &stdout,
        &format!("{}:6:1", path.display()),
        "document-too-large",
    );
}

#[test]
fn invalid_utf8_names_the_first_bad_byte() {
    let directory = TempDir::new().expect("a temporary directory");
    let mut content = HEAD.as_bytes().to_vec();
    content.extend_from_slice(b"  displayName: Caf\xe9\n");
    let path = write(&directory, "latin1.yaml", content);
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &format!("{}:6:19", path.display()), "invalid-utf8");
}

#[test]
fn a_missing_csv_file_is_reported_at_users_from() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(
        &directory,
        "a.yaml",
        format!("{HEAD}  usersFrom: team.csv\n"),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &format!("{}:6:14", path.display()), "missing-csv");
    assert!(stdout.contains("team.csv"), "{stdout}");
}

#[test]
fn a_path_that_does_not_exist_is_an_error() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = directory.path().join("nowhere");
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(&stdout, &path.display().to_string(), "unreadable-file");
}

#[test]
fn standard_input_is_read_with_dash() {
    let (code, stdout) = validate(&[], Some(HEAD.as_bytes().to_vec()));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("valid: 1 account, "), "{stdout}");
}

#[test]
fn directories_are_read_recursively_yaml_and_yml_only() {
    let directory = TempDir::new().expect("a temporary directory");
    write(&directory, "a/b/root.yml", HEAD);
    write(
        &directory,
        "a/customers.yaml",
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: acme}\nspec: {type: customer, parent: partner-nordic}\n",
    );
    write(&directory, "a/notes.txt", "not: yaml: at all: [");
    write(&directory, ".git/config.yaml", "[");
    let (code, stdout) = validate(&[directory.path()], None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.starts_with("valid: 2 accounts, 0 groups, 0 plans in 2 files"),
        "{stdout}"
    );
}

#[test]
fn a_nul_in_a_display_name_is_refused_at_its_position() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(
        &directory,
        "a.yaml",
        format!("{HEAD}  displayName: \"Nordic\\0Partner\"\n"),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert_single_error(
        &stdout,
        &format!("{}:6:16", path.display()),
        "control-character",
    );
    assert!(stdout.contains("U+0000 at character 7"), "{stdout}");
}

#[test]
fn a_control_character_in_a_csv_user_is_refused_without_quoting_the_file() {
    let directory = TempDir::new().expect("a temporary directory");
    write(
        &directory,
        "team.csv",
        "email,name,role,language,timezone\nanna@nordic.example,Anna\u{1b}[2JBerg,admin,de,Europe/Berlin\n",
    );
    let path = write(
        &directory,
        "a.yaml",
        format!("{HEAD}  usersFrom: team.csv\n"),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    let csv = directory.path().join("team.csv");
    assert_single_error(
        &stdout,
        &format!("{}:2:1", csv.display()),
        "control-character",
    );
    assert!(!stdout.contains("Anna"), "{stdout}");
}

/// `usersFrom` naming something outside the repository is refused before it is read,
/// and nothing the file holds reaches the output: here the process environment,
/// which carries a database password.
#[test]
fn users_from_cannot_read_outside_the_repository() {
    let outside = TempDir::new().expect("a temporary directory");
    let secret = write(&outside, "secret.csv", "hunter2-password,x,y\n");
    let directory = TempDir::new().expect("a temporary directory");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, directory.path().join("link.csv")).expect("symlink");
    let cases = [
        ("absolute.yaml", "/proc/self/environ".to_string()),
        (
            "climbing.yaml",
            format!("../{}/secret.csv", outside.path().display()),
        ),
        ("link.yaml", "link.csv".to_string()),
        ("directory.yaml", ".".to_string()),
    ];
    for (file, users_from) in &cases {
        write(
            &directory,
            file,
            format!("{HEAD}  usersFrom: \"{users_from}\"\n"),
        );
    }
    let mut command = Command::cargo_bin("canopy").expect("the canopy binary is built");
    let output = command
        .arg("validate")
        .arg(directory.path())
        .env(
            "CANOPY_DATABASE_URL",
            "postgres://canopy:hunter2-password@db/canopy",
        )
        .output()
        .expect("canopy runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "{stdout}{stderr}"
    );
    for (file, _) in &cases {
        let location = format!(
            "{}:6:14: error[users-from-outside]",
            directory.path().join(file).display()
        );
        assert!(stdout.contains(&location), "no `{location}` in {stdout}");
    }
}

/// A file that is not a users CSV is named, its content never printed.
#[test]
fn a_csv_header_error_prints_no_data() {
    let directory = TempDir::new().expect("a temporary directory");
    write(&directory, "users.csv", "PGPASSWORD=hunter2,email\n");
    let path = write(
        &directory,
        "a.yaml",
        format!("{HEAD}  usersFrom: users.csv\n"),
    );
    let (code, stdout) = validate(&[&path], None);
    assert_eq!(code, Some(1));
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(
        stdout.contains("header names `email`, 1 other value not shown"),
        "{stdout}"
    );
}
