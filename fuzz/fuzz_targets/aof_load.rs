//! The AOF manifest parser and the AOF loader on arbitrary bytes. The first byte chooses: a
//! manifest (which, when valid, must format to text that parses to the same manifest), or an
//! AOF base file loaded through a manifest naming it, as start-up does.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use redislab::persist::aof::manifest::MANIFEST_MAX_LINE;
use redislab::persist::aof::{self, AofPaths, Manifest};

/// The name of the one file the manifest names: the base, which holds the input.
const BASE: &str = "appendonly.aof.1.base.aof";

/// Where scratch files go: memory (`/dev/shm`) where there is one, so that an input costs no
/// disk I/O; else the temporary directory.
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// One scratch directory per fuzzing process, holding an AOF directory whose manifest names
/// one base file. Written once: `aof::load` only reads (it would write only to migrate an old
/// single-file AOF, which is never there), so each input just replaces the base file's bytes.
fn paths() -> &'static AofPaths {
    static PATHS: OnceLock<AofPaths> = OnceLock::new();
    PATHS.get_or_init(|| {
        let workdir = scratch_root().join(format!("redislab-fuzz-aof-{}", std::process::id()));
        let paths = AofPaths::new(workdir);
        let dir = paths.dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("aof dir");
        std::fs::write(paths.manifest(), format!("file {BASE} seq 1 type b\n"))
            .expect("write manifest");
        paths
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    if control & 1 == 0 {
        // A manifest of comments only parses (as in Redis) and names no file; it has no
        // formatted form to round-trip.
        if let Ok(manifest) = Manifest::parse(data, Path::new("fuzz.manifest")) {
            let text = manifest.format();
            // Quoting can make a line longer than the 1024 bytes Redis reads per line (a name
            // full of control bytes grows fourfold); Redis cannot read such a manifest back
            // either, so only shorter ones must round-trip.
            if manifest.is_empty() || text.lines().any(|line| line.len() + 1 > MANIFEST_MAX_LINE) {
                return;
            }
            let again = Manifest::parse(text.as_bytes(), Path::new("fuzz.manifest"))
                .expect("a formatted manifest parses");
            assert_eq!(again.format(), text);
        }
        return;
    }
    let paths = paths();
    std::fs::write(paths.file(BASE), data).expect("write base");
    let mut commands = 0u64;
    let limits = redislab::store::value::EncodingLimits::default();
    let _ = aof::load(paths, limits, |_| {
        commands += 1;
        Ok(())
    });
});
