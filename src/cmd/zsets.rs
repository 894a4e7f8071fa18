//! The sorted set commands (`t_zset.c`): ZADD and friends, ranges by rank, score and lex, pops,
//! and the union/intersection/difference family.
//!
//! Scores are replied as doubles ([`Reply::Double`], `%.17g` bulk strings in RESP2); member and
//! score lists as [`Reply::ScoredPairs`], flat in RESP2 and `[member, score]` pairs in RESP3, as
//! Redis 7.0 replies to `ZRANGE ... WITHSCORES`. Empty sorted sets are deleted. Every write is
//! propagated as received (ZPOPMIN/ZPOPMAX included, as Redis 7.0 does).

use bytes::Bytes;
use indexmap::IndexMap;

use super::args::{float_value, parse_int, parse_timeout, MpopArgs};
use super::flags::*;
use super::keys::{parse_scan_cursor, ScanOptions};
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::value::EncodingLimits;
use crate::store::zset::{LexBound, LexRange, Range, Score, ScoreRange, ZSet};
use crate::store::Value;

/// The sorted set commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("zadd", -4, WRITE | DENYOOM | FAST, zadd).keys(1, 1, 1),
    Spec::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby).keys(1, 1, 1),
    Spec::new("zrem", -3, WRITE | FAST, zrem).keys(1, 1, 1),
    Spec::new("zscore", 3, READONLY | FAST, zscore).keys(1, 1, 1),
    Spec::new("zmscore", -3, READONLY | FAST, zmscore).keys(1, 1, 1),
    Spec::new("zcard", 2, READONLY | FAST, zcard).keys(1, 1, 1),
    Spec::new("zcount", 4, READONLY | FAST, zcount).keys(1, 1, 1),
    Spec::new("zlexcount", 4, READONLY | FAST, zlexcount).keys(1, 1, 1),
    Spec::new("zrank", 3, READONLY | FAST, zrank).keys(1, 1, 1),
    Spec::new("zrevrank", 3, READONLY | FAST, zrevrank).keys(1, 1, 1),
    Spec::new("zrange", -4, READONLY, zrange).keys(1, 1, 1),
    Spec::new("zrangestore", -5, WRITE | DENYOOM, zrangestore).keys(1, 2, 1),
    Spec::new("zrevrange", -4, READONLY, zrevrange).keys(1, 1, 1),
    Spec::new("zrangebyscore", -4, READONLY, zrangebyscore).keys(1, 1, 1),
    Spec::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore).keys(1, 1, 1),
    Spec::new("zrangebylex", -4, READONLY, zrangebylex).keys(1, 1, 1),
    Spec::new("zrevrangebylex", -4, READONLY, zrevrangebylex).keys(1, 1, 1),
    Spec::new("zremrangebyscore", 4, WRITE, zremrangebyscore).keys(1, 1, 1),
    Spec::new("zremrangebyrank", 4, WRITE, zremrangebyrank).keys(1, 1, 1),
    Spec::new("zremrangebylex", 4, WRITE, zremrangebylex).keys(1, 1, 1),
    Spec::new("zpopmin", -2, WRITE | FAST, zpopmin).keys(1, 1, 1),
    Spec::new("zpopmax", -2, WRITE | FAST, zpopmax).keys(1, 1, 1),
    Spec::new(
        "zunionstore",
        -4,
        WRITE | DENYOOM | MOVABLE_KEYS,
        zunionstore,
    )
    .keys(1, 1, 1),
    Spec::new(
        "zinterstore",
        -4,
        WRITE | DENYOOM | MOVABLE_KEYS,
        zinterstore,
    )
    .keys(1, 1, 1),
    Spec::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, zdiffstore).keys(1, 1, 1),
    Spec::new("zunion", -3, READONLY | MOVABLE_KEYS, zunion),
    Spec::new("zinter", -3, READONLY | MOVABLE_KEYS, zinter),
    Spec::new("zdiff", -3, READONLY | MOVABLE_KEYS, zdiff),
    Spec::new("zscan", -3, READONLY, zscan).keys(1, 1, 1),
    Spec::new("zmpop", -4, WRITE | MOVABLE_KEYS, zmpop),
    Spec::new("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, bzmpop),
    Spec::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmin).keys(1, -2, 1),
    Spec::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmax).keys(1, -2, 1),
    Spec::new("zintercard", -3, READONLY | MOVABLE_KEYS, zintercard),
    Spec::new("zrandmember", -2, READONLY, zrandmember).keys(1, 1, 1),
];

/// The sorted set at `key` for a read, counting a keyspace hit or miss.
fn read_zset<'c>(cx: &'c mut Exec<'_>, key: &[u8]) -> Result<Option<&'c ZSet>, CmdError> {
    let now = cx.now;
    let found = cx.db().contains(key, now);
    cx.lookup_stat(found);
    Ok(cx.db().get_zset(key, now)?)
}

// ---------------------------------------------------------------------------------------------
// Ranges

/// The compact-encoding thresholds in force (`zset-max-listpack-*`).
fn limits(cx: &Exec) -> EncodingLimits {
    cx.engine.command_config.encodings
}

/// One score bound as `strtod` reads it: leading spaces skipped, `inf`/`infinity` accepted, the
/// empty string is 0, NaN is refused.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let text = std::str::from_utf8(text).ok()?.trim_start();
    let value = if text.is_empty() {
        0.0
    } else {
        text.parse::<f64>().ok()?
    };
    if value.is_nan() {
        None
    } else {
        Some((value, exclusive))
    }
}

/// A score interval from its two arguments (`zslParseRange`): `(` makes a bound exclusive.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => Ok(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        }),
        _ => Err(CmdError::min_max_not_float()),
    }
}

/// One end of a lexicographic interval: `-`, `+`, `[member` or `(member`.
fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Inclusive(Bytes::copy_from_slice(&arg[1..]))),
        b'(' => Some(LexBound::Exclusive(Bytes::copy_from_slice(&arg[1..]))),
        _ => None,
    }
}

/// A lexicographic interval from its two arguments (`zslParseLexRange`).
fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::min_max_not_lex()),
    }
}

/// What a range command asks for, before it meets a sorted set.
#[derive(Debug, Clone)]
enum Query {
    /// 0-based ranks, negative from the end.
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

impl Query {
    /// The range of `z` this selects; None when ranks select nothing.
    fn resolve(&self, z: &ZSet) -> Option<Range> {
        match self {
            Query::Rank(start, end) => super::args::index_range(*start, *end, z.len())
                .map(|(start, end)| Range::Rank { start, end }),
            Query::Score(r) => Some(Range::Score(*r)),
            Query::Lex(r) => Some(Range::Lex(r.clone())),
        }
    }
}

/// The entries of `z` the query selects, ascending or (`rev`) descending, after skipping
/// `offset` and keeping at most `limit` (negative: all). A negative offset selects nothing, as
/// in Redis.
fn select(z: &ZSet, query: &Query, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    match query.resolve(z) {
        Some(range) if offset >= 0 => {
            z.range(&range, rev, offset as usize, usize::try_from(limit).ok())
        }
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM, and reads of single members

/// ZADD's options.
#[derive(Debug, Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Adds the score-member `pairs` (Redis's `zaddGenericCommand`).
fn zadd_generic(
    cx: &mut Exec,
    key: &Bytes,
    flags: AddFlags,
    pairs: &[Bytes],
) -> Result<Reply, CmdError> {
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::syntax());
    }
    let elements = pairs.len() / 2;
    if flags.nx && flags.xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && elements > 1 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let scores = pairs
        .chunks_exact(2)
        .map(|pair| float_value(&pair[0]).ok_or_else(CmdError::not_float))
        .collect::<Result<Vec<f64>, CmdError>>()?;

    let now = cx.now;
    let limits = limits(cx);
    let exists = cx.db().get_zset(key, now)?.is_some();
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last_score = 0.0;
    let mut failure = None;
    if exists || !flags.xx {
        let z = cx.db().zset_or_create(key, now)?;
        for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
            let member = &pair[1];
            match z.score(member) {
                Some(current) => {
                    if flags.nx {
                        continue;
                    }
                    let mut score = score;
                    if flags.incr {
                        score += current;
                        if score.is_nan() {
                            failure = Some(CmdError::err("resulting score is not a number (NaN)"));
                            break;
                        }
                    }
                    if (flags.lt && score >= current) || (flags.gt && score <= current) {
                        continue;
                    }
                    processed += 1;
                    last_score = score;
                    if score != current {
                        z.insert(member, score, &limits);
                        updated += 1;
                    }
                }
                None if !flags.xx => {
                    z.insert(member, score, &limits);
                    added += 1;
                    processed += 1;
                    last_score = score;
                }
                None => {}
            }
        }
        cx.db().remove_if_empty(key);
    }
    if added + updated > 0 {
        cx.touch(key);
        if failure.is_none() {
            cx.dirty(added + updated);
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(if flags.incr {
        if processed > 0 {
            Reply::Double(last_score)
        } else {
            Reply::Null
        }
    } else if flags.ch {
        Reply::Int((added + updated) as i64)
    } else {
        Reply::Int(added as i64)
    })
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
fn zadd(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut flags = AddFlags::default();
    loop {
        if args.eat("NX") {
            flags.nx = true;
        } else if args.eat("XX") {
            flags.xx = true;
        } else if args.eat("CH") {
            flags.ch = true;
        } else if args.eat("INCR") {
            flags.incr = true;
        } else if args.eat("GT") {
            flags.gt = true;
        } else if args.eat("LT") {
            flags.lt = true;
        } else {
            break;
        }
    }
    zadd_generic(cx, key, flags, args.rest())
}

/// `ZINCRBY key increment member`
fn zincrby(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    zadd_generic(cx, key, flags, args.rest())
}

/// `ZREM key member [member ...]`
fn zrem(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let members = args.rest();
    let now = cx.now;
    let Some(z) = cx.db().get_zset_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let removed = members.iter().filter(|m| z.remove(m).is_some()).count() as u64;
    if removed > 0 {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(removed);
    }
    Ok(Reply::Int(removed as i64))
}

/// `ZSCORE key member`
fn zscore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let member = args.next()?;
    Ok(read_zset(cx, key)?
        .and_then(|z| z.score(member))
        .map_or(Reply::Null, Reply::Double))
}

/// `ZMSCORE key member [member ...]`: nil for each missing member (all of them if the key is).
fn zmscore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let members = args.rest();
    let z = read_zset(cx, key)?;
    Ok(Reply::Array(
        members
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .map_or(Reply::Null, Reply::Double)
            })
            .collect(),
    ))
}

/// `ZCARD key`
fn zcard(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    Ok(Reply::Int(
        read_zset(cx, key)?.map_or(0, |z| z.len() as i64),
    ))
}

/// `ZCOUNT key min max`
fn zcount(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let query = Query::Score(parse_score_range(args.next()?, args.next()?)?);
    let count = read_zset(cx, key)?.map_or(0, |z| query.resolve(z).map_or(0, |r| z.count(&r)));
    Ok(Reply::Int(count as i64))
}

/// `ZLEXCOUNT key min max`
fn zlexcount(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let query = Query::Lex(parse_lex_range(args.next()?, args.next()?)?);
    let count = read_zset(cx, key)?.map_or(0, |z| query.resolve(z).map_or(0, |r| z.count(&r)));
    Ok(Reply::Int(count as i64))
}

fn zrank_generic(cx: &mut Exec, args: &mut Args, rev: bool) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let member = args.next()?;
    let Some(z) = read_zset(cx, key)? else {
        return Ok(Reply::Null);
    };
    Ok(match z.rank(member) {
        Some(rank) if rev => Reply::Int((z.len() - 1 - rank) as i64),
        Some(rank) => Reply::Int(rank as i64),
        None => Reply::Null,
    })
}

/// `ZRANK key member`
fn zrank(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrank_generic(cx, args, false)
}

/// `ZREVRANK key member`
fn zrevrank(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrank_generic(cx, args, true)
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family

#[derive(Debug, Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Stores `entries` (distinct members) at `dst` (replacing whatever was there, TTL included),
/// packed if small (`zsetConvertToListpackIfNeeded`), or deletes `dst` when there are none.
/// Replies the number stored.
fn store_result(cx: &mut Exec, dst: &Bytes, entries: Vec<(Bytes, f64)>) -> Reply {
    let count = entries.len();
    if count > 0 {
        let z = ZSet::from_entries(entries, &limits(cx));
        cx.db().set(Bytes::copy_from_slice(dst), Value::ZSet(z));
        cx.modified(dst);
    } else if cx.db().remove(dst).is_some() {
        cx.modified(dst);
    }
    Reply::Int(count as i64)
}

/// Redis's `zrangeGenericCommand`: ZRANGE, ZRANGESTORE and the older range commands, which
/// preset the range type and direction so that the keywords for them are syntax errors.
fn zrange_generic(
    cx: &mut Exec,
    args: &mut Args,
    store: bool,
    mut range_type: RangeType,
    mut rev: Option<bool>,
) -> Result<Reply, CmdError> {
    let dst = if store { Some(args.next()?) } else { None };
    let key = args.next()?;
    let mut min = args.next()?;
    let mut max = args.next()?;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    while let Some(option) = args.peek() {
        let left = args.remaining() - 1;
        if !store && option.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            args.next()?;
        } else if option.eq_ignore_ascii_case(b"limit") && left >= 2 {
            args.next()?;
            offset = args.next_i64()?;
            limit = args.next_i64()?;
        } else if rev.is_none() && option.eq_ignore_ascii_case(b"rev") {
            rev = Some(true);
            args.next()?;
        } else if range_type == RangeType::Auto && option.eq_ignore_ascii_case(b"bylex") {
            range_type = RangeType::Lex;
            args.next()?;
        } else if range_type == RangeType::Auto && option.eq_ignore_ascii_case(b"byscore") {
            range_type = RangeType::Score;
            args.next()?;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let rev = rev.unwrap_or(false);
    if range_type == RangeType::Auto {
        range_type = RangeType::Rank;
    }
    if limit != -1 && range_type == RangeType::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && range_type == RangeType::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && range_type != RangeType::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let query = match range_type {
        RangeType::Score => Query::Score(parse_score_range(min, max)?),
        RangeType::Lex => Query::Lex(parse_lex_range(min, max)?),
        _ => Query::Rank(parse_int(min)?, parse_int(max)?),
    };
    let entries = match read_zset(cx, key)? {
        Some(z) => select(z, &query, rev, offset, limit),
        None => Vec::new(),
    };
    if let Some(dst) = dst {
        return Ok(store_result(cx, dst, entries));
    }
    Ok(if withscores {
        Reply::ScoredPairs(entries)
    } else {
        Reply::bulks(entries.into_iter().map(|(m, _)| m))
    })
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Auto, None)
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
fn zrangestore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, true, RangeType::Auto, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
fn zrevrange(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Rank, Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Score, Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
fn zrevrangebyscore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Score, Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
fn zrangebylex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Lex, Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
fn zrevrangebylex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zrange_generic(cx, args, false, RangeType::Lex, Some(true))
}

/// Removes the members the query selects (ZREMRANGEBYSCORE/RANK/LEX); replies how many.
fn zremrange_generic(cx: &mut Exec, key: &Bytes, query: Query) -> Result<Reply, CmdError> {
    let now = cx.now;
    let Some(z) = cx.db().get_zset_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let removed = query.resolve(z).map_or(0, |range| z.remove_range(&range));
    if removed > 0 {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(removed as u64);
    }
    Ok(Reply::Int(removed as i64))
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let query = Query::Score(parse_score_range(args.next()?, args.next()?)?);
    zremrange_generic(cx, key, query)
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    zremrange_generic(cx, key, Query::Rank(start, end))
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let query = Query::Lex(parse_lex_range(args.next()?, args.next()?)?);
    zremrange_generic(cx, key, query)
}

// ---------------------------------------------------------------------------------------------
// Pops

/// ZPOPMIN / ZPOPMAX. Without a count: `[member, score]` (empty array if the key is missing);
/// with one: member-score pairs (nested in RESP3).
fn zpop_generic(cx: &mut Exec, args: &mut Args, from_max: bool) -> Result<Reply, CmdError> {
    let key = args.next()?;
    if args.remaining() > 1 {
        return Err(CmdError::syntax());
    }
    let count = match args.peek() {
        Some(_) => {
            let count = args.next_i64()?;
            if count < 0 {
                return Err(CmdError::not_positive("value"));
            }
            Some(count as usize)
        }
        None => None,
    };
    let now = cx.now;
    let Some(z) = cx.db().get_zset_mut(key, now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let mut popped = z.pop(from_max, count.unwrap_or(1));
    if !popped.is_empty() {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(popped.len() as u64);
    }
    Ok(match count {
        Some(_) => Reply::ScoredPairs(popped),
        None => match popped.pop() {
            Some((member, score)) => Reply::Array(vec![Reply::Bulk(member), Reply::Double(score)]),
            None => Reply::Array(Vec::new()),
        },
    })
}

/// `ZPOPMIN key [count]`
fn zpopmin(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zpop_generic(cx, args, false)
}

/// `ZPOPMAX key [count]`
fn zpopmax(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zpop_generic(cx, args, true)
}

/// True while the runtime re-runs this client's blocking command for a key that became ready.
fn is_rerun(cx: &Exec) -> bool {
    cx.engine.waiter(cx.session.id).is_some()
}

/// The key a pop took from, and what it popped.
type Popped = (Bytes, Vec<(Bytes, f64)>);

/// Pops up to `count` entries from the first non-empty sorted set of `keys` and propagates the
/// pop as `ZPOPMIN|ZPOPMAX key` (`count == None`, the BZPOPMIN form) or `... key n`. Returns the
/// key and the entries, or None if every set is empty. During a re-run for a blocked client,
/// keys of the wrong type are skipped (Redis does not serve them).
fn pop_first_nonempty(
    cx: &mut Exec,
    keys: &[Bytes],
    from_max: bool,
    count: Option<usize>,
    rerun: bool,
) -> Result<Option<Popped>, CmdError> {
    let now = cx.now;
    for key in keys {
        let z = match cx.db().get_zset_mut(key, now) {
            Ok(Some(z)) if !z.is_empty() => z,
            Ok(_) => continue,
            Err(_) if rerun => continue,
            Err(wrong) => return Err(wrong.into()),
        };
        let popped = z.pop(from_max, count.unwrap_or(1));
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(popped.len() as u64);
        let name: &'static [u8] = if from_max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let mut argv = vec![Bytes::from_static(name), key.clone()];
        if count.is_some() {
            argv.push(Bytes::from(popped.len().to_string()));
        }
        cx.propagate_as(argv);
        return Ok(Some((key.clone(), popped)));
    }
    Ok(None)
}

/// `[key, [[member, score], ...]]`: ZMPOP's reply, nested in both protocols.
fn mpop_reply(key: Bytes, popped: Vec<(Bytes, f64)>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(key),
        Reply::Array(
            popped
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        ),
    ])
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: propagated as ZPOPMIN/ZPOPMAX.
fn zmpop(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let parsed = MpopArgs::parse(args, ["MIN", "MAX"])?;
    let count = Some(parsed.count.unwrap_or(1));
    Ok(
        match pop_first_nonempty(cx, parsed.keys, parsed.second_end, count, false)? {
            Some((key, popped)) => mpop_reply(key, popped),
            None => Reply::NullArray,
        },
    )
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
fn bzmpop(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let timeout = parse_timeout(args.next()?)?;
    let parsed = MpopArgs::parse(args, ["MIN", "MAX"])?;
    let count = Some(parsed.count.unwrap_or(1));
    let rerun = is_rerun(cx);
    if let Some((key, popped)) =
        pop_first_nonempty(cx, parsed.keys, parsed.second_end, count, rerun)?
    {
        return Ok(mpop_reply(key, popped));
    }
    if !cx.session.may_block {
        return Ok(Reply::NullArray);
    }
    let keys = parsed
        .keys
        .iter()
        .map(|k| Bytes::copy_from_slice(k))
        .collect();
    Ok(cx.block(keys, timeout))
}

/// BZPOPMIN / BZPOPMAX: `[key, member, score]`, propagated as `ZPOPMIN|ZPOPMAX key`.
fn bzpop_generic(cx: &mut Exec, args: &mut Args, from_max: bool) -> Result<Reply, CmdError> {
    let rest = args.rest();
    let (timeout_arg, keys) = rest.split_last().ok_or_else(CmdError::syntax)?;
    let timeout = parse_timeout(timeout_arg)?;
    let rerun = is_rerun(cx);
    if let Some((key, mut popped)) = pop_first_nonempty(cx, keys, from_max, None, rerun)? {
        let (member, score) = popped.pop().expect("a non-empty set pops one entry");
        return Ok(Reply::Array(vec![
            Reply::Bulk(key),
            Reply::Bulk(member),
            Reply::Double(score),
        ]));
    }
    if !cx.session.may_block {
        return Ok(Reply::NullArray);
    }
    let keys = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
    Ok(cx.block(keys, timeout))
}

/// `BZPOPMIN key [key ...] timeout`
fn bzpopmin(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    bzpop_generic(cx, args, false)
}

/// `BZPOPMAX key [key ...] timeout`
fn bzpopmax(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    bzpop_generic(cx, args, true)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

/// `ZRANDMEMBER key [count [WITHSCORES]]`: a positive count gives distinct members, a negative
/// one allows repeats (`zrandmemberWithCountCommand`).
fn zrandmember(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let count = match args.peek() {
        None => None,
        Some(_) => Some(args.next_i64()?),
    };
    if count == Some(i64::MIN) {
        return Err(CmdError::range_between(-i64::MAX, i64::MAX));
    }
    let withscores = match args.remaining() {
        0 => false,
        1 if count.is_some() && args.eat("WITHSCORES") => true,
        _ => return Err(CmdError::syntax()),
    };
    // Redis bounds the count with scores only (the reply doubles in length).
    if withscores && count.is_some_and(|c| !(-i64::MAX / 2..=i64::MAX / 2).contains(&c)) {
        return Err(CmdError::value_out_of_range());
    }
    let now = cx.now;
    let engine = &mut *cx.engine;
    let z = engine.dbs[cx.session.db].get_zset(key, now)?;
    let Some(count) = count else {
        let member = z.and_then(|z| z.random_member(&mut engine.rng));
        return Ok(member.map_or(Reply::Null, Reply::bulk));
    };
    let Some(z) = z else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picks = super::args::random_positions(&mut engine.rng, z.len(), count)?;
    let picked = z
        .entries_at(&picks)
        .into_iter()
        .map(|(m, s)| (Bytes::copy_from_slice(m), s));
    Ok(if withscores {
        Reply::ScoredPairs(picked.collect())
    } else {
        Reply::bulks(picked.map(|(m, _)| m))
    })
}

// ---------------------------------------------------------------------------------------------
// Union, intersection, difference

#[derive(Debug, Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            // +inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value
            }
        }
    }
}

/// Redis's `zunionInterDiffGenericCommand`. Plain sets are read as members of score 1.
fn zsetop_generic(
    cx: &mut Exec,
    args: &mut Args,
    op: SetOp,
    store: bool,
    name: &str,
) -> Result<Reply, CmdError> {
    let dst = if store { Some(args.next()?) } else { None };
    let numkeys = args.next_i64()?;
    if numkeys < 1 {
        return Err(CmdError(
            format!("ERR at least 1 input key is needed for '{name}' command").into(),
        ));
    }
    if numkeys as usize > args.remaining() {
        return Err(CmdError::syntax());
    }
    let now = cx.now;
    let mut sources: Vec<IndexMap<Bytes, f64>> = Vec::with_capacity(numkeys as usize);
    for _ in 0..numkeys {
        let key = args.next()?;
        let source = match cx.db().get(key, now) {
            None => IndexMap::new(),
            Some(Value::ZSet(z)) => z
                .iter()
                .map(|(m, s)| (Bytes::copy_from_slice(m), s))
                .collect(),
            Some(Value::Set(s)) => s.iter().map(|m| (m, 1.0)).collect(),
            Some(_) => return Err(CmdError::wrong_type()),
        };
        sources.push(source);
    }
    let mut weights = vec![1.0; sources.len()];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    while let Some(option) = args.peek() {
        let remaining = args.remaining();
        if op != SetOp::Diff && remaining > sources.len() && option.eq_ignore_ascii_case(b"weights")
        {
            args.next()?;
            for weight in weights.iter_mut() {
                *weight = float_value(args.next()?)
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
        } else if op != SetOp::Diff && remaining >= 2 && option.eq_ignore_ascii_case(b"aggregate") {
            args.next()?;
            let which = args.next()?;
            how = if which.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if which.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if which.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(CmdError::syntax());
            };
        } else if !store && option.eq_ignore_ascii_case(b"withscores") {
            args.next()?;
            withscores = true;
        } else {
            return Err(CmdError::syntax());
        }
    }

    let weighted = |score: f64, weight: f64| {
        let value = score * weight;
        if value.is_nan() {
            0.0
        } else {
            value
        }
    };
    let mut result: IndexMap<Bytes, f64> = IndexMap::new();
    match op {
        SetOp::Union => {
            for (source, &weight) in sources.iter().zip(&weights) {
                for (member, &score) in source {
                    let value = weighted(score, weight);
                    match result.get_mut(member) {
                        Some(target) => aggregate(target, value, how),
                        None => {
                            result.insert(member.clone(), value);
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..sources.len()).collect();
            order.sort_by_key(|&i| sources[i].len());
            let first = order[0];
            'members: for (member, &score) in &sources[first] {
                let mut value = weighted(score, weights[first]);
                for &other in &order[1..] {
                    match sources[other].get(member) {
                        Some(&s) => aggregate(&mut value, s * weights[other], how),
                        None => continue 'members,
                    }
                }
                result.insert(member.clone(), value);
            }
        }
        SetOp::Diff => {
            for (member, &score) in &sources[0] {
                if !sources[1..].iter().any(|s| s.contains_key(member)) {
                    result.insert(member.clone(), score);
                }
            }
        }
    }
    let mut entries: Vec<(Bytes, f64)> = result.into_iter().collect();
    entries.sort_unstable_by(|a, b| {
        Score::new(a.1)
            .cmp(&Score::new(b.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    if let Some(dst) = dst {
        return Ok(store_result(cx, dst, entries));
    }
    Ok(if withscores {
        Reply::ScoredPairs(entries)
    } else {
        Reply::bulks(entries.into_iter().map(|(m, _)| m))
    })
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
fn zunionstore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Union, true, "zunionstore")
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
fn zinterstore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Inter, true, "zinterstore")
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
fn zdiffstore(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Diff, true, "zdiffstore")
}

/// `ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zunion(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Union, false, "zunion")
}

/// `ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zinter(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Inter, false, "zinter")
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
fn zdiff(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    zsetop_generic(cx, args, SetOp::Diff, false, "zdiff")
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting
/// stops at `limit` (0 = no limit). Plain sets count as members of score 1.
fn zintercard(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let numkeys = args.next_i64()?;
    if numkeys < 1 {
        return Err(CmdError::new(
            "ERR at least 1 input key is needed for 'zintercard' command",
        ));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CmdError::syntax());
    }
    let keys: Vec<&Bytes> = (0..numkeys)
        .map(|_| args.next())
        .collect::<Result<_, _>>()?;
    let mut limit = 0usize;
    while !args.is_empty() {
        if args.remaining() >= 2 && args.eat("LIMIT") {
            limit = match parse_int(args.next()?) {
                Ok(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::new("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CmdError::syntax());
        }
    }
    let now = cx.now;
    let db = cx.db();
    for key in &keys {
        match db.get(key, now) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(CmdError::wrong_type()),
        }
    }
    let db = cx.db();
    let contains = |value: Option<&Value>, member: &Bytes| match value {
        Some(Value::ZSet(z)) => z.score(member).is_some(),
        Some(Value::Set(s)) => s.contains(member),
        _ => false,
    };
    let sizes: Vec<usize> = keys
        .iter()
        .map(|k| match db.peek(k) {
            Some(Value::ZSet(z)) => z.len(),
            Some(Value::Set(s)) => s.len(),
            _ => 0,
        })
        .collect();
    let smallest = (0..keys.len()).min_by_key(|&i| sizes[i]).unwrap_or(0);
    let members: Vec<Bytes> = match db.peek(keys[smallest]) {
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
        Some(Value::Set(s)) => s.iter().collect(),
        _ => Vec::new(),
    };
    let mut count = 0usize;
    for member in &members {
        if keys
            .iter()
            .enumerate()
            .all(|(i, k)| i == smallest || contains(db.peek(k), member))
        {
            count += 1;
            if limit > 0 && count >= limit {
                break;
            }
        }
    }
    Ok(Reply::Int(count as i64))
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: a packed sorted set whole in one reply
/// with cursor 0, as Redis does for a listpack; a large one about COUNT entries per call.
/// Scores as `%.17g` strings.
fn zscan(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let cursor = parse_scan_cursor(args.next()?)?;
    let empty = || Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(Vec::new())]);
    let Some(z) = read_zset(cx, key)? else {
        return Ok(empty());
    };
    let options = ScanOptions::parse(args, false)?;
    let mut out = Vec::new();
    let next = z.scan(cursor, options.count, |member, score| {
        if options.matches(member) {
            out.push(Reply::bulk(member));
            out.push(Reply::bulk_string(crate::resp::reply::format_double(score)));
        }
    });
    Ok(Reply::Array(vec![
        Reply::bulk_string(next.to_string()),
        Reply::Array(out),
    ]))
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;
    use bytes::Bytes;

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn scored(items: &[(&str, f64)]) -> Reply {
        Reply::ScoredPairs(
            items
                .iter()
                .map(|(m, s)| (Bytes::copy_from_slice(m.as_bytes()), *s))
                .collect(),
        )
    }

    fn setup(h: &mut Harness) {
        h.run(&["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    }

    #[test]
    fn zadd_options_and_errors() {
        let mut h = Harness::new();
        let cases: &[(&[&str], Reply)] = &[
            (&["zadd", "z", "1", "a", "2", "b"], Reply::Int(2)),
            (&["zadd", "z", "5", "a", "3", "c"], Reply::Int(1)),
            (&["zadd", "z", "CH", "6", "a", "3", "c"], Reply::Int(1)),
            (&["zadd", "z", "NX", "9", "a", "7", "d"], Reply::Int(1)),
            (&["zscore", "z", "a"], Reply::Double(6.0)),
            (
                &["zadd", "z", "XX", "CH", "1", "a", "1", "e"],
                Reply::Int(1),
            ),
            (&["zscore", "z", "e"], Reply::Null),
            (
                &["zadd", "z", "GT", "CH", "0", "a", "10", "b"],
                Reply::Int(1),
            ),
            (&["zscore", "z", "a"], Reply::Double(1.0)),
            (
                &["zadd", "z", "LT", "CH", "5", "b", "0", "f"],
                Reply::Int(2),
            ),
            (&["zadd", "z", "INCR", "2.5", "a"], Reply::Double(3.5)),
            (&["zadd", "z", "NX", "INCR", "2.5", "a"], Reply::Null),
            (&["zadd", "z", "GT", "INCR", "-1", "a"], Reply::Null),
            (&["zadd", "z", "XX", "INCR", "1", "nope"], Reply::Null),
            (&["zadd", "missing", "XX", "1", "a"], Reply::Int(0)),
            (&["exists", "missing"], Reply::Int(0)),
            (&["zadd", "z", "NX", "1"], err("ERR syntax error")),
            (&["zadd", "z", "NX", "1", "a", "2"], err("ERR syntax error")),
            (
                &["zadd", "z", "NX", "XX", "1", "a"],
                err("ERR XX and NX options at the same time are not compatible"),
            ),
            (
                &["zadd", "z", "GT", "LT", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                &["zadd", "z", "NX", "GT", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                &["zadd", "z", "INCR", "1", "a", "2", "b"],
                err("ERR INCR option supports a single increment-element pair"),
            ),
            (
                &["zadd", "z", "x", "a"],
                err("ERR value is not a valid float"),
            ),
            (
                &["zadd", "z", "nan", "a"],
                err("ERR value is not a valid float"),
            ),
            (&["zadd", "inf", "inf", "a"], Reply::Int(1)),
            (
                &["zadd", "inf", "INCR", "-inf", "a"],
                err("ERR resulting score is not a number (NaN)"),
            ),
            (
                &["zadd", "z"],
                err("ERR wrong number of arguments for 'zadd' command"),
            ),
            (&["zincrby", "z", "1.5", "new"], Reply::Double(1.5)),
            (
                &["zincrby", "z", "x", "new"],
                err("ERR value is not a valid float"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        h.run(&["set", "s", "v"]);
        let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
        for cmd in [
            &["zadd", "s", "1", "a"][..],
            &["zincrby", "s", "1", "a"],
            &["zscore", "s", "a"],
            &["zrange", "s", "0", "-1"],
            &["zrem", "s", "a"],
            &["zcard", "s"],
            &["zpopmin", "s"],
            &["zunionstore", "d", "1", "s"],
            &["zrangestore", "d", "s", "0", "-1"],
            &["zmscore", "s", "a"],
            &["zrank", "s", "a"],
            &["zcount", "s", "0", "1"],
            &["zremrangebyrank", "s", "0", "1"],
            &["zscan", "s", "0"],
        ] {
            assert_eq!(h.run(cmd), wrongtype, "{cmd:?}");
        }
    }

    #[test]
    fn scores_are_doubles_formatted_like_redis() {
        let mut h = Harness::new();
        h.run(&["zadd", "z", "0.1", "a", "-0", "b", "1e300", "c"]);
        assert_eq!(h.run(&["zscore", "z", "a"]), Reply::Double(0.1));
        assert_eq!(
            crate::resp::reply::format_double(0.1),
            "0.10000000000000001"
        );
        assert_eq!(h.run(&["zscore", "z", "b"]), Reply::Double(0.0));
        assert_eq!(
            h.run(&["zmscore", "z", "a", "nope", "c"]),
            Reply::Array(vec![Reply::Double(0.1), Reply::Null, Reply::Double(1e300)])
        );
        assert_eq!(
            h.run(&["zmscore", "missing", "a"]),
            Reply::Array(vec![Reply::Null])
        );
        assert_eq!(
            h.run(&["zscan", "z", "0"]),
            Reply::Array(vec![
                bulk("0"),
                bulks(&[
                    "b",
                    "0",
                    "a",
                    "0.10000000000000001",
                    "c",
                    "1.0000000000000001e+300"
                ])
            ])
        );
    }

    #[test]
    fn rank_ranges_at_the_edges() {
        let mut h = Harness::new();
        setup(&mut h);
        let cases: &[(&[&str], Reply)] = &[
            (&["zrange", "z", "0", "-1"], bulks(&["a", "b", "c", "d"])),
            (&["zrange", "z", "-2", "-1"], bulks(&["c", "d"])),
            (&["zrange", "z", "-100", "1"], bulks(&["a", "b"])),
            (&["zrange", "z", "2", "100"], bulks(&["c", "d"])),
            (&["zrange", "z", "3", "1"], bulks(&[])),
            (&["zrange", "z", "4", "10"], bulks(&[])),
            (&["zrange", "z", "-1", "-2"], bulks(&[])),
            (&["zrange", "missing", "0", "-1"], bulks(&[])),
            (&["zrange", "z", "0", "1", "REV"], bulks(&["d", "c"])),
            (&["zrevrange", "z", "0", "1"], bulks(&["d", "c"])),
            (
                &["zrange", "z", "0", "1", "WITHSCORES"],
                scored(&[("a", 1.0), ("b", 2.0)]),
            ),
            (
                &["zrevrange", "z", "0", "0", "withscores"],
                scored(&[("d", 4.0)]),
            ),
            (
                &["zrange", "z", "0", "1", "LIMIT", "0", "1"],
                err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            ),
            (&["zrange", "z", "0", "1", "FOO"], err("ERR syntax error")),
            (&["zrevrange", "z", "0", "1", "REV"], err("ERR syntax error")),
            (
                &["zrange", "z", "a", "1"],
                err("ERR value is not an integer or out of range"),
            ),
            (&["zrank", "z", "c"], Reply::Int(2)),
            (&["zrevrank", "z", "c"], Reply::Int(1)),
            (&["zrank", "z", "x"], Reply::Null),
            (&["zrank", "missing", "x"], Reply::Null),
            (&["zcard", "z"], Reply::Int(4)),
            (&["zcard", "missing"], Reply::Int(0)),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn score_ranges() {
        let mut h = Harness::new();
        setup(&mut h);
        h.run(&["zadd", "z", "-inf", "ninf", "+inf", "pinf"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["zrangebyscore", "z", "2", "3"], bulks(&["b", "c"])),
            (&["zrangebyscore", "z", "(2", "3"], bulks(&["c"])),
            (&["zrangebyscore", "z", "(2", "(3"], bulks(&[])),
            (&["zrangebyscore", "z", "3", "2"], bulks(&[])),
            (
                &["zrangebyscore", "z", "-inf", "+inf"],
                bulks(&["ninf", "a", "b", "c", "d", "pinf"]),
            ),
            (
                &["zrangebyscore", "z", "(-inf", "(+inf"],
                bulks(&["a", "b", "c", "d"]),
            ),
            (&["zrangebyscore", "z", "4", "inf"], bulks(&["d", "pinf"])),
            (&["zrevrangebyscore", "z", "3", "2"], bulks(&["c", "b"])),
            (
                &["zrevrangebyscore", "z", "(3", "-inf"],
                bulks(&["b", "a", "ninf"]),
            ),
            (
                &["zrevrangebyscore", "z", "+inf", "4"],
                bulks(&["pinf", "d"]),
            ),
            (
                &["zrangebyscore", "z", "1", "4", "LIMIT", "1", "2"],
                bulks(&["b", "c"]),
            ),
            (
                &["zrangebyscore", "z", "1", "4", "LIMIT", "1", "-1"],
                bulks(&["b", "c", "d"]),
            ),
            (
                &["zrangebyscore", "z", "1", "4", "LIMIT", "-1", "2"],
                bulks(&[]),
            ),
            (
                &["zrangebyscore", "z", "1", "4", "LIMIT", "10", "2"],
                bulks(&[]),
            ),
            (
                &["zrangebyscore", "z", "1", "4", "LIMIT", "0", "0"],
                bulks(&[]),
            ),
            (
                &["zrangebyscore", "z", "1", "2", "WITHSCORES"],
                scored(&[("a", 1.0), ("b", 2.0)]),
            ),
            (
                &[
                    "zrange",
                    "z",
                    "(4",
                    "2",
                    "BYSCORE",
                    "REV",
                    "LIMIT",
                    "0",
                    "1",
                    "WITHSCORES",
                ],
                scored(&[("c", 3.0)]),
            ),
            (&["zrange", "z", "2", "3", "BYSCORE"], bulks(&["b", "c"])),
            (
                &["zrangebyscore", "z", "x", "3"],
                err("ERR min or max is not a float"),
            ),
            (
                &["zrangebyscore", "z", "1", "(x"],
                err("ERR min or max is not a float"),
            ),
            (
                &["zrangebyscore", "z", "nan", "1"],
                err("ERR min or max is not a float"),
            ),
            (
                &["zrangebyscore", "z", "1", "2", "BYSCORE"],
                err("ERR syntax error"),
            ),
            (&["zcount", "z", "(1", "3"], Reply::Int(2)),
            (&["zcount", "z", "-inf", "+inf"], Reply::Int(6)),
            (&["zcount", "missing", "0", "1"], Reply::Int(0)),
            (
                &["zcount", "z", "a", "1"],
                err("ERR min or max is not a float"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn lex_ranges() {
        let mut h = Harness::new();
        h.run(&[
            "zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ]);
        let cases: &[(&[&str], Reply)] = &[
            (
                &["zrangebylex", "l", "-", "+"],
                bulks(&["a", "b", "c", "d", "e"]),
            ),
            (&["zrangebylex", "l", "[b", "(d"], bulks(&["b", "c"])),
            (&["zrangebylex", "l", "(b", "[d"], bulks(&["c", "d"])),
            (&["zrangebylex", "l", "+", "-"], bulks(&[])),
            (
                &["zrangebylex", "l", "-", "+", "LIMIT", "1", "2"],
                bulks(&["b", "c"]),
            ),
            (
                &["zrevrangebylex", "l", "[d", "-"],
                bulks(&["d", "c", "b", "a"]),
            ),
            (
                &["zrevrangebylex", "l", "+", "(c", "LIMIT", "0", "1"],
                bulks(&["e"]),
            ),
            (&["zrange", "l", "[b", "[c", "BYLEX"], bulks(&["b", "c"])),
            (
                &["zrange", "l", "[c", "[b", "BYLEX", "REV"],
                bulks(&["c", "b"]),
            ),
            (
                &["zrangebylex", "l", "a", "+"],
                err("ERR min or max not valid string range item"),
            ),
            (
                &["zrangebylex", "l", "-x", "+"],
                err("ERR min or max not valid string range item"),
            ),
            (
                &["zrange", "l", "-", "+", "BYLEX", "WITHSCORES"],
                err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ),
            (&["zlexcount", "l", "[b", "+"], Reply::Int(4)),
            (
                &["zlexcount", "l", "b", "+"],
                err("ERR min or max not valid string range item"),
            ),
            (&["zremrangebylex", "l", "(a", "[c"], Reply::Int(2)),
            (&["zrange", "l", "0", "-1"], bulks(&["a", "d", "e"])),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
    }

    #[test]
    fn removals_delete_empty_sets() {
        let mut h = Harness::new();
        setup(&mut h);
        assert_eq!(h.run(&["zrem", "z", "a", "x", "a"]), Reply::Int(1));
        assert_eq!(h.run(&["zremrangebyscore", "z", "(2", "3"]), Reply::Int(1));
        assert_eq!(h.run(&["zremrangebyrank", "z", "5", "10"]), Reply::Int(0));
        assert_eq!(
            h.run(&["zremrangebyscore", "z", "x", "3"]),
            err("ERR min or max is not a float")
        );
        assert_eq!(
            h.run(&["zremrangebyrank", "z", "x", "3"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(h.run(&["zremrangebyrank", "z", "0", "-1"]), Reply::Int(2));
        assert_eq!(h.run(&["exists", "z"]), Reply::Int(0));
        assert_eq!(h.run(&["zrem", "z", "a"]), Reply::Int(0));
        h.run(&["zadd", "z", "1", "a"]);
        assert_eq!(h.run(&["zrem", "z", "a"]), Reply::Int(1));
        assert_eq!(h.run(&["type", "z"]), Reply::simple("none"));
    }

    #[test]
    fn pops() {
        let mut h = Harness::new();
        setup(&mut h);
        h.propagated();
        let cases: &[(&[&str], Reply)] = &[
            (
                &["zpopmin", "z"],
                Reply::Array(vec![bulk("a"), Reply::Double(1.0)]),
            ),
            (&["zpopmax", "z", "2"], scored(&[("d", 4.0), ("c", 3.0)])),
            (&["zpopmin", "z", "0"], scored(&[])),
            (
                &["zpopmin", "z", "-1"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                &["zpopmin", "z", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (&["zpopmin", "z", "1", "2"], err("ERR syntax error")),
            (&["zpopmin", "z", "x", "2"], err("ERR syntax error")),
            (&["zpopmin", "z", "10"], scored(&[("b", 2.0)])),
            (&["exists", "z"], Reply::Int(0)),
            (&["zpopmin", "z"], Reply::Array(vec![])),
            (&["zpopmax", "z", "3"], Reply::Array(vec![])),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        assert_eq!(
            h.propagated(),
            vec![
                vec!["zpopmin", "z"],
                vec!["zpopmax", "z", "2"],
                vec!["zpopmin", "z", "10"],
            ]
        );
    }

    #[test]
    fn rangestore() {
        let mut h = Harness::new();
        setup(&mut h);
        h.run(&["set", "dst", "x", "EX", "100"]);
        assert_eq!(h.run(&["zrangestore", "dst", "z", "1", "2"]), Reply::Int(2));
        assert_eq!(h.run(&["ttl", "dst"]), Reply::Int(-1));
        assert_eq!(
            h.run(&["zrange", "dst", "0", "-1", "withscores"]),
            scored(&[("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(
            h.run(&[
                "zrangestore",
                "dst",
                "z",
                "(1",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "0",
                "1"
            ]),
            Reply::Int(1)
        );
        assert_eq!(h.run(&["zrange", "dst", "0", "-1"]), bulks(&["b"]));
        assert_eq!(
            h.run(&["zrangestore", "dst", "z", "0", "-1", "WITHSCORES"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["zrangestore", "dst", "missing", "0", "-1"]),
            Reply::Int(0)
        );
        assert_eq!(h.run(&["exists", "dst"]), Reply::Int(0));
    }

    #[test]
    fn union_inter_diff() {
        let mut h = Harness::new();
        h.run(&["zadd", "a", "1", "x", "2", "y", "3", "z"]);
        h.run(&["zadd", "b", "10", "y", "20", "z", "30", "w"]);
        let cases: &[(&[&str], Reply)] = &[
            (&["zunionstore", "d", "2", "a", "b"], Reply::Int(4)),
            (
                &["zrange", "d", "0", "-1", "WITHSCORES"],
                scored(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)]),
            ),
            (
                &[
                    "zinterstore",
                    "d",
                    "2",
                    "a",
                    "b",
                    "WEIGHTS",
                    "2",
                    "0.5",
                    "AGGREGATE",
                    "MAX",
                ],
                Reply::Int(2),
            ),
            (
                &["zrange", "d", "0", "-1", "WITHSCORES"],
                scored(&[("y", 5.0), ("z", 10.0)]),
            ),
            (
                &["zinter", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"],
                scored(&[("y", 2.0), ("z", 3.0)]),
            ),
            (&["zunion", "2", "a", "missing"], bulks(&["x", "y", "z"])),
            (&["zinterstore", "d", "2", "a", "missing"], Reply::Int(0)),
            (&["exists", "d"], Reply::Int(0)),
            (
                &["zdiff", "2", "a", "b", "WITHSCORES"],
                scored(&[("x", 1.0)]),
            ),
            (&["zdiffstore", "d", "2", "b", "a"], Reply::Int(1)),
            (
                &["zunionstore", "d", "0", "a"],
                err("ERR at least 1 input key is needed for 'zunionstore' command"),
            ),
            (
                &["zinterstore", "d", "-1", "a"],
                err("ERR at least 1 input key is needed for 'zinterstore' command"),
            ),
            (
                &["zunionstore", "d", "3", "a", "b"],
                err("ERR syntax error"),
            ),
            (
                &["zunionstore", "d", "x", "a"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                &["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1"],
                err("ERR syntax error"),
            ),
            (
                &["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "x"],
                err("ERR weight value is not a float"),
            ),
            (
                &["zunionstore", "d", "2", "a", "b", "AGGREGATE", "AVG"],
                err("ERR syntax error"),
            ),
            (
                &["zunionstore", "d", "1", "a", "WITHSCORES"],
                err("ERR syntax error"),
            ),
            (
                &["zdiff", "2", "a", "b", "WEIGHTS", "1", "1"],
                err("ERR syntax error"),
            ),
            (
                &["zunionstore", "d"],
                err("ERR wrong number of arguments for 'zunionstore' command"),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(&h.run(cmd), want, "{cmd:?}");
        }
        // +inf + -inf sums to 0; inf * 0 weighs 0.
        h.run(&["zadd", "p", "inf", "m"]);
        h.run(&["zadd", "n", "-inf", "m"]);
        assert_eq!(
            h.run(&["zunion", "2", "p", "n", "WITHSCORES"]),
            scored(&[("m", 0.0)])
        );
        assert_eq!(
            h.run(&["zunion", "1", "p", "WEIGHTS", "0", "WITHSCORES"]),
            scored(&[("m", 0.0)])
        );
    }

    #[test]
    fn plain_sets_count_as_score_one() {
        let mut h = Harness::new();
        h.shared.engine().dbs[0].set(
            Bytes::from("s"),
            crate::store::Value::Set(["x", "y"].iter().map(|m| Bytes::from(*m)).collect()),
        );
        h.run(&["zadd", "a", "5", "x"]);
        assert_eq!(
            h.run(&["zunion", "2", "s", "a", "WITHSCORES"]),
            scored(&[("y", 1.0), ("x", 6.0)])
        );
    }

    #[test]
    fn encoding_converts_past_the_thresholds_and_back_only_for_stored_results() {
        let mut h = Harness::new();
        let encoding = |h: &mut Harness, key: &str| h.run(&["object", "encoding", key]);
        setup(&mut h);
        assert_eq!(encoding(&mut h, "z"), bulk("listpack"));
        let long = "x".repeat(65);
        h.run(&["zadd", "long", "1", &long]);
        assert_eq!(encoding(&mut h, "long"), bulk("skiplist"));

        h.run(&["config", "set", "zset-max-listpack-entries", "5"]);
        assert_eq!(
            h.run(&["config", "get", "zset-max-ziplist-entries"]),
            Reply::Map(vec![(bulk("zset-max-ziplist-entries"), bulk("5"))])
        );
        h.run(&["zadd", "z", "5", "e"]);
        assert_eq!(encoding(&mut h, "z"), bulk("listpack"), "5 members fit");
        h.run(&["zincrby", "z", "1", "e"]);
        assert_eq!(
            encoding(&mut h, "z"),
            bulk("listpack"),
            "updates never convert"
        );
        h.run(&["zadd", "z", "6", "f"]);
        assert_eq!(encoding(&mut h, "z"), bulk("skiplist"));
        h.run(&["zrem", "z", "a", "b", "c"]);
        assert_eq!(
            encoding(&mut h, "z"),
            bulk("skiplist"),
            "never back by removal"
        );

        // Results built whole are packed when small (zsetConvertToListpackIfNeeded).
        assert_eq!(h.run(&["zrangestore", "r", "z", "0", "-1"]), Reply::Int(3));
        assert_eq!(encoding(&mut h, "r"), bulk("listpack"));
        assert_eq!(
            h.run(&["zrange", "r", "0", "-1", "withscores"]),
            scored(&[("d", 4.0), ("e", 6.0), ("f", 6.0)])
        );
        h.run(&["zunionstore", "u", "2", "z", "long"]);
        assert_eq!(encoding(&mut h, "u"), bulk("skiplist"), "a long member");
        h.run(&["zinterstore", "i", "2", "z", "r"]);
        assert_eq!(encoding(&mut h, "i"), bulk("listpack"));
        h.run(&["config", "set", "zset-max-ziplist-value", "3"]);
        h.run(&["zadd", "new", "1", "abcd"]);
        assert_eq!(encoding(&mut h, "new"), bulk("skiplist"));
        h.run(&["config", "set", "zset-max-listpack-entries", "0"]);
        h.run(&["zadd", "none", "1", "a"]);
        assert_eq!(encoding(&mut h, "none"), bulk("skiplist"));
        h.run(&["zdiffstore", "d", "1", "r"]);
        assert_eq!(encoding(&mut h, "d"), bulk("skiplist"));
    }

    #[test]
    fn zscan_walks_a_large_set_with_a_cursor() {
        let mut h = Harness::new();
        h.run(&["config", "set", "zset-max-listpack-entries", "0"]);
        for i in 0..25 {
            h.run(&["zadd", "big", &i.to_string(), &format!("m{i}")]);
        }
        let mut cursor = "0".to_string();
        let mut seen = 0;
        for _ in 0..10 {
            let Reply::Array(reply) = h.run(&["zscan", "big", &cursor, "COUNT", "10"]) else {
                panic!("an array");
            };
            let (Reply::Bulk(next), Reply::Array(items)) = (&reply[0], &reply[1]) else {
                panic!("cursor and items");
            };
            seen += items.len() / 2;
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!((seen, cursor.as_str()), (25, "0"));
    }

    #[test]
    fn zscan_filters_and_checks_arguments() {
        let mut h = Harness::new();
        setup(&mut h);
        assert_eq!(
            h.run(&["zscan", "z", "0", "MATCH", "a*", "COUNT", "100"]),
            Reply::Array(vec![bulk("0"), bulks(&["a", "1"])])
        );
        assert_eq!(
            h.run(&["zscan", "missing", "0"]),
            Reply::Array(vec![bulk("0"), bulks(&[])])
        );
        assert_eq!(h.run(&["zscan", "z", "x"]), err("ERR invalid cursor"));
        assert_eq!(
            h.run(&["zscan", "z", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["zscan", "z", "0", "TYPE", "zset"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn writes_propagate_as_received_and_noops_not_at_all() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["zadd", "z", "1", "a"]);
        h.run(&["zadd", "z", "1", "a"]);
        h.run(&["zadd", "z", "NX", "2", "a"]);
        h.run(&["zincrby", "z", "1", "a"]);
        h.run(&["zrem", "z", "nope"]);
        h.run(&["zrem", "z", "a"]);
        assert_eq!(
            h.propagated(),
            vec![
                vec!["zadd", "z", "1", "a"],
                vec!["zincrby", "z", "1", "a"],
                vec!["zrem", "z", "a"],
            ]
        );
    }

    fn pair(member: &str, score: f64) -> Reply {
        Reply::Array(vec![bulk(member), Reply::Double(score)])
    }

    #[test]
    fn multi_key_pops_take_from_the_first_nonempty_set_and_propagate_as_zpop() {
        let mut h = Harness::new();
        setup(&mut h);
        h.propagated();
        assert_eq!(
            h.run(&["zmpop", "2", "none", "z", "MIN", "COUNT", "2"]),
            Reply::Array(vec![
                bulk("z"),
                Reply::Array(vec![pair("a", 1.0), pair("b", 2.0)])
            ])
        );
        assert_eq!(
            h.run(&["bzpopmax", "none", "z", "0"]),
            Reply::Array(vec![bulk("z"), bulk("d"), Reply::Double(4.0)])
        );
        assert_eq!(
            h.run(&["bzmpop", "0", "1", "z", "max", "count", "9"]),
            Reply::Array(vec![bulk("z"), Reply::Array(vec![pair("c", 3.0)])])
        );
        assert_eq!(h.run(&["zmpop", "1", "z", "min"]), Reply::NullArray);
        assert_eq!(
            h.propagated(),
            vec![
                vec!["ZPOPMIN", "z", "2"],
                vec!["ZPOPMAX", "z"],
                vec!["ZPOPMAX", "z", "1"]
            ]
        );
        h.run(&["set", "s", "v"]);
        assert_eq!(
            h.run(&["zmpop", "1", "s", "min"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        assert_eq!(
            h.run(&["bzpopmin", "z", "-1"]),
            err("ERR timeout is negative")
        );
    }

    #[test]
    fn blocking_pops_block_only_when_every_set_is_empty() {
        let mut h = Harness::new();
        let (reply, effect) =
            h.run_argv(&[Bytes::from("bzpopmin"), Bytes::from("z"), Bytes::from("0")]);
        assert_eq!(reply, Reply::None);
        assert!(matches!(effect, crate::cmd::Effect::Block { .. }));
        h.session.may_block = false;
        assert_eq!(h.run(&["bzmpop", "0", "1", "z", "min"]), Reply::NullArray);
    }

    #[test]
    fn zintercard_counts_up_to_the_limit() {
        let mut h = Harness::new();
        setup(&mut h);
        h.run(&["zadd", "y", "1", "a", "1", "b", "1", "c"]);
        h.run(&["sadd", "s", "a", "b"]);
        assert_eq!(h.run(&["zintercard", "2", "z", "y"]), Reply::Int(3));
        assert_eq!(
            h.run(&["zintercard", "2", "z", "y", "limit", "2"]),
            Reply::Int(2)
        );
        assert_eq!(h.run(&["zintercard", "3", "z", "y", "s"]), Reply::Int(2));
        assert_eq!(h.run(&["zintercard", "2", "z", "none"]), Reply::Int(0));
        assert_eq!(
            h.run(&["zintercard", "0", "z"]),
            err("ERR at least 1 input key is needed for 'zintercard' command")
        );
        assert_eq!(
            h.run(&["zintercard", "1", "z", "limit", "-1"]),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(h.run(&["zintercard", "2", "z"]), err("ERR syntax error"));
    }

    #[test]
    fn zrandmember_distinct_or_repeated() {
        let mut h = Harness::new();
        setup(&mut h);
        assert!(matches!(h.run(&["zrandmember", "z"]), Reply::Bulk(_)));
        assert_eq!(h.run(&["zrandmember", "none"]), Reply::Null);
        assert_eq!(h.run(&["zrandmember", "none", "3"]), bulks(&[]));
        match h.run(&["zrandmember", "z", "10", "withscores"]) {
            Reply::ScoredPairs(p) => assert_eq!(p.len(), 4),
            other => panic!("{other:?}"),
        }
        match h.run(&["zrandmember", "z", "-10"]) {
            Reply::Array(items) => assert_eq!(items.len(), 10),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            h.run(&["zrandmember", "z", "1", "foo"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["zrandmember", "z", "-9223372036854775807"]),
            err("ERR value is out of range"),
            "a reply that cannot fit in memory is refused, not attempted"
        );
        assert_eq!(
            h.run(&["zrandmember", "z", "-9223372036854775807", "withscores"]),
            err("ERR value is out of range")
        );
    }
}
