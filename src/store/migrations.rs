//! The versioned schema: ordered SQL scripts per backend, embedded in the binary.
//!
//! Each backend runs the scripts it has not run yet, each in the transaction that also
//! records its number in `canopy_schema_version`, under the same single-writer lock as
//! an apply, so two canopy processes starting at once migrate once. A database whose
//! recorded version is newer than [`LATEST`] was upgraded by a newer canopy: this one
//! refuses to touch it ([`StoreError::SchemaTooNew`]).

use super::StoreError;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// The scripts for SQLite, oldest first.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema",
        sql: include_str!("migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "change counter",
        sql: include_str!("migrations/sqlite/0002_change_counter.sql"),
    },
    Migration {
        version: 3,
        description: "daemon control: suspension, held plans",
        sql: include_str!("migrations/sqlite/0003_daemon_control.sql"),
    },
    Migration {
        version: 4,
        description: "append-only audit log: TRUNCATE refused too",
        sql: include_str!("migrations/sqlite/0004_audit_append_only.sql"),
    },
    Migration {
        version: 5,
        description: "change nonce (for the snapshot cache)",
        sql: include_str!("migrations/sqlite/0005_change_nonce.sql"),
    },
];

/// The scripts for PostgreSQL, oldest first; same versions and meaning as [`SQLITE`].
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema",
        sql: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "change counter",
        sql: include_str!("migrations/postgres/0002_change_counter.sql"),
    },
    Migration {
        version: 3,
        description: "daemon control: suspension, held plans",
        sql: include_str!("migrations/postgres/0003_daemon_control.sql"),
    },
    Migration {
        version: 4,
        description: "append-only audit log: TRUNCATE refused too",
        sql: include_str!("migrations/postgres/0004_audit_append_only.sql"),
    },
    Migration {
        version: 5,
        description: "change nonce (for the snapshot cache)",
        sql: include_str!("migrations/postgres/0005_change_nonce.sql"),
    },
];

/// The newest schema version this binary knows.
pub const LATEST: i64 = 5;

/// What a migration run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The version found (0: an empty database).
    pub from: i64,
    /// The version now.
    pub to: i64,
}

/// The scripts to run on a database at `current`, or why none may run.
pub fn pending(
    scripts: &'static [Migration],
    current: i64,
) -> Result<&'static [Migration], StoreError> {
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    let start = scripts
        .iter()
        .position(|migration| migration.version > current)
        .unwrap_or(scripts.len());
    Ok(&scripts[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_know_the_same_versions() {
        let versions = |scripts: &[Migration]| -> Vec<i64> {
            scripts.iter().map(|migration| migration.version).collect()
        };
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert_eq!(versions(SQLITE).last(), Some(&LATEST));
    }

    #[test]
    fn an_empty_database_runs_every_script() {
        assert_eq!(pending(SQLITE, 0).unwrap().len(), SQLITE.len());
    }

    #[test]
    fn an_up_to_date_database_runs_nothing() {
        assert!(pending(SQLITE, LATEST).unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        assert!(matches!(
            pending(POSTGRES, LATEST + 1),
            Err(StoreError::SchemaTooNew { found, known }) if found == LATEST + 1 && known == LATEST
        ));
    }
}
