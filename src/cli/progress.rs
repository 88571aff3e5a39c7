//! Progress on standard error for the phases that take long on large trees: reading
//! the live state, loading and planning, writing, exporting. A spinner names the phase
//! and its elapsed time; a bar counts when the total is known (files to export).
//!
//! Drawn only when standard error is a terminal, never with `--quiet` or `-v`
//! ([`super::output::progress`]); every phase clears its line when it ends, so that
//! nothing of it is left in the output. The library knows nothing of it.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output;

/// How often a spinner redraws.
const TICK: Duration = Duration::from_millis(120);

/// One phase on screen; cleared when dropped.
pub struct Phase {
    bar: ProgressBar,
}

/// The phase on screen, so that notes can be printed above it instead of through it.
static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Prints a line on standard error, above the phase on screen if there is one.
pub fn eprintln(line: &str) {
    let current = CURRENT.lock().ok().and_then(|current| current.clone());
    match current {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// Changes the message of the phase on screen, if there is one.
pub fn message(message: &str) {
    if let Some(bar) = CURRENT.lock().ok().and_then(|current| current.clone()) {
        bar.set_message(message.to_string());
    }
}

fn show(bar: ProgressBar) -> Phase {
    if let Ok(mut current) = CURRENT.lock() {
        *current = Some(bar.clone());
    }
    Phase { bar }
}

/// A spinner for a phase whose size is not known in advance.
pub fn spinner(message: &str) -> Phase {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    if output::progress() {
        bar.enable_steady_tick(TICK);
    }
    show(bar)
}

/// A bar counting `total` steps.
pub fn bar(message: &str, total: usize) -> Phase {
    let total = u64::try_from(total).unwrap_or(u64::MAX);
    let bar = ProgressBar::with_draw_target(Some(total), target());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    show(bar)
}

impl Phase {
    /// Counts steps done.
    pub fn advance(&self, steps: usize) {
        self.bar.inc(u64::try_from(steps).unwrap_or(u64::MAX));
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        if let Ok(mut current) = CURRENT.lock() {
            *current = None;
        }
    }
}

fn target() -> ProgressDrawTarget {
    if output::progress() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
