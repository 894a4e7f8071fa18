//! Workload steps: a background writer that runs during the steps after `workload` until
//! `stop-workload`, then the reckoning: which acknowledged writes survived on the node checked,
//! each lost one named. This is how a lab shows that an acknowledged write can still be lost
//! (a partitioned master's writes, after a failover).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Runner;
use crate::client::connection::Client;
use crate::lab::spec::{Step, WorkloadKind};
use crate::lab::transcript::Line;
use crate::lab::LabError;
use crate::resp::frame::Frame;

/// How many writes a workload makes at most (a bound, not a target).
const MAX_WRITES: u64 = 100_000;
/// How long a write may wait for its reply before it counts as unacknowledged.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// A running writer; dropping it stops the task.
pub struct Workload {
    name: String,
    node: String,
    kind: WorkloadKind,
    key: String,
    /// The numbers of the writes the node acknowledged, in order.
    acked: Arc<Mutex<Vec<u64>>>,
    /// How many writes were sent.
    sent: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The write number `n` as a command.
fn write_command(kind: WorkloadKind, key: &str, n: u64) -> Vec<String> {
    match kind {
        WorkloadKind::List => vec!["RPUSH".into(), key.into(), format!("w-{n}")],
        WorkloadKind::Counter => vec!["SET".into(), format!("{key}:{n}"), n.to_string()],
    }
}

/// How a lost write is named in the transcript.
fn write_name(kind: WorkloadKind, key: &str, n: u64) -> String {
    match kind {
        WorkloadKind::List => format!("w-{n}"),
        WorkloadKind::Counter => format!("{key}:{n}"),
    }
}

/// Writes every `every` until aborted (or [`MAX_WRITES`]); reconnects after an error.
async fn write_loop(
    addr: String,
    password: Option<String>,
    kind: WorkloadKind,
    key: String,
    every: Duration,
    acked: Arc<Mutex<Vec<u64>>>,
    sent: Arc<Mutex<u64>>,
) {
    let mut client: Option<Client> = None;
    for n in 1..=MAX_WRITES {
        tokio::time::sleep(every).await;
        if client.is_none() {
            let Ok(Ok(mut c)) = tokio::time::timeout(REPLY_TIMEOUT, Client::connect(&addr)).await
            else {
                continue;
            };
            // A client that could not authenticate in time does not write on that connection
            // (a stopped node accepts connections in the kernel; the AUTH waits with them).
            if let Some(p) = &password {
                if !matches!(
                    tokio::time::timeout(REPLY_TIMEOUT, c.auth(None, p)).await,
                    Ok(Ok(()))
                ) {
                    continue;
                }
            }
            client = Some(c);
        }
        let Some(c) = client.as_mut() else { continue };
        *sent.lock().expect("sent") += 1;
        let args = write_command(kind, &key, n);
        match tokio::time::timeout(REPLY_TIMEOUT, c.command(&args)).await {
            Ok(Ok(Frame::Error(_))) => {}
            Ok(Ok(_)) => acked.lock().expect("acked").push(n),
            // No reply in time, or the connection broke: not acknowledged; start afresh.
            _ => client = None,
        }
    }
}

impl Runner<'_, '_> {
    /// `workload`: starts a writer in the background.
    pub(super) fn start_workload(&mut self, step: &Step) -> Result<(), LabError> {
        let Step::Workload {
            name,
            node,
            kind,
            key,
            every_ms,
            say,
        } = step
        else {
            return Err(LabError::failed("not a workload step"));
        };
        let node = self.resolve_node(node)?;
        let n = self.nodes.get(&node);
        let addr = format!("127.0.0.1:{}", n.port);
        let acked = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(0));
        let task = tokio::spawn(write_loop(
            addr.clone(),
            n.password(),
            *kind,
            key.clone(),
            Duration::from_millis(*every_ms),
            acked.clone(),
            sent.clone(),
        ));
        let first = write_command(*kind, key, 1).join(" ").to_ascii_lowercase();
        self.emit(Line::Note(format!(
            "workload {name}: in the background, one write every {every_ms} ms to {node} \
             ({addr}): {first}, then 2, 3, ...; each acknowledged write is recorded"
        )))?;
        self.workloads.push(Workload {
            name: name.clone(),
            node,
            kind: *kind,
            key: key.clone(),
            acked,
            sent,
            task,
        });
        self.say(say)
    }

    /// `stop-workload`: stops the writer and checks what survived.
    pub(super) async fn stop_workload(&mut self, step: &Step) -> Result<(), LabError> {
        let Step::StopWorkload {
            name,
            check,
            expect_lost,
            say,
        } = step
        else {
            return Err(LabError::failed("not a stop-workload step"));
        };
        let i = self
            .workloads
            .iter()
            .position(|w| &w.name == name)
            .ok_or_else(|| LabError::failed(format!("no running workload is called {name:?}")))?;
        let w = self.workloads.remove(i);
        w.task.abort();
        let acked = w.acked.lock().expect("acked").clone();
        let sent = *w.sent.lock().expect("sent");
        let check = match check {
            Some(c) => self.resolve_node(c)?,
            None => w.node.clone(),
        };
        let survived: Vec<u64> = match w.kind {
            WorkloadKind::List => {
                let reply = self.query(&check, &["LRANGE", &w.key, "0", "-1"]).await?;
                let Frame::Array(items) = reply else {
                    return Err(LabError::failed(format!(
                        "LRANGE {} on {check}: not a list",
                        w.key
                    )));
                };
                items
                    .iter()
                    .filter_map(|f| match f {
                        Frame::Bulk(b) => {
                            String::from_utf8_lossy(b).strip_prefix("w-")?.parse().ok()
                        }
                        _ => None,
                    })
                    .collect()
            }
            WorkloadKind::Counter => {
                let mut present = Vec::new();
                for n in &acked {
                    let key = format!("{}:{n}", w.key);
                    if let Frame::Integer(1) = self.query(&check, &["EXISTS", &key]).await? {
                        present.push(*n);
                    }
                }
                present
            }
        };
        let lost: Vec<u64> = acked
            .iter()
            .copied()
            .filter(|n| !survived.contains(n))
            .collect();
        self.emit(Line::Note(format!(
            "workload {name} stopped: {sent} writes sent, {} acknowledged; on {check}, {} of \
             them survived, {} lost",
            acked.len(),
            acked.len() - lost.len(),
            lost.len()
        )))?;
        if !lost.is_empty() {
            let names: Vec<String> = lost
                .iter()
                .map(|n| write_name(w.kind, &w.key, *n))
                .collect();
            self.emit(Line::Note(format!(
                "lost although acknowledged: {}",
                names.join(", ")
            )))?;
        }
        if let Some(expected) = expect_lost {
            if *expected != lost.len() {
                return Err(LabError::failed(format!(
                    "workload {name}: expected {expected} lost acknowledged writes, found {}",
                    lost.len()
                )));
            }
        }
        self.say(say)
    }

    /// A command sent on the lab's session to `node`, not shown. A session closed meanwhile
    /// (a Sentinel's CLIENT KILL during a failover) is opened again.
    async fn query(&mut self, node: &str, args: &[&str]) -> Result<Frame, LabError> {
        let password = self.nodes.get(node).password();
        let mut reply = match self.session(node).await?.command(args).await {
            Ok(reply) => reply,
            Err(_) => {
                self.sessions.retain(|(n, _)| n != node);
                self.session(node)
                    .await?
                    .command(args)
                    .await
                    .map_err(|e| LabError::failed(format!("{node}: {} failed: {e}", args[0])))?
            }
        };
        let client = self.session(node).await?;
        if let (Frame::Error(e), Some(p)) = (&reply, password) {
            if e.starts_with(b"NOAUTH") {
                let _ = client.auth(None, &p).await;
                reply = client
                    .command(args)
                    .await
                    .map_err(|e| LabError::failed(format!("{node}: {} failed: {e}", args[0])))?;
            }
        }
        Ok(reply)
    }
}
