//! A real, throwaway PostgreSQL server for tests: `initdb` into a temporary directory,
//! started on a free port with its socket in that directory and durability off
//! (fsync, synchronous_commit), stopped and removed on drop.
//!
//! The binaries come from `$CANOPY_PG_BIN` (default /usr/lib/postgresql/15/bin).
//! PostgreSQL refuses to run as root, so under root (CI) the server runs as the
//! `postgres` system user; otherwise as the current user. Missing binaries are a test
//! failure with a message saying how to install them, never a skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PostgresServer {
    directory: tempfile::TempDir,
    binaries: PathBuf,
    run_as_postgres: bool,
    port: u16,
}

fn binaries() -> PathBuf {
    let binaries = PathBuf::from(
        std::env::var("CANOPY_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
    );
    assert!(
        binaries.join("postgres").is_file() && binaries.join("initdb").is_file(),
        "PostgreSQL server binaries not found in {} (CI={}): install them with \
         `apt-get install postgresql` or point CANOPY_PG_BIN at them; the store tests \
         run on both backends and never skip PostgreSQL",
        binaries.display(),
        std::env::var("CI").unwrap_or_default(),
    );
    binaries
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free local port")
}

impl PostgresServer {
    /// Initialises and starts a server; panics (failing the test) with the server's
    /// own output when it cannot.
    pub fn start() -> PostgresServer {
        let binaries = binaries();
        let run_as_postgres = running_as_root();
        let directory = tempfile::Builder::new()
            .prefix("canopy-pg-")
            .tempdir()
            .expect("create a temporary directory");
        let mut server = PostgresServer {
            directory,
            binaries,
            run_as_postgres,
            port: 0,
        };
        if run_as_postgres {
            server.run(
                "chown",
                &[
                    "-R",
                    "postgres:",
                    &server.path_text(server.directory.path()),
                ],
            );
        }
        let data = server.data_directory();
        server.run_tool(
            "initdb",
            &[
                "-D",
                &server.path_text(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
        );
        let mut last_error = String::new();
        for _attempt in 0..5 {
            server.port = free_port();
            match server.try_start() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("PostgreSQL did not start: {last_error}");
    }

    fn data_directory(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    fn path_text(&self, path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }

    fn command(&self, program: &str) -> Command {
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", program]);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn run_tool(&self, tool: &str, args: &[&str]) {
        let program = self.path_text(&self.binaries.join(tool));
        let output = self
            .command(&program)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn try_start(&self) -> Result<(), String> {
        let program = self.path_text(&self.binaries.join("pg_ctl"));
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=40",
            self.port,
            self.path_text(self.directory.path())
        );
        let log = self.directory.path().join("server.log");
        let output = self
            .command(&program)
            .args(["-D", &self.path_text(&self.data_directory())])
            .args(["-l", &self.path_text(&log)])
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .map_err(|error| error.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A superuser connection to a database on this server (for hand edits and faults).
    pub fn connect(&self, database: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(database), postgres::NoTls)
            .unwrap_or_else(|error| panic!("connect to test database {database}: {error}"))
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut client = self.connect("postgres");
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|error| panic!("create database {name}: {error}"));
        self.url(name)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let program = self.path_text(&self.binaries.join("pg_ctl"));
        let _ = self
            .command(&program)
            .args(["-D", &self.path_text(&self.data_directory())])
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
