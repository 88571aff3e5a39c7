//! Running a program as a measured child process: wall time and peak resident memory
//! (`wait4`'s resource usage of that one child), with its output kept in files so a
//! large output cannot block it on a full pipe.

use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How a measured child ended.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub wall: Duration,
    pub peak_rss_bytes: u64,
    /// None when a signal ended it.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to its end and measures it.
pub fn run(command: &mut Command) -> anyhow::Result<ChildRun> {
    let mut stdout = tempfile::tempfile().context("a file for the child's output")?;
    let mut stderr = tempfile::tempfile().context("a file for the child's errors")?;
    command
        .stdin(Stdio::null())
        .stdout(stdout.try_clone()?)
        .stderr(stderr.try_clone()?);
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let pid = libc::pid_t::try_from(child.id()).context("a process id out of range")?;
    let (status, usage) = wait(pid)?;
    let wall = started.elapsed();
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(ChildRun {
        wall,
        // Linux reports ru_maxrss in kibibytes.
        peak_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        exit_code,
        stdout: read_back(&mut stdout)?,
        stderr: read_back(&mut stderr)?,
    })
}

/// Reaps one child and returns its wait status and resource usage. `std::process`
/// does not expose the usage, hence `wait4`; the `Child` handle is then never waited
/// on again (dropping it neither waits nor kills).
fn wait(pid: libc::pid_t) -> anyhow::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, so all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers refer to live, writable locals of the right types, and
        // `pid` is our own unreaped child.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4 for process {pid}: {error}");
        }
    }
}

fn read_back(file: &mut std::fs::File) -> anyhow::Result<String> {
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
