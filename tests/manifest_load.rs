//! The manifest loader as a library: the normalisation contract, AccountTree,
//! adoption, references to a live snapshot, cluster resources, and the parse product.

use std::path::Path;

use canopy::manifest::{
    self, Account, AccountGroup, Diagnostic, Location, Rule, ServicePlan, Severity,
};
use canopy::model::{Billing, Hierarchy, Node, NodeSpec, NodeType, Role};
use tempfile::TempDir;

fn write(directory: &TempDir, name: &str, content: &str) -> String {
    let path = directory.path().join(name);
    std::fs::write(&path, content).expect("write the test file");
    path.display().to_string()
}

fn load_text(content: &str) -> Result<manifest::Loaded, manifest::LoadError> {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(&directory, "manifest.yaml", content);
    manifest::load(&[path], None)
}

fn errors(error: &manifest::LoadError) -> Vec<(Rule, String)> {
    error
        .errors()
        .map(|d| (d.rule, d.message.clone()))
        .collect()
}

const PARTNER: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: partner-nordic}\nspec: {type: partner}\n";

#[test]
fn loading_applies_the_normalisation_contract() {
    let directory = TempDir::new().expect("a temporary directory");
    write(
        &directory,
        "users.csv",
        "email,name,role,language,timezone\ncsv-admin@acme.example,Csv Admin,admin,de,Europe/Berlin\ncsv-user@acme.example,Csv User,,,\n",
    );
    let path = write(
        &directory,
        "acme.yaml",
        &format!(
            "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: acme}}\nspec:\n  type: customer\n  parent: partner-nordic\n  lockedSettings: [b, a, b]\n  users:\n    - {{email: first@acme.example, name: First, role: admin}}\n  usersFrom: users.csv\n"
        ),
    );
    let loaded = manifest::load(&[path], None).expect("valid manifests");
    let acme = loaded.hierarchy.node("acme").expect("acme is declared");
    assert_eq!(
        acme.spec.display_name, "acme",
        "display name defaults to the name"
    );
    assert!(acme.spec.active, "active defaults to true");
    assert_eq!(
        *acme.spec.locked_settings,
        ["a", "b"],
        "sorted and deduplicated"
    );
    let emails: Vec<&str> = acme.spec.users.iter().map(|u| &*u.email).collect();
    assert_eq!(
        emails,
        [
            "first@acme.example",
            "csv-admin@acme.example",
            "csv-user@acme.example"
        ],
        "inline users first, then CSV rows in file order"
    );
    assert_eq!(
        acme.spec.users[2].role,
        Role::User,
        "an empty role is `user`"
    );
    assert_eq!(acme.spec.users[2].language, None);
    assert_eq!(loaded.files, 1);
    assert_eq!(loaded.documents, 2);
}

#[test]
fn a_trial_plan_gets_five_licences_and_a_purchased_plan_none() {
    let loaded = load_text(
        "apiVersion: canopy.dev/v1alpha1\nkind: ServicePlan\nmetadata: {name: trial}\nspec: {billing: trial}\n---\napiVersion: canopy.dev/v1alpha1\nkind: ServicePlan\nmetadata: {name: paid}\nspec: {billing: purchased, limits: {documentsPerMonth: 10}}\n",
    )
    .expect("valid manifests");
    let trial = loaded.hierarchy.plan("trial").expect("declared");
    assert_eq!(trial.spec.billing, Billing::Trial);
    assert_eq!(trial.spec.licenses, Some(5));
    let paid = loaded.hierarchy.plan("paid").expect("declared");
    assert_eq!(paid.spec.licenses, None);
    assert_eq!(paid.spec.limits["documentsPerMonth"], 10);
}

#[test]
fn a_group_carries_only_type_display_name_parent_and_plan() {
    let loaded = load_text(&format!(
        "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: AccountGroup\nmetadata: {{name: smb}}\nspec: {{type: customer, parent: partner-nordic}}\n"
    ))
    .expect("valid manifests");
    let group = loaded.hierarchy.node("smb").expect("declared");
    let mut expected = NodeSpec::new(NodeType::CustomerGroup, "smb");
    expected.parent = Some("partner-nordic".into());
    assert_eq!(group.spec, expected);
}

#[test]
fn the_adopt_annotation_marks_accounts_and_plans_for_adoption() {
    let loaded = load_text(
        "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: partner-nordic\n  annotations: {canopy.dev/adopt: \"true\"}\nspec: {type: partner}\n---\napiVersion: canopy.dev/v1alpha1\nkind: ServicePlan\nmetadata:\n  name: standard\n  annotations: {canopy.dev/adopt: \"true\"}\nspec: {billing: purchased}\n---\napiVersion: canopy.dev/v1alpha1\nkind: ServicePlan\nmetadata: {name: other}\nspec: {billing: purchased}\n",
    )
    .expect("valid manifests");
    assert!(
        loaded
            .hierarchy
            .node("partner-nordic")
            .is_some_and(|n| n.adopt)
    );
    assert!(loaded.hierarchy.plan("standard").is_some_and(|p| p.adopt));
    assert!(loaded.hierarchy.plan("other").is_some_and(|p| !p.adopt));
}

#[test]
fn an_account_tree_expands_to_the_same_hierarchy_as_flat_documents() {
    let tree = load_text(
        "apiVersion: canopy.dev/v1alpha1\nkind: AccountTree\nmetadata: {name: partner-nordic}\nspec:\n  type: partner\n  children:\n    - name: smb\n      kind: AccountGroup\n      type: customer\n      children:\n        - {name: acme, type: customer, active: false}\n    - {name: fjord, type: customer, reseller: true, children: [{name: fisk, type: customer}]}\n",
    )
    .expect("a valid tree");
    let flat = load_text(&format!(
        "{PARTNER}---\napiVersion: canopy.dev/v1alpha1\nkind: AccountGroup\nmetadata: {{name: smb}}\nspec: {{type: customer, parent: partner-nordic}}\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: acme}}\nspec: {{type: customer, parent: smb, active: false}}\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: fjord}}\nspec: {{type: customer, parent: partner-nordic, reseller: true}}\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {{name: fisk}}\nspec: {{type: customer, parent: fjord}}\n"
    ))
    .expect("valid flat manifests");
    assert_eq!(tree.hierarchy, flat.hierarchy);
}

#[test]
fn an_error_inside_a_tree_points_into_the_tree() {
    let error = load_text(
        "apiVersion: canopy.dev/v1alpha1\nkind: AccountTree\nmetadata: {name: partner-nordic}\nspec:\n  type: partner\n  children:\n    - name: acme\n      type: customer\n      plan: missing-plan\n",
    )
    .expect_err("the plan does not exist");
    let diagnostic = error.errors().next().expect("one error");
    assert_eq!(diagnostic.rule, Rule::DanglingPlan);
    assert!(
        matches!(
            &diagnostic.location,
            Location::Position {
                line: 9,
                column: 13,
                ..
            }
        ),
        "{diagnostic}"
    );
}

fn live_node(name: &str, node_type: NodeType, parent: Option<&str>) -> Node {
    let mut spec = NodeSpec::new(node_type, name);
    spec.parent = parent.map(Into::into);
    Node {
        name: name.into(),
        spec,
        adopt: false,
        live: Default::default(),
        effective: None,
    }
}

const CUSTOMER_UNDER_LIVE: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: acme}\nspec: {type: customer, parent: live-parent, plan: live-plan}\n";

#[test]
fn a_reference_no_manifest_declares_is_dangling_without_a_snapshot() {
    let error = load_text(CUSTOMER_UNDER_LIVE).expect_err("nothing declares the parent");
    let rules: Vec<Rule> = errors(&error).into_iter().map(|(rule, _)| rule).collect();
    assert_eq!(rules, [Rule::DanglingParent, Rule::DanglingPlan]);
}

#[test]
fn a_reference_the_live_snapshot_has_is_not_dangling() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(&directory, "acme.yaml", CUSTOMER_UNDER_LIVE);
    let plan = ServicePlanFixture::purchased("live-plan");
    let live = Hierarchy::new(
        vec![live_node("live-parent", NodeType::Partner, None)],
        vec![plan],
    );
    let loaded = manifest::load(&[path], Some(&live)).expect("the snapshot has both");
    assert!(loaded.hierarchy.node("acme").is_some());
    assert!(
        loaded.hierarchy.node("live-parent").is_none(),
        "live nodes are not copied"
    );
}

#[test]
fn nesting_under_a_live_node_uses_its_type() {
    let directory = TempDir::new().expect("a temporary directory");
    let path = write(&directory, "acme.yaml", CUSTOMER_UNDER_LIVE);
    let live = Hierarchy::new(
        vec![live_node("live-parent", NodeType::Customer, None)],
        vec![ServicePlanFixture::purchased("live-plan")],
    );
    let error = manifest::load(&[path], Some(&live)).expect_err("a customer is not a reseller");
    assert_eq!(
        errors(&error),
        [(
            Rule::Nesting,
            "`acme` cannot be placed under `live-parent`: a customer may contain customers only when it is a reseller (set `reseller: true` on the parent)".to_string()
        )]
    );
}

struct ServicePlanFixture;

impl ServicePlanFixture {
    fn purchased(name: &str) -> canopy::model::ServicePlan {
        canopy::model::ServicePlan {
            name: name.to_string(),
            spec: canopy::model::PlanSpec {
                billing: Billing::Purchased,
                licenses: None,
                limits: Default::default(),
                display_name: None,
            },
            adopt: false,
            live: Default::default(),
        }
    }
}

fn resource<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    serde_yaml::from_str(yaml).expect("a valid resource")
}

#[test]
fn cluster_resources_are_located_by_object_name() {
    let partner: Account = resource("metadata: {name: partner-nordic}\nspec: {type: partner}\n");
    let customer: Account = resource(
        "metadata: {name: acme}\nspec: {type: customer, parent: nordic-smb, plan: gold}\n",
    );
    let group: AccountGroup =
        resource("metadata: {name: nordic-smb}\nspec: {type: partner, parent: partner-nordic}\n");
    let plan: ServicePlan = resource("metadata: {name: standard}\nspec: {billing: trial}\n");
    let error = manifest::from_resources(vec![partner, customer], vec![group], vec![plan])
        .expect_err("a customer in a partner group, and a missing plan");
    let found: Vec<(Rule, String)> = error
        .errors()
        .map(|d: &Diagnostic| (d.rule, d.location.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (Rule::Nesting, "Account/acme spec.parent".to_string()),
            (Rule::DanglingPlan, "Account/acme spec.plan".to_string()),
        ]
    );
}

#[test]
fn cluster_resources_cannot_read_users_from_files() {
    let account: Account =
        resource("metadata: {name: partner-nordic}\nspec: {type: partner, usersFrom: users.csv}\n");
    let error = manifest::from_resources(vec![account], vec![], vec![]).expect_err("no files");
    assert_eq!(
        error.errors().next().map(|d| d.rule),
        Some(Rule::UsersFromInCluster)
    );
}

#[test]
fn valid_cluster_resources_give_the_same_hierarchy_as_files() {
    let partner: Account = resource("metadata: {name: partner-nordic}\nspec: {type: partner}\n");
    let from_cluster =
        manifest::from_resources(vec![partner], vec![], vec![]).expect("a valid resource");
    let from_file = load_text(PARTNER).expect("a valid file");
    assert_eq!(from_cluster.hierarchy, from_file.hierarchy);
}

#[test]
fn a_spec_written_before_its_kind_is_still_typed_and_located() {
    let error = load_text(
        "spec:\n  type: partner\n  activ: true\nmetadata: {name: partner-nordic}\nkind: Account\napiVersion: canopy.dev/v1alpha1\n",
    )
    .expect_err("an unknown field");
    let diagnostic = error.errors().next().expect("one error");
    assert_eq!(diagnostic.rule, Rule::UnknownField);
    assert!(
        matches!(
            &diagnostic.location,
            Location::Position {
                line: 3,
                column: 3,
                ..
            }
        ),
        "{diagnostic}"
    );
}

#[test]
fn the_per_file_parse_product_survives_serialization() {
    let parsed = manifest::parse_file(&format!(
        "{PARTNER}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n"
    ));
    assert_eq!(parsed.documents, 2);
    assert_eq!(parsed.resources.len(), 1);
    assert_eq!(parsed.problems.len(), 1, "the ConfigMap is noted");
    let json = serde_json::to_string(&parsed).expect("serializable");
    let back: manifest::ParsedFile = serde_json::from_str(&json).expect("deserializable");
    assert_eq!(back, parsed);
}

#[test]
fn the_error_lists_every_diagnostic_and_a_summary() {
    let error = load_text(CUSTOMER_UNDER_LIVE).expect_err("dangling references");
    let text = error.to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.ends_with("invalid manifests: 2 errors, 0 warnings"),
        "{text}"
    );
    assert!(
        error
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
}

#[test]
fn an_empty_directory_warns_that_nothing_was_found() {
    let directory = TempDir::new().expect("a temporary directory");
    let loaded = manifest::load(&[directory.path().display().to_string()], None)
        .expect("nothing is not an error");
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].rule, Rule::NoResources);
    assert!(Path::new(&directory.path()).exists());
}

#[test]
fn account_scopes_in_files_are_skipped_with_a_note() {
    let directory = TempDir::new().expect("a temporary directory");
    write(
        &directory,
        "scopes.yaml",
        &format!(
            "apiVersion: canopy.dev/v1alpha1\nkind: AccountScope\nmetadata: {{name: nordic}}\nspec: {{namespaces: [team-nordic], root: partner-nordic}}\n---\n{PARTNER}"
        ),
    );
    let inputs = [directory.path().display().to_string()];
    let loaded = manifest::load_with_cache(&inputs, None, &manifest::ParseCache::disabled())
        .expect("an AccountScope beside an Account is valid");
    assert!(loaded.hierarchy.node("partner-nordic").is_some());
    let note = loaded
        .diagnostics
        .iter()
        .find(|d| d.rule == Rule::SkippedDocument)
        .expect("a note about the scope");
    assert!(note.to_string().contains("scopes.yaml:1:1"), "{note}");
    assert!(note.message.contains("AccountScope"), "{note}");
}
