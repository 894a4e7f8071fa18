//! Durability under faults and security defaults: a failed background save stops writes with
//! `-MISCONF` while `stop-writes-on-bgsave-error yes`; a node killed with SIGKILL in the middle
//! of BGSAVE restarts from the last complete dump; a replica killed while it receives a full
//! sync's snapshot, and a master killed while it saves one for a replica, restart with no temp
//! file and a complete state, and sync again.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{info_field, lab_fault, wait_until, TestNode};
use redis::{Commands, RedisResult};

const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently \
unable to persist to disk. Commands that may modify the data set are disabled, because this \
instance is configured to report errors during writes if RDB snapshotting fails \
(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB \
error.";

/// Writes `batches` × 1000 keys `{prefix}{batch}:{i}` with 1000-byte values, pipelined. The
/// values are pseudo-random (xorshift, fixed seed), so the snapshot does not compress: about
/// 1 MB per batch, and saving or sending it takes a moment.
fn fill(con: &mut redis::Connection, prefix: &str, batches: usize) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()
    };
    for batch in 0..batches {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            let value: Vec<u8> = (0..125).flat_map(|_| next()).collect();
            pipe.set(format!("{prefix}{batch}:{i}"), value).ignore();
        }
        let _: () = pipe.query(con).unwrap();
    }
}

/// The `temp-*` files in `dir`: what an interrupted save, rewrite or sync leaves behind.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("temp-"))
        .collect()
}

fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).unwrap()
}

/// An integer INFO field (`i64::MIN` when absent, so a comparison with it fails).
fn info_int(con: &mut redis::Connection, section: &str, field: &str) -> i64 {
    info_field(&info(con, section), field)
        .parse()
        .unwrap_or(i64::MIN)
}

fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("an error reply");
    format!(
        "{} {}",
        error.code().unwrap_or(""),
        error.detail().unwrap_or("")
    )
}

#[test]
fn a_failed_bgsave_makes_writes_answer_misconf() {
    let node = TestNode::start(&["--save", "900 1", "--stop-writes-on-bgsave-error", "yes"]);
    // The dump's name taken by a directory: the save cannot be renamed into place (a full
    // disk or a read-only directory fail the same way, and need root to set up).
    std::fs::create_dir(node.path().join("dump.rdb")).unwrap();
    let mut con = node.conn();
    let _: () = con.set("before", "1").unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    let failed = wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut con)
            .unwrap();
        info_field(&info, "rdb_last_bgsave_status") == "err"
    });
    assert!(failed, "the background save did not fail");
    assert_eq!(error_text(con.set::<_, _, ()>("after", "1")), MISCONF);
    assert_eq!(
        error_text(redis::cmd("PING").query::<String>(&mut con)),
        MISCONF
    );
    // Reads still work, and nothing acknowledged was lost.
    let before: String = con.get("before").unwrap();
    assert_eq!(before, "1");
    // With the option off, writes resume.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("stop-writes-on-bgsave-error")
        .arg("no")
        .query(&mut con)
        .unwrap();
    let _: () = con.set("after", "1").unwrap();
}

#[test]
fn without_save_points_a_failed_save_does_not_stop_writes() {
    let node = TestNode::start(&["--save", "", "--stop-writes-on-bgsave-error", "yes"]);
    std::fs::create_dir(node.path().join("dump.rdb")).unwrap();
    let mut con = node.conn();
    let _: RedisResult<String> = redis::cmd("BGSAVE").query(&mut con);
    std::thread::sleep(Duration::from_millis(500));
    let _: () = con.set("k", "v").unwrap();
}

#[test]
fn sigkill_during_bgsave_restarts_from_the_last_complete_dump() {
    let mut node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let _: () = con.set("complete", "yes").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    // Enough data that the background save takes a moment.
    fill(&mut con, "k", 50);
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    node.kill();
    // The forked child may still be writing; give it time to finish or die with its parent.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        node.restart(&["--save", ""]),
        "restart failed:\n{}",
        node.log()
    );
    let mut con = node.conn();
    let complete: Option<String> = con.get("complete").unwrap();
    assert_eq!(
        complete.as_deref(),
        Some("yes"),
        "the old dump or the new one must load"
    );
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(
        keys == 1 || keys == 50_001,
        "a partial dump was loaded: {keys} keys"
    );
    // No temp file is left behind once the node runs again.
    std::thread::sleep(Duration::from_millis(200));
    let temps = temp_files(node.path());
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

/// Issue 14, a `kill -9` during a full sync, replica side. The master holds its writes to the
/// replica back (`REDISLAB FAULT DELAY`, a master started with `--lab-faults`) so the transfer
/// is slow, and stalls them (`CUT OUT`) once the replica has part of the snapshot; the replica
/// is killed there. Restarted, it leaves no temp file, loads its own older dump (a corrupt one
/// would stop it), then syncs and holds the master's data, whose dump loads alone.
#[test]
fn sigkill_of_a_replica_mid_transfer_leaves_no_temp_file_and_it_syncs_after_restart() {
    let master = TestNode::start(&["--save", "", "--repl-diskless-sync", "no", "--lab-faults"]);
    let mut m = master.conn();
    fill(&mut m, "k", 30);
    let mut replica = TestNode::start(&["--save", ""]);
    let mut r = replica.conn();
    let _: () = r.set("older", "dump").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut r).unwrap();
    let peer = format!("127.0.0.1:{}", replica.port);
    lab_fault(&mut m, &["DELAY", &peer, "300"]);
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(master.port)
        .query(&mut r)
        .unwrap();
    let receiving = wait_until(Duration::from_secs(60), || {
        info_int(&mut r, "replication", "master_sync_read_bytes") > 0
    });
    assert!(
        receiving,
        "no snapshot byte arrived:\n{}",
        info(&mut r, "replication")
    );
    lab_fault(&mut m, &["CUT", &peer, "OUT"]);
    let text = info(&mut r, "replication");
    let total: i64 = info_field(&text, "master_sync_total_bytes")
        .parse()
        .unwrap();
    let read: i64 = info_field(&text, "master_sync_read_bytes").parse().unwrap();
    assert!(
        info_field(&text, "master_sync_in_progress") == "1" && 0 < read && read < total,
        "the replica is not in the middle of the transfer:\n{text}"
    );
    eprintln!("replica killed with {read} of {total} snapshot bytes received");
    replica.kill();
    lab_fault(&mut m, &["HEAL", "ALL"]);

    let port = master.port.to_string();
    let args = ["--save", "", "--replicaof", "127.0.0.1", &port];
    assert!(replica.restart(&args), "restart failed:\n{}", replica.log());
    let mut r = replica.conn();
    let synced = wait_until(Duration::from_secs(60), || {
        info_field(&info(&mut r, "replication"), "master_link_status") == "up"
    });
    assert!(synced, "no sync after the restart:\n{}", replica.log());
    let keys: u64 = redis::cmd("DBSIZE").query(&mut r).unwrap();
    assert_eq!(keys, 30_000, "the replica holds the master's data");
    let older: Option<String> = r.get("older").unwrap();
    assert_eq!(older, None, "a full sync replaces the older dataset");
    let temps = temp_files(replica.path());
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    // The dump the sync left is the master's data, complete.
    assert!(replica.restart(&["--save", ""]), "{}", replica.log());
    let keys: u64 = redis::cmd("DBSIZE").query(&mut replica.conn()).unwrap();
    assert_eq!(keys, 30_000);
}

/// The pid in a `Background saving started by pid N` log line (the last one).
fn bgsave_child(log: &str) -> Option<i32> {
    log.lines()
        .rev()
        .find_map(|l| l.split("Background saving started by pid ").nth(1))
        .and_then(|pid| pid.trim().parse().ok())
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Issue 14, a `kill -9` during a full sync, master side: the master is killed while the
/// BGSAVE it started for a replica runs. Its child finishes on its own (as Redis's does), and
/// what it wrote is the newest complete state: the restarted master loads it, leaves no temp
/// file, and the replica syncs from it.
#[test]
fn sigkill_of_a_master_during_its_bgsave_for_a_replica_restarts_from_the_newest_complete_dump() {
    let mut master = TestNode::start(&["--save", "", "--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    let _: () = m.set("complete", "yes").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut m).unwrap();
    fill(&mut m, "k", 50);
    let port = master.port.to_string();
    let replica = TestNode::start(&["--save", "", "--replicaof", "127.0.0.1", &port]);
    let saving = wait_until(Duration::from_secs(30), || {
        info_int(&mut m, "persistence", "rdb_bgsave_in_progress") == 1
            && !temp_files(master.path()).is_empty()
    });
    assert!(
        saving,
        "no BGSAVE for the replica was seen running:\n{}",
        master.log()
    );
    let child = bgsave_child(&master.log()).expect("the child's pid in the log");
    master.kill();
    let finished = wait_until(Duration::from_secs(60), || !alive(child));
    assert!(finished, "the orphaned save child {child} never finished");
    assert!(
        master.restart(&["--save", "", "--repl-diskless-sync", "no"]),
        "{}",
        master.log()
    );
    let mut m = master.conn();
    let keys: u64 = redis::cmd("DBSIZE").query(&mut m).unwrap();
    assert_eq!(
        keys, 50_001,
        "the snapshot the child completed is the newest state"
    );
    let temps = temp_files(master.path());
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    let mut r = replica.conn();
    let synced = wait_until(Duration::from_secs(60), || {
        info_field(&info(&mut r, "replication"), "master_link_status") == "up"
            && redis::cmd("DBSIZE").query::<u64>(&mut r).unwrap() == 50_001
    });
    assert!(synced, "the replica did not sync from the restarted master");
}

/// Connects from `source` (a loopback-range address) to the node and returns what it answers
/// to PING.
fn ping_from(source: &str, port: u16) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let mut stream = socket
            .connect(format!("127.0.0.1:{port}").parse().unwrap())
            .await
            .unwrap();
        let _ = stream.write_all(b"PING\r\n").await;
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while !got.ends_with(b"\r\n") {
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
}

#[test]
fn protected_mode_denies_non_local_peers_without_a_password() {
    let node = TestNode::start(&["--save", "", "--protected-mode", "yes"]);
    // 127.0.0.2 is loopback, but Redis 7.0 only trusts 127.0.0.1 and ::1.
    let denied = ping_from("127.0.0.2", node.port);
    assert!(
        denied.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{denied}"
    );
    assert!(ping_from("127.0.0.1", node.port).starts_with("+PONG"));
    // With a password the peer is let in (and must AUTH).
    let node = TestNode::start(&[
        "--save",
        "",
        "--protected-mode",
        "yes",
        "--requirepass",
        "pw",
    ]);
    assert!(ping_from("127.0.0.2", node.port).starts_with("-NOAUTH"));
    // With protected mode off, anyone.
    let node = TestNode::start(&["--save", "", "--protected-mode", "no"]);
    assert!(ping_from("127.0.0.2", node.port).starts_with("+PONG"));
}

#[test]
fn debug_and_protected_configs_are_off_by_default() {
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let debug: RedisResult<String> = redis::cmd("DEBUG").arg("SLEEP").arg(0).query(&mut con);
    assert_eq!(
        error_text(debug),
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
         you can run it from a local connection, otherwise you need to set this option in the \
         configuration file, and then restart the server."
    );
    // CONFIG SET cannot point the dump at another directory or file.
    for (name, value) in [("dir", "/tmp"), ("dbfilename", "x.rdb")] {
        let set: RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(&mut con);
        let text = error_text(set);
        assert!(
            text.contains("can't set protected config"),
            "{name}: {text}"
        );
    }
    // `local` allows a client on 127.0.0.1.
    let node = TestNode::start(&["--save", "", "--enable-debug-command", "local"]);
    let mut con = node.conn();
    let ok: String = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
}

#[test]
fn rename_command_renames_and_removes_commands() {
    let node = TestNode::start_with_config(
        "save \"\"\nrename-command FLUSHALL \"\"\nrename-command DEL remove-it\n",
        &[],
    );
    assert!(!node.log().contains("rename-command"), "{}", node.log());
    let mut con = node.conn();
    let _: () = con.set("k", "v").unwrap();
    let flush: RedisResult<()> = redis::cmd("FLUSHALL").query(&mut con);
    assert!(error_text(flush).starts_with("ERR unknown command 'FLUSHALL'"));
    let del: RedisResult<i64> = redis::cmd("DEL").arg("k").query(&mut con);
    assert!(error_text(del).starts_with("ERR unknown command 'DEL'"));
    let removed: i64 = redis::cmd("REMOVE-IT").arg("k").query(&mut con).unwrap();
    assert_eq!(removed, 1);
    // Inside MULTI the new name is what runs.
    let _: () = con.set("k", "v").unwrap();
    let (removed,): (i64,) = redis::pipe()
        .atomic()
        .cmd("remove-it")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert_eq!(removed, 1);
}

#[test]
fn rename_command_of_an_unknown_command_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, "rename-command NOSUCH other\n").unwrap();
    let log = dir.path().join("out.log");
    let mut child = std::process::Command::new(common::redislab())
        .arg("server")
        .arg(&conf)
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let exited = wait_until(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "the server started despite a bad rename-command");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("No such command in rename-command"), "{text}");
}

#[test]
fn sigkill_during_bgrewriteaof_loses_no_acknowledged_write() {
    let mut node = TestNode::start(&["--save", "", "--appendonly", "yes"]);
    let mut con = node.conn();
    fill(&mut con, "k", 30);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    // Writes acknowledged while the rewrite runs go to the new incr file.
    for i in 0..100 {
        let _: () = con.set(format!("during:{i}"), i).unwrap();
    }
    node.kill();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        node.restart(&["--save", "", "--appendonly", "yes"]),
        "restart failed:\n{}",
        node.log()
    );
    let mut con = node.conn();
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(keys, 30_100, "acknowledged writes were lost");
    let last: Option<i64> = con.get("during:99").unwrap();
    assert_eq!(last, Some(99));
    let leftovers = temp_files(&node.path().join("appendonlydir"));
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// With `appendfsync everysec`, killing the process (not the machine) loses no acknowledged
/// write: every write reaches the kernel before its reply, and only an OS crash can lose the
/// last second that was not yet fsynced. Killed three times under write load.
#[test]
fn sigkill_under_write_load_with_everysec_loses_no_acknowledged_write() {
    let args = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ];
    let mut node = TestNode::start(&args);
    let mut acknowledged = 0u64;
    for round in 0..3 {
        let mut con = node.conn();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(400) {
            let n: u64 = con.incr("counter", 1).unwrap();
            acknowledged = n;
        }
        node.kill();
        assert!(
            node.restart(&args),
            "restart {round} failed:\n{}",
            node.log()
        );
        let mut con = node.conn();
        let counter: u64 = con.get("counter").unwrap();
        assert_eq!(
            counter, acknowledged,
            "round {round}: acknowledged INCRs lost"
        );
    }
}

/// A replica killed and restarted in a loop while the master writes with `WAIT 1`: every write
/// WAIT reported as acknowledged by the replica is on the replica at the end.
#[test]
fn writes_acknowledged_by_wait_survive_replica_restarts() {
    let master = TestNode::start(&["--save", ""]);
    let replica_args = [
        "--save",
        "",
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
    ];
    let mut replica = TestNode::start(&replica_args);
    let mut m = master.conn();
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        for i in 0..50 {
            let key = format!("r{round}:{i}");
            let _: () = m.set(&key, i).unwrap();
            let acked: i64 = redis::cmd("WAIT").arg(1).arg(200).query(&mut m).unwrap();
            if acked >= 1 {
                acknowledged.push(key);
            }
        }
        replica.kill();
        assert!(replica.restart(&replica_args), "replica restart failed");
    }
    assert!(!acknowledged.is_empty(), "no write was ever acknowledged");
    let mut r = replica.conn();
    let synced = wait_until(Duration::from_secs(20), || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut r).unwrap();
        info_field(&info, "master_link_status") == "up"
    });
    assert!(synced, "the replica did not reconnect");
    for key in &acknowledged {
        let present: bool = wait_until(Duration::from_secs(15), || r.exists(key).unwrap());
        assert!(
            present,
            "{key} was acknowledged by WAIT but is missing on the replica"
        );
    }
    eprintln!(
        "{} WAIT-acknowledged writes all on the replica",
        acknowledged.len()
    );
}

/// A small tmpfs mounted for one test (needs root; the test skips loudly without it), unmounted
/// when dropped. Declare it before the node so that the node is killed first.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let mounted = root
            && std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!(
                "\n*** SKIPPED: cannot mount a tmpfs (needs root) for the full-disk test ***\n"
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A full disk under the AOF: the write that hit it was acknowledged, so its bytes stay
/// buffered; later writes answer `-MISCONF Errors writing to the AOF file: No space left on
/// device`; once space is back the buffer is written, writes resume, and after a restart every
/// acknowledged write is there.
#[test]
fn a_full_disk_under_the_aof_refuses_writes_and_loses_nothing_acknowledged() {
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let dir = disk.path().to_str().unwrap().to_string();
    let args = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        &dir,
    ];
    let mut node = TestNode::start(&args);
    let mut con = node.conn();
    let value = "d".repeat(10_000);
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for i in 0..400 {
        match con.set::<_, _, ()>(format!("k{i}"), &value) {
            Ok(()) => acknowledged.push(format!("k{i}")),
            Err(e) => {
                refusal = Some(format!(
                    "{} {}",
                    e.code().unwrap_or(""),
                    e.detail().unwrap_or("")
                ));
                break;
            }
        }
    }
    assert_eq!(
        refusal.as_deref(),
        Some("MISCONF Errors writing to the AOF file: No space left on device")
    );
    disk.resize("32m");
    let resumed = wait_until(Duration::from_secs(10), || {
        con.set::<_, _, ()>("after", "1").is_ok()
    });
    assert!(resumed, "writes did not resume:\n{}", node.log());
    assert!(node.log().contains("AOF write error looks solved"));
    assert!(node.restart(&args), "restart failed:\n{}", node.log());
    let mut con = node.conn();
    for key in &acknowledged {
        let present: bool = con.exists(key).unwrap();
        assert!(present, "{key} was acknowledged but lost");
    }
    eprintln!(
        "{} acknowledged writes survived the full disk",
        acknowledged.len()
    );
}

/// A full disk under BGSAVE: the save fails and writes answer `-MISCONF` while
/// `stop-writes-on-bgsave-error yes`.
#[test]
fn a_full_disk_under_bgsave_stops_writes_with_misconf() {
    let Some(disk) = Tmpfs::mount("256k") else {
        return;
    };
    let dir = disk.path().to_str().unwrap().to_string();
    let node = TestNode::start(&["--save", "900 1", "--dir", &dir]);
    let mut con = node.conn();
    // Incompressible values: LZF would shrink repeated bytes to nothing.
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for i in 0..100 {
        let value: String = (0..10_000)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let _: () = con.set(format!("k{i}"), value).unwrap();
    }
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    let failed = wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut con)
            .unwrap();
        info_field(&info, "rdb_last_bgsave_status") == "err"
    });
    assert!(failed, "the save did not fail on a full disk");
    assert_eq!(error_text(con.set::<_, _, ()>("x", "1")), MISCONF);
    let leftovers: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "a failed save left {leftovers:?}");
}
