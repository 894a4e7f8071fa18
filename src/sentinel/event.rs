//! Sentinel events: one definition gives the pub/sub channel, the payload and the log line.
//!
//! Redis's `sentinelEvent` publishes `<payload>` on the channel named after the event
//! (`+sdown`) and logs `<event> <payload>` (`+sdown master mymaster 127.0.0.1 6379`); events at
//! debug level are logged only. Payloads that describe an instance use the `%@` form:
//! `<kind> <name> <ip> <port>`, followed by ` @ <master> <ip> <port>` for replicas and
//! sentinels.

use crate::config::LogLevel;

use super::instance::{Instance, Master};

/// One event, as published and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub level: LogLevel,
    /// The event type and channel, e.g. `+switch-master`.
    pub name: &'static str,
    pub payload: String,
}

impl Event {
    /// The log message (without Redis's pid/role/time prefix).
    pub fn log_line(&self) -> String {
        format!("{} {}", self.name, self.payload)
    }

    /// Published on pub/sub (every level except debug, as Redis does).
    pub fn published(&self) -> bool {
        self.level != LogLevel::Debug
    }
}

/// The `%@` description of a master.
pub fn describe_master(master: &Master) -> String {
    let i = &master.inst;
    format!("master {} {} {}", i.name, i.addr.ip, i.addr.port)
}

/// The `%@` description of a replica or sentinel of `master`.
pub fn describe(inst: &Instance, master: &Master) -> String {
    format!(
        "{} {} {} {} @ {} {} {}",
        inst.kind.word(),
        inst.name,
        inst.addr.ip,
        inst.addr.port,
        master.inst.name,
        master.inst.addr.ip,
        master.inst.addr.port
    )
}

/// `ctime()`-style local time for Redis's "Next failover delay" log line.
pub fn ctime(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000) as libc::time_t;
    // SAFETY: localtime_r only writes the struct we pass and reads the time value.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}
