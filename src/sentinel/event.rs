//! What Sentinel events say about instances. The events themselves are defined once, with the
//! rest of redislab's, in [`crate::events`]: Redis's `sentinelEvent` publishes `<payload>` on
//! the channel named after the event (`+sdown`) and logs `<event> <payload>` (`+sdown master
//! mymaster 127.0.0.1 6379`). Payloads that describe an instance use the `%@` form built here:
//! `<kind> <name> <ip> <port>`, followed by ` @ <master> <ip> <port>` for replicas and
//! sentinels.

use crate::events::InstanceRef;

use super::instance::{Instance, Kind, Master};

/// The `%@` description of a master.
pub fn describe_master(master: &Master) -> InstanceRef {
    let i = &master.inst;
    InstanceRef {
        role: "master".into(),
        name: i.name.clone(),
        ip: i.addr.ip.clone(),
        port: i.addr.port,
        master: None,
    }
}

/// The `%@` description of a replica or sentinel of `master`.
pub fn describe(inst: &Instance, master: &Master) -> InstanceRef {
    InstanceRef {
        role: inst.kind.word().into(),
        name: inst.name.clone(),
        ip: inst.addr.ip.clone(),
        port: inst.addr.port,
        master: Some((
            master.inst.name.clone(),
            master.inst.addr.ip.clone(),
            master.inst.addr.port,
        )),
    }
}

/// The `%@` description of `inst`, which is `master` itself or one of its replicas or
/// sentinels.
pub fn describe_any(inst: &Instance, master: &Master) -> InstanceRef {
    match inst.kind {
        Kind::Master => describe_master(master),
        _ => describe(inst, master),
    }
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
