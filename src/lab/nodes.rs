//! The lab's server processes: one child process per node (`redislab server <conf>`, this same
//! binary), each in its own folder of one temp dir and in its own process group, so a Ctrl-C
//! at the terminal reaches only the runner, which then stops them itself.
//!
//! [`Nodes`] is the guard: dropping it (success, failure, Ctrl-C, panic) kills every node by PID,
//! reaps it and removes the temp dir — unless the lab was asked to `--keep` them.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::spec::NodeSpec;
use super::{kept, LabError};

/// A cluster node's bus port is its port + 10000 (Redis's default `cluster-port`).
pub const BUS_PORT_OFFSET: u16 = 10_000;

/// The default for how long a node may take to start, and a wait step waits (ms).
pub const DEADLINE_MS: u64 = 15_000;

/// Tutorial ports to the ports actually used.
#[derive(Debug, Clone, Default)]
pub struct PortMap {
    pairs: Vec<(u16, u16)>,
    /// `--ports auto`: the listeners that reserve the picked ports until each node is about to
    /// bind its own ([`PortMap::release`]), so that nothing else takes one meanwhile.
    held: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpListener>>>,
}

impl PortMap {
    /// The same topology moved by `offset`.
    pub fn offset(tutorial: &[u16], offset: i32) -> Result<PortMap, String> {
        let mut pairs = Vec::new();
        for &port in tutorial {
            let actual = i32::from(port) + offset;
            let actual = u16::try_from(actual)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("--port-offset {offset} moves port {port} out of range"))?;
            pairs.push((port, actual));
        }
        Ok(PortMap {
            pairs,
            held: Default::default(),
        })
    }

    /// Free ports picked by the kernel, held until each node starts ([`PortMap::release`]).
    pub fn auto(tutorial: &[u16]) -> Result<PortMap, String> {
        PortMap::auto_with_bus(tutorial, false)
    }

    /// [`PortMap::auto`]; with `bus` (cluster nodes), each port's bus port (port + 10000, as
    /// Redis derives it) must be a valid port and free too, and is held as well.
    pub fn auto_with_bus(tutorial: &[u16], bus: bool) -> Result<PortMap, String> {
        let mut listeners = Vec::new();
        let mut pairs = Vec::new();
        for &port in tutorial {
            // Bounded: a free port whose bus port is free too is found within a few tries.
            let mut found = None;
            for _ in 0..200 {
                let l = std::net::TcpListener::bind("127.0.0.1:0")
                    .map_err(|e| format!("could not find a free port: {e}"))?;
                let actual = l.local_addr().map_err(|e| e.to_string())?.port();
                if !bus {
                    found = Some((actual, l, None));
                    break;
                }
                let Some(bus_port) = actual.checked_add(BUS_PORT_OFFSET) else {
                    continue;
                };
                if let Ok(b) = std::net::TcpListener::bind(("127.0.0.1", bus_port)) {
                    found = Some((actual, l, Some(b)));
                    break;
                }
            }
            let (actual, l, b) =
                found.ok_or("could not find a free port whose bus port (+10000) is free too")?;
            listeners.push(l);
            listeners.extend(b);
            pairs.push((port, actual));
        }
        Ok(PortMap {
            pairs,
            held: std::sync::Arc::new(std::sync::Mutex::new(listeners)),
        })
    }

    /// Whether this run holds `actual` (picked by `--ports auto`, its node not started yet).
    pub fn holds(&self, actual: u16) -> bool {
        self.held
            .lock()
            .map(|held| {
                held.iter()
                    .any(|l| l.local_addr().is_ok_and(|a| a.port() == actual))
            })
            .unwrap_or(false)
    }

    /// Lets go of `actual` (and its bus port, if held) for the node about to bind it.
    pub fn release(&self, actual: u16) {
        let bus = actual.checked_add(BUS_PORT_OFFSET);
        if let Ok(mut held) = self.held.lock() {
            held.retain(|l| {
                l.local_addr()
                    .is_ok_and(|a| a.port() != actual && Some(a.port()) != bus)
            });
        }
    }

    /// `(tutorial, actual)` pairs.
    pub fn pairs(&self) -> &[(u16, u16)] {
        &self.pairs
    }

    /// True when every port is the tutorial's.
    pub fn is_identity(&self) -> bool {
        self.pairs.iter().all(|(t, a)| t == a)
    }

    /// The actual port for a tutorial port; ports the lab does not use stay as they are.
    pub fn actual(&self, tutorial: u16) -> u16 {
        self.pairs
            .iter()
            .find(|(t, _)| *t == tutorial)
            .map_or(tutorial, |(_, a)| *a)
    }

    /// Maps a port written as text, if it is one of the lab's tutorial ports.
    pub fn map_str(&self, text: &str) -> String {
        match text.parse::<u16>() {
            Ok(p) => self.actual(p).to_string(),
            Err(_) => text.to_string(),
        }
    }

    /// Replaces `{6379}`-style placeholders with actual ports.
    pub fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (t, a) in &self.pairs {
            out = out.replace(&format!("{{{t}}}"), &a.to_string());
        }
        out
    }

    /// Rewrites a config file's `port` and `slaveof`/`replicaof` lines to actual ports.
    pub fn rewrite_config(&self, text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let directive = words.first().map(|w| w.to_ascii_lowercase());
            let rewritten = match (directive.as_deref(), words.len()) {
                (Some("port"), 2) => format!("{} {}", words[0], self.map_str(words[1])),
                (Some("slaveof" | "replicaof"), 3) => {
                    format!("{} {} {}", words[0], words[1], self.map_str(words[2]))
                }
                // `sentinel monitor <name> <host> <port> <quorum>`
                (Some("sentinel"), 6) if words[1].eq_ignore_ascii_case("monitor") => format!(
                    "{} {} {} {} {} {}",
                    words[0],
                    words[1],
                    words[2],
                    words[3],
                    self.map_str(words[4]),
                    words[5]
                ),
                (Some("replica-announce-port" | "cluster-announce-port"), 2) => {
                    format!("{} {}", words[0], self.map_str(words[1]))
                }
                _ => line.to_string(),
            };
            out.push_str(&rewritten);
            out.push('\n');
        }
        out
    }
}

/// A directive's first value in a config text (last occurrence wins, as in Redis).
pub fn directive(config: &str, name: &str) -> Option<String> {
    config.lines().rev().find_map(|l| {
        let mut words = l.split_whitespace();
        let d = words.next()?;
        d.eq_ignore_ascii_case(name).then(|| {
            words
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string()
        })
    })
}

/// One node: its folder, files, process and how far its log has been read.
#[derive(Debug)]
pub struct Node {
    pub spec: NodeSpec,
    /// The port it really listens on.
    pub port: u16,
    /// Its folder, named after the tutorial port.
    pub dir: PathBuf,
    /// The config file as written (actual ports).
    pub config_text: String,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
    /// Stopped with SIGSTOP by a `pause` step (and not yet resumed).
    paused: bool,
    /// Where the log lines already matched by waits start (each line is evidence once).
    consumed: Vec<u64>,
}

impl Node {
    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The file its RDB snapshot is saved to.
    pub fn dump_path(&self) -> PathBuf {
        let name = directive(&self.config_text, "dbfilename").unwrap_or("dump.rdb".into());
        self.dir.join(name)
    }

    /// The password clients need, if any.
    pub fn password(&self) -> Option<String> {
        directive(&self.config_text, "requirepass").filter(|p| !p.is_empty())
    }

    /// Points the config file on disk (not the text the lab shows) at another master port:
    /// a relay's, for `--engine redis`.
    pub fn point_replicaof_at(&mut self, port: u16) -> Result<(), LabError> {
        let mut text = String::new();
        for line in self.config_text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let directive = words.first().map(|w| w.to_ascii_lowercase());
            match directive.as_deref() {
                Some("slaveof" | "replicaof") if words.len() == 3 => {
                    text.push_str(&format!("{} {} {port}\n", words[0], words[1]));
                }
                _ => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        std::fs::write(&self.config_path, text).map_err(|e| LabError::failed(e.to_string()))
    }

    /// Starts the process in its folder: `redislab server <conf> --daemonize no
    /// --lab-faults`, or with `--engine redis`, `redis-server <conf> --daemonize no`; a
    /// Sentinel as its `run_as` says (see [`super::Engine::start_command`]).
    pub fn spawn(&mut self, exe: &Path, engine: super::Engine) -> Result<(), LabError> {
        let (program, before, after) = engine.start_command(self.spec.run_as);
        let program = program.map_or(exe, Path::new);
        self.spawn_program(program, before, after)
    }

    /// `exe <before> <conf> --daemonize no <after>`, in the node's folder.
    fn spawn_program(
        &mut self,
        exe: &Path,
        before: &[&str],
        after: &[&str],
    ) -> Result<(), LabError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout.log"))
            .map_err(|e| LabError::failed(format!("cannot create {}: {e}", self.dir.display())))?;
        let err = out
            .try_clone()
            .map_err(|e| LabError::failed(e.to_string()))?;
        let child = Command::new(exe)
            .args(before)
            .arg(&self.config_path)
            .args(["--daemonize", "no"])
            .args(after)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| LabError::failed(format!("cannot start {}: {e}", exe.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// Whether the process has exited (and reaps it if so).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) | None => {
                self.child = None;
                true
            }
            _ => false,
        }
    }

    /// `kill -9` by PID, then reap. A paused node gets SIGCONT first, so that no stopped
    /// process is ever left behind.
    pub fn kill(&mut self) {
        self.resume();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -STOP`: the process stops running (no reply, no timer, no log line) until
    /// [`Node::resume`]. Returns whether it runs.
    pub fn pause(&mut self) -> bool {
        let Some(pid) = self.pid() else { return false };
        self.paused = signal(pid, libc::SIGSTOP);
        self.paused
    }

    /// `kill -CONT` after [`Node::pause`]; nothing if it is not paused.
    pub fn resume(&mut self) {
        if let (true, Some(pid)) = (self.paused, self.pid()) {
            signal(pid, libc::SIGCONT);
        }
        self.paused = false;
    }

    /// Its state letter in `/proc/PID/stat` (`T` stopped, `S` sleeping, `R` running).
    pub fn process_state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // `pid (comm) S ...`: the state follows the last `)`.
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }

    /// Waits (bounded) for the process to exit by itself.
    pub async fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.exited() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The earliest complete log line for which `matches` holds that no wait has matched yet,
    /// and where it starts in the log; it is marked as matched. Lines are matched individually
    /// rather than behind a cursor, so two events logged close together can be waited for in
    /// either order. Only lines starting at `from` or later count, and with `before`, only
    /// those starting before that offset.
    pub fn next_match(
        &mut self,
        matches: impl Fn(&str) -> bool,
        from: u64,
        before: Option<u64>,
    ) -> Option<(u64, String)> {
        let mut text = String::new();
        File::open(&self.log_path)
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        let mut at = 0u64;
        for line in text.split_inclusive('\n') {
            if !line.ends_with('\n') || before.is_some_and(|limit| at >= limit) {
                break;
            }
            let start = at;
            at += line.len() as u64;
            if start >= from && !self.consumed.contains(&start) && matches(line.trim_end()) {
                self.consumed.push(start);
                return Some((start, line.trim_end().to_string()));
            }
        }
        None
    }

    /// How long its log is now, in bytes.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }

    /// The complete lines of its log from byte `offset` on (read only: nothing is marked).
    pub fn log_lines_from(&self, offset: u64) -> Vec<String> {
        let text = std::fs::read(&self.log_path).unwrap_or_default();
        let start = (offset as usize).min(text.len());
        String::from_utf8_lossy(&text[start..])
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// The last `n` lines of its log (and of its stdout, where start-up errors go).
    pub fn log_tail(&self, n: usize) -> String {
        let mut tail = String::new();
        for path in [self.log_path.clone(), self.dir.join("stdout.log")] {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            tail.push_str(&format!(
                "  --- last lines of {} ---\n",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            for l in &lines[lines.len().saturating_sub(n)..] {
                tail.push_str(&format!("  {l}\n"));
            }
        }
        if tail.is_empty() {
            tail.push_str("  (its log is empty)\n");
        }
        tail
    }
}

/// Every node of a lab, and the temp dir they live in. Dropping it cleans up unless kept.
#[derive(Debug)]
pub struct Nodes {
    /// The lab's name, for the kept-lab record.
    lab: String,
    root: Option<tempfile::TempDir>,
    pub nodes: Vec<Node>,
    keep: bool,
    /// What the nodes run (set before the first start).
    pub engine: super::Engine,
}

impl Nodes {
    /// Creates the temp dir, one folder per node (named after its tutorial port) and its config
    /// file with actual ports.
    pub fn prepare(
        lab: &str,
        specs: &[NodeSpec],
        ports: &PortMap,
        keep: bool,
    ) -> Result<Nodes, LabError> {
        let root = tempfile::Builder::new()
            .prefix(super::kept::DIR_PREFIX)
            .tempdir()
            .map_err(|e| LabError::failed(format!("cannot create a temp dir: {e}")))?;
        let mut nodes = Vec::new();
        for spec in specs {
            let dir = root.path().join(spec.port.to_string());
            std::fs::create_dir_all(&dir).map_err(|e| LabError::failed(e.to_string()))?;
            let config_text = ports.rewrite_config(&spec.config);
            let config_path = dir.join(format!("{}.conf", spec.port));
            std::fs::write(&config_path, &config_text)
                .map_err(|e| LabError::failed(e.to_string()))?;
            let logfile = directive(&config_text, "logfile").unwrap_or_default();
            if logfile.is_empty() {
                return Err(LabError::failed(format!(
                    "node {:?} has no logfile: the runner needs one to see its events",
                    spec.name
                )));
            }
            nodes.push(Node {
                spec: spec.clone(),
                port: ports.actual(spec.port),
                log_path: dir.join(logfile),
                dir,
                config_text,
                config_path,
                child: None,
                paused: false,
                consumed: Vec::new(),
            });
        }
        Ok(Nodes {
            lab: lab.to_string(),
            root: Some(root),
            nodes,
            keep,
            engine: super::Engine::Redislab,
        })
    }

    /// The temp dir holding the node folders.
    pub fn root(&self) -> &Path {
        self.root.as_ref().map_or(Path::new(""), |r| r.path())
    }

    pub fn get(&mut self, name: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.spec.name == name)
            .expect("lab files are checked: every step names a node")
    }
}

impl Nodes {
    /// What `redislab stop` needs to find and stop these nodes later.
    pub fn kept_record(&mut self) -> super::kept::KeptLab {
        let root = self.root().to_path_buf();
        let nodes = self
            .nodes
            .iter_mut()
            .map(|n| super::kept::KeptNode {
                name: n.spec.name.clone(),
                dir: n.dir.clone(),
                port: n.port,
                pid: if n.exited() { None } else { n.pid() },
                password: n.password(),
            })
            .collect();
        super::kept::KeptLab {
            lab: self.lab.clone(),
            root,
            nodes,
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.resume();
        }
        if self.keep {
            let record = self.kept_record();
            if let Some(root) = self.root.take() {
                let root = root.keep();
                let _ = record.record(&root);
            }
            return;
        }
        for node in &mut self.nodes {
            node.kill();
        }
        // TempDir's own Drop removes the folder.
    }
}

/// Sends `sig` to a child of ours by PID; whether it was delivered.
fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with a PID of a child this process started and has not reaped.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Who listens on a TCP port, from `/proc/net/tcp{,6}` and `/proc/*/fd` (Linux only; `None`
/// where that cannot be seen, e.g. another user's process).
pub fn port_owner(port: u16) -> Option<(u32, String)> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| Path::new(i) == target) {
                    let name = std::fs::read_to_string(entry.path().join("comm"))
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    return Some((pid, name));
                }
            }
        }
    }
    None
}

/// Fails with a helpful message if a port the lab needs is taken.
/// `exe` is this binary, for the hint to stop a kept lab.
pub fn check_ports_free(ports: &PortMap, exe: &Path) -> Result<(), LabError> {
    for &(_, actual) in ports.pairs() {
        if !ports.holds(actual) && std::net::TcpListener::bind(("127.0.0.1", actual)).is_err() {
            let owner = port_owner(actual);
            if let Some((lab, node)) = owner.as_ref().and_then(|(pid, _)| kept::owner_of(*pid)) {
                return Err(LabError::failed(format!(
                    "port {actual} is held by the {} node of the {} lab you kept with --keep \
                     (pid {}, in {}); stop it with `{} stop`, or move this run with \
                     --port-offset N or --ports auto",
                    node.name,
                    lab.lab,
                    node.pid.unwrap_or_default(),
                    lab.root.display(),
                    kept::invocation(exe),
                )));
            }
            let by = match owner {
                Some((pid, name)) => format!(" by {name} (pid {pid})"),
                None => String::new(),
            };
            return Err(LabError::failed(format!(
                "port {actual} is already in use{by}; move the lab with --port-offset N \
                 (e.g. --port-offset 1000) or let it pick free ports with --ports auto"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ports_come_with_a_free_bus_port_held_too() {
        let map = PortMap::auto_with_bus(&[9001, 9002], true).unwrap();
        for &(_, actual) in map.pairs() {
            let bus = actual
                .checked_add(BUS_PORT_OFFSET)
                .expect("a valid bus port");
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", bus)).is_err(),
                "held"
            );
            map.release(actual);
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", bus)).is_ok(),
                "released"
            );
        }
    }

    #[test]
    fn configs_name_ports_in_sentinel_monitor_and_announce_lines_mapped() {
        let map = PortMap::offset(&[6379, 26379], 100).unwrap();
        let text =
            "port 26379\nsentinel monitor mymaster 127.0.0.1 6379 2\nreplica-announce-port 6379\n";
        assert_eq!(
            map.rewrite_config(text),
            "port 26479\nsentinel monitor mymaster 127.0.0.1 6479 2\nreplica-announce-port 6479\n"
        );
    }

    #[test]
    fn auto_ports_stay_reserved_until_released_for_their_node() {
        let map = PortMap::auto(&[6379, 6380]).unwrap();
        let (_, first) = map.pairs()[0];
        assert!(map.holds(first));
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", first)).is_err(),
            "nobody else can take it meanwhile"
        );
        assert!(
            check_ports_free(&map, Path::new("redislab")).is_ok(),
            "held by us: free"
        );
        map.release(first);
        assert!(!map.holds(first));
        assert!(map.holds(map.pairs()[1].1), "the other stays held");
        assert!(std::net::TcpListener::bind(("127.0.0.1", first)).is_ok());
    }

    #[test]
    fn configs_and_commands_follow_the_port_map() {
        let map = PortMap::offset(&[6379, 6380], 1000).unwrap();
        let conf = "port 6380\nslaveof 127.0.0.1 6379\npidfile redis_6380.pid\n";
        assert_eq!(
            map.rewrite_config(conf),
            "port 7380\nslaveof 127.0.0.1 7379\npidfile redis_6380.pid\n"
        );
        assert_eq!(
            map.fill("127.0.0.1:{6380} and {6379}"),
            "127.0.0.1:7380 and 7379"
        );
        assert!(PortMap::offset(&[6379], 60000).is_err());
        assert!(PortMap::offset(&[6379], 0).unwrap().is_identity());
    }

    #[test]
    fn directives_are_read_like_redis() {
        let conf = "requirepass redis\nlogfile \"6379.log\"\nlogfile 6379b.log\n";
        assert_eq!(directive(conf, "requirepass").as_deref(), Some("redis"));
        assert_eq!(directive(conf, "logfile").as_deref(), Some("6379b.log"));
        assert_eq!(directive(conf, "dir"), None);
    }

    #[test]
    fn the_owner_of_a_listening_port_is_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let check = PortMap::offset(&[port], 0).unwrap();
        let err = check_ports_free(&check, Path::new("redislab"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("port {port} is already in use")),
            "{err}"
        );
        if let Some((pid, _)) = port_owner(port) {
            assert_eq!(pid, std::process::id());
        }
    }
}
