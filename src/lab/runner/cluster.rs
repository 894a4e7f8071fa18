//! The cluster steps' executors: `cluster` runs the cluster manager as the student types it
//! (`redislab cluster create ...`, or `redis-cli --cluster create ...` on `--engine redis`) and
//! answers its question; `run` with `cluster = true` follows `-MOVED`/`-ASK` as `redis-cli -c`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{split_command, Runner};
use crate::client::cli::parse_redirect;
use crate::cluster::bus;
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

impl Runner<'_, '_> {
    /// `bus-ping`: a PING on the node's bus port from a node it does not know (Redis answers
    /// any PING with a PONG, and adds the sender only after a MEET), the PONG decoded.
    pub(super) async fn bus_ping(&mut self, node: &str) -> Result<(), LabError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let node = self.resolve_node(node)?;
        let port = self.nodes.get(&node).port;
        let bus_port = port
            .checked_add(10000)
            .ok_or_else(|| LabError::failed(format!("{node}: port {port} has no bus port")))?;
        let addr = format!("127.0.0.1:{bus_port}");
        self.emit(Line::Note(format!(
            "the lab connects to {addr}, {node}'s bus port, as a node it does not know, and \
             sends a PING: a {}-byte header and no gossip",
            bus::HEADER_LEN
        )))?;
        let ping = bus::encode(&bus::Message {
            header: stranger_header(),
            body: bus::Body::Ping {
                gossip: Vec::new(),
                extensions: Vec::new(),
            },
        });
        let failed = |e: std::io::Error| LabError::failed(format!("bus PING to {addr}: {e}"));
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.write_all(&ping).await?;
            let mut frame = vec![0u8; 8];
            stream.read_exact(&mut frame).await?;
            let len = bus::frame_len(&frame)
                .ok()
                .filter(|len| *len <= BUS_REPLY_LIMIT)
                .ok_or_else(|| std::io::Error::other("not a bus frame"))?;
            frame.resize(len, 0);
            stream.read_exact(&mut frame[8..]).await?;
            Ok::<Vec<u8>, std::io::Error>(frame)
        };
        let frame = tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| LabError::failed(format!("no PONG from {addr} within 5 s")))?
            .map_err(failed)?;
        let pong = bus::decode(&frame)
            .map_err(|e| LabError::failed(format!("{addr} answered a bad frame: {e}")))?;
        self.emit(Line::Reply(describe_message(&pong, frame.len())))
    }
}

/// Longest reply the lab reads from a bus port: a PONG is a header, a few gossip entries and
/// small extensions.
const BUS_REPLY_LIMIT: usize = 64 * 1024;

/// The header of a PING from a node nobody knows: a made-up name, no slots, no epochs.
fn stranger_header() -> bus::Header {
    bus::Header {
        kind: bus::Type::Ping,
        port: 0,
        current_epoch: 0,
        config_epoch: 0,
        offset: 0,
        sender: [b'f'; bus::NAME_LEN],
        slots: Default::default(),
        replica_of: None,
        ip: String::new(),
        pport: 0,
        cport: 0,
        flags: crate::cluster::node::flags::MASTER,
        state: 0,
        mflags: [0; 3],
    }
}

/// A decoded bus message, field by field, as the lab shows it.
fn describe_message(msg: &bus::Message, len: usize) -> String {
    use crate::cluster::node::render_flags;
    use crate::cluster::slot::render_ranges;
    let h = &msg.header;
    let mut lines = vec![
        format!("{} bytes, type {}", len, h.kind.name().to_ascii_uppercase()),
        "header:".to_string(),
        format!("  sender        {}", bus::name_str(&h.sender)),
        format!("  flags         {}", render_flags(h.flags)),
        format!(
            "  ip            {}",
            if h.ip.is_empty() { "(empty)" } else { &h.ip }
        ),
        format!("  port          {}", h.port),
        format!("  bus port      {}", h.cport),
        format!("  currentEpoch  {}", h.current_epoch),
        format!("  configEpoch   {}", h.config_epoch),
        format!("  repl offset   {}", h.offset),
        format!(
            "  master        {}",
            h.replica_of.as_ref().map_or("-".to_string(), bus::name_str)
        ),
        format!("  slots         {}", render_ranges(&h.slots.ranges())),
        format!(
            "  state         {}",
            if h.state == 0 { "ok" } else { "fail" }
        ),
    ];
    if let bus::Body::Ping { gossip, extensions } = &msg.body {
        lines.push(format!(
            "gossip: {} entries of {} bytes",
            gossip.len(),
            bus::GOSSIP_LEN
        ));
        for g in gossip {
            lines.push(format!(
                "  {} {}:{}@{} {} ping_sent {} pong_received {}",
                bus::name_str(&g.name),
                g.ip,
                g.port,
                g.cport,
                render_flags(g.flags),
                g.ping_sent,
                g.pong_received
            ));
        }
        for ext in extensions {
            lines.push(match ext {
                bus::Extension::Hostname(name) => format!("extension: hostname {name:?}"),
                bus::Extension::Unknown(kind) => format!("extension: type {kind}"),
            });
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_pong_shows_each_header_field_and_gossip_entry() {
        let mut header = stranger_header();
        header.kind = bus::Type::Pong;
        header.sender = [b'a'; bus::NAME_LEN];
        header.port = 9002;
        header.cport = 19002;
        header.current_epoch = 6;
        header.config_epoch = 2;
        header.offset = 57;
        for slot in 5461..=10922 {
            header.slots.set(slot);
        }
        let gossip = bus::Gossip {
            name: [b'b'; bus::NAME_LEN],
            ping_sent: 0,
            pong_received: 1_796_187_194,
            ip: "127.0.0.1".into(),
            port: 9004,
            cport: 19004,
            flags: crate::cluster::node::flags::SLAVE | crate::cluster::node::flags::PFAIL,
            pport: 0,
        };
        let msg = bus::Message {
            header,
            body: bus::Body::Ping {
                gossip: vec![gossip],
                extensions: Vec::new(),
            },
        };
        let frame = bus::encode(&msg);
        assert_eq!(frame.len(), bus::HEADER_LEN + bus::GOSSIP_LEN);
        let shown = describe_message(&bus::decode(&frame).unwrap(), frame.len());
        let b = "b".repeat(40);
        for line in [
            "2360 bytes, type PONG",
            &format!("  sender        {}", "a".repeat(40)),
            "  flags         master",
            "  port          9002",
            "  bus port      19002",
            "  currentEpoch  6",
            "  configEpoch   2",
            "  repl offset   57",
            "  master        -",
            "  slots         5461-10922",
            "  state         ok",
            "gossip: 1 entries of 104 bytes",
            &format!("  {b} 127.0.0.1:9004@19004 slave,fail? ping_sent 0 pong_received 1796187194"),
        ] {
            assert!(shown.lines().any(|l| l == line), "{line:?} in\n{shown}");
        }
    }
}
