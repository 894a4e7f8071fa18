//! Labs run with `--keep`: their nodes outlive the run, so they must be findable and stoppable.
//!
//! A kept lab's temp dir (`$TMPDIR/redislab-lab-XXXXXX`) gets a [`RECORD`] file naming the lab
//! and, per node, its name, folder, port, PID and password. `redislab labs --kept` lists them
//! ([`list`]); `redislab stop` stops their nodes and removes their folders ([`stop`]); a later
//! run whose port a kept node holds says so and how to stop it
//! ([`super::nodes::check_ports_free`]).
//!
//! A PID is trusted only while `/proc/PID/cwd` is still that node's folder, so a PID reused by
//! another process after the node died is never signalled.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The file in a kept lab's temp dir that records its nodes.
pub const RECORD: &str = "kept-lab.toml";

/// Kept labs' temp dirs start with this, under the system temp dir.
pub const DIR_PREFIX: &str = "redislab-lab-";

/// One kept lab, as recorded when its run ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeptLab {
    /// The lab's name (`replication`).
    pub lab: String,
    /// Its temp dir (filled in from where the record was found).
    #[serde(skip)]
    pub root: PathBuf,
    #[serde(rename = "node")]
    pub nodes: Vec<KeptNode>,
}

/// One node of a kept lab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeptNode {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    /// `None` when it was not running at the end of the run.
    pub pid: Option<u32>,
    pub password: Option<String>,
}

impl KeptNode {
    /// The PID, if that process is still this node (alive, not a zombie, working in its folder).
    pub fn running_pid(&self) -> Option<u32> {
        let pid = self.pid?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        let same_dir = std::fs::canonicalize(&self.dir).is_ok_and(|dir| dir == cwd);
        (!zombie && same_dir).then_some(pid)
    }
}

impl KeptLab {
    /// Writes the record into `root`.
    pub fn record(&self, root: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(root.join(RECORD), text)
    }

    /// Reads the record of the kept lab in `root`, if it is one.
    pub fn read(root: &Path) -> Option<KeptLab> {
        let text = std::fs::read_to_string(root.join(RECORD)).ok()?;
        let mut lab: KeptLab = toml::from_str(&text).ok()?;
        lab.root = root.to_path_buf();
        Some(lab)
    }

    /// One line per node: `master: pid 123, port 6379` or `replica: not running`.
    pub fn describe(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| match n.running_pid() {
                Some(pid) => format!("{}: pid {pid}, port {}", n.name, n.port),
                None => format!("{}: not running", n.name),
            })
            .collect()
    }
}

/// Every kept lab under the system temp dir, oldest folder name first.
pub fn list() -> Vec<KeptLab> {
    list_in(&std::env::temp_dir())
}

/// Every kept lab under `dir`.
pub fn list_in(dir: &Path) -> Vec<KeptLab> {
    let mut labs: Vec<KeptLab> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(DIR_PREFIX))
        .filter_map(|e| KeptLab::read(&e.path()))
        .collect();
    labs.sort_by(|a, b| a.root.cmp(&b.root));
    labs
}

/// The kept lab node that holds `pid`, if any: `(lab, node)`.
pub fn owner_of(pid: u32) -> Option<(KeptLab, KeptNode)> {
    list().into_iter().find_map(|lab| {
        let node = lab
            .nodes
            .iter()
            .find(|n| n.running_pid() == Some(pid))?
            .clone();
        Some((lab, node))
    })
}

/// Stops a kept lab: SIGTERM to each node still running (a clean shutdown, as Redis does on
/// SIGTERM), SIGKILL for one still there after `grace`, then removes its folder. Returns what
/// happened to each node, for the user.
pub fn stop(lab: &KeptLab, grace: Duration) -> std::io::Result<Vec<String>> {
    let mut told = Vec::new();
    let running: Vec<(&KeptNode, u32)> = lab
        .nodes
        .iter()
        .filter_map(|n| n.running_pid().map(|pid| (n, pid)))
        .collect();
    for (_, pid) in &running {
        // SAFETY: signalling a PID just checked to be this lab's node (cwd is its folder).
        unsafe { libc::kill(*pid as i32, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    for (node, pid) in &running {
        while node.running_pid().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if node.running_pid().is_some() {
            // SAFETY: as above; it ignored SIGTERM for the whole grace period.
            unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            told.push(format!("{} (pid {pid}) killed", node.name));
        } else {
            told.push(format!("{} (pid {pid}) stopped", node.name));
        }
    }
    for node in lab
        .nodes
        .iter()
        .filter(|n| !running.iter().any(|(r, _)| r == n))
    {
        told.push(format!("{} was not running", node.name));
    }
    std::fs::remove_dir_all(&lab.root)?;
    Ok(told)
}

/// How to run this program again from where the user is: `redislab` when that name on PATH is
/// this binary, otherwise its path (relative to the working directory when under it), so that
/// hints like `redislab cli -p 6379` work after `cargo run`.
pub fn invocation(exe: &Path) -> String {
    let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .any(|dir| std::fs::canonicalize(dir.join("redislab")).is_ok_and(|found| found == exe))
    });
    if on_path {
        return "redislab".to_string();
    }
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match relative {
        Some(rel) => format!("./{}", rel.display()),
        None => exe.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_is_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(format!("{DIR_PREFIX}abc"));
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(tmp.path().join("unrelated")).unwrap();
        let lab = KeptLab {
            lab: "replication".into(),
            root: root.clone(),
            nodes: vec![KeptNode {
                name: "master".into(),
                dir: root.join("6379"),
                port: 6379,
                pid: Some(std::process::id()),
                password: Some("redis".into()),
            }],
        };
        lab.record(&root).unwrap();
        assert_eq!(list_in(tmp.path()), vec![lab.clone()]);
        // This test's own PID does not work in that folder: it is not taken for the node.
        assert_eq!(lab.nodes[0].running_pid(), None);
        assert_eq!(lab.describe(), ["master: not running"]);
        let told = stop(&lab, Duration::from_millis(10)).unwrap();
        assert_eq!(told, ["master was not running"]);
        assert!(!root.exists());
    }

    #[test]
    fn the_invocation_is_a_path_unless_this_binary_is_on_path() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = tmp.path().join("redislab-elsewhere");
        std::fs::write(&exe, "").unwrap();
        let shown = invocation(&exe);
        assert!(shown.ends_with("redislab-elsewhere"), "{shown}");
        assert_ne!(shown, "redislab");
    }
}
