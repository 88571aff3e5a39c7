//! `canopy get -o mermaid|dot`: the live tree (or a subtree, to a depth) as a diagram.
//! One box per account or group, labelled with its name, type and account number;
//! effectively inactive ones are drawn dashed and grey and say `inactive` (their own
//! flag) or `inactive (inherited)` (an ancestor's). Service plans are not drawn.

use std::fmt::Write;

use crate::model::Kind;
use crate::plan::render::mermaid::{Flowchart, Style};

use super::get_output::{GetObject, activation};

/// The label of one object: `name (type, no. N)`, and the activation when inactive.
fn label(object: &GetObject) -> String {
    let mut label = match object.kind {
        Kind::AccountGroup => format!("{} ({}-group)", object.name, object.object_type),
        _ => match object.account_number {
            Some(number) => format!("{} ({}, no. {number})", object.name, object.object_type),
            None => format!("{} ({}, pending)", object.name, object.object_type),
        },
    };
    if object.effective_active == Some(false) {
        let _ = write!(label, " · {}", activation(object));
    }
    label
}

fn nodes(objects: &[GetObject]) -> impl Iterator<Item = &GetObject> {
    objects
        .iter()
        .filter(|object| object.kind != Kind::ServicePlan)
}

fn names(objects: &[GetObject]) -> rustc_hash::FxHashSet<&str> {
    nodes(objects).map(|object| object.name.as_str()).collect()
}

/// A Mermaid `flowchart TD` of the objects (in tree order, as `objects` gives them).
pub fn mermaid(objects: &[GetObject]) -> String {
    let mut chart = Flowchart::default();
    let names = names(objects);
    for object in nodes(objects) {
        let style = if object.effective_active == Some(false) {
            Style::Inactive
        } else {
            Style::Unchanged
        };
        let id = chart.node(&object.name, &label(object), style);
        let parent = object.parent.as_deref();
        if let Some(parent) = parent.filter(|parent| names.contains(parent)) {
            let parent_id = chart.node(parent, parent, Style::Unchanged);
            chart.edge(parent_id, id);
        }
    }
    chart.finish()
}

/// A Graphviz `digraph`, the same boxes and edges.
pub fn dot(objects: &[GetObject]) -> String {
    let mut out = String::from(
        "digraph canopy {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    let names = names(objects);
    for object in nodes(objects) {
        let _ = write!(
            out,
            "  {} [label={}",
            quoted(&object.name),
            quoted(&label(object))
        );
        if object.kind == Kind::AccountGroup {
            out.push_str(", shape=folder");
        }
        if object.effective_active == Some(false) {
            out.push_str(", style=dashed, color=gray50, fontcolor=gray40");
        }
        out.push_str("];\n");
    }
    for object in nodes(objects) {
        if let Some(parent) = object.parent.as_deref().filter(|p| names.contains(p)) {
            let _ = writeln!(out, "  {} -> {};", quoted(parent), quoted(&object.name));
        }
    }
    out.push_str("}\n");
    out
}

/// A DOT string: quotes and backslashes escaped, line breaks dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' | '\\' => {
                out.push('\\');
                out.push(character);
            }
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, parent: Option<&str>, active: bool, effective: bool) -> GetObject {
        GetObject {
            name: name.into(),
            kind: Kind::Account,
            object_type: "customer".into(),
            display_name: None,
            parent: parent.map(str::to_string),
            active: Some(active),
            effective_active: Some(effective),
            account_number: Some(1000),
            plan: None,
            managed_by: None,
            users: 0,
            group: None,
            spec: None,
            effective: None,
            usage: Vec::new(),
            depth: 0,
        }
    }

    fn sample() -> Vec<GetObject> {
        vec![
            object("root", None, true, true),
            object("off", Some("root"), false, false),
            object("below", Some("off"), true, false),
        ]
    }

    #[test]
    fn mermaid_draws_inactive_accounts_dashed() {
        insta::assert_snapshot!(mermaid(&sample()), @r#"
        flowchart TD
          n0["root (customer, no. 1000)"]
          n1["off (customer, no. 1000) · inactive"]
          n0 --> n1
          n2["below (customer, no. 1000) · inactive (inherited)"]
          n1 --> n2
          classDef inactive fill:#eaeef2,stroke:#6e7781,color:#57606a,stroke-dasharray:4 3
          class n1,n2 inactive
        "#);
    }

    #[test]
    fn dot_quotes_every_name() {
        let mut objects = sample();
        objects[0].name = "a\"b\\c".into();
        objects[1].parent = Some("a\"b\\c".into());
        let text = dot(&objects);
        assert!(text.contains(r#""a\"b\\c" -> "off";"#), "{text}");
        assert!(text.contains("style=dashed"), "{text}");
    }
}
