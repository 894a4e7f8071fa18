//! The list commands (`t_list.c`): pushes and pops at both ends, ranges, LPOS, moves between
//! lists, and the blocking pops.
//!
//! Blocking commands serve at once when a key has data; otherwise they ask the connection to
//! block (or answer nil inside MULTI). When a key they wait on is pushed to, the runtime runs the
//! same command again; a re-run that still finds nothing (or finds a key of the wrong type, which
//! Redis does not wake list waiters for) blocks again and keeps its place. Served blocking pops
//! are propagated as the plain command (`LPOP key`, `LMOVE ...`, `RPOPLPUSH ...`), as Redis 7.0
//! does, so replicas never block.

use std::time::Duration;

use bytes::Bytes;

use super::args::{parse_int, parse_timeout, MpopArgs};
use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::reply::BulkArrayBuilder;
use crate::resp::Reply;
use crate::store::list::{self, Fill, List};
use crate::store::listpack::{Entry, Needle};
use crate::store::Str;

/// The list commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("lpush", -3, WRITE | DENYOOM | FAST, lpush).keys(1, 1, 1),
    Spec::new("rpush", -3, WRITE | DENYOOM | FAST, rpush).keys(1, 1, 1),
    Spec::new("lpushx", -3, WRITE | DENYOOM | FAST, lpushx).keys(1, 1, 1),
    Spec::new("rpushx", -3, WRITE | DENYOOM | FAST, rpushx).keys(1, 1, 1),
    Spec::new("lpop", -2, WRITE | FAST, lpop).keys(1, 1, 1),
    Spec::new("rpop", -2, WRITE | FAST, rpop).keys(1, 1, 1),
    Spec::new("llen", 2, READONLY | FAST, llen).keys(1, 1, 1),
    Spec::new("lrange", 4, READONLY, lrange).keys(1, 1, 1),
    Spec::new("lindex", 3, READONLY, lindex).keys(1, 1, 1),
    Spec::new("lset", 4, WRITE | DENYOOM, lset).keys(1, 1, 1),
    Spec::new("lrem", 4, WRITE, lrem).keys(1, 1, 1),
    Spec::new("ltrim", 4, WRITE, ltrim).keys(1, 1, 1),
    Spec::new("linsert", 5, WRITE | DENYOOM, linsert).keys(1, 1, 1),
    Spec::new("lpos", -3, READONLY, lpos).keys(1, 1, 1),
    Spec::new("lmove", 5, WRITE | DENYOOM, lmove).keys(1, 2, 1),
    Spec::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush).keys(1, 2, 1),
    Spec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop).keys(1, -2, 1),
    Spec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop).keys(1, -2, 1),
    Spec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove).keys(1, 2, 1),
    Spec::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        brpoplpush,
    )
    .keys(1, 2, 1),
    Spec::new("lmpop", -4, WRITE | MOVABLE_KEYS, lmpop),
    Spec::new("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, blmpop),
];

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if arg.eq_ignore_ascii_case(b"LEFT") {
            Ok(End::Left)
        } else if arg.eq_ignore_ascii_case(b"RIGHT") {
            Ok(End::Right)
        } else {
            Err(CmdError::syntax())
        }
    }

    fn word(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LEFT",
            End::Right => b"RIGHT",
        })
    }
}

impl From<End> for list::End {
    fn from(end: End) -> list::End {
        match end {
            End::Left => list::End::Head,
            End::Right => list::End::Tail,
        }
    }
}

fn pop(list: &mut List, end: End) -> Option<Str> {
    list.pop(end.into())
}

/// The list node limit in force (`list-max-listpack-size`, read without a lock).
fn fill(cx: &Exec) -> Fill {
    cx.engine.command_config.encodings.list_fill()
}

/// What a blocking command answers when its timeout passes: a nil bulk for BLMOVE and
/// BRPOPLPUSH, a nil array for the other blocking pops.
pub fn timeout_reply(command: &[u8]) -> Reply {
    if command.eq_ignore_ascii_case(b"blmove") || command.eq_ignore_ascii_case(b"brpoplpush") {
        Reply::Null
    } else {
        Reply::NullArray
    }
}

/// True while the runtime re-runs this client's blocking command for a key that became ready.
fn is_rerun(cx: &Exec) -> bool {
    cx.engine.waiter(cx.session.id).is_some()
}

/// Normalises a possibly negative index against `len`; None if out of range.
fn list_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

fn push_generic(cx: &mut Exec, args: &mut Args, end: End, only_existing: bool) -> CmdResult {
    let key = args.next()?;
    let values = args.rest();
    let now = cx.now;
    let fill = fill(cx);
    let db = cx.db();
    let list = if only_existing {
        match db.get_list_mut(key, now)? {
            Some(list) => list,
            None => return Ok(Reply::Int(0)),
        }
    } else {
        db.list_or_create(key, now)?
    };
    for value in values {
        list.push(end.into(), value, fill);
    }
    let len = list.len() as i64;
    cx.touch(key);
    cx.dirty(values.len() as u64);
    Ok(Reply::Int(len))
}

type CmdResult = Result<Reply, CmdError>;

/// `LPUSH key element [element ...]`
fn lpush(cx: &mut Exec, args: &mut Args) -> CmdResult {
    push_generic(cx, args, End::Left, false)
}

/// `RPUSH key element [element ...]`
fn rpush(cx: &mut Exec, args: &mut Args) -> CmdResult {
    push_generic(cx, args, End::Right, false)
}

/// `LPUSHX key element [element ...]`: only if the list exists.
fn lpushx(cx: &mut Exec, args: &mut Args) -> CmdResult {
    push_generic(cx, args, End::Left, true)
}

/// `RPUSHX key element [element ...]`: only if the list exists.
fn rpushx(cx: &mut Exec, args: &mut Args) -> CmdResult {
    push_generic(cx, args, End::Right, true)
}

fn pop_generic(cx: &mut Exec, args: &mut Args, end: End, name: &str) -> CmdResult {
    let key = args.next()?;
    if args.remaining() > 1 {
        return Err(CmdError::arity(name));
    }
    let count = match args.peek() {
        None => None,
        Some(arg) => match parse_int(arg) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::not_positive("value")),
        },
    };
    let now = cx.now;
    let Some(list) = cx.db().get_list_mut(key, now)? else {
        return Ok(if count.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        });
    };
    let reply = match count {
        Some(0) => return Ok(Reply::Array(Vec::new())),
        Some(n) => Reply::Array(
            list.pop_many(end.into(), n)
                .into_iter()
                .map(Reply::Str)
                .collect(),
        ),
        None => match pop(list, end) {
            Some(value) => Reply::Str(value),
            None => Reply::Null,
        },
    };
    cx.db().remove_if_empty(key);
    cx.modified(key);
    Ok(reply)
}

/// `LPOP key [count]`
fn lpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    pop_generic(cx, args, End::Left, "lpop")
}

/// `RPOP key [count]`
fn rpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    pop_generic(cx, args, End::Right, "rpop")
}

/// `LLEN key`
fn llen(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let now = cx.now;
    let len = cx.db().get_list(key, now)?.map(|l| l.len());
    cx.lookup_stat(len.is_some());
    Ok(Reply::Int(len.unwrap_or(0) as i64))
}

/// `LRANGE key start stop`
fn lrange(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    let now = cx.now;
    let found = cx.db().get_list(key, now)?.map(|list| {
        let Some((s, e)) = super::args::index_range(start, end, list.len()) else {
            return BulkArrayBuilder::default().finish();
        };
        // Written straight from the listpack nodes; 16 bytes of framing per element is a
        // guess that is exact for elements of up to 9 bytes.
        let mut reply = BulkArrayBuilder::with_capacity((e - s + 1) * 16);
        for entry in list.range_forward(s, e) {
            match entry {
                Entry::Str(bytes) => reply.push(bytes),
                Entry::Int(n) => reply.push_int(n),
            }
        }
        reply.finish()
    });
    cx.lookup_stat(found.is_some());
    Ok(found.unwrap_or_else(|| BulkArrayBuilder::default().finish()))
}

/// `LINDEX key index`
fn lindex(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let index_arg = args.next()?;
    let now = cx.now;
    let Some(list) = cx.db().get_list(key, now)? else {
        cx.lookup_stat(false);
        return Ok(Reply::Null);
    };
    let value = parse_int(index_arg)
        .map(|index| list_index(index, list.len()).and_then(|i| list.get(i).map(|e| e.to_str())))?;
    cx.lookup_stat(true);
    Ok(value.map_or(Reply::Null, Reply::Str))
}

/// `LSET key index element`
fn lset(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let index_arg = args.next()?;
    let value = args.next()?;
    let now = cx.now;
    let Some(list) = cx.db().get_list_mut(key, now)? else {
        return Err(CmdError::no_such_key());
    };
    let index = parse_int(index_arg)?;
    let i = list_index(index, list.len()).ok_or_else(CmdError::index_out_of_range)?;
    list.set(i, value);
    cx.modified(key);
    Ok(Reply::ok())
}

/// `LREM key count element`: count > 0 removes from the head, < 0 from the tail, 0 all.
fn lrem(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let count = args.next_i64()?;
    let element = args.next()?;
    let now = cx.now;
    let Some(list) = cx.db().get_list_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let removed = list.remove(element, limit, count < 0);
    if removed > 0 {
        cx.db().remove_if_empty(key);
        cx.touch(key);
        cx.dirty(removed as u64);
    }
    Ok(Reply::Int(removed as i64))
}

/// `LTRIM key start stop`
fn ltrim(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    let now = cx.now;
    let Some(list) = cx.db().get_list_mut(key, now)? else {
        return Ok(Reply::ok());
    };
    let len = list.len();
    let (left, right) = match super::args::index_range(start, end, len) {
        Some((s, e)) => (s, len - e - 1),
        None => (len, 0),
    };
    list.drop_back(right);
    list.drop_front(left);
    cx.db().remove_if_empty(key);
    cx.touch(key);
    cx.dirty((left + right) as u64);
    Ok(Reply::ok())
}

/// `LINSERT key BEFORE|AFTER pivot element`
fn linsert(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let after = if args.eat("AFTER") {
        true
    } else if args.eat("BEFORE") {
        false
    } else {
        return Err(CmdError::syntax());
    };
    let pivot = args.next()?;
    let element = args.next()?;
    let now = cx.now;
    let fill = fill(cx);
    let Some(list) = cx.db().get_list_mut(key, now)? else {
        return Ok(Reply::Int(0));
    };
    let Some(at) = list.position(pivot) else {
        return Ok(Reply::Int(-1));
    };
    list.insert(if after { at + 1 } else { at }, element, fill);
    let len = list.len() as i64;
    cx.modified(key);
    Ok(Reply::Int(len))
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let key = args.next()?;
    let element = args.next()?;
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    while let Some(option) = args.peek() {
        args.next()?;
        let has_value = !args.is_empty();
        if option.eq_ignore_ascii_case(b"RANK") && has_value {
            rank = args.next_i64()?;
            if rank == i64::MIN {
                return Err(CmdError::range_between(-i64::MAX, i64::MAX));
            }
            if rank == 0 {
                return Err(CmdError::lpos_rank_zero());
            }
        } else if option.eq_ignore_ascii_case(b"COUNT") && has_value {
            match parse_int(args.next()?) {
                Ok(n) if n >= 0 => count = Some(n as usize),
                _ => return Err(CmdError::cant_be_negative("COUNT")),
            }
        } else if option.eq_ignore_ascii_case(b"MAXLEN") && has_value {
            match parse_int(args.next()?) {
                Ok(n) if n >= 0 => maxlen = n as usize,
                _ => return Err(CmdError::cant_be_negative("MAXLEN")),
            }
        } else {
            return Err(CmdError::syntax());
        }
    }
    let now = cx.now;
    let Some(list) = cx.db().get_list(key, now)? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Null
        });
    };
    let len = list.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let skip = (rank.unsigned_abs() - 1).min(usize::MAX as u64) as usize;
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(n) => n,
    };
    let needle = Needle::new(element);
    let matches: Vec<usize> = if rank < 0 {
        list.iter()
            .rev()
            .take(scan)
            .enumerate()
            .filter(|&(_, e)| needle.matches(e))
            .map(|(i, _)| len - 1 - i)
            .skip(skip)
            .take(wanted)
            .collect()
    } else {
        list.iter()
            .take(scan)
            .enumerate()
            .filter(|&(_, e)| needle.matches(e))
            .map(|(i, _)| i)
            .skip(skip)
            .take(wanted)
            .collect()
    };
    Ok(match count {
        Some(_) => Reply::Array(matches.into_iter().map(|i| Reply::Int(i as i64)).collect()),
        None => matches
            .first()
            .map_or(Reply::Null, |&i| Reply::Int(i as i64)),
    })
}

/// Pops from `src` and pushes to `dst` (they may be the same list). None if `src` is missing.
/// A destination of the wrong type is an error, also for a blocked client being served: Redis
/// unblocks it with WRONGTYPE and leaves the source untouched.
fn move_element(
    cx: &mut Exec,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Result<Option<Str>, CmdError> {
    let now = cx.now;
    match cx.db().get_list(src, now)? {
        Some(list) if !list.is_empty() => {}
        _ => return Ok(None),
    }
    cx.db().get_list(dst, now)?;
    let value = cx
        .db()
        .get_list_mut(src, now)?
        .and_then(|list| pop(list, from))
        .expect("source checked non-empty above");
    let fill = fill(cx);
    cx.db()
        .list_or_create(dst, now)?
        .push(to.into(), &value, fill);
    cx.touch(dst);
    cx.db().remove_if_empty(src);
    cx.modified(src);
    Ok(Some(value))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
fn lmove(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let src = args.next()?;
    let dst = args.next()?;
    let from = End::parse(args.next()?)?;
    let to = End::parse(args.next()?)?;
    Ok(move_element(cx, src, dst, from, to)?.map_or(Reply::Null, Reply::Str))
}

/// `RPOPLPUSH source destination`
fn rpoplpush(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let src = args.next()?;
    let dst = args.next()?;
    Ok(move_element(cx, src, dst, End::Right, End::Left)?.map_or(Reply::Null, Reply::Str))
}

fn owned_keys(keys: &[Bytes]) -> Vec<Bytes> {
    keys.iter().map(|k| Bytes::copy_from_slice(k)).collect()
}

fn blocking_pop(cx: &mut Exec, args: &mut Args, end: End) -> CmdResult {
    let rest = args.rest();
    let (timeout_arg, keys) = rest.split_last().ok_or_else(CmdError::syntax)?;
    let timeout = parse_timeout(timeout_arg)?;
    let rerun = is_rerun(cx);
    let now = cx.now;
    for key in keys {
        let list = match cx.db().get_list_mut(key, now) {
            Ok(Some(list)) => list,
            Ok(None) => continue,
            Err(_) if rerun => continue,
            Err(wrong) => return Err(wrong.into()),
        };
        let Some(value) = pop(list, end) else {
            continue;
        };
        cx.db().remove_if_empty(key);
        cx.modified(key);
        let name: &'static [u8] = match end {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        };
        cx.propagate_as(vec![Bytes::from_static(name), key.clone()]);
        return Ok(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Str(value),
        ]));
    }
    if !cx.session.may_block {
        return Ok(Reply::NullArray);
    }
    Ok(cx.block(owned_keys(keys), timeout))
}

/// `BLPOP key [key ...] timeout`
fn blpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    blocking_pop(cx, args, End::Left)
}

/// `BRPOP key [key ...] timeout`
fn brpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    blocking_pop(cx, args, End::Right)
}

fn blocking_move(
    cx: &mut Exec,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
    timeout: Option<Duration>,
) -> CmdResult {
    let rerun = is_rerun(cx);
    let now = cx.now;
    match cx.db().get_list(src, now) {
        Ok(Some(_)) => {}
        Ok(None) => {
            if !cx.session.may_block {
                return Ok(Reply::Null);
            }
            return Ok(cx.block(owned_keys(std::slice::from_ref(src)), timeout));
        }
        Err(_) if rerun => return Ok(cx.block(owned_keys(std::slice::from_ref(src)), timeout)),
        Err(wrong) => return Err(wrong.into()),
    }
    match move_element(cx, src, dst, from, to)? {
        Some(value) => Ok(Reply::Str(value)),
        None => Ok(cx.block(owned_keys(std::slice::from_ref(src)), timeout)),
    }
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: propagated as `LMOVE`.
fn blmove(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let src = args.next()?;
    let dst = args.next()?;
    let from = End::parse(args.next()?)?;
    let to = End::parse(args.next()?)?;
    let timeout = parse_timeout(args.next()?)?;
    let reply = blocking_move(cx, src, dst, from, to, timeout)?;
    if matches!(reply, Reply::Bulk(_) | Reply::Str(_)) {
        cx.propagate_as(vec![
            Bytes::from_static(b"LMOVE"),
            src.clone(),
            dst.clone(),
            from.word(),
            to.word(),
        ]);
    }
    Ok(reply)
}

/// `BRPOPLPUSH source destination timeout`: propagated as `RPOPLPUSH`.
fn brpoplpush(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let src = args.next()?;
    let dst = args.next()?;
    let timeout = parse_timeout(args.next()?)?;
    let reply = blocking_move(cx, src, dst, End::Right, End::Left, timeout)?;
    if matches!(reply, Reply::Bulk(_) | Reply::Str(_)) {
        cx.propagate_as(vec![
            Bytes::from_static(b"RPOPLPUSH"),
            src.clone(),
            dst.clone(),
        ]);
    }
    Ok(reply)
}

/// Pops up to `count` elements from the first non-empty list of `keys`: `[key, [elements]]`,
/// propagated as `LPOP|RPOP key n` (Redis's `mpopGenericCommand`). None if every list is
/// empty. During a re-run for a blocked client, keys of the wrong type are skipped.
fn mpop_lists(
    cx: &mut Exec,
    keys: &[Bytes],
    end: End,
    count: usize,
    rerun: bool,
) -> Result<Option<Reply>, CmdError> {
    let now = cx.now;
    for key in keys {
        let list = match cx.db().get_list_mut(key, now) {
            Ok(Some(list)) if !list.is_empty() => list,
            Ok(_) => continue,
            Err(_) if rerun => continue,
            Err(wrong) => return Err(wrong.into()),
        };
        let popped = list.pop_many(end.into(), count);
        cx.db().remove_if_empty(key);
        cx.modified(key);
        let name: &'static [u8] = match end {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        };
        cx.propagate_as(vec![
            Bytes::from_static(name),
            key.clone(),
            Bytes::from(popped.len().to_string()),
        ]);
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Array(popped.into_iter().map(Reply::Str).collect()),
        ])));
    }
    Ok(None)
}

fn mpop_end(args: &MpopArgs) -> End {
    if args.second_end {
        End::Right
    } else {
        End::Left
    }
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
fn lmpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let parsed = MpopArgs::parse(args, ["LEFT", "RIGHT"])?;
    let count = parsed.count.unwrap_or(1);
    Ok(mpop_lists(cx, parsed.keys, mpop_end(&parsed), count, false)?.unwrap_or(Reply::NullArray))
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: propagated as LPOP/RPOP.
fn blmpop(cx: &mut Exec, args: &mut Args) -> CmdResult {
    let timeout = parse_timeout(args.next()?)?;
    let parsed = MpopArgs::parse(args, ["LEFT", "RIGHT"])?;
    let count = parsed.count.unwrap_or(1);
    let rerun = is_rerun(cx);
    if let Some(reply) = mpop_lists(cx, parsed.keys, mpop_end(&parsed), count, rerun)? {
        return Ok(reply);
    }
    if !cx.session.may_block {
        return Ok(Reply::NullArray);
    }
    Ok(cx.block(owned_keys(parsed.keys), timeout))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use tokio::sync::oneshot;

    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::cmd::Effect;
    use crate::resp::Reply;
    use crate::server::engine::Waiter;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn keys(h: &Harness) -> usize {
        h.shared.engine().dbs[0].len()
    }

    #[test]
    fn push_pop_and_length() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["rpush", "l", "a", "b", "c"]), Reply::Int(3));
        assert_eq!(h.run(&["lpush", "l", "x", "y"]), Reply::Int(5));
        assert_eq!(
            h.run(&["lrange", "l", "0", "-1"]),
            bulks(&["y", "x", "a", "b", "c"])
        );
        assert_eq!(h.run(&["lpushx", "nope", "a"]), Reply::Int(0));
        assert_eq!(h.run(&["rpushx", "l", "z"]), Reply::Int(6));
        assert_eq!(h.run(&["llen", "l"]), Reply::Int(6));
        assert_eq!(h.run(&["llen", "nope"]), Reply::Int(0));
        assert_eq!(h.run(&["lpop", "l"]), bulk("y"));
        assert_eq!(h.run(&["rpop", "l"]), bulk("z"));
        assert_eq!(h.run(&["lpop", "l", "2"]), bulks(&["x", "a"]));
        assert_eq!(h.run(&["lpop", "l", "0"]), bulks(&[]));
        assert_eq!(h.run(&["rpop", "l", "10"]), bulks(&["c", "b"]));
        assert_eq!(keys(&h), 0, "an emptied list is deleted");
        assert_eq!(h.run(&["lpop", "l"]), Reply::Null);
        assert_eq!(h.run(&["lpop", "l", "2"]), Reply::NullArray);
        assert_eq!(h.run(&["lpop", "l", "0"]), Reply::NullArray);
        assert_eq!(
            h.run(&["lpop", "l", "-1"]),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(
            h.run(&["lpop", "l", "x"]),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(
            h.run(&["lpop", "l", "1", "2"]),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        assert_eq!(
            h.run(&["lpush", "l"]),
            err("ERR wrong number of arguments for 'lpush' command")
        );
        h.run(&["set", "s", "v"]);
        for cmd in [
            &["lpush", "s", "a"][..],
            &["rpushx", "s", "a"],
            &["lpop", "s"],
            &["llen", "s"],
            &["lrange", "s", "0", "1"],
            &["lindex", "s", "0"],
            &["lset", "s", "0", "x"],
            &["lrem", "s", "0", "x"],
            &["ltrim", "s", "0", "1"],
            &["linsert", "s", "before", "a", "b"],
            &["lpos", "s", "a"],
            &["lmove", "s", "d", "left", "left"],
            &["blpop", "s", "0"],
        ] {
            assert_eq!(h.run(cmd), err(WRONGTYPE), "{cmd:?}");
        }
    }

    #[test]
    fn nodes_follow_list_max_listpack_size_and_the_encoding_stays_quicklist() {
        let mut h = Harness::new();
        let nodes = |h: &Harness| match h.shared.engine().dbs[0].peek(b"l") {
            Some(crate::store::Value::List(l)) => l.node_count(),
            other => panic!("{other:?}"),
        };
        h.run(&["rpush", "l", "a", "1", "b", "2", "c"]);
        assert_eq!(nodes(&h), 1, "8 KiB nodes by default");
        assert_eq!(h.run(&["object", "encoding", "l"]), bulk("quicklist"));
        assert_eq!(
            h.run(&["config", "get", "list-max-listpack-size"]),
            Reply::Map(vec![(bulk("list-max-listpack-size"), bulk("-2"))])
        );
        h.run(&["del", "l"]);
        // The 6.x name is an alias; a positive size counts entries.
        assert_eq!(
            h.run(&["config", "set", "list-max-ziplist-size", "2"]),
            Reply::ok()
        );
        h.run(&["rpush", "l", "a", "1", "b", "2", "c"]);
        assert_eq!(nodes(&h), 3);
        assert_eq!(h.run(&["object", "encoding", "l"]), bulk("quicklist"));
        h.run(&["linsert", "l", "before", "b", "x"]);
        h.run(&["lset", "l", "-1", "9"]);
        assert_eq!(
            h.run(&["lrange", "l", "0", "-1"]),
            bulks(&["a", "1", "x", "b", "2", "9"])
        );
        assert_eq!(h.run(&["lpos", "l", "9"]), Reply::Int(5));
        assert_eq!(h.run(&["lrem", "l", "0", "1"]), Reply::Int(1));
        assert_eq!(h.run(&["lindex", "l", "-2"]), bulk("2"));
    }

    #[test]
    fn ranges_index_and_set() {
        let mut h = Harness::new();
        h.run(&["rpush", "l", "a", "b", "c", "d"]);
        assert_eq!(h.run(&["lrange", "l", "1", "2"]), bulks(&["b", "c"]));
        assert_eq!(h.run(&["lrange", "l", "-2", "100"]), bulks(&["c", "d"]));
        assert_eq!(h.run(&["lrange", "l", "3", "1"]), bulks(&[]));
        assert_eq!(h.run(&["lrange", "nope", "0", "-1"]), bulks(&[]));
        assert_eq!(
            h.run(&["lrange", "l", "a", "1"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(h.run(&["lindex", "l", "0"]), bulk("a"));
        assert_eq!(h.run(&["lindex", "l", "-1"]), bulk("d"));
        assert_eq!(h.run(&["lindex", "l", "4"]), Reply::Null);
        assert_eq!(h.run(&["lindex", "nope", "x"]), Reply::Null);
        assert_eq!(h.run(&["lset", "l", "-1", "D"]), Reply::ok());
        assert_eq!(h.run(&["lindex", "l", "3"]), bulk("D"));
        assert_eq!(
            h.run(&["lset", "l", "9", "x"]),
            err("ERR index out of range")
        );
        assert_eq!(h.run(&["lset", "nope", "0", "x"]), err("ERR no such key"));
        assert_eq!(h.run(&["ltrim", "l", "1", "-2"]), Reply::ok());
        assert_eq!(h.run(&["lrange", "l", "0", "-1"]), bulks(&["b", "c"]));
        assert_eq!(h.run(&["ltrim", "nope", "0", "1"]), Reply::ok());
        assert_eq!(h.run(&["ltrim", "l", "5", "10"]), Reply::ok());
        assert_eq!(keys(&h), 0);
    }

    #[test]
    fn lrem_and_linsert() {
        let mut h = Harness::new();
        h.run(&["rpush", "l", "a", "x", "b", "x", "c", "x"]);
        assert_eq!(h.run(&["lrem", "l", "-2", "x"]), Reply::Int(2));
        assert_eq!(
            h.run(&["lrange", "l", "0", "-1"]),
            bulks(&["a", "x", "b", "c"])
        );
        assert_eq!(h.run(&["lrem", "l", "1", "a"]), Reply::Int(1));
        assert_eq!(h.run(&["lrem", "l", "0", "nope"]), Reply::Int(0));
        assert_eq!(h.run(&["lrem", "nope", "0", "a"]), Reply::Int(0));
        assert_eq!(h.run(&["linsert", "l", "BEFORE", "b", "1"]), Reply::Int(4));
        assert_eq!(h.run(&["linsert", "l", "after", "c", "2"]), Reply::Int(5));
        assert_eq!(h.run(&["linsert", "l", "after", "zz", "2"]), Reply::Int(-1));
        assert_eq!(
            h.run(&["linsert", "nope", "after", "a", "2"]),
            Reply::Int(0)
        );
        assert_eq!(
            h.run(&["linsert", "l", "middle", "a", "2"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["lrange", "l", "0", "-1"]),
            bulks(&["x", "1", "b", "c", "2"])
        );
        assert_eq!(h.run(&["lrem", "l", "0", "x"]), Reply::Int(1));
        h.run(&["rpush", "m", "x", "x"]);
        assert_eq!(h.run(&["lrem", "m", "0", "x"]), Reply::Int(2));
        assert_eq!(keys(&h), 1, "the emptied list is deleted");
    }

    #[test]
    fn lpos_options() {
        let mut h = Harness::new();
        h.run(&["rpush", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(h.run(&["lpos", "l", "c"]), Reply::Int(2));
        assert_eq!(h.run(&["lpos", "l", "c", "RANK", "2"]), Reply::Int(6));
        assert_eq!(h.run(&["lpos", "l", "c", "RANK", "-1"]), Reply::Int(7));
        assert_eq!(h.run(&["lpos", "l", "zz"]), Reply::Null);
        let ints = |v: &[i64]| Reply::Array(v.iter().map(|&i| Reply::Int(i)).collect());
        assert_eq!(h.run(&["lpos", "l", "c", "COUNT", "2"]), ints(&[2, 6]));
        assert_eq!(h.run(&["lpos", "l", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
        assert_eq!(
            h.run(&["lpos", "l", "c", "RANK", "-1", "COUNT", "2"]),
            ints(&[7, 6])
        );
        assert_eq!(
            h.run(&["lpos", "l", "c", "COUNT", "0", "MAXLEN", "7"]),
            ints(&[2, 6])
        );
        assert_eq!(h.run(&["lpos", "l", "c", "RANK", "4"]), Reply::Null);
        assert_eq!(h.run(&["lpos", "nope", "c", "COUNT", "0"]), ints(&[]));
        assert_eq!(h.run(&["lpos", "nope", "c"]), Reply::Null);
        assert_eq!(
            h.run(&["lpos", "l", "c", "RANK", "0"]),
            err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        );
        assert_eq!(
            h.run(&["lpos", "l", "c", "COUNT", "-1"]),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            h.run(&["lpos", "l", "c", "MAXLEN", "-1"]),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(h.run(&["lpos", "l", "c", "COUNT"]), err("ERR syntax error"));
        assert_eq!(
            h.run(&["lpos", "l", "c", "FOO", "1"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut h = Harness::new();
        h.run(&["rpush", "src", "a", "b", "c"]);
        assert_eq!(h.run(&["rpoplpush", "src", "dst"]), bulk("c"));
        assert_eq!(h.run(&["lmove", "src", "dst", "LEFT", "RIGHT"]), bulk("a"));
        assert_eq!(h.run(&["lrange", "dst", "0", "-1"]), bulks(&["c", "a"]));
        assert_eq!(h.run(&["lmove", "dst", "dst", "left", "right"]), bulk("c"));
        assert_eq!(h.run(&["lrange", "dst", "0", "-1"]), bulks(&["a", "c"]));
        assert_eq!(
            h.run(&["lmove", "nope", "dst", "left", "right"]),
            Reply::Null
        );
        assert_eq!(
            h.run(&["lmove", "src", "dst", "up", "right"]),
            err("ERR syntax error")
        );
        h.run(&["set", "s", "v"]);
        assert_eq!(
            h.run(&["lmove", "src", "s", "left", "left"]),
            err(WRONGTYPE)
        );
        assert_eq!(h.run(&["lrange", "src", "0", "-1"]), bulks(&["b"]));
        assert_eq!(h.run(&["rpoplpush", "src", "dst"]), bulk("b"));
        assert_eq!(keys(&h), 2, "src deleted once empty; dst and s remain");
    }

    #[test]
    fn writes_are_propagated_in_deterministic_form() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&["rpush", "l", "a", "b", "c", "d"]);
        h.run(&["blpop", "nope", "l", "0"]);
        h.run(&["brpop", "l", "1.5"]);
        h.run(&["blmove", "l", "m", "LEFT", "RIGHT", "0"]);
        h.run(&["brpoplpush", "l", "m", "0"]);
        h.run(&["lpop", "nope"]);
        h.run(&["ltrim", "m", "0", "-1"]);
        h.run(&["lrem", "m", "0", "zz"]);
        let p = h.propagated();
        assert_eq!(
            p,
            vec![
                vec!["rpush", "l", "a", "b", "c", "d"],
                vec!["LPOP", "l"],
                vec!["RPOP", "l"],
                vec!["LMOVE", "l", "m", "LEFT", "RIGHT"],
                vec!["RPOPLPUSH", "l", "m"],
            ]
        );
    }

    #[test]
    fn blocking_pops_serve_at_once_or_block() {
        let mut h = Harness::new();
        h.run(&["rpush", "b", "x"]);
        assert_eq!(
            h.run(&["blpop", "a", "b", "0"]),
            Reply::Array(vec![bulk("b"), bulk("x")])
        );
        let (reply, effect) = h.run_argv(&argv(&["blpop", "a", "b", "0.5"]));
        assert_eq!(reply, Reply::None);
        assert_eq!(
            effect,
            Effect::Block {
                keys: argv(&["a", "b"]),
                timeout: Some(std::time::Duration::from_millis(500)),
            }
        );
        let (_, effect) = h.run_argv(&argv(&["blmove", "a", "b", "left", "left", "0"]));
        assert_eq!(
            effect,
            Effect::Block {
                keys: argv(&["a"]),
                timeout: None
            }
        );
        h.session.may_block = false;
        assert_eq!(h.run(&["blpop", "a", "0"]), Reply::NullArray);
        assert_eq!(h.run(&["brpop", "a", "0"]), Reply::NullArray);
        assert_eq!(
            h.run(&["blmove", "a", "b", "left", "left", "0"]),
            Reply::Null
        );
        assert_eq!(h.run(&["brpoplpush", "a", "b", "0"]), Reply::Null);
        assert_eq!(
            h.run(&["blpop", "a", "x"]),
            err("ERR timeout is not a float or out of range")
        );
        assert_eq!(h.run(&["blpop", "a", "-1"]), err("ERR timeout is negative"));
        assert_eq!(
            h.run(&["blmove", "a", "b", "left", "left", "-1"]),
            err("ERR timeout is negative")
        );
        assert_eq!(
            h.run(&["blpop", "a"]),
            err("ERR wrong number of arguments for 'blpop' command")
        );
    }

    fn register(
        h: &Harness,
        client: u64,
        words: &[&str],
        keys: &[&str],
    ) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        h.shared.engine().block(Waiter {
            client,
            db: 0,
            resp3: false,
            argv: argv(words),
            keys: argv(keys),
            reply: tx,
        });
        rx
    }

    #[test]
    fn a_push_serves_blocked_clients_in_order() {
        let mut h = Harness::new();
        h.propagated();
        let mut first = register(&h, 91, &["blpop", "q", "0"], &["q"]);
        let mut second = register(&h, 92, &["brpop", "q", "0"], &["q"]);
        assert_eq!(h.run(&["rpush", "q", "a"]), Reply::Int(1));
        assert_eq!(
            first.try_recv().unwrap(),
            Reply::Array(vec![bulk("q"), bulk("a")])
        );
        assert!(
            second.try_recv().is_err(),
            "nothing left for the second client"
        );
        assert_eq!(h.shared.engine().blocked_clients(), 1);
        assert_eq!(keys(&h), 0, "the served pop emptied and deleted the list");
        h.run(&["rpush", "q", "b"]);
        assert_eq!(
            second.try_recv().unwrap(),
            Reply::Array(vec![bulk("q"), bulk("b")])
        );
        assert_eq!(h.shared.engine().blocked_clients(), 0);
        let p = h.propagated();
        assert_eq!(
            p,
            vec![
                vec!["rpush", "q", "a"],
                vec!["LPOP", "q"],
                vec!["rpush", "q", "b"],
                vec!["RPOP", "q"],
            ]
        );
    }

    #[test]
    fn a_blocked_client_ignores_a_source_of_the_wrong_type() {
        let mut h = Harness::new();
        let mut waiting = register(&h, 93, &["blpop", "q", "0"], &["q"]);
        h.run(&["set", "q", "v"]);
        assert!(waiting.try_recv().is_err());
        assert_eq!(h.shared.engine().blocked_clients(), 1);
        let mut mover = register(
            &h,
            94,
            &["blmove", "src", "s", "left", "left", "0"],
            &["src"],
        );
        h.run(&["set", "s", "v"]);
        h.run(&["rpush", "src", "a"]);
        assert_eq!(
            mover.try_recv().unwrap(),
            err(WRONGTYPE),
            "a destination of the wrong type unblocks with WRONGTYPE, as in Redis"
        );
        assert_eq!(h.run(&["lrange", "src", "0", "-1"]), bulks(&["a"]));
    }

    #[test]
    fn lmpop_and_blmpop_pop_from_the_first_nonempty_list() {
        let mut h = Harness::new();
        h.run(&["rpush", "b", "1", "2", "3"]);
        h.propagated();
        assert_eq!(
            h.run(&["lmpop", "2", "a", "b", "RIGHT", "COUNT", "2"]),
            Reply::Array(vec![bulk("b"), bulks(&["3", "2"])])
        );
        assert_eq!(
            h.run(&["blmpop", "0", "2", "a", "b", "left"]),
            Reply::Array(vec![bulk("b"), bulks(&["1"])])
        );
        assert_eq!(h.run(&["lmpop", "1", "b", "left"]), Reply::NullArray);
        assert_eq!(
            h.propagated(),
            vec![vec!["RPOP", "b", "2"], vec!["LPOP", "b", "1"]]
        );
        let (reply, effect) = h.run_argv(&argv(&["blmpop", "0", "1", "b", "left"]));
        assert_eq!(reply, Reply::None);
        assert!(matches!(effect, Effect::Block { .. }));
    }

    #[test]
    fn client_unblock_answers_a_blocked_client() {
        let mut h = Harness::new();
        let mut popper = register(&h, 95, &["blpop", "q", "0"], &["q"]);
        let mut mover = register(&h, 96, &["blmove", "a", "b", "left", "left", "0"], &["a"]);
        assert_eq!(h.run(&["client", "unblock", "95"]), Reply::Int(1));
        assert_eq!(popper.try_recv().unwrap(), Reply::NullArray);
        assert_eq!(h.run(&["client", "unblock", "96", "error"]), Reply::Int(1));
        assert_eq!(
            mover.try_recv().unwrap(),
            err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        );
        assert_eq!(h.run(&["client", "unblock", "96"]), Reply::Int(0));
        assert_eq!(
            h.run(&["client", "unblock", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["client", "unblock", "1", "later"]),
            err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        );
        assert_eq!(h.shared.engine().blocked_clients(), 0);
    }
}
