//! Redis Cluster as a pure state machine (`cluster.c` in Redis 7.0 is the reference for every
//! rule; [`bus`] is its wire format, byte for byte).
//!
//! [`Cluster`] is one node's view: the nodes it knows, who serves each of the 16384 slots,
//! the epochs, failure reports, elections and migrations. It never touches a clock, a socket or
//! a random source. The driver (`node::cluster`) feeds it inputs — a link accepted, connected
//! or closed, a frame received, [`Cluster::tick`] ten times a second — passing the time and an
//! rng, and commands (CLUSTER MEET, ADDSLOTS, FAILOVER...) call its methods under the engine
//! lock. Everything it wants done comes out of [`Cluster::take_outputs`]: connect, send a
//! frame, close a link, save `nodes.conf`, become a replica or a master, publish, delete the
//! keys of a lost slot, log an event. The same inputs and seed give the same outputs, which is
//! what the simulator tests rely on.
//!
//! The pieces:
//! - [`slot`]: key → slot, the slot bitmap; [`bus`]: the message codec;
//! - [`node`]: one node's entry and its CLUSTER NODES line; [`conf`]: `nodes.conf`;
//! - this file: the node table, slot ownership, epochs, the cluster state, links;
//! - [`gossip`]: receiving and sending messages, failure detection, the cron;
//! - [`failover`]: replica elections, votes, manual failover, replica migration.

pub mod admin;
pub mod bus;
pub mod conf;
pub mod failover;
pub mod gossip;
pub mod node;
pub mod slot;

#[cfg(test)]
mod sim;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use rand::RngCore;

use crate::events::Event;
use bus::{name_str, NodeName, NAME_LEN};
use node::{flags, Node};
use slot::{SlotBitmap, SLOTS};

/// Milliseconds on the driver's clock (Unix time in the real driver, virtual in tests).
pub type Ms = u64;

/// A bus link, named by the machine (outbound) or handed out on accept (inbound).
pub type LinkId = u64;

/// Nodes forgotten with CLUSTER FORGET are not re-added from gossip for this long.
pub const BLACKLIST_TTL: Ms = 60_000;
/// A manual failover must complete within this (`CLUSTER_MF_TIMEOUT`).
pub const MF_TIMEOUT: Ms = 5_000;

/// The settings the machine reads (from redis.conf / CONFIG SET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub node_timeout: Ms,
    pub replica_validity_factor: u64,
    pub migration_barrier: usize,
    pub allow_replica_migration: bool,
    pub replica_no_failover: bool,
    pub require_full_coverage: bool,
    /// `cluster-announce-ip`, sent in every header when set.
    pub announce_ip: Option<String>,
    /// The client port and bus port this node announces.
    pub port: u16,
    pub cport: u16,
    pub hostname: String,
    /// `repl-ping-replica-period`, in ms (part of the data-age limit).
    pub repl_ping_period: Ms,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            node_timeout: 15_000,
            replica_validity_factor: 10,
            migration_barrier: 1,
            allow_replica_migration: true,
            replica_no_failover: false,
            require_full_coverage: true,
            announce_ip: None,
            port: 6379,
            cport: 16379,
            hostname: String::new(),
            repl_ping_period: 10_000,
        }
    }
}

/// What the node's replication looks like, given to the machine before each input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplView {
    /// The master's offset, or the replica's processed offset.
    pub offset: u64,
    /// A replica's link to its master is up.
    pub link_up: bool,
    /// When the replica last heard from its master (link up) or lost it (link down).
    pub since: Ms,
}

/// What the machine wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open an outbound bus link to `ip:port` (the node's bus port); report `connected` or
    /// `closed` for it. `node_port` is the node's client port, which names the peer in the
    /// fault layer.
    Connect {
        link: LinkId,
        ip: String,
        port: u16,
        node_port: u16,
    },
    /// Write a frame on a link.
    Send {
        link: LinkId,
        frame: Vec<u8>,
    },
    /// Close a link (no `closed` report is needed).
    Close {
        link: LinkId,
    },
    /// Write `nodes.conf` ([`Cluster::config_text`]); `fsync` when Redis would.
    SaveConfig {
        fsync: bool,
    },
    /// Replicate from this address, or stop replicating (`None`).
    SetMaster(Option<(String, u16)>),
    /// Deliver a message published on another node.
    Publish {
        channel: Bytes,
        message: Bytes,
        shard: bool,
    },
    /// Delete the keys of a slot this node lost while still holding keys in it.
    DeleteSlotKeys(u16),
    /// This node's shard (its master and the master's replicas) no longer serves the slot:
    /// unsubscribe the slot's sharded channels (`removeChannelsInSlot`).
    ShardLostSlot(u16),
    /// Pause writes until this time (a master in a manual failover), or resume (`None`).
    PauseWrites(Option<Ms>),
    Event(Event),
}

/// The state of one bus link.
#[derive(Debug, Clone)]
pub struct Link {
    pub node: Option<NodeName>,
    pub inbound: bool,
    pub ctime: Ms,
    pub connected: bool,
    /// The peer's address, for nodes that do not announce one.
    pub peer_ip: String,
    /// Our own address on this link (a MEET tells us who we are).
    pub local_ip: String,
}

/// Work Redis defers to `clusterBeforeSleep`.
#[derive(Debug, Clone, Copy, Default)]
struct Todo {
    save: bool,
    fsync: bool,
    update_state: bool,
    handle_failover: bool,
    handle_manual_failover: bool,
}

/// One node's view of the cluster.
pub struct Cluster {
    pub settings: Settings,
    pub myself: NodeName,
    pub nodes: BTreeMap<NodeName, Node>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// `cluster_state:ok`.
    pub state_ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    slots: Vec<Option<NodeName>>,
    pub migrating: BTreeMap<u16, NodeName>,
    pub importing: BTreeMap<u16, NodeName>,
    owner_not_claiming: SlotBitmap,
    blacklist: HashMap<NodeName, Ms>,
    pub links: BTreeMap<LinkId, Link>,
    next_link: LinkId,
    pub stats_sent: [u64; bus::TYPE_COUNT],
    pub stats_received: [u64; bus::TYPE_COUNT],
    stats_pfail: usize,
    pings_sent: u64,
    /// Nodes added by an incoming MEET (their temporary names derive from it).
    handshakes_met: u64,
    iteration: u64,
    first_state_call: Option<Ms>,
    among_minority_time: Ms,
    election: failover::Election,
    manual: failover::Manual,
    repl: ReplView,
    /// The master last asked of the runtime (`Output::SetMaster`).
    wanted_master: Option<Option<(String, u16)>>,
    /// Since when an orphaned master has been waiting for a migrating replica.
    orphaned_since: Option<Ms>,
    /// The time of the latest input.
    now: Ms,
    todo: Todo,
    outbox: Vec<Output>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("myself", &name_str(&self.myself))
            .field("nodes", &self.nodes.len())
            .field("current_epoch", &self.current_epoch)
            .field("state_ok", &self.state_ok)
            .finish()
    }
}

/// A fresh random node name: 40 lowercase hex characters.
pub fn random_name(rng: &mut dyn RngCore) -> NodeName {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut name = [0u8; NAME_LEN];
    for c in name.iter_mut() {
        *c = HEX[(rng.next_u32() & 15) as usize];
    }
    name
}

/// True if `text` is a node name as Redis accepts one (`verifyClusterNodeId`: 40 hex digits).
pub fn valid_name(text: &[u8]) -> bool {
    text.len() == NAME_LEN && text.iter().all(|c| c.is_ascii_hexdigit())
}

impl Cluster {
    /// A node with no configuration: a master alone, named at random.
    pub fn new(settings: Settings, now: Ms, rng: &mut dyn RngCore) -> Cluster {
        let myself = random_name(rng);
        let mut me = Node::new(myself, flags::MYSELF | flags::MASTER, now);
        me.port = settings.port;
        me.cport = settings.cport;
        me.hostname = settings.hostname.clone();
        if let Some(ip) = &settings.announce_ip {
            me.ip = ip.clone();
        }
        let mut c = Cluster::empty(settings, myself);
        c.nodes.insert(myself, me);
        c
    }

    fn empty(settings: Settings, myself: NodeName) -> Cluster {
        Cluster {
            settings,
            myself,
            nodes: BTreeMap::new(),
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            size: 0,
            slots: vec![None; SLOTS],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            owner_not_claiming: SlotBitmap::default(),
            blacklist: HashMap::new(),
            links: BTreeMap::new(),
            next_link: 1,
            stats_sent: [0; bus::TYPE_COUNT],
            stats_received: [0; bus::TYPE_COUNT],
            stats_pfail: 0,
            pings_sent: 0,
            handshakes_met: 0,
            iteration: 0,
            first_state_call: None,
            among_minority_time: 0,
            election: failover::Election::default(),
            manual: failover::Manual::default(),
            repl: ReplView::default(),
            wanted_master: None,
            orphaned_since: None,
            now: 0,
            todo: Todo::default(),
            outbox: Vec::new(),
        }
    }

    /// Everything the machine wants done since the last call.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        self.before_sleep();
        std::mem::take(&mut self.outbox)
    }

    /// Tells the machine the node's replication state (call before inputs).
    pub fn set_repl(&mut self, repl: ReplView) {
        self.repl = repl;
    }

    pub fn repl(&self) -> ReplView {
        self.repl
    }

    fn emit(&mut self, event: Event) {
        self.outbox.push(Output::Event(event));
    }

    fn save_config(&mut self, fsync: bool) {
        self.todo.save = true;
        self.todo.fsync |= fsync;
    }

    /// What Redis does in `clusterBeforeSleep`: a pending failover step, the state, the save.
    fn before_sleep(&mut self) {
        let todo = std::mem::take(&mut self.todo);
        let now = self.last_now();
        if todo.handle_manual_failover && self.me().is_replica() {
            self.handle_manual_failover(now);
            self.handle_replica_failover(now, None);
        } else if todo.handle_failover {
            self.handle_replica_failover(now, None);
        }
        if todo.update_state || self.todo.update_state {
            self.todo.update_state = false;
            self.update_state(now);
        }
        if todo.save || self.todo.save {
            let fsync = todo.fsync || self.todo.fsync;
            self.todo.save = false;
            self.todo.fsync = false;
            self.outbox.push(Output::SaveConfig { fsync });
        }
    }

    fn last_now(&self) -> Ms {
        self.now
    }

    // ---- the node table ----

    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("myself is in the table")
    }

    pub fn node(&self, name: &NodeName) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Looks a node up by its name as text.
    pub fn lookup(&self, text: &[u8]) -> Option<&Node> {
        bus::parse_name(text).and_then(|n| self.nodes.get(&n))
    }

    /// The master of `myself`, or myself when a master.
    pub fn my_master(&self) -> Option<NodeName> {
        let me = self.me();
        if me.is_master() {
            Some(self.myself)
        } else {
            me.replica_of
        }
    }

    fn add_node(&mut self, node: Node) {
        self.nodes.insert(node.name, node);
    }

    /// Removes a node: its slots, its failure reports, its links (`clusterDelNode`).
    pub(crate) fn del_node(&mut self, name: &NodeName) {
        self.importing.retain(|_, node| node != name);
        self.migrating.retain(|_, node| node != name);
        // The node's bitmap names its slots (it and the owner table change together, in
        // `add_slot`/`del_slot`); a node we do not know has none in the table either.
        if let Some(node) = self.nodes.get(name) {
            for slot in node.slots.iter() {
                if self.slots[slot] == Some(*name) {
                    self.slots[slot] = None;
                }
            }
        }
        for n in self.nodes.values_mut() {
            n.fail_reports.retain(|(r, _)| r != name);
        }
        if let Some(node) = self.nodes.remove(name) {
            if let Some(m) = node.replica_of {
                if let Some(master) = self.nodes.get_mut(&m) {
                    master.replicas.retain(|r| r != name);
                }
            }
            for r in &node.replicas {
                if let Some(rep) = self.nodes.get_mut(r) {
                    rep.replica_of = None;
                }
            }
            for link in [node.link, node.inbound_link].into_iter().flatten() {
                self.free_link(link);
            }
        }
    }

    /// Gives a node its real name once its handshake ends (Redis's `clusterRenameNode`).
    /// Redis's structures point at the node, so a rename is one dict change there; here nodes
    /// are named in the slot table, the migrating and importing maps, replica lists, `replica_of`
    /// and failure reports, and every one of them follows the node. A node in handshake
    /// normally appears in none of them, but the state stays consistent whatever peers sent.
    fn rename_node(&mut self, old: &NodeName, new: NodeName) {
        let Some(mut node) = self.nodes.remove(old) else {
            return;
        };
        node.name = new;
        for link in [node.link, node.inbound_link].into_iter().flatten() {
            if let Some(l) = self.links.get_mut(&link) {
                l.node = Some(new);
            }
        }
        for slot in node.slots.iter() {
            if self.slots[slot] == Some(*old) {
                self.slots[slot] = Some(new);
            }
        }
        let rename = |name: &mut NodeName| {
            if name == old {
                *name = new;
            }
        };
        self.migrating.values_mut().for_each(rename);
        self.importing.values_mut().for_each(rename);
        for other in self.nodes.values_mut() {
            other.replica_of.iter_mut().for_each(rename);
            if other.replicas.contains(old) {
                other.replicas.iter_mut().for_each(rename);
                other.replicas.sort();
            }
            other
                .fail_reports
                .iter_mut()
                .for_each(|(reporter, _)| rename(reporter));
        }
        self.nodes.insert(new, node);
    }

    fn add_replica(&mut self, master: &NodeName, replica: NodeName) {
        if let Some(m) = self.nodes.get_mut(master) {
            if !m.replicas.contains(&replica) {
                m.replicas.push(replica);
                m.replicas.sort();
            }
            m.flags |= flags::MIGRATE_TO;
        }
    }

    fn remove_replica(&mut self, master: &NodeName, replica: &NodeName) {
        if let Some(m) = self.nodes.get_mut(master) {
            m.replicas.retain(|r| r != replica);
            if m.replicas.is_empty() {
                m.flags &= !flags::MIGRATE_TO;
            }
        }
    }

    /// Sets `name` as a master (`clusterSetNodeAsMaster`).
    fn set_node_as_master(&mut self, name: &NodeName) {
        let Some(n) = self.nodes.get(name) else {
            return;
        };
        if n.is_master() {
            return;
        }
        if let Some(m) = n.replica_of {
            self.remove_replica(&m, name);
            if *name != self.myself {
                self.nodes.get_mut(name).expect("present").flags |= flags::MIGRATE_TO;
            }
        }
        let n = self.nodes.get_mut(name).expect("present");
        n.flags &= !flags::SLAVE;
        n.flags |= flags::MASTER;
        n.replica_of = None;
        self.save_config(false);
        self.todo.update_state = true;
    }

    // ---- slots ----

    /// Who serves `slot`.
    pub fn slot_owner(&self, slot: u16) -> Option<&Node> {
        self.slots[slot as usize].and_then(|n| self.nodes.get(&n))
    }

    pub fn slot_owner_name(&self, slot: u16) -> Option<NodeName> {
        self.slots[slot as usize]
    }

    fn masters_have_replicas(&self) -> bool {
        self.nodes
            .values()
            .any(|n| n.is_master() && !n.replicas.is_empty())
    }

    /// Binds an unassigned slot to `name` (`clusterAddSlot`); false if already assigned.
    pub fn add_slot(&mut self, name: &NodeName, slot: u16) -> bool {
        if self.slots[slot as usize].is_some() {
            return false;
        }
        let have_replicas = self.masters_have_replicas();
        let Some(n) = self.nodes.get_mut(name) else {
            return false;
        };
        if !n.slots.set(slot as usize) {
            n.num_slots += 1;
            if n.num_slots == 1 && have_replicas {
                n.flags |= flags::MIGRATE_TO;
            }
        }
        self.slots[slot as usize] = Some(*name);
        true
    }

    /// Unbinds a slot (`clusterDelSlot`); false if it was unassigned.
    pub fn del_slot(&mut self, slot: u16) -> bool {
        let Some(owner) = self.slots[slot as usize].take() else {
            return false;
        };
        let my_shard =
            owner == self.myself || (self.me().is_replica() && self.me().replica_of == Some(owner));
        if my_shard {
            self.outbox.push(Output::ShardLostSlot(slot));
        }
        if let Some(n) = self.nodes.get_mut(&owner) {
            if n.slots.clear(slot as usize) {
                n.num_slots -= 1;
            }
        }
        true
    }

    fn del_node_slots(&mut self, name: &NodeName) -> usize {
        let owned: Vec<u16> = match self.nodes.get(name) {
            Some(n) => n.slots.iter().map(|s| s as u16).collect(),
            None => return 0,
        };
        for &s in &owned {
            self.del_slot(s);
        }
        owned.len()
    }

    fn slot_unclaimed(&self, slot: usize) -> bool {
        self.owner_not_claiming.get(slot)
    }

    pub fn close_all_slots(&mut self) {
        self.migrating.clear();
        self.importing.clear();
    }

    // ---- epochs ----

    pub fn max_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch)
    }

    /// Gives myself a new configEpoch without consensus unless it already has the largest
    /// (`clusterBumpConfigEpochWithoutConsensus`); true if it changed.
    pub fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.max_epoch();
        let mine = self.me().config_epoch;
        if mine == 0 || mine != max {
            self.current_epoch += 1;
            let epoch = self.current_epoch;
            self.me_mut().config_epoch = epoch;
            self.save_config(true);
            self.emit(Event::ClusterNewConfigEpoch { epoch });
            true
        } else {
            false
        }
    }

    // ---- links ----

    fn new_link(&mut self, node: Option<NodeName>, inbound: bool, now: Ms) -> LinkId {
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            Link {
                node,
                inbound,
                ctime: now,
                connected: false,
                peer_ip: String::new(),
                local_ip: String::new(),
            },
        );
        id
    }

    /// Drops a link and detaches it from its node (`freeClusterLink`).
    pub(crate) fn free_link(&mut self, id: LinkId) {
        if let Some(link) = self.links.remove(&id) {
            if let Some(name) = link.node {
                if let Some(n) = self.nodes.get_mut(&name) {
                    if n.link == Some(id) {
                        n.link = None;
                    }
                    if n.inbound_link == Some(id) {
                        n.inbound_link = None;
                    }
                }
            }
            self.outbox.push(Output::Close { link: id });
        }
    }

    /// An inbound connection was accepted on the bus port.
    pub fn accepted(&mut self, now: Ms, peer_ip: &str, local_ip: &str) -> LinkId {
        let id = self.new_link(None, true, now);
        let link = self.links.get_mut(&id).expect("just made");
        link.connected = true;
        link.peer_ip = peer_ip.to_string();
        link.local_ip = local_ip.to_string();
        id
    }

    /// An outbound link finished connecting: send the first PING (or MEET).
    pub fn connected(&mut self, now: Ms, id: LinkId, peer_ip: &str, local_ip: &str) {
        self.now = now;
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        link.connected = true;
        link.peer_ip = peer_ip.to_string();
        link.local_ip = local_ip.to_string();
        let Some(name) = link.node else {
            return;
        };
        let Some(node) = self.nodes.get(&name) else {
            return;
        };
        let old_ping_sent = node.ping_sent;
        let kind = if node.has(flags::MEET) {
            bus::Type::Meet
        } else {
            bus::Type::Ping
        };
        self.send_ping(id, kind, now);
        let node = self.nodes.get_mut(&name).expect("present");
        if old_ping_sent != 0 {
            node.ping_sent = old_ping_sent;
        }
        node.flags &= !flags::MEET;
    }

    /// A link failed to connect, or closed.
    pub fn closed(&mut self, id: LinkId) {
        let now = self.now;
        if let Some(link) = self.links.remove(&id) {
            if let Some(name) = link.node {
                if let Some(n) = self.nodes.get_mut(&name) {
                    // A connect that failed counts as a ping sent, so that failure detection
                    // works for a node we cannot even connect to (as Redis does on a connect
                    // error).
                    if !link.inbound && !link.connected && n.ping_sent == 0 {
                        n.ping_sent = now;
                    }
                    if n.link == Some(id) {
                        n.link = None;
                    }
                    if n.inbound_link == Some(id) {
                        n.inbound_link = None;
                    }
                }
            }
        }
    }

    // ---- the cluster state ----

    /// `clusterUpdateState`: ok unless a slot is unserved (with full coverage required) or
    /// this node sees only a minority of the masters.
    pub(crate) fn update_state(&mut self, now: Ms) {
        const MAX_REJOIN_DELAY: Ms = 5000;
        const MIN_REJOIN_DELAY: Ms = 500;
        const WRITABLE_DELAY: Ms = 2000;
        let first = *self.first_state_call.get_or_insert(now);
        if self.me().is_master() && !self.state_ok && now.saturating_sub(first) < WRITABLE_DELAY {
            return;
        }
        let mut ok = true;
        if self.settings.require_full_coverage {
            ok = self.slots.iter().all(|owner| match owner {
                Some(n) => self.nodes.get(n).is_some_and(|n| !n.failing()),
                None => false,
            });
        }
        let mut size = 0;
        let mut reachable = 0;
        for n in self.nodes.values() {
            if n.is_master() && n.num_slots > 0 {
                size += 1;
                if n.flags & (flags::FAIL | flags::PFAIL) == 0 {
                    reachable += 1;
                }
            }
        }
        self.size = size;
        if reachable < size / 2 + 1 {
            ok = false;
            self.among_minority_time = now;
        }
        if ok != self.state_ok {
            let rejoin_delay = self
                .settings
                .node_timeout
                .clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
            if ok
                && self.me().is_master()
                && now.saturating_sub(self.among_minority_time) < rejoin_delay
            {
                return;
            }
            self.state_ok = ok;
            self.emit(Event::ClusterStateChanged {
                state: if ok { "ok" } else { "fail" }.into(),
            });
        }
    }

    // ---- descriptions ----

    fn describe(&self, n: &Node) -> String {
        let migrations: Vec<String> = if n.name == self.myself {
            let mut all: Vec<(u16, String)> = self
                .migrating
                .iter()
                .map(|(s, to)| (*s, format!("[{s}->-{}]", name_str(to))))
                .collect();
            all.extend(
                self.importing
                    .iter()
                    .filter(|(s, _)| !self.migrating.contains_key(s))
                    .map(|(s, from)| (*s, format!("[{s}-<-{}]", name_str(from)))),
            );
            all.sort_by_key(|(s, _)| *s);
            all.into_iter().map(|(_, t)| t).collect()
        } else {
            Vec::new()
        };
        node::describe(
            n,
            &node::Describe {
                master_epoch: n
                    .replica_of
                    .and_then(|m| self.nodes.get(&m))
                    .map(|m| m.config_epoch),
                connected: n.link.is_some(),
                migrations: &migrations,
            },
        )
    }

    /// CLUSTER NODES: one line per node, each ending in `\n`; `skip_handshake` leaves out
    /// nodes still in handshake (as `nodes.conf` does).
    pub fn nodes_text(&self, skip_handshake: bool) -> String {
        let mut out = String::new();
        for n in self.nodes.values() {
            if skip_handshake && n.has(flags::HANDSHAKE) {
                continue;
            }
            out += &self.describe(n);
            out.push('\n');
        }
        out
    }

    /// The line for one node (CLUSTER REPLICAS).
    pub fn node_line(&self, name: &NodeName) -> Option<String> {
        self.nodes.get(name).map(|n| self.describe(n))
    }

    /// What `nodes.conf` holds: the nodes, then the epochs.
    pub fn config_text(&self) -> String {
        let mut out = self.nodes_text(true);
        out += &format!(
            "vars currentEpoch {} lastVoteEpoch {}\n",
            self.current_epoch, self.last_vote_epoch
        );
        out
    }

    /// Slot ranges per master, for CLUSTER SLOTS and SHARDS: `(start, end, master)`.
    pub fn slot_ranges(&self) -> Vec<(u16, u16, NodeName)> {
        let mut out: Vec<(u16, u16, NodeName)> = Vec::new();
        for (s, owner) in self.slots.iter().enumerate() {
            match (owner, out.last_mut()) {
                (Some(o), Some((_, end, last))) if last == o && *end as usize + 1 == s => {
                    *end = s as u16
                }
                (Some(o), _) => out.push((s as u16, s as u16, *o)),
                (None, _) => {}
            }
        }
        out
    }

    /// Slots served by anyone.
    pub fn assigned_slots(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// `(pfail, fail)` counts of assigned slots whose owner is in that state.
    pub fn slots_in_trouble(&self) -> (usize, usize) {
        let mut pfail = 0;
        let mut fail = 0;
        for n in self
            .slots
            .iter()
            .flatten()
            .filter_map(|n| self.nodes.get(n))
        {
            if n.failing() {
                fail += 1;
            } else if n.has(flags::PFAIL) {
                pfail += 1;
            }
        }
        (pfail, fail)
    }

    pub fn stats_pfail(&self) -> usize {
        self.stats_pfail
    }
}

#[cfg(test)]
mod rename_tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_renamed_node_is_renamed_everywhere_it_is_named() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut c = Cluster::new(Settings::default(), 0, &mut rng);
        let (old, new) = (random_name(&mut rng), random_name(&mut rng));
        let replica = random_name(&mut rng);
        c.add_node(Node::new(old, flags::MASTER | flags::HANDSHAKE, 0));
        let mut r = Node::new(replica, flags::SLAVE, 0);
        r.replica_of = Some(old);
        r.fail_reports.push((old, 5));
        c.add_node(r);
        c.add_replica(&old, replica);
        assert!(c.add_slot(&old, 7) && c.add_slot(&old, 9000));
        c.migrating.insert(7, old);
        c.importing.insert(8, old);

        c.rename_node(&old, new);

        assert!(!c.nodes.contains_key(&old));
        assert_eq!(c.nodes[&new].name, new);
        assert_eq!(c.slots[7], Some(new));
        assert_eq!(c.slots[9000], Some(new));
        assert_eq!((c.migrating[&7], c.importing[&8]), (new, new));
        assert_eq!(c.nodes[&new].replicas, [replica]);
        assert_eq!(c.nodes[&replica].replica_of, Some(new));
        assert_eq!(c.nodes[&replica].fail_reports, [(new, 5)]);
        assert_eq!(c.slots.iter().filter(|o| **o == Some(old)).count(), 0);
    }
}
