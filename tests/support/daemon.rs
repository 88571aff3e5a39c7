//! The real `canopy run` as a child process: started on a free port with its log in
//! a file, asked over HTTP, waited on by polling a condition, killed when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a condition may take before the test fails (a hang guard, not a timing
/// assert).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Daemon {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl Daemon {
    /// Starts `canopy run --watch REPO --listen 127.0.0.1:PORT ARGS…` on `url`, its
    /// log (at debug level) in `log_dir`.
    pub fn start(url: &str, repo: &Path, log_dir: &Path, args: &[&str]) -> Daemon {
        Daemon::start_logging(url, repo, log_dir, args, "canopy=debug")
    }

    /// [`Daemon::start`] with another `CANOPY_LOG` filter.
    pub fn start_logging(
        url: &str,
        repo: &Path,
        log_dir: &Path,
        args: &[&str],
        filter: &str,
    ) -> Daemon {
        Daemon::spawn(url, log_dir, filter, |command| {
            command.arg("--watch").arg(repo).args(args);
        })
    }

    /// Starts `canopy run --kubernetes --listen 127.0.0.1:PORT ARGS…` on `url`, with
    /// `KUBECONFIG=kubeconfig`, its log (at debug level) in `log_dir`.
    pub fn start_kubernetes(url: &str, kubeconfig: &Path, log_dir: &Path, args: &[&str]) -> Daemon {
        Daemon::spawn(url, log_dir, "canopy=debug", |command| {
            command
                .env("KUBECONFIG", kubeconfig)
                .env_remove("POD_NAMESPACE")
                .arg("--kubernetes")
                .args(args);
        })
    }

    fn spawn(
        url: &str,
        log_dir: &Path,
        filter: &str,
        configure: impl FnOnce(&mut Command),
    ) -> Daemon {
        let port = free_port();
        let log = log_dir.join(format!("daemon-{port}.log"));
        let mut command = Command::new(assert_cmd::cargo::cargo_bin!("canopy"));
        command
            .env("CANOPY_DATABASE_URL", url)
            .env("CANOPY_LOG", filter)
            .env_remove("CANOPY_SOURCE")
            .arg("run")
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        configure(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log"))
            .spawn()
            .expect("start canopy run");
        Daemon { child, port, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole HTTP response to `GET path`, or `None` while nobody answers.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    }

    /// `/status` as JSON.
    pub fn status(&self) -> Option<serde_json::Value> {
        let response = self.get("/status")?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `condition` until it holds; fails if the daemon exits or after
    /// [`PATIENCE`].
    pub fn eventually(&mut self, what: &str, mut condition: impl FnMut(&Daemon) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition(self) {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!(
                    "the daemon exited ({exit}) waiting for {what}\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the daemon is ready and active.
    pub fn wait_ready(&mut self) {
        self.eventually("the daemon to be ready", |daemon| {
            daemon
                .status()
                .is_some_and(|status| status["ready"] == true && status["role"] == "active")
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
