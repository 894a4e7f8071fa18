//! The client-side reply parser (RESP2 and RESP3 frames, as `redislab cli`, the labs and the
//! replica link read them) on arbitrary bytes: no panic, no unbounded allocation, and every
//! parsed frame encodes to bytes that parse back to the same encoding.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redislab::resp::frame;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // Each successful parse consumes input, so this loop ends.
    while let Ok(Some(parsed)) = frame::parse(&mut buf) {
        let mut encoded = BytesMut::new();
        parsed.encode(&mut encoded);
        let mut again = encoded.clone();
        let reparsed = frame::parse(&mut again)
            .expect("an encoded frame parses")
            .expect("an encoded frame is complete");
        assert!(again.is_empty(), "an encoded frame is consumed whole");
        let mut reencoded = BytesMut::new();
        reparsed.encode(&mut reencoded);
        assert_eq!(encoded, reencoded);
    }
});
