//! Diagnostics: what loading and validating manifests found, where, and under which
//! stable rule code.
//!
//! A [`Diagnostic`] is what users and callers see: a severity, a [`Rule`], a resolved
//! [`Location`] (file:line:column, or the object for cluster resources) and a message.
//! While loading, problems are first recorded as [`Finding`]s whose position may still
//! be a key path inside a document ([`Spot::Path`]); paths are turned into
//! line:column only when a finding exists (see [`super::locate`]), so the happy path
//! never pays for positions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Kind;

/// How bad a diagnostic is. Any error makes the whole load fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable code of each check; docs/manifests.md lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    // Reading files.
    UnreadableFile,
    FileTooLarge,
    InvalidUtf8,
    // YAML and the shape of documents.
    YamlSyntax,
    TooDeep,
    DocumentTooLarge,
    AliasExpansion,
    UnknownField,
    MissingField,
    WrongType,
    InvalidValue,
    UnsupportedApiVersion,
    UnknownKind,
    TreeShape,
    InvalidAnnotation,
    SkippedDocument,
    NoResources,
    // Names and references.
    InvalidName,
    DuplicateName,
    DanglingParent,
    DanglingPlan,
    ParentCycle,
    Nesting,
    PlanOnPartnerGroup,
    // Users.
    FirstUserNotAdmin,
    InvalidEmail,
    InvalidUser,
    ControlCharacter,
    DuplicateUserEmail,
    MissingCsv,
    UsersFromOutside,
    CsvHeader,
    CsvColumns,
    UsersFromInCluster,
    // The live database refuses the change (scope, ownership, prune limit): found by
    // the planner, located here afterwards.
    Refused,
    // Declarations without effect (warnings).
    IneffectiveService,
    IneffectiveSetting,
    IneffectiveField,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UnreadableFile => "unreadable-file",
            Rule::FileTooLarge => "file-too-large",
            Rule::InvalidUtf8 => "invalid-utf8",
            Rule::YamlSyntax => "yaml-syntax",
            Rule::TooDeep => "too-deep",
            Rule::DocumentTooLarge => "document-too-large",
            Rule::AliasExpansion => "alias-expansion",
            Rule::UnknownField => "unknown-field",
            Rule::MissingField => "missing-field",
            Rule::WrongType => "wrong-type",
            Rule::InvalidValue => "invalid-value",
            Rule::UnsupportedApiVersion => "unsupported-api-version",
            Rule::UnknownKind => "unknown-kind",
            Rule::TreeShape => "tree-shape",
            Rule::InvalidAnnotation => "invalid-annotation",
            Rule::SkippedDocument => "skipped-document",
            Rule::NoResources => "no-resources",
            Rule::InvalidName => "invalid-name",
            Rule::DuplicateName => "duplicate-name",
            Rule::DanglingParent => "dangling-parent",
            Rule::DanglingPlan => "dangling-plan",
            Rule::ParentCycle => "parent-cycle",
            Rule::Nesting => "nesting",
            Rule::PlanOnPartnerGroup => "plan-on-partner-group",
            Rule::FirstUserNotAdmin => "first-user-not-admin",
            Rule::InvalidEmail => "invalid-email",
            Rule::InvalidUser => "invalid-user",
            Rule::ControlCharacter => "control-character",
            Rule::DuplicateUserEmail => "duplicate-user-email",
            Rule::MissingCsv => "missing-csv",
            Rule::UsersFromOutside => "users-from-outside",
            Rule::CsvHeader => "csv-header",
            Rule::CsvColumns => "csv-columns",
            Rule::UsersFromInCluster => "users-from-in-cluster",
            Rule::Refused => "refused",
            Rule::IneffectiveService => "ineffective-service",
            Rule::IneffectiveSetting => "ineffective-setting",
            Rule::IneffectiveField => "ineffective-field",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Location {
    /// A position in a file (1-based line, 1-based column in characters).
    Position {
        file: String,
        line: u32,
        column: u32,
    },
    /// A whole file (it could not be read, or no position applies).
    File { file: String },
    /// A field of a cluster resource, e.g. `Account/acme-eu` at `spec.parent`.
    Object {
        kind: Kind,
        name: String,
        field: String,
    },
    /// The command's input as a whole (e.g. no path given produced any resource).
    Input,
}

impl Location {
    /// The file, if the location is in one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Location::Position { file, .. } | Location::File { file } => Some(file),
            Location::Object { .. } | Location::Input => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Position { file, line, column } => write!(f, "{file}:{line}:{column}"),
            Location::File { file } => f.write_str(file),
            Location::Object { kind, name, field } if field.is_empty() => {
                write!(f, "{kind}/{name}")
            }
            Location::Object { kind, name, field } => write!(f, "{kind}/{name} {field}"),
            Location::Input => f.write_str("<input>"),
        }
    }
}

/// One problem (or remark) about the manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub rule: Rule,
    pub location: Location,
    /// The account, group or plan concerned, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: error[rule]: message`, the shape compilers use so that
    /// editors and terminals make the location clickable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}[{}]: {}",
            self.location, self.severity, self.rule, self.message
        )
    }
}

/// One step of a key path inside a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Segment {
    Key(String),
    Index(u32),
}

/// A key path such as `spec.users[1].email`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    pub fn new() -> FieldPath {
        FieldPath(Vec::new())
    }

    pub fn key(mut self, key: impl Into<String>) -> FieldPath {
        self.0.push(Segment::Key(key.into()));
        self
    }

    pub fn index(mut self, index: usize) -> FieldPath {
        self.0
            .push(Segment::Index(u32::try_from(index).unwrap_or(u32::MAX)));
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Whether a path location should point at a mapping key or at its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    Key,
    Value,
}

/// Where in one file a finding is, before it is resolved to line:column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spot {
    /// The whole file.
    Whole,
    /// A known position (1-based line and column).
    Position { line: u32, column: u32 },
    /// A key path in the `document`-th document (0-based) of the file, resolved lazily.
    Path {
        document: u32,
        path: FieldPath,
        target: Target,
    },
}

/// Where a finding is: a spot in one of the load's sources (files, standard input,
/// CSV files), a field of a cluster object, or the input as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum At {
    Source {
        source: u32,
        spot: Spot,
    },
    Object {
        kind: Kind,
        name: String,
        path: FieldPath,
    },
    Input,
}

/// A problem found in one file, independent of where the file sits in a load: the
/// per-file parse product keeps these so that it can be cached by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    pub rule: Rule,
    pub spot: Spot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn error(rule: Rule, spot: Spot, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            rule,
            spot,
            object: None,
            message: message.into(),
        }
    }

    pub(crate) fn in_source(self, source: u32) -> Finding {
        Finding {
            severity: self.severity,
            rule: self.rule,
            at: At::Source {
                source,
                spot: self.spot,
            },
            object: self.object,
            message: self.message,
            also: None,
        }
    }
}

/// A diagnostic whose location may not be resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    pub at: At,
    pub object: Option<String>,
    pub message: String,
    /// A second place the message refers to (e.g. the first of two duplicates),
    /// appended to the message once resolved.
    pub also: Option<At>,
}

impl Finding {
    pub fn error(rule: Rule, at: At, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Error,
            rule,
            at,
            object: None,
            message: message.into(),
            also: None,
        }
    }

    pub fn warning(rule: Rule, at: At, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(rule, at, message)
        }
    }

    pub fn about(mut self, object: &str) -> Finding {
        self.object = Some(object.to_string());
        self
    }

    pub fn also_at(mut self, at: At) -> Finding {
        self.also = Some(at);
        self
    }
}

/// A one-line count such as `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let count = |severity| {
        diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    };
    let plural = |count: usize, word: &str| {
        if count == 1 {
            format!("{count} {word}")
        } else {
            format!("{count} {word}s")
        }
    };
    format!(
        "{}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning")
    )
}
