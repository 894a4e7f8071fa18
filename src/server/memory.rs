//! Memory accounting for `INFO memory`: a global allocator wrapper that counts live heap bytes,
//! like Redis's `zmalloc` counters, around jemalloc (Redis's allocator, whose size classes
//! waste less on the keyspace's many small buffers than the system malloc). The binary installs it with
//! `#[global_allocator]`; without it (unit tests) `used_memory` reads 0 and INFO falls back to
//! the resident set size.

use std::alloc::{GlobalAlloc, Layout};

use tikv_jemallocator::Jemalloc as Heap;

/// What INFO's `mem_allocator` names (the jemalloc version `tikv-jemalloc-sys` builds).
pub const ALLOCATOR_NAME: &str = "jemalloc-5.3.0";
use std::sync::atomic::{AtomicUsize, Ordering};

static USED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The heap allocator, counting live bytes.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to the heap allocator; only counters are added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Heap.alloc(layout);
        if !ptr.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Heap.dealloc(ptr, layout);
        USED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Heap.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size > layout.size() {
                USED.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                USED.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

/// Live heap bytes (0 when the counting allocator is not installed).
pub fn used_memory() -> usize {
    let used = USED.load(Ordering::Relaxed);
    PEAK.fetch_max(used, Ordering::Relaxed);
    used
}

/// Turns jemalloc's background thread on or off (`jemalloc-bg-thread`, Redis's
/// `set_jemalloc_bg_thread`): with it, freed pages go back to the system as they decay, also
/// while the server is idle; without it, only while it allocates.
pub fn set_background_thread(enabled: bool) -> Result<(), String> {
    let mut value = enabled;
    // SAFETY: mallctl with a NUL-terminated name, writing one bool the size of which it is
    // given, reading nothing.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"background_thread".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut value as *mut bool).cast(),
            std::mem::size_of::<bool>(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "jemalloc refused background_thread={enabled} ({rc})"
        ));
    }
    Ok(())
}

/// Returns the allocator's unused dirty pages to the kernel (MEMORY PURGE, Redis's
/// `jemalloc_purge`): this thread's cache is flushed, then every arena is purged. jemalloc
/// otherwise keeps freed pages for reuse until they decay, which it checks only while it
/// allocates, so an idle server kept them resident for good; the periodic tick calls this once
/// the server goes idle (`node::cron`), as Redis's jemalloc background thread purges.
pub fn purge() -> Result<(), String> {
    for name in [&b"thread.tcache.flush\0"[..], &b"arena.4096.purge\0"[..]] {
        // SAFETY: mallctl with a NUL-terminated name and no value read or written; 4096 is
        // jemalloc's MALLCTL_ARENAS_ALL.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 {
            return Err("Error purging dirty pages".to_string());
        }
    }
    Ok(())
}

/// The highest `used_memory` seen when INFO was asked.
pub fn peak_memory() -> usize {
    PEAK.load(Ordering::Relaxed).max(used_memory())
}

/// Resident set size in bytes, from /proc (0 where unavailable).
pub fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in Redis's human form: `1.23M`, `512.00K`, `10B`.
pub fn human_bytes(n: usize) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}
