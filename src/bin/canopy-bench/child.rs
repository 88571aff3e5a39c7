//! Running a program as a measured child process: wall time and peak resident memory
//! (`wait4`'s resource usage of that one child), with its output kept in files so a
//! large output cannot block it on a full pipe.

use std::ffi::OsString;
use std::io::{Read, Seek};
use std::path::Path;
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

/// What `canopy-bench measure` prints of the program it ran.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Measured {
    wall_seconds: f64,
    peak_rss_bytes: u64,
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args` through `canopy-bench measure`, a fresh and small process, and
/// returns the program's own figures. A child started straight from this (large)
/// process would report this process's resident set as its peak: Linux carries the
/// parent's RSS high-water mark into a vfork/fork child and keeps it across `exec`.
pub fn run_isolated(program: &Path, args: &[OsString]) -> anyhow::Result<ChildRun> {
    let this = std::env::current_exe().context("the path of canopy-bench")?;
    let outer = run(Command::new(this)
        .arg("measure")
        .arg("--")
        .arg(program)
        .args(args))?;
    if outer.exit_code != Some(0) {
        bail!("canopy-bench measure failed: {}", outer.stderr.trim());
    }
    let measured: Measured =
        serde_json::from_str(&outer.stdout).context("reading canopy-bench measure's report")?;
    Ok(ChildRun {
        wall: Duration::from_secs_f64(measured.wall_seconds),
        peak_rss_bytes: measured.peak_rss_bytes,
        exit_code: measured.exit_code,
        stdout: measured.stdout,
        stderr: measured.stderr,
    })
}

/// The `measure` subcommand: runs `command` (program and arguments) and returns its
/// figures as JSON.
pub fn measure(command: &[OsString]) -> anyhow::Result<String> {
    let [program, args @ ..] = command else {
        bail!("measure needs a program to run");
    };
    let run = run(Command::new(program).args(args))?;
    let measured = Measured {
        wall_seconds: run.wall.as_secs_f64(),
        peak_rss_bytes: run.peak_rss_bytes,
        exit_code: run.exit_code,
        stdout: run.stdout,
        stderr: run.stderr,
    };
    Ok(serde_json::to_string(&measured)?)
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
