//! RDB interop with the real Redis 7.0 tools, when they are installed:
//!
//! - files redislab writes pass `redis-check-rdb`;
//! - a file a real `redis-server` SAVEs loads into the same data redislab put there;
//! - a file redislab writes loads into a real `redis-server` with the same data, TTLs and db
//!   numbers (compared through DUMP, so every byte of every value is checked);
//! - DUMP payloads go both ways through RESTORE.
//!
//! Each test prints a loud SKIPPED line and passes when redis-server is absent (`tests/tools_present.rs`
//! makes that visible; under `CI=true` it fails). Every process
//! started here is killed by its PID on drop, and every wait has a deadline.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redislab::persist::rdb::listpack::format_score;
use redislab::persist::rdb::{
    describe_reader, dump_value, load_snapshot, restore_value, write_snapshot, AuxValue,
    SaveOptions,
};
use redislab::store::value::{EncodingLimits, Hash, List, Set};
use redislab::store::zset::ZSet;
use redislab::store::{Db, Str, Value};

/// Far-future expiry used for TTL keys (2100-01-01), in Unix ms.
const FAR_FUTURE_MS: i64 = 4_102_444_800_000;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn tools_installed() -> bool {
    common::have_tools(&["redis-server", "redis-cli", "redis-check-rdb"])
}

/// Runs `cmd` with optional stdin, killing it by PID if it outlives `COMMAND_TIMEOUT`.
fn run(mut cmd: Command, stdin: Option<Vec<u8>>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(COMMAND_TIMEOUT) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            // SAFETY: kill(2) on the PID of the child we spawned and have not reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("command timed out: {cmd:?}");
        }
    }
}

/// A real redis-server on an ephemeral loopback port, killed by PID on drop.
struct RedisServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl RedisServer {
    /// Starts redis-server with `dir/dbfilename` as its RDB file and waits for PING.
    fn start(dir: &Path, dbfilename: &str) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--dbfilename",
                dbfilename,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--logfile"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut server = RedisServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server exited with {status}:\n{}", server.log_text());
            }
            let out = server.cli_bytes(0, &[b"PING"]);
            if out.stdout.starts_with(b"PONG") {
                return server;
            }
            if Instant::now() > deadline {
                panic!("redis-server did not answer PING:\n{}", server.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One command, sent as a quoted line on redis-cli's stdin (argv cannot carry NUL bytes).
    fn cli_bytes(&self, db: usize, args: &[&[u8]]) -> Output {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string(), "-n", &db.to_string()]);
        let line: Vec<String> = args.iter().map(|a| arg(a)).collect();
        run(cmd, Some(format!("{}\n", line.join(" ")).into_bytes()))
    }

    /// One command; its raw reply without the trailing newline redis-cli adds.
    fn cli(&self, db: usize, args: &[&[u8]]) -> Vec<u8> {
        let mut out = self.cli_bytes(db, args).stdout;
        if out.last() == Some(&b'\n') {
            out.pop();
        }
        out
    }

    /// Many commands, one per line, through redis-cli's stdin; fails on any error reply.
    fn script(&self, db: usize, script: &str) {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string(), "-n", &db.to_string()]);
        let out = run(cmd, Some(script.as_bytes().to_vec()));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !text.contains("ERR"),
            "script failed: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- redis-server log (port {}) ---\n{}",
                self.port,
                self.log_text()
            );
        }
        // Child::kill sends SIGKILL to this child's PID only; wait reaps it at once.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The data every test uses: every type in small and big forms, TTLs, and dbs 0, 2 and 3.
fn model() -> Vec<Db> {
    let mut db0 = Db::new();
    db0.set(b("int"), Value::String(b("12345").into()));
    db0.set(b("negint"), Value::String(b("-7").into()));
    db0.set(b("bigint"), Value::String(b("9223372036854775807").into()));
    db0.set(b("str"), Value::String(b("hello").into()));
    db0.set(
        b("long"),
        Value::String(Bytes::from("abc".repeat(200)).into()),
    );
    let mut state = 7u32;
    let noise: String = (0..100)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (b'a' + ((state >> 16) % 26) as u8) as char
        })
        .collect();
    db0.set(b("noise"), Value::String(Bytes::from(noise).into()));
    db0.set(
        Bytes::from_static(b"bin\x00\xffkey"),
        Value::String(b("binary key").into()),
    );
    db0.set(b("ttl"), Value::String(b("v").into()));
    db0.set_expire_time(b"ttl", FAR_FUTURE_MS);
    db0.set(
        b("list"),
        Value::List(["a", "b", "c"].iter().map(|s| Str::from(*s)).collect()),
    );
    let biglist: List = (0..1000)
        .map(|i| Str::from(format!("element-{i}")))
        .collect();
    db0.set(b("biglist"), Value::List(biglist));
    db0.set_expire_time(b"biglist", FAR_FUTURE_MS + 1);
    let intlist: List = (0..300)
        .map(|i| Str::from((i * 1000 - 7).to_string()))
        .collect();
    db0.set(b("intlist"), Value::List(intlist));
    db0.set(
        b("iset"),
        Value::Set(["1", "2", "3"].iter().map(|s| b(s)).collect()),
    );
    db0.set(
        b("wideiset"),
        Value::Set(["-70000", "5", "8589934592"].iter().map(|s| b(s)).collect()),
    );
    let bigiset: Set = (0..600).map(|i| Bytes::from(i.to_string())).collect();
    db0.set(b("bigiset"), Value::Set(bigiset));
    db0.set(
        b("set"),
        Value::Set(["x", "y", "z"].iter().map(|s| b(s)).collect()),
    );
    let bigset: Set = (0..300)
        .map(|i| Bytes::from(format!("member-{i}")))
        .collect();
    db0.set(b("bigset"), Value::Set(bigset));
    let mut hash = Hash::new();
    hash.insert(b("f1"), b("v1"), &EncodingLimits::default());
    hash.insert(b("f2"), b("300"), &EncodingLimits::default());
    db0.set(b("hash"), Value::Hash(hash));
    let bighash: Hash = (0..600)
        .map(|i| {
            (
                Bytes::from(format!("field{i}")),
                Bytes::from(format!("value{i}")),
            )
        })
        .collect();
    db0.set(b("bighash"), Value::Hash(bighash));
    db0.set_expire_time(b"bighash", FAR_FUTURE_MS + 2);
    let mut longhash = Hash::new();
    longhash.insert(
        b("f"),
        Bytes::from("y".repeat(100)),
        &EncodingLimits::default(),
    );
    db0.set(b("longhash"), Value::Hash(longhash));
    let mut zset = ZSet::new();
    for (m, s) in [
        ("a", 1.0),
        ("b", 2.5),
        ("c", -0.1),
        ("d", f64::INFINITY),
        ("e", 1e300),
    ] {
        zset.insert(m.as_bytes(), s, &EncodingLimits::default());
    }
    db0.set(b("zset"), Value::ZSet(zset));
    let mut bigzset = ZSet::new();
    for i in 0..200 {
        bigzset.insert(
            format!("m{i}").as_bytes(),
            i as f64 / 7.0,
            &EncodingLimits::default(),
        );
    }
    db0.set(b("bigzset"), Value::ZSet(bigzset));

    let db1 = Db::new();
    let mut db2 = Db::new();
    db2.set(b("db2key"), Value::String(b("val").into()));
    let mut db3 = Db::new();
    let mut h = Hash::new();
    h.insert(b("k"), b("v"), &EncodingLimits::default());
    db3.set(b("db3hash"), Value::Hash(h));
    db3.set_expire_time(b"db3hash", FAR_FUTURE_MS);
    vec![db0, db1, db2, db3]
}

/// Quotes an argument for redis-cli's stdin mode (`sdssplitargs`).
fn arg(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in bytes {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x21..=0x7e | b' ' => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// The redis-cli script that recreates `db`.
fn populate_script(db: &Db) -> String {
    let mut script = String::new();
    for (key, value, expire) in db.iter_with_expiry() {
        let k = arg(key);
        let line = match value {
            Value::String(s) => format!("SET {k} {}", arg(s)),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(|e| arg(&e.to_vec())).collect();
                format!("RPUSH {k} {}", items.join(" "))
            }
            Value::Set(s) => {
                let items: Vec<String> = s.iter().map(|e| arg(&e)).collect();
                format!("SADD {k} {}", items.join(" "))
            }
            Value::Hash(h) => {
                let items: Vec<String> = h
                    .iter()
                    .map(|(f, v)| format!("{} {}", arg(f), arg(v)))
                    .collect();
                format!("HSET {k} {}", items.join(" "))
            }
            Value::ZSet(z) => {
                let items: Vec<String> = z
                    .iter()
                    .map(|(m, s)| format!("{} {}", format_score(s), arg(m)))
                    .collect();
                format!("ZADD {k} {}", items.join(" "))
            }
        };
        script.push_str(&line);
        script.push('\n');
        if let Some(at) = expire {
            script.push_str(&format!("PEXPIREAT {k} {at}\n"));
        }
    }
    script
}

fn assert_same_db(expected: &Db, actual: &Db, what: &str) {
    assert_eq!(expected.len(), actual.len(), "{what}: key count");
    for (key, value, expire) in expected.iter_with_expiry() {
        assert_eq!(actual.peek(key), Some(value), "{what}: value of {key:?}");
        assert_eq!(actual.expire_time(key), expire, "{what}: expiry of {key:?}");
    }
}

fn write_model(path: &Path, compression: bool) {
    let mut options = SaveOptions::new(1_700_000_000);
    options.compression = compression;
    let file = std::fs::File::create(path).unwrap();
    let aux = [("aof-base", AuxValue::Int(0))];
    write_snapshot(file, &model(), &aux, &options).unwrap();
}

#[test]
fn redis_check_rdb_accepts_what_redislab_writes() {
    if !tools_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for compression in [true, false] {
        let path = dir.path().join(format!("redislab-{compression}.rdb"));
        write_model(&path, compression);
        let out = run(
            {
                let mut c = Command::new("redis-check-rdb");
                c.arg(&path);
                c
            },
            None,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "redis-check-rdb rejected the file:\n{text}"
        );
        assert!(text.contains("keys read"), "{text}");
    }
}

#[test]
fn loads_what_a_real_redis_saves() {
    if !tools_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), "real.rdb");
    server.script(0, "CONFIG SET rdbcompression yes\n");
    let model = model();
    for (index, db) in model.iter().enumerate() {
        server.script(index, &populate_script(db));
    }
    assert_eq!(server.cli(0, &[b"SAVE"]), b"OK");
    let bytes = std::fs::read(dir.path().join("real.rdb")).unwrap();
    let snapshot = load_snapshot(&bytes[..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snapshot.version, 10);
    assert_eq!(
        snapshot.aux("redis-ver").map(|v| &v[..]),
        Some(&b"7.0.15"[..])
    );
    for (index, db) in model.iter().enumerate() {
        match snapshot.db(index) {
            Some(loaded) => assert_same_db(db, loaded, &format!("db {index}")),
            None => assert!(db.is_empty(), "db {index} missing"),
        }
    }

    // The inspector sees every compact encoding real Redis 7.0 chose.
    let mut text = Vec::new();
    describe_reader(&bytes[..], &mut text).unwrap().unwrap();
    let text = String::from_utf8(text).unwrap();
    for expected in [
        "string (int)",
        "string (raw)",
        "string (lzf",
        "list (quicklist2",
        "set (intset, 2-byte integers)",
        "set (intset, 8-byte integers)",
        "set (hashtable)",
        "hash (listpack)",
        "hash (hashtable)",
        "zset (listpack)",
        "zset (skiplist)",
        "(matches)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // DUMP payloads from the real server restore to the same values. A list built by the
    // same pushes splits into the same quicklist nodes, byte for byte.
    for (key, value, _) in model[0].iter_with_expiry() {
        let payload = server.cli(0, &[b"DUMP", key]);
        let restored = restore_value(&payload).unwrap();
        assert_eq!(&restored, value, "DUMP of {key:?}");
        if let (Value::List(theirs), Value::List(ours)) = (&restored, value) {
            assert!(
                theirs.listpacks().eq(ours.listpacks()),
                "nodes of {key:?}: {} in Redis, {} here",
                theirs.node_count(),
                ours.node_count()
            );
        }
    }
}

#[test]
fn real_redis_loads_what_redislab_writes() {
    if !tools_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("ours.rdb"), true);
    let server = RedisServer::start(dir.path(), "ours.rdb");
    let model = model();
    for (index, db) in model.iter().enumerate() {
        let size = server.cli(index, &[b"DBSIZE"]);
        assert_eq!(
            size,
            db.len().to_string().as_bytes(),
            "DBSIZE of db {index}"
        );
        for (key, value, expire) in db.iter_with_expiry() {
            let payload = server.cli(index, &[b"DUMP", key]);
            let restored = restore_value(&payload)
                .unwrap_or_else(|e| panic!("DUMP of {key:?} from db {index}: {e}"));
            assert_eq!(&restored, value, "value of {key:?} in db {index}");
            let at = server.cli(index, &[b"PEXPIRETIME", key]);
            let at: i64 = String::from_utf8_lossy(&at).parse().unwrap();
            assert_eq!(at, expire.unwrap_or(-1), "expiry of {key:?} in db {index}");
        }
    }
    assert!(
        !server.log_text().contains("empty keys skipped"),
        "{}",
        server.log_text()
    );

    // Our DUMP payloads are accepted by RESTORE and come back unchanged.
    for (key, value, _) in model[0].iter_with_expiry() {
        let mut restored_key = b"restored:".to_vec();
        restored_key.extend_from_slice(key);
        let reply = server.cli(0, &[b"RESTORE", &restored_key, b"0", &dump_value(value)]);
        assert_eq!(reply, b"OK", "RESTORE of {key:?}");
        let payload = server.cli(0, &[b"DUMP", &restored_key]);
        assert_eq!(&restore_value(&payload).unwrap(), value);
    }
}
