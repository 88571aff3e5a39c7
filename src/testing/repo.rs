//! A hierarchy written out as a realistic GitOps repository of manifests: what the
//! benchmarks load, and what tests use to check that loading gives the hierarchy back.
//!
//! ```text
//! DIR/plans.yaml                       every ServicePlan
//! DIR/<root>/<root>.yaml               the root and what sits above any partner
//!                                      (subsidiary, partner groups)
//! DIR/<root>/<partner>.yaml            one top-level partner with its whole subtree
//!                                      (about 100 accounts with the generator's shape)
//! DIR/<root>/<customer>.users.csv      the users of every 20th customer, by `usersFrom`
//! ```
//!
//! Documents come from [`manifest::to_yaml`]; the customers whose users move to a CSV
//! are written without inline users and get a `usersFrom:` line added to their spec.
//! The CSV keeps the users' order, so loading the repository yields the same hierarchy.
//!
//! [`write_with`] writes the same hierarchy in other [`Layout`]s, shaped unlike the
//! generator's repository: every document as one compact flow-style line, one account
//! per file, or a few large files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::manifest;
use crate::model::effective::{parent_indices, top_down_order};
use crate::model::{Hierarchy, Node, NodeType, User};

/// One customer in this many (that has users) declares its users in a CSV file.
pub const CSV_EVERY: usize = 20;

/// The header row `usersFrom` files must start with (docs/manifests.md).
const CSV_HEADER: [&str; 5] = ["email", "name", "role", "language", "timezone"];

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} exists and is not empty: refusing to mix a new repository with old files")]
    NotEmpty { path: String },
    #[error("{path}: cannot write users csv: {source}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("{path}: cannot rewrite a document in flow style: {message}")]
    Flow { path: String, message: String },
    #[error("{file}: no Account document for `{account}` to attach usersFrom to")]
    UsersFromTarget { file: String, account: String },
}

/// What [`write`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoSummary {
    /// Manifest files (`*.yaml`).
    pub manifest_files: usize,
    pub csv_files: usize,
    pub manifest_bytes: u64,
    pub csv_bytes: u64,
    pub accounts: usize,
    /// Accounts and groups.
    pub nodes: usize,
    pub users: usize,
    /// Users declared through `usersFrom` rather than inline.
    pub csv_users: usize,
}

/// How a repository's nodes are spread over files and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A file per top-level partner's subtree, block style (the module's picture).
    Tree,
    /// The files of [`Layout::Tree`], every document one compact flow-style line
    /// (`{apiVersion: …, kind: Account, metadata: {name: …}, spec: {…}}`).
    Flow,
    /// One file per account or group: `<root>/<partner>/<name>.yaml`.
    PerNode,
    /// Files of this many nodes each, in top-down order: `chunk-0000.yaml`, ….
    Chunks(usize),
}

/// One manifest file to write: which nodes, and which of them take users from a CSV.
struct FilePlan {
    path: PathBuf,
    nodes: Vec<usize>,
}

/// Writes `hierarchy` as manifests under `directory` (created when missing; it must
/// be empty, so that no stale file joins the repository).
pub fn write(hierarchy: &Hierarchy, directory: &Path) -> Result<RepoSummary, RepoError> {
    write_with(hierarchy, directory, Layout::Tree)
}

/// [`write`] in another [`Layout`]; every layout loads back to `hierarchy`.
pub fn write_with(
    hierarchy: &Hierarchy,
    directory: &Path,
    layout: Layout,
) -> Result<RepoSummary, RepoError> {
    prepare_directory(directory)?;
    let files = file_plans(hierarchy, directory, layout);
    let flow = layout == Layout::Flow;
    let csv_accounts = csv_accounts(hierarchy);
    let plans = Hierarchy {
        nodes: Vec::new(),
        plans: hierarchy.plans.clone(),
        archived: Vec::new(),
    };
    let plans_path = directory.join("plans.yaml");
    let mut plans_text = manifest::to_yaml(&plans);
    if flow {
        plans_text = to_flow(&plans_text, &plans_path)?;
    }
    write_file(&plans_path, plans_text.as_bytes())?;
    let written: Vec<FileSummary> = files
        .par_iter()
        .map(|file| write_manifest(hierarchy, file, &csv_accounts, flow))
        .collect::<Result<_, _>>()?;
    let mut summary = RepoSummary {
        manifest_files: 1 + written.len(),
        manifest_bytes: plans_text.len() as u64,
        accounts: hierarchy.account_count(),
        nodes: hierarchy.nodes.len(),
        users: hierarchy
            .nodes
            .iter()
            .map(|node| node.spec.users.len())
            .sum(),
        ..RepoSummary::default()
    };
    for file in written {
        summary.manifest_bytes += file.manifest_bytes;
        summary.csv_files += file.csv_files;
        summary.csv_bytes += file.csv_bytes;
        summary.csv_users += file.csv_users;
    }
    Ok(summary)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn prepare_directory(directory: &Path) -> Result<(), RepoError> {
    std::fs::create_dir_all(directory).map_err(io_error(directory))?;
    let mut entries = std::fs::read_dir(directory).map_err(io_error(directory))?;
    if entries.next().is_some() {
        return Err(RepoError::NotEmpty {
            path: directory.display().to_string(),
        });
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    std::fs::write(path, bytes).map_err(io_error(path))
}

/// Groups nodes into files. [`Layout::Tree`] and [`Layout::Flow`]: each top-level
/// partner's subtree together, everything above the partners in its root's file,
/// files in a folder per root. [`Layout::PerNode`]: a file per node, in a folder per
/// root and one per top-level partner under it. [`Layout::Chunks`]: consecutive
/// nodes in top-down order.
fn file_plans(hierarchy: &Hierarchy, directory: &Path, layout: Layout) -> Vec<FilePlan> {
    let parents = parent_indices(hierarchy);
    let order = top_down_order(&parents);
    if let Layout::Chunks(size) = layout {
        return order
            .chunks(size.max(1))
            .enumerate()
            .map(|(number, nodes)| FilePlan {
                path: directory.join(format!("chunk-{number:04}.yaml")),
                nodes: nodes.to_vec(),
            })
            .collect();
    }
    let mut root = vec![0; hierarchy.nodes.len()];
    let mut partner: Vec<Option<usize>> = vec![None; hierarchy.nodes.len()];
    for &index in &order {
        let parent = parents[index];
        root[index] = parent.map_or(index, |parent| root[parent]);
        let inherited = parent.and_then(|parent| partner[parent]);
        let is_partner = hierarchy.nodes[index].spec.node_type == NodeType::Partner;
        partner[index] = inherited.or(is_partner.then_some(index));
    }
    let mut files: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for &index in &order {
        let folder = directory.join(&hierarchy.nodes[root[index]].name);
        let path = if layout == Layout::PerNode {
            let folder = match partner[index] {
                Some(partner) => folder.join(&hierarchy.nodes[partner].name),
                None => folder,
            };
            folder.join(format!("{}.yaml", hierarchy.nodes[index].name))
        } else {
            let stem = &hierarchy.nodes[partner[index].unwrap_or(root[index])].name;
            folder.join(format!("{stem}.yaml"))
        };
        files.entry(path).or_default().push(index);
    }
    files
        .into_iter()
        .map(|(path, nodes)| FilePlan { path, nodes })
        .collect()
}

/// The customers (with users) whose users go to a CSV file: every [`CSV_EVERY`]th in
/// name order, so the choice is the same for the same hierarchy.
fn csv_accounts(hierarchy: &Hierarchy) -> Vec<bool> {
    let mut seen = 0;
    hierarchy
        .nodes
        .iter()
        .map(|node| {
            let candidate =
                node.spec.node_type == NodeType::Customer && !node.spec.users.is_empty();
            if !candidate {
                return false;
            }
            seen += 1;
            seen % CSV_EVERY == 1
        })
        .collect()
}

#[derive(Default)]
struct FileSummary {
    manifest_bytes: u64,
    csv_files: usize,
    csv_bytes: u64,
    csv_users: usize,
}

fn write_manifest(
    hierarchy: &Hierarchy,
    file: &FilePlan,
    csv_accounts: &[bool],
    flow: bool,
) -> Result<FileSummary, RepoError> {
    let folder = file.path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(io_error(folder))?;
    let mut summary = FileSummary::default();
    let mut users_from = BTreeMap::new();
    let mut nodes: Vec<Node> = Vec::with_capacity(file.nodes.len());
    for &index in &file.nodes {
        let mut node = hierarchy.nodes[index].clone();
        if csv_accounts[index] {
            let csv_name = format!("{}.users.csv", node.name);
            let users = std::mem::take(&mut node.spec.users);
            summary.csv_bytes += write_users_csv(&folder.join(&csv_name), &users)?;
            summary.csv_files += 1;
            summary.csv_users += users.len();
            users_from.insert(node.name.to_string(), csv_name);
        }
        nodes.push(node);
    }
    let yaml = manifest::to_yaml(&Hierarchy::new(nodes, Vec::new()));
    let mut yaml = attach_users_from(&yaml, &users_from, &file.path)?;
    if flow {
        yaml = to_flow(&yaml, &file.path)?;
    }
    write_file(&file.path, yaml.as_bytes())?;
    summary.manifest_bytes = yaml.len() as u64;
    Ok(summary)
}

fn write_users_csv(path: &Path, users: &[User]) -> Result<u64, RepoError> {
    let csv_error = |source| RepoError::Csv {
        path: path.display().to_string(),
        source,
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(csv_error)?;
    for user in users {
        writer
            .write_record([
                &*user.email,
                &*user.name,
                user.role.as_str(),
                user.language.as_deref().unwrap_or(""),
                user.timezone.as_deref().unwrap_or(""),
            ])
            .map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| io_error(path)(error.into_error()))?;
    write_file(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Adds `usersFrom: FILE` to the spec of each named account's document. `to_yaml`
/// writes `spec` as the last top-level key of a document, indented by two spaces;
/// a document where that does not hold is an error rather than a silently wrong repo.
fn attach_users_from(
    yaml: &str,
    users_from: &BTreeMap<String, String>,
    path: &Path,
) -> Result<String, RepoError> {
    if users_from.is_empty() {
        return Ok(yaml.to_string());
    }
    let mut out = String::with_capacity(yaml.len() + users_from.len() * 40);
    let mut attached = 0;
    for body in documents(yaml) {
        out.push_str("---\n");
        out.push_str(body);
        let target = document_name(body).and_then(|name| users_from.get(name));
        if let Some(csv_name) = target
            && last_top_level_key(body) == Some("spec:")
        {
            out.push_str(&format!("  usersFrom: {csv_name}\n"));
            attached += 1;
        }
    }
    if attached != users_from.len() {
        let missing = users_from
            .keys()
            .find(|name| !out.contains(&format!("\n  name: {name}\n")))
            .cloned()
            .unwrap_or_default();
        return Err(RepoError::UsersFromTarget {
            file: path.display().to_string(),
            account: missing,
        });
    }
    Ok(out)
}

/// Every document of `yaml` rewritten as one compact flow-style line after its `---`.
fn to_flow(yaml: &str, path: &Path) -> Result<String, RepoError> {
    let mut out = String::with_capacity(yaml.len());
    for document in serde_yaml::Deserializer::from_str(yaml) {
        let value =
            <serde_json::Value as serde::Deserialize>::deserialize(document).map_err(|error| {
                RepoError::Flow {
                    path: path.display().to_string(),
                    message: error.to_string(),
                }
            })?;
        out.push_str("---\n");
        push_flow(&mut out, &value);
        out.push('\n');
    }
    Ok(out)
}

/// `value` in flow style: plain scalars where YAML reads them back as the same
/// string, JSON's double quotes elsewhere.
fn push_flow(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => push_flow_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                push_flow(out, item);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (position, (key, item)) in entries.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                push_flow_string(out, key);
                out.push_str(": ");
                push_flow(out, item);
            }
            out.push('}');
        }
    }
}

fn push_flow_string(out: &mut String, text: &str) {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic())
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '@' | '/' | '-'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        out.push_str(text);
    } else {
        out.push_str(&serde_json::Value::from(text).to_string());
    }
}

/// The documents of a multi-document text, each without its `---` line.
fn documents(yaml: &str) -> impl Iterator<Item = &str> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in yaml.split_inclusive('\n') {
        if line.trim_end() == "---" {
            starts.push(offset);
        }
        offset += line.len();
    }
    let ends: Vec<usize> = starts.iter().skip(1).copied().chain([yaml.len()]).collect();
    starts.into_iter().zip(ends).map(move |(start, end)| {
        let body = &yaml[start..end];
        body.split_once('\n').map_or("", |(_, rest)| rest)
    })
}

/// `metadata.name` of a document as `to_yaml` writes it (block style, unquoted for
/// the DNS-label names the generator makes).
fn document_name(body: &str) -> Option<&str> {
    let metadata = body.find("\nmetadata:\n")?;
    body[metadata..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("  "))
        .find_map(|line| line.strip_prefix("  name: "))
}

fn last_top_level_key(body: &str) -> Option<&str> {
    body.lines()
        .rev()
        .find(|line| !line.starts_with(' ') && !line.starts_with('-') && !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_repository_loads_back_to_the_same_hierarchy() {
        let hierarchy = crate::generate::hierarchy(1_500, 3);
        let directory = tempfile::tempdir().expect("a temporary directory");
        let summary = write(&hierarchy, directory.path()).expect("write the repository");
        assert!(summary.csv_files > 0, "{summary:?}");
        assert!(summary.manifest_files > 10, "{summary:?}");
        let inputs = vec![directory.path().display().to_string()];
        let loaded = manifest::load(&inputs, None).expect("the repository is valid");
        assert_eq!(loaded.hierarchy, hierarchy);
    }

    #[test]
    fn a_changed_hierarchy_is_written_just_as_well() {
        let base = crate::generate::hierarchy(800, 5);
        let changed = crate::generate::mutate(&base, 5, 30);
        let directory = tempfile::tempdir().expect("a temporary directory");
        write(&changed, directory.path()).expect("write the repository");
        let inputs = vec![directory.path().display().to_string()];
        let loaded = manifest::load(&inputs, None).expect("the repository is valid");
        assert_eq!(loaded.hierarchy, changed);
    }

    #[test]
    fn every_layout_loads_back_to_the_same_hierarchy() {
        let hierarchy = crate::generate::hierarchy(1_200, 4);
        let tree = tempfile::tempdir().expect("a temporary directory");
        let tree_files = write(&hierarchy, tree.path())
            .expect("write the repository")
            .manifest_files;
        for layout in [Layout::Flow, Layout::PerNode, Layout::Chunks(500)] {
            let directory = tempfile::tempdir().expect("a temporary directory");
            let summary =
                write_with(&hierarchy, directory.path(), layout).expect("write the repository");
            assert!(summary.csv_files > 0, "{layout:?}: {summary:?}");
            let expected_files = match layout {
                Layout::PerNode => hierarchy.nodes.len() + 1,
                Layout::Chunks(size) => hierarchy.nodes.len().div_ceil(size) + 1,
                Layout::Tree | Layout::Flow => tree_files,
            };
            assert_eq!(summary.manifest_files, expected_files, "{layout:?}");
            let inputs = vec![directory.path().display().to_string()];
            let loaded = manifest::load(&inputs, None).expect("the repository is valid");
            assert_eq!(loaded.hierarchy, hierarchy, "{layout:?}");
        }
    }

    #[test]
    fn flow_documents_are_single_lines_the_fast_reader_takes() {
        let hierarchy = crate::generate::hierarchy(300, 2);
        let directory = tempfile::tempdir().expect("a temporary directory");
        write_with(&hierarchy, directory.path(), Layout::Flow).expect("write the repository");
        let mut folders = vec![directory.path().to_path_buf()];
        let mut documents = 0;
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("read the folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                if path.extension().is_none_or(|extension| extension != "yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read");
                for chunk in manifest::parse::split_documents(&text) {
                    documents += 1;
                    let body = chunk.text.trim_start_matches("---\n");
                    assert_eq!(body.lines().count(), 1, "{}", chunk.text);
                    assert!(
                        manifest::parse::read_by_subset(chunk.text),
                        "{}",
                        chunk.text
                    );
                }
            }
        }
        assert!(documents > hierarchy.nodes.len(), "{documents} documents");
    }

    #[test]
    fn writing_into_a_used_directory_is_refused() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(directory.path().join("old.yaml"), "").expect("write");
        let hierarchy = crate::generate::hierarchy(50, 1);
        assert!(matches!(
            write(&hierarchy, directory.path()),
            Err(RepoError::NotEmpty { .. })
        ));
    }
}
