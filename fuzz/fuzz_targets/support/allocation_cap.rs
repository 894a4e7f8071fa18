//! The fuzz targets' global allocator: any single allocation larger than [`LIMIT_BYTES`]
//! aborts the process, which libFuzzer reports as a crash and saves the input for.
//!
//! libFuzzer's own `-malloc_limit_mb` works through a sanitizer's malloc hooks only, so a build
//! without one (`--sanitizer none`, the fast build for long runs) would let a parser reserve
//! gigabytes from a length it read and never touch them, unseen by `-rss_limit_mb`. This check
//! holds in every build. The limit is far above anything a well-formed input needs (Redis's
//! `proto-max-bulk-len` is 512 MB) and equal to the `-rss_limit_mb=2048` the runs use.

use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;

/// The largest single allocation a target may make.
pub const LIMIT_BYTES: usize = 2 << 30;

/// Wraps an allocator, refusing (by abort) any single allocation over [`LIMIT_BYTES`].
pub struct Capped<A>(pub A);

fn check(size: usize) {
    if size > LIMIT_BYTES {
        // A fixed message: nothing here may allocate.
        let _ = std::io::stderr()
            .write_all(b"==fuzz== a single allocation over 2 GiB: an unbounded allocation\n");
        std::process::abort();
    }
}

// SAFETY: every call is forwarded unchanged to the wrapped allocator after a size check that
// touches no memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Capped<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        self.0.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        self.0.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        self.0.realloc(ptr, layout, new_size)
    }
}
