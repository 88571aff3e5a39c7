//! Generated artefacts: the CustomResourceDefinitions (`canopy crds`, committed under
//! `crds/`) and the JSON Schema of every kind (`canopy schema`, for editors' YAML
//! language servers). Both come from the Rust types and their `///` comments.

use kube::CustomResourceExt;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::tree::TreeNode;
use super::types::{
    API_VERSION, Account, AccountGroup, AccountGroupSpec, AccountScope, AccountSpec, ServicePlan,
    ServicePlanSpec,
};

/// The CRDs of Account, AccountGroup and ServicePlan (namespaced) and AccountScope
/// (cluster-scoped) as one multi-document YAML text. (AccountTree is a file-only
/// shorthand and has no CRD.)
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in [
        Account::crd(),
        AccountGroup::crd(),
        ServicePlan::crd(),
        AccountScope::crd(),
    ] {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}

/// A JSON Schema (draft 7) accepting any one canopy document: Account, AccountGroup,
/// ServicePlan or AccountTree.
pub fn json_schema() -> Value {
    let mut generator = SchemaSettings::draft07().into_generator();
    let kinds = [
        (
            "Account",
            generator.subschema_for::<AccountSpec>(),
            "An account of the hierarchy.",
        ),
        (
            "AccountGroup",
            generator.subschema_for::<AccountGroupSpec>(),
            "A group of partners or of customers.",
        ),
        (
            "ServicePlan",
            generator.subschema_for::<ServicePlanSpec>(),
            "A service plan accounts and customer groups are billed on.",
        ),
        (
            "AccountTree",
            generator.subschema_for::<TreeNode>(),
            "Files only: a nested subtree that expands to Accounts and AccountGroups.",
        ),
    ];
    let one_of: Vec<Value> = kinds
        .into_iter()
        .map(|(kind, spec, description)| document_schema(kind, spec.to_value(), description))
        .collect();
    let definitions = generator.take_definitions(true);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "canopy manifest",
        "description": format!("One {API_VERSION} resource document."),
        "oneOf": one_of,
        "definitions": definitions,
    })
}

fn document_schema(kind: &str, spec: Value, description: &str) -> Value {
    json!({
        "title": kind,
        "description": description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": { "const": API_VERSION },
            "kind": { "const": kind },
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {
                        "description": "The global, stable key: lowercase letters, digits and '-', at most 63 characters.",
                        "type": "string",
                        "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
                    },
                    "annotations": {
                        "description": "`canopy.dev/adopt: \"true\"` takes over an object that exists unmanaged.",
                        "type": "object",
                        "additionalProperties": { "type": "string" }
                    },
                    "labels": { "type": "object", "additionalProperties": { "type": "string" } }
                }
            },
            "spec": spec,
            "status": { "description": "Written by the system; ignored when read from files." }
        }
    })
}
