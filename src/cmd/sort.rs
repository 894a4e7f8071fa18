//! SORT and SORT_RO (`sort.c`): sort the elements of a list, set or sorted set numerically or
//! lexicographically, optionally by weights read from other keys (`BY weight_*`, or a hash
//! field with `BY h_*->field`), fetch other keys per element (`GET`), page (`LIMIT`), and store
//! the result as a list (`STORE`, SORT only).
//!
//! A `BY` pattern without `*` means "do not sort" (the elements keep their stored order). Equal
//! weights are ordered by the elements' bytes, so the result is deterministic, as in Redis.

use std::cmp::Ordering;

use bytes::Bytes;

use super::args::float_value;
use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::list::{End, List};
use crate::store::Value;

/// The sort commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, sort).keys(1, 1, 1),
    Spec::new("sort_ro", -2, READONLY, sort_ro).keys(1, 1, 1),
];

/// Parsed SORT options.
#[derive(Default)]
struct SortOptions<'a> {
    by: Option<&'a Bytes>,
    gets: Vec<&'a Bytes>,
    offset: i64,
    count: i64,
    desc: bool,
    alpha: bool,
    store: Option<&'a Bytes>,
}

impl<'a> SortOptions<'a> {
    fn parse(args: &mut Args<'a>, read_only: bool) -> Result<SortOptions<'a>, CmdError> {
        let mut options = SortOptions {
            count: -1,
            ..SortOptions::default()
        };
        while !args.is_empty() {
            if args.eat("ASC") {
                options.desc = false;
            } else if args.eat("DESC") {
                options.desc = true;
            } else if args.eat("ALPHA") {
                options.alpha = true;
            } else if args.remaining() >= 3 && args.eat("LIMIT") {
                options.offset = args.next_i64()?;
                options.count = args.next_i64()?;
            } else if !read_only && args.remaining() >= 2 && args.eat("STORE") {
                options.store = Some(args.next()?);
            } else if args.remaining() >= 2 && args.eat("BY") {
                options.by = Some(args.next()?);
            } else if args.remaining() >= 2 && args.eat("GET") {
                options.gets.push(args.next()?);
            } else {
                return Err(CmdError::syntax());
            }
        }
        Ok(options)
    }
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]`
fn sort(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    sort_generic(cx, args, false)
}

/// `SORT_RO key ...`: SORT without STORE.
fn sort_ro(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    sort_generic(cx, args, true)
}

/// The value `pattern` names for `element` (`lookupKeyByPattern`): `#` is the element itself;
/// the first `*` is replaced by it; a `->field` suffix reads a hash field. Only strings and
/// hash fields are read; anything else is missing.
fn lookup_by_pattern(cx: &mut Exec, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| at + 2 < after.len());
    let (key_tail, field) = match arrow {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(key_tail);
    let now = cx.now;
    match (cx.db().get(&key, now)?, field) {
        (Value::String(s), None) => Some(s.to_bytes()),
        (Value::Hash(h), Some(field)) => h.get_bytes(field),
        _ => None,
    }
}

/// One element with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

fn sort_generic(cx: &mut Exec, args: &mut Args, read_only: bool) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let options = SortOptions::parse(args, read_only)?;
    let now = cx.now;
    let (elements, ordered): (Vec<Bytes>, bool) = match cx.db().get(key, now) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().map(|e| Bytes::from(e.to_vec())).collect(), false),
        Some(Value::Set(s)) => (s.iter().collect(), false),
        Some(Value::ZSet(z)) => (
            z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
            true,
        ),
        Some(_) => return Err(CmdError::wrong_type()),
    };
    // Redis's sortCommand converts a sorted set it sorts to a skiplist, for good.
    if let Some(Value::ZSet(z)) = cx.db().get_mut(key, now) {
        z.convert_to_large();
    }
    let mut dont_sort = options.by.is_some_and(|p| !p.contains(&b'*'));
    let mut alpha = options.alpha;
    // A set's order differs between servers: a stored "unsorted" result, or one a script
    // sees, is sorted by element so replicas and the AOF get the same list, as Redis does.
    let stable_needed = options.store.is_some() || cx.session.in_script;
    if dont_sort && stable_needed && matches!(cx.db().peek(key), Some(Value::Set(_))) {
        dont_sort = false;
        alpha = true;
    }
    let mut items: Vec<Item> = Vec::with_capacity(elements.len());
    for element in elements {
        let by = match options.by {
            Some(pattern) if !dont_sort => lookup_by_pattern(cx, pattern, &element),
            _ => None,
        };
        let mut score = 0.0;
        if !dont_sort && !alpha {
            let source = if options.by.is_some() {
                by.as_deref()
            } else {
                Some(&element[..])
            };
            if let Some(text) = source {
                score = float_value(text).ok_or_else(|| {
                    CmdError::new("ERR One or more scores can't be converted into double")
                })?;
            }
        }
        items.push(Item { element, score, by });
    }
    if !dont_sort {
        // Weights come from a pattern with `*` (a forced sort of a set has none).
        let by_pattern = options.by.is_some_and(|p| p.contains(&b'*'));
        items.sort_by(|a, b| {
            let order = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                // A missing weight sorts first.
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if options.desc {
                order.reverse()
            } else {
                order
            }
        });
    } else if ordered && options.desc {
        items.reverse();
    }
    let len = items.len() as i64;
    let start = options.offset.max(0).min(len);
    let count = if options.count < 0 {
        len
    } else {
        options.count
    };
    let end = start.saturating_add(count).min(len);
    let page = &items[start as usize..end.max(start) as usize];

    let mut output: Vec<Option<Bytes>> = Vec::new();
    for item in page {
        if options.gets.is_empty() {
            output.push(Some(item.element.clone()));
        }
        for pattern in &options.gets {
            output.push(lookup_by_pattern(cx, pattern, &item.element));
        }
    }
    match options.store {
        None => Ok(Reply::Array(
            output
                .into_iter()
                .map(|v| v.map_or(Reply::Null, Reply::Bulk))
                .collect(),
        )),
        Some(dst) => {
            let stored = output.len();
            let dst = Bytes::copy_from_slice(dst);
            if stored > 0 {
                let fill = cx.engine.command_config.encodings.list_fill();
                let mut list = List::new();
                for element in output {
                    list.push(End::Tail, &element.unwrap_or_default(), fill);
                }
                cx.db().set(dst.clone(), Value::List(list));
                cx.touch(&dst);
                cx.dirty(stored as u64);
            } else if cx.db().remove(&dst).is_some() {
                cx.modified(&dst);
            }
            Ok(Reply::Int(stored as i64))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    #[test]
    fn numeric_alpha_by_get_limit_and_store() {
        let mut h = Harness::new();
        h.run(&["rpush", "l", "3", "1", "2"]);
        h.run(&["mset", "w_1", "30", "w_2", "20", "w_3", "10", "n_1", "one"]);
        h.run(&["hset", "h_2", "f", "two"]);
        assert_eq!(h.run(&["sort", "l"]), bulks(&["1", "2", "3"]));
        assert_eq!(
            h.run(&["sort", "l", "desc", "limit", "0", "2"]),
            bulks(&["3", "2"])
        );
        assert_eq!(h.run(&["sort", "l", "by", "w_*"]), bulks(&["3", "2", "1"]));
        assert_eq!(
            h.run(&["sort", "l", "by", "nosort"]),
            bulks(&["3", "1", "2"])
        );
        assert_eq!(
            h.run(&["sort", "l", "get", "#", "get", "n_*", "get", "h_*->f"]),
            Reply::Array(vec![
                bulk("1"),
                bulk("one"),
                Reply::Null,
                bulk("2"),
                Reply::Null,
                bulk("two"),
                bulk("3"),
                Reply::Null,
                Reply::Null,
            ])
        );
        h.run(&["rpush", "words", "b", "a", "c"]);
        assert_eq!(h.run(&["sort", "words", "alpha"]), bulks(&["a", "b", "c"]));
        assert_eq!(
            h.run(&["sort", "words"]),
            err("ERR One or more scores can't be converted into double")
        );
        assert_eq!(h.run(&["sort", "l", "store", "dst"]), Reply::Int(3));
        assert_eq!(
            h.run(&["lrange", "dst", "0", "-1"]),
            bulks(&["1", "2", "3"])
        );
        h.run(&["sadd", "set", "c", "a", "b"]);
        assert_eq!(
            h.run(&["sort", "set", "by", "nosort", "store", "dst"]),
            Reply::Int(3)
        );
        assert_eq!(
            h.run(&["lrange", "dst", "0", "-1"]),
            bulks(&["a", "b", "c"])
        );
        assert_eq!(h.run(&["sort", "none", "store", "dst"]), Reply::Int(0));
        assert_eq!(h.run(&["exists", "dst"]), Reply::Int(0));
        assert_eq!(
            h.run(&["sort_ro", "l", "store", "x"]),
            err("ERR syntax error")
        );
        h.run(&["set", "s", "v"]);
        assert_eq!(
            h.run(&["sort", "s"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
}
