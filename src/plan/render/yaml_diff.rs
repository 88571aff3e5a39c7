//! The `diff` rendering: a unified diff of live vs desired YAML, one file section per
//! object the plan changes (in plan order), as manifests would show them.
//!
//! ```text
//! --- live/Account/acme-fr
//! +++ desired/Account/acme-fr
//! @@ -4,7 +4,7 @@
//!  spec:
//!    type: customer
//! -  displayName: Acme Fr
//! +  displayName: ACME France
//! ```
//!
//! A created object diffs against `/dev/null`, a deleted one to it. Objects whose only
//! change is an inherited (effective) value do not appear: their manifests are equal.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use serde_yaml::{Mapping, Value};
use similar::TextDiff;

use crate::model::{Hierarchy, Kind, Node, NodeSpec, ServicePlan};
use crate::plan::Plan;

const API_VERSION: &str = "canopy.dev/v1alpha1";
const ADOPT_ANNOTATION: &str = "canopy.dev/adopt";

/// Renders the unified diff of every object the plan changes; empty for an empty plan.
pub fn yaml_diff(live: &Hierarchy, desired: &Hierarchy, plan: &Plan) -> String {
    if plan.changes.is_empty() {
        return String::new();
    }
    let live_nodes = by_name(&live.nodes, |node| &node.name);
    let desired_nodes = by_name(&desired.nodes, |node| &node.name);
    let live_plans = by_name(&live.plans, |plan| plan.name.as_str());
    let desired_plans = by_name(&desired.plans, |plan| plan.name.as_str());
    let mut seen: FxHashSet<(Kind, &str)> = FxHashSet::default();
    let mut out = String::new();
    for change in &plan.changes {
        let name = change.name.as_str();
        // Kind ServicePlan and the node kinds live in separate name spaces.
        let key = match change.kind {
            Kind::ServicePlan => (Kind::ServicePlan, name),
            Kind::Account | Kind::AccountGroup => (Kind::Account, name),
        };
        if !seen.insert(key) {
            continue;
        }
        let (before, after, kind) = match change.kind {
            Kind::ServicePlan => (
                live_plans.get(name).map(|plan| plan_manifest(plan, false)),
                desired_plans
                    .get(name)
                    .map(|plan| plan_manifest(plan, true)),
                Kind::ServicePlan,
            ),
            Kind::Account | Kind::AccountGroup => {
                let before = live_nodes.get(name);
                let after = desired_nodes.get(name);
                let kind = after
                    .or(before)
                    .map_or(change.kind, |node| node.spec.node_type.kind());
                (
                    before.map(|node| node_manifest(node, false)),
                    after.map(|node| node_manifest(node, true)),
                    kind,
                )
            }
        };
        write_file_diff(&mut out, kind, name, before.as_deref(), after.as_deref());
    }
    out
}

fn by_name<T>(objects: &[T], name: impl Fn(&T) -> &str) -> FxHashMap<&str, &T> {
    objects
        .iter()
        .map(|object| (name(object), object))
        .collect()
}

fn write_file_diff(
    out: &mut String,
    kind: Kind,
    name: &str,
    before: Option<&str>,
    after: Option<&str>,
) {
    let old_header = match before {
        Some(_) => format!("live/{kind}/{name}"),
        None => "/dev/null".to_string(),
    };
    let new_header = match after {
        Some(_) => format!("desired/{kind}/{name}"),
        None => "/dev/null".to_string(),
    };
    let (old, new) = (before.unwrap_or(""), after.unwrap_or(""));
    let diff = TextDiff::from_lines(old, new);
    out.push_str(
        &diff
            .unified_diff()
            .context_radius(3)
            .header(&old_header, &new_header)
            .to_string(),
    );
}

/// Serializes a model value; the model types are plain data and always serialize.
fn yaml<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_yaml::to_value(value).unwrap_or(Value::Null)
}

fn insert(mapping: &mut Mapping, key: &str, value: Value) {
    mapping.insert(Value::String(key.to_string()), value);
}

fn document(kind: Kind, name: &str, adopt: bool, spec: Mapping) -> String {
    let mut metadata = Mapping::new();
    insert(&mut metadata, "name", yaml(name));
    if adopt {
        let mut annotations = Mapping::new();
        insert(&mut annotations, ADOPT_ANNOTATION, yaml("true"));
        insert(&mut metadata, "annotations", Value::Mapping(annotations));
    }
    let mut root = Mapping::new();
    insert(&mut root, "apiVersion", yaml(API_VERSION));
    insert(&mut root, "kind", yaml(kind.as_str()));
    insert(&mut root, "metadata", Value::Mapping(metadata));
    insert(&mut root, "spec", Value::Mapping(spec));
    serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default()
}

/// A node as its manifest: manifest field names and order, defaults left out except
/// `active`, which is always shown because it is what activation changes flip.
fn node_manifest(node: &Node, desired_side: bool) -> String {
    let spec: &NodeSpec = &node.spec;
    let mut fields = Mapping::new();
    insert(&mut fields, "type", yaml(spec.node_type.spec_type()));
    insert(&mut fields, "displayName", yaml(&spec.display_name));
    if let Some(parent) = &spec.parent {
        insert(&mut fields, "parent", yaml(parent));
    }
    if !spec.node_type.is_group() {
        insert(&mut fields, "active", yaml(&spec.active));
        if let Some(customer_type) = spec.customer_type {
            insert(&mut fields, "customerType", yaml(customer_type.as_str()));
        }
        if spec.reseller {
            insert(&mut fields, "reseller", yaml(&true));
        }
    }
    if let Some(plan) = &spec.plan {
        insert(&mut fields, "plan", yaml(plan));
    }
    if let Some(address) = &spec.address {
        insert(&mut fields, "address", yaml(address));
    }
    if let Some(contact) = &spec.contact {
        insert(&mut fields, "contact", yaml(contact));
    }
    if !spec.services.is_empty() {
        insert(&mut fields, "services", yaml(&spec.services));
    }
    if !spec.settings.is_empty() {
        insert(&mut fields, "settings", yaml(&spec.settings));
    }
    if !spec.locked_settings.is_empty() {
        insert(&mut fields, "lockedSettings", yaml(&spec.locked_settings));
    }
    if !spec.users.is_empty() {
        insert(&mut fields, "users", yaml(&spec.users));
    }
    let adopt = desired_side && node.adopt;
    document(spec.node_type.kind(), &node.name, adopt, fields)
}

fn plan_manifest(plan: &ServicePlan, desired_side: bool) -> String {
    let mut fields = Mapping::new();
    insert(&mut fields, "billing", yaml(plan.spec.billing.as_str()));
    if let Some(display_name) = &plan.spec.display_name {
        insert(&mut fields, "displayName", yaml(display_name));
    }
    if let Some(licenses) = plan.spec.licenses {
        insert(&mut fields, "licenses", yaml(&licenses));
    }
    if !plan.spec.limits.is_empty() {
        insert(&mut fields, "limits", yaml(&plan.spec.limits));
    }
    let adopt = desired_side && plan.adopt;
    document(Kind::ServicePlan, &plan.name, adopt, fields)
}
