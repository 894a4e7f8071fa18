//! The lab-file parser (TOML schema and its checks) on arbitrary text: a clear error, never a
//! panic.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use redislab::lab::spec::Lab;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Lab::parse("fuzz.lab.toml", &text);
});
