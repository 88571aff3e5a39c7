//! `canopy validate`, `canopy crds`, `canopy schema`.

use super::{Outcome, ReportFormat};

pub fn validate(_paths: &[String], _format: ReportFormat) -> anyhow::Result<Outcome> {
    anyhow::bail!("validate is being built (issue 2)")
}

pub fn crds() -> anyhow::Result<Outcome> {
    anyhow::bail!("crds is being built (issue 2)")
}

pub fn schema() -> anyhow::Result<Outcome> {
    anyhow::bail!("schema is being built (issue 2)")
}
