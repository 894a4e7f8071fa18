//! The `sentinel ...` lines of a config file: read into a [`Sentinel`]
//! (`sentinelHandleConfiguration`) and written back (`rewriteConfigSentinelOption`), so a
//! restarted Sentinel remembers its id, epoch, replicas and peers.

use crate::config::LineOrigin;

use super::info::atoll;
use super::instance::{Addr, Instance, Kind, Master};
use super::{Ms, Sentinel};

/// A refused `sentinel` line: its origin and Redis's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub index: usize,
    pub reason: String,
}

/// Why a master could not be created (`sentinelCheckCreateInstanceErrors`).
fn create_error(kind: Kind, error: CreateError) -> String {
    match error {
        CreateError::Duplicate if kind == Kind::Master => "Duplicate master name.".into(),
        CreateError::Duplicate => "Duplicate hostname and port for replica.".into(),
        CreateError::BadAddress => "Can't resolve instance hostname.".into(),
        CreateError::BadPort => "Invalid port number.".into(),
    }
}

/// Why an instance could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateError {
    Duplicate,
    BadAddress,
    BadPort,
}

/// Checks an address as `createSentinelAddr` does: a port in 0..=65535 and, with
/// `resolve-hostnames no` (the default), an IP literal. With `resolve-hostnames yes` a host
/// name is kept as given; the driver resolves it when it connects.
pub fn parse_addr(ip: &str, port: &str, resolve_hostnames: bool) -> Result<Addr, CreateError> {
    let port = atoll(port);
    if !(0..=65535).contains(&port) {
        return Err(CreateError::BadPort);
    }
    let valid = if resolve_hostnames {
        !ip.is_empty()
    } else {
        ip.parse::<std::net::IpAddr>().is_ok()
    };
    if !valid {
        return Err(CreateError::BadAddress);
    }
    Ok(Addr::new(ip, port as u16))
}

impl Sentinel {
    /// Adds a monitored master (`sentinel monitor`, `SENTINEL MONITOR`).
    pub fn add_master(
        &mut self,
        name: &str,
        ip: &str,
        port: &str,
        quorum: u32,
        now: Ms,
    ) -> Result<(), CreateError> {
        let addr = parse_addr(ip, port, self.core.settings.resolve_hostnames)?;
        if self.masters.contains_key(name) {
            return Err(CreateError::Duplicate);
        }
        let master = Master::new(name, addr, quorum, &self.core.timing, now);
        self.masters.insert(name.to_string(), master);
        Ok(())
    }

    /// Applies the config's `sentinel` lines in order. The first refused line stops loading.
    pub fn load_lines(&mut self, lines: &[Vec<String>], now: Ms) -> Result<Vec<String>, LineError> {
        let mut warnings = Vec::new();
        for (index, argv) in lines.iter().enumerate() {
            if let Err(reason) = self.load_line(argv, now, &mut warnings) {
                return Err(LineError { index, reason });
            }
        }
        Ok(warnings)
    }

    fn load_line(
        &mut self,
        argv: &[String],
        now: Ms,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let argc = argv.len();
        let word = argv
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        let master = |s: &mut Sentinel, name: &str| -> Result<(), String> {
            if s.masters.contains_key(name) {
                Ok(())
            } else {
                Err("No such master with specified name.".into())
            }
        };
        match (word.as_str(), argc) {
            ("monitor", 5) => {
                let quorum = atoll(&argv[4]);
                if quorum <= 0 {
                    return Err("Quorum must be 1 or greater.".into());
                }
                self.add_master(
                    &argv[1],
                    &argv[2],
                    &argv[3],
                    quorum.min(u32::MAX as i64) as u32,
                    now,
                )
                .map_err(|e| create_error(Kind::Master, e))
            }
            ("down-after-milliseconds", 3) | ("failover-timeout", 3) => {
                master(self, &argv[1])?;
                let ms = atoll(&argv[2]);
                if ms <= 0 {
                    return Err("negative or zero time parameter.".into());
                }
                let m = self.masters.get_mut(&argv[1]).expect("checked");
                if word == "failover-timeout" {
                    m.failover_timeout = ms as Ms;
                } else {
                    set_down_after(m, ms as Ms);
                }
                Ok(())
            }
            ("parallel-syncs", 3) => {
                master(self, &argv[1])?;
                self.masters[&argv[1]].parallel_syncs = atoll(&argv[2]);
                Ok(())
            }
            ("notification-script", 3) | ("client-reconfig-script", 3) => {
                master(self, &argv[1])?;
                if !is_executable(&argv[2]) {
                    return Err(if word == "notification-script" {
                        "Notification script seems non existing or non executable.".into()
                    } else {
                        "Client reconfiguration script seems non existing or non executable.".into()
                    });
                }
                let m = &mut self.masters[&argv[1]];
                if word == "notification-script" {
                    m.notification_script = Some(argv[2].clone());
                } else {
                    m.client_reconfig_script = Some(argv[2].clone());
                }
                warnings.push(SCRIPTS_WARNING.to_string());
                Ok(())
            }
            ("auth-pass", 3) => {
                master(self, &argv[1])?;
                self.masters[&argv[1]].auth_pass = Some(argv[2].clone());
                Ok(())
            }
            ("auth-user", 3) => {
                master(self, &argv[1])?;
                self.masters[&argv[1]].auth_user = Some(argv[2].clone());
                Ok(())
            }
            ("current-epoch", 2) => {
                let epoch = atoll(&argv[1]).max(0) as u64;
                self.core.current_epoch = self.core.current_epoch.max(epoch);
                Ok(())
            }
            ("myid", 2) => {
                if argv[1].len() != 40 {
                    return Err("Malformed Sentinel id in myid option.".into());
                }
                self.core.myid = argv[1].clone();
                Ok(())
            }
            ("config-epoch", 3) => {
                master(self, &argv[1])?;
                let epoch = atoll(&argv[2]).max(0) as u64;
                self.masters[&argv[1]].config_epoch = epoch;
                self.core.current_epoch = self.core.current_epoch.max(epoch);
                Ok(())
            }
            ("leader-epoch", 3) => {
                master(self, &argv[1])?;
                let epoch = atoll(&argv[2]).max(0) as u64;
                self.masters[&argv[1]].leader_epoch = epoch;
                self.core.current_epoch = self.core.current_epoch.max(epoch);
                Ok(())
            }
            ("known-slave", 4) | ("known-replica", 4) => {
                master(self, &argv[1])?;
                let addr = parse_addr(&argv[2], &argv[3], self.core.settings.resolve_hostnames)
                    .map_err(|e| create_error(Kind::Replica, e))?;
                let m = &mut self.masters[&argv[1]];
                let key = addr.name();
                if m.replicas.contains_key(&key) {
                    return Err(create_error(Kind::Replica, CreateError::Duplicate));
                }
                let r = Instance::new(
                    Kind::Replica,
                    key.clone(),
                    addr,
                    m.inst.down_after_period,
                    now,
                );
                m.replicas.insert(key, r);
                Ok(())
            }
            ("known-sentinel", 4) | ("known-sentinel", 5) => {
                master(self, &argv[1])?;
                let addr = parse_addr(&argv[2], &argv[3], self.core.settings.resolve_hostnames)
                    .map_err(|e| create_error(Kind::Sentinel, e))?;
                if argc == 5 {
                    let m = &mut self.masters[&argv[1]];
                    let runid = argv[4].clone();
                    if m.sentinels.contains_key(&runid) {
                        return Err("Duplicate runid for sentinel.".into());
                    }
                    let mut s = Instance::new(
                        Kind::Sentinel,
                        runid.clone(),
                        addr,
                        m.inst.down_after_period,
                        now,
                    );
                    s.runid = Some(runid.clone());
                    m.sentinels.insert(runid, s);
                }
                Ok(())
            }
            ("rename-command", 4) => {
                master(self, &argv[1])?;
                self.masters[&argv[1]]
                    .renamed_commands
                    .push((argv[2].clone(), argv[3].clone()));
                Ok(())
            }
            ("announce-ip", 2) => {
                if !argv[1].is_empty() {
                    self.core.settings.announce_ip = Some(argv[1].clone());
                }
                Ok(())
            }
            ("announce-port", 2) => {
                self.core.settings.announce_port = atoll(&argv[1]).clamp(0, 65535) as u16;
                Ok(())
            }
            ("deny-scripts-reconfig", 2) => {
                self.core.settings.deny_scripts_reconfig = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?;
                Ok(())
            }
            ("resolve-hostnames", 2) => {
                self.core.settings.resolve_hostnames = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the resolve-hostnames options.")?;
                Ok(())
            }
            ("announce-hostnames", 2) => {
                self.core.settings.announce_hostnames = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the announce-hostnames options.")?;
                Ok(())
            }
            ("sentinel-user", 2) => {
                self.core.settings.sentinel_user = Some(argv[1].clone());
                Ok(())
            }
            ("sentinel-pass", 2) => {
                self.core.settings.sentinel_pass = Some(argv[1].clone());
                Ok(())
            }
            ("master-reboot-down-after-period", 3) => {
                master(self, &argv[1])?;
                let ms = atoll(&argv[2]);
                if ms < 0 {
                    return Err("negative time parameter.".into());
                }
                self.masters[&argv[1]].master_reboot_down_after_period = ms as Ms;
                Ok(())
            }
            _ => Err("Unrecognized sentinel configuration statement.".into()),
        }
    }

    /// The `sentinel ...` lines that describe this Sentinel's state, for the config rewrite.
    pub fn config_lines(&self) -> Vec<String> {
        let core = &self.core;
        let s = &core.settings;
        let defaults = super::Timing::default();
        let mut out = vec![format!("sentinel myid {}", core.myid)];
        if !s.deny_scripts_reconfig {
            out.push("sentinel deny-scripts-reconfig no".into());
        }
        if s.resolve_hostnames {
            out.push("sentinel resolve-hostnames yes".into());
        }
        if s.announce_hostnames {
            out.push("sentinel announce-hostnames yes".into());
        }
        for m in self.masters.values() {
            let name = m.name();
            let addr = m.current_addr();
            out.push(format!(
                "sentinel monitor {name} {} {} {}",
                addr.ip, addr.port, m.quorum
            ));
            if m.inst.down_after_period != defaults.default_down_after {
                out.push(format!(
                    "sentinel down-after-milliseconds {name} {}",
                    m.inst.down_after_period
                ));
            }
            if m.failover_timeout != defaults.default_failover_timeout {
                out.push(format!(
                    "sentinel failover-timeout {name} {}",
                    m.failover_timeout
                ));
            }
            if m.parallel_syncs != 1 {
                out.push(format!(
                    "sentinel parallel-syncs {name} {}",
                    m.parallel_syncs
                ));
            }
            if let Some(script) = &m.notification_script {
                out.push(format!(
                    "sentinel notification-script {name} {}",
                    quote(script)
                ));
            }
            if let Some(script) = &m.client_reconfig_script {
                out.push(format!(
                    "sentinel client-reconfig-script {name} {}",
                    quote(script)
                ));
            }
            if let Some(pass) = &m.auth_pass {
                out.push(format!("sentinel auth-pass {name} {}", quote(pass)));
            }
            if let Some(user) = &m.auth_user {
                out.push(format!("sentinel auth-user {name} {}", quote(user)));
            }
            if m.master_reboot_down_after_period != 0 {
                out.push(format!(
                    "sentinel master-reboot-down-after-period {name} {}",
                    m.master_reboot_down_after_period
                ));
            }
            out.push(format!("sentinel config-epoch {name} {}", m.config_epoch));
            out.push(format!("sentinel leader-epoch {name} {}", m.leader_epoch));
            for r in m.replicas.values() {
                // The promoted replica is recorded as the old master's address: the master's
                // address is already the new one.
                let raddr = if r.addr == *addr {
                    &m.inst.addr
                } else {
                    &r.addr
                };
                out.push(format!(
                    "sentinel known-replica {name} {} {}",
                    raddr.ip, raddr.port
                ));
            }
            for si in m.sentinels.values() {
                if let Some(runid) = &si.runid {
                    out.push(format!(
                        "sentinel known-sentinel {name} {} {} {runid}",
                        si.addr.ip, si.addr.port
                    ));
                }
            }
            for (from, to) in &m.renamed_commands {
                out.push(format!("sentinel rename-command {name} {from} {to}"));
            }
        }
        out.push(format!("sentinel current-epoch {}", core.current_epoch));
        if let Some(ip) = &s.announce_ip {
            out.push(format!("sentinel announce-ip {}", quote(ip)));
        }
        if s.announce_port != 0 {
            out.push(format!("sentinel announce-port {}", s.announce_port));
        }
        if let Some(user) = &s.sentinel_user {
            out.push(format!("sentinel sentinel-user {}", quote(user)));
        }
        if let Some(pass) = &s.sentinel_pass {
            out.push(format!("sentinel sentinel-pass {}", quote(pass)));
        }
        out
    }
}

/// The warning logged once when the config names scripts.
pub const SCRIPTS_WARNING: &str =
    "notification-script and client-reconfig-script are accepted but redislab never runs them";

/// The marker Redis writes before the lines it generates.
pub const REWRITE_MARKER: &str = "# Generated by CONFIG REWRITE";

/// The new text of a sentinel config file: every line of `original` except its `sentinel`
/// lines and the rewrite marker, then the marker and `lines`.
pub fn rewrite_text(original: &str, lines: &[String]) -> String {
    let mut out = String::new();
    for line in original.lines() {
        let trimmed = line.trim();
        let first = trimmed.split_whitespace().next().unwrap_or("");
        if first.eq_ignore_ascii_case("sentinel") || trimmed == REWRITE_MARKER {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str(REWRITE_MARKER);
    out.push('\n');
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Sets a master's down-after period and its instances' (`SENTINEL SET` does the same).
pub fn set_down_after(m: &mut Master, ms: Ms) {
    m.inst.down_after_period = ms;
    for inst in m.replicas.values_mut().chain(m.sentinels.values_mut()) {
        inst.down_after_period = ms;
    }
}

fn yes_no(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Quotes a value for a config line when it would not read back as one word.
fn quote(text: &str) -> String {
    if text.is_empty()
        || text
            .bytes()
            .any(|b| b <= b' ' || b == b'"' || b == b'\'' || b > 0x7e)
    {
        crate::config::args::repr(text)
    } else {
        text.to_string()
    }
}

/// `access(path, X_OK)`, as Redis checks script paths.
pub fn is_executable(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access(2) only reads the NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Where a refused line came from, for the fatal report.
pub fn origin(origins: &[LineOrigin], index: usize) -> Option<&LineOrigin> {
    origins.get(index)
}
