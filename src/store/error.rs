//! What can go wrong in the store, and whether trying again may help.
//!
//! ```text
//! StoreError ── what failed (connect to URL, read accounts, commit, …)
//!     └─ source: Cause ── what the database or its driver said, with its SQLSTATE
//!                         and its retry class, decided where the error is made
//! ```
//!
//! A variant's message names what failed; the cause is its [`source`], so print the
//! chain (anyhow's `{:#}`, or walk `source()`) to show both. [`StoreError::is_transient`]
//! says whether the same work may succeed later (a lost connection, a busy lock, a
//! serialization failure) or will fail again until something changes (a constraint,
//! a newer schema, a stale plan, a bad URL).
//!
//! [`source`]: std::error::Error::source

use std::fmt;

/// Whether trying the same work again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The database was unreachable, busy or interrupted: retry with backoff.
    Transient,
    /// The same work fails again until the data, the schema or the settings change.
    Permanent,
}

/// SQLSTATEs whose work may succeed when tried again.
const TRANSIENT_STATES: &[&str] = &[
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "57P01", // admin_shutdown
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now
    "25006", // read_only_sql_transaction (a replica, or a primary failing over)
    "53300", // too_many_connections
    "55P03", // lock_not_available
];

/// The retry class of a PostgreSQL SQLSTATE: the connection-exception class (08) and
/// the states of [`TRANSIENT_STATES`] are transient, every other state is permanent.
pub fn retry_of_sqlstate(code: &str) -> Retry {
    if code.starts_with("08") || TRANSIENT_STATES.contains(&code) {
        Retry::Transient
    } else {
        Retry::Permanent
    }
}

type DriverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the database or its driver said about a failure: the `source` of a
/// [`StoreError`]. Its text is the server's message with its detail (which names the
/// offending key), or the driver's when the server said nothing; the driver's own
/// error stays reachable through [`Cause::driver`] (it is not the `source`, because
/// its text repeats the message).
#[derive(Debug)]
pub struct Cause {
    message: String,
    code: Option<String>,
    retry: Retry,
    driver: Option<DriverError>,
}

impl Cause {
    /// A cause described by canopy itself (no driver error behind it).
    pub fn new(message: impl Into<String>, retry: Retry) -> Cause {
        Cause {
            message: message.into(),
            code: None,
            retry,
            driver: None,
        }
    }

    /// The SQLSTATE (PostgreSQL) or the extended result code name (SQLite).
    pub fn with_code(mut self, code: impl Into<String>) -> Cause {
        self.code = Some(code.into());
        self
    }

    /// Keeps the driver's error behind this cause.
    pub fn with_driver(mut self, driver: impl Into<DriverError>) -> Cause {
        self.driver = Some(driver.into());
        self
    }

    /// The same cause with a clearer message (a hint added).
    pub fn with_message(mut self, message: impl Into<String>) -> Cause {
        self.message = message.into();
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// The driver's error this cause describes, to downcast (e.g. to `std::io::Error`).
    pub fn driver(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.driver.as_deref()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Cause {}

impl From<std::io::Error> for Cause {
    /// File-system and socket failures: transient, except for what waiting cannot fix
    /// (a missing directory, a permission, a read-only file system).
    fn from(error: std::io::Error) -> Cause {
        use std::io::ErrorKind;
        let retry = match error.kind() {
            ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::InvalidInput
            | ErrorKind::InvalidData
            | ErrorKind::Unsupported => Retry::Permanent,
            _ => Retry::Transient,
        };
        Cause::new(error.to_string(), retry).with_driver(error)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("invalid database url `{url}`: {message}")]
    InvalidUrl { url: String, message: String },
    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        #[source]
        cause: Cause,
    },
    #[error(
        "the database schema is at version {found}, newer than this canopy knows ({known}); upgrade canopy"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "the live state changed since the plan was made (plan base {expected}, live {found}); plan again"
    )]
    StalePlan { expected: String, found: String },
    #[error("{operation}")]
    Database {
        operation: String,
        #[source]
        cause: Cause,
    },
    #[error("the plan refers to objects that do not exist: {list}")]
    BrokenReferences { list: String },
    #[error("{table} row `{name}` does not fit the model: {message}")]
    InvalidRow {
        table: String,
        name: String,
        message: String,
    },
    /// A read-only command found no SQLite file (only `apply` and `migrate` create one).
    #[error(
        "no canopy database at {} (set --database-url or CANOPY_DATABASE_URL; `canopy apply` creates it)",
        .0.display()
    )]
    NoDatabase(std::path::PathBuf),
    /// The single-writer lease of `canopy_lock=table` expired and was taken over: this
    /// process must stand by (transient: it may take the role again later).
    #[error("this process no longer holds the single-writer lease (another canopy took over)")]
    LostSessionLock,
}

impl StoreError {
    /// A failed database operation, with what the database or driver said.
    pub fn database(operation: impl Into<String>, cause: impl Into<Cause>) -> StoreError {
        StoreError::Database {
            operation: operation.into(),
            cause: cause.into(),
        }
    }

    /// Whether the same work may succeed when tried again (see [`Retry`]).
    pub fn is_transient(&self) -> bool {
        self.retry() == Retry::Transient
    }

    pub fn retry(&self) -> Retry {
        match self {
            StoreError::Connect { cause, .. } | StoreError::Database { cause, .. } => cause.retry,
            StoreError::UnsupportedUrl(_)
            | StoreError::InvalidUrl { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::StalePlan { .. }
            | StoreError::BrokenReferences { .. }
            | StoreError::InvalidRow { .. }
            | StoreError::NoDatabase(_) => Retry::Permanent,
            StoreError::LostSessionLock => Retry::Transient,
        }
    }

    /// The cause the database or driver gave, if any.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            StoreError::Connect { cause, .. } | StoreError::Database { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("40001", Retry::Transient)]
    #[case("40P01", Retry::Transient)]
    #[case("57P01", Retry::Transient)]
    #[case("57P03", Retry::Transient)]
    #[case("25006", Retry::Transient)]
    #[case("08006", Retry::Transient)]
    #[case("23505", Retry::Permanent)]
    #[case("23503", Retry::Permanent)]
    #[case("28P01", Retry::Permanent)]
    #[case("3D000", Retry::Permanent)]
    #[case("42P01", Retry::Permanent)]
    fn sqlstates_have_a_retry_class(#[case] code: &str, #[case] retry: Retry) {
        assert_eq!(retry_of_sqlstate(code), retry);
    }

    #[test]
    fn the_cause_is_the_source_and_is_not_repeated() {
        let error = StoreError::database(
            "write accounts",
            Cause::new("duplicate key value", Retry::Permanent).with_code("23505"),
        );
        assert_eq!(error.to_string(), "write accounts");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("duplicate key value"));
        assert!(!error.is_transient());
    }

    #[test]
    fn a_refused_socket_is_transient_and_a_missing_directory_is_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(StoreError::database("connect", refused).is_transient());
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!StoreError::database("open", missing).is_transient());
    }

    #[test]
    fn plan_and_schema_errors_are_permanent() {
        let stale = StoreError::StalePlan {
            expected: "a".into(),
            found: "b".into(),
        };
        let newer = StoreError::SchemaTooNew { found: 9, known: 1 };
        assert!(!stale.is_transient() && !newer.is_transient());
    }
}
