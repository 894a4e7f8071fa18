//! The replica's side of replication as a state machine with no I/O (`replication.c`:
//! `connectWithMaster`, `syncWithMaster`, `readSyncBulkPayload`, `replicationCron`).
//!
//! [`ReplicaLink`] decides; a driver carries out. Inputs are what happened — the socket
//! connected or failed ([`ReplicaLink::connected`], [`ReplicaLink::connect_failed`]), bytes
//! arrived ([`ReplicaLink::received`]), the link closed, the snapshot finished loading, and
//! [`ReplicaLink::tick`] with the current time. Outputs ([`Output`]) are what to do: connect,
//! send these bytes, apply this command, load this snapshot, send an ACK, disconnect, change
//! the link status, and the [`Event`]s to log. Time is always an argument; nothing here reads
//! a clock, draws a random number or touches a socket, so a test or the simulator can replay
//! every decision exactly. The tokio driver is `node::replica_link`; the simulator drives the
//! same machine over a virtual network.
//!
//! The sequence: connect; `PING`; `AUTH` if `masterauth` is set; `REPLCONF listening-port`
//! and `REPLCONF capa eof capa psync2`; `PSYNC <replid> <offset+1>` (or `PSYNC ? -1` with no
//! history). `+FULLRESYNC`: the snapshot (`$<len>` or `$EOF:<mark>`, `\n` keep-alives skipped)
//! is collected and handed to the driver to load; only a complete snapshot replaces the
//! dataset, so a master dying mid-transfer leaves the previous data. `+CONTINUE [replid]`:
//! the data is kept and the stream resumes. Then every command of the stream is applied in
//! order with the exact bytes it took on the wire (for our own backlog and replicas); `REPLCONF
//! ACK` goes out every second and in answer to `REPLCONF GETACK`. A lost link is retried after
//! 1 s, doubling to 5 s; a master silent for `repl-timeout` is dropped.

use bytes::{Buf, Bytes, BytesMut};

use super::encode_command;
use crate::events::Event;
use crate::resp::RequestParser;

/// First wait before reconnecting (ms), doubled after each failure up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: i64 = 1000;
/// Longest wait between reconnection attempts (ms).
pub const MAX_BACKOFF_MS: i64 = 5000;
/// How long a handshake reply or a transfer may stall (ms), as Redis's `repl-syncio-timeout`
/// and transfer timeout.
pub const SYNC_IO_TIMEOUT_MS: i64 = 60_000;
/// Bound on one handshake reply line (bytes).
const MAX_LINE: usize = 64 * 1024;
/// How often a streaming replica sends `REPLCONF ACK` (ms).
const ACK_PERIOD_MS: i64 = 1000;

/// What the replica needs to know to talk to its master.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    pub host: String,
    pub port: u16,
    /// `masterauth` (and `masteruser`).
    pub auth: Option<(Option<String>, String)>,
    /// The port announced with `REPLCONF listening-port`.
    pub listening_port: u16,
    /// `repl-timeout`, in ms.
    pub timeout_ms: i64,
}

/// The replica's history when it asks for a sync: `PSYNC <replid> <offset+1>` if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub replid: String,
    pub offset: i64,
    pub known: bool,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a connection to the master.
    Connect,
    /// Write these bytes to the master.
    Send(Bytes),
    /// Apply this command of the stream (through the command path), then feed `raw` — its
    /// exact bytes — into our own offset, backlog and replicas.
    Apply { argv: Vec<Bytes>, raw: Bytes },
    /// Feed `raw` into our offset, backlog and replicas without applying it (`PING`,
    /// `REPLCONF GETACK`: they are part of the stream but change no data).
    Proxy(Bytes),
    /// Send `REPLCONF ACK <offset>` with the offset processed so far.
    SendAck,
    /// Replace the dataset with this snapshot; the master's history is `replid` at `offset`.
    /// Answer with [`ReplicaLink::snapshot_loaded`].
    LoadSnapshot {
        rdb: Bytes,
        replid: String,
        offset: i64,
    },
    /// The master continues our history; if it has a new id (it was promoted), adopt it.
    Continue { new_replid: Option<String> },
    /// Close the connection.
    Disconnect,
    /// The link status, for `INFO` and `ROLE`.
    Status(LinkStatus),
    /// Log and announce this.
    Emit(Event),
}

/// How far a full sync's snapshot transfer is (`master_sync_total_bytes` and
/// `master_sync_read_bytes` in `INFO replication`, as Redis shows them in its transfer state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The snapshot's size: -1 until the master said it, 0 when it does not say (diskless,
    /// `$EOF:<mark>`), else the `$<len>` it announced.
    pub total: i64,
    /// Snapshot bytes received so far.
    pub read: i64,
}

/// The link's state as `INFO replication` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Handshake or transfer under way (`master_sync_in_progress:1`).
    Syncing,
    /// The stream flows (`master_link_status:up`).
    Up,
    /// Not connected (`master_link_status:down`).
    Down,
}

#[derive(Debug)]
enum State {
    /// Waiting to (re)connect at `at`.
    Waiting {
        at: i64,
    },
    Connecting,
    WaitPong,
    WaitAuth,
    /// Waiting for the two REPLCONF replies.
    WaitReplconf {
        answered: u8,
    },
    WaitPsync,
    WaitBulkHeader {
        replid: String,
        offset: i64,
    },
    Bulk {
        replid: String,
        offset: i64,
        data: BytesMut,
        size: BulkSize,
    },
    /// The snapshot is with the driver; `eof`: it came diskless (`$EOF:<mark>`).
    Loading {
        eof: bool,
    },
    Streaming,
}

#[derive(Debug)]
enum BulkSize {
    Len(usize),
    Eof(Vec<u8>),
}

/// One replica's link to its master. See the module docs.
#[derive(Debug)]
pub struct ReplicaLink {
    config: LinkConfig,
    state: State,
    buf: BytesMut,
    parser: RequestParser,
    /// The first part of a stream command that spans several reads.
    pending_raw: BytesMut,
    backoff_ms: i64,
    /// When the current wait (handshake reply, transfer, master silence) runs out.
    deadline: i64,
    last_ack: i64,
    was_up: bool,
    /// A connection is open (the driver must close it on failure).
    connected: bool,
}

impl ReplicaLink {
    /// A link that connects at the first tick at or after `now`.
    pub fn new(config: LinkConfig, now: i64) -> ReplicaLink {
        ReplicaLink {
            config,
            state: State::Waiting { at: now },
            buf: BytesMut::new(),
            parser: RequestParser::new(i64::MAX),
            pending_raw: BytesMut::new(),
            backoff_ms: FIRST_BACKOFF_MS,
            deadline: i64::MAX,
            last_ack: now,
            was_up: false,
            connected: false,
        }
    }

    /// The snapshot transfer under way, from `+FULLRESYNC` until the snapshot is complete.
    pub fn transfer(&self) -> Option<Transfer> {
        match &self.state {
            State::WaitBulkHeader { .. } => Some(Transfer { total: -1, read: 0 }),
            State::Bulk { data, size, .. } => Some(Transfer {
                total: match size {
                    BulkSize::Len(len) => *len as i64,
                    BulkSize::Eof(_) => 0,
                },
                read: data.len() as i64,
            }),
            _ => None,
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// True while the stream flows.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Streaming)
    }

    /// Time passes: connect when the wait is over, send the periodic ACK, give up on a silent
    /// master.
    pub fn tick(&mut self, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        match self.state {
            State::Waiting { at } if now >= at => {
                self.state = State::Connecting;
                self.deadline = i64::MAX;
                out.push(Output::Emit(Event::ConnectingToMaster {
                    addr: self.addr(),
                }));
                out.push(Output::Connect);
            }
            State::Waiting { .. } | State::Connecting | State::Loading { .. } => {}
            State::Streaming => {
                if now > self.deadline {
                    self.fail(now, Some(Event::MasterTimedOut), &mut out);
                } else if now - self.last_ack >= ACK_PERIOD_MS {
                    self.last_ack = now;
                    out.push(Output::SendAck);
                }
            }
            _ => {
                if now > self.deadline {
                    let event = match self.state {
                        State::Bulk { .. } => Event::MasterTransferTimeout,
                        _ => Event::MasterConnectTimeout,
                    };
                    self.fail(now, Some(event), &mut out);
                }
            }
        }
        out
    }

    /// The connection is open: start the handshake.
    pub fn connected(&mut self, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        if !matches!(self.state, State::Connecting) {
            return out;
        }
        self.connected = true;
        self.buf.clear();
        self.pending_raw.clear();
        self.parser = RequestParser::new(i64::MAX);
        out.push(Output::Status(LinkStatus::Syncing));
        out.push(Output::Emit(Event::MasterSyncStarted));
        out.push(send(&[b"PING"]));
        self.state = State::WaitPong;
        self.deadline = now + SYNC_IO_TIMEOUT_MS;
        out
    }

    /// The connection could not be opened.
    pub fn connect_failed(&mut self, now: i64, error: String) -> Vec<Output> {
        let mut out = Vec::new();
        if matches!(self.state, State::Connecting) {
            self.fail(now, Some(Event::MasterConnectFailed { error }), &mut out);
        }
        out
    }

    /// The connection closed (EOF, an error), or must be (`CLIENT KILL TYPE master`).
    pub fn closed(&mut self, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        match self.state {
            State::Waiting { .. } => {}
            State::Streaming | State::Loading { .. } => self.fail(now, None, &mut out),
            _ => self.fail(
                now,
                Some(Event::MasterTransferFailed {
                    error: "connection lost".into(),
                }),
                &mut out,
            ),
        }
        out
    }

    /// The driver finished [`Output::LoadSnapshot`]: `Ok` once the dataset was replaced,
    /// `Err` with the loader's error.
    pub fn snapshot_loaded(&mut self, now: i64, result: Result<(), String>) -> Vec<Output> {
        let mut out = Vec::new();
        let State::Loading { eof } = self.state else {
            return out;
        };
        match result {
            Ok(()) => {
                out.push(Output::Emit(Event::MasterSyncFinished));
                self.start_streaming(now, &mut out);
                if eof {
                    // A diskless master starts the stream at the first ACK: send it now.
                    out.push(Output::SendAck);
                }
                // Bytes the master streamed behind the snapshot are already buffered.
                self.stream(now, &mut out);
            }
            Err(error) => {
                self.fail(now, Some(Event::MasterRdbLoadFailed { error }), &mut out);
            }
        }
        out
    }

    /// Bytes from the master. `history` is what the replica holds now (used when the
    /// handshake reaches `PSYNC`).
    pub fn received(&mut self, now: i64, bytes: &[u8], history: &History) -> Vec<Output> {
        let mut out = Vec::new();
        if matches!(self.state, State::Waiting { .. } | State::Connecting) {
            return out;
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let progressed = match self.state {
                State::WaitPong
                | State::WaitAuth
                | State::WaitReplconf { .. }
                | State::WaitPsync
                | State::WaitBulkHeader { .. } => {
                    let Some(line) = self.take_line(now, &mut out) else {
                        break;
                    };
                    self.deadline = now + SYNC_IO_TIMEOUT_MS;
                    self.handle_line(now, line, history, &mut out);
                    true
                }
                State::Bulk { .. } => {
                    self.deadline = now + SYNC_IO_TIMEOUT_MS;
                    self.collect_bulk(&mut out);
                    false
                }
                State::Streaming => {
                    self.deadline = now + self.config.timeout_ms;
                    self.stream(now, &mut out);
                    false
                }
                State::Waiting { .. } | State::Connecting | State::Loading { .. } => false,
            };
            if !progressed {
                break;
            }
        }
        out
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.config.host, self.config.port)
    }

    /// A complete reply line, without CRLF, skipping `\n` keep-alives.
    fn take_line(&mut self, now: i64, out: &mut Vec<Output>) -> Option<String> {
        while self.buf.first() == Some(&b'\n') {
            self.buf.advance(1);
        }
        let Some(pos) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > MAX_LINE {
                let error = "reply line too long".to_string();
                self.fail(now, Some(Event::MasterProtocolError { error }), out);
            }
            return None;
        };
        let line = self.buf.split_to(pos + 1);
        let text = String::from_utf8_lossy(&line[..pos]);
        Some(text.trim_end_matches('\r').to_string())
    }

    fn handle_line(&mut self, now: i64, line: String, history: &History, out: &mut Vec<Output>) {
        match std::mem::replace(&mut self.state, State::Connecting) {
            State::WaitPong => {
                // NOAUTH / NOPERM mean "reachable, authenticate next".
                if line.starts_with('-')
                    && !line.starts_with("-NOAUTH")
                    && !line.starts_with("-NOPERM")
                    && !line.starts_with("-ERR operation not permitted")
                {
                    return self.fail(now, Some(Event::PingRefused { reply: line }), out);
                }
                out.push(Output::Emit(Event::MasterRepliedToPing));
                match self.config.auth.clone() {
                    Some((Some(user), password)) => {
                        out.push(send(&[b"AUTH", user.as_bytes(), password.as_bytes()]));
                        self.state = State::WaitAuth;
                    }
                    Some((None, password)) => {
                        out.push(send(&[b"AUTH", password.as_bytes()]));
                        self.state = State::WaitAuth;
                    }
                    None => self.send_replconf(out),
                }
            }
            State::WaitAuth => {
                if line.starts_with('-') {
                    return self.fail(now, Some(Event::MasterAuthFailed { error: line }), out);
                }
                self.send_replconf(out);
            }
            State::WaitReplconf { answered } => {
                if line.starts_with('-') {
                    // Old masters may refuse REPLCONF; Redis goes on, and so do we.
                    let what = if answered == 0 {
                        "listening-port"
                    } else {
                        "capa"
                    };
                    out.push(Output::Emit(Event::ReplconfRefused {
                        what: what.into(),
                        reply: line,
                    }));
                }
                if answered == 0 {
                    self.state = State::WaitReplconf { answered: 1 };
                } else {
                    self.send_psync(history, out);
                }
            }
            State::WaitPsync => self.handle_psync_reply(now, line, out),
            State::WaitBulkHeader { replid, offset } => {
                let Some(spec) = line.strip_prefix('$') else {
                    return self.fail(now, Some(Event::BadBulkHeader { reply: line }), out);
                };
                let size = if let Some(mark) = spec.strip_prefix("EOF:") {
                    out.push(Output::Emit(Event::ReceivingStreamedRdb));
                    BulkSize::Eof(mark.as_bytes().to_vec())
                } else if let Ok(len) = spec.parse::<usize>() {
                    out.push(Output::Emit(Event::ReceivingRdb { bytes: len }));
                    BulkSize::Len(len)
                } else {
                    return self.fail(now, Some(Event::BadBulkHeader { reply: line }), out);
                };
                self.state = State::Bulk {
                    replid,
                    offset,
                    data: BytesMut::new(),
                    size,
                };
                self.collect_bulk(out);
            }
            other => self.state = other,
        }
    }

    fn send_replconf(&mut self, out: &mut Vec<Output>) {
        let port = self.config.listening_port.to_string();
        out.push(send(&[b"REPLCONF", b"listening-port", port.as_bytes()]));
        out.push(send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]));
        self.state = State::WaitReplconf { answered: 0 };
    }

    fn send_psync(&mut self, history: &History, out: &mut Vec<Output>) {
        let (replid, offset) = if history.known {
            out.push(Output::Emit(Event::PartialResyncTried {
                replid: history.replid.clone(),
                offset: history.offset + 1,
            }));
            (history.replid.clone(), history.offset + 1)
        } else {
            out.push(Output::Emit(Event::PartialResyncImpossible));
            ("?".to_string(), -1)
        };
        let offset = offset.to_string();
        out.push(send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()]));
        self.state = State::WaitPsync;
    }

    // ANCHOR: handle_psync_reply
    fn handle_psync_reply(&mut self, now: i64, reply: String, out: &mut Vec<Output>) {
        if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
            let mut parts = rest.split_whitespace();
            let (Some(replid), Some(Ok(offset))) =
                (parts.next(), parts.next().map(str::parse::<i64>))
            else {
                return self.fail(now, Some(Event::UnexpectedPsyncReply { reply }), out);
            };
            out.push(Output::Emit(Event::FullResyncFromMaster {
                replid: replid.to_string(),
                offset,
            }));
            self.state = State::WaitBulkHeader {
                replid: replid.to_string(),
                offset,
            };
        } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
            let new_id = rest.trim();
            out.push(Output::Continue {
                new_replid: (!new_id.is_empty()).then(|| new_id.to_string()),
            });
            out.push(Output::Emit(Event::PartialResyncFromMaster));
            out.push(Output::Emit(Event::PartialResyncAcceptedByMaster));
            self.start_streaming(now, out);
        } else {
            self.fail(now, Some(Event::UnexpectedPsyncReply { reply }), out);
        }
    }
    // ANCHOR_END: handle_psync_reply

    /// Moves bulk bytes from the buffer into the snapshot; hands it over once complete.
    fn collect_bulk(&mut self, out: &mut Vec<Output>) {
        let State::Bulk { data, size, .. } = &mut self.state else {
            return;
        };
        let complete = match size {
            BulkSize::Len(len) => {
                let take = (*len - data.len()).min(self.buf.len());
                data.extend_from_slice(&self.buf.split_to(take));
                data.len() == *len
            }
            BulkSize::Eof(mark) => {
                data.extend_from_slice(&self.buf.split());
                if data.len() >= mark.len() && data.ends_with(mark) {
                    let keep = data.len() - mark.len();
                    data.truncate(keep);
                    true
                } else {
                    false
                }
            }
        };
        if !complete {
            return;
        }
        let eof = matches!(size, BulkSize::Eof(_));
        let State::Bulk {
            replid,
            offset,
            data,
            ..
        } = std::mem::replace(&mut self.state, State::Loading { eof })
        else {
            return;
        };
        out.push(Output::LoadSnapshot {
            rdb: data.freeze(),
            replid,
            offset,
        });
    }

    fn start_streaming(&mut self, now: i64, out: &mut Vec<Output>) {
        self.state = State::Streaming;
        self.deadline = now + self.config.timeout_ms;
        self.last_ack = now;
        self.backoff_ms = FIRST_BACKOFF_MS;
        self.was_up = true;
        self.parser = RequestParser::new(i64::MAX);
        self.pending_raw.clear();
        out.push(Output::Status(LinkStatus::Up));
    }

    /// Cuts every complete command out of the buffer, keeping the exact bytes each one took on
    /// the wire (a command may span several reads: `pending_raw` holds its first part).
    fn stream(&mut self, now: i64, out: &mut Vec<Output>) {
        let snapshot = self.buf.clone().freeze();
        let mut pos = 0;
        loop {
            let before = self.buf.len();
            let parsed = self.parser.parse(&mut self.buf);
            let consumed = before - self.buf.len();
            self.pending_raw
                .extend_from_slice(&snapshot[pos..pos + consumed]);
            pos += consumed;
            let argv = match parsed {
                Ok(Some(argv)) => argv,
                Ok(None) => return,
                Err(e) => {
                    let error = e.to_string();
                    return self.fail(now, Some(Event::MasterProtocolError { error }), out);
                }
            };
            let raw = self.pending_raw.split().freeze();
            if argv.is_empty() {
                continue; // a bare \n keep-alive: not part of the stream
            }
            if argv.len() >= 2
                && argv[0].eq_ignore_ascii_case(b"replconf")
                && argv[1].eq_ignore_ascii_case(b"getack")
            {
                // The ACK does not count the GETACK itself.
                out.push(Output::SendAck);
                out.push(Output::Proxy(raw));
            } else if argv[0].eq_ignore_ascii_case(b"ping") {
                out.push(Output::Proxy(raw));
            } else {
                out.push(Output::Apply { argv, raw });
            }
        }
    }

    /// The link failed: say why, close, and wait before the next attempt.
    fn fail(&mut self, now: i64, why: Option<Event>, out: &mut Vec<Output>) {
        if let Some(event) = why {
            out.push(Output::Emit(event));
        }
        if self.was_up {
            out.push(Output::Emit(Event::MasterLinkLost));
            out.push(Output::Emit(Event::CachingMasterState));
            self.was_up = false;
            self.backoff_ms = FIRST_BACKOFF_MS;
        }
        if std::mem::take(&mut self.connected) {
            out.push(Output::Disconnect);
        }
        out.push(Output::Status(LinkStatus::Down));
        self.state = State::Waiting {
            at: now + self.backoff_ms,
        };
        self.backoff_ms = (self.backoff_ms * 2).min(MAX_BACKOFF_MS);
        self.deadline = i64::MAX;
        self.buf.clear();
    }
}

/// `REPLCONF ACK <offset>`, as [`Output::SendAck`] asks the driver to send.
pub fn ack_command(offset: i64) -> Bytes {
    let offset = offset.to_string();
    let argv = [&b"REPLCONF"[..], b"ACK", offset.as_bytes()].map(Bytes::copy_from_slice);
    let mut out = BytesMut::new();
    encode_command(&argv, &mut out);
    out.freeze()
}

fn send(argv: &[&[u8]]) -> Output {
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut out = bytes::BytesMut::new();
    encode_command(&argv, &mut out);
    Output::Send(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LinkConfig {
        LinkConfig {
            host: "127.0.0.1".into(),
            port: 6379,
            auth: Some((None, "redis".into())),
            listening_port: 6380,
            timeout_ms: 60_000,
        }
    }

    fn no_history() -> History {
        History {
            replid: "?".into(),
            offset: 0,
            known: false,
        }
    }

    fn sent(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn events(out: &[Output]) -> Vec<&'static str> {
        out.iter()
            .filter_map(|o| match o {
                Output::Emit(e) => Some(e.kind()),
                _ => None,
            })
            .collect()
    }

    /// Drives a link to the point where it sent PSYNC.
    fn handshake(link: &mut ReplicaLink, history: &History) -> Vec<Output> {
        assert!(link.tick(0).contains(&Output::Connect));
        let out = link.connected(0);
        assert_eq!(sent(&out), ["*1\r\n$4\r\nPING\r\n"]);
        let out = link.received(1, b"-NOAUTH Authentication required.\r\n", history);
        assert_eq!(sent(&out), ["*2\r\n$4\r\nAUTH\r\n$5\r\nredis\r\n"]);
        let out = link.received(2, b"+OK\r\n", history);
        assert_eq!(sent(&out).len(), 2, "REPLCONF listening-port and capa");
        link.received(3, b"+OK\r\n+OK\r\n", history)
    }

    #[test]
    fn a_first_sync_loads_the_snapshot_then_applies_the_stream_with_exact_bytes() {
        let mut link = ReplicaLink::new(config(), 0);
        let out = handshake(&mut link, &no_history());
        assert_eq!(sent(&out), ["*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"]);
        assert_eq!(link.transfer(), None, "no transfer before +FULLRESYNC");
        let id = "a".repeat(40);
        link.received(
            4,
            format!("+FULLRESYNC {id} 14\r\n").as_bytes(),
            &no_history(),
        );
        let header_pending = Transfer { total: -1, read: 0 };
        assert_eq!(
            link.transfer(),
            Some(header_pending),
            "Redis's -1: size unknown yet"
        );
        let out = link.received(4, b"\n\n$3\r\nab", &no_history());
        assert_eq!(events(&out), ["receiving-rdb"]);
        assert_eq!(link.transfer(), Some(Transfer { total: 3, read: 2 }));
        // The last snapshot byte and the first stream command arrive together.
        let out = link.received(5, b"c*1\r\n$4\r\nping\r\n*3\r\n$3\r\nSET", &no_history());
        assert_eq!(
            out,
            [Output::LoadSnapshot {
                rdb: Bytes::from_static(b"abc"),
                replid: id,
                offset: 14
            }]
        );
        assert_eq!(link.transfer(), None, "the transfer is over once complete");
        let out = link.snapshot_loaded(6, Ok(()));
        assert_eq!(events(&out), ["master-sync-finished"]);
        assert!(out.contains(&Output::Status(LinkStatus::Up)));
        assert!(out.contains(&Output::Proxy(Bytes::from_static(b"*1\r\n$4\r\nping\r\n"))));
        let out = link.received(7, b"\r\n$1\r\nk\r\n$1\r\nv\r\n", &no_history());
        assert_eq!(
            out,
            [Output::Apply {
                argv: vec!["SET".into(), "k".into(), "v".into()],
                raw: Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
            }]
        );
        assert!(link.is_up());
        assert_eq!(link.tick(1007), [Output::SendAck], "ACK every second");
    }

    #[test]
    fn a_known_history_asks_for_a_partial_resync_and_continue_adopts_a_new_id() {
        let history = History {
            replid: "b".repeat(40),
            offset: 100,
            known: true,
        };
        let mut link = ReplicaLink::new(config(), 0);
        let out = handshake(&mut link, &history);
        assert_eq!(events(&out), ["partial-resync-tried"]);
        assert!(sent(&out)[0].ends_with("$3\r\n101\r\n"));
        let new_id = "c".repeat(40);
        let out = link.received(4, format!("+CONTINUE {new_id}\r\n").as_bytes(), &history);
        assert_eq!(
            out[0],
            Output::Continue {
                new_replid: Some(new_id)
            }
        );
        assert!(link.is_up());
    }

    #[test]
    fn getack_is_answered_before_its_own_bytes_count() {
        let mut link = ReplicaLink::new(config(), 0);
        handshake(&mut link, &no_history());
        link.received(4, b"+CONTINUE\r\n", &no_history());
        let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
        let out = link.received(5, getack, &no_history());
        assert_eq!(
            out,
            [Output::SendAck, Output::Proxy(Bytes::from_static(getack))]
        );
    }

    #[test]
    fn failures_back_off_doubling_to_five_seconds_and_a_silent_master_is_dropped() {
        let mut link = ReplicaLink::new(config(), 0);
        link.tick(0);
        let out = link.connect_failed(0, "Connection refused".into());
        assert_eq!(events(&out), ["master-connect-failed"]);
        assert!(link.tick(999).is_empty());
        assert!(link.tick(1000).contains(&Output::Connect));
        link.connect_failed(1000, "refused".into());
        assert!(link.tick(2999).is_empty(), "second wait is 2 s");
        assert!(link.tick(3000).contains(&Output::Connect));
        for _ in 0..5 {
            let now = 100_000;
            link.connect_failed(now, "refused".into());
            link.tick(now + 10_000);
        }
        let out = link.connected(200_000);
        assert!(!out.is_empty());
        link.received(200_001, b"+PONG\r\n", &no_history());
        // A wrong password: the link stays down and is retried.
        let out = link.received(200_002, b"-WRONGPASS invalid\r\n", &no_history());
        assert_eq!(events(&out), ["master-auth-failed"]);
        assert!(out.contains(&Output::Disconnect));

        let mut link = ReplicaLink::new(config(), 0);
        handshake(&mut link, &no_history());
        link.received(4, b"+CONTINUE\r\n", &no_history());
        let out = link.tick(4 + 60_001);
        assert_eq!(
            events(&out),
            [
                "master-timed-out",
                "master-link-lost",
                "caching-master-state"
            ]
        );
        assert!(out.contains(&Output::Status(LinkStatus::Down)));
    }

    #[test]
    fn a_master_dying_mid_transfer_never_hands_over_a_partial_snapshot() {
        let mut link = ReplicaLink::new(config(), 0);
        handshake(&mut link, &no_history());
        let reply = format!(
            "+FULLRESYNC {} 0\r\n$EOF:{}\r\nabc",
            "a".repeat(40),
            "m".repeat(40)
        );
        link.received(4, reply.as_bytes(), &no_history());
        let diskless = Transfer { total: 0, read: 3 };
        assert_eq!(
            link.transfer(),
            Some(diskless),
            "a diskless size is unknown: 0"
        );
        let out = link.closed(5);
        assert_eq!(link.transfer(), None);
        assert!(!out.iter().any(|o| matches!(o, Output::LoadSnapshot { .. })));
        assert_eq!(events(&out), ["master-transfer-failed"]);
        assert!(out.contains(&Output::Disconnect), "the socket is closed");
    }
}
