//! `canopy completions SHELL`: a completion script generated from the command line's
//! own definition, so it never drifts from the flags.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, Outcome};

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "canopy", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing the completion script")?;
    Ok(Outcome::Success)
}
