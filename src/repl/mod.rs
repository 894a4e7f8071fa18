//! Replication state, as Redis 7.0 keeps it (`replication.c`), with no I/O: what the core
//! holds and the rules it decides by. The tasks that move bytes live in the runtime
//! (`node::replica_link`, `node::serve_replica`); the stream is built by
//! `server::propagation::flush` under the keyspace lock, so the stream order is the apply order.
//!
//! - [`ReplState`]: the role's link to a master ([`MasterLink`]), replication id and offset,
//!   the secondary id of PSYNC2, the replicas and their ACKs, and PSYNC's rule
//!   ([`ReplState::can_continue`]).
//! - [`link`]: the replica's side of a sync as a state machine (handshake, PSYNC, transfer,
//!   streaming, ACKs, backoff), driven by `node::replica_link` and by the simulator.
//! - [`serve`]: the master's side of a sync as a state machine (PSYNC's answer, sharing and
//!   delaying snapshots, keep-alives, going online, timeouts), driven by
//!   `node::serve_replica` and by the simulator.
//! - [`backlog`]: the last bytes of the stream, for partial resyncs.
//! - [`stream`]: the per-replica channel with its output-buffer limit.
//!
//! PSYNC2: a replica keeps its master's replication id and offset; when promoted it keeps
//! serving the old id as `replid2` up to the offset where the history forked, so its former
//! siblings can resume against it. What is left out: `repl-diskless-load` (replicas always load
//! from a file), and `REPLCONF rdb-only`.

pub mod backlog;
pub mod link;
pub mod serve;
pub mod stream;

use bytes::{BufMut, Bytes, BytesMut};
use rand::Rng;

use backlog::Backlog;

/// The smallest backlog Redis keeps (`CONFIG_REPL_BACKLOG_MIN_SIZE`).
pub const MIN_BACKLOG_SIZE: usize = 16 * 1024;

/// The id Redis shows when there is no secondary history.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// How far a replica has got, as the master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for a snapshot to be started for it (`wait_bgsave`; it gets no stream yet).
    WaitBgsaveStart,
    /// Its snapshot is being taken; the stream since the snapshot's offset is buffered for it
    /// (`wait_bgsave`).
    WaitBgsaveEnd,
    /// The snapshot is being sent (`send_bulk`).
    SendBulk,
    /// Streaming (`online`).
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// One replica connected to this node.
#[derive(Debug)]
pub struct ReplicaLink {
    /// The connection's client id (`CLIENT ID`).
    pub client: u64,
    pub ip: String,
    /// The port it listens on (`REPLCONF listening-port`), shown as `slaveN:port=`.
    pub port: u16,
    pub state: ReplicaState,
    /// The offset it acknowledged last (`REPLCONF ACK`).
    pub ack_offset: i64,
    /// Unix ms of its last ACK.
    pub last_ack_ms: i64,
    /// Stream bytes for it; `None` once it must be dropped.
    pub stream: stream::StreamSink,
    /// It asked with PSYNC (an old `SYNC` gets no `+FULLRESYNC` line).
    pub psync: bool,
    /// It can take a diskless snapshot (`capa eof`, with PSYNC).
    pub capa_eof: bool,
    /// Unix ms since when it waits for a snapshot (`repl-diskless-sync-delay` counts from it).
    pub waiting_since_ms: i64,
    /// The offset its snapshot is taken at (`psync_initial_offset`).
    pub initial_offset: i64,
    /// Online after a diskless transfer, its stream starts with its first ACK.
    pub stream_on_ack: bool,
    /// It acknowledged while its diskless transfer's child was still being reaped: it has
    /// read the whole snapshot, so its stream starts as soon as the child is done.
    pub acked_during_transfer: bool,
}

impl ReplicaLink {
    /// A replica that just asked for a sync (`wait_bgsave` until [`ReplState::sync_requested`]
    /// decides).
    pub fn new(
        client: u64,
        ip: String,
        port: u16,
        stream: stream::StreamSink,
        now_ms: i64,
    ) -> ReplicaLink {
        ReplicaLink {
            client,
            ip,
            port,
            state: ReplicaState::WaitBgsaveStart,
            ack_offset: 0,
            last_ack_ms: now_ms,
            stream,
            psync: false,
            capa_eof: false,
            waiting_since_ms: now_ms,
            initial_offset: 0,
            stream_on_ack: false,
            acked_during_transfer: false,
        }
    }

    /// `ip:port`, as the log names it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// Our link to our master, when we are a replica.
#[derive(Debug, Clone)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// `up` once the stream flows.
    pub up: bool,
    /// Unix ms of the last byte received from the master.
    pub last_io_ms: i64,
    /// Unix ms when the link went down (for `master_link_down_since_seconds`).
    pub down_since_ms: i64,
    pub sync_in_progress: bool,
    /// The snapshot transfer of a full sync, while one is under way.
    pub transfer: Option<link::Transfer>,
    /// Bumped at every REPLICAOF so that an old link task knows it was replaced.
    pub generation: u64,
}

/// Replication state of a node, master or replica.
#[derive(Debug)]
pub struct ReplState {
    /// This history's id (`master_replid`).
    pub replid: String,
    /// The previous history's id, valid up to `second_offset` (PSYNC2).
    pub replid2: String,
    /// Last byte of the stream (`master_repl_offset`). On a replica: what it has processed.
    pub offset: i64,
    /// `second_repl_offset`: the first offset where `replid2` is no longer valid, or -1.
    pub second_offset: i64,
    pub backlog: Option<Backlog>,
    pub backlog_size: usize,
    pub replicas: Vec<ReplicaLink>,
    /// The db the stream last SELECTed (None: the next write must SELECT).
    pub stream_db: Option<usize>,
    pub master: Option<MasterLink>,
    pub next_generation: u64,
    /// True once `replid`/`offset` describe a master's history we hold data of (after a sync,
    /// or loaded from an RDB's aux fields): a replica then asks `PSYNC <replid> <offset+1>`
    /// instead of `PSYNC ? -1`.
    pub has_history: bool,
    /// INFO stats counters.
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// The master side's sync machine ([`serve`]).
    pub serving: serve::Serving,
}

impl ReplState {
    pub fn new(backlog_size: usize, replid: String) -> ReplState {
        ReplState {
            replid,
            replid2: NO_REPLID.to_string(),
            offset: 0,
            second_offset: -1,
            backlog: None,
            backlog_size,
            replicas: Vec::new(),
            stream_db: None,
            master: None,
            next_generation: 1,
            has_history: false,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            serving: serve::Serving::default(),
        }
    }

    /// Starts a new history (`changeReplicationId`).
    pub fn new_replid(&mut self, rng: &mut impl Rng) {
        self.replid = random_hex_id(rng);
    }

    /// Keeps the current id as the secondary one, valid up to the current offset, and starts a
    /// new history (`shiftReplicationId`, on promotion).
    pub fn shift_replid(&mut self, rng: &mut impl Rng) {
        self.replid2 = std::mem::take(&mut self.replid);
        self.second_offset = self.offset + 1;
        self.new_replid(rng);
    }

    /// Appends raw stream bytes: offset, backlog, every replica whose snapshot is started
    /// (one still waiting for it gets the stream from its snapshot's offset).
    pub fn feed(&mut self, bytes: &Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.offset += bytes.len() as i64;
        if let Some(backlog) = self.backlog.as_mut() {
            backlog.append(bytes);
        }
        for replica in &self.replicas {
            if replica.state != ReplicaState::WaitBgsaveStart {
                replica.stream.send(bytes.clone());
            }
        }
    }

    /// `+CONTINUE <id>` from a master with a new id (it was promoted): its old history is
    /// ours up to here (PSYNC2). Returns true if the id changed.
    pub fn adopt_master_replid(&mut self, new_id: &str, rng: &mut impl Rng) -> bool {
        if new_id == self.replid {
            return false;
        }
        self.shift_replid(rng);
        self.replid = new_id.to_string();
        true
    }

    /// `CONFIG SET repl-backlog-size` (`resizeReplicationBacklog`): at least 16 KiB, as in
    /// Redis; an existing backlog keeps its newest bytes.
    pub fn set_backlog_size(&mut self, size: usize) {
        self.backlog_size = size.max(MIN_BACKLOG_SIZE);
        if let Some(backlog) = self.backlog.as_mut() {
            backlog.resize(self.backlog_size);
        }
    }

    /// Creates the backlog if there is none (the first replica asks for a sync).
    pub fn ensure_backlog(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(self.backlog_size, self.offset));
        }
    }

    /// Whether a PSYNC for `replid` at `offset` can continue from the backlog.
    pub fn can_continue(&self, replid: &str, offset: i64) -> Result<(), String> {
        let matches_history =
            replid == self.replid || (replid == self.replid2 && offset <= self.second_offset);
        if !matches_history {
            return Err(format!(
                "Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                self.replid, self.replid2
            ));
        }
        let Some(backlog) = self.backlog.as_ref() else {
            return Err("no backlog".into());
        };
        if offset < backlog.first_offset() || offset > self.offset + 1 {
            return Err(format!(
                "Requested offset for second ID was {offset}, but I can reply up to {}",
                self.offset
            ));
        }
        Ok(())
    }

    // ANCHOR: answer_psync
    /// PSYNC's answer (`masterTryPartialResynchronization`): continue from the backlog, or
    /// not (with why, when the replica had a history to offer). Counts the attempt.
    pub fn answer_psync(&mut self, request: &SyncRequest) -> Psync {
        let Some((replid, offset)) = &request.psync else {
            return Psync::Full { rejected: None };
        };
        match self.can_continue(replid, *offset) {
            Ok(()) => {
                let missing = self
                    .backlog
                    .as_ref()
                    .and_then(|b| b.since(*offset))
                    .map(Bytes::from)
                    .unwrap_or_default();
                self.sync_partial_ok += 1;
                let reply = if request.capa_psync2 {
                    format!("+CONTINUE {}\r\n", self.replid)
                } else {
                    "+CONTINUE\r\n".to_string()
                };
                Psync::Continue {
                    reply,
                    missing,
                    offset: *offset,
                }
            }
            Err(reason) if replid != "?" => {
                self.sync_partial_err += 1;
                Psync::Full {
                    rejected: Some(reason),
                }
            }
            Err(_) => Psync::Full { rejected: None },
        }
    }
    // ANCHOR_END: answer_psync

    /// Online replicas whose last ACK is at most `max_lag` seconds old at `now_ms`
    /// (`min-replicas-max-lag`).
    pub fn good_replicas(&self, now_ms: i64, max_lag: i64) -> usize {
        self.replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online && (now_ms - r.last_ack_ms) / 1000 <= max_lag
            })
            .count()
    }

    /// Replicas that acknowledged at least `offset`.
    pub fn acked_replicas(&self, offset: i64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// True while this node replicates from a master.
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Replicas in state online.
    pub fn online_replicas(&self) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online)
            .count()
    }
}

/// Encodes one command as a RESP multibulk.
pub fn encode_command(argv: &[Bytes], out: &mut BytesMut) {
    out.put_u8(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.put_u8(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// What a replica asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRequest {
    /// `PSYNC <replid> <offset>`; None for the old `SYNC`.
    pub psync: Option<(String, i64)>,
    pub listening_port: Option<u16>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
}

/// PSYNC's answer; see [`ReplState::answer_psync`].
#[derive(Debug, Clone, PartialEq)]
pub enum Psync {
    /// `+CONTINUE [replid]`, then the `missing` backlog bytes from `offset`.
    Continue {
        reply: String,
        missing: Bytes,
        offset: i64,
    },
    /// A full resync; `rejected` says why the replica's history could not continue.
    Full { rejected: Option<String> },
}

/// A fresh 40-hex-character id (run ids, replication ids), as Redis's `getRandomHexChars`.
pub fn random_hex_id(rng: &mut impl Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..40).map(|_| HEX[rng.gen_range(0..16)] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_continues_only_within_history_and_backlog() {
        let mut state = ReplState::new(1 << 20, "a".repeat(40));
        state.ensure_backlog();
        state.feed(&Bytes::from_static(b"*1\r\n$4\r\nping\r\n"));
        let id = state.replid.clone();
        assert!(state.can_continue(&id, 1).is_ok());
        assert!(state.can_continue(&id, 15).is_ok(), "nothing missing");
        assert!(state.can_continue(&id, 16).is_err(), "beyond the end");
        assert!(state.can_continue("x", 1).is_err());
        let mut rng = rand::thread_rng();
        state.shift_replid(&mut rng);
        assert_eq!(state.replid2, id);
        assert_eq!(state.second_offset, 15);
        assert!(
            state.can_continue(&id, 15).is_ok(),
            "old history up to the fork"
        );
        assert!(state.can_continue(&id, 16).is_err());
    }
}
