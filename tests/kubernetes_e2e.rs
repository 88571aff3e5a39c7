//! `canopy run --kubernetes` against a real cluster, when `CANOPY_E2E_KUBECONFIG`
//! names a kubeconfig (a kind or k3d cluster will do; the test installs the CRDs,
//! uses a fresh namespace and removes what it created). Without it the test prints a
//! skip notice and passes: CI here has no cluster, the fake API server tests
//! (`tests/kubernetes_binary.rs`) cover the same behaviour.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::TestDb;
use support::daemon::Daemon;

fn kubeconfig() -> Option<PathBuf> {
    std::env::var_os("CANOPY_E2E_KUBECONFIG")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new("kubectl");
    command.env("KUBECONFIG", kubeconfig).args(args);
    let Some(input) = stdin else {
        return command.output().expect("run kubectl");
    };
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    child
        .stdin
        .take()
        .expect("kubectl stdin")
        .write_all(input.as_bytes())
        .expect("write to kubectl");
    child.wait_with_output().expect("kubectl output")
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Removes the namespace and the scope when the test ends, passed or not.
struct Cleanup<'a> {
    kubeconfig: &'a Path,
    namespace: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = kubectl(
            self.kubeconfig,
            &[
                "delete",
                "accountscope",
                &self.namespace,
                "--ignore-not-found",
            ],
            None,
        );
        let _ = kubectl(
            self.kubeconfig,
            &["delete", "namespace", &self.namespace, "--wait=false"],
            None,
        );
    }
}

#[test]
fn an_account_applied_to_a_real_cluster_becomes_ready() {
    let Some(kubeconfig) = kubeconfig() else {
        eprintln!("skipped: set CANOPY_E2E_KUBECONFIG to a cluster's kubeconfig to run this");
        return;
    };
    let namespace = format!("canopy-e2e-{}", std::process::id());
    succeeded(kubectl(
        &kubeconfig,
        &["apply", "-f", "crds/canopy.dev_crds.yaml"],
        None,
    ));
    succeeded(kubectl(
        &kubeconfig,
        &["create", "namespace", &namespace],
        None,
    ));
    let _cleanup = Cleanup {
        kubeconfig: &kubeconfig,
        namespace: namespace.clone(),
    };
    let manifests = format!(
        "apiVersion: canopy.dev/v1alpha1\nkind: AccountScope\nmetadata: {{name: {namespace}}}\n\
         spec: {{namespaces: [{namespace}]}}\n---\n\
         apiVersion: canopy.dev/v1alpha1\nkind: Account\n\
         metadata: {{name: e2e-partner, namespace: {namespace}}}\nspec: {{type: partner}}\n"
    );
    succeeded(kubectl(
        &kubeconfig,
        &["apply", "-f", "-"],
        Some(&manifests),
    ));

    let db = TestDb::sqlite();
    let directory = tempfile::tempdir().expect("a log directory");
    let args = ["--namespace", namespace.as_str(), "--no-leader-election"];
    let mut daemon = Daemon::start_kubernetes(&db.url, &kubeconfig, directory.path(), &args);
    daemon.eventually("e2e-partner to be Ready", |_| {
        let output = kubectl(
            &kubeconfig,
            &[
                "get",
                "account",
                "e2e-partner",
                "-n",
                &namespace,
                "-o",
                "json",
            ],
            None,
        );
        let object: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        object["status"]["conditions"]
            .as_array()
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    });
    let rows = db.query_text("SELECT managed_by FROM accounts WHERE name = 'e2e-partner'");
    assert_eq!(rows, [[Some(format!("kubernetes/{namespace}"))]]);
}
