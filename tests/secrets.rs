//! The database password never leaves canopy: a PostgreSQL URL with a password is
//! given to every command (at the most verbose log level, in every output format, on
//! success and on failure, in `--help`) and to the daemon (its logs, `/status`,
//! `/metrics`, `/healthz`, `/readyz`); the password appears in none of it.

#[macro_use]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
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
    for file in std::fs::read_dir("examples/realistic").unwrap() {
        let path = file.unwrap().path();
        std::fs::copy(&path, repo.path().join(path.file_name().unwrap())).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = repo.path().join("daemon.log");
    let mut daemon = Command::new(assert_cmd::cargo::cargo_bin!("canopy"))
        .env("CANOPY_DATABASE_URL", &url)
        .env("CANOPY_LOG", "trace")
        .args(["run", "--watch"])
        .arg(repo.path())
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .args(["--resync-interval", "200ms"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = get(port, "/status")
            && status.contains("\"ready\":true")
        {
            break status;
        }
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited");
        assert!(Instant::now() < deadline, "the daemon never became ready");
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.push(("/status".into(), status));
    for path in ["/metrics", "/healthz", "/readyz"] {
        seen.push((path.into(), get(port, path).unwrap_or_default()));
    }
    // A database outage while it runs: its errors are logged too.
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(port, "/readyz").is_some_and(|response| response.starts_with("HTTP/1.1 503")) {
        assert!(Instant::now() < deadline, "the outage was never noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    seen.push((
        "/status in an outage".into(),
        get(port, "/status").unwrap_or_default(),
    ));
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    seen.push(("daemon log".into(), std::fs::read_to_string(&log).unwrap()));

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
