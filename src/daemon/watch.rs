//! Watching the checkout: `notify-debouncer-full` on the directory, recursively (editors
//! save by renaming a temporary file, so files themselves are never watched), `.git/`
//! ignored. The full debouncer is used because it passes on the kernel's queue-overflow
//! (rescan) event, which the mini debouncer drops; a rescan makes the next pass read
//! every file again instead of trusting the files kept from earlier passes.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc::UnboundedSender;

/// What the watcher reports to the run loop.
#[derive(Debug, Clone)]
pub enum FileEvent {
    /// Files changed; `first` is when the earliest of them changed, `paths` are the
    /// paths that changed (outside `.git/`).
    Changed { first: Instant, paths: Vec<PathBuf> },
    /// Events were lost (queue overflow) or the watcher failed: read everything.
    Rescan,
}

/// Keeps the watch alive; dropping it stops watching.
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

/// Starts watching `directory`; events arrive on `events`.
pub fn start(
    directory: &Path,
    debounce: Duration,
    events: UnboundedSender<FileEvent>,
) -> Result<Watch, notify_debouncer_full::notify::Error> {
    let tick = (debounce / 4).max(Duration::from_millis(5));
    let mut debouncer = new_debouncer(debounce, Some(tick), move |result: DebounceEventResult| {
        if let Some(event) = summarize(result) {
            let _ = events.send(event);
        }
    })?;
    debouncer.watch(directory, RecursiveMode::Recursive)?;
    Ok(Watch {
        _debouncer: debouncer,
    })
}

/// One message per debounced batch: a rescan wins over changes; `.git/` and
/// access-only events are dropped.
fn summarize(result: DebounceEventResult) -> Option<FileEvent> {
    let events = match result {
        Ok(events) => events,
        Err(errors) => {
            for error in errors {
                tracing::warn!(%error, "file watcher error; reading the whole checkout");
            }
            return Some(FileEvent::Rescan);
        }
    };
    if events.iter().any(|event| event.need_rescan()) {
        tracing::warn!("file watcher lost events (queue overflow); reading the whole checkout");
        return Some(FileEvent::Rescan);
    }
    let mut first = None;
    let mut paths = Vec::new();
    for event in events.iter().filter(|event| !event.kind.is_access()) {
        let before = paths.len();
        paths.extend(event.paths.iter().filter(|path| !inside_git(path)).cloned());
        if paths.len() > before {
            first = Some(first.map_or(event.time, |earlier: Instant| earlier.min(event.time)));
        }
    }
    first.map(|first| FileEvent::Changed { first, paths })
}

fn inside_git(path: &Path) -> bool {
    path.components()
        .any(|component| component == Component::Normal(".git".as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("/repo/.git/index", true)]
    #[case("/repo/.git", true)]
    #[case("/repo/accounts/.github/x.yaml", false)]
    #[case("/repo/accounts/acme.yaml", false)]
    fn only_paths_inside_git_are_ignored(#[case] path: &str, #[case] ignored: bool) {
        assert_eq!(inside_git(Path::new(path)), ignored);
    }
}
