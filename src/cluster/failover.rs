//! Replica failover: the election a replica runs when its master is FAIL (rank-based delay,
//! FAILOVER_AUTH_REQUEST, one vote per master per epoch, a majority wins), the vote a master
//! gives, CLUSTER FAILOVER (default, FORCE, TAKEOVER) and replica migration
//! (`clusterHandleSlaveFailover`, `clusterSendFailoverAuthIfNeeded`, `clusterHandleManualFailover`,
//! `clusterHandleSlaveMigration`).

use rand::RngCore;

use crate::events::Event;

use super::bus::{name_str, Body, Header, Message, NodeName, Type};
use super::node::flags;
use super::{Cluster, Ms, Output};

/// A master pauses writes for this many manual-failover timeouts.
pub const MF_PAUSE_MULT: Ms = 2;
/// Replica migration waits this long after a master became orphaned.
const REPLICA_MIGRATION_DELAY: Ms = 5000;
/// "Currently unable to failover" is repeated at most this often for one reason.
const CANT_FAILOVER_RELOG_PERIOD: Ms = 300_000;

/// Why a replica is not failing over (`CLUSTER_CANT_FAILOVER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CantFailover {
    #[default]
    None,
    DataAge,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

/// A replica's election in progress.
#[derive(Debug, Clone, Default)]
pub struct Election {
    /// When the election starts (or started).
    pub time: Ms,
    pub votes: usize,
    pub sent: bool,
    pub rank: usize,
    pub epoch: u64,
    cant: CantFailover,
    cant_logged_at: Option<Ms>,
}

/// A manual failover in progress (CLUSTER FAILOVER on a replica, MFSTART on its master).
#[derive(Debug, Clone, Default)]
pub struct Manual {
    /// Deadline; 0 when none is in progress.
    pub end: Ms,
    /// On the master: the replica taking over.
    pub replica: Option<NodeName>,
    /// On the replica: the offset the paused master announced.
    pub master_offset: Option<u64>,
    pub can_start: bool,
}

/// How CLUSTER FAILOVER was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverMode {
    Default,
    Force,
    Takeover,
}

impl Cluster {
    pub(crate) fn manual_in_progress(&self) -> bool {
        self.manual.end != 0
    }

    pub(crate) fn reset_manual_failover(&mut self) {
        if self.manual.replica.is_some() {
            self.outbox.push(Output::PauseWrites(None));
        }
        self.manual = Manual::default();
    }

    pub(crate) fn manual_failover_check_timeout(&mut self, now: Ms) {
        if self.manual.end != 0 && self.manual.end < now {
            self.emit(Event::ClusterManualFailoverTimedOut);
            self.reset_manual_failover();
        }
    }

    pub(crate) fn handle_manual_failover(&mut self, _now: Ms) {
        if self.manual.end == 0 || self.manual.can_start {
            return;
        }
        let Some(offset) = self.manual.master_offset else {
            return;
        };
        if offset == self.repl.offset {
            self.manual.can_start = true;
            self.emit(Event::ClusterManualFailoverCanStart);
            self.todo.handle_failover = true;
        } else {
            self.todo.handle_manual_failover = true;
        }
    }

    /// CLUSTER FAILOVER on a replica. The caller has checked that myself is a replica with
    /// a known master (and, without FORCE/TAKEOVER, that the master is reachable).
    pub fn start_manual_failover(&mut self, mode: FailoverMode, now: Ms) {
        self.reset_manual_failover();
        self.manual.end = now + super::MF_TIMEOUT;
        match mode {
            FailoverMode::Takeover => {
                self.emit(Event::ClusterTakeover);
                self.bump_epoch_without_consensus();
                self.replace_my_master(now);
            }
            FailoverMode::Force => {
                self.emit(Event::ClusterForcedFailover);
                self.manual.can_start = true;
                self.todo.handle_failover = true;
            }
            FailoverMode::Default => {
                self.emit(Event::ClusterManualFailoverAccepted);
                let master = self.me().replica_of.expect("checked by the caller");
                if let Some(link) = self.nodes.get(&master).and_then(|m| m.link) {
                    let msg = Message {
                        header: self.header(Type::MfStart),
                        body: Body::Empty,
                    };
                    self.send(link, &msg);
                }
            }
        }
    }

    /// `clusterGetSlaveRank`: how many sibling replicas have a better offset.
    fn replica_rank(&self) -> usize {
        let Some(master) = self.me().replica_of.and_then(|m| self.nodes.get(&m)) else {
            return 0;
        };
        master
            .replicas
            .iter()
            .filter(|r| **r != self.myself)
            .filter_map(|r| self.nodes.get(r))
            .filter(|r| !r.has(flags::NOFAILOVER) && r.repl_offset > self.repl.offset)
            .count()
    }

    fn log_cant_failover(&mut self, reason: CantFailover, now: Ms) {
        let recent = self
            .election
            .cant_logged_at
            .is_some_and(|t| now.saturating_sub(t) < CANT_FAILOVER_RELOG_PERIOD);
        if reason == self.election.cant && recent {
            return;
        }
        self.election.cant = reason;
        let quiet_for = self.settings.node_timeout + 5000;
        if let Some(m) = self.me().replica_of.and_then(|m| self.nodes.get(&m)) {
            if m.failing() && now.saturating_sub(m.fail_time) < quiet_for {
                return;
            }
        }
        let text = match reason {
            CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
            CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
            CantFailover::Expired => "Failover attempt expired.",
            CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
            CantFailover::None => "Unknown reason code.",
        };
        self.election.cant_logged_at = Some(now);
        self.emit(Event::ClusterCantFailover {
            reason: text.into(),
        });
    }

    /// `clusterHandleSlaveFailover`.
    pub(crate) fn handle_replica_failover(&mut self, now: Ms, rng: Option<&mut dyn RngCore>) {
        let needed = self.size / 2 + 1;
        let manual = self.manual.end != 0 && self.manual.can_start;
        let auth_timeout = (self.settings.node_timeout * 2).max(2000);
        let auth_retry = auth_timeout * 2;
        let auth_age = now.saturating_sub(self.election.time);
        let me = self.me();
        let master = me.replica_of.and_then(|m| self.nodes.get(&m));
        let Some(master) = master.filter(|_| me.is_replica()) else {
            self.election.cant = CantFailover::None;
            return;
        };
        if (!manual && (!master.failing() || self.settings.replica_no_failover))
            || master.num_slots == 0
        {
            self.election.cant = CantFailover::None;
            return;
        }
        let mut data_age = now.saturating_sub(self.repl.since);
        if data_age > self.settings.node_timeout {
            data_age -= self.settings.node_timeout;
        }
        if self.settings.replica_validity_factor != 0
            && data_age
                > self.settings.repl_ping_period
                    + self.settings.node_timeout * self.settings.replica_validity_factor
            && !manual
        {
            self.log_cant_failover(CantFailover::DataAge, now);
            return;
        }
        if auth_age > auth_retry {
            let jitter = rng.map_or(250, |r| (r.next_u32() % 500) as Ms);
            self.election.time = now + 500 + jitter;
            self.election.votes = 0;
            self.election.sent = false;
            self.election.rank = self.replica_rank();
            self.election.time += self.election.rank as Ms * 1000;
            if self.manual.end != 0 {
                self.election.time = now;
                self.election.rank = 0;
                self.todo.handle_failover = true;
            }
            self.emit(Event::ClusterElectionDelayed {
                delay: self.election.time.saturating_sub(now),
                rank: self.election.rank,
                offset: self.repl.offset,
            });
            self.broadcast_pong(true, now);
            return;
        }
        if !self.election.sent && self.manual.end == 0 {
            let rank = self.replica_rank();
            if rank > self.election.rank {
                let added = (rank - self.election.rank) as Ms * 1000;
                self.election.time += added;
                self.election.rank = rank;
                self.emit(Event::ClusterReplicaRankUpdated { rank, delay: added });
            }
        }
        if now < self.election.time {
            self.log_cant_failover(CantFailover::WaitingDelay, now);
            return;
        }
        if auth_age > auth_timeout {
            self.log_cant_failover(CantFailover::Expired, now);
            return;
        }
        if !self.election.sent {
            self.current_epoch += 1;
            self.election.epoch = self.current_epoch;
            self.emit(Event::ClusterElectionStarted {
                epoch: self.current_epoch,
            });
            let mut header = self.header(Type::AuthRequest);
            if self.manual.end != 0 {
                header.mflags[0] |= super::bus::MFLAG_FORCEACK;
            }
            self.broadcast(&Message {
                header,
                body: Body::Empty,
            });
            self.election.sent = true;
            self.save_config(true);
            self.todo.update_state = true;
            return;
        }
        if self.election.votes >= needed {
            self.emit(Event::ClusterElectionWon);
            if self.me().config_epoch < self.election.epoch {
                let epoch = self.election.epoch;
                self.me_mut().config_epoch = epoch;
                self.emit(Event::ClusterConfigEpochAfterFailover { epoch });
            }
            self.replace_my_master(now);
        } else {
            self.log_cant_failover(CantFailover::WaitingVotes, now);
        }
    }

    /// `clusterFailoverReplaceYourMaster`: take the master's slots and tell everyone.
    fn replace_my_master(&mut self, now: Ms) {
        let Some(old) = self.me().replica_of.filter(|_| self.me().is_replica()) else {
            return;
        };
        let me = self.myself;
        self.set_node_as_master(&me);
        self.want_master(None);
        let slots: Vec<u16> = self.nodes[&old].slots.iter().map(|s| s as u16).collect();
        for s in slots {
            self.del_slot(s);
            self.add_slot(&me, s);
        }
        self.update_state(now);
        self.save_config(true);
        self.broadcast_pong(false, now);
        self.reset_manual_failover();
    }

    /// `clusterSendFailoverAuthIfNeeded`: a master's vote, at most one per epoch.
    pub(crate) fn vote_if_needed(&mut self, requester: NodeName, req: &Header, now: Ms) {
        let me = self.me();
        if me.is_replica() || me.num_slots == 0 {
            return;
        }
        let who = name_str(&requester);
        let deny = |c: &mut Cluster, reason: String| {
            c.emit(Event::ClusterAuthDenied {
                name: who.clone(),
                reason,
            });
        };
        if req.current_epoch < self.current_epoch {
            let reason = format!(
                "reqEpoch ({}) < curEpoch({})",
                req.current_epoch, self.current_epoch
            );
            return deny(self, reason);
        }
        if self.last_vote_epoch == self.current_epoch {
            let reason = format!("already voted for epoch {}", self.current_epoch);
            return deny(self, reason);
        }
        let node = &self.nodes[&requester];
        let master = node.replica_of.and_then(|m| self.nodes.get(&m));
        let force = req.mflags[0] & super::bus::MFLAG_FORCEACK != 0;
        if node.is_master() {
            return deny(self, "it is a master node".into());
        }
        let Some(master) = master else {
            return deny(self, "I don't know its master".into());
        };
        if !master.failing() && !force {
            return deny(self, "its master is up".into());
        }
        let window = self.settings.node_timeout * 2;
        let since_vote = now.saturating_sub(master.voted_time);
        if master.voted_time != 0 && since_vote < window {
            let reason = format!(
                "can't vote about this master before {} milliseconds",
                window - since_vote
            );
            return deny(self, reason);
        }
        let master_name = master.name;
        for j in req.slots.iter() {
            let Some(owner) = self.slots[j] else {
                continue;
            };
            if self.slot_unclaimed(j) {
                continue;
            }
            let owner_epoch = self.nodes[&owner].config_epoch;
            if owner_epoch > req.config_epoch {
                let reason = format!(
                    "slot {j} epoch ({owner_epoch}) > reqEpoch ({})",
                    req.config_epoch
                );
                return deny(self, reason);
            }
        }
        self.last_vote_epoch = self.current_epoch;
        self.nodes
            .get_mut(&master_name)
            .expect("present")
            .voted_time = now;
        self.save_config(true);
        if let Some(link) = self.nodes[&requester].link {
            let msg = Message {
                header: self.header(Type::AuthAck),
                body: Body::Empty,
            };
            self.send(link, &msg);
        }
        self.emit(Event::ClusterAuthGranted {
            name: who,
            epoch: self.current_epoch,
        });
    }

    /// `clusterHandleSlaveMigration`: a replica of a well-covered master moves to an orphan.
    pub(crate) fn handle_replica_migration(&mut self, max_replicas: usize, now: Ms) {
        if !self.state_ok {
            return;
        }
        let Some(my_master) = self.me().replica_of else {
            return;
        };
        let ok = self.nodes[&my_master]
            .replicas
            .iter()
            .filter(|r| {
                self.nodes
                    .get(*r)
                    .is_some_and(|n| !n.failing() && !n.has(flags::PFAIL))
            })
            .count();
        if ok <= self.settings.migration_barrier {
            return;
        }
        let mut candidate = self.myself;
        let mut target = None;
        for n in self.nodes.values() {
            let ok_replicas = n
                .replicas
                .iter()
                .filter(|r| self.nodes.get(*r).is_some_and(|r| !r.failing()))
                .count();
            if n.is_replica() || n.failing() {
                continue;
            }
            if !n.has(flags::MIGRATE_TO) {
                continue;
            }
            if ok_replicas == 0 && n.num_slots > 0 && target.is_none() {
                target = Some(n.name);
            }
            if ok_replicas == max_replicas {
                for r in &n.replicas {
                    if *r < candidate {
                        candidate = *r;
                    }
                }
            }
        }
        let Some(target) = target else {
            return;
        };
        if candidate != self.myself {
            return;
        }
        let orphaned_since = self.orphaned_since.get_or_insert(now);
        if now.saturating_sub(*orphaned_since) > REPLICA_MIGRATION_DELAY {
            self.emit(Event::ClusterReplicaMigrating {
                name: name_str(&target),
            });
            self.set_my_master(target);
            self.orphaned_since = None;
        }
    }
}
