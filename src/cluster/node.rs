//! What one node knows about another (`clusterNode`), and the CLUSTER NODES line that
//! describes it (the same line is what `nodes.conf` stores).

use super::bus::{name_str, NodeName};
use super::slot::{render_ranges, SlotBitmap};
use super::Ms;

/// Node flags (`CLUSTER_NODE_*`), as the bus carries them.
pub mod flags {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;

    /// The names CLUSTER NODES prints, in its order (`redisNodeFlagsTable`).
    pub const NAMES: [(u16, &str); 8] = [
        (MYSELF, "myself"),
        (MASTER, "master"),
        (SLAVE, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];
}

/// One node of the cluster, as this node sees it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: NodeName,
    pub flags: u16,
    pub config_epoch: u64,
    pub slots: SlotBitmap,
    pub num_slots: usize,
    pub replica_of: Option<NodeName>,
    pub replicas: Vec<NodeName>,
    /// When this entry was created (a handshake expires by it).
    pub ctime: Ms,
    pub ping_sent: Ms,
    pub pong_received: Ms,
    pub data_received: Ms,
    pub fail_time: Ms,
    /// When we last voted for a replica of this master.
    pub voted_time: Ms,
    pub repl_offset: u64,
    pub ip: String,
    pub hostname: String,
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    /// Masters that reported this node as failing, and when.
    pub fail_reports: Vec<(NodeName, Ms)>,
    /// The ping number this node was last put in a gossip section for.
    pub last_in_ping_gossip: u64,
    /// Our outbound link to it (`node->link`), if one exists (connecting or connected).
    pub link: Option<super::LinkId>,
    /// The link it connected to us with, once identified (`node->inbound_link`).
    pub inbound_link: Option<super::LinkId>,
}

impl Node {
    pub fn new(name: NodeName, flags: u16, now: Ms) -> Node {
        Node {
            name,
            flags,
            config_epoch: 0,
            slots: SlotBitmap::default(),
            num_slots: 0,
            replica_of: None,
            replicas: Vec::new(),
            ctime: now,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            fail_reports: Vec::new(),
            last_in_ping_gossip: 0,
            link: None,
            inbound_link: None,
        }
    }

    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    pub fn is_master(&self) -> bool {
        self.has(flags::MASTER)
    }

    pub fn is_replica(&self) -> bool {
        self.has(flags::SLAVE)
    }

    pub fn failing(&self) -> bool {
        self.has(flags::FAIL)
    }

    pub fn name_str(&self) -> String {
        name_str(&self.name)
    }

    /// `ip:port` as clients should use it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// The flags as CLUSTER NODES prints them (`myself,master`; `noflags` for none).
pub fn render_flags(f: u16) -> String {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "noflags".into()
    } else {
        names.join(",")
    }
}

/// Parses a flags field; `None` for a flag Redis does not know.
pub fn parse_flags(text: &str) -> Option<u16> {
    let mut out = 0;
    for word in text.split(',') {
        if word.eq_ignore_ascii_case("noflags") {
            continue;
        }
        let (bit, _) = flags::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(word))?;
        out |= bit;
    }
    Some(out)
}

/// What a node's description needs from the rest of the state.
pub struct Describe<'a> {
    /// The master's configEpoch, shown for a replica.
    pub master_epoch: Option<u64>,
    /// True if we hold an outbound link to it.
    pub connected: bool,
    /// For myself: `[slot->-name]` and `[slot-<-name]` entries.
    pub migrations: &'a [String],
}

/// One CLUSTER NODES line, without the newline (`clusterGenNodeDescription`).
pub fn describe(node: &Node, ctx: &Describe) -> String {
    let mut line = node.name_str();
    if node.hostname.is_empty() {
        line += &format!(" {}:{}@{} ", node.ip, node.port, node.cport);
    } else {
        line += &format!(
            " {}:{}@{},{} ",
            node.ip, node.port, node.cport, node.hostname
        );
    }
    line += &render_flags(node.flags);
    line.push(' ');
    match &node.replica_of {
        Some(m) => line += &name_str(m),
        None => line.push('-'),
    }
    let epoch = match (node.is_replica(), ctx.master_epoch) {
        (true, Some(e)) => e,
        _ => node.config_epoch,
    };
    let connected = ctx.connected || node.has(flags::MYSELF);
    line += &format!(
        " {} {} {} {}",
        node.ping_sent,
        node.pong_received,
        epoch,
        if connected {
            "connected"
        } else {
            "disconnected"
        }
    );
    let ranges = render_ranges(&node.slots.ranges());
    if !ranges.is_empty() {
        line.push(' ');
        line += &ranges;
    }
    for m in ctx.migrations {
        line.push(' ');
        line += m;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_in_redis_order_and_parse_back() {
        let f = flags::MASTER | flags::MYSELF | flags::PFAIL;
        assert_eq!(render_flags(f), "myself,master,fail?");
        assert_eq!(parse_flags("myself,master,fail?"), Some(f));
        assert_eq!(render_flags(0), "noflags");
        assert_eq!(parse_flags("noflags"), Some(0));
        assert_eq!(parse_flags("master,bogus"), None);
    }

    #[test]
    fn description_matches_cluster_nodes() {
        let mut n = Node::new([b'a'; 40], flags::MASTER | flags::MYSELF, 0);
        n.ip = "127.0.0.1".into();
        n.port = 9001;
        n.cport = 19001;
        n.config_epoch = 1;
        for s in 0..=5460 {
            n.slots.set(s);
        }
        let line = describe(
            &n,
            &Describe {
                master_epoch: None,
                connected: false,
                migrations: &[],
            },
        );
        assert_eq!(
            line,
            format!(
                "{} 127.0.0.1:9001@19001 myself,master - 0 0 1 connected 0-5460",
                "a".repeat(40)
            )
        );
    }
}
