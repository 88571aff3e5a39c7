//! Dropping what a pass leaves behind off the pass's path, and handing freed memory
//! back to the system once the daemon is idle.
//!
//! Freeing a desired state of 100k accounts takes tens of milliseconds: the pass hands
//! it to this module's thread instead, so its edit is committed and reported first.
//!
//! glibc's allocator keeps memory a pass freed (the desired state, the plan, the rows
//! it read) for reuse, so without this the daemon's resident size while idle would be
//! its peak during a pass, not what it keeps between passes. Trimming right after
//! every pass would make the next pass of a burst fault those pages back in, so the
//! trim waits until no pass ran for [`QUIET`]: a thread of its own, woken after each
//! pass, calls `malloc_trim` once the daemon has been quiet that long.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use crate::manifest::Loaded;

/// How long after the last pass the memory is trimmed.
pub const QUIET: Duration = Duration::from_secs(1);

/// Wakes the trimming thread; dropping it ends the thread.
#[derive(Debug)]
pub struct Trimmer {
    passes: Sender<Option<Loaded>>,
}

impl Trimmer {
    /// Starts the trimming thread (none where there is nothing to trim).
    pub fn start() -> Trimmer {
        let (passes, received) = channel();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            let spawned = std::thread::Builder::new()
                .name("canopy-trim".to_string())
                .spawn(move || trim_when_quiet(&received));
            if let Err(error) = spawned {
                tracing::debug!(%error, "no memory trimming thread");
            }
        }
        Trimmer { passes }
    }

    /// A pass ended, leaving `leftover` to drop: trim once the daemon has been quiet for
    /// [`QUIET`].
    pub fn pass_ended(&self, leftover: Option<Loaded>) {
        // Without the thread (it could not start) the leftover is dropped right here.
        let _ = self.passes.send(leftover);
    }
}

/// Drops each leftover as it arrives; trims after [`QUIET`] without one.
fn trim_when_quiet(passes: &Receiver<Option<Loaded>>) {
    while let Ok(leftover) = passes.recv() {
        drop(leftover);
        loop {
            match passes.recv_timeout(QUIET) {
                Ok(leftover) => drop(leftover),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        release_free_memory();
    }
}

fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused memory of the allocator to the system; it
    // takes no pointers, locks the allocator's arenas itself and may be called from
    // any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_trims_after_quiet_and_ends_with_its_trimmer() {
        let (passes, received) = channel();
        let thread = std::thread::spawn(move || trim_when_quiet(&received));
        passes.send(None).expect("the thread listens");
        passes.send(None).expect("the thread listens");
        drop(passes);
        thread.join().expect("the thread ends without panicking");
    }
}
