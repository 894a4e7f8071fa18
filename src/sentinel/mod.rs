//! Redis Sentinel as a pure state machine (`sentinel.c` in Redis 7.0 is the reference for
//! every rule and message).
//!
//! [`Sentinel`] holds the monitored masters, their replicas (learned from INFO) and the other
//! sentinels (learned from hellos). It never touches a clock, a socket or a random source: the
//! driver (`node::sentinel`) feeds it [`Input`]s (link connected or lost, a reply, a hello) and
//! calls [`Sentinel::tick`] about ten times a second, passing the time and an rng each time. Both
//! return [`Output`]s: commands to send on an instance's link, links to close, events to
//! publish and log, and requests to rewrite the config file. The same inputs, times and seed
//! give the same outputs, which is what the simulator tests rely on.
//!
//! The pieces:
//! - [`instance`]: what is known about each instance; [`info`]: INFO and hello parsers;
//! - this file: links, periodic commands, SDOWN/ODOWN, hellos, INFO-driven reconfiguration;
//! - [`failover`]: votes, the leader election and the failover state machine;
//! - [`config`]: the `sentinel ...` config lines, read and rewritten;
//! - [`commands`]: the SENTINEL command family, answering from this state;
//! - [`event`]: events as published and logged.

pub mod commands;
pub mod config;
pub mod event;
pub mod failover;
pub mod info;
pub mod instance;

#[cfg(test)]
mod sim;

use indexmap::IndexMap;
use rand::RngCore;

use crate::config::LogLevel;
use crate::resp::frame::Frame;

pub use crate::events::Event;
pub use instance::{Addr, FailoverState, Instance, Kind, Master};

use event::{describe, describe_any, describe_master};
use info::{parse_info, Hello};

/// Milliseconds on the driver's clock (Unix time in the real driver, virtual in tests).
pub type Ms = u64;

/// The channel sentinels exchange hellos on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// Redis's sentinel timing constants; SENTINEL DEBUG changes them at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub info_period: Ms,
    pub ping_period: Ms,
    pub ask_period: Ms,
    pub publish_period: Ms,
    pub default_down_after: Ms,
    pub default_failover_timeout: Ms,
    pub tilt_trigger: Ms,
    pub tilt_period: Ms,
    pub slave_reconf_timeout: Ms,
    pub min_link_reconnect_period: Ms,
    pub election_timeout: Ms,
    pub script_max_runtime: Ms,
    pub script_retry_delay: Ms,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            info_period: 10_000,
            ping_period: 1_000,
            ask_period: 1_000,
            publish_period: 2_000,
            default_down_after: 30_000,
            default_failover_timeout: 180_000,
            tilt_trigger: 2_000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

/// Random start delays are below this many ms (`SENTINEL_MAX_DESYNC`).
pub const MAX_DESYNC: u64 = 1_000;
/// Periodic commands stop while this many are unanswered on a link.
pub const MAX_PENDING_COMMANDS: u32 = 100;

/// Which instance a link goes to. The address is part of it: when an instance moves (a
/// switch-master), its old links are dropped and new ones made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId {
    pub master: String,
    pub kind: Kind,
    pub name: String,
    pub addr: Addr,
}

/// A link the driver should keep open, and how to authenticate on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    pub id: LinkId,
    /// Also keep a pub/sub link subscribed to [`HELLO_CHANNEL`].
    pub pubsub: bool,
    /// `AUTH [user] pass` to send first.
    pub auth: Option<(Option<String>, String)>,
    /// `rename-command` pairs to apply to commands sent on this link.
    pub renamed_commands: Vec<(String, String)>,
}

/// What a reply on a command link answers, so the machine knows how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Ping,
    Info,
    Publish,
    IsMasterDown,
    /// Replies Redis discards (the MULTI block, SCRIPT KILL).
    Ignore,
}

/// What the driver reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A link is up (after AUTH and CLIENT SETNAME; SUBSCRIBE done on a pub/sub link).
    /// `local_ip` is our side's address on a command link.
    Connected {
        link: LinkId,
        pubsub: bool,
        local_ip: Option<String>,
    },
    /// A link failed or was closed.
    Disconnected { link: LinkId, pubsub: bool },
    /// The reply to a command sent with `expect`.
    Reply {
        link: LinkId,
        expect: Expect,
        reply: Frame,
    },
    /// A message on an instance's `__sentinel__:hello` subscription.
    Message { link: LinkId, payload: String },
    /// Another sentinel sent us `PUBLISH __sentinel__:hello <payload>` directly.
    Hello { payload: String },
}

/// What the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `command` on the command link of `link`; report the reply with `expect`.
    Send {
        link: LinkId,
        command: Vec<String>,
        expect: Expect,
    },
    /// Close the command (or pub/sub) link; the driver reconnects it later.
    Close { link: LinkId, pubsub: bool },
    /// Publish and log an event.
    Event(Event),
    /// A log line that is not an event.
    Log { level: LogLevel, text: String },
    /// Rewrite the config file now (see [`Sentinel::config_lines`]).
    FlushConfig,
    /// SENTINEL SIMULATE-FAILURE asked for a crash at this point: exit at once.
    Crash,
}

/// The settings that are not per master (`sentinel myid`, `announce-ip`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
}

/// The failures SENTINEL SIMULATE-FAILURE can arm.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u32 = 2;

/// State shared by every master: identity, epoch, TILT, settings, and the outputs being
/// collected for the current step.
#[derive(Debug, Clone)]
pub struct Core {
    pub myid: String,
    pub current_epoch: u64,
    /// Our listening port, announced in hellos unless `announce-port` is set.
    pub port: u16,
    pub tilt: bool,
    pub tilt_start_time: Ms,
    pub previous_time: Ms,
    pub settings: Settings,
    pub timing: Timing,
    pub simfailure_flags: u32,
    out: Vec<Output>,
}

impl Core {
    /// Publish and log `event` (`sentinelEvent`).
    fn emit(&mut self, event: Event) {
        self.out.push(Output::Event(event));
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.out.push(Output::Log { level, text });
    }

    fn flush_config(&mut self) {
        if !self.out.contains(&Output::FlushConfig) {
            self.out.push(Output::FlushConfig);
        }
    }

    /// Sends on an instance's command link, counting it as pending. False when the link is
    /// down (Redis's `redisAsyncCommand` failing).
    fn send(
        &mut self,
        master: &str,
        inst: &mut Instance,
        command: Vec<String>,
        expect: Expect,
    ) -> bool {
        if !inst.link.cmd_up {
            return false;
        }
        inst.link.pending += 1;
        self.out.push(Output::Send {
            link: link_id(master, inst),
            command,
            expect,
        });
        true
    }

    /// `sentinelSendPing`.
    fn send_ping(&mut self, master: &str, inst: &mut Instance, now: Ms) -> bool {
        if !self.send(master, inst, vec!["PING".into()], Expect::Ping) {
            return false;
        }
        inst.link.last_ping_time = now;
        if inst.link.act_ping_time == 0 {
            inst.link.act_ping_time = now;
        }
        true
    }
}

/// The link id of an instance of master `master`.
pub fn link_id(master: &str, inst: &Instance) -> LinkId {
    LinkId {
        master: master.to_string(),
        kind: inst.kind,
        name: inst.name.clone(),
        addr: inst.addr.clone(),
    }
}

/// A Sentinel: every monitored master and everything it knows about them.
#[derive(Debug, Clone)]
pub struct Sentinel {
    pub core: Core,
    pub masters: IndexMap<String, Master>,
}

impl Sentinel {
    /// An empty Sentinel with id `myid` listening on `port`.
    pub fn new(myid: String, port: u16) -> Sentinel {
        Sentinel {
            core: Core {
                myid,
                current_epoch: 0,
                port,
                tilt: false,
                tilt_start_time: 0,
                previous_time: 0,
                settings: Settings {
                    deny_scripts_reconfig: true,
                    ..Settings::default()
                },
                timing: Timing::default(),
                simfailure_flags: 0,
                out: Vec::new(),
            },
            masters: IndexMap::new(),
        }
    }

    /// A fresh 40-hex-digit run id from `rng`.
    pub fn random_id(rng: &mut dyn RngCore) -> String {
        let mut bytes = [0u8; 20];
        rng.fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The start-up events: one `+monitor` per master (`sentinelGenerateInitialMonitorEvents`).
    pub fn start(&mut self, now: Ms) -> Vec<Output> {
        self.core.previous_time = now;
        let core = &mut self.core;
        for m in self.masters.values() {
            core.emit(Event::Monitor {
                instance: describe_master(m),
                quorum: m.quorum,
            });
        }
        std::mem::take(&mut self.core.out)
    }

    /// The links the driver should keep open now.
    pub fn links(&self) -> Vec<LinkSpec> {
        let mut links = Vec::new();
        for m in self.masters.values() {
            let master_auth = m.auth_pass.clone().map(|p| (m.auth_user.clone(), p));
            let sentinel_auth = self
                .core
                .settings
                .sentinel_pass
                .clone()
                .map(|p| (self.core.settings.sentinel_user.clone(), p));
            let instances = std::iter::once(&m.inst)
                .chain(m.replicas.values())
                .chain(m.sentinels.values());
            for inst in instances {
                if inst.addr.port == 0 {
                    continue;
                }
                let auth = if inst.kind == Kind::Sentinel {
                    sentinel_auth.clone()
                } else {
                    master_auth.clone()
                };
                links.push(LinkSpec {
                    id: link_id(m.name(), inst),
                    pubsub: inst.wants_pubsub(),
                    auth,
                    renamed_commands: m.renamed_commands.clone(),
                });
            }
        }
        links
    }

    /// Feeds one input; returns what to do about it.
    pub fn handle(&mut self, input: Input, now: Ms, rng: &mut dyn RngCore) -> Vec<Output> {
        let _ = rng;
        match input {
            Input::Connected {
                link,
                pubsub,
                local_ip,
            } => {
                if let Some(inst) = self.lookup(&link) {
                    if pubsub {
                        inst.link.pubsub_up = true;
                        inst.link.pc_conn_time = now;
                        inst.link.pc_last_activity = now;
                    } else {
                        inst.link.cmd_up = true;
                        inst.link.cc_conn_time = now;
                        inst.link.pending = 0;
                        inst.link.local_ip = local_ip;
                        let inst = inst_of(&mut self.masters, &link).expect("looked up");
                        // PING at once, and INFO with it when due, as Redis pipelines them
                        // on a new link.
                        self.core.send_ping(&link.master, inst, now);
                        let info_due = inst.info_refresh == 0
                            || now.saturating_sub(inst.info_refresh) > self.core.timing.info_period;
                        if inst.kind != Kind::Sentinel && info_due {
                            self.core
                                .send(&link.master, inst, vec!["INFO".into()], Expect::Info);
                        }
                    }
                }
            }
            Input::Disconnected { link, pubsub } => {
                if let Some(inst) = self.lookup(&link) {
                    if pubsub {
                        inst.link.pubsub_up = false;
                    } else {
                        inst.link.cmd_up = false;
                        inst.link.pending = 0;
                    }
                }
            }
            Input::Reply {
                link,
                expect,
                reply,
            } => self.reply(&link, expect, reply, now),
            Input::Message { link, payload } => {
                if let Some(inst) = self.lookup(&link) {
                    inst.link.pc_last_activity = now;
                }
                // Our own hellos come back on the subscription: skip them.
                if !payload.contains(&self.core.myid) {
                    self.process_hello(&payload, now);
                }
            }
            Input::Hello { payload } => {
                if !payload.contains(&self.core.myid) {
                    self.process_hello(&payload, now);
                }
            }
        }
        std::mem::take(&mut self.core.out)
    }

    fn lookup(&mut self, link: &LinkId) -> Option<&mut Instance> {
        let m = self.masters.get_mut(&link.master)?;
        let inst = m.instance_mut(link.kind, &link.name)?;
        (inst.addr == link.addr).then_some(inst)
    }

    fn reply(&mut self, link: &LinkId, expect: Expect, reply: Frame, now: Ms) {
        let Some(m) = self.masters.get_mut(&link.master) else {
            return;
        };
        let Some(inst) = m.instance_mut(link.kind, &link.name) else {
            return;
        };
        if inst.addr != link.addr {
            return;
        }
        inst.link.pending = inst.link.pending.saturating_sub(1);
        match expect {
            Expect::Ping => {
                // Status and error replies count (`sentinelPingReplyCallback`).
                let text = match &reply {
                    Frame::Simple(t) | Frame::Error(t) => String::from_utf8_lossy(t).into_owned(),
                    _ => String::new(),
                };
                let valid = ["PONG", "LOADING", "MASTERDOWN"]
                    .iter()
                    .any(|p| text.starts_with(p));
                if valid {
                    inst.link.last_avail_time = now;
                    inst.link.act_ping_time = 0;
                    if text.starts_with("PONG") {
                        inst.flags.master_reboot = false;
                    }
                } else if reply.is_error()
                    && text.starts_with("BUSY")
                    && inst.flags.s_down
                    && !inst.flags.script_kill_sent
                {
                    inst.flags.script_kill_sent = true;
                    self.core.send(
                        &link.master,
                        inst,
                        vec!["SCRIPT".into(), "KILL".into()],
                        Expect::Ignore,
                    );
                }
                inst.link.last_pong_time = now;
            }
            Expect::Info => {
                let text = match &reply {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
                    _ => return,
                };
                self.refresh_info(link, &text, now);
            }
            Expect::Publish => {
                if !reply.is_error() {
                    inst.last_pub_time = now;
                }
            }
            Expect::IsMasterDown => {
                if let Frame::Array(items) = &reply {
                    if let [Frame::Integer(down), leader, Frame::Integer(epoch)] = items.as_slice()
                    {
                        if let Some(leader) = leader.as_str() {
                            inst.last_master_down_reply_time = now;
                            inst.flags.master_down = *down == 1;
                            if leader != "*" {
                                let epoch = (*epoch).max(0) as u64;
                                if inst.leader_epoch != epoch {
                                    self.core.emit(Event::PeerVoted {
                                        voter: inst.name.clone(),
                                        leader: leader.to_string(),
                                        epoch,
                                    });
                                }
                                inst.leader = Some(leader.to_string());
                                inst.leader_epoch = epoch;
                            }
                        }
                    }
                }
            }
            Expect::Ignore => {}
        }
    }

    /// One timer step (Redis's `sentinelTimer`, run about every 100 ms).
    pub fn tick(&mut self, now: Ms, rng: &mut dyn RngCore) -> Vec<Output> {
        self.check_tilt(now);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            let Some(m) = self.masters.get_mut(&name) else {
                continue;
            };
            handle_master(&mut self.core, m, now, rng);
            if m.failover_state == FailoverState::UpdateConfig {
                failover::switch_to_promoted(&mut self.core, m, now);
            }
        }
        std::mem::take(&mut self.core.out)
    }

    /// `sentinelCheckTiltCondition`: a clock jump or a stall longer than the trigger.
    fn check_tilt(&mut self, now: Ms) {
        let core = &mut self.core;
        let delta = now as i64 - core.previous_time as i64;
        if core.previous_time != 0 && (delta < 0 || delta > core.timing.tilt_trigger as i64) {
            core.tilt = true;
            core.tilt_start_time = now;
            core.emit(Event::TiltEntered);
        }
        core.previous_time = now;
    }

    /// `sentinelRefreshInstanceInfo`.
    fn refresh_info(&mut self, link: &LinkId, text: &str, now: Ms) {
        let core = &mut self.core;
        let Some(m) = self.masters.get_mut(&link.master) else {
            return;
        };
        let parsed = parse_info(text);
        let kind = link.kind;
        let name = link.name.clone();

        // Fields first.
        let reboot_period = m.master_reboot_down_after_period;
        let Some(inst) = m.instance_mut(kind, &name) else {
            return;
        };
        let mut rebooted = false;
        if let Some(run_id) = &parsed.run_id {
            if inst.runid.as_deref() != Some(run_id.as_str()) {
                if inst.runid.is_some() {
                    rebooted = true;
                    if kind == Kind::Master && reboot_period != 0 {
                        inst.flags.master_reboot = true;
                        inst.master_reboot_since_time = now;
                    }
                }
                inst.runid = Some(run_id.clone());
            }
        }
        inst.master_link_down_time = parsed.master_link_down_ms;
        let role = parsed.role;
        if role == Some(Kind::Replica) {
            if let Some(host) = &parsed.master_host {
                if inst
                    .slave_master_host
                    .as_deref()
                    .map(|h| h.eq_ignore_ascii_case(host))
                    != Some(true)
                {
                    inst.slave_master_host = Some(host.clone());
                    inst.slave_conf_change_time = now;
                }
            }
            if let Some(port) = parsed.master_port {
                if inst.slave_master_port != port {
                    inst.slave_master_port = port;
                    inst.slave_conf_change_time = now;
                }
            }
            inst.slave_master_link_up = parsed.master_link_up;
            if let Some(p) = parsed.slave_priority {
                inst.slave_priority = p;
            }
            if let Some(o) = parsed.slave_repl_offset {
                inst.slave_repl_offset = o;
            }
            if let Some(a) = parsed.replica_announced {
                inst.replica_announced = a;
            }
        }
        inst.info_refresh = now;
        inst.info = Some(text.to_string());
        let inst = inst.clone();
        if rebooted {
            core.emit(Event::Reboot {
                instance: describe_any(&inst, m),
            });
        }

        // Replicas listed by a master.
        if kind == Kind::Master {
            for addr in &parsed.replicas {
                let key = addr.name();
                if m.replicas.contains_key(&key) {
                    continue;
                }
                let replica = Instance::new(
                    Kind::Replica,
                    key.clone(),
                    addr.clone(),
                    m.inst.down_after_period,
                    now,
                );
                core.emit(Event::SlaveAdded {
                    instance: describe(&replica, m),
                });
                m.replicas.insert(key, replica);
                core.flush_config();
            }
        }

        // Act on the role.
        let Some(role) = role else {
            return;
        };
        if role != inst.role_reported {
            let inst = m.instance_mut(kind, &name).expect("instance exists");
            inst.role_reported = role;
            inst.role_reported_time = now;
            if role == Kind::Replica {
                inst.slave_conf_change_time = now;
            }
            let inst = inst.clone();
            let instance = describe_any(&inst, m);
            let reported = role.word().to_string();
            core.emit(if inst.kind == role {
                Event::RoleChangeConfirmed { instance, reported }
            } else {
                Event::RoleChangeMismatch { instance, reported }
            });
        }
        if core.tilt || kind != Kind::Replica {
            return;
        }
        let inst = m.replicas.get(&name).expect("replica exists").clone();
        let master_addr = m.inst.addr.clone();
        if role == Kind::Master {
            if inst.flags.promoted
                && m.inst.flags.failover_in_progress
                && m.failover_state == FailoverState::WaitPromotion
            {
                // The promotion we asked for happened.
                m.config_epoch = m.failover_epoch;
                m.failover_state = FailoverState::ReconfSlaves;
                m.failover_state_change_time = now;
                core.flush_config();
                core.emit(Event::PromotedSlave {
                    instance: describe(&inst, m),
                });
                if core.simfailure_flags & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
                    core.out.push(Output::Crash);
                }
                core.emit(Event::FailoverStateReconfSlaves {
                    instance: describe_master(m),
                });
                force_hello_update(m, &core.timing);
            } else {
                // A replica turned master on its own (or an old master came back): convert it
                // once things look stable.
                let wait_time = core.timing.publish_period * 4;
                if !inst.flags.promoted
                    && m.looks_sane(&core.timing, now)
                    && inst.no_down_for(wait_time, now)
                    && now.saturating_sub(inst.role_reported_time) > wait_time
                {
                    let replica = m.replicas.get_mut(&name).expect("replica exists");
                    if failover::send_slaveof(core, &link.master, replica, Some(&master_addr)) {
                        let replica = replica.clone();
                        core.emit(Event::ConvertToSlave {
                            instance: describe(&replica, m),
                        });
                    }
                }
            }
        }
        // A replica replicating from the wrong address.
        if role == Kind::Replica
            && (inst.slave_master_port != master_addr.port
                || !inst
                    .slave_master_host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&master_addr.ip)))
        {
            let wait_time = m.failover_timeout;
            if m.looks_sane(&core.timing, now)
                && inst.no_down_for(wait_time, now)
                && now.saturating_sub(inst.slave_conf_change_time) > wait_time
            {
                let replica = m.replicas.get_mut(&name).expect("replica exists");
                if failover::send_slaveof(core, &link.master, replica, Some(&master_addr)) {
                    let replica = replica.clone();
                    core.emit(Event::FixSlaveConfig {
                        instance: describe(&replica, m),
                    });
                }
            }
        }
        // A replica being reconfigured by our failover moving on.
        if role == Kind::Replica && (inst.flags.reconf_sent || inst.flags.reconf_inprog) {
            let promoted_addr = m
                .promoted
                .as_ref()
                .and_then(|k| m.replicas.get(k))
                .map(|p| p.addr.clone());
            let replica = m.replicas.get_mut(&name).expect("replica exists");
            if let Some(paddr) = promoted_addr {
                if replica.flags.reconf_sent
                    && replica
                        .slave_master_host
                        .as_deref()
                        .is_some_and(|h| paddr.is(h, replica.slave_master_port))
                {
                    replica.flags.reconf_sent = false;
                    replica.flags.reconf_inprog = true;
                    let r = replica.clone();
                    core.emit(Event::SlaveReconfInprog {
                        instance: describe(&r, m),
                    });
                }
            }
            let replica = m.replicas.get_mut(&name).expect("replica exists");
            if replica.flags.reconf_inprog && replica.slave_master_link_up {
                replica.flags.reconf_inprog = false;
                replica.flags.reconf_done = true;
                let r = replica.clone();
                core.emit(Event::SlaveReconfDone {
                    instance: describe(&r, m),
                });
            }
        }
    }

    /// `sentinelProcessHelloMessage`.
    fn process_hello(&mut self, payload: &str, now: Ms) {
        let Some(hello) = Hello::parse(payload) else {
            return;
        };
        let core = &mut self.core;
        let Some(m) = self.masters.get_mut(&hello.master_name) else {
            return;
        };
        let mut obsolete: Option<String> = None;
        let known = m
            .sentinels
            .get(&hello.runid)
            .is_some_and(|s| s.addr == hello.addr);
        let mut usable = known;
        // An address Redis could not use (`createSentinelAddr` fails) adds no sentinel; the
        // epoch in the hello still counts.
        let valid_addr =
            core.settings.resolve_hostnames || hello.addr.ip.parse::<std::net::IpAddr>().is_ok();
        if !known && valid_addr {
            // The same run id at another address: it moved.
            let removed = m.sentinels.shift_remove(&hello.runid).is_some();
            if removed {
                core.emit(Event::SentinelAddressSwitch {
                    instance: describe_master(m),
                    ip: hello.addr.ip.clone(),
                    port: hello.addr.port,
                    runid: hello.runid.clone(),
                });
            } else if let Some(other) = m.sentinels.values().find(|s| s.addr == hello.addr).cloned()
            {
                // Another run id at that address: that sentinel restarted with a new id.
                // Forget the old one everywhere.
                core.emit(Event::SentinelInvalidAddr {
                    instance: describe(&other, m),
                });
                obsolete = Some(other.name.clone());
                m.sentinels.shift_remove(&other.name);
            }
            let mut si = Instance::new(
                Kind::Sentinel,
                hello.runid.clone(),
                hello.addr.clone(),
                m.inst.down_after_period,
                now,
            );
            si.runid = Some(hello.runid.clone());
            if !removed {
                core.emit(Event::SentinelAdded {
                    instance: describe(&si, m),
                });
            }
            m.sentinels.insert(hello.runid.clone(), si);
            core.flush_config();
            usable = true;
        }
        if hello.current_epoch > core.current_epoch {
            core.current_epoch = hello.current_epoch;
            core.flush_config();
            core.emit(Event::NewEpoch {
                epoch: core.current_epoch,
            });
        }
        if usable && m.config_epoch < hello.master_config_epoch {
            m.config_epoch = hello.master_config_epoch;
            if !m
                .inst
                .addr
                .is(&hello.master_addr.ip, hello.master_addr.port)
            {
                let si = m.sentinels[&hello.runid].clone();
                core.emit(Event::ConfigUpdateFrom {
                    instance: describe(&si, m),
                });
                failover::switch_master(core, m, hello.master_addr.clone(), now);
            }
        }
        if let Some(si) = m.sentinels.get_mut(&hello.runid) {
            si.last_hello_time = now;
        }
        if let Some(runid) = obsolete {
            for other in self.masters.values_mut() {
                other.sentinels.shift_remove(&runid);
            }
        }
    }

    /// The hello this sentinel sends about `m` on `inst`'s link (`sentinelSendHello`).
    fn hello_payload(core: &Core, m: &Master, inst: &Instance) -> Option<String> {
        let ip = match &core.settings.announce_ip {
            Some(ip) => ip.clone(),
            None => inst.link.local_ip.clone()?,
        };
        let port = if core.settings.announce_port != 0 {
            core.settings.announce_port
        } else {
            core.port
        };
        let addr = m.current_addr();
        Some(
            Hello {
                addr: Addr::new(&ip, port),
                runid: core.myid.clone(),
                current_epoch: core.current_epoch,
                master_name: m.name().to_string(),
                master_addr: addr.clone(),
                master_config_epoch: m.config_epoch,
            }
            .to_payload(),
        )
    }
}

fn inst_of<'a>(
    masters: &'a mut IndexMap<String, Master>,
    link: &LinkId,
) -> Option<&'a mut Instance> {
    masters
        .get_mut(&link.master)?
        .instance_mut(link.kind, &link.name)
}

/// `sentinelHandleDictOfRedisInstances` for one master: the master, then its replicas and
/// sentinels.
fn handle_master(core: &mut Core, m: &mut Master, now: Ms, rng: &mut dyn RngCore) {
    // The master itself.
    periodic_commands(core, m, Kind::Master, None, now);
    if !leave_tilt(core, now) {
        check_subjectively_down(core, m, Kind::Master, None, now);
        failover::check_objectively_down(core, m, now);
        if failover::start_failover_if_needed(core, m, now, rng) {
            failover::ask_master_state(core, m, now, true);
        }
        failover::state_machine(core, m, now, rng);
        failover::ask_master_state(core, m, now, false);
    }
    // Its replicas and sentinels.
    let replicas: Vec<String> = m.replicas.keys().cloned().collect();
    for name in replicas {
        periodic_commands(core, m, Kind::Replica, Some(&name), now);
        if !leave_tilt(core, now) {
            check_subjectively_down(core, m, Kind::Replica, Some(&name), now);
        }
    }
    let sentinels: Vec<String> = m.sentinels.keys().cloned().collect();
    for name in sentinels {
        periodic_commands(core, m, Kind::Sentinel, Some(&name), now);
        if !leave_tilt(core, now) {
            check_subjectively_down(core, m, Kind::Sentinel, Some(&name), now);
        }
    }
}

/// `sentinelForceHelloUpdateForMaster`: hellos about `m` go out at the next tick, so the
/// other sentinels learn the new configuration at once.
fn force_hello_update(m: &mut Master, timing: &Timing) {
    let back = timing.publish_period + 1;
    for inst in std::iter::once(&mut m.inst)
        .chain(m.sentinels.values_mut())
        .chain(m.replicas.values_mut())
    {
        if inst.last_pub_time >= back {
            inst.last_pub_time -= back;
        }
    }
}

/// In TILT mode: true while it lasts; leaves it (`-tilt`) once the period is over.
fn leave_tilt(core: &mut Core, now: Ms) -> bool {
    if !core.tilt {
        return false;
    }
    if now.saturating_sub(core.tilt_start_time) < core.timing.tilt_period {
        return true;
    }
    core.tilt = false;
    core.emit(Event::TiltExited);
    false
}

fn pick<'a>(m: &'a mut Master, kind: Kind, name: Option<&str>) -> Option<&'a mut Instance> {
    match name {
        None => Some(&mut m.inst),
        Some(name) => m.instance_mut(kind, name),
    }
}

/// `sentinelSendPeriodicCommands`: INFO, PING and hello when they are due.
fn periodic_commands(core: &mut Core, m: &mut Master, kind: Kind, name: Option<&str>, now: Ms) {
    let master_busy = m.inst.flags.o_down || m.inst.flags.failover_in_progress;
    let Some(inst) = pick_ref(m, kind, name) else {
        return;
    };
    if inst.disconnected() || inst.link.pending >= MAX_PENDING_COMMANDS {
        return;
    }
    let hello = Sentinel::hello_payload(core, m, inst);
    let master_name = m.name().to_string();
    let inst = pick(m, kind, name).expect("present");
    let info_period = if kind == Kind::Replica && (master_busy || inst.master_link_down_time != 0) {
        1_000
    } else {
        core.timing.info_period
    };
    let ping_period = inst.down_after_period.min(core.timing.ping_period);
    if kind != Kind::Sentinel
        && (inst.info_refresh == 0 || now.saturating_sub(inst.info_refresh) > info_period)
    {
        core.send(&master_name, inst, vec!["INFO".into()], Expect::Info);
    }
    if now.saturating_sub(inst.link.last_pong_time) > ping_period
        && now.saturating_sub(inst.link.last_ping_time) > ping_period / 2
    {
        core.send_ping(&master_name, inst, now);
    }
    if now.saturating_sub(inst.last_pub_time) > core.timing.publish_period {
        if let Some(payload) = hello {
            core.send(
                &master_name,
                inst,
                vec!["PUBLISH".into(), HELLO_CHANNEL.into(), payload],
                Expect::Publish,
            );
        }
    }
}

fn pick_ref<'a>(m: &'a Master, kind: Kind, name: Option<&str>) -> Option<&'a Instance> {
    match name {
        None => Some(&m.inst),
        Some(name) => m.instance(kind, name),
    }
}

/// `sentinelCheckSubjectivelyDown`.
fn check_subjectively_down(
    core: &mut Core,
    m: &mut Master,
    kind: Kind,
    name: Option<&str>,
    now: Ms,
) {
    let master_name = m.name().to_string();
    let reboot_period = m.master_reboot_down_after_period;
    let timing = core.timing.clone();
    let inst = pick(m, kind, name).expect("present");
    let link = &inst.link;
    let elapsed = if link.act_ping_time != 0 {
        now.saturating_sub(link.act_ping_time)
    } else if inst.disconnected() {
        now.saturating_sub(link.last_avail_time)
    } else {
        0
    };
    let half = inst.down_after_period / 2;
    // A command link that stopped answering: reconnect it.
    if link.cmd_up
        && now.saturating_sub(link.cc_conn_time) > timing.min_link_reconnect_period
        && link.act_ping_time != 0
        && now.saturating_sub(link.act_ping_time) > half
        && now.saturating_sub(link.last_pong_time) > half
    {
        inst.link.cmd_up = false;
        inst.link.pending = 0;
        core.out.push(Output::Close {
            link: link_id(&master_name, inst),
            pubsub: false,
        });
    }
    // A pub/sub link silent for too long.
    let link = &inst.link;
    if link.pubsub_up
        && now.saturating_sub(link.pc_conn_time) > timing.min_link_reconnect_period
        && now.saturating_sub(link.pc_last_activity) > timing.publish_period * 3
    {
        inst.link.pubsub_up = false;
        core.out.push(Output::Close {
            link: link_id(&master_name, inst),
            pubsub: true,
        });
    }
    let down = elapsed > inst.down_after_period
        || (inst.kind == Kind::Master
            && inst.role_reported == Kind::Replica
            && now.saturating_sub(inst.role_reported_time)
                > inst.down_after_period + timing.info_period * 2)
        || (inst.flags.master_reboot
            && now.saturating_sub(inst.master_reboot_since_time) > reboot_period);
    if down {
        if !inst.flags.s_down {
            inst.flags.s_down = true;
            inst.s_down_since_time = now;
            let inst = inst.clone();
            core.emit(Event::Sdown {
                instance: describe_any(&inst, m),
            });
        }
    } else if inst.flags.s_down {
        inst.flags.s_down = false;
        inst.flags.script_kill_sent = false;
        let inst = inst.clone();
        core.emit(Event::SdownCleared {
            instance: describe_any(&inst, m),
        });
    }
}
