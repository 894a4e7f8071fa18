//! RDB persistence end to end: what a student sees when the server saves and restarts, and what
//! real Redis tools make of the files redislab writes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{have_tool, raw_exchange, TestNode};
use redis::Commands;

fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Waits (bounded) until no background save is running.
fn wait_bgsave_done(con: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if info_field(con, "rdb_bgsave_in_progress") == "0" {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("BGSAVE did not finish in 20 s");
}

#[test]
fn shutdown_saves_and_restart_loads_the_dump() {
    let mut node = TestNode::start(&["--save", "3600 1"]);
    let mut con = node.conn();
    let _: () = con.set("name", "zhangsan").unwrap();
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    let _: () = con.zadd("z", "a", 1.5).unwrap();
    let _ = raw_exchange(&mut node.raw(), b"SHUTDOWN\r\n", 1);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
    assert!(node
        .log()
        .contains("Saving the final RDB snapshot before exiting."));
    assert!(node.path().join("dump.rdb").exists());
    assert!(node.restart(&["--save", "3600 1"]));
    let mut con = node.conn();
    assert_eq!(con.get::<_, String>("name").unwrap(), "zhangsan");
    let ttl: i64 = con.ttl("ttl").unwrap();
    assert!(ttl > 900 && ttl <= 1000, "ttl survived: {ttl}");
    assert_eq!(con.zscore::<_, _, f64>("z", "a").unwrap(), 1.5);
    assert!(node
        .log()
        .contains("Done loading RDB, keys loaded: 3, keys expired: 0."));
}

#[test]
fn shutdown_nosave_keeps_the_old_dump() {
    let mut node = TestNode::start(&["--save", "3600 1"]);
    let mut con = node.conn();
    let _: () = con.set("saved", "1").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let _: () = con.set("unsaved", "1").unwrap();
    let _ = raw_exchange(&mut node.raw(), b"SHUTDOWN NOSAVE\r\n", 1);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
    assert!(node.restart(&[]));
    let mut con = node.conn();
    assert!(con.exists::<_, bool>("saved").unwrap());
    assert!(!con.exists::<_, bool>("unsaved").unwrap());
}

#[test]
fn bgsave_is_a_point_in_time_snapshot_while_serving() {
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET").arg(format!("before:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let before: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    let reply: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(reply, "Background saving started");
    // Writes after the fork are served at once and are not part of the snapshot.
    let _: () = con.set("after", "1").unwrap();
    wait_bgsave_done(&mut con);
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_eq!(
        info_field(&mut con, "rdb_changes_since_last_save"),
        "1",
        "only the write after the fork is unsaved"
    );
    let after: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(after >= before);
    let file = std::fs::File::open(node.path().join("dump.rdb")).unwrap();
    let snapshot = redislab::persist::rdb::load_snapshot(file).unwrap();
    assert_eq!(snapshot.key_count(), 20_000);
    assert!(snapshot.db(0).unwrap().peek(b"after").is_none());
    assert!(node.log().contains("Background saving started by pid"));
    assert!(node
        .log()
        .contains("Background saving terminated with success"));
}

#[test]
fn a_save_point_triggers_a_background_save() {
    let node = TestNode::start(&["--save", "1 1"]);
    let mut con = node.conn();
    let _: () = con.set("k", "v").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && info_field(&mut con, "rdb_changes_since_last_save") != "0" {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0");
    assert!(
        node.log().contains("1 changes in 1 seconds. Saving..."),
        "{}",
        node.log()
    );
}

#[test]
fn a_corrupt_dump_stops_startup_naming_file_and_offset() {
    let mut node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), "value").unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let path = node.path().join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes.truncate(len / 2);
    std::fs::write(&path, bytes).unwrap();
    node.kill();
    let out = Command::new(common::redislab())
        .args([
            "server",
            "--port",
            &node.port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(node.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a corrupt dump must not be loaded partially"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dump.rdb") && stderr.contains("at offset"),
        "{stderr}"
    );
}

#[test]
fn real_redis_tools_accept_the_dump_redislab_saves() {
    if !have_tool("redis-check-rdb") || !have_tool("redis-server") || !have_tool("redis-cli") {
        return;
    }
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let _: () = con.set("name", "zhangsan").unwrap();
    let _: () = con.set("n", 12345).unwrap();
    let _: () = con.set("long", "x".repeat(500)).unwrap();
    let _: () = con
        .hset_multiple("h", &[("f1", "v1"), ("f2", "v2")])
        .unwrap();
    let _: () = con.sadd("iset", &[1, 2, 3]).unwrap();
    let _: () = con.zadd_multiple("z", &[(1.0, "a"), (2.5, "b")]).unwrap();
    for i in 0..300 {
        let _: () = con.hset("bighash", format!("field{i}"), i).unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let dump = node.path().join("dump.rdb");
    let check = Command::new("redis-check-rdb").arg(&dump).output().unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("RDB looks OK"), "{text}");

    // A real redis-server started on the same file has the same data.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&dump, dir.path().join("dump.rdb")).unwrap();
    let real = common::RealRedis::start_in(dir.path(), &[]);
    let mut real_con = real.conn();
    assert_eq!(real_con.get::<_, String>("name").unwrap(), "zhangsan");
    assert_eq!(real_con.get::<_, i64>("n").unwrap(), 12345);
    assert_eq!(real_con.get::<_, String>("long").unwrap().len(), 500);
    assert_eq!(real_con.hget::<_, _, String>("h", "f2").unwrap(), "v2");
    assert_eq!(real_con.scard::<_, i64>("iset").unwrap(), 3);
    assert_eq!(real_con.zscore::<_, _, f64>("z", "b").unwrap(), 2.5);
    assert_eq!(real_con.hlen::<_, i64>("bighash").unwrap(), 300);
}

#[test]
fn shutdown_refuses_to_exit_when_its_save_fails() {
    let mut node = TestNode::start(&["--save", "3600 1"]);
    let mut con = node.conn();
    let _: () = con.set("k", "v").unwrap();
    // Make saving impossible: the server's working directory disappears.
    let gone = node.path().to_path_buf();
    std::fs::remove_dir_all(&gone).unwrap();
    let mut raw = node.raw();
    let reply = raw_exchange(&mut raw, b"SHUTDOWN\r\n", 45);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG", "still serving, data still in memory");
    assert_eq!(con.get::<_, String>("k").unwrap(), "v");
    let _ = raw_exchange(&mut raw, b"SHUTDOWN NOSAVE\r\n", 1);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
}

/// A master restarted from its dump starts a new replication history, as Redis does: the
/// file's replication id is only taken by a node that starts as a replica (otherwise a master
/// that took writes while a replica was promoted could later continue with it by a partial
/// resync, keeping diverged data).
#[test]
fn a_restarted_master_starts_a_new_replication_history() {
    let mut node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut con)
        .unwrap();
    let before = common::info_field(&info, "master_replid");
    drop(con);
    assert!(node.restart(&["--save", ""]));
    let mut con = node.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut con)
        .unwrap();
    assert_ne!(common::info_field(&info, "master_replid"), before);
}
