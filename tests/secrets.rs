//! The database password never leaves canopy: a PostgreSQL URL with a password is
//! given to every command (at the most verbose log level, in every output format, on
//! success and on failure, in `--help`) and to the daemon (its logs, `/status`,
//! `/metrics`, `/healthz`, `/readyz`); the password appears in none of it.

#[macro_use]
mod support;

use std::process::Command;

use support::daemon::Daemon;
use support::postgres::PostgresServer;

const PASSWORD: &str = "Zebra-Quartz-7731-Secret";

fn canopy(url: &str, args: &[&str]) -> String {
    let output = Command::new(assert_cmd::cargo::cargo_bin!("canopy"))
        .env("CANOPY_DATABASE_URL", url)
        .env("CANOPY_LOG", "trace")
        .env("NO_COLOR", "1")
        .env_remove("CANOPY_SOURCE")
        .args(args)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_password_is_never_printed_logged_or_served() {
    let server = PostgresServer::start();
    server.create_database("canopy");
    server
        .connect("postgres")
        .execute(&format!(
            "CREATE ROLE secret_user LOGIN PASSWORD '{PASSWORD}';
             ALTER DATABASE canopy OWNER TO secret_user"
        ))
        .unwrap();
    let url = format!(
        "postgres://secret_user:{PASSWORD}@127.0.0.1:{}/canopy",
        server.port()
    );
    let wrong_port = format!("postgres://secret_user:{PASSWORD}@127.0.0.1:1/canopy");
    let wrong_database = format!(
        "postgres://secret_user:{PASSWORD}@127.0.0.1:{}/nowhere",
        server.port()
    );
    let mut seen = Vec::new();
    let mut run = |what: &str, url: &str, args: &[&str]| {
        seen.push((what.to_string(), canopy(url, args)));
    };
    run(
        "apply",
        &url,
        &["apply", "examples/realistic", "--yes", "-vv"],
    );
    for format in ["text", "json", "markdown", "diff"] {
        run(
            format,
            &url,
            &["plan", "examples/realistic", "-o", format, "-vv"],
        );
    }
    run("get", &url, &["get", "-o", "yaml", "-vv"]);
    run("history", &url, &["history", "-o", "json"]);
    run("usage", &url, &["usage"]);
    run("help", &url, &["apply", "--help"]);
    run(
        "invalid",
        &url,
        &["apply", "examples/invalid", "--yes", "-vv"],
    );
    run("refused", &wrong_port, &["get", "-vv"]);
    run("no database", &wrong_database, &["get", "-vv"]);
    run(
        "flag",
        "sqlite://unused.db",
        &["get", "--database-url", &url, "-vv"],
    );

    let repo = tempfile::tempdir().unwrap();
    support::copy_example(repo.path());
    // The URL comes from the environment (the command line would show it in `ps`).
    let logs = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start_logging(
        &url,
        repo.path(),
        logs.path(),
        &["--log-format", "json", "--resync-interval", "200ms"],
        "trace",
    );
    daemon.wait_ready();
    seen.push(("/status".into(), daemon.get("/status").unwrap_or_default()));
    for path in ["/metrics", "/healthz", "/readyz"] {
        seen.push((path.into(), daemon.get(path).unwrap_or_default()));
    }
    // A database outage while it runs: its errors are logged too.
    server.stop();
    daemon.eventually("the outage to be noticed", |daemon| {
        daemon
            .get("/readyz")
            .is_some_and(|response| response.starts_with("HTTP/1.1 503"))
    });
    seen.push((
        "/status in an outage".into(),
        daemon.get("/status").unwrap_or_default(),
    ));
    seen.push(("daemon log".into(), daemon.log()));
    drop(daemon);

    for (what, text) in &seen {
        assert!(!text.is_empty(), "{what}: no output at all");
        assert!(
            !text.contains(PASSWORD),
            "{what} shows the password:\n{text}"
        );
    }
    let logged = &seen.last().unwrap().1;
    assert!(
        logged.contains("secret_user"),
        "the log names the user: {logged}"
    );
}
