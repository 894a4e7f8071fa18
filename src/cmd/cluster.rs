//! Cluster commands: CLUSTER and its subcommands, ASKING, READONLY, READWRITE, and the check
//! every keyed command passes in cluster mode ([`redirect`]: MOVED, ASK, TRYAGAIN, CROSSSLOT,
//! CLUSTERDOWN), as `getNodeByQuery` decides them.
//!
//! The cluster state is the machine in the engine ([`crate::cluster::Cluster`]); after a
//! command changes it, its driver is woken to act (connect, save `nodes.conf`, ...).

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::cluster::bus::name_str;
use crate::cluster::failover::FailoverMode;
use crate::cluster::node::Node;
use crate::cluster::slot::key_slot;
use crate::cluster::Cluster;
use crate::resp::Reply;
use crate::server::engine::Engine;
use crate::server::session::Session;

pub const COMMANDS: &[Spec] = &[
    Spec::new("cluster", -2, STALE, cluster),
    Spec::new("asking", 1, FAST, asking),
    Spec::new("readonly", 1, FAST | LOADING | STALE, readonly),
    Spec::new("readwrite", 1, FAST | LOADING | STALE, readwrite),
];

fn machine<'a>(cx: &'a mut Exec) -> Result<&'a mut Cluster, CmdError> {
    cx.engine
        .cluster
        .as_deref_mut()
        .ok_or_else(|| CmdError::new("ERR This instance has cluster support disabled"))
}

fn err(text: String) -> CmdError {
    CmdError::new(text)
}

fn slot_arg(arg: &[u8]) -> Result<u16, CmdError> {
    super::args::parse_int(arg)
        .ok()
        .filter(|s| (0..16384).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| CmdError::new("ERR Invalid or out of range slot"))
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];

/// The text of CLUSTER INFO.
pub fn info_text(c: &Cluster) -> String {
    let (pfail, fail) = c.slots_in_trouble();
    let assigned = c.assigned_slots();
    let my_epoch = match c.me().replica_of.and_then(|m| c.node(&m)) {
        Some(m) if c.me().is_replica() => m.config_epoch,
        _ => c.me().config_epoch,
    };
    let mut t = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if c.state_ok { "ok" } else { "fail" },
        assigned - pfail - fail,
        c.nodes.len(),
        c.size,
        c.current_epoch,
    );
    let stats = c.message_stats();
    let mut sent = 0;
    for (name, s, _) in &stats {
        if *s > 0 {
            t += &format!("cluster_stats_messages_{name}_sent:{s}\r\n");
            sent += s;
        }
    }
    t += &format!("cluster_stats_messages_sent:{sent}\r\n");
    let mut received = 0;
    for (name, _, r) in &stats {
        if *r > 0 {
            t += &format!("cluster_stats_messages_{name}_received:{r}\r\n");
            received += r;
        }
    }
    t += &format!("cluster_stats_messages_received:{received}\r\n");
    t += "total_cluster_links_buffer_limit_exceeded:0\r\n";
    t
}

/// One node in CLUSTER SLOTS: ip, port, id, and a map of extra endpoints (empty).
fn slots_node(n: &Node) -> Reply {
    Reply::Array(vec![
        Reply::bulk(n.ip.as_bytes()),
        Reply::Int(n.port as i64),
        Reply::bulk(n.name_str().as_bytes()),
        if n.hostname.is_empty() {
            Reply::Map(vec![])
        } else {
            Reply::Map(vec![(
                Reply::bulk(b"hostname"),
                Reply::bulk(n.hostname.as_bytes()),
            )])
        },
    ])
}

fn cluster_slots(c: &Cluster) -> Reply {
    let mut out = Vec::new();
    for (start, end, master) in c.slot_ranges() {
        let Some(m) = c.node(&master) else {
            continue;
        };
        let mut entry = vec![
            Reply::Int(start as i64),
            Reply::Int(end as i64),
            slots_node(m),
        ];
        for r in &m.replicas {
            if let Some(r) = c.node(r) {
                let offset = if r.name == c.myself {
                    c.repl().offset
                } else {
                    r.repl_offset
                };
                if !r.failing() && offset != 0 {
                    entry.push(slots_node(r));
                }
            }
        }
        out.push(Reply::Array(entry));
    }
    Reply::Array(out)
}

fn shard_node(c: &Cluster, n: &Node) -> Reply {
    let offset = if n.name == c.myself {
        c.repl().offset
    } else {
        n.repl_offset
    };
    let health = if n.failing() {
        "fail"
    } else if n.is_replica() && offset == 0 {
        "loading"
    } else {
        "online"
    };
    let s = |t: &str| Reply::bulk(t.as_bytes());
    let mut fields = vec![
        (s("id"), s(&n.name_str())),
        (s("port"), Reply::Int(n.port as i64)),
        (s("ip"), s(&n.ip)),
        (s("endpoint"), s(&n.ip)),
    ];
    if !n.hostname.is_empty() {
        fields.push((s("hostname"), s(&n.hostname)));
    }
    fields.extend([
        (
            s("role"),
            s(if n.is_master() { "master" } else { "replica" }),
        ),
        (s("replication-offset"), Reply::Int(offset as i64)),
        (s("health"), s(health)),
    ]);
    Reply::Map(fields)
}

fn cluster_shards(c: &Cluster) -> Reply {
    let mut out = Vec::new();
    for m in c.nodes.values().filter(|n| n.is_master()) {
        let mut slots = Vec::new();
        for (a, b) in m.slots.ranges() {
            slots.push(Reply::Int(a as i64));
            slots.push(Reply::Int(b as i64));
        }
        let mut nodes = vec![shard_node(c, m)];
        for r in m.replicas.iter().filter_map(|r| c.node(r)) {
            nodes.push(shard_node(c, r));
        }
        out.push(Reply::Map(vec![
            (Reply::bulk(b"slots"), Reply::Array(slots)),
            (Reply::bulk(b"nodes"), Reply::Array(nodes)),
        ]));
    }
    Reply::Array(out)
}

fn parse_ranges(argv: &[Bytes]) -> Result<Vec<(u16, u16)>, CmdError> {
    let mut out = Vec::new();
    for pair in argv.chunks(2) {
        let a = slot_arg(&pair[0])?;
        let b = slot_arg(&pair[1])?;
        if a > b {
            return Err(err(format!(
                "ERR start slot number {a} is greater than end slot number {b}"
            )));
        }
        out.push((a, b));
    }
    Ok(out)
}

/// The subcommands' arities, as Redis 7.0's command table has them (`-n`: at least n).
const ARITY: &[(&str, i32)] = &[
    ("addslots", -3),
    ("addslotsrange", -4),
    ("bumpepoch", 2),
    ("count-failure-reports", 3),
    ("countkeysinslot", 3),
    ("delslots", -3),
    ("delslotsrange", -4),
    ("failover", -2),
    ("flushslots", 2),
    ("forget", 3),
    ("getkeysinslot", 4),
    ("help", 2),
    ("info", 2),
    ("keyslot", 3),
    ("links", 2),
    ("meet", -4),
    ("myid", 2),
    ("nodes", 2),
    ("replicas", 3),
    ("replicate", 3),
    ("reset", -2),
    ("saveconfig", 2),
    ("set-config-epoch", 3),
    ("setslot", -4),
    ("shards", 2),
    ("slaves", 3),
    ("slots", 2),
];

/// `CLUSTER <subcommand> ...`.
fn cluster(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let typed = args.next()?.clone();
    let sub = typed.to_ascii_lowercase();
    let rest: Vec<Bytes> = args.rest().to_vec();
    let argc = rest.len() + 2;
    if let Some((name, arity)) = ARITY.iter().find(|(n, _)| n.as_bytes() == sub.as_slice()) {
        let ok = if *arity >= 0 {
            argc == *arity as usize
        } else {
            argc >= (-arity) as usize
        };
        if !ok {
            return Err(CmdError::arity(&format!("cluster|{name}")));
        }
    }
    if sub == b"help" && argc == 2 {
        return Ok(Reply::Array(
            HELP.iter().map(|l| Reply::simple(l)).collect(),
        ));
    }
    let now = cx.now.max(0) as u64;
    let db_empty = cx.engine.dbs[0].is_empty();
    let reply = match (sub.as_slice(), argc) {
        (b"meet", 4 | 5) => {
            let port = super::args::parse_int(&rest[1]).map_err(|_| {
                err(format!(
                    "ERR Invalid TCP base port specified: {}",
                    String::from_utf8_lossy(&rest[1])
                ))
            })?;
            let cport = match rest.get(2) {
                Some(c) => super::args::parse_int(c).map_err(|_| {
                    err(format!(
                        "ERR Invalid TCP bus port specified: {}",
                        String::from_utf8_lossy(c)
                    ))
                })?,
                None => port + 10000,
            };
            let ip = String::from_utf8_lossy(&rest[0]).into_owned();
            let c = machine(cx)?;
            if !c.meet(&ip, port, cport, now, &mut rand::thread_rng()) {
                return Err(err(format!(
                    "ERR Invalid node address specified: {ip}:{}",
                    String::from_utf8_lossy(&rest[1])
                )));
            }
            Reply::ok()
        }
        (b"nodes", 2) => Reply::Verbatim(machine(cx)?.nodes_text(false).into()),
        (b"myid", 2) => Reply::bulk(name_str(&machine(cx)?.myself).as_bytes()),
        (b"slots", 2) => cluster_slots(machine(cx)?),
        (b"shards", 2) => cluster_shards(machine(cx)?),
        (b"info", 2) => Reply::Verbatim(info_text(machine(cx)?).into()),
        (b"flushslots", 2) => {
            machine(cx)?;
            if !db_empty {
                return Err(CmdError::new(
                    "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.",
                ));
            }
            machine(cx)?.flush_slots();
            Reply::ok()
        }
        (b"addslots" | b"delslots", n) if n >= 3 => {
            machine(cx)?;
            let mut ranges = Vec::new();
            for a in &rest {
                let s = slot_arg(a)?;
                ranges.push((s, s));
            }
            machine(cx)?
                .assign_slots(&ranges, sub == b"delslots")
                .map_err(err)?;
            Reply::ok()
        }
        (b"addslotsrange" | b"delslotsrange", n) if n >= 4 => {
            machine(cx)?;
            if n % 2 == 1 {
                return Err(CmdError::arity(&format!(
                    "cluster|{}",
                    String::from_utf8_lossy(&sub)
                )));
            }
            let ranges = parse_ranges(&rest)?;
            machine(cx)?
                .assign_slots(&ranges, sub == b"delslotsrange")
                .map_err(err)?;
            Reply::ok()
        }
        (b"setslot", n) if n >= 4 => {
            machine(cx)?;
            let slot = slot_arg(&rest[0])?;
            let keys = cx.engine.dbs[0].slot_index().count(slot);
            let action = String::from_utf8_lossy(&rest[1]).into_owned();
            let node = match n {
                5 => Some(rest[2].as_ref()),
                4 => None,
                _ => return Err(CmdError::new(
                    "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
                )),
            };
            machine(cx)?
                .set_slot(slot, &action, node, keys, now)
                .map_err(err)?;
            Reply::ok()
        }
        (b"bumpepoch", 2) => {
            let (bumped, epoch) = machine(cx)?.bump_epoch();
            Reply::Simple(format!("{} {epoch}", if bumped { "BUMPED" } else { "STILL" }).into())
        }
        (b"saveconfig", 2) => {
            let text = machine(cx)?.config_text();
            let path = cx.shared.config().cluster_config_file.clone();
            let tmp = format!("{path}.tmp-{}", std::process::id());
            std::fs::write(&tmp, text)
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| err(format!("ERR error saving the cluster node config: {e}")))?;
            Reply::ok()
        }
        (b"keyslot", 3) => {
            machine(cx)?;
            Reply::Int(key_slot(&rest[0]) as i64)
        }
        (b"countkeysinslot", 3) => {
            machine(cx)?;
            let slot = super::args::parse_int(&rest[0])?;
            if !(0..16384).contains(&slot) {
                return Err(CmdError::new("ERR Invalid slot"));
            }
            Reply::Int(cx.engine.dbs[0].slot_index().count(slot as u16) as i64)
        }
        (b"getkeysinslot", 4) => {
            machine(cx)?;
            let slot = super::args::parse_int(&rest[0])?;
            let max = super::args::parse_int(&rest[1])?;
            if !(0..16384).contains(&slot) || max < 0 {
                return Err(CmdError::new("ERR Invalid slot or number of keys"));
            }
            let keys = cx.engine.dbs[0]
                .slot_index()
                .keys(slot as u16, max as usize);
            Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
        }
        (b"forget", 3) => {
            machine(cx)?.forget(&rest[0], now).map_err(err)?;
            Reply::ok()
        }
        (b"replicate", 3) => {
            machine(cx)?.replicate(&rest[0], db_empty).map_err(err)?;
            Reply::ok()
        }
        (b"slaves" | b"replicas", 3) => {
            let c = machine(cx)?;
            let n = c.known(&rest[0]).map_err(err)?;
            let node = c.node(&n).expect("known");
            if node.is_replica() {
                return Err(CmdError::new("ERR The specified node is not a master"));
            }
            Reply::Array(
                node.replicas
                    .iter()
                    .filter_map(|r| c.node_line(r))
                    .map(|l| Reply::bulk(l.as_bytes()))
                    .collect(),
            )
        }
        (b"count-failure-reports", 3) => {
            let c = machine(cx)?;
            let n = c.known(&rest[0]).map_err(err)?;
            Reply::Int(c.failure_reports(n, now) as i64)
        }
        (b"failover", 2 | 3) => {
            let mode = match rest.first().map(|a| a.to_ascii_lowercase()) {
                None => FailoverMode::Default,
                Some(m) if m == b"force" => FailoverMode::Force,
                Some(m) if m == b"takeover" => FailoverMode::Takeover,
                Some(_) => return Err(CmdError::syntax()),
            };
            machine(cx)?.failover(mode, now).map_err(err)?;
            Reply::ok()
        }
        (b"set-config-epoch", 3) => {
            let epoch = super::args::parse_int(&rest[0])?;
            machine(cx)?.set_config_epoch(epoch).map_err(err)?;
            Reply::ok()
        }
        (b"reset", 2 | 3) => {
            let hard = match rest.first().map(|a| a.to_ascii_lowercase()) {
                None => false,
                Some(m) if m == b"hard" => true,
                Some(m) if m == b"soft" => false,
                Some(_) => return Err(CmdError::syntax()),
            };
            let master = machine(cx)?.me().is_master();
            if master && !cx.engine.dbs[cx.session.db].is_empty() {
                return Err(CmdError::new(
                    "ERR CLUSTER RESET can't be called with master nodes containing keys",
                ));
            }
            if machine(cx)?.reset(hard, &mut rand::thread_rng()) {
                for db in cx.engine.dbs.iter_mut() {
                    db.clear();
                }
            }
            Reply::ok()
        }
        (b"links", 2) => {
            let c = machine(cx)?;
            let s = |t: &str| Reply::bulk(t.as_bytes());
            Reply::Array(
                c.link_list()
                    .into_iter()
                    .map(|(dir, node, ctime)| {
                        Reply::Map(vec![
                            (s("direction"), s(dir)),
                            (s("node"), s(&name_str(&node))),
                            (s("create-time"), Reply::Int(ctime as i64)),
                            (s("events"), s(if dir == "to" { "rw" } else { "r" })),
                            (s("send-buffer-allocated"), Reply::Int(0)),
                            (s("send-buffer-used"), Reply::Int(0)),
                        ])
                    })
                    .collect(),
            )
        }
        _ => {
            machine(cx)?;
            if ARITY.iter().any(|(n, _)| n.as_bytes() == sub.as_slice()) {
                // A known subcommand with arguments it does not take
                // (`addReplySubcommandSyntaxError`).
                return Err(err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
                    String::from_utf8_lossy(&typed)
                )));
            }
            return Err(CmdError::unknown_subcommand(&typed, "CLUSTER"));
        }
    };
    cx.shared.cluster_wake.notify_one();
    Ok(reply)
}

fn asking(cx: &mut Exec, _: &mut Args) -> Result<Reply, CmdError> {
    machine(cx)?;
    cx.session.asking = true;
    Ok(Reply::ok())
}

fn readonly(cx: &mut Exec, _: &mut Args) -> Result<Reply, CmdError> {
    machine(cx)?;
    cx.session.cluster_readonly = true;
    Ok(Reply::ok())
}

fn readwrite(cx: &mut Exec, _: &mut Args) -> Result<Reply, CmdError> {
    machine(cx)?;
    cx.session.cluster_readonly = false;
    Ok(Reply::ok())
}

/// The key arguments of a command, including commands whose keys move (`numkeys`, `STREAMS`,
/// `STORE`): what the slot check and `COMMAND GETKEYS` need.
pub fn command_keys<'a>(spec: &Spec, argv: &'a [Bytes]) -> Vec<&'a Bytes> {
    let numkeys_at = |at: usize, first: usize| -> Vec<&'a Bytes> {
        let n = argv
            .get(at)
            .and_then(|a| super::args::parse_int(a).ok())
            .unwrap_or(0)
            .max(0) as usize;
        argv.iter().skip(first).take(n).collect()
    };
    match spec.name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => numkeys_at(2, 3),
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut keys = vec![&argv[1]];
            keys.extend(numkeys_at(2, 3));
            keys
        }
        "zunion" | "zinter" | "zdiff" | "sintercard" | "zintercard" | "lmpop" | "zmpop" => {
            numkeys_at(1, 2)
        }
        "blmpop" | "bzmpop" => numkeys_at(2, 3),
        "migrate" => match argv.iter().position(|a| a.eq_ignore_ascii_case(b"keys")) {
            Some(at) if at > 5 && argv[3].is_empty() => argv[at + 1..].iter().collect(),
            _ => vec![&argv[3]],
        },
        "xread" | "xreadgroup" => {
            let Some(at) = argv.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else {
                return Vec::new();
            };
            let rest = &argv[at + 1..];
            rest.iter().take(rest.len() / 2).collect()
        }
        "sort" | "sort_ro" => {
            let mut keys = vec![&argv[1]];
            if let Some(at) = argv.iter().position(|a| a.eq_ignore_ascii_case(b"store")) {
                if let Some(dest) = argv.get(at + 1) {
                    keys.push(dest);
                }
            }
            keys
        }
        _ => spec
            .key_positions(argv.len())
            .into_iter()
            .map(|i| &argv[i])
            .collect(),
    }
}

/// The cluster check of a keyed command (`getNodeByQuery`): `None` when this node serves it.
/// The sharded pub/sub commands (their channels are the keys) are served by the shard: a
/// replica serves them for its master's slots, a slot being migrated keeps them on the source
/// until SETSLOT NODE, and `cluster-allow-pubsubshard-when-down` decides when the cluster is
/// down.
pub fn redirect(
    engine: &mut Engine,
    session: &Session,
    spec: &Spec,
    argv: &[Bytes],
    now: i64,
) -> Option<CmdError> {
    let allow_reads_when_down = engine.command_config.cluster_allow_reads_when_down;
    let allow_shard_when_down = engine.command_config.cluster_allow_pubsubshard_when_down;
    let pubsubshard = matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish");
    let cluster = engine.cluster.as_deref()?;
    if session.is_master_link || matches!(spec.name, "exec" | "multi" | "discard") {
        return None;
    }
    let keys = command_keys(spec, argv);
    let first = keys.first()?;
    let slot = key_slot(first);
    if keys.iter().any(|k| key_slot(k) != slot) {
        return Some(CmdError::new(
            "CROSSSLOT Keys in request don't hash to the same slot",
        ));
    }
    let Some(owner) = cluster.slot_owner_name(slot) else {
        return Some(CmdError::new("CLUSTERDOWN Hash slot not served"));
    };
    let me = cluster.myself;
    let migrating_to = cluster
        .migrating
        .get(&slot)
        .copied()
        .filter(|_| owner == me);
    let importing = cluster.importing.contains_key(&slot);
    if !cluster.state_ok {
        if pubsubshard {
            if !allow_shard_when_down {
                return Some(CmdError::new("CLUSTERDOWN The cluster is down"));
            }
        } else if !allow_reads_when_down {
            return Some(CmdError::new("CLUSTERDOWN The cluster is down"));
        }
        if spec.has(WRITE) {
            return Some(CmdError::new(
                "CLUSTERDOWN The cluster is down and only accepts read commands",
            ));
        }
    }
    let moved = |c: &Cluster, to: &crate::cluster::bus::NodeName, kind: &str| {
        let n = c.node(to).expect("slot owner is known");
        CmdError::new(format!("{kind} {slot} {}:{}", n.ip, n.port))
    };
    if pubsubshard {
        // A channel is no key of the keyspace: nothing to count as missing.
        if owner == me || (importing && session.asking) {
            return None;
        }
    } else if migrating_to.is_some()
        || (importing && (session.asking || spec.name == "restore-asking"))
    {
        let db = session.db;
        let owned: Vec<Bytes> = keys.iter().map(|k| (*k).clone()).collect();
        let missing = owned
            .iter()
            .filter(|k| !engine.dbs[db].contains(k, now))
            .count();
        let cluster = engine.cluster.as_deref()?;
        if let Some(to) = migrating_to {
            if missing > 0 {
                if owned.len() > 1 && missing < owned.len() {
                    return Some(CmdError::new(
                        "TRYAGAIN Multiple keys request during rehashing of slot",
                    ));
                }
                return Some(moved(cluster, &to, "ASK"));
            }
            return None;
        }
        if missing > 0 && owned.len() > 1 {
            return Some(CmdError::new(
                "TRYAGAIN Multiple keys request during rehashing of slot",
            ));
        }
        return None;
    }
    if owner == me {
        return None;
    }
    let read_only = !spec.has(WRITE);
    if (session.cluster_readonly || pubsubshard)
        && read_only
        && cluster.me().is_replica()
        && cluster.me().replica_of == Some(owner)
    {
        return None;
    }
    Some(moved(cluster, &owner, "MOVED"))
}
