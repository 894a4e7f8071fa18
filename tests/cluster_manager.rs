//! `redislab cluster` (and `redislab cli --cluster`, `redislab cli -c`) against real
//! redis-server nodes in cluster mode, checked with real `redis-cli --cluster` and compared
//! with its output on the same cluster (node ids masked). Skips loudly without redis-server
//! or redis-cli.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{have_tools, redislab, wait_until, RealRedis};

/// Longest any one tool run may take here.
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// What a finished tool run printed.
struct Run {
    stdout: String,
    stderr: String,
    success: bool,
}

/// Runs `program args` with `stdin` as input, killed (by PID) if it outlives [`TOOL_LIMIT`].
fn run(program: &str, args: &[String], stdin: &str) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .env_remove("REDISCLI_AUTH")
        .env_remove("REDISCLI_CLUSTER_YES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TOOL_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish within {TOOL_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Run {
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        success: status.success(),
    }
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// `redislab cluster <args>`.
fn ours(args: &[String]) -> Run {
    let mut all = words(&["cluster"]);
    all.extend(args.iter().cloned());
    run(redislab(), &all, "")
}

/// `redis-cli --cluster <args>` (options spelled `--cluster-*`).
fn theirs(args: &[String]) -> Run {
    let mut all = words(&["--cluster"]);
    all.extend(args.iter().cloned());
    run("redis-cli", &all, "")
}

fn addr(node: &RealRedis) -> String {
    format!("127.0.0.1:{}", node.port)
}

/// Replaces every 40-hex node id with `<id>` and drops the trailing spaces of lines.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let masked: Vec<String> = line
            .split(' ')
            .map(|word| {
                let hex = word.trim_end_matches(['.', ')']);
                if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    word.replace(hex, "<id>")
                } else {
                    word.to_string()
                }
            })
            .collect();
        out.push_str(masked.join(" ").trim_end());
        out.push('\n');
    }
    out
}

fn cluster_command(node: &RealRedis, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd("CLUSTER");
    for a in args {
        cmd.arg(*a);
    }
    cmd.query(&mut node.conn()).expect("CLUSTER command")
}

fn myid(node: &RealRedis) -> String {
    match cluster_command(node, &["MYID"]) {
        redis::Value::BulkString(b) => String::from_utf8(b).expect("utf8 id"),
        redis::Value::SimpleString(s) => s,
        other => panic!("CLUSTER MYID: {other:?}"),
    }
}

fn count_keys_in_slot(node: &RealRedis, slot: u16) -> i64 {
    redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut node.conn())
        .expect("COUNTKEYSINSLOT")
}

/// Six fresh cluster-mode redis-servers.
fn six_nodes() -> Vec<RealRedis> {
    (0..6).map(|_| RealRedis::start_cluster_node()).collect()
}

/// Waits (bounded) until real redis-cli says every node agrees and all slots are covered,
/// and every node of `nodes` says `cluster_state:ok`. The first node is the entry point.
/// Every node must also be listed by the check (known to the entry node).
fn wait_cluster_ok<'a>(nodes: impl IntoIterator<Item = &'a RealRedis>) -> Run {
    let nodes: Vec<&RealRedis> = nodes.into_iter().collect();
    let mut last = None;
    let ok = wait_until(Duration::from_secs(20), || {
        let check = theirs(&words(&["check", &addr(nodes[0])]));
        let good = check.success
            && nodes
                .iter()
                .all(|n| check.stdout.contains(&format!(" {}\n", addr(n))))
            && check
                .stdout
                .contains("[OK] All nodes agree about slots configuration.")
            && check.stdout.contains("[OK] All 16384 slots covered.")
            && nodes.iter().all(|n| {
                redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query::<String>(&mut n.conn())
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
            // Every node knows every other one, past the handshake: a check from one entry
            // says nothing of what another entry lists (later steps enter at other nodes).
            && nodes.iter().all(|n| {
                redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query::<String>(&mut n.conn())
                    .is_ok_and(|text| {
                        !text.contains("handshake")
                            && nodes
                                .iter()
                                .all(|m| text.contains(&format!(" {}@", addr(m))))
                    })
            });
        last = Some(check);
        good
    });
    let last = last.expect("at least one check ran");
    assert!(
        ok,
        "redis-cli --cluster check never passed:\n{}",
        last.stdout
    );
    last
}

/// `redislab cluster create` of six nodes with one replica each.
fn create(nodes: &[RealRedis]) -> Run {
    let mut args = words(&["create"]);
    args.extend(nodes.iter().map(addr));
    args.extend(words(&["--replicas", "1", "--yes"]));
    ours(&args)
}

#[test]
fn create_builds_a_cluster_redis_cli_accepts() {
    if !have_tools(&["redis-server", "redis-cli"]) {
        return;
    }
    let nodes = six_nodes();
    let started = Instant::now();
    let created = create(&nodes);
    eprintln!("redislab cluster create: {:?}", started.elapsed());
    assert!(created.success, "{}\n{}", created.stdout, created.stderr);
    let out = &created.stdout;
    for line in [
        ">>> Performing hash slots allocation on 6 nodes...\n",
        "Master[0] -> Slots 0 - 5460\nMaster[1] -> Slots 5461 - 10922\nMaster[2] -> Slots 10923 - 16383\n",
        &format!("Adding replica {} to {}\n", addr(&nodes[4]), addr(&nodes[0])),
        ">>> Nodes configuration updated\n>>> Assign a different config epoch to each node\n\
         >>> Sending CLUSTER MEET messages to join the cluster\nWaiting for the cluster to join\n",
        "[OK] All nodes agree about slots configuration.\n",
        "[OK] All 16384 slots covered.\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("Can I set"), "--yes answers the question");
    let check = wait_cluster_ok(&nodes);

    // Our check and info print what redis-cli's do on the same cluster.
    let entry = addr(&nodes[1]);
    let ours_check = ours(&words(&["check", &entry]));
    let theirs_check = theirs(&words(&["check", &entry]));
    assert!(ours_check.success, "{}", ours_check.stdout);
    assert_eq!(mask_ids(&ours_check.stdout), mask_ids(&theirs_check.stdout));
    assert!(check.stdout.contains("1 additional replica(s)"));
    let ours_info = ours(&words(&["info", &entry]));
    let theirs_info = theirs(&words(&["info", &entry]));
    assert_eq!(mask_ids(&ours_info.stdout), mask_ids(&theirs_info.stdout));
    assert!(ours_info.stdout.contains("[OK] 0 keys in 3 masters.\n"));
    // The same through `redislab cli --cluster`, with redis-cli's own option spelling.
    let via_cli = run(
        redislab(),
        &words(&["cli", "--cluster", "info", &entry]),
        "",
    );
    assert_eq!(via_cli.stdout, ours_info.stdout);

    // `call` runs the command everywhere and prints raw replies.
    let called = ours(&words(&["call", &entry, "DBSIZE"]));
    let theirs_called = theirs(&words(&["call", &entry, "DBSIZE"]));
    assert_eq!(called.stdout, theirs_called.stdout);
    assert_eq!(called.stdout.matches(": 0\n").count(), 6);

    // A node that already knows others is refused, with redis-cli's message and exit code.
    let mut again = words(&["create"]);
    again.extend(nodes[..3].iter().map(addr));
    let refused = ours(&again);
    let theirs_refused = theirs(&again);
    assert!(!refused.success && !theirs_refused.success);
    assert_eq!(refused.stdout, theirs_refused.stdout);
    assert_eq!(
        refused.stdout,
        format!(
            "[ERR] Node {} is not empty. Either the node already knows other nodes (check with \
             CLUSTER NODES) or contains some key in database 0.\n",
            addr(&nodes[0])
        )
    );
}

#[test]
fn refuses_nodes_not_in_cluster_mode_and_bad_command_lines() {
    if !have_tools(&["redis-server", "redis-cli"]) {
        return;
    }
    let plain = RealRedis::start(&[]);
    for args in [
        words(&["create", &addr(&plain), &addr(&plain), &addr(&plain)]),
        words(&["check", &addr(&plain)]),
        words(&["bogus"]),
        words(&["check"]),
        words(&["add-node", "127.0.0.1:1"]),
        words(&["check", "nonsense"]),
        words(&["create", "7000", "127.0.0.1:7001"]),
    ] {
        let ours = ours(&args);
        let theirs = theirs(&args);
        assert!(!ours.success, "{args:?} must fail");
        assert_eq!(
            (ours.stdout.as_str(), ours.stderr.as_str()),
            (theirs.stdout.as_str(), theirs.stderr.as_str()),
            "{args:?}"
        );
    }
    let refused = ours(&words(&["check", &addr(&plain)]));
    assert_eq!(
        refused.stdout,
        format!(
            "[ERR] Node {} is not configured as a cluster node.\n",
            addr(&plain)
        )
    );
    // Fewer than three masters.
    let two = [
        RealRedis::start_cluster_node(),
        RealRedis::start_cluster_node(),
    ];
    let args = words(&["create", &addr(&two[0]), &addr(&two[1])]);
    let (ours_two, theirs_two) = (ours(&args), theirs(&args));
    assert!(!ours_two.success);
    assert_eq!(ours_two.stdout, theirs_two.stdout);
    assert!(ours_two
        .stdout
        .contains("*** Redis Cluster requires at least 3 master nodes.\n"));
    let help = ours(&words(&["help"]));
    assert!(help
        .stdout
        .starts_with("Cluster Manager Commands:\n  create "));
}

/// Keys `{t}0`..: all in the slot of hash tag `t`.
fn write_keys(owner: &RealRedis, tag: &str, count: usize) {
    let mut conn = owner.conn();
    for i in 0..count {
        let _: () = redis::cmd("SET")
            .arg(format!("{{{tag}}}{i}"))
            .arg(i)
            .query(&mut conn)
            .expect("SET on the slot's owner");
    }
}

#[test]
fn reshard_moves_keys_and_nodes_come_and_go() {
    if !have_tools(&["redis-server", "redis-cli"]) {
        return;
    }
    let nodes = six_nodes();
    let created = create(&nodes);
    assert!(created.success, "{}", created.stdout);
    wait_cluster_ok(&nodes);

    // Master[0] holds slots 0-5460; slot 0 is the first reshard takes. Tag "3560" hashes
    // to slot 0.
    let tag = "3560";
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(tag)
        .query(&mut nodes[0].conn())
        .expect("KEYSLOT");
    assert_eq!(slot, 0);
    write_keys(&nodes[0], tag, 25);
    let (source, target) = (myid(&nodes[0]), myid(&nodes[1]));
    let resharded = ours(&words(&[
        "reshard",
        &addr(&nodes[0]),
        "--from",
        &source,
        "--to",
        &target,
        "--slots",
        "1",
        "--yes",
        "--pipeline",
        "10",
    ]));
    assert!(
        resharded.success,
        "{}\n{}",
        resharded.stdout, resharded.stderr
    );
    assert!(
        resharded.stdout.contains(&format!(
            "  Resharding plan:\n    Moving slot 0 from {source}\nMoving slot 0 from {} to {}: {}\n",
            addr(&nodes[0]),
            addr(&nodes[1]),
            ".".repeat(25)
        )),
        "{}",
        resharded.stdout
    );
    assert_eq!(count_keys_in_slot(&nodes[0], 0), 0);
    assert_eq!(count_keys_in_slot(&nodes[1], 0), 25);
    let check = wait_cluster_ok(&nodes);
    assert!(check.stdout.contains("slots:[1-5460] (5460 slots) master"));

    // And back with real redis-cli: the same plan and progress lines.
    let back = theirs(&words(&[
        "reshard",
        &addr(&nodes[0]),
        "--cluster-from",
        &target,
        "--cluster-to",
        &source,
        "--cluster-slots",
        "1",
        "--cluster-yes",
    ]));
    assert!(back.stdout.contains(&format!(
        "Moving slot 0 from {} to {}: {}\n",
        addr(&nodes[1]),
        addr(&nodes[0]),
        ".".repeat(25)
    )));
    wait_cluster_ok(&nodes);

    // Asked for what was not given, as redis-cli asks.
    let answers = format!("1\n{target}\n{source}\ndone\nyes\n");
    let asked = run(
        redislab(),
        &words(&["cluster", "reshard", &addr(&nodes[0])]),
        &answers,
    );
    assert!(asked.success, "{}\n{}", asked.stdout, asked.stderr);
    assert!(
        asked.stdout.contains(
            "How many slots do you want to move (from 1 to 16384)? What is the receiving node ID? \
         Please enter all the source node IDs.\n  \
         Type 'all' to use all the nodes as source nodes for the hash slots.\n  \
         Type 'done' once you entered all the source nodes IDs.\n\
         Source node #1: Source node #2: \nReady to move 1 slots.\n"
        ),
        "{}",
        asked.stdout
    );
    assert!(asked.stdout.contains(&format!(
        "Do you want to proceed with the proposed reshard plan (yes/no)? Moving slot 0 from {} to {}: {}\n",
        addr(&nodes[0]),
        addr(&nodes[1]),
        ".".repeat(25)
    )));
    // End of input instead of an answer ends the command (redis-cli would ask forever).
    let no_answer = run(
        redislab(),
        &words(&["cluster", "reshard", &addr(&nodes[0])]),
        "",
    );
    assert!(!no_answer.success);
    assert!(no_answer
        .stderr
        .contains("*** No answer (end of input), operation aborted.\n"));
    wait_cluster_ok(&nodes);

    // add-node as a master, then a replica of it; del-node of the replica.
    let extra = RealRedis::start_cluster_node();
    let replica = RealRedis::start_cluster_node();
    let added = ours(&words(&["add-node", &addr(&extra), &addr(&nodes[0])]));
    assert!(added.success, "{}\n{}", added.stdout, added.stderr);
    assert!(added.stdout.contains(&format!(
        ">>> Send CLUSTER MEET to node {} to make it join the cluster.\n[OK] New node added correctly.\n",
        addr(&extra)
    )));
    let extra_id = myid(&extra);
    wait_cluster_ok(nodes.iter().chain([&extra]));
    let as_replica = ours(&words(&[
        "add-node",
        &addr(&replica),
        &addr(&nodes[0]),
        "--replica",
        "--master-id",
        &extra_id,
    ]));
    assert!(
        as_replica.success,
        "{}\n{}",
        as_replica.stdout, as_replica.stderr
    );
    assert!(as_replica.stdout.contains(&format!(
        ">>> Configure node as replica of {}.\n",
        addr(&extra)
    )));
    let replicates = wait_until(Duration::from_secs(20), || {
        let nodes_text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut replica.conn())
            .unwrap_or_default();
        nodes_text
            .lines()
            .any(|l| l.contains("myself,slave") && l.contains(&extra_id))
    });
    assert!(replicates);

    let refused = ours(&words(&["del-node", &addr(&nodes[0]), &source]));
    assert!(!refused.success);
    assert!(refused.stdout.contains(&format!(
        "[ERR] Node {} is not empty! Reshard data away and try again.\n",
        addr(&nodes[0])
    )));
    let replica_id = myid(&replica);
    // Every node must know the replica before it can forget it.
    let everyone: Vec<&RealRedis> = nodes.iter().chain([&extra, &replica]).collect();
    let known = wait_until(Duration::from_secs(20), || {
        everyone.iter().all(|n| {
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query::<String>(&mut n.conn())
                .is_ok_and(|text| text.contains(&replica_id) && !text.contains("handshake"))
        })
    });
    assert!(known, "the replica never became known to every node");
    let removed = ours(&words(&["del-node", &addr(&nodes[0]), &replica_id]));
    assert!(removed.success, "{}\n{}", removed.stdout, removed.stderr);
    assert_eq!(
        removed.stdout,
        format!(
            ">>> Removing node {replica_id} from cluster {}\n\
             >>> Sending CLUSTER FORGET messages to the cluster...\n\
             >>> Sending CLUSTER RESET SOFT to the deleted node.\n",
            addr(&nodes[0])
        )
    );
    let nodes_text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut nodes[0].conn())
        .expect("CLUSTER NODES");
    assert!(!nodes_text.contains(&replica_id), "forgotten");

    // An empty master brought in by rebalance: every master ends with its share.
    let rebalanced = ours(&words(&[
        "rebalance",
        &addr(&nodes[0]),
        "--use-empty-masters",
        "--pipeline",
        "20",
    ]));
    assert!(
        rebalanced.success,
        "{}\n{}",
        rebalanced.stdout, rebalanced.stderr
    );
    assert!(rebalanced
        .stdout
        .contains(">>> Rebalancing across 4 nodes. Total weight = 4.00\n"));
    let check = wait_cluster_ok(&nodes);
    assert_eq!(
        check.stdout.matches("(4096 slots) master").count(),
        4,
        "{}",
        check.stdout
    );
    let total: i64 = nodes[..3]
        .iter()
        .chain(std::iter::once(&extra))
        .map(|n| redis::cmd("DBSIZE").query::<i64>(&mut n.conn()).unwrap())
        .sum();
    assert_eq!(total, 25, "no key lost");
}

#[test]
fn fix_closes_an_open_slot_and_covers_a_lost_one() {
    if !have_tools(&["redis-server", "redis-cli"]) {
        return;
    }
    let nodes = six_nodes();
    assert!(create(&nodes).success);
    wait_cluster_ok(&nodes);
    let other = myid(&nodes[1]);
    cluster_command(&nodes[0], &["SETSLOT", "5", "MIGRATING", &other]);
    let checked = ours(&words(&["check", &addr(&nodes[0])]));
    assert!(!checked.success);
    assert!(checked.stdout.contains(&format!(
        "[WARNING] Node {} has slots in migrating state 5.\n[WARNING] The following slots are open: 5.\n",
        addr(&nodes[0])
    )));
    let fixed = ours(&words(&["fix", &addr(&nodes[0])]));
    assert!(fixed.success, "{}", fixed.stdout);
    assert!(fixed.stdout.contains(&format!(
        ">>> Case 4: Closing slot 5 on {}\n",
        addr(&nodes[0])
    )));

    for node in &nodes {
        let _ = redis::cmd("CLUSTER")
            .arg("DELSLOTS")
            .arg(6)
            .query::<redis::Value>(&mut node.conn());
    }
    // Coverage fixes ask even with --yes, as redis-cli does: "no" leaves the slot alone.
    let declined = run(
        redislab(),
        &words(&["cluster", "fix", &addr(&nodes[0]), "--yes"]),
        "no\n",
    );
    assert!(declined.stdout.contains(
        "The following uncovered slots have no keys across the cluster:\n[6]\n\
         Fix these slots by covering with a random node? (type 'yes' to accept): "
    ));
    assert!(!declined.success);
    let accepted = run(
        redislab(),
        &words(&["cluster", "fix", &addr(&nodes[0])]),
        "yes\n",
    );
    assert!(accepted.success, "{}", accepted.stdout);
    assert!(accepted.stdout.contains(">>> Covering slot 6 with "));
    wait_cluster_ok(&nodes);
}

#[test]
fn cli_c_follows_redirects_as_redis_cli_does() {
    if !have_tools(&["redis-server", "redis-cli"]) {
        return;
    }
    let nodes = six_nodes();
    assert!(create(&nodes).success);
    wait_cluster_ok(&nodes);
    let port = nodes[0].port.to_string();
    // "name" hashes to slot 5798, served by Master[1].
    let script = "set name mafly\nget name\nset foo bar\nget foo\n";
    let ours_repl = run(redislab(), &words(&["cli", "-c", "-p", &port]), script);
    let theirs_repl = run("redis-cli", &words(&["-c", "-p", &port]), script);
    assert_eq!(ours_repl.stdout, theirs_repl.stdout);
    assert!(ours_repl.stdout.starts_with(&format!(
        "-> Redirected to slot [5798] located at {}\nOK\n",
        addr(&nodes[1])
    )));
    // One-shot: no redirect line.
    let one_shot = run(
        redislab(),
        &words(&["cli", "-c", "-p", &port, "get", "name"]),
        "",
    );
    assert_eq!(one_shot.stdout, "mafly\n");

    // ASK: slot 1683 ("newkey") open from Master[0] to Master[1]; a missing key is asked for
    // on the target, with ASKING first.
    let (source, target) = (myid(&nodes[0]), myid(&nodes[1]));
    cluster_command(&nodes[1], &["SETSLOT", "1683", "IMPORTING", &source]);
    cluster_command(&nodes[0], &["SETSLOT", "1683", "MIGRATING", &target]);
    let script = "get newkey\nset newkey 1\n";
    let ours_ask = run(redislab(), &words(&["cli", "-c", "-p", &port]), script);
    assert_eq!(
        ours_ask.stdout,
        format!(
            "-> Redirected to slot [1683] located at {0}\n\n\
             -> Redirected to slot [1683] located at {1}\n\
             -> Redirected to slot [1683] located at {0}\nOK\n",
            addr(&nodes[1]),
            addr(&nodes[0])
        )
    );
    assert_eq!(
        count_keys_in_slot(&nodes[1], 1683),
        1,
        "written on the importing node"
    );
    let _: (redis::Value, i64) = redis::pipe()
        .cmd("ASKING")
        .cmd("DEL")
        .arg("newkey")
        .query(&mut nodes[1].conn())
        .expect("ASKING + DEL on the importing node");
    let theirs_ask = run("redis-cli", &words(&["-c", "-p", &port]), script);
    assert_eq!(ours_ask.stdout, theirs_ask.stdout);
}
