//! `COMMAND DOCS`: Redis 7.0's own documentation of each command redislab implements — summary,
//! since, group, complexity, history, arguments and subcommands — so that `help set` works in
//! redis-cli (which builds its help from `COMMAND DOCS` since 7.0) and in `redislab cli`.
//!
//! The docs are data, not code: `docs/redis-7.0-command-docs.resp` is the RESP3 reply of a real
//! redis-server 7.0.15 to `COMMAND DOCS`, captured by `tools/capture-command-docs.py` (commands
//! sorted by name). It holds every Redis 7.0 command; [`reply`] serves only those in the command
//! table ([`super::all_specs`]), so a command added to the table finds its docs without a new
//! capture. A command of the table that Redis 7.0 does not have is left out of the reply, as
//! Redis leaves out names it does not know; a unit test makes such a command fail loudly.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

use super::{all_specs, lookup};
use crate::resp::frame::{self, Frame};
use crate::resp::Reply;

/// Redis 7.0.15's `COMMAND DOCS` reply (RESP3), as captured.
const CAPTURED: &[u8] = include_bytes!("docs/redis-7.0-command-docs.resp");

/// Each command's docs map by lowercase name, in the captured (sorted) order.
fn captured() -> &'static [(String, Frame)] {
    static DOCS: OnceLock<Vec<(String, Frame)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut buf = BytesMut::from(CAPTURED);
        // The file is checked by the tests below; a damaged one serves no docs, never panics.
        let Ok(Some(Frame::Map(pairs))) = frame::parse(&mut buf) else {
            return Vec::new();
        };
        pairs
            .into_iter()
            .filter_map(|(name, docs)| Some((name.as_str()?.to_ascii_lowercase(), docs)))
            .collect()
    })
}

/// The captured docs of one command (top level) by lowercase name.
fn docs_of(name: &str) -> Option<&'static Frame> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Frame>> = OnceLock::new();
    INDEX
        .get_or_init(|| captured().iter().map(|(n, d)| (n.as_str(), d)).collect())
        .get(name)
        .copied()
}

/// `COMMAND DOCS [name ...]`: a map from command name to its docs, for every implemented
/// command when no name is given; names that are not implemented commands are skipped, as
/// Redis skips unknown ones. `container|sub` names a subcommand (`config|get`).
pub fn reply(names: &[Bytes]) -> Reply {
    let entries: Vec<(Reply, Reply)> = if names.is_empty() {
        all_specs()
            .iter()
            .filter_map(|spec| Some((spec.name, docs_of(spec.name)?)))
            .map(|(name, docs)| (Reply::bulk(name.as_bytes()), to_reply(docs)))
            .collect()
    } else {
        names
            .iter()
            .filter_map(|name| {
                let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
                let docs = find(&lower)?;
                Some((Reply::bulk(lower.as_bytes()), to_reply(docs)))
            })
            .collect()
    };
    Reply::Map(entries)
}

/// The docs for `name` (lowercase), if it is an implemented command or a subcommand of one.
fn find(name: &str) -> Option<&'static Frame> {
    let container = name.split('|').next().unwrap_or(name);
    let spec = lookup(container.as_bytes())?;
    let docs = docs_of(spec.name)?;
    if container.len() == name.len() {
        return Some(docs);
    }
    field(docs, "subcommands").and_then(|subs| match subs {
        Frame::Map(pairs) => pairs
            .iter()
            .find(|(n, _)| n.as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, d)| d),
        _ => None,
    })
}

/// The full name of subcommand `sub` of `container` (`client|list`), if Redis has it; None when
/// `container` has no subcommands. Used for per-subcommand statistics.
pub fn subcommand_name(container: &str, sub: &[u8]) -> Option<&'static str> {
    let subs = field(docs_of(container)?, "subcommands")?;
    let Frame::Map(pairs) = subs else {
        return None;
    };
    pairs.iter().find_map(|(name, _)| {
        let name = name.as_str()?;
        let (_, own) = name.split_once('|')?;
        own.as_bytes().eq_ignore_ascii_case(sub).then_some(name)
    })
}

/// True if `container` (lowercase) is a command with subcommands.
pub fn has_subcommands(container: &str) -> bool {
    docs_of(container).is_some_and(|docs| field(docs, "subcommands").is_some())
}

/// A field of a docs map.
fn field<'a>(docs: &'a Frame, key: &str) -> Option<&'a Frame> {
    match docs {
        Frame::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A captured frame as a reply, encoded for the client's protocol like any other (maps become
/// flat arrays in RESP2, as Redis sends them).
fn to_reply(frame: &Frame) -> Reply {
    match frame {
        Frame::Simple(s) => Reply::Simple(s.clone()),
        Frame::Bulk(b) => Reply::Bulk(b.clone()),
        Frame::Integer(i) => Reply::Int(*i),
        Frame::Null => Reply::Null,
        Frame::Boolean(b) => Reply::Bool(*b),
        Frame::Double { value, .. } => Reply::Double(*value),
        Frame::Array(items) | Frame::Push(items) => {
            Reply::Array(items.iter().map(to_reply).collect())
        }
        Frame::Set(items) => Reply::Set(items.iter().map(to_reply).collect()),
        Frame::Map(pairs) => Reply::Map(
            pairs
                .iter()
                .map(|(k, v)| (to_reply(k), to_reply(v)))
                .collect(),
        ),
        other => Reply::Bulk(Bytes::copy_from_slice(other.as_bytes().unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(docs: &'a Frame, key: &str) -> &'a str {
        field(docs, key).and_then(Frame::as_str).unwrap_or_default()
    }

    #[test]
    fn the_capture_is_redis_7_0s_whole_table() {
        let all = captured();
        assert_eq!(all.len(), 240, "Redis 7.0.15 documents 240 commands");
        let set = docs_of("set").expect("set");
        assert_eq!(text(set, "summary"), "Set the string value of a key");
        assert_eq!(text(set, "since"), "1.0.0");
        assert_eq!(text(set, "group"), "string");
        assert_eq!(text(set, "complexity"), "O(1)");
        assert!(matches!(field(set, "arguments"), Some(Frame::Array(a)) if a.len() == 5));
    }

    /// A command added to the table must be one Redis 7.0 documents (regenerate the capture
    /// with `tools/capture-command-docs.py` only if a newer Redis is the reference).
    #[test]
    fn every_implemented_command_has_redis_7_0_docs() {
        let missing: Vec<&str> = all_specs()
            .iter()
            .map(|s| s.name)
            .filter(|name| docs_of(name).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "commands in the table without Redis 7.0 docs (COMMAND DOCS leaves them out): \
             {missing:?}"
        );
        for spec in all_specs() {
            let docs = docs_of(spec.name).expect("checked above");
            for key in ["summary", "since", "group"] {
                assert!(!text(docs, key).is_empty(), "{} has no {key}", spec.name);
            }
        }
    }

    #[test]
    fn docs_are_served_for_implemented_commands_only() {
        let Reply::Map(all) = reply(&[]) else {
            panic!("a map")
        };
        assert_eq!(all.len(), all_specs().len());
        // Named: implemented commands and subcommands; others skipped, as Redis does.
        let names = [
            Bytes::from_static(b"GET"),
            Bytes::from_static(b"no-such-command"),
            Bytes::from_static(b"config|get"),
        ];
        let Reply::Map(some) = reply(&names) else {
            panic!("a map")
        };
        let keys: Vec<&Reply> = some.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [&Reply::bulk(b"get"), &Reply::bulk(b"config|get")],
            "{some:?}"
        );
        let Reply::Map(get) = &some[0].1 else {
            panic!("a map")
        };
        assert_eq!(
            get[0],
            (
                Reply::bulk(b"summary"),
                Reply::bulk(b"Get the value of a key")
            )
        );
        assert!(all_specs().iter().all(|s| s.name != "xadd"));
        let Reply::Map(none) = reply(&[Bytes::from_static(b"xadd")]) else {
            panic!("a map")
        };
        assert!(
            none.is_empty(),
            "XADD is not implemented (no streams): no docs"
        );
    }
}
