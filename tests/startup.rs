//! Starting `redislab server` the way the tutorial does: from Redis 7.0's own redis.conf, with
//! `daemonize yes`, a pidfile and a logfile; and failing clearly on a bad config file.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, redislab, TestNode};

#[test]
fn redis_7_0_default_config_starts_unchanged_with_one_warning() {
    let text = include_str!("../src/config/testdata/redis-7.0.conf");
    // The default file names /var/run/redis_6379.pid; keep the test inside its temp dir.
    let node = TestNode::start_with_config(text, &["--pidfile", "redis.pid"]);
    let mut con = node.conn();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let log = node.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accepted but not implemented"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "exactly one warning names the unimplemented directives:\n{log}"
    );
    // The tutorial's check: CONFIG GET answers what the file said.
    let save: (String, String) = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    assert_eq!(save.1, "3600 1 300 100 60 10000");
}

#[test]
fn a_bad_directive_stops_startup_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("6379.conf");
    std::fs::write(&path, "port 6379\nport \"abc\"\n").unwrap();
    let out = Command::new(redislab())
        .arg("server")
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("*** FATAL CONFIG FILE ERROR"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains(">>> 'port \"abc\"'"), "{stderr}");
    assert!(
        stderr.contains("argument couldn't be parsed into an integer"),
        "{stderr}"
    );
    assert!(stderr.contains("6379.conf"), "names the file: {stderr}");

    std::fs::write(&path, "no-such-directive yes\n").unwrap();
    let out = Command::new(redislab())
        .arg("server")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad directive or wrong number of arguments")
    );
}

/// The tutorial's cluster config starts a cluster node: it names itself, writes its
/// nodes.conf, and says `cluster_enabled:1`.
#[test]
fn cluster_enabled_yes_starts_a_cluster_node() {
    let cport = free_port();
    let node = TestNode::start_with_config(
        &format!(
            "cluster-enabled yes\ncluster-config-file nodes-9001.conf\ncluster-port {cport}\n\
             cluster-node-timeout 15000\nappendonly yes\n"
        ),
        &[],
    );
    let mut con = node.conn();
    let info: String = redis::cmd("INFO").arg("cluster").query(&mut con).unwrap();
    assert!(info.contains("cluster_enabled:1"), "{info}");
    let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut con).unwrap();
    assert_eq!(id.len(), 40);
    assert!(
        common::wait_until(Duration::from_secs(15), || {
            std::fs::read_to_string(node.dir.path().join("nodes-9001.conf"))
                .is_ok_and(|t| t.contains(&id) && t.contains("myself"))
        }),
        "nodes-9001.conf was not written"
    );
    assert!(node
        .log()
        .contains(&format!("No cluster configuration found, I'm {id}")));
}

#[test]
fn daemonize_detaches_writes_the_pidfile_and_logs_redis_style() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pidfile = dir.path().join("redis_6379.pid");
    let logfile = dir.path().join("redis.log");
    let conf = dir.path().join("6379.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndaemonize yes\npidfile {}\nlogfile {}\ndir {}\nrequirepass redis\n",
            pidfile.display(),
            logfile.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let status = Command::new(redislab())
        .arg("server")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the foreground process exits once the daemon is detached"
    );
    // Wait (bounded) for the daemon's pidfile, then stop it by that PID.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pid = None;
    while Instant::now() < deadline && pid.is_none() {
        pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = pid.expect("pidfile written");
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: signalling the daemon this test started, by its PID.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _stop = Stop(pid);
    let mut ready = false;
    while Instant::now() < deadline && !ready {
        ready = std::fs::read_to_string(&logfile)
            .unwrap_or_default()
            .contains("Ready to accept connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        ready,
        "log: {}",
        std::fs::read_to_string(&logfile).unwrap_or_default()
    );
    let log = std::fs::read_to_string(&logfile).unwrap();
    let line = log.lines().find(|l| l.contains("Ready to accept")).unwrap();
    // `pid:M 24 Nov 2026 16:22:01.123 * Ready to accept connections`
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert_eq!(parts[0], format!("{pid}:M"));
    assert_eq!(parts[4].len(), "16:22:01.123".len());
    assert_eq!(parts[5], "*");
    // SIGTERM: a clean shutdown that removes the pidfile.
    // SAFETY: signalling the daemon this test started, by its PID.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut removed = false;
    while Instant::now() < deadline + Duration::from_secs(5) && !removed {
        removed = !pidfile.exists();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(removed, "pidfile removed on shutdown");
    assert!(std::fs::read_to_string(&logfile)
        .unwrap()
        .contains("Received SIGTERM scheduling shutdown..."));
}

/// The tutorial's configs use `daemonize yes`. A taken port must not be a silent exit 0: the
/// daemon logs Redis's two lines, and the process the user started prints the error and exits 1.
#[test]
fn daemonize_reports_a_taken_port_on_the_terminal_and_in_the_log() {
    let node = TestNode::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let logfile = dir.path().join("redis.log");
    let out = Command::new(redislab())
        .args(["server", "--port", &node.port.to_string()])
        .args(["--bind", "127.0.0.1", "--daemonize", "yes", "--save", ""])
        .arg("--logfile")
        .arg(&logfile)
        .arg("--pidfile")
        .arg(dir.path().join("redis.pid"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let expected = format!(
        "Could not create server TCP listening socket 127.0.0.1:{}: bind: Address already in use",
        node.port
    );
    assert_eq!(stderr.trim_end(), expected);
    let log = std::fs::read_to_string(&logfile).unwrap();
    let tail: Vec<&str> = log
        .lines()
        .rev()
        .take(2)
        .map(|l| l.splitn(7, ' ').nth(6).unwrap_or(""))
        .collect();
    assert_eq!(
        tail,
        [
            format!("Failed listening on port {} (TCP), aborting.", node.port),
            format!("Warning: {expected}"),
        ],
        "{log}"
    );
}

/// A logfile in a folder that does not exist is reported before detaching, with exit 1.
#[test]
fn daemonize_reports_a_logfile_in_a_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(redislab())
        .args(["server", "--port", &free_port().to_string()])
        .args(["--bind", "127.0.0.1", "--daemonize", "yes", "--save", ""])
        .args(["--logfile", "no-such-folder/redis.log"])
        .arg("--pidfile")
        .arg(dir.path().join("redis.pid"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "Can't open the log file: No such file or directory"
    );
    assert!(!dir.path().join("redis.pid").exists(), "no daemon started");
}

/// The last lines a server logs on SHUTDOWN, in Redis 7.0's order (captured from
/// redis-server 7.0.15 with a save point and a pidfile): the request first, then the save.
#[test]
fn shutdown_logs_its_lines_in_redis_7_0_order() {
    let mut node = TestNode::start(&["--save", "900 1", "--pidfile", "redis.pid"]);
    let mut con = node.conn();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut con).unwrap();
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
    let log = node.log();
    let messages: Vec<&str> = log
        .lines()
        .filter_map(|l| l.splitn(7, ' ').nth(6))
        .collect();
    let tail = &messages[messages.len().saturating_sub(5)..];
    assert_eq!(
        tail,
        [
            "User requested shutdown...",
            "Saving the final RDB snapshot before exiting.",
            "DB saved on disk",
            "Removing the pid file.",
            "Redis is now ready to exit, bye bye...",
        ],
        "{log}"
    );
    assert!(!node.path().join("redis.pid").exists());
}
