//! The cluster steps' executors: `cluster` runs the cluster manager as the student types it
//! (`redislab cluster create ...`, or `redis-cli --cluster create ...` on `--engine redis`) and
//! answers its question; `run` with `cluster = true` follows `-MOVED`/`-ASK` as `redis-cli -c`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{split_command, Runner};
use crate::client::cli::parse_redirect;
use crate::lab::spec::Step;
use crate::lab::transcript::Line;
use crate::lab::{Engine, LabError};
use crate::resp::frame::Frame;

/// How long the cluster manager may run: `create` waits for the nodes to agree, which takes
/// a few seconds; a manager still running after this is killed and the lab fails.
const MANAGER_LIMIT: Duration = Duration::from_secs(60);

/// Most redirects followed for one command, as `redis-cli -c`.
const MAX_REDIRECTS: usize = 16;

/// The question `create`, `fix` and `reshard` ask.
const QUESTION_END: &str = "(type 'yes' to accept): ";

impl Runner<'_, '_> {
    /// `cluster`: the cluster manager as a child process, its question answered, its output
    /// shown (the answer where the student would have typed it) and checked.
    pub(super) async fn cluster_manager(&mut self, step: &Step) -> Result<(), LabError> {
        let Step::Cluster {
            args,
            expect,
            answer,
            say,
        } = step
        else {
            return Err(LabError::failed("not a cluster step"));
        };
        // Split first, then fill: a captured value stays one argument.
        let words: Vec<String> = split_command(args).iter().map(|w| self.fill(w)).collect();
        let (program, first, shown) = match self.opts.engine {
            Engine::Redislab => (
                self.opts.exe.clone(),
                "cluster",
                "redislab cluster".to_string(),
            ),
            Engine::Redis => (
                "redis-cli".into(),
                "--cluster",
                "redis-cli --cluster".into(),
            ),
        };
        let typed = format!("{shown} {}", self.fill(args));
        self.emit(Line::Shell(typed.clone()))?;
        let mut child = Command::new(&program)
            .arg(first)
            .args(&words)
            // Plain output: both managers colour their log lines on an xterm.
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| LabError::failed(format!("cannot run {}: {e}", program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // Read only if the manager asks; a manager that does not ask never reads it.
            let _ = stdin.write_all(format!("{answer}\n").as_bytes());
        }
        let pid = child.id();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output = match tokio::time::timeout(MANAGER_LIMIT, rx).await {
            Ok(Ok(Ok(output))) => output,
            Ok(Ok(Err(e))) => return Err(LabError::failed(format!("`{typed}`: {e}"))),
            Ok(Err(_)) => return Err(LabError::failed(format!("`{typed}`: lost its output"))),
            Err(_) => {
                // SAFETY: kill(2) on the PID of our own child, which has not been reaped
                // (the thread waiting on it is still waiting).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                return Err(LabError::failed(format!(
                    "`{typed}` was still running after {} s; stopped",
                    MANAGER_LIMIT.as_secs()
                )));
            }
        };
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let asked = text.contains(QUESTION_END);
        if asked {
            text = text.replace(QUESTION_END, &format!("{QUESTION_END}{answer}\n"));
        }
        self.emit(Line::Reply(text.trim_end().to_string()))?;
        if asked {
            self.emit(Line::Note(format!(
                "the lab answered `{answer}` to the question"
            )))?;
        }
        if !output.status.success() {
            return Err(LabError::failed(format!(
                "`{typed}` failed ({})",
                output.status
            )));
        }
        for wanted in expect {
            let wanted = self.fill(wanted);
            if !text.contains(&wanted) {
                return Err(LabError::failed(format!(
                    "`{typed}`: expected its output to contain {wanted:?}"
                )));
            }
        }
        self.say(say)
    }

    /// Sends `args` to `node` as `redis-cli -c` would: a `-MOVED`/`-ASK` reply sends it again
    /// to the node named (`ASKING` first for `-ASK`). Returns the final reply and the
    /// `-> Redirected to ...` lines redis-cli prints on the way.
    pub(super) async fn send_following(
        &mut self,
        node: &str,
        args: &[String],
        typed: &str,
    ) -> Result<(Frame, Vec<String>), LabError> {
        let mut target = node.to_string();
        let mut redirects = Vec::new();
        loop {
            let reply = self.send_reconnecting(&target, args, typed).await?;
            let Frame::Error(e) = &reply else {
                return Ok((reply, redirects));
            };
            let Some((ask, slot, host, port)) = parse_redirect(e, "127.0.0.1") else {
                return Ok((reply, redirects));
            };
            if redirects.len() == MAX_REDIRECTS {
                return Err(LabError::failed(format!(
                    "{node}: `{typed}`: more than {MAX_REDIRECTS} redirects"
                )));
            }
            redirects.push(format!(
                "-> Redirected to slot [{slot}] located at {host}:{port}"
            ));
            target = self
                .nodes
                .nodes
                .iter()
                .find(|n| n.port == port)
                .map(|n| n.spec.name.clone())
                .ok_or_else(|| {
                    LabError::failed(format!(
                        "{node}: `{typed}` was redirected to {host}:{port}, none of the lab's nodes"
                    ))
                })?;
            if ask {
                let asking = ["ASKING".to_string()];
                self.send_reconnecting(&target, &asking, "ASKING").await?;
            }
        }
    }
}
