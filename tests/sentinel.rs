//! Sentinel end to end: redislab and real Redis sentinels over redislab and real Redis nodes,
//! on ephemeral loopback ports, through a `kill -9` of the master. Each test says loudly when
//! a real tool is missing and skips.
//!
//! `cargo test --test sentinel -- --ignored failover_time` measures the failover time (kill -9
//! to `get-master-addr-by-name` changing) of redislab and real sentinels in the same harness.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, have_tool, redislab, wait_until};

/// Which implementation a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Redislab,
    Redis,
}

/// A server or sentinel process in its own temp dir, killed by PID on drop (its log is
/// printed if the test is failing).
struct Proc {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    engine: Engine,
    sentinel: bool,
    args: Vec<String>,
    /// `requirepass` of a data node.
    password: Option<String>,
}

impl Proc {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("out.log"))
            .expect("log file");
        let mut command = match (self.engine, self.sentinel) {
            (Engine::Redislab, false) => {
                let mut c = Command::new(redislab());
                c.arg("server");
                c
            }
            (Engine::Redislab, true) => {
                let mut c = Command::new(redislab());
                c.arg("sentinel");
                c
            }
            (Engine::Redis, false) => Command::new("redis-server"),
            (Engine::Redis, true) => Command::new("redis-sentinel"),
        };
        command
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        self.child = Some(command.spawn().expect("spawn"));
        let port = self.port;
        let url = self.url();
        let up = wait_until(Duration::from_secs(10), || {
            redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        assert!(
            up,
            "{:?} did not start on port {port}:\n{}",
            self.engine,
            self.log()
        );
    }

    fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// A data node: a master, or a replica of `master`.
    fn node(engine: Engine, master: Option<u16>) -> Proc {
        Self::node_with(engine, master, None)
    }

    /// A data node with `requirepass` and `masterauth` set to `password`.
    fn node_with(engine: Engine, master: Option<u16>, password: Option<&str>) -> Proc {
        let port = free_port();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--repl-diskless-sync-delay",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(m) = master {
            args.extend(["--replicaof".into(), "127.0.0.1".into(), m.to_string()]);
        }
        if let Some(pw) = password {
            args.extend([
                "--requirepass".into(),
                pw.into(),
                "--masterauth".into(),
                pw.into(),
            ]);
        }
        let mut p = Proc {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            engine,
            sentinel: false,
            args,
            password: password.map(str::to_string),
        };
        p.spawn();
        p
    }

    /// A sentinel monitoring `mymaster` at `master_port` with `quorum` and `down_after` ms.
    fn sentinel(
        engine: Engine,
        master_port: u16,
        quorum: u32,
        down_after: u32,
        auth_pass: Option<&str>,
    ) -> Proc {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\n\
                 sentinel down-after-milliseconds mymaster {down_after}\n\
                 sentinel failover-timeout mymaster 10000\n{}",
                auth_pass.map_or(String::new(), |p| format!(
                    "sentinel auth-pass mymaster {p}\n"
                ))
            ),
        )
        .expect("write sentinel.conf");
        let mut p = Proc {
            port,
            dir,
            child: None,
            engine,
            sentinel: true,
            args: vec![conf.display().to_string()],
            password: None,
        };
        p.spawn();
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }

    fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).ok();
        c
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn info(&self) -> String {
        redis::cmd("INFO")
            .arg("replication")
            .query::<String>(&mut self.conn())
            .unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- {:?} {} log (port {}) ---\n{}",
                self.engine,
                if self.sentinel { "sentinel" } else { "server" },
                self.port,
                self.log()
            );
        }
    }
}

fn sentinel_master(s: &Proc) -> HashMap<String, String> {
    let flat: Vec<String> = redis::cmd("SENTINEL")
        .arg("master")
        .arg("mymaster")
        .query(&mut s.conn())
        .unwrap_or_default();
    flat.chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

fn master_port(s: &Proc) -> Option<u16> {
    let addr: Option<(String, String)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mymaster")
        .query(&mut s.conn())
        .ok()?;
    addr.and_then(|(_, port)| port.parse().ok())
}

/// A master, two replicas and sentinels, all discovered by each other.
struct Deployment {
    nodes: Vec<Proc>,
    sentinels: Vec<Proc>,
}

fn deploy(data: Engine, sentinels: &[Engine], quorum: u32) -> Deployment {
    let specs: Vec<(Engine, u32, u32)> = sentinels.iter().map(|e| (*e, quorum, 1000)).collect();
    deploy_with(data, &specs)
}

/// Like [`deploy`], with each sentinel's own quorum and down-after period.
fn deploy_with(data: Engine, sentinels: &[(Engine, u32, u32)]) -> Deployment {
    deploy_auth(data, sentinels, None)
}

/// Like [`deploy_with`], with `password` as the nodes' `requirepass`/`masterauth` and the
/// sentinels' `auth-pass`.
fn deploy_auth(
    data: Engine,
    sentinels: &[(Engine, u32, u32)],
    password: Option<&str>,
) -> Deployment {
    let master = Proc::node_with(data, None, password);
    let nodes = vec![
        Proc::node_with(data, Some(master.port), password),
        Proc::node_with(data, Some(master.port), password),
    ];
    let mut nodes: Vec<Proc> = std::iter::once(master).chain(nodes).collect();
    // Bounds are generous: the machine is shared and these run in parallel.
    let synced = wait_until(Duration::from_secs(60), || {
        common::info_field(&nodes[0].info(), "connected_slaves") == "2"
            && nodes[1..]
                .iter()
                .all(|r| common::info_field(&r.info(), "master_link_status") == "up")
    });
    assert!(synced, "replicas did not sync:\n{}", nodes[0].info());
    let sentinels: Vec<Proc> = sentinels
        .iter()
        .map(|(e, quorum, down_after)| {
            Proc::sentinel(*e, nodes[0].port, *quorum, *down_after, password)
        })
        .collect();
    let others = sentinels.len() - 1;
    let discovered = wait_until(Duration::from_secs(60), || {
        sentinels.iter().all(|s| {
            let m = sentinel_master(s);
            m.get("num-slaves").map(String::as_str) == Some("2")
                && m.get("num-other-sentinels") == Some(&others.to_string())
        })
    });
    let views: Vec<_> = sentinels.iter().map(sentinel_master).collect();
    assert!(
        discovered,
        "sentinels did not discover everything: {views:#?}"
    );
    nodes.iter_mut().for_each(|_| {});
    Deployment { nodes, sentinels }
}

/// Kills the master with SIGKILL and waits until every sentinel names another one. Returns
/// the time until the first sentinel changed, and the new master's port.
fn kill_master_and_wait(d: &mut Deployment) -> (Duration, u16) {
    let old = d.nodes[0].port;
    d.nodes[0].kill();
    let start = Instant::now();
    let mut first: Option<Duration> = None;
    let all_switched = wait_until(Duration::from_secs(60), || {
        let ports: Vec<Option<u16>> = d.sentinels.iter().map(master_port).collect();
        if first.is_none() && ports.iter().any(|p| p.is_some_and(|p| p != old)) {
            first = Some(start.elapsed());
        }
        ports.iter().all(|p| p.is_some_and(|p| p != old))
    });
    assert!(all_switched, "not every sentinel switched master");
    let new = master_port(&d.sentinels[0]).expect("a master");
    for s in &d.sentinels {
        assert_eq!(
            master_port(s),
            Some(new),
            "sentinels agree on the new master"
        );
    }
    (first.expect("a switch"), new)
}

/// After a failover: the new master is a master, the other replica follows it, writes work.
fn check_new_topology(d: &Deployment, new: u16) {
    let promoted = d
        .nodes
        .iter()
        .find(|n| n.port == new)
        .expect("new master is a node");
    assert_eq!(common::info_field(&promoted.info(), "role"), "master");
    let other = d.nodes[1..]
        .iter()
        .find(|n| n.port != new)
        .expect("other replica");
    let follows = wait_until(Duration::from_secs(30), || {
        let info = other.info();
        common::info_field(&info, "master_port") == new.to_string()
            && common::info_field(&info, "master_link_status") == "up"
    });
    assert!(
        follows,
        "the other replica was not reconfigured:\n{}",
        other.info()
    );
    let _: () = redis::cmd("SET")
        .arg("after-failover")
        .arg("yes")
        .query(&mut promoted.conn())
        .expect("the new master takes writes");
}

#[test]
fn redislab_sentinels_fail_over_redislab_nodes_and_convert_the_old_master() {
    let mut d = deploy(
        Engine::Redislab,
        &[Engine::Redislab, Engine::Redislab, Engine::Redislab],
        2,
    );
    let (took, new) = kill_master_and_wait(&mut d);
    eprintln!("redislab sentinels over redislab nodes: failover in {took:?}");
    check_new_topology(&d, new);
    let log = d.sentinels.iter().map(Proc::log).collect::<String>();
    for event in [
        "+sdown master mymaster",
        "+odown master mymaster",
        "+elected-leader",
        "+promoted-slave",
        "+switch-master mymaster",
    ] {
        assert!(log.contains(event), "{event} is logged");
    }
    // The old master comes back as a master and is turned into a replica of the new one.
    d.nodes[0].restart();
    let converted = wait_until(Duration::from_secs(45), || {
        let info = d.nodes[0].info();
        common::info_field(&info, "role") == "slave"
            && common::info_field(&info, "master_port") == new.to_string()
    });
    assert!(
        converted,
        "old master not converted:\n{}",
        d.nodes[0].info()
    );
    // The epoch the failover won: 1, or more when the sentinels split their votes first (each
    // voted for itself, as Redis's sentinels may too, and tried again after the failover timeout).
    let epoch: u64 = sentinel_master(&d.sentinels[0])["config-epoch"]
        .parse()
        .expect("config-epoch is a number");
    assert!(epoch >= 1, "the promotion has an epoch");
    // Every sentinel's config file now names the new master, and an epoch at least that new.
    for s in &d.sentinels {
        let conf = std::fs::read_to_string(s.dir.path().join("sentinel.conf")).unwrap();
        assert!(
            conf.contains(&format!("sentinel monitor mymaster 127.0.0.1 {new} 2")),
            "{conf}"
        );
        let current: u64 = conf
            .lines()
            .find_map(|l| l.strip_prefix("sentinel current-epoch "))
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or_else(|| panic!("no current-epoch in:\n{conf}"));
        assert!(
            current >= epoch,
            "current-epoch {current} < {epoch}:\n{conf}"
        );
    }
    // A restarted sentinel remembers all of it from its file, before discovering anything.
    let myid: String = redis::cmd("SENTINEL")
        .arg("myid")
        .query(&mut d.sentinels[0].conn())
        .unwrap();
    d.sentinels[0].restart();
    let m = sentinel_master(&d.sentinels[0]);
    assert_eq!(m["port"], new.to_string());
    assert_eq!(m["num-slaves"], "2");
    assert_eq!(m["num-other-sentinels"], "2");
    assert_eq!(m["config-epoch"], epoch.to_string());
    let again: String = redis::cmd("SENTINEL")
        .arg("myid")
        .query(&mut d.sentinels[0].conn())
        .unwrap();
    assert_eq!(again, myid);
}

#[test]
fn redislab_sentinels_fail_over_real_redis_nodes() {
    if !have_tool("redis-server") {
        return;
    }
    let mut d = deploy(
        Engine::Redis,
        &[Engine::Redislab, Engine::Redislab, Engine::Redislab],
        2,
    );
    let (took, new) = kill_master_and_wait(&mut d);
    eprintln!("redislab sentinels over real redis-server: failover in {took:?}");
    check_new_topology(&d, new);
}

#[test]
fn real_sentinels_fail_over_redislab_nodes() {
    if !have_tool("redis-sentinel") {
        return;
    }
    let mut d = deploy(
        Engine::Redislab,
        &[Engine::Redis, Engine::Redis, Engine::Redis],
        2,
    );
    let (took, new) = kill_master_and_wait(&mut d);
    eprintln!("real redis-sentinel over redislab nodes: failover in {took:?}");
    check_new_topology(&d, new);
}

#[test]
fn a_mixed_quorum_of_real_and_redislab_sentinels_fails_over() {
    if !have_tool("redis-sentinel") || !have_tool("redis-server") {
        return;
    }
    let mut d = deploy(
        Engine::Redis,
        &[
            Engine::Redis,
            Engine::Redislab,
            Engine::Redis,
            Engine::Redislab,
        ],
        2,
    );
    let (took, new) = kill_master_and_wait(&mut d);
    eprintln!("mixed sentinels over real redis-server: failover in {took:?}");
    check_new_topology(&d, new);
    // Each side saw the other: the redislab sentinels list the real ones with their run ids.
    for s in d.sentinels.iter().filter(|s| s.engine == Engine::Redislab) {
        let peers: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("sentinels")
            .arg("mymaster")
            .query(&mut s.conn())
            .unwrap();
        assert_eq!(peers.len(), 3);
    }
}

/// The sentinel of `d` that logged `+elected-leader`.
fn leader(d: &Deployment) -> Vec<Engine> {
    d.sentinels
        .iter()
        .filter(|s| s.log().contains("+elected-leader"))
        .map(|s| s.engine)
        .collect()
}

#[test]
fn real_sentinels_elect_a_redislab_leader_and_follow_it() {
    if !have_tool("redis-sentinel") {
        return;
    }
    // The redislab sentinel sees the master down first and alone reaches its quorum of 1;
    // the real ones (quorum 2, slower) give it their votes, then learn the new master from
    // its hellos.
    let mut d = deploy_with(
        Engine::Redis,
        &[
            (Engine::Redislab, 1, 1000),
            (Engine::Redis, 2, 5000),
            (Engine::Redis, 2, 5000),
        ],
    );
    let (_, new) = kill_master_and_wait(&mut d);
    check_new_topology(&d, new);
    assert_eq!(leader(&d), vec![Engine::Redislab]);
    for s in &d.sentinels[1..] {
        let log = s.log();
        assert!(log.contains("+vote-for-leader"), "{log}");
        assert!(log.contains("+config-update-from sentinel"), "{log}");
    }
}

#[test]
fn redislab_sentinels_vote_for_a_real_leader_and_follow_it() {
    if !have_tool("redis-sentinel") {
        return;
    }
    let mut d = deploy_with(
        Engine::Redislab,
        &[
            (Engine::Redis, 1, 1000),
            (Engine::Redislab, 2, 5000),
            (Engine::Redislab, 2, 5000),
        ],
    );
    let (_, new) = kill_master_and_wait(&mut d);
    check_new_topology(&d, new);
    assert_eq!(leader(&d), vec![Engine::Redis]);
    for s in &d.sentinels[1..] {
        let log = s.log();
        assert!(log.contains("+vote-for-leader"), "{log}");
        assert!(log.contains("+config-update-from sentinel"), "{log}");
    }
}

#[test]
fn password_protected_nodes_fail_over_with_auth_pass() {
    if !have_tool("redis-sentinel") {
        return;
    }
    // The tutorial's `sentinel auth-pass mymaster 123456`, redislab and real sentinels together.
    let mut d = deploy_auth(
        Engine::Redislab,
        &[
            (Engine::Redislab, 2, 1000),
            (Engine::Redis, 2, 1000),
            (Engine::Redislab, 2, 1000),
        ],
        Some("123456"),
    );
    let (_, new) = kill_master_and_wait(&mut d);
    check_new_topology(&d, new);
}

#[test]
fn redis_py_discovers_the_master_and_writes_resume_after_a_failover() {
    let python = Command::new("python3")
        .args(["-c", "import redis.sentinel"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python {
        eprintln!("\n*** SKIPPED: python3 with redis-py is not installed ***\n");
        return;
    }
    let mut d = deploy(
        Engine::Redislab,
        &[Engine::Redislab, Engine::Redislab, Engine::Redislab],
        2,
    );
    let ports: Vec<String> = d.sentinels.iter().map(|s| s.port.to_string()).collect();
    let script = |body: &str| {
        format!(
            "import redis, time\nfrom redis.sentinel import Sentinel\n\
             s = Sentinel([{}], socket_timeout=2)\n{body}",
            ports
                .iter()
                .map(|p| format!("('127.0.0.1', {p})"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let run = |code: String| {
        let out = Command::new("python3")
            .args(["-c", &code])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "redis-py failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = run(script(
        "print(s.discover_master('mymaster')[1])\nm = s.master_for('mymaster')\nm.set('k', 'v1')\nprint(len(s.discover_slaves('mymaster')))",
    ));
    assert_eq!(before, format!("{}\n2", d.nodes[0].port));
    let (_, new) = kill_master_and_wait(&mut d);
    let after = run(script(
        "m = s.master_for('mymaster')\nfor i in range(50):\n    try:\n        m.set('k', 'v2'); break\n    except (redis.ConnectionError, redis.ReadOnlyError):\n        time.sleep(0.2)\nprint(s.discover_master('mymaster')[1])\nprint(m.get('k').decode())",
    ));
    assert_eq!(after, format!("{new}\nv2"));
}

fn start_sentinel_with(conf_text: &str, extra: &[&str]) -> (Proc, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, conf_text).unwrap();
    let port = free_port();
    let mut args = vec![
        conf.display().to_string(),
        "--port".into(),
        port.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut p = Proc {
        port,
        dir: tempfile::tempdir().expect("temp dir"),
        child: None,
        engine: Engine::Redislab,
        sentinel: true,
        args,
        password: None,
    };
    p.spawn();
    (p, dir)
}

#[test]
fn redis_own_and_the_tutorial_sentinel_conf_start_unchanged() {
    let redis_conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata/sentinel-7.0.conf"),
    )
    .unwrap();
    let (s, _dir) = start_sentinel_with(&redis_conf, &["--bind", "127.0.0.1", "--pidfile", ""]);
    let m = sentinel_master(&s);
    assert_eq!(m["quorum"], "2");
    assert_eq!(m["down-after-milliseconds"], "30000");
    assert_eq!(m["failover-timeout"], "180000");

    let tutorial =
        "port 26379\ndir .\ndaemonize yes\nprotected-mode no\nlogfile \"./sentinel.log\"\n\
        sentinel monitor mymaster 127.0.0.1 6379 1\n\
        sentinel down-after-milliseconds mymaster 5000\n\
        sentinel failover-timeout mymaster 18000\n\
        sentinel auth-pass mymaster 123456\n\
        sentinel parallel-syncs mymaster 1//指定了在执行故障转移时\n";
    let (s, dir) = start_sentinel_with(tutorial, &["--daemonize", "no", "--bind", "127.0.0.1"]);
    let m = sentinel_master(&s);
    assert_eq!(m["parallel-syncs"], "1");
    assert_eq!(m["down-after-milliseconds"], "5000");
    let role: (String, Vec<String>) = redis::cmd("ROLE").query(&mut s.conn()).unwrap();
    assert_eq!(role, ("sentinel".to_string(), vec!["mymaster".to_string()]));
    let conf = std::fs::read_to_string(dir.path().join("sentinel.conf")).unwrap();
    assert!(
        conf.contains("sentinel auth-pass mymaster 123456"),
        "{conf}"
    );
    assert!(conf.contains("sentinel myid "), "{conf}");
}

/// Issue 8's peer-link layer on a Sentinel: with `--lab-faults`, `REDISLAB FAULT CUT` on the
/// Sentinel about its master stalls the Sentinel's links to it (command and pub/sub), one
/// direction or both, while the master stays up and answers everyone else. The Sentinel sees
/// what a partition shows it: no PONG within `down-after-milliseconds`, so `+sdown`; the heal
/// lets a link through again, so `-sdown` (Redis's `sentinelCheckSubjectivelyDown`).
#[test]
fn a_cut_link_puts_a_live_master_in_sdown_and_the_heal_clears_it() {
    let master = Proc::node(Engine::Redislab, None);
    let peer = format!("127.0.0.1:{}", master.port);
    // Quorum 2 with one Sentinel: SDOWN never becomes ODOWN, so no failover starts.
    let conf = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\n\
         sentinel down-after-milliseconds mymaster 1000\n",
        master.port
    );
    let (s, _conf_dir) = start_sentinel_with(&conf, &["--bind", "127.0.0.1", "--lab-faults"]);
    let linked = wait_until(Duration::from_secs(20), || {
        sentinel_master(&s).get("role-reported").map(String::as_str) == Some("master")
    });
    assert!(linked, "the sentinel never reached its master");
    let count = |what: &str| s.log().matches(&format!("{what} master mymaster")).count();
    for direction in ["BOTH", "OUT", "IN"] {
        let (downs, ups) = (count("+sdown"), count("-sdown"));
        common::lab_fault(&mut s.conn(), &["CUT", &peer, direction]);
        assert!(
            s.log()
                .contains(&format!("Lab fault: traffic with {peer} cut")),
            "the sentinel logs the change"
        );
        let down = wait_until(Duration::from_secs(20), || count("+sdown") > downs);
        assert!(down, "no +sdown with the link cut ({direction})");
        let flags = sentinel_master(&s)
            .get("flags")
            .cloned()
            .unwrap_or_default();
        assert!(flags.contains("s_down"), "{flags}");
        let pong: String = redis::cmd("PING").query(&mut master.conn()).unwrap();
        assert_eq!(pong, "PONG", "the master is alive all along");
        common::lab_fault(&mut s.conn(), &["HEAL", &peer]);
        let up = wait_until(Duration::from_secs(20), || count("-sdown") > ups);
        assert!(up, "no -sdown after the heal ({direction})");
        let flags = sentinel_master(&s)
            .get("flags")
            .cloned()
            .unwrap_or_default();
        assert_eq!(flags, "master");
    }
}

#[test]
fn server_with_the_sentinel_flag_runs_a_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, "sentinel monitor mymaster 127.0.0.1 6379 1\n").unwrap();
    let port = free_port();
    let mut p = Proc {
        port,
        dir: tempfile::tempdir().unwrap(),
        child: None,
        engine: Engine::Redislab,
        sentinel: false,
        password: None,
        args: vec![
            conf.display().to_string(),
            "--sentinel".into(),
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
        ],
    };
    p.spawn();
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut p.conn())
        .unwrap();
    assert!(info.contains("redis_mode:sentinel"), "{info}");
    let role: (String, Vec<String>) = redis::cmd("ROLE").query(&mut p.conn()).unwrap();
    assert_eq!(role.0, "sentinel");
    // Data commands are not in a sentinel's table.
    let set: redis::RedisResult<String> = redis::cmd("SET").arg("k").arg("v").query(&mut p.conn());
    assert!(set.unwrap_err().to_string().contains("unknown command"));
    // Nor is the lab's fault switch, without `--lab-faults`.
    let fault: redis::RedisResult<String> = redis::cmd("REDISLAB")
        .arg("FAULT")
        .arg("LIST")
        .query(&mut p.conn());
    assert!(fault.unwrap_err().to_string().contains("unknown command"));
    // SHUTDOWN saves the state and exits.
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut p.conn());
    let exited = wait_until(Duration::from_secs(15), || {
        p.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    });
    assert!(exited);
    let saved = std::fs::read_to_string(&conf).unwrap();
    assert!(saved.contains("sentinel myid "), "{saved}");
}

#[test]
fn a_bad_sentinel_line_is_refused_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    for (text, reason) in [
        (
            "port 1\nsentinel monitor m 127.0.0.1 6379 0\n",
            "Quorum must be 1 or greater.",
        ),
        (
            "sentinel monitor m 127.0.0.1 6379 1\nsentinel down-after-milliseconds other 10\n",
            "No such master with specified name.",
        ),
        (
            "sentinel frobnicate yes\n",
            "Unrecognized sentinel configuration statement.",
        ),
        (
            "sentinel myid abc\n",
            "Malformed Sentinel id in myid option.",
        ),
    ] {
        std::fs::write(&conf, text).unwrap();
        let out = Command::new(redislab())
            .args(["sentinel", conf.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(reason), "{stderr}");
        assert!(stderr.contains("bad.conf"), "{stderr}");
        assert!(
            stderr.contains(&format!("at line {}", text.lines().count())),
            "{stderr}"
        );
    }
    // The Chinese tutorial's line, whole: its comment has a space, so the line has too many
    // words and real Redis 7.0 refuses it the same way (checked against redis-sentinel).
    std::fs::write(
        &conf,
        "sentinel monitor mymaster 127.0.0.1 6379 1\n\
         sentinel parallel-syncs mymaster 1//指定了在执行故障转移时, 最多可以有多少个从服务器同时对新的主服务器进行同步\n",
    )
    .unwrap();
    let out = Command::new(redislab())
        .args(["sentinel", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("at line 2")
            && stderr.contains("Unrecognized sentinel configuration statement."),
        "{stderr}"
    );
    // A server (no --sentinel) refuses sentinel lines, as redis-server does.
    std::fs::write(&conf, "port 0\nsentinel monitor m 127.0.0.1 6379 1\n").unwrap();
    let out = Command::new(redislab())
        .args(["server", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("at line 2")
            && stderr.contains("sentinel directive while not in sentinel mode"),
        "{stderr}"
    );
    // Sentinel needs its file.
    let out = Command::new(redislab())
        .args(["sentinel"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Sentinel needs config file on disk"));
}

#[test]
fn sentinel_commands_answer_with_redis_shapes() {
    let master = Proc::node(Engine::Redislab, None);
    let s = Proc::sentinel(Engine::Redislab, master.port, 1, 1000, None);
    let mut c = s.conn();
    let q = |c: &mut redis::Connection, args: &[&str]| -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c)
            .unwrap_or_else(|e| redis::Value::SimpleString(format!("ERR:{e}")))
    };
    let err_text = |v: redis::Value| format!("{v:?}");
    assert!(err_text(q(&mut c, &["SENTINEL", "master", "nope"]))
        .contains("No such master with that name"));
    assert_eq!(
        q(&mut c, &["SENTINEL", "get-master-addr-by-name", "nope"]),
        redis::Value::Nil
    );
    let ck: String = redis::cmd("SENTINEL")
        .arg("ckquorum")
        .arg("mymaster")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        ck,
        "OK 1 usable Sentinels. Quorum and failover authorization can be reached"
    );
    let id: String = redis::cmd("SENTINEL").arg("myid").query(&mut c).unwrap();
    assert_eq!(id.len(), 40);
    assert!(err_text(q(&mut c, &["SENTINEL", "bogus"])).contains("unknown subcommand"));
    assert!(err_text(q(
        &mut c,
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "127.0.0.1",
            "x",
            "0",
            "*"
        ]
    ))
    .contains("value is not an integer"));
    let ok: String = redis::cmd("SENTINEL")
        .arg("set")
        .arg("mymaster")
        .arg("quorum")
        .arg("3")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(sentinel_master(&s)["quorum"], "3");
    let info: String = redis::cmd("INFO").arg("sentinel").query(&mut c).unwrap();
    assert!(
        info.contains(&format!(
            "master0:name=mymaster,status=ok,address=127.0.0.1:{},slaves=0,sentinels=1",
            master.port
        )),
        "{info}"
    );
    // RESP3: SENTINEL MASTERS is a list of maps (redis-py relies on it).
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let hello = common::raw_exchange(&mut raw, b"HELLO 3\r\n", 10);
    assert!(
        hello.starts_with(b"%6\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    let masters = common::raw_exchange(&mut raw, b"SENTINEL MASTERS\r\n", 8);
    assert!(
        masters.starts_with(b"*1\r\n%"),
        "{}",
        String::from_utf8_lossy(&masters)
    );
    // Events are published: SENTINEL SET emits +set.
    let mut sub = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    common::raw_exchange(&mut sub, b"PSUBSCRIBE *\r\n", 20);
    let _: String = redis::cmd("SENTINEL")
        .arg("set")
        .arg("mymaster")
        .arg("quorum")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let event = common::raw_exchange(&mut sub, b"", 60);
    let event = String::from_utf8_lossy(&event);
    assert!(
        event.contains("+set") && event.contains("quorum 1"),
        "{event}"
    );
}

/// Failover time, kill -9 to get-master-addr-by-name changing, 3 sentinels, quorum 2,
/// down-after 1000 ms: redislab sentinels vs real redis-sentinel, over the same nodes.
#[test]
#[ignore = "benchmark: cargo test --test sentinel -- --ignored failover_time --nocapture"]
fn failover_time() {
    if !have_tool("redis-sentinel") {
        return;
    }
    for data in [Engine::Redis, Engine::Redislab] {
        for engine in [Engine::Redislab, Engine::Redis] {
            let mut times = Vec::new();
            for _ in 0..3 {
                let mut d = deploy(data, &[engine, engine, engine], 2);
                let (took, _) = kill_master_and_wait(&mut d);
                times.push(took.as_millis());
            }
            times.sort();
            eprintln!(
                "sentinels {engine:?} over {data:?} nodes: failover in {:?} ms (median {} ms)",
                times, times[1]
            );
        }
    }
}

#[test]
fn sentinel_failover_monitor_remove_and_reset() {
    let master = Proc::node(Engine::Redislab, None);
    let replica = Proc::node(Engine::Redislab, Some(master.port));
    let s = Proc::sentinel(Engine::Redislab, master.port, 2, 1000, None);
    // Known, connected and with a fresh INFO: a candidate for promotion.
    let found = wait_until(Duration::from_secs(20), || {
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("replicas")
            .arg("mymaster")
            .query(&mut s.conn())
            .unwrap_or_default();
        replicas.iter().any(|r| {
            r.windows(2)
                .any(|w| w[0] == "master-link-status" && w[1] == "ok")
                && !r.iter().any(|f| f.contains("disconnected"))
        })
    });
    assert!(found, "replica not discovered");
    let mut c = s.conn();
    // A manual failover needs no agreement.
    let ok: String = redis::cmd("SENTINEL")
        .arg("failover")
        .arg("mymaster")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    // Switched: the master's own address changed, not only the address being promoted.
    let switched = wait_until(Duration::from_secs(20), || {
        sentinel_master(&s).get("port") == Some(&replica.port.to_string())
    });
    assert!(switched, "{}", s.log());
    assert!(s
        .log()
        .contains("Executing user requested FAILOVER of 'mymaster'"));
    assert_eq!(common::info_field(&replica.info(), "role"), "master");
    // MONITOR, then REMOVE, a second master; RESET clears what was learned.
    let ok: String = redis::cmd("SENTINEL")
        .arg("monitor")
        .arg("other")
        .arg("127.0.0.1")
        .arg(master.port)
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let role: (String, Vec<String>) = redis::cmd("ROLE").query(&mut c).unwrap();
    assert_eq!(role.1, vec!["mymaster".to_string(), "other".to_string()]);
    let dup: redis::RedisResult<String> = redis::cmd("SENTINEL")
        .arg("monitor")
        .arg("other")
        .arg("127.0.0.1")
        .arg(1)
        .arg(1)
        .query(&mut c);
    assert!(dup
        .unwrap_err()
        .to_string()
        .contains("Duplicate master name."));
    let ok: String = redis::cmd("SENTINEL")
        .arg("remove")
        .arg("other")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let n: i64 = redis::cmd("SENTINEL")
        .arg("reset")
        .arg("*")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let conf = std::fs::read_to_string(s.dir.path().join("sentinel.conf")).unwrap();
    assert!(!conf.contains("other"), "{conf}");
    assert!(
        conf.contains(&format!(
            "sentinel monitor mymaster 127.0.0.1 {} 2",
            replica.port
        )),
        "{conf}"
    );
}

#[test]
fn redis_cli_runs_every_sentinel_command() {
    if !have_tool("redis-cli") {
        return;
    }
    let master = Proc::node(Engine::Redislab, None);
    let s = Proc::sentinel(Engine::Redislab, master.port, 1, 1000, None);
    let port = s.port.to_string();
    let commands: &[&[&str]] = &[
        &["sentinel", "masters"],
        &["sentinel", "master", "mymaster"],
        &["sentinel", "replicas", "mymaster"],
        &["sentinel", "slaves", "mymaster"],
        &["sentinel", "sentinels", "mymaster"],
        &["sentinel", "get-master-addr-by-name", "mymaster"],
        &[
            "sentinel",
            "is-master-down-by-addr",
            "127.0.0.1",
            &master.port.to_string(),
            "0",
            "*",
        ],
        &["sentinel", "ckquorum", "mymaster"],
        &["sentinel", "flushconfig"],
        &[
            "sentinel",
            "set",
            "mymaster",
            "down-after-milliseconds",
            "2000",
        ],
        &["sentinel", "config", "get", "*"],
        &["sentinel", "config", "set", "announce-port", "0"],
        &["sentinel", "myid"],
        &["sentinel", "info-cache", "mymaster"],
        &["sentinel", "pending-scripts"],
        &["sentinel", "simulate-failure", "help"],
        &["sentinel", "debug"],
        &["sentinel", "help"],
        &["info", "sentinel"],
        &["role"],
        &["ping"],
        &["client", "list"],
    ];
    for args in commands {
        let out = Command::new("redis-cli")
            .args(["-p", &port])
            .args(*args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {stdout}");
        assert!(
            !stdout.starts_with("ERR") && !stdout.contains("Error:"),
            "{args:?}: {stdout}"
        );
        let may_be_empty = ["pending-scripts", "replicas", "slaves", "sentinels"];
        assert!(
            !stdout.trim().is_empty() || may_be_empty.contains(&args[1]),
            "{args:?}: empty"
        );
    }
    // And in RESP3 (redis-cli -3).
    let out = Command::new("redis-cli")
        .args(["-3", "-p", &port, "sentinel", "master", "mymaster"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("mymaster"),
        "{stdout}"
    );
}
