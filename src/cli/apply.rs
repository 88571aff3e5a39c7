//! `canopy apply`.

use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat};

pub fn apply(
    _global: &GlobalArgs,
    _paths: &[String],
    _yes: bool,
    _format: PlanFormat,
    _options: &PlanArgs,
) -> anyhow::Result<Outcome> {
    anyhow::bail!("apply is being built (issue 4)")
}
