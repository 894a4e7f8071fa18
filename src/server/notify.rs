//! Keyspace notifications (`notify.c`): with `notify-keyspace-events` set, a write publishes
//! `<event>` on `__keyspace@<db>__:<key>` and `<key>` on `__keyevent@<db>__:<event>`.
//!
//! Cost when disabled: the engine keeps the parsed classes in [`Engine::notify_flags`]; the
//! command path tests that one integer and does nothing else. When enabled, the command path
//! records the keys a command modified and [`command_events`] names the event for each one from
//! the command (Redis names it in each command's implementation; the names here are the same).
//! Events are queued in the engine while the keyspace lock is held and published by [`publish`]
//! right after the command, in the order they happened.

use bytes::Bytes;

use super::engine::Engine;
use super::Shared;

/// Event classes (`NOTIFY_*`), as bits of [`Engine::notify_flags`].
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// What `A` stands for.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a `notify-keyspace-events` value (already validated by the config layer); unknown
/// characters are ignored.
pub fn parse_classes(text: &str) -> u32 {
    text.chars().fold(0, |flags, c| {
        flags
            | match c {
                'A' => class::ALL,
                'g' => class::GENERIC,
                '$' => class::STRING,
                'l' => class::LIST,
                's' => class::SET,
                'h' => class::HASH,
                'z' => class::ZSET,
                'x' => class::EXPIRED,
                'e' => class::EVICTED,
                't' => class::STREAM,
                'K' => class::KEYSPACE,
                'E' => class::KEYEVENT,
                'm' => class::KEY_MISS,
                'd' => class::MODULE,
                'n' => class::NEW,
                _ => 0,
            }
    })
}

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEvent {
    pub event: &'static str,
    pub db: usize,
    pub key: Bytes,
}

impl Engine {
    /// Sets the enabled classes (CONFIG SET notify-keyspace-events, startup).
    pub fn set_notify_flags(&mut self, flags: u32) {
        self.notify_flags = flags;
        let track_new = self.notifies(class::NEW);
        for db in &mut self.dbs {
            db.track_new_keys(track_new);
        }
    }

    /// True if events of `class` are published (and some channel kind is enabled).
    pub fn notifies(&self, event_class: u32) -> bool {
        self.notify_flags & event_class != 0
            && self.notify_flags & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// Queues an event of `class` on `key` if that class is enabled.
    pub fn notify(&mut self, event_class: u32, event: &'static str, db: usize, key: &Bytes) {
        if self.notifies(event_class) {
            self.events.push(KeyEvent {
                event,
                db,
                key: key.clone(),
            });
        }
    }
}

/// Publishes the queued events, keyspace channel first, as `notifyKeyspaceEvent` does.
pub fn publish(shared: &Shared, engine: &mut Engine) {
    if engine.events.is_empty() {
        return;
    }
    let flags = engine.notify_flags;
    let events = std::mem::take(&mut engine.events);
    let pubsub = shared.pubsub();
    for KeyEvent { event, db, key } in events {
        if flags & class::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(&key);
            pubsub.publish(&Bytes::from(channel), &Bytes::from_static(event.as_bytes()));
        }
        if flags & class::KEYEVENT != 0 {
            let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
            pubsub.publish(&channel, &key);
        }
    }
}

/// Queues the events of one command that touched `keys` in `db`: `new` for keys it created,
/// and, if it `changed` the dataset, the command's own event for each key and `del` for a key
/// the command emptied away.
pub fn command_events(
    engine: &mut Engine,
    name: &str,
    argv: &[Bytes],
    db: usize,
    keys: &[Bytes],
    changed: bool,
) {
    // Every db: MOVE, COPY ... DB and SWAPDB create keys outside the selected one.
    if engine.notifies(class::NEW) {
        for index in 0..engine.dbs.len() {
            for key in engine.dbs[index].take_new_keys() {
                engine.notify(class::NEW, "new", index, &key);
            }
        }
    }
    if !changed {
        return;
    }
    let mut seen: Vec<&Bytes> = Vec::with_capacity(keys.len());
    for key in keys {
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let exists = engine.dbs[db].peek(key).is_some();
        let Some((event_class, event)) = event_for(name, argv, key, exists) else {
            continue;
        };
        engine.notify(event_class, event, db, key);
        let sets_expiry = matches!(name, "set" | "setex" | "psetex")
            && engine.dbs[db].expire_time(key).is_some()
            && (name != "set" || has_expiry_option(argv));
        if sets_expiry {
            engine.notify(class::GENERIC, "expire", db, key);
        }
        if !exists && event != "del" {
            engine.notify(class::GENERIC, "del", db, key);
        }
    }
}

fn has_expiry_option(argv: &[Bytes]) -> bool {
    argv[2..].iter().any(|a| {
        ["EX", "PX", "EXAT", "PXAT"]
            .iter()
            .any(|o| a.eq_ignore_ascii_case(o.as_bytes()))
    })
}

/// The end word at `index` of `argv` (LEFT/RIGHT, MIN/MAX), lowercased, or "".
fn word(argv: &[Bytes], index: usize) -> String {
    argv.get(index)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default()
}

/// For LMPOP/ZMPOP-like commands: the end word after `numkeys` keys.
fn mpop_end(argv: &[Bytes], numkeys_at: usize) -> String {
    let numkeys = std::str::from_utf8(&argv[numkeys_at])
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    word(argv, numkeys_at + 1 + numkeys)
}

/// The class and name of the event `name` raises on `key` (None: the command raises none).
fn event_for(name: &str, argv: &[Bytes], key: &Bytes, exists: bool) -> Option<(u32, &'static str)> {
    use class::*;
    let is_first_key = argv.get(1) == Some(key);
    let pop_end = |end: &str| if end == "left" { "lpop" } else { "rpop" };
    let push_end = |end: &str| if end == "left" { "lpush" } else { "rpush" };
    Some(match name {
        "del" | "unlink" | "getdel" => (GENERIC, "del"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            (GENERIC, if exists { "expire" } else { "del" })
        }
        "persist" => (GENERIC, "persist"),
        "rename" | "renamenx" => (
            GENERIC,
            if is_first_key {
                "rename_from"
            } else {
                "rename_to"
            },
        ),
        "move" => (GENERIC, "move_from"),
        "copy" => (GENERIC, "copy_to"),
        "restore" => (GENERIC, "restore"),
        "set" | "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" => (STRING, "set"),
        "getex" if argv.iter().any(|a| a.eq_ignore_ascii_case(b"PERSIST")) => (GENERIC, "persist"),
        "getex" => (GENERIC, if exists { "expire" } else { "del" }),
        "append" => (STRING, "append"),
        "setrange" => (STRING, "setrange"),
        "incr" | "incrby" => (STRING, "incrby"),
        "decr" | "decrby" => (STRING, "decrby"),
        "incrbyfloat" => (STRING, "incrbyfloat"),
        "setbit" => (STRING, "setbit"),
        "lpush" | "lpushx" => (LIST, "lpush"),
        "rpush" | "rpushx" => (LIST, "rpush"),
        "lpop" | "blpop" => (LIST, "lpop"),
        "rpop" | "brpop" => (LIST, "rpop"),
        "linsert" => (LIST, "linsert"),
        "lset" => (LIST, "lset"),
        "lrem" => (LIST, "lrem"),
        "ltrim" => (LIST, "ltrim"),
        "lmpop" => (LIST, pop_end(&mpop_end(argv, 1))),
        "blmpop" => (LIST, pop_end(&mpop_end(argv, 2))),
        "rpoplpush" | "brpoplpush" => (LIST, if is_first_key { "rpop" } else { "lpush" }),
        "lmove" | "blmove" => (
            LIST,
            if is_first_key {
                pop_end(&word(argv, 3))
            } else {
                push_end(&word(argv, 4))
            },
        ),
        "hset" | "hmset" | "hsetnx" => (HASH, "hset"),
        "hdel" => (HASH, "hdel"),
        "hincrby" => (HASH, "hincrby"),
        "hincrbyfloat" => (HASH, "hincrbyfloat"),
        "sadd" => (SET, "sadd"),
        "srem" => (SET, "srem"),
        "spop" => (SET, "spop"),
        "smove" => (SET, if is_first_key { "srem" } else { "sadd" }),
        "sinterstore" => (SET, "sinterstore"),
        "sunionstore" => (SET, "sunionstore"),
        "sdiffstore" => (SET, "sdiffstore"),
        "zadd" => {
            let incr = argv.iter().skip(2).any(|a| a.eq_ignore_ascii_case(b"INCR"));
            (ZSET, if incr { "zincr" } else { "zadd" })
        }
        "zincrby" => (ZSET, "zincr"),
        "zrem" => (ZSET, "zrem"),
        "zremrangebyscore" => (ZSET, "zremrangebyscore"),
        "zremrangebyrank" => (ZSET, "zremrangebyrank"),
        "zremrangebylex" => (ZSET, "zremrangebylex"),
        "zpopmin" | "bzpopmin" => (ZSET, "zpopmin"),
        "zpopmax" | "bzpopmax" => (ZSET, "zpopmax"),
        "zmpop" => (
            ZSET,
            if mpop_end(argv, 1) == "min" {
                "zpopmin"
            } else {
                "zpopmax"
            },
        ),
        "bzmpop" => (
            ZSET,
            if mpop_end(argv, 2) == "min" {
                "zpopmin"
            } else {
                "zpopmax"
            },
        ),
        "zunionstore" => (ZSET, "zunionstore"),
        "zinterstore" => (ZSET, "zinterstore"),
        "zdiffstore" => (ZSET, "zdiffstore"),
        "zrangestore" => (ZSET, "zrangestore"),
        "sort" => (LIST, "sortstore"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_like_redis() {
        assert_eq!(parse_classes(""), 0);
        assert_eq!(parse_classes("KA"), class::KEYSPACE | class::ALL);
        assert_eq!(parse_classes("El"), class::KEYEVENT | class::LIST);
        assert_eq!(parse_classes("n") & class::ALL, 0);
    }
}
