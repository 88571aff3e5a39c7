//! A real, throwaway PostgreSQL server for tests and benchmarks: `initdb` into a
//! temporary directory, started on a free port with its socket in that directory and
//! durability off (fsync, synchronous_commit), stopped and removed on drop.
//!
//! The binaries come from `$CANOPY_PG_BIN` (default /usr/lib/postgresql/15/bin).
//! PostgreSQL refuses to run as root, so under root (CI) the server runs as the
//! `postgres` system user; otherwise as the current user. Missing binaries are an
//! error saying how to install them: callers fail, they never skip PostgreSQL.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the server binaries are looked for when `$CANOPY_PG_BIN` is not set.
pub const DEFAULT_BINARIES: &str = "/usr/lib/postgresql/15/bin";

/// How many ports are tried before giving up (another process may take a free port
/// between finding it and the server binding it).
const START_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "PostgreSQL server binaries not found in {directory}: install them with \
         `apt-get install postgresql` or point CANOPY_PG_BIN at them; PostgreSQL is \
         never skipped"
    )]
    BinariesMissing { directory: String },
    #[error("cannot create a temporary directory for PostgreSQL: {0}")]
    TemporaryDirectory(#[source] std::io::Error),
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed: {output}")]
    ToolFailed { program: String, output: String },
    #[error("no free local port: {0}")]
    NoFreePort(#[source] std::io::Error),
    #[error("PostgreSQL did not start: {0}")]
    StartFailed(String),
    #[error("cannot connect to database {database}: {source}")]
    Connect {
        database: String,
        #[source]
        source: postgres::Error,
    },
    #[error("database name `{0}` must be lowercase letters, digits and `_`")]
    InvalidDatabaseName(String),
    #[error("cannot create database {database}: {source}")]
    CreateDatabase {
        database: String,
        #[source]
        source: postgres::Error,
    },
}

/// A running server; stopped (immediately) and its directory removed on drop.
pub struct PostgresServer {
    directory: tempfile::TempDir,
    binaries: PathBuf,
    run_as_postgres: bool,
    port: u16,
}

fn binaries() -> Result<PathBuf, ServerError> {
    let binaries = PathBuf::from(
        std::env::var("CANOPY_PG_BIN").unwrap_or_else(|_| DEFAULT_BINARIES.to_string()),
    );
    if binaries.join("postgres").is_file() && binaries.join("initdb").is_file() {
        Ok(binaries)
    } else {
        Err(ServerError::BinariesMissing {
            directory: binaries.display().to_string(),
        })
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, ServerError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(ServerError::NoFreePort)
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

impl PostgresServer {
    /// Initialises and starts a server in a new temporary directory.
    pub fn start() -> Result<PostgresServer, ServerError> {
        let binaries = binaries()?;
        let run_as_postgres = running_as_root();
        let directory = tempfile::Builder::new()
            .prefix("canopy-pg-")
            .tempdir()
            .map_err(ServerError::TemporaryDirectory)?;
        let mut server = PostgresServer {
            directory,
            binaries,
            run_as_postgres,
            port: 0,
        };
        if run_as_postgres {
            let owned = path_text(server.directory.path());
            server.run(Command::new("chown").args(["-R", "postgres:", &owned]))?;
        }
        let data = path_text(&server.data_directory());
        let initdb = server.tool("initdb");
        server.run(server.command(&initdb).args([
            "-D",
            &data,
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        ]))?;
        let mut last_error = String::new();
        for _attempt in 0..START_ATTEMPTS {
            server.port = free_port()?;
            match server.try_start() {
                Ok(()) => return Ok(server),
                Err(error) => last_error = error,
            }
        }
        Err(ServerError::StartFailed(last_error))
    }

    fn data_directory(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    fn tool(&self, name: &str) -> String {
        path_text(&self.binaries.join(name))
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

    fn run(&self, command: &mut Command) -> Result<(), ServerError> {
        let program = format!("{command:?}");
        let output = command.output().map_err(|source| ServerError::Spawn {
            program: program.clone(),
            source,
        })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(ServerError::ToolFailed {
                program,
                output: output_text(&output),
            })
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=40",
            self.port,
            path_text(self.directory.path())
        );
        let log = self.directory.path().join("server.log");
        let output = self
            .command(&self.tool("pg_ctl"))
            .args(["-D", &path_text(&self.data_directory())])
            .args(["-l", &path_text(&log)])
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .map_err(|error| error.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                output_text(&output),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data, to
    /// simulate an outage; [`PostgresServer::restart`] brings it back on the same port.
    pub fn stop(&self) -> Result<(), ServerError> {
        self.run(
            self.command(&self.tool("pg_ctl"))
                .args(["-D", &path_text(&self.data_directory())])
                .args(["-m", "fast", "-w", "stop"]),
        )
    }

    /// Starts a server stopped by [`PostgresServer::stop`] again, on the same port.
    pub fn restart(&self) -> Result<(), ServerError> {
        self.try_start().map_err(ServerError::StartFailed)
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A superuser connection to a database on this server (for hand edits, faults
    /// and raw baselines).
    pub fn connect(&self, database: &str) -> Result<postgres::Client, ServerError> {
        postgres::Client::connect(&self.url(database), postgres::NoTls).map_err(|source| {
            ServerError::Connect {
                database: database.to_string(),
                source,
            }
        })
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, ServerError> {
        // CREATE DATABASE takes no parameters, so the name is checked instead.
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        if !plain {
            return Err(ServerError::InvalidDatabaseName(name.to_string()));
        }
        let mut client = self.connect("postgres")?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|source| ServerError::CreateDatabase {
                database: name.to_string(),
                source,
            })?;
        Ok(self.url(name))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .command(&self.tool("pg_ctl"))
            .args(["-D", &path_text(&self.data_directory())])
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
