//! The string commands (`t_string.c`): GET/SET and friends, counters, ranges.
//!
//! Writes with relative expiry are propagated in absolute form (`SET k v PXAT <ms>`), GETDEL as
//! `DEL`, GETEX as `PEXPIREAT`/`PERSIST`, INCRBYFLOAT as `SET k <result> KEEPTTL`, as Redis 7.0
//! does, so that replicas and the AOF apply exactly what the master applied.

use bytes::{Bytes, BytesMut};

use super::args::{parse_float, parse_int};
use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::value::parse_i64_strict;
use crate::store::{Str, Value};

/// The string commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("get", 2, READONLY | FAST, get).keys(1, 1, 1),
    Spec::new("set", -3, WRITE | DENYOOM, set).keys(1, 1, 1),
    Spec::new("setnx", 3, WRITE | DENYOOM | FAST, setnx).keys(1, 1, 1),
    Spec::new("setex", 4, WRITE | DENYOOM, setex).keys(1, 1, 1),
    Spec::new("psetex", 4, WRITE | DENYOOM, psetex).keys(1, 1, 1),
    Spec::new("getset", 3, WRITE | DENYOOM | FAST, getset).keys(1, 1, 1),
    Spec::new("getdel", 2, WRITE | FAST, getdel).keys(1, 1, 1),
    Spec::new("getex", -2, WRITE | FAST, getex).keys(1, 1, 1),
    Spec::new("mget", -2, READONLY | FAST, mget).keys(1, -1, 1),
    Spec::new("mset", -3, WRITE | DENYOOM, mset).keys(1, -1, 2),
    Spec::new("msetnx", -3, WRITE | DENYOOM, msetnx).keys(1, -1, 2),
    Spec::new("incr", 2, WRITE | DENYOOM | FAST, incr).keys(1, 1, 1),
    Spec::new("decr", 2, WRITE | DENYOOM | FAST, decr).keys(1, 1, 1),
    Spec::new("incrby", 3, WRITE | DENYOOM | FAST, incrby).keys(1, 1, 1),
    Spec::new("decrby", 3, WRITE | DENYOOM | FAST, decrby).keys(1, 1, 1),
    Spec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat).keys(1, 1, 1),
    Spec::new("append", 3, WRITE | DENYOOM | FAST, append).keys(1, 1, 1),
    Spec::new("strlen", 2, READONLY | FAST, strlen).keys(1, 1, 1),
    Spec::new("getrange", 4, READONLY, getrange).keys(1, 1, 1),
    Spec::new("substr", 4, READONLY, getrange).keys(1, 1, 1),
    Spec::new("setrange", 4, WRITE | DENYOOM, setrange).keys(1, 1, 1),
    Spec::new("lcs", -3, READONLY, lcs).keys(1, 2, 1),
];

/// Largest string SETRANGE/APPEND may build (`proto-max-bulk-len` default, bytes).
pub(super) const MAX_STRING_BYTES: usize = 512 * 1024 * 1024;

/// The string at `key`, counting a keyspace hit or miss.
pub(super) fn read_string(cx: &mut Exec, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
    let now = cx.now;
    let found = cx.db().get_string(key, now)?.map(Str::to_bytes);
    cx.lookup_stat(found.is_some());
    Ok(found)
}

/// `GET key`
fn get(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    let reply = cx.db().get_string(key, now)?.cloned().map(Reply::Str);
    cx.lookup_stat(reply.is_some());
    Ok(reply.unwrap_or(Reply::Null))
}

/// When a SET-like command expires its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Expiry {
    Keep,
    Clear,
    /// Absolute Unix time, ms.
    At(i64),
}

/// Converts EX/PX/EXAT/PXAT to an absolute time in ms, with Redis's range checks.
fn absolute_expiry(
    cx: &Exec,
    unit_ms: i64,
    absolute: bool,
    value: i64,
    command: &str,
) -> Result<i64, CmdError> {
    if value <= 0 {
        return Err(CmdError::invalid_expire(command));
    }
    let ms = value
        .checked_mul(unit_ms)
        .ok_or_else(|| CmdError::invalid_expire(command))?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(cx.now)
            .ok_or_else(|| CmdError::invalid_expire(command))
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`
fn set(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next()?;
    let (mut nx, mut xx, mut get, mut expiry) = (false, false, false, Expiry::Clear);
    let mut expiry_given = false;
    while let Some(option) = args.peek() {
        let option = option.to_ascii_uppercase();
        args.next()?;
        match &option[..] {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => get = true,
            b"KEEPTTL" if !expiry_given => {
                expiry = Expiry::Keep;
                expiry_given = true;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !expiry_given => {
                let amount = args.next_i64()?;
                let (unit, absolute) = match &option[..] {
                    b"EX" => (1000, false),
                    b"PX" => (1, false),
                    b"EXAT" => (1000, true),
                    _ => (1, true),
                };
                expiry = Expiry::At(absolute_expiry(cx, unit, absolute, amount, "set")?);
                expiry_given = true;
            }
            _ => return Err(CmdError::syntax()),
        }
    }
    let now = cx.now;
    let old = if get {
        cx.db().get_string(key, now)?.map(Str::to_bytes)
    } else {
        None
    };
    // Only NX/XX need to know whether the key exists; a plain SET is a single dict insert.
    let exists = (nx || xx) && cx.db().contains(key, now);
    if (nx && exists) || (xx && !exists) {
        return Ok(if get {
            old.map_or(Reply::Null, Reply::Bulk)
        } else {
            Reply::Null
        });
    }
    store(cx, key, &value[..], expiry);
    if let Expiry::At(at) = expiry {
        if args.argv().len() > 3 {
            // Relative or absolute, replicas get the absolute form.
            let mut argv = vec![
                Bytes::from_static(b"SET"),
                key.clone(),
                value.clone(),
                Bytes::from_static(b"PXAT"),
                Bytes::from(at.to_string()),
            ];
            if get {
                argv.push(Bytes::from_static(b"GET"));
            }
            cx.propagate_as(argv);
        }
    }
    Ok(if get {
        old.map_or(Reply::Null, Reply::Bulk)
    } else {
        Reply::ok()
    })
}

/// Stores a string value with the given expiry handling and records the change.
pub(super) fn store(cx: &mut Exec, key: &Bytes, value: impl Into<Str>, expiry: Expiry) {
    let value = Value::String(value.into());
    // The key is copied (out of the request buffer) only if it is new.
    let now = cx.now;
    let db = cx.db();
    match expiry {
        Expiry::Keep => db.set_keep_ttl_at(&key[..], value, now),
        Expiry::Clear => db.set_at(&key[..], value, now),
        Expiry::At(at) => {
            db.set_at(&key[..], value, now);
            db.set_expire_time(key, at);
        }
    }
    cx.modified(key);
}

/// `SETNX key value`
fn setnx(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next_owned()?;
    let now = cx.now;
    if cx.db().contains(key, now) {
        return Ok(Reply::Int(0));
    }
    store(cx, key, value, Expiry::Clear);
    Ok(Reply::Int(1))
}

fn setex_generic(
    cx: &mut Exec,
    args: &mut Args,
    unit_ms: i64,
    name: &str,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let amount = args.next_i64()?;
    let value = args.next()?;
    let at = absolute_expiry(cx, unit_ms, false, amount, name)?;
    store(cx, key, &value[..], Expiry::At(at));
    cx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        value.clone(),
        Bytes::from_static(b"PXAT"),
        Bytes::from(at.to_string()),
    ]);
    Ok(Reply::ok())
}

/// `SETEX key seconds value`
fn setex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    setex_generic(cx, args, 1000, "setex")
}

/// `PSETEX key milliseconds value`
fn psetex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    setex_generic(cx, args, 1, "psetex")
}

/// `GETSET key value`
fn getset(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next_owned()?;
    let now = cx.now;
    let old = cx.db().get_string(key, now)?.map(Str::to_bytes);
    store(cx, key, value, Expiry::Clear);
    Ok(old.map_or(Reply::Null, Reply::Bulk))
}

/// `GETDEL key`: propagated as `DEL key`.
fn getdel(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let Some(value) = read_string(cx, key)? else {
        return Ok(Reply::Null);
    };
    cx.db().remove(key);
    cx.modified(key);
    cx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
    Ok(Reply::Bulk(value))
}

/// `GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]`
fn getex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut change: Option<Expiry> = None;
    while let Some(option) = args.peek() {
        let option = option.to_ascii_uppercase();
        args.next()?;
        if change.is_some() {
            return Err(CmdError::syntax());
        }
        change = Some(match &option[..] {
            b"PERSIST" => Expiry::Clear,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                let amount = args.next_i64()?;
                let (unit, absolute) = match &option[..] {
                    b"EX" => (1000, false),
                    b"PX" => (1, false),
                    b"EXAT" => (1000, true),
                    _ => (1, true),
                };
                Expiry::At(absolute_expiry(cx, unit, absolute, amount, "getex")?)
            }
            _ => return Err(CmdError::syntax()),
        });
    }
    let Some(value) = read_string(cx, key)? else {
        return Ok(Reply::Null);
    };
    match change {
        None | Some(Expiry::Keep) => {}
        Some(Expiry::Clear) => {
            if cx.db().persist(key) {
                cx.modified(key);
                cx.propagate_as(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
            }
        }
        Some(Expiry::At(at)) => {
            let now = cx.now;
            if at <= now {
                // An expiry in the past deletes the key, as Redis does (propagated as DEL).
                cx.db().remove(key);
                cx.modified(key);
                cx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
            } else {
                cx.db().set_expire_time(key, at);
                cx.modified(key);
                cx.propagate_as(vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    key.clone(),
                    Bytes::from(at.to_string()),
                ]);
            }
        }
    }
    Ok(Reply::Bulk(value))
}

/// `MGET key [key ...]`: a key of another type reads as nil.
fn mget(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let now = cx.now;
    let keys = args.rest();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match cx.db().get(key, now) {
            Some(Value::String(s)) => Reply::Bulk(s.to_bytes()),
            _ => Reply::Null,
        };
        out.push(value);
    }
    Ok(Reply::Array(out))
}

/// `MSET key value [key value ...]`
fn mset(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::arity("mset"));
    }
    for pair in pairs.chunks_exact(2) {
        store(cx, &pair[0], &pair[1][..], Expiry::Clear);
    }
    Ok(Reply::ok())
}

/// `MSETNX key value [key value ...]`: all or nothing.
fn msetnx(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::arity("msetnx"));
    }
    let now = cx.now;
    for pair in pairs.chunks_exact(2) {
        if cx.db().contains(&pair[0], now) {
            return Ok(Reply::Int(0));
        }
    }
    for pair in pairs.chunks_exact(2) {
        store(cx, &pair[0], &pair[1][..], Expiry::Clear);
    }
    Ok(Reply::Int(1))
}

/// Adds `by` to the integer at `key` (INCR, DECR, INCRBY, DECRBY). Keeps the key's TTL.
fn incr_generic(cx: &mut Exec, key: &Bytes, by: i64) -> Result<Reply, CmdError> {
    let now = cx.now;
    let mut digits = itoa::Buffer::new();
    // One lookup: update in place when the key exists (keeping its TTL), insert otherwise.
    let next = match cx.db().get_mut(key, now) {
        Some(Value::String(s)) => {
            let current = parse_i64_strict(s).ok_or_else(CmdError::not_integer)?;
            let next = current.checked_add(by).ok_or_else(CmdError::overflow)?;
            *s = Str::new(digits.format(next).as_bytes());
            next
        }
        Some(_) => return Err(CmdError::wrong_type()),
        None => {
            let text = Str::new(digits.format(by).as_bytes());
            cx.db().set_at(&key[..], Value::String(text), now);
            by
        }
    };
    cx.modified(key);
    Ok(Reply::Int(next))
}

/// `INCR key`
fn incr(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    incr_generic(cx, args.next()?, 1)
}

/// `DECR key`
fn decr(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    incr_generic(cx, args.next()?, -1)
}

/// `INCRBY key increment`
fn incrby(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let by = args.next_i64()?;
    incr_generic(cx, key, by)
}

/// `DECRBY key decrement`
fn decrby(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let by = args.next_i64()?;
    if by == i64::MIN {
        return Err(CmdError::new("ERR decrement would overflow"));
    }
    incr_generic(cx, key, -by)
}

/// Formats a float result the way Redis's INCRBYFLOAT does (`%.17Lg` on a long double, which
/// prints the shortest text that reads back as the same double for typical values).
pub fn format_float_result(value: f64) -> String {
    let text = crate::resp::reply::format_g(value, 17);
    // Prefer the shortest representation that round-trips, like Redis's humanfriendly mode.
    let short = format!("{value}");
    if short.parse::<f64>().ok() == Some(value) && short.len() <= text.len() && !short.contains('e')
    {
        short
    } else {
        text
    }
}

/// `INCRBYFLOAT key increment`: propagated as `SET key <result> KEEPTTL`.
fn incrbyfloat(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let by = args.next_f64()?;
    let now = cx.now;
    let current = match cx.db().get_string(key, now)? {
        None => 0.0,
        Some(s) => parse_float(s).map_err(|_| CmdError::not_float())?,
    };
    let next = current + by;
    if !next.is_finite() {
        return Err(CmdError::new("ERR increment would produce NaN or Infinity"));
    }
    let text = Bytes::from(format_float_result(next));
    store(cx, key, text.clone(), Expiry::Keep);
    cx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        text.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(Reply::Bulk(text))
}

/// `APPEND key value`
fn append(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let suffix = args.next()?;
    let now = cx.now;
    let current = cx
        .db()
        .get_string(key, now)?
        .map(Str::to_bytes)
        .unwrap_or_default();
    if current.len() + suffix.len() > MAX_STRING_BYTES {
        return Err(CmdError::new(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let mut joined = BytesMut::with_capacity(current.len() + suffix.len());
    joined.extend_from_slice(&current);
    joined.extend_from_slice(suffix);
    let len = joined.len() as i64;
    store(cx, key, joined.freeze(), Expiry::Keep);
    Ok(Reply::Int(len))
}

/// `STRLEN key`
fn strlen(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let now = cx.now;
    Ok(Reply::Int(
        cx.db().get_string(key, now)?.map_or(0, |s| s.len() as i64),
    ))
}

/// `GETRANGE key start end` (and the old `SUBSTR`).
fn getrange(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let start = parse_int(args.next()?)?;
    let end = parse_int(args.next()?)?;
    let now = cx.now;
    let Some(s) = cx.db().get_string(key, now)?.map(Str::to_bytes) else {
        return Ok(Reply::bulk(b""));
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(b""));
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if len == 0 || start > end || start >= len {
        return Ok(Reply::bulk(b""));
    }
    end = end.min(len - 1);
    Ok(Reply::Bulk(s.slice(start as usize..=end as usize)))
}

/// `SETRANGE key offset value`
fn setrange(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let offset = args.next_i64()?;
    let value = args.next()?;
    if offset < 0 {
        return Err(CmdError::new("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let now = cx.now;
    let current = cx.db().get_string(key, now)?.map(Str::to_bytes);
    if value.is_empty() {
        return Ok(Reply::Int(current.map_or(0, |s| s.len() as i64)));
    }
    if offset + value.len() > MAX_STRING_BYTES {
        return Err(CmdError::new(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let mut data = current.map(|s| s.to_vec()).unwrap_or_default();
    if data.len() < offset + value.len() {
        data.resize(offset + value.len(), 0);
    }
    data[offset..offset + value.len()].copy_from_slice(value);
    let len = data.len() as i64;
    store(cx, key, Bytes::from(data), Expiry::Keep);
    Ok(Reply::Int(len))
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
/// subsequence of two strings (`lcsCommand`), by dynamic programming over both lengths; the
/// table is bounded by `proto-max-bulk-len` as in Redis.
fn lcs(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key_a = args.next()?;
    let key_b = args.next()?;
    let (mut want_len, mut want_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0usize);
    while !args.is_empty() {
        if args.eat("IDX") {
            want_idx = true;
        } else if args.eat("LEN") {
            want_len = true;
        } else if args.eat("WITHMATCHLEN") {
            with_match_len = true;
        } else if args.remaining() >= 2 && args.eat("MINMATCHLEN") {
            min_match_len = args.next_i64()?.max(0) as usize;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let now = cx.now;
    let mut read = |key: &[u8]| match cx.db().get_string(key, now) {
        Ok(value) => Ok(value.cloned().unwrap_or_default()),
        Err(_) => Err(CmdError::new(
            "ERR The specified keys must contain string values",
        )),
    };
    let a = read(key_a)?;
    let b = read(key_b)?;
    if want_len && want_idx {
        return Err(CmdError::new(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > MAX_STRING_BYTES as u64 {
        return Err(CmdError::new(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = LcsTable::new(&a, &b);
    let length = table.at(a.len(), b.len()) as usize;
    if want_len {
        return Ok(Reply::Int(length as i64));
    }
    let (sequence, matches) = table.backtrack(length, min_match_len);
    if !want_idx {
        return Ok(Reply::Bulk(Bytes::from(sequence)));
    }
    let pair = |start: usize, end: usize| {
        Reply::Array(vec![Reply::Int(start as i64), Reply::Int(end as i64)])
    };
    let matches = matches
        .into_iter()
        .map(|m| {
            let mut entry = vec![pair(m.a_start, m.a_end), pair(m.b_start, m.b_end)];
            if with_match_len {
                entry.push(Reply::Int((m.a_end - m.a_start + 1) as i64));
            }
            Reply::Array(entry)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk(b"matches"), Reply::Array(matches)),
        (Reply::bulk(b"len"), Reply::Int(length as i64)),
    ]))
}

/// One matching run of LCS: inclusive ranges in both strings.
struct LcsMatch {
    a_start: usize,
    a_end: usize,
    b_start: usize,
    b_end: usize,
}

/// The LCS lengths of every pair of prefixes of `a` and `b`.
struct LcsTable<'s> {
    a: &'s [u8],
    b: &'s [u8],
    lengths: Vec<u32>,
}

impl<'s> LcsTable<'s> {
    fn new(a: &'s [u8], b: &'s [u8]) -> LcsTable<'s> {
        let width = b.len() + 1;
        let mut lengths = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                lengths[i * width + j] = if a[i - 1] == b[j - 1] {
                    lengths[(i - 1) * width + j - 1] + 1
                } else {
                    lengths[(i - 1) * width + j].max(lengths[i * width + j - 1])
                };
            }
        }
        LcsTable { a, b, lengths }
    }

    /// The LCS length of `a[..i]` and `b[..j]`.
    fn at(&self, i: usize, j: usize) -> u32 {
        self.lengths[i * (self.b.len() + 1) + j]
    }

    /// Walks back from the end: the subsequence, and its contiguous runs from the last to the
    /// first, keeping runs of at least `min_len` (Redis reports them in that order).
    fn backtrack(&self, length: usize, min_len: usize) -> (Vec<u8>, Vec<LcsMatch>) {
        let mut sequence = vec![0u8; length];
        let mut matches = Vec::new();
        let mut filled = length;
        let (mut i, mut j) = (self.a.len(), self.b.len());
        let mut run: Option<LcsMatch> = None;
        while i > 0 && j > 0 {
            let mut emit = false;
            if self.a[i - 1] == self.b[j - 1] {
                filled -= 1;
                sequence[filled] = self.a[i - 1];
                match run.as_mut() {
                    None => {
                        run = Some(LcsMatch {
                            a_start: i - 1,
                            a_end: i - 1,
                            b_start: j - 1,
                            b_end: j - 1,
                        })
                    }
                    Some(r) if r.a_start == i && r.b_start == j => {
                        r.a_start -= 1;
                        r.b_start -= 1;
                    }
                    Some(_) => emit = true,
                }
                if run
                    .as_ref()
                    .is_some_and(|r| r.a_start == 0 || r.b_start == 0)
                {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if emit {
                if let Some(r) = run.take() {
                    if r.a_end - r.a_start + 1 >= min_len {
                        matches.push(r);
                    }
                }
            }
        }
        (sequence, matches)
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn set_get_and_options() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["set", "name", "zhangsan"]), Reply::ok());
        assert_eq!(h.run(&["GET", "name"]), bulk("zhangsan"));
        assert_eq!(h.run(&["set", "name", "x", "NX"]), Reply::Null);
        assert_eq!(
            h.run(&["set", "name", "lisi", "XX", "GET"]),
            bulk("zhangsan")
        );
        assert_eq!(
            h.run(&["set", "k", "v", "NX", "XX"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["set", "k", "v", "EX", "0"]),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            h.run(&["set", "k", "v", "EX", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["get"]),
            err("ERR wrong number of arguments for 'get' command")
        );
    }

    #[test]
    fn relative_expiry_is_propagated_as_pxat() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["set", "k", "v", "EX", "100"]);
        h.run(&["incrbyfloat", "f", "1.5"]);
        h.run(&["getdel", "k"]);
        let p = h.propagated();
        assert_eq!(p[0][..4], ["SET", "k", "v", "PXAT"]);
        assert_eq!(p[1], ["SET", "f", "1.5", "KEEPTTL"]);
        assert_eq!(p[2], ["DEL", "k"]);
    }

    #[test]
    fn counters() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["incr", "c"]), Reply::Int(1));
        assert_eq!(h.run(&["incrby", "c", "10"]), Reply::Int(11));
        assert_eq!(h.run(&["decrby", "c", "20"]), Reply::Int(-9));
        h.run(&["set", "c", "9223372036854775807"]);
        assert_eq!(
            h.run(&["incr", "c"]),
            err("ERR increment or decrement would overflow")
        );
        h.run(&["set", "s", "abc"]);
        assert_eq!(
            h.run(&["incr", "s"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(h.run(&["incrbyfloat", "f", "10.5"]), bulk("10.5"));
        assert_eq!(h.run(&["incrbyfloat", "f", "0.1"]), bulk("10.6"));
        h.run(&["lpush", "l", "x"]);
    }

    #[test]
    fn ranges_and_append() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["append", "s", "Hello"]), Reply::Int(5));
        assert_eq!(h.run(&["append", "s", " World"]), Reply::Int(11));
        assert_eq!(h.run(&["getrange", "s", "0", "4"]), bulk("Hello"));
        assert_eq!(h.run(&["getrange", "s", "-5", "-1"]), bulk("World"));
        assert_eq!(h.run(&["getrange", "s", "5", "1"]), bulk(""));
        assert_eq!(h.run(&["setrange", "z", "3", "ab"]), Reply::Int(5));
        assert_eq!(h.run(&["get", "z"]), bulk("\0\0\0ab"));
        assert_eq!(h.run(&["strlen", "s"]), Reply::Int(11));
        assert_eq!(h.run(&["mset", "a", "1", "b", "2"]), Reply::ok());
        assert_eq!(
            h.run(&["mget", "a", "b", "nope"]),
            Reply::Array(vec![bulk("1"), bulk("2"), Reply::Null])
        );
        assert_eq!(h.run(&["msetnx", "a", "1", "c", "3"]), Reply::Int(0));
    }

    #[test]
    fn lcs_string_length_and_indexes() {
        let mut h = Harness::new();
        h.run(&["set", "a", "ohmytext"]);
        h.run(&["set", "b", "mynewtext"]);
        assert_eq!(h.run(&["lcs", "a", "b"]), bulk("mytext"));
        assert_eq!(h.run(&["lcs", "a", "b", "len"]), Reply::Int(6));
        assert_eq!(h.run(&["lcs", "a", "nokey"]), bulk(""));
        let range = |s: i64, e: i64| Reply::Array(vec![Reply::Int(s), Reply::Int(e)]);
        assert_eq!(
            h.run(&["lcs", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"]),
            Reply::Map(vec![
                (
                    bulk("matches"),
                    Reply::Array(vec![Reply::Array(vec![
                        range(4, 7),
                        range(5, 8),
                        Reply::Int(4)
                    ])])
                ),
                (bulk("len"), Reply::Int(6)),
            ])
        );
        assert_eq!(
            h.run(&["lcs", "a", "b", "idx"]),
            Reply::Map(vec![
                (
                    bulk("matches"),
                    Reply::Array(vec![
                        Reply::Array(vec![range(4, 7), range(5, 8)]),
                        Reply::Array(vec![range(2, 3), range(0, 1)]),
                    ])
                ),
                (bulk("len"), Reply::Int(6)),
            ])
        );
        assert_eq!(
            h.run(&["lcs", "a", "b", "len", "idx"]),
            err("ERR If you want both the length and indexes, please just use IDX.")
        );
        h.run(&["rpush", "l", "x"]);
        assert_eq!(
            h.run(&["lcs", "a", "l"]),
            err("ERR The specified keys must contain string values")
        );
    }
}
