//! `nodes.conf` on arbitrary text: never a panic; a file that loads writes back a file that
//! loads to the same text.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use redislab::cluster::{Cluster, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(cluster)) = Cluster::from_config(Settings::default(), text, 0) {
        let saved = cluster.config_text();
        let again = Cluster::from_config(Settings::default(), &saved, 0)
            .expect("a saved config loads")
            .expect("it is not empty");
        assert_eq!(again.config_text(), saved);
    }
});
