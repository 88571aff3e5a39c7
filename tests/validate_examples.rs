//! `canopy validate` on the committed examples, through the real binary: the
//! realistic hierarchy is valid, each invalid example fails with exactly the expected
//! diagnostics (file, line, column, rule and message), warnings do not fail.

use assert_cmd::Command;
use rstest::rstest;

fn canopy() -> Command {
    let mut command = Command::cargo_bin("canopy").expect("the canopy binary is built");
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

#[test]
fn the_realistic_example_is_valid() {
    let output = canopy()
        .args(["validate", "examples/realistic"])
        .output()
        .expect("canopy runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "examples/realistic/holding.yaml:72:1: note[skipped-document]: skipped ConfigMap (v1): not a canopy resource\n\
         valid: 16 accounts, 3 groups, 4 plans in 5 files (20 documents); 0 errors, 0 warnings\n"
    );
}

#[rstest]
#[case::csv_columns(
    "examples/invalid/csv-columns",
    &[
        "examples/invalid/csv-columns/users.csv:3:1: error[csv-columns]: row has 4 columns, expected 5 (email,name,role,language,timezone)",
    ]
)]
#[case::csv_header(
    "examples/invalid/csv-header",
    &[
        "examples/invalid/csv-header/users.csv:1:1: error[csv-header]: the first row must be the header `email,name,role,language,timezone`; it has 5 columns, 5 other values not shown",
    ]
)]
#[case::dangling_parent(
    "examples/invalid/dangling-parent.yaml",
    &[
        "examples/invalid/dangling-parent.yaml:14:11: error[dangling-parent]: parent `partner-nordik` of `acme-eu` is not declared: no Account or AccountGroup has this name; did you mean `partner-nordic`?",
    ]
)]
#[case::dangling_plan(
    "examples/invalid/dangling-plan.yaml",
    &[
        "examples/invalid/dangling-plan.yaml:7:9: error[dangling-plan]: plan `gold` of `partner-nordic` is not declared: no ServicePlan has this name",
    ]
)]
#[case::duplicate_name(
    "examples/invalid/duplicate-name",
    &[
        "examples/invalid/duplicate-name/second.yaml:4:9: error[duplicate-name]: duplicate name `partner-nordic`: already declared as an Account; accounts and groups share one name space (first declared at examples/invalid/duplicate-name/first.yaml:4:9)",
    ]
)]
#[case::duplicate_user_email(
    "examples/invalid/duplicate-user-email.yaml",
    &[
        "examples/invalid/duplicate-user-email.yaml:9:15: error[duplicate-user-email]: user e-mail `Nils@Nordic.example` appears twice in `partner-nordic` (first declared at examples/invalid/duplicate-user-email.yaml:8:15)",
    ]
)]
#[case::first_user_not_admin(
    "examples/invalid/first-user-not-admin.yaml",
    &[
        "examples/invalid/first-user-not-admin.yaml:16:54: error[first-user-not-admin]: the first user of customer `acme-eu` must be an admin, but `ben@acme.example` is a user; list an admin first",
    ]
)]
#[case::invalid_annotation(
    "examples/invalid/invalid-annotation.yaml",
    &[
        "examples/invalid/invalid-annotation.yaml:6:23: error[invalid-annotation]: annotation `canopy.dev/adopt` must be \"true\" or \"false\", not \"yes\"",
    ]
)]
#[case::invalid_email(
    "examples/invalid/invalid-email.yaml",
    &[
        "examples/invalid/invalid-email.yaml:8:14: error[invalid-email]: invalid e-mail `admin@nordic` for a user of `partner-nordic`",
    ]
)]
#[case::invalid_name(
    "examples/invalid/invalid-name.yaml",
    &[
        "examples/invalid/invalid-name.yaml:4:9: error[invalid-name]: invalid Account name `Partner_Nordic`: use lowercase letters, digits and '-', starting and ending with a letter or digit",
    ]
)]
#[case::invalid_value(
    "examples/invalid/invalid-value.yaml",
    &[
        "examples/invalid/invalid-value.yaml:6:9: error[invalid-value]: spec.type: unknown variant `reseller`, expected one of `subsidiary`, `partner`, `customer`, `enterprise`",
    ]
)]
#[case::missing_csv(
    "examples/invalid/missing-csv.yaml",
    &[
        "examples/invalid/missing-csv.yaml:7:14: error[missing-csv]: users file `examples/invalid/no-such-users.csv` (usersFrom of `partner-nordic`) cannot be read: No such file or directory (os error 2)",
    ]
)]
#[case::missing_field(
    "examples/invalid/missing-field.yaml",
    &[
        "examples/invalid/missing-field.yaml:6:3: error[missing-field]: spec: missing field `type`",
    ]
)]
#[case::nesting_customer_not_reseller(
    "examples/invalid/nesting-customer-not-reseller.yaml",
    &[
        "examples/invalid/nesting-customer-not-reseller.yaml:22:11: error[nesting]: `fjord-fisk` cannot be placed under `fjord-it`: a customer may contain customers only when it is a reseller (set `reseller: true` on the parent)",
    ]
)]
#[case::nesting_customer_root(
    "examples/invalid/nesting-customer-root.yaml",
    &[
        "examples/invalid/nesting-customer-root.yaml:6:9: error[nesting]: `acme-eu`: a customer cannot be a root (a root is a subsidiary or a partner); give it a parent",
    ]
)]
#[case::nesting_group_under_group(
    "examples/invalid/nesting-group-under-group.yaml",
    &[
        "examples/invalid/nesting-group-under-group.yaml:22:11: error[nesting]: `nordic-smb-east` cannot be placed under `nordic-smb`: a customer-group cannot contain a customer-group (groups do not nest)",
    ]
)]
#[case::nesting_partner_in_customer_group(
    "examples/invalid/nesting-partner-in-customer-group.yaml",
    &[
        "examples/invalid/nesting-partner-in-customer-group.yaml:22:11: error[nesting]: `sub-partner` cannot be placed under `nordic-smb`: a customer-group cannot contain a partner",
    ]
)]
#[case::nesting_partner_under_customer(
    "examples/invalid/nesting-partner-under-customer.yaml",
    &[
        "examples/invalid/nesting-partner-under-customer.yaml:22:11: error[nesting]: `sub-partner` cannot be placed under `acme-eu`: a customer cannot contain a partner",
    ]
)]
#[case::parent_cycle(
    "examples/invalid/parent-cycle.yaml",
    &[
        "examples/invalid/parent-cycle.yaml:7:11: error[parent-cycle]: parent cycle: partner-a → partner-b → partner-a (each arrow points to the parent); change one `parent` to break it",
    ]
)]
#[case::plan_on_partner_group(
    "examples/invalid/plan-on-partner-group.yaml",
    &[
        "examples/invalid/plan-on-partner-group.yaml:22:9: error[plan-on-partner-group]: partner group `resellers` cannot carry a plan: plans bill accounts and customer groups; put the plan on the partners",
    ]
)]
#[case::tree_shape(
    "examples/invalid/tree-shape.yaml",
    &[
        "examples/invalid/tree-shape.yaml:11:7: error[tree-shape]: `users` is an account field; a group (`kind: AccountGroup`) takes only type, displayName and plan",
        "examples/invalid/tree-shape.yaml:13:7: error[tree-shape]: a child of `partner-alpine` in an AccountTree needs a `name`",
    ]
)]
#[case::unknown_field(
    "examples/invalid/unknown-field.yaml",
    &[
        "examples/invalid/unknown-field.yaml:7:3: error[unknown-field]: spec: unknown field `displayname`, expected one of `type`, `displayName`, `parent`, `active`, `customerType`, `reseller`, `plan`, `address`, `contact`, `services`, `settings`, `lockedSettings`, `users`, `usersFrom`, `deletionPolicy`; did you mean `displayName`?",
    ]
)]
#[case::unknown_kind(
    "examples/invalid/unknown-kind.yaml",
    &[
        "examples/invalid/unknown-kind.yaml:2:7: error[unknown-kind]: unknown kind `Acount` for canopy.dev/v1alpha1; expected Account, AccountGroup, ServicePlan or AccountTree",
    ]
)]
#[case::unsupported_api_version(
    "examples/invalid/unsupported-api-version.yaml",
    &[
        "examples/invalid/unsupported-api-version.yaml:1:13: error[unsupported-api-version]: unsupported apiVersion `canopy.dev/v2`; this canopy reads canopy.dev/v1alpha1",
    ]
)]
#[case::wrong_type(
    "examples/invalid/wrong-type.yaml",
    &[
        "examples/invalid/wrong-type.yaml:7:11: error[wrong-type]: spec.active: invalid type: string \"maybe\", expected a boolean",
    ]
)]
#[case::yaml_syntax(
    "examples/invalid/yaml-syntax.yaml",
    &[
        "examples/invalid/yaml-syntax.yaml:7:22: error[yaml-syntax]: mapping values are not allowed in this context",
    ]
)]
fn each_invalid_example_names_file_line_column_and_rule(
    #[case] path: &str,
    #[case] expected: &[&str],
) {
    let output = canopy()
        .args(["validate", path])
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(1), "{path} must be rejected");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, expected);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: manifests are invalid: "),
        "{stderr}"
    );
}

#[test]
fn every_invalid_example_is_covered_by_a_case() {
    // A new invalid example without expectations would otherwise go untested.
    let covered = include_str!("validate_examples.rs");
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/invalid");
    for entry in std::fs::read_dir(directory).expect("examples/invalid exists") {
        let name = entry.expect("a directory entry").file_name();
        let path = format!("\"examples/invalid/{}\"", name.to_string_lossy());
        assert!(covered.contains(&path), "{path} has no test case");
    }
}

#[test]
fn warnings_are_reported_without_failing() {
    let output = canopy()
        .args(["validate", "examples/warnings"])
        .output()
        .expect("canopy runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "examples/warnings/ineffective.yaml:19:3: warning[ineffective-field]: `reseller` has no effect on enterprise `globex`: it applies to customers",
            "examples/warnings/ineffective.yaml:20:14: warning[ineffective-service]: service `scanning` enabled on `globex` has no effect: ancestor `partner-south` disables it",
            "examples/warnings/ineffective.yaml:21:14: warning[ineffective-setting]: setting `dataResidency` on `globex` has no effect: ancestor `partner-south` locks it",
            "valid: 2 accounts, 0 groups, 0 plans in 1 file (2 documents); 0 errors, 3 warnings",
        ]
    );
}

#[test]
fn json_output_lists_each_diagnostic_with_its_position() {
    let output = canopy()
        .args([
            "validate",
            "--format",
            "json",
            "examples/invalid/dangling-plan.yaml",
        ])
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 1);
    assert_eq!(
        report["diagnostics"][0],
        serde_json::json!({
            "severity": "error",
            "rule": "dangling-plan",
            "file": "examples/invalid/dangling-plan.yaml",
            "line": 7,
            "column": 9,
            "object": "partner-nordic",
            "message": "plan `gold` of `partner-nordic` is not declared: no ServicePlan has this name",
        })
    );
}

#[test]
fn all_problems_of_all_files_are_reported_at_once() {
    let output = canopy()
        .args([
            "validate",
            "examples/invalid/dangling-plan.yaml",
            "examples/invalid/wrong-type.yaml",
            "examples/invalid/invalid-email.yaml",
        ])
        .output()
        .expect("canopy runs");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rules: Vec<&str> = stdout
        .lines()
        .filter_map(|line| {
            line.split_once("error[")
                .and_then(|(_, rest)| rest.split_once(']'))
        })
        .map(|(rule, _)| rule)
        .collect();
    // In file order; the second partner-nordic is a duplicate of the first (the one
    // in wrong-type.yaml failed to parse, so it declares nothing).
    assert_eq!(
        rules,
        [
            "dangling-plan",
            "wrong-type",
            "duplicate-name",
            "invalid-email"
        ],
        "{stdout}"
    );
}
