//! A seeded, virtual-time simulator for the Sentinel machine, and the tests that use it.
//!
//! Several [`Sentinel`]s run over a small model of Redis nodes (role, run id, offset,
//! priority, SLAVEOF) and a network with per-message latency, links that fail when a node
//! dies, and cuts between endpoints. Everything is driven from one event queue ordered by
//! (time, sequence), and every random choice comes from rngs seeded from the test's seed,
//! so a run is a replayable trace: the same seed gives the same trace, line for line.
//!
//! The node model is only what Sentinel observes: INFO fields, PING, PUBLISH fan-out to
//! subscribers and the SLAVEOF in the MULTI block.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::resp::frame::Frame;
use crate::resp::Reply;

use super::commands::sentinel_command;
use super::{Addr, Expect, Input, Kind, LinkId, Ms, Output, Sentinel, HELLO_CHANNEL};

/// A modelled Redis node.
#[derive(Debug, Clone)]
pub struct Node {
    pub addr: Addr,
    pub runid: String,
    pub alive: bool,
    /// `None`: master; `Some(addr)`: replica of `addr`.
    pub master: Option<Addr>,
    pub offset: u64,
    pub priority: i64,
    /// Ignore `SLAVEOF NO ONE` (a replica that never gets promoted).
    pub refuse_promotion: bool,
    /// Ignore `SLAVEOF host port` (a replica that never follows a new master).
    pub refuse_reconf: bool,
    /// Answer every command with `-NOAUTH` (a password the sentinel does not have).
    pub requires_auth: bool,
    /// The ids of the writes this node holds.
    pub data: Vec<u64>,
    /// `min-replicas-to-write`.
    pub min_replicas: usize,
}

/// Who is at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Node(usize),
    Sentinel(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Tick(usize),
    /// An input for sentinel `usize`, arriving now.
    Deliver(usize, Input),
    /// A command from sentinel `from` arriving at `to`.
    Command {
        from: usize,
        link: LinkId,
        command: Vec<String>,
        expect: Expect,
    },
}

/// One simulated sentinel and its links.
pub struct SimSentinel {
    pub sentinel: Sentinel,
    pub addr: Addr,
    pub alive: bool,
    pub rng: StdRng,
    /// Links currently up: (link, pubsub).
    links: BTreeSet<(LinkId, bool)>,
    /// The last config file text written.
    pub config: Option<String>,
    phase: Ms,
}

/// The simulator.
pub struct Sim {
    pub now: Ms,
    pub nodes: Vec<Node>,
    pub sentinels: Vec<SimSentinel>,
    queue: BinaryHeap<Reverse<(Ms, u64, usize)>>,
    events: BTreeMap<usize, Event>,
    seq: u64,
    net_rng: StdRng,
    cuts: BTreeSet<(Addr, Addr)>,
    /// `<time> s<i> <event> <payload>` lines.
    pub trace: Vec<String>,
    pub max_latency: Ms,
    /// (epoch, sentinel) of every `+elected-leader`.
    pub elections: Vec<(u64, usize)>,
}

pub const START: Ms = 1_700_000_000_000;

pub fn node_addr(i: usize) -> Addr {
    Addr::new("127.0.0.1", 6379 + i as u16)
}

pub fn sentinel_addr(i: usize) -> Addr {
    Addr::new("127.0.0.1", 26379 + i as u16)
}

impl Sim {
    /// `nodes` nodes (node 0 the master, the others its replicas) and `sentinels` sentinels
    /// monitoring `mymaster` with `quorum` and the given config lines (`down-after...`).
    pub fn new(seed: u64, nodes: usize, sentinels: usize, quorum: u32, extra: &[&str]) -> Sim {
        let mut net_rng = StdRng::seed_from_u64(seed);
        let nodes: Vec<Node> = (0..nodes)
            .map(|i| Node {
                addr: node_addr(i),
                runid: format!("{:040x}", 0xabc0 + i),
                alive: true,
                master: (i > 0).then(|| node_addr(0)),
                offset: 0,
                priority: 100,
                refuse_promotion: false,
                refuse_reconf: false,
                requires_auth: false,
                data: Vec::new(),
                min_replicas: 0,
            })
            .collect();
        let mut sim_sentinels = Vec::new();
        for i in 0..sentinels {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(i as u64));
            let myid = Sentinel::random_id(&mut rng);
            let mut s = Sentinel::new(myid, sentinel_addr(i).port);
            let mut lines = vec![format!("monitor mymaster 127.0.0.1 6379 {quorum}")];
            lines.extend(extra.iter().map(|l| l.to_string()));
            let lines: Vec<Vec<String>> = lines
                .iter()
                .map(|l| crate::config::args::split_args(l).unwrap())
                .collect();
            s.load_lines(&lines, START).unwrap();
            let phase = net_rng.gen_range(0..100);
            sim_sentinels.push(SimSentinel {
                sentinel: s,
                addr: sentinel_addr(i),
                alive: true,
                rng,
                links: BTreeSet::new(),
                config: None,
                phase,
            });
        }
        let mut sim = Sim {
            now: START,
            nodes,
            sentinels: sim_sentinels,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            net_rng,
            cuts: BTreeSet::new(),
            trace: Vec::new(),
            max_latency: 5,
            elections: Vec::new(),
        };
        for i in 0..sentinels {
            sim.start_sentinel(i);
        }
        sim
    }

    /// Starts (or restarts) sentinel `i` with its current machine.
    pub fn start_sentinel(&mut self, i: usize) {
        let now = self.now;
        let outputs = self.sentinels[i].sentinel.start(now);
        self.sentinels[i].alive = true;
        self.sentinels[i].links.clear();
        self.apply_outputs(i, outputs);
        let at = now + self.sentinels[i].phase;
        self.push(at, Event::Tick(i));
    }

    /// Sets every sentinel's tick phase (ms after each 100 ms boundary).
    pub fn set_phases(&mut self, phases: &[Ms]) {
        for (s, p) in self.sentinels.iter_mut().zip(phases) {
            s.phase = *p;
        }
        // Drop the queued ticks and queue them again with the new phases.
        let ticks: Vec<usize> = self
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Tick(_)))
            .map(|(k, _)| *k)
            .collect();
        for k in ticks {
            self.events.remove(&k);
        }
        for i in 0..self.sentinels.len() {
            let at = self.now + self.sentinels[i].phase;
            self.push(at, Event::Tick(i));
        }
    }

    fn push(&mut self, at: Ms, event: Event) {
        self.seq += 1;
        let key = self.seq as usize;
        self.events.insert(key, event);
        self.queue.push(Reverse((at, self.seq, key)));
    }

    fn latency(&mut self) -> Ms {
        self.net_rng.gen_range(1..=self.max_latency)
    }

    pub fn cut(&mut self, a: &Addr, b: &Addr) {
        self.cuts.insert((a.clone(), b.clone()));
        self.cuts.insert((b.clone(), a.clone()));
    }

    pub fn heal(&mut self) {
        self.cuts.clear();
    }

    fn endpoint(&self, addr: &Addr) -> Option<Endpoint> {
        if let Some(i) = self.nodes.iter().position(|n| n.addr == *addr) {
            return Some(Endpoint::Node(i));
        }
        self.sentinels
            .iter()
            .position(|s| s.addr == *addr)
            .map(Endpoint::Sentinel)
    }

    fn reachable(&self, from: usize, to: &Addr) -> bool {
        if !self.sentinels[from].alive
            || self
                .cuts
                .contains(&(self.sentinels[from].addr.clone(), to.clone()))
        {
            return false;
        }
        match self.endpoint(to) {
            Some(Endpoint::Node(i)) => self.nodes[i].alive,
            Some(Endpoint::Sentinel(i)) => self.sentinels[i].alive,
            None => false,
        }
    }

    /// Runs until `until` (virtual ms since start).
    pub fn run_until(&mut self, until: Ms) {
        let end = START + until;
        let mut steps = 0u64;
        while let Some(Reverse((at, _, key))) = self.queue.peek().cloned() {
            if at > end {
                break;
            }
            steps += 1;
            assert!(steps < 50_000_000, "simulation did not converge");
            self.queue.pop();
            let Some(event) = self.events.remove(&key) else {
                continue;
            };
            self.now = at;
            self.step(event);
        }
        self.now = end;
        for n in self.nodes.iter_mut() {
            if n.alive && n.master.is_none() {
                n.offset = (self.now - START) / 10;
            }
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Tick(i) => {
                if !self.sentinels[i].alive {
                    return;
                }
                self.advance_offsets();
                self.reconcile_links(i);
                let now = self.now;
                let s = &mut self.sentinels[i];
                let outputs = s.sentinel.tick(now, &mut s.rng);
                self.apply_outputs(i, outputs);
                self.push(now + 100, Event::Tick(i));
            }
            Event::Deliver(i, input) => {
                if !self.sentinels[i].alive {
                    return;
                }
                let now = self.now;
                let s = &mut self.sentinels[i];
                let outputs = s.sentinel.handle(input, now, &mut s.rng);
                self.apply_outputs(i, outputs);
            }
            Event::Command {
                from,
                link,
                command,
                expect,
            } => self.command_arrives(from, link, command, expect),
        }
    }

    /// Is replica `r`'s replication link up (both alive, its master a master, no cut)?
    fn repl_link_up(&self, r: usize) -> bool {
        let node = &self.nodes[r];
        let Some(m) = &node.master else {
            return false;
        };
        node.alive
            && !self.cuts.contains(&(node.addr.clone(), m.clone()))
            && self
                .nodes
                .iter()
                .any(|x| x.addr == *m && x.alive && x.master.is_none())
    }

    /// Replication: a connected replica has its master's offset and data (a full copy: the
    /// model does not need partial syncs).
    fn advance_offsets(&mut self) {
        let offset = (self.now - START) / 10;
        for i in 0..self.nodes.len() {
            if self.nodes[i].alive && self.nodes[i].master.is_none() {
                self.nodes[i].offset = offset;
            }
        }
        for i in 0..self.nodes.len() {
            if !self.repl_link_up(i) {
                continue;
            }
            let m = self.nodes[i].master.clone().expect("a replica");
            let master = self.nodes.iter().find(|x| x.addr == m).expect("up");
            let (offset, data) = (master.offset, master.data.clone());
            self.nodes[i].offset = offset;
            self.nodes[i].data = data;
        }
    }

    /// A client write of `id` to node `n`: acknowledged if `n` is an alive master with at
    /// least `min_replicas` connected replicas (`min-replicas-to-write`).
    pub fn write(&mut self, n: usize, id: u64) -> bool {
        let node = &self.nodes[n];
        if !node.alive || node.master.is_some() {
            return false;
        }
        let addr = node.addr.clone();
        let connected = (0..self.nodes.len())
            .filter(|&r| self.nodes[r].master.as_ref() == Some(&addr) && self.repl_link_up(r))
            .count();
        if connected < self.nodes[n].min_replicas {
            return false;
        }
        self.nodes[n].data.push(id);
        true
    }

    /// Opens wanted links that can be opened, drops links that broke.
    fn reconcile_links(&mut self, i: usize) {
        let wanted = self.sentinels[i].sentinel.links();
        let mut inputs = Vec::new();
        let up: Vec<(LinkId, bool)> = self.sentinels[i].links.iter().cloned().collect();
        for (link, pubsub) in up {
            let still_wanted = wanted.iter().any(|w| w.id == link);
            if !still_wanted || !self.reachable(i, &link.addr) {
                self.sentinels[i].links.remove(&(link.clone(), pubsub));
                if still_wanted {
                    inputs.push(Input::Disconnected { link, pubsub });
                }
            }
        }
        for spec in wanted {
            if !self.reachable(i, &spec.id.addr) {
                continue;
            }
            let kinds: &[bool] = if spec.pubsub {
                &[false, true]
            } else {
                &[false]
            };
            for &pubsub in kinds {
                if self.sentinels[i].links.insert((spec.id.clone(), pubsub)) {
                    inputs.push(Input::Connected {
                        link: spec.id.clone(),
                        pubsub,
                        local_ip: (!pubsub).then(|| "127.0.0.1".to_string()),
                    });
                }
            }
        }
        let now = self.now;
        for input in inputs {
            let s = &mut self.sentinels[i];
            let outputs = s.sentinel.handle(input, now, &mut s.rng);
            self.apply_outputs(i, outputs);
        }
    }

    fn apply_outputs(&mut self, i: usize, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send {
                    link,
                    command,
                    expect,
                } => {
                    if self.sentinels[i].links.contains(&(link.clone(), false)) {
                        let at = self.now + self.latency();
                        self.push(
                            at,
                            Event::Command {
                                from: i,
                                link,
                                command,
                                expect,
                            },
                        );
                    }
                }
                Output::Close { link, pubsub } => {
                    self.sentinels[i].links.remove(&(link, pubsub));
                }
                Output::Event(e) => {
                    if e.kind() == "+elected-leader" {
                        let epoch = self.sentinels[i].sentinel.masters["mymaster"].failover_epoch;
                        self.elections.push((epoch, i));
                    }
                    let line = format!("{} s{i} {}", self.now - START, e.log_line());
                    self.trace.push(line);
                }
                Output::Log { text, .. } => {
                    let line = format!("{} s{i} # {text}", self.now - START);
                    self.trace.push(line);
                }
                Output::FlushConfig => {
                    let lines = self.sentinels[i].sentinel.config_lines();
                    self.sentinels[i].config = Some(lines.join("\n"));
                }
                Output::Crash => self.sentinels[i].alive = false,
            }
        }
    }

    /// A command reaches its target; its reply (if any) travels back.
    fn command_arrives(&mut self, from: usize, link: LinkId, command: Vec<String>, expect: Expect) {
        if !self.reachable(from, &link.addr)
            || !self.sentinels[from].links.contains(&(link.clone(), false))
        {
            return;
        }
        let reply = match self.endpoint(&link.addr) {
            Some(Endpoint::Node(n)) => self.node_command(n, &command),
            Some(Endpoint::Sentinel(s)) => self.sentinel_receives(s, &command),
            None => return,
        };
        let Some(reply) = reply else {
            return;
        };
        let at = self.now + self.latency();
        self.push(
            at,
            Event::Deliver(
                from,
                Input::Reply {
                    link,
                    expect,
                    reply,
                },
            ),
        );
    }

    fn node_command(&mut self, n: usize, command: &[String]) -> Option<Frame> {
        let name = command[0].to_ascii_uppercase();
        if self.nodes[n].requires_auth {
            return Some(Frame::error("NOAUTH Authentication required."));
        }
        match name.as_str() {
            "PING" => Some(Frame::simple("PONG")),
            "INFO" => Some(Frame::bulk(self.node_info(n))),
            "PUBLISH" => {
                // Deliver to every sentinel subscribed on this node.
                let addr = self.nodes[n].addr.clone();
                let payload = command[2].clone();
                let mut receivers = 0;
                for s in 0..self.sentinels.len() {
                    if !self.reachable(s, &addr) {
                        continue;
                    }
                    let subscribed: Vec<LinkId> = self.sentinels[s]
                        .links
                        .iter()
                        .filter(|(l, pubsub)| *pubsub && l.addr == addr)
                        .map(|(l, _)| l.clone())
                        .collect();
                    for link in subscribed {
                        receivers += 1;
                        let at = self.now + self.latency();
                        let input = Input::Message {
                            link,
                            payload: payload.clone(),
                        };
                        self.push(at, Event::Deliver(s, input));
                    }
                }
                Some(Frame::Integer(receivers))
            }
            "SLAVEOF" => {
                let node = &mut self.nodes[n];
                if command[1].eq_ignore_ascii_case("no") {
                    if !node.refuse_promotion {
                        node.master = None;
                    }
                } else if !node.refuse_reconf {
                    let port: u16 = command[2].parse().unwrap_or(0);
                    node.master = Some(Addr::new(&command[1], port));
                }
                Some(Frame::simple("QUEUED"))
            }
            _ => Some(Frame::simple("OK")),
        }
    }

    fn node_info(&self, n: usize) -> String {
        let node = &self.nodes[n];
        let mut out = format!("# Server\r\nrun_id:{}\r\n# Replication\r\n", node.runid);
        match &node.master {
            None => {
                out.push_str("role:master\r\n");
                let replicas = (0..self.nodes.len()).filter(|&r| {
                    self.nodes[r].master.as_ref() == Some(&node.addr) && self.repl_link_up(r)
                });
                for (k, r) in replicas.enumerate() {
                    let r = &self.nodes[r];
                    out.push_str(&format!(
                        "slave{k}:ip={},port={},state=online,offset={},lag=0\r\n",
                        r.addr.ip, r.addr.port, r.offset
                    ));
                }
            }
            Some(m) => {
                let up = self.repl_link_up(n);
                out.push_str(&format!(
                    "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n",
                    m.ip,
                    m.port,
                    if up { "up" } else { "down" }
                ));
                if !up {
                    out.push_str("master_link_down_since_seconds:1\r\n");
                }
                out.push_str(&format!(
                    "slave_repl_offset:{}\r\nslave_priority:{}\r\nreplica_announced:1\r\n",
                    node.offset, node.priority
                ));
            }
        }
        out
    }

    fn sentinel_receives(&mut self, s: usize, command: &[String]) -> Option<Frame> {
        let name = command[0].to_ascii_uppercase();
        match name.as_str() {
            "PING" => Some(Frame::simple("PONG")),
            "PUBLISH" if command.get(1).map(String::as_str) == Some(HELLO_CHANNEL) => {
                let at = self.now;
                let input = Input::Hello {
                    payload: command[2].clone(),
                };
                self.push(at, Event::Deliver(s, input));
                Some(Frame::Integer(1))
            }
            "SENTINEL" => {
                let now = self.now;
                let target = &mut self.sentinels[s];
                let (reply, outputs) =
                    sentinel_command(&mut target.sentinel, &command[1..], now, &mut target.rng);
                self.apply_outputs(s, outputs);
                Some(reply_to_frame(reply))
            }
            _ => Some(Frame::simple("OK")),
        }
    }

    pub fn kill_node(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Restarts a node as it was configured (a master comes back as a master).
    pub fn restart_node(&mut self, i: usize) {
        self.nodes[i].alive = true;
    }

    pub fn kill_sentinel(&mut self, i: usize) {
        self.sentinels[i].alive = false;
        self.sentinels[i].links.clear();
    }

    /// The trace lines of sentinel `i` (or all with `None`) naming `event`.
    pub fn events(&self, i: Option<usize>, event: &str) -> Vec<&String> {
        self.trace
            .iter()
            .filter(|l| {
                let mut parts = l.split(' ');
                let _time = parts.next();
                let who = parts.next().unwrap_or("");
                let name = parts.next().unwrap_or("");
                name == event && i.is_none_or(|i| who == format!("s{i}"))
            })
            .collect()
    }

    /// The master address sentinel `i` reports.
    pub fn master_addr(&self, i: usize) -> Addr {
        self.sentinels[i].sentinel.masters["mymaster"]
            .current_addr()
            .clone()
    }
}

/// The frame a client would read for `reply` (RESP2).
fn reply_to_frame(reply: Reply) -> Frame {
    let mut buf = bytes::BytesMut::new();
    reply.encode(false, &mut buf);
    match crate::resp::frame::parse(&mut buf) {
        Ok(Some(frame)) => frame,
        _ => Frame::error("ERR unparsable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: &[&str] = &[
        "down-after-milliseconds mymaster 1000",
        "failover-timeout mymaster 10000",
    ];

    #[test]
    fn three_sentinels_fail_over_a_dead_master_and_convert_it_when_it_returns() {
        let mut sim = Sim::new(1, 3, 3, 2, FAST);
        sim.run_until(15_000);
        for i in 0..3 {
            let m = &sim.sentinels[i].sentinel.masters["mymaster"];
            assert_eq!(m.replicas.len(), 2, "s{i} found the replicas");
            assert_eq!(m.sentinels.len(), 2, "s{i} found the other sentinels");
        }
        sim.kill_node(0);
        sim.run_until(30_000);
        let master_sdown = |sim: &Sim| {
            sim.events(None, "+sdown")
                .iter()
                .filter(|l| l.contains("+sdown master"))
                .count()
        };
        assert_eq!(master_sdown(&sim), 3, "{:#?}", sim.trace);
        assert!(!sim.events(None, "+odown").is_empty());
        let elected = sim.events(None, "+elected-leader");
        assert_eq!(elected.len(), 1, "one leader: {:#?}", sim.trace);
        let new_master = sim.master_addr(0);
        assert_ne!(new_master, node_addr(0));
        for i in 0..3 {
            assert_eq!(sim.master_addr(i), new_master, "s{i} agrees");
            assert_eq!(sim.events(Some(i), "+switch-master").len(), 1);
        }
        let promoted = sim.nodes.iter().position(|n| n.addr == new_master).unwrap();
        assert!(sim.nodes[promoted].master.is_none());
        let other = 3 - promoted;
        assert_eq!(sim.nodes[other].master.as_ref(), Some(&new_master));
        // The old master returns as a master and is converted into a replica.
        sim.restart_node(0);
        sim.run_until(60_000);
        assert_eq!(
            sim.nodes[0].master.as_ref(),
            Some(&new_master),
            "{:#?}",
            sim.trace
        );
        assert!(!sim.events(None, "+convert-to-slave").is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_trace() {
        let run = |seed| {
            let mut sim = Sim::new(seed, 3, 3, 2, FAST);
            sim.run_until(12_000);
            sim.kill_node(0);
            sim.run_until(30_000);
            sim.trace
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert!(a.iter().any(|l| l.contains("+switch-master")));
    }

    #[test]
    fn without_quorum_there_is_no_failover() {
        // Quorum 2, but only one sentinel is left to see the master down.
        let mut sim = Sim::new(3, 2, 3, 2, FAST);
        sim.run_until(12_000);
        sim.kill_sentinel(1);
        sim.kill_sentinel(2);
        sim.kill_node(0);
        sim.run_until(40_000);
        assert!(sim.trace.iter().any(|l| l.contains("s0 +sdown master")));
        assert!(sim.events(None, "+odown").is_empty());
        assert!(sim.events(None, "+try-failover").is_empty());
        assert_eq!(sim.master_addr(0), node_addr(0));
    }

    #[test]
    fn odown_without_a_majority_is_not_elected() {
        // Quorum 1: one sentinel reaches ODOWN alone, but 1 of 3 voters is no majority.
        let mut sim = Sim::new(4, 2, 3, 1, FAST);
        sim.run_until(12_000);
        sim.kill_sentinel(1);
        sim.kill_sentinel(2);
        sim.kill_node(0);
        sim.run_until(40_000);
        assert!(!sim.events(Some(0), "+odown").is_empty());
        assert!(!sim.events(Some(0), "+try-failover").is_empty());
        assert!(!sim
            .events(Some(0), "-failover-abort-not-elected")
            .is_empty());
        assert!(sim.events(None, "+elected-leader").is_empty());
        assert_eq!(sim.master_addr(0), node_addr(0));
    }

    #[test]
    fn a_split_vote_is_retried_in_a_later_epoch() {
        // Two sentinels that tick at the same instants, quorum 1: both start at once, both
        // vote for themselves, neither has the majority of 2. The random delay decides the
        // next round.
        let mut won_after_split = 0;
        for seed in 0..10 {
            let mut sim = Sim::new(seed, 2, 2, 1, FAST);
            sim.set_phases(&[0, 0]);
            sim.max_latency = 20;
            sim.run_until(12_000);
            sim.kill_node(0);
            sim.run_until(80_000);
            let aborted = sim.events(None, "-failover-abort-not-elected").len();
            let elected = sim.events(None, "+elected-leader");
            if aborted >= 2 && elected.len() == 1 {
                assert!(sim
                    .events(None, "+new-epoch")
                    .iter()
                    .any(|l| l.ends_with(" 2")));
                assert_eq!(sim.master_addr(0), node_addr(1));
                assert_eq!(sim.master_addr(1), node_addr(1));
                won_after_split += 1;
            }
        }
        assert!(
            won_after_split > 0,
            "no seed produced a split vote followed by a winner"
        );
    }

    #[test]
    fn replica_priority_decides_and_zero_is_never_promoted() {
        let mut sim = Sim::new(5, 3, 1, 1, FAST);
        sim.nodes[1].priority = 0;
        sim.nodes[2].priority = 50;
        sim.run_until(12_000);
        sim.kill_node(0);
        sim.run_until(30_000);
        assert_eq!(sim.master_addr(0), node_addr(2), "{:#?}", sim.trace);

        let mut sim = Sim::new(6, 2, 1, 1, FAST);
        sim.nodes[1].priority = 0;
        sim.run_until(12_000);
        sim.kill_node(0);
        sim.run_until(30_000);
        assert!(!sim.events(None, "-failover-abort-no-good-slave").is_empty());
        assert_eq!(sim.master_addr(0), node_addr(0));
    }

    #[test]
    fn a_promotion_that_never_happens_times_out() {
        let mut sim = Sim::new(7, 2, 1, 1, FAST);
        sim.nodes[1].refuse_promotion = true;
        sim.run_until(12_000);
        sim.kill_node(0);
        sim.run_until(40_000);
        assert!(!sim
            .events(None, "+failover-state-wait-promotion")
            .is_empty());
        assert!(
            !sim.events(None, "-failover-abort-slave-timeout").is_empty(),
            "{:#?}",
            sim.trace
        );
        assert_eq!(sim.master_addr(0), node_addr(0));
    }

    #[test]
    fn a_restarted_sentinel_remembers_everything_from_its_rewritten_config() {
        let mut sim = Sim::new(8, 3, 3, 2, FAST);
        sim.run_until(12_000);
        sim.kill_node(0);
        sim.run_until(30_000);
        let before = sim.sentinels[0].sentinel.clone();
        let text = sim.sentinels[0].config.clone().expect("config flushed");
        let lines: Vec<Vec<String>> = text
            .lines()
            .map(|l| {
                let mut words = crate::config::args::split_args(l).unwrap();
                assert_eq!(words.remove(0), "sentinel");
                words
            })
            .collect();
        let mut restarted = Sentinel::new("x".repeat(40), before.core.port);
        restarted.load_lines(&lines, sim.now).unwrap();
        assert_eq!(restarted.core.myid, before.core.myid);
        assert_eq!(restarted.core.current_epoch, before.core.current_epoch);
        let (a, b) = (&restarted.masters["mymaster"], &before.masters["mymaster"]);
        assert_eq!(a.inst.addr, b.inst.addr);
        assert_eq!(a.config_epoch, b.config_epoch);
        assert_eq!(a.inst.down_after_period, 1000);
        let keys =
            |m: &super::super::Master| -> Vec<String> { m.replicas.keys().cloned().collect() };
        assert_eq!(keys(a), keys(b));
        assert_eq!(
            a.sentinels.keys().collect::<Vec<_>>(),
            b.sentinels.keys().collect::<Vec<_>>()
        );
        // And it rewrites the same lines.
        assert_eq!(restarted.config_lines().join("\n"), text);
    }

    #[test]
    fn a_stalled_timer_enters_tilt_and_leaves_it() {
        let mut sim = Sim::new(9, 2, 1, 1, FAST);
        sim.run_until(5_000);
        // The sentinel's timer does not run for 3 s (its ticks are dropped).
        let mut s = sim.sentinels.remove(0);
        let outputs = s.sentinel.tick(sim.now + 3_000, &mut s.rng);
        assert!(outputs
            .iter()
            .any(|o| matches!(o, Output::Event(e) if e.kind() == "+tilt")));
        assert!(s.sentinel.core.tilt);
        // Ticking normally again, it stays in TILT for the TILT period, then leaves.
        let mut left_at = None;
        for k in 1..=320 {
            let at = sim.now + 3_000 + k * 100;
            let outputs = s.sentinel.tick(at, &mut s.rng);
            if outputs
                .iter()
                .any(|o| matches!(o, Output::Event(e) if e.kind() == "-tilt"))
            {
                left_at = Some(k * 100);
                break;
            }
        }
        assert_eq!(left_at, Some(30_000));
    }

    #[test]
    fn a_partitioned_minority_cannot_fail_over() {
        // Sentinel 0 is cut from the master and from the other sentinels: it sees the master
        // down, but cannot reach quorum 2; the others see it up.
        let mut sim = Sim::new(10, 2, 3, 2, FAST);
        sim.run_until(12_000);
        for peer in [sentinel_addr(1), sentinel_addr(2), node_addr(0)] {
            sim.cut(&sentinel_addr(0), &peer);
        }
        sim.run_until(40_000);
        assert!(!sim.events(Some(0), "+sdown").is_empty());
        assert!(sim.events(None, "+odown").is_empty());
        assert!(sim.events(None, "+switch-master").is_empty());
        sim.heal();
        sim.run_until(50_000);
        assert!(!sim.events(Some(0), "-sdown").is_empty());
    }

    #[test]
    fn is_master_down_by_addr_votes_once_per_epoch() {
        let mut sim = Sim::new(11, 2, 1, 1, FAST);
        sim.run_until(3_000);
        let s = &mut sim.sentinels[0];
        let now = sim.now;
        let ask = |s: &mut SimSentinel, epoch: &str, runid: &str| {
            let args: Vec<String> = ["is-master-down-by-addr", "127.0.0.1", "6379", epoch, runid]
                .iter()
                .map(|a| a.to_string())
                .collect();
            sentinel_command(&mut s.sentinel, &args, now, &mut s.rng).0
        };
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let vote = |leader: &str, epoch: i64| {
            Reply::Array(vec![
                Reply::Int(0),
                Reply::bulk_string(leader.into()),
                Reply::Int(epoch),
            ])
        };
        assert_eq!(ask(s, "1", &a), vote(&a, 1));
        assert_eq!(ask(s, "1", &b), vote(&a, 1), "first come, first served");
        assert_eq!(ask(s, "2", &b), vote(&b, 2));
        assert_eq!(s.sentinel.core.current_epoch, 2);
        assert_eq!(ask(s, "2", "*"), vote("*", 0));
        assert_eq!(
            ask(s, "x", "*"),
            Reply::error("ERR value is not an integer or out of range")
        );
        // An unknown address: not down, no vote.
        let args: Vec<String> = ["is-master-down-by-addr", "10.0.0.1", "1", "9", &a]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let (reply, _) = sentinel_command(&mut s.sentinel, &args, now, &mut s.rng);
        assert_eq!(reply, vote("*", 0));
    }

    #[test]
    fn hellos_for_unknown_masters_and_junk_are_ignored() {
        let mut s = Sentinel::new("c".repeat(40), 26379);
        s.add_master("mymaster", "127.0.0.1", "6379", 1, START)
            .unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        for payload in [
            "garbage",
            "127.0.0.1,26380,dddd,5,othermaster,127.0.0.1,6379,9",
            ",,,,,,,",
            "127.0.0.1,26380,dddd,notanumber,mymaster,1.1.1.1,1,0",
        ] {
            let _ = s.handle(
                Input::Hello {
                    payload: payload.into(),
                },
                START,
                &mut rng,
            );
        }
        let m = &s.masters["mymaster"];
        assert_eq!(
            m.inst.addr,
            node_addr(0),
            "no switch from a zero config epoch"
        );
        assert_eq!(s.core.current_epoch, 0);
        assert!(m.sentinels.contains_key("dddd"));
        let _ = Kind::Master;
    }

    #[test]
    fn a_master_that_wants_a_password_we_lack_is_down_and_never_failed_over() {
        let mut sim = Sim::new(12, 2, 1, 1, FAST);
        sim.nodes[0].requires_auth = true;
        sim.run_until(20_000);
        assert!(sim.trace.iter().any(|l| l.contains("+sdown master")));
        let m = &sim.sentinels[0].sentinel.masters["mymaster"];
        assert!(m.replicas.is_empty(), "INFO errors teach nothing");
        assert!(!sim.events(None, "-failover-abort-no-good-slave").is_empty());
        assert!(sim.events(None, "+switch-master").is_empty());
    }

    #[test]
    fn junk_replies_never_panic_or_change_the_master() {
        use crate::resp::frame::Frame;
        let mut sim = Sim::new(13, 2, 2, 1, FAST);
        sim.run_until(12_000);
        let mut rng = StdRng::seed_from_u64(99);
        let links: Vec<LinkId> = sim.sentinels[0]
            .sentinel
            .links()
            .into_iter()
            .map(|l| l.id)
            .collect();
        let junk = |rng: &mut StdRng| -> Frame {
            match rng.gen_range(0..7) {
                0 => Frame::Integer(rng.gen()),
                1 => Frame::bulk(format!(
                    "role:slave\r\nmaster_port:{}\r\n",
                    rng.gen::<u32>()
                )),
                2 => Frame::Array(vec![
                    Frame::Integer(1),
                    Frame::Integer(2),
                    Frame::Integer(3),
                ]),
                3 => Frame::Array(vec![Frame::Integer(1), Frame::bulk("x"), Frame::bulk("y")]),
                4 => Frame::Array(vec![
                    Frame::Integer(rng.gen()),
                    Frame::bulk("*"),
                    Frame::Integer(-5),
                ]),
                5 => Frame::error("ERR junk"),
                _ => Frame::Null,
            }
        };
        let expects = [
            Expect::Ping,
            Expect::Info,
            Expect::Publish,
            Expect::IsMasterDown,
            Expect::Ignore,
        ];
        for k in 0..2000 {
            let link = links[k % links.len()].clone();
            let expect = expects[rng.gen_range(0..expects.len())];
            let reply = junk(&mut rng);
            let now = sim.now;
            let s = &mut sim.sentinels[0];
            let _ = s.sentinel.handle(
                Input::Reply {
                    link,
                    expect,
                    reply,
                },
                now,
                &mut s.rng,
            );
            let _ = s.sentinel.handle(
                Input::Hello {
                    payload: format!(
                        "1.2.3.4,{},{},{},mymaster,9.9.9.9,1,0",
                        rng.gen::<u16>(),
                        k,
                        rng.gen::<u32>()
                    ),
                },
                now,
                &mut s.rng,
            );
        }
        assert_eq!(sim.master_addr(0), node_addr(0));
    }

    #[test]
    fn random_kills_and_partitions_never_elect_two_leaders_in_one_epoch() {
        for seed in 0..8 {
            let mut sim = Sim::new(100 + seed, 3, 5, 3, FAST);
            let mut rng = StdRng::seed_from_u64(seed);
            sim.max_latency = rng.gen_range(1..40);
            sim.run_until(12_000);
            let mut t = 12_000;
            for _round in 0..4 {
                // Cut a random sentinel from a random set of peers, maybe kill the master.
                let a = rng.gen_range(0..5);
                for b in 0..5 {
                    if b != a && rng.gen_bool(0.5) {
                        sim.cut(&sentinel_addr(a), &sentinel_addr(b));
                    }
                }
                let current = sim.master_addr(a);
                if rng.gen_bool(0.5) {
                    if let Some(n) = sim.nodes.iter().position(|n| n.addr == current) {
                        sim.kill_node(n);
                    }
                }
                t += rng.gen_range(3_000..15_000);
                sim.run_until(t);
                sim.heal();
                for n in 0..3 {
                    sim.restart_node(n);
                }
                t += 10_000;
                sim.run_until(t);
            }
            // Settle: every sentinel agrees on one master.
            sim.run_until(t + 60_000);
            let mut seen = std::collections::BTreeMap::new();
            for (epoch, who) in &sim.elections {
                let first = seen.entry(*epoch).or_insert(*who);
                assert_eq!(first, who, "seed {seed}: two leaders in epoch {epoch}");
            }
            let addr = sim.master_addr(0);
            for i in 1..5 {
                assert_eq!(sim.master_addr(i), addr, "seed {seed}: sentinels disagree");
            }
            let masters: Vec<&Addr> = sim
                .nodes
                .iter()
                .filter(|n| n.master.is_none())
                .map(|n| &n.addr)
                .collect();
            assert_eq!(masters, vec![&addr], "seed {seed}: one master once healed");
        }
    }

    /// The split-brain lesson: the old master, cut off with a client still writing to it,
    /// acknowledges writes that are lost when it is converted after the heal. With
    /// `min-replicas-to-write 1` it refuses them instead.
    fn partitioned_master_writes(min_replicas: usize) -> (Vec<u64>, Vec<u64>) {
        let mut sim = Sim::new(14, 3, 3, 2, FAST);
        sim.nodes[0].min_replicas = min_replicas;
        let mut t = 12_000;
        let mut id = 0;
        let mut acked = Vec::new();
        let mut write_for = |sim: &mut Sim, t: &mut Ms, until: Ms, node: usize| {
            while *t < until {
                *t += 200;
                sim.run_until(*t);
                id += 1;
                if sim.write(node, id) {
                    acked.push(id);
                }
            }
        };
        write_for(&mut sim, &mut t, 14_000, 0);
        // Node 0 is cut from the sentinels and the replicas; its client still reaches it.
        for peer in [
            node_addr(1),
            node_addr(2),
            sentinel_addr(0),
            sentinel_addr(1),
            sentinel_addr(2),
        ] {
            sim.cut(&node_addr(0), &peer);
        }
        write_for(&mut sim, &mut t, 30_000, 0);
        let new_master = sim.master_addr(0);
        assert_ne!(new_master, node_addr(0), "{:#?}", sim.trace);
        sim.heal();
        sim.run_until(60_000);
        assert_eq!(
            sim.nodes[0].master.as_ref(),
            Some(&new_master),
            "old master converted"
        );
        let new = sim.nodes.iter().find(|n| n.addr == new_master).unwrap();
        let lost: Vec<u64> = acked
            .iter()
            .filter(|w| !new.data.contains(w))
            .copied()
            .collect();
        (acked, lost)
    }

    #[test]
    fn a_partitioned_old_master_loses_the_writes_it_acknowledged() {
        let (acked, lost) = partitioned_master_writes(0);
        assert_eq!(acked, (1..=90).collect::<Vec<u64>>());
        // Every write acknowledged during the cut (ids 11..=90) is gone, and so is write 10:
        // acknowledged just before the cut, it had not reached a replica yet (replication is
        // asynchronous).
        assert_eq!(lost, (10..=90).collect::<Vec<u64>>());
    }

    #[test]
    fn min_replicas_to_write_refuses_the_writes_that_would_be_lost() {
        let (acked, lost) = partitioned_master_writes(1);
        // Cut off from its replicas, the old master refuses every write: none of the cut's
        // writes is acknowledged, so none is lost. Only the asynchronous-replication window
        // before the cut remains (write 10), which min-replicas-max-lag bounds in Redis.
        assert_eq!(acked, (1..=10).collect::<Vec<u64>>());
        assert_eq!(lost, vec![10]);
    }

    #[test]
    fn a_replica_that_never_follows_ends_the_failover_by_timeout() {
        let mut sim = Sim::new(15, 3, 1, 1, FAST);
        sim.nodes[1].priority = 10; // node 1 is promoted
        sim.nodes[2].refuse_reconf = true;
        sim.run_until(12_000);
        sim.kill_node(0);
        sim.run_until(40_000);
        assert!(!sim.events(None, "+slave-reconf-sent").is_empty());
        // With parallel-syncs 1 the stuck replica fills the only slot, so (as in Redis) it is
        // the failover timeout that ends the failover, not the reconfiguration timeout.
        assert!(sim.events(None, "-slave-reconf-sent-timeout").is_empty());
        assert!(
            !sim.events(None, "+failover-end-for-timeout").is_empty(),
            "{:#?}",
            sim.trace
        );
        assert!(!sim.events(None, "+failover-end").is_empty());
        assert_eq!(sim.master_addr(0), node_addr(1));
        // It keeps replicating from the dead master; the sentinel keeps trying to fix it.
        sim.run_until(70_000);
        assert!(
            !sim.events(None, "+fix-slave-config").is_empty(),
            "{:#?}",
            sim.trace
        );
    }
}
