//! The JSON rendering: the stable, documented schema of docs/plan-format.md.
//!
//! ```text
//! {"source": …, "baseFingerprint": …, "changes": [{op, kind, name, from?, to?, user?,
//!  fields?, cascade?}], "summary": {total, <op>: n…, cascade, …}, "warnings": [{code,
//!  name, message}], "orphans": [names]}
//! ```
//!
//! Optional change members are omitted when they do not apply, never `null`.

use serde::Serialize;

use crate::plan::{Change, Plan, Summary, Warning};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    source: &'a str,
    base_fingerprint: &'a str,
    changes: &'a [Change],
    summary: Summary,
    warnings: &'a [Warning],
    orphans: &'a [String],
}

/// Renders the plan as pretty-printed JSON, ending with a newline.
pub fn json(plan: &Plan) -> String {
    let document = Document {
        source: &plan.source,
        base_fingerprint: &plan.base_fingerprint,
        changes: &plan.changes,
        summary: plan.summary(),
        warnings: &plan.warnings,
        orphans: &plan.orphans,
    };
    // Plain data with string keys: serialization cannot fail.
    let mut rendered = serde_json::to_string_pretty(&document).unwrap_or_default();
    rendered.push('\n');
    rendered
}
