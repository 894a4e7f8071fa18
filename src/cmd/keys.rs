//! The generic key commands (`db.c`, `expire.c`, `object.c`): DEL, EXISTS, TYPE, expiry,
//! KEYS/SCAN, RENAME, MOVE/COPY/SWAPDB, FLUSHDB/FLUSHALL, OBJECT.
//!
//! Expiry set with EXPIRE, PEXPIRE or EXPIREAT is propagated as `PEXPIREAT key <abs ms>`; an
//! expiry already in the past deletes the key and is propagated as `DEL key`, as Redis 7.0 does,
//! so that replicas and the AOF never depend on their own clock for a write.

use bytes::Bytes;

use super::args::parse_int;
use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::glob::glob_match;
use crate::resp::Reply;
use crate::store::Value;

/// The key commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("del", -2, WRITE, del).keys(1, -1, 1),
    Spec::new("unlink", -2, WRITE | FAST, del).keys(1, -1, 1),
    Spec::new("exists", -2, READONLY | FAST, exists).keys(1, -1, 1),
    Spec::new("touch", -2, READONLY | FAST, exists).keys(1, -1, 1),
    Spec::new("type", 2, READONLY | FAST, type_).keys(1, 1, 1),
    Spec::new("expire", -3, WRITE | FAST, expire).keys(1, 1, 1),
    Spec::new("pexpire", -3, WRITE | FAST, pexpire).keys(1, 1, 1),
    Spec::new("expireat", -3, WRITE | FAST, expireat).keys(1, 1, 1),
    Spec::new("pexpireat", -3, WRITE | FAST, pexpireat).keys(1, 1, 1),
    Spec::new("ttl", 2, READONLY | FAST, ttl).keys(1, 1, 1),
    Spec::new("pttl", 2, READONLY | FAST, pttl).keys(1, 1, 1),
    Spec::new("expiretime", 2, READONLY | FAST, expiretime).keys(1, 1, 1),
    Spec::new("pexpiretime", 2, READONLY | FAST, pexpiretime).keys(1, 1, 1),
    Spec::new("persist", 2, WRITE | FAST, persist).keys(1, 1, 1),
    Spec::new("keys", 2, READONLY, keys),
    Spec::new("scan", -2, READONLY, scan),
    Spec::new("rename", 3, WRITE, rename).keys(1, 2, 1),
    Spec::new("renamenx", 3, WRITE | FAST, renamenx).keys(1, 2, 1),
    Spec::new("randomkey", 1, READONLY, randomkey),
    Spec::new("dbsize", 1, READONLY | FAST, dbsize),
    Spec::new("flushdb", -1, WRITE, flushdb),
    Spec::new("flushall", -1, WRITE, flushall),
    Spec::new("move", 3, WRITE | FAST, move_).keys(1, 1, 1),
    Spec::new("copy", -3, WRITE | DENYOOM, copy).keys(1, 2, 1),
    Spec::new("swapdb", 3, WRITE | FAST, swapdb),
    Spec::new("object", -2, READONLY, object).keys(2, 2, 1),
];

/// `DEL key [key ...]` and `UNLINK key [key ...]`: the number of keys removed.
fn del(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let now = cx.now;
    let mut removed = 0;
    for key in args.rest() {
        if cx.db().contains(key, now) {
            cx.db().remove(key);
            cx.modified(key);
            removed += 1;
        }
    }
    Ok(Reply::Int(removed))
}

/// `EXISTS key [key ...]` (a key named twice counts twice) and `TOUCH key [key ...]`.
fn exists(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let now = cx.now;
    let mut found = 0;
    for key in args.rest() {
        let present = cx.db().contains(key, now);
        cx.lookup_stat(present);
        found += present as i64;
    }
    Ok(Reply::Int(found))
}

/// `TYPE key`: `none` for a missing key.
fn type_(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    Ok(Reply::simple(
        cx.db().get(key, now).map_or("none", Value::type_name),
    ))
}

// ---------------------------------------------------------------------------------------------
// Expiry

/// Redis's `expireGenericCommand`. `relative`: the amount is added to now; `unit_ms`: 1000 for
/// seconds.
fn expire_generic(
    cx: &mut Exec,
    args: &mut Args,
    relative: bool,
    unit_ms: i64,
    name: &str,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let amount = args.next()?;
    let options = args.rest();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        match &option.to_ascii_lowercase()[..] {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => {
                return Err(CmdError(
                    format!("ERR Unsupported option {}", String::from_utf8_lossy(option)).into(),
                ))
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = parse_int(amount)?;
    if unit_ms == 1000 {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| CmdError::invalid_expire(name))?;
    }
    let base = if relative { cx.now } else { 0 };
    when = when
        .checked_add(base)
        .ok_or_else(|| CmdError::invalid_expire(name))?;

    let now = cx.now;
    if !cx.db().contains(key, now) {
        return Ok(Reply::Int(0));
    }
    let current = cx.db().expire_time(key);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        // No expiry counts as an infinite TTL: never less than `when`, always greater.
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Int(0));
    }
    let is_replica = cx.engine.repl.is_replica();
    if when <= now && !is_replica {
        cx.db().remove(key);
        cx.modified(key);
        cx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
    } else {
        cx.db().set_expire_time(key, when);
        cx.modified(key);
        let mut argv = vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(when.to_string()),
        ];
        argv.extend(options.iter().cloned());
        cx.propagate_as(argv);
    }
    Ok(Reply::Int(1))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`
fn expire(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(cx, args, true, 1000, "expire")
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
fn pexpire(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(cx, args, true, 1, "pexpire")
}

/// `EXPIREAT key unix-time-seconds [NX|XX|GT|LT]`
fn expireat(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(cx, args, false, 1000, "expireat")
}

/// `PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]`
fn pexpireat(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(cx, args, false, 1, "pexpireat")
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 for a key without expiry.
fn ttl_generic(
    cx: &mut Exec,
    args: &mut Args,
    ms: bool,
    absolute: bool,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    let present = cx.db().contains(key, now);
    cx.lookup_stat(present);
    if !present {
        return Ok(Reply::Int(-2));
    }
    let Some(at) = cx.db().expire_time(key) else {
        return Ok(Reply::Int(-1));
    };
    Ok(Reply::Int(match (absolute, ms) {
        (true, true) => at,
        (true, false) => at / 1000,
        (false, true) => (at - now).max(0),
        (false, false) => ((at - now).max(0) + 500) / 1000,
    }))
}

/// `TTL key`: seconds left, rounded.
fn ttl(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(cx, args, false, false)
}

/// `PTTL key`
fn pttl(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(cx, args, true, false)
}

/// `EXPIRETIME key`: the absolute Unix time in seconds.
fn expiretime(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(cx, args, false, true)
}

/// `PEXPIRETIME key`
fn pexpiretime(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(cx, args, true, true)
}

/// `PERSIST key`: 1 if a TTL was removed.
fn persist(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    if cx.db().contains(key, now) && cx.db().persist(key) {
        cx.modified(key);
        return Ok(Reply::Int(1));
    }
    Ok(Reply::Int(0))
}

// ---------------------------------------------------------------------------------------------
// KEYS and SCAN

/// `KEYS pattern`: logically expired keys are left out (not deleted).
fn keys(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let pattern = args.next()?;
    let all = &pattern[..] == b"*";
    let now = cx.now;
    let found: Vec<Bytes> = cx
        .db()
        .iter_with_expiry()
        .filter(|(key, _, at)| {
            at.is_none_or(|at| at > now) && (all || glob_match(pattern, key, false))
        })
        .map(|(key, _, _)| key.to_bytes())
        .collect();
    Ok(Reply::bulks(found))
}

/// Parses a SCAN-family cursor (an unsigned integer, as `strtoul` reads it).
pub(crate) fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(CmdError::invalid_cursor)
}

/// The options of SCAN, SSCAN, HSCAN and ZSCAN.
#[derive(Debug, Clone)]
pub(crate) struct ScanOptions {
    pub count: usize,
    pub pattern: Option<Bytes>,
    /// SCAN only.
    pub type_name: Option<Bytes>,
}

impl ScanOptions {
    /// Parses `[MATCH pattern] [COUNT count] [TYPE type]` (TYPE only if `allow_type`).
    pub(crate) fn parse(args: &mut Args, allow_type: bool) -> Result<ScanOptions, CmdError> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
            type_name: None,
        };
        while let Some(option) = args.peek() {
            if args.remaining() < 2 {
                return Err(CmdError::syntax());
            }
            if option.eq_ignore_ascii_case(b"count") {
                args.next()?;
                let count = args.next_i64()?;
                if count < 1 {
                    return Err(CmdError::syntax());
                }
                options.count = count as usize;
            } else if option.eq_ignore_ascii_case(b"match") {
                args.next()?;
                let pattern = args.next()?;
                options.pattern = (&pattern[..] != b"*").then(|| pattern.clone());
            } else if allow_type && option.eq_ignore_ascii_case(b"type") {
                args.next()?;
                options.type_name = Some(args.next()?.clone());
            } else {
                return Err(CmdError::syntax());
            }
        }
        Ok(options)
    }

    /// True if `item` passes the MATCH pattern.
    pub(crate) fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, item, false))
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// The cursor is the keyspace table's (`store/table.rs`): 0 starts, each call visits at least
/// COUNT keys, and 0 is returned once the table was walked to its end. A key present for the
/// whole iteration is returned at least once, however the table grows meanwhile. Logically
/// expired keys are skipped.
fn scan(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let cursor = parse_scan_cursor(args.next()?)?;
    let options = ScanOptions::parse(args, true)?;
    let now = cx.now;
    let db = cx.db();
    let mut visited = Vec::new();
    let next = db.scan_keys(cursor, options.count, |key| {
        if options.matches(key) {
            visited.push(key.to_bytes());
        }
    });
    let found: Vec<Bytes> = visited
        .into_iter()
        .filter(|key| {
            if db.expire_time(key).is_some_and(|at| at <= now) {
                return false;
            }
            match &options.type_name {
                Some(wanted) => {
                    let actual = db.peek(key).map_or("none", Value::type_name);
                    wanted.eq_ignore_ascii_case(actual.as_bytes())
                }
                None => true,
            }
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk_string(next.to_string()),
        Reply::bulks(found),
    ]))
}

// ---------------------------------------------------------------------------------------------
// Renaming, moving, copying

/// RENAME and RENAMENX: the TTL moves with the value.
fn rename_generic(cx: &mut Exec, args: &mut Args, nx: bool) -> Result<Reply, CmdError> {
    let src = args.next()?;
    let dst = args.next()?;
    let now = cx.now;
    if !cx.db().contains(src, now) {
        return Err(CmdError::no_such_key());
    }
    let done = if nx { Reply::Int(1) } else { Reply::ok() };
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { done });
    }
    if cx.db().contains(dst, now) {
        if nx {
            return Ok(Reply::Int(0));
        }
        cx.db().remove(dst);
    }
    let db = cx.db();
    let expire = db.expire_time(src);
    let value = db.remove(src).expect("checked above");
    db.set(Bytes::copy_from_slice(dst), value);
    if let Some(at) = expire {
        db.set_expire_time(dst, at);
    }
    cx.touch(src);
    cx.touch(dst);
    cx.dirty(1);
    Ok(done)
}

/// `RENAME key newkey`
fn rename(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    rename_generic(cx, args, false)
}

/// `RENAMENX key newkey`
fn renamenx(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    rename_generic(cx, args, true)
}

/// Parses a db index (`getIntFromObjectOrReply`) and checks it names a database.
fn db_index(cx: &Exec, arg: &[u8]) -> Result<usize, CmdError> {
    let index = parse_int(arg)?;
    let index = i32::try_from(index).map_err(|_| CmdError::not_integer())?;
    if index < 0 || index as usize >= cx.engine.dbs.len() {
        return Err(CmdError::db_index_out_of_range());
    }
    Ok(index as usize)
}

/// `MOVE key db`: 1 if moved, 0 if the key is missing here or exists there.
fn move_(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let target = db_index(cx, args.next()?)?;
    if target == cx.db_index() {
        return Err(CmdError::same_object());
    }
    let now = cx.now;
    if !cx.db().contains(key, now) || cx.engine.dbs[target].contains(key, now) {
        return Ok(Reply::Int(0));
    }
    let expire = cx.db().expire_time(key);
    let value = cx.db().remove(key).expect("checked above");
    let dst = &mut cx.engine.dbs[target];
    dst.set(Bytes::copy_from_slice(key), value);
    if let Some(at) = expire {
        dst.set_expire_time(key, at);
    }
    cx.touch(key);
    cx.engine.touch(target, key);
    cx.dirty(1);
    Ok(Reply::Int(1))
}

/// `COPY source destination [DB destination-db] [REPLACE]`
fn copy(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let src = args.next()?;
    let dst = args.next()?;
    let mut replace = false;
    let mut target = cx.db_index();
    while let Some(option) = args.peek() {
        if option.eq_ignore_ascii_case(b"replace") {
            args.next()?;
            replace = true;
        } else if option.eq_ignore_ascii_case(b"db") && args.remaining() >= 2 {
            args.next()?;
            target = db_index(cx, args.next()?)?;
        } else {
            return Err(CmdError::syntax());
        }
    }
    if target == cx.db_index() && src == dst {
        return Err(CmdError::same_object());
    }
    let now = cx.now;
    let Some(value) = cx.db().get(src, now).cloned() else {
        return Ok(Reply::Int(0));
    };
    let expire = cx.db().expire_time(src);
    let db = &mut cx.engine.dbs[target];
    if db.contains(dst, now) {
        if !replace {
            return Ok(Reply::Int(0));
        }
        db.remove(dst);
    }
    db.set(Bytes::copy_from_slice(dst), value);
    if let Some(at) = expire {
        db.set_expire_time(dst, at);
    }
    cx.engine.touch(target, dst);
    cx.dirty(1);
    Ok(Reply::Int(1))
}

/// `SWAPDB index1 index2`: clients see the other database's keys at once; WATCHers of either
/// fail and clients blocked on keys of either get a chance to be served.
fn swapdb(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let parse = |arg: &[u8], what: &'static str| -> Result<i64, CmdError> {
        parse_int(arg)
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| CmdError::new(what))
    };
    let a = parse(args.next()?, "ERR invalid first DB index")?;
    let b = parse(args.next()?, "ERR invalid second DB index")?;
    let count = cx.engine.dbs.len() as i64;
    if a < 0 || a >= count || b < 0 || b >= count {
        return Err(CmdError::db_index_out_of_range());
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        cx.engine.dbs.swap(a, b);
        cx.engine.touch_all(a);
        cx.engine.touch_all(b);
        if cx.engine.blocked_clients() > 0 {
            for db in [a, b] {
                let keys: Vec<Bytes> = cx.engine.dbs[db]
                    .iter()
                    .map(|(k, _)| k.to_bytes())
                    .collect();
                for key in &keys {
                    cx.engine.touch(db, key);
                }
            }
        }
    }
    cx.dirty(1);
    Ok(Reply::ok())
}

// ---------------------------------------------------------------------------------------------
// Whole databases

/// The optional `ASYNC|SYNC` of FLUSHDB/FLUSHALL (both flush at once here).
fn flush_mode(args: &mut Args) -> Result<(), CmdError> {
    if args.remaining() > 1 {
        return Err(CmdError::syntax());
    }
    if let Some(mode) = args.peek() {
        if !mode.eq_ignore_ascii_case(b"sync") && !mode.eq_ignore_ascii_case(b"async") {
            return Err(CmdError::syntax());
        }
    }
    Ok(())
}

/// `FLUSHDB [ASYNC|SYNC]`: always propagated, even when the db was empty (Redis forces it).
fn flushdb(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    flush_mode(args)?;
    let db = cx.db_index();
    cx.engine.touch_existing(db);
    let removed = cx.db().clear() as u64;
    cx.dirty(removed.max(1));
    Ok(Reply::ok())
}

/// `FLUSHALL [ASYNC|SYNC]`
fn flushall(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    flush_mode(args)?;
    let mut removed = 0;
    for db in 0..cx.engine.dbs.len() {
        cx.engine.touch_existing(db);
        removed += cx.engine.dbs[db].clear() as u64;
    }
    cx.dirty(removed + 1);
    Ok(Reply::ok())
}

/// `RANDOMKEY`: nil when the db is empty.
fn randomkey(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    let now = cx.now;
    let db = cx.db_index();
    let engine = &mut *cx.engine;
    Ok(engine.dbs[db]
        .random_key(now, &mut engine.rng)
        .map_or(Reply::Null, Reply::Bulk))
}

/// `DBSIZE`: keys in the selected db, logically expired ones not yet removed included.
fn dbsize(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Int(cx.db().len() as i64))
}

// ---------------------------------------------------------------------------------------------
// OBJECT

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Integers Redis keeps as shared objects (`OBJ_SHARED_INTEGERS`): OBJECT REFCOUNT reports
/// `INT_MAX` for them.
const SHARED_INTEGERS: i64 = 10000;

/// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key`, `OBJECT HELP`.
///
/// The lookup does not count as an access (Redis's `LOOKUP_NOTOUCH`). IDLETIME needs an LRU
/// (or no) policy, FREQ an LFU one, as in Redis.
fn object(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?;
    let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
    let wanted = match name.as_str() {
        "help" => 0,
        "encoding" | "refcount" | "idletime" | "freq" => 1,
        _ => return Err(CmdError::unknown_subcommand(sub, "object")),
    };
    if args.remaining() != wanted {
        return Err(CmdError::arity(&format!("object|{name}")));
    }
    if name == "help" {
        return Ok(Reply::Array(
            OBJECT_HELP.iter().map(|line| Reply::simple(line)).collect(),
        ));
    }
    let key = args.next()?;
    let now = cx.now;
    let lfu = cx.shared.config().maxmemory_policy.is_lfu();
    if !cx.db().contains(key, now) {
        return Ok(Reply::Null);
    }
    let db = cx.db();
    let Some(value) = db.peek(key) else {
        return Ok(Reply::Null);
    };
    Ok(match name.as_str() {
        "encoding" => Reply::bulk(value.encoding().as_bytes()),
        "refcount" => Reply::Int(match value {
            Value::String(s)
                if crate::store::value::parse_i64_strict(s)
                    .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)) =>
            {
                i32::MAX as i64
            }
            _ => 1,
        }),
        "idletime" if lfu => {
            return Err(CmdError::new(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note \
                 that when switching between policies at runtime LRU and LFU data will take \
                 some time to adjust.",
            ))
        }
        "idletime" => Reply::Int(db.idle_seconds(key, now).unwrap_or(0) as i64),
        _ if lfu => Reply::Int(i64::from(db.frequency(key, now).unwrap_or(0))),
        _ => {
            return Err(CmdError::new(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn int(reply: Reply) -> i64 {
        match reply {
            Reply::Int(n) => n,
            other => panic!("not an integer: {other:?}"),
        }
    }

    #[test]
    fn del_exists_type() {
        let mut h = Harness::new();
        h.run(&["set", "a", "1"]);
        h.run(&["set", "b", "2"]);
        h.run(&["zadd", "z", "1", "m"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["exists", "a", "a", "nope", "b"], Reply::Int(3)),
            (&["touch", "a", "nope"], Reply::Int(1)),
            (&["type", "a"], Reply::simple("string")),
            (&["type", "z"], Reply::simple("zset")),
            (&["type", "nope"], Reply::simple("none")),
            (&["del", "a", "nope", "a"], Reply::Int(1)),
            (&["unlink", "b", "z"], Reply::Int(2)),
            (&["exists", "a", "b", "z"], Reply::Int(0)),
            (&["dbsize"], Reply::Int(0)),
            (
                &["del"],
                err("ERR wrong number of arguments for 'del' command"),
            ),
            (
                &["type", "a", "b"],
                err("ERR wrong number of arguments for 'type' command"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn expire_options_and_errors() {
        let mut h = Harness::new();
        h.run(&["set", "k", "v"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["ttl", "k"], Reply::Int(-1)),
            (&["pttl", "k"], Reply::Int(-1)),
            (&["ttl", "nope"], Reply::Int(-2)),
            (&["expiretime", "k"], Reply::Int(-1)),
            (&["pexpiretime", "nope"], Reply::Int(-2)),
            (&["expire", "nope", "100"], Reply::Int(0)),
            (&["expire", "k", "100", "XX"], Reply::Int(0)),
            (&["expire", "k", "100", "GT"], Reply::Int(0)),
            (&["expire", "k", "100", "LT"], Reply::Int(1)),
            (&["ttl", "k"], Reply::Int(100)),
            (&["expire", "k", "200", "NX"], Reply::Int(0)),
            (&["expire", "k", "200", "LT"], Reply::Int(0)),
            (&["expire", "k", "200", "gt"], Reply::Int(1)),
            (&["expire", "k", "50", "XX", "LT"], Reply::Int(1)),
            (&["ttl", "k"], Reply::Int(50)),
            (&["persist", "k"], Reply::Int(1)),
            (&["persist", "k"], Reply::Int(0)),
            (&["persist", "nope"], Reply::Int(0)),
            (&["expire", "k", "100", "NX"], Reply::Int(1)),
            (
                &["expire", "k", "100", "NX", "XX"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                &["expire", "k", "100", "NX", "GT"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                &["expire", "k", "100", "GT", "LT"],
                err("ERR GT and LT options at the same time are not compatible"),
            ),
            (
                &["expire", "k", "100", "FOO"],
                err("ERR Unsupported option FOO"),
            ),
            (
                &["expire", "k", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                &["expire", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'expire' command"),
            ),
            (
                &["pexpire", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'pexpire' command"),
            ),
            (
                &["expireat", "k", "-9223372036854775807"],
                err("ERR invalid expire time in 'expireat' command"),
            ),
            (&["pexpireat", "k", "9223372036854775807"], Reply::Int(1)),
            (&["pexpiretime", "k"], Reply::Int(i64::MAX)),
            (&["expireat", "k", "4102444800"], Reply::Int(1)),
            (&["expiretime", "k"], Reply::Int(4102444800)),
            (&["pexpiretime", "k"], Reply::Int(4102444800000)),
            (
                &["expire", "k"],
                err("ERR wrong number of arguments for 'expire' command"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        let pttl = int(h.run(&["pexpire", "k", "5000"]));
        assert_eq!(pttl, 1);
        let left = int(h.run(&["pttl", "k"]));
        assert!((4900..=5000).contains(&left), "{left}");
    }

    #[test]
    fn expire_is_propagated_as_pexpireat_and_the_past_as_del() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["set", "k", "v"]);
        h.run(&["expire", "k", "100", "GT"]); // refused: not propagated
        h.run(&["expire", "k", "100"]);
        h.run(&["pexpireat", "k", "4102444800000", "GT"]);
        h.run(&["expireat", "k", "4102444801"]);
        h.run(&["persist", "k"]);
        assert_eq!(h.run(&["expire", "k", "-1"]), Reply::Int(1));
        assert_eq!(h.run(&["exists", "k"]), Reply::Int(0));
        let p = h.propagated();
        assert_eq!(p[0], ["set", "k", "v"]);
        assert_eq!(p[1][..2], ["PEXPIREAT", "k"]);
        let at: i64 = p[1][2].parse().unwrap();
        let now = crate::server::unix_ms();
        assert!((now + 99_000..=now + 100_000).contains(&at), "{at}");
        assert_eq!(p[2], ["PEXPIREAT", "k", "4102444800000", "GT"]);
        assert_eq!(p[3], ["PEXPIREAT", "k", "4102444801000"]);
        assert_eq!(p[4], ["persist", "k"]);
        assert_eq!(p[5], ["DEL", "k"]);
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn expired_keys_are_gone_and_their_deletion_propagated() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["set", "k", "v", "EX", "100"]);
        h.run(&["set", "other", "v"]);
        h.propagated();
        h.shared.engine().dbs[0].set_expire_time(b"k", 1);
        assert_eq!(h.run(&["keys", "*"]), bulks(&["other"]));
        assert_eq!(h.run(&["ttl", "k"]), Reply::Int(-2));
        assert_eq!(h.propagated(), vec![vec!["DEL", "k"]]);
        assert_eq!(h.run(&["exists", "k"]), Reply::Int(0));
        assert_eq!(h.run(&["dbsize"]), Reply::Int(1));
    }

    #[test]
    fn keys_and_randomkey() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["randomkey"]), Reply::Null);
        for k in ["one", "two", "three", "four"] {
            h.run(&["set", k, "x"]);
        }
        let mut found = match h.run(&["keys", "t*"]) {
            Reply::Array(items) => items,
            other => panic!("{other:?}"),
        };
        found.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(found, vec![bulk("three"), bulk("two")]);
        assert_eq!(h.run(&["keys", "?ne"]), bulks(&["one"]));
        match h.run(&["randomkey"]) {
            Reply::Bulk(k) => {
                assert!(["one", "two", "three", "four"].contains(&std::str::from_utf8(&k).unwrap()))
            }
            other => panic!("{other:?}"),
        }
    }

    /// Runs a whole SCAN with COUNT 1, calling `between` after each step; returns every key seen.
    fn full_scan(h: &mut Harness, mut between: impl FnMut(&mut Harness, usize)) -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        let mut step = 0;
        loop {
            let reply = h.run(&["scan", &cursor, "COUNT", "1"]);
            let Reply::Array(parts) = reply else {
                panic!("{reply:?}")
            };
            let (Reply::Bulk(next), Reply::Array(keys)) = (&parts[0], &parts[1]) else {
                panic!("{parts:?}")
            };
            for key in keys {
                let Reply::Bulk(key) = key else { panic!() };
                seen.push(String::from_utf8(key.to_vec()).unwrap());
            }
            cursor = String::from_utf8(next.to_vec()).unwrap();
            between(h, step);
            step += 1;
            if cursor == "0" {
                return seen;
            }
        }
    }

    #[test]
    fn scan_returns_every_key_exactly_once() {
        let mut h = Harness::new();
        for i in 0..1000 {
            h.run(&["set", &format!("key:{i}"), "v"]);
        }
        let seen = full_scan(&mut h, |_, _| {});
        assert_eq!(seen.len(), 1000);
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 1000);
    }

    #[test]
    fn scan_returns_keys_present_throughout_when_others_are_deleted() {
        let mut h = Harness::new();
        for i in 0..1000 {
            h.run(&["set", &format!("key:{i}"), "v"]);
        }
        // Delete the even keys, a few per step, in an order that moves entries around.
        let seen: HashSet<String> = full_scan(&mut h, |h, step| {
            for j in 0..2 {
                let i = (step * 2 + j) * 2;
                if i < 1000 {
                    h.run(&["del", &format!("key:{i}")]);
                }
            }
        })
        .into_iter()
        .collect();
        for i in (1..1000).step_by(2) {
            assert!(seen.contains(&format!("key:{i}")), "key:{i} missed");
        }
    }

    #[test]
    fn scan_options() {
        let mut h = Harness::new();
        h.run(&["set", "s1", "v"]);
        h.run(&["set", "s2", "v"]);
        h.run(&["zadd", "z1", "1", "m"]);
        h.run(&["set", "gone", "v", "PX", "100000"]);
        h.shared.engine().dbs[0].set_expire_time(b"gone", 1);
        let all = |reply: Reply| -> Vec<Reply> {
            let Reply::Array(parts) = reply else { panic!() };
            assert_eq!(parts[0], bulk("0"));
            let Reply::Array(mut keys) = parts[1].clone() else {
                panic!()
            };
            keys.sort_by_key(|r| format!("{r:?}"));
            keys
        };
        assert_eq!(
            all(h.run(&["scan", "0", "COUNT", "100"])),
            vec![bulk("s1"), bulk("s2"), bulk("z1")]
        );
        assert_eq!(
            all(h.run(&["scan", "0", "MATCH", "s*", "COUNT", "100"])),
            vec![bulk("s1"), bulk("s2")]
        );
        assert_eq!(
            all(h.run(&["scan", "0", "TYPE", "zset", "COUNT", "100"])),
            vec![bulk("z1")]
        );
        assert_eq!(h.run(&["scan", "x"]), err("ERR invalid cursor"));
        assert_eq!(h.run(&["scan", "-1"]), err("ERR invalid cursor"));
        assert_eq!(h.run(&["scan", "0", "COUNT", "0"]), err("ERR syntax error"));
        assert_eq!(h.run(&["scan", "0", "COUNT"]), err("ERR syntax error"));
        assert_eq!(h.run(&["scan", "0", "FOO", "1"]), err("ERR syntax error"));
        assert_eq!(
            h.run(&["scan", "0", "COUNT", "x"]),
            err("ERR value is not an integer or out of range")
        );
        // A cursor beyond the end (keys were deleted) is clamped.
        assert_eq!(all(h.run(&["scan", "999", "COUNT", "100"])).len(), 3);
    }

    #[test]
    fn rename_and_renamenx() {
        let mut h = Harness::new();
        h.run(&["set", "a", "1", "EX", "100"]);
        h.run(&["set", "b", "2"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["rename", "nope", "x"], err("ERR no such key")),
            (&["renamenx", "nope", "x"], err("ERR no such key")),
            (&["rename", "a", "a"], Reply::ok()),
            (&["renamenx", "a", "a"], Reply::Int(0)),
            (&["renamenx", "a", "b"], Reply::Int(0)),
            (&["rename", "a", "c"], Reply::ok()),
            (&["exists", "a"], Reply::Int(0)),
            (&["ttl", "c"], Reply::Int(100)),
            (&["rename", "c", "b"], Reply::ok()),
            (&["get", "b"], bulk("1")),
            (&["ttl", "b"], Reply::Int(100)),
            (&["renamenx", "b", "d"], Reply::Int(1)),
            (&["get", "d"], bulk("1")),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn move_copy_swapdb() {
        let mut h = Harness::new();
        h.run(&["set", "k", "v", "EX", "100"]);
        h.run(&["zadd", "z", "1", "a"]);
        let cases: &[(&[&str], Reply)] = &[
            (
                &["move", "k", "0"],
                err("ERR source and destination objects are the same"),
            ),
            (&["move", "k", "16"], err("ERR DB index is out of range")),
            (&["move", "k", "-1"], err("ERR DB index is out of range")),
            (
                &["move", "k", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (&["move", "nope", "1"], Reply::Int(0)),
            (&["move", "k", "1"], Reply::Int(1)),
            (&["exists", "k"], Reply::Int(0)),
            (
                &["copy", "z", "z"],
                err("ERR source and destination objects are the same"),
            ),
            (&["copy", "z", "z2"], Reply::Int(1)),
            (&["copy", "z", "z2"], Reply::Int(0)),
            (&["zadd", "z", "2", "b"], Reply::Int(1)),
            (&["copy", "z", "z2", "REPLACE"], Reply::Int(1)),
            (&["zcard", "z2"], Reply::Int(2)),
            (&["copy", "z", "z", "DB", "1"], Reply::Int(1)),
            (&["copy", "nope", "x"], Reply::Int(0)),
            (
                &["copy", "z", "x", "DB", "99"],
                err("ERR DB index is out of range"),
            ),
            (&["copy", "z", "x", "FOO"], err("ERR syntax error")),
            (&["copy", "z", "x", "DB"], err("ERR syntax error")),
            (&["select", "1"], Reply::ok()),
            (&["ttl", "k"], Reply::Int(100)),
            (&["zcard", "z"], Reply::Int(2)),
            (&["move", "k", "0"], Reply::Int(1)),
            (&["set", "k", "again"], Reply::ok()),
            (&["move", "k", "0"], Reply::Int(0)),
            (&["swapdb", "0", "1"], Reply::ok()),
            (&["get", "k"], bulk("v")),
            (&["dbsize"], Reply::Int(3)),
            (&["swapdb", "0", "16"], err("ERR DB index is out of range")),
            (&["swapdb", "x", "1"], err("ERR invalid first DB index")),
            (&["swapdb", "0", "y"], err("ERR invalid second DB index")),
            (&["swapdb", "1", "1"], Reply::ok()),
        ];
        for (cmd, want) in cases {
            if cmd[0] == "select" {
                // SELECT belongs to another family: switch the session's db directly.
                h.session.db = cmd[1].parse().unwrap();
                continue;
            }
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn flushdb_and_flushall() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["set", "a", "1"]);
        h.run(&["copy", "a", "a", "DB", "2"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["flushdb", "FOO"], err("ERR syntax error")),
            (&["flushdb", "ASYNC", "SYNC"], err("ERR syntax error")),
            (&["flushdb", "sync"], Reply::ok()),
            (&["dbsize"], Reply::Int(0)),
            (&["flushdb"], Reply::ok()),
            (&["flushall", "ASYNC"], Reply::ok()),
            (&["select", "2"], Reply::ok()),
            (&["dbsize"], Reply::Int(0)),
        ];
        for (cmd, want) in cases {
            if cmd[0] == "select" {
                // SELECT belongs to another family: switch the session's db directly.
                h.session.db = cmd[1].parse().unwrap();
                continue;
            }
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        let p = h.propagated();
        assert_eq!(
            p[2..],
            [
                vec!["flushdb", "sync"],
                vec!["flushdb"],
                vec!["flushall", "ASYNC"],
            ]
        );
    }

    #[test]
    fn object_subcommands() {
        let mut h = Harness::new();
        h.run(&["set", "n", "100"]);
        h.run(&["set", "big", "100000"]);
        h.run(&["set", "s", "hello"]);
        h.run(&["zadd", "z", "1", "a"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["object", "encoding", "n"], bulk("int")),
            (&["object", "encoding", "s"], bulk("embstr")),
            (&["object", "ENCODING", "z"], bulk("listpack")),
            (&["object", "encoding", "nope"], Reply::Null),
            (&["object", "refcount", "n"], Reply::Int(2147483647)),
            (&["object", "refcount", "big"], Reply::Int(1)),
            (&["object", "refcount", "s"], Reply::Int(1)),
            (&["object", "idletime", "s"], Reply::Int(0)),
            (&["object", "idletime", "nope"], Reply::Null),
            (
                &["object", "freq", "s"],
                err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
            ),
            (&["object", "freq", "nope"], Reply::Null),
            (
                &["object", "encoding"],
                err("ERR wrong number of arguments for 'object|encoding' command"),
            ),
            (
                &["object", "foo", "k"],
                err("ERR unknown subcommand 'foo'. Try OBJECT HELP."),
            ),
            (
                &["object"],
                err("ERR wrong number of arguments for 'object' command"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        let Reply::Array(help) = h.run(&["object", "help"]) else {
            panic!()
        };
        assert_eq!(help.len(), 15);
        h.run(&["config", "set", "maxmemory-policy", "allkeys-lfu"]);
        h.run(&["set", "f", "v"]);
        assert_eq!(h.run(&["object", "freq", "f"]), Reply::Int(5));
        h.run(&["get", "f"]);
        assert_eq!(h.run(&["object", "freq", "f"]), Reply::Int(6));
        assert!(matches!(
            h.run(&["object", "idletime", "f"]),
            Reply::Error(e) if e.starts_with("ERR An LFU maxmemory policy is selected, idle time")
        ));
    }

    #[test]
    fn key_positions_in_the_table() {
        let spec = |name: &str| crate::cmd::lookup(name.as_bytes()).unwrap();
        assert_eq!(spec("del").key_positions(4), vec![1, 2, 3]);
        assert_eq!(spec("rename").key_positions(3), vec![1, 2]);
        assert_eq!(spec("move").key_positions(3), vec![1]);
        assert_eq!(spec("copy").key_positions(6), vec![1, 2]);
        assert_eq!(spec("object").key_positions(3), vec![2]);
        for name in [
            "swapdb",
            "keys",
            "scan",
            "randomkey",
            "dbsize",
            "flushdb",
            "flushall",
        ] {
            assert!(spec(name).key_positions(3).is_empty(), "{name}");
        }
    }
}
