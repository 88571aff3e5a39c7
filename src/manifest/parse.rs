//! Parsing one file's text into canopy resources: the per-file step that runs in
//! parallel and whose product, [`ParsedFile`], is plain serializable data (so that it
//! can be cached by content hash).
//!
//! ```text
//! text ─ split_documents ─> chunk per `---` document ─ serde_yaml, streaming ─> Resource
//!                                                    └─ problems (line:column or key path)
//! ```
//!
//! Documents are split before serde_yaml sees them, for two reasons: a syntax error
//! then spoils only its own document, and serde_yaml's multi-document iterator must
//! not be advanced past a syntax error (libyaml then yields no event and serde_yaml
//! panics). A line starting with `---` or `...` can only be a document marker in
//! YAML (such lines are forbidden inside scalars), so splitting on them is exact.
//!
//! Each document is deserialized in one streaming pass: `apiVersion` and `kind`
//! normally come first, so the spec is deserialized straight into its type, and
//! serde_yaml's errors carry line and column. A document whose `spec` comes before its
//! `kind` is buffered as a YAML value and typed afterwards.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::diagnostic::{FieldPath, Problem, Rule, Segment, Severity, Spot, Target};
use super::input::saturating_u32;
use super::tree::{AccountTree, TreeNode};
use super::types::{
    API_GROUP, API_VERSION, Account, AccountGroup, AccountGroupSpec, AccountSpec, ServicePlan,
    ServicePlanSpec,
};
use super::{guard, suggest, yaml_error, yaml_subset};

/// One canopy resource read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Resource {
    Account(Account),
    AccountGroup(AccountGroup),
    ServicePlan(ServicePlan),
    AccountTree(AccountTree),
}

/// A resource and the (0-based) document of the file it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedResource {
    pub document: u32,
    pub resource: Resource,
}

/// What one file holds: its resources, its problems, and the names of canopy
/// documents that failed to parse (so that references to them are not reported as
/// dangling on top of the real problem).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedFile {
    pub documents: u32,
    pub resources: Vec<ParsedResource>,
    pub problems: Vec<Problem>,
    pub unparsed_names: Vec<String>,
}

/// A document of a multi-document file: its text and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'text> {
    pub text: &'text str,
    /// 0-based line of the chunk's first line in the file.
    pub first_line: usize,
    /// 0-based line of the first line with content (past markers and comments).
    pub content_line: usize,
}

/// Splits a YAML stream into its documents. Chunks holding only comments, blank
/// lines and markers are dropped: they are not documents.
pub fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut offset = 0;
    for (line_number, line) in text.split_inclusive('\n').enumerate() {
        let is_start = is_marker(line, "---");
        let is_end = is_marker(line, "...");
        if is_start && offset > start {
            push_chunk(&mut chunks, &text[start..offset], start_line);
            start = offset;
            start_line = line_number;
        }
        offset += line.len();
        if is_end {
            push_chunk(&mut chunks, &text[start..offset], start_line);
            start = offset;
            start_line = line_number + 1;
        }
    }
    push_chunk(&mut chunks, &text[start..], start_line);
    chunks
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn push_chunk<'text>(chunks: &mut Vec<Chunk<'text>>, text: &'text str, first_line: usize) {
    if let Some(offset) = first_content_line(text) {
        chunks.push(Chunk {
            text,
            first_line,
            content_line: first_line + offset,
        });
    }
}

/// The first line holding anything but comments, blanks, directives and document
/// markers; `None` when the chunk holds nothing, and so is no document.
fn first_content_line(text: &str) -> Option<usize> {
    text.lines().position(|line| {
        let line = if is_marker(line, "---") || is_marker(line, "...") {
            &line[3..]
        } else {
            line
        };
        let trimmed = line.trim();
        !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%')
    })
}

// What the fast path reads nests less deeply than the guard allows (see parse_document).
const _: () = assert!(yaml_subset::MAX_DEPTH < guard::MAX_FLOW_DEPTH);

/// Parses one file's text.
pub fn parse_file(text: &str) -> ParsedFile {
    parse_file_with(text, Reader::SubsetFirst)
}

/// How documents are read: serde_yaml alone (the reference), or the YAML subset's
/// fast path first ([`yaml_subset`]), serde_yaml for what it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    SerdeYaml,
    SubsetFirst,
}

/// [`parse_file`] with the reader chosen: the tests compare the two.
pub fn parse_file_with(text: &str, reader: Reader) -> ParsedFile {
    let mut parsed = ParsedFile::default();
    for (document, chunk) in split_documents(text).into_iter().enumerate() {
        let document = saturating_u32(document);
        parsed.documents += 1;
        parse_document(chunk, document, reader, &mut parsed);
    }
    parsed
}

/// What the streaming pass saw of a document, kept even when it fails half-way.
#[derive(Debug, Default)]
struct Partial {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    unknown_keys: Vec<String>,
}

/// What a document turned out to be.
enum Outcome {
    Resource(Box<Resource>),
    /// A canopy document whose spec preceded its kind, typed afterwards.
    Buffered {
        kind: KnownKind,
        metadata: Box<ObjectMeta>,
        spec: serde_yaml::Value,
    },
    /// Anything that is not a canopy resource; the string says what it was.
    Other(String),
    /// A canopy document that cannot be read as one: the top-level key to point at.
    Rejected {
        rule: Rule,
        key: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KnownKind {
    Account,
    AccountGroup,
    ServicePlan,
    AccountTree,
}

/// How a document's `apiVersion` and `kind` classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Known(KnownKind),
    /// `canopy.dev/v1alpha1` with a kind canopy does not know.
    UnknownKind,
    /// An `AccountScope`: it binds namespaces to subtrees, so only the Kubernetes
    /// controller reads it (from the cluster); a file load skips it with a note.
    ClusterOnly,
    /// `canopy.dev/<another version>`.
    OtherVersion,
    Foreign,
    /// Not decided yet (apiVersion or kind still to come).
    Undecided,
}

impl Partial {
    fn class(&self) -> Class {
        let (Some(api_version), Some(kind)) = (&self.api_version, &self.kind) else {
            return Class::Undecided;
        };
        if api_version != API_VERSION {
            return match api_version.split_once('/') {
                Some((API_GROUP, _)) => Class::OtherVersion,
                _ => Class::Foreign,
            };
        }
        match kind.as_str() {
            "Account" => Class::Known(KnownKind::Account),
            "AccountGroup" => Class::Known(KnownKind::AccountGroup),
            "ServicePlan" => Class::Known(KnownKind::ServicePlan),
            "AccountTree" => Class::Known(KnownKind::AccountTree),
            "AccountScope" => Class::ClusterOnly,
            _ => Class::UnknownKind,
        }
    }
}

fn parse_document(chunk: Chunk<'_>, document: u32, reader: Reader, parsed: &mut ParsedFile) {
    // The guard bounds libyaml's work; the fast path bounds its own (it nests less
    // deeply than the guard allows, and a document shorter than the guard's token
    // limit cannot reach it), so what the fast path reads the guard would pass.
    if reader == Reader::SubsetFirst
        && chunk.text.len() < guard::MAX_DOCUMENT_TOKENS
        && let Some(resource) = subset_resource(chunk.text)
    {
        parsed.resources.push(ParsedResource { document, resource });
        return;
    }
    if let Err(problem) = guard::check(chunk.text, chunk.first_line) {
        parsed.problems.push(problem);
        return;
    }
    let mut partial = Partial::default();
    let deserializer = serde_yaml::Deserializer::from_str(chunk.text);
    let outcome = DocumentSeed {
        partial: &mut partial,
    }
    .deserialize(deserializer);
    let start = Spot::Position {
        line: saturating_u32(chunk.content_line + 1),
        column: 1,
    };
    match outcome {
        Err(error) => {
            let is_canopy = matches!(partial.class(), Class::Known(_) | Class::Undecided);
            if let (true, Some(name)) = (is_canopy, partial.name.take()) {
                parsed.unparsed_names.push(name);
            }
            parsed.problems.push(yaml_problem(&error, chunk, &start));
        }
        Ok(Outcome::Other(what)) => parsed.problems.push(skipped(start, &what)),
        Ok(Outcome::Rejected { rule, key, message }) => {
            let spot = Spot::Path {
                document,
                path: FieldPath::new().key(key),
                target: Target::Value,
            };
            parsed.problems.push(Problem::error(rule, spot, message));
        }
        Ok(Outcome::Buffered {
            kind,
            metadata,
            spec,
        }) => match typed_resource(kind, *metadata, spec) {
            Ok(resource) => parsed.resources.push(ParsedResource { document, resource }),
            Err((path, message)) => {
                if let Some(name) = partial.name.take() {
                    parsed.unparsed_names.push(name);
                }
                parsed
                    .problems
                    .push(buffered_problem(document, path, &message));
            }
        },
        Ok(Outcome::Resource(resource)) => {
            parsed.resources.push(ParsedResource {
                document,
                resource: *resource,
            });
        }
    }
    if matches!(partial.class(), Class::Known(_)) {
        for key in partial.unknown_keys {
            parsed.problems.push(unknown_top_level_key(document, key));
        }
    }
}

/// The resource of a document read by the fast path, when the document is in the
/// subset and reads as a whole canopy resource with nothing to report. Anything else
/// (an error, a foreign document, an unknown key) is read again by serde_yaml, which
/// words every problem.
fn subset_resource(text: &str) -> Option<Resource> {
    let value = yaml_subset::parse(text)?;
    let mut partial = Partial::default();
    match (DocumentSeed {
        partial: &mut partial,
    })
    .deserialize(&value)
    {
        Ok(Outcome::Resource(resource)) if partial.unknown_keys.is_empty() => Some(*resource),
        _ => None,
    }
}

/// Whether the fast path reads this document (a chunk of [`split_documents`]) whole:
/// for tests and benchmarks, which check that it is taken.
pub fn read_by_subset(document: &str) -> bool {
    subset_resource(document).is_some()
}

/// The problem for a buffered spec that failed to type, at its key path.
fn buffered_problem(document: u32, path: FieldPath, message: &str) -> Problem {
    let mut full = FieldPath::new().key("spec");
    full.0.extend(path.0);
    let rule = classify(message);
    // The path of an unknown field ends with the field itself: point at the key, and
    // name the mapping it is in, as serde_yaml does.
    let (target, context) = if rule == Rule::UnknownField {
        let mut parent = full.clone();
        parent.0.pop();
        (Target::Key, parent)
    } else {
        (Target::Value, full.clone())
    };
    let spot = Spot::Path {
        document,
        path: full,
        target,
    };
    let message = if rule == Rule::UnknownField {
        suggest::unknown_field(message)
    } else {
        message.to_string()
    };
    Problem::error(rule, spot, format!("{context}: {message}"))
}

fn unknown_top_level_key(document: u32, key: String) -> Problem {
    const FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];
    let message = format!(
        "unknown field `{key}`, expected one of `apiVersion`, `kind`, `metadata`, `spec`{}",
        suggest::did_you_mean(&key, FIELDS.into_iter())
    );
    let spot = Spot::Path {
        document,
        path: FieldPath::new().key(key),
        target: Target::Key,
    };
    Problem::error(Rule::UnknownField, spot, message)
}

fn skipped(start: Spot, what: &str) -> Problem {
    Problem {
        severity: Severity::Note,
        rule: Rule::SkippedDocument,
        spot: start,
        object: None,
        message: format!("skipped {what}"),
    }
}

/// A problem from serde_yaml, with its position moved from the chunk to the file and,
/// for a syntax error canopy recognises, its message in plain words
/// ([`yaml_error`]).
fn yaml_problem(error: &serde_yaml::Error, chunk: Chunk<'_>, start: &Spot) -> Problem {
    let text = error.to_string();
    let in_file = |line: usize, column: usize| Spot::Position {
        line: saturating_u32(chunk.first_line + line),
        column: saturating_u32(column),
    };
    let message = strip_location(&text);
    let rule = classify(&message);
    let Some(location) = error.location() else {
        return Problem::error(rule, start.clone(), message);
    };
    let (line, column) = (location.line(), location.column());
    let explained = match rule {
        Rule::YamlSyntax => yaml_error::explain_syntax(&text, chunk.text, line, column),
        Rule::WrongType | Rule::InvalidValue => yaml_error::explain_value(chunk.text, line, column),
        _ => None,
    };
    if let Some(explained) = explained {
        let spot = in_file(explained.line, explained.column);
        return Problem::error(Rule::YamlSyntax, spot, explained.message);
    }
    let message = match rule {
        Rule::UnknownField => suggest::unknown_field(&message),
        _ => message,
    };
    Problem::error(rule, in_file(line, column), message)
}

/// serde_yaml and libyaml put ` at line L column C` into messages, relative to the
/// document (the chunk), not the file: the diagnostic carries the file position, so
/// every such phrase is dropped.
fn strip_location(message: &str) -> String {
    const PHRASE: &str = " at line ";
    let mut result = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(PHRASE) {
        result.push_str(&rest[..at]);
        let after = &rest[at + PHRASE.len()..];
        match skip_line_column(after) {
            Some(remaining) => rest = remaining,
            None => {
                result.push_str(PHRASE);
                rest = after;
            }
        }
    }
    result.push_str(rest);
    result
}

/// Skips `L column C` at the start of `text`, if it is there.
fn skip_line_column(text: &str) -> Option<&str> {
    let digits = |text: &str| {
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len())
    };
    let line_digits = digits(text);
    let after_line = text[line_digits..].strip_prefix(" column ")?;
    let column_digits = digits(after_line);
    (line_digits > 0 && column_digits > 0).then(|| &after_line[column_digits..])
}

/// The rule a serde or serde_yaml message breaks. serde's messages are stable
/// ("unknown field", "missing field", "invalid type", "unknown variant").
fn classify(message: &str) -> Rule {
    if message.contains("unknown field") {
        Rule::UnknownField
    } else if message.contains("missing field") {
        Rule::MissingField
    } else if message.contains("unknown variant") {
        Rule::InvalidValue
    } else if message.contains("invalid type")
        || message.contains("invalid value")
        || message.contains("invalid length")
    {
        Rule::WrongType
    } else if message.contains("recursion limit exceeded") {
        Rule::TooDeep
    } else if message.contains("repetition limit exceeded") {
        Rule::AliasExpansion
    } else {
        Rule::YamlSyntax
    }
}

/// Types a buffered spec, returning the path and message of the first error.
fn typed_resource(
    kind: KnownKind,
    metadata: ObjectMeta,
    spec: serde_yaml::Value,
) -> Result<Resource, (FieldPath, String)> {
    fn typed<T: serde::de::DeserializeOwned>(
        spec: serde_yaml::Value,
    ) -> Result<T, (FieldPath, String)> {
        serde_path_to_error::deserialize(spec).map_err(|error| {
            let path = path_of(error.path());
            (path, error.into_inner().to_string())
        })
    }
    Ok(match kind {
        KnownKind::Account => Resource::Account(Account {
            metadata,
            spec: typed::<AccountSpec>(spec)?,
            status: None,
        }),
        KnownKind::AccountGroup => Resource::AccountGroup(AccountGroup {
            metadata,
            spec: typed::<AccountGroupSpec>(spec)?,
            status: None,
        }),
        KnownKind::ServicePlan => Resource::ServicePlan(ServicePlan {
            metadata,
            spec: typed::<ServicePlanSpec>(spec)?,
            status: None,
        }),
        KnownKind::AccountTree => Resource::AccountTree(AccountTree {
            metadata,
            spec: typed::<TreeNode>(spec)?,
        }),
    })
}

fn path_of(path: &serde_path_to_error::Path) -> FieldPath {
    let mut result = FieldPath::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } => result.0.push(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => {
                result.0.push(Segment::Index(saturating_u32(*index)));
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    result
}

/// Deserializes one document, recording what it learns in `partial` as it goes.
struct DocumentSeed<'partial> {
    partial: &'partial mut Partial,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Outcome;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Outcome, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The spec, as typed as the document's head allows.
enum SpecSlot {
    Typed(Box<TypedSpec>),
    Buffered(serde_yaml::Value),
}

enum TypedSpec {
    Account(AccountSpec),
    AccountGroup(AccountGroupSpec),
    ServicePlan(ServicePlanSpec),
    AccountTree(TreeNode),
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource (a mapping with apiVersion, kind, metadata and spec)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let partial = self.partial;
        let mut metadata = None;
        let mut spec = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "apiVersion" => partial.api_version = Some(map.next_value()?),
                "kind" => partial.kind = Some(map.next_value()?),
                "metadata" if matches!(partial.class(), Class::Foreign) => {
                    map.next_value::<IgnoredAny>()?;
                }
                "metadata" => {
                    let value: ObjectMeta = map.next_value()?;
                    partial.name.clone_from(&value.name);
                    metadata = Some(value);
                }
                "spec" => spec = next_spec(&mut map, partial.class())?,
                "status" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    partial.unknown_keys.push(key);
                }
            }
        }
        Ok(finish(partial, metadata, spec))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcome, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Outcome::Other(
            "a document that is a list, not a resource".to_string(),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Outcome, E> {
        Ok(Outcome::Other("an empty document".to_string()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Outcome, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Outcome, E> {
        Ok(scalar_document())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Outcome, E> {
        Ok(scalar_document())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Outcome, E> {
        Ok(scalar_document())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Outcome, E> {
        Ok(scalar_document())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Outcome, E> {
        Ok(scalar_document())
    }
}

/// A document missing apiVersion or kind: an error when the other half says it is
/// meant for canopy, otherwise a foreign document to skip.
fn undecided(partial: &Partial) -> Outcome {
    const KINDS: [&str; 4] = ["Account", "AccountGroup", "ServicePlan", "AccountTree"];
    match (partial.api_version.as_deref(), partial.kind.as_deref()) {
        (Some(api_version), None) if api_version.starts_with("canopy.dev/") => Outcome::Rejected {
            rule: Rule::MissingField,
            key: "apiVersion",
            message:
                "missing field `kind`: expected Account, AccountGroup, ServicePlan or AccountTree"
                    .to_string(),
        },
        (None, Some(kind)) if KINDS.contains(&kind) => Outcome::Rejected {
            rule: Rule::MissingField,
            key: "kind",
            message: format!(
                "missing field `apiVersion`: a {kind} needs `apiVersion: {API_VERSION}`"
            ),
        },
        _ => Outcome::Other(
            "a document without apiVersion and kind (not a Kubernetes-style resource)".to_string(),
        ),
    }
}

fn scalar_document() -> Outcome {
    Outcome::Other("a document that is a single value, not a resource".to_string())
}

fn next_spec<'de, A: MapAccess<'de>>(
    map: &mut A,
    class: Class,
) -> Result<Option<SpecSlot>, A::Error> {
    Ok(Some(match class {
        Class::Known(KnownKind::Account) => {
            SpecSlot::Typed(Box::new(TypedSpec::Account(map.next_value()?)))
        }
        Class::Known(KnownKind::AccountGroup) => {
            SpecSlot::Typed(Box::new(TypedSpec::AccountGroup(map.next_value()?)))
        }
        Class::Known(KnownKind::ServicePlan) => {
            SpecSlot::Typed(Box::new(TypedSpec::ServicePlan(map.next_value()?)))
        }
        Class::Known(KnownKind::AccountTree) => {
            SpecSlot::Typed(Box::new(TypedSpec::AccountTree(map.next_value()?)))
        }
        Class::Undecided => SpecSlot::Buffered(map.next_value()?),
        Class::UnknownKind | Class::ClusterOnly | Class::OtherVersion | Class::Foreign => {
            map.next_value::<IgnoredAny>()?;
            return Ok(None);
        }
    }))
}

/// Turns what the pass collected into an outcome.
fn finish(partial: &Partial, metadata: Option<ObjectMeta>, spec: Option<SpecSlot>) -> Outcome {
    let kind_text = partial.kind.as_deref().unwrap_or_default();
    let api_version = partial.api_version.as_deref().unwrap_or_default();
    let known = match partial.class() {
        Class::Known(kind) => kind,
        Class::Undecided => return undecided(partial),
        Class::Foreign => {
            return Outcome::Other(format!(
                "{kind_text} ({api_version}): not a canopy resource"
            ));
        }
        Class::ClusterOnly => {
            return Outcome::Other(
                "an AccountScope: scopes are read from the cluster by `canopy run --kubernetes`, not from files"
                    .to_string(),
            );
        }
        Class::UnknownKind => {
            return Outcome::Rejected {
                rule: Rule::UnknownKind,
                key: "kind",
                message: format!(
                    "unknown kind `{kind_text}` for {API_VERSION}; expected Account, AccountGroup, ServicePlan or AccountTree"
                ),
            };
        }
        Class::OtherVersion => {
            return Outcome::Rejected {
                rule: Rule::UnsupportedApiVersion,
                key: "apiVersion",
                message: format!(
                    "unsupported apiVersion `{api_version}`; this canopy reads {API_VERSION}"
                ),
            };
        }
    };
    let missing = |part: &'static str| Outcome::Rejected {
        rule: Rule::MissingField,
        key: "kind",
        message: format!("missing field `{part}` in {kind_text} document"),
    };
    let Some(metadata) = metadata else {
        return missing("metadata");
    };
    let Some(spec) = spec else {
        return missing("spec");
    };
    let typed = match spec {
        SpecSlot::Buffered(spec) => {
            return Outcome::Buffered {
                kind: known,
                metadata: Box::new(metadata),
                spec,
            };
        }
        SpecSlot::Typed(typed) => *typed,
    };
    let resource = match typed {
        TypedSpec::Account(spec) => Resource::Account(Account {
            metadata,
            spec,
            status: None,
        }),
        TypedSpec::AccountGroup(spec) => Resource::AccountGroup(AccountGroup {
            metadata,
            spec,
            status: None,
        }),
        TypedSpec::ServicePlan(spec) => Resource::ServicePlan(ServicePlan {
            metadata,
            spec,
            status: None,
        }),
        TypedSpec::AccountTree(spec) => Resource::AccountTree(AccountTree { metadata, spec }),
    };
    Outcome::Resource(Box::new(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_on_markers_and_empty_ones_dropped() {
        let text =
            "# only a comment\n---\na: 1\n--- {b: 2}\n...\n# after the end\n---\n---\nc: 3\n";
        let chunks = split_documents(text);
        let starts: Vec<(usize, usize)> = chunks
            .iter()
            .map(|chunk| (chunk.first_line, chunk.content_line))
            .collect();
        assert_eq!(starts, [(1, 2), (3, 3), (7, 8)]);
        assert_eq!(chunks[1].text, "--- {b: 2}\n...\n");
    }

    #[test]
    fn a_marker_needs_a_space_or_line_end_after_it() {
        let chunks = split_documents("a: 1\n---b: 2\n");
        assert_eq!(chunks.len(), 1);
    }

    #[test]
    fn positions_in_later_documents_are_file_positions() {
        let parsed = parse_file(
            "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {type: nope}\n",
        );
        let errors: Vec<&Problem> = parsed
            .problems
            .iter()
            .filter(|problem| problem.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].spot,
            Spot::Position {
                line: 7,
                column: 14
            }
        );
    }

    #[test]
    fn location_phrases_are_stripped_from_messages() {
        assert_eq!(
            strip_location(
                "did not find expected key at line 3 column 1, while parsing a block mapping at line 1 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(
            strip_location("at line 1 is not a location"),
            "at line 1 is not a location"
        );
    }
}
