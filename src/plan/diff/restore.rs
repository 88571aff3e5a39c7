//! Restores: declaring a name that exists archived brings the old row back (its account
//! number and history), so only the source that managed it may do so, and a scoped run
//! only for an account that lived inside its scope. Anyone else would silently take
//! over another tenant's account, number and audit trail included.

use crate::model::{Hierarchy, Node};
use crate::plan::error::Problem;

use super::join::{Joined, NameIndex, Role};
use super::scope::Scope;

/// Reports every create that would restore an archived node it may not restore.
pub(super) fn check(
    nodes: &[Joined<'_, Node>],
    index: &NameIndex,
    live: &Hierarchy,
    source: &str,
    scope: Option<&Scope<'_>>,
    problems: &mut Vec<Problem>,
) {
    if live.archived.is_empty() {
        return;
    }
    for node in nodes.iter().filter(|node| node.role == Role::Create) {
        let Some(archived) = live.archived(node.name) else {
            continue;
        };
        let kind = node.spec().node_type.kind();
        let owner = archived.managed_by.as_deref();
        if owner != Some(source) {
            problems.push(Problem::RestoreByOtherSource {
                kind,
                name: node.name.to_string(),
                owner: owner.unwrap_or("no source (unmanaged)").to_string(),
                source_name: source.to_string(),
            });
            continue;
        }
        if let Some(scope) = scope {
            let inside = archived
                .parent
                .as_deref()
                .and_then(|parent| index.get(parent, nodes))
                .is_some_and(|parent| scope.contains_live(parent));
            if !inside {
                problems.push(Problem::RestoreOutsideScope {
                    kind,
                    name: node.name.to_string(),
                    root: scope.root().to_string(),
                });
            }
        }
    }
}
