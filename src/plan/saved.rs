//! Saved plans: what `canopy plan --out FILE` writes and `canopy apply FILE` applies.
//!
//! ```text
//! plan --out:  SavedPlan { version, digest, content: { options, desired, changes } }
//! apply FILE:  check version and digest ─> live fingerprint == options.baseFingerprint?
//!              ─> diff(&live, &desired, &options) ─> changes == saved changes? ─> Plan
//! ```
//!
//! The file is a record of what a person reviewed, never a list of writes to trust: it
//! holds the desired state, the options and the changes that were shown. At apply, the
//! plan is made again from the desired state against the live snapshot, so every
//! computed value (effective activation, services, settings, row writes) is derived
//! anew, and the result is refused unless its changes are exactly the ones saved. An
//! edited file therefore never writes what the plan did not show: a changed operation
//! or field fails the comparison, an edit anywhere fails the digest, and a live state
//! that moved on fails the fingerprint. Nothing in this module does I/O.

use serde::{Deserialize, Serialize};

use crate::model::Hierarchy;
use crate::plan::{Change, Plan, PlanError, PlanOptions, diff};

/// The format version this canopy writes and reads.
pub const VERSION: u32 = 2;

/// A saved plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPlan {
    pub canopy_plan_version: u32,
    /// `blake3:` and the hex BLAKE3 hash of `content` as serialised.
    pub digest: String,
    pub content: Content,
}

/// What the digest covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Content {
    pub options: SavedOptions,
    /// The source revision given to `plan` (recorded in the audit log at apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The desired state as loaded from the manifests.
    pub desired: Hierarchy,
    /// The changes the plan showed.
    pub changes: Vec<Change>,
}

/// [`PlanOptions`] as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedOptions {
    pub source: String,
    pub base_fingerprint: String,
    pub prune: bool,
    pub max_prune_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl From<&PlanOptions> for SavedOptions {
    fn from(options: &PlanOptions) -> SavedOptions {
        SavedOptions {
            source: options.source.clone(),
            base_fingerprint: options.base_fingerprint.clone(),
            prune: options.prune,
            max_prune_percent: options.max_prune_percent,
            scope: options.scope.clone(),
        }
    }
}

impl From<&SavedOptions> for PlanOptions {
    fn from(options: &SavedOptions) -> PlanOptions {
        PlanOptions {
            source: options.source.clone(),
            base_fingerprint: options.base_fingerprint.clone(),
            prune: options.prune,
            max_prune_percent: options.max_prune_percent,
            scope: options.scope.clone(),
            archive: Vec::new(),
            release: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("not a saved canopy plan: {0}")]
    NotAPlan(#[source] serde_json::Error),
    #[error("a plan of format version {found}; this canopy reads version {VERSION} (plan again)")]
    Version { found: u32 },
    #[error(
        "the plan file was modified after it was saved (its digest does not match its content); plan again"
    )]
    Digest,
    #[error(
        "the live state changed since the plan was made (plan base {expected}, live {found}); plan again"
    )]
    Stale { expected: String, found: String },
    #[error(
        "the plan file does not show what applying it would do ({detail}); nothing was written: plan again"
    )]
    Mismatch { detail: String },
    #[error("serialising the plan: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Only the version, read before the rest so that an old file gets a clear message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    canopy_plan_version: u32,
}

impl SavedPlan {
    /// The saved form of `plan`, made from `desired` with `options`.
    pub fn new(
        plan: &Plan,
        desired: Hierarchy,
        options: &PlanOptions,
        revision: Option<String>,
    ) -> Result<SavedPlan, SavedPlanError> {
        SavedPlan::seal(Content {
            options: SavedOptions::from(options),
            revision,
            desired,
            changes: plan.changes.clone(),
        })
    }

    /// A plan file of `content` with its digest.
    pub fn seal(content: Content) -> Result<SavedPlan, SavedPlanError> {
        Ok(SavedPlan {
            canopy_plan_version: VERSION,
            digest: digest(&content)?,
            content,
        })
    }

    pub fn to_json(&self) -> Result<Vec<u8>, SavedPlanError> {
        serde_json::to_vec(self).map_err(SavedPlanError::Serialize)
    }

    /// Reads a plan file, refusing another format version or content that does not
    /// match its digest.
    pub fn from_json(bytes: &[u8]) -> Result<SavedPlan, SavedPlanError> {
        let header: Header = serde_json::from_slice(bytes).map_err(SavedPlanError::NotAPlan)?;
        if header.canopy_plan_version != VERSION {
            return Err(SavedPlanError::Version {
                found: header.canopy_plan_version,
            });
        }
        let saved: SavedPlan = serde_json::from_slice(bytes).map_err(SavedPlanError::NotAPlan)?;
        if digest(&saved.content)? != saved.digest {
            return Err(SavedPlanError::Digest);
        }
        Ok(saved)
    }

    /// Plans again against the live state and returns that plan, provided the live
    /// state is the one the plan was made against and the changes are the saved ones.
    pub fn replan(&self, live: &Hierarchy, fingerprint: &str) -> Result<Plan, SavedPlanError> {
        let options = PlanOptions::from(&self.content.options);
        if options.base_fingerprint != fingerprint {
            return Err(SavedPlanError::Stale {
                expected: options.base_fingerprint,
                found: fingerprint.to_string(),
            });
        }
        let plan = diff(live, &self.content.desired, &options)?;
        if let Some(detail) = difference(&self.content.changes, &plan.changes) {
            return Err(SavedPlanError::Mismatch { detail });
        }
        Ok(plan)
    }
}

fn digest(content: &Content) -> Result<String, SavedPlanError> {
    let bytes = serde_json::to_vec(content).map_err(SavedPlanError::Serialize)?;
    Ok(format!("blake3:{}", blake3::hash(&bytes).to_hex()))
}

/// The first difference between the saved and the recomputed changes, in words.
fn difference(saved: &[Change], recomputed: &[Change]) -> Option<String> {
    let describe = |change: &Change| format!("{} {} {}", change.op, change.kind, change.name);
    let differing = saved
        .iter()
        .zip(recomputed)
        .position(|(saved, recomputed)| saved != recomputed);
    match differing {
        Some(at) if saved[at].op == recomputed[at].op && saved[at].name == recomputed[at].name => {
            Some(format!(
                "change {} ({}) differs in its details",
                at + 1,
                describe(&saved[at])
            ))
        }
        Some(at) => Some(format!(
            "change {} is `{}` in the file but `{}` when planned again",
            at + 1,
            describe(&saved[at]),
            describe(&recomputed[at])
        )),
        None if saved.len() != recomputed.len() => Some(format!(
            "the file shows {} changes, planning again gives {}",
            saved.len(),
            recomputed.len()
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Op;
    use crate::plan::fixtures::{SOURCE, customer, edit, example, live_of};

    /// The live example and a desired state that adds one customer and renames another.
    fn scenario() -> (Hierarchy, Hierarchy, PlanOptions) {
        let live = live_of(&example(), Some(SOURCE));
        let mut desired = example();
        desired.nodes.push(customer("acme-nl", "partner-nordic"));
        desired = Hierarchy::new(desired.nodes, desired.plans);
        edit(&mut desired, "acme-de", |node| {
            node.spec.display_name = "Acme Deutschland".into();
        });
        let mut options = PlanOptions::new(SOURCE);
        options.base_fingerprint = "live-1".to_string();
        (live, desired, options)
    }

    fn saved() -> (Hierarchy, SavedPlan, Plan) {
        let (live, desired, options) = scenario();
        let plan = diff(&live, &desired, &options).unwrap();
        let saved = SavedPlan::new(&plan, desired, &options, None).unwrap();
        (live, saved, plan)
    }

    /// Re-signs edited content, as someone editing the file and fixing the digest would.
    fn resign(saved: &mut SavedPlan) {
        *saved = SavedPlan::seal(saved.content.clone()).unwrap();
    }

    #[test]
    fn a_saved_plan_read_back_replans_to_the_same_plan() {
        let (live, saved, plan) = saved();
        assert!(plan.changes.iter().any(|change| change.op == Op::Create));
        let read = SavedPlan::from_json(&saved.to_json().unwrap()).unwrap();
        assert_eq!(read, saved);
        assert_eq!(read.replan(&live, "live-1").unwrap(), plan);
    }

    #[test]
    fn a_changed_operation_is_refused() {
        let (live, mut saved, _) = saved();
        let create = saved
            .content
            .changes
            .iter_mut()
            .find(|change| change.op == Op::Create)
            .unwrap();
        create.name = "acme-evil".into();
        resign(&mut saved);
        let read = SavedPlan::from_json(&saved.to_json().unwrap()).unwrap();
        let error = read.replan(&live, "live-1").unwrap_err();
        assert!(
            matches!(&error, SavedPlanError::Mismatch { detail } if detail.contains("acme-evil")),
            "{error}"
        );
    }

    #[test]
    fn a_changed_field_of_the_desired_state_is_refused() {
        let (live, mut saved, _) = saved();
        edit(&mut saved.content.desired, "acme-de", |node| {
            node.spec.active = false;
        });
        resign(&mut saved);
        let error = saved.replan(&live, "live-1").unwrap_err();
        assert!(matches!(error, SavedPlanError::Mismatch { .. }), "{error}");
    }

    #[test]
    fn a_dropped_change_is_refused() {
        let (live, mut saved, _) = saved();
        saved.content.changes.pop();
        resign(&mut saved);
        let error = saved.replan(&live, "live-1").unwrap_err();
        assert!(matches!(error, SavedPlanError::Mismatch { .. }), "{error}");
    }

    #[test]
    fn an_edit_without_a_new_digest_is_refused() {
        let (_, saved, _) = saved();
        let text = String::from_utf8(saved.to_json().unwrap()).unwrap();
        let edited = text.replacen("Acme Deutschland", "Acme Germany", 1);
        assert_ne!(edited, text);
        assert!(matches!(
            SavedPlan::from_json(edited.as_bytes()),
            Err(SavedPlanError::Digest)
        ));
    }

    #[test]
    fn a_plan_of_a_live_state_that_moved_on_is_stale() {
        let (live, saved, _) = saved();
        assert!(matches!(
            saved.replan(&live, "live-2"),
            Err(SavedPlanError::Stale { .. })
        ));
    }

    #[test]
    fn another_format_version_or_another_file_is_refused() {
        let (_, mut saved, _) = saved();
        saved.canopy_plan_version = 1;
        assert!(matches!(
            SavedPlan::from_json(&saved.to_json().unwrap()),
            Err(SavedPlanError::Version { found: 1 })
        ));
        assert!(matches!(
            SavedPlan::from_json(b"kind: Account\n"),
            Err(SavedPlanError::NotAPlan(_))
        ));
    }
}
