//! The Helm chart: it lints, renders, grants only what the controller calls and runs
//! the controller hardened. Needs helm: `CANOPY_HELM` (scripts/test.sh installs it
//! with scripts/install-helm.sh and sets it); without it the tests say so and skip.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml::Value;

fn helm() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CANOPY_HELM") {
        return Some(PathBuf::from(path));
    }
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/helm/helm");
    if installed.exists() {
        return Some(installed);
    }
    eprintln!("skipped: no helm (run scripts/install-helm.sh or set CANOPY_HELM)");
    None
}

fn chart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/canopy")
}

/// Runs helm; returns (success, stdout, stderr).
fn run(helm: &PathBuf, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(helm).args(args).output().expect("helm runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn render(helm: &PathBuf, sets: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec!["template", "canopy", chart.to_str().expect("UTF-8 path")];
    for set in sets {
        args.extend(["--set", set]);
    }
    let (ok, stdout, stderr) = run(helm, &args);
    assert!(ok, "helm template failed: {stderr}");
    serde_yaml::Deserializer::from_str(&stdout)
        .map(|document| serde::Deserialize::deserialize(document).expect("YAML"))
        .filter(|document: &Value| !document.is_null())
        .collect()
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every (api group, resource, verb) a rendered role grants.
fn grants(roles: &[&Value]) -> BTreeSet<(String, String, String)> {
    let mut grants = BTreeSet::new();
    for role in roles {
        for rule in role["rules"].as_sequence().expect("rules") {
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        grants.insert((group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    grants
}

/// What the controller calls, and nothing else.
fn expected(namespaced: bool, scopes: bool, leases: bool) -> BTreeSet<(String, String, String)> {
    let mut grants = BTreeSet::new();
    let mut add = |group: &str, resource: &str, verbs: &[&str]| {
        for verb in verbs {
            grants.insert((group.to_string(), resource.to_string(), verb.to_string()));
        }
    };
    if scopes {
        add("canopy.dev", "accountscopes", &["get", "list", "watch"]);
        add("canopy.dev", "accountscopes/status", &["patch"]);
    }
    if namespaced {
        for kind in ["accounts", "accountgroups", "serviceplans"] {
            add("canopy.dev", kind, &["get", "list", "watch", "patch"]);
            add("canopy.dev", &format!("{kind}/status"), &["patch"]);
            add("canopy.dev", &format!("{kind}/finalizers"), &["update"]);
        }
        add("events.k8s.io", "events", &["create", "patch"]);
    }
    if leases {
        add("coordination.k8s.io", "leases", &["get", "create", "patch"]);
    }
    grants
}

const SECRET: &str = "database.existingSecret=canopy-db";

#[test]
fn the_chart_lints() {
    let Some(helm) = helm() else { return };
    let chart = chart();
    let (ok, stdout, stderr) = run(
        &helm,
        &["lint", chart.to_str().expect("UTF-8 path"), "--set", SECRET],
    );
    assert!(ok, "helm lint failed:\n{stdout}{stderr}");
}

#[test]
fn cluster_wide_rbac_grants_only_the_calls_the_controller_makes() {
    let Some(helm) = helm() else { return };
    let documents = render(&helm, &[SECRET]);
    let cluster = grants(&of_kind(&documents, "ClusterRole"));
    assert_eq!(cluster, expected(true, true, false));
    let roles = grants(&of_kind(&documents, "Role"));
    assert_eq!(roles, expected(false, false, true));
    for (group, resource, verb) in cluster.iter().chain(&roles) {
        assert!(
            ![group, resource, verb]
                .iter()
                .any(|part| part.contains('*')),
            "wildcard in {group}/{resource}/{verb}"
        );
    }
}

#[test]
fn one_watched_namespace_gets_a_role_and_scopes_stay_cluster_wide() {
    let Some(helm) = helm() else { return };
    let documents = render(&helm, &[SECRET, "controller.namespace=team-a"]);
    assert_eq!(
        grants(&of_kind(&documents, "ClusterRole")),
        expected(false, true, false)
    );
    let roles = of_kind(&documents, "Role");
    let watched: Vec<&Value> = roles
        .iter()
        .copied()
        .filter(|r| r["metadata"]["namespace"].as_str() == Some("team-a"))
        .collect();
    assert_eq!(grants(&watched), expected(true, false, false));
    let deployment = of_kind(&documents, "Deployment")[0];
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--namespace=team-a".to_string()), "{args:?}");
}

#[test]
fn the_controller_runs_hardened_with_probes_and_limits() {
    let Some(helm) = helm() else { return };
    let documents = render(&helm, &[SECRET]);
    let deployment = of_kind(&documents, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(container["resources"]["requests"]["cpu"].is_string());
    let url = &container["env"][0];
    assert_eq!(url["name"].as_str(), Some("CANOPY_DATABASE_URL"));
    assert_eq!(
        url["valueFrom"]["secretKeyRef"]["name"].as_str(),
        Some("canopy-db")
    );
    assert_eq!(of_kind(&documents, "PodDisruptionBudget").len(), 1);
    assert_eq!(of_kind(&documents, "ServiceMonitor").len(), 0);
    let monitored = render(&helm, &[SECRET, "serviceMonitor.enabled=true"]);
    assert_eq!(of_kind(&monitored, "ServiceMonitor").len(), 1);
}

#[test]
fn installing_without_a_database_secret_is_refused() {
    let Some(helm) = helm() else { return };
    let chart = chart();
    let (ok, _, stderr) = run(
        &helm,
        &["template", "canopy", chart.to_str().expect("UTF-8 path")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("database.existingSecret is required"),
        "{stderr}"
    );
}

#[test]
fn values_outside_the_schema_are_refused() {
    let Some(helm) = helm() else { return };
    let chart = chart();
    let (ok, _, stderr) = run(
        &helm,
        &[
            "template",
            "canopy",
            chart.to_str().expect("UTF-8 path"),
            "--set",
            SECRET,
            "--set",
            "controller.drift=sometimes",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("drift"), "{stderr}");
}
