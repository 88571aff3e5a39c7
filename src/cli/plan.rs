//! `canopy plan`.

use std::path::PathBuf;

use super::{GlobalArgs, Outcome, PlanArgs, PlanFormat};

pub struct PlanRequest {
    pub paths: Vec<String>,
    pub against: Option<String>,
    pub format: PlanFormat,
    pub out: Option<PathBuf>,
    pub detailed_exitcode: bool,
    pub options: PlanArgs,
}

pub fn plan(_global: &GlobalArgs, _request: &PlanRequest) -> anyhow::Result<Outcome> {
    anyhow::bail!("plan is being built (issue 4)")
}
