//! `canopy run --watch DIR` / `canopy run --kubernetes`: parse the daemon's flags and
//! hand over to [`crate::daemon`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::plan::plan_options;
use super::{GlobalArgs, Outcome, PlanArgs};
use crate::controller::lease::{self, LeaseOptions};
use crate::controller::watch;
use crate::daemon::{self, Config, DriftMode, KubernetesConfig, duration};
use crate::reconcile::Gate;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The checkout to keep applied (watched recursively; `.git/` is ignored).
    #[arg(long, value_name = "DIR", required_unless_present = "kubernetes")]
    pub watch: Option<PathBuf>,
    /// Keep the database equal to the canopy resources of the Kubernetes cluster
    /// (KUBECONFIG, ~/.kube/config or the in-cluster service account), writing their
    /// status back; combinable with --watch.
    #[arg(long)]
    pub kubernetes: bool,
    /// With --kubernetes: watch the resources of this namespace only.
    #[arg(long, value_name = "NS", requires = "kubernetes")]
    pub namespace: Option<String>,
    /// With --kubernetes: the coordination.k8s.io Lease that elects the one instance
    /// that reconciles.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "canopy-leader",
        requires = "kubernetes"
    )]
    pub lease_name: String,
    /// The namespace of that Lease (in a cluster: the pod's, from POD_NAMESPACE).
    #[arg(
        long,
        value_name = "NS",
        env = "POD_NAMESPACE",
        default_value = "default",
        requires = "kubernetes"
    )]
    pub lease_namespace: String,
    /// With --kubernetes: no leader election (only ever run one instance).
    #[arg(long, requires = "kubernetes")]
    pub no_leader_election: bool,
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics, /status, /approve/ID).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// How often the live state is checked for changes made by hand (500ms, 3s, 5m, 1h).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = duration::parse)]
    pub resync_interval: Duration,
    /// How long file changes must settle before a pass runs.
    #[arg(long, value_name = "DUR", default_value = "100ms", value_parser = duration::parse)]
    pub debounce: Duration,
    /// What a resync does with differences made in the database by hand.
    #[arg(long, value_enum, default_value_t = Drift::Correct)]
    pub drift: Drift,
    /// Hold (do not apply) a plan that deactivates, prunes or moves more accounts than
    /// this; `0` holds anything destructive, `off` disables the gate.
    #[arg(long, value_name = "N|off", default_value = "100")]
    pub hold_above: Gate,
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub options: PlanArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Drift {
    Correct,
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<Outcome> {
    let kubernetes = kubernetes(&args);
    let config = Config {
        database_url: global.database_url.clone(),
        watch: args.watch,
        kubernetes,
        listen: args.listen,
        resync_interval: args.resync_interval,
        debounce: args.debounce,
        drift: match args.drift {
            Drift::Correct => DriftMode::Correct,
            Drift::Report => DriftMode::Report,
        },
        gate: args.hold_above,
        plan: plan_options(&args.options, String::new()),
        actor: super::apply::actor(),
        revision: args.options.revision,
    };
    daemon::run(config)?;
    Ok(Outcome::Success)
}

fn kubernetes(args: &RunArgs) -> Option<KubernetesConfig> {
    if !args.kubernetes {
        return None;
    }
    let identity = lease::identity();
    let lease = (!args.no_leader_election).then(|| LeaseOptions {
        name: args.lease_name.clone(),
        namespace: args.lease_namespace.clone(),
        identity: identity.clone(),
    });
    Some(KubernetesConfig {
        controller: watch::Options {
            namespace: args.namespace.clone(),
            debounce: args.debounce,
            resync: args.resync_interval,
            instance: Some(identity),
        },
        lease,
    })
}

/// The daemon logs at `info` by default (one line per pass), as text or JSON.
pub fn init_tracing(args: &RunArgs, verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANOPY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match args.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
