//! A deterministic simulator for the cluster machine: N nodes, links delivered in order through
//! an in-memory network that can be cut, virtual time, seeded randomness, and replication
//! reduced to what the bus sees (offsets, the link up or down).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bus::NodeName;
use super::failover::FailoverMode;
use super::{Cluster, LinkId, Ms, Output, ReplView, Settings};
use crate::events::Event;

struct SimNode {
    cluster: Cluster,
    alive: bool,
    /// The node index this one replicates from.
    master: Option<usize>,
    offset: u64,
    master_since: Ms,
    config: String,
    events: Vec<Event>,
}

pub struct Sim {
    nodes: Vec<SimNode>,
    now: Ms,
    rng: StdRng,
    /// (node, link) -> (node, link)
    peers: BTreeMap<(usize, LinkId), (usize, LinkId)>,
    queue: VecDeque<(usize, LinkId, Vec<u8>)>,
    cut: BTreeSet<(usize, usize)>,
}

fn settings(i: usize, node_timeout: Ms) -> Settings {
    Settings {
        node_timeout,
        port: 9001 + i as u16,
        cport: 19001 + i as u16,
        announce_ip: Some("127.0.0.1".into()),
        ..Settings::default()
    }
}

impl Sim {
    pub fn new(n: usize, node_timeout: Ms, seed: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let nodes = (0..n)
            .map(|i| SimNode {
                cluster: Cluster::new(settings(i, node_timeout), 0, &mut rng),
                alive: true,
                master: None,
                offset: 0,
                master_since: 0,
                config: String::new(),
                events: Vec::new(),
            })
            .collect();
        Sim {
            nodes,
            now: 1_000_000,
            rng,
            peers: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.nodes[a].alive && self.nodes[b].alive && !self.cut.contains(&(a.min(b), a.max(b)))
    }

    pub fn cut(&mut self, a: usize, b: usize) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn name(&self, i: usize) -> NodeName {
        self.nodes[i].cluster.myself
    }

    pub fn c(&mut self, i: usize) -> &mut Cluster {
        &mut self.nodes[i].cluster
    }

    fn repl_view(&self, i: usize) -> ReplView {
        let n = &self.nodes[i];
        match n.master {
            Some(m) => ReplView {
                offset: n.offset,
                link_up: self.reachable(i, m),
                since: n.master_since,
            },
            None => ReplView {
                offset: n.offset,
                link_up: false,
                since: 0,
            },
        }
    }

    fn drain(&mut self, i: usize) {
        let outputs = self.nodes[i].cluster.take_outputs();
        for out in outputs {
            match out {
                Output::Connect { link, port, .. } => {
                    let target = self
                        .nodes
                        .iter()
                        .position(|n| n.cluster.settings.cport == port);
                    match target.filter(|&j| self.reachable(i, j)) {
                        Some(j) => {
                            let now = self.now;
                            let lj = self.nodes[j]
                                .cluster
                                .accepted(now, "127.0.0.1", "127.0.0.1");
                            self.peers.insert((i, link), (j, lj));
                            self.peers.insert((j, lj), (i, link));
                            self.nodes[i]
                                .cluster
                                .connected(now, link, "127.0.0.1", "127.0.0.1");
                        }
                        None => self.nodes[i].cluster.closed(link),
                    }
                }
                Output::Send { link, frame } => {
                    if let Some(&(j, lj)) = self.peers.get(&(i, link)) {
                        if self.reachable(i, j) {
                            self.queue.push_back((j, lj, frame));
                        }
                    }
                }
                Output::Close { link } => {
                    if let Some((j, lj)) = self.peers.remove(&(i, link)) {
                        self.peers.remove(&(j, lj));
                        self.nodes[j].cluster.closed(lj);
                    }
                }
                Output::SaveConfig { .. } => {
                    self.nodes[i].config = self.nodes[i].cluster.config_text();
                }
                Output::SetMaster(target) => {
                    self.nodes[i].master = target.and_then(|(_, port)| {
                        self.nodes
                            .iter()
                            .position(|n| n.cluster.settings.port == port)
                    });
                    self.nodes[i].master_since = self.now;
                }
                Output::Event(e) => self.nodes[i].events.push(e),
                Output::Publish { .. }
                | Output::DeleteSlotKeys(_)
                | Output::ShardLostSlot(_)
                | Output::PauseWrites(_) => {}
            }
        }
    }

    fn deliver(&mut self) {
        let mut budget = 100_000;
        while let Some((j, link, frame)) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "message storm");
            if !self.nodes[j].alive {
                continue;
            }
            let view = self.repl_view(j);
            self.nodes[j].cluster.set_repl(view);
            self.nodes[j].cluster.received(self.now, link, &frame);
            self.drain(j);
        }
    }

    /// Runs `ms` of virtual time in 100 ms cron steps.
    pub fn run(&mut self, ms: Ms) {
        for _ in 0..ms / 100 {
            self.now += 100;
            // Replicas follow their master's offset while connected.
            for i in 0..self.nodes.len() {
                if let Some(m) = self.nodes[i].master {
                    if self.reachable(i, m) {
                        self.nodes[i].offset = self.nodes[m].offset;
                        self.nodes[i].master_since = self.now;
                    }
                }
            }
            for i in 0..self.nodes.len() {
                if !self.nodes[i].alive {
                    continue;
                }
                let view = self.repl_view(i);
                let now = self.now;
                self.nodes[i].cluster.set_repl(view);
                let mut rng = StdRng::seed_from_u64(self.rng.gen());
                self.nodes[i].cluster.tick(now, &mut rng);
                self.drain(i);
                self.deliver();
            }
        }
    }

    pub fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
        let links: Vec<(usize, LinkId)> = self
            .peers
            .keys()
            .copied()
            .filter(|(n, _)| *n == i)
            .collect();
        for key in links {
            if let Some((j, lj)) = self.peers.remove(&key) {
                self.peers.remove(&(j, lj));
                self.nodes[j].cluster.closed(lj);
            }
        }
    }

    /// Restarts a killed node from its saved nodes.conf.
    pub fn restart(&mut self, i: usize) {
        let settings = self.nodes[i].cluster.settings.clone();
        let cluster = Cluster::from_config(settings, &self.nodes[i].config, self.now)
            .expect("valid config")
            .expect("non-empty config");
        self.nodes[i].cluster = cluster;
        self.nodes[i].alive = true;
        self.nodes[i].master = None;
    }

    /// What `redis-cli --cluster create --replicas 1` does for `masters` + as many replicas.
    pub fn create(&mut self, masters: usize) {
        let n = self.nodes.len();
        let per = super::slot::SLOTS / masters;
        for m in 0..masters {
            let start = m * per;
            let end = if m == masters - 1 {
                super::slot::SLOTS - 1
            } else {
                start + per - 1
            };
            self.nodes[m]
                .cluster
                .assign_slots(&[(start as u16, end as u16)], false)
                .unwrap();
        }
        for i in 0..n {
            self.nodes[i]
                .cluster
                .set_config_epoch(i as i64 + 1)
                .unwrap();
        }
        for i in 1..n {
            let now = self.now;
            let mut rng = StdRng::seed_from_u64(self.rng.gen());
            assert!(self.nodes[i]
                .cluster
                .meet("127.0.0.1", 9001, 19001, now, &mut rng));
        }
        for i in 0..n {
            self.drain(i);
        }
        // As redis-cli does, wait until every node knows every other.
        for _ in 0..60 {
            if self.nodes.iter().all(|x| x.cluster.nodes.len() == n) {
                break;
            }
            self.run(500);
        }
        for r in masters..n {
            let master = self.name((r - masters) % masters);
            self.nodes[r].cluster.replicate(&master, true).unwrap();
            self.drain(r);
        }
        self.run(3000);
    }

    pub fn events(&self, i: usize) -> &[Event] {
        &self.nodes[i].events
    }

    pub fn all_agree_ok(&self) -> bool {
        self.nodes
            .iter()
            .filter(|n| n.alive)
            .all(|n| n.cluster.state_ok)
    }

    pub fn write(&mut self, i: usize, bytes: u64) {
        self.nodes[i].offset += bytes;
    }
}

#[test]
fn six_nodes_form_a_cluster_and_agree() {
    let mut sim = Sim::new(6, 2000, 7);
    sim.create(3);
    assert!(sim.all_agree_ok());
    for i in 0..6 {
        let c = sim.c(i);
        assert_eq!(c.nodes.len(), 6, "node {i} knows everyone");
        assert_eq!(c.assigned_slots(), 16384);
        assert_eq!(c.size, 3);
    }
    let m0 = sim.name(0);
    assert_eq!(sim.c(3).me().replica_of, Some(m0));
    let r3 = sim.name(3);
    assert!(sim.c(0).me().replicas.contains(&r3));
    // Everyone has a distinct configEpoch for the masters, as set.
    assert_eq!(sim.c(5).node(&m0).unwrap().config_epoch, 1);
}

#[test]
fn a_failed_master_is_replaced_by_its_replica_and_rejoins_as_replica() {
    let mut sim = Sim::new(6, 2000, 11);
    sim.create(3);
    sim.write(0, 1000);
    sim.run(1000);
    let old = sim.name(0);
    sim.kill(0);
    sim.run(8000);
    let new = sim.name(3);
    assert!(sim.c(3).me().is_master(), "the replica took over");
    assert!(sim
        .events(3)
        .iter()
        .any(|e| matches!(e, Event::ClusterElectionWon)));
    for i in 1..6 {
        assert_eq!(sim.c(i).slot_owner_name(0), Some(new), "node {i}");
        assert!(sim.c(i).node(&old).unwrap().failing());
    }
    assert!(sim.all_agree_ok());
    sim.restart(0);
    sim.run(6000);
    assert_eq!(
        sim.c(0).me().replica_of,
        Some(new),
        "the old master follows"
    );
    assert!(sim
        .events(0)
        .iter()
        .any(|e| matches!(e, Event::ClusterReconfiguredAsReplica { .. })));
    assert!(sim.all_agree_ok());
    for i in 0..6 {
        assert!(
            !sim.c(i).node(&old).unwrap().failing(),
            "node {i} cleared FAIL"
        );
    }
}

#[test]
fn a_master_without_replica_takes_the_cluster_down() {
    let mut sim = Sim::new(3, 2000, 3);
    sim.create(3);
    assert!(sim.all_agree_ok());
    sim.kill(2);
    sim.run(6000);
    assert!(!sim.c(0).state_ok && !sim.c(1).state_ok);
}

#[test]
fn a_minority_partition_goes_down_and_comes_back() {
    let mut sim = Sim::new(6, 2000, 5);
    sim.create(3);
    // Isolate master 2 and its replica 5 from the rest... the replica of 2 cannot win alone;
    // 2 sees only itself among the masters.
    for a in [2, 5] {
        for b in [0, 1, 3, 4] {
            sim.cut(a, b);
        }
    }
    sim.run(8000);
    assert!(!sim.c(2).state_ok, "the minority master stops serving");
    // The majority fails 2 over to 5? No: 5 is with 2, and cannot reach a majority.
    assert!(sim.c(5).me().is_replica());
    sim.heal();
    sim.run(8000);
    assert!(sim.all_agree_ok());
}

#[test]
fn manual_failover_swaps_master_and_replica() {
    let mut sim = Sim::new(6, 2000, 9);
    sim.create(3);
    let old = sim.name(1);
    let now = 0;
    sim.c(4)
        .failover(FailoverMode::Default, now + 2_000_000)
        .unwrap();
    sim.run(3000);
    assert!(sim.c(4).me().is_master());
    let new = sim.name(4);
    assert_eq!(sim.c(1).me().replica_of, Some(new));
    assert!(sim.c(0).node(&old).unwrap().is_replica());
    assert!(sim.all_agree_ok());
}

#[test]
fn one_master_per_slot_after_random_faults() {
    for seed in 0..4 {
        let mut sim = Sim::new(6, 2000, seed);
        sim.create(3);
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..4 {
            let a = rng.gen_range(0..6);
            let b = rng.gen_range(0..6);
            if a != b {
                sim.cut(a, b);
            }
            sim.run(rng.gen_range(1..5) * 1000);
        }
        sim.heal();
        sim.run(20_000);
        let owners: Vec<Option<NodeName>> =
            (0..16384).map(|s| sim.c(0).slot_owner_name(s)).collect();
        for i in 1..6 {
            for (s, o) in owners.iter().enumerate() {
                assert_eq!(
                    sim.c(i).slot_owner_name(s as u16),
                    *o,
                    "seed {seed} node {i} slot {s}"
                );
            }
        }
        assert!(owners.iter().all(|o| o.is_some()));
        assert!(sim.all_agree_ok(), "seed {seed}");
    }
}

#[test]
fn of_two_replicas_the_one_with_the_better_offset_wins() {
    // Three masters; master 0 has two replicas (3 and 4), master 1 one (5), master 2 none.
    let mut sim = Sim::new(6, 2000, 21);
    sim.create(3);
    let m0 = sim.name(0);
    sim.c(4).replicate(&m0, true).unwrap();
    sim.drain(4);
    sim.run(3000);
    assert_eq!(sim.c(0).me().replicas.len(), 2);
    sim.write(0, 500);
    sim.run(1000);
    // Replica 3 misses the last writes.
    sim.cut(0, 3);
    sim.write(0, 700);
    sim.run(500);
    sim.kill(0);
    sim.run(10_000);
    assert!(sim.c(4).me().is_master(), "the up-to-date replica won");
    assert!(sim.c(3).me().is_replica());
    let winner = sim.name(4);
    assert_eq!(
        sim.c(3).me().replica_of,
        Some(winner),
        "the other follows the winner"
    );
}

#[test]
fn colliding_config_epochs_end_distinct() {
    let mut sim = Sim::new(4, 2000, 33);
    for m in 0..4 {
        let start = (m * 4096) as u16;
        sim.c(m)
            .assign_slots(&[(start, start + 4095)], false)
            .unwrap();
    }
    for i in 1..4 {
        let now = sim.now;
        let mut rng = StdRng::seed_from_u64(i as u64 + 100);
        assert!(sim.c(i).meet("127.0.0.1", 9001, 19001, now, &mut rng));
    }
    sim.run(10_000);
    let mut epochs: Vec<u64> = (0..4).map(|i| sim.c(i).me().config_epoch).collect();
    epochs.sort_unstable();
    epochs.dedup();
    assert_eq!(epochs.len(), 4, "every master has its own configEpoch");
    assert!(sim.all_agree_ok());
}

#[test]
fn one_masters_opinion_is_not_enough_to_fail_a_node() {
    let mut sim = Sim::new(6, 2000, 41);
    sim.create(3);
    let m2 = sim.name(2);
    // Only master 0 cannot reach master 2: PFAIL there, never FAIL anywhere.
    sim.cut(0, 2);
    sim.run(10_000);
    assert!(sim.c(0).node(&m2).unwrap().has(super::node::flags::PFAIL));
    for i in 0..6 {
        assert!(!sim.c(i).node(&m2).unwrap().failing(), "node {i}");
    }
    assert!(sim.c(5).me().is_replica(), "no failover");
}

#[test]
fn a_spare_replica_migrates_to_an_orphaned_master() {
    // Masters 0, 1, 2 with replicas 3, 4, 5; 6 also replicates master 0.
    let mut sim = Sim::new(7, 2000, 51);
    sim.create(3);
    let m0 = sim.name(0);
    assert_eq!(sim.c(6).me().replica_of, Some(m0));
    assert_eq!(sim.c(0).me().replicas.len(), 2);
    // Master 2 loses its only replica: it is orphaned, and a replica of master 0 moves over.
    sim.kill(5);
    sim.run(15_000);
    let m2 = sim.name(2);
    let moved = [3, 6]
        .into_iter()
        .filter(|&r| sim.c(r).me().replica_of == Some(m2))
        .count();
    assert_eq!(moved, 1, "exactly one spare replica migrated");
    assert!(sim
        .events(3)
        .iter()
        .chain(sim.events(6))
        .any(|e| matches!(e, Event::ClusterReplicaMigrating { .. })));
}
