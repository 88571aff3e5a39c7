//! `to_yaml` is the inverse of loading: for the realistic example and for generated
//! hierarchies, loading the exported manifests gives back the same hierarchy.

use std::collections::BTreeMap;

use canopy::manifest;
use canopy::model::rules::{Placement, placement};
use canopy::model::{
    Address, Billing, Contact, CustomerType, Hierarchy, Node, NodeSpec, NodeType, PlanSpec, Role,
    ServicePlan, User,
};
use proptest::prelude::*;
use tempfile::TempDir;

fn load_yaml(yaml: &str) -> Result<manifest::Loaded, manifest::LoadError> {
    let directory = TempDir::new().expect("a temporary directory");
    let path = directory.path().join("export.yaml");
    std::fs::write(&path, yaml).expect("write the export");
    manifest::load(&[path.display().to_string()], None)
}

#[test]
fn exporting_the_realistic_example_loads_back_to_the_same_hierarchy() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/realistic").to_string();
    let loaded = manifest::load(&[directory], None).expect("the example is valid");
    let yaml = manifest::to_yaml(&loaded.hierarchy);
    let again = load_yaml(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    assert_eq!(again.hierarchy, loaded.hierarchy);
}

#[test]
fn exported_manifests_leave_defaults_out() {
    let mut spec = NodeSpec::new(NodeType::Partner, "partner-nordic");
    spec.active = true;
    let hierarchy = Hierarchy::new(
        vec![Node {
            name: "partner-nordic".into(),
            spec,
            adopt: true,
            live: Default::default(),
            effective: None,
        }],
        vec![ServicePlan {
            name: "trial".to_string(),
            spec: PlanSpec {
                billing: Billing::Trial,
                licenses: Some(5),
                limits: BTreeMap::new(),
                display_name: None,
            },
            adopt: false,
            live: Default::default(),
        }],
    );
    insta::assert_snapshot!(manifest::to_yaml(&hierarchy), @r#"
    ---
    apiVersion: canopy.dev/v1alpha1
    kind: ServicePlan
    metadata:
      name: trial
    spec:
      billing: trial
    ---
    apiVersion: canopy.dev/v1alpha1
    kind: Account
    metadata:
      annotations:
        canopy.dev/adopt: 'true'
      name: partner-nordic
    spec:
      type: partner
    "#);
}

/// One generated node: where to hang it and what to declare, as choices that the
/// builder turns into a valid node.
#[derive(Debug, Clone)]
struct Recipe {
    parent: usize,
    kind: usize,
    display_name: Option<String>,
    active: bool,
    reseller: bool,
    customer_type: Option<bool>,
    plan: Option<usize>,
    address: Option<String>,
    contact: bool,
    services: BTreeMap<String, bool>,
    settings: BTreeMap<String, serde_json::Value>,
    locked: Vec<String>,
    users: Vec<(String, bool, Option<String>)>,
    adopt: bool,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 äöüß'\":#&*!|>%@,\\-\\[\\]{}]{0,24}",
        Just("yes".to_string()),
        Just("null".to_string()),
        Just("~".to_string()),
        Just("0123".to_string()),
        Just("1e3".to_string()),
        Just(" leading and trailing ".to_string()),
    ]
}

fn setting_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1.0e6f64..1.0e6).prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
        // Plain-text fields refuse control characters; setting values may hold any text.
        Just(serde_json::Value::from("line\nbreak")),
        Just(serde_json::Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        (
            any::<usize>(),
            any::<usize>(),
            prop::option::of(text()),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(0usize..3),
            prop::option::of(text()),
            any::<bool>(),
        ),
        (
            prop::collection::btree_map("[a-z-]{1,10}", any::<bool>(), 0..3),
            prop::collection::btree_map("[a-zA-Z]{1,10}", setting_value(), 0..3),
            prop::collection::vec("[a-z]{1,5}", 0..3),
        ),
        (
            prop::collection::vec(
                ("[a-z]{1,8}", any::<bool>(), prop::option::of(text())),
                0..3,
            ),
            any::<bool>(),
        ),
    )
        .prop_map(|(a, b, c, d)| Recipe {
            parent: a.0,
            kind: a.1,
            display_name: a.2,
            active: a.3,
            reseller: a.4,
            customer_type: b.0,
            plan: b.1,
            address: b.2,
            contact: b.3,
            services: c.0,
            settings: c.1,
            locked: c.2,
            users: d.0,
            adopt: d.1,
        })
}

const TYPES: [NodeType; 6] = [
    NodeType::Subsidiary,
    NodeType::Partner,
    NodeType::Customer,
    NodeType::Enterprise,
    NodeType::PartnerGroup,
    NodeType::CustomerGroup,
];

/// Builds a valid, normalized hierarchy from recipes: each node hangs under an
/// earlier one (or is the root) where the nesting rules allow its type.
fn build(recipes: Vec<Recipe>, plan_count: usize) -> Hierarchy {
    let plans: Vec<ServicePlan> = (0..plan_count)
        .map(|index| ServicePlan {
            name: format!("plan-{index}"),
            spec: PlanSpec {
                billing: if index % 2 == 0 {
                    Billing::Trial
                } else {
                    Billing::Purchased
                },
                licenses: Some(5 + index as u32 * 3),
                limits: BTreeMap::from([("documentsPerMonth".to_string(), 1000 * index as u64)]),
                display_name: (index == 1).then(|| "Plan: one".to_string()),
            },
            adopt: index == 2,
            live: Default::default(),
        })
        .collect();
    let mut nodes: Vec<Node> = vec![Node {
        name: "root".into(),
        spec: NodeSpec::new(NodeType::Subsidiary, "Root"),
        adopt: false,
        live: Default::default(),
        effective: None,
    }];
    for (index, recipe) in recipes.into_iter().enumerate() {
        let parent = &nodes[recipe.parent % nodes.len()];
        let parent_key = Some((parent.spec.node_type, parent.spec.reseller));
        let allowed: Vec<NodeType> = TYPES
            .into_iter()
            .filter(|child| placement(parent_key, *child) == Placement::Allowed)
            .collect();
        if allowed.is_empty() {
            continue;
        }
        let node_type = allowed[recipe.kind % allowed.len()];
        let name = format!("node-{index}");
        let parent_name = parent.name.to_string();
        nodes.push(node(name, parent_name, node_type, recipe, plan_count));
    }
    Hierarchy::new(nodes, plans)
}

fn node(name: String, parent: String, node_type: NodeType, recipe: Recipe, plans: usize) -> Node {
    let display_name = recipe
        .display_name
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| name.clone());
    let mut spec = NodeSpec::new(node_type, display_name);
    spec.parent = Some(parent.into());
    let plan = recipe
        .plan
        .filter(|&plan| plan < plans && node_type != NodeType::PartnerGroup)
        .map(|plan| format!("plan-{plan}"));
    spec.plan = plan.map(Into::into);
    if !node_type.is_group() {
        let is_customer = node_type == NodeType::Customer;
        spec.active = recipe.active;
        spec.reseller = is_customer && recipe.reseller;
        spec.customer_type = recipe.customer_type.filter(|_| is_customer).map(|sub| {
            if sub {
                CustomerType::SubDivision
            } else {
                CustomerType::EndCustomer
            }
        });
        spec.address = recipe.address.map(|city| {
            Box::new(Address {
                city: Some(city),
                country: Some("DE".to_string()),
                ..Address::default()
            })
        });
        spec.contact = recipe.contact.then(|| {
            Box::new(Contact {
                name: Some("Contact: Person".to_string()),
                email: Some(format!("contact@{name}.example")),
                phone: None,
            })
        });
        spec.services = recipe.services.into();
        spec.settings = recipe.settings.into();
        let mut locked = recipe.locked;
        locked.sort();
        locked.dedup();
        spec.locked_settings = locked.into();
        let mut seen = std::collections::BTreeSet::new();
        for (position, (local, admin, language)) in recipe.users.into_iter().enumerate() {
            if !seen.insert(local.clone()) {
                continue;
            }
            let must_be_admin =
                position == 0 && matches!(node_type, NodeType::Customer | NodeType::Enterprise);
            spec.users.push(User {
                email: format!("{local}@{name}.example").into(),
                name: format!("User {local}").into(),
                role: if admin || must_be_admin {
                    Role::Admin
                } else {
                    Role::User
                },
                language: language.map(Into::into),
                timezone: None,
            });
        }
    }
    Node {
        name: name.into(),
        spec,
        adopt: recipe.adopt,
        live: Default::default(),
        effective: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_hierarchy_survives_export_and_load(
        recipes in prop::collection::vec(recipe(), 0..25),
        plan_count in 0usize..4,
    ) {
        let hierarchy = build(recipes, plan_count);
        let yaml = manifest::to_yaml(&hierarchy);
        let loaded = load_yaml(&yaml).map_err(|error| TestCaseError::fail(format!("{error}\n{yaml}")))?;
        prop_assert_eq!(loaded.hierarchy, hierarchy);
    }
}
