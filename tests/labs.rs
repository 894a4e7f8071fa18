//! The labs, end to end: `redislab run replication` (tutorial stage 1) against real nodes, its
//! transcript snapshotted (tests/snapshots/replication.snap, which the book includes), the
//! values the snapshot masks checked for real, and cleanup on Ctrl-C; then the format's features
//! (faults, waits and captures, predictions, --from) on small lab files in tests/labs/.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redislab::lab::transcript::{filters, ports_in};

fn redislab() -> &'static str {
    env!("CARGO_BIN_EXE_redislab")
}

/// Runs a lab to the end as a child process, as a student would with `--ports auto --fast`.
fn run_lab(name: &str) -> String {
    run_lab_with(name, &[])
}

/// [`run_lab`] with more arguments (`--engine redis`).
fn run_lab_with(name: &str, more: &[&str]) -> String {
    let out = Command::new(redislab())
        .args(["run", name, "--ports", "auto", "--fast", "--no-color"])
        .args(more)
        .stdin(Stdio::null())
        .output()
        .expect("run redislab");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the lab failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The one settings helper for lab transcripts (filters from `lab::transcript::filters`).
fn transcript_settings(ports: &[(u16, u16)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (pattern, replacement) in filters(ports) {
        s.add_filter(&pattern, replacement);
    }
    s
}

/// Every value of `field:` in INFO lines of the transcript.
fn values<'a>(transcript: &'a str, field: &str) -> Vec<&'a str> {
    transcript
        .lines()
        .filter_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .collect()
}

#[test]
fn replication_lab_transcript_tutorial_stage_1() {
    let transcript = run_lab("replication");
    let ports = ports_in(&transcript);
    assert_eq!(ports.len(), 2, "the port map is announced:\n{transcript}");

    // What the masks hide, checked for real: one 40-hex replication id, shared by the master,
    // the replica and the snapshot the replica received.
    let replids = values(&transcript, "master_replid");
    assert_eq!(replids.len(), 2, "{transcript}");
    assert!(replids
        .iter()
        .all(|id| id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    assert_eq!(replids[0], replids[1], "master and replica agree");
    assert!(
        transcript.contains(&format!("\"repl-id\" = \"{}\"", replids[0])),
        "the RDB carries the master's replid"
    );
    let slave0 = values(&transcript, "slave0");
    assert!(
        slave0[0].starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            ports[1].1
        )),
        "{slave0:?}"
    );
    assert_eq!(values(&transcript, "master_port"), [ports[0].1.to_string()]);
    // A real partition, not a closed connection: both sides notice by repl-timeout.
    let (master, replica) = (ports[0].1, ports[1].1);
    assert!(transcript.contains(&format!(
        "[replica log] Lab fault: traffic with 127.0.0.1:{master} cut (both directions)"
    )));
    assert!(transcript.contains("[replica log] MASTER timeout: no data nor PING received..."));
    assert!(transcript.contains(&format!(
        "[master log] Disconnecting timedout replica (streaming sync): 127.0.0.1:{replica}"
    )));
    assert!(!transcript.contains("client kill"), "{transcript}");
    assert_eq!(transcript.matches("\nPredict: ").count(), 3, "{transcript}");
    // The partial resyncs sent a positive number of backlog bytes.
    let sent: Vec<u64> = transcript
        .match_indices("Sending ")
        .filter_map(|(i, _)| transcript[i + 8..].split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(sent.len(), 2, "{transcript}");
    assert!(sent.iter().all(|&n| n > 0));

    transcript_settings(&ports).bind(|| insta::assert_snapshot!("replication", transcript));
}

#[test]
fn labs_lists_the_replication_lab() {
    let out = Command::new(redislab()).arg("labs").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("replication "), "{text}");
}

#[test]
fn an_unknown_lab_is_one_clear_error() {
    let out = Command::new(redislab())
        .args(["run", "nope", "--ports", "auto"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("there is no lab called \"nope\""), "{err}");
}

#[test]
fn a_taken_port_is_named_with_a_way_out() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    // Move 6379 onto the taken port.
    let offset = i32::from(port) - 6379;
    let out = Command::new(redislab())
        .args([
            "run",
            "replication",
            "--fast",
            "--port-offset",
            &offset.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("port {port} is already in use")),
        "{err}"
    );
    assert!(err.contains("--port-offset"), "{err}");
    assert!(
        err.contains(&format!("(pid {})", std::process::id())),
        "{err}"
    );
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purpose: it holds no port and runs no code.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Runs `redislab run ARGS --hold-...`, interrupts it with SIGINT once it holds, and checks
/// that it exits 130 leaving no node process (running or stopped) and no temp dir.
fn interrupt_when_held(args: &[&str]) {
    let mut child = Command::new(redislab())
        .args(["run"])
        .args(args)
        .args(["--ports", "auto", "--fast", "--no-color"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: the runner prints `holding: dir=... pids=...` once it holds.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the runner reports its nodes");
    let rest = line.strip_prefix("holding: dir=").expect(&line);
    let (dir, pids) = rest.split_once(" pids=").unwrap();
    let pids: Vec<u32> = pids.split(',').map(|p| p.parse().unwrap()).collect();
    assert!(!pids.is_empty() && pids.iter().all(|&p| alive(p)));
    assert!(Path::new(dir).is_dir());

    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the runner did not exit on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    for pid in pids {
        assert!(!alive(pid), "node {pid} still runs (or is stopped)");
    }
    assert!(!Path::new(dir).exists(), "{dir} was not removed");
}

#[test]
fn ctrl_c_stops_the_nodes_and_removes_the_temp_dir() {
    interrupt_when_held(&["replication", "--hold-after-start"]);
}

/// The fault steps' test lab (a partition, its heal, a delay, a pause).
fn faults_lab() -> String {
    format!("{}/tests/labs/faults.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ctrl_c_while_a_node_is_paused_leaves_no_stopped_process() {
    interrupt_when_held(&[&faults_lab(), "--hold-after-pause"]);
}

#[test]
fn fault_steps_partition_heal_delay_and_pause_with_evidence_from_both_sides() {
    let transcript = run_lab(&faults_lab());
    let ports = ports_in(&transcript);
    let (master, replica) = (ports[0].1, ports[1].1);
    // Each side's fault table changed, and each says so in its own log.
    for (node, peer, port) in [("master", replica, master), ("replica", master, replica)] {
        let typed = format!("127.0.0.1:{port}> redislab fault cut 127.0.0.1:{peer} both\nOK\n");
        assert!(transcript.contains(&typed), "{transcript}");
        assert!(
            transcript.contains(&format!(
                "[{node} log] Lab fault: traffic with 127.0.0.1:{peer} cut (both directions)"
            )),
            "{transcript}"
        );
        assert!(
            transcript.contains(&format!(
                "[{node} log] Lab fault: traffic with 127.0.0.1:{peer} healed"
            )),
            "{transcript}"
        );
    }
    // Both sides noticed the partition by repl-timeout, not by a closed connection.
    assert!(transcript.contains("[replica log] MASTER timeout: no data nor PING received"));
    assert!(transcript.contains("[master log] Disconnecting timedout replica"));
    assert!(
        !transcript.contains("Connection with master lost"),
        "{transcript}"
    );
    assert!(transcript.contains("Partial resynchronization request from"));
    assert!(transcript.contains(&format!(
        "[master log] Lab fault: traffic with 127.0.0.1:{replica} delayed by 300 ms"
    )));
    assert!(transcript.contains("$ kill -STOP $(cat 6380/redis_6380.pid)\n  (replica: process state T (stopped))\nPAUSE-SAID\n"), "{transcript}");
    assert!(
        transcript.contains("$ kill -CONT $(cat 6380/redis_6380.pid)\n  (replica: process state"),
        "{transcript}"
    );
}

/// A lab cuts a Sentinel from a live master through the Sentinel's fault table: one way, from
/// the master's side, so what the master sends is what is lost (the master only sees the
/// Sentinel as a client, so its own rule changes nothing; the Sentinel's cuts what it reads).
#[test]
fn a_lab_cuts_a_sentinel_from_a_live_master_into_sdown_and_heals_it() {
    let lab = format!(
        "{}/tests/labs/sentinel_cut.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let transcript = run_lab(&lab);
    let ports = ports_in(&transcript);
    let (master, sentinel) = (ports[0].1, ports[1].1);
    let typed = format!("127.0.0.1:{sentinel}> redislab fault cut 127.0.0.1:{master} in\nOK\n");
    assert!(transcript.contains(&typed), "{transcript}");
    assert!(
        transcript.contains(&format!(
            "[sentinel log] Lab fault: traffic with 127.0.0.1:{master} cut (incoming)"
        )),
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!("+sdown master mymaster 127.0.0.1 {master}")),
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!("-sdown master mymaster 127.0.0.1 {master}")),
        "{transcript}"
    );
}

fn in_process_options(deadline_ms: u64) -> redislab::lab::Options {
    redislab::lab::Options {
        lab: String::new(),
        ports: redislab::lab::PortChoice::Auto,
        step: false,
        keep: false,
        pause: Duration::ZERO,
        color: false,
        width: redislab::lab::transcript::FIXED_WIDTH,
        hold_after_start: false,
        hold_after_pause: false,
        from: None,
        engine: redislab::lab::Engine::Redislab,
        exe: redislab().into(),
        deadline: Duration::from_millis(deadline_ms),
    }
}

const ONE_NODE: &str = r#"
name = "t"
summary = "a test lab"
title = "T"
[[node]]
name = "solo"
port = 6379
config = "port 6379\nlogfile 6379.log\nsave \"\"\n"
[[step]]
do = "start"
node = "solo"
"#;

/// Runs a lab given as text in this process; returns the transcript and the outcome.
fn run_text(steps: &str, deadline_ms: u64) -> (String, Result<(), redislab::lab::LabError>) {
    let lab = redislab::lab::spec::Lab::parse("t.toml", &format!("{ONE_NODE}{steps}")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = Vec::new();
    let result = runtime.block_on(redislab::lab::run_lab(
        &lab,
        &in_process_options(deadline_ms),
        &mut out,
        None,
    ));
    (String::from_utf8(out).unwrap(), result)
}

#[test]
fn an_event_that_never_comes_fails_with_what_was_expected_and_the_last_lines() {
    let (transcript, result) = run_text(
        "[[step]]\ndo = \"wait\"\nnode = \"solo\"\npattern = \"this never happens\"\nsay = \"NARRATED\"\n",
        300,
    );
    let err = result.unwrap_err().to_string();
    assert!(err.contains("waited 0.3 s"), "{err}");
    assert!(
        err.contains("expected solo to log \"this never happens\""),
        "{err}"
    );
    assert!(
        err.contains("Ready to accept connections"),
        "the last lines: {err}"
    );
    assert!(
        !transcript.contains("NARRATED"),
        "no narration for what did not happen"
    );
}

#[test]
fn a_reply_that_differs_from_the_lab_fails_the_run() {
    let (transcript, result) = run_text(
        "[[step]]\ndo = \"run\"\nnode = \"solo\"\ncommand = \"get name\"\nexpect = '\"zhangsan\"'\n",
        5_000,
    );
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("expected \"\\\"zhangsan\\\"\", got \"(nil)\""),
        "{err}"
    );
    assert!(transcript.ends_with("> get name\n(nil)\n"), "{transcript}");
}

#[test]
fn a_fresh_wait_ignores_what_was_logged_before_the_last_action() {
    // `Running mode=...` was logged at start-up, before the pause: a plain wait takes it, a
    // fresh wait after the pause and resume does not.
    let steps = |fresh: bool| {
        format!(
            "[[step]]\ndo = \"pause\"\nnodes = [\"solo\"]\n[[step]]\ndo = \"resume\"\nnode = \"solo\"\n\
             [[step]]\ndo = \"wait\"\nnode = \"solo\"\nevent = \"listening\"\nwithin_ms = 400\nfresh = {fresh}\n"
        )
    };
    let (transcript, result) = run_text(&steps(false), 5_000);
    result.unwrap();
    assert!(
        transcript.contains("[solo log] Running mode=standalone"),
        "{transcript}"
    );
    let (transcript, result) = run_text(&steps(true), 5_000);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("waited 0.4 s"), "{err}\n{transcript}");
    assert!(transcript.contains("$ kill -CONT "), "{transcript}");
}

/// Stops a kept lab when dropped (also when the test fails), by its folder.
struct KeptGuard(String);

impl Drop for KeptGuard {
    fn drop(&mut self) {
        let _ = Command::new(redislab()).args(["stop", &self.0]).output();
    }
}

/// Each node's `[name log]` lines in the transcript, in transcript order, rejoined where
/// they were wrapped (continuation lines are indented by six spaces).
fn events_of(transcript: &str, node: &str) -> Vec<String> {
    let tag = format!("  [{node} log] ");
    let mut events: Vec<String> = Vec::new();
    let mut in_event = false;
    for line in transcript.lines() {
        if let Some(rest) = line.strip_prefix(tag.as_str()) {
            events.push(rest.to_string());
            in_event = true;
        } else if let (true, Some(rest)) = (in_event, line.strip_prefix("      ")) {
            let last = events.last_mut().expect("in an event");
            last.push(' ');
            last.push_str(rest);
        } else {
            in_event = false;
        }
    }
    events
}

/// The lab shows each node's log lines in the order the node logged them (the restarted
/// replica loads its RDB before it is ready), and `--keep` leaves nodes that
/// `redislab labs --kept` lists and `redislab stop` stops, folders removed.
#[test]
fn lab_log_lines_keep_each_nodes_order_and_kept_labs_can_be_stopped() {
    let out = Command::new(redislab())
        .args([
            "run",
            "replication",
            "--ports",
            "auto",
            "--fast",
            "--no-color",
        ])
        .arg("--keep")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    let root = transcript
        .lines()
        .find_map(|l| l.strip_prefix("Their folders are in "))
        .and_then(|l| l.strip_suffix('.'))
        .unwrap_or_else(|| panic!("the kept folder is named:\n{transcript}"))
        .to_string();
    let _guard = KeptGuard(root.clone());
    assert!(out.status.success(), "{transcript}");

    for (node, log) in [("master", "6379/6379.log"), ("replica", "6380/6380.log")] {
        let log = std::fs::read_to_string(Path::new(&root).join(log)).unwrap();
        let logged: Vec<&str> = log.lines().map(redislab::events::message).collect();
        let shown = events_of(&transcript, node);
        assert!(shown.len() > 3, "{node}: {shown:?}");
        // Each shown line is found in the log after the previous one: a subsequence.
        let mut at = 0;
        for line in &shown {
            match logged[at..].iter().position(|l| l == line) {
                Some(i) => at += i + 1,
                None => panic!(
                    "{node}: {line:?} is shown out of the node's log order\n\
                     shown: {shown:#?}\nlogged: {logged:#?}"
                ),
            }
        }
    }

    let listed = Command::new(redislab())
        .args(["labs", "--kept"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains(&format!("replication  {root}")), "{listed}");
    let pids: Vec<u32> = transcript
        .lines()
        .filter_map(|l| l.split_once("(pid ")?.1.split(')').next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{transcript}");
    assert!(pids.iter().all(|&p| alive(p)));

    // A new run on a port the kept lab holds names it and says how to stop it.
    let master_port = ports_in(&transcript)[0].1;
    let again = Command::new(redislab())
        .args(["run", "replication", "--fast", "--port-offset"])
        .arg((i32::from(master_port) - 6379).to_string())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(
        said.contains("held by the master node of the replication lab you kept with --keep"),
        "{said}"
    );
    assert!(said.contains(" stop`"), "{said}");

    let stopped = Command::new(redislab())
        .args(["stop", &root])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert!(stopped.status.success(), "{said}");
    assert!(said.contains("master (pid"), "{said}");
    assert!(said.contains(&format!("removed {root}")), "{said}");
    assert!(!Path::new(&root).exists(), "{root} was removed");
    assert!(pids.iter().all(|&p| !alive(p)), "the nodes are stopped");
}

/// `--step --keep`, stopped with `quit` after the master started: the replica never ran, so the
/// lab offers no way to connect to it, and says the truth about what is left running.
#[test]
fn quitting_a_kept_step_run_names_only_the_nodes_that_run() {
    let mut child = Command::new(redislab())
        .args([
            "run",
            "replication",
            "--ports",
            "auto",
            "--fast",
            "--no-color",
        ])
        .args(["--step", "--keep"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Enter at "Two config files" and "Start the master", `quit` before the replica.
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\n\nquit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    let root = transcript
        .lines()
        .find_map(|l| l.strip_prefix("Their folders are in "))
        .and_then(|l| l.strip_suffix('.'))
        .unwrap_or_else(|| panic!("the kept folder is named:\n{transcript}"))
        .to_string();
    let _guard = KeptGuard(root);
    assert!(out.status.success(), "{transcript}");
    assert!(
        transcript.contains("stopped; the nodes that were started are left running (--keep)"),
        "{transcript}"
    );
    assert!(transcript.contains("master (pid "), "{transcript}");
    assert!(transcript.contains("replica: not running"), "{transcript}");
    let ports = ports_in(&transcript);
    assert!(
        !transcript.contains(&format!("cli -p {}", ports[1].1)),
        "no way to connect to the replica is offered:\n{transcript}"
    );
}

/// The waits-and-captures test lab (a quorum, a predicate, a negative wait, captures).
fn waits_lab() -> String {
    format!("{}/tests/labs/waits.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn waits_by_quorum_and_predicate_capture_values_and_negative_waits_hold() {
    let transcript = run_lab(&waits_lab());
    let ports = ports_in(&transcript);
    let replica2 = ports[2].1;
    // The quorum: both replicas' lines, in the lab's order, then the count.
    let one = transcript.find("[replica1 log] MASTER <-> REPLICA sync: Finished with success");
    let two = transcript.find("[replica2 log] MASTER <-> REPLICA sync: Finished with success");
    assert!(one.is_some() && two.is_some() && one < two, "{transcript}");
    assert!(transcript.contains("(2 of 2 nodes: at least 2)\nQUORUM-SAID"));
    // The predicate picked replica2's line, and the capture holds its address for real.
    assert!(transcript.contains(&format!("($second = 127.0.0.1:{replica2})")));
    assert!(transcript.contains(&format!("127.0.0.1:{replica2}> info replication")));
    let replid = values(&transcript, "master_replid")[0];
    assert!(replid.len() == 40 && replid.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(transcript.contains(&format!("($replid = {replid})")));
    assert!(transcript.contains(&format!("127.0.0.1:{replica2} follows history {replid}")));
    assert!(transcript
        .contains("(no full-resync-from-master on replica1, replica2 for 0.3 s)\nNONE-SAID"));
    // Snapshots mask captured values by role.
    let mut masked = transcript.clone();
    for (pattern, mask) in redislab::lab::transcript::capture_filters(&transcript) {
        let literal = pattern.replace('\\', "");
        masked = masked.replace(&literal, &mask);
    }
    assert!(masked.contains("($second = [SECOND])"), "{masked}");
    assert!(
        masked.contains("[SECOND] follows history [REPLID]"),
        "{masked}"
    );
    assert!(!masked.contains(replid));
}

/// A master and a replica that is started but not waited for, as lab text.
const PAIR: &str = r#"
name = "t"
summary = "a test lab"
title = "T"
[[node]]
name = "master"
port = 6379
config = "port 6379\nlogfile 6379.log\nsave \"\"\n"
[[node]]
name = "replica"
port = 6380
config = "port 6380\nlogfile 6380.log\nsave \"\"\nslaveof 127.0.0.1 6379\n"
[[step]]
do = "start"
node = "master"
[[step]]
do = "start"
node = "replica"
"#;

#[test]
fn a_negative_wait_fails_when_the_event_happens_and_shows_it() {
    let text = format!(
        "{PAIR}[[step]]\ndo = \"wait\"\nnodes = [\"replica\"]\nevent = \"master-sync-finished\"\nnone_for_ms = 10000\nsay = \"NARRATED\"\n"
    );
    let lab = redislab::lab::spec::Lab::parse("t.toml", &text).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = Vec::new();
    let result = runtime.block_on(redislab::lab::run_lab(
        &lab,
        &in_process_options(20_000),
        &mut out,
        None,
    ));
    let transcript = String::from_utf8(out).unwrap();
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("expected no master-sync-finished on replica for 10.0 s, but it logged: MASTER <-> REPLICA sync: Finished with success"),
        "{err}"
    );
    assert!(transcript.contains("[replica log] MASTER <-> REPLICA sync: Finished with success"));
    assert!(!transcript.contains("NARRATED"));
}

#[test]
fn a_steps_own_deadline_overrides_the_labs() {
    let (_, result) = run_text(
        "[[step]]\ndo = \"wait\"\nnode = \"solo\"\npattern = \"this never happens\"\nwithin_ms = 200\n",
        30_000,
    );
    let err = result.unwrap_err().to_string();
    assert!(err.contains("waited 0.2 s"), "{err}");
}

/// Runs `redislab run tests/labs/predict.toml ARGS` with `stdin` typed in; its stdout and
/// stderr.
fn run_predict(args: &[&str], stdin: &[u8]) -> (String, String) {
    use std::io::Write;
    let lab = format!("{}/tests/labs/predict.toml", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(redislab())
        .args(["run", &lab, "--ports", "auto", "--fast", "--no-color"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_prediction_prints_question_choices_and_answer_without_step() {
    let (out, err) = run_predict(&[], b"");
    assert!(out.contains(
        "Predict: What does GET print for a key that does not exist?\n(a) (nil)\n(b) an empty string\nAnswer: (a) (nil). A missing key is a null reply"
    ), "{out}{err}");
    assert!(out.contains("TWO-SAID"), "{out}");
}

#[test]
fn in_step_mode_the_student_answers_first_and_can_pause_at_every_step() {
    // `s` at section One (every step from now on), Enter before the start and the
    // prediction, `b` as the answer, Enter before the run, `q` at section Two.
    let (out, err) = run_predict(&["--step"], b"s\n\n\nb\n\nq\n");
    assert!(
        out.contains("Enter: next step, n + Enter: pause only at sections"),
        "{out}{err}"
    );
    assert!(
        out.contains("your answer: a letter (a to b) + Enter"),
        "{out}"
    );
    assert!(
        out.contains("Not quite: you chose (b); the answer is (a) (nil). A missing key is a null"),
        "{out}"
    );
    assert!(!out.contains("Answer: "), "{out}");
    assert!(out.contains("127.0.0.1:"), "the run step ran: {out}");
    assert!(!out.contains("TWO-SAID"), "quit at section Two: {out}");
}

#[test]
fn from_a_section_fast_forwards_without_asking() {
    let (out, err) = run_predict(&["--step", "--from", "two"], b"q\n");
    assert!(
        out.contains("(fast-forwarding to the section \"two\")"),
        "{out}{err}"
    );
    assert!(out.contains("Answer: (a) (nil)"), "asked nothing: {out}");
    assert!(!out.contains("your answer"), "{out}");
    assert!(!out.contains("TWO-SAID"), "paused (and quit) at Two: {out}");
    let (_, err) = run_predict(&["--from", "Three"], b"");
    assert!(
        err.contains("--from \"Three\": the lab has no such section; its sections (by name or number from 1): \"One\", \"Two\""),
        "{err}"
    );
}

/// What a transcript shows happened, engine aside: the sections, the commands typed (not the
/// lab's own fault commands), and each node's events by kind (not `lab-fault`, and not the
/// kinds the other engine said it does not log).
fn outcomes(transcript: &str, skipped: &[String]) -> Vec<String> {
    let mut out = sections_and_commands(transcript);
    for node in ["master", "replica"] {
        out.extend(
            event_kinds(transcript, node, skipped)
                .into_iter()
                .map(|kind| format!("{node} {kind}")),
        );
    }
    out
}

/// The sections and the commands typed (not the lab's own fault commands).
fn sections_and_commands(transcript: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in transcript.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            out.push(format!("section {h}"));
        } else if let Some((_, command)) = line.split_once("> ") {
            if line.starts_with("127.0.0.1:") && !command.starts_with("redislab fault") {
                out.push(format!("typed {command}"));
            }
        }
    }
    out
}

/// A node's events in the transcript, by kind (not `lab-fault`, not the `skipped` kinds).
fn event_kinds(transcript: &str, node: &str, skipped: &[String]) -> Vec<String> {
    events_of(transcript, node)
        .into_iter()
        .map(|event| {
            redislab::events::recognise(&event)
                .map(|e| e.kind().to_string())
                .unwrap_or_else(|| format!("line {event}"))
        })
        .filter(|kind| kind != "lab-fault" && !skipped.contains(kind))
        .collect()
}

/// The event kinds a transcript says its engine does not log (steps skipped).
fn skipped_kinds(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .filter_map(|l| {
            l.split_once(" does not log ")?
                .1
                .strip_suffix("; step skipped)")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_replication_lab_reaches_the_same_outcomes_on_real_redis() {
    if !Path::new("/usr/bin/redis-server").exists()
        && !std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("redis-server").is_file()))
    {
        eprintln!("SKIPPED: redis-server is not installed; --engine redis not tested");
        return;
    }
    let started = Instant::now();
    let ours = run_lab("replication");
    let ours_took = started.elapsed();
    let started = Instant::now();
    let real = run_lab_with("replication", &["--engine", "redis"]);
    let real_took = started.elapsed();
    eprintln!(
        "replication lab: redislab {:.2} s, redis-server {:.2} s",
        ours_took.as_secs_f64(),
        real_took.as_secs_f64()
    );
    assert!(
        real.contains("$ cd 6379 && redis-server 6379.conf"),
        "{real}"
    );
    assert!(
        real.contains("the relay the lab put on\n   replica's link to master"),
        "the partition goes through the lab's relay: {real}"
    );
    let skipped = skipped_kinds(&real);
    assert_eq!(skipped, ["rdb-transferred"], "{real}");
    assert_eq!(
        outcomes(&ours, &skipped),
        outcomes(&real, &skipped),
        "\n--- redislab ---\n{ours}\n--- redis-server ---\n{real}"
    );
    // The partition was noticed on both sides by timeout, and healed into a partial resync.
    assert!(real.contains("[replica log] MASTER timeout: no data nor PING received..."));
    assert!(real.contains("[master log] Disconnecting timedout replica"));
    assert!(real.contains("sync_partial_ok:1"));
}

#[test]
fn a_workload_reports_acknowledged_writes_and_names_each_lost_one() {
    let lab = format!("{}/tests/labs/workload.toml", env!("CARGO_MANIFEST_DIR"));
    let transcript = run_lab(&lab);
    let flat = transcript.replace("\n   ", " ");
    // The first writer's acknowledged writes all survived (expect_lost = 0 held).
    assert!(
        flat.contains("(workload counter: in the background, one write every 10 ms to solo"),
        "{flat}"
    );
    assert!(flat.contains("0 lost)\nCOUNTER-SAID"), "{flat}");
    assert!(
        flat.contains("(no \"this is never logged\" on solo for 0.3 s)"),
        "{flat}"
    );
    // The second writer's list was deleted under it: the writes before the DEL are lost, and
    // each is named, from w-1 on, in order; the ones after it survived.
    let stopped = flat
        .lines()
        .find(|l| l.starts_with("  (workload list stopped: "))
        .expect(&flat);
    let numbers: Vec<usize> = stopped
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let [sent, acked, survived, lost] = numbers[..] else {
        panic!("{stopped}")
    };
    assert!(
        sent >= acked && acked == survived + lost && lost > 0 && survived > 0,
        "{stopped}"
    );
    let named = flat
        .lines()
        .find_map(|l| l.strip_prefix("  (lost although acknowledged: "))
        .expect(&flat)
        .trim_end_matches(')');
    let expected: Vec<String> = (1..=lost).map(|n| format!("w-{n}")).collect();
    assert_eq!(named, expected.join(", "));
}

#[test]
fn a_template_starts_one_node_per_port_each_with_its_own_files() {
    let lab = format!("{}/tests/labs/template.toml", env!("CARGO_MANIFEST_DIR"));
    let transcript = run_lab(&lab);
    let ports = ports_in(&transcript);
    let tutorial: Vec<u16> = ports.iter().map(|p| p.0).collect();
    assert_eq!(tutorial, [9001, 9002, 9003], "{transcript}");
    assert!(
        transcript.contains(&format!(
            "$ cat 9002/9002.conf\n    port {}\n    logfile 9002.log\n    pidfile redis_9002.pid\n",
            ports[1].1
        )),
        "{transcript}"
    );
    for node in ["node9001", "node9002", "node9003"] {
        assert!(transcript.contains(&format!("[{node} log] Ready to accept connections")));
    }
    assert!(
        transcript.contains(&format!("1) \"port\"\n2) \"{}\"", ports[2].1)),
        "{transcript}"
    );
    // A port inside a command is sent, and shown, as the actual port.
    let sent = format!(
        "> echo 127.0.0.1:{}\n\"127.0.0.1:{}\"",
        ports[1].1, ports[1].1
    );
    assert!(transcript.contains(&sent), "{transcript}");
}

const SENTINELS: [&str; 3] = ["sentinel26379", "sentinel26380", "sentinel26381"];

/// The replies of `sentinel slaves` / `sentinel replicas` with their entries in a fixed order
/// (by priority): the order Sentinel lists replicas in is arbitrary (it follows discovery).
fn sort_replica_entries(transcript: &str) -> String {
    let lines: Vec<&str> = transcript.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_string());
        let listing = lines[i].ends_with("> sentinel slaves mymaster")
            || lines[i].ends_with("> sentinel replicas mymaster");
        i += 1;
        if !listing {
            continue;
        }
        // Entries start with "N)  1) \"name\"" and run until the next one or the note.
        let mut entries: Vec<Vec<String>> = Vec::new();
        while i < lines.len() {
            let line = lines[i];
            let starts_entry = line
                .split_once(")  1) ")
                .is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()));
            if starts_entry {
                entries.push(vec![line.split_once(')').unwrap().1.to_string()]);
            } else if line.starts_with("   ") {
                match entries.last_mut() {
                    Some(entry) => entry.push(line.to_string()),
                    None => break,
                }
            } else {
                break;
            }
            i += 1;
        }
        // By priority, highest first (the addresses are ephemeral ports, named later).
        let priority = |entry: &Vec<String>| -> Option<String> {
            let at = entry
                .iter()
                .position(|l| l.contains("\"slave-priority\""))?;
            entry.get(at + 1).map(|l| l.trim().to_string())
        };
        entries.sort_by_key(|entry| std::cmp::Reverse(priority(entry)));
        for (n, entry) in entries.into_iter().enumerate() {
            for (k, line) in entry.into_iter().enumerate() {
                out.push(if k == 0 {
                    format!("{}){line}", n + 1)
                } else {
                    line
                });
            }
        }
    }
    out.join("\n") + "\n"
}

/// The transcript of the Sentinel lab with what varies from run to run given a name: which
/// Sentinel won an election (or saw a thing first) once there are three, the epochs of their
/// votes, and the workloads' counts. `check_sentinel_lab` checks the real values.
fn mask_sentinel_lab(transcript: &str) -> String {
    let (one, three) = transcript
        .split_once("## Three Sentinels")
        .expect("the three-Sentinel section");
    // Events any of the three may log first.
    const ANY_OF: [&str; 5] = [
        "+odown ",
        "+try-failover ",
        "+elected-leader ",
        "+selected-slave ",
        "+convert-to-slave ",
    ];
    // Each event with its wrapped continuation lines, read as one.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for line in three.lines() {
        match groups.last_mut() {
            Some(group) if line.starts_with("      ") && group[0].starts_with("  [") => {
                group.push(line.to_string())
            }
            _ => groups.push(vec![line.to_string()]),
        }
    }
    let mut lines: Vec<String> = Vec::new();
    for mut group in groups {
        let whole: Vec<&str> = group.iter().flat_map(|l| l.split_whitespace()).collect();
        let whole = whole.join(" ");
        let voted = whole.contains(" voted for ");
        for tag in SENTINELS {
            let prefix = format!("  [{tag} log] ");
            if let Some(rest) = whole.strip_prefix(prefix.trim_start()) {
                if voted || ANY_OF.iter().any(|e| rest.starts_with(e)) {
                    group[0] = group[0].replacen(&prefix, "  [SENTINEL log] ", 1);
                }
            }
        }
        // How many saw the master down when the quorum was reached: 2 or 3.
        for line in group.iter_mut().filter(|_| whole.starts_with('[')) {
            for votes in ["#quorum 2/2", "#quorum 3/2"] {
                *line = line.replace(votes, "#quorum [VOTES]/2");
            }
        }
        // The epoch of a vote, its last word: a split vote makes it one more.
        if voted {
            let last = group.last_mut().expect("a line");
            if let Some((before, epoch)) = last.rsplit_once(' ') {
                if epoch.bytes().all(|b| b.is_ascii_digit()) {
                    *last = format!("{before} [EPOCH]");
                }
            }
        }
        lines.extend(group);
    }
    let mut masked = format!("{one}## Three Sentinels{}\n", lines.join("\n"));
    masked = sort_replica_entries(&masked);
    // A resumed process is running, or already sleeping again, when the lab looks.
    masked = masked
        .lines()
        .map(|line| match line.split_once(": process state ") {
            Some((node, _)) if line.ends_with(" (running again))") => {
                format!("{node}: process state [RUNNING] (running again))")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    // The workloads' counts and lost writes (notes wrap, so the whole note is replaced).
    for (open, by) in [
        (
            "(workload orders stopped: ",
            "(workload orders stopped: [COUNTS])",
        ),
        (
            "(workload payments stopped: ",
            "(workload payments stopped: [COUNTS])",
        ),
        (
            "(lost although acknowledged: ",
            "(lost although acknowledged: [LOST WRITES])",
        ),
    ] {
        if let Some(at) = masked.find(open) {
            let end = at + masked[at..].find(')').expect("a closed note") + 1;
            masked.replace_range(at..end, by);
        }
    }
    masked
}

/// What the Sentinel lab's masks hide, checked for real, and what the story must show.
fn check_sentinel_lab(transcript: &str) {
    let ports = ports_in(transcript);
    assert_eq!(ports.len(), 6, "the port map is announced:\n{transcript}");
    let port = |tutorial: u16| ports.iter().find(|(t, _)| *t == tutorial).unwrap().1;
    let flat = transcript.replace("\n      ", " ").replace("\n   ", " ");
    // Stage 2 with one Sentinel: the tutorial's quorum 1, epoch 1, 6381 chosen for its priority.
    for line in [
        format!(
            "+odown master mymaster 127.0.0.1 {} #quorum 1/1",
            port(6379)
        ),
        "+new-epoch 1".to_string(),
        format!(
            "+selected-slave slave 127.0.0.1:{0} 127.0.0.1 {0}",
            port(6381)
        ),
        format!(
            "+switch-master mymaster 127.0.0.1 {} 127.0.0.1 {}",
            port(6379),
            port(6381)
        ),
        format!(
            "+convert-to-slave slave 127.0.0.1:{0} 127.0.0.1 {0}",
            port(6379)
        ),
    ] {
        assert!(flat.contains(&line), "{line}\n{flat}");
    }
    assert!(
        flat.contains("$ cd 26379 && redislab sentinel 26379.conf")
            || flat.contains("$ cd 26379 && redis-sentinel 26379.conf")
    );
    assert!(flat.contains("26380.conf --sentinel"), "{flat}");
    // Quorum 2 with one Sentinel alive: down, never objectively down, no quorum.
    assert!(flat.contains("NOQUORUM 1 usable Sentinels."), "{flat}");
    assert!(
        flat.contains("(no +odown on sentinel26379 for 6.0 s)"),
        "{flat}"
    );
    // With three, two or three saw the master down.
    let three = flat.split("## Three Sentinels").nth(1).unwrap();
    assert!(
        three.contains(&format!(
            "+odown master mymaster 127.0.0.1 {} #quorum 2/2",
            port(6381)
        )) || three.contains(&format!(
            "+odown master mymaster 127.0.0.1 {} #quorum 3/2",
            port(6381)
        )),
        "{three}"
    );
    // With three: each election had one leader, which also chose the replica.
    for (section, old) in [("## Three Sentinels", 6381), ("## Split brain", 6380)] {
        let part = flat.split(section).nth(1).unwrap();
        let leader_of = |event: &str| {
            let at = part
                .find(&format!(" log] {event} "))
                .unwrap_or_else(|| panic!("{event} in {section}"));
            let tag = part[..at].rsplit('[').next().unwrap().to_string();
            assert!(SENTINELS.contains(&tag.as_str()), "{tag}");
            tag
        };
        if old == 6381 {
            assert_eq!(leader_of("+elected-leader"), leader_of("+selected-slave"));
        }
        assert!(part.contains(&format!(
            "+elected-leader master mymaster 127.0.0.1 {}",
            port(old)
        )));
    }
    // Split brain: acknowledged writes lost and named; with min-replicas-to-write 1, none.
    let counts = |name: &str| -> (u64, u64) {
        let note = flat
            .split(&format!("(workload {name} stopped: "))
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .to_string();
        let numbers: Vec<u64> = note
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        // sent, acknowledged, survived, lost (the node's name has digits too).
        (numbers[1], *numbers.last().unwrap())
    };
    let (acked, lost) = counts("orders");
    assert!(lost > 0 && lost <= acked, "{flat}");
    let named = flat
        .split("(lost although acknowledged: ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .split(", ")
        .count() as u64;
    assert_eq!(named, lost, "each lost write is named");
    let (acked, lost) = counts("payments");
    assert!(acked > 0 && lost == 0, "{flat}");
    assert_eq!(flat.matches("\nPredict: ").count(), 5, "{flat}");
}

#[test]
fn sentinel_lab_transcript_tutorial_stage_2() {
    let started = Instant::now();
    let transcript = run_lab("sentinel");
    eprintln!("sentinel lab: {:.1} s", started.elapsed().as_secs_f64());
    check_sentinel_lab(&transcript);
    let ports = ports_in(&transcript);
    transcript_settings(&ports).bind(|| {
        insta::assert_snapshot!("sentinel", mask_sentinel_lab(&transcript));
    });
}

#[test]
fn the_sentinel_lab_reaches_the_same_outcomes_on_real_redis() {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    };
    if !on_path("redis-server") || !on_path("redis-sentinel") {
        eprintln!("SKIPPED: redis-server or redis-sentinel is not installed; the Sentinel lab's --engine redis not tested");
        return;
    }
    let started = Instant::now();
    let real = run_lab_with("sentinel", &["--engine", "redis"]);
    eprintln!(
        "sentinel lab on redis-server/redis-sentinel: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        real.contains("$ cd 26379 && redis-sentinel 26379.conf"),
        "{real}"
    );
    assert!(
        real.contains("$ cd 26380 && redis-server 26380.conf --sentinel"),
        "{real}"
    );
    check_sentinel_lab(&real);
    // The same story as on redislab: sections, commands, and which kinds of events the data
    // nodes and (all together) the Sentinels logged.
    let ours = run_lab("sentinel");
    let story = |t: &str| {
        let mut out = sections_and_commands(t);
        for node in ["node6379", "node6380", "node6381"] {
            out.extend(
                event_kinds(t, node, &[])
                    .into_iter()
                    .map(|k| format!("{node} {k}")),
            );
        }
        let mut kinds: Vec<String> = SENTINELS
            .iter()
            .flat_map(|n| event_kinds(t, n, &[]))
            .collect();
        kinds.sort();
        out.extend(kinds);
        out
    };
    assert_eq!(
        story(&ours),
        story(&real),
        "\n--- redislab ---\n{ours}\n--- redis ---\n{real}"
    );
}

/// `text` with each actual port of `ports` (and its bus port, + 10000) written as the
/// tutorial's, wherever it stands as a whole number: the cluster lab's narration names
/// ports bare (`5461-10922, which 9002 serves`).
fn tutorial_ports(text: &str, ports: &[(u16, u16)]) -> String {
    let mut map: Vec<(String, String)> = Vec::new();
    for (t, a) in ports {
        map.push((a.to_string(), t.to_string()));
        map.push(((a + 10000).to_string(), (t + 10000).to_string()));
    }
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        let word = std::mem::take(digits);
        match map.iter().find(|(a, _)| *a == word) {
            Some((_, t)) => out.push_str(t),
            None => out.push_str(&word),
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// `text` with every node id (40 hex digits standing as a word) written `[ID]`.
fn mask_ids(text: &str) -> String {
    let is_id = |w: &str| w.len() == 40 && w.bytes().all(|b| b.is_ascii_hexdigit());
    text.lines()
        .map(|l| {
            l.split(' ')
                .map(|w| if is_id(w) { "[ID]" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A port of the cluster lab's replicas, 9004 to 9006, as text.
fn replica_port(word: &str) -> bool {
    ["9004", "9005", "9006"].contains(&word)
}

/// The cluster lab's transcript (ports already the tutorial's) with what varies from run to
/// run given a name: which replica the manager paired with which master (it shuffles them on
/// one host), so which one was elected, later killed and restarted; which node first declared
/// a node failed; the order of nodes in replies; ping times and a replica's epoch in CLUSTER
/// NODES; how many dots `create` printed; whether a resumed process was running or already
/// sleeping when the lab looked. `check_cluster_lab` checks the real values.
fn mask_cluster_lab(transcript: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut promoted: Option<String> = None;
    let mut after_join = false;
    for line in transcript.lines() {
        let mut line = line.to_string();
        if after_join {
            after_join = false;
            line = "[DOTS]".to_string();
        }
        after_join |= line == "Waiting for the cluster to join";
        if let Some(rest) = line.strip_prefix("Adding replica 127.0.0.1:") {
            if let Some((_, master)) = rest.split_once(" to ") {
                line = format!("Adding replica 127.0.0.1:[REPLICA] to {master}");
            }
        }
        for event in [
            "Marking node ",
            "Starting a failover election",
            "Failover election won",
        ] {
            if let Some(at) = line.find(&format!(" log] {event}")) {
                if line.starts_with("  [node900") {
                    line = format!("  [NODE{}", &line[at..]);
                }
            }
        }
        if let Some(port) = line.strip_prefix("master_port:") {
            promoted = Some(port.to_string());
        }
        if let Some(p) = &promoted {
            line = line.replace(
                &format!("cat {p}/redis_{p}.pid"),
                "cat [PROMOTED]/redis_[PROMOTED].pid",
            );
            line = line
                .split(' ')
                .map(|w| {
                    if w.trim_end_matches([',', '.', ')', ':']) == p && replica_port(p) {
                        w.replacen(p.as_str(), "[PROMOTED]", 1)
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            line = line.replace(&format!("master_port:{p}"), "master_port:[PROMOTED]");
            // Its restart: `cd P && redislab server P.conf`, and its ready line (where the
            // four live nodes are listed, in the lab's order, it stays as it is).
            line = line.replace(&format!("{p}.conf"), "[PROMOTED].conf");
            line = line.replace(
                &format!("[node{p} log] Ready"),
                "[node[PROMOTED] log] Ready",
            );
        }
        // A resumed process is running, or already sleeping again, when the lab looks.
        if let Some((node, _)) = line.split_once(": process state ") {
            if line.ends_with(" (running again))") {
                line = format!("{node}: process state [RUNNING] (running again))");
            }
        }
        // The decoded PONG: a replication offset, and gossip about nodes picked at random.
        if line.starts_with("  repl offset   ") {
            line = "  repl offset   [OFFSET]".into();
        }
        if line.contains(" ping_sent ") && line.contains(" pong_received ") {
            line =
                "  [ID] 127.0.0.1:[PORT]@[BUS PORT] [FLAGS] ping_sent [TIME] pong_received [TIME]"
                    .into();
        }
        // CLUSTER NODES: ping sent, pong received, and a replica's epoch (its master's).
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() >= 8 && words[1].starts_with("127.0.0.1:") && words[1].contains('@') {
            let mut w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            w[4] = "[PING]".into();
            w[5] = "[PONG]".into();
            if w[2].contains("slave") {
                w[6] = "[EPOCH]".into();
            }
            line = w.join(" ");
        }
        lines.push(line);
    }
    // Sort what the nodes list in no fixed order: CLUSTER NODES lines, and the manager's
    // `M:`/`S:` entries (each with its indented lines) within a block, by address.
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let is_nodes_line = |l: &str| l.split(' ').nth(1).is_some_and(|a| a.contains('@'));
        let is_entry = |l: &str| l.starts_with("M: ") || l.starts_with("S: ");
        if is_nodes_line(&lines[i]) {
            let mut block = Vec::new();
            while i < lines.len() && is_nodes_line(&lines[i]) {
                block.push(lines[i].clone());
                i += 1;
            }
            block.sort_by_key(|l| l.split(' ').nth(1).unwrap_or_default().to_string());
            out.extend(block);
        } else if is_entry(&lines[i]) {
            let mut entries: Vec<Vec<String>> = Vec::new();
            while i < lines.len() && (is_entry(&lines[i]) || lines[i].starts_with("   ")) {
                if is_entry(&lines[i]) {
                    entries.push(Vec::new());
                }
                entries.last_mut().unwrap().push(lines[i].clone());
                i += 1;
            }
            entries.sort_by_key(|e| {
                let addr = e[0].split(' ').nth(2).unwrap_or_default().to_string();
                (e[0].starts_with("S: "), addr)
            });
            // Which master a replica follows is the shuffled pairing.
            for entry in &mut entries {
                if entry[0].starts_with("S: ") {
                    for l in entry.iter_mut() {
                        if l.starts_with("   replicates ") {
                            *l = "   replicates [ITS MASTER]".into();
                        }
                    }
                }
            }
            out.extend(entries.into_iter().flatten());
        } else {
            out.push(lines[i].clone());
            i += 1;
        }
    }
    out.join("\n") + "\n"
}

/// What the cluster lab's masks hide, checked for real, and what the story must show.
fn check_cluster_lab(transcript: &str) {
    let ports = ports_in(transcript);
    assert_eq!(ports.len(), 6, "the port map is announced:\n{transcript}");
    let port = |tutorial: u16| ports.iter().find(|(t, _)| *t == tutorial).unwrap().1;
    let flat = transcript.replace("\n      ", " ");
    for needed in [
        "(error) CLUSTERDOWN Hash slot not served".to_string(),
        "Can I set the above configuration? (type 'yes' to accept): yes".to_string(),
        "[OK] All nodes agree about slots configuration.".to_string(),
        "[OK] All 16384 slots covered.".to_string(),
        format!("(error) MOVED 5798 127.0.0.1:{}", port(9002)),
        format!(
            "-> Redirected to slot [5798] located at 127.0.0.1:{}\nOK",
            port(9002)
        ),
        "Starting a failover election for epoch 7.".to_string(),
        "Failover election won: I'm the new master.".to_string(),
        "(error) CLUSTERDOWN The cluster is down".to_string(),
    ] {
        assert!(flat.contains(&needed), "{needed}\n{flat}");
    }
    // The master killed is the one declared failed, twice (as a master, then as a replica).
    let id = flat
        .split("($id9001 = ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("9001's id captured");
    assert_eq!(id.len(), 40);
    let failing = format!("Marking node {id} as failing (quorum reached).");
    assert_eq!(flat.matches(&failing).count(), 2, "{flat}");
    // Both surviving masters voted for the same replica, which 9001 then followed.
    let granted: Vec<&str> = flat
        .split("Failover auth granted to ")
        .skip(1)
        .map(|r| r.split(' ').next().unwrap())
        .collect();
    assert_eq!(granted.len(), 2);
    assert_eq!(granted[0], granted[1]);
    assert!(flat.contains(&format!(
        "Reconfiguring myself as a replica of {}",
        granted[0]
    )));
    // The promoted node is a former replica, and it is the one killed last.
    let promoted: u16 = flat
        .split("($promoted = ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .expect("the promoted replica's port captured");
    assert!(
        [9004, 9005, 9006].iter().any(|t| port(*t) == promoted),
        "{flat}"
    );
    let tutorial = ports.iter().find(|(_, a)| *a == promoted).unwrap().0;
    assert!(flat.contains(&format!("kill -9 $(cat {tutorial}/redis_{tutorial}.pid)")));
    assert_eq!(flat.matches("\nPredict: ").count(), 7, "{flat}");
    // The cluster comes back: the promoted master's FAIL is cleared once nobody took its
    // slots, 9001's as soon as it answers.
    let cleared = format!(
        "Clear FAIL state for node {}: is reachable again and nobody is serving its slots after some time.",
        granted[0]
    );
    assert_eq!(flat.matches(&cleared).count(), 2, "{flat}");
    let cleared = format!("Clear FAIL state for node {id}: replica is reachable again.");
    assert_eq!(flat.matches(&cleared).count(), 2, "{flat}");
    // Rule 2: two masters stopped at once; the four others go fail, suspect them (PFAIL on
    // their 10923 slots) but declare nobody FAIL, refuse every key, and are ok once healed.
    let rule2 = flat
        .split("## More than half of the masters cut off")
        .nth(1)
        .and_then(|r| r.split("## Moving a slot").next())
        .expect("the rule 2 section");
    assert!(rule2.contains("$ kill -STOP $(cat 9002/redis_9002.pid) $(cat 9003/redis_9003.pid)"));
    for state in ["fail", "ok"] {
        for node in ["node9001", "node9004", "node9005", "node9006"] {
            let line = format!("[{node} log] Cluster state changed: {state}");
            assert_eq!(rule2.matches(&line).count(), 1, "{line}\n{rule2}");
        }
    }
    for node in ["node9002", "node9003"] {
        // Any state but stopped (T): the runner waited for the kernel to say so.
        let resumed = rule2
            .split(&format!("({node}: process state "))
            .nth(2)
            .expect("a resumed state");
        assert!(resumed
            .get(1..)
            .unwrap_or_default()
            .starts_with(" (running again))"));
        assert!(!resumed.starts_with('T'), "{rule2}");
    }
    assert!(rule2.contains("cluster_slots_pfail:10923\ncluster_slots_fail:0\n"));
    assert!(rule2
        .contains("(no cluster-node-fail on node9001, node9004, node9005, node9006 for 4.0 s)"));
    assert!(
        !rule2.contains("Marking node") && !rule2.contains("Starting a failover election"),
        "{rule2}"
    );
    assert_eq!(
        rule2
            .matches("(error) CLUSTERDOWN The cluster is down")
            .count(),
        4,
        "{rule2}"
    );
    // Resharding slot 5798 from 9002 to 9003: ASK for the key moved, the other key served by
    // the source, MOVED back from the target without ASKING; then MOVED to the target.
    let reshard = flat
        .split("## Moving a slot: live resharding and ASK")
        .nth(1)
        .expect("the resharding section");
    let (p2, p3) = (port(9002), port(9003));
    for needed in [
        format!("> get name\n(error) ASK 5798 127.0.0.1:{p3}\n"),
        format!("127.0.0.1:{p2}> get {{name}}:city\n\"beijing\"\n"),
        format!("127.0.0.1:{p3}> get name\n(error) MOVED 5798 127.0.0.1:{p2}\n"),
        format!(
            "127.0.0.1:{p2}> get name\n-> Redirected to slot [5798] located at 127.0.0.1:{p3}\n\"mafly\"\n"
        ),
        "[node9003 log] configEpoch updated after importing slot 5798".to_string(),
        format!("127.0.0.1:{p2}> get name\n(error) MOVED 5798 127.0.0.1:{p3}\n"),
    ] {
        assert!(reshard.contains(&needed), "{needed}\n{reshard}");
    }
    // The decoded PONG is 9002's, with gossip about three of the others.
    let pong = flat
        .split(" bytes, type PONG\n")
        .nth(1)
        .expect("a decoded PONG");
    assert!(pong.contains(&format!("  bus port      {}\n", port(9002) + 10000)));
    assert!(pong.contains("  slots         5461-10922\n"), "{pong}");
    assert!(pong.contains("gossip: 3 entries of 104 bytes\n"), "{pong}");
}

#[test]
fn cluster_lab_transcript_tutorial_stage_3() {
    let started = Instant::now();
    let transcript = run_lab("cluster");
    eprintln!("cluster lab: {:.1} s", started.elapsed().as_secs_f64());
    check_cluster_lab(&transcript);
    let ports = ports_in(&transcript);
    let masked = mask_cluster_lab(&tutorial_ports(&transcript, &ports));
    transcript_settings(&ports).bind(|| {
        insta::assert_snapshot!("cluster", masked);
    });
}

#[test]
fn the_cluster_lab_reaches_the_same_outcomes_on_real_redis() {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    };
    if !on_path("redis-server") || !on_path("redis-cli") {
        eprintln!("SKIPPED: redis-server or redis-cli is not installed; the cluster lab's --engine redis not tested");
        return;
    }
    let started = Instant::now();
    let real = run_lab_with("cluster", &["--engine", "redis"]);
    eprintln!(
        "cluster lab on redis-server/redis-cli: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        real.contains("$ cd 9001 && redis-server 9001.conf"),
        "{real}"
    );
    assert!(
        real.contains("$ redis-cli --cluster create 127.0.0.1:"),
        "{real}"
    );
    check_cluster_lab(&real);
    // The same story as on redislab: sections, commands, and the kinds of events the six
    // nodes logged (together: which node logs first varies from run to run).
    let ours = run_lab("cluster");
    let story = |t: &str| {
        // Commands name ports (MIGRATE) and node ids (SETSLOT): as the tutorial's, and [ID].
        let t = mask_ids(&tutorial_ports(t, &ports_in(t)));
        let mut out = sections_and_commands(&t);
        let mut kinds: Vec<String> = (9001..=9006)
            .flat_map(|p| event_kinds(&t, &format!("node{p}"), &[]))
            .collect();
        kinds.sort();
        out.extend(kinds);
        out
    };
    assert_eq!(
        story(&ours),
        story(&real),
        "\n--- redislab ---\n{ours}\n--- redis ---\n{real}"
    );
}
