//! ODOWN, votes, the leader election and the failover state machine, as `sentinel.c` runs
//! them: a master SDOWN for us and for `quorum` sentinels in all is ODOWN; the sentinel that
//! starts a failover bumps the epoch and asks every peer for its vote (first come, first
//! served, one vote per epoch); with a majority of the known sentinels and at least `quorum`
//! votes it is the leader, picks a replica, promotes it, points the others at it
//! `parallel-syncs` at a time, and switches the master's address.

use rand::RngCore;

use super::event::{ctime, describe, describe_master};
use super::instance::{Addr, FailoverState, Instance, Kind, Master};
use super::{
    link_id, Core, Event, Expect, Ms, Output, MAX_DESYNC, SIMFAILURE_CRASH_AFTER_ELECTION,
};

/// `sentinelCheckObjectivelyDown`.
pub fn check_objectively_down(core: &mut Core, m: &mut Master, now: Ms) {
    let mut quorum = 0u32;
    let mut odown = false;
    if m.inst.flags.s_down {
        quorum = 1 + m.sentinels.values().filter(|s| s.flags.master_down).count() as u32;
        odown = quorum >= m.quorum;
    }
    if odown {
        if !m.inst.flags.o_down {
            m.inst.flags.o_down = true;
            m.inst.o_down_since_time = now;
            core.emit(Event::Odown {
                instance: describe_master(m),
                votes: quorum,
                quorum: m.quorum,
            });
        }
    } else if m.inst.flags.o_down {
        m.inst.flags.o_down = false;
        core.emit(Event::OdownCleared {
            instance: describe_master(m),
        });
    }
}

/// `sentinelAskMasterStateToOtherSentinels`: IS-MASTER-DOWN-BY-ADDR to every connected peer
/// while the master is SDOWN, asking for a vote once our failover has started.
pub fn ask_master_state(core: &mut Core, m: &mut Master, now: Ms, forced: bool) {
    let master_name = m.name().to_string();
    let addr = m.inst.addr.clone();
    let s_down = m.inst.flags.s_down;
    let runid = if m.failover_state > FailoverState::None {
        core.myid.clone()
    } else {
        "*".to_string()
    };
    let ask_period = core.timing.ask_period;
    let epoch = core.current_epoch;
    for si in m.sentinels.values_mut() {
        if now.saturating_sub(si.last_master_down_reply_time) > ask_period * 5 {
            si.flags.master_down = false;
            si.leader = None;
        }
        if !s_down || si.disconnected() {
            continue;
        }
        if !forced && now.saturating_sub(si.last_master_down_reply_time) < ask_period {
            continue;
        }
        let command = vec![
            "SENTINEL".to_string(),
            "is-master-down-by-addr".to_string(),
            addr.ip.clone(),
            addr.port.to_string(),
            epoch.to_string(),
            runid.clone(),
        ];
        core.send(&master_name, si, command, Expect::IsMasterDown);
    }
}

/// `sentinelVoteLeader`: vote for `req_runid` in `req_epoch` unless this master already has
/// a vote in that epoch. Returns the vote held and its epoch.
pub fn vote_leader(
    core: &mut Core,
    m: &mut Master,
    req_epoch: u64,
    req_runid: &str,
    now: Ms,
    rng: &mut dyn RngCore,
) -> (Option<String>, u64) {
    if req_epoch > core.current_epoch {
        core.current_epoch = req_epoch;
        core.flush_config();
        core.emit(Event::NewEpoch {
            epoch: core.current_epoch,
        });
    }
    if m.leader_epoch < req_epoch && core.current_epoch <= req_epoch {
        m.leader = Some(req_runid.to_string());
        m.leader_epoch = core.current_epoch;
        core.flush_config();
        core.emit(Event::VoteForLeader {
            runid: req_runid.to_string(),
            epoch: m.leader_epoch,
        });
        // Having voted for another, wait before trying a failover ourselves.
        if !req_runid.eq_ignore_ascii_case(&core.myid) {
            m.failover_start_time = now + rng.next_u64() % MAX_DESYNC;
        }
    }
    (m.leader.clone(), m.leader_epoch)
}

/// `sentinelGetLeader`: the run id with a majority of the voters and at least `quorum`
/// votes in `epoch`, counting our own vote (given to the most voted, or to ourselves).
pub fn get_leader(
    core: &mut Core,
    m: &mut Master,
    epoch: u64,
    now: Ms,
    rng: &mut dyn RngCore,
) -> Option<String> {
    let voters = m.sentinels.len() as u32 + 1;
    let mut counts: Vec<(String, u32)> = Vec::new();
    for si in m.sentinels.values() {
        if let Some(leader) = &si.leader {
            if si.leader_epoch == core.current_epoch {
                incr(&mut counts, leader);
            }
        }
    }
    let mut winner: Option<String> = None;
    let mut max_votes = 0;
    for (runid, votes) in &counts {
        if *votes > max_votes {
            max_votes = *votes;
            winner = Some(runid.clone());
        }
    }
    let candidate = winner.clone().unwrap_or_else(|| core.myid.clone());
    let (myvote, leader_epoch) = vote_leader(core, m, epoch, &candidate, now, rng);
    if let Some(myvote) = myvote {
        if leader_epoch == epoch {
            let votes = incr(&mut counts, &myvote);
            if votes > max_votes {
                max_votes = votes;
                winner = Some(myvote);
            }
        }
    }
    let voters_quorum = voters / 2 + 1;
    if max_votes < voters_quorum || max_votes < m.quorum {
        return None;
    }
    winner
}

fn incr(counts: &mut Vec<(String, u32)>, runid: &str) -> u32 {
    match counts.iter_mut().find(|(r, _)| r == runid) {
        Some((_, n)) => {
            *n += 1;
            *n
        }
        None => {
            counts.push((runid.to_string(), 1));
            1
        }
    }
}

/// `sentinelStartFailoverIfNeeded`.
pub fn start_failover_if_needed(
    core: &mut Core,
    m: &mut Master,
    now: Ms,
    rng: &mut dyn RngCore,
) -> bool {
    if !m.inst.flags.o_down || m.inst.flags.failover_in_progress {
        return false;
    }
    if now.saturating_sub(m.failover_start_time) < m.failover_timeout * 2 {
        if m.failover_delay_logged != m.failover_start_time {
            m.failover_delay_logged = m.failover_start_time;
            let at = ctime(m.failover_start_time + m.failover_timeout * 2);
            core.emit(Event::FailoverDelayed { at });
        }
        return false;
    }
    start_failover(core, m, now, rng);
    true
}

/// `sentinelStartFailover`: a new epoch, and the wait for votes begins.
pub fn start_failover(core: &mut Core, m: &mut Master, now: Ms, rng: &mut dyn RngCore) {
    m.failover_state = FailoverState::WaitStart;
    m.inst.flags.failover_in_progress = true;
    core.current_epoch += 1;
    m.failover_epoch = core.current_epoch;
    core.emit(Event::NewEpoch {
        epoch: core.current_epoch,
    });
    core.emit(Event::TryFailover {
        instance: describe_master(m),
    });
    m.failover_start_time = now + rng.next_u64() % MAX_DESYNC;
    m.failover_state_change_time = now;
}

/// `sentinelFailoverStateMachine`.
pub fn state_machine(core: &mut Core, m: &mut Master, now: Ms, rng: &mut dyn RngCore) {
    if !m.inst.flags.failover_in_progress {
        return;
    }
    match m.failover_state {
        FailoverState::WaitStart => wait_start(core, m, now, rng),
        FailoverState::SelectSlave => select_slave_state(core, m, now),
        FailoverState::SendSlaveofNoone => send_slaveof_noone(core, m, now),
        FailoverState::WaitPromotion => {
            if now.saturating_sub(m.failover_state_change_time) > m.failover_timeout {
                core.emit(Event::FailoverAbortSlaveTimeout {
                    instance: describe_master(m),
                });
                abort_failover(m, now);
            }
        }
        FailoverState::ReconfSlaves => reconf_next_slave(core, m, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

fn wait_start(core: &mut Core, m: &mut Master, now: Ms, rng: &mut dyn RngCore) {
    let epoch = m.failover_epoch;
    let leader = get_leader(core, m, epoch, now, rng);
    let is_leader = leader.is_some_and(|l| l.eq_ignore_ascii_case(&core.myid));
    if !is_leader && !m.inst.flags.force_failover {
        let election_timeout = core.timing.election_timeout.min(m.failover_timeout);
        if now.saturating_sub(m.failover_start_time) > election_timeout {
            core.emit(Event::FailoverAbortNotElected {
                instance: describe_master(m),
            });
            abort_failover(m, now);
        }
        return;
    }
    core.emit(Event::ElectedLeader {
        instance: describe_master(m),
    });
    if core.simfailure_flags & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
        core.out.push(Output::Crash);
    }
    m.failover_state = FailoverState::SelectSlave;
    m.failover_state_change_time = now;
    core.emit(Event::FailoverStateSelectSlave {
        instance: describe_master(m),
    });
}

/// `sentinelSelectSlave`: the best replica to promote, or `None`.
pub fn select_slave(m: &Master, core: &Core, now: Ms) -> Option<String> {
    let timing = &core.timing;
    let mut max_master_down_time = 0;
    if m.inst.flags.s_down {
        max_master_down_time += now.saturating_sub(m.inst.s_down_since_time);
    }
    max_master_down_time += m.inst.down_after_period * 10;
    let info_validity = if m.inst.flags.s_down {
        timing.ping_period * 5
    } else {
        timing.info_period * 3
    };
    let mut candidates: Vec<&Instance> = m
        .replicas
        .values()
        .filter(|r| {
            !r.flags.s_down
                && !r.flags.o_down
                && !r.disconnected()
                && now.saturating_sub(r.link.last_avail_time) <= timing.ping_period * 5
                && r.slave_priority != 0
                && now.saturating_sub(r.info_refresh) <= info_validity
                && r.master_link_down_time <= max_master_down_time
        })
        .collect();
    candidates.sort_by(|a, b| {
        a.slave_priority
            .cmp(&b.slave_priority)
            .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
            .then_with(|| match (&a.runid, &b.runid) {
                (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    candidates.first().map(|r| r.name.clone())
}

fn select_slave_state(core: &mut Core, m: &mut Master, now: Ms) {
    match select_slave(m, core, now) {
        None => {
            core.emit(Event::FailoverAbortNoGoodSlave {
                instance: describe_master(m),
            });
            abort_failover(m, now);
        }
        Some(key) => {
            let replica = m.replicas.get_mut(&key).expect("selected replica exists");
            replica.flags.promoted = true;
            let replica = replica.clone();
            core.emit(Event::SelectedSlave {
                instance: describe(&replica, m),
            });
            m.promoted = Some(key);
            m.failover_state = FailoverState::SendSlaveofNoone;
            m.failover_state_change_time = now;
            core.emit(Event::FailoverStateSendSlaveofNoone {
                instance: describe(&replica, m),
            });
        }
    }
}

fn send_slaveof_noone(core: &mut Core, m: &mut Master, now: Ms) {
    let Some(key) = m.promoted.clone() else {
        return;
    };
    let master_name = m.name().to_string();
    let Some(replica) = m.replicas.get_mut(&key) else {
        return;
    };
    if replica.disconnected() {
        if now.saturating_sub(m.failover_state_change_time) > m.failover_timeout {
            core.emit(Event::FailoverAbortSlaveTimeout {
                instance: describe_master(m),
            });
            abort_failover(m, now);
        }
        return;
    }
    if !send_slaveof(core, &master_name, replica, None) {
        return;
    }
    let replica = replica.clone();
    core.emit(Event::FailoverStateWaitPromotion {
        instance: describe(&replica, m),
    });
    m.failover_state = FailoverState::WaitPromotion;
    m.failover_state_change_time = now;
}

/// `sentinelSendSlaveOf`: the MULTI block that makes `inst` a replica of `to` (or a master
/// with `None`), rewrites its config and drops its clients.
pub fn send_slaveof(core: &mut Core, master: &str, inst: &mut Instance, to: Option<&Addr>) -> bool {
    if inst.disconnected() {
        return false;
    }
    let (host, port) = match to {
        Some(addr) => (addr.ip.clone(), addr.port.to_string()),
        None => ("NO".to_string(), "ONE".to_string()),
    };
    let block: [Vec<String>; 6] = [
        vec!["MULTI".into()],
        vec!["SLAVEOF".into(), host, port],
        vec!["CONFIG".into(), "REWRITE".into()],
        vec![
            "CLIENT".into(),
            "KILL".into(),
            "TYPE".into(),
            "normal".into(),
        ],
        vec![
            "CLIENT".into(),
            "KILL".into(),
            "TYPE".into(),
            "pubsub".into(),
        ],
        vec!["EXEC".into()],
    ];
    for command in block {
        core.send(master, inst, command, Expect::Ignore);
    }
    true
}

/// `sentinelFailoverReconfNextSlave`.
fn reconf_next_slave(core: &mut Core, m: &mut Master, now: Ms) {
    let master_name = m.name().to_string();
    let Some(promoted_addr) = m
        .promoted
        .as_ref()
        .and_then(|k| m.replicas.get(k))
        .map(|p| p.addr.clone())
    else {
        return;
    };
    let mut in_progress = m
        .replicas
        .values()
        .filter(|r| r.flags.reconf_sent || r.flags.reconf_inprog)
        .count() as i64;
    let keys: Vec<String> = m.replicas.keys().cloned().collect();
    for key in keys {
        if in_progress >= m.parallel_syncs {
            break;
        }
        let reconf_timeout = core.timing.slave_reconf_timeout;
        let replica = m.replicas.get_mut(&key).expect("listed");
        if replica.flags.promoted || replica.flags.reconf_done {
            continue;
        }
        if replica.flags.reconf_sent
            && now.saturating_sub(replica.slave_reconf_sent_time) > reconf_timeout
        {
            replica.flags.reconf_sent = false;
            replica.flags.reconf_done = true;
            let r = replica.clone();
            core.emit(Event::SlaveReconfSentTimeout {
                instance: describe(&r, m),
            });
            continue;
        }
        if replica.flags.reconf_sent || replica.flags.reconf_inprog || replica.disconnected() {
            continue;
        }
        if send_slaveof(core, &master_name, replica, Some(&promoted_addr)) {
            replica.flags.reconf_sent = true;
            replica.slave_reconf_sent_time = now;
            let r = replica.clone();
            core.emit(Event::SlaveReconfSent {
                instance: describe(&r, m),
            });
            in_progress += 1;
        }
    }
    detect_end(core, m, now, &promoted_addr);
}

/// `sentinelFailoverDetectEnd`.
fn detect_end(core: &mut Core, m: &mut Master, now: Ms, promoted_addr: &Addr) {
    let master_name = m.name().to_string();
    let promoted_down = m
        .promoted
        .as_ref()
        .and_then(|k| m.replicas.get(k))
        .is_none_or(|p| p.flags.s_down);
    if promoted_down {
        return;
    }
    let mut not_reconfigured = m
        .replicas
        .values()
        .filter(|r| !(r.flags.promoted || r.flags.reconf_done || r.flags.s_down))
        .count();
    let mut timeout = false;
    if now.saturating_sub(m.failover_state_change_time) > m.failover_timeout {
        not_reconfigured = 0;
        timeout = true;
        core.emit(Event::FailoverEndForTimeout {
            instance: describe_master(m),
        });
    }
    if not_reconfigured == 0 {
        core.emit(Event::FailoverEnd {
            instance: describe_master(m),
        });
        m.failover_state = FailoverState::UpdateConfig;
        m.failover_state_change_time = now;
    }
    if timeout {
        let keys: Vec<String> = m.replicas.keys().cloned().collect();
        for key in keys {
            let replica = m.replicas.get_mut(&key).expect("listed");
            if replica.flags.promoted || replica.flags.reconf_done || replica.flags.reconf_sent {
                continue;
            }
            if send_slaveof(core, &master_name, replica, Some(promoted_addr)) {
                replica.flags.reconf_sent = true;
                let r = replica.clone();
                core.emit(Event::SlaveReconfSentBestEffort {
                    instance: describe(&r, m),
                });
            }
        }
    }
}

/// `sentinelAbortFailover`.
pub fn abort_failover(m: &mut Master, now: Ms) {
    m.inst.flags.failover_in_progress = false;
    m.inst.flags.force_failover = false;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = now;
    if let Some(key) = m.promoted.take() {
        if let Some(r) = m.replicas.get_mut(&key) {
            r.flags.promoted = false;
        }
    }
}

/// `sentinelFailoverSwitchToPromotedSlave`: the failover is over; the master is now the
/// promoted replica.
pub fn switch_to_promoted(core: &mut Core, m: &mut Master, now: Ms) {
    let new_addr = m
        .promoted
        .as_ref()
        .and_then(|k| m.replicas.get(k))
        .map_or_else(|| m.inst.addr.clone(), |p| p.addr.clone());
    switch_master(core, m, new_addr, now);
}

/// `+switch-master <name> <old ip> <old port> <new ip> <new port>`, then the master is reset
/// to its new address: after our own failover, or when a hello says another Sentinel's
/// failover moved it.
pub fn switch_master(core: &mut Core, m: &mut Master, new_addr: Addr, now: Ms) {
    let old = m.inst.addr.clone();
    core.emit(Event::SwitchMaster {
        master: m.name().to_string(),
        old_ip: old.ip.clone(),
        old_port: old.port,
        new_ip: new_addr.ip.clone(),
        new_port: new_addr.port,
    });
    reset_master_and_change_address(core, m, new_addr, now);
}

/// What `sentinelResetMaster` keeps and clears.
pub fn reset_master(core: &mut Core, m: &mut Master, reset_sentinels: bool, now: Ms) {
    let master_name = m.name().to_string();
    for inst in m.replicas.values() {
        close_links(core, &master_name, inst);
    }
    m.replicas.clear();
    if reset_sentinels {
        for inst in m.sentinels.values() {
            close_links(core, &master_name, inst);
        }
        m.sentinels.clear();
    }
    close_links(core, &master_name, &m.inst);
    m.inst.link.cmd_up = false;
    m.inst.link.pubsub_up = false;
    m.inst.link.pending = 0;
    m.inst.flags = Default::default();
    m.leader = None;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = 0;
    m.failover_start_time = 0;
    m.promoted = None;
    m.inst.runid = None;
    m.inst.slave_master_host = None;
    m.inst.link.act_ping_time = now;
    m.inst.link.last_ping_time = 0;
    m.inst.link.last_avail_time = now;
    m.inst.link.last_pong_time = now;
    m.inst.role_reported_time = now;
    m.inst.role_reported = Kind::Master;
    m.inst.info_refresh = 0;
    m.inst.info = None;
}

/// `dropInstanceConnections`: close the master's and its replicas' links (after its
/// credentials changed); they reconnect with the new ones.
pub fn drop_links(core: &mut Core, m: &mut Master) {
    let master_name = m.name().to_string();
    for inst in std::iter::once(&mut m.inst).chain(m.replicas.values_mut()) {
        close_links(core, &master_name, inst);
        inst.link.cmd_up = false;
        inst.link.pubsub_up = false;
        inst.link.pending = 0;
    }
}

/// Closes the links to the other sentinels of `m` (their credentials changed).
pub fn drop_sentinel_links(core: &mut Core, m: &mut Master) {
    let master_name = m.name().to_string();
    for inst in m.sentinels.values_mut() {
        close_links(core, &master_name, inst);
        inst.link.cmd_up = false;
        inst.link.pending = 0;
    }
}

fn close_links(core: &mut Core, master: &str, inst: &Instance) {
    if inst.link.cmd_up {
        core.out.push(Output::Close {
            link: link_id(master, inst),
            pubsub: false,
        });
    }
    if inst.link.pubsub_up {
        core.out.push(Output::Close {
            link: link_id(master, inst),
            pubsub: true,
        });
    }
}

/// `sentinelResetMasterAndChangeAddress`: the master moves to `new_addr`; its replicas
/// (except the new master) and the old master become its replicas.
pub fn reset_master_and_change_address(core: &mut Core, m: &mut Master, new_addr: Addr, now: Ms) {
    let mut replicas: Vec<Addr> = m
        .replicas
        .values()
        .filter(|r| !r.addr.is(&new_addr.ip, new_addr.port))
        .map(|r| r.addr.clone())
        .collect();
    if !m.inst.addr.is(&new_addr.ip, new_addr.port) {
        replicas.push(m.inst.addr.clone());
    }
    reset_master(core, m, false, now);
    m.inst.addr = new_addr;
    m.inst.o_down_since_time = 0;
    m.inst.s_down_since_time = 0;
    for addr in replicas {
        let key = addr.name();
        if m.replicas.contains_key(&key) {
            continue;
        }
        let replica = Instance::new(
            Kind::Replica,
            key.clone(),
            addr,
            m.inst.down_after_period,
            now,
        );
        core.emit(Event::SlaveAdded {
            instance: describe(&replica, m),
        });
        m.replicas.insert(key, replica);
    }
    core.flush_config();
}
