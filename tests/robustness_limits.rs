//! Limits as Redis enforces them, against a real `redislab server` process: `maxmemory` with
//! every policy, `maxclients`, `client-query-buffer-limit`, `proto-max-bulk-len`,
//! `client-output-buffer-limit`, `timeout`, and many idle connections and slow readers with
//! the resident set bounded.
//!
//! Counts are modest for CI; `REDISLAB_IDLE_CONNECTIONS` and `REDISLAB_SLOW_READERS` raise
//! them (the figure is 10,000 idle connections and a few thousand slow readers; the
//! process's open-file limit must allow it).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{info_field, raw_exchange, wait_until, TestNode};
use redis::{Commands, RedisResult};

fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).expect("INFO")
}

fn used_memory(con: &mut redis::Connection) -> u64 {
    info_field(&info(con, "memory"), "used_memory")
        .parse()
        .expect("used_memory")
}

fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("an error reply");
    format!(
        "{} {}",
        error.code().unwrap_or(""),
        error.detail().unwrap_or("")
    )
}

/// Resident set size of `pid` in bytes, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn noeviction_answers_oom_to_writes_and_keeps_serving_reads() {
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let limit = used_memory(&mut con) + 2 * 1024 * 1024;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut con)
        .unwrap();
    let value = "x".repeat(10_000);
    let mut refused = None;
    for i in 0..2_000 {
        let r: RedisResult<()> = con.set(format!("k{i}"), &value);
        if r.is_err() {
            refused = Some(error_text(r));
            break;
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some("OOM command not allowed when used memory > 'maxmemory'.")
    );
    // Reads and deletions still run; nothing was evicted.
    let got: Option<String> = con.get("k0").unwrap();
    assert_eq!(got.as_deref(), Some(value.as_str()));
    let stats = info(&mut con, "stats");
    assert_eq!(info_field(&stats, "evicted_keys"), "0");
    let memory = info(&mut con, "memory");
    assert_eq!(info_field(&memory, "maxmemory_policy"), "noeviction");
    assert_eq!(info_field(&memory, "maxmemory"), limit.to_string());
    // Inside MULTI every queued command is refused (even a read), and EXEC then aborts.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let queued: RedisResult<String> = redis::cmd("GET").arg("k0").query(&mut con);
    assert_eq!(
        error_text(queued),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    let exec: RedisResult<()> = redis::cmd("EXEC").query(&mut con);
    assert_eq!(
        error_text(exec),
        "EXECABORT Transaction discarded because of previous errors."
    );
    let deleted: i64 = con.del("k0").unwrap();
    assert_eq!(deleted, 1);
}

#[test]
fn every_eviction_policy_keeps_memory_under_maxmemory() {
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let value = "v".repeat(1_000);
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(0)
            .query(&mut con)
            .unwrap();
        let limit = used_memory(&mut con) + 3 * 1024 * 1024;
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .arg("maxmemory")
            .arg(limit)
            .query(&mut con)
            .unwrap();
        let evicted_before: u64 = info_field(&info(&mut con, "stats"), "evicted_keys")
            .parse()
            .unwrap();
        let volatile = policy.starts_with("volatile");
        for i in 0..10_000 {
            let key = format!("{policy}:{i}");
            let r: RedisResult<()> = if volatile {
                con.set_ex(&key, &value, 10_000)
            } else {
                con.set(&key, &value)
            };
            r.unwrap_or_else(|e| panic!("{policy}: write {i} refused: {e}"));
        }
        let used = used_memory(&mut con);
        let keys: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        let evicted: u64 = info_field(&info(&mut con, "stats"), "evicted_keys")
            .parse()
            .unwrap();
        assert!(evicted > evicted_before, "{policy}: nothing evicted");
        assert!(keys < 10_000, "{policy}: {keys} keys left");
        // Eviction runs before each command, so a command's own allocation may exceed the
        // limit until the next one; allow a little slack.
        assert!(
            used <= limit + 256 * 1024,
            "{policy}: used {used} > maxmemory {limit}"
        );
        eprintln!("{policy}: {keys} keys kept, {evicted} evicted in total, used {used}");
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query(&mut con)
        .unwrap();
}

#[test]
fn volatile_policies_without_volatile_keys_refuse_writes() {
    let node = TestNode::start(&["--save", "", "--maxmemory-policy", "volatile-lru"]);
    let mut con = node.conn();
    let limit = used_memory(&mut con) + 1024 * 1024;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut con)
        .unwrap();
    let value = "x".repeat(10_000);
    let refused = (0..1_000).any(|i| con.set::<_, _, ()>(format!("k{i}"), &value).is_err());
    assert!(
        refused,
        "writes past maxmemory with no volatile key must be refused"
    );
}

#[test]
fn object_freq_and_idletime_follow_the_policy() {
    let node = TestNode::start(&["--save", "", "--maxmemory-policy", "allkeys-lfu"]);
    let mut con = node.conn();
    let _: () = con.set("k", "v").unwrap();
    for _ in 0..100 {
        let _: String = con.get("k").unwrap();
    }
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert!(freq > 5, "{freq}");
    let idle: RedisResult<i64> = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("k")
        .query(&mut con);
    assert!(error_text(idle).contains("An LFU maxmemory policy is selected"));
}

#[test]
fn maxclients_refuses_with_redis_text() {
    let node = TestNode::start(&["--save", "", "--maxclients", "3"]);
    let mut held: Vec<TcpStream> = Vec::new();
    // The readiness probe may still be closing: retry until each of three is served.
    for _ in 0..3 {
        let mut served = None;
        wait_until(Duration::from_secs(15), || {
            let mut s = node.raw();
            if raw_exchange(&mut s, b"PING\r\n", 7) == b"+PONG\r\n" {
                served = Some(s);
            }
            served.is_some()
        });
        held.push(served.expect("a connection below maxclients is served"));
    }
    let mut extra = node.raw();
    let got = raw_exchange(&mut extra, b"PING\r\n", 64);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
    drop(held.pop());
    assert!(wait_until(Duration::from_secs(15), || {
        let mut s = node.raw();
        raw_exchange(&mut s, b"PING\r\n", 7) == b"+PONG\r\n"
    }));
    let mut con = node.conn();
    let stats = info(&mut con, "stats");
    assert!(
        info_field(&stats, "rejected_connections")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
}

#[test]
fn query_buffer_and_bulk_length_limits_close_the_client_and_log_why() {
    let node = TestNode::start(&[
        "--save",
        "",
        "--client-query-buffer-limit",
        "1mb",
        "--proto-max-bulk-len",
        "2mb",
        // Redis logs protocol errors at verbose level.
        "--loglevel",
        "verbose",
    ]);
    // A bulk longer than proto-max-bulk-len: protocol error, then close.
    let mut s = node.raw();
    let got = raw_exchange(&mut s, b"*2\r\n$3\r\nGET\r\n$3000000\r\n", 1024);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // A request growing past client-query-buffer-limit: closed without a reply.
    let mut s = node.raw();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if s.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        let mut buf = [0u8; 16];
        closed = matches!(s.read(&mut buf), Ok(0) | Err(_));
    }
    assert!(closed, "the connection must be closed");
    assert!(wait_until(Duration::from_secs(15), || node.log().contains(
        "Closing client that reached max query buffer length"
    )));
    assert!(node.log().contains("Protocol error (invalid bulk length)"));
    let mut con = node.conn();
    let exists: bool = con.exists("k").unwrap();
    assert!(!exists);
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let node = TestNode::start(&["--save", "", "--timeout", "1"]);
    let mut idle = node.raw();
    assert_eq!(raw_exchange(&mut idle, b"PING\r\n", 7), b"+PONG\r\n");
    let mut subscriber = node.raw();
    raw_exchange(&mut subscriber, b"SUBSCRIBE c\r\n", 33);
    std::thread::sleep(Duration::from_millis(2_500));
    let mut buf = [0u8; 16];
    idle.set_read_timeout(Some(Duration::from_secs(2))).ok();
    assert!(
        matches!(idle.read(&mut buf), Ok(0) | Err(_)),
        "idle client still open"
    );
    // Subscribers are never closed for idleness.
    let mut con = node.conn();
    let receivers: i64 = con.publish("c", "hi").unwrap();
    assert_eq!(receivers, 1);
    // CONFIG SET timeout applies to connections already open.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let mut kept = node.raw();
    assert_eq!(raw_exchange(&mut kept, b"PING\r\n", 7), b"+PONG\r\n");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(raw_exchange(&mut kept, b"PING\r\n", 7), b"+PONG\r\n");
}

#[test]
fn a_reply_over_the_normal_hard_limit_drops_the_client() {
    let node = TestNode::start(&[
        "--save",
        "",
        "--client-output-buffer-limit",
        "normal 1mb 256kb 1",
    ]);
    let mut con = node.conn();
    let _: () = con.set("big", "x".repeat(2 * 1024 * 1024)).unwrap();
    let _: () = con.set("small", "y".repeat(100 * 1024)).unwrap();
    let mut s = node.raw();
    let got = raw_exchange(&mut s, b"GET big\r\n", 3 * 1024 * 1024);
    assert!(got.is_empty(), "got {} bytes", got.len());
    assert!(wait_until(Duration::from_secs(15), || node.log().contains(
        "scheduled to be closed ASAP for overcoming of output buffer limits"
    )));
    // Small replies are untouched.
    let got: String = con.get("small").unwrap();
    assert_eq!(got.len(), 100 * 1024);
}

#[test]
fn a_slow_reader_over_the_soft_limit_is_dropped() {
    let node = TestNode::start(&[
        "--save",
        "",
        "--client-output-buffer-limit",
        "normal 0 1mb 1",
    ]);
    let mut con = node.conn();
    // One reply far larger than the soft limit plus what the kernel's socket buffers take
    // (a few MB on loopback). Smaller replies a client does not read are not buffered without
    // bound either: the node stops reading that client's requests until its output drains,
    // so at most one batch of output waits.
    let _: () = con.set("v", "z".repeat(12 * 1024 * 1024)).unwrap();
    let mut s = node.raw();
    // Ask, and never read.
    s.write_all(b"GET v\r\n").unwrap();
    let dropped = wait_until(Duration::from_secs(10), || {
        node.log()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits")
    });
    assert!(dropped, "the slow reader was not dropped");
}

#[test]
fn many_idle_connections_and_slow_readers_keep_rss_bounded() {
    let idle_count = env_number("REDISLAB_IDLE_CONNECTIONS", 1_000);
    let slow_count = env_number("REDISLAB_SLOW_READERS", 200);
    let node = TestNode::start(&[
        "--save",
        "",
        "--maxclients",
        &(idle_count + slow_count + 100).to_string(),
    ]);
    let pid = node.pid().unwrap();
    let mut con = node.conn();
    // A 256 KB value each slow reader asks for repeatedly and never reads.
    let reply_bytes = 256 * 1024;
    let _: () = con.set("big", "b".repeat(reply_bytes)).unwrap();
    let baseline = rss_bytes(pid);
    let started = Instant::now();
    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        idle.push(TcpStream::connect(("127.0.0.1", node.port)).expect("connect"));
    }
    let mut slow = Vec::with_capacity(slow_count);
    for _ in 0..slow_count {
        let mut s = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
        s.set_nonblocking(true).ok();
        let _ = s.write(&b"GET big\r\n".repeat(8));
        slow.push(s);
    }
    // Let the node serve what it can; then it must still answer, with memory bounded.
    std::thread::sleep(Duration::from_millis(500));
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let clients = info_field(&info(&mut con, "clients"), "connected_clients");
    let rss = rss_bytes(pid);
    eprintln!(
        "{idle_count} idle + {slow_count} slow readers: connected_clients {clients}, RSS {} MB \
         (baseline {} MB), set up in {:?}",
        rss >> 20,
        baseline >> 20,
        started.elapsed()
    );
    // A connection costs a few KB (Redis: about 20 KB); a slow reader holds at most the reply
    // being written, since the node stops reading its requests meanwhile. Nothing more may
    // accumulate.
    let per_connection = 16 * 1024;
    let per_reader = 2 * reply_bytes as u64;
    let bound = baseline
        + 32 * 1024 * 1024
        + (idle_count + slow_count) as u64 * per_connection
        + slow_count as u64 * per_reader;
    assert!(rss < bound, "RSS {} MB > {} MB", rss >> 20, bound >> 20);
}
