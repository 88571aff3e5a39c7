//! A tenant's repository attacking the rest of the tree, through the real binary on
//! both backends. The platform applies the realistic example (source `platform`); a
//! partner's repository (its own subtree, run with `--scope partner-nordic`) and an
//! intruding source then try to reach outside: a parent outside the scope, moves out
//! and in, adopting or re-declaring an account that lives elsewhere, changing an
//! ancestor's activation or plan, deactivating a sibling, moving the scope root, and
//! overwriting objects another source manages. Every attempt is refused (exit 1),
//! located at the account's name in the tenant's file, and leaves every table
//! byte-for-byte as it was.

#[macro_use]
mod support;

use std::path::{Path, PathBuf};

use support::{Backend, TestDb};

fn fixture(backend: Backend) -> TestDb {
    TestDb::new(backend)
}

on_both_backends!(every_attack_is_refused_and_writes_nothing);

fn document(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: {name}\n  annotations: {{canopy.dev/adopt: \"true\"}}\nspec:\n{spec}"
    )
}

/// The partner's repository: `nordic.yaml` and its users file, with `edit` applied
/// to the manifest text.
fn tenant_repository(root: &Path, case: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let directory = root.join(case);
    std::fs::create_dir_all(&directory).unwrap();
    let source = Path::new("examples/realistic");
    std::fs::copy(
        source.join("acme-eu-users.csv"),
        directory.join("acme-eu-users.csv"),
    )
    .unwrap();
    let text = std::fs::read_to_string(source.join("nordic.yaml")).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "{case}: the edit changed nothing");
    std::fs::write(directory.join("nordic.yaml"), edited).unwrap();
    directory
}

fn canopy(db: &TestDb, args: &[&str]) -> std::process::Output {
    db.canopy().args(args).output().unwrap()
}

fn every_attack_is_refused_and_writes_nothing(db: &TestDb) {
    let populated = canopy(
        db,
        &[
            "apply",
            "examples/realistic",
            "--yes",
            "-q",
            "--source",
            "platform",
        ],
    );
    assert!(populated.status.success());
    let before = db.dump();
    let root = tempfile::tempdir().unwrap();
    let append = |extra: String| move |text: String| text + &extra;
    let scoped: Vec<(&str, PathBuf, &str)> = vec![
        (
            "a parent outside the scope",
            tenant_repository(
                root.path(),
                "parent-outside",
                append(document(
                    "nordic-new",
                    "  type: customer\n  parent: partner-south\n",
                )),
            ),
            "nordic-new",
        ),
        (
            "moving an account out",
            tenant_repository(root.path(), "move-out", |text| {
                text.replacen(
                    "parent: nordic-smb\n  users:\n    - {email: owner@fika",
                    "parent: partner-south\n  users:\n    - {email: owner@fika",
                    1,
                )
            }),
            "fika-cafe",
        ),
        (
            "moving an outside account in",
            tenant_repository(
                root.path(),
                "move-in",
                append(document(
                    "globex-finance",
                    "  type: customer\n  parent: partner-nordic\n",
                )),
            ),
            "globex-finance",
        ),
        (
            "re-declaring an account that lives elsewhere",
            tenant_repository(
                root.path(),
                "exists-elsewhere",
                append(document(
                    "tirol-treuhand",
                    "  type: customer\n  parent: fjord-it\n",
                )),
            ),
            "tirol-treuhand",
        ),
        (
            "deactivating an ancestor",
            tenant_repository(
                root.path(),
                "ancestor-activation",
                append(document(
                    "acme-holding",
                    "  type: subsidiary\n  active: false\n",
                )),
            ),
            "acme-holding",
        ),
        (
            "changing an ancestor's plan",
            tenant_repository(
                root.path(),
                "ancestor-plan",
                append(document(
                    "acme-holding",
                    "  type: subsidiary\n  plan: trial\n",
                )),
            ),
            "acme-holding",
        ),
        (
            "deactivating a sibling",
            tenant_repository(
                root.path(),
                "sibling",
                append(document(
                    "partner-south",
                    "  type: partner\n  parent: acme-holding\n  active: false\n",
                )),
            ),
            "partner-south",
        ),
        (
            "moving the scope root",
            tenant_repository(
                root.path(),
                "root-parent",
                append(document(
                    "partner-nordic",
                    "  type: partner\n  parent: tier2-resellers\n",
                )),
            ),
            "partner-nordic",
        ),
    ];
    let mut failures = Vec::new();
    let mut check = |what: &str, output: std::process::Output, name: &str, code: i32| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.code() != Some(code) || !text.contains(name) || text.contains("panicked") {
            failures.push(format!("{what}: exit {:?}\n{text}", output.status.code()));
        }
        if db.dump() != before {
            failures.push(format!("{what}: the database changed"));
        }
    };
    for (what, directory, name) in &scoped {
        let directory = directory.display().to_string();
        let output = canopy(
            db,
            &[
                "apply",
                &directory,
                "--yes",
                "--source",
                "platform",
                "--scope",
                "partner-nordic",
            ],
        );
        check(what, output, name, 1);
    }

    // Another source, no scope: what `platform` manages is out of its reach.
    let intruder = tenant_repository(root.path(), "intruder", |text| {
        text.replace("Fjord IT AS", "Fjord IT (taken over)")
    });
    let output = canopy(
        db,
        &[
            "apply",
            &intruder.display().to_string(),
            "--yes",
            "--source",
            "intruder",
        ],
    );
    check("another source overwriting", output, "fjord-it", 1);
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = canopy(
        db,
        &[
            "apply",
            &empty.display().to_string(),
            "--yes",
            "--prune",
            "--max-prune",
            "100",
            "--source",
            "intruder",
        ],
    );
    check("another source pruning", output, "No changes", 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
