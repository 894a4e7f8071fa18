//! `MEMORY` (`object.c`: `memoryCommand`): USAGE estimates the bytes of one key, STATS and
//! DOCTOR report on the whole server, MALLOC-STATS and PURGE speak for the allocator.
//!
//! redislab has one allocator and no per-structure accounting, so USAGE is an estimate from the
//! value's contents (see [`Value::memory_usage`](crate::store::value::Value::memory_usage)) and
//! STATS reports the allocator's live bytes with the dataset estimated the same way.

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::server::memory;

/// The MEMORY command's table entry.
pub const COMMANDS: &[Spec] = &[Spec::new("memory", -2, READONLY, memory_command).keys(2, 2, 1)];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Default number of elements USAGE samples in a collection.
const DEFAULT_SAMPLES: usize = 5;
/// Bytes of a key's entry in the keyspace dict (entry, key header) in USAGE's estimate.
const KEY_OVERHEAD: usize = 32;

/// `MEMORY <subcommand> ...`
fn memory_command(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?;
    let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
    match (name.as_str(), args.remaining()) {
        ("help", 0) => Ok(Reply::Array(
            MEMORY_HELP.iter().map(|line| Reply::simple(line)).collect(),
        )),
        ("usage", n) if n >= 1 => usage(cx, args),
        ("stats", 0) => Ok(stats(cx)),
        ("doctor", 0) => Ok(Reply::bulk_string(doctor(cx))),
        ("malloc-stats", 0) => Ok(Reply::bulk(
            b"Stats not supported for the current allocator",
        )),
        ("purge", 0) => {
            crate::server::memory::purge_freed_pages();
            Ok(Reply::ok())
        }
        ("help" | "usage" | "stats" | "doctor" | "malloc-stats" | "purge", _) => {
            Err(CmdError::arity(&format!("memory|{name}")))
        }
        _ => Err(CmdError::unknown_subcommand(sub, "memory")),
    }
}

/// `MEMORY USAGE key [SAMPLES count]`
fn usage(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut samples = DEFAULT_SAMPLES;
    while let Some(option) = args.peek() {
        args.next()?;
        if option.eq_ignore_ascii_case(b"SAMPLES") && !args.is_empty() {
            let n = args.next_i64()?;
            if n < 0 {
                return Err(CmdError::syntax());
            }
            samples = n as usize;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let now = cx.now;
    Ok(match cx.db().get(key, now) {
        Some(value) => Reply::Int((KEY_OVERHEAD + key.len() + value.memory_usage(samples)) as i64),
        None => Reply::Null,
    })
}

/// Bytes of the dataset of every db, estimated as USAGE does (all elements counted).
fn dataset_bytes(cx: &Exec) -> (usize, usize) {
    let mut keys = 0;
    let mut bytes = 0;
    for db in &cx.engine.dbs {
        for (key, value) in db.iter() {
            keys += 1;
            bytes += KEY_OVERHEAD + key.len() + value.memory_usage(DEFAULT_SAMPLES);
        }
    }
    (keys, bytes)
}

fn used_bytes() -> usize {
    match memory::used_memory() {
        0 => memory::rss_bytes(),
        n => n,
    }
}

/// `MEMORY STATS`: name/value pairs, as a map in RESP3.
fn stats(cx: &mut Exec) -> Reply {
    let used = used_bytes();
    let peak = memory::peak_memory().max(used);
    let rss = memory::rss_bytes();
    let (keys, dataset) = dataset_bytes(cx);
    let overhead = used.saturating_sub(dataset);
    let mut pairs: Vec<(Reply, Reply)> = vec![
        ("peak.allocated", Reply::Int(peak as i64)),
        ("total.allocated", Reply::Int(used as i64)),
        ("startup.allocated", Reply::Int(0)),
        ("replication.backlog", Reply::Int(0)),
        ("clients.slaves", Reply::Int(0)),
        ("clients.normal", Reply::Int(0)),
        ("cluster.links", Reply::Int(0)),
        ("aof.buffer", Reply::Int(0)),
        ("lua.caches", Reply::Int(0)),
        ("functions.caches", Reply::Int(0)),
    ]
    .into_iter()
    .map(|(name, value)| (Reply::bulk(name.as_bytes()), value))
    .collect();
    for (index, db) in cx.engine.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        pairs.push((
            Reply::bulk_string(format!("db.{index}")),
            Reply::Map(vec![
                (
                    Reply::bulk(b"overhead.hashtable.main"),
                    Reply::Int((db.len() * KEY_OVERHEAD) as i64),
                ),
                (
                    Reply::bulk(b"overhead.hashtable.expires"),
                    Reply::Int((db.expires_len() * KEY_OVERHEAD) as i64),
                ),
            ]),
        ));
    }
    let per_key = used.checked_div(keys).unwrap_or(0);
    let dataset_pct = 100.0 * dataset as f64 / used.max(1) as f64;
    let tail = [
        ("overhead.total", Reply::Int(overhead as i64)),
        ("keys.count", Reply::Int(keys as i64)),
        ("keys.bytes-per-key", Reply::Int(per_key as i64)),
        ("dataset.bytes", Reply::Int(dataset as i64)),
        ("dataset.percentage", Reply::Double(dataset_pct.min(100.0))),
        (
            "peak.percentage",
            Reply::Double(100.0 * used as f64 / peak.max(1) as f64),
        ),
        ("allocator.allocated", Reply::Int(used as i64)),
        ("allocator.resident", Reply::Int(rss as i64)),
        (
            "fragmentation",
            Reply::Double(rss as f64 / used.max(1) as f64),
        ),
        ("fragmentation.bytes", Reply::Int(rss as i64 - used as i64)),
    ];
    pairs.extend(
        tail.into_iter()
            .map(|(name, value)| (Reply::bulk(name.as_bytes()), value)),
    );
    Reply::Map(pairs)
}

/// `MEMORY DOCTOR`: Redis's report, for the conditions redislab can observe.
fn doctor(cx: &mut Exec) -> String {
    let used = used_bytes();
    let (keys, _) = dataset_bytes(cx);
    if used < 5 * 1024 * 1024 && keys < 10_000 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector \
                can't be used in these conditions. Please, leave for your mission on Earth and \
                fill it with some data. The new Sam and I will be back to our programming as soon \
                as I finished rebooting."
            .to_string();
    }
    let peak = memory::peak_memory().max(used);
    if peak > used * 3 / 2 {
        return format!(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n \
             * Peak memory: In the past this instance used more than 150% the memory that is \
             currently using. The allocator is normally not able to release memory after a peak, \
             so you can expect to see a big fragmentation ratio, however this is actually \
             harmless and is only due to the memory peak, and if the Redis instance Resident Set \
             Size (RSS) is currently bigger than expected, the memory will be used as soon as you \
             fill the Redis instance with more data. If the memory peak was only occasional and \
             you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise \
             the only other option is to shutdown and restart the instance.\n\n\
             I'm here to keep you safe, Sam. I want to help you.\n(peak {peak}, used {used})\n"
        );
    }
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs \
     on this base."
        .to_string()
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{err, Harness};
    use crate::resp::Reply;

    #[test]
    fn usage_estimates_existing_keys_only() {
        let mut h = Harness::new();
        h.run(&["set", "k", "v"]);
        h.run(&["hset", "h", "f", "v"]);
        assert!(matches!(h.run(&["memory", "usage", "k"]), Reply::Int(n) if n > 0));
        assert!(matches!(h.run(&["memory", "usage", "h", "SAMPLES", "0"]), Reply::Int(n) if n > 0));
        assert_eq!(h.run(&["memory", "usage", "nokey"]), Reply::Null);
        assert_eq!(
            h.run(&["memory", "usage", "k", "samples", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["memory", "usage", "k", "samples", "-1"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["memory", "usage", "k", "foo"]),
            err("ERR syntax error")
        );
        assert_eq!(
            h.run(&["memory", "foo"]),
            err("ERR unknown subcommand 'foo'. Try MEMORY HELP.")
        );
        assert!(matches!(h.run(&["memory", "stats"]), Reply::Map(_)));
        assert_eq!(h.run(&["memory", "purge"]), Reply::ok());
        assert_eq!(
            h.run(&["memory", "usage"]),
            err("ERR wrong number of arguments for 'memory|usage' command")
        );
    }
}
