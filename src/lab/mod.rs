//! The lab runner: `redislab run <lab>` replays a stage of the tutorial with real nodes on
//! localhost and narrates what they do; `redislab labs` lists the labs.
//!
//! # How a run goes
//!
//! 1. [`spec::Lab::parse`] reads the lab file (`labs/*.toml`, embedded in the binary) and checks
//!    it whole before anything starts: a mistake is `file:line: reason`.
//! 2. The tutorial ports in it are mapped ([`nodes::PortMap`]: as is, `--port-offset N`, or
//!    `--ports auto`, which holds each picked port until its node is about to bind it) and
//!    checked free ([`nodes::check_ports_free`] names who holds a taken port).
//! 3. [`nodes::Nodes::prepare`] makes a temp dir with a folder per node (`6379/`, `6380/`, as
//!    the tutorial lays them out) holding its config file, ports rewritten.
//! 4. [`runner::Runner`] executes the steps in order. Nodes are child processes of this same
//!    binary (`redislab server 6379.conf --daemonize no`). Commands go through the async
//!    [`crate::client::connection::Client`], one session per node, and replies print through
//!    redis-cli's own formatting. Narration of what the nodes did comes only from their log
//!    files: a `wait` step tails a node's `logfile` for a line that [`crate::events::recognise`]
//!    reads as the event kind it names, with a deadline, prints that line as evidence, and only then its
//!    narration. Simultaneous events on two nodes print in the order the lab lists the waits,
//!    so transcripts are deterministic.
//! 5. Every line goes through [`transcript::Transcript`] (plain, or coloured on a terminal).
//! 6. The [`nodes::Nodes`] guard kills the nodes by PID and removes the temp dir on success,
//!    failure, panic, and — via [`main`]'s signal handling — Ctrl-C/SIGTERM (exit 130), unless
//!    `--keep`: then the nodes are recorded in their temp dir ([`kept`]), listed by
//!    `redislab labs --kept` and stopped, folders removed, by `redislab stop`.
//!
//! # Growing the format
//!
//! Steps are a serde enum tagged by `do` ([`spec::Step`]); each kind has one executor
//! ([`runner`]'s `steps` and `faults` modules), and `Runner::step` only dispatches. A new kind
//! is a variant, its checks in `Lab::check`, and one method.
//!
//! Fault steps act on the nodes, which the lab always starts with `--lab-faults`:
//! - `cut` (`from`, `to`, `one_way`), `heal`, `delay` (`ms`): `REDISLAB FAULT` on each end of
//!   the link ([`crate::net`]); a cut stalls traffic as a dead network does, so both sides
//!   notice only by `repl-timeout`. Each command and each node's `lab-fault` log line is shown.
//! - `pause` / `resume`: SIGSTOP / SIGCONT by PID, with the process state as evidence; `nodes =
//!   [...]` signals several back to back, one `kill` in the transcript. A paused node is
//!   resumed before it is killed (`kill`, the end of the lab, Ctrl-C) or kept.
//! - `kill` (kill -9) and `start` (which also restarts a node that was stopped or killed).
//!
//! Waits ([`runner`]'s `waits`): `node = ...` or `nodes = [...]` (any of them, or `at_least =
//! N`: a quorum, printed in the lab's order); `where = { field = "value" }` tests an event's
//! fields as [`crate::events::Definition::field_values`] reads them; `none_for_ms` makes it a
//! negative wait (nothing of that kind, counting only lines logged from then on); `fresh =
//! true` counts only lines logged since the last action on the nodes began (see
//! [`spec::Step::acts_on_nodes`]), so an earlier scene's line is not taken for this one's; `within_ms`
//! is the step's deadline, by default the larger of the runner's start-up deadline and
//! [`spec::Lab::timeout_deadline`] (3 × the longest timeout in the node configs).
//!
//! Captures: `capture = { var = "field" }` on a wait (an event field) or a run (an INFO field,
//! or `"reply"`); later steps use `$var` in commands, expectations, predicates, narration and
//! node names (a value naming a node's port resolves to that node). Each capture prints
//! `($var = value)`; [`transcript::capture_filters`] masks the value as `[VAR]` in snapshots
//! while the tests check the real value. A `$var` no earlier step captures, and a predicate or
//! capture on a field the event lacks, are `file:line` errors before anything starts.
//!
//! Checkpoints (`do = "predict"`: a question, choices, the answer's letter and why): without
//! `--step` the question, choices and answer are printed (so the book shows them); with it the
//! student answers first and is told. `--step` pauses before each section; `s` at a pause
//! pauses before every step, `n` only at sections again. `--from SECTION` (heading text or
//! number) runs the steps before that section without any pause or question.
//!
//! Templates ([`spec::TemplateSpec`]): `[[template]]` with a name, ports and a config written
//! for the first port gives one node per port (`node9001`, ...), every occurrence of the first
//! port replaced, as the tutorial's `:%s/9001/9002/g`. Ports inside commands are `{9001}`
//! placeholders, filled with the actual port.
//!
//! Workloads ([`runner`]'s `workload`): `do = "workload"` starts a background writer (`kind =
//! "list"`: `RPUSH key w-N`; `"counter"`: `SET key:N N`; every `every_ms`, each reply bounded
//! by a second, reconnecting after errors) that runs during the following steps;
//! `do = "stop-workload"` stops it and checks on `check` (default: the node written to) which
//! acknowledged writes survived, naming each lost one (`expect_lost` makes the count a check).
//!
//! Engines (`--engine`, [`Engine`]): `redislab` runs this binary's server and Sentinel with
//! `--lab-faults` (a Sentinel's links to masters, replicas and other Sentinels can be cut too;
//! a master or replica has no peer link to a Sentinel, so only the Sentinel's end acts);
//! `redis` runs real `redis-server` from PATH, narrated from its log through the same event
//! definitions. Redis has no fault table, so a link a fault step names, where one node
//! replicates from the other, goes through a [`relay::Relay`] the lab owns (the replica's
//! config file on disk points at it; `show-config` shows the lab's text) and cut/heal/delay act
//! on the relay, said in a note; a link without one is skipped with a note. A wait with
//! `engines = ["redislab"]` is skipped, visibly, on an engine that does not log that event.
//!
//! Cluster ([`runner`]'s `cluster`): `do = "cluster"` runs the cluster manager as a child
//! process, as the student types it (`redislab cluster create ...`; `redis-cli --cluster
//! create ...` on `--engine redis`), types the step's `answer` to its question and shows it
//! where the student would have typed it; `run` with `cluster = true` follows `MOVED`/`ASK`
//! as `redis-cli -c`, showing each `-> Redirected to slot [N] located at ...` line.
//!
//! `redislab run path/to/lab.toml` runs a lab file of one's own (the tests use
//! `tests/labs/*.toml`).
//!
//! Left out on purpose: running nodes on other hosts, and Windows (process groups, `/proc`).

pub mod kept;
pub mod nodes;
pub mod relay;
pub mod runner;
pub mod spec;
pub mod transcript;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use nodes::PortMap;

/// The labs shipped in the binary: `(file name, text)`.
pub const LABS: &[(&str, &str)] = &[
    (
        "labs/replication.toml",
        include_str!("../../labs/replication.toml"),
    ),
    (
        "labs/sentinel.toml",
        include_str!("../../labs/sentinel.toml"),
    ),
    ("labs/cluster.toml", include_str!("../../labs/cluster.toml")),
];

/// Why a lab could not run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab file is wrong.
    #[error("{file}:{line}: {reason}")]
    File {
        file: String,
        line: usize,
        reason: String,
    },
    /// A step failed (a node did not start, an expected event did not come, a check failed).
    #[error("the lab failed: {0}")]
    Failed(String),
}

impl LabError {
    pub fn new(file: &str, line: usize, reason: impl Into<String>) -> LabError {
        LabError::File {
            file: file.to_string(),
            line,
            reason: reason.into(),
        }
    }

    pub fn failed(reason: impl Into<String>) -> LabError {
        LabError::Failed(reason.into())
    }
}

/// What the lab's nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// `redislab server`, with its fault table (`--lab-faults`).
    #[default]
    Redislab,
    /// `redis-server` from PATH; links the lab cuts go through a [`relay::Relay`].
    Redis,
}

impl Engine {
    /// Its name on the command line and in lab files (`engines = [...]`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Redislab => "redislab",
            Engine::Redis => "redis",
        }
    }

    /// How the transcript shows starting a node.
    pub fn server(self) -> &'static str {
        match self {
            Engine::Redislab => "redislab server",
            Engine::Redis => "redis-server",
        }
    }

    /// How a node run as `run_as` is started: the program (`None`: this redislab binary),
    /// the arguments before the config file, and those after it (besides `--daemonize no`).
    pub fn start_command(
        self,
        run_as: spec::RunAs,
    ) -> (
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
    ) {
        use spec::RunAs;
        match (self, run_as) {
            (Engine::Redis, RunAs::Server) => (Some("redis-server"), &[], &[]),
            (Engine::Redis, RunAs::Sentinel) => (Some("redis-sentinel"), &[], &[]),
            (Engine::Redis, RunAs::ServerSentinel) => (Some("redis-server"), &[], &["--sentinel"]),
            // `--lab-faults`: the lab's hand on the node's peer links (`REDISLAB FAULT`).
            (Engine::Redislab, RunAs::Server) => (None, &["server"], &["--lab-faults"]),
            (Engine::Redislab, RunAs::Sentinel) => (None, &["sentinel"], &["--lab-faults"]),
            (Engine::Redislab, RunAs::ServerSentinel) => {
                (None, &["server"], &["--sentinel", "--lab-faults"])
            }
        }
    }

    /// How the transcript shows starting a node run as `run_as` with config file `conf`
    /// (`redislab sentinel 26379.conf`); the lab's own `--lab-faults` is not shown.
    pub fn start_line(self, run_as: spec::RunAs, conf: &str) -> String {
        let (program, before, after) = self.start_command(run_as);
        let mut words = vec![program.unwrap_or("redislab")];
        words.extend(before);
        words.push(conf);
        words.extend(after.iter().filter(|a| **a != "--lab-faults"));
        words.join(" ")
    }

    /// How the transcript shows the command-line client.
    pub fn cli(self) -> &'static str {
        match self {
            Engine::Redislab => "redislab cli",
            Engine::Redis => "redis-cli",
        }
    }
}

/// Which ports the nodes use.
#[derive(Debug, Clone)]
pub enum PortChoice {
    /// The tutorial's ports moved by N (0: as in the tutorial).
    Offset(i32),
    /// Free ports picked at start.
    Auto,
}

/// Everything `redislab run` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub lab: String,
    pub ports: PortChoice,
    /// Wait for Enter before each section.
    pub step: bool,
    /// Leave the nodes running at the end.
    pub keep: bool,
    /// Pause after each narration line (zero with `--fast`).
    pub pause: Duration,
    pub color: bool,
    /// Columns to wrap narration to (the terminal's, or [`transcript::FIXED_WIDTH`]).
    pub width: usize,
    /// Hidden: stop after the first node starts, print where things are on stderr, and wait
    /// for a signal (for the Ctrl-C cleanup test).
    pub hold_after_start: bool,
    /// Hidden: the same after the first `pause` step (a node stopped with SIGSTOP).
    pub hold_after_pause: bool,
    /// The binary to run nodes with (this one).
    pub exe: PathBuf,
    /// How long a node may take to start or stop, and a wait for an event may last.
    pub deadline: Duration,
    /// Start at this section (its heading text or number): the steps before it run without
    /// pauses.
    pub from: Option<String>,
    /// `--engine`: redislab nodes, or real redis-server from PATH.
    pub engine: Engine,
}

/// What the runner needs once ports are known.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub ports: PortMap,
    pub step: bool,
    pub hold_after_start: bool,
    pub hold_after_pause: bool,
    pub exe: PathBuf,
    pub deadline: Duration,
    /// `--from SECTION`: fast-forward (no pauses) to this section.
    pub from: Option<String>,
    /// The pause after narration.
    pub pause: Duration,
    pub engine: Engine,
}

/// Parses every embedded lab (they are tested, so this only fails while editing one).
pub fn all_labs() -> Result<Vec<spec::Lab>, LabError> {
    LABS.iter()
        .map(|(file, text)| spec::Lab::parse(file, text))
        .collect()
}

/// `redislab labs`: one line per lab.
pub fn list(out: &mut dyn Write) -> Result<(), LabError> {
    for lab in all_labs()? {
        writeln!(out, "{:<14} {}", lab.name, lab.summary)
            .map_err(|e| LabError::failed(e.to_string()))?;
    }
    Ok(())
}

/// Runs a lab to the end (or until the student quits); `input` feeds `--step`.
pub async fn run(
    opts: &Options,
    out: &mut dyn Write,
    input: Option<mpsc::UnboundedReceiver<String>>,
) -> Result<(), LabError> {
    if opts.lab.ends_with(".toml") {
        // A lab file of one's own: `redislab run path/to/lab.toml`.
        let text = std::fs::read_to_string(&opts.lab)
            .map_err(|e| LabError::failed(format!("cannot read {}: {e}", opts.lab)))?;
        let lab = spec::Lab::parse(&opts.lab, &text)?;
        return run_lab(&lab, opts, out, input).await;
    }
    let labs = all_labs()?;
    let lab = labs.iter().find(|l| l.name == opts.lab).ok_or_else(|| {
        LabError::failed(format!(
            "there is no lab called {:?}; `redislab labs` lists them",
            opts.lab
        ))
    })?;
    run_lab(lab, opts, out, input).await
}

/// Runs a given (parsed) lab; [`run`] picks one of the embedded labs by name.
pub async fn run_lab(
    lab: &spec::Lab,
    opts: &Options,
    out: &mut dyn Write,
    input: Option<mpsc::UnboundedReceiver<String>>,
) -> Result<(), LabError> {
    let tutorial: Vec<u16> = lab.nodes.iter().map(|n| n.port).collect();
    let ports = match opts.ports {
        PortChoice::Offset(n) => PortMap::offset(&tutorial, n),
        PortChoice::Auto => {
            // Cluster nodes also bind port + 10000 (the bus): pick ports where that is free.
            let cluster = lab.nodes.iter().any(|n| {
                nodes::directive(&n.config, "cluster-enabled")
                    .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
            });
            PortMap::auto_with_bus(&tutorial, cluster)
        }
    }
    .map_err(LabError::failed)?;
    nodes::check_ports_free(&ports, &opts.exe)?;
    let run_opts = RunOptions {
        ports: ports.clone(),
        step: opts.step,
        hold_after_start: opts.hold_after_start,
        hold_after_pause: opts.hold_after_pause,
        exe: opts.exe.clone(),
        deadline: opts.deadline.max(lab.timeout_deadline()),
        from: opts.from.clone(),
        pause: opts.pause,
        engine: opts.engine,
    };
    if opts.engine == Engine::Redis && !on_path("redis-server") {
        return Err(LabError::failed(
            "--engine redis runs redis-server from PATH, and there is none; install Redis \
             (e.g. `apt install redis-server`) or run without --engine",
        ));
    }
    if let Some(section) = &opts.from {
        if spec::section_start(lab, section).is_none() {
            let sections: Vec<String> = lab
                .steps
                .iter()
                .filter_map(|s| match s {
                    spec::Step::Heading { text } => Some(format!("{text:?}")),
                    _ => None,
                })
                .collect();
            return Err(LabError::failed(format!(
                "--from {section:?}: the lab has no such section; its sections (by name or \
                 number from 1): {}",
                sections.join(", ")
            )));
        }
    }
    let mut nodes = nodes::Nodes::prepare(&lab.name, &lab.nodes, &ports, opts.keep)?;
    nodes.engine = opts.engine;
    let relays = match opts.engine {
        Engine::Redis => runner::relays_for(lab, &mut nodes).await?,
        Engine::Redislab => Vec::new(),
    };
    let layout = transcript::Layout {
        width: opts.width,
        ports: ports.pairs().to_vec(),
        nodes: lab.nodes.iter().map(|n| n.name.clone()).collect(),
    };
    let transcript = transcript::Transcript::new(out, opts.color, opts.pause).with_layout(layout);
    let mut runner =
        runner::Runner::new(lab, &run_opts, nodes, transcript, input).with_relays(relays);
    if !runner.run().await? {
        let what = if opts.keep {
            "stopped; the nodes that were started are left running (--keep)"
        } else {
            "stopped; the nodes are stopped and their folder removed"
        };
        runner.note(what)?;
    }
    if opts.keep {
        runner.finish_kept(&kept::invocation(&opts.exe))?;
    }
    Ok(())
}

/// The whole `redislab run` command: a runtime, Ctrl-C/SIGTERM handling, and the exit code
/// (0 done, 1 failed, 130 interrupted). Errors go to `err`.
pub fn main(opts: Options, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "Failed to start the runtime: {e}");
            return 1;
        }
    };
    let input = opts.step.then(|| {
        // A plain thread: a blocking stdin read must not hold up the runtime's shutdown.
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        rx
    });
    let code = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            let _ = writeln!(err, "cannot install the Ctrl-C handler");
            return 1;
        };
        // Dropping the lab future (when a signal wins) drops the `Nodes` guard: nodes are
        // killed and the temp dir removed before we return.
        tokio::select! {
            result = run(&opts, out, input) => match result {
                Ok(()) => 0,
                Err(e) => {
                    let _ = writeln!(err, "{e}");
                    1
                }
            },
            _ = int.recv() => {
                let _ = writeln!(err, "interrupted: {}", cleaned_up(&opts));
                130
            }
            _ = term.recv() => {
                let _ = writeln!(err, "terminated: {}", cleaned_up(&opts));
                130
            }
        }
    });
    runtime.shutdown_background();
    code
}

/// Whether `program` is an executable file in a PATH directory.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// What happens to the nodes when a run is interrupted.
fn cleaned_up(opts: &Options) -> String {
    if opts.keep {
        format!(
            "the nodes started so far are left running (--keep); `{} stop` stops them",
            kept::invocation(&opts.exe)
        )
    } else {
        "nodes stopped, temp dir removed".to_string()
    }
}

/// `redislab labs --kept`: the labs kept with `--keep`, their folders and nodes.
pub fn list_kept(out: &mut dyn Write, exe: &std::path::Path) -> std::io::Result<()> {
    let labs = kept::list();
    let me = kept::invocation(exe);
    if labs.is_empty() {
        return writeln!(out, "No kept labs (`{me} run LAB --keep` keeps one).");
    }
    for lab in &labs {
        writeln!(out, "{}  {}", lab.lab, lab.root.display())?;
        for line in lab.describe() {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(out, "Stop them all and remove their folders: {me} stop")?;
    writeln!(out, "Stop one: {me} stop FOLDER")
}

/// `redislab stop [FOLDER...]`: stops the named kept labs (all of them if none is named) and
/// removes their folders. Returns the exit code: 1 if a folder named is not a kept lab or a
/// folder could not be removed.
pub fn stop_kept(folders: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut code = 0;
    let labs: Vec<kept::KeptLab> = if folders.is_empty() {
        kept::list()
    } else {
        folders
            .iter()
            .filter_map(|f| {
                let lab = kept::KeptLab::read(f);
                if lab.is_none() {
                    let _ = writeln!(err, "{}: not a kept lab's folder", f.display());
                    code = 1;
                }
                lab
            })
            .collect()
    };
    if labs.is_empty() && code == 0 {
        let _ = writeln!(out, "No kept labs to stop.");
    }
    for lab in labs {
        match kept::stop(&lab, Duration::from_secs(10)) {
            Ok(told) => {
                let _ = writeln!(
                    out,
                    "{}: {}; removed {}",
                    lab.lab,
                    told.join(", "),
                    lab.root.display()
                );
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{}: cannot remove {}: {e}",
                    lab.lab,
                    lab.root.display()
                );
                code = 1;
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_labs_parse() {
        let labs = super::all_labs().unwrap();
        assert!(labs.iter().any(|l| l.name == "replication"));
        let sentinel = labs.iter().find(|l| l.name == "sentinel").unwrap();
        assert!(sentinel.nodes.iter().any(|n| n.run_as.is_sentinel()));
    }

    #[test]
    fn a_sentinel_node_starts_the_two_ways_redis_starts_one_on_each_engine() {
        use super::spec::RunAs;
        use super::Engine;
        let cases = [
            (Engine::Redislab, RunAs::Server, "redislab server 1.conf"),
            (
                Engine::Redislab,
                RunAs::Sentinel,
                "redislab sentinel 1.conf",
            ),
            (
                Engine::Redislab,
                RunAs::ServerSentinel,
                "redislab server 1.conf --sentinel",
            ),
            (Engine::Redis, RunAs::Server, "redis-server 1.conf"),
            (Engine::Redis, RunAs::Sentinel, "redis-sentinel 1.conf"),
            (
                Engine::Redis,
                RunAs::ServerSentinel,
                "redis-server 1.conf --sentinel",
            ),
        ];
        for (engine, run_as, shown) in cases {
            assert_eq!(engine.start_line(run_as, "1.conf"), shown);
        }
        // Every redislab node gets the lab's fault switch; real Redis has none.
        assert_eq!(
            Engine::Redislab.start_command(RunAs::Server).2,
            ["--lab-faults"]
        );
        assert_eq!(
            Engine::Redislab.start_command(RunAs::Sentinel).2,
            ["--lab-faults"]
        );
        assert!(Engine::Redis.start_command(RunAs::Sentinel).2.is_empty());
    }
}
