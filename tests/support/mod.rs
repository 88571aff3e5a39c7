//! Shared test harness: a fresh database on either backend ([`TestDb`]), raw SQL for
//! hand edits and fault injection, a realistic hierarchy with the plan that
//! creates it ([`fixtures`]), and a working directory for the real binary
//! ([`workspace`]).

#![allow(dead_code)]

/// Runs each named test on a fresh fixture of both backends, as `sqlite::NAME` and
/// `postgres::NAME`: each test is `fn NAME(fixture: &F)` and the test file provides
/// `fn fixture(backend: Backend) -> F` (a database, a workspace...).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$test(&super::fixture(super::Backend::Sqlite)); })*
        }
        mod postgres {
            $(#[test] fn $test() { super::$test(&super::fixture(super::Backend::Postgres)); })*
        }
    };
}

pub mod daemon;
pub mod fixtures;
pub mod postgres;
pub mod readme;
pub mod workspace;

use std::path::PathBuf;

use canopy::store::{self, Store};

/// Copies the realistic example (`examples/realistic`, its files only) into `to`,
/// created if missing: a checkout to edit.
pub fn copy_example(to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the checkout");
    for entry in std::fs::read_dir("examples/realistic").expect("read examples/realistic") {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("a file name")))
                .expect("copy an example file");
        }
    }
}

/// Which backend a test database lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    server: Option<postgres::PostgresServer>,
    _directory: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let directory = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", directory.path().join("canopy.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            server: None,
            _directory: Some(directory),
        }
    }

    pub fn postgres() -> TestDb {
        let server = postgres::PostgresServer::start();
        let url = server.create_database("canopy_test");
        TestDb {
            backend: Backend::Postgres,
            url,
            server: Some(server),
            _directory: None,
        }
    }

    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres(),
        }
    }

    /// Opens the store (migrating on first use).
    pub fn open(&self) -> Box<dyn Store> {
        store::open(&self.url).unwrap_or_else(|error| {
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            panic!("open {}: {error}{cause}", self.url)
        })
    }

    pub fn server(&self) -> Option<&postgres::PostgresServer> {
        self.server.as_ref()
    }

    /// Runs SQL behind canopy's back (a hand edit), on a separate connection.
    pub fn execute(&self, sql: &str) {
        self.try_execute(sql)
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// The real `canopy` binary on this database: `CANOPY_DATABASE_URL` set, no
    /// `CANOPY_SOURCE` from the environment, no colour.
    pub fn canopy(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("canopy").expect("the canopy binary");
        command
            .env_remove("CANOPY_SOURCE")
            .env("NO_COLOR", "1")
            .env("CANOPY_DATABASE_URL", &self.url);
        command
    }

    /// Runs SQL behind canopy's back and returns the database's refusal, if any.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let connection = rusqlite::Connection::open(path).expect("open sqlite");
                connection
                    .execute_batch(sql)
                    .map_err(|error| error.to_string())
            }
            Backend::Postgres => self
                .raw_postgres()
                .execute(sql)
                .map_err(|error| error.to_string()),
        }
    }

    /// Runs a query whose columns are all text (cast them in the SQL) and returns the rows.
    pub fn query_text(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let connection = rusqlite::Connection::open(path).expect("open sqlite");
                let mut statement = connection.prepare(sql).expect("prepare");
                let columns = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..columns)
                            .map(|index| row.get::<_, Option<String>>(index))
                            .collect()
                    })
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            }
            Backend::Postgres => {
                let mut client = self.raw_postgres();
                client
                    .query_text(sql, &[])
                    .unwrap_or_else(|error| panic!("{sql}: {error}"))
            }
        }
    }

    /// A dump of every table, as bytes to compare: SQLite's file itself; on PostgreSQL
    /// every row of every table in the schema, in a fixed order.
    pub fn dump(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let path = PathBuf::from(self.url.trim_start_matches("sqlite://"));
                let mut bytes = std::fs::read(&path).unwrap();
                let mut wal = path.into_os_string();
                wal.push("-wal");
                if let Ok(more) = std::fs::read(&wal) {
                    bytes.extend(more);
                }
                bytes
            }
            Backend::Postgres => {
                let tables = self.query_text(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = 'public' ORDER BY table_name",
                );
                let mut text = String::new();
                for row in tables {
                    let table = row[0].clone().unwrap();
                    // Table names from the catalog, quoted; no user data in the SQL.
                    let rows = self.query_text(&format!(
                        "SELECT t::text FROM \"{table}\" t ORDER BY t::text COLLATE \"C\""
                    ));
                    text.push_str(&format!("== {table}\n"));
                    for row in rows {
                        text.push_str(row[0].as_deref().unwrap_or("NULL"));
                        text.push('\n');
                    }
                }
                text.into_bytes()
            }
        }
    }

    pub fn raw_postgres(&self) -> postgres::RawClient {
        self.server
            .as_ref()
            .expect("a PostgreSQL test database")
            .connect("canopy_test")
    }
}
