//! The output vocabulary every command shares: colour (`--color`, `--no-color`,
//! `NO_COLOR`), `--quiet`, progress (only on a terminal, see [`super::progress`]), and
//! counted nouns ("1 change", "2 changes").
//!
//! The choices are made once from the global flags ([`init`]) and read where output is
//! written, so that commands need not thread them through every function.

use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy)]
struct Choices {
    color: bool,
    quiet: bool,
    progress: bool,
}

static CHOICES: OnceLock<Choices> = OnceLock::new();

/// Decides colour, quietness and progress from the global flags (the first call wins).
/// Progress is drawn only on a terminal, and neither with `--quiet` nor with `-v` (the
/// log lines take its place).
pub fn init(color: ColorChoice, no_color: bool, quiet: bool, verbose: u8) {
    let color = match (no_color, color) {
        (true, _) | (false, ColorChoice::Never) => false,
        (false, ColorChoice::Always) => true,
        (false, ColorChoice::Auto) => {
            std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let progress = !quiet && verbose == 0 && std::io::stderr().is_terminal();
    let _ = CHOICES.set(Choices {
        color,
        quiet,
        progress,
    });
}

fn choices() -> Choices {
    *CHOICES.get_or_init(|| Choices {
        color: false,
        quiet: false,
        progress: false,
    })
}

/// Whether standard output is coloured.
pub fn color() -> bool {
    choices().color
}

/// Whether `--quiet` asks for errors only on standard error.
pub fn quiet() -> bool {
    choices().quiet
}

/// Whether progress is drawn on standard error.
pub fn progress() -> bool {
    choices().progress
}

/// Prints an informational line on standard error, unless `--quiet`.
pub fn note(message: &str) {
    if !quiet() {
        super::progress::eprintln(message);
    }
}

/// "1 change", "3 changes".
pub fn count(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "change", "changes"), "1 change");
        assert_eq!(count(0, "change", "changes"), "0 changes");
        assert_eq!(count(2, "account", "accounts"), "2 accounts");
    }
}
