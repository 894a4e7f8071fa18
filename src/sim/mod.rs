//! A deterministic simulator: several nodes running redislab's real core, command path and
//! replication state machines over a virtual network, in virtual time, with seeded
//! randomness. A failover, a partition, a resync is a replayable trace.
//!
//! What is real: each node's [`Shared`] core ([`Engine`] under its lock, the role transition,
//! propagation), every command through [`cmd::call`], the replica side's [`ReplicaLink`]
//! machine and the master side's sync machine ([`crate::repl::serve`]: PSYNC's answer,
//! shared and delayed snapshots, keep-alives, ACKs and timeouts), the RDB writer and loader.
//! What is simulated: sockets (a [`Network`] of ordered byte streams between nodes, whose
//! links can be cut, healed and delayed per direction, and whose in-flight window fills when a
//! reader stops), time (a virtual clock advanced in 1 ms steps) and child processes (a
//! snapshot is taken when the child forks and is ready [`CHILD_MS`] later, then sent as a dump
//! or, diskless, written to the replicas' connections).
//!
//! Scenarios are small scripts ([`scenario`]); their traces are the events the nodes emitted,
//! as Redis log lines with virtual timestamps, so a trace reads like the lab it explains.
//!
//! [`Engine`]: crate::server::engine::Engine

pub mod network;
pub mod scenario;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;

use crate::cmd::{self, Effect};
use crate::config::Config;
use crate::events::Event;
use crate::node::{replica_link, serve_replica};
use crate::persist::rdb::{self, SaveOptions};
use crate::repl::link::{ack_command, History, LinkConfig, LinkStatus, Output, ReplicaLink};
use crate::repl::serve::{Children, ReplicaAction, ServeOutput, Target};
use crate::repl::stream::{stream_channel, StreamSource};
use crate::repl::SyncRequest;
use crate::resp::{Reply, RequestParser};
use crate::server::events::EventBus;
use crate::server::log::Logger;
use crate::server::persistence::{install_master_snapshot, ReplAux};
use crate::server::propagation::flush;
use crate::server::session::Session;
use crate::server::Shared;
use network::{ConnId, Delivery, Network};

/// A node's index in the simulation.
pub type NodeId = usize;

/// The first client port; node `i` listens on `BASE_PORT + i`.
pub const BASE_PORT: u16 = 6379;

/// One simulated node.
pub struct SimNode {
    pub name: String,
    pub shared: Shared,
    events: broadcast::Receiver<Arc<Event>>,
    /// The replica side: the machine and the link generation it serves.
    link: Option<(ReplicaLink, u64)>,
    /// Its connection to the master, while one is open.
    link_conn: Option<ConnId>,
    /// The session the master's stream runs in.
    link_session: Session,
    /// Connections accepted from other nodes.
    served: BTreeMap<ConnId, Served>,
    /// A session for the scenario's own commands.
    client: Session,
    /// A paused node (SIGSTOP) reads nothing and decides nothing.
    pub paused: bool,
    /// Its snapshot child for replicas, while one runs.
    child: Option<SimChild>,
    /// The dump its last BGSAVE to disk wrote.
    dump: Bytes,
}

/// A simulated snapshot child: the snapshot is taken when it forks and is ready
/// [`CHILD_MS`] later.
struct SimChild {
    target: Target,
    ends_at: i64,
    rdb: Bytes,
    /// Socket target: the connections it writes to, and its end-of-snapshot mark.
    sockets: Vec<ConnId>,
    mark: String,
}

/// How long a simulated snapshot child runs (ms).
pub const CHILD_MS: i64 = 100;

/// A connection another node opened to this one.
struct Served {
    peer: NodeId,
    session: Session,
    parser: RequestParser,
    input: BytesMut,
    /// Once the peer asked for a sync: the stream it receives.
    replica: Option<StreamSource>,
    /// The stream flows (the sync machine said so).
    streaming: bool,
}

/// The simulation: nodes, network, virtual clock, seeded randomness, trace.
pub struct Sim {
    pub nodes: Vec<SimNode>,
    pub net: Network,
    /// Virtual Unix time in ms.
    pub now: i64,
    start: i64,
    rng: StdRng,
    trace: Vec<String>,
    dir: PathBuf,
}

impl Sim {
    /// An empty simulation whose randomness comes from `seed`. `dir` is where nodes would
    /// write files (they write none in the scenarios: no save points, no AOF).
    pub fn new(seed: u64, dir: PathBuf) -> Sim {
        let start = 1_700_000_000_000;
        Sim {
            nodes: Vec::new(),
            net: Network::default(),
            now: start,
            start,
            rng: StdRng::seed_from_u64(seed),
            trace: Vec::new(),
            dir,
        }
    }

    /// Adds a node named `name` (a master, empty). Its ids and its rng come from the seed.
    pub fn add_node(&mut self, name: &str) -> NodeId {
        let id = self.nodes.len();
        let port = (BASE_PORT as usize + id).to_string();
        let dir = self.dir.join(name);
        let _ = std::fs::create_dir_all(&dir);
        let overrides: Vec<String> = [
            "--port",
            &port,
            "--save",
            "",
            "--dir",
            dir.to_str().unwrap_or("."),
            "--repl-diskless-sync",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let config = Config::load(None, &overrides)
            .map(|l| l.config)
            .unwrap_or_default();
        let logger = Logger::open("/dev/null", config.loglevel).expect("/dev/null opens");
        let mut shared = Shared::new(config, None, EventBus::new(logger));
        shared.run_id = crate::repl::random_hex_id(&mut self.rng);
        {
            let mut engine = shared.engine();
            engine.rng = StdRng::seed_from_u64(self.rng.gen());
            engine.repl.replid = crate::repl::random_hex_id(&mut self.rng);
        }
        shared.port.store(
            BASE_PORT as u64 + id as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let events = shared.events.subscribe();
        self.nodes.push(SimNode {
            name: name.to_string(),
            shared,
            events,
            link: None,
            link_conn: None,
            link_session: Session::master_link(),
            served: BTreeMap::new(),
            client: Session::new(0, "scenario".into(), true),
            paused: false,
            child: None,
            dump: Bytes::new(),
        });
        id
    }

    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The node listening on `host:port` (a node's name is its host).
    fn resolve(&self, host: &str, port: u16) -> Option<NodeId> {
        self.nodes.iter().position(|n| {
            (n.name == host || host == "127.0.0.1")
                && n.shared.port.load(std::sync::atomic::Ordering::Relaxed) == port as u64
        })
    }

    /// Runs a command on `node` as a client would, then propagates it. Returns the reply.
    pub fn command(&mut self, node: NodeId, argv: &[Bytes]) -> Reply {
        let n = &mut self.nodes[node];
        let reply = {
            let mut engine = n.shared.engine();
            let (reply, _effect) = cmd::call(&n.shared, &mut engine, &mut n.client, argv);
            flush(&n.shared, &mut engine);
            reply
        };
        self.collect_events();
        reply
    }

    /// Advances virtual time by `ms`, one millisecond at a time.
    pub fn run(&mut self, ms: i64) {
        for _ in 0..ms {
            self.now += 1;
            self.step();
        }
    }

    /// One millisecond: deliver what arrives now, tick every node, move stream bytes.
    fn step(&mut self) {
        for delivery in self.net.deliver(self.now, |n| self.nodes[n].paused) {
            self.on_delivery(delivery);
        }
        for id in 0..self.nodes.len() {
            if self.nodes[id].paused {
                continue;
            }
            self.start_link_if_role_changed(id);
            if let Some((link, _)) = self.nodes[id].link.as_mut() {
                let outputs = link.tick(self.now);
                self.carry_out(id, outputs);
            }
            self.master_cron(id);
        }
        self.collect_events();
    }

    /// The runtime's role driver: a new link generation gets a new machine.
    fn start_link_if_role_changed(&mut self, id: NodeId) {
        let n = &mut self.nodes[id];
        let master = n.shared.engine().repl.master.clone();
        let current = n.link.as_ref().map(|(_, g)| *g);
        match master {
            Some(m) if current != Some(m.generation) => {
                if let Some(conn) = n.link_conn.take() {
                    self.net.close(conn, id, self.now);
                }
                let config = {
                    let c = n.shared.config();
                    LinkConfig {
                        host: m.host.clone(),
                        port: m.port,
                        auth: c.masterauth.clone().map(|p| (c.masteruser.clone(), p)),
                        listening_port: n.shared.port.load(std::sync::atomic::Ordering::Relaxed)
                            as u16,
                        timeout_ms: c.repl_timeout.max(1) as i64 * 1000,
                    }
                };
                n.link = Some((ReplicaLink::new(config, self.now), m.generation));
                n.link_session = Session::master_link();
            }
            None if current.is_some() => {
                n.link = None;
                if let Some(conn) = n.link_conn.take() {
                    self.net.close(conn, id, self.now);
                }
            }
            _ => {}
        }
    }

    /// The master side's periodic work, as `node::cron` does it: reap the snapshot child,
    /// tick the sync machine, drop replicas past their output limit, and move stream bytes.
    fn master_cron(&mut self, id: NodeId) {
        let now = self.now;
        if self.nodes[id]
            .child
            .as_ref()
            .is_some_and(|c| now >= c.ends_at)
        {
            self.child_done(id);
        }
        let outputs = {
            let n = &self.nodes[id];
            let settings = serve_replica::settings(&n.shared);
            let mut engine = n.shared.engine();
            flush(&n.shared, &mut engine);
            engine.repl.serve_tick(now, &settings, self.children(id))
        };
        self.serve_out(id, outputs);
        let conns: Vec<ConnId> = self.nodes[id].served.keys().copied().collect();
        for conn in conns {
            let n = &mut self.nodes[id];
            let Some(served) = n.served.get_mut(&conn) else {
                continue;
            };
            let Some(source) = served.replica.as_mut() else {
                continue;
            };
            if source.overflowed() {
                let peer = served.peer;
                let addr = self.addr(peer);
                self.nodes[id]
                    .shared
                    .emit(Event::OutputLimitReached { id: conn, addr });
                self.drop_served(id, conn);
                continue;
            }
            if !served.streaming {
                continue;
            }
            while self.net.window_left(conn, id) > 0 {
                let Some(bytes) = source.try_recv() else {
                    break;
                };
                self.net.send(conn, id, bytes, now);
            }
        }
    }

    /// The node's children, as the sync machine sees them.
    fn children(&self, id: NodeId) -> Children {
        Children {
            disk_bgsave: self.nodes[id]
                .child
                .as_ref()
                .is_some_and(|c| c.target == Target::Disk),
            other: false,
        }
    }

    /// The snapshot child exited: a disk snapshot becomes the dump; a socket one has written
    /// the snapshot to its replicas.
    fn child_done(&mut self, id: NodeId) {
        let now = self.now;
        let Some(child) = self.nodes[id].child.take() else {
            return;
        };
        match child.target {
            Target::Disk => self.nodes[id].dump = child.rdb,
            Target::Socket => {
                for conn in child.sockets {
                    let mut payload = BytesMut::new();
                    payload.extend_from_slice(format!("$EOF:{}\r\n", child.mark).as_bytes());
                    payload.extend_from_slice(&child.rdb);
                    payload.extend_from_slice(child.mark.as_bytes());
                    self.net.send(conn, id, payload.freeze(), now);
                }
            }
        }
        let outputs = {
            let n = &self.nodes[id];
            let settings = serve_replica::settings(&n.shared);
            let mut engine = n.shared.engine();
            engine
                .repl
                .bgsave_done(now, true, &settings, self.children(id))
        };
        self.serve_out(id, outputs);
    }

    /// Carries out the sync machine's outputs, as `node::serve_replica::carry_out` does.
    fn serve_out(&mut self, id: NodeId, outputs: Vec<ServeOutput>) {
        let mut queue: std::collections::VecDeque<ServeOutput> = outputs.into();
        while let Some(output) = queue.pop_front() {
            let now = self.now;
            match output {
                ServeOutput::Emit(event) => self.nodes[id].shared.emit(event),
                ServeOutput::Replica(conn, action) => match action {
                    ReplicaAction::Send(bytes) => self.net.send(conn, id, bytes, now),
                    ReplicaAction::StartStream => {
                        if let Some(served) = self.nodes[id].served.get_mut(&conn) {
                            served.streaming = true;
                        }
                    }
                    ReplicaAction::SendRdbFile => {
                        let dump = self.nodes[id].dump.clone();
                        let header = Bytes::from(format!("${}\r\n", dump.len()));
                        self.net.send(conn, id, header, now);
                        self.net.send(conn, id, dump.clone(), now);
                        let n = &self.nodes[id];
                        let more = n.shared.engine().repl.rdb_sent(now, conn, dump.len());
                        queue.extend(more);
                    }
                    ReplicaAction::Drop => self.drop_served(id, conn),
                },
                ServeOutput::StartBgsave(plan) => {
                    let mark = crate::repl::random_hex_id(&mut self.rng);
                    let n = &mut self.nodes[id];
                    let mut guard = n.shared.engine();
                    let engine = &mut *guard;
                    flush(&n.shared, engine);
                    let mut rdb = Vec::new();
                    let mut options = SaveOptions::new(now / 1000);
                    options.used_mem = 0;
                    let aux = ReplAux::current(engine);
                    let _ = rdb::write_snapshot(&mut rdb, &engine.dbs, &aux.fields(), &options);
                    let mut sockets = Vec::new();
                    if plan.target == Target::Socket {
                        for (conn, preamble) in plan.replicas {
                            self.net.send(conn, id, preamble, now);
                            sockets.push(conn);
                        }
                    }
                    n.child = Some(SimChild {
                        target: plan.target,
                        ends_at: now + CHILD_MS,
                        rdb: Bytes::from(rdb),
                        sockets,
                        mark,
                    });
                    queue.extend(engine.repl.bgsave_started(now, Ok(())));
                }
            }
        }
    }

    /// How a node's address appears in another node's log.
    fn addr(&self, id: NodeId) -> String {
        format!("{}:{}", self.nodes[id].name, BASE_PORT as usize + id)
    }

    fn drop_served(&mut self, id: NodeId, conn: ConnId) {
        let Some(served) = self.nodes[id].served.remove(&conn) else {
            self.net.close(conn, id, self.now);
            return;
        };
        let addr = self.addr(served.peer);
        let n = &mut self.nodes[id];
        n.shared.engine().repl.replica_gone(conn);
        if served.replica.is_some() {
            n.shared.emit(Event::ReplicaLinkLost { addr });
        }
        self.net.close(conn, id, self.now);
    }

    fn on_delivery(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Connected { conn, from } => {
                let n = &mut self.nodes[from];
                if let Some((link, _)) = n.link.as_mut() {
                    n.link_conn = Some(conn);
                    let outputs = link.connected(self.now);
                    self.carry_out(from, outputs);
                }
            }
            Delivery::Refused { from, error, .. } => {
                if let Some((link, _)) = self.nodes[from].link.as_mut() {
                    let outputs = link.connect_failed(self.now, error);
                    self.carry_out(from, outputs);
                }
            }
            Delivery::Accepted { conn, to, from } => {
                let mut session = Session::new(conn, self.addr(from), true);
                session.may_block = false;
                self.nodes[to].served.insert(
                    conn,
                    Served {
                        peer: from,
                        session,
                        parser: RequestParser::new(i64::MAX),
                        input: BytesMut::new(),
                        replica: None,
                        streaming: false,
                    },
                );
            }
            Delivery::Data { conn, to, bytes } => {
                if self.nodes[to].link_conn == Some(conn) {
                    let history = {
                        let engine = self.nodes[to].shared.engine();
                        History {
                            replid: engine.repl.replid.clone(),
                            offset: engine.repl.offset,
                            known: engine.repl.has_history,
                        }
                    };
                    if let Some((link, _)) = self.nodes[to].link.as_mut() {
                        let outputs = link.received(self.now, &bytes, &history);
                        self.carry_out(to, outputs);
                    }
                } else if self.nodes[to].served.contains_key(&conn) {
                    self.serve(to, conn, &bytes);
                }
            }
            Delivery::Closed { conn, to } => {
                if self.nodes[to].link_conn == Some(conn) {
                    self.nodes[to].link_conn = None;
                    if let Some((link, _)) = self.nodes[to].link.as_mut() {
                        let outputs = link.closed(self.now);
                        self.carry_out(to, outputs);
                    }
                } else if self.nodes[to].served.contains_key(&conn) {
                    self.drop_served(to, conn);
                }
            }
        }
    }

    /// The master side of one connection: requests through the command path; PSYNC/SYNC
    /// through the core's sync decisions.
    fn serve(&mut self, id: NodeId, conn: ConnId, bytes: &[u8]) {
        let now = self.now;
        let mut replies = BytesMut::new();
        let mut sync = None;
        let mut outputs = Vec::new();
        {
            let n = &mut self.nodes[id];
            let Some(served) = n.served.get_mut(&conn) else {
                return;
            };
            served.input.extend_from_slice(bytes);
            let mut engine = n.shared.engine();
            while let Ok(Some(argv)) = served.parser.parse(&mut served.input) {
                if argv.is_empty() {
                    continue;
                }
                if served.replica.is_some() {
                    // A replica's REPLCONF ACK <offset>.
                    if argv.len() >= 3 && argv[1].eq_ignore_ascii_case(b"ack") {
                        let offset = String::from_utf8_lossy(&argv[2]).parse().unwrap_or(0);
                        outputs.extend(engine.repl.replconf_ack(now, conn, offset));
                    }
                    continue;
                }
                let (reply, effect) = cmd::call(&n.shared, &mut engine, &mut served.session, &argv);
                if let Effect::Replicate(request) = effect {
                    sync = Some(request);
                    break;
                }
                reply.encode(false, &mut replies);
            }
            flush(&n.shared, &mut engine);
        }
        if !replies.is_empty() {
            self.net.send(conn, id, replies.freeze(), now);
        }
        self.serve_out(id, outputs);
        if let Some(request) = sync {
            self.start_sync(id, conn, request);
        }
    }

    /// PSYNC/SYNC: the replica is registered with the master side's sync machine.
    fn start_sync(&mut self, id: NodeId, conn: ConnId, request: SyncRequest) {
        let now = self.now;
        let Some(peer) = self.nodes[id].served.get(&conn).map(|s| s.peer) else {
            return;
        };
        let addr = self.addr(peer);
        let ip = self.nodes[peer].name.clone();
        let children = self.children(id);
        let n = &mut self.nodes[id];
        n.shared
            .emit(Event::ReplicaAskedForSync { addr: addr.clone() });
        let limit = n
            .shared
            .config()
            .client_output_buffer_limit
            .replica
            .hard_bytes as usize;
        let (sink, source) = stream_channel(limit);
        let link = crate::repl::ReplicaLink::new(conn, ip, BASE_PORT + peer as u16, sink, now);
        let settings = serve_replica::settings(&n.shared);
        let outputs = {
            let mut guard = n.shared.engine();
            let engine = &mut *guard;
            flush(&n.shared, engine);
            engine.propagate = true;
            engine
                .repl
                .sync_requested(now, link, &request, &settings, children, &mut engine.rng)
        };
        if let Some(served) = n.served.get_mut(&conn) {
            served.replica = Some(source);
        }
        self.serve_out(id, outputs);
    }

    /// Carries out a replica machine's outputs, as `node::replica_link` does.
    fn carry_out(&mut self, id: NodeId, outputs: Vec<Output>) {
        let mut queue: std::collections::VecDeque<Output> = outputs.into();
        while let Some(output) = queue.pop_front() {
            let now = self.now;
            let n = &mut self.nodes[id];
            let more = match output {
                Output::Connect => {
                    let Some((link, _)) = n.link.as_ref() else {
                        continue;
                    };
                    let (host, port) = (link.config().host.clone(), link.config().port);
                    match self.resolve(&host, port).filter(|&to| to != id) {
                        Some(to) => {
                            self.net.connect(id, to, now);
                        }
                        None => self.net.refuse(id, "Name or service not known".into(), now),
                    }
                    Vec::new()
                }
                Output::Send(bytes) => {
                    if let Some(conn) = n.link_conn {
                        self.net.send(conn, id, bytes, now);
                    }
                    Vec::new()
                }
                Output::SendAck => {
                    let offset = n.shared.engine().repl.offset;
                    if let Some(conn) = n.link_conn {
                        self.net.send(conn, id, ack_command(offset), now);
                    }
                    Vec::new()
                }
                stream @ (Output::Apply { .. } | Output::Proxy(_)) => {
                    let mut engine = n.shared.engine();
                    replica_link::apply_from_master(
                        &n.shared,
                        &mut engine,
                        &mut n.link_session,
                        stream,
                    );
                    Vec::new()
                }
                Output::LoadSnapshot {
                    rdb,
                    replid,
                    offset,
                } => {
                    let result = match rdb::load_snapshot(&rdb[..]) {
                        Ok(snapshot) => {
                            install_master_snapshot(&n.shared, snapshot, &replid, offset);
                            n.link_session = Session::master_link();
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    match n.link.as_mut() {
                        Some((link, _)) => link.snapshot_loaded(now, result),
                        None => Vec::new(),
                    }
                }
                Output::Continue { new_replid } => {
                    if let Some(new_id) = new_replid {
                        let mut guard = n.shared.engine();
                        let engine = &mut *guard;
                        if engine.repl.adopt_master_replid(&new_id, &mut engine.rng) {
                            drop(guard);
                            n.shared.emit(Event::MasterReplidChanged { replid: new_id });
                        }
                    }
                    Vec::new()
                }
                Output::Disconnect => {
                    if let Some(conn) = n.link_conn.take() {
                        self.net.close(conn, id, now);
                    }
                    n.link_session = Session::master_link();
                    Vec::new()
                }
                Output::Status(status) => {
                    let mut engine = n.shared.engine();
                    if let Some(m) = engine.repl.master.as_mut() {
                        match status {
                            LinkStatus::Syncing => m.sync_in_progress = true,
                            LinkStatus::Up => {
                                m.up = true;
                                m.sync_in_progress = false;
                            }
                            LinkStatus::Down => {
                                m.up = false;
                                m.sync_in_progress = false;
                            }
                        }
                    }
                    Vec::new()
                }
                Output::Emit(event) => {
                    n.shared.emit(event);
                    Vec::new()
                }
            };
            queue.extend(more);
        }
    }

    /// Moves what the nodes emitted into the trace.
    fn collect_events(&mut self) {
        let at = self.now - self.start;
        for n in &mut self.nodes {
            while let Ok(event) = n.events.try_recv() {
                self.trace.push(format!(
                    "{:>4}.{:03}s {:<8} {}",
                    at / 1000,
                    at % 1000,
                    n.name,
                    event.log_line()
                ));
            }
        }
    }

    /// Adds a line of the scenario's own to the trace.
    pub fn note(&mut self, line: String) {
        let at = self.now - self.start;
        self.trace.push(format!(
            "{:>4}.{:03}s {:<8} {line}",
            at / 1000,
            at % 1000,
            "--"
        ));
    }

    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// Every key, type and value of a node's dataset, in order (to compare two nodes).
    pub fn dataset(&self, id: NodeId) -> Vec<(usize, Vec<u8>, String)> {
        let engine = self.nodes[id].shared.engine();
        let mut out = Vec::new();
        for (index, db) in engine.dbs.iter().enumerate() {
            for (key, value, _) in db.iter_with_expiry() {
                out.push((index, key.to_vec(), format!("{value:?}")));
            }
        }
        out.sort();
        out
    }
}
