//! `canopy-bench footprint`: the heap bytes per account that each side of a plan holds,
//! counted by this binary's allocator (not estimated from RSS, which also holds freed
//! memory the allocator keeps, thread stacks and SQLite's page cache).
//!
//! ```text
//! open the store ─ mark ─ snapshot (live side) ─ mark ─ load manifests (desired) ─ mark
//! ```
//!
//! Counting is off except while this command runs, so the other figures of this
//! binary pay one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

/// The system allocator, counting the bytes in use while [`COUNTING`] is on.
pub struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on unchanged.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() && COUNTING.load(Ordering::Relaxed) {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            // Saturating: a block allocated before counting began may be freed now.
            let _ = IN_USE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(layout.size()))
            });
        }
        // SAFETY: the caller's contract for `dealloc`, passed on unchanged.
        unsafe { System.dealloc(pointer, layout) }
    }
}

/// What `footprint` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    pub accounts: usize,
    pub nodes: usize,
    /// The snapshot (live side) as held after the read.
    pub live_bytes_per_account: f64,
    /// The loaded manifests (desired side) as held after the load.
    pub desired_bytes_per_account: f64,
    /// The most the two reads had allocated at once, per account.
    pub peak_bytes_per_account: f64,
    pub node_size: usize,
}

pub fn measure(repository: &Path, database_url: &str) -> anyhow::Result<Footprint> {
    let mut store = canopy::store::open_existing(database_url)?;
    COUNTING.store(true, Ordering::Relaxed);
    let start = IN_USE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let snapshot = store.snapshot()?;
    let after_live = IN_USE.load(Ordering::Relaxed);
    let paths = [repository.display().to_string()];
    let loaded = canopy::manifest::load_with_cache(
        &paths,
        Some(&snapshot.hierarchy),
        &canopy::manifest::ParseCache::from_environment(),
    )?;
    let after_desired = IN_USE.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    COUNTING.store(false, Ordering::Relaxed);
    let accounts = loaded.hierarchy.account_count().max(1);
    let per_account = |bytes: usize| bytes as f64 / accounts as f64;
    let footprint = Footprint {
        accounts,
        nodes: loaded.hierarchy.nodes.len(),
        live_bytes_per_account: per_account(after_live.saturating_sub(start)),
        desired_bytes_per_account: per_account(after_desired.saturating_sub(after_live)),
        peak_bytes_per_account: per_account(peak.saturating_sub(start)),
        node_size: std::mem::size_of::<canopy::model::Node>(),
    };
    drop((loaded, snapshot));
    Ok(footprint)
}
