//! The RDB loader (whole files as `DEBUG RELOAD`, start-up and a replica's full sync read
//! them) and the DUMP payload reader (`RESTORE`) on arbitrary bytes: errors, never a panic or
//! an allocation the input's size does not justify. A payload that loads dumps back to one that
//! loads to the same value.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use redislab::persist::rdb;

fuzz_target!(|data: &[u8]| {
    let _ = rdb::load_snapshot(data);
    if let Ok(value) = rdb::restore_value(data) {
        let dumped = rdb::dump_value(&value);
        let again = rdb::restore_value(&dumped).expect("a dumped value restores");
        assert_eq!(value, again);
    }
});
