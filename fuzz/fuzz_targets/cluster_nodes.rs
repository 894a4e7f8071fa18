//! The cluster manager's reading of a `CLUSTER NODES` reply (a node's answer is outside
//! input): parsing, the agreement signature, and taking a line into a node and printing its
//! summary, as `check` does. Nothing may panic; a parsed reply's signature is stable under
//! reordering its lines.
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use libfuzzer_sys::fuzz_target;
use redislab::client::cluster_manager::topology::{self, Node};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let signature = topology::config_signature(text);
    if let Some(end) = text.rfind('\n') {
        let mut lines: Vec<&str> = text[..end].split('\n').collect();
        lines.reverse();
        let reversed = format!("{}\n", lines.join("\n"));
        assert_eq!(topology::config_signature(&reversed), signature);
    }
    let Ok(parsed) = topology::parse_nodes(text) else {
        return;
    };
    for line in &parsed {
        let mut node = Node::new(&line.ip, line.port, line.bus_port);
        node.apply_line(line);
        node.apply_own_slots(line);
        assert!(node.slots_count >= node.slots.count());
        let _ = topology::node_info(&node, 4);
    }
});
