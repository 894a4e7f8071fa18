//! The cluster bus on arbitrary bytes: a frame that decodes must encode to a frame that
//! decodes, and from then on encoding and decoding are a round trip (the first decode may
//! normalise a string field: bytes that are not UTF-8, an IP cut at 45 bytes); and any frame,
//! valid or not, fed to a node's cluster machine on an inbound and an outbound link, must leave
//! it answering (no panic, no unbounded work).
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use redislab::cluster::{bus, Cluster, Settings};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = bus::decode(data) {
        let normal = bus::decode(&bus::encode(&msg)).expect("an encoded message decodes");
        assert_eq!(normal.header.kind, msg.header.kind);
        let again = bus::decode(&bus::encode(&normal)).expect("an encoded message decodes");
        assert_eq!(again, normal);
    }
    let mut rng = StdRng::seed_from_u64(1);
    let mut cluster = Cluster::new(Settings::default(), 1_000, &mut rng);
    cluster.start_handshake("127.0.0.1", 7000, 17000, 1_000, &mut rng);
    cluster.tick(1_100, &mut rng);
    let inbound = cluster.accepted(1_200, "127.0.0.1", "127.0.0.1");
    // Split the input into frames the way the link reader does.
    let mut rest = data;
    while rest.len() >= 8 {
        let Ok(len) = bus::frame_len(&rest[..8]) else {
            cluster.received(1_300, inbound, &rest[..8]);
            break;
        };
        let len = len.min(rest.len());
        cluster.received(1_300, inbound, &rest[..len]);
        for link in cluster.links.keys().copied().collect::<Vec<_>>() {
            cluster.received(1_400, link, &rest[..len]);
        }
        rest = &rest[len..];
    }
    cluster.tick(60_000, &mut rng);
    let _ = cluster.nodes_text(false);
    let _ = cluster.take_outputs();
});
