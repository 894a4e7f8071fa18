//! What a Sentinel parses from the wire, on arbitrary text: hello messages (from the
//! `__sentinel__:hello` channel) and INFO replies (of the masters and replicas it monitors).
//! Neither may panic; a hello it accepts must print back (`to_payload`) to one that parses to
//! the same hello, as a Sentinel republishes what it learned.
//!
//! Input: one byte choosing the parser (even: hello, odd: INFO), then the text.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use redislab::sentinel::info::{parse_info, Hello};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if which % 2 == 0 {
        if let Some(hello) = Hello::parse(&text) {
            let again = Hello::parse(&hello.to_payload());
            assert_eq!(
                again.as_ref(),
                Some(&hello),
                "a hello prints back to itself"
            );
        }
    } else {
        let _ = parse_info(&text);
    }
});
