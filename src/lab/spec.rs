//! The lab file format (`labs/*.toml`), read with serde and checked before anything starts.
//!
//! A lab is data: the nodes it needs (name, tutorial port, config file text) and a flat list of
//! steps, each a table tagged by `do`. Ports in the file are always the tutorial's (6379, 6380);
//! the runner maps them at run time (`--port-offset`, `--ports auto`). A mistake — an unknown
//! step, a misspelt field, a step naming a node that does not exist, an unknown event kind — is
//! reported up front as `file:line: reason`, before any node starts.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::LabError;

/// A whole lab file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// The name used on the command line: `redislab run <name>`.
    pub name: String,
    /// One line for `redislab labs`.
    pub summary: String,
    /// The transcript's first heading.
    pub title: String,
    /// The nodes, in the order they are listed (and cleaned up); then those of each template.
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeSpec>,
    /// Node templates: one config and a list of ports gives a node per port.
    #[serde(rename = "template", default)]
    pub templates: Vec<TemplateSpec>,
    /// What happens, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One server process of the lab.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// How steps refer to it (`master`, `replica`).
    pub name: String,
    /// The tutorial's port; the folder and config file are named after it (`6379/6379.conf`).
    pub port: u16,
    /// The config file text, with tutorial ports; `port` and `slaveof`/`replicaof` lines are
    /// rewritten to the actual ports.
    pub config: String,
    /// How the process is started: a server (the default) or a Sentinel, in either of the
    /// two ways Redis starts one.
    #[serde(default)]
    pub run_as: RunAs,
}

/// How a node's process is started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum RunAs {
    /// `redislab server <conf>` (`redis-server <conf>`).
    #[default]
    #[serde(rename = "server")]
    Server,
    /// `redislab sentinel <conf>` (`redis-sentinel <conf>`).
    #[serde(rename = "sentinel")]
    Sentinel,
    /// `redislab server <conf> --sentinel` (`redis-server <conf> --sentinel`).
    #[serde(rename = "server --sentinel")]
    ServerSentinel,
}

impl RunAs {
    /// A Sentinel rather than a data node.
    pub fn is_sentinel(self) -> bool {
        self != RunAs::Server
    }
}

/// Several nodes that differ only by port, as the tutorial makes them with `:%s/9001/9002/g`:
/// the config is written for the first port, and each node's copy has every occurrence of
/// that port replaced by its own (`port`, `pidfile`, `logfile`, `nodes-9001.conf`, ...). The
/// nodes are called `name` + port (`node9001`) and come after the `[[node]]`s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    pub ports: Vec<u16>,
    pub config: String,
    #[serde(default)]
    pub run_as: RunAs,
}

impl TemplateSpec {
    /// One node per port.
    pub fn expand(&self) -> Vec<NodeSpec> {
        let first = self
            .ports
            .first()
            .map(|p| p.to_string())
            .unwrap_or_default();
        self.ports
            .iter()
            .map(|port| NodeSpec {
                name: format!("{}{port}", self.name),
                port: *port,
                config: self.config.replace(&first, &port.to_string()),
                run_as: self.run_as,
            })
            .collect()
    }
}

/// One step. `say` and `explain` texts may contain `{6379}`-style placeholders: a tutorial port
/// in braces, replaced by the actual port.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// A section heading.
    Heading { text: String },
    /// Narration.
    Say { text: String },
    /// Print a node's config file as `cat` would.
    ShowConfig { node: String },
    /// Start (or restart) a node and wait until it accepts connections.
    Start {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// `SHUTDOWN` sent as a client would; waits for the process to exit.
    Shutdown { node: String },
    /// `kill -9 <pid>`: no save, no goodbye.
    Kill { node: String },
    /// Type a command at the node's prompt and show the reply as redis-cli does.
    Run {
        node: String,
        command: String,
        /// The reply as printed must equal this (trailing newline ignored).
        #[serde(default)]
        expect: Option<String>,
        /// For INFO-style replies: `field:value` pairs that must hold.
        #[serde(default)]
        fields: BTreeMap<String, String>,
        /// `text = N`: the reply as printed must contain `text` at least N times (with
        /// `retry`, a way to wait for a reply that is not the same from run to run, such as
        /// `CLUSTER NODES` once the replicas are known: `{ " slave " = 3 }`).
        #[serde(default)]
        contains: BTreeMap<String, usize>,
        /// For INFO-style replies: print only these fields (and say so).
        #[serde(default)]
        show: Vec<String>,
        /// Retry silently (bounded) until `expect`/`fields` hold, then show the last reply.
        #[serde(default)]
        retry: bool,
        /// Follow `-MOVED`/`-ASK` redirects as `redis-cli -c` does, printing
        /// `-> Redirected to slot [N] located at host:port` (the redirect must name a node
        /// of the lab).
        #[serde(default)]
        cluster: bool,
        /// `variable = "field"`: keep an INFO field of the reply (or, with `"reply"`, the
        /// whole reply as printed, quotes removed) for later steps as `$variable`.
        #[serde(default)]
        capture: BTreeMap<String, String>,
        /// Narration printed after the reply.
        #[serde(default)]
        say: Option<String>,
    },
    /// Wait (bounded) for a node's log to show an event, print that log line, then narrate.
    /// On `node`, or on any of `nodes` (`at_least` N of them: a quorum). With `none_for_ms`
    /// it is a negative wait: nothing of that kind may show up for that long.
    Wait {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        nodes: Vec<String>,
        /// How many of `nodes` must log it (default 1: any of them).
        #[serde(default)]
        at_least: Option<usize>,
        /// An event kind (see [`crate::events::DEFINITIONS`]), or...
        #[serde(default)]
        event: Option<String>,
        /// ...a literal piece of a log line.
        #[serde(default)]
        pattern: Option<String>,
        /// Field predicates: the event's field must equal this text (`{6379}` and `$name`
        /// are filled first).
        #[serde(default, rename = "where")]
        predicates: BTreeMap<String, String>,
        /// `variable = "field"`: keep the event's field for later steps as `$variable`.
        #[serde(default)]
        capture: BTreeMap<String, String>,
        /// A negative wait: fail if the event shows up within this many milliseconds.
        #[serde(default)]
        none_for_ms: Option<u64>,
        /// This step's deadline (default: the lab's, see [`Lab::timeout_deadline`]).
        #[serde(default)]
        within_ms: Option<u64>,
        /// Only lines logged since the lab's last action on its nodes began (`start`,
        /// `shutdown`, `kill`, `pause`, `resume`, `cut`, `heal`, `delay`, `cluster`): an event
        /// the nodes already logged earlier in the lab (a `Cluster state changed: fail` of an
        /// earlier scene) is not evidence of this one.
        #[serde(default)]
        fresh: bool,
        /// Only on these engines (`redislab`, `redis`); elsewhere the transcript says the
        /// engine does not log it and the step is skipped. Empty: every engine.
        #[serde(default)]
        engines: Vec<String>,
        /// Printed only once the event was seen (or, for a negative wait, was not).
        #[serde(default)]
        say: Option<String>,
    },
    /// Wait (bounded) for whichever of several events happens first; narrate that one.
    WaitAny {
        #[serde(rename = "case")]
        cases: Vec<WaitCase>,
    },
    /// A predict-then-reveal checkpoint: a question and its choices, asked before the steps
    /// that show the answer. In `--step` mode the student answers (a letter) and is told
    /// whether that was right, and why; otherwise the question and the answer are printed.
    Predict {
        question: String,
        choices: Vec<String>,
        /// The right choice's letter (`a` is the first).
        answer: char,
        why: String,
    },
    /// Start a background writer on a node, running during the next steps until
    /// `stop-workload`: `kind = "list"` pushes unique values `w-1, w-2, ...` to `key`;
    /// `kind = "counter"` sets one key per write, `key:1, key:2, ...`.
    Workload {
        name: String,
        node: String,
        kind: WorkloadKind,
        key: String,
        #[serde(default = "default_every_ms")]
        every_ms: u64,
        #[serde(default)]
        say: Option<String>,
    },
    /// Stop a writer, then check on `check` (default: the node it wrote to) which of the
    /// acknowledged writes survived, naming each lost one. `expect_lost`: how many must be lost.
    StopWorkload {
        name: String,
        #[serde(default)]
        check: Option<String>,
        #[serde(default)]
        expect_lost: Option<usize>,
        #[serde(default)]
        say: Option<String>,
    },
    /// Partition the link between two nodes (`REDISLAB FAULT CUT` on each side): traffic
    /// stalls as through a dead network, so neither side sees the connection close. With
    /// `one_way`, only what `from` sends to `to` stalls.
    Cut {
        from: String,
        to: String,
        #[serde(default)]
        one_way: bool,
        #[serde(default)]
        say: Option<String>,
    },
    /// Undo every cut and delay between two nodes (`REDISLAB FAULT HEAL` on each side).
    Heal {
        from: String,
        to: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// Hold every write `from` sends to `to` for `ms` milliseconds.
    Delay {
        from: String,
        to: String,
        ms: u64,
        #[serde(default)]
        say: Option<String>,
    },
    /// `kill -STOP`: the node stops running until `resume` (or the end of the lab). With
    /// `nodes`, several nodes are stopped by one `kill` (the signals go out back to back, so
    /// that no node notices another's stop before its own).
    Pause {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        nodes: Vec<String>,
        #[serde(default)]
        say: Option<String>,
    },
    /// `kill -CONT` after `pause`; `nodes` as for `pause`.
    Resume {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        nodes: Vec<String>,
        #[serde(default)]
        say: Option<String>,
    },
    /// Run the cluster manager as the student types it: `redislab cluster <args>` (on
    /// `--engine redis`, `redis-cli --cluster <args>`), answering its question with `answer`;
    /// its output is shown, and must contain each of `expect`.
    Cluster {
        args: String,
        #[serde(default)]
        expect: Vec<String>,
        #[serde(default = "default_answer")]
        answer: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// Connect to a cluster node's bus port (port + 10000) as a node it does not know, send
    /// it a PING, and show the PONG it answers decoded: the header's fields and each gossip
    /// entry.
    BusPing {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// Describe the node's dump file (`redislab rdb <dir>/dump.rdb`).
    Rdb {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
}

/// What a background writer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// `RPUSH key w-N`: one list of unique values.
    List,
    /// `SET key:N N`: one key per write.
    Counter,
}

fn default_every_ms() -> u64 {
    20
}

fn default_answer() -> String {
    "yes".to_string()
}

/// One alternative of a [`Step::WaitAny`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitCase {
    pub node: String,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    /// Field predicates, as in [`Step::Wait`].
    #[serde(default, rename = "where")]
    pub predicates: BTreeMap<String, String>,
    #[serde(default)]
    pub say: Option<String>,
}

impl WaitCase {
    /// A wait for an event kind on one node, with no predicate and nothing to say.
    pub fn event(node: &str, kind: &str) -> WaitCase {
        WaitCase {
            node: node.to_string(),
            event: Some(kind.to_string()),
            pattern: None,
            predicates: BTreeMap::new(),
            say: None,
        }
    }
}

impl Step {
    /// Whether the step acts on the nodes (starts, stops, signals them, changes their links
    /// or runs the cluster manager on them): a `fresh` wait looks at what they logged since.
    pub fn acts_on_nodes(&self) -> bool {
        matches!(
            self,
            Step::Start { .. }
                | Step::Shutdown { .. }
                | Step::Kill { .. }
                | Step::Pause { .. }
                | Step::Resume { .. }
                | Step::Cut { .. }
                | Step::Heal { .. }
                | Step::Delay { .. }
                | Step::Cluster { .. }
        )
    }
}

impl Lab {
    /// Parses and checks a lab file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Lab, LabError> {
        let mut lab: Lab = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or_default();
            LabError::new(file, line, e.message().trim().to_string())
        })?;
        let template_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[template]]")
            .map(|(i, _)| i + 1)
            .collect();
        for (i, template) in lab.templates.iter().enumerate() {
            let line = template_lines.get(i).copied().unwrap_or_default();
            if template.ports.is_empty() {
                return Err(LabError::new(
                    file,
                    line,
                    "a template needs at least one port",
                ));
            }
            if !template.config.contains(&template.ports[0].to_string()) {
                return Err(LabError::new(
                    file,
                    line,
                    format!(
                        "a template's config is written for its first port, {}, which it does not name",
                        template.ports[0]
                    ),
                ));
            }
        }
        let expanded: Vec<NodeSpec> = lab.templates.iter().flat_map(|t| t.expand()).collect();
        lab.nodes.extend(expanded);
        lab.check(file, text)?;
        Ok(lab)
    }

    /// How long a step may wait by default, derived from the lab's own timeouts: three times
    /// the longest of `repl-timeout`, `cluster-node-timeout` and Sentinel's
    /// `down-after-milliseconds` / `failover-timeout` in the node configs (zero if none), so
    /// that a lab with a 15 s `cluster-node-timeout` is not failed by a 10 s constant. The
    /// runner uses the larger of this and its own start-up deadline.
    pub fn timeout_deadline(&self) -> std::time::Duration {
        let mut longest_ms = 0u64;
        for node in &self.nodes {
            for line in node.config.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let ms = match words.as_slice() {
                    ["repl-timeout", s] => s.parse::<u64>().ok().map(|s| s * 1000),
                    ["cluster-node-timeout", ms] => ms.parse().ok(),
                    ["sentinel", "down-after-milliseconds" | "failover-timeout", _, ms] => {
                        ms.parse().ok()
                    }
                    _ => None,
                };
                longest_ms = longest_ms.max(ms.unwrap_or(0));
            }
        }
        std::time::Duration::from_millis(longest_ms.saturating_mul(3))
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn check(&self, file: &str, text: &str) -> Result<(), LabError> {
        // Steps have no spans after deserialising; find the n-th `[[step]]` header instead.
        let step_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[step]]")
            .map(|(i, _)| i + 1)
            .collect();
        let at = |i: usize| step_lines.get(i).copied().unwrap_or_default();
        if self.nodes.is_empty() {
            return Err(LabError::new(file, 0, "a lab needs at least one [[node]]"));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if self.nodes[..i].iter().any(|n| n.name == node.name) {
                return Err(LabError::new(
                    file,
                    0,
                    format!("two nodes are called {:?}", node.name),
                ));
            }
            if self.nodes[..i].iter().any(|n| n.port == node.port) {
                return Err(LabError::new(
                    file,
                    0,
                    format!(
                        "two nodes use port {} ({:?} is the second)",
                        node.port, node.name
                    ),
                ));
            }
        }
        // Ports: every port the lab names must be in the port map (a node's tutorial port),
        // or the runner could not move it with --ports auto / --port-offset.
        let node_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[node]]")
            .map(|(i, _)| i + 1)
            .collect();
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        let outside = |port: u16| {
            format!(
                "port {port} is outside the lab's port map (its nodes' ports: {})",
                ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        for (n, node) in self.nodes.iter().enumerate() {
            // Nodes from a template come after the `[[node]]`s: name the first template.
            let line = node_lines.get(n).copied().unwrap_or_else(|| {
                text.lines()
                    .position(|l| l.trim() == "[[template]]")
                    .map_or(0, |i| i + 1)
            });
            for config_line in node.config.lines() {
                let words: Vec<&str> = config_line.split_whitespace().collect();
                let named = match words.as_slice() {
                    [d, p] if d.eq_ignore_ascii_case("port") => p.parse::<u16>().ok(),
                    [d, _, p]
                        if d.eq_ignore_ascii_case("slaveof")
                            || d.eq_ignore_ascii_case("replicaof") =>
                    {
                        p.parse::<u16>().ok()
                    }
                    [s, m, _, _, p, _]
                        if s.eq_ignore_ascii_case("sentinel")
                            && m.eq_ignore_ascii_case("monitor") =>
                    {
                        p.parse::<u16>().ok()
                    }
                    _ => None,
                };
                if let Some(port) = named.filter(|p| !ports.contains(p)) {
                    return Err(LabError::new(file, line, outside(port)));
                }
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            let texts: Vec<&String> = match step {
                Step::Heading { text } | Step::Say { text } => vec![text],
                Step::Run {
                    command,
                    expect,
                    contains,
                    say,
                    ..
                } => [Some(command), expect.as_ref(), say.as_ref()]
                    .into_iter()
                    .flatten()
                    .chain(contains.keys())
                    .collect(),
                Step::Wait {
                    pattern,
                    predicates,
                    say,
                    ..
                } => pattern
                    .iter()
                    .chain(say)
                    .chain(predicates.values())
                    .collect(),
                Step::Predict {
                    question,
                    choices,
                    why,
                    ..
                } => [question, why].into_iter().chain(choices).collect(),
                Step::Cluster {
                    args, expect, say, ..
                } => [args].into_iter().chain(expect).chain(say).collect(),
                _ => Vec::new(),
            };
            for text in texts {
                if let Some(port) = placeholders(text).find(|p| !ports.contains(p)) {
                    return Err(LabError::new(file, at(i), outside(port)));
                }
            }
        }
        // Captures made so far: a `$name` may only name one made by an earlier step.
        let mut captured: Vec<String> = Vec::new();
        // Workloads started and not yet stopped.
        let mut workloads: Vec<String> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let uses = |text: &str| -> Result<(), LabError> {
                match variables(text).find(|v| !captured.iter().any(|c| c == v)) {
                    None => Ok(()),
                    Some(v) => Err(LabError::new(
                        file,
                        at(i),
                        format!("unknown capture ${v}: no earlier step captures it"),
                    )),
                }
            };
            let has_fields = |event: &Option<String>, names: Vec<&String>| {
                if names.is_empty() {
                    return Ok(());
                }
                let Some(def) = event.as_deref().and_then(crate::events::definition) else {
                    return Err(LabError::new(
                        file,
                        at(i),
                        "field predicates (where) and captures need an event kind, not a pattern",
                    ));
                };
                let fields = def.fields();
                match names.iter().find(|n| !fields.contains(&n.as_str())) {
                    None => Ok(()),
                    Some(name) => Err(LabError::new(
                        file,
                        at(i),
                        format!(
                            "event {} has no field {name:?}; its fields: {}",
                            def.kind,
                            if fields.is_empty() {
                                "none".to_string()
                            } else {
                                fields.join(", ")
                            }
                        ),
                    )),
                }
            };
            let known = |name: &str| -> Result<(), LabError> {
                if name.starts_with('$') {
                    return uses(name);
                }
                if self.node(name).is_some() {
                    Ok(())
                } else {
                    Err(LabError::new(
                        file,
                        at(i),
                        format!(
                            "step {} names node {name:?}, which is not a [[node]]",
                            i + 1
                        ),
                    ))
                }
            };
            let pattern = |event: &Option<String>, pattern: &Option<String>| match (event, pattern)
            {
                (Some(kind), None) => {
                    if crate::events::definition(kind).is_some() {
                        Ok(())
                    } else {
                        Err(LabError::new(
                            file,
                            at(i),
                            format!(
                                "unknown event {kind:?}; known events: {}",
                                crate::events::DEFINITIONS
                                    .iter()
                                    .map(|d| d.kind)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ))
                    }
                }
                (None, Some(_)) => Ok(()),
                _ => Err(LabError::new(
                    file,
                    at(i),
                    "a wait needs exactly one of `event` or `pattern`",
                )),
            };
            match step {
                Step::Heading { .. } | Step::Say { .. } => {}
                Step::Workload {
                    name,
                    node,
                    every_ms,
                    ..
                } => {
                    known(node)?;
                    if workloads.contains(name) {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("workload {name:?} is already running"),
                        ));
                    }
                    if *every_ms == 0 {
                        return Err(LabError::new(file, at(i), "every_ms must be at least 1"));
                    }
                    workloads.push(name.clone());
                }
                Step::StopWorkload { name, check, .. } => {
                    if let Some(check) = check {
                        known(check)?;
                    }
                    let Some(w) = workloads.iter().position(|w| w == name) else {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("no running workload is called {name:?}"),
                        ));
                    };
                    workloads.remove(w);
                }
                Step::Predict {
                    choices, answer, ..
                } => {
                    if !(2..=26).contains(&choices.len()) {
                        return Err(LabError::new(
                            file,
                            at(i),
                            "a prediction needs 2 to 26 choices",
                        ));
                    }
                    if choice_index(*answer).is_none_or(|a| a >= choices.len()) {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!(
                                "answer {answer:?} is not one of the choices (a to {})",
                                choice_letter(choices.len() - 1)
                            ),
                        ));
                    }
                }
                Step::ShowConfig { node }
                | Step::Start { node, .. }
                | Step::Shutdown { node }
                | Step::Kill { node }
                | Step::Rdb { node, .. }
                | Step::BusPing { node, .. } => known(node)?,
                Step::Pause { node, nodes, .. } | Step::Resume { node, nodes, .. } => {
                    if node.is_some() != nodes.is_empty() {
                        return Err(LabError::new(
                            file,
                            at(i),
                            "pause and resume need exactly one of `node` or `nodes`",
                        ));
                    }
                    for n in node.iter().chain(nodes) {
                        known(n)?;
                    }
                }
                Step::Cut { from, to, .. }
                | Step::Heal { from, to, .. }
                | Step::Delay { from, to, .. } => {
                    known(from)?;
                    known(to)?;
                    if from == to {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("a link joins two nodes; `from` and `to` are both {from:?}"),
                        ));
                    }
                    if let Step::Delay { ms, .. } = step {
                        if *ms > 60_000 {
                            return Err(LabError::new(file, at(i), "a delay is 0 to 60000 ms"));
                        }
                    }
                }
                Step::Cluster {
                    args, expect, say, ..
                } => {
                    if super::runner::split_command(args).is_empty() {
                        return Err(LabError::new(
                            file,
                            at(i),
                            "a cluster step needs args (`create 127.0.0.1:{9001} ...`)",
                        ));
                    }
                    for text in [args].into_iter().chain(expect).chain(say) {
                        uses(text)?;
                    }
                }
                Step::Run {
                    node,
                    command,
                    expect,
                    fields,
                    contains,
                    capture,
                    say,
                    ..
                } => {
                    known(node)?;
                    if super::runner::split_command(command).is_empty() {
                        return Err(LabError::new(file, at(i), "a run step needs a command"));
                    }
                    let texts = [Some(command), expect.as_ref(), say.as_ref()];
                    let texts = texts.into_iter().flatten().chain(contains.keys());
                    for text in texts.chain(fields.values()) {
                        uses(text)?;
                    }
                    captured.extend(capture.keys().cloned());
                }
                Step::Wait {
                    node,
                    nodes,
                    at_least,
                    event,
                    pattern: p,
                    predicates,
                    capture,
                    none_for_ms,
                    engines,
                    say,
                    ..
                } => {
                    if let Some(e) = engines
                        .iter()
                        .find(|e| !["redislab", "redis"].contains(&e.as_str()))
                    {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("unknown engine {e:?}; engines: redislab, redis"),
                        ));
                    }
                    let waited: Vec<&String> = node.iter().chain(nodes).collect();
                    if node.is_some() != nodes.is_empty() {
                        return Err(LabError::new(
                            file,
                            at(i),
                            "a wait needs exactly one of `node` or `nodes`",
                        ));
                    }
                    for n in &waited {
                        known(n)?;
                    }
                    if at_least.is_some_and(|n| n == 0 || n > waited.len()) {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("at_least must be 1 to {} (the nodes listed)", waited.len()),
                        ));
                    }
                    if none_for_ms.is_some() && (at_least.is_some() || !capture.is_empty()) {
                        return Err(LabError::new(
                            file,
                            at(i),
                            "a negative wait (none_for_ms) takes neither at_least nor capture",
                        ));
                    }
                    pattern(event, p)?;
                    has_fields(event, predicates.keys().chain(capture.values()).collect())?;
                    for text in say.iter().chain(predicates.values()) {
                        uses(text)?;
                    }
                    captured.extend(capture.keys().cloned());
                }
                Step::WaitAny { cases } => {
                    if cases.is_empty() {
                        return Err(LabError::new(file, at(i), "wait-any needs a [[step.case]]"));
                    }
                    for case in cases {
                        known(&case.node)?;
                        pattern(&case.event, &case.pattern)?;
                        has_fields(&case.event, case.predicates.keys().collect())?;
                        for text in case.say.iter().chain(case.predicates.values()) {
                            uses(text)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `{6379}`-style port placeholders in `text`.
pub fn placeholders(text: &str) -> impl Iterator<Item = u16> + '_ {
    text.split('{').skip(1).filter_map(|rest| {
        let (inside, _) = rest.split_once('}')?;
        (!inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()))
            .then(|| inside.parse().ok())
            .flatten()
    })
}

/// A choice's letter: 0 is `a`.
pub fn choice_letter(index: usize) -> char {
    (b'a' + index.min(25) as u8) as char
}

/// The index of a choice's letter (`a` or `A` is 0).
pub fn choice_index(letter: char) -> Option<usize> {
    let l = letter.to_ascii_lowercase();
    l.is_ascii_lowercase().then(|| (l as u8 - b'a') as usize)
}

/// The index of the `[[step]]` with `do = "heading"` whose text is `section` (case-insensitive),
/// or whose number is `section` (1 is the first heading).
pub fn section_start(lab: &Lab, section: &str) -> Option<usize> {
    let headings = lab.steps.iter().enumerate().filter_map(|(i, s)| match s {
        Step::Heading { text } => Some((i, text)),
        _ => None,
    });
    let wanted = section.trim();
    let mut by_number = None;
    for (n, (i, text)) in headings.enumerate() {
        if text.eq_ignore_ascii_case(wanted) {
            return Some(i);
        }
        if wanted.parse::<usize>() == Ok(n + 1) {
            by_number = Some(i);
        }
    }
    by_number
}

/// The `$name` variables `text` uses (a `$` then a letter or `_`, then letters, digits, `_`).
pub fn variables(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('$').filter_map(move |(at, _)| {
        let rest = &text[at + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            .then_some(name)
    })
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "name = \"t\"\nsummary = \"s\"\ntitle = \"T\"\n[[node]]\nname = \"a\"\nport = 6379\nconfig = \"port 6379\"\n";

    #[test]
    fn a_good_lab_parses() {
        let text = format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"a\"\n");
        let lab = Lab::parse("t.toml", &text).unwrap();
        assert_eq!(lab.steps.len(), 1);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let cases = [
            (
                format!("{NODE}[[step]]\ndo = \"strat\"\nnode = \"a\"\n"),
                "t.toml:9:",
                "unknown variant `strat`",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"b\"\n"),
                "t.toml:8:",
                "not a [[node]]",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"a\"\nevent = \"nope\"\n"),
                "t.toml:8:",
                "unknown event \"nope\"",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"a\"\ncolour = 1\n"),
                "t.toml:8:",
                "unknown field `colour`",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"cut\"\nfrom = \"a\"\nto = \"a\"\n"),
                "t.toml:8:",
                "a link joins two nodes",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"heal\"\nfrom = \"a\"\nto = \"b\"\n"),
                "t.toml:8:",
                "names node \"b\", which is not a [[node]]",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"say\"\ntext = \"x\"\n[[step]]\ndo = \"delay\"\nfrom = \"a\"\nto = \"a\"\nms = 70000\n"),
                "t.toml:11:",
                "a link joins two nodes",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"run\"\nnode = \"a\"\ncommand = \"get $key\"\n"),
                "t.toml:8:",
                "unknown capture $key: no earlier step captures it",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"$leader\"\nevent = \"ready\"\n"),
                "t.toml:8:",
                "unknown capture $leader",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"a\"\nevent = \"replica-synced\"\nwhere = {{ port = \"1\" }}\n"),
                "t.toml:8:",
                "event replica-synced has no field \"port\"; its fields: addr",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"a\"\nevent = \"ready\"\ncapture = {{ x = \"addr\" }}\n"),
                "t.toml:8:",
                "event ready has no field \"addr\"",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnodes = [\"a\"]\nat_least = 2\nevent = \"ready\"\n"),
                "t.toml:8:",
                "at_least must be 1 to 1",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"predict\"\nquestion = \"q\"\nchoices = [\"x\", \"y\"]\nanswer = \"c\"\nwhy = \"w\"\n"),
                "t.toml:8:",
                "answer 'c' is not one of the choices (a to b)",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"a\"\nevent = \"ready\"\nengines = [\"valkey\"]\n"),
                "t.toml:8:",
                "unknown engine \"valkey\"; engines: redislab, redis",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"say\"\ntext = \"see {{7000}}\"\n"),
                "t.toml:8:",
                "port 7000 is outside the lab's port map (its nodes' ports: 6379)",
            ),
            (
                format!(
                    "{}[[step]]\ndo = \"start\"\nnode = \"a\"\n",
                    NODE.replace("port 6379\"", "port 6379\\nslaveof 127.0.0.1 7001\"")
                ),
                "t.toml:4:",
                "port 7001 is outside the lab's port map",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"stop-workload\"\nname = \"w\"\n"),
                "t.toml:8:",
                "no running workload is called \"w\"",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"fly\"\n"),
                "t.toml:9:",
                "unknown variant `fly`",
            ),
            (
                "name = \"t\"\nsummary = 3\n".to_string(),
                "t.toml:2:",
                "invalid type",
            ),
        ];
        for (text, at, reason) in cases {
            let err = Lab::parse("t.toml", &text).unwrap_err().to_string();
            assert!(err.starts_with(at), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn a_cluster_step_answers_yes_by_default_and_its_ports_are_checked() {
        let text = format!(
            "{NODE}[[step]]\ndo = \"cluster\"\nargs = \"create 127.0.0.1:{{6379}}\"\nexpect = [\"[OK]\"]\n"
        );
        let lab = Lab::parse("t.toml", &text).unwrap();
        let Step::Cluster { answer, expect, .. } = &lab.steps[0] else {
            panic!("{:?}", lab.steps[0]);
        };
        assert_eq!(answer, "yes");
        assert_eq!(expect, &["[OK]"]);
        let cases = [
            (text.replace("{6379}", "{7000}"), "port 7000 is outside the lab's port map"),
            (
                format!("{NODE}[[step]]\ndo = \"cluster\"\nargs = \" \"\n"),
                "a cluster step needs args",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"cluster\"\nargs = \"check $x\"\n"),
                "unknown capture $x",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"run\"\nnode = \"a\"\ncommand = \"cluster nodes\"\ncontains = {{ \"$x\" = 1 }}\n"),
                "unknown capture $x",
            ),
        ];
        for (text, reason) in cases {
            let err = Lab::parse("t.toml", &text).unwrap_err().to_string();
            assert!(err.starts_with("t.toml:8:"), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn pause_and_resume_take_one_node_or_several() {
        let ok = format!(
            "{NODE}[[step]]\ndo = \"pause\"\nnodes = [\"a\"]\n[[step]]\ndo = \"resume\"\nnode = \"a\"\n"
        );
        let lab = Lab::parse("t.toml", &ok).unwrap();
        assert!(matches!(&lab.steps[0], Step::Pause { node: None, nodes, .. } if nodes == &["a"]));
        assert!(lab.steps.iter().all(Step::acts_on_nodes));
        for (steps, reason) in [
            (
                "do = \"pause\"\nnode = \"a\"\nnodes = [\"a\"]\n",
                "exactly one of `node` or `nodes`",
            ),
            ("do = \"resume\"\n", "exactly one of `node` or `nodes`"),
            (
                "do = \"pause\"\nnodes = [\"a\", \"b\"]\n",
                "names node \"b\", which is not a [[node]]",
            ),
        ] {
            let err = Lab::parse("t.toml", &format!("{NODE}[[step]]\n{steps}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("t.toml:8:"), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn the_default_deadline_follows_the_labs_timeouts() {
        let text = NODE.replace(
            "port 6379",
            "port 6379\\nrepl-timeout 5\\ncluster-node-timeout 15000",
        );
        let lab = Lab::parse(
            "t.toml",
            &format!("{text}[[step]]\ndo = \"start\"\nnode = \"a\"\n"),
        )
        .unwrap();
        assert_eq!(lab.timeout_deadline(), std::time::Duration::from_secs(45));
        let plain = Lab::parse(
            "t.toml",
            &format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"a\"\n"),
        )
        .unwrap();
        assert_eq!(plain.timeout_deadline(), std::time::Duration::ZERO);
    }

    #[test]
    fn variables_are_dollar_names() {
        let found: Vec<&str> = variables("get $key then $(cat x) and $leader_id, $1").collect();
        assert_eq!(found, ["key", "leader_id"]);
    }

    #[test]
    fn a_template_gives_one_node_per_port_as_a_search_and_replace_would() {
        let text = "name = \"t\"\nsummary = \"s\"\ntitle = \"T\"\n[[template]]\nname = \"node\"\nports = [9001, 9002, 9003]\nconfig = \"port 9001\\ncluster-config-file nodes-9001.conf\\nlogfile 9001.log\\n\"\n[[step]]\ndo = \"start\"\nnode = \"node9003\"\n";
        let lab = Lab::parse("t.toml", text).unwrap();
        let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node9001", "node9002", "node9003"]);
        assert_eq!(
            lab.nodes[2].config,
            "port 9003\ncluster-config-file nodes-9003.conf\nlogfile 9003.log\n"
        );
        let bad = text
            .replace("port 9001", "port 7000")
            .replace("9001.", "7000.");
        let err = Lab::parse("t.toml", &bad).unwrap_err().to_string();
        assert!(
            err.starts_with("t.toml:4: a template's config is written for its first port, 9001"),
            "{err}"
        );
    }

    #[test]
    fn line_of_counts_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
