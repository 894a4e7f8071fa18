//! The redis.conf parser on arbitrary text, as a file and as command-line overrides: errors
//! with a line number, never a panic or a hang.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use redislab::config::Config;

fn scratch_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        // Memory (`/dev/shm`) where there is one, so that an input costs no disk I/O.
        let shm = std::path::Path::new("/dev/shm");
        let root = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = root.join(format!("redislab-fuzz-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("redis.conf")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_file();
    std::fs::write(path, data).expect("write config");
    let _ = Config::load(Some(path), &[]);
    let text = String::from_utf8_lossy(data);
    let overrides: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let _ = Config::load(None, &overrides);
});
