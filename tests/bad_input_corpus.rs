//! The bad-input corpus: every case under `tests/bad_inputs/` (a repository plus an
//! `expect` file: the exit code, the location and the rule) and a few generated here
//! because they are large or need a symlink (a 100 MB file, 10,000-deep nesting, an
//! alias bomb, a `usersFrom` symlink out of the repository). Each is given to the real
//! `canopy apply --yes` against a database holding the realistic example, on both
//! backends: the exit code and the located rule are as expected, nothing panics, and a
//! dump of every table is byte-for-byte the same afterwards.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};

use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(every_bad_input_is_refused_located_and_writes_nothing);

/// What a case expects.
struct Expect {
    exit: i32,
    /// `FILE:LINE:COL`, relative to the case's directory.
    at: Option<String>,
    rule: String,
}

fn parse_expect(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expect = Expect {
        exit: 1,
        at: None,
        rule: String::new(),
    };
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("exit", code)) => expect.exit = code.parse().unwrap(),
            Some(("at", at)) => expect.at = Some(at.to_string()),
            Some(("rule", rule)) => expect.rule = rule.to_string(),
            _ => panic!("{}: unknown line {line:?}", path.display()),
        }
    }
    assert!(!expect.rule.is_empty(), "{}: no rule", path.display());
    expect
}

struct Case {
    name: String,
    directory: PathBuf,
    args: Vec<String>,
    expect: Expect,
}

fn stored_cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    let mut cases: Vec<Case> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|directory| Case {
            name: directory
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            args: std::fs::read_to_string(directory.join("args"))
                .map(|text| text.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            expect: parse_expect(&directory.join("expect")),
            directory,
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

const PARTNER: &str = "apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {name: bad-hq}
spec: {type: subsidiary}
---
apiVersion: canopy.dev/v1alpha1
kind: Account
metadata: {name: bad-partner}
spec: {type: partner, parent: bad-hq}
";

/// Cases too large to keep in the repository, or that need a symlink.
fn generated_cases(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, files: Vec<(&str, Vec<u8>)>, rule: &str| {
        let directory = root.join(name);
        for (file, content) in files {
            let path = directory.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        cases.push(Case {
            name: name.to_string(),
            directory,
            args: Vec::new(),
            expect: Expect {
                exit: 1,
                at: None,
                rule: rule.to_string(),
            },
        });
    };
    let mut huge = PARTNER.as_bytes().to_vec();
    huge.extend(std::iter::repeat_n(b'#', 100 * 1024 * 1024));
    add(
        "file-of-100-mb",
        vec![("accounts.yaml", huge)],
        "file-too-large",
    );
    let deep_flow = format!(
        "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: c1}}\nspec: {{type: customer, parent: bad-partner, settings: {{deep: {}{}}}}}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    add(
        "flow-nesting-10000-deep",
        vec![("accounts.yaml", deep_flow.into_bytes())],
        "too-deep",
    );
    // Compact nested block sequences: `- - - … x`, each `- ` one level deeper.
    let deep_block = format!(
        "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: c1}}\nspec:\n  type: customer\n  parent: bad-partner\n  settings:\n    deep:\n      {}x\n",
        "- ".repeat(10_000)
    );
    add(
        "block-nesting-10000-deep",
        vec![("accounts.yaml", deep_block.into_bytes())],
        "too-deep",
    );
    // Eleven levels of ten aliases each: 10^11 nodes if expanded.
    let mut bomb = String::from("      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 10].join(", ");
        bomb.push_str(&format!("      a{level}: &a{level} [{list}]\n"));
    }
    add(
        "alias-bomb",
        vec![(
            "accounts.yaml",
            format!(
                "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: c1}}\nspec:\n  type: customer\n  parent: bad-partner\n  settings:\n    bomb:\n{bomb}"
            )
            .into_bytes(),
        )],
        "alias-expansion",
    );
    let escape = root.join("users-from-symlink-out");
    add(
        "users-from-symlink-out",
        vec![(
            "accounts.yaml",
            format!(
                "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: c1}}\nspec: {{type: customer, parent: bad-partner, usersFrom: users.csv}}\n"
            )
            .into_bytes(),
        )],
        "users-from-outside",
    );
    std::os::unix::fs::symlink("/etc/passwd", escape.join("users.csv")).unwrap();
    cases
}

fn every_bad_input_is_refused_located_and_writes_nothing(db: &TestDb) {
    let populated = db
        .canopy()
        .args(["apply", "--yes", "-q", "examples/realistic"])
        .output()
        .unwrap();
    assert!(populated.status.success());
    let before = db.dump();
    let scratch = tempfile::tempdir().unwrap();
    let mut cases = stored_cases();
    assert!(cases.len() >= 80, "{} stored cases", cases.len());
    cases.extend(generated_cases(scratch.path()));
    let mut failures = Vec::new();
    for case in &cases {
        let mut directory = case.directory.display().to_string();
        directory.push('/');
        let output = db
            .canopy()
            .arg("apply")
            .arg(&directory)
            .args(&case.args)
            .arg("--yes")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut wrong = Vec::new();
        if output.status.code() != Some(case.expect.exit) {
            wrong.push(format!("exit {:?}", output.status.code()));
        }
        if !text.contains(&format!("[{}]", case.expect.rule)) && !text.contains(&case.expect.rule) {
            wrong.push(format!("no [{}]", case.expect.rule));
        }
        if let Some(at) = &case.expect.at
            && !text.contains(&format!("{directory}{at}"))
        {
            wrong.push(format!("not located at {at}"));
        }
        if text.contains("panicked") {
            wrong.push("panicked".to_string());
        }
        if db.dump() != before {
            wrong.push("the database changed".to_string());
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {}\n{text}", case.name, wrong.join(", ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
