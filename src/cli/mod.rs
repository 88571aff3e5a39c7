//! The command line: parse options, call the library, print the error once.
//!
//! Each command lives in its own module and returns an [`Outcome`]; errors travel up
//! as `anyhow::Error` and are printed here, in one place, with exit code 1. Usage
//! errors exit 1 too (clap's own default is 2, which `--detailed-exitcode` reserves
//! for pending changes). [`output`] holds the flags every command shares (colour,
//! quiet); [`help`] the examples shown by each command's `--help`.

mod apply;
mod approve;
mod completions;
mod export;
mod help;
mod history;
pub mod output;
mod plan;
mod progress;
mod run;
mod store;
mod suspend;
mod validate;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// How a successful command ends: exit codes 0 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 2 with `--detailed-exitcode`: changes are pending (0 without the flag).
    ChangesPending,
}

#[derive(Debug, Parser)]
#[command(
    name = "canopy",
    version,
    about = "Account hierarchies as code: declare, plan, apply, keep in sync",
    after_help = help::EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    /// Accepted before the command too (`canopy --database-url URL get`), for the
    /// commands that use a database.
    #[arg(long = "database-url", value_name = "URL", hide = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalFlags {
    /// Log what canopy does on standard error: -v phases with durations and row
    /// counts, -vv details, -vvv everything (`CANOPY_LOG` overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error: no notes, warnings or progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour output (`NO_COLOR` set means never under `auto`).
    #[arg(long, global = true, value_enum, default_value_t = output::ColorChoice::Auto)]
    pub color: output::ColorChoice,
    /// Never colour output (same as `--color never`).
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// The database flags, on the commands that use a database only.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB [env:
    /// CANOPY_DATABASE_URL] [default: sqlite://canopy.db, an embedded SQLite file in the
    /// working directory].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// The database when neither a flag nor `CANOPY_DATABASE_URL` names one.
const DEFAULT_DATABASE_URL: &str = "sqlite://canopy.db";

/// What a command that uses a database is given: its URL and the global flags.
#[derive(Debug, Clone)]
pub struct GlobalArgs {
    pub database_url: String,
    pub verbose: u8,
}

impl GlobalArgs {
    /// The command's `--database-url`, else one given before the command, else
    /// `CANOPY_DATABASE_URL`, else the default.
    fn new(flags: &GlobalFlags, database: DatabaseArgs, before: Option<&str>) -> GlobalArgs {
        let database_url = database
            .database_url
            .or_else(|| before.map(str::to_string))
            .or_else(|| std::env::var("CANOPY_DATABASE_URL").ok())
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        GlobalArgs {
            database_url,
            verbose: flags.verbose,
        }
    }
}

/// Options shared by `plan` and `apply` that decide what a plan may do.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The name this source manages its objects under (objects another source manages
    /// are never touched).
    #[arg(long, env = "CANOPY_SOURCE", default_value = "default")]
    pub source: String,
    /// Delete (archive) objects this source once managed and no longer declares.
    #[arg(long)]
    pub prune: bool,
    /// Refuse to prune more than this percentage of the managed accounts at once.
    #[arg(long, default_value_t = 10.0)]
    pub max_prune: f64,
    /// Restrict the run to the subtree rooted at this account or group.
    #[arg(long)]
    pub scope: Option<String>,
    /// Source revision recorded in the audit log (e.g. a Git commit).
    #[arg(long, env = "CANOPY_REVISION")]
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageFormat {
    /// Aligned columns (`text` is the same).
    #[value(alias = "text")]
    Table,
    Json,
    /// Comma-separated values with a header line, for spreadsheets.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    /// One line per object, indented under its parent.
    Tree,
    /// Aligned columns.
    Table,
    /// The table plus group, users, disabled services and display name.
    Wide,
    /// Every field of each object: spec, effective values, usage.
    Json,
    /// The same as json, in YAML.
    Yaml,
    /// One name per line.
    Name,
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`).
    Dot,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests without touching a database.
    #[command(after_help = help::VALIDATE)]
    Validate {
        /// Files or directories (read recursively); `-` reads standard input.
        #[arg(required = true)]
        paths: Vec<String>,
        #[arg(short = 'o', long = "output", visible_alias = "format", value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Show what applying the manifests would change.
    #[command(after_help = help::PLAN)]
    Plan {
        /// Files or directories; `-` reads standard input.
        paths: Vec<String>,
        /// Compare two directories with no database: `--against OLD_DIR NEW_DIR`.
        #[arg(long, value_name = "OLD_DIR", conflicts_with = "out")]
        against: Option<String>,
        #[arg(short = 'o', long = "output", visible_alias = "format", value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Save the plan; `canopy apply FILE` applies exactly it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 2 when changes are pending.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Say (in the plan) whether `canopy run --hold-above N` would hold it for approval.
        #[arg(long, value_name = "N|off")]
        hold_above: Option<crate::reconcile::Gate>,
        #[command(flatten)]
        options: PlanArgs,
        /// Ignored with --against (two directories need no database).
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make the database equal to the manifests (or apply a saved plan), in one transaction.
    #[command(after_help = help::APPLY)]
    Apply {
        /// Files or directories, or one saved plan file (applied without asking again).
        #[arg(required = true)]
        paths: Vec<String>,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(short = 'o', long = "output", visible_alias = "format", value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        #[command(flatten)]
        options: PlanArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the live hierarchy.
    #[command(after_help = help::GET)]
    Get {
        /// Only this object and its subtree.
        #[arg(conflicts_with = "root")]
        name: Option<String>,
        /// The same as NAME: only this account or group and its subtree.
        #[arg(long, value_name = "NAME")]
        root: Option<String>,
        /// Only this many levels below the top shown (0: the top objects alone).
        #[arg(long, value_name = "N")]
        depth: Option<usize>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = GetFormat::Tree)]
        output: GetFormat,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write the live state as manifests.
    #[command(after_help = help::EXPORT)]
    Export {
        /// A directory to write (one file per root, plus plans.yaml); standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Export the objects this source manages.
        #[arg(long, env = "CANOPY_SOURCE", default_value = "default")]
        source: String,
        /// Export every live object; unmanaged ones are annotated for adoption.
        #[arg(long)]
        all: bool,
        /// Only this account or group and everything below it (and the plans they use).
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show usage against plan limits (>= 80% approaching, > 100% exceeding).
    #[command(after_help = help::USAGE)]
    Usage {
        /// The period, `YYYY-MM` (default: the latest recorded).
        #[arg(long)]
        period: Option<String>,
        /// First record the usage in this CSV file (`account,metric,period,amount`).
        #[arg(long, value_name = "FILE")]
        import: Option<PathBuf>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = UsageFormat::Table)]
        output: UsageFormat,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show the audit log: who changed what, when, from which revision.
    #[command(after_help = help::HISTORY)]
    History {
        #[command(flatten)]
        args: history::HistoryArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Create the database or upgrade its schema (apply does this too; read-only
    /// commands never create a database).
    #[command(after_help = help::MIGRATE)]
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the CustomResourceDefinitions of all kinds as YAML.
    #[command(after_help = help::CRDS)]
    Crds,
    /// Print the JSON Schema of all kinds (for editors' YAML language servers).
    #[command(after_help = help::SCHEMA)]
    Schema,
    /// Run the daemon: keep the database equal to a checkout, continuously.
    #[command(after_help = help::RUN)]
    Run {
        #[command(flatten)]
        args: run::RunArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Apply a plan the daemon held (blast-radius gate), if the live state is unchanged.
    #[command(after_help = help::APPROVE)]
    Approve {
        /// The plan id shown in the daemon's /status and logs.
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Suspend every daemon on this database (stored in the database; expires by itself).
    #[command(after_help = help::SUSPEND)]
    Suspend {
        /// How long (500ms, 3s, 5m, 1h).
        #[arg(long = "for", value_name = "DUR", value_parser = crate::daemon::duration::parse)]
        duration: std::time::Duration,
        /// Why (shown in /status and logs).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Lift a suspension.
    #[command(after_help = help::RESUME)]
    Resume {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print canopy's version and the database schema version it knows.
    #[command(after_help = help::VERSION)]
    Version {
        #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Text)]
        output: ReportFormat,
    },
    /// Print a shell completion script.
    #[command(after_help = help::COMPLETIONS)]
    Completions { shell: clap_complete::Shell },
}

impl Command {
    fn uses_a_database(&self) -> bool {
        !matches!(
            self,
            Command::Validate { .. }
                | Command::Crds
                | Command::Schema
                | Command::Version { .. }
                | Command::Completions { .. }
        )
    }

    /// The command's name as typed (for messages).
    fn name(&self) -> String {
        let debug = format!("{self:?}");
        let word: String = debug
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        word.to_lowercase()
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are printed to standard output and succeed.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match &cli.command {
        Command::Run { args, .. } => run::init_tracing(args, cli.global.verbose),
        _ => init_tracing(&cli.global),
    }
    output::init(
        cli.global.color,
        cli.global.no_color,
        cli.global.quiet,
        cli.global.verbose,
    );
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPending) => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let flags = cli.global;
    let before = cli.database_url;
    let global = |database| GlobalArgs::new(&flags, database, before.as_deref());
    if before.is_some() && !cli.command.uses_a_database() {
        anyhow::bail!(
            "--database-url: `canopy {}` uses no database",
            cli.command.name()
        );
    }
    match cli.command {
        Command::Validate { paths, format } => validate::validate(&paths, format),
        Command::Crds => validate::crds(),
        Command::Schema => validate::schema(),
        Command::Plan {
            paths,
            against,
            format,
            out,
            detailed_exitcode,
            hold_above,
            options,
            database,
        } => plan::plan(
            &global(database),
            &plan::PlanRequest {
                paths,
                against,
                format,
                out,
                detailed_exitcode,
                hold_above,
                options,
            },
        ),
        Command::Apply {
            paths,
            yes,
            format,
            options,
            database,
        } => apply::apply(&global(database), &paths, yes, format, &options),
        Command::Get {
            name,
            root,
            depth,
            output,
            database,
        } => store::get(&global(database), name.or(root).as_deref(), depth, output),
        Command::Export {
            out,
            source,
            all,
            only,
            database,
        } => export::export(
            &global(database),
            out.as_deref(),
            &source,
            all,
            only.as_deref(),
        ),
        Command::Usage {
            period,
            import,
            output,
            database,
        } => store::usage(
            &global(database),
            period.as_deref(),
            import.as_deref(),
            output,
        ),
        Command::History { args, database } => history::history(&global(database), &args),
        Command::Migrate { database } => store::migrate(&global(database)),
        Command::Run { args, database } => run::run(&global(database), args),
        Command::Approve { id, database } => approve::approve(&global(database), &id),
        Command::Suspend {
            duration,
            reason,
            database,
        } => suspend::suspend(&global(database), duration, &reason),
        Command::Resume { database } => suspend::resume(&global(database)),
        Command::Version { output } => version::version(output),
        Command::Completions { shell } => completions::completions(shell),
    }
}

/// `-v` logs the phases of a pass (durations, row counts, the lock wait), `-vv` every
/// canopy detail, `-vvv` everything, libraries included. Coloured only on a terminal
/// and when colour is not turned off.
fn init_tracing(flags: &GlobalFlags) {
    let verbose = flags.verbose;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && !flags.no_color
        && flags.color != output::ColorChoice::Never
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let default = match verbose {
        0 => "warn",
        1 => "warn,canopy=info,canopy::reconcile=debug",
        2 => "warn,canopy=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANOPY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
