//! Validation of everything the sources declare, as a whole: the checks that need
//! more than one document (names, references, nesting, cycles) and the per-object
//! checks that need no YAML (users, e-mails), plus warnings for declarations that
//! have no effect.
//!
//! ```text
//! Declared ─┬─ structure: names, duplicates, parents, plans, nesting, cycles
//!           ├─ users: first user admin, e-mails, duplicates
//!           ├─ text: no control characters (NUL, …) in text fields
//!           └─ effect: services/settings that an ancestor overrides (warnings)
//! ```
//!
//! Every check appends [`Finding`]s; none stops at the first problem. Pure: no I/O.

mod effect;
mod structure;
mod text;
mod users;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::declare::{Declared, DeclaredNode};
use super::diagnostic::Finding;
use crate::model::names::NameTable;
use crate::model::{Hierarchy, Node, NodeSpec};

/// Checks `declared` against itself and, for references no source declares, the
/// live snapshot `external`.
pub(crate) fn check(declared: &Declared, external: Option<&Hierarchy>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let index = Index::build(declared, external, &mut findings);
    let on_cycle = structure::check(declared, &index, &mut findings);
    users::check(declared, &mut findings);
    text::check(declared, &mut findings);
    effect::check(declared, &index, &on_cycle, &mut findings);
    findings
}

/// Runs a per-node check over every declared node. Nodes are independent, so they are
/// checked in parallel; the findings keep the nodes' order.
fn each_node(
    declared: &Declared,
    check: impl Fn(&DeclaredNode, &mut Vec<Finding>) + Sync,
    findings: &mut Vec<Finding>,
) {
    let found: Vec<Finding> = declared
        .nodes
        .par_iter()
        .flat_map_iter(|entry| {
            let mut found = Vec::new();
            check(entry, &mut found);
            found
        })
        .collect();
    findings.extend(found);
}

/// Lookups shared by the checks.
pub(crate) struct Index<'a> {
    pub declared: &'a Declared,
    pub external: Option<&'a Hierarchy>,
    /// Node name to its first declaration.
    nodes: NameTable,
    /// Plan name to its first declaration.
    pub plans: FxHashMap<&'a str, usize>,
}

/// What a parent (or any node) name refers to.
#[derive(Clone, Copy)]
pub(crate) enum Resolved<'a> {
    Declared(usize),
    External(&'a Node),
    /// Declared by a document that failed to parse.
    Unparsed,
    Missing,
}

impl<'a> Index<'a> {
    fn build(
        declared: &'a Declared,
        external: Option<&'a Hierarchy>,
        findings: &mut Vec<Finding>,
    ) -> Index<'a> {
        let nodes = NameTable::build(
            declared.nodes.len(),
            |position| declared.nodes[position].node.name.as_str(),
            |first, position| findings.push(structure::duplicate_node(declared, first, position)),
        );
        let mut plans = FxHashMap::default();
        for (position, entry) in declared.plans.iter().enumerate() {
            if let Some(&first) = plans.get(entry.plan.name.as_str()) {
                findings.push(structure::duplicate_plan(declared, first, position));
            } else {
                plans.insert(entry.plan.name.as_str(), position);
            }
        }
        Index {
            declared,
            external,
            nodes,
            plans,
        }
    }

    pub fn resolve(&self, name: &str) -> Resolved<'a> {
        let declared = self.declared;
        if let Some(position) = self
            .nodes
            .get(name, |at| declared.nodes[at].node.name.as_str())
        {
            return Resolved::Declared(position);
        }
        if let Some(node) = self.external.and_then(|external| external.node(name)) {
            return Resolved::External(node);
        }
        if self.declared.unparsed.contains(name) {
            return Resolved::Unparsed;
        }
        Resolved::Missing
    }

    /// The spec of a declared or external node.
    pub fn spec(&self, resolved: Resolved<'a>) -> Option<&'a NodeSpec> {
        match resolved {
            Resolved::Declared(position) => Some(&self.declared.nodes[position].node.spec),
            Resolved::External(node) => Some(&node.spec),
            Resolved::Unparsed | Resolved::Missing => None,
        }
    }

    pub fn has_plan(&self, name: &str) -> bool {
        self.plans.contains_key(name)
            || self
                .external
                .is_some_and(|external| external.plan(name).is_some())
    }
}

pub use structure::is_valid_name;
pub use users::is_valid_email;
