//! What the cluster manager knows about one node, read from `CLUSTER NODES`, and the text
//! redis-cli prints about it.
//!
//! Everything here is pure: parsing a `CLUSTER NODES` reply as redis-cli 7.0's
//! `clusterManagerNodeLoadInfo` does, the "do all nodes agree" signature
//! (`clusterManagerGetConfigSignature`), and the node summaries of `check` and `create`
//! (`clusterManagerNodeInfo`, `clusterManagerNodeSlotsString`).

use crate::client::connection::Client;
use crate::cluster::slot::SlotBitmap;

/// Hash slots in a Redis Cluster.
pub const SLOTS: usize = 16384;
/// The bus port's default distance from the client port.
pub const PORT_INCR: u32 = 10000;

/// One slot token of a `CLUSTER NODES` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotSpec {
    /// `lo-hi` or a single slot (`lo == hi`).
    Range(usize, usize),
    /// `[slot->-<target id>]`.
    Migrating(String, String),
    /// `[slot-<-<source id>]`.
    Importing(String, String),
}

/// One line of a `CLUSTER NODES` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    /// The 40-hex node id.
    pub name: String,
    /// The address before `:port`.
    pub ip: String,
    /// The client port.
    pub port: u16,
    /// The bus port after `@` (0 when absent).
    pub bus_port: u16,
    /// `myself`, `master`, `slave`, `fail?`, ... in wire order.
    pub flags: Vec<String>,
    /// The master's id for a replica, `-` otherwise (absent on a short line).
    pub master_id: Option<String>,
    /// The config epoch (a replica prints its master's).
    pub config_epoch: u64,
    /// `connected` or `disconnected`.
    pub link_state: Option<String>,
    /// The slot tokens (fields 9 and on).
    pub slots: Vec<SlotSpec>,
}

impl NodeLine {
    /// Whether the line carries `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// The leading decimal digits of `text` as C's `atoi` reads them (0 when there are none).
pub fn atoi(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// `ip:port[@bus_port]` as redis-cli's `parseClusterNodeAddress` reads it: the last `@`, then
/// the last `:`. `None` without a `:` or with a port beyond 65535; a node without an address
/// (`:0@0`) reads as port 0.
pub fn parse_address(addr: &str) -> Option<(String, u16, u16)> {
    let (addr, bus) = match addr.rsplit_once('@') {
        Some((addr, bus)) => (addr, atoi(bus)),
        None => (addr, 0),
    };
    let (ip, port) = addr.rsplit_once(':')?;
    let port = u16::try_from(atoi(port)).ok()?;
    Some((ip.to_string(), port, u16::try_from(bus).unwrap_or(0)))
}

/// A node given on the command line (`getClusterHostFromCmdArgs`): `host:port`, or `host` and
/// `port` as two words. `None` unless both are there and the port is not 0.
pub fn parse_host_args(args: &[String]) -> Option<(String, u16)> {
    let (ip, port) = match args {
        [addr] => {
            let (ip, port, _) = parse_address(addr)?;
            (ip, port)
        }
        [ip, port, ..] => (ip.clone(), u16::try_from(atoi(port)).ok()?),
        [] => return None,
    };
    (!ip.is_empty() && port != 0).then_some((ip, port))
}

/// Parses a `CLUSTER NODES` reply. Only `\n`-terminated lines count (an unterminated tail is
/// dropped, as redis-cli does). A line without flags, or an address or slot that cannot be
/// read, makes the whole reply invalid.
pub fn parse_nodes(text: &str) -> Result<Vec<NodeLine>, String> {
    let mut lines = Vec::new();
    let Some(complete) = text.rfind('\n').map(|end| &text[..end]) else {
        return Ok(lines);
    };
    for line in complete.split('\n') {
        lines.push(parse_line(line)?);
    }
    Ok(lines)
}

fn invalid() -> String {
    "invalid CLUSTER NODES reply".to_string()
}

fn parse_line(line: &str) -> Result<NodeLine, String> {
    let fields: Vec<&str> = line.split(' ').collect();
    // redis-cli reads a field only when a space follows it: with fewer than 3 spaces there
    // are no flags, and the slot list starts after the eighth space.
    if fields.len() < 4 {
        return Err(invalid());
    }
    let (ip, port, bus_port) = parse_address(fields[1]).ok_or_else(invalid)?;
    let field = |i: usize| (i + 1 < fields.len()).then(|| fields[i].to_string());
    let mut slots = Vec::new();
    if fields.len() > 8 {
        for token in &fields[8..] {
            if let Some(spec) = parse_slot_token(token)? {
                slots.push(spec);
            }
        }
    }
    Ok(NodeLine {
        name: fields[0].to_string(),
        ip,
        port,
        bus_port,
        flags: fields[2]
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        master_id: field(3),
        config_epoch: field(6).map_or(0, |e| atoi(&e).max(0) as u64),
        link_state: field(7),
        slots,
    })
}

fn slot_number(text: &str) -> Result<usize, String> {
    usize::try_from(atoi(text))
        .ok()
        .filter(|s| *s < SLOTS)
        .ok_or_else(invalid)
}

fn parse_slot_token(token: &str) -> Result<Option<SlotSpec>, String> {
    if let Some(open) = token.strip_prefix('[') {
        let body = open.strip_suffix(']').unwrap_or(open);
        if let Some((slot, id)) = body.split_once("->-") {
            return Ok(Some(SlotSpec::Migrating(slot.to_string(), id.to_string())));
        }
        if let Some((slot, id)) = body.split_once("-<-") {
            return Ok(Some(SlotSpec::Importing(slot.to_string(), id.to_string())));
        }
        return Ok(None);
    }
    if token.is_empty() {
        return Ok(None);
    }
    Ok(Some(match token.split_once('-') {
        Some((lo, hi)) => SlotSpec::Range(slot_number(lo)?, slot_number(hi)?),
        None => {
            let slot = slot_number(token)?;
            SlotSpec::Range(slot, slot)
        }
    }))
}

/// The "all nodes agree" signature of one node's `CLUSTER NODES`: for every line with slots,
/// `id:<its slot tokens sorted as strings, joined by ','>` (bracketed tokens ignored), the
/// entries sorted and joined by `|`. `None` when no line has slots (or the reply is an
/// error), which redis-cli counts as "not consistent".
pub fn config_signature(text: &str) -> Option<String> {
    let complete = &text[..text.rfind('\n')?];
    let mut entries = Vec::new();
    for line in complete.split('\n') {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() <= 8 {
            continue;
        }
        let mut slots: Vec<&str> = fields[8..]
            .iter()
            .copied()
            .filter(|t| !t.starts_with('['))
            .collect();
        if slots.is_empty() {
            continue;
        }
        slots.sort_unstable();
        entries.push(format!("{}:{}", fields[0], slots.join(",")));
    }
    if entries.is_empty() {
        return None;
    }
    entries.sort_unstable();
    Some(entries.join("|"))
}

/// A node as the manager sees it (redis-cli's `clusterManagerNode`).
#[derive(Debug)]
pub struct Node {
    /// The address used to reach it.
    pub ip: String,
    /// The client port.
    pub port: u16,
    /// The bus port (port + 10000 until `CLUSTER NODES` says otherwise).
    pub bus_port: u16,
    /// Its id (empty until loaded).
    pub name: String,
    /// Its flags as `CLUSTER NODES` lists them.
    pub flags: Vec<String>,
    /// The master it replicates (loaded, or planned by `create`).
    pub replicate: Option<String>,
    /// Which slots it serves.
    pub slots: SlotBitmap,
    /// How many slots it serves.
    pub slots_count: usize,
    /// `(slot, target id)` for slots it is migrating away.
    pub migrating: Vec<(String, String)>,
    /// `(slot, source id)` for slots it is importing.
    pub importing: Vec<(String, String)>,
    /// The config epoch from its line.
    pub current_epoch: u64,
    /// How many known nodes replicate it.
    pub replicas_count: usize,
    /// A planned configuration not yet sent (`create`).
    pub dirty: bool,
    /// Its weight for `rebalance`.
    pub weight: f32,
    /// Slots to give (positive) or take (negative) in `rebalance`.
    pub balance: i64,
    /// The connection to it, once made.
    pub conn: Option<Client>,
}

impl Node {
    /// A node known only by its address.
    pub fn new(ip: &str, port: u16, bus_port: u16) -> Node {
        let bus_port = if bus_port == 0 {
            u16::try_from(u32::from(port) + PORT_INCR).unwrap_or(0)
        } else {
            bus_port
        };
        Node {
            ip: ip.to_string(),
            port,
            bus_port,
            name: String::new(),
            flags: Vec::new(),
            replicate: None,
            slots: SlotBitmap::default(),
            slots_count: 0,
            migrating: Vec::new(),
            importing: Vec::new(),
            current_epoch: 0,
            replicas_count: 0,
            dirty: false,
            weight: 1.0,
            balance: 0,
            conn: None,
        }
    }

    /// `ip:port`, as every message names a node.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Whether `CLUSTER NODES` flagged it `slave`.
    pub fn is_slave(&self) -> bool {
        self.has_flag("slave")
    }

    /// Whether it carries `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A master for the manager's purposes: neither flagged `slave` nor set to replicate.
    pub fn is_serving_master(&self) -> bool {
        !self.is_slave() && self.replicate.is_none()
    }

    /// Takes what a line says about the node: id, flags, master, epoch.
    pub fn apply_line(&mut self, line: &NodeLine) {
        self.name = line.name.clone();
        self.flags = line.flags.clone();
        if line.has_flag("slave") {
            if let Some(master) = &line.master_id {
                self.replicate = Some(master.clone());
            }
        }
        self.current_epoch = line.config_epoch;
    }

    /// Takes the slots and open slots of the node's own (`myself`) line.
    pub fn apply_own_slots(&mut self, line: &NodeLine) {
        self.bus_port = line.bus_port;
        self.slots.clear_all();
        self.slots_count = 0;
        self.migrating.clear();
        self.importing.clear();
        for spec in &line.slots {
            match spec {
                SlotSpec::Range(lo, hi) => {
                    self.slots.set_range(*lo, *hi);
                    // As redis-cli counts: a range adds its width even when ranges overlap.
                    self.slots_count += (hi + 1).saturating_sub(*lo);
                }
                SlotSpec::Migrating(slot, id) => self.migrating.push((slot.clone(), id.clone())),
                SlotSpec::Importing(slot, id) => self.importing.push((slot.clone(), id.clone())),
            }
        }
        self.dirty = false;
    }

    /// Assigns `slots`, marking the node as needing ADDSLOTS.
    pub fn assign_slots(&mut self, slots: std::ops::RangeInclusive<usize>) {
        self.slots_count = slots.clone().count();
        self.slots.set_range(*slots.start(), *slots.end());
        self.dirty = true;
    }
}

/// `[0-5460],[5462]`: the slots as redis-cli lists them.
pub fn slots_string(slots: &SlotBitmap) -> String {
    slots
        .ranges()
        .iter()
        .map(|&(start, end)| {
            if start == end {
                format!("[{start}]")
            } else {
                format!("[{start}-{end}]")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The flags without `myself`, comma-joined.
pub fn flags_string(flags: &[String]) -> String {
    flags
        .iter()
        .filter(|f| *f != "myself")
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The node summary of `check` and `create` (`clusterManagerNodeInfo`), indented by
/// `indent` spaces, without a final newline.
pub fn node_info(node: &Node, indent: usize) -> String {
    let spaces = " ".repeat(indent);
    let mut info = spaces.clone();
    let role = if node.is_slave() { "S" } else { "M" };
    if node.dirty && node.replicate.is_some() {
        info.push_str(&format!("S: {} {}:{}", node.name, node.ip, node.port));
    } else {
        info.push_str(&format!(
            "{role}: {} {}:{}\n{spaces}   slots:{} ({} slots) {}",
            node.name,
            node.ip,
            node.port,
            slots_string(&node.slots),
            node.slots_count,
            flags_string(&node.flags)
        ));
    }
    if let Some(master) = &node.replicate {
        info.push_str(&format!("\n{spaces}   replicates {master}"));
    } else if node.replicas_count > 0 {
        info.push_str(&format!(
            "\n{spaces}   {} additional replica(s)",
            node.replicas_count
        ));
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
9de8fec6aaaa 127.0.0.1:22002@32002 master - 0 1795531138108 7 connected 0-4 5461-10922
91165c14bbbb 127.0.0.1:22005@32005 slave 648be2eecccc 0 1795531139011 1 connected
648be2eecccc 127.0.0.1:22001@32001,host-a myself,master - 0 1795531122000 1 connected 5-5460 [5->-9de8fec6aaaa] [7-<-9de8fec6aaaa]
";

    #[test]
    fn nodes_reply_parses_like_redis_cli() {
        let lines = parse_nodes(NODES).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].ip, "127.0.0.1");
        assert_eq!((lines[0].port, lines[0].bus_port), (22002, 32002));
        assert_eq!(
            lines[0].slots,
            [SlotSpec::Range(0, 4), SlotSpec::Range(5461, 10922)]
        );
        assert!(lines[1].has_flag("slave"));
        assert_eq!(lines[1].master_id.as_deref(), Some("648be2eecccc"));
        assert_eq!(
            lines[1].link_state.as_deref(),
            None,
            "last field has no space after it"
        );
        assert_eq!(
            lines[2].bus_port, 32001,
            "hostname after the bus port is ignored"
        );
        assert_eq!(
            lines[2].slots[1..],
            [
                SlotSpec::Migrating("5".into(), "9de8fec6aaaa".into()),
                SlotSpec::Importing("7".into(), "9de8fec6aaaa".into())
            ]
        );
        let mut node = Node::new("127.0.0.1", 22001, 0);
        node.apply_line(&lines[2]);
        node.apply_own_slots(&lines[2]);
        assert_eq!(node.slots_count, 5456);
        assert_eq!(node.migrating.len(), 1);
        assert!(parse_nodes("abc 127.0.0.1:1@2\n").is_err(), "no flags");
        assert!(parse_nodes("abc nocolon master - 0 0 0 connected\n").is_err());
        assert!(parse_nodes("a 1.2.3.4:5@6 master - 0 0 0 connected 0-99999\n").is_err());
        assert_eq!(parse_nodes("unterminated line").unwrap(), []);
    }

    #[test]
    fn addresses_parse_like_redis_cli() {
        assert_eq!(
            parse_address("127.0.0.1:7000"),
            Some(("127.0.0.1".into(), 7000, 0))
        );
        assert_eq!(
            parse_address("::1:7000@17001"),
            Some(("::1".into(), 7000, 17001))
        );
        assert_eq!(parse_address("h:7000x"), Some(("h".into(), 7000, 0)));
        assert_eq!(parse_address("7000"), None);
        assert_eq!(parse_address(":0@0"), Some((String::new(), 0, 0)));
        assert_eq!(parse_address("h:70000"), None);
        let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(parse_host_args(&words("h:1")), Some(("h".into(), 1)));
        assert_eq!(parse_host_args(&words("h 2")), Some(("h".into(), 2)));
        assert_eq!(parse_host_args(&words("h:0")), None);
        assert_eq!(parse_host_args(&words("h")), None);
    }

    #[test]
    fn signature_ignores_open_slots_and_order() {
        let a = config_signature(NODES).unwrap();
        assert_eq!(
            a, "648be2eecccc:5-5460|9de8fec6aaaa:0-4,5461-10922",
            "sorted as strings"
        );
        let reordered = "\
648be2eecccc 127.0.0.1:22001@32001 master - 0 0 1 connected 5-5460
91165c14bbbb 127.0.0.1:22005@32005 myself,slave 648be2eecccc 0 0 1 connected
9de8fec6aaaa 127.0.0.1:22002@32002 master - 0 0 7 connected 5461-10922 0-4
";
        assert_eq!(config_signature(reordered).unwrap(), a);
        assert_eq!(
            config_signature("x 1.1.1.1:1@2 myself,master - 0 0 0 connected\n"),
            None
        );
    }

    #[test]
    fn node_summaries_match_redis_cli() {
        let mut slots = SlotBitmap::default();
        assert_eq!(slots_string(&slots), "");
        slots.set(0);
        slots.set(2);
        slots.set(3);
        slots.set(SLOTS - 1);
        assert_eq!(slots_string(&slots), "[0],[2-3],[16383]");

        let mut master = Node::new("127.0.0.1", 7000, 0);
        master.name = "m1".into();
        master.flags = vec!["myself".into(), "master".into()];
        master.assign_slots(0..=5460);
        master.replicas_count = 1;
        assert_eq!(
            node_info(&master, 0),
            "M: m1 127.0.0.1:7000\n   slots:[0-5460] (5461 slots) master\n   1 additional replica(s)"
        );
        let mut planned = Node::new("127.0.0.1", 7003, 0);
        planned.name = "s1".into();
        planned.flags = vec!["myself".into(), "master".into()];
        planned.replicate = Some("m1".into());
        planned.dirty = true;
        assert_eq!(
            node_info(&planned, 0),
            "S: s1 127.0.0.1:7003\n   replicates m1"
        );
        planned.dirty = false;
        planned.flags = vec!["slave".into()];
        assert_eq!(
            node_info(&planned, 4),
            "    S: s1 127.0.0.1:7003\n       slots: (0 slots) slave\n       replicates m1"
        );
    }
}
