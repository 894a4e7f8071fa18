//! Fault steps: what a network or an operator does to nodes. Links are cut, healed and
//! delayed through each node's fault table (`REDISLAB FAULT`, [`crate::net`]; the lab starts
//! its nodes with `--lab-faults`), and each side's `lab-fault` log line is shown as evidence.
//! Pause and resume are SIGSTOP and SIGCONT by PID; the evidence is the process state the
//! kernel reports. A paused node is always resumed before it is killed or left running, so no
//! stopped process outlives the lab (see [`crate::lab::nodes::Node::kill`]).

use std::time::{Duration, Instant};

use super::steps::pid_shown;
use super::Runner;
use crate::client::connection::Client;
use crate::client::format::format_tty;
use crate::lab::spec::WaitCase;
use crate::lab::transcript::Line;
use crate::lab::LabError;

impl Runner<'_, '_> {
    /// Applies a fault rule on both ends of the link `from`-`to`: `on_from` (verb and what
    /// follows the peer's address) on `from` about `to`, then `on_to` on `to` about `from`
    /// (nothing when empty). Shows each command, its reply, and the node's log line.
    pub(super) async fn fault(
        &mut self,
        from: &str,
        to: &str,
        on_from: &[&str],
        on_to: &[&str],
    ) -> Result<(), LabError> {
        for (node, peer, rule) in [(from, to, on_from), (to, from, on_to)] {
            let Some((verb, rest)) = rule.split_first() else {
                continue;
            };
            let peer_addr = format!("127.0.0.1:{}", self.nodes.get(peer).port);
            let mut args = vec!["REDISLAB", "FAULT", verb, peer_addr.as_str()];
            args.extend_from_slice(rest);
            let n = self.nodes.get(node);
            let (port, password) = (n.port, n.password());
            let typed = args
                .join(" ")
                .to_ascii_lowercase()
                .replace(&peer_addr.to_ascii_lowercase(), &peer_addr);
            let mut client = Client::connect(&format!("127.0.0.1:{port}"))
                .await
                .map_err(|e| LabError::failed(format!("cannot connect to {node}: {e}")))?;
            if let Some(p) = password {
                let _ = client.auth(None, &p).await;
            }
            let reply = client
                .command(&args)
                .await
                .map_err(|e| LabError::failed(format!("{node}: `{typed}` failed: {e}")))?;
            let text = String::from_utf8_lossy(&format_tty(&reply)).into_owned();
            self.emit(Line::Prompt {
                addr: format!("127.0.0.1:{port}"),
                command: typed.clone(),
            })?;
            self.emit(Line::Reply(text.clone()))?;
            if text.trim_end() != "OK" {
                return Err(LabError::failed(format!(
                    "{node} refused `{typed}`: {}",
                    text.trim_end()
                )));
            }
            let evidence = WaitCase::event(node, "lab-fault");
            self.wait_any(std::slice::from_ref(&evidence)).await?;
        }
        Ok(())
    }

    /// `pause`: SIGSTOP; waits (bounded) until the kernel reports the process stopped.
    pub(super) async fn pause(&mut self, node: &str) -> Result<(), LabError> {
        // A session to a stopped node would wait for a reply that cannot come.
        self.sessions.retain(|(n, _)| n != node);
        let n = self.nodes.get(node);
        if n.exited() || !n.pause() {
            return Err(LabError::failed(format!(
                "cannot pause {node}: it is not running"
            )));
        }
        let shown = format!("kill -STOP {}", pid_shown(n));
        self.emit(Line::Shell(shown))?;
        self.show_state(node, true).await
    }

    /// `resume`: SIGCONT after `pause`.
    pub(super) async fn resume(&mut self, node: &str) -> Result<(), LabError> {
        let n = self.nodes.get(node);
        if n.exited() {
            return Err(LabError::failed(format!(
                "cannot resume {node}: it is not running"
            )));
        }
        n.resume();
        let shown = format!("kill -CONT {}", pid_shown(n));
        self.emit(Line::Shell(shown))?;
        self.show_state(node, false).await
    }

    /// The evidence of a pause or resume: the process state, once it is (or is no longer)
    /// `T`, printed as `ps -o stat` shows it.
    async fn show_state(&mut self, node: &str, stopped: bool) -> Result<(), LabError> {
        let deadline = Instant::now() + self.opts.deadline;
        loop {
            let state = self.nodes.get(node).process_state();
            if state.is_some_and(|s| (s == 'T') == stopped) {
                let said = if stopped { "stopped" } else { "running again" };
                return self.emit(Line::Note(format!(
                    "{node}: process state {} ({said})",
                    state.unwrap_or('?')
                )));
            }
            if Instant::now() >= deadline {
                return Err(LabError::failed(format!(
                    "{node}: process state is {state:?} {:.1} s after the signal",
                    self.opts.deadline.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
