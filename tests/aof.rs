//! The append-only file end to end: what survives a crash, a torn last write and a rewrite, and
//! whether a real redis-server 7.0 reads the directory redislab writes.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{have_tool, raw_exchange, TestNode};
use redis::Commands;

const AOF_ALWAYS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

fn incr_file(node: &TestNode) -> std::path::PathBuf {
    let dir = node.path().join("appendonlydir");
    let mut incrs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    incrs.sort();
    incrs.pop().expect("an incr file")
}

#[test]
fn the_aof_wins_over_the_rdb_at_restart() {
    let mut node = TestNode::start(&["--appendonly", "yes", "--save", "3600 1"]);
    let mut con = node.conn();
    let _: () = con.set("k", "from-rdb").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let _: () = con.set("k", "from-aof").unwrap();
    let _: () = con.rpush("list", &["a", "b"]).unwrap();
    node.kill(); // no shutdown save: the RDB keeps the old value
    assert!(node.restart(&["--appendonly", "yes", "--save", "3600 1"]));
    let mut con = node.conn();
    assert_eq!(con.get::<_, String>("k").unwrap(), "from-aof");
    assert_eq!(
        con.lrange::<_, Vec<String>>("list", 0, -1).unwrap(),
        vec!["a", "b"]
    );
}

/// The issue's durability promise: with `appendfsync always`, a `kill -9` at any moment loses no
/// write whose reply the client received.
/// A client thread writing `SET <prefix><i> <i>` for i = 0, 1, ... until `stop` or until the
/// server dies; `acked` holds the last i whose reply came back.
fn spawn_writer(
    node: &TestNode,
    prefix: &str,
    acked: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let (url, prefix) = (node.url(), prefix.to_string());
    std::thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        for i in 0..1_000_000i64 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let reply: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("{prefix}{i}"))
                .arg(i)
                .query(&mut con);
            if reply.is_err() {
                break; // the server died: this write was not acknowledged
            }
            acked.store(i, Ordering::SeqCst);
        }
    })
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write() {
    for round in 0..3 {
        let mut node = TestNode::start(AOF_ALWAYS);
        let acked = Arc::new(AtomicI64::new(-1));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = spawn_writer(&node, "k", acked.clone(), stop.clone());
        // Let the load run, then SIGKILL mid-stream (bounded wait for some progress).
        let deadline = Instant::now() + Duration::from_secs(10);
        while acked.load(Ordering::SeqCst) < 200 + round * 300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        node.kill();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        let last = acked.load(Ordering::SeqCst);
        assert!(last > 0, "the load made progress");
        assert!(
            node.restart(AOF_ALWAYS),
            "restart after kill -9:\n{}",
            node.log()
        );
        let mut con = node.conn();
        let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert!(
            size > last,
            "dbsize {size} must include every acknowledged write up to k{last}"
        );
        for i in 0..=last {
            let value: Option<i64> = con.get(format!("k{i}")).unwrap();
            assert_eq!(
                value,
                Some(i),
                "acknowledged write k{i} lost (last acked k{last})"
            );
        }
    }
}

/// Many clients writing at once under `appendfsync always` share each fsync (group commit):
/// every reply still waits for the write that holds it, so after `kill -9` every write any
/// client saw acknowledged is loaded again.
#[test]
fn kill_9_under_load_from_many_clients_loses_no_acknowledged_write() {
    const CLIENTS: usize = 8;
    let mut node = TestNode::start(AOF_ALWAYS);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Vec<Arc<AtomicI64>> = (0..CLIENTS).map(|_| Arc::new(AtomicI64::new(-1))).collect();
    let writers: Vec<_> = (0..CLIENTS)
        .map(|client| {
            spawn_writer(
                &node,
                &format!("c{client}:"),
                acked[client].clone(),
                stop.clone(),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.iter().any(|a| a.load(Ordering::SeqCst) < 100) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        node.restart(AOF_ALWAYS),
        "restart after kill -9:\n{}",
        node.log()
    );
    let mut con = node.conn();
    for (client, acked) in acked.iter().enumerate() {
        let last = acked.load(Ordering::SeqCst);
        assert!(last > 0, "client {client} made progress");
        for i in 0..=last {
            let value: Option<i64> = con.get(format!("c{client}:{i}")).unwrap();
            assert_eq!(
                value,
                Some(i),
                "acknowledged write c{client}:{i} lost (last {last})"
            );
        }
    }
}

#[test]
fn a_torn_last_command_is_dropped_with_a_warning() {
    let mut node = TestNode::start(AOF_ALWAYS);
    let mut con = node.conn();
    let _: () = con.set("kept", "1").unwrap();
    node.kill();
    let path = incr_file(&node);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$5\r\nhal")
        .unwrap();
    drop(file);
    assert!(node.restart(AOF_ALWAYS), "{}", node.log());
    let mut con = node.conn();
    assert_eq!(con.get::<_, String>("kept").unwrap(), "1");
    assert!(!con.exists::<_, bool>("lost").unwrap());
    assert!(
        node.log()
            .contains("!!! Warning: short read while loading the AOF file"),
        "{}",
        node.log()
    );
    // The file was cut back, so later appends load cleanly.
    let _: () = con.set("after", "2").unwrap();
    node.kill();
    assert!(node.restart(AOF_ALWAYS));
    assert_eq!(node.conn().get::<_, String>("after").unwrap(), "2");
}

#[test]
fn corruption_in_the_middle_stops_startup_naming_file_and_offset() {
    let mut node = TestNode::start(AOF_ALWAYS);
    let mut con = node.conn();
    let _: () = con.set("a", "1").unwrap();
    let _: () = con.set("b", "2").unwrap();
    node.kill();
    let path = incr_file(&node);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = b'!';
    bytes[at + 1] = b'!';
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(common::redislab())
        .args([
            "server",
            "--port",
            &node.port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(AOF_ALWAYS)
        .current_dir(node.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a corrupt AOF must stop start-up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("incr.aof") && stderr.contains("offset"),
        "{stderr}"
    );
}

#[test]
fn config_set_appendonly_and_bgrewriteaof_keep_the_data() {
    let mut node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    for i in 0..100 {
        let _: () = con.hset("h", format!("f{i}"), i).unwrap();
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut con)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = |con: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("persistence").query(con).unwrap()
    };
    while info(&mut con).contains("aof_rewrite_in_progress:1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: () = con.set("later", "x").unwrap();
    let reply: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(reply, "Background append only file rewriting started");
    while info(&mut con).contains("aof_rewrite_in_progress:1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: () = con.set("after-rewrite", "y").unwrap();
    let files: Vec<String> = std::fs::read_dir(node.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".2.base.rdb")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f.ends_with(".1.base.rdb")),
        "old base deleted: {files:?}"
    );
    node.kill();
    assert!(node.restart(&["--appendonly", "yes", "--save", ""]));
    let mut con = node.conn();
    assert_eq!(con.hlen::<_, i64>("h").unwrap(), 100);
    assert_eq!(con.get::<_, String>("later").unwrap(), "x");
    assert_eq!(con.get::<_, String>("after-rewrite").unwrap(), "y");
}

#[test]
fn a_real_redis_server_loads_the_appendonlydir_redislab_wrote() {
    if !have_tool("redis-server") {
        return;
    }
    let node = TestNode::start(&["--appendonly", "yes", "--save", ""]);
    let mut con = node.conn();
    let _: () = con.set("name", "zhangsan").unwrap();
    let _: () = con.zadd("z", "a", 2.5).unwrap();
    let _: () = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _: () = con.sadd("s", &["x", "y"]).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let _: () = con.set("in-db-3", "v").unwrap();
    let _ = raw_exchange(&mut node.raw(), b"SHUTDOWN NOSAVE\r\n", 1);
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let copy = Command::new("cp")
        .arg("-r")
        .arg(node.path().join("appendonlydir"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copy.success());
    let real = common::RealRedis::start_in(dir.path(), &["--appendonly", "yes"]);
    let mut real_con = real.conn();
    assert_eq!(real_con.get::<_, String>("name").unwrap(), "zhangsan");
    assert_eq!(real_con.zscore::<_, _, f64>("z", "a").unwrap(), 2.5);
    assert_eq!(real_con.scard::<_, i64>("s").unwrap(), 2);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut real_con).unwrap();
    assert_eq!(real_con.get::<_, String>("in-db-3").unwrap(), "v");
}
