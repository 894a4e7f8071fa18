//! Runs a lab's steps against its nodes and narrates, through the [`Transcript`].

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::nodes::Nodes;
use super::spec::{Lab, Step, WaitCase};
use super::transcript::{Line, Transcript};
use super::{LabError, RunOptions};

mod cluster;
mod faults;
pub use faults::{relays_for, LinkRelay};
mod steps;
mod waits;
mod workload;
use crate::client::connection::{info_field, Client};
use crate::events::{definition, message, recognise};
use crate::resp::frame::Frame;

/// Splits a command line as redis-cli does for simple input: words, `"quoted words"`.
pub fn split_command(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// The state of one run.
pub struct Runner<'a, 'w> {
    lab: &'a Lab,
    opts: &'a RunOptions,
    pub nodes: Nodes,
    out: Transcript<'w>,
    /// One redis-cli session per node, as a student keeps a terminal open on each.
    sessions: Vec<(String, Client)>,
    input: Option<mpsc::UnboundedReceiver<String>>,
    said_daemonize: bool,
    held: bool,
    /// Values captured by earlier steps, used as `$name`.
    pub(super) vars: std::collections::BTreeMap<String, String>,
    /// Step mode pauses before every step, not only before sections (`s` at a pause).
    each_step: bool,
    /// `--engine redis`: the relays on the links fault steps act on.
    relays: Vec<LinkRelay>,
    /// Background writers started by `workload` and not yet stopped.
    workloads: Vec<workload::Workload>,
    /// Each node's log length when the lab's last action on its nodes began: where a
    /// `fresh` wait starts looking.
    action_marks: std::collections::BTreeMap<String, u64>,
}

impl<'a, 'w> Runner<'a, 'w> {
    pub fn new(
        lab: &'a Lab,
        opts: &'a RunOptions,
        nodes: Nodes,
        out: Transcript<'w>,
        input: Option<mpsc::UnboundedReceiver<String>>,
    ) -> Self {
        Runner {
            lab,
            opts,
            nodes,
            out,
            sessions: Vec::new(),
            input,
            said_daemonize: false,
            held: false,
            vars: Default::default(),
            each_step: false,
            relays: Vec::new(),
            workloads: Vec::new(),
            action_marks: Default::default(),
        }
    }

    /// The relays `--engine redis` acts on instead of the nodes' fault tables.
    pub fn with_relays(mut self, relays: Vec<LinkRelay>) -> Self {
        self.relays = relays;
        self
    }

    /// `--keep`: how to reach the nodes left running, and how to stop them. `invocation` is how
    /// to run this program from where the user is (`redislab`, or its path after `cargo run`).
    pub fn finish_kept(&mut self, invocation: &str) -> Result<(), LabError> {
        self.emit(Line::Heading("The nodes are left running (--keep)".into()))?;
        let record = self.nodes.kept_record();
        let root = self.nodes.root().display().to_string();
        self.emit(Line::Say(format!("Their folders are in {root}.")))?;
        for node in &record.nodes {
            let auth = node
                .password
                .as_ref()
                .map(|p| format!(" -a {p}"))
                .unwrap_or_default();
            let text = match node.pid {
                Some(pid) => format!(
                    "{} (pid {pid}): connect with `{invocation} cli -p {}{auth}`",
                    node.name, node.port
                ),
                None => format!("{}: not running", node.name),
            };
            self.emit(Line::Say(text))?;
        }
        self.emit(Line::Say(format!(
            "`{invocation} labs --kept` lists kept labs; `{invocation} stop` stops their nodes \
             and removes their folders."
        )))
    }

    /// A side remark in the transcript.
    pub fn note(&mut self, text: &str) -> Result<(), LabError> {
        self.emit(Line::Note(text.to_string()))
    }

    fn emit(&mut self, line: Line) -> Result<(), LabError> {
        self.out
            .emit(line)
            .map_err(|e| LabError::failed(format!("cannot write the transcript: {e}")))
    }

    fn say(&mut self, text: &Option<String>) -> Result<(), LabError> {
        if let Some(text) = text {
            let filled = self.fill(text);
            self.emit(Line::Say(filled))?;
        }
        Ok(())
    }

    /// Runs every step. `Ok(false)` when the student quit in step mode.
    pub async fn run(&mut self) -> Result<bool, LabError> {
        self.emit(Line::Title(self.lab.title.clone()))?;
        if !self.opts.ports.is_identity() {
            let map: Vec<String> = self
                .opts
                .ports
                .pairs()
                .iter()
                .map(|(t, a)| format!("{t} -> 127.0.0.1:{a}"))
                .collect();
            self.emit(Line::Note(format!(
                "tutorial ports moved: {}",
                map.join(", ")
            )))?;
        }
        let lab = self.lab;
        let steps = &lab.steps;
        // `--from SECTION`: the steps before it run (the nodes need their state) without
        // pauses, neither for Enter nor after narration.
        let from = match &self.opts.from {
            Some(section) => super::spec::section_start(lab, section).unwrap_or(0),
            None => 0,
        };
        if from > 0 {
            self.out.set_pause(Duration::ZERO);
            self.emit(Line::Note(format!(
                "fast-forwarding to the section {:?}",
                self.opts.from.clone().unwrap_or_default()
            )))?;
        }
        let mut next = 0;
        while let Some(step) = steps.get(next) {
            next += 1;
            let forwarding = next - 1 < from;
            if next - 1 == from && from > 0 {
                self.out.set_pause(self.opts.pause);
            }
            let pause_here = match step {
                Step::Heading { .. } => true,
                Step::Say { .. } => false,
                _ => self.each_step,
            };
            if pause_here && !forwarding && !self.pause_for_enter().await? {
                return Ok(false);
            }
            if let Step::Predict { .. } = step {
                if !self.predict(step, forwarding).await? {
                    return Ok(false);
                }
                continue;
            }
            if step.acts_on_nodes() {
                self.mark_action();
            }
            if let Step::Start { node, say } = step {
                // Waits that follow a start may have happened before the node was ready
                // (loading its RDB); `start` prints those first and says how many it ran.
                next += self.start(node, &steps[next..]).await?;
                self.say(say)?;
                self.hold_if_asked(self.opts.hold_after_start).await;
                continue;
            }
            self.step(step).await?;
        }
        Ok(true)
    }

    /// In step mode, waits for Enter (`q` + Enter quits; `s` + Enter pauses before every step
    /// from then on, `n` + Enter only before sections again). Always true otherwise.
    async fn pause_for_enter(&mut self) -> Result<bool, LabError> {
        if !self.opts.step {
            return Ok(true);
        }
        let hint = if self.each_step {
            "Enter: next step, n + Enter: pause only at sections, q + Enter: stop"
        } else {
            "Enter: next section, s + Enter: pause at every step, q + Enter: stop"
        };
        self.emit(Line::Note(hint.into()))?;
        match self.read_input().await {
            Some(line) if is_quit(&line) => Ok(false),
            Some(line) => {
                match line.trim() {
                    "s" | "S" => self.each_step = true,
                    "n" | "N" => self.each_step = false,
                    _ => {}
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The student's next line in step mode (`None`: input closed).
    async fn read_input(&mut self) -> Option<String> {
        match self.input.as_mut() {
            Some(input) => input.recv().await,
            None => Some(String::new()),
        }
    }

    /// A predict-then-reveal checkpoint. Without `--step` (or while fast-forwarding): the
    /// question, the choices and the answer. With it: the student answers first and is told.
    /// `Ok(false)` when the student quit instead of answering.
    async fn predict(&mut self, step: &Step, forwarding: bool) -> Result<bool, LabError> {
        let Step::Predict {
            question,
            choices,
            answer,
            why,
        } = step
        else {
            return Err(LabError::failed("not a predict step"));
        };
        use super::spec::{choice_index, choice_letter};
        self.emit(Line::Say(format!("Predict: {}", self.fill(question))))?;
        for (i, choice) in choices.iter().enumerate() {
            let text = format!("({}) {}", choice_letter(i), self.fill(choice));
            self.emit(Line::Say(text))?;
        }
        let right = choice_index(*answer).unwrap_or(0);
        let revealed = format!(
            "({}) {}. {}",
            choice_letter(right),
            self.fill(&choices[right]),
            self.fill(why)
        );
        if !self.opts.step || forwarding || self.input.is_none() {
            self.emit(Line::Say(format!("Answer: {revealed}")))?;
            return Ok(true);
        }
        self.emit(Line::Note(format!(
            "your answer: a letter (a to {}) + Enter",
            choice_letter(choices.len() - 1)
        )))?;
        let Some(line) = self.read_input().await.filter(|l| !is_quit(l)) else {
            return Ok(false);
        };
        let given = line.trim().chars().next().and_then(choice_index);
        let verdict = match given {
            Some(g) if g == right => format!("Right: {revealed}"),
            Some(g) if g < choices.len() => format!(
                "Not quite: you chose ({}); the answer is {revealed}",
                choice_letter(g)
            ),
            _ => format!("The answer is {revealed}"),
        };
        self.emit(Line::Say(verdict))?;
        Ok(true)
    }

    /// Notes where each node's log ends, as an action on the nodes begins (see `fresh` on
    /// [`Step::Wait`]).
    fn mark_action(&mut self) {
        let marks = self
            .nodes
            .nodes
            .iter()
            .map(|n| (n.spec.name.clone(), n.log_len()))
            .collect();
        self.action_marks = marks;
    }

    /// Runs one step through its kind's executor ([`steps`]).
    async fn step(&mut self, step: &Step) -> Result<(), LabError> {
        match step {
            Step::Heading { text } => self.emit(Line::Heading(self.opts.ports.fill(text))),
            Step::Predict { .. } => self.predict(step, false).await.map(|_| ()),
            Step::Say { text } => self.say(&Some(text.clone())),
            Step::ShowConfig { node } => self.show_config(node),
            Step::Start { node, say } => {
                self.start(node, &[]).await?;
                self.say(say)?;
                self.hold_if_asked(self.opts.hold_after_start).await;
                Ok(())
            }
            Step::Shutdown { node } => self.shutdown(node).await,
            Step::Kill { node } => self.kill(node),
            Step::Run { .. } => self.run_step(step).await,
            Step::Wait { .. } => self.wait(step).await,
            Step::WaitAny { cases } => self.wait_any(cases).await,
            Step::Cut {
                from,
                to,
                one_way,
                say,
            } => {
                let fault = faults::LinkFault::Cut { one_way: *one_way };
                self.link_fault(from, to, fault).await?;
                self.say(say)
            }
            Step::Heal { from, to, say } => {
                self.link_fault(from, to, faults::LinkFault::Heal).await?;
                self.say(say)
            }
            Step::Delay { from, to, ms, say } => {
                let fault = faults::LinkFault::Delay { ms: *ms };
                self.link_fault(from, to, fault).await?;
                self.say(say)
            }
            Step::Pause { node, nodes, say } => {
                let names: Vec<String> = node.iter().chain(nodes).cloned().collect();
                self.pause(&names).await?;
                self.say(say)?;
                self.hold_if_asked(self.opts.hold_after_pause).await;
                Ok(())
            }
            Step::Resume { node, nodes, say } => {
                let names: Vec<String> = node.iter().chain(nodes).cloned().collect();
                self.resume(&names).await?;
                self.say(say)
            }
            Step::Rdb { node, say } => self.rdb(node, say),
            Step::Cluster { .. } => self.cluster_manager(step).await,
            Step::BusPing { node, say } => {
                self.bus_ping(node).await?;
                self.say(say)
            }
            Step::Workload { .. } => self.start_workload(step),
            Step::StopWorkload { .. } => self.stop_workload(step).await,
        }
    }

    /// For the Ctrl-C tests (`--hold-after-start`, `--hold-after-pause`): the first time `asked`,
    /// say where things are on stderr and wait for a signal.
    async fn hold_if_asked(&mut self, asked: bool) {
        if !asked || self.held {
            return;
        }
        self.held = true;
        let pids: Vec<String> = self
            .nodes
            .nodes
            .iter()
            .filter_map(|n| n.pid())
            .map(|p| p.to_string())
            .collect();
        let mut err = std::io::stderr();
        let _ = std::io::Write::write_all(
            &mut err,
            format!(
                "holding: dir={} pids={}\n",
                self.nodes.root().display(),
                pids.join(",")
            )
            .as_bytes(),
        );
        std::future::pending::<()>().await;
    }

    /// Starts a node and waits until it is ready. `following` are the lab's next steps: the
    /// `wait`s on this node among them whose lines the node logged before it was ready (a
    /// restarted replica loads its RDB first) are printed before the ready line, so that the
    /// transcript keeps the node's log order. Returns how many of `following` it ran.
    async fn start(&mut self, node: &str, following: &[Step]) -> Result<usize, LabError> {
        let node = &self.resolve_node(node)?;
        let exe = self.opts.exe.clone();
        let n = self.nodes.get(node);
        if n.pid().is_some() && !n.exited() {
            return Err(LabError::failed(format!("{node} is already running")));
        }
        let daemonize = super::nodes::directive(&n.config_text, "daemonize")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let conf = format!("{}.conf", n.spec.port);
        let folder = n.spec.port;
        let engine = self.opts.engine;
        // `--ports auto` held the port until now.
        self.opts.ports.release(n.port);
        n.spawn(&exe, engine)?;
        let run_as = n.spec.run_as;
        self.emit(Line::Shell(format!(
            "cd {folder} && {}",
            engine.start_line(run_as, &conf)
        )))?;
        if daemonize && !self.said_daemonize {
            self.said_daemonize = true;
            self.emit(Line::Note(
                "`daemonize yes` is in the config; the lab adds `--daemonize no` to keep its nodes\n\
                 in the foreground, under its control"
                    .into(),
            ))?;
        }
        // A Sentinel logs no "Ready" line (Redis's sentinel mode skips it): it serves once it
        // has logged its id.
        let ready_kind = if run_as.is_sentinel() {
            "sentinel-id"
        } else {
            "ready"
        };
        let ready = WaitCase::event(node, ready_kind);
        let limit = self.opts.deadline;
        let (_, ready_at, ready_line) = self
            .await_line(std::slice::from_ref(&ready), limit, false)
            .await?;
        let mut ran = 0;
        for step in following {
            // Only plain waits on this node: one node, no quorum, no capture, not negative.
            let Step::Wait {
                node: Some(waited),
                nodes,
                at_least: None,
                event,
                pattern,
                predicates,
                capture,
                none_for_ms: None,
                within_ms: _,
                fresh: _,
                engines,
                say,
            } = step
            else {
                break;
            };
            let other_engine =
                !engines.is_empty() && !engines.iter().any(|e| e == self.opts.engine.name());
            if waited != node || !nodes.is_empty() || !capture.is_empty() || other_engine {
                break;
            }
            let wanted = self.wanted(event, pattern, predicates);
            let matches = |line: &str| wanted.matches(line);
            let Some((_, line)) = self.nodes.get(node).next_match(matches, 0, Some(ready_at))
            else {
                break;
            };
            self.print_event(node, &line, say)?;
            ran += 1;
        }
        self.print_event(node, &ready_line, &None)?;
        Ok(ran)
    }

    /// What a wait looks for: an event kind (with its field predicates), or the lab's own
    /// piece of a log line.
    pub(super) fn wanted(
        &self,
        event: &Option<String>,
        pattern: &Option<String>,
        predicates: &std::collections::BTreeMap<String, String>,
    ) -> Wanted {
        match (event, pattern) {
            (Some(kind), _) => Wanted::Event {
                kind: kind.clone(),
                predicates: predicates
                    .iter()
                    .map(|(k, v)| (k.clone(), self.fill(v)))
                    .collect(),
            },
            (None, Some(p)) => Wanted::Text(self.fill(p)),
            (None, None) => Wanted::Any,
        }
    }

    /// `text` with tutorial ports (`{6379}`) mapped and captured `$variables` filled in.
    pub(super) fn fill(&self, text: &str) -> String {
        let mut filled = self.opts.ports.fill(text);
        // Longest names first, so that `$leader` never eats the start of `$leader_id`.
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for name in names {
            filled = filled.replace(&format!("${name}"), &self.vars[name]);
        }
        filled
    }

    /// The node a step names: its name, or a `$variable` holding a node's name, port or
    /// `host:port` (a captured leader, a new master).
    pub(super) fn resolve_node(&mut self, name: &str) -> Result<String, LabError> {
        if !name.starts_with('$') {
            return Ok(name.to_string());
        }
        let value = self.fill(name);
        let port = value.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        self.nodes
            .nodes
            .iter()
            .find(|n| n.spec.name == value || Some(n.port) == port)
            .map(|n| n.spec.name.clone())
            .ok_or_else(|| {
                LabError::failed(format!(
                    "{name} is {value:?}, which is none of the lab's nodes"
                ))
            })
    }

    /// Prints a node's log line as evidence, then its narration.
    pub(super) fn print_event(
        &mut self,
        node: &str,
        line: &str,
        say: &Option<String>,
    ) -> Result<(), LabError> {
        self.emit(Line::Event {
            node: node.to_string(),
            message: message(line).to_string(),
        })?;
        self.say(say)
    }

    /// Waits (bounded) until one of `cases` shows up in its node's log; prints that log line,
    /// then its narration. Nothing is narrated for an event that did not happen.
    async fn wait_any(&mut self, cases: &[WaitCase]) -> Result<(), LabError> {
        let limit = self.opts.deadline;
        let (i, _, line) = self.await_line(cases, limit, false).await?;
        self.print_event(&cases[i].node, &line, &cases[i].say)
    }

    /// Waits (bounded) until one of `cases` shows up in its node's log: which case, where the
    /// line starts in the log, and the line. With `fresh`, only lines logged since the last
    /// action began count. On timeout, or when every node waited on has exited, fails saying
    /// what was expected and the last lines each node logged.
    pub(super) async fn await_line(
        &mut self,
        cases: &[WaitCase],
        limit: Duration,
        fresh: bool,
    ) -> Result<(usize, u64, String), LabError> {
        let deadline = Instant::now() + limit;
        loop {
            for (i, case) in cases.iter().enumerate() {
                let wanted = self.wanted(&case.event, &case.pattern, &case.predicates);
                let from = match fresh {
                    true => self.action_marks.get(&case.node).copied().unwrap_or(0),
                    false => 0,
                };
                let n = self.nodes.get(&case.node);
                if let Some((at, line)) = n.next_match(|line| wanted.matches(line), from, None) {
                    return Ok((i, at, line));
                }
            }
            let dead: Vec<String> = cases
                .iter()
                .filter(|c| {
                    let n = self.nodes.get(&c.node);
                    n.exited()
                })
                .map(|c| c.node.clone())
                .collect();
            if Instant::now() >= deadline || dead.len() == cases.len() {
                let mut why = String::new();
                for case in cases {
                    let what = case
                        .event
                        .as_ref()
                        .map(|kind| format!(" (event {kind})"))
                        .unwrap_or_default();
                    let n = self.nodes.get(&case.node);
                    let state = if dead.contains(&case.node) {
                        "; it is not running"
                    } else {
                        ""
                    };
                    why.push_str(&format!(
                        "expected {} to log {:?}{what}{state}\n{}",
                        case.node,
                        case.event
                            .as_deref()
                            .and_then(definition)
                            .map(|d| d.template.to_string())
                            .or_else(|| case.pattern.clone())
                            .unwrap_or_default(),
                        n.log_tail(8)
                    ));
                }
                let waited = if dead.len() == cases.len() {
                    "gave up".to_string()
                } else {
                    format!("waited {:.1} s", limit.as_secs_f64())
                };
                return Err(LabError::failed(format!("{waited}: {why}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether a line typed at a `--step` pause asks to stop: `q`, `quit` or `exit`, as a student
/// used to redis-cli would type.
fn is_quit(line: &str) -> bool {
    let word = line.trim();
    ["q", "quit", "exit"]
        .iter()
        .any(|q| word.eq_ignore_ascii_case(q))
}

/// What is wrong with a reply, if anything.
fn check(
    reply: &Frame,
    text: &str,
    expect: &Option<String>,
    fields: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    if let Some(expect) = expect {
        if text.trim_end() != expect.trim_end() {
            return Some(format!("expected {expect:?}, got {:?}", text.trim_end()));
        }
    }
    if !fields.is_empty() {
        let body = match reply {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
            _ => text.to_string(),
        };
        for (k, v) in fields {
            match info_field(&body, k) {
                Some(got) if got.trim() == v => {}
                got => return Some(format!("expected {k}:{v}, got {got:?}")),
            }
        }
    }
    None
}

/// What a wait looks for in a node's log.
pub(super) enum Wanted {
    /// A line that [`recognise`] reads as this event kind, whose fields equal `predicates`.
    Event {
        kind: String,
        predicates: Vec<(String, String)>,
    },
    /// A line containing this text.
    Text(String),
    Any,
}

impl Wanted {
    pub(super) fn matches(&self, line: &str) -> bool {
        match self {
            Wanted::Event { kind, predicates } => {
                let msg = message(line);
                recognise(msg).is_some_and(|e| e.kind() == kind)
                    && (predicates.is_empty()
                        || definition(kind)
                            .and_then(|d| d.field_values(msg))
                            .is_some_and(|values| {
                                predicates
                                    .iter()
                                    .all(|p| values.iter().any(|(k, v)| k == &p.0 && v == &p.1))
                            }))
            }
            Wanted::Text(text) => line.contains(text.as_str()),
            Wanted::Any => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_the_cli() {
        assert_eq!(
            split_command("set name zhangsan"),
            ["set", "name", "zhangsan"]
        );
        assert_eq!(split_command(" set  \"a b\" \"\" "), ["set", "a b", ""]);
        assert!(split_command("   ").is_empty());
    }

    #[test]
    fn q_quit_and_exit_stop_a_step_pause() {
        for line in ["q\n", "quit\n", " QUIT \n", "exit\n"] {
            assert!(is_quit(line), "{line:?}");
        }
        for line in ["\n", "next\n", "quits\n"] {
            assert!(!is_quit(line), "{line:?}");
        }
    }

    #[test]
    fn info_prints_verbatim() {
        assert!(crate::client::cli::prints_verbatim(&split_command(
            "info replication"
        )));
        assert!(!crate::client::cli::prints_verbatim(&split_command(
            "get info"
        )));
    }
}
