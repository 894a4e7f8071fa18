//! Test harness: real `redislab server` processes on ephemeral loopback ports.
//!
//! A [`TestNode`] runs in its own temp dir, logs to a file there, waits for readiness with a
//! deadline, and is killed by its PID when dropped — also when the test fails, in which case
//! its log is printed so the failure can be understood.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the kernel does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port")
}

/// A free loopback port whose cluster bus port (port + 10000) is free too, as a Redis
/// Cluster node needs (bound then released, like [`free_port`]).
pub fn free_cluster_port() -> u16 {
    for _attempt in 0..200 {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        let Some(bus) = port.checked_add(10000) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return port;
        }
    }
    panic!("no free port with a free port + 10000 in 200 attempts");
}

/// The redislab binary under test.
pub fn redislab() -> &'static str {
    env!("CARGO_BIN_EXE_redislab")
}

/// The real tools the interop tests drive. `tests/tools_present.rs` fails unless all are here
/// (or `REDISLAB_SKIP_INTEROP=1` says that skipping them is intended).
pub const INTEROP_TOOLS: &[&str] = &[
    "redis-server",
    "redis-cli",
    "redis-sentinel",
    "redis-benchmark",
    "redis-check-rdb",
];

/// How to install what [`missing_interop_tools`] reports.
pub const INSTALL_HINT: &str = "apt-get install redis-server redis-tools redis-sentinel; \
     python3 -m pip install redis";

/// True if `tool` is an executable file on PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths).any(|dir| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(dir.join(tool))
                    .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

/// True if python3 can `import redis` (redis-py).
pub fn redis_py_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import redis"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Every interop tool (and redis-py, named `python3 redis`) that is missing.
pub fn missing_interop_tools() -> Vec<String> {
    let mut missing: Vec<String> = INTEROP_TOOLS
        .iter()
        .filter(|tool| !on_path(tool))
        .map(|tool| tool.to_string())
        .collect();
    if !redis_py_installed() {
        missing.push("python3 redis (redis-py)".to_string());
    }
    missing
}

/// True when running under CI (`CI=true`), where a missing interop tool is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether an interop test may run: true if every tool in `tools` is installed (a tool named
/// `python3 redis` means redis-py). Otherwise it prints a loud skip line and returns false, so
/// the test returns early; under `CI=true` it panics instead, because CI must run every interop
/// test. The skip is also counted by `tests/tools_present.rs`, which fails the run unless
/// `REDISLAB_SKIP_INTEROP=1`.
pub fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            if *tool == "python3 redis" {
                !redis_py_installed()
            } else {
                !on_path(tool)
            }
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let names = missing.join(", ");
    assert!(
        !under_ci(),
        "CI=true and {names} missing: interop tests must run in CI ({INSTALL_HINT})"
    );
    eprintln!("\n*** SKIPPED: {names} not installed ({INSTALL_HINT}) ***\n");
    false
}

/// [`have_tools`] for one tool.
pub fn have_tool(tool: &str) -> bool {
    have_tools(&[tool])
}

/// A running server process.
pub struct TestNode {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestNode {
    /// Starts `redislab server` with `--port <free> --bind 127.0.0.1` plus `extra` arguments.
    pub fn start(extra: &[&str]) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, None, extra)
    }

    /// Starts with a config file whose text is given (the port is added as an override).
    pub fn start_with_config(config_text: &str, extra: &[&str]) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("redis.conf");
        std::fs::write(&path, config_text).expect("write config");
        Self::start_in(dir, Some(path), extra)
    }

    fn start_in(mut dir: tempfile::TempDir, config: Option<PathBuf>, extra: &[&str]) -> TestNode {
        for _attempt in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("stdout.log")).expect("log file");
            let mut command = Command::new(redislab());
            command.arg("server");
            if let Some(path) = &config {
                command.arg(path);
            }
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(extra)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log);
            let child = command.spawn().expect("spawn redislab");
            let mut node = TestNode {
                port,
                dir,
                child: Some(child),
            };
            if node.wait_ready(Duration::from_secs(10)) {
                return node;
            }
            // Port taken between free_port() and bind: try another one.
            let log = node.log();
            if !log.contains("Address already in use") {
                panic!("redislab did not start:\n{log}");
            }
            node.kill();
            dir = std::mem::replace(&mut node.dir, tempfile::tempdir().expect("temp dir"));
        }
        panic!("could not find a free port in 5 attempts");
    }

    /// Restarts the server in the same directory on the same port with `extra` arguments
    /// (after a SHUTDOWN, a crash or a kill). Returns whether it came up.
    pub fn restart(&mut self, extra: &[&str]) -> bool {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stdout.log"))
            .expect("log file");
        let child = Command::new(redislab())
            .arg("server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(extra)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn redislab");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10))
    }

    /// Waits until PING answers, or the process exits, or the deadline passes.
    pub fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok() {
                    if let Ok(n) = s.read(&mut buf) {
                        if n > 0 {
                            return true;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("client");
        let con = client.get_connection().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(10))).ok();
        con
    }

    /// A raw socket, for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        s
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Waits (bounded) for the process to exit by itself; returns its success.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<bool> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status.success());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL by PID, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- redislab log (port {}) ---\n{}", self.port, self.log());
        }
    }
}

/// Sends raw bytes and reads until `expect_len` bytes arrived or the peer closed (bounded).
pub fn raw_exchange(stream: &mut TcpStream, send: &[u8], expect_len: usize) -> Vec<u8> {
    stream.write_all(send).expect("send");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while got.len() < expect_len && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    got
}

/// Polls `check` every 20 ms until it holds or `limit` passes; returns the last answer.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

/// `REDISLAB FAULT <args>` on a node started with `--lab-faults` (server or Sentinel); it must
/// answer OK.
pub fn lab_fault(con: &mut redis::Connection, args: &[&str]) {
    let reply: String = redis::cmd("REDISLAB")
        .arg("FAULT")
        .arg(args)
        .query(con)
        .unwrap_or_else(|e| panic!("REDISLAB FAULT {args:?}: {e}"));
    assert_eq!(reply, "OK", "REDISLAB FAULT {args:?}");
}

/// The value of `name` in INFO text (`name:value` lines).
pub fn info_field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A real redis-server on a free loopback port, in `dir` (its own temp dir if None), killed by
/// PID on drop. Waits (bounded) until it answers.
pub struct RealRedis {
    pub port: u16,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl RealRedis {
    pub fn start(extra: &[&str]) -> RealRedis {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let mut real = Self::start_in(&path, extra);
        real._dir = Some(dir);
        real
    }

    pub fn start_in(dir: &Path, extra: &[&str]) -> RealRedis {
        Self::start_on_a_free_port(free_port, dir, extra)
    }

    /// Starts on a port from `pick`, and on another one if the server exits at once: the port
    /// was free when picked, but another test's process may bind it (or connect from it)
    /// before redis-server does.
    fn start_on_a_free_port(pick: fn() -> u16, dir: &Path, extra: &[&str]) -> RealRedis {
        for _attempt in 0..5 {
            if let Some(real) = Self::try_start_on(pick(), dir, extra) {
                return real;
            }
        }
        panic!("redis-server could not bind a free port in 5 attempts");
    }

    /// A real redis-server in cluster mode (`cluster-enabled yes`, node timeout 2 s) on a
    /// port whose bus port is free too, in its own temp dir (for its nodes.conf).
    pub fn start_cluster_node() -> RealRedis {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let mut real = Self::start_on_a_free_port(
            free_cluster_port,
            &path,
            &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
        );
        real._dir = Some(dir);
        real
    }

    /// A real redis-server on `port`, in `dir`; `None` if it exited before answering PING (the
    /// port was taken). Panics if it neither answers nor exits in 10 s.
    fn try_start_on(port: u16, dir: &Path, extra: &[&str]) -> Option<RealRedis> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut real = RealRedis {
            port,
            child,
            _dir: None,
        };
        let url = format!("redis://127.0.0.1:{port}/");
        let mut exited = false;
        let up = wait_until(Duration::from_secs(10), || {
            exited = matches!(real.child.try_wait(), Ok(Some(_)));
            exited
                || redis::Client::open(url.as_str())
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
        });
        if exited {
            return None;
        }
        assert!(up, "redis-server did not answer PING on port {port}");
        Some(real)
    }

    pub fn conn(&self) -> redis::Connection {
        let con = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect to redis-server");
        con.set_read_timeout(Some(Duration::from_secs(10))).ok();
        con
    }
}

impl RealRedis {
    /// SIGKILL by PID, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
