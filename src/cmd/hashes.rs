//! The hash commands (`t_hash.c`): fields and values, counters, random fields, HSCAN.
//!
//! HINCRBYFLOAT is propagated as `HSET key field <result>` so replicas store exactly the
//! master's text. Also home of the cursor and option parsing that HSCAN and SSCAN share.
//!
//! The hash itself ([`Hash`]) decides its representation: every write passes the
//! `hash-max-listpack-*` thresholds the engine keeps ([`limits`]).

use bytes::Bytes;

use super::args::{float_value, parse_int};
use super::flags::*;
use super::strings::format_float_result;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::value::{parse_i64_strict, EncodingLimits, Hash};

/// The hash commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("hset", -4, WRITE | DENYOOM | FAST, hset).keys(1, 1, 1),
    Spec::new("hmset", -4, WRITE | DENYOOM | FAST, hmset).keys(1, 1, 1),
    Spec::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx).keys(1, 1, 1),
    Spec::new("hget", 3, READONLY | FAST, hget).keys(1, 1, 1),
    Spec::new("hmget", -3, READONLY | FAST, hmget).keys(1, 1, 1),
    Spec::new("hgetall", 2, READONLY, hgetall).keys(1, 1, 1),
    Spec::new("hkeys", 2, READONLY, hkeys).keys(1, 1, 1),
    Spec::new("hvals", 2, READONLY, hvals).keys(1, 1, 1),
    Spec::new("hdel", -3, WRITE | FAST, hdel).keys(1, 1, 1),
    Spec::new("hexists", 3, READONLY | FAST, hexists).keys(1, 1, 1),
    Spec::new("hlen", 2, READONLY | FAST, hlen).keys(1, 1, 1),
    Spec::new("hstrlen", 3, READONLY | FAST, hstrlen).keys(1, 1, 1),
    Spec::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby).keys(1, 1, 1),
    Spec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat).keys(1, 1, 1),
    Spec::new("hrandfield", -2, READONLY, hrandfield).keys(1, 1, 1),
    Spec::new("hscan", -3, READONLY, hscan).keys(1, 1, 1),
];

type CmdResult = Result<Reply, CmdError>;

/// The compact-encoding thresholds in force (from the configuration, without a lock).
fn limits(cx: &Exec) -> EncodingLimits {
    cx.engine.command_config.encodings
}

/// The hash at `key` for reading, counting a keyspace hit or miss.
fn read_hash<'c>(cx: &'c mut Exec, key: &[u8]) -> Result<Option<&'c Hash>, CmdError> {
    let now = cx.now;
    let found = cx.db().get_hash(key, now)?.is_some();
    cx.lookup_stat(found);
    Ok(cx.db().get_hash(key, now)?)
}

/// Sets field/value pairs; returns how many fields are new.
fn set_pairs(cx: &mut Exec, key: &Bytes, pairs: &[Bytes]) -> Result<i64, CmdError> {
    let now = cx.now;
    let limits = limits(cx);
    let hash = cx.db().hash_or_create(key, now)?;
    let mut created = 0;
    for pair in pairs.chunks_exact(2) {
        if hash.insert(&pair[0][..], &pair[1][..], &limits) {
            created += 1;
        }
    }
    cx.modified(key);
    Ok(created)
}

/// `HSET key field value [field value ...]`
fn hset(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::arity("hset"));
    }
    Ok(Reply::Int(set_pairs(cx, key, pairs)?))
}

/// `HMSET key field value [field value ...]` (deprecated form of HSET, replies OK).
fn hmset(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::arity("hmset"));
    }
    set_pairs(cx, key, pairs)?;
    Ok(Reply::ok())
}

/// `HSETNX key field value`
fn hsetnx(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let value = args.next()?;
    let now = cx.now;
    let limits = limits(cx);
    let hash = cx.db().hash_or_create(key, now)?;
    if hash.contains(field) {
        return Ok(Reply::Int(0));
    }
    hash.insert(&field[..], &value[..], &limits);
    cx.modified(key);
    Ok(Reply::Int(1))
}

/// `HGET key field`
fn hget(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let value = read_hash(cx, key)?.and_then(|h| h.get_bytes(field));
    Ok(value.map_or(Reply::Null, Reply::Bulk))
}

/// `HMGET key field [field ...]`
fn hmget(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let fields = args.rest();
    let hash = read_hash(cx, key)?;
    Ok(Reply::Array(
        fields
            .iter()
            .map(|f| {
                hash.and_then(|h| h.get_bytes(f))
                    .map_or(Reply::Null, Reply::Bulk)
            })
            .collect(),
    ))
}

/// `HGETALL key`: a map in RESP3, a flat array in RESP2.
fn hgetall(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let pairs = read_hash(cx, key)?
        .map(|h| h.iter().map(|(k, v)| (bulk(k), bulk(v))).collect())
        .unwrap_or_default();
    Ok(Reply::Map(pairs))
}

/// `HKEYS key`
fn hkeys(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let keys: Vec<Bytes> = read_hash(cx, key)?
        .map(|h| h.fields().map(Bytes::copy_from_slice).collect())
        .unwrap_or_default();
    Ok(Reply::bulks(keys))
}

/// `HVALS key`
fn hvals(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let values: Vec<Bytes> = read_hash(cx, key)?
        .map(|h| h.values().map(Bytes::copy_from_slice).collect())
        .unwrap_or_default();
    Ok(Reply::bulks(values))
}

/// `HDEL key field [field ...]`
fn hdel(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let fields = args.rest();
    let now = cx.now;
    let Some(hash) = cx.db().get_hash_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    for field in fields {
        if hash.remove(field) {
            deleted += 1;
            if hash.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(deleted as u64);
    }
    Ok(Reply::Int(deleted))
}

/// `HEXISTS key field`
fn hexists(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let found = read_hash(cx, key)?.is_some_and(|h| h.contains(field));
    Ok(Reply::Int(found as i64))
}

/// `HLEN key`
fn hlen(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    Ok(Reply::Int(read_hash(cx, key)?.map_or(0, |h| h.len()) as i64))
}

/// `HSTRLEN key field`
fn hstrlen(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let len = read_hash(cx, key)?
        .and_then(|h| h.get(field))
        .map_or(0, |v| v.len());
    Ok(Reply::Int(len as i64))
}

/// `HINCRBY key field increment`
fn hincrby(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let by = args.next_i64()?;
    let now = cx.now;
    let limits = limits(cx);
    let hash = cx.db().hash_or_create(key, now)?;
    let current = match hash.get(field) {
        None => 0,
        Some(v) => parse_i64_strict(v).ok_or_else(CmdError::hash_not_integer)?,
    };
    let next = current.checked_add(by).ok_or_else(CmdError::overflow)?;
    let mut digits = itoa::Buffer::new();
    hash.insert(&field[..], digits.format(next).as_bytes(), &limits);
    cx.modified(key);
    Ok(Reply::Int(next))
}

/// `HINCRBYFLOAT key field increment`: propagated as `HSET key field <result>`.
fn hincrbyfloat(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let field = args.next()?;
    let by = args.next_f64()?;
    if !by.is_finite() {
        return Err(CmdError::nan_or_infinity());
    }
    let now = cx.now;
    let limits = limits(cx);
    let hash = cx.db().hash_or_create(key, now)?;
    let current = match hash.get(field) {
        None => 0.0,
        Some(v) => float_value(v).ok_or_else(CmdError::hash_not_float)?,
    };
    let next = current + by;
    if !next.is_finite() {
        // Nothing changed, but the key may have been created empty above.
        cx.db().remove_if_empty(key);
        return Err(CmdError::would_produce_nan());
    }
    let text = Bytes::from(format_float_result(next));
    hash.insert(&field[..], &text[..], &limits);
    cx.modified(key);
    cx.propagate_as(vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        field.clone(),
        text.clone(),
    ]);
    Ok(Reply::Bulk(text))
}

/// `HRANDFIELD key [count [WITHVALUES]]`: a negative count may repeat fields.
fn hrandfield(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let Some(count_arg) = args.peek() else {
        let now = cx.now;
        let engine = &mut *cx.engine;
        let hash = engine.dbs[cx.session.db].get_hash(key, now)?;
        let field = hash.and_then(|h| h.random_pair(&mut engine.rng));
        return Ok(field.map_or(Reply::Null, |(f, _)| bulk(f)));
    };
    args.next()?;
    let count = parse_int(count_arg)?;
    if count == i64::MIN {
        return Err(CmdError::range_between(-i64::MAX, i64::MAX));
    }
    let with_values = match args.remaining() {
        0 => false,
        1 if args.eat("WITHVALUES") => {
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
                return Err(CmdError::value_out_of_range());
            }
            true
        }
        _ => return Err(CmdError::syntax()),
    };
    let now = cx.now;
    let resp3 = cx.session.resp3;
    let engine = &mut *cx.engine;
    let Some(hash) = engine.dbs[cx.session.db].get_hash(key, now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picks = hash.random_pairs(&mut engine.rng, super::args::random_picks(count)?);
    let mut out = Vec::with_capacity(picks.len() * if with_values { 2 } else { 1 });
    for (field, value) in picks {
        let field = bulk(field);
        match (with_values, resp3) {
            (false, _) => out.push(field),
            (true, false) => {
                out.push(field);
                out.push(bulk(value));
            }
            (true, true) => out.push(Reply::Array(vec![field, bulk(value)])),
        }
    }
    Ok(Reply::Array(out))
}

/// Parses a SCAN cursor like Redis's `parseScanCursorOrReply` (an unsigned decimal).
pub(super) fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(CmdError::invalid_cursor)
}

/// `[MATCH pattern] [COUNT count]` of HSCAN/SSCAN.
pub(super) struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: usize,
}

impl ScanOptions {
    pub(super) fn parse(args: &mut Args) -> Result<ScanOptions, CmdError> {
        let mut options = ScanOptions {
            pattern: None,
            count: 10,
        };
        while let Some(option) = args.peek() {
            args.next()?;
            if args.is_empty() {
                return Err(CmdError::syntax());
            }
            if option.eq_ignore_ascii_case(b"COUNT") {
                let count = args.next_i64()?;
                if count < 1 {
                    return Err(CmdError::syntax());
                }
                options.count = count as usize;
            } else if option.eq_ignore_ascii_case(b"MATCH") {
                let pattern = args.next()?;
                // `*` matches everything: skip the matching, as Redis does.
                options.pattern = (&pattern[..] != b"*").then(|| pattern.clone());
            } else {
                return Err(CmdError::syntax());
            }
        }
        Ok(options)
    }

    pub(super) fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::glob_match(p, item, false))
    }
}

/// A bulk reply holding a copy of `bytes`.
fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(bytes))
}

/// The reply of a SCAN-family command.
pub(super) fn scan_reply(cursor: u64, items: Vec<Bytes>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::bulks(items),
    ])
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
fn hscan(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let cursor = parse_cursor(args.next()?)?;
    let Some(hash) = read_hash(cx, key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = ScanOptions::parse(args)?;
    let mut items = Vec::new();
    let next = hash.scan(cursor, options.count, |field, value| {
        if options.matches(field) {
            items.push(Bytes::copy_from_slice(field));
            items.push(Bytes::copy_from_slice(value));
        }
    });
    Ok(scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn keys(h: &Harness) -> usize {
        h.shared.engine().dbs[0].len()
    }

    /// The items of a reply array as strings, sorted (for random or unordered replies).
    fn sorted(reply: &Reply) -> Vec<String> {
        let Reply::Array(items) = reply else {
            panic!("not an array: {reply:?}")
        };
        let mut out: Vec<String> = items
            .iter()
            .map(|r| match r {
                Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                Reply::Str(s) => String::from_utf8_lossy(s).into_owned(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn set_get_and_delete() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["hset", "h", "a", "1", "b", "2"]), Reply::Int(2));
        assert_eq!(h.run(&["hset", "h", "a", "10", "c", "3"]), Reply::Int(1));
        assert_eq!(
            h.run(&["hset", "h", "a"]),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            h.run(&["hset", "h", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            h.run(&["hmset", "h", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'hmset' command")
        );
        assert_eq!(h.run(&["hmset", "h", "d", "4"]), Reply::ok());
        assert_eq!(h.run(&["hsetnx", "h", "a", "x"]), Reply::Int(0));
        assert_eq!(h.run(&["hsetnx", "h", "e", "5"]), Reply::Int(1));
        assert_eq!(h.run(&["hget", "h", "a"]), bulk("10"));
        assert_eq!(h.run(&["hget", "h", "zz"]), Reply::Null);
        assert_eq!(h.run(&["hget", "nope", "a"]), Reply::Null);
        assert_eq!(
            h.run(&["hmget", "h", "a", "zz", "c"]),
            Reply::Array(vec![bulk("10"), Reply::Null, bulk("3")])
        );
        assert_eq!(
            h.run(&["hmget", "nope", "a"]),
            Reply::Array(vec![Reply::Null])
        );
        assert_eq!(h.run(&["hkeys", "h"]), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(h.run(&["hvals", "h"]), bulks(&["10", "2", "3", "4", "5"]));
        assert_eq!(h.run(&["hlen", "h"]), Reply::Int(5));
        assert_eq!(h.run(&["hexists", "h", "a"]), Reply::Int(1));
        assert_eq!(h.run(&["hexists", "h", "zz"]), Reply::Int(0));
        assert_eq!(h.run(&["hstrlen", "h", "a"]), Reply::Int(2));
        assert_eq!(h.run(&["hstrlen", "h", "zz"]), Reply::Int(0));
        assert_eq!(h.run(&["hdel", "h", "b", "zz", "d"]), Reply::Int(2));
        assert_eq!(
            h.run(&["hgetall", "h"]),
            Reply::Map(vec![
                (bulk("a"), bulk("10")),
                (bulk("c"), bulk("3")),
                (bulk("e"), bulk("5")),
            ]),
            "small hashes keep insertion order after deletes"
        );
        assert_eq!(h.run(&["hgetall", "nope"]), Reply::Map(vec![]));
        assert_eq!(h.run(&["hkeys", "nope"]), bulks(&[]));
        assert_eq!(h.run(&["hdel", "h", "a", "c", "e"]), Reply::Int(3));
        assert_eq!(keys(&h), 0, "an emptied hash is deleted");
        assert_eq!(h.run(&["hdel", "h", "a"]), Reply::Int(0));
        h.run(&["set", "s", "v"]);
        for cmd in [
            &["hset", "s", "a", "1"][..],
            &["hsetnx", "s", "a", "1"],
            &["hget", "s", "a"],
            &["hmget", "s", "a"],
            &["hgetall", "s"],
            &["hkeys", "s"],
            &["hvals", "s"],
            &["hdel", "s", "a"],
            &["hexists", "s", "a"],
            &["hlen", "s"],
            &["hstrlen", "s", "a"],
            &["hincrby", "s", "a", "1"],
            &["hincrbyfloat", "s", "a", "1"],
            &["hrandfield", "s"],
            &["hrandfield", "s", "2"],
            &["hscan", "s", "0"],
        ] {
            assert_eq!(h.run(cmd), err(WRONGTYPE), "{cmd:?}");
        }
    }

    #[test]
    fn encoding_follows_the_configured_thresholds_and_never_goes_back() {
        let mut h = Harness::new();
        let encoding = |h: &mut Harness, key: &str| h.run(&["object", "encoding", key]);
        h.run(&["hset", "small", "a", "1", "b", "2"]);
        assert_eq!(encoding(&mut h, "small"), bulk("listpack"));
        let long = "x".repeat(65);
        h.run(&["hset", "long", "a", &long]);
        assert_eq!(encoding(&mut h, "long"), bulk("hashtable"));
        h.run(&["hset", "longfield", &long, "1"]);
        assert_eq!(encoding(&mut h, "longfield"), bulk("hashtable"));

        h.run(&["config", "set", "hash-max-listpack-entries", "3"]);
        h.run(&["hset", "small", "c", "3"]);
        assert_eq!(encoding(&mut h, "small"), bulk("listpack"), "3 fields fit");
        h.run(&["hsetnx", "small", "d", "4"]);
        assert_eq!(encoding(&mut h, "small"), bulk("hashtable"));
        h.run(&["hdel", "small", "a", "b", "c"]);
        assert_eq!(
            encoding(&mut h, "small"),
            bulk("hashtable"),
            "never converted back"
        );
        assert_eq!(
            h.run(&["hgetall", "small"]),
            Reply::Map(vec![(bulk("d"), bulk("4"))])
        );

        // The alias sets the same threshold; HINCRBYFLOAT's result counts as a value.
        h.run(&["config", "set", "hash-max-ziplist-value", "8"]);
        h.run(&["hincrbyfloat", "f", "n", "0.000005"]);
        assert_eq!(encoding(&mut h, "f"), bulk("listpack"));
        h.run(&["hincrbyfloat", "g", "n", "0.0000005"]);
        assert_eq!(encoding(&mut h, "g"), bulk("hashtable"));
        h.run(&["hincrby", "i", "123456789", "1"]);
        assert_eq!(
            encoding(&mut h, "i"),
            bulk("hashtable"),
            "a long field converts"
        );
        assert_eq!(h.run(&["hget", "i", "123456789"]), bulk("1"));
    }

    #[test]
    fn counters() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["hincrby", "h", "n", "5"]), Reply::Int(5));
        assert_eq!(h.run(&["hincrby", "h", "n", "-7"]), Reply::Int(-2));
        assert_eq!(
            h.run(&["hincrby", "h", "n", "x"]),
            err("ERR value is not an integer or out of range")
        );
        h.run(&["hset", "h", "s", "abc", "big", "9223372036854775807"]);
        assert_eq!(
            h.run(&["hincrby", "h", "s", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            h.run(&["hincrby", "h", "big", "1"]),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(h.run(&["hincrbyfloat", "h", "f", "10.5"]), bulk("10.5"));
        assert_eq!(h.run(&["hincrbyfloat", "h", "f", "0.1"]), bulk("10.6"));
        assert_eq!(h.run(&["hincrbyfloat", "h", "n", "1"]), bulk("-1"));
        assert_eq!(
            h.run(&["hincrbyfloat", "h", "s", "1"]),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            h.run(&["hincrbyfloat", "h", "f", "x"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            h.run(&["hincrbyfloat", "h", "f", "inf"]),
            err("ERR value is NaN or Infinity")
        );
        h.run(&["hset", "h", "max", "1.7e308"]);
        assert_eq!(
            h.run(&["hincrbyfloat", "h", "max", "1.7e308"]),
            err("ERR increment would produce NaN or Infinity")
        );
    }

    #[test]
    fn propagation() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["hset", "h", "a", "1"]);
        h.run(&["hincrbyfloat", "h", "f", "1.5"]);
        h.run(&["hdel", "h", "zz"]);
        h.run(&["hsetnx", "h", "a", "2"]);
        h.run(&["hdel", "h", "a", "f"]);
        assert_eq!(
            h.propagated(),
            vec![
                vec!["hset", "h", "a", "1"],
                vec!["HSET", "h", "f", "1.5"],
                vec!["hdel", "h", "a", "f"],
            ]
        );
    }

    #[test]
    fn random_fields() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["hrandfield", "nope"]), Reply::Null);
        assert_eq!(h.run(&["hrandfield", "nope", "3"]), bulks(&[]));
        h.run(&["hset", "h", "a", "1", "b", "2", "c", "3"]);
        let Reply::Bulk(one) = h.run(&["hrandfield", "h"]) else {
            panic!()
        };
        assert!([&b"a"[..], b"b", b"c"].contains(&&one[..]));
        assert_eq!(sorted(&h.run(&["hrandfield", "h", "5"])), ["a", "b", "c"]);
        let two = sorted(&h.run(&["hrandfield", "h", "2"]));
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1], "a positive count never repeats");
        assert_eq!(h.run(&["hrandfield", "h", "0"]), bulks(&[]));
        let many = sorted(&h.run(&["hrandfield", "h", "-10"]));
        assert_eq!(many.len(), 10);
        let pairs = h.run(&["hrandfield", "h", "-2", "WITHVALUES"]);
        let Reply::Array(items) = &pairs else {
            panic!()
        };
        assert_eq!(items.len(), 4, "RESP2: flat field/value array");
        h.session.resp3 = true;
        let Reply::Array(items) = h.run(&["hrandfield", "h", "3", "withvalues"]) else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Reply::Array(p) if p.len() == 2));
        assert_eq!(
            h.run(&["hrandfield", "h", "1", "foo"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["hrandfield", "h", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["hrandfield", "h", "-9223372036854775807", "withvalues"]),
            err("ERR value is out of range")
        );
    }

    #[test]
    fn hscan_small_and_big() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["hscan", "nope", "0"]),
            Reply::Array(vec![bulk("0"), bulks(&[])])
        );
        h.run(&["hset", "h", "a", "1", "b", "2", "ab", "3"]);
        assert_eq!(
            h.run(&["hscan", "h", "0", "COUNT", "1"]),
            Reply::Array(vec![bulk("0"), bulks(&["a", "1", "b", "2", "ab", "3"])]),
            "a listpack hash is returned whole"
        );
        assert_eq!(
            h.run(&["hscan", "h", "0", "MATCH", "a*"]),
            Reply::Array(vec![bulk("0"), bulks(&["a", "1", "ab", "3"])])
        );
        assert_eq!(h.run(&["hscan", "h", "x"]), err("ERR invalid cursor"));
        assert_eq!(h.run(&["hscan", "h", "-1"]), err("ERR invalid cursor"));
        assert_eq!(
            h.run(&["hscan", "h", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["hscan", "h", "0", "COUNT"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["hscan", "h", "0", "FOO", "1"]),
            err("ERR syntax error")
        );
        // More fields than hash-max-listpack-entries (512): a table, scanned by cursor.
        let mut words = vec!["hset".to_string(), "big".to_string()];
        for i in 0..600 {
            words.push(format!("f{i}"));
            words.push(i.to_string());
        }
        let words: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        assert_eq!(h.run(&words), Reply::Int(600));
        assert_eq!(h.run(&["object", "encoding", "big"]), bulk("hashtable"));
        let mut cursor = "0".to_string();
        let mut seen = std::collections::HashSet::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let Reply::Array(parts) = h.run(&["hscan", "big", &cursor, "COUNT", "50"]) else {
                panic!()
            };
            let Reply::Bulk(next) = &parts[0] else {
                panic!()
            };
            let Reply::Array(items) = &parts[1] else {
                panic!()
            };
            assert!(items.len() <= 100);
            for pair in items.chunks(2) {
                let Reply::Bulk(f) = &pair[0] else { panic!() };
                seen.insert(f.clone());
            }
            // Deleting during a scan must not make it miss the remaining fields.
            if calls == 2 {
                h.run(&["hdel", "big", "f0", "f1"]);
                seen.insert("f0".into());
                seen.insert("f1".into());
            }
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 600);
        assert!(calls >= 12);
    }
}
