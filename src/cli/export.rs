//! `canopy export`: the live state as manifests, one file per root plus one for plans.
//!
//! By default only the objects a source manages are exported, so that planning the
//! export against the same database shows no changes; `--all` exports unmanaged objects
//! too, annotated for adoption; `--only NAME` narrows the export to one subtree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

use super::{GlobalArgs, Outcome, progress};
use crate::manifest;
use crate::model::{Hierarchy, Node, ServicePlan, Text};
use crate::store;

pub fn export(
    global: &GlobalArgs,
    out: Option<&Path>,
    source: &str,
    all: bool,
    only: Option<&str>,
) -> anyhow::Result<Outcome> {
    let mut store = store::open_existing(&global.database_url)?;
    let snapshot = {
        let _progress = progress::spinner("reading the live state");
        store.snapshot()?
    };
    let mut selected = select(snapshot.hierarchy, source, all);
    if let Some(name) = only {
        selected = subtree(selected, name)?;
    }
    tracing::info!(
        nodes = selected.nodes.len(),
        plans = selected.plans.len(),
        "export: selected the objects to write"
    );
    match out {
        None => {
            let yaml = {
                let _progress = progress::spinner("exporting");
                manifest::to_yaml(&selected)
            };
            print!("{yaml}");
        }
        Some(dir) => write_files(dir, selected)?,
    }
    Ok(Outcome::Success)
}

/// The objects to export: managed by `source`, or every object with `all` (unmanaged
/// ones marked for adoption).
fn select(live: Hierarchy, source: &str, all: bool) -> Hierarchy {
    let keep = |managed_by: &Option<Text>| all || managed_by.as_deref() == Some(source);
    let nodes: Vec<Node> = live
        .nodes
        .into_iter()
        .filter(|node| keep(&node.live.managed_by))
        .map(|mut node| {
            node.adopt = node.live.managed_by.is_none();
            node
        })
        .collect();
    let plans: Vec<ServicePlan> = live
        .plans
        .into_iter()
        .filter(|plan| keep(&plan.live.managed_by))
        .map(|mut plan| {
            plan.adopt = plan.live.managed_by.is_none();
            plan
        })
        .collect();
    Hierarchy::new(nodes, plans)
}

/// The subtree rooted at `name` and the plans its objects use.
fn subtree(selected: Hierarchy, name: &str) -> anyhow::Result<Hierarchy> {
    anyhow::ensure!(
        selected.node(name).is_some(),
        "`{name}` is not an exported account or group (see `canopy get -o name`; \
         unmanaged objects need --all)"
    );
    let parents = crate::model::effective::parent_indices(&selected);
    let mut inside = vec![false; selected.nodes.len()];
    for index in crate::model::effective::top_down_order(&parents) {
        inside[index] = selected.nodes[index].name == name
            || parents[index].is_some_and(|parent| inside[parent]);
    }
    let nodes: Vec<Node> = selected
        .nodes
        .into_iter()
        .zip(inside)
        .filter_map(|(node, inside)| inside.then_some(node))
        .collect();
    let used: BTreeSet<&str> = nodes
        .iter()
        .filter_map(|node| node.spec.plan.as_deref())
        .collect();
    let plans = selected
        .plans
        .into_iter()
        .filter(|plan| used.contains(&plan.name.as_str()))
        .collect();
    Ok(Hierarchy::new(nodes, plans))
}

/// Writes `plans.yaml` and one file per exported root (a node whose parent is not
/// exported), holding that root's exported subtree.
fn write_files(dir: &Path, selected: Hierarchy) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let roots = root_of_each(&selected);
    let mut files: BTreeMap<&str, Vec<Node>> = BTreeMap::new();
    for (node, root) in selected.nodes.iter().zip(&roots) {
        files.entry(root.as_str()).or_default().push(node.clone());
    }
    if !selected.plans.is_empty() {
        let plans = Hierarchy::new(Vec::new(), selected.plans.clone());
        write(&dir.join("plans.yaml"), &manifest::to_yaml(&plans))?;
    }
    let progress = progress::bar("exporting accounts and groups", selected.nodes.len());
    for (root, nodes) in files {
        progress.advance(nodes.len());
        let tree = Hierarchy::new(nodes, Vec::new());
        write(&dir.join(format!("{root}.yaml")), &manifest::to_yaml(&tree))?;
    }
    Ok(())
}

/// For each node, the name of its top-most exported ancestor (itself for a root).
fn root_of_each(hierarchy: &Hierarchy) -> Vec<String> {
    let parents = crate::model::effective::parent_indices(hierarchy);
    let order = crate::model::effective::top_down_order(&parents);
    let mut roots = vec![String::new(); hierarchy.nodes.len()];
    for index in order {
        roots[index] = match parents[index] {
            Some(parent) if !roots[parent].is_empty() => roots[parent].clone(),
            _ => hierarchy.nodes[index].name.to_string(),
        };
    }
    roots
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
