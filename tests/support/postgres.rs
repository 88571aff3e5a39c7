//! The library's throwaway PostgreSQL ([`canopy::testing::postgres`], shared with
//! `canopy-bench`) behind the API tests want: a server that cannot start, or a
//! database that cannot be created, fails the test with the reason.

use canopy::testing::postgres as library;

pub use library::RawClient;

pub struct PostgresServer(library::PostgresServer);

impl PostgresServer {
    /// Starts a server; panics (failing the test, never skipping it) when it cannot.
    pub fn start() -> PostgresServer {
        PostgresServer(library::PostgresServer::start().unwrap_or_else(|error| panic!("{error}")))
    }

    /// A server that accepts TLS only, with a certificate for `localhost` signed by a
    /// throwaway CA ([`PostgresServer::ca_certificate`]).
    pub fn start_with_tls() -> PostgresServer {
        PostgresServer(
            library::PostgresServer::start_with_tls().unwrap_or_else(|error| panic!("{error}")),
        )
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    pub fn ca_certificate(&self) -> Option<std::path::PathBuf> {
        self.0.ca_certificate()
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        self.0.url(database)
    }

    /// A superuser connection to a database on this server (for hand edits and faults).
    pub fn connect(&self, database: &str) -> library::RawClient {
        self.0
            .connect(database)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Creates database `name` owned by the role `plain`, who may not call the
    /// advisory-lock functions (an engine without them), and returns `plain`'s URL.
    pub fn database_without_advisory_locks(&self, name: &str) -> String {
        self.create_database(name);
        self.connect("postgres")
            .execute(&format!(
                "CREATE ROLE plain LOGIN; ALTER DATABASE \"{name}\" OWNER TO plain"
            ))
            .expect("create the role");
        // Function privileges live in each database's own catalog.
        self.connect(name)
            .execute(
                "REVOKE EXECUTE ON FUNCTION pg_advisory_xact_lock(bigint), pg_advisory_lock(bigint),
                     pg_try_advisory_lock(bigint), pg_advisory_unlock(bigint) FROM PUBLIC",
            )
            .expect("revoke the advisory locks");
        format!("postgres://plain@127.0.0.1:{}/{name}", self.port())
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.0
            .create_database(name)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Stops the server (an outage); panics when it cannot.
    pub fn stop(&self) {
        self.0.stop().unwrap_or_else(|error| panic!("{error}"));
    }

    /// Starts the stopped server again on the same port; panics when it cannot.
    pub fn restart(&self) {
        self.0.restart().unwrap_or_else(|error| panic!("{error}"));
    }
}
