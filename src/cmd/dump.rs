//! DUMP and RESTORE (`cluster.c`): a key's value serialized in the RDB value format with the
//! RDB version and a CRC64 footer, and back. The format itself lives in
//! [`persist::rdb`](crate::persist::rdb); this module is the commands.

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::persist::rdb::{dump_value, restore_value};
use crate::resp::Reply;

/// The DUMP/RESTORE table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("dump", 2, READONLY, dump).keys(1, 1, 1),
    Spec::new("restore", -4, WRITE | DENYOOM, restore).keys(1, 1, 1),
];

/// `DUMP key`: the serialized value, or nil.
fn dump(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    Ok(match cx.db().get(key, now) {
        Some(value) => Reply::Bulk(Bytes::from(dump_value(value))),
        None => Reply::Null,
    })
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`.
/// A relative TTL is propagated as an absolute one (`... ABSTTL`), so replicas and the AOF
/// expire the key at the same instant.
fn restore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let ttl = args.next_i64()?;
    let payload = args.next()?;
    let (mut replace, mut absolute) = (false, false);
    let (mut idle, mut freq) = (None, None);
    while !args.is_empty() {
        if args.eat("REPLACE") {
            replace = true;
        } else if args.eat("ABSTTL") {
            absolute = true;
        } else if idle.is_none() && freq.is_none() && args.remaining() >= 2 && args.eat("IDLETIME")
        {
            let seconds = args.next_i64()?;
            if seconds < 0 {
                return Err(CmdError::new("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(seconds);
        } else if idle.is_none() && freq.is_none() && args.remaining() >= 2 && args.eat("FREQ") {
            let frequency = args.next_i64()?;
            if !(0..=255).contains(&frequency) {
                return Err(CmdError::new(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(frequency);
        } else {
            return Err(CmdError::syntax());
        }
    }
    if ttl < 0 {
        return Err(CmdError::new("ERR Invalid TTL value, must be >= 0"));
    }
    let now = cx.now;
    if !replace && cx.db().contains(key, now) {
        return Err(CmdError::new("BUSYKEY Target key name already exists."));
    }
    let value = restore_value(payload).map_err(|error| {
        if error.reason.contains("checksum") {
            CmdError::new("ERR DUMP payload version or checksum are wrong")
        } else {
            CmdError::new("ERR Bad data format")
        }
    })?;
    let expire_at = match (ttl, absolute) {
        (0, _) => None,
        (ttl, true) => Some(ttl),
        (ttl, false) => Some(now.saturating_add(ttl)),
    };
    let owned = Bytes::copy_from_slice(key);
    if expire_at.is_some_and(|at| at <= now) {
        // Already expired: nothing is created; a replaced key is deleted.
        if cx.db().remove(key).is_some() {
            cx.modified(&owned);
            cx.propagate_as(vec![Bytes::from_static(b"DEL"), owned]);
        }
        return Ok(Reply::ok());
    }
    cx.db().set(owned.clone(), value);
    if let Some(at) = expire_at {
        cx.db().set_expire_time(key, at);
        let mut argv = vec![
            Bytes::from_static(b"RESTORE"),
            owned.clone(),
            Bytes::from(at.to_string()),
            payload.clone(),
            Bytes::from_static(b"ABSTTL"),
        ];
        if replace {
            argv.push(Bytes::from_static(b"REPLACE"));
        }
        cx.propagate_as(argv);
    }
    cx.modified(&owned);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn dump_restores_every_type_and_checks_its_input() {
        let mut h = Harness::new();
        h.run(&["rpush", "l", "127", "9223372036854775808", "x"]);
        let Reply::Bulk(payload) = h.run(&["dump", "l"]) else {
            panic!("DUMP gives a bulk string")
        };
        let payload = String::from_utf8_lossy(&payload).into_owned();
        let argv: Vec<bytes::Bytes> = ["restore", "l2", "0"]
            .iter()
            .map(|s| bytes::Bytes::from(*s))
            .chain([h.run_dump("l")])
            .collect();
        assert_eq!(h.run_argv(&argv).0, Reply::ok());
        assert_eq!(
            h.run(&["lrange", "l2", "0", "-1"]),
            Reply::Array(vec![bulk("127"), bulk("9223372036854775808"), bulk("x")])
        );
        assert_eq!(
            h.run_argv(&argv).0,
            err("BUSYKEY Target key name already exists.")
        );
        assert_eq!(h.run(&["dump", "none"]), Reply::Null);
        assert_eq!(
            h.run(&["restore", "k", "0", &payload[..3]]),
            err("ERR DUMP payload version or checksum are wrong")
        );
        assert_eq!(
            h.run(&["restore", "k", "-1", "x"]),
            err("ERR Invalid TTL value, must be >= 0")
        );
        assert_eq!(
            h.run(&["restore", "k", "0", "x", "freq", "256"]),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(
            h.run(&["restore", "k", "0", "x", "freq", "1", "idletime", "1"]),
            err("ERR syntax error")
        );
    }

    impl Harness {
        fn run_dump(&mut self, key: &str) -> bytes::Bytes {
            match self.run(&["dump", key]) {
                Reply::Bulk(payload) => payload,
                other => panic!("{other:?}"),
            }
        }
    }
}
