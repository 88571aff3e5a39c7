//! Errors of the filesystem under a SQLite file, said in plain words: SQLite reports a
//! full or read-only filesystem as "disk I/O error", "attempt to write a readonly
//! database" or "unable to open database file", whichever call hit it first. When a
//! write or an open fails with such a code, the directory holding the file is checked
//! (`statvfs`) and the message says what an operator must fix.

use std::path::Path;

use super::super::{Cause, StoreError};

/// Below this many free bytes the filesystem counts as full (SQLite writes pages,
/// journals and its shared-memory index in blocks of this order).
const NEARLY_FULL: u64 = 1024 * 1024;

/// The error with the filesystem's state added when that explains it; any other
/// error unchanged.
pub(super) fn explain(error: StoreError, database: &Path) -> StoreError {
    match error {
        StoreError::Connect { url, cause } => StoreError::Connect {
            url,
            cause: explain_cause(cause, database),
        },
        StoreError::Database { operation, cause } => StoreError::Database {
            operation,
            cause: explain_cause(cause, database),
        },
        other => other,
    }
}

fn explain_cause(cause: Cause, database: &Path) -> Cause {
    let storage = matches!(
        cause.code(),
        Some("DiskFull" | "SystemIoFailure" | "ReadOnly" | "CannotOpen")
    );
    if !storage {
        return cause;
    }
    let directory = match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Some(state) = filesystem(directory) else {
        return cause;
    };
    let hint = if state.read_only {
        format!(
            "the filesystem holding {} is read-only",
            directory.display()
        )
    } else if state.available < NEARLY_FULL {
        format!(
            "the filesystem holding {} is full, {} KiB free",
            directory.display(),
            state.available / 1024
        )
    } else {
        return cause;
    };
    let message = format!("{} ({hint})", cause.message());
    cause.with_message(message)
}

struct Filesystem {
    read_only: bool,
    available: u64,
}

fn filesystem(directory: &Path) -> Option<Filesystem> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(directory.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string; `stat` is written by statvfs before it is read.
    let result = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Some(Filesystem {
        read_only: stat.f_flag & libc::ST_RDONLY != 0,
        available: stat.f_bavail.saturating_mul(stat.f_frsize),
    })
}
