//! Random-protocol smoke test: many short connections, each sending a seeded random mix of
//! command names, numbers, RESP type bytes, quotes, NUL bytes and line ends, then going away.
//! Nothing destructive is in the mix (no SHUTDOWN, CONFIG, DEBUG, REPLICAOF, CLIENT PAUSE,
//! SETRANGE/SETBIT with huge offsets). The node must keep answering PING, stay alive, and keep
//! its resident set bounded, as real Redis does (about 12 MB) on the same traffic.
//!
//! CI runs a bounded number of connections per seed; set `REDISLAB_SMOKE_CONNECTIONS` (per
//! seed) and `REDISLAB_SMOKE_SEEDS` (comma separated) for longer runs, e.g.
//! `REDISLAB_SMOKE_CONNECTIONS=3000 REDISLAB_SMOKE_SEEDS=1,2,3,4,5 cargo test --test robustness`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestNode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Command names the generator draws from: every connection mode (SYNC/PSYNC, MONITOR,
/// SUBSCRIBE, MULTI, blocking pops, WAIT) and ordinary reads and writes.
const COMMANDS: &[&str] = &[
    "GET",
    "SET",
    "PING",
    "ECHO",
    "INCR",
    "DECRBY",
    "DEL",
    "EXISTS",
    "MGET",
    "MSET",
    "APPEND",
    "GETRANGE",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "LRANGE",
    "LLEN",
    "BLPOP",
    "BRPOP",
    "BLMOVE",
    "HSET",
    "HGET",
    "HGETALL",
    "SADD",
    "SMEMBERS",
    "SINTER",
    "ZADD",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "EXPIRE",
    "PEXPIRE",
    "TTL",
    "TYPE",
    "KEYS",
    "SCAN",
    "DBSIZE",
    "SELECT",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUBLISH",
    "MONITOR",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "SYNC",
    "PSYNC",
    "REPLCONF",
    "WAIT",
    "INFO",
    "HELLO",
    "AUTH",
    "CLIENT",
    "LIST",
    "SETNAME",
    "ID",
    "OBJECT",
    "ENCODING",
    "COMMAND",
    "COUNT",
    "TIME",
    "QUIT",
    "RESET",
    "ROLE",
    "LASTSAVE",
    "?",
    "-1",
    "*",
];

/// One random token of the wire mix.
fn token(rng: &mut StdRng, out: &mut Vec<u8>) {
    match rng.gen_range(0..14) {
        0..=3 => out.extend_from_slice(COMMANDS[rng.gen_range(0..COMMANDS.len())].as_bytes()),
        4 | 5 => {
            let n: i64 = match rng.gen_range(0..6) {
                0 => rng.gen_range(-3..20),
                1 => rng.gen_range(0..100_000),
                2 => i64::from(i32::MAX) + rng.gen_range(-2..3),
                3 => rng.gen(),
                4 => -rng.gen_range(0..1_000_000),
                _ => rng.gen_range(0..3),
            };
            out.extend_from_slice(n.to_string().as_bytes());
        }
        6 => out.push(b"*$+-:_,#!=(|~>%"[rng.gen_range(0..15)]),
        7 | 8 => {
            out.extend_from_slice([&b"\r\n"[..], b"\n", b"\r", b"\r\n\r\n"][rng.gen_range(0..4)])
        }
        9 | 10 => out.push(b" \t"[rng.gen_range(0..2)]),
        11 => out.push(b"\"'\\"[rng.gen_range(0..3)]),
        12 => out.extend_from_slice(&[0, 0x0b, 0x0c, 0xff][rng.gen_range(0..4)..][..1]),
        _ => {
            // A well-formed multibulk request, so that many commands actually run.
            let argc = rng.gen_range(1..5);
            out.extend_from_slice(format!("*{argc}\r\n").as_bytes());
            for i in 0..argc {
                let arg = if i == 0 {
                    COMMANDS[rng.gen_range(0..COMMANDS.len())].to_string()
                } else {
                    rng.gen_range(0..50).to_string()
                };
                out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
            }
        }
    }
}

/// The random bytes one connection sends.
fn random_session(rng: &mut StdRng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.gen_range(1..40) {
        token(rng, &mut out);
        if rng.gen_bool(0.5) {
            out.push(b' ');
        }
    }
    out
}

/// Resident set size of `pid` in bytes, from /proc.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// PING on a fresh connection answers +PONG within a few seconds.
fn answers_ping(node: &TestNode) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", node.port)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !got.ends_with(b"\r\n") && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got == b"+PONG\r\n"
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends each session on its own connection, reads briefly, and closes (often mid-request).
fn run_seed(node: &TestNode, seed: u64, connections: u64, rss_limit: u64) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut peak = 0;
    for i in 0..connections {
        let bytes = random_session(&mut rng);
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", node.port)) {
            s.set_read_timeout(Some(Duration::from_millis(5))).ok();
            s.set_write_timeout(Some(Duration::from_secs(2))).ok();
            // Sometimes in pieces, so the parser sees partial input.
            let cut = rng.gen_range(0..=bytes.len());
            let _ = s.write_all(&bytes[..cut]);
            let _ = s.write_all(&bytes[cut..]);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
        }
        if i % 100 == 99 || i + 1 == connections {
            assert!(
                answers_ping(node),
                "seed {seed}: node stopped answering after {} connections",
                i + 1
            );
            let rss = rss_bytes(node.pid().expect("running")).expect("node process alive");
            peak = peak.max(rss);
            assert!(
                rss < rss_limit,
                "seed {seed}: RSS {} MB after {} connections",
                rss >> 20,
                i + 1
            );
        }
    }
    peak
}

#[test]
fn random_protocol_traffic_never_takes_the_node_down() {
    let connections = env_number("REDISLAB_SMOKE_CONNECTIONS", 1000);
    let seeds: Vec<u64> = std::env::var("REDISLAB_SMOKE_SEEDS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    // Real Redis stays near 12 MB on this traffic; allow for a debug build's larger footprint.
    let rss_limit = 128 << 20;
    for seed in seeds {
        let node = TestNode::start(&["--save", ""]);
        let peak = run_seed(&node, seed, connections, rss_limit);
        eprintln!(
            "seed {seed}: {connections} connections, peak RSS {} KB",
            peak >> 10
        );
    }
}
