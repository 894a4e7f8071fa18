//! Cluster mode against real tools: `redis-cli --cluster create` building a cluster of
//! redislab nodes, `redis-cli -c` redirects, a replica taking over a killed master, a mixed
//! cluster of redislab and redis-server nodes failing over in both directions, and redis-py's
//! `RedisCluster`. Each node gets a free client port and a free bus port (`cluster-port`), so
//! tests run in parallel.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    free_port, have_tools, redis_py_installed, under_ci, wait_until, RealRedis, TestNode,
};

/// A node of either implementation.
enum Node {
    Ours(TestNode),
    Real(RealRedis),
}

impl Node {
    fn port(&self) -> u16 {
        match self {
            Node::Ours(n) => n.port,
            Node::Real(n) => n.port,
        }
    }

    fn kill(&mut self) {
        match self {
            Node::Ours(n) => n.kill(),
            Node::Real(n) => n.kill(),
        }
    }
}

fn cluster_args(cport: &str) -> Vec<&str> {
    vec![
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        cport,
        "--cluster-node-timeout",
        "2000",
        "--save",
        "",
        "--repl-diskless-sync-delay",
        "0",
    ]
}

fn start(real: bool) -> Node {
    let cport = free_port().to_string();
    if real {
        Node::Real(RealRedis::start(&cluster_args(&cport)))
    } else {
        Node::Ours(TestNode::start(&cluster_args(&cport)))
    }
}

/// A redislab node whose bus links go through the lab fault layer.
fn start_with_faults() -> Node {
    let cport = free_port().to_string();
    let mut args = cluster_args(&cport);
    args.push("--lab-faults");
    Node::Ours(TestNode::start(&args))
}

fn cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn cli_at(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    cli(&all)
}

/// `redis-cli --cluster create` with one replica per master; returns its output.
fn create(nodes: &[Node]) -> String {
    create_with(nodes, "1")
}

fn create_with(nodes: &[Node], replicas: &str) -> String {
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port()))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(|s| s.as_str()));
    args.extend(["--cluster-replicas", replicas, "--cluster-yes"]);
    cli(&args)
}

fn state_ok(port: u16) -> bool {
    cli_at(port, &["cluster", "info"]).contains("cluster_state:ok")
}

/// The port of the master serving `slot`, and of its replica, from CLUSTER NODES.
fn master_and_replica_of_slot(port: u16, slot: u16) -> (u16, u16) {
    let nodes = cli_at(port, &["cluster", "nodes"]);
    let lines: Vec<Vec<&str>> = nodes.lines().map(|l| l.split(' ').collect()).collect();
    let port_of = |f: &[&str]| -> u16 { f[1].split(['@', ':']).nth(1).unwrap().parse().unwrap() };
    let master = lines
        .iter()
        .find(|f| {
            f[2].contains("master")
                && f[8..].iter().any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        (a.parse().unwrap_or(u16::MAX)..=b.parse().unwrap_or(0)).contains(&slot)
                    }
                    None => r.parse::<u16>().ok() == Some(slot),
                })
        })
        .unwrap_or_else(|| panic!("no master for slot {slot}:\n{nodes}"));
    let replica = lines
        .iter()
        .find(|f| f[3] == master[0])
        .unwrap_or_else(|| panic!("no replica of {}:\n{nodes}", master[0]));
    (port_of(master), port_of(replica))
}

fn skip(what: &str) -> bool {
    if have_tools(&["redis-cli", "redis-server"]) {
        return false;
    }
    assert!(
        !under_ci(),
        "{what}: redis-cli and redis-server are required in CI"
    );
    eprintln!("SKIPPED {what}: redis-cli or redis-server is not installed");
    true
}

/// Kills the master of slot 5798 ("name") and waits for its replica to take over; returns
/// how long that took.
fn fail_over_slot_of_name(nodes: &mut [Node]) -> Duration {
    let any = nodes[0].port();
    // Replicas become known to every node through gossip, shortly after the slots.
    assert!(wait_until(Duration::from_secs(10), || {
        cli_at(any, &["cluster", "nodes"]).matches("slave").count() == nodes.len() / 2
    }));
    let (master, replica) = master_and_replica_of_slot(any, 5798);
    // Only a replica that has synced may take over (its data age is checked), and it must
    // have acknowledged everything written so far (a writer still running may lose its
    // last writes, as with Redis). (WAIT from a new connection proves nothing
    // on redis-server: it waits for that connection's own last write, and there is none.)
    assert!(
        wait_replicas_acked(master),
        "the replica of {master} did not catch up:\n{}",
        cli_at(master, &["info", "replication"])
    );
    let victim = nodes.iter_mut().find(|n| n.port() == master).unwrap();
    let started = Instant::now();
    victim.kill();
    let promoted = wait_until(Duration::from_secs(30), || {
        cli_at(replica, &["role"]).starts_with("master")
    });
    let took = started.elapsed();
    assert!(
        promoted,
        "the replica {replica} of {master} was not promoted"
    );
    let survivor = nodes.iter().find(|n| n.port() != master).unwrap().port();
    assert!(
        wait_until(Duration::from_secs(20), || state_ok(survivor)
            && state_ok(replica)),
        "the cluster did not come back: {}",
        cli_at(survivor, &["cluster", "nodes"])
    );
    took
}

/// `master`'s replication offset, and the offsets its replicas acknowledged, from its INFO.
fn replication_offsets(master: u16) -> (Option<i64>, Vec<i64>) {
    let info = cli_at(master, &["info", "replication"]);
    let offset = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("master_repl_offset:"))
        .and_then(|v| v.parse().ok());
    let acked = info
        .lines()
        .filter(|l| l.starts_with("slave"))
        .filter_map(|l| {
            l.trim()
                .split(',')
                .find_map(|kv| kv.strip_prefix("offset="))
        })
        .filter_map(|v| v.parse().ok())
        .collect();
    (offset, acked)
}

/// Waits until every replica of `master` has acknowledged what the master had written when
/// this was called.
fn wait_replicas_acked(master: u16) -> bool {
    let Some(target) = replication_offsets(master).0 else {
        return false;
    };
    wait_until(Duration::from_secs(15), || {
        let acked = replication_offsets(master).1;
        !acked.is_empty() && acked.iter().all(|&a| a >= target)
    })
}

#[test]
fn redis_cli_builds_a_cluster_of_redislab_nodes_that_redirects_and_fails_over() {
    if skip("redis_cli_builds_a_cluster_of_redislab_nodes") {
        return;
    }
    let mut nodes: Vec<Node> = (0..6).map(|_| start(false)).collect();
    let first = nodes[0].port();
    // A node before any slot is assigned: the tutorial's first error.
    assert_eq!(
        cli_at(first, &["set", "name", "chen"]).trim(),
        "CLUSTERDOWN Hash slot not served"
    );
    let created = Instant::now();
    let out = create(&nodes);
    eprintln!("redis-cli --cluster create took {:?}", created.elapsed());
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let check = cli(&["--cluster", "check", &format!("127.0.0.1:{first}")]);
    assert!(
        check.contains("[OK] All nodes agree about slots configuration."),
        "{check}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || nodes
            .iter()
            .all(|n| state_ok(n.port()))),
        "cluster_state never became ok"
    );
    let info = cli_at(first, &["cluster", "info"]);
    assert!(
        info.contains("cluster_known_nodes:6") && info.contains("cluster_size:3"),
        "{info}"
    );
    assert_eq!(
        cli_at(first, &["cluster", "keyslot", "name"]).trim(),
        "5798"
    );

    // Redirects: MOVED without -c, followed with -c. (The replicas may not be known
    // everywhere yet: only the master is looked up.)
    let owner = master_of_slot(first, 5798);
    let other = nodes.iter().find(|n| n.port() != owner).unwrap().port();
    let moved = cli_at(other, &["set", "name", "mafly"]);
    assert_eq!(moved.trim(), format!("MOVED 5798 127.0.0.1:{owner}"));
    assert_eq!(cli_at(other, &["-c", "set", "name", "mafly"]).trim(), "OK");
    assert_eq!(cli_at(other, &["-c", "get", "name"]).trim(), "mafly");
    assert_eq!(
        cli_at(owner, &["mset", "a", "1", "b", "2"]).trim(),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );

    let took = fail_over_slot_of_name(&mut nodes);
    eprintln!("kill -9 of a master to its replica promoted: {took:?} (cluster-node-timeout 2000)");
    let alive = nodes.iter().find(|n| n.port() != owner).unwrap().port();
    assert_eq!(cli_at(alive, &["-c", "get", "name"]).trim(), "mafly");
}

#[test]
fn a_mixed_cluster_of_redislab_and_redis_server_fails_over_both_ways() {
    if skip("a_mixed_cluster_of_redislab_and_redis_server") {
        return;
    }
    // Masters alternate implementations, and redis-cli places replicas across them.
    let mut nodes: Vec<Node> = (0..6).map(|i| start(i % 2 == 1)).collect();
    let out = create(&nodes);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let first = nodes[0].port();
    assert!(
        wait_until(Duration::from_secs(15), || nodes
            .iter()
            .all(|n| state_ok(n.port()))),
        "{}",
        cli_at(first, &["cluster", "nodes"])
    );
    for n in &nodes {
        let check = cli(&["--cluster", "check", &format!("127.0.0.1:{}", n.port())]);
        assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
    }
    for i in 0..50 {
        let key = format!("key:{i}");
        assert_eq!(
            cli_at(first, &["-c", "set", &key, &i.to_string()]).trim(),
            "OK"
        );
    }
    // Fail over the master of "name", then the master of a slot the other kind serves.
    let took = fail_over_slot_of_name(&mut nodes);
    eprintln!("mixed cluster failover: {took:?}");
    let alive = nodes
        .iter()
        .map(|n| n.port())
        .find(|p| state_ok(*p))
        .expect("a live node");
    for i in 0..50 {
        let key = format!("key:{i}");
        assert_eq!(
            cli_at(alive, &["-c", "get", &key]).trim(),
            i.to_string(),
            "{key}"
        );
    }
}

#[test]
fn redis_py_cluster_client_reads_and_writes() {
    if skip("redis_py_cluster_client_reads_and_writes") {
        return;
    }
    if !redis_py_installed() {
        assert!(!under_ci(), "redis-py is required in CI");
        eprintln!("SKIPPED redis_py_cluster_client_reads_and_writes: redis-py is not installed");
        return;
    }
    let nodes: Vec<Node> = (0..6).map(|_| start(false)).collect();
    let out = create(&nodes);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let first = nodes[0].port();
    assert!(wait_until(Duration::from_secs(10), || nodes
        .iter()
        .all(|n| state_ok(n.port()))));
    let script = format!(
        "from redis.cluster import RedisCluster\n\
         rc = RedisCluster(host='127.0.0.1', port={first})\n\
         for i in range(200):\n    rc.set(f'k{{i}}', i)\n\
         assert all(int(rc.get(f'k{{i}}')) == i for i in range(200))\n\
         assert rc.mget_nonatomic(['k1', 'k2']) == [b'1', b'2']\n\
         print('ok', len(rc.get_nodes()))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("ok "), "{text}");
}

/// The client side of the next test: redis-py's `RedisCluster` writing `k0, k1, ...` in a loop
/// (each write retried until acknowledged, for at most 30 s) until the file named by argv[2]
/// exists, then reading every acknowledged key back through the cluster and printing the slots
/// of those that are not there.
const REDIS_PY_WRITER: &str = r#"
import os, sys, time
from redis.cluster import RedisCluster
from redis.exceptions import RedisError
rc = RedisCluster(host='127.0.0.1', port=int(sys.argv[1]))
acked, retries, i = 0, 0, 0
while not os.path.exists(sys.argv[2]):
    deadline = time.time() + 30
    while True:
        try:
            rc.set(f'k{i}', i)
            break
        except RedisError:
            retries += 1
            if time.time() > deadline:
                print(f'gave up on k{i}'); sys.exit(1)
            time.sleep(0.05)
    acked, i = acked + 1, i + 1
from redis.crc import key_slot
lost = [key_slot(f'k{k}'.encode()) for k in range(acked) if rc.get(f'k{k}') != str(k).encode()]
print(f'ok acked={acked} retries={retries} lost-slots=' + ','.join(map(str, lost)))
"#;

#[test]
fn redis_py_cluster_client_writes_through_a_resharding_and_a_failover() {
    let name = "redis_py_cluster_client_writes_through_a_resharding_and_a_failover";
    if skip(name) {
        return;
    }
    if !redis_py_installed() {
        assert!(!under_ci(), "redis-py is required in CI");
        eprintln!("SKIPPED {name}: redis-py is not installed");
        return;
    }
    let mut nodes: Vec<Node> = (0..6).map(|_| start(false)).collect();
    let (master, _) = create_six_and_pick_slot_of_name(&nodes);
    let any = nodes[0].port();
    let stop = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let stop_path = stop.to_path_buf();
    stop.close().unwrap();
    let writer = Command::new("python3")
        .args(["-c", REDIS_PY_WRITER, &any.to_string()])
        .arg(&stop_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    // Let the client write for a moment, then move 1000 slots from the master of "name" to
    // another master while it writes (MIGRATE, ASK, then MOVED).
    std::thread::sleep(Duration::from_millis(500));
    let target = nodes
        .iter()
        .map(Node::port)
        .find(|&p| p != master && cli_at(p, &["role"]).starts_with("master"))
        .unwrap();
    let out = cli(&[
        "--cluster",
        "reshard",
        &format!("127.0.0.1:{any}"),
        "--cluster-from",
        &myid(master),
        "--cluster-to",
        &myid(target),
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    assert!(!out.contains("ERR") && !out.contains("IOERR"), "{out}");
    // Then the master of "name" dies and its replica takes over, the client still writing.
    fail_over_slot_of_name(&mut nodes);
    let alive = nodes
        .iter()
        .map(Node::port)
        .find(|&p| state_ok(p))
        .expect("a live node");
    let promoted = master_of_slot(alive, 5798);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&stop_path, b"stop").unwrap();
    let out = writer.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&stop_path);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("ok acked="), "{text}");
    eprintln!("{name}: {}", text.trim());
    // Replication is asynchronous: a write acknowledged by the dying master in the moment
    // before the kill may not have reached its replica, as with Redis. Nothing else may be
    // lost: not by the resharding, not on any other master.
    let lost: Vec<u16> = text
        .trim()
        .rsplit_once("lost-slots=")
        .map(|(_, list)| list.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default();
    assert!(lost.len() <= 100, "{text}");
    for slot in lost {
        assert_eq!(
            master_of_slot(alive, slot),
            promoted,
            "slot {slot} lost a write: {text}"
        );
    }
}

/// The port of the node serving `slot`, from CLUSTER NODES as `port` sees it.
fn master_of_slot(port: u16, slot: u16) -> u16 {
    let nodes = cli_at(port, &["cluster", "nodes"]);
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let serves = fields.len() > 8
            && fields[8..].iter().any(|r| match r.split_once('-') {
                Some((a, b)) => {
                    (a.parse().unwrap_or(u16::MAX)..=b.parse().unwrap_or(0)).contains(&slot)
                }
                None => r.parse::<u16>().ok() == Some(slot),
            });
        if serves {
            return fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
        }
    }
    panic!("no node serves slot {slot}:\n{nodes}")
}

/// `create --cluster-replicas 1` over six nodes, waits until every node is ok and knows the
/// three replicas, and returns the master of "name"'s slot (5798) and its replica.
fn create_six_and_pick_slot_of_name(nodes: &[Node]) -> (u16, u16) {
    let out = create(nodes);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let first = nodes[0].port();
    assert!(wait_until(Duration::from_secs(15), || nodes
        .iter()
        .all(|n| state_ok(n.port()))));
    // Every node, not only the first, must know who replicates whom: a master that has not
    // yet heard that a node became its replica ignores that node's MFSTART (as Redis does).
    assert!(wait_until(Duration::from_secs(10), || {
        nodes.iter().all(|n| {
            cli_at(n.port(), &["cluster", "nodes"])
                .matches("slave")
                .count()
                == 3
        })
    }));
    master_and_replica_of_slot(first, 5798)
}

fn myid(port: u16) -> String {
    cli_at(port, &["cluster", "myid"]).trim().to_string()
}

#[test]
fn redis_cli_reshards_keys_between_redislab_and_redis_server() {
    if skip("redis_cli_reshards_keys_between_redislab_and_redis_server") {
        return;
    }
    let nodes: Vec<Node> = vec![start(false), start(true), start(false)];
    let out = create_with(&nodes, "0");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let [a, b, c] = [nodes[0].port(), nodes[1].port(), nodes[2].port()];
    assert!(wait_until(Duration::from_secs(10), || [a, b, c]
        .iter()
        .all(|p| state_ok(*p))));
    for i in 0..300 {
        let key = format!("user:{i}");
        assert_eq!(cli_at(a, &["-c", "set", &key, &i.to_string()]).trim(), "OK");
    }
    // redislab -> redis-server, then redis-server -> redislab: MIGRATE both ways.
    for (from, to) in [(a, b), (b, c)] {
        let out = cli(&[
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{a}"),
            "--cluster-from",
            &myid(from),
            "--cluster-to",
            &myid(to),
            "--cluster-slots",
            "400",
            "--cluster-yes",
        ]);
        assert!(!out.contains("ERR") && !out.contains("IOERR"), "{out}");
        assert!(
            wait_until(Duration::from_secs(10), || cli(&[
                "--cluster",
                "check",
                &format!("127.0.0.1:{a}")
            ])
            .contains("[OK] All nodes agree about slots configuration.")),
            "{}",
            cli(&["--cluster", "check", &format!("127.0.0.1:{a}")])
        );
    }
    for i in 0..300 {
        let key = format!("user:{i}");
        assert_eq!(
            cli_at(c, &["-c", "get", &key]).trim(),
            i.to_string(),
            "{key}"
        );
    }
    let moved_to_c: i64 = cli_at(c, &["dbsize"]).trim().parse().unwrap();
    assert!(moved_to_c > 0);
}

#[test]
fn a_migrating_slot_answers_ask_and_the_importing_node_serves_after_asking() {
    if skip("a_migrating_slot_answers_ask") {
        return;
    }
    let a = start(false);
    let b = start(false);
    let (pa, pb) = (a.port(), b.port());
    assert_eq!(
        cli_at(pa, &["cluster", "addslotsrange", "0", "16383"]).trim(),
        "OK"
    );
    assert_eq!(
        cli_at(
            pb,
            &[
                "cluster",
                "meet",
                "127.0.0.1",
                &pa.to_string(),
                &bus_port(pa)
            ]
        )
        .trim(),
        "OK"
    );
    assert!(wait_until(Duration::from_secs(10), || state_ok(pa) && state_ok(pb)));
    let slot = cli_at(pa, &["cluster", "keyslot", "{t}k"])
        .trim()
        .to_string();
    assert_eq!(cli_at(pa, &["set", "{t}k", "v"]).trim(), "OK");
    let (ida, idb) = (myid(pa), myid(pb));
    assert_eq!(
        cli_at(pb, &["cluster", "setslot", &slot, "importing", &ida]).trim(),
        "OK"
    );
    assert_eq!(
        cli_at(pa, &["cluster", "setslot", &slot, "migrating", &idb]).trim(),
        "OK"
    );
    // The source still serves keys it has; a missing one is asked of the target.
    assert_eq!(cli_at(pa, &["get", "{t}k"]).trim(), "v");
    assert_eq!(
        cli_at(pa, &["get", "{t}missing"]).trim(),
        format!("ASK {slot} 127.0.0.1:{pb}")
    );
    // The target redirects unless ASKING came first.
    assert_eq!(
        cli_at(pb, &["get", "{t}k"]).trim(),
        format!("MOVED {slot} 127.0.0.1:{pa}")
    );
    assert_eq!(
        cli_at(
            pa,
            &["migrate", "127.0.0.1", &pb.to_string(), "{t}k", "0", "5000"]
        )
        .trim(),
        "OK"
    );
    assert_eq!(
        cli_at(pa, &["get", "{t}k"]).trim(),
        format!("ASK {slot} 127.0.0.1:{pb}")
    );
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{pb}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let (_, got): (String, String) = redis::pipe()
        .cmd("ASKING")
        .cmd("GET")
        .arg("{t}k")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, "v");
    // MIGRATE is a keyed command too: a key already moved is asked of the target.
    assert_eq!(
        cli_at(
            pa,
            &["migrate", "127.0.0.1", &pb.to_string(), "{t}k", "0", "5000"]
        )
        .trim(),
        format!("ASK {slot} 127.0.0.1:{pb}")
    );
    for p in [pa, pb] {
        assert_eq!(
            cli_at(p, &["cluster", "setslot", &slot, "node", &idb]).trim(),
            "OK"
        );
    }
    assert_eq!(cli_at(pa, &["-c", "get", "{t}k"]).trim(), "v");
    assert_eq!(
        cli_at(pa, &["get", "{t}k"]).trim(),
        format!("MOVED {slot} 127.0.0.1:{pb}")
    );
}

fn bus_port(port: u16) -> String {
    let nodes = cli_at(port, &["cluster", "nodes"]);
    let line = nodes.lines().find(|l| l.contains("myself")).unwrap();
    line.split(['@', ' ']).nth(2).unwrap().to_string()
}

#[test]
fn a_corrupt_nodes_conf_stops_start_up_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nodes.conf"),
        format!(
            "{} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-99999\n",
            "a".repeat(40)
        ),
    )
    .unwrap();
    let out = Command::new(common::redislab())
        .args([
            "server",
            "--port",
            &free_port().to_string(),
            "--cluster-enabled",
            "yes",
        ])
        .args(["--cluster-port", &free_port().to_string()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("Unrecoverable error: corrupted cluster config file.")
            && text.contains("nodes.conf, line 1: slot out of range"),
        "{text}"
    );
}

#[test]
fn redislab_cluster_create_builds_a_cluster_of_redislab_nodes() {
    if skip("redislab_cluster_create_builds_a_cluster_of_redislab_nodes") {
        return;
    }
    let nodes: Vec<Node> = (0..6).map(|_| start(false)).collect();
    let mut args = vec!["cluster".to_string(), "create".to_string()];
    args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())));
    args.extend(["--replicas", "1", "--yes"].map(String::from));
    let out = Command::new(common::redislab())
        .args(&args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
    let first = format!("127.0.0.1:{}", nodes[0].port());
    let theirs = cli(&["--cluster", "check", &first]);
    assert!(theirs.contains("[OK] All 16384 slots covered."), "{theirs}");
    let ours = Command::new(common::redislab())
        .args(["cluster", "check", &first])
        .output()
        .unwrap();
    let ours = String::from_utf8_lossy(&ours.stdout);
    assert!(
        ours.contains("[OK] All nodes agree about slots configuration."),
        "{ours}"
    );
}

#[test]
fn publish_reaches_every_node_and_spublish_the_shard() {
    if skip("publish_reaches_every_node_and_spublish_the_shard") {
        return;
    }
    use std::io::{Read, Write};
    let nodes: Vec<Node> = vec![start(false), start(true), start(false)];
    let out = create_with(&nodes, "0");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let [a, b, c] = [nodes[0].port(), nodes[1].port(), nodes[2].port()];
    assert!(wait_until(Duration::from_secs(10), || [a, b, c]
        .iter()
        .all(|p| state_ok(*p))));
    let read_until = |s: &mut std::net::TcpStream, want: &str| -> String {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while Instant::now() < deadline && !String::from_utf8_lossy(&got).contains(want) {
            let mut buf = [0u8; 4096];
            if let Ok(n) = s.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    // PUBLISH on one node reaches a subscriber on each of the others (one is redis-server).
    let mut subs: Vec<std::net::TcpStream> = [b, c]
        .iter()
        .map(|p| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", *p)).unwrap();
            s.write_all(b"SUBSCRIBE news\r\n").unwrap();
            read_until(&mut s, "news");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    cli_at(a, &["publish", "news", "hello"]);
    for s in &mut subs {
        let got = read_until(s, "hello");
        assert!(got.contains("message") && got.contains("hello"), "{got:?}");
    }
    // SPUBLISH is served by the channel's shard and reaches its subscribers there.
    let slot: u16 = cli_at(a, &["cluster", "keyslot", "orders"])
        .trim()
        .parse()
        .unwrap();
    let owner = [a, b, c]
        .into_iter()
        .find(|p| cli_at(*p, &["spublish", "orders", "x"]).trim() == "0")
        .expect("one node serves the slot");
    let other = [a, b, c].into_iter().find(|p| *p != owner).unwrap();
    assert_eq!(
        cli_at(other, &["spublish", "orders", "x"]).trim(),
        format!("MOVED {slot} 127.0.0.1:{owner}")
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", owner)).unwrap();
    s.write_all(b"SSUBSCRIBE orders\r\n").unwrap();
    assert!(read_until(&mut s, "ssubscribe").contains("ssubscribe"));
    assert_eq!(cli_at(owner, &["spublish", "orders", "paid"]).trim(), "1");
    let got = read_until(&mut s, "paid");
    assert!(got.contains("smessage") && got.contains("paid"), "{got:?}");
}

/// Failover time, redislab against real Redis in the same harness: six nodes,
/// `cluster-node-timeout 2000`, `kill -9` of a master until its replica is master and the
/// cluster is ok. A measurement, not a check: `cargo test --test cluster -- --ignored`.
#[test]
#[ignore]
fn failover_time() {
    if skip("failover_time") {
        return;
    }
    for real in [false, true] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut nodes: Vec<Node> = (0..6).map(|_| start(real)).collect();
            let out = create(&nodes);
            assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
            assert!(wait_until(Duration::from_secs(15), || nodes
                .iter()
                .all(|n| state_ok(n.port()))));
            cli_at(nodes[0].port(), &["-c", "set", "name", "x"]);
            times.push(fail_over_slot_of_name(&mut nodes).as_secs_f64());
        }
        let engine = if real { "redis-server" } else { "redislab" };
        eprintln!("{engine}: failover after kill -9 in {times:.2?} s");
    }
}

#[test]
fn a_master_cut_off_by_the_fault_layer_is_failed_over_and_follows_after_the_heal() {
    if skip("a_master_cut_off_by_the_fault_layer") {
        return;
    }
    let nodes: Vec<Node> = (0..6).map(|_| start_with_faults()).collect();
    let (master, replica) = create_six_and_pick_slot_of_name(&nodes);
    cli_at(master, &["set", "name", "before"]);
    assert_eq!(cli_at(master, &["wait", "1", "5000"]).trim(), "1");
    // Cut the master off from everyone, both ways, on both ends.
    let others: Vec<u16> = nodes
        .iter()
        .map(|n| n.port())
        .filter(|p| *p != master)
        .collect();
    for p in &others {
        let peer = format!("127.0.0.1:{master}");
        assert_eq!(
            cli_at(*p, &["redislab", "fault", "cut", &peer]).trim(),
            "OK"
        );
        let back = format!("127.0.0.1:{p}");
        assert_eq!(
            cli_at(master, &["redislab", "fault", "cut", &back]).trim(),
            "OK"
        );
    }
    assert!(
        wait_until(Duration::from_secs(20), || cli_at(replica, &["role"])
            .starts_with("master")),
        "the replica was not promoted"
    );
    // The isolated master sees a minority and stops serving.
    assert!(wait_until(Duration::from_secs(10), || !state_ok(master)));
    assert!(cli_at(master, &["get", "name"]).starts_with("CLUSTERDOWN"));
    for p in std::iter::once(master).chain(others.iter().copied()) {
        cli_at(p, &["redislab", "fault", "heal", "all"]);
    }
    assert!(
        wait_until(Duration::from_secs(20), || cli_at(master, &["role"])
            .starts_with("slave")),
        "the old master did not become a replica after the heal"
    );
    assert!(wait_until(Duration::from_secs(20), || state_ok(master)));
    // Seen once under heavy load: the rejoined node answered `CLUSTERDOWN Hash slot not
    // served` for a moment after reporting `cluster_state:ok` (not understood yet; Redis
    // moves the slots and turns the node into a replica in one step). The read must succeed
    // within a few seconds.
    assert!(
        wait_until(Duration::from_secs(5), || cli_at(
            master,
            &["-c", "get", "name"]
        )
        .trim()
            == "before"),
        "{}",
        cli_at(master, &["cluster", "nodes"])
    );
}

#[test]
fn a_manual_failover_under_writes_loses_no_acknowledged_write() {
    if skip("a_manual_failover_under_writes") {
        return;
    }
    let nodes: Vec<Node> = (0..6).map(|_| start(false)).collect();
    let (master, replica) = create_six_and_pick_slot_of_name(&nodes);
    assert_eq!(cli_at(master, &["wait", "1", "5000"]).trim(), "1");
    // A client keeps incrementing a counter on the master until it is redirected.
    let writer = std::thread::spawn(move || {
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{master}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut acked = 0i64;
        for _ in 0..200_000 {
            match redis::cmd("INCR").arg("name").query::<i64>(&mut con) {
                Ok(v) => acked = v,
                Err(_) => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cli_at(replica, &["cluster", "failover"]).trim(), "OK");
    assert!(
        wait_until(Duration::from_secs(15), || cli_at(replica, &["role"])
            .starts_with("master")),
        "the replica did not take over"
    );
    let acked = writer.join().unwrap();
    assert!(acked > 0);
    let now: i64 = cli_at(replica, &["get", "name"]).trim().parse().unwrap();
    assert!(
        now >= acked,
        "acknowledged {acked}, the new master has {now}"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        cli_at(master, &["role"]).starts_with("slave")
    }));
}

/// Reads from `stream` until `wanted` has arrived (bounded by its read timeout); returns all
/// that was read.
fn read_until(stream: &mut std::net::TcpStream, wanted: &str) -> String {
    read_until_within(stream, wanted, Duration::from_secs(10))
}

fn read_until_within(stream: &mut std::net::TcpStream, wanted: &str, limit: Duration) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    while !String::from_utf8_lossy(&got).contains(wanted) && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Two nodes of one implementation: the first serves every slot, the second has met it, and
/// both know each other as masters.
fn two_nodes_meeting(real: bool) -> (Node, Node) {
    let (first, second) = (start(real), start(real));
    let (p1, p2) = (first.port(), second.port());
    assert_eq!(
        cli_at(p1, &["cluster", "addslotsrange", "0", "16383"]).trim(),
        "OK"
    );
    let meet = cli_at(
        p2,
        &[
            "cluster",
            "meet",
            "127.0.0.1",
            &p1.to_string(),
            &bus_port(p1),
        ],
    );
    assert_eq!(meet.trim(), "OK");
    assert!(wait_until(Duration::from_secs(10), || {
        cli_at(p2, &["cluster", "nodes"]).matches("master").count() == 2
    }));
    (first, second)
}

/// A node that stops serving a slot unsubscribes the slot's sharded channels: each
/// subscriber gets a `sunsubscribe` push with its remaining count of sharded subscriptions
/// (Redis 7.0's `removeChannelsInSlot`). Checked on redislab, and the same exchange on
/// redis-server, so the expected bytes are Redis's.
#[test]
fn losing_a_slot_unsubscribes_its_shard_channel_subscribers() {
    if skip("losing_a_slot_unsubscribes_its_shard_channel_subscribers") {
        return;
    }
    use std::io::Write;
    for real in [false, true] {
        let (a, b) = two_nodes_meeting(real);
        let (pa, pb) = (a.port(), b.port());
        assert!(wait_until(Duration::from_secs(10), || state_ok(pa) && state_ok(pb)));
        let mut sub = std::net::TcpStream::connect(("127.0.0.1", pa)).unwrap();
        sub.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // Two channels in the slot of `{t}` and one elsewhere (`name`, slot 5798).
        sub.write_all(b"SSUBSCRIBE {t}b {t}a\r\nSSUBSCRIBE name\r\n")
            .unwrap();
        let confirmed = read_until(&mut sub, "$4\r\nname\r\n:3\r\n");
        assert!(confirmed.ends_with("$4\r\nname\r\n:3\r\n"), "{confirmed}");
        let slot = cli_at(pa, &["cluster", "keyslot", "{t}"])
            .trim()
            .to_string();
        let idb = myid(pb);
        for p in [pb, pa] {
            assert_eq!(
                cli_at(p, &["cluster", "setslot", &slot, "node", &idb]).trim(),
                "OK",
                "real redis: {real}"
            );
        }
        let pushed = read_until(&mut sub, "$4\r\n{t}b\r\n:1\r\n");
        assert_eq!(
            pushed,
            "*3\r\n$12\r\nsunsubscribe\r\n$4\r\n{t}a\r\n:2\r\n\
             *3\r\n$12\r\nsunsubscribe\r\n$4\r\n{t}b\r\n:1\r\n",
            "real redis: {real}"
        );
        assert_eq!(
            cli_at(pa, &["pubsub", "shardchannels"]).trim(),
            "name",
            "real redis: {real}"
        );
        // The subscription left is still served; the connection is still in pub/sub mode.
        sub.write_all(b"SUNSUBSCRIBE\r\n").unwrap();
        let last = read_until(&mut sub, ":0\r\n");
        assert_eq!(
            last, "*3\r\n$12\r\nsunsubscribe\r\n$4\r\nname\r\n:0\r\n",
            "real redis: {real}"
        );
    }
}

/// SPUBLISH on a master reaches SSUBSCRIBE subscribers on its replica (a PUBLISHSHARD bus
/// message, delivered to sharded subscribers only), on redislab as on redis-server.
#[test]
fn a_shard_message_reaches_sharded_subscribers_on_the_replica() {
    if skip("a_shard_message_reaches_sharded_subscribers_on_the_replica") {
        return;
    }
    use std::io::Write;
    for real in [false, true] {
        let (master, replica) = two_nodes_meeting(real);
        let (pm, pr) = (master.port(), replica.port());
        assert_eq!(
            cli_at(pr, &["cluster", "replicate", &myid(pm)]).trim(),
            "OK"
        );
        assert!(wait_until(Duration::from_secs(10), || state_ok(pr)
            && cli_at(pm, &["cluster", "nodes"]).contains(" slave ")));
        let mut sub = std::net::TcpStream::connect(("127.0.0.1", pr)).unwrap();
        sub.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        sub.write_all(b"SSUBSCRIBE news\r\nSUBSCRIBE news\r\n")
            .unwrap();
        let confirmed = read_until(&mut sub, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
        assert!(
            confirmed.contains("ssubscribe"),
            "real redis: {real}: {confirmed}"
        );
        // The master sends PUBLISHSHARD on its bus link to the replica, which redis-server
        // may not have connected yet just after the replica joined: publish until one is
        // delivered (bounded).
        let mut got = String::new();
        for _ in 0..20 {
            assert_eq!(
                cli_at(pm, &["spublish", "news", "hello"]).trim(),
                "0",
                "no sharded subscriber on the master itself"
            );
            got = read_until_within(&mut sub, "hello\r\n", Duration::from_millis(500));
            if !got.is_empty() {
                break;
            }
        }
        assert_eq!(
            got, "*3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
            "real redis: {real}"
        );
    }
}
