//! What a Sentinel knows about one monitored instance (master, replica or other sentinel), and
//! about one monitored master with its replicas and sentinels (`sentinelRedisInstance` in
//! Redis's `sentinel.c`).

use indexmap::IndexMap;

use super::{Ms, Timing};

/// A host and port as the Sentinel uses them (no name resolution: `resolve-hostnames no`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    pub ip: String,
    pub port: u16,
}

impl Addr {
    pub fn new(ip: &str, port: u16) -> Addr {
        Addr {
            ip: ip.to_string(),
            port,
        }
    }

    /// `ip:port`, the name Redis gives a replica.
    pub fn name(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Redis compares addresses case-insensitively (`sentinelAddrEqualsHostname`).
    pub fn is(&self, ip: &str, port: u16) -> bool {
        self.port == port && self.ip.eq_ignore_ascii_case(ip)
    }
}

/// The three kinds of instance; also the role an instance reports in INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Master,
    Replica,
    Sentinel,
}

impl Kind {
    /// The word Redis uses in events and replies (`sentinelRedisInstanceTypeStr`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// The state flags Redis keeps in `ri->flags`, besides the kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub s_down: bool,
    pub o_down: bool,
    /// A sentinel said the master is down (its last IS-MASTER-DOWN-BY-ADDR reply).
    pub master_down: bool,
    pub failover_in_progress: bool,
    pub promoted: bool,
    pub reconf_sent: bool,
    pub reconf_inprog: bool,
    pub reconf_done: bool,
    pub force_failover: bool,
    pub script_kill_sent: bool,
    pub master_reboot: bool,
}

/// The Sentinel's view of its connections to an instance. The driver owns the sockets and
/// reports connects, disconnects and replies; these are the times Redis keeps in
/// `instanceLink`.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    pub cmd_up: bool,
    pub pubsub_up: bool,
    /// Commands sent and not yet answered.
    pub pending: u32,
    /// When the oldest unanswered PING was sent (0: none outstanding).
    pub act_ping_time: Ms,
    pub last_ping_time: Ms,
    /// Last reply of any kind to a PING.
    pub last_pong_time: Ms,
    /// Last valid PING reply (`+PONG`, `-LOADING`, `-MASTERDOWN`).
    pub last_avail_time: Ms,
    pub cc_conn_time: Ms,
    pub pc_conn_time: Ms,
    pub pc_last_activity: Ms,
    /// Our address as seen on the command link: the ip announced in hellos.
    pub local_ip: Option<String>,
}

/// One instance: a master, a replica of a monitored master, or another sentinel.
#[derive(Debug, Clone)]
pub struct Instance {
    pub kind: Kind,
    /// The master's name, a replica's `ip:port`, a sentinel's run id.
    pub name: String,
    pub addr: Addr,
    pub flags: Flags,
    pub link: LinkState,
    pub runid: Option<String>,
    pub down_after_period: Ms,
    pub last_pub_time: Ms,
    pub last_hello_time: Ms,
    pub last_master_down_reply_time: Ms,
    pub s_down_since_time: Ms,
    pub o_down_since_time: Ms,
    pub master_reboot_since_time: Ms,
    /// When INFO was last parsed (0: never).
    pub info_refresh: Ms,
    pub info: Option<String>,
    pub role_reported: Kind,
    pub role_reported_time: Ms,
    pub slave_conf_change_time: Ms,
    // Replica fields, from its INFO.
    pub slave_master_host: Option<String>,
    pub slave_master_port: u16,
    pub slave_master_link_up: bool,
    pub master_link_down_time: Ms,
    pub slave_priority: i64,
    pub slave_repl_offset: u64,
    pub replica_announced: bool,
    pub slave_reconf_sent_time: Ms,
    // Sentinel fields: its vote.
    pub leader: Option<String>,
    pub leader_epoch: u64,
}

impl Instance {
    /// A new instance as `createSentinelRedisInstance` makes it: considered reachable now.
    pub fn new(kind: Kind, name: String, addr: Addr, down_after_period: Ms, now: Ms) -> Instance {
        Instance {
            kind,
            name,
            addr,
            flags: Flags::default(),
            link: LinkState {
                act_ping_time: now,
                last_avail_time: now,
                last_pong_time: now,
                ..LinkState::default()
            },
            runid: None,
            down_after_period,
            last_pub_time: 0,
            last_hello_time: now,
            last_master_down_reply_time: now,
            s_down_since_time: 0,
            o_down_since_time: 0,
            master_reboot_since_time: 0,
            info_refresh: 0,
            info: None,
            role_reported: kind,
            role_reported_time: now,
            slave_conf_change_time: now,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            master_link_down_time: 0,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            slave_reconf_sent_time: 0,
            leader: None,
            leader_epoch: 0,
        }
    }

    /// Masters and replicas need a pub/sub link too; sentinels only a command link.
    pub fn wants_pubsub(&self) -> bool {
        self.kind != Kind::Sentinel
    }

    /// Redis's `link->disconnected`: a link is missing.
    pub fn disconnected(&self) -> bool {
        !self.link.cmd_up || (self.wants_pubsub() && !self.link.pubsub_up)
    }

    /// The `flags` field of SENTINEL MASTER/REPLICAS/SENTINELS, in Redis's order.
    pub fn flags_text(&self) -> String {
        let f = &self.flags;
        let mut words: Vec<&str> = Vec::new();
        let pairs = [
            (f.s_down, "s_down"),
            (f.o_down, "o_down"),
            (self.kind == Kind::Master, "master"),
            (self.kind == Kind::Replica, "slave"),
            (self.kind == Kind::Sentinel, "sentinel"),
            (self.disconnected(), "disconnected"),
            (f.master_down, "master_down"),
            (f.failover_in_progress, "failover_in_progress"),
            (f.promoted, "promoted"),
            (f.reconf_sent, "reconf_sent"),
            (f.reconf_inprog, "reconf_inprog"),
            (f.reconf_done, "reconf_done"),
            (f.force_failover, "force_failover"),
            (f.script_kill_sent, "script_kill_sent"),
        ];
        for (on, word) in pairs {
            if on {
                words.push(word);
            }
        }
        words.join(",")
    }

    /// `sentinelRedisInstanceNoDownFor`: not SDOWN/ODOWN in the last `ms`.
    pub fn no_down_for(&self, ms: Ms, now: Ms) -> bool {
        let most_recent = self.s_down_since_time.max(self.o_down_since_time);
        most_recent == 0 || now.saturating_sub(most_recent) > ms
    }
}

/// The failover state machine's states (`SENTINEL_FAILOVER_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    /// The name SENTINEL MASTER shows in `failover-state`.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A monitored master: its own instance state, its settings, its replicas and the other
/// sentinels monitoring it, its vote and its failover.
#[derive(Debug, Clone)]
pub struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub config_epoch: u64,
    pub failover_timeout: Ms,
    pub parallel_syncs: i64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub master_reboot_down_after_period: Ms,
    /// `rename-command` pairs: the command name and the name the instance knows it by.
    pub renamed_commands: Vec<(String, String)>,
    /// Keyed by `ip:port`.
    pub replicas: IndexMap<String, Instance>,
    /// Keyed by run id.
    pub sentinels: IndexMap<String, Instance>,
    /// Whom this sentinel voted for, and in which epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_epoch: u64,
    pub failover_start_time: Ms,
    pub failover_state_change_time: Ms,
    pub failover_delay_logged: Ms,
    /// The key of the replica being promoted.
    pub promoted: Option<String>,
}

impl Master {
    pub fn new(name: &str, addr: Addr, quorum: u32, timing: &Timing, now: Ms) -> Master {
        Master {
            inst: Instance::new(
                Kind::Master,
                name.to_string(),
                addr,
                timing.default_down_after,
                now,
            ),
            quorum,
            config_epoch: 0,
            failover_timeout: timing.default_failover_timeout,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            master_reboot_down_after_period: 0,
            renamed_commands: Vec::new(),
            replicas: IndexMap::new(),
            sentinels: IndexMap::new(),
            leader: None,
            leader_epoch: 0,
            failover_state: FailoverState::None,
            failover_epoch: 0,
            failover_start_time: 0,
            failover_state_change_time: 0,
            failover_delay_logged: 0,
            promoted: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.inst.name
    }

    /// `sentinelGetCurrentMasterAddress`: the promoted replica's address once the failover
    /// reached the reconfiguration of the other replicas.
    pub fn current_addr(&self) -> &Addr {
        if self.inst.flags.failover_in_progress
            && self.failover_state >= FailoverState::ReconfSlaves
        {
            if let Some(promoted) = self.promoted.as_ref().and_then(|k| self.replicas.get(k)) {
                return &promoted.addr;
            }
        }
        &self.inst.addr
    }

    /// The instance named `name` of the given kind under this master.
    pub fn instance(&self, kind: Kind, name: &str) -> Option<&Instance> {
        match kind {
            Kind::Master => (self.inst.name == name).then_some(&self.inst),
            Kind::Replica => self.replicas.get(name),
            Kind::Sentinel => self.sentinels.get(name),
        }
    }

    pub fn instance_mut(&mut self, kind: Kind, name: &str) -> Option<&mut Instance> {
        match kind {
            Kind::Master => (self.inst.name == name).then_some(&mut self.inst),
            Kind::Replica => self.replicas.get_mut(name),
            Kind::Sentinel => self.sentinels.get_mut(name),
        }
    }

    /// `sentinelMasterLooksSane`.
    pub fn looks_sane(&self, timing: &Timing, now: Ms) -> bool {
        self.inst.role_reported == Kind::Master
            && !self.inst.flags.s_down
            && !self.inst.flags.o_down
            && now.saturating_sub(self.inst.info_refresh) < timing.info_period * 2
    }

    /// The name a command is sent under on this master's instances (`rename-command`).
    pub fn command_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.renamed_commands
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(name))
            .map_or(name, |(_, to)| to.as_str())
    }
}
