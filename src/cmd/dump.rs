//! DUMP, RESTORE and MIGRATE (`cluster.c`): a key's value serialized in the RDB value format
//! with the RDB version and a CRC64 footer, and back; MIGRATE moves keys to another node with
//! `RESTORE-ASKING` (in cluster mode) or `RESTORE`. The format itself lives in
//! [`persist::rdb`](crate::persist::rdb); this module is the commands.

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::persist::rdb::{dump_value, restore_value_with};
use crate::resp::Reply;

/// The DUMP/RESTORE table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("dump", 2, READONLY, dump).keys(1, 1, 1),
    Spec::new("restore", -4, WRITE | DENYOOM, restore).keys(1, 1, 1),
    Spec::new("restore-asking", -4, WRITE | DENYOOM, restore).keys(1, 1, 1),
    Spec::new("migrate", -6, WRITE | MOVABLE_KEYS, migrate).keys(3, 3, 1),
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
    let limits = cx.engine.command_config.encodings;
    let value = restore_value_with(payload, &limits).map_err(|error| {
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

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key...]`: like Redis, a synchronous exchange with the
/// target (the server waits for it, bounded by `timeout`), then the moved keys are deleted
/// here and the deletion is propagated as `DEL`.
fn migrate(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::time::Duration;

    let host = String::from_utf8_lossy(args.next()?).into_owned();
    let port = args.next()?.clone();
    let key = args.next()?.clone();
    let db = args.next()?.clone();
    let timeout = args.next()?.clone();
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Bytes>, Bytes)> = None;
    let mut keys = vec![key.clone()];
    while !args.is_empty() {
        if args.eat("COPY") {
            copy = true;
        } else if args.eat("REPLACE") {
            replace = true;
        } else if args.eat("AUTH") {
            auth = Some((None, args.next().map_err(|_| CmdError::syntax())?.clone()));
        } else if args.eat("AUTH2") {
            if args.remaining() < 2 {
                return Err(CmdError::syntax());
            }
            let user = args.next()?.clone();
            auth = Some((Some(user), args.next()?.clone()));
        } else if args.eat("KEYS") {
            if !key.is_empty() {
                return Err(CmdError::new(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys = args.rest().to_vec();
        } else {
            return Err(CmdError::syntax());
        }
    }
    let timeout = super::args::parse_int(&timeout)?;
    let db = super::args::parse_int(&db)?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let now = cx.now;
    let mut found = Vec::new();
    for k in keys {
        let Some(value) = cx.db().get(&k, now) else {
            continue;
        };
        let payload = dump_value(value);
        let ttl = cx.db().expire_time(&k).map(|at| (at - now).max(1));
        found.push((k, payload, ttl.unwrap_or(0)));
    }
    if found.is_empty() {
        return Ok(Reply::Simple(Bytes::from_static(b"NOKEY")));
    }
    let restore = if cx.engine.cluster.is_some() {
        "RESTORE-ASKING"
    } else {
        "RESTORE"
    };
    let mut wire = Vec::new();
    let mut push = |parts: &[&[u8]]| {
        wire.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for p in parts {
            wire.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
            wire.extend_from_slice(p);
            wire.extend_from_slice(b"\r\n");
        }
    };
    if let Some((user, pass)) = &auth {
        match user {
            Some(u) => push(&[b"AUTH", u, pass]),
            None => push(&[b"AUTH", pass]),
        }
    }
    let db_text = db.to_string();
    push(&[b"SELECT", db_text.as_bytes()]);
    for (k, payload, ttl) in &found {
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![restore.as_bytes(), k, ttl.as_bytes(), payload];
        if replace {
            parts.push(b"REPLACE");
        }
        push(&parts);
    }
    let io_error = |writing: bool| {
        CmdError::new(format!(
            "IOERR error or timeout {} to target instance",
            if writing { "writing" } else { "reading" }
        ))
    };
    let addr = format!("{host}:{}", String::from_utf8_lossy(&port));
    let target = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| CmdError::new("IOERR error or timeout connecting to the client"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)
        .map_err(|_| CmdError::new("IOERR error or timeout connecting to the client"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    stream.write_all(&wire).map_err(|_| io_error(true))?;
    let mut reader = BufReader::new(stream);
    let mut read_line = || -> Result<String, CmdError> {
        let mut line = String::new();
        match reader.by_ref().take(64 * 1024).read_line(&mut line) {
            Ok(n) if n > 0 => Ok(line.trim_end().to_string()),
            _ => Err(io_error(false)),
        }
    };
    let mut first_error: Option<String> = None;
    if auth.is_some() {
        let line = read_line()?;
        if let Some(e) = line.strip_prefix('-') {
            first_error.get_or_insert(e.to_string());
        }
    }
    let line = read_line()?;
    if let Some(e) = line.strip_prefix('-') {
        first_error.get_or_insert(e.to_string());
    }
    let mut moved = Vec::new();
    for (k, _, _) in &found {
        let line = read_line()?;
        match line.strip_prefix('-') {
            Some(e) => {
                first_error.get_or_insert(e.to_string());
            }
            None if first_error.is_none() && !copy => moved.push(k.clone()),
            None => {}
        }
    }
    if !moved.is_empty() {
        for k in &moved {
            cx.db().remove(k);
            cx.modified(k);
        }
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(moved);
        cx.propagate_as(del);
    } else {
        cx.propagate_nothing();
    }
    match first_error {
        Some(e) => Err(CmdError::new(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => Ok(Reply::ok()),
    }
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
