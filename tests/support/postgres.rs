//! The library's throwaway PostgreSQL ([`canopy::testing::postgres`], shared with
//! `canopy-bench`) behind the API tests want: a server that cannot start, or a
//! database that cannot be created, fails the test with the reason.

use canopy::testing::postgres as library;

pub struct PostgresServer(library::PostgresServer);

impl PostgresServer {
    /// Starts a server; panics (failing the test, never skipping it) when it cannot.
    pub fn start() -> PostgresServer {
        PostgresServer(library::PostgresServer::start().unwrap_or_else(|error| panic!("{error}")))
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        self.0.url(database)
    }

    /// A superuser connection to a database on this server (for hand edits and faults).
    pub fn connect(&self, database: &str) -> postgres::Client {
        self.0
            .connect(database)
            .unwrap_or_else(|error| panic!("{error}"))
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
