//! Mermaid flowcharts: the affected part of the tree before → after a plan (for the
//! pull-request comment), and a [`Flowchart`] builder that `canopy get -o mermaid` uses
//! for the live tree.
//!
//! ```text
//! acme-holding ──> partner-x (↓ deactivated, 240 below)
//!              ──> partner-z (+ created) ──> z-one (+ created)
//!              ──> +12 more
//! nordic-smb   ──> acme-de (→ moved from partner-nordic)   ╌╌ moved from ╌╌ partner-nordic
//! ```
//!
//! Node ids are generated (`n0`, `n1`, …); labels are always quoted and every character
//! outside a small safe set is dropped from user-supplied names, so that no name can
//! end a label, start a new statement or close the surrounding code fence.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use rustc_hash::FxHashMap;

use crate::model::{Hierarchy, natural};
use crate::plan::{Change, Op, Plan};

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Style {
    Unchanged,
    Changed,
    Moved,
    Deactivated,
    Created,
    Deleted,
    /// An effectively inactive account of the live tree.
    Inactive,
    /// A "+N more" placeholder.
    More,
}

impl Style {
    fn class(self) -> Option<&'static str> {
        match self {
            Style::Unchanged => None,
            Style::Changed => Some("changed"),
            Style::Moved => Some("moved"),
            Style::Deactivated => Some("deactivated"),
            Style::Created => Some("created"),
            Style::Deleted => Some("deleted"),
            Style::Inactive => Some("inactive"),
            Style::More => Some("more"),
        }
    }

    fn definition(self) -> &'static str {
        match self {
            Style::Unchanged => "",
            Style::Changed => "fill:#fff8c5,stroke:#9a6700",
            Style::Moved => "fill:#ddf4ff,stroke:#0969da",
            Style::Deactivated | Style::Inactive => {
                "fill:#eaeef2,stroke:#6e7781,color:#57606a,stroke-dasharray:4 3"
            }
            Style::Created => "fill:#dafbe1,stroke:#1a7f37",
            Style::Deleted => "fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4 3",
            Style::More => "fill:#ffffff,stroke:#d0d7de,stroke-dasharray:2 2",
        }
    }
}

/// A top-down flowchart being written: nodes with quoted, sanitised labels, edges and
/// one `classDef` per style used.
#[derive(Debug, Default)]
pub struct Flowchart {
    body: String,
    ids: FxHashMap<String, usize>,
    count: usize,
    classes: BTreeMap<Style, Vec<usize>>,
}

impl Flowchart {
    /// Adds a node for `key` (once; later calls return the same id) with its label.
    pub fn node(&mut self, key: &str, label: &str, style: Style) -> usize {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.count;
        self.count += 1;
        self.ids.insert(key.to_string(), id);
        let _ = writeln!(self.body, "  n{id}[\"{}\"]", label_text(label));
        if style != Style::Unchanged {
            self.classes.entry(style).or_default().push(id);
        }
        id
    }

    /// A solid edge, parent to child.
    pub fn edge(&mut self, from: usize, to: usize) {
        let _ = writeln!(self.body, "  n{from} --> n{to}");
    }

    /// A dotted edge with a fixed caption (for a move: old parent to the moved node).
    pub fn dotted(&mut self, from: usize, to: usize, caption: &str) {
        let _ = writeln!(
            self.body,
            "  n{from} -. \"{}\" .-> n{to}",
            label_text(caption)
        );
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The finished diagram (no code fence).
    pub fn finish(self) -> String {
        let mut out = String::from("flowchart TD\n");
        out.push_str(&self.body);
        for (style, ids) in &self.classes {
            let Some(class) = style.class() else { continue };
            let _ = writeln!(out, "  classDef {class} {}", style.definition());
            let list: Vec<String> = ids.iter().map(|id| format!("n{id}")).collect();
            let _ = writeln!(out, "  class {} {class}", list.join(","));
        }
        out
    }
}

/// Label text safe inside a quoted Mermaid label and a Markdown code fence: letters,
/// digits, spaces and `-._:()+,/` pass, as do the fixed arrows canopy writes; anything
/// else (quotes, backticks, `<`, `>`, `#`, `;`, `|`, brackets, line breaks) becomes `_`.
pub fn label_text(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            'a'..='z' | 'A'..='Z' | '0'..='9' | ' ' | '-' | '.' | '_' | ':' | '(' | ')' => {
                character
            }
            '+' | ',' | '/' | '→' | '↓' | '↑' | '·' | '−' | '~' => character,
            _ => '_',
        })
        .collect()
}

/// The diagram of a plan, with how many changed nodes it shows of how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDiagram {
    pub mermaid: String,
    pub shown: usize,
    pub changed: usize,
}

/// The tree after the plan (deleted nodes still under their live parent), as parent
/// and children maps over names.
struct AfterTree<'a> {
    parent: FxHashMap<&'a str, Option<&'a str>>,
    children: FxHashMap<&'a str, Vec<&'a str>>,
}

impl<'a> AfterTree<'a> {
    fn new(live: &'a Hierarchy, desired: &'a Hierarchy) -> AfterTree<'a> {
        let mut parent: FxHashMap<&str, Option<&str>> = FxHashMap::default();
        for node in live.nodes.iter().chain(&desired.nodes) {
            parent.insert(node.name.as_str(), node.spec.parent.as_deref());
        }
        let mut children: FxHashMap<&str, Vec<&str>> = FxHashMap::default();
        for (&name, &above) in &parent {
            if let Some(above) = above.filter(|above| parent.contains_key(above)) {
                children.entry(above).or_default().push(name);
            }
        }
        for siblings in children.values_mut() {
            siblings.sort_by(|a, b| natural::compare(a, b));
        }
        AfterTree { parent, children }
    }

    fn parent_of(&self, name: &str) -> Option<&'a str> {
        self.parent.get(name).copied().flatten()
    }

    fn children_of(&self, name: &str) -> &[&'a str] {
        self.children.get(name).map_or(&[], Vec::as_slice)
    }
}

/// What happened to each changed node, and the old parent of moved ones.
struct Marks<'a> {
    style: BTreeMap<&'a str, Style>,
    moved_from: BTreeMap<&'a str, Option<&'a str>>,
    cascade: BTreeMap<&'a str, usize>,
    /// The operations on each node, in plan order, once each.
    ops: BTreeMap<&'a str, Vec<Op>>,
    /// Changed nodes in plan order (parents before children).
    order: Vec<&'a str>,
}

fn marks(plan: &Plan) -> Marks<'_> {
    let mut marks = Marks {
        style: BTreeMap::new(),
        moved_from: BTreeMap::new(),
        cascade: BTreeMap::new(),
        ops: BTreeMap::new(),
        order: Vec::new(),
    };
    for change in plan.changes.iter().filter(|change| is_node(change)) {
        let style = match change.op {
            Op::Create => Style::Created,
            Op::Delete => Style::Deleted,
            Op::Deactivate => Style::Deactivated,
            Op::Move | Op::Group | Op::Ungroup => Style::Moved,
            _ => Style::Changed,
        };
        let name = change.name.as_str();
        let ops = marks.ops.entry(name).or_default();
        if !ops.contains(&change.op) {
            ops.push(change.op);
        }
        match marks.style.get_mut(name) {
            Some(existing) => *existing = (*existing).max(style),
            None => {
                marks.style.insert(name, style);
                marks.order.push(name);
            }
        }
        if style == Style::Moved {
            marks.moved_from.insert(name, change.from.as_deref());
        }
        if let Some(cascade) = change
            .cascade
            .as_ref()
            .filter(|_| style == Style::Deactivated)
        {
            marks.cascade.insert(name, cascade.count);
        }
    }
    marks
}

fn is_node(change: &Change) -> bool {
    change.kind != crate::model::Kind::ServicePlan
}

/// The label of a changed node: its name and what happens to it.
fn changed_label(marks: &Marks, name: &str, style: Style) -> String {
    let mut label = name.to_string();
    match style {
        Style::Created => label.push_str(" · + created"),
        Style::Deleted => label.push_str(" · − pruned"),
        Style::Deactivated => {
            label.push_str(" · ↓ deactivated");
            if let Some(&count) = marks.cascade.get(name).filter(|&&count| count > 0) {
                let _ = write!(label, ", {count} below");
            }
        }
        Style::Moved => {
            let from = marks.moved_from.get(name).copied().flatten();
            let _ = write!(label, " · → moved from {}", from.unwrap_or("top level"));
        }
        Style::Changed => {
            let ops = marks.ops.get(name).map(Vec::as_slice).unwrap_or_default();
            let ops: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
            let _ = write!(label, " · ~ {}", ops.join(", "));
        }
        Style::Unchanged | Style::Inactive | Style::More => {}
    }
    label
}

/// The affected part of the tree after the plan: every changed account or group (at
/// most `limit`, in plan order), their ancestors, the old parents of moved ones, and
/// one "+N more" per shown parent for the children left out. `None` when the plan
/// changes no account or group.
pub fn plan_diagram(
    plan: &Plan,
    live: &Hierarchy,
    desired: &Hierarchy,
    limit: usize,
) -> Option<PlanDiagram> {
    let marks = marks(plan);
    if marks.order.is_empty() {
        return None;
    }
    let tree = AfterTree::new(live, desired);
    let chosen: Vec<&str> = marks.order.iter().copied().take(limit).collect();
    let shown = with_ancestors(&marks, &tree, &chosen);
    let mut chart = Flowchart::default();
    draw_tree(&mut chart, &marks, &tree, &shown);
    for &name in &chosen {
        if let Some(Some(from)) = marks.moved_from.get(name) {
            let from_id = draw(&mut chart, &marks, &shown, from);
            let to_id = draw(&mut chart, &marks, &shown, name);
            chart.dotted(from_id, to_id, "moved from");
        }
    }
    Some(PlanDiagram {
        mermaid: chart.finish(),
        shown: chosen.len(),
        changed: marks.order.len(),
    })
}

/// The chosen nodes, the old parents of moved ones, and every ancestor of those.
fn with_ancestors<'a>(
    marks: &Marks<'a>,
    tree: &AfterTree<'a>,
    chosen: &[&'a str],
) -> BTreeSet<&'a str> {
    let mut shown = BTreeSet::new();
    for &name in chosen {
        let old_parent = marks.moved_from.get(name).copied().flatten();
        for start in std::iter::once(name).chain(old_parent) {
            let mut cursor = Some(start);
            while let Some(current) = cursor {
                if !shown.insert(current) {
                    break;
                }
                cursor = tree.parent_of(current);
            }
        }
    }
    shown
}

/// The shown nodes top-down (siblings in natural order), an edge from each parent, and
/// one "+N more" box per parent for the children left out.
fn draw_tree(chart: &mut Flowchart, marks: &Marks, tree: &AfterTree, shown: &BTreeSet<&str>) {
    let mut roots: Vec<&str> = shown
        .iter()
        .copied()
        .filter(|name| tree.parent_of(name).is_none_or(|p| !shown.contains(p)))
        .collect();
    roots.sort_by(|a, b| natural::compare(a, b));
    let mut stack: Vec<&str> = roots.into_iter().rev().collect();
    while let Some(name) = stack.pop() {
        let id = draw(chart, marks, shown, name);
        let children = tree.children_of(name);
        let kept: Vec<&str> = children
            .iter()
            .copied()
            .filter(|child| shown.contains(child))
            .collect();
        for &child in &kept {
            let child_id = draw(chart, marks, shown, child);
            chart.edge(id, child_id);
        }
        let hidden = children.len() - kept.len();
        if hidden > 0 && !kept.is_empty() {
            let key = format!("{name}\u{0}more");
            let more = chart.node(&key, &format!("+{hidden} more"), Style::More);
            chart.edge(id, more);
        }
        stack.extend(kept.into_iter().rev());
    }
}

/// The node of `name` (changed ones labelled with what happens to them).
fn draw(chart: &mut Flowchart, marks: &Marks, shown: &BTreeSet<&str>, name: &str) -> usize {
    debug_assert!(shown.contains(name));
    match marks.style.get(name) {
        Some(&style) => chart.node(name, &changed_label(marks, name, style), style),
        None => chart.node(name, name, Style::Unchanged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_no_character_that_ends_a_label_or_a_statement() {
        let hostile = "a\"] --> x[\"b`</details>|#35;\n%%";
        let label = label_text(hostile);
        for raw in ['"', ']', '[', '`', '<', '>', '|', '#', ';', '\n', '%'] {
            assert!(!label.contains(raw), "{raw:?} survived: {label}");
        }
    }

    #[test]
    fn a_node_is_declared_once_and_styles_are_grouped() {
        let mut chart = Flowchart::default();
        let parent = chart.node("p", "p", Style::Unchanged);
        let child = chart.node("c", "c · + created", Style::Created);
        assert_eq!(chart.node("c", "other", Style::Deleted), child);
        chart.edge(parent, child);
        insta::assert_snapshot!(chart.finish(), @r#"
        flowchart TD
          n0["p"]
          n1["c · + created"]
          n0 --> n1
          classDef created fill:#dafbe1,stroke:#1a7f37
          class n1 created
        "#);
    }
}
