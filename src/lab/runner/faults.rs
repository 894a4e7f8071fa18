//! Fault steps: what a network or an operator does to nodes. Links are cut, healed and
//! delayed through each node's fault table (`REDISLAB FAULT`, [`crate::net`]; the lab starts
//! its nodes with `--lab-faults`), and each side's `lab-fault` log line is shown as evidence.
//! Pause and resume are SIGSTOP and SIGCONT by PID; the evidence is the process state the
//! kernel reports. A paused node is always resumed before it is killed or left running, so no
//! stopped process outlives the lab (see [`crate::lab::nodes::Node::kill`]).
//!
//! With `--engine redis` there is no fault table: a link the lab cuts is a replica's link to
//! its master, which goes through a [`Relay`] the lab owns (see [`relays_for`]); cut, heal and
//! delay act on the relay and the transcript says so. A link with no relay is skipped, visibly.

use std::time::{Duration, Instant};

use super::steps::pid_shown;
use super::Runner;
use crate::client::connection::Client;
use crate::client::format::format_tty;
use crate::lab::nodes::Nodes;
use crate::lab::relay::Relay;
use crate::lab::spec::WaitCase;
use crate::lab::spec::{Lab, Step};
use crate::lab::transcript::Line;
use crate::lab::{Engine, LabError};

/// A relay on a replica's link to its master (`--engine redis`).
#[derive(Debug)]
pub struct LinkRelay {
    pub replica: String,
    pub master: String,
    pub relay: Relay,
}

/// For `--engine redis`: a relay on every link a fault step names where one node replicates
/// from the other (its `slaveof`/`replicaof` names the other's port); that node's config file
/// points at the relay instead.
pub async fn relays_for(lab: &Lab, nodes: &mut Nodes) -> Result<Vec<LinkRelay>, LabError> {
    let mut relays: Vec<LinkRelay> = Vec::new();
    for step in &lab.steps {
        let (Step::Cut { from, to, .. }
        | Step::Heal { from, to, .. }
        | Step::Delay { from, to, .. }) = step
        else {
            continue;
        };
        for (replica, master) in [(from, to), (to, from)] {
            let done = relays
                .iter()
                .any(|r| &r.replica == replica && &r.master == master);
            let (Some(r), Some(m)) = (lab.node(replica), lab.node(master)) else {
                continue;
            };
            if done || replicates_from(&r.config) != Some(m.port) {
                continue;
            }
            let target = format!("127.0.0.1:{}", nodes.get(master).port);
            let target = target
                .parse()
                .map_err(|e| LabError::failed(format!("{target}: {e}")))?;
            let relay = Relay::start(target)
                .await
                .map_err(|e| LabError::failed(format!("cannot start a relay: {e}")))?;
            nodes.get(replica).point_replicaof_at(relay.addr.port())?;
            relays.push(LinkRelay {
                replica: replica.clone(),
                master: master.clone(),
                relay,
            });
        }
    }
    Ok(relays)
}

/// The master port a config's `slaveof`/`replicaof` line names.
fn replicates_from(config: &str) -> Option<u16> {
    config.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [d, _, port]
                if d.eq_ignore_ascii_case("slaveof") || d.eq_ignore_ascii_case("replicaof") =>
            {
                port.parse().ok()
            }
            _ => None,
        }
    })
}

/// What a fault step asks of a link.
#[derive(Debug, Clone, Copy)]
pub(super) enum LinkFault {
    Cut { one_way: bool },
    Heal,
    Delay { ms: u64 },
}

impl Runner<'_, '_> {
    /// A fault step on the link `from`-`to`, through the engine's means.
    pub(super) async fn link_fault(
        &mut self,
        from: &str,
        to: &str,
        fault: LinkFault,
    ) -> Result<(), LabError> {
        if self.opts.engine == Engine::Redis {
            return self.relay_fault(from, to, fault);
        }
        let ms;
        let (on_from, on_to): (Vec<&str>, Vec<&str>) = match fault {
            LinkFault::Cut { one_way: false } => (vec!["CUT", "BOTH"], vec!["CUT", "BOTH"]),
            LinkFault::Cut { one_way: true } => (vec!["CUT", "OUT"], vec!["CUT", "IN"]),
            LinkFault::Heal => (vec!["HEAL"], vec!["HEAL"]),
            LinkFault::Delay { ms: d } => {
                ms = d.to_string();
                (vec!["DELAY", ms.as_str()], vec![])
            }
        };
        self.fault(from, to, &on_from, &on_to).await
    }

    /// `--engine redis`: the fault on the link's relay, said in the transcript (the nodes log
    /// nothing about it; what they do next is the evidence).
    fn relay_fault(&mut self, from: &str, to: &str, fault: LinkFault) -> Result<(), LabError> {
        let Some(link) = self.relays.iter().find(|l| {
            (l.replica == from && l.master == to) || (l.replica == to && l.master == from)
        }) else {
            return self.emit(Line::Note(format!(
                "--engine redis: redis-server has no fault table, and neither {from} nor {to} \
                 replicates from the other, so the lab has no relay on that link: step skipped"
            )));
        };
        let towards_master = link.replica == from;
        let what = match fault {
            LinkFault::Cut { one_way: false } => {
                link.relay.update(|f| {
                    f.to_target_cut = true;
                    f.from_target_cut = true;
                });
                "stops forwarding, both directions".to_string()
            }
            LinkFault::Cut { one_way: true } => {
                link.relay.update(|f| {
                    if towards_master {
                        f.to_target_cut = true
                    } else {
                        f.from_target_cut = true
                    }
                });
                format!("stops forwarding what {from} sends")
            }
            LinkFault::Heal => {
                link.relay.update(|f| *f = Default::default());
                "forwards everything again".to_string()
            }
            LinkFault::Delay { ms } => {
                link.relay.update(|f| {
                    let d = Duration::from_millis(ms);
                    if towards_master {
                        f.to_target_delay = d
                    } else {
                        f.from_target_delay = d
                    }
                });
                format!("holds what {from} sends for {ms} ms")
            }
        };
        let (replica, master, addr) = (link.replica.clone(), link.master.clone(), link.relay.addr);
        self.emit(Line::Note(format!(
            "--engine redis: redis-server has no fault table; the relay the lab put on \
             {replica}'s link to {master} ({addr}) {what}"
        )))
    }

    /// Applies a fault rule on both ends of the link `from`-`to`: `on_from` (verb and what
    /// follows the peer's address) on `from` about `to`, then `on_to` on `to` about `from`
    /// (nothing when empty). Shows each command, its reply, and the node's log line.
    async fn fault(
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

    /// `pause`: SIGSTOP to each node, back to back, as one `kill -STOP` with their PIDs; then
    /// waits (bounded) until the kernel reports each stopped.
    pub(super) async fn pause(&mut self, names: &[String]) -> Result<(), LabError> {
        let mut nodes = Vec::new();
        for name in names {
            let node = self.resolve_node(name)?;
            // A session to a stopped node would wait for a reply that cannot come.
            self.sessions.retain(|(n, _)| *n != node);
            if self.nodes.get(&node).exited() {
                return Err(LabError::failed(format!(
                    "cannot pause {node}: it is not running"
                )));
            }
            nodes.push(node);
        }
        let mut pids = Vec::new();
        for node in &nodes {
            let n = self.nodes.get(node);
            if !n.pause() {
                return Err(LabError::failed(format!(
                    "cannot pause {node}: it is not running"
                )));
            }
            pids.push(pid_shown(n));
        }
        self.emit(Line::Shell(format!("kill -STOP {}", pids.join(" "))))?;
        for node in &nodes {
            self.show_state(node, true).await?;
        }
        Ok(())
    }

    /// `resume`: SIGCONT after `pause`, to each node back to back.
    pub(super) async fn resume(&mut self, names: &[String]) -> Result<(), LabError> {
        let mut nodes = Vec::new();
        for name in names {
            let node = self.resolve_node(name)?;
            if self.nodes.get(&node).exited() {
                return Err(LabError::failed(format!(
                    "cannot resume {node}: it is not running"
                )));
            }
            nodes.push(node);
        }
        let mut pids = Vec::new();
        for node in &nodes {
            let n = self.nodes.get(node);
            n.resume();
            pids.push(pid_shown(n));
        }
        self.emit(Line::Shell(format!("kill -CONT {}", pids.join(" "))))?;
        for node in &nodes {
            self.show_state(node, false).await?;
        }
        Ok(())
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
