//! `canopy get`, `canopy export`, `canopy usage`, `canopy migrate`.

use std::path::Path;

use super::{GetFormat, GlobalArgs, Outcome, ReportFormat};

pub fn get(
    _global: &GlobalArgs,
    _name: Option<&str>,
    _output: GetFormat,
) -> anyhow::Result<Outcome> {
    anyhow::bail!("get is being built (issue 3)")
}

pub fn export(_global: &GlobalArgs, _out: Option<&Path>) -> anyhow::Result<Outcome> {
    anyhow::bail!("export is being built (issue 3)")
}

pub fn usage(
    _global: &GlobalArgs,
    _period: Option<&str>,
    _output: ReportFormat,
) -> anyhow::Result<Outcome> {
    anyhow::bail!("usage is being built (issue 3)")
}

pub fn migrate(_global: &GlobalArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("migrate is being built (issue 3)")
}
