//! Master–replica replication (tutorial stage 1 and Redis 7.0's PSYNC2 behaviour), with real
//! processes on ephemeral ports, and interop with a real redis-server in both roles.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{have_tool, info_field, raw_exchange, wait_until, RealRedis, TestNode};
use redis::Commands;

fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query(con)
        .unwrap_or_default()
}

fn field(text: &str, name: &str) -> String {
    info_field(text, name)
}

fn conn_to(port: u16, password: Option<&str>) -> redis::Connection {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    };
    let con = redis::Client::open(url).unwrap().get_connection().unwrap();
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con
}

/// Every key of db 0 with its type and value, in a comparable form.
fn dataset(con: &mut redis::Connection) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
        let value = match kind.as_str() {
            "string" => con.get::<_, String>(&key).unwrap(),
            "list" => format!("{:?}", con.lrange::<_, Vec<String>>(&key, 0, -1).unwrap()),
            "hash" => format!(
                "{:?}",
                con.hgetall::<_, BTreeMap<String, String>>(&key).unwrap()
            ),
            "set" => {
                let mut members: Vec<String> = con.smembers(&key).unwrap();
                members.sort();
                format!("{members:?}")
            }
            "zset" => format!(
                "{:?}",
                con.zrange_withscores::<_, Vec<(String, f64)>>(&key, 0, -1)
                    .unwrap()
            ),
            other => other.to_string(),
        };
        out.insert(key, format!("{kind}:{value}"));
    }
    out
}

fn replica_args(master: u16) -> Vec<String> {
    vec!["--replicaof".into(), "127.0.0.1".into(), master.to_string()]
}

fn start_replica(master: u16, extra: &[&str]) -> TestNode {
    let mut args = replica_args(master);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    TestNode::start(&refs)
}

fn wait_link_up(con: &mut redis::Connection) {
    assert!(
        wait_until(Duration::from_secs(20), || field(
            &info(con, "replication"),
            "master_link_status"
        ) == "up"),
        "replica link did not come up: {}",
        info(con, "replication")
    );
}

#[test]
fn tutorial_stage1_master_with_password_and_its_replica() {
    let master = TestNode::start(&["--requirepass", "redis", "--repl-diskless-sync", "no"]);
    let mut raw = master.raw();
    let noauth = raw_exchange(&mut raw, b"info replication\r\n", 34);
    assert_eq!(
        String::from_utf8_lossy(&noauth),
        "-NOAUTH Authentication required.\r\n"
    );
    let mut m = conn_to(master.port, Some("redis"));
    assert_eq!(field(&info(&mut m, "replication"), "role"), "master");

    let replica = start_replica(master.port, &["--masterauth", "redis"]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let text = info(&mut m, "replication");
    assert_eq!(field(&text, "connected_slaves"), "1");
    let slave0 = field(&text, "slave0");
    assert!(
        slave0.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            replica.port
        )),
        "{slave0}"
    );
    let _: () = m.set("name", "zhangsan").unwrap();
    assert_eq!(m.get::<_, String>("name").unwrap(), "zhangsan");
    assert!(wait_until(Duration::from_secs(15), || r
        .get::<_, Option<String>>("name")
        .unwrap()
        == Some("zhangsan".into())));
    let err = r.set::<_, _, ()>("name", "lisi").unwrap_err();
    assert_eq!(err.code(), Some("READONLY"));
    assert_eq!(
        err.detail(),
        Some("You can't write against a read only replica.")
    );
    assert_eq!(field(&info(&mut r, "replication"), "role"), "slave");
    assert!(master
        .log()
        .contains("Starting BGSAVE for SYNC with target: disk"));
    assert!(replica
        .log()
        .contains("MASTER <-> REPLICA sync: Finished with success"));
}

#[test]
fn ten_thousand_mixed_keys_replicate_with_equal_values() {
    let master = TestNode::start(&["--repl-diskless-sync", "no", "--save", ""]);
    let mut m = master.conn();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        match i % 5 {
            0 => pipe
                .cmd("SET")
                .arg(format!("s:{i}"))
                .arg(format!("value {i}"))
                .ignore(),
            1 => pipe
                .cmd("RPUSH")
                .arg(format!("l:{}", i % 97))
                .arg(i)
                .ignore(),
            2 => pipe
                .cmd("HSET")
                .arg(format!("h:{}", i % 89))
                .arg(format!("f{i}"))
                .arg(i)
                .ignore(),
            3 => pipe
                .cmd("SADD")
                .arg(format!("set:{}", i % 83))
                .arg(i)
                .ignore(),
            _ => pipe
                .cmd("ZADD")
                .arg(format!("z:{}", i % 79))
                .arg(i as f64 / 7.0)
                .arg(format!("m{i}"))
                .ignore(),
        };
    }
    let _: () = pipe.query(&mut m).unwrap();
    let replica = start_replica(master.port, &["--save", ""]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    // Writes after the sync travel on the stream, with expiry in its absolute form.
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .arg("EX")
        .arg(1000)
        .query(&mut m)
        .unwrap();
    let _: () = m.incr("s:counter", 5).unwrap();
    let _: Vec<String> = redis::cmd("SPOP")
        .arg("set:1")
        .arg(3)
        .query(&mut m)
        .unwrap();
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    assert!(wait_until(Duration::from_secs(10), || field(
        &info(&mut r, "replication"),
        "slave_repl_offset"
    ) == offset));
    assert_eq!(dataset(&mut m), dataset(&mut r));
    let ttl: i64 = r.ttl("after").unwrap();
    assert!(ttl > 900, "the TTL travelled as an absolute time: {ttl}");
}

#[test]
fn partial_resync_after_the_link_is_killed() {
    let master = TestNode::start(&["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    let replica = start_replica(master.port, &[]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let _: () = m.set("before", "1").unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("master")
        .query(&mut r)
        .unwrap();
    assert_eq!(killed, 1);
    let _: () = m.set("during", "2").unwrap();
    wait_link_up(&mut r);
    let _: () = m.set("after", "3").unwrap();
    assert!(wait_until(Duration::from_secs(10), || r
        .get::<_, Option<String>>("after")
        .unwrap()
        .is_some()));
    assert_eq!(r.get::<_, String>("during").unwrap(), "2");
    let stats = info(&mut m, "stats");
    assert_eq!(field(&stats, "sync_full"), "1");
    assert_eq!(field(&stats, "sync_partial_ok"), "1", "{stats}");
    assert!(replica
        .log()
        .contains("Successful partial resynchronization with master."));
}

#[test]
fn partial_resync_after_a_clean_restart_of_the_replica() {
    let master = TestNode::start(&["--repl-diskless-sync", "no", "--save", ""]);
    let mut m = master.conn();
    let args = replica_args(master.port);
    let mut replica_extra: Vec<&str> = args.iter().map(String::as_str).collect();
    replica_extra.extend(["--save", "3600 1"]);
    let mut replica = TestNode::start(&replica_extra);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let _: () = m.set("a", "1").unwrap();
    assert!(wait_until(Duration::from_secs(15), || r
        .exists::<_, bool>("a")
        .unwrap()));
    let _ = raw_exchange(&mut replica.raw(), b"SHUTDOWN\r\n", 1);
    assert_eq!(replica.wait_exit(Duration::from_secs(10)), Some(true));
    let _: () = m.set("b", "2").unwrap();
    assert!(replica.restart(&replica_extra));
    let mut r = replica.conn();
    wait_link_up(&mut r);
    assert!(wait_until(Duration::from_secs(15), || r
        .exists::<_, bool>("b")
        .unwrap()));
    let stats = info(&mut m, "stats");
    assert_eq!(
        field(&stats, "sync_full"),
        "1",
        "no second full sync: {stats}"
    );
    assert_eq!(field(&stats, "sync_partial_ok"), "1");
}

#[test]
fn a_promoted_replica_lets_its_former_sibling_resume() {
    let master = TestNode::start(&["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    let a = start_replica(master.port, &["--repl-diskless-sync", "no"]);
    let b = start_replica(master.port, &[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    wait_link_up(&mut ca);
    wait_link_up(&mut cb);
    let _: () = m.set("k", "v").unwrap();
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    for con in [&mut ca, &mut cb] {
        assert!(wait_until(Duration::from_secs(10), || field(
            &info(con, "replication"),
            "slave_repl_offset"
        ) == offset));
    }
    let old_id = field(&info(&mut m, "replication"), "master_replid");
    // Promoted as a Sentinel promotes: SLAVEOF NO ONE inside MULTI, with a CLIENT KILL.
    let (promoted, killed): (String, i64) = redis::pipe()
        .atomic()
        .cmd("SLAVEOF")
        .arg("NO")
        .arg("ONE")
        .cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut ca)
        .unwrap();
    assert_eq!((promoted.as_str(), killed), ("OK", 0));
    let text = info(&mut ca, "replication");
    assert_eq!(field(&text, "role"), "master");
    assert_eq!(field(&text, "master_replid2"), old_id);
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(a.port)
        .query(&mut cb)
        .unwrap();
    wait_link_up(&mut cb);
    let _: () = ca.set("new", "history").unwrap();
    assert!(wait_until(Duration::from_secs(15), || cb
        .exists::<_, bool>("new")
        .unwrap()));
    let stats = info(&mut ca, "stats");
    assert_eq!(
        field(&stats, "sync_partial_ok"),
        "1",
        "the sibling resumed: {stats}"
    );
    assert_eq!(field(&stats, "sync_full"), "0");
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let master = TestNode::start(&["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    let replica = start_replica(master.port, &[]);
    wait_link_up(&mut replica.conn());
    let _: () = m.set("k", "v").unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut m).unwrap();
    assert_eq!(acked, 1);
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(100).query(&mut m).unwrap();
    assert_eq!(
        acked, 1,
        "only one replica exists; WAIT times out with the count"
    );
}

#[test]
fn diskless_full_sync_streams_the_snapshot_over_the_socket() {
    let master = TestNode::start(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut m = master.conn();
    for i in 0..100 {
        let _: () = m.set(format!("k{i}"), i).unwrap();
    }
    let replica = start_replica(master.port, &[]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    assert!(wait_until(Duration::from_secs(15), || redis::cmd("DBSIZE")
        .query::<i64>(&mut r)
        .unwrap()
        == 100));
    assert!(master
        .log()
        .contains("Starting BGSAVE for SYNC with target: replicas sockets"));
    assert!(replica
        .log()
        .contains("receiving streamed RDB from master with EOF"));
}

/// Two replicas asking within `repl-diskless-sync-delay` share one child writing to both
/// sockets (one of them a real redis-server when installed); each stream starts with its
/// replica's first ACK.
#[test]
fn replicas_arriving_during_the_diskless_delay_share_one_transfer() {
    let master = TestNode::start(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "3",
    ]);
    let mut m = master.conn();
    fill_mixed(&mut m);
    let first = start_replica(master.port, &[]);
    let master_port = master.port.to_string();
    let real = have_tool("redis-server")
        .then(|| RealRedis::start(&["--replicaof", "127.0.0.1", &master_port]));
    let second = real.is_none().then(|| start_replica(master.port, &[]));
    let mut a = first.conn();
    let mut b = match (&real, &second) {
        (Some(real), _) => conn_to(real.port, None),
        (_, Some(second)) => second.conn(),
        _ => unreachable!("one of them was started"),
    };
    wait_link_up(&mut a);
    wait_link_up(&mut b);
    let _: () = m.set("after", "sync").unwrap();
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    for con in [&mut a, &mut b] {
        assert!(
            wait_until(Duration::from_secs(10), || field(
                &info(con, "replication"),
                "slave_repl_offset"
            ) == offset),
            "replica:\n{}\nmaster (offset {offset} when read):\n{}\nmaster log:\n{}\nfirst replica's log:\n{}",
            info(con, "replication"),
            info(&mut m, "replication"),
            master.log(),
            first.log()
        );
        assert_eq!(dataset(&mut m), dataset(con));
    }
    let log = master.log();
    assert_eq!(
        log.matches("Starting BGSAVE for SYNC with target: replicas sockets")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(field(&info(&mut m, "stats"), "sync_full"), "2");
}

/// A replica asking while a BGSAVE to disk runs for another one attaches to it.
#[test]
fn a_replica_attaches_to_the_disk_bgsave_started_for_another() {
    let master = TestNode::start(&["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    // Enough data that the child runs for a while.
    for chunk in 0..20 {
        let mut pipe = redis::pipe();
        for i in 0..5000 {
            pipe.set(format!("k{chunk}:{i}"), "x".repeat(100)).ignore();
        }
        let _: () = pipe.query(&mut m).unwrap();
    }
    let first = start_replica(master.port, &[]);
    assert!(wait_until(Duration::from_secs(10), || master
        .log()
        .contains("Starting BGSAVE for SYNC with target: disk")));
    let second = start_replica(master.port, &[]);
    let (mut a, mut b) = (first.conn(), second.conn());
    wait_link_up(&mut a);
    wait_link_up(&mut b);
    let _: () = m.set("after", "sync").unwrap();
    for con in [&mut a, &mut b] {
        assert!(wait_until(Duration::from_secs(10), || con
            .get::<_, Option<String>>("after")
            .unwrap()
            .is_some()));
        assert_eq!(redis::cmd("DBSIZE").query::<i64>(con).unwrap(), 100_001);
    }
    let log = master.log();
    // Attached, or (if the child was already done) served by the next BGSAVE: either way
    // both replicas hold the data; attaching is what a 100k-key child makes likely.
    if log.contains("Waiting for end of BGSAVE for SYNC") {
        assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
    }
}

/// A replica with `appendonly yes` keeps what it applies in its own AOF, as Redis does: the
/// full sync becomes the base of a new AOF and the stream is appended, so a restarted replica
/// (here on its own, its dump removed) holds the master's data from its AOF.
#[test]
fn a_replica_with_aof_writes_its_masters_stream_to_its_own_aof() {
    let master = TestNode::start(&[]);
    let mut m = master.conn();
    fill_mixed(&mut m);
    let mut replica = start_replica(
        master.port,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let _: () = m.set("streamed", "after the sync").unwrap();
    let _: i64 = m.incr("counter", 5).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut m).unwrap();
    let _: () = redis::cmd("LPUSH")
        .arg("list")
        .arg("in-multi")
        .query(&mut m)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut m).unwrap();
    let _: () = redis::cmd("SET").arg("db3").arg("x").query(&mut m).unwrap();
    let _: Vec<redis::Value> = redis::cmd("EXEC").query(&mut m).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut m).unwrap();
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    assert!(
        wait_until(Duration::from_secs(10), || field(
            &info(&mut r, "replication"),
            "slave_repl_offset"
        ) == offset),
        "{}",
        info(&mut r, "replication")
    );
    assert!(
        wait_until(Duration::from_secs(10), || field(
            &info(&mut r, "persistence"),
            "aof_rewrite_in_progress"
        ) == "0"),
        "the AOF restarted after the sync has its base"
    );
    let expected = dataset(&mut m);
    drop(r);
    let _ = std::fs::remove_file(replica.path().join("dump.rdb"));
    assert!(
        replica.restart(&["--appendonly", "yes"]),
        "{}",
        replica.log()
    );
    let mut r = replica.conn();
    assert_eq!(dataset(&mut r), expected);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut r).unwrap();
    assert_eq!(r.get::<_, String>("db3").unwrap(), "x");
}

#[test]
fn a_wrong_masterauth_leaves_the_link_down_and_the_replica_serving() {
    let master = TestNode::start(&["--requirepass", "right"]);
    let replica = start_replica(master.port, &["--masterauth", "wrong"]);
    let mut r = replica.conn();
    assert!(wait_until(Duration::from_secs(10), || replica
        .log()
        .contains("Unable to AUTH to MASTER")));
    assert_eq!(
        field(&info(&mut r, "replication"), "master_link_status"),
        "down"
    );
    let pong: String = redis::cmd("PING").query(&mut r).unwrap();
    assert_eq!(pong, "PONG");
}

fn fill_mixed(con: &mut redis::Connection) {
    for i in 0..200 {
        let _: () = con.set(format!("s{i}"), format!("v{i}")).unwrap();
        let _: () = con.rpush("list", i).unwrap();
        let _: () = con.hset("hash", format!("f{i}"), i).unwrap();
        let _: () = con.sadd("set", i).unwrap();
        let _: () = con.zadd("zset", format!("m{i}"), i as f64 / 3.0).unwrap();
    }
}

#[test]
fn real_redis_server_replicates_from_a_redislab_master() {
    if !have_tool("redis-server") {
        return;
    }
    for diskless in ["no", "yes"] {
        let master = TestNode::start(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
        ]);
        let mut m = master.conn();
        fill_mixed(&mut m);
        let master_port = master.port.to_string();
        let real = RealRedis::start(&["--replicaof", "127.0.0.1", &master_port]);
        let mut r = conn_to(real.port, None);
        wait_link_up(&mut r);
        let _: () = redis::cmd("SET")
            .arg("stream")
            .arg("x")
            .arg("EX")
            .arg(100)
            .query(&mut m)
            .unwrap();
        let offset = field(&info(&mut m, "replication"), "master_repl_offset");
        assert!(
            wait_until(Duration::from_secs(10), || field(
                &info(&mut r, "replication"),
                "slave_repl_offset"
            ) == offset),
            "diskless={diskless}: {}",
            info(&mut r, "replication")
        );
        assert_eq!(dataset(&mut m), dataset(&mut r), "diskless={diskless}");
    }
}

#[test]
fn a_redislab_replica_follows_a_real_redis_master() {
    if !have_tool("redis-server") {
        return;
    }
    let real = RealRedis::start(&[]);
    let mut m = real.conn();
    fill_mixed(&mut m);
    let replica = start_replica(real.port, &[]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut m)
        .unwrap();
    let _: f64 = m.incr("float", 1.5).unwrap();
    let _: Vec<String> = redis::cmd("SPOP").arg("set").arg(2).query(&mut m).unwrap();
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    assert!(
        wait_until(Duration::from_secs(10), || field(
            &info(&mut r, "replication"),
            "slave_repl_offset"
        ) == offset),
        "{}",
        info(&mut r, "replication")
    );
    assert_eq!(dataset(&mut m), dataset(&mut r));
}

#[test]
fn chained_replication_reaches_the_replica_of_a_replica() {
    let master = TestNode::start(&["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    let middle = start_replica(master.port, &["--repl-diskless-sync", "no"]);
    wait_link_up(&mut middle.conn());
    let leaf = start_replica(middle.port, &[]);
    let mut l = leaf.conn();
    wait_link_up(&mut l);
    let _: () = m.set("chained", "yes").unwrap();
    assert!(wait_until(Duration::from_secs(10), || l
        .get::<_, Option<String>>("chained")
        .unwrap()
        == Some("yes".into())));
    let offset = field(&info(&mut m, "replication"), "master_repl_offset");
    assert!(
        wait_until(Duration::from_secs(10), || field(
            &info(&mut l, "replication"),
            "slave_repl_offset"
        ) == offset),
        "the leaf counts the same offsets as the master"
    );
}

#[test]
fn a_replica_further_behind_than_the_backlog_gets_a_full_resync() {
    let master = TestNode::start(&[
        "--repl-diskless-sync",
        "no",
        "--repl-backlog-size",
        "16kb",
        "--save",
        "",
    ]);
    let mut m = master.conn();
    let args = replica_args(master.port);
    let mut extra: Vec<&str> = args.iter().map(String::as_str).collect();
    extra.extend(["--save", "3600 1"]);
    let mut replica = TestNode::start(&extra);
    wait_link_up(&mut replica.conn());
    let _: () = m.set("a", "1").unwrap();
    let _ = raw_exchange(&mut replica.raw(), b"SHUTDOWN\r\n", 1);
    assert_eq!(replica.wait_exit(Duration::from_secs(10)), Some(true));
    for i in 0..100 {
        let _: () = m.set(format!("fill{i}"), "x".repeat(1000)).unwrap();
    }
    assert!(replica.restart(&extra));
    let mut r = replica.conn();
    wait_link_up(&mut r);
    assert!(wait_until(Duration::from_secs(15), || r
        .exists::<_, bool>("fill99")
        .unwrap()));
    let stats = info(&mut m, "stats");
    assert_eq!(field(&stats, "sync_full"), "2", "{stats}");
    assert_eq!(field(&stats, "sync_partial_err"), "1", "{stats}");
}

#[test]
fn a_replica_that_stops_reading_is_dropped_at_its_output_limit() {
    let master = TestNode::start(&[
        "--repl-diskless-sync",
        "no",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut m = master.conn();
    // A "replica" that asks for a sync and then never reads.
    let mut fake = master.raw();
    use std::io::Write;
    fake.write_all(b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n")
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || field(
        &info(&mut m, "replication"),
        "connected_slaves"
    ) == "1"));
    let big = "x".repeat(100 * 1024);
    for i in 0..100 {
        let _: () = m.set(format!("big{i}"), &big).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || field(
            &info(&mut m, "replication"),
            "connected_slaves"
        ) == "0"),
        "the stalled replica was not dropped"
    );
    assert!(master
        .log()
        .contains("scheduled to be closed ASAP for overcoming of output buffer limits"));
    let pong: String = redis::cmd("PING").query(&mut m).unwrap();
    assert_eq!(pong, "PONG");
    drop(fake);
}

/// A master that dies in the middle of sending the snapshot: the replica keeps the data it had.
#[test]
fn a_master_dying_mid_transfer_leaves_the_previous_data() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        // Answer the handshake line by line: PING, two REPLCONFs, then PSYNC.
        let mut answered = 0;
        let mut line = String::new();
        while answered < 4 {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let upper = line.to_uppercase();
            if upper.starts_with("PING") {
                writer.write_all(b"+PONG\r\n").unwrap();
                answered += 1;
            } else if upper.starts_with("REPLCONF") {
                writer.write_all(b"+OK\r\n").unwrap();
                answered += 1;
            } else if upper.starts_with("PSYNC") {
                writer
                    .write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$1000\r\nREDIS0010")
                    .unwrap();
                answered += 1;
            }
        }
        // ...and die mid-transfer.
    });
    let node = TestNode::start(&["--save", ""]);
    let mut con = node.conn();
    let _: () = con.set("precious", "data").unwrap();
    // The replica speaks RESP; the fake master reads it line by line and answers when it sees
    // a command name line (PING, REPLCONF, PSYNC).
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(fake_port)
        .query(&mut con)
        .unwrap();
    fake.join().unwrap();
    assert!(wait_until(Duration::from_secs(10), || node
        .log()
        .contains("Full resync from master")));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(con.get::<_, String>("precious").unwrap(), "data");
    assert_eq!(
        field(&info(&mut con, "replication"), "master_link_status"),
        "down"
    );
}

#[test]
fn a_replica_that_stops_acknowledging_is_dropped_after_repl_timeout() {
    let master = TestNode::start(&["--repl-diskless-sync", "no", "--repl-timeout", "1"]);
    let mut m = master.conn();
    // A "replica" that syncs, reads everything, but never sends REPLCONF ACK.
    let mut fake = master.raw();
    use std::io::{Read, Write};
    fake.write_all(b"REPLCONF listening-port 1\r\nPSYNC ? -1\r\n")
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            match fake.read(&mut buf) {
                Ok(0) => return true, // the master closed the link
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    });
    assert!(wait_until(Duration::from_secs(10), || field(
        &info(&mut m, "replication"),
        "connected_slaves"
    ) == "1"));
    assert!(
        reader.join().unwrap(),
        "the master closed the silent replica's link"
    );
    assert!(master
        .log()
        .contains("Disconnecting timedout replica (streaming sync): 127.0.0.1:1"));
}

/// A partition between real processes, made with the lab's fault table (`--lab-faults`) on
/// both sides: both notice after repl-timeout, and after the heal the replica continues from
/// the backlog.
#[test]
fn a_lab_partition_times_out_both_sides_and_heals_into_a_partial_resync() {
    let master = TestNode::start(&[
        "--repl-timeout",
        "2",
        "--repl-ping-replica-period",
        "1",
        "--repl-diskless-sync",
        "no",
        "--lab-faults",
    ]);
    let mut m = master.conn();
    let replica = start_replica(master.port, &["--repl-timeout", "2", "--lab-faults"]);
    let mut r = replica.conn();
    wait_link_up(&mut r);
    let _: () = m.set("before", "1").unwrap();
    common::lab_fault(&mut r, &["CUT", &format!("127.0.0.1:{}", master.port)]);
    common::lab_fault(&mut m, &["CUT", &format!("127.0.0.1:{}", replica.port)]);
    let _: () = m.set("during", "2").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || replica
            .log()
            .contains("MASTER timeout: no data nor PING received")),
        "the replica notices: {}",
        replica.log()
    );
    assert!(
        wait_until(Duration::from_secs(10), || master
            .log()
            .contains("Disconnecting timedout replica")),
        "the master notices: {}",
        master.log()
    );
    assert!(
        replica.log().contains("Lab fault: traffic with"),
        "{}",
        replica.log()
    );
    common::lab_fault(&mut r, &["HEAL", "ALL"]);
    common::lab_fault(&mut m, &["HEAL", "ALL"]);
    wait_link_up(&mut r);
    assert!(wait_until(Duration::from_secs(10), || r
        .exists::<_, bool>("during")
        .unwrap()));
    let stats = info(&mut m, "stats");
    assert_eq!(field(&stats, "sync_partial_ok"), "1", "{stats}");
    // A node started without the switch has no such command.
    let plain = TestNode::start(&[]);
    let err = redis::cmd("REDISLAB")
        .arg("FAULT")
        .arg("LIST")
        .query::<String>(&mut plain.conn())
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
}
