//! The way back: a [`Hierarchy`] as multi-document manifests (`canopy export`).
//!
//! One document per plan, then one per group or account, parents before children
//! (depth-first in natural order, as `canopy get` lists them), with defaults left out. Loading the output gives back the same hierarchy (the
//! declared side of it: account numbers and other live facts are not manifest
//! fields), which the round-trip tests check.

use serde::Serialize;

use super::declare::{account_manifest, group_manifest, metadata, plan_manifest};
use super::types::{Account, AccountGroup, ServicePlan};
use crate::model::{self, Hierarchy, Node, natural};

/// The hierarchy as YAML manifests, one `---` document per object.
pub fn to_yaml(hierarchy: &Hierarchy) -> String {
    let mut out = String::new();
    let mut plans: Vec<_> = hierarchy.plans.iter().collect();
    plans.sort_by(|a, b| natural::compare(&a.name, &b.name));
    for plan in plans {
        let resource = ServicePlan {
            metadata: metadata(&plan.name, plan.adopt),
            spec: plan_manifest(plan),
            status: None,
        };
        push_document(&mut out, &plan.name, &resource);
    }
    for index in natural::tree_order(hierarchy) {
        let node = &hierarchy.nodes[index];
        let metadata = metadata(&node.name, node.adopt);
        if let Some(spec) = group_manifest(node) {
            let resource = AccountGroup {
                metadata,
                spec,
                status: None,
            };
            push_document(&mut out, &node.name, &resource);
        } else if let Some(spec) = account_manifest(node) {
            let resource = Account {
                metadata,
                spec,
                status: None,
            };
            push_document(&mut out, &node.name, &resource);
        }
    }
    out
}

fn push_document(out: &mut String, name: &str, resource: &impl Serialize) {
    out.push_str("---\n");
    match serde_yaml::to_string(resource) {
        Ok(text) => out.push_str(&text),
        // Only non-string map keys can fail, and the manifest types have none; should
        // it ever happen, the gap is visible in the output rather than silent.
        Err(error) => out.push_str(&format!("# canopy could not write `{name}`: {error}\n")),
    }
}

/// The `spec` a manifest would declare for a node, as a JSON value (`canopy get -o
/// json` shows it whole). `None` only if serialising fails, which the manifest types,
/// whose map keys are all strings, never do.
pub fn node_spec_value(node: &Node) -> Option<serde_json::Value> {
    match group_manifest(node) {
        Some(spec) => serde_json::to_value(spec).ok(),
        None => account_manifest(node).and_then(|spec| serde_json::to_value(spec).ok()),
    }
}

/// The `spec` a manifest would declare for a service plan, as a JSON value.
pub fn plan_spec_value(plan: &model::ServicePlan) -> Option<serde_json::Value> {
    serde_json::to_value(plan_manifest(plan)).ok()
}
