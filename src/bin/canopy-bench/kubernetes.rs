//! `canopy-bench kubernetes`: the real `canopy run --kubernetes` against the fake API
//! server (`canopy::testing::kube_api`) holding N Account resources, on each backend.
//!
//! ```text
//! fake API server: AccountScope + a root partner + N-1 customers in namespace `bench`
//! canopy run --kubernetes ─> every resource Ready (initial sync) ─> RSS at N
//! E times: apply one new customer ─> poll the fake until its status is Ready
//! ```
//!
//! Latency is from the moment the fake commits the new resource (its WATCH event
//! exists from then on) to the moment its status, applied by canopy, says Ready with
//! an account number for the resource's generation; the fake is polled every
//! millisecond in process. The controller runs with `--debounce 10ms` and no leader
//! election.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use canopy::testing::kube_api::FakeApi;
use serde_json::{Value, json};

use crate::daemon::{Daemon, percentile};
use crate::report::{Report, figure};
use crate::run::{BackendName, postgres_if_asked};

pub struct KubernetesOptions {
    pub resources: Vec<usize>,
    pub events: usize,
    pub backends: Vec<BackendName>,
    pub workdir: PathBuf,
    pub canopy: PathBuf,
}

/// How long the initial sync of the largest size may take.
const SYNC_PATIENCE: Duration = Duration::from_secs(900);
/// How long one event may take to be Ready.
const EVENT_PATIENCE: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "bench";

pub fn run(options: &KubernetesOptions, report: &mut Report) -> anyhow::Result<()> {
    let server = postgres_if_asked(&options.backends)?;
    for &backend in &options.backends {
        for &resources in &options.resources {
            let directory = options
                .workdir
                .join(format!("kubernetes-{resources}-{backend:?}"));
            if directory.exists() {
                std::fs::remove_dir_all(&directory)?;
            }
            std::fs::create_dir_all(&directory)?;
            let (url, name) = match (backend, server.as_ref()) {
                (BackendName::Sqlite, _) => (
                    format!("sqlite://{}", directory.join("canopy.db").display()),
                    "sqlite",
                ),
                (BackendName::Postgres, Some(server)) => (
                    server.create_database(&format!("kubernetes_{resources}"))?,
                    "postgres",
                ),
                (BackendName::Postgres, None) => anyhow::bail!("no PostgreSQL server"),
            };
            let run = Run {
                options,
                directory: &directory,
                url: &url,
                resources: resources.max(1),
            };
            run.measure(name, report)
                .with_context(|| format!("kubernetes bench at {resources} on {name}"))?;
            if std::env::var_os("CANOPY_BENCH_KEEP_LOGS").is_some() {
                keep_logs(&directory, &options.workdir)?;
            }
            std::fs::remove_dir_all(&directory)?;
        }
    }
    Ok(())
}

struct Run<'a> {
    options: &'a KubernetesOptions,
    directory: &'a std::path::Path,
    url: &'a str,
    resources: usize,
}

impl Run<'_> {
    fn measure(&self, backend: &str, report: &mut Report) -> anyhow::Result<()> {
        let fake = FakeApi::start()?;
        let apply = |object: Value| fake.apply(object).map_err(anyhow::Error::from);
        apply(json!({
            "apiVersion": "canopy.dev/v1alpha1", "kind": "AccountScope",
            "metadata": {"name": "bench"}, "spec": {"namespaces": [NAMESPACE]},
        }))?;
        apply(account("root", None))?;
        for index in 1..self.resources {
            apply(account(&format!("c-{index:06}"), Some("root")))?;
        }
        eprintln!(
            "kubernetes: {} resources in the fake; starting the controller",
            self.resources
        );
        let mut command = Command::new(&self.options.canopy);
        command
            .args(["run", "--kubernetes", "--no-leader-election"])
            .args(["--debounce", "10ms", "--resync-interval", "1h"])
            .env("KUBECONFIG", fake.kubeconfig())
            .env("CANOPY_DATABASE_URL", self.url)
            .env("CANOPY_LOG", "canopy=info")
            .env_remove("POD_NAMESPACE");
        let started = Instant::now();
        let mut daemon = Daemon::spawn(command, self.directory)?;
        let poll = Duration::from_millis(10);
        wait(
            &mut daemon,
            SYNC_PATIENCE,
            poll,
            "every resource Ready",
            || ready_count(&fake) == self.resources,
        )?;
        let sync = started.elapsed();
        let rss = daemon.rss_bytes()?;
        let mut latencies = Vec::with_capacity(self.options.events);
        for event in 0..self.options.events {
            let name = format!("event-{event:04}");
            let applied = Instant::now();
            apply(account(&name, Some("root")))?;
            wait(
                &mut daemon,
                EVENT_PATIENCE,
                Duration::from_millis(1),
                &name,
                || {
                    fake.get("accounts", Some(NAMESPACE), &name)
                        .is_some_and(|object| is_ready(&object))
                },
            )?;
            latencies.push(applied.elapsed());
        }
        let shown: Vec<String> = latencies
            .iter()
            .map(|latency| format!("{:.1}", latency.as_secs_f64() * 1000.0))
            .collect();
        eprintln!(
            "kubernetes: event to Ready in order (ms): {}",
            shown.join(" ")
        );
        let unserved = fake.unserved();
        anyhow::ensure!(
            unserved.is_empty(),
            "the controller sent requests the fake does not serve: {unserved:?}"
        );
        daemon.stop()?;
        self.record(report, backend, sync, rss, &latencies);
        Ok(())
    }

    fn record(
        &self,
        report: &mut Report,
        backend: &str,
        sync: Duration,
        rss: u64,
        latencies: &[Duration],
    ) {
        let at = |id: &str, label: &str| figure(id, label, self.resources, Some(backend));
        at(
            "kubernetes.event_to_ready.p50",
            "resource event to status Ready, p50",
        )
        .seconds(percentile(latencies, 50))
        .record(report);
        at(
            "kubernetes.event_to_ready.p99",
            "resource event to status Ready, p99",
        )
        .seconds(percentile(latencies, 99))
        .record(report);
        at(
            "kubernetes.initial_sync",
            "start to every resource Ready (initial sync)",
        )
        .seconds(sync)
        .record(report);
        at("kubernetes.rss", "controller RSS after the initial sync")
            .bytes(rss)
            .record(report);
    }
}

/// Copies the controller's log out of `directory` (removed after each size) into
/// `workdir`, named after the directory (`CANOPY_BENCH_KEEP_LOGS` set).
fn keep_logs(directory: &std::path::Path, workdir: &std::path::Path) -> anyhow::Result<()> {
    let name = directory
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "log") {
            std::fs::copy(&path, workdir.join(format!("{name}.log")))?;
        }
    }
    Ok(())
}

fn account(name: &str, parent: Option<&str>) -> Value {
    let spec = match parent {
        Some(parent) => {
            json!({"type": "customer", "parent": parent, "customerType": "endCustomer"})
        }
        None => json!({"type": "partner"}),
    };
    json!({
        "apiVersion": "canopy.dev/v1alpha1", "kind": "Account",
        "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec,
    })
}

/// Ready for the object's current generation, with an account number.
fn is_ready(object: &Value) -> bool {
    let status = &object["status"];
    let current = status["observedGeneration"] == object["metadata"]["generation"];
    let ready = status["conditions"].as_array().is_some_and(|conditions| {
        conditions
            .iter()
            .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
    });
    let numbered = status["accountNumber"]
        .as_str()
        .is_some_and(|number| number != "Pending");
    current && ready && numbered
}

fn ready_count(fake: &FakeApi) -> usize {
    fake.count("accounts", Some(NAMESPACE), is_ready)
}

/// Polls `condition` every `poll` while the controller runs.
fn wait(
    daemon: &mut Daemon,
    patience: Duration,
    poll: Duration,
    what: &str,
    condition: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    while !condition() {
        daemon.check_running(what)?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            daemon.tail()
        );
        std::thread::sleep(poll);
    }
    Ok(())
}
