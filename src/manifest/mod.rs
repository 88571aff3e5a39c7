//! Manifests: the resource types, loading files (or cluster objects), validation, and
//! the way back (export to YAML, CRDs, JSON Schema).
//!
//! ```text
//! paths ─ input::expand ─> sources ─(rayon)─ cache ─ parse::parse_file ─> ParsedFile per file
//!                          (hit: decoded, not parsed; see [`cache`])            │
//!            Declared (model nodes + origins) <─ declare / tree ────┘
//!                 │  + users_csv (usersFrom)
//!                 ├─ validate::check (all problems at once) ─> findings
//!                 └─ Hierarchy (normalized desired state)
//! findings ─ locate (only when there are any) ─> Diagnostic { file:line:column, rule }
//! ```
//!
//! [`load`] reads files, [`from_resources`] takes objects from the API server; both
//! return a [`Loaded`] hierarchy or a [`LoadError`] listing every problem. Nothing in
//! here touches a database.

pub mod cache;
mod changed;
mod chunked;
mod declare;
pub mod diagnostic;
mod export;
mod guard;
pub mod input;
mod kept;
mod locate;
pub mod parse;
mod resolve;
mod schema;
mod suggest;
pub mod tree;
pub mod types;
pub mod users_csv;
mod users_file;
mod validate;
mod yaml_error;
mod yaml_subset;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub use cache::ParseCache;
pub use changed::{Changed, load_changed};
pub use declare::DEFAULT_TRIAL_LICENSES;
pub use diagnostic::{Diagnostic, Location, Rule, Severity};
pub use export::{node_spec_value, plan_spec_value, to_yaml};
pub use kept::KeptFiles;
pub use parse::{ParsedFile, Resource, parse_file};
pub use schema::{crds_yaml, json_schema};
pub use tree::AccountTree;
pub use types::{Account, AccountGroup, AccountScope, ServicePlan};
pub use validate::{is_valid_email, is_valid_name};

use crate::model::{Hierarchy, Kind, Node};
use declare::{Declared, ObjectPlace, Origin, Place, UserOrigin};
use diagnostic::{At, Finding, Problem, Target};
use input::Source;
use kept::{FileDeclarations, Found, Keep, Memo};

/// A valid desired state and what was noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub hierarchy: Hierarchy,
    /// Warnings and notes (never errors).
    pub diagnostics: Vec<Diagnostic>,
    /// Manifest files read (standard input counts as one).
    pub files: usize,
    /// YAML documents read, including skipped ones.
    pub documents: usize,
}

/// The manifests are invalid: every error found, plus the warnings and notes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render_error(diagnostics))]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

fn render_error(diagnostics: &[Diagnostic]) -> String {
    let mut text = String::new();
    for diagnostic in diagnostics {
        text.push_str(&diagnostic.to_string());
        text.push('\n');
    }
    text.push_str(&format!(
        "invalid manifests: {}",
        diagnostic::summary(diagnostics)
    ));
    text
}

/// Loads manifests from files, directories (recursively) and `-` (standard input).
///
/// `external` is the live snapshot when planning: a parent or plan that no manifest
/// declares is not dangling when `external` has it, and the nesting rules then use
/// the live node's type. Without it (`canopy validate`) such a reference is an error.
///
/// Files parsed before are taken from the [`ParseCache`] the environment names
/// (`CANOPY_CACHE_DIR`, `CANOPY_CACHE=off`; see [`cache`]).
pub fn load(inputs: &[String], external: Option<&Hierarchy>) -> Result<Loaded, LoadError> {
    load_with_cache(inputs, external, &ParseCache::from_environment())
}

/// [`load`] with an explicit parse cache (or [`ParseCache::disabled`]).
pub fn load_with_cache(
    inputs: &[String],
    external: Option<&Hierarchy>,
    cache: &ParseCache,
) -> Result<Loaded, LoadError> {
    load_reporting(inputs, external, cache, &|| {})
}

/// [`load_with_cache`] calling `file_read` once per file parsed, from the parsing
/// threads: the hook progress displays count with (one call per file, not per object).
pub fn load_reporting(
    inputs: &[String],
    external: Option<&Hierarchy>,
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
) -> Result<Loaded, LoadError> {
    parse_reporting(inputs, cache, file_read).resolve(external)
}

/// The part of [`load_reporting`] that needs no live hierarchy: files read, parsed and
/// declared. A planner runs it while the live state is being read, then
/// [`Parsed::resolve`]s it against that state.
pub fn parse_reporting(
    inputs: &[String],
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
) -> Parsed {
    read_files(inputs, cache, file_read, None, SystemTime::now()).0
}

/// Manifests read and declared, not yet validated: see [`parse_reporting`].
#[derive(Debug)]
pub struct Parsed {
    declared: Declared,
    findings: Vec<Finding>,
    sources: Vec<Source>,
    /// Manifest files read (the first `files` sources; CSV files follow them).
    files: usize,
    documents: usize,
}

impl Parsed {
    /// Validates against `external` (the live hierarchy, or `None`), as [`load`] does.
    pub fn resolve(self, external: Option<&Hierarchy>) -> Result<Loaded, LoadError> {
        finish(
            self.declared,
            self.findings,
            &self.sources,
            external,
            self.files,
            self.documents,
        )
    }
}

/// [`load`] for a process that loads the same inputs again and again: files unchanged
/// since the previous load (by their stamp; see [`KeptFiles`]) are taken from `kept`
/// instead of being read, and `kept` ends up holding exactly this load's files.
pub fn load_kept(
    inputs: &[String],
    external: Option<&Hierarchy>,
    kept: &mut KeptFiles,
) -> Result<Loaded, LoadError> {
    let cache = ParseCache::from_environment();
    load_files(
        inputs,
        external,
        &cache,
        &|| {},
        Some(kept),
        SystemTime::now(),
    )
}

/// The one load: `kept` as in [`load_kept`]; `now` decides which stamps are settled.
fn load_files(
    inputs: &[String],
    external: Option<&Hierarchy>,
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
    mut kept: Option<&mut KeptFiles>,
    now: SystemTime,
) -> Result<Loaded, LoadError> {
    let (parsed, reads) = read_files(inputs, cache, file_read, kept.as_deref_mut(), now);
    let loaded = parsed.resolve(external);
    if let (Some(kept), Some(reads)) = (kept, reads) {
        let (paths, keeps): (Vec<PathBuf>, Vec<_>) = reads.csv_keeps.into_iter().unzip();
        kept.users
            .update(paths.iter().map(PathBuf::as_path).zip(keeps));
        kept.last = loaded.is_ok().then_some(kept::LastLoad {
            files: reads.files,
            csv: reads.csv_named_by,
        });
    }
    loaded
}

/// What a kept load records once it is resolved (see [`read_files`]).
struct KeptReads {
    files: FxHashMap<PathBuf, kept::Names>,
    csv_named_by: FxHashMap<PathBuf, Vec<PathBuf>>,
    csv_keeps: Vec<(PathBuf, Keep<kept::CsvRead>)>,
}

/// Reads, parses and declares every input (`kept` as in [`load_kept`], updated with
/// the manifests read). With `kept`, also returns what the kept state records of this
/// load once it is resolved: the names each file declared and the CSV reads.
fn read_files(
    inputs: &[String],
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
    mut kept: Option<&mut KeptFiles>,
    now: SystemTime,
) -> (Parsed, Option<KeptReads>) {
    let (mut sources, listing) = input::expand(inputs);
    let mut findings = Vec::new();
    for (display, problem) in listing {
        let unreadable = Source {
            display,
            origin: input::Origin::Unreadable,
            root: None,
        };
        let source = push_source(&mut sources, unreadable);
        findings.push(problem.in_source(source));
    }
    read_stdin(&mut sources, &mut findings);
    let manifest_count = sources.len();
    let (documents, mut declared) = match kept.as_deref_mut() {
        None => declare_in_parallel(&sources, cache, file_read, &mut findings),
        Some(kept) => declare_kept_files(&sources, cache, file_read, kept, now, &mut findings),
    };
    let files = kept
        .is_some()
        .then(|| changed::names_by_file(&declared, &sources[..manifest_count]));
    let users = kept.as_deref().map(|kept| &kept.users);
    let csv = read_csv_users(
        &mut declared,
        &mut sources,
        &mut findings,
        cache,
        (users, now),
    );
    let reads = files.map(|files| KeptReads {
        files,
        csv_named_by: changed::csv_named_by(csv.named_by, &sources),
        csv_keeps: csv.keeps,
    });
    let parsed = Parsed {
        declared,
        findings,
        sources,
        files: manifest_count,
        documents,
    };
    (parsed, reads)
}

/// Locates the planner's refusals: each `(name, message)` becomes an error at the place
/// `name` is declared in `inputs` (its `metadata.name`), rule `refused`. The planner
/// works on hierarchies without positions, so the files are read and parsed again
/// here: for the error path only. Standard input (already read) is not; names declared
/// nowhere else are left out.
pub fn locate_refusals(inputs: &[String], refusals: &[(&str, String)]) -> Vec<Diagnostic> {
    let inputs: Vec<String> = inputs
        .iter()
        .filter(|input| input.as_str() != "-")
        .cloned()
        .collect();
    let (sources, _) = input::expand(&inputs);
    let cache = ParseCache::from_environment();
    let mut declared = Declared::default();
    let mut ignored = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        if let Ok(file) = parse_source(source, &cache) {
            declare_file(saturating(index), file, &mut declared, &mut ignored);
        }
    }
    let origins: FxHashMap<&str, &Origin> = declared
        .nodes
        .iter()
        .map(|entry| (entry.node.name.as_str(), &entry.origin))
        .chain(
            declared
                .plans
                .iter()
                .map(|entry| (entry.plan.name.as_str(), &entry.origin)),
        )
        .collect();
    let findings = refusals
        .iter()
        .filter_map(|(name, message)| {
            let origin = origins.get(name)?;
            Some(Finding::error(
                Rule::Refused,
                origin.name_at(),
                message.clone(),
            ))
        })
        .collect();
    resolve::diagnostics(findings, &sources)
}

/// Validates objects read from the Kubernetes API server; locations name the objects.
pub fn from_resources(
    accounts: Vec<Account>,
    groups: Vec<AccountGroup>,
    plans: Vec<ServicePlan>,
) -> Result<Loaded, LoadError> {
    from_resources_against(accounts, groups, plans, None)
}

/// [`from_resources`] against the live hierarchy: as with [`load`], a parent or plan
/// that only the database has (a scope root, say) is not dangling.
pub fn from_resources_against(
    accounts: Vec<Account>,
    groups: Vec<AccountGroup>,
    plans: Vec<ServicePlan>,
    external: Option<&Hierarchy>,
) -> Result<Loaded, LoadError> {
    let mut declared = Declared::default();
    let place = |kind: Kind, name: &Option<String>| {
        Origin::flat(Place::Object(Box::new(ObjectPlace {
            kind,
            name: name.clone().unwrap_or_else(|| "<unnamed>".to_string()),
        })))
    };
    let documents = accounts.len() + groups.len() + plans.len();
    for plan in plans {
        let origin = place(Kind::ServicePlan, &plan.metadata.name);
        declared.plan(plan.metadata, plan.spec, origin);
    }
    for group in groups {
        let origin = place(Kind::AccountGroup, &group.metadata.name);
        declared.group(group.metadata, group.spec, origin);
    }
    for account in accounts {
        let origin = place(Kind::Account, &account.metadata.name);
        if account.spec.users_from.is_some() {
            declared.findings.push(Finding::error(
                Rule::UsersFromInCluster,
                origin.field_at(&["usersFrom"], Target::Key),
                "`usersFrom` reads a file next to a manifest and cannot be used in a cluster resource; list the users in `users`",
            ));
        }
        declared.account(account.metadata, account.spec, origin);
    }
    finish(declared, Vec::new(), &[], external, 0, documents)
}

/// Reads and parses one manifest source (run in parallel).
fn parse_source(source: &Source, cache: &ParseCache) -> Result<ParsedFile, Problem> {
    match &source.origin {
        input::Origin::File(path) => cache.parse_bytes(input::read_bytes(path)?),
        input::Origin::Stdin(Some(text)) => Ok(cache.parse(text)),
        // Its problem is reported already.
        input::Origin::Stdin(None) | input::Origin::Unreadable => Ok(ParsedFile::default()),
    }
}

fn saturating(value: usize) -> u32 {
    input::saturating_u32(value)
}

fn push_source(sources: &mut Vec<Source>, source: Source) -> u32 {
    sources.push(source);
    saturating(sources.len() - 1)
}

/// Reads standard input (if `-` was given) before the parallel parse.
fn read_stdin(sources: &mut [Source], findings: &mut Vec<Finding>) {
    let Some((position, source)) = sources
        .iter_mut()
        .enumerate()
        .find(|(_, source)| matches!(source.origin, input::Origin::Stdin(None)))
    else {
        return;
    };
    match input::read_stdin() {
        Ok(text) => source.origin = input::Origin::Stdin(Some(text.into())),
        Err(problem) => {
            source.origin = input::Origin::Unreadable;
            findings.push(problem.in_source(saturating(position)));
        }
    }
}

/// Declares a parsed file's resources and keeps its problems.
fn declare_file(
    source: u32,
    file: ParsedFile,
    declared: &mut Declared,
    findings: &mut Vec<Finding>,
) {
    findings.extend(file.problems.into_iter().map(|p| p.in_source(source)));
    declared.unparsed.extend(file.unparsed_names);
    for parsed in file.resources {
        let origin = Origin::flat(Place::File {
            source,
            document: parsed.document,
        });
        match parsed.resource {
            Resource::Account(account) => declared.account(account.metadata, account.spec, origin),
            Resource::AccountGroup(group) => declared.group(group.metadata, group.spec, origin),
            Resource::ServicePlan(plan) => declared.plan(plan.metadata, plan.spec, origin),
            Resource::AccountTree(tree) => tree::expand(tree, origin, declared),
        }
    }
}

/// Reads, parses and declares every source, each file on a parsing thread (its parse
/// product is dropped there, so the whole repository is never held twice); the
/// declarations are then appended in source order. Returns the documents read.
fn declare_in_parallel(
    sources: &[Source],
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
    findings: &mut Vec<Finding>,
) -> (usize, Declared) {
    let files: Vec<(Declared, Vec<Finding>, u32)> = sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| {
            let source_index = saturating(index);
            let mut own = Declared::default();
            let mut found = Vec::new();
            let documents = match parse_source(source, cache) {
                Ok(file) => {
                    let documents = file.documents;
                    declare_file(source_index, file, &mut own, &mut found);
                    documents
                }
                Err(problem) => {
                    found.push(problem.in_source(source_index));
                    0
                }
            };
            // Every file's nodes are held until the load ends: no spare room.
            own.nodes.trim();
            file_read();
            (own, found, documents)
        })
        .collect();
    let mut declared = Declared::default();
    let mut documents = 0;
    for (own, mut found, read) in files {
        documents += read as usize;
        findings.append(&mut found);
        declared.append(own);
    }
    (documents, declared)
}

/// [`declare_in_parallel`] for a process that keeps what it read (see
/// [`load_kept`]): unchanged files come from `kept`, which is updated with this load's.
fn declare_kept_files(
    sources: &[Source],
    cache: &ParseCache,
    file_read: &(dyn Fn() + Sync),
    kept: &mut KeptFiles,
    now: SystemTime,
    findings: &mut Vec<Finding>,
) -> (usize, Declared) {
    let memo = &kept.manifests;
    let results: Vec<Found<FileDeclarations, ParsedFile>> = sources
        .par_iter()
        .map(|source| {
            let found = match &source.origin {
                input::Origin::File(path) => memo.find(path, now, |path| {
                    cache.parse_bytes(input::read_bytes(path)?)
                }),
                _ => Found::Read(parse_source(source, cache), None),
            };
            file_read();
            found
        })
        .collect();
    let mut documents = 0;
    let mut declared = Declared::default();
    let mut keeps = Vec::with_capacity(results.len());
    for (source, found) in results.into_iter().enumerate() {
        let source = saturating(source);
        let keep = match found {
            Found::Kept(mut file) => {
                file.in_source(source);
                documents += file.documents as usize;
                declared.nodes.push_chunk(std::mem::take(&mut file.nodes));
                declared.plans.append(&mut file.plans);
                Keep::Same
            }
            Found::Read(Err(problem), _) => {
                findings.push(problem.in_source(source));
                Keep::Nothing
            }
            Found::Read(Ok(file), stamp) => {
                documents += file.documents as usize;
                declare_kept(source, file, stamp, &mut declared, findings)
            }
        };
        keeps.push(keep);
    }
    let files = sources.iter().zip(keeps);
    kept.manifests
        .update(files.filter_map(|(source, keep)| match &source.origin {
            input::Origin::File(path) => Some((path.as_path(), keep)),
            _ => None,
        }));
    (documents, declared)
}

/// Declares a file just read; returns what to keep of it (with a trusted `stamp`,
/// what it declared, when that went without any problem).
fn declare_kept(
    source: u32,
    file: ParsedFile,
    stamp: Option<kept::Stamp>,
    declared: &mut Declared,
    findings: &mut Vec<Finding>,
) -> Keep<FileDeclarations> {
    let clean = file.problems.is_empty() && file.unparsed_names.is_empty();
    let Some(stamp) = stamp.filter(|_| clean) else {
        declare_file(source, file, declared, findings);
        return Keep::Nothing;
    };
    let documents = file.documents;
    let mut own = Declared::default();
    declare_file(source, file, &mut own, findings);
    let keep = if own.findings.is_empty() {
        Keep::New(
            stamp,
            FileDeclarations {
                nodes: own.nodes.iter().cloned().collect(),
                plans: own.plans.clone(),
                documents,
            },
        )
    } else {
        Keep::Nothing
    };
    declared.append(own);
    keep
}

/// What reading the `usersFrom` CSV files gave besides the users: each file with
/// what to keep of it, and which manifest source named which file.
#[derive(Default)]
struct CsvReads {
    keeps: Vec<(PathBuf, Keep<kept::CsvRead>)>,
    named_by: Vec<(PathBuf, u32)>,
}

/// Reads every `usersFrom` CSV file (each once, in parallel; unchanged ones from
/// `kept` when given) and appends its users.
fn read_csv_users(
    declared: &mut Declared,
    sources: &mut Vec<Source>,
    findings: &mut Vec<Finding>,
    cache: &ParseCache,
    (kept, now): (Option<&Memo<kept::CsvRead>>, SystemTime),
) -> CsvReads {
    // Each repository root is canonicalized once, and the paths are checked in
    // parallel (each check follows the path's links: a few system calls apiece).
    let mut roots: Vec<users_file::Root<'_>> = Vec::new();
    let mut named: Vec<(usize, &str, PathBuf, usize)> = Vec::new();
    for (position, entry) in declared.nodes.iter().enumerate() {
        let Some(users_from) = entry.users_from() else {
            continue;
        };
        let Place::File { source, .. } = entry.origin.place else {
            continue;
        };
        let source = &sources[source as usize];
        let base = match &source.origin {
            input::Origin::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            input::Origin::Stdin(_) | input::Origin::Unreadable => PathBuf::new(),
        };
        let root = source.root.as_deref().unwrap_or(Path::new("."));
        let root = match roots.iter().position(|known| known.path() == root) {
            Some(known) => known,
            None => {
                roots.push(users_file::Root::new(root));
                roots.len() - 1
            }
        };
        named.push((position, users_from, base, root));
    }
    let resolved: Vec<Result<PathBuf, String>> = named
        .par_iter()
        .map(|(_, users_from, base, root)| users_file::resolve(&roots[*root], base, users_from))
        .collect();
    let mut wanted: Vec<(usize, PathBuf)> = Vec::with_capacity(named.len());
    for ((position, ..), result) in named.into_iter().zip(resolved) {
        match result {
            Ok(path) => wanted.push((position, path)),
            Err(refusal) => {
                let entry = &declared.nodes[position];
                let name = &entry.node.name;
                findings.push(
                    Finding::error(
                        Rule::UsersFromOutside,
                        entry.origin.field_at(&["usersFrom"], Target::Value),
                        format!("`usersFrom` of `{name}`: {refusal}"),
                    )
                    .about(name),
                );
            }
        }
    }
    let mut unique: Vec<PathBuf> = wanted.iter().map(|(_, path)| path.clone()).collect();
    unique.sort();
    unique.dedup();
    let (read, keeps): (Vec<kept::CsvRead>, Vec<Keep<kept::CsvRead>>) = unique
        .par_iter()
        .map(|path| match kept {
            Some(memo) => {
                let (read, keep) = memo.get(path, now, |path| {
                    Ok(users_csv::read_users_cached(path, cache))
                });
                let read = read.unwrap_or_else(|problem| (Vec::new(), vec![problem]));
                (read, keep)
            }
            None => (users_csv::read_users_cached(path, cache), Keep::Nothing),
        })
        .unzip();
    let mut source_of: FxHashMap<&Path, (u32, usize)> = FxHashMap::default();
    for (position, path) in unique.iter().enumerate() {
        let source = push_source(sources, Source::file(path.clone()));
        source_of.insert(path.as_path(), (source, position));
    }
    for (node, path) in &wanted {
        let Some(&(source, position)) = source_of.get(path.as_path()) else {
            continue;
        };
        let (users, problems) = &read[position];
        let entry = &mut declared.nodes[*node];
        for problem in problems {
            findings.push(csv_finding(problem, source, entry, path));
        }
        let strings = &mut declared.strings;
        for user in users {
            // Shared with every other user of the load that has the same values.
            let mut shared = user.user.clone();
            shared.language = strings.optional(shared.language.as_deref());
            shared.timezone = strings.optional(shared.timezone.as_deref());
            entry.node.spec.users.push(shared);
            entry.push_user_origin(UserOrigin::Csv {
                source,
                line: user.line,
            });
        }
    }
    let named_by = wanted
        .into_iter()
        .filter_map(|(node, path)| match declared.nodes[node].origin.place {
            Place::File { source, .. } => Some((path, source)),
            _ => None,
        })
        .collect();
    CsvReads {
        keeps: unique.into_iter().zip(keeps).collect(),
        named_by,
    }
}

/// A CSV problem as a finding: a missing file is reported at the `usersFrom` that
/// names it, everything else in the CSV file itself.
fn csv_finding(
    problem: &Problem,
    source: u32,
    entry: &declare::DeclaredNode,
    path: &Path,
) -> Finding {
    if problem.rule == Rule::MissingCsv {
        // The reading problem says "cannot read `path`: reason"; the path is named here.
        let reason = problem
            .message
            .split_once("`: ")
            .map_or(problem.message.as_str(), |(_, reason)| reason);
        return Finding::error(
            Rule::MissingCsv,
            entry.origin.field_at(&["usersFrom"], Target::Value),
            format!(
                "users file `{}` (usersFrom of `{}`) cannot be read: {reason}",
                path.display(),
                entry.node.name,
            ),
        )
        .about(&entry.node.name);
    }
    let mut finding = problem.clone().in_source(source);
    finding.object = Some(entry.node.name.to_string());
    finding
}

/// Validates, resolves locations, and builds the hierarchy or the error.
fn finish(
    declared: Declared,
    mut findings: Vec<Finding>,
    sources: &[Source],
    external: Option<&Hierarchy>,
    files: usize,
    documents: usize,
) -> Result<Loaded, LoadError> {
    let mut declared = declared;
    findings.append(&mut declared.findings);
    findings.extend(validate::check(&declared, external));
    if declared.nodes.is_empty() && declared.plans.is_empty() && findings.is_empty() {
        findings.push(Finding::warning(
            Rule::NoResources,
            At::Input,
            "no canopy resources found (apiVersion canopy.dev/v1alpha1) in the given paths",
        ));
    }
    let has_errors = findings
        .iter()
        .any(|finding| finding.severity == Severity::Error);
    let diagnostics = resolve::diagnostics(findings, sources);
    if has_errors {
        return Err(LoadError { diagnostics });
    }
    // Into a vector of their own size: collected in place, the nodes would keep the
    // block of the (larger) declarations, which the allocator does not give back when
    // asked to shrink it by less than half.
    let mut nodes = Vec::with_capacity(declared.nodes.len());
    nodes.extend(declared.nodes.into_iter().map(|entry| entry.node));
    let nodes = sorted_by_name(nodes);
    let plans = declared.plans.into_iter().map(|entry| entry.plan).collect();
    Ok(Loaded {
        hierarchy: Hierarchy::new(nodes, plans),
        diagnostics,
        files,
        documents,
    })
}

/// The nodes sorted by name, in place: their order is found by sorting indices (in
/// parallel) and each node is then swapped into place once, so no second array of
/// nodes (they are large) is ever allocated. Each node's users (CSV rows were pushed
/// onto them) are trimmed to their length: the hierarchy lives as long as the plan.
/// `Hierarchy::new` then finds the nodes sorted in a single pass.
fn sorted_by_name(mut nodes: Vec<Node>) -> Vec<Node> {
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.par_sort_unstable_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    permute(&mut nodes, &order);
    nodes.par_iter_mut().for_each(|node| {
        node.spec.users = chunked::trimmed(std::mem::take(&mut node.spec.users));
    });
    nodes
}

/// Rearranges `items` so that position `p` holds what was at `order[p]` (`order` is a
/// permutation), following each cycle once.
fn permute<T>(items: &mut [T], order: &[usize]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        let mut position = start;
        while !placed[position] {
            placed[position] = true;
            let source = order[position];
            if source == start {
                break;
            }
            items.swap(position, source);
            position = source;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::permute;

    proptest! {
        #[test]
        fn permuting_puts_each_item_where_the_order_says(
            order in (0usize..64).prop_flat_map(|length| {
                Just((0..length).collect::<Vec<_>>()).prop_shuffle()
            })
        ) {
            let original: Vec<String> = (0..order.len()).map(|i| format!("item-{i}")).collect();
            let mut items = original.clone();
            permute(&mut items, &order);
            let expected: Vec<String> = order.iter().map(|&i| original[i].clone()).collect();
            prop_assert_eq!(items, expected);
        }
    }
}
