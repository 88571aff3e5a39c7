//! Connecting to PostgreSQL as production does: TLS in every `sslmode` against a server
//! that accepts TLS only (a throwaway CA made with `openssl`), the `PG*` variables and
//! `.pgpass` through the real binary, and one test per connection failure showing the
//! message a user gets (the cause, a hint, never the password).

#[macro_use]
mod support;

use assert_cmd::Command;
use canopy::store::{self, StoreError};
use predicates::prelude::*;
use support::postgres::PostgresServer;

const PASSWORD: &str = "right-horse-battery";

/// A TLS-only server with a database `canopy` and a role `canopy_user` that needs
/// [`PASSWORD`].
fn tls_server() -> PostgresServer {
    let server = PostgresServer::start_with_tls();
    server.create_database("canopy");
    server
        .connect("postgres")
        .execute(&format!(
            "CREATE ROLE canopy_user LOGIN PASSWORD '{PASSWORD}';
             GRANT ALL ON DATABASE canopy TO canopy_user;
             ALTER DATABASE canopy OWNER TO canopy_user"
        ))
        .expect("create the password role");
    server
}

fn ca(server: &PostgresServer) -> String {
    server
        .ca_certificate()
        .expect("a TLS server")
        .display()
        .to_string()
}

/// The error of a failed open and its text with every cause, as the CLI prints it.
fn open_error(url: &str) -> (StoreError, String) {
    let error = store::open(url).err().expect("the connection fails");
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    (error, message)
}

#[test]
fn require_verify_ca_and_verify_full_connect_over_tls() {
    let server = tls_server();
    let port = server.port();
    let ca = ca(&server);
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/canopy?sslmode=require"),
        format!("postgres://postgres@127.0.0.1:{port}/canopy?sslmode=verify-ca&sslrootcert={ca}"),
        format!("postgres://postgres@localhost:{port}/canopy?sslmode=verify-full&sslrootcert={ca}"),
        // prefer (the default) upgrades when the server offers TLS.
        format!("postgres://postgres@127.0.0.1:{port}/canopy"),
    ] {
        let mut store = store::open(&url).unwrap_or_else(|error| panic!("{url}: {error:#?}"));
        // The session really is encrypted.
        assert!(store.snapshot().is_ok(), "{url}");
        let ssl = server
            .connect("canopy")
            .query_one_text(
                "SELECT bool_and(ssl)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
                 WHERE application_name = 'canopy'",
                &[],
            )
            .unwrap();
        assert_eq!(ssl.as_deref(), Some("true"), "{url}");
    }
}

#[test]
fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let server = tls_server();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/canopy?sslmode=verify-full&sslrootcert={}",
        server.port(),
        ca(&server)
    );
    let (error, message) = open_error(&url);
    assert!(matches!(error, StoreError::Connect { .. }), "{message}");
    assert!(
        message.contains("not valid for host `127.0.0.1`"),
        "{message}"
    );
    assert!(!error.is_transient(), "{message}");
}

#[test]
fn a_certificate_from_an_unknown_ca_is_not_trusted() {
    let server = tls_server();
    let url = format!(
        "postgres://postgres@localhost:{}/canopy?sslmode=verify-ca",
        server.port()
    );
    let (_, message) = open_error(&url);
    assert!(message.contains("certificate is not trusted"), "{message}");
    assert!(message.contains("sslrootcert"), "{message}");
}

#[test]
fn a_server_that_requires_tls_says_so() {
    let server = tls_server();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/canopy?sslmode=disable",
        server.port()
    );
    let (_, message) = open_error(&url);
    assert!(
        message.contains("the server accepts only TLS connections"),
        "{message}"
    );
}

#[test]
fn a_wrong_password_fails_authentication_and_is_never_shown() {
    let server = tls_server();
    let url = format!(
        "postgres://canopy_user:wrong-secret@127.0.0.1:{}/canopy?sslmode=require",
        server.port()
    );
    let (error, message) = open_error(&url);
    assert!(
        message.contains("password authentication failed for user \"canopy_user\""),
        "{message}"
    );
    assert!(!message.contains("wrong-secret"), "{message}");
    assert!(message.contains("canopy_user:***@"), "{message}");
    assert!(!error.is_transient(), "{message}");
}

#[test]
fn a_missing_database_is_named() {
    let server = PostgresServer::start();
    let (_, message) = open_error(&server.url("no_such_database"));
    assert!(
        message.contains("database \"no_such_database\" does not exist"),
        "{message}"
    );
    assert!(message.contains("CREATE DATABASE"), "{message}");
}

#[test]
fn a_refused_connection_names_the_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (error, message) = open_error(&format!("postgres://canopy:pw@127.0.0.1:{port}/canopy"));
    assert!(
        message.contains(&format!("connection refused by 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(error.is_transient(), "{message}");
}

#[test]
fn an_unknown_host_is_named() {
    let (_, message) = open_error("postgres://canopy@no-such-host.invalid/canopy");
    assert!(
        message.contains("host `no-such-host.invalid` not found"),
        "{message}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Accepted by the kernel's backlog, never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (error, message) = open_error(&format!(
        "postgres://canopy@127.0.0.1:{port}/canopy?connect_timeout=2"
    ));
    assert!(message.contains("no answer within 2 s"), "{message}");
    assert!(error.is_transient(), "{message}");
}

fn canopy() -> Command {
    let mut command = Command::cargo_bin("canopy").unwrap();
    for variable in [
        "CANOPY_DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGPASSFILE",
    ] {
        command.env_remove(variable);
    }
    command
}

#[test]
fn the_binary_refuses_a_url_without_a_database_name() {
    canopy()
        .args(["get", "--database-url", "postgres://canopy:pw@127.0.0.1:1"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("names no database")
                .and(predicate::str::contains("pw@").not()),
        );
}

#[test]
fn help_never_shows_the_database_url_from_the_environment() {
    canopy()
        .env("CANOPY_DATABASE_URL", "postgres://canopy:hunter2@db/canopy")
        .args(["get", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("CANOPY_DATABASE_URL")
                .and(predicate::str::contains("hunter2").not()),
        );
}

#[test]
fn pg_variables_and_pgpass_are_honoured() {
    let server = tls_server();
    let directory = tempfile::tempdir().unwrap();
    let pgpass = directory.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "localhost:{}:canopy:canopy_user:{PASSWORD}\n",
            server.port()
        ),
    )
    .unwrap();
    // .pgpass must not be readable by others, as libpq requires.
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    canopy()
        .args(["migrate", "--database-url", "postgres://"])
        .env("PGHOST", "localhost")
        .env("PGPORT", server.port().to_string())
        .env("PGUSER", "canopy_user")
        .env("PGDATABASE", "canopy")
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", ca(&server))
        .env("PGPASSFILE", &pgpass)
        .assert()
        .success()
        .stdout(predicate::str::contains("schema migrated from version 0"));
}
