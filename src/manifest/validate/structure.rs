//! The shape of the hierarchy: valid and unique names, parents and plans that exist,
//! the nesting rules (docs/rules.md), plans only where they bill, and no parent cycles.

use std::cell::Cell;

use super::{Index, Resolved};
use crate::manifest::declare::{Declared, DeclaredNode};
use crate::manifest::diagnostic::{Finding, Rule, Target};
use crate::model::{NodeType, rules};

/// Suggestions ("did you mean") cost a scan over all names; beyond this many
/// dangling references the scan is skipped so that a broken 1M-account load stays fast.
const MAX_SUGGESTIONS: usize = 20;

/// Runs the structural checks; returns, per declared node, whether it is on a parent
/// cycle (later walks up the tree must avoid those).
pub(super) fn check(
    declared: &Declared,
    index: &Index<'_>,
    findings: &mut Vec<Finding>,
) -> Vec<bool> {
    let suggestions_left = Cell::new(MAX_SUGGESTIONS);
    for plan in &declared.plans {
        check_name(
            &plan.plan.name,
            "ServicePlan",
            || plan.origin.name_at(),
            findings,
        );
    }
    for entry in &declared.nodes {
        let node = &entry.node;
        let kind = node.spec.node_type.kind().as_str();
        check_name(&node.name, kind, || entry.origin.name_at(), findings);
        check_parent(entry, index, &suggestions_left, findings);
        check_plan(entry, index, &suggestions_left, findings);
        check_account_fields(entry, findings);
    }
    cycles(declared, index, findings)
}

/// Whether `name` is a DNS label: lowercase letters, digits and `-`, starting and
/// ending with a letter or digit, at most 63 characters.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok =
        |byte: Option<&u8>| byte.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    !bytes.is_empty()
        && bytes.len() <= 63
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn check_name(
    name: &str,
    kind: &str,
    at: impl FnOnce() -> crate::manifest::diagnostic::At,
    findings: &mut Vec<Finding>,
) {
    if !is_valid_name(name) {
        let length = name.chars().count();
        let why = if length > 63 {
            format!("it has {length} characters, at most 63 are allowed")
        } else {
            "use lowercase letters, digits and '-', starting and ending with a letter or digit"
                .to_string()
        };
        findings.push(
            Finding::error(
                Rule::InvalidName,
                at(),
                format!("invalid {kind} name `{name}`: {why}"),
            )
            .about(name),
        );
    }
}

pub(super) fn duplicate_node(declared: &Declared, first: usize, second: usize) -> Finding {
    let first = &declared.nodes[first];
    let second = &declared.nodes[second];
    let name = &second.node.name;
    Finding::error(
        Rule::DuplicateName,
        second.origin.name_at(),
        format!(
            "duplicate name `{name}`: already declared as {}; accounts and groups share one name space",
            article(first.node.spec.node_type.kind().as_str())
        ),
    )
    .about(name)
    .also_at(first.origin.name_at())
}

pub(super) fn duplicate_plan(declared: &Declared, first: usize, second: usize) -> Finding {
    let first = &declared.plans[first];
    let second = &declared.plans[second];
    let name = &second.plan.name;
    Finding::error(
        Rule::DuplicateName,
        second.origin.name_at(),
        format!("duplicate ServicePlan name `{name}`"),
    )
    .about(name)
    .also_at(first.origin.name_at())
}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

fn check_parent(
    entry: &DeclaredNode,
    index: &Index<'_>,
    suggestions_left: &Cell<usize>,
    findings: &mut Vec<Finding>,
) {
    let node = &entry.node;
    let child_type = node.spec.node_type;
    let Some(parent_name) = node.spec.parent.as_deref() else {
        if let Some(message) = rules::explain(None, child_type) {
            findings.push(
                Finding::error(
                    Rule::Nesting,
                    entry.origin.field_at(&["type"], Target::Value),
                    format!("`{}`: {message}", node.name),
                )
                .about(&node.name),
            );
        }
        return;
    };
    let parent_at = || entry.origin.field_at(&["parent"], Target::Value);
    let resolved = index.resolve(parent_name);
    let Some(parent) = index.spec(resolved) else {
        if let Resolved::Missing = resolved {
            let names = index
                .declared
                .nodes
                .iter()
                .map(|entry| entry.node.name.as_str());
            let hint = suggestion(parent_name, names, suggestions_left);
            findings.push(
                Finding::error(
                    Rule::DanglingParent,
                    parent_at(),
                    format!(
                        "parent `{parent_name}` of `{}` is not declared: no Account or AccountGroup has this name{hint}",
                        node.name
                    ),
                )
                .about(&node.name),
            );
        }
        return;
    };
    if let Some(message) = rules::explain(Some((parent.node_type, parent.reseller)), child_type) {
        findings.push(
            Finding::error(
                Rule::Nesting,
                parent_at(),
                format!(
                    "`{}` cannot be placed under `{parent_name}`: {message}",
                    node.name
                ),
            )
            .about(&node.name),
        );
    }
}

fn check_plan(
    entry: &DeclaredNode,
    index: &Index<'_>,
    suggestions_left: &Cell<usize>,
    findings: &mut Vec<Finding>,
) {
    let node = &entry.node;
    let Some(plan) = node.spec.plan.as_deref() else {
        return;
    };
    let plan_at = || entry.origin.field_at(&["plan"], Target::Value);
    if !rules::may_carry_plan(node.spec.node_type) {
        findings.push(
            Finding::error(
                Rule::PlanOnPartnerGroup,
                plan_at(),
                format!(
                    "partner group `{}` cannot carry a plan: plans bill accounts and customer groups; put the plan on the partners",
                    node.name
                ),
            )
            .about(&node.name),
        );
    }
    if !index.has_plan(plan) {
        let hint = suggestion(plan, index.plans.keys().copied(), suggestions_left);
        findings.push(
            Finding::error(
                Rule::DanglingPlan,
                plan_at(),
                format!(
                    "plan `{plan}` of `{}` is not declared: no ServicePlan has this name{hint}",
                    node.name
                ),
            )
            .about(&node.name),
        );
    }
}

/// Account fields that only mean something on a customer.
fn check_account_fields(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    let spec = &entry.node.spec;
    if matches!(spec.node_type, NodeType::Customer) || spec.node_type.is_group() {
        return;
    }
    let mut warn = |field: &str| {
        findings.push(
            Finding::warning(
                Rule::IneffectiveField,
                entry.origin.field_at(&[field], Target::Key),
                format!(
                    "`{field}` has no effect on {} `{}`: it applies to customers",
                    spec.node_type, entry.node.name
                ),
            )
            .about(&entry.node.name),
        );
    };
    if spec.customer_type.is_some() {
        warn("customerType");
    }
    if spec.reseller {
        warn("reseller");
    }
}

/// `; did you mean `x`?` for the most similar candidate, if one is close enough.
fn suggestion<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
    left: &Cell<usize>,
) -> String {
    if left.get() == 0 {
        return String::new();
    }
    left.set(left.get() - 1);
    crate::manifest::suggest::did_you_mean(name, candidates)
}

/// Finds parent cycles (through declared nodes, and through live nodes where a
/// declared node hangs under one) and reports each once.
fn cycles(declared: &Declared, index: &Index<'_>, findings: &mut Vec<Finding>) -> Vec<bool> {
    let count = declared.nodes.len();
    let links: Vec<Option<usize>> = declared
        .nodes
        .iter()
        .map(|entry| declared_parent(entry, index))
        .collect();
    // 0 = not visited, 1 = on the current walk, 2 = done.
    let mut state = vec![0u8; count];
    let mut on_cycle = vec![false; count];
    let mut walk = Vec::new();
    for start in 0..count {
        walk.clear();
        let mut current = Some(start);
        while let Some(node) = current {
            match state[node] {
                2 => break,
                1 => {
                    let begin = walk.iter().position(|&n| n == node).unwrap_or(0);
                    let members = &walk[begin..];
                    for &member in members {
                        on_cycle[member] = true;
                    }
                    findings.push(cycle_finding(declared, members));
                    break;
                }
                _ => {
                    state[node] = 1;
                    walk.push(node);
                    current = links[node];
                }
            }
        }
        for &node in &walk {
            state[node] = 2;
        }
    }
    on_cycle
}

/// The declared node a declared node's parent chain reaches first (following live
/// nodes in between), if any.
fn declared_parent(entry: &DeclaredNode, index: &Index<'_>) -> Option<usize> {
    let mut name = entry.node.spec.parent.as_deref()?;
    let limit = index.external.map_or(0, |external| external.nodes.len()) + 1;
    for _ in 0..limit {
        match index.resolve(name) {
            Resolved::Declared(position) => return Some(position),
            Resolved::External(node) => name = node.spec.parent.as_deref()?,
            Resolved::Unparsed | Resolved::Missing => return None,
        }
    }
    None
}

fn cycle_finding(declared: &Declared, members: &[usize]) -> Finding {
    // Start the story at the smallest name so the message is stable across runs.
    let start = members
        .iter()
        .enumerate()
        .min_by(|a, b| {
            declared.nodes[*a.1]
                .node
                .name
                .cmp(&declared.nodes[*b.1].node.name)
        })
        .map_or(0, |(position, _)| position);
    let names: Vec<&str> = members[start..]
        .iter()
        .chain(&members[..start])
        .map(|&member| declared.nodes[member].node.name.as_str())
        .collect();
    let first = &declared.nodes[members[start]];
    // Each node's parent is the next one in the walk, so the story runs child→parent.
    let story = names
        .iter()
        .chain(names.first())
        .copied()
        .collect::<Vec<_>>()
        .join(" → ");
    Finding::error(
        Rule::ParentCycle,
        first.origin.field_at(&["parent"], Target::Value),
        format!("parent cycle: {story} (each arrow points to the parent); change one `parent` to break it"),
    )
    .about(&first.node.name)
}
