//! Warnings for declarations an ancestor overrides: a service switched on below an
//! ancestor that switches it off, a setting set below an ancestor that locks it.
//! Both are legal (the tree may be reorganised later) but do nothing today.
//!
//! Only nodes that declare enabled services or settings are looked at, and each walks
//! up its own ancestors, so a hierarchy that declares none costs nothing here.

use super::{Index, Resolved};
use crate::manifest::declare::{Declared, DeclaredNode};
use crate::manifest::diagnostic::{Finding, Rule, Target};
use crate::model::NodeSpec;

pub(super) fn check(
    declared: &Declared,
    index: &Index<'_>,
    on_cycle: &[bool],
    findings: &mut Vec<Finding>,
) {
    for (position, entry) in declared.nodes.iter().enumerate() {
        let spec = &entry.node.spec;
        let enables_services = spec.services.values().any(|&enabled| enabled);
        if on_cycle[position] || (!enables_services && spec.settings.is_empty()) {
            continue;
        }
        let ancestors = ancestors(entry, index);
        for (service, _) in spec.services.iter().filter(|(_, enabled)| **enabled) {
            let disabler = ancestors
                .iter()
                .find(|(_, spec)| spec.services.get(service) == Some(&false));
            if let Some((ancestor, _)) = disabler {
                findings.push(
                    Finding::warning(
                        Rule::IneffectiveService,
                        entry.origin.field_at(&["services", service], Target::Key),
                        format!(
                            "service `{service}` enabled on `{}` has no effect: ancestor `{ancestor}` disables it",
                            entry.node.name
                        ),
                    )
                    .about(&entry.node.name),
                );
            }
        }
        for key in spec.settings.keys() {
            let locker = ancestors
                .iter()
                .find(|(_, spec)| spec.locked_settings.binary_search(key).is_ok());
            if let Some((ancestor, _)) = locker {
                findings.push(ineffective_setting(entry, key, ancestor));
            }
        }
    }
}

fn ineffective_setting(entry: &DeclaredNode, key: &str, ancestor: &str) -> Finding {
    Finding::warning(
        Rule::IneffectiveSetting,
        entry.origin.field_at(&["settings", key], Target::Key),
        format!(
            "setting `{key}` on `{}` has no effect: ancestor `{ancestor}` locks it",
            entry.node.name
        ),
    )
    .about(&entry.node.name)
}

/// The ancestors of a node, nearest first, declared or live. Stops at a missing
/// parent, and after as many steps as there are nodes (a live cycle).
fn ancestors<'a>(entry: &'a DeclaredNode, index: &Index<'a>) -> Vec<(&'a str, &'a NodeSpec)> {
    let limit = index.declared.nodes.len() + index.external.map_or(0, |e| e.nodes.len());
    let mut found = Vec::new();
    let mut parent = entry.node.spec.parent.as_deref();
    while let Some(name) = parent {
        if found.len() > limit {
            break;
        }
        let resolved = index.resolve(name);
        let Some(spec) = index.spec(resolved) else {
            break;
        };
        let name = match resolved {
            Resolved::Declared(position) => index.declared.nodes[position].node.name.as_str(),
            Resolved::External(node) => node.name.as_str(),
            Resolved::Unparsed | Resolved::Missing => break,
        };
        found.push((name, spec));
        parent = spec.parent.as_deref();
    }
    found
}
