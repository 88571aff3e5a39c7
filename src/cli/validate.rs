//! `canopy validate`, `canopy crds`, `canopy schema`: the manifest commands that need
//! no database.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

use super::output::count;
use super::{Outcome, ReportFormat};
use crate::manifest::{self, Diagnostic, Severity};

/// Validates manifests: prints every diagnostic, exits 1 when any is an error.
pub fn validate(paths: &[String], format: ReportFormat) -> anyhow::Result<Outcome> {
    let (diagnostics, counts) = match manifest::load(paths, None) {
        Ok(loaded) => (
            loaded.diagnostics,
            Some((loaded.files, loaded.documents, loaded.hierarchy)),
        ),
        Err(error) => (error.diagnostics, None),
    };
    let valid = counts.is_some();
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Text => write_text(&mut out, &diagnostics, counts.as_ref())?,
        ReportFormat::Json => write_json(&mut out, &diagnostics, counts.as_ref())?,
    }
    out.flush()?;
    if valid {
        Ok(Outcome::Success)
    } else {
        anyhow::bail!(
            "manifests are invalid: {}",
            manifest::diagnostic::summary(&diagnostics)
        )
    }
}

type Counts = (usize, usize, crate::model::Hierarchy);

fn write_text(
    out: &mut impl Write,
    diagnostics: &[Diagnostic],
    counts: Option<&Counts>,
) -> anyhow::Result<()> {
    for diagnostic in diagnostics {
        writeln!(out, "{diagnostic}")?;
    }
    if let Some((files, documents, hierarchy)) = counts {
        let accounts = hierarchy.account_count();
        writeln!(
            out,
            "valid: {}, {}, {} in {} ({}); {}",
            count(accounts, "account", "accounts"),
            count(hierarchy.nodes.len() - accounts, "group", "groups"),
            count(hierarchy.plans.len(), "plan", "plans"),
            count(*files, "file", "files"),
            count(*documents, "document", "documents"),
            manifest::diagnostic::summary(diagnostics)
        )?;
    }
    Ok(())
}

/// Prints the `validate -o json` report of manifests that failed to load.
pub fn print_invalid_json(diagnostics: &[Diagnostic]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    write_json(&mut out, diagnostics, None)?;
    out.flush().context("writing to standard output")
}

fn write_json(
    out: &mut impl Write,
    diagnostics: &[Diagnostic],
    counts: Option<&Counts>,
) -> anyhow::Result<()> {
    let count = |severity| {
        diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    };
    let mut report = json!({
        "valid": counts.is_some(),
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
    });
    if let Some((files, documents, hierarchy)) = counts {
        report["files"] = json!(files);
        report["documents"] = json!(documents);
        report["accounts"] = json!(hierarchy.account_count());
        report["groups"] = json!(hierarchy.nodes.len() - hierarchy.account_count());
        report["plans"] = json!(hierarchy.plans.len());
    }
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)?;
    Ok(())
}

/// One diagnostic with its location flattened into `file`, `line`, `column` (or
/// `kind`/`name`/`field` for cluster objects), the shape editors and CI annotate with.
fn diagnostic_json(diagnostic: &Diagnostic) -> serde_json::Value {
    let mut value = json!({
        "severity": diagnostic.severity,
        "rule": diagnostic.rule,
        "message": diagnostic.message,
    });
    if let Some(object) = &diagnostic.object {
        value["object"] = json!(object);
    }
    match &diagnostic.location {
        manifest::Location::Position { file, line, column } => {
            value["file"] = json!(file);
            value["line"] = json!(line);
            value["column"] = json!(column);
        }
        manifest::Location::File { file } => value["file"] = json!(file),
        manifest::Location::Object { kind, name, field } => {
            value["kind"] = json!(kind);
            value["name"] = json!(name);
            value["field"] = json!(field);
        }
        manifest::Location::Input => {}
    }
    value
}

/// Prints the CRDs of all kinds as multi-document YAML.
pub fn crds() -> anyhow::Result<Outcome> {
    let text = manifest::crds_yaml().context("generating the CRDs")?;
    write_stdout(&text)?;
    Ok(Outcome::Success)
}

/// Prints the JSON Schema of all kinds.
pub fn schema() -> anyhow::Result<Outcome> {
    let mut text = serde_json::to_string_pretty(&manifest::json_schema())?;
    text.push('\n');
    write_stdout(&text)?;
    Ok(Outcome::Success)
}

/// Writes to standard output, reporting (not panicking on) a closed pipe.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}
