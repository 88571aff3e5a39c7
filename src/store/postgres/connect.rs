//! Connecting: the URL's settings, the checks made before connecting, and errors that
//! say why a connection failed.
//!
//! sqlx's `PgConnectOptions` reads what libpq reads: the URL (`sslmode`,
//! `sslrootcert`, `sslcert`, `sslkey`, `host`, `port`, `user`, `password`, `dbname`,
//! `application_name`, `options`), the `PG*` environment variables for what the URL
//! leaves out (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
//! `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGAPPNAME`), and the password file
//! (`PGPASSFILE`, default `~/.pgpass`) when no password is given. canopy adds what
//! sqlx lacks: `connect_timeout` (URL or `PGCONNECT_TIMEOUT`, seconds, default 10,
//! `0` waits forever), and it refuses a URL that names no database, which would
//! otherwise connect to the database named after the user.

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError};

use super::super::error::retry_of_sqlstate;
use super::super::{Cause, Result, Retry, StoreError, redact};
use super::lock::Locking;

/// Applied when neither the URL nor `PGCONNECT_TIMEOUT` sets one.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a connection needs, parsed from the URL and the environment.
pub(super) struct Settings {
    pub(super) options: PgConnectOptions,
    /// `None`: wait as long as the operating system does.
    pub(super) connect_timeout: Option<Duration>,
    /// The URL with its password replaced, for messages.
    pub(super) shown: String,
    /// `canopy_lock` and `canopy_lock_ttl`.
    pub(super) locking: Locking,
}

impl Settings {
    pub(super) fn parse(url: &str) -> Result<Settings> {
        let shown = redact(url);
        let invalid = |message: String| StoreError::InvalidUrl {
            url: shown.clone(),
            message,
        };
        let Taken {
            url: url_for_sqlx,
            timeout,
            locking,
        } = take_canopy_settings(url).map_err(invalid)?;
        let timeout = match timeout {
            Some(seconds) => seconds,
            None => match std::env::var("PGCONNECT_TIMEOUT") {
                Ok(value) => parse_timeout(&value).map_err(invalid)?,
                Err(_) => Some(DEFAULT_CONNECT_TIMEOUT),
            },
        };
        let options = PgConnectOptions::from_str(&url_for_sqlx)
            .map_err(|error| invalid(cause_text(&error)))?;
        if options.get_database().is_none() {
            return Err(invalid(
                "it names no database: add one (postgres://HOST/DATABASE) or set PGDATABASE; \
                 canopy does not fall back to the database named after the user"
                    .to_string(),
            ));
        }
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name("canopy"),
        };
        // Statements are logged by canopy's own spans, never by the driver (a slow COPY
        // would otherwise print a warning on every large apply).
        let options = options.disable_statement_logging();
        Ok(Settings {
            options,
            connect_timeout: timeout,
            shown,
            locking,
        })
    }

    /// Connects, within the connect timeout.
    pub(super) async fn connect(&self) -> Result<PgConnection> {
        let attempt = PgConnection::connect_with(&self.options);
        let result = match self.connect_timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(StoreError::Connect {
                        url: self.shown.clone(),
                        cause: Cause::new(
                            format!("no answer within {} s (connect_timeout)", limit.as_secs()),
                            Retry::Transient,
                        ),
                    });
                }
            },
            None => attempt.await,
        };
        result.map_err(|error| StoreError::Connect {
            url: self.shown.clone(),
            cause: explain(error, &self.options),
        })
    }
}

/// libpq's `connect_timeout`: whole seconds, `0` (or less) waits forever, values
/// under 2 count as 2.
fn parse_timeout(value: &str) -> std::result::Result<Option<Duration>, String> {
    let seconds: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("connect_timeout `{value}` is not a whole number of seconds"))?;
    Ok(match seconds {
        ..=0 => None,
        1 => Some(Duration::from_secs(2)),
        _ => Some(Duration::from_secs(seconds.unsigned_abs())),
    })
}

/// What [`take_canopy_settings`] removed from the URL.
struct Taken {
    url: String,
    /// `None`: not in the URL.
    timeout: Option<Option<Duration>>,
    locking: Locking,
}

/// Removes the settings sqlx does not know from the query (`connect_timeout`,
/// `canopy_lock`, `canopy_lock_ttl`) and returns them.
fn take_canopy_settings(url: &str) -> std::result::Result<Taken, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(Taken {
            url: url.to_string(),
            timeout: None,
            locking: Locking::Advisory,
        });
    };
    let mut timeout = None;
    let mut lock = None;
    let mut lease = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "connect_timeout" => timeout = Some(parse_timeout(value)?),
            "canopy_lock" => lock = Some(value),
            "canopy_lock_ttl" => lease = Some(parse_lease(value)?),
            _ if key.starts_with("canopy_") => {
                return Err(format!(
                    "unknown setting `{key}` (canopy knows canopy_lock and canopy_lock_ttl)"
                ));
            }
            _ => kept.push(pair),
        }
    }
    let locking = Locking::parse(lock.unwrap_or("advisory"), lease)?;
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(Taken {
        url,
        timeout,
        locking,
    })
}

/// `canopy_lock_ttl`: whole seconds, at least 2 (a standby takes over this long after
/// the holder stopped renewing).
fn parse_lease(value: &str) -> std::result::Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if seconds >= 2 => Ok(Duration::from_secs(seconds)),
        _ => Err(format!(
            "canopy_lock_ttl `{value}` is not a whole number of seconds, 2 or more"
        )),
    }
}

/// The text of an error and of its sources, each once, joined by `: `.
fn cause_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    let text = parts.join(": ");
    // sqlx prefixes its variants' texts; the operation already says what failed.
    for prefix in [
        "error with configuration: ",
        "error communicating with database: ",
        "error occurred while attempting to establish a TLS connection: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    text
}

impl From<sqlx::Error> for Cause {
    /// Classified by SQLSTATE when the server answered; otherwise a socket failure or a
    /// worker or pool gone is transient and anything else (a setting, TLS, a type) is
    /// not.
    fn from(error: sqlx::Error) -> Cause {
        let (message, code, retry) = match &error {
            sqlx::Error::Database(database) => {
                let code = database.code().map(|code| code.into_owned());
                let message = match database.try_downcast_ref::<PgDatabaseError>() {
                    Some(postgres) => match postgres.detail() {
                        Some(detail) => format!("{}: {detail}", postgres.message()),
                        None => postgres.message().to_string(),
                    },
                    None => database.message().to_string(),
                };
                let retry = code.as_deref().map_or(Retry::Permanent, retry_of_sqlstate);
                (message, code, retry)
            }
            // TLS failures (a certificate refused) reach sqlx as invalid data.
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                (cause_text(&error), None, Retry::Permanent)
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => (cause_text(&error), None, Retry::Transient),
            _ => (cause_text(&error), None, Retry::Permanent),
        };
        let cause = Cause::new(message, retry);
        let cause = match code {
            Some(code) => cause.with_code(code),
            None => cause,
        };
        cause.with_driver(error)
    }
}

/// A failed connection, with what the user can do about it.
fn explain(error: sqlx::Error, options: &PgConnectOptions) -> Cause {
    let host = options.get_host().to_string();
    let port = options.get_port();
    let cause = Cause::from(error);
    let text = cause.message().to_string();
    let hint = match cause.code() {
        Some("28P01") => Some("check the user and password (URL, PGPASSWORD or ~/.pgpass)"),
        Some("3D000") => Some("create the database first (CREATE DATABASE), or fix the name"),
        Some("28000") if text.contains("no encryption") => Some(
            "the server accepts only TLS connections: set sslmode=require, verify-ca or verify-full",
        ),
        _ if text.contains("Connection refused") => {
            return renamed(
                cause,
                format!(
                    "connection refused by {host}:{port}: is PostgreSQL running and listening there? ({text})"
                ),
            );
        }
        _ if text.contains("lookup address") || text.contains("Name or service not known") => {
            return renamed(cause, format!("host `{host}` not found ({text})"));
        }
        _ if text.contains("UnknownIssuer") || text.contains("unknown issuer") => {
            return renamed(
                cause,
                format!(
                    "the server's certificate is not trusted ({text}): name the CA that signed it with sslrootcert=FILE"
                ),
            );
        }
        _ if text.contains("NotValidForName") || text.contains("not valid for name") => {
            return renamed(
                cause,
                format!(
                    "the server's certificate is not valid for host `{host}` ({text}); sslmode=verify-full checks the name, verify-ca does not"
                ),
            );
        }
        _ if text.contains("server does not support TLS") => Some(
            "the server does not offer TLS, which this sslmode requires (use sslmode=prefer or disable, or enable ssl on the server)",
        ),
        _ => None,
    };
    match hint {
        Some(hint) => renamed(cause, format!("{text}: {hint}")),
        None => cause,
    }
}

/// The same cause (code, retry class, driver error) with a clearer message.
fn renamed(cause: Cause, message: String) -> Cause {
    cause.with_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_is_taken_out_of_the_url() {
        let taken =
            take_canopy_settings("postgres://db/canopy?sslmode=require&connect_timeout=5").unwrap();
        assert_eq!(taken.url, "postgres://db/canopy?sslmode=require");
        assert_eq!(taken.timeout, Some(Some(Duration::from_secs(5))));
        assert_eq!(taken.locking, Locking::Advisory);
        let forever = take_canopy_settings("postgres://db/canopy?connect_timeout=0").unwrap();
        assert_eq!(forever.timeout, Some(None));
    }

    #[test]
    fn a_bad_connect_timeout_is_refused() {
        assert!(take_canopy_settings("postgres://db/x?connect_timeout=soon").is_err());
    }

    #[test]
    fn canopy_lock_is_taken_out_of_the_url() {
        let taken =
            take_canopy_settings("postgres://db/canopy?canopy_lock=table&sslmode=require").unwrap();
        assert_eq!(taken.url, "postgres://db/canopy?sslmode=require");
        assert_eq!(
            taken.locking,
            Locking::Table {
                lease: super::super::lock::DEFAULT_LEASE
            }
        );
        let short = take_canopy_settings("postgres://db/c?canopy_lock=table&canopy_lock_ttl=4")
            .unwrap()
            .locking;
        assert_eq!(
            short,
            Locking::Table {
                lease: Duration::from_secs(4)
            }
        );
        let advisory = take_canopy_settings("postgres://db/c?canopy_lock=advisory").unwrap();
        assert_eq!(advisory.locking, Locking::Advisory);
    }

    #[test]
    fn bad_canopy_settings_are_refused_and_named() {
        for (url, named) in [
            ("postgres://db/c?canopy_lock=row", "canopy_lock `row`"),
            (
                "postgres://db/c?canopy_lock=table&canopy_lock_ttl=1",
                "canopy_lock_ttl",
            ),
            (
                "postgres://db/c?canopy_lock_ttl=10",
                "only with canopy_lock=table",
            ),
            (
                "postgres://db/c?canopy_locks=table",
                "unknown setting `canopy_locks`",
            ),
        ] {
            let error = Settings::parse(url).err().expect("refused");
            assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error}");
            assert!(error.to_string().contains(named), "{url}: {error}");
        }
    }

    #[test]
    fn a_url_without_a_database_is_refused_with_a_hint() {
        if std::env::var_os("PGDATABASE").is_some() {
            return;
        }
        let error = Settings::parse("postgres://canopy:secret@db:5432")
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(matches!(error, StoreError::InvalidUrl { .. }), "{message}");
        assert!(message.contains("names no database"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn an_unknown_sslmode_is_an_invalid_url() {
        let error = Settings::parse("postgres://db/canopy?sslmode=sometimes")
            .err()
            .expect("refused");
        assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error}");
    }
}
