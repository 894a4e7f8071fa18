//! AOF interop with a real Redis 7.0 `redis-server`, when it is installed:
//!
//! - a directory a real server writes (writes, BGREWRITEAOF, more writes) loads through
//!   `persist::aof::load` into the expected base contents and commands;
//! - a directory redislab's `AofWriter` writes (RDB base from `write_snapshot`, incr commands,
//!   a truncated tail) loads into a real server with the same data, and the server cuts the
//!   tail where `load` says it should.
//!
//! Each test prints a loud SKIPPED line and passes when redis-server is absent (`tests/tools_present.rs`
//! makes that visible; under `CI=true` it fails). Every process
//! started here is killed by its PID on drop, and every wait has a deadline.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redislab::persist::aof::{self, AofPaths, AofWriter, BaseFormat, Replay};
use redislab::persist::rdb::{write_snapshot, AuxValue, SaveOptions};
use redislab::store::value::{EncodingLimits, Hash};
use redislab::store::{Db, Str, Value};

/// Far-future expiry (2100-01-01), Unix ms.
const FAR_FUTURE_MS: i64 = 4_102_444_800_000;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn redis_installed() -> bool {
    common::have_tools(&["redis-server", "redis-cli"])
}

/// Runs `cmd` with `stdin`, killing it by PID if it outlives [`COMMAND_TIMEOUT`].
fn run(mut cmd: Command, stdin: Vec<u8>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    if let Some(mut pipe) = child.stdin.take() {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
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

/// A real redis-server with `appendonly yes` in `dir`, killed by PID on drop.
struct RedisServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl RedisServer {
    fn start(dir: &Path) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--appendonly", "yes", "--save", "", "--daemonize", "no"])
            // `everysec` may postpone a write while a slow fsync runs (a busy disk), and the
            // tests SIGKILL the server: `always` writes before every reply.
            .args(["--appendfsync", "always"])
            .arg("--logfile")
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
            if server.cli(0, "PING") == "PONG" {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the lines of `script` in one redis-cli session on db `db`; returns its output.
    fn cli(&self, db: usize, script: &str) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-p", &self.port.to_string(), "-n", &db.to_string()]);
        let out = run(cmd, format!("{script}\n").into_bytes());
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Waits until `INFO persistence` shows no rewrite running or scheduled.
    fn wait_rewrite_done(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let info = self.cli(0, "INFO persistence");
            if info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
                && info.contains("aof_last_bgrewrite_status:ok")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the AOF rewrite did not finish:\n{info}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// What a load replayed: snapshot keys as `db:key` (with `+ttl` when they expire), commands
/// as text.
fn replayed(paths: &AofPaths) -> (Vec<String>, Vec<String>, aof::Loaded) {
    let mut keys = Vec::new();
    let mut commands = Vec::new();
    let loaded = aof::load(paths, EncodingLimits::default(), |r| {
        match r {
            Replay::Snapshot { snapshot, .. } => {
                for (n, db) in &snapshot.dbs {
                    for (k, _, expire) in db.iter_with_expiry() {
                        let ttl = if expire.is_some() { "+ttl" } else { "" };
                        keys.push(format!("{n}:{}{ttl}", String::from_utf8_lossy(k)));
                    }
                }
            }
            Replay::Command(c) => {
                let words: Vec<_> = c.argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
                commands.push(words.join(" "));
            }
        }
        Ok(())
    })
    .expect("load")
    .expect("an AOF");
    keys.sort();
    (keys, commands, loaded)
}

#[test]
fn a_directory_written_by_redis_server_loads() {
    if !redis_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = RedisServer::start(tmp.path());
    let out = server.cli(
        0,
        "SET name zhangsan\nHSET h f1 v1 f2 v2\nSELECT 3\nLPUSH l a b c\nEXPIRE l 1000",
    );
    assert_eq!(out, "OK\n2\nOK\n3\n1", "{out}");
    assert_eq!(
        server.cli(0, "BGREWRITEAOF"),
        "Background append only file rewriting started"
    );
    server.wait_rewrite_done();
    let out = server.cli(0, "SET after 1\nSELECT 5\nSADD s x y\nDEL missing");
    assert_eq!(out, "OK\nOK\n2\n0", "{out}");
    drop(server); // SIGKILL: what was acknowledged was written before the reply

    let paths = AofPaths::new(tmp.path());
    assert_eq!(
        fs::read_to_string(paths.manifest()).unwrap(),
        "file appendonly.aof.2.base.rdb seq 2 type b\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let (keys, commands, loaded) = replayed(&paths);
    assert_eq!(keys, vec!["0:h", "0:name", "3:l+ttl"]);
    // Commands as the client sent them; DEL of a missing key changes nothing and is not
    // propagated.
    assert_eq!(
        commands,
        vec!["SELECT 0", "SET after 1", "SELECT 5", "SADD s x y"]
    );
    assert_eq!(loaded.truncated, None);
    assert_eq!(loaded.snapshots, 1);

    let mut text = Vec::new();
    aof::describe(&paths.dir(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("RDB version 10: 3 keys (db0=2 db3=1)"),
        "{text}"
    );
    assert!(
        text.contains("[0x0000] SELECT 0\n[0x0017] SET after 1\n"),
        "{text}"
    );
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn argv(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|w| b(w)).collect()
}

#[test]
fn a_directory_written_by_redislab_loads_into_redis_server() {
    if !redis_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let paths = AofPaths::new(tmp.path());

    // The snapshot the first rewrite writes: db0 and db2.
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    dbs[0].set(b("name"), Value::String(b("zhangsan").into()));
    let mut h = Hash::new();
    h.insert(b("f1"), b("v1"), &EncodingLimits::default());
    dbs[0].set(b("h"), Value::Hash(h));
    dbs[2].set(
        b("l"),
        Value::List(["a", "b"].iter().map(|s| Str::from(*s)).collect()),
    );
    dbs[2].set_expire_time(b"l", FAR_FUTURE_MS);

    let (mut w, temp) = AofWriter::create(&paths, BaseFormat::Rdb).unwrap();
    w.append(0, &argv(&["SET", "during", "rewrite"]));
    w.write_out().unwrap();
    let f = fs::File::create(&temp).unwrap();
    write_snapshot(
        f,
        &dbs,
        &[("aof-base", AuxValue::Int(1))],
        &SaveOptions::new(1_700_000_000),
    )
    .unwrap();
    let done = w.finish_rewrite().unwrap();
    assert_eq!(done.base, "appendonly.aof.1.base.rdb");
    w.append(3, &argv(&["SADD", "s", "x", "y"]));
    w.append(0, &argv(&["DEL", "name"]));
    w.append(0, &argv(&["HSET", "h", "f2", "v2"]));
    w.write_out().unwrap();
    w.fsync().unwrap();
    drop(w);

    // A crash in the middle of the next write: half a command at the end.
    let incr = paths.file("appendonly.aof.1.incr.aof");
    let good_len = fs::metadata(&incr).unwrap().len();
    fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap()
        .write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nlost")
        .unwrap();
    let (_, _, loaded) = replayed(&paths);
    let t = loaded.truncated.expect("the half command is reported");
    assert_eq!(t.valid_up_to, good_len);

    let server = RedisServer::start(tmp.path());
    assert_eq!(server.cli(0, "GET name"), "");
    assert_eq!(server.cli(0, "GET during"), "rewrite");
    assert_eq!(server.cli(0, "HGETALL h"), "f1\nv1\nf2\nv2");
    assert_eq!(server.cli(2, "LRANGE l 0 -1"), "a\nb");
    let ttl: i64 = server.cli(2, "TTL l").parse().unwrap();
    assert!(ttl > 1_000_000, "ttl {ttl}");
    assert_eq!(server.cli(3, "SMEMBERS s").lines().count(), 2);
    assert_eq!(server.cli(0, "DBSIZE"), "2");
    assert!(
        server.log_text().contains(&format!(
            "Truncating the AOF appendonly.aof.1.incr.aof at offset {good_len}"
        )),
        "{}",
        server.log_text()
    );
    drop(server);
    assert_eq!(fs::metadata(&incr).unwrap().len(), good_len);
}
