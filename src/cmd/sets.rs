//! The set commands (`t_set.c`): members, random members, moves, the algebra (SINTER, SUNION,
//! SDIFF and their STORE forms, SINTERCARD), SSCAN.
//!
//! SPOP is propagated as `SREM key member...` (in batches of 1024 members), or as `DEL key` when
//! it pops the whole set, as Redis 7.0 does, so replicas remove exactly what the master picked.
//!
//! The set itself ([`Set`]) decides its representation: every write passes the
//! `set-max-intset-entries` threshold the engine keeps ([`limits`]). Results of SUNION, SDIFF
//! and the STORE forms are built as a set (an intset when all integers, so in ascending
//! order), as Redis builds its `dstset`.

use bytes::Bytes;

use super::args::parse_int;
use super::flags::*;
use super::hashes::{parse_cursor, scan_reply, ScanOptions};
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::value::{EncodingLimits, Set, Value};

/// The set commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("sadd", -3, WRITE | DENYOOM | FAST, sadd).keys(1, 1, 1),
    Spec::new("srem", -3, WRITE | FAST, srem).keys(1, 1, 1),
    Spec::new("smembers", 2, READONLY, smembers).keys(1, 1, 1),
    Spec::new("sismember", 3, READONLY | FAST, sismember).keys(1, 1, 1),
    Spec::new("smismember", -3, READONLY | FAST, smismember).keys(1, 1, 1),
    Spec::new("scard", 2, READONLY | FAST, scard).keys(1, 1, 1),
    Spec::new("spop", -2, WRITE | FAST, spop).keys(1, 1, 1),
    Spec::new("srandmember", -2, READONLY, srandmember).keys(1, 1, 1),
    Spec::new("smove", 4, WRITE | FAST, smove).keys(1, 2, 1),
    Spec::new("sinter", -2, READONLY, sinter).keys(1, -1, 1),
    Spec::new("sunion", -2, READONLY, sunion).keys(1, -1, 1),
    Spec::new("sdiff", -2, READONLY, sdiff).keys(1, -1, 1),
    Spec::new("sinterstore", -3, WRITE | DENYOOM, sinterstore).keys(1, -1, 1),
    Spec::new("sunionstore", -3, WRITE | DENYOOM, sunionstore).keys(1, -1, 1),
    Spec::new("sdiffstore", -3, WRITE | DENYOOM, sdiffstore).keys(1, -1, 1),
    Spec::new("sintercard", -3, READONLY | MOVABLE_KEYS, sintercard),
    Spec::new("sscan", -3, READONLY, sscan).keys(1, 1, 1),
];

type CmdResult = Result<Reply, CmdError>;

/// Members per propagated `SREM` when SPOP pops many (Redis's batch size).
const SPOP_BATCH: usize = 1024;

/// The compact-encoding thresholds in force (from the configuration, without a lock).
fn limits(cx: &Exec) -> EncodingLimits {
    cx.engine.command_config.encodings
}

fn members_reply(members: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

/// The set at `key` for reading, counting a keyspace hit or miss.
fn read_set<'c>(cx: &'c mut Exec, key: &[u8]) -> Result<Option<&'c Set>, CmdError> {
    let now = cx.now;
    let found = cx.db().get_set(key, now)?.is_some();
    cx.lookup_stat(found);
    Ok(cx.db().get_set(key, now)?)
}

/// `SADD key member [member ...]`
fn sadd(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let members = args.rest();
    let now = cx.now;
    let limits = limits(cx);
    let set = cx.db().set_or_create(key, now)?;
    let mut added = 0;
    for member in members {
        if set.insert(&member[..], &limits) {
            added += 1;
        }
    }
    // A new key always gets at least one member, so nothing empty is left behind.
    if added > 0 {
        cx.touch(key);
        cx.dirty(added);
    }
    Ok(Reply::Int(added as i64))
}

/// `SREM key member [member ...]`
fn srem(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let members = args.rest();
    let now = cx.now;
    let Some(set) = cx.db().get_set_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let mut removed = 0;
    for member in members {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(removed);
    }
    Ok(Reply::Int(removed as i64))
}

/// `SMEMBERS key`
fn smembers(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let members: Vec<Bytes> = read_set(cx, key)?
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    Ok(members_reply(members))
}

/// `SISMEMBER key member`
fn sismember(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let member = args.next()?;
    let found = read_set(cx, key)?.is_some_and(|s| s.contains(&member[..]));
    Ok(Reply::Int(found as i64))
}

/// `SMISMEMBER key member [member ...]`
fn smismember(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let members = args.rest();
    let set = read_set(cx, key)?;
    Ok(Reply::Array(
        members
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.contains(&m[..])) as i64))
            .collect(),
    ))
}

/// `SCARD key`
fn scard(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    Ok(Reply::Int(read_set(cx, key)?.map_or(0, |s| s.len()) as i64))
}

/// `SPOP key [count]`: propagated as `SREM` (or `DEL` when the whole set goes).
fn spop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let count = match args.remaining() {
        0 => None,
        1 => match parse_int(args.next()?) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return Err(CmdError::not_positive("value")),
        },
        _ => return Err(CmdError::syntax()),
    };
    let now = cx.now;
    let db_index = cx.session.db;
    let engine = &mut *cx.engine;
    let Some(set) = engine.dbs[db_index].get_set_mut(key, now)? else {
        return Ok(match count {
            None => Reply::Null,
            Some(_) => Reply::Set(Vec::new()),
        });
    };
    let Some(count) = count else {
        let member = set
            .pop_random(&mut engine.rng)
            .expect("a set is never empty");
        engine.dbs[db_index].remove_if_empty(key);
        cx.modified(key);
        cx.propagate_as(vec![
            Bytes::from_static(b"SREM"),
            key.clone(),
            member.clone(),
        ]);
        return Ok(Reply::Bulk(member));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    if count >= set.len() as u64 {
        let Some(Value::Set(all)) = engine.dbs[db_index].remove(key) else {
            unreachable!("checked to be a set above");
        };
        cx.modified(key);
        cx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(members_reply(all.iter()));
    }
    let popped = set.pop_random_members(&mut engine.rng, count as usize);
    cx.modified(key);
    for batch in popped.chunks(SPOP_BATCH) {
        let mut argv = Vec::with_capacity(batch.len() + 2);
        argv.push(Bytes::from_static(b"SREM"));
        argv.push(key.clone());
        argv.extend(batch.iter().cloned());
        cx.propagate_as(argv);
    }
    Ok(members_reply(popped))
}

/// `SRANDMEMBER key [count]`: a negative count may repeat members.
fn srandmember(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let count = match args.remaining() {
        0 => None,
        1 => {
            let n = args.next_i64()?;
            if n == i64::MIN {
                return Err(CmdError::range_between(-i64::MAX, i64::MAX));
            }
            Some(n)
        }
        _ => return Err(CmdError::syntax()),
    };
    let now = cx.now;
    let db_index = cx.session.db;
    let engine = &mut *cx.engine;
    let set = engine.dbs[db_index].get_set(key, now)?;
    let Some(count) = count else {
        let member = set.and_then(|s| s.random_member(&mut engine.rng));
        return Ok(member.map_or(Reply::Null, Reply::Bulk));
    };
    let Some(set) = set else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picks = super::args::random_picks(count)?;
    Ok(Reply::bulks(set.random_members(&mut engine.rng, picks)))
}

/// `SMOVE source destination member`
fn smove(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let src = args.next()?;
    let dst = args.next()?;
    let member = args.next()?;
    let now = cx.now;
    let limits = limits(cx);
    let db = cx.db();
    // Redis looks both keys up first; a missing source answers 0 even if the destination
    // holds another type.
    let dst_type = db.get_set(dst, now).map(|s| s.is_some());
    let Some(source) = db.get_set(src, now)? else {
        return Ok(Reply::Int(0));
    };
    let in_source = source.contains(&member[..]);
    dst_type?;
    if src == dst {
        return Ok(Reply::Int(in_source as i64));
    }
    if !in_source {
        return Ok(Reply::Int(0));
    }
    let source = db.get_set_mut(src, now)?.expect("checked above");
    source.remove(member);
    db.remove_if_empty(src);
    let added = db.set_or_create(dst, now)?.insert(&member[..], &limits);
    cx.modified(src);
    if added {
        cx.modified(dst);
    }
    Ok(Reply::Int(1))
}

/// The sets at `keys` (None for a missing key), after checking every key's type in order.
fn load_sets<'c>(cx: &'c mut Exec, keys: &[Bytes]) -> Result<Vec<Option<&'c Set>>, CmdError> {
    let now = cx.now;
    for key in keys {
        let found = cx.db().get_set(key, now)?.is_some();
        cx.lookup_stat(found);
    }
    let db = &*cx.db();
    Ok(keys
        .iter()
        .map(|k| match db.peek(k) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect())
}

/// The intersection, stopping after `limit` members (0 = no limit).
fn intersect(sets: &[Option<&Set>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new(); // a missing key is an empty set
    };
    sets.sort_by_key(|s| s.len());
    let (smallest, others) = sets.split_first().expect("at least one key");
    let mut out = Vec::new();
    for member in smallest.iter() {
        if others.iter().all(|s| s.contains(&member)) {
            out.push(member);
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

fn union(sets: &[Option<&Set>], limits: &EncodingLimits) -> Set {
    let mut out = Set::new();
    for set in sets.iter().flatten() {
        for member in set.iter() {
            out.insert(member, limits);
        }
    }
    out
}

fn difference(sets: &[Option<&Set>], limits: &EncodingLimits) -> Set {
    let (first, others) = sets.split_first().expect("at least one key");
    let mut out = Set::new();
    for member in first.iter().flat_map(|s| s.iter()) {
        if !others.iter().flatten().any(|s| s.contains(&member)) {
            out.insert(member, limits);
        }
    }
    out
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// The result of `op` as a set (an intersection comes in the smallest set's order, as a list).
fn compute(cx: &mut Exec, keys: &[Bytes], op: SetOp) -> Result<Vec<Bytes>, CmdError> {
    let limits = limits(cx);
    let sets = load_sets(cx, keys)?;
    Ok(match op {
        SetOp::Inter => intersect(&sets, 0),
        SetOp::Union => union(&sets, &limits).iter().collect(),
        SetOp::Diff => difference(&sets, &limits).iter().collect(),
    })
}

fn read_op(cx: &mut Exec, args: &mut Args, op: SetOp) -> CmdResult {
    let keys = args.rest();
    Ok(members_reply(compute(cx, keys, op)?))
}

/// Stores the result at `dst` (deleting it when the result is empty); replies its size.
fn store_op(cx: &mut Exec, args: &mut Args, op: SetOp) -> CmdResult {
    let dst = args.next()?;
    let keys = args.rest();
    let result = compute(cx, keys, op)?;
    let len = result.len() as i64;
    let now = cx.now;
    if result.is_empty() {
        if cx.db().contains(dst, now) {
            cx.db().remove(dst);
            cx.modified(dst);
        }
    } else {
        let limits = limits(cx);
        let mut set = Set::new();
        for member in result {
            set.insert(member, &limits);
        }
        cx.db().set(Bytes::copy_from_slice(dst), Value::Set(set));
        cx.modified(dst);
    }
    Ok(Reply::Int(len))
}

/// `SINTER key [key ...]`
fn sinter(cx: &mut Exec, args: &mut Args) -> CmdResult {
    read_op(cx, args, SetOp::Inter)
}

/// `SUNION key [key ...]`
fn sunion(cx: &mut Exec, args: &mut Args) -> CmdResult {
    read_op(cx, args, SetOp::Union)
}

/// `SDIFF key [key ...]`
fn sdiff(cx: &mut Exec, args: &mut Args) -> CmdResult {
    read_op(cx, args, SetOp::Diff)
}

/// `SINTERSTORE destination key [key ...]`
fn sinterstore(cx: &mut Exec, args: &mut Args) -> CmdResult {
    store_op(cx, args, SetOp::Inter)
}

/// `SUNIONSTORE destination key [key ...]`
fn sunionstore(cx: &mut Exec, args: &mut Args) -> CmdResult {
    store_op(cx, args, SetOp::Union)
}

/// `SDIFFSTORE destination key [key ...]`
fn sdiffstore(cx: &mut Exec, args: &mut Args) -> CmdResult {
    store_op(cx, args, SetOp::Diff)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
fn sintercard(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let numkeys = match parse_int(args.next()?) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::numkeys_not_positive()),
    };
    if numkeys > args.remaining() as u64 {
        return Err(CmdError::numkeys_too_many());
    }
    let all = args.rest();
    let (keys, options) = all.split_at(numkeys as usize);
    let mut limit = 0usize;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match options.as_slice().first() {
            Some(value) if option.eq_ignore_ascii_case(b"LIMIT") => {
                options.next();
                limit = match parse_int(value) {
                    Ok(n) if n >= 0 => n as usize,
                    _ => return Err(CmdError::cant_be_negative("LIMIT")),
                };
            }
            _ => return Err(CmdError::syntax()),
        }
    }
    let sets = load_sets(cx, keys)?;
    Ok(Reply::Int(intersect(&sets, limit).len() as i64))
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let cursor = parse_cursor(args.next()?)?;
    let Some(set) = read_set(cx, key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = ScanOptions::parse(args)?;
    let mut items = Vec::new();
    let next = set.scan(cursor, options.count, |member| {
        if options.matches(&member) {
            items.push(member);
        }
    });
    Ok(scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    #[test]
    fn intsets_follow_the_configured_threshold_and_never_go_back() {
        let mut h = Harness::new();
        let encoding = |h: &mut Harness, key: &str| h.run(&["object", "encoding", key]);
        h.run(&["sadd", "s", "3", "-1", "2"]);
        assert_eq!(encoding(&mut h, "s"), bulk("intset"));
        assert_eq!(
            h.run(&["smembers", "s"]),
            Reply::Set(vec![bulk("-1"), bulk("2"), bulk("3")]),
            "an intset is sorted"
        );
        h.run(&["sadd", "mixed", "1", "a"]);
        assert_eq!(encoding(&mut h, "mixed"), bulk("hashtable"));
        h.run(&["srem", "mixed", "a"]);
        assert_eq!(
            encoding(&mut h, "mixed"),
            bulk("hashtable"),
            "never converted back"
        );
        h.run(&["sadd", "nonint", "01"]);
        assert_eq!(encoding(&mut h, "nonint"), bulk("hashtable"));

        h.run(&["config", "set", "set-max-intset-entries", "3"]);
        h.run(&["sadd", "s", "2"]);
        assert_eq!(encoding(&mut h, "s"), bulk("intset"), "3 members fit");
        h.run(&["sadd", "s", "4"]);
        assert_eq!(encoding(&mut h, "s"), bulk("hashtable"));
        h.run(&["sadd", "t", "7", "8"]);
        assert_eq!(h.run(&["sunionstore", "u", "t", "mixed"]), Reply::Int(3));
        assert_eq!(
            encoding(&mut h, "u"),
            bulk("intset"),
            "a result of integers is an intset"
        );
        h.run(&["smove", "t", "m", "7"]);
        assert_eq!(encoding(&mut h, "m"), bulk("intset"));
        assert_eq!(
            h.run(&["sscan", "u", "0", "count", "1"]),
            Reply::Array(vec![
                bulk("0"),
                Reply::Array(vec![bulk("1"), bulk("7"), bulk("8")]),
            ])
        );
    }

    fn keys(h: &Harness) -> usize {
        h.shared.engine().dbs[0].len()
    }

    fn ints(v: &[i64]) -> Reply {
        Reply::Array(v.iter().map(|&i| Reply::Int(i)).collect())
    }

    /// The members of an array or set reply as sorted strings.
    fn sorted(reply: &Reply) -> Vec<String> {
        let (Reply::Array(items) | Reply::Set(items)) = reply else {
            panic!("not an array or set: {reply:?}")
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
    fn add_remove_and_membership() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["sadd", "s", "a", "b", "a"]), Reply::Int(2));
        assert_eq!(h.run(&["sadd", "s", "b", "c"]), Reply::Int(1));
        assert_eq!(sorted(&h.run(&["smembers", "s"])), ["a", "b", "c"]);
        assert_eq!(h.run(&["smembers", "nope"]), Reply::Set(vec![]));
        assert_eq!(h.run(&["scard", "s"]), Reply::Int(3));
        assert_eq!(h.run(&["scard", "nope"]), Reply::Int(0));
        assert_eq!(h.run(&["sismember", "s", "a"]), Reply::Int(1));
        assert_eq!(h.run(&["sismember", "s", "z"]), Reply::Int(0));
        assert_eq!(h.run(&["smismember", "s", "a", "z", "c"]), ints(&[1, 0, 1]));
        assert_eq!(h.run(&["smismember", "nope", "a"]), ints(&[0]));
        assert_eq!(h.run(&["srem", "s", "a", "z"]), Reply::Int(1));
        assert_eq!(h.run(&["srem", "nope", "a"]), Reply::Int(0));
        assert_eq!(h.run(&["srem", "s", "b", "c"]), Reply::Int(2));
        assert_eq!(keys(&h), 0, "an emptied set is deleted");
        assert_eq!(
            h.run(&["sadd", "s"]),
            err("ERR wrong number of arguments for 'sadd' command")
        );
        h.run(&["set", "str", "v"]);
        for cmd in [
            &["sadd", "str", "a"][..],
            &["srem", "str", "a"],
            &["smembers", "str"],
            &["sismember", "str", "a"],
            &["smismember", "str", "a"],
            &["scard", "str"],
            &["spop", "str"],
            &["spop", "str", "2"],
            &["srandmember", "str"],
            &["srandmember", "str", "2"],
            &["sinter", "nope", "str"],
            &["sunion", "str"],
            &["sdiff", "nope", "str"],
            &["sinterstore", "d", "nope", "str"],
            &["sintercard", "2", "nope", "str"],
            &["sscan", "str", "0"],
        ] {
            assert_eq!(h.run(cmd), err(WRONGTYPE), "{cmd:?}");
        }
    }

    #[test]
    fn spop_and_srandmember() {
        let mut h = Harness::new();
        h.propagated();
        assert_eq!(h.run(&["spop", "nope"]), Reply::Null);
        assert_eq!(h.run(&["spop", "nope", "2"]), Reply::Set(vec![]));
        assert_eq!(
            h.run(&["spop", "nope", "-1"]),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(h.run(&["spop", "nope", "1", "2"]), err("ERR syntax error"));
        h.run(&["sadd", "s", "a", "b", "c", "d", "e"]);
        let Reply::Bulk(one) = h.run(&["spop", "s"]) else {
            panic!()
        };
        let two = sorted(&h.run(&["spop", "s", "2"]));
        assert_eq!(two.len(), 2);
        assert_eq!(h.run(&["spop", "s", "0"]), Reply::Set(vec![]));
        assert_eq!(h.run(&["scard", "s"]), Reply::Int(2));
        let rest = sorted(&h.run(&["spop", "s", "10"]));
        assert_eq!(rest.len(), 2);
        assert_eq!(keys(&h), 0);
        let mut all: Vec<String> = [
            vec![String::from_utf8(one.to_vec()).unwrap()],
            two.clone(),
            rest,
        ]
        .concat();
        all.sort();
        assert_eq!(all, ["a", "b", "c", "d", "e"]);
        let p = h.propagated();
        assert_eq!(p[0][0], "sadd");
        assert_eq!(p[1][..2], ["SREM", "s"]);
        assert_eq!(p[1].len(), 3);
        let mut srem2 = p[2][2..].to_vec();
        srem2.sort();
        assert_eq!(p[2][..2], ["SREM", "s"]);
        assert_eq!(srem2, two);
        assert_eq!(p[3], ["DEL", "s"]);
        assert_eq!(p.len(), 4);

        assert_eq!(h.run(&["srandmember", "nope"]), Reply::Null);
        assert_eq!(h.run(&["srandmember", "nope", "3"]), Reply::Array(vec![]));
        h.run(&["sadd", "r", "a", "b", "c"]);
        assert_eq!(sorted(&h.run(&["srandmember", "r", "5"])), ["a", "b", "c"]);
        let picked = sorted(&h.run(&["srandmember", "r", "2"]));
        assert_eq!(picked.len(), 2);
        assert_ne!(picked[0], picked[1]);
        assert_eq!(sorted(&h.run(&["srandmember", "r", "-7"])).len(), 7);
        assert_eq!(h.run(&["srandmember", "r", "0"]), Reply::Array(vec![]));
        assert!(matches!(h.run(&["srandmember", "r"]), Reply::Bulk(_)));
        assert_eq!(
            h.run(&["srandmember", "r", "1", "2"]),
            err("ERR syntax error")
        );
        assert_eq!(h.run(&["scard", "r"]), Reply::Int(3));
    }

    #[test]
    fn smove() {
        let mut h = Harness::new();
        h.run(&["sadd", "a", "x", "y"]);
        h.run(&["set", "str", "v"]);
        assert_eq!(h.run(&["smove", "a", "b", "x"]), Reply::Int(1));
        assert_eq!(h.run(&["smove", "a", "b", "zz"]), Reply::Int(0));
        assert_eq!(h.run(&["smove", "a", "a", "y"]), Reply::Int(1));
        assert_eq!(h.run(&["smove", "nope", "str", "y"]), Reply::Int(0));
        assert_eq!(h.run(&["smove", "a", "str", "y"]), err(WRONGTYPE));
        assert_eq!(h.run(&["smove", "str", "a", "y"]), err(WRONGTYPE));
        assert_eq!(h.run(&["smove", "a", "b", "y"]), Reply::Int(1));
        assert_eq!(sorted(&h.run(&["smembers", "b"])), ["x", "y"]);
        assert_eq!(keys(&h), 2, "a is deleted once empty");
    }

    #[test]
    fn algebra_and_store() {
        let mut h = Harness::new();
        h.run(&["sadd", "k1", "a", "b", "c", "d"]);
        h.run(&["sadd", "k2", "c", "d", "e"]);
        assert_eq!(sorted(&h.run(&["sinter", "k1", "k2"])), ["c", "d"]);
        assert_eq!(h.run(&["sinter", "k1", "nope"]), Reply::Set(vec![]));
        assert_eq!(
            sorted(&h.run(&["sunion", "k1", "k2", "nope"])),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(sorted(&h.run(&["sdiff", "k1", "k2", "nope"])), ["a", "b"]);
        assert_eq!(h.run(&["sdiff", "nope", "k1"]), Reply::Set(vec![]));
        assert!(matches!(h.run(&["sunion", "k1"]), Reply::Set(_)));
        h.propagated();
        assert_eq!(h.run(&["sinterstore", "d", "k1", "k2"]), Reply::Int(2));
        assert_eq!(sorted(&h.run(&["smembers", "d"])), ["c", "d"]);
        assert_eq!(h.run(&["sunionstore", "d", "k1", "k2"]), Reply::Int(5));
        assert_eq!(h.run(&["sdiffstore", "d", "k1", "k2"]), Reply::Int(2));
        assert_eq!(sorted(&h.run(&["smembers", "d"])), ["a", "b"]);
        assert_eq!(h.run(&["sinterstore", "d", "k1", "nope"]), Reply::Int(0));
        assert_eq!(keys(&h), 2, "an empty result deletes the destination");
        assert_eq!(h.run(&["sinterstore", "d", "k1", "nope"]), Reply::Int(0));
        h.run(&["set", "str", "v"]);
        assert_eq!(h.run(&["sunionstore", "str", "k2"]), Reply::Int(3));
        assert_eq!(sorted(&h.run(&["smembers", "str"])), ["c", "d", "e"]);
        let p = h.propagated();
        assert_eq!(p.len(), 6, "the no-op store is not propagated: {p:?}");
        assert_eq!(p[3], ["sinterstore", "d", "k1", "nope"]);
        assert_eq!(
            h.run(&["sinterstore", "d"]),
            err("ERR wrong number of arguments for 'sinterstore' command")
        );
    }

    #[test]
    fn sintercard() {
        let mut h = Harness::new();
        h.run(&["sadd", "k1", "a", "b", "c", "d"]);
        h.run(&["sadd", "k2", "c", "d", "e", "a"]);
        assert_eq!(h.run(&["sintercard", "2", "k1", "k2"]), Reply::Int(3));
        assert_eq!(
            h.run(&["sintercard", "2", "k1", "k2", "LIMIT", "2"]),
            Reply::Int(2)
        );
        assert_eq!(
            h.run(&["sintercard", "2", "k1", "k2", "limit", "0"]),
            Reply::Int(3)
        );
        assert_eq!(h.run(&["sintercard", "1", "k1"]), Reply::Int(4));
        assert_eq!(h.run(&["sintercard", "2", "k1", "nope"]), Reply::Int(0));
        assert_eq!(
            h.run(&["sintercard", "0", "k1"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            h.run(&["sintercard", "x", "k1"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            h.run(&["sintercard", "3", "k1", "k2"]),
            err("ERR Number of keys can't be greater than number of args")
        );
        assert_eq!(
            h.run(&["sintercard", "1", "k1", "LIMIT", "-1"]),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(
            h.run(&["sintercard", "1", "k1", "LIMIT"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["sintercard", "1", "k1", "k2"]),
            err("ERR syntax error")
        );
        let spec = crate::cmd::lookup(b"sintercard").unwrap();
        assert!(spec.has(crate::cmd::flags::MOVABLE_KEYS));
        assert_eq!((spec.first_key, spec.last_key, spec.key_step), (0, 0, 0));
    }

    #[test]
    fn sscan() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["sscan", "nope", "0"]),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
        );
        h.run(&["sadd", "ints", "1", "2", "3", "10"]);
        assert_eq!(
            h.run(&["sscan", "ints", "0", "COUNT", "1", "MATCH", "1*"]),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("1"), bulk("10")])]),
            "an intset is returned whole"
        );
        assert_eq!(h.run(&["sscan", "ints", "abc"]), err("ERR invalid cursor"));
        assert_eq!(
            h.run(&["sscan", "ints", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        let mut words = vec!["sadd".to_string(), "big".to_string()];
        words.extend((0..200).map(|i| format!("m{i}")));
        let words: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        h.run(&words);
        let mut cursor = "0".to_string();
        let mut seen = std::collections::HashSet::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let Reply::Array(parts) = h.run(&["sscan", "big", &cursor]) else {
                panic!()
            };
            let Reply::Bulk(next) = &parts[0] else {
                panic!()
            };
            seen.extend(sorted(&parts[1]));
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 200);
        // A call stops once it has 10; the last may find the rest of the table empty.
        assert!(
            (20..=21).contains(&calls),
            "COUNT defaults to 10: {calls} calls"
        );
    }
}
