//! What `canopy get` prints: the live objects in tree order (every parent before its
//! children, siblings by name, service plans last), as a tree, a table, or the JSON /
//! YAML documented in docs/get-format.md.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::manifest;
use crate::model::{Effective, Hierarchy, Kind, Node, ServicePlan, natural};
use crate::store::usage::{UsageReport, UsageStatus};

/// One object of `get -o json|yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetObject {
    pub name: String,
    pub kind: Kind,
    /// `spec.type` of accounts and groups; the billing of a service plan.
    #[serde(rename = "type")]
    pub object_type: String,
    pub display_name: Option<String>,
    pub parent: Option<String>,
    /// The object's own flag (`null` for service plans).
    pub active: Option<bool>,
    /// Whether it and every ancestor are active (`null` for service plans).
    pub effective_active: Option<bool>,
    /// `null` for groups, plans, and accounts still pending a number.
    pub account_number: Option<i64>,
    pub plan: Option<String>,
    /// The source that manages it; `null` is unmanaged.
    pub managed_by: Option<String>,
    pub users: usize,
    /// The account group it is in: its parent, when that is a group.
    pub group: Option<String>,
    /// The declared spec as a manifest writes it: users, services, settings, locked
    /// settings, address, contact...
    pub spec: Option<serde_json::Value>,
    /// The values after inheritance: activation, services, settings, locked settings
    /// (`null` for service plans).
    pub effective: Option<Effective>,
    /// Usage of the latest period against the plan's limits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<UsageEntry>,
    /// Nesting depth in the printed tree (not serialised).
    #[serde(skip)]
    pub depth: usize,
}

/// One metric of an object's usage.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageEntry {
    pub period: String,
    pub metric: String,
    pub amount: f64,
    pub limit: Option<u64>,
    pub status: UsageStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("no account, group or service plan named `{0}` in the live state")]
    UnknownName(String),
}

fn node_object(
    hierarchy: &Hierarchy,
    node: &Node,
    depth: usize,
    usage: Vec<UsageEntry>,
) -> GetObject {
    let kind = node.spec.node_type.kind();
    let group = node
        .spec
        .parent
        .as_deref()
        .and_then(|parent| hierarchy.node(parent))
        .filter(|parent| parent.spec.node_type.is_group())
        .map(|parent| parent.name.to_string());
    GetObject {
        name: node.name.to_string(),
        kind,
        object_type: node.spec.node_type.spec_type().to_string(),
        display_name: Some(node.spec.display_name.to_string()),
        parent: node.spec.parent.as_deref().map(str::to_string),
        active: Some(node.spec.active),
        effective_active: Some(
            node.effective
                .as_ref()
                .map_or(node.spec.active, |effective| effective.active),
        ),
        account_number: node.live.account_number,
        plan: node.spec.plan.as_deref().map(str::to_string),
        managed_by: node.live.managed_by.as_deref().map(str::to_string),
        users: node.spec.users.len(),
        group,
        spec: manifest::node_spec_value(node),
        effective: node.effective.clone(),
        usage,
        depth,
    }
}

/// The objects to print: everything, or the subtree (or plan) called `name`.
pub fn objects(
    hierarchy: &Hierarchy,
    usage: &UsageReport,
    name: Option<&str>,
) -> Result<Vec<GetObject>, GetError> {
    let mut usage_by_name: BTreeMap<&str, Vec<UsageEntry>> = BTreeMap::new();
    for line in &usage.lines {
        usage_by_name
            .entry(line.name.as_str())
            .or_default()
            .push(UsageEntry {
                period: usage.period.clone().unwrap_or_default(),
                metric: line.metric.clone(),
                amount: line.amount,
                limit: line.limit,
                status: line.status,
            });
    }
    let mut children: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    let mut roots = Vec::new();
    for node in &hierarchy.nodes {
        match node.spec.parent.as_deref() {
            Some(parent) if hierarchy.node(parent).is_some() => {
                children.entry(parent).or_default().push(node)
            }
            _ => roots.push(node),
        }
    }
    // Natural order (`shop-2` before `shop-10`), the order `canopy export` writes too.
    let by_name = |a: &&Node, b: &&Node| natural::compare(&a.name, &b.name);
    roots.sort_by(by_name);
    for kids in children.values_mut() {
        kids.sort_by(by_name);
    }
    let mut start = roots;
    let mut include_plans = true;
    if let Some(name) = name {
        include_plans = false;
        start = match hierarchy.node(name) {
            Some(node) => vec![node],
            None if hierarchy.plan(name).is_some() => Vec::new(),
            None => return Err(GetError::UnknownName(name.to_string())),
        };
    }
    let mut result = Vec::new();
    // Depth-first, iterative: deep trees must not overflow the stack.
    let mut stack: Vec<(&Node, usize)> = start.into_iter().rev().map(|node| (node, 0)).collect();
    while let Some((node, depth)) = stack.pop() {
        let usage = usage_by_name.remove(node.name.as_str()).unwrap_or_default();
        result.push(node_object(hierarchy, node, depth, usage));
        if let Some(kids) = children.get(node.name.as_str()) {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    let mut plans: Vec<&ServicePlan> = hierarchy.plans.iter().collect();
    plans.sort_by(|a, b| natural::compare(&a.name, &b.name));
    for plan in plans {
        if include_plans || name == Some(plan.name.as_str()) {
            result.push(GetObject {
                name: plan.name.clone(),
                kind: Kind::ServicePlan,
                object_type: plan.spec.billing.as_str().to_string(),
                display_name: plan.spec.display_name.clone(),
                parent: None,
                active: None,
                effective_active: None,
                account_number: None,
                plan: None,
                managed_by: plan.live.managed_by.as_deref().map(str::to_string),
                users: 0,
                group: None,
                spec: manifest::plan_spec_value(plan),
                effective: None,
                usage: Vec::new(),
                depth: 0,
            });
        }
    }
    Ok(result)
}

pub fn activation(object: &GetObject) -> &'static str {
    match (object.active, object.effective_active) {
        (Some(true), Some(true)) => "active",
        (Some(true), Some(false)) => "inactive (inherited)",
        (Some(false), _) => "inactive",
        _ => "-",
    }
}

fn number(object: &GetObject) -> String {
    match (object.kind, object.account_number) {
        (Kind::Account, Some(number)) => format!("#{number}"),
        (Kind::Account, None) => "Pending".to_string(),
        _ => "-".to_string(),
    }
}

/// The worst usage status of an object, when it deserves attention.
fn usage_flag(object: &GetObject) -> Option<UsageStatus> {
    let statuses = object.usage.iter().map(|entry| entry.status);
    if statuses
        .clone()
        .any(|status| status == UsageStatus::Exceeding)
    {
        Some(UsageStatus::Exceeding)
    } else if statuses
        .clone()
        .any(|status| status == UsageStatus::Approaching)
    {
        Some(UsageStatus::Approaching)
    } else {
        None
    }
}

/// `get -o tree`: one line per object, indented under its parent.
pub fn tree(objects: &[GetObject]) -> String {
    let mut out = String::new();
    let mut plans_started = false;
    for object in objects {
        if object.kind == Kind::ServicePlan {
            if !plans_started {
                out.push_str("service plans:\n");
                plans_started = true;
            }
            let _ = writeln!(out, "  {} ({})", object.name, object.object_type);
            continue;
        }
        let type_label = match object.kind {
            Kind::AccountGroup => format!("{}-group", object.object_type),
            _ => object.object_type.clone(),
        };
        let _ = write!(
            out,
            "{}{} ({type_label})",
            "  ".repeat(object.depth),
            object.name
        );
        if object.kind == Kind::Account {
            let _ = write!(out, " {}", number(object));
        }
        let _ = write!(out, " {}", activation(object));
        if let Some(plan) = &object.plan {
            let _ = write!(out, " plan={plan}");
        }
        if let Some(flag) = usage_flag(object) {
            let _ = write!(out, " usage={}", flag.as_str());
        }
        if object.managed_by.is_none() {
            out.push_str(" [unmanaged]");
        }
        out.push('\n');
    }
    out
}

/// `get -o table`: aligned columns.
pub fn table(objects: &[GetObject]) -> String {
    columns(objects, false)
}

/// `get -o wide`: the table plus the group, the display name, the number of users and
/// the services disabled after inheritance.
pub fn wide(objects: &[GetObject]) -> String {
    columns(objects, true)
}

fn columns(objects: &[GetObject], wide: bool) -> String {
    let mut header = vec![
        "NAME",
        "KIND",
        "TYPE",
        "PARENT",
        "NUMBER",
        "ACTIVE",
        "PLAN",
        "MANAGED-BY",
        "USAGE",
    ];
    if wide {
        header.extend(["GROUP", "USERS", "DISABLED-SERVICES", "DISPLAY-NAME"]);
    }
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|object| {
            let mut row = vec![
                object.name.clone(),
                object.kind.as_str().to_string(),
                object.object_type.clone(),
                object.parent.clone().unwrap_or_else(|| "-".into()),
                number(object),
                activation(object).to_string(),
                object.plan.clone().unwrap_or_else(|| "-".into()),
                object.managed_by.clone().unwrap_or_else(|| "-".into()),
                usage_flag(object)
                    .map_or("-", UsageStatus::as_str)
                    .to_string(),
            ];
            if wide {
                row.extend(wide_cells(object));
            }
            row
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(text, "{cell:<width$}  ", width = *width);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

fn wide_cells(object: &GetObject) -> [String; 4] {
    let disabled: Vec<&str> = object
        .effective
        .iter()
        .flat_map(|effective| &effective.values.services)
        .filter(|(_, enabled)| !**enabled)
        .map(|(service, _)| service.as_str())
        .collect();
    let dash = |text: String| if text.is_empty() { "-".into() } else { text };
    [
        object.group.clone().unwrap_or_else(|| "-".into()),
        match object.kind {
            Kind::ServicePlan => "-".into(),
            _ => object.users.to_string(),
        },
        dash(disabled.join(",")),
        dash(object.display_name.clone().unwrap_or_default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Billing, Effective, LiveMeta, NodeSpec, NodeType, PlanSpec, ServicePlan};
    use crate::store::UsageRow;

    fn node(
        name: &str,
        node_type: NodeType,
        parent: Option<&str>,
        number: Option<i64>,
        (active, effective_active): (bool, bool),
    ) -> Node {
        let mut spec = NodeSpec::new(node_type, name.to_uppercase());
        spec.parent = parent.map(Into::into);
        spec.active = active;
        let mut effective = Effective::root(&spec);
        effective.active = effective_active;
        Node {
            name: name.into(),
            spec,
            adopt: false,
            live: LiveMeta {
                account_number: number,
                managed_by: Some("default".into()),
                archived: false,
            },
            effective: Some(effective),
        }
    }

    fn example() -> (Hierarchy, UsageReport) {
        let mut customer = node(
            "acme-eu",
            NodeType::Customer,
            Some("nordic-smb"),
            Some(1002),
            (true, false),
        );
        customer.spec.plan = Some("standard".into());
        let mut group = node(
            "nordic-smb",
            NodeType::CustomerGroup,
            Some("partner-nordic"),
            None,
            (true, false),
        );
        group.spec.plan = Some("standard".into());
        let mut unmanaged = node(
            "zeta",
            NodeType::Customer,
            Some("partner-nordic"),
            None,
            (true, false),
        );
        unmanaged.live.managed_by = None;
        let hierarchy = Hierarchy::new(
            vec![
                node(
                    "acme-sub",
                    NodeType::Subsidiary,
                    None,
                    Some(1000),
                    (true, true),
                ),
                node(
                    "partner-nordic",
                    NodeType::Partner,
                    Some("acme-sub"),
                    Some(1001),
                    (false, false),
                ),
                group,
                customer,
                unmanaged,
            ],
            vec![ServicePlan {
                name: "standard".into(),
                spec: PlanSpec {
                    billing: Billing::Purchased,
                    licenses: None,
                    limits: [("documentsPerMonth".to_string(), 5000)].into(),
                    display_name: None,
                },
                adopt: false,
                live: LiveMeta::default(),
            }],
        );
        let usage = crate::store::usage::report(
            &hierarchy,
            &[UsageRow {
                account: "acme-eu".into(),
                metric: "documentsPerMonth".into(),
                period: "2025-01".into(),
                amount: 4200.0,
            }],
            None,
        );
        (hierarchy, usage)
    }

    #[test]
    fn the_tree_shows_activation_numbers_and_plans() {
        let (hierarchy, usage) = example();
        insta::assert_snapshot!(tree(&objects(&hierarchy, &usage, None).unwrap()));
    }

    #[test]
    fn the_table_has_one_aligned_row_per_object() {
        let (hierarchy, usage) = example();
        insta::assert_snapshot!(table(&objects(&hierarchy, &usage, None).unwrap()));
    }

    #[test]
    fn json_objects_carry_the_documented_fields() {
        let (hierarchy, usage) = example();
        let objects = objects(&hierarchy, &usage, Some("nordic-smb")).unwrap();
        insta::assert_json_snapshot!(objects);
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it() {
        let (hierarchy, usage) = example();
        let error = objects(&hierarchy, &usage, Some("nobody")).unwrap_err();
        assert!(error.to_string().contains("`nobody`"));
    }
}
