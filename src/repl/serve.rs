//! The master's side of a sync as a state machine with no I/O (`replication.c`:
//! `syncCommand`, `startBgsaveForReplication`, `shouldStartChildForReplication`,
//! `updateSlavesWaitingBgsave`, `replicaPutOnline`, `replicationCron`).
//!
//! The machine is a set of inputs on [`ReplState`], which holds the replicas: a replica asked
//! for a sync ([`ReplState::sync_requested`]), the snapshot child could or could not be
//! started ([`ReplState::bgsave_started`]), a snapshot child ended
//! ([`ReplState::bgsave_done`]), the dump was sent to a replica ([`ReplState::rdb_sent`]), a
//! replica acknowledged ([`ReplState::replconf_ack`]), and time passed
//! ([`ReplState::serve_tick`]). Outputs ([`ServeOutput`]) say what to do: start a snapshot
//! child (to disk, or straight to the replicas' sockets), send a replica its `+FULLRESYNC` /
//! `+CONTINUE` and keep-alives, send it the dump, start its stream, drop it, and the events to
//! log. Time, randomness and the state of child processes are arguments; the tokio driver is
//! `node::serve_replica`, and the simulator drives the same machine.
//!
//! A replica's way, as Redis 7.0 takes it:
//! - `PSYNC` with a history the backlog still covers: `+CONTINUE`, the missing bytes, online.
//! - Otherwise it waits for a snapshot (`wait_bgsave`). If a BGSAVE to disk started for
//!   another replica is running, it attaches to it: it gets the same `+FULLRESYNC <offset>`
//!   and the stream since that offset (from the backlog). A BGSAVE it cannot use (one a user
//!   started, one writing to other replicas' sockets, an AOF rewrite) makes it wait for the
//!   next one. With `repl-diskless-sync` the snapshot waits `repl-diskless-sync-delay` seconds
//!   for more replicas, or until `repl-diskless-sync-max-replicas` are waiting, then one child
//!   writes it to all their sockets.
//! - Disk: when the child is done the dump is sent (`$<len>`), then the replica is online and
//!   its stream (buffered since the snapshot's offset) flows. Socket: when the child is done
//!   the replica is online but its stream starts only with its first `REPLCONF ACK`, so the
//!   end-of-snapshot mark is never glued to stream bytes. A replica that loads quickly can
//!   send that ACK before the child is reaped; Redis ignores it and waits for the next one (a
//!   second later), here it is remembered and the stream starts when the child is done. An
//!   online replica (including one still waiting for that first ACK) silent for
//!   `repl-timeout` is dropped.
//! - Waiting replicas get a `\n` keep-alive every second, except while a child writes to
//!   their socket.

use bytes::Bytes;
use rand::Rng;

use super::{Psync, ReplState, ReplicaLink, ReplicaState, SyncRequest, NO_REPLID};
use crate::events::Event;

/// A connection's client id.
pub type ClientId = u64;

/// Where a snapshot for replication goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A BGSAVE to the dump file, then sent to each replica.
    Disk,
    /// A child writing the snapshot straight to the replicas' sockets (diskless).
    Socket,
}

impl Target {
    /// As Redis's log names it.
    pub fn name(self) -> &'static str {
        match self {
            Target::Disk => "disk",
            Target::Socket => "replicas sockets",
        }
    }
}

/// The configuration the machine decides by (read by the driver at each input).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeSettings {
    /// `repl-diskless-sync`.
    pub diskless: bool,
    /// `repl-diskless-sync-delay`, in ms.
    pub diskless_delay_ms: i64,
    /// `repl-diskless-sync-max-replicas` (0: no limit).
    pub diskless_max_replicas: usize,
    /// `repl-timeout`, in ms.
    pub timeout_ms: i64,
    /// `repl-ping-replica-period`, in ms.
    pub ping_period_ms: i64,
}

/// The node's child processes besides the machine's own diskless child, as the driver knows
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Children {
    /// A BGSAVE to disk is running (for replication or not).
    pub disk_bgsave: bool,
    /// Another child is running (an AOF rewrite).
    pub other: bool,
}

/// What to do for one replica.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaAction {
    /// Write these bytes to its socket now (replies, keep-alives), ahead of its stream.
    Send(Bytes),
    /// Send it the dump the last BGSAVE wrote (`$<len>` and the file); answer with
    /// [`ReplState::rdb_sent`].
    SendRdbFile,
    /// Start writing its stream (what was buffered since its snapshot, then the rest).
    StartStream,
    /// Close its connection (the machine already forgot it).
    Drop,
}

/// A snapshot child to start.
#[derive(Debug, Clone, PartialEq)]
pub struct BgsavePlan {
    pub target: Target,
    /// The replicas it serves, each with the bytes to write before the snapshot on a socket
    /// target (`+FULLRESYNC <replid> <offset>`, empty for an old `SYNC`).
    pub replicas: Vec<(ClientId, Bytes)>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum ServeOutput {
    Replica(ClientId, ReplicaAction),
    /// Flush pending writes, fork the snapshot child, and answer with
    /// [`ReplState::bgsave_started`].
    StartBgsave(BgsavePlan),
    Emit(Event),
}

/// The machine's own state, beside the replicas.
#[derive(Debug, Default)]
pub struct Serving {
    /// The snapshot child serving replicas, once started.
    child: Option<Target>,
    /// A child asked for with [`ServeOutput::StartBgsave`], not yet answered.
    starting: Option<BgsavePlan>,
    next_keepalive_ms: i64,
    next_ping_ms: i64,
}

impl Serving {
    /// The running snapshot child for replication, if any.
    pub fn child(&self) -> Option<Target> {
        self.child
    }
}

fn fullresync_line(replid: &str, offset: i64) -> Bytes {
    Bytes::from(format!("+FULLRESYNC {replid} {offset}\r\n"))
}

fn to(client: ClientId, action: ReplicaAction) -> ServeOutput {
    ServeOutput::Replica(client, action)
}

impl ReplState {
    // ANCHOR: sync_requested
    /// PSYNC or SYNC from the replica `link` (registered in `wait_bgsave`): continue from the
    /// backlog, attach it to a running BGSAVE, start one, or make it wait. Flush pending writes
    /// first: a snapshot taken now must not miss them, nor the stream repeat them.
    pub fn sync_requested(
        &mut self,
        now: i64,
        mut link: ReplicaLink,
        request: &SyncRequest,
        settings: &ServeSettings,
        children: Children,
        rng: &mut impl Rng,
    ) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        let addr = link.addr();
        let client = link.client;
        link.psync = request.psync.is_some();
        link.capa_eof = request.capa_eof && request.psync.is_some();
        link.waiting_since_ms = now;
        link.last_ack_ms = now;
        match self.answer_psync(request) {
            Psync::Continue {
                reply,
                missing,
                offset,
            } => {
                link.state = ReplicaState::Online;
                link.ack_offset = offset - 1;
                self.replicas.push(link);
                out.push(ServeOutput::Emit(Event::PartialResyncAccepted {
                    addr,
                    bytes: missing.len(),
                    offset,
                }));
                out.push(to(client, ReplicaAction::Send(Bytes::from(reply))));
                if !missing.is_empty() {
                    out.push(to(client, ReplicaAction::Send(missing)));
                }
                out.push(to(client, ReplicaAction::StartStream));
                return out;
            }
            Psync::Full {
                rejected: Some(reason),
            } => out.push(ServeOutput::Emit(Event::PartialResyncRejected { reason })),
            Psync::Full { rejected: None } => {
                out.push(ServeOutput::Emit(Event::FullResyncRequested { addr }))
            }
        }
        self.sync_full += 1;
        // The first replica creates the backlog, and with it a new history.
        if self.backlog.is_none() {
            self.new_replid(rng);
            self.replid2 = NO_REPLID.to_string();
            self.second_offset = -1;
            self.ensure_backlog();
            out.push(ServeOutput::Emit(Event::BacklogCreated {
                replid: self.replid.clone(),
                replid2: self.replid2.clone(),
            }));
        }
        link.state = ReplicaState::WaitBgsaveStart;
        let capa_eof = link.capa_eof;
        let psync = link.psync;
        self.replicas.push(link);
        match self.serving.child {
            Some(Target::Socket) => {
                out.push(ServeOutput::Emit(Event::BgsaveHasSocketTarget));
                return out;
            }
            Some(Target::Disk) => {
                if self.attach_to_disk_bgsave(client, psync, &mut out) {
                    out.push(ServeOutput::Emit(Event::WaitingForBgsaveEnd));
                } else {
                    out.push(ServeOutput::Emit(Event::BgsaveNotAttachable));
                }
                return out;
            }
            None if children.disk_bgsave => {
                out.push(ServeOutput::Emit(Event::BgsaveNotAttachable));
                return out;
            }
            None => {}
        }
        if settings.diskless && capa_eof && settings.diskless_delay_ms > 0 {
            out.push(ServeOutput::Emit(Event::DisklessSyncDelayed));
            // The delay may be cut short by repl-diskless-sync-max-replicas.
            self.start_pending(now, settings, children, &mut out);
        } else if children.other {
            out.push(ServeOutput::Emit(Event::BgsaveForSyncDelayed));
        } else {
            self.start_pending(now, settings, children, &mut out);
        }
        out
    }
    // ANCHOR_END: sync_requested

    /// Attaches a waiting replica to the running disk BGSAVE another replica waits for: same
    /// snapshot offset, and the stream since then from the backlog (Redis copies the other
    /// replica's buffer). False if there is no such replica or the backlog lost those bytes.
    fn attach_to_disk_bgsave(
        &mut self,
        client: ClientId,
        psync: bool,
        out: &mut Vec<ServeOutput>,
    ) -> bool {
        let Some(initial) = self
            .replicas
            .iter()
            .find(|r| r.state == ReplicaState::WaitBgsaveEnd)
            .map(|r| r.initial_offset)
        else {
            return false;
        };
        let since = if initial == self.offset {
            Some(Bytes::new())
        } else {
            self.backlog
                .as_ref()
                .and_then(|b| b.since(initial + 1))
                .map(Bytes::from)
        };
        let Some(since) = since else {
            return false;
        };
        let replid = self.replid.clone();
        let Some(link) = self.replicas.iter_mut().find(|r| r.client == client) else {
            return false;
        };
        link.state = ReplicaState::WaitBgsaveEnd;
        link.initial_offset = initial;
        if !since.is_empty() {
            link.stream.send(since);
        }
        if psync {
            out.push(to(
                client,
                ReplicaAction::Send(fullresync_line(&replid, initial)),
            ));
        }
        true
    }

    /// Starts a snapshot for the replicas waiting for one, when no child runs and (diskless)
    /// the delay is over or enough replicas wait (`shouldStartChildForReplication`).
    fn start_pending(
        &mut self,
        now: i64,
        settings: &ServeSettings,
        children: Children,
        out: &mut Vec<ServeOutput>,
    ) {
        if self.serving.child.is_some()
            || self.serving.starting.is_some()
            || children.disk_bgsave
            || children.other
        {
            return;
        }
        let waiting: Vec<&ReplicaLink> = self
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::WaitBgsaveStart)
            .collect();
        let Some(oldest) = waiting.iter().map(|r| r.waiting_since_ms).min() else {
            return;
        };
        let all_eof = waiting.iter().all(|r| r.capa_eof);
        let due = !settings.diskless
            || (settings.diskless_max_replicas > 0
                && waiting.len() >= settings.diskless_max_replicas)
            || now - oldest >= settings.diskless_delay_ms;
        if !due {
            return;
        }
        let target = if settings.diskless && all_eof {
            Target::Socket
        } else {
            Target::Disk
        };
        let line = fullresync_line(&self.replid, self.offset);
        let plan = BgsavePlan {
            target,
            replicas: waiting
                .iter()
                .map(|r| {
                    let preamble = if r.psync { line.clone() } else { Bytes::new() };
                    (r.client, preamble)
                })
                .collect(),
        };
        out.push(ServeOutput::Emit(Event::BgsaveForSyncStarted {
            target: target.name().into(),
        }));
        self.serving.starting = Some(plan.clone());
        out.push(ServeOutput::StartBgsave(plan));
    }

    /// The driver tried to start the child of [`ServeOutput::StartBgsave`]. On success its
    /// replicas wait for its end and receive the stream from the snapshot's offset; on failure
    /// they are told and dropped.
    pub fn bgsave_started(&mut self, _now: i64, result: Result<(), String>) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        let Some(plan) = self.serving.starting.take() else {
            return out;
        };
        match result {
            Ok(()) => {
                self.serving.child = Some(plan.target);
                let offset = self.offset;
                for (client, preamble) in plan.replicas {
                    let Some(link) = self.replicas.iter_mut().find(|r| r.client == client) else {
                        continue;
                    };
                    link.state = ReplicaState::WaitBgsaveEnd;
                    link.initial_offset = offset;
                    if plan.target == Target::Disk && !preamble.is_empty() {
                        out.push(to(client, ReplicaAction::Send(preamble)));
                    }
                }
            }
            Err(error) => {
                out.push(ServeOutput::Emit(Event::BgsaveForSyncFailed { error }));
                for (client, _) in plan.replicas {
                    if self.forget(client) {
                        let reply = "-ERR BGSAVE failed, replication can't continue\r\n";
                        out.push(to(
                            client,
                            ReplicaAction::Send(Bytes::from_static(reply.as_bytes())),
                        ));
                        out.push(to(client, ReplicaAction::Drop));
                    }
                }
            }
        }
        out
    }

    /// A BGSAVE child ended (`ok`: its snapshot is complete). Replicas waiting for it get the
    /// dump (disk) or go online (socket); then replicas still waiting get the next snapshot.
    pub fn bgsave_done(
        &mut self,
        now: i64,
        ok: bool,
        settings: &ServeSettings,
        children: Children,
    ) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        let target = self.serving.child.take().unwrap_or(Target::Disk);
        let ended: Vec<ClientId> = self
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::WaitBgsaveEnd)
            .map(|r| r.client)
            .collect();
        for client in ended {
            if !ok {
                self.forget(client);
                out.push(ServeOutput::Emit(Event::SyncBgsaveFailed));
                out.push(to(client, ReplicaAction::Drop));
                continue;
            }
            let Some(link) = self.replicas.iter_mut().find(|r| r.client == client) else {
                continue;
            };
            match target {
                Target::Disk => {
                    link.state = ReplicaState::SendBulk;
                    out.push(to(client, ReplicaAction::SendRdbFile));
                }
                Target::Socket => {
                    let addr = link.addr();
                    link.state = ReplicaState::Online;
                    link.last_ack_ms = now;
                    if std::mem::take(&mut link.acked_during_transfer) {
                        out.push(to(client, ReplicaAction::StartStream));
                    } else {
                        link.stream_on_ack = true;
                    }
                    out.push(ServeOutput::Emit(Event::DisklessTransferSucceeded {
                        addr: addr.clone(),
                    }));
                    out.push(ServeOutput::Emit(Event::ReplicaSynced { addr }));
                }
            }
        }
        self.start_pending(now, settings, children, &mut out);
        out
    }

    /// The dump was sent to `client` (`bytes` long): it is online and its stream flows.
    pub fn rdb_sent(&mut self, now: i64, client: ClientId, bytes: usize) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        let Some(link) = self
            .replicas
            .iter_mut()
            .find(|r| r.client == client && r.state == ReplicaState::SendBulk)
        else {
            return out;
        };
        link.state = ReplicaState::Online;
        link.last_ack_ms = now;
        let addr = link.addr();
        out.push(ServeOutput::Emit(Event::RdbTransferred {
            bytes,
            addr: addr.clone(),
        }));
        out.push(ServeOutput::Emit(Event::ReplicaSynced { addr }));
        out.push(to(client, ReplicaAction::StartStream));
        out
    }

    /// `REPLCONF ACK <offset>` from `client`; the first one after a diskless transfer starts
    /// its stream, or, sent before the transfer's child is reaped, is remembered for then.
    pub fn replconf_ack(&mut self, now: i64, client: ClientId, offset: i64) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        let socket_child = self.serving.child == Some(Target::Socket);
        if let Some(link) = self.replicas.iter_mut().find(|r| r.client == client) {
            link.ack_offset = offset;
            link.last_ack_ms = now;
            if std::mem::take(&mut link.stream_on_ack) {
                out.push(to(client, ReplicaAction::StartStream));
            } else if socket_child && link.state == ReplicaState::WaitBgsaveEnd {
                link.acked_during_transfer = true;
            }
        }
        out
    }

    /// The replica's connection closed: forget it.
    pub fn replica_gone(&mut self, client: ClientId) {
        self.forget(client);
    }

    /// Time passes (`replicationCron`): the periodic PING in the stream, keep-alives to
    /// replicas waiting for a snapshot, dropping silent online replicas, and starting a delayed
    /// diskless snapshot. Flush pending writes first (the PING goes after them).
    pub fn serve_tick(
        &mut self,
        now: i64,
        settings: &ServeSettings,
        children: Children,
    ) -> Vec<ServeOutput> {
        let mut out = Vec::new();
        if now >= self.serving.next_ping_ms {
            self.serving.next_ping_ms = now + settings.ping_period_ms.max(1);
            if !self.replicas.is_empty() && self.master.is_none() {
                self.feed(&Bytes::from_static(b"*1\r\n$4\r\nping\r\n"));
            }
        }
        if now >= self.serving.next_keepalive_ms {
            self.serving.next_keepalive_ms = now + 1000;
            let socket_child = self.serving.child == Some(Target::Socket);
            for r in &self.replicas {
                let presync = r.state == ReplicaState::WaitBgsaveStart
                    || (r.state == ReplicaState::WaitBgsaveEnd && !socket_child);
                if presync {
                    out.push(to(r.client, ReplicaAction::Send(Bytes::from_static(b"\n"))));
                }
            }
        }
        let silent: Vec<(ClientId, String)> = self
            .replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online && now - r.last_ack_ms > settings.timeout_ms
            })
            .map(|r| (r.client, r.addr()))
            .collect();
        for (client, addr) in silent {
            self.forget(client);
            out.push(ServeOutput::Emit(Event::ReplicaTimedOut { addr }));
            out.push(to(client, ReplicaAction::Drop));
        }
        self.start_pending(now, settings, children, &mut out);
        out
    }

    /// Removes a replica; true if it was there.
    fn forget(&mut self, client: ClientId) -> bool {
        let before = self.replicas.len();
        self.replicas.retain(|r| r.client != client);
        if let Some(plan) = self.serving.starting.as_mut() {
            plan.replicas.retain(|(c, _)| *c != client);
        }
        self.replicas.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::stream::{stream_channel, StreamSource};
    use rand::SeedableRng;

    fn settings(diskless: bool, delay_ms: i64) -> ServeSettings {
        ServeSettings {
            diskless,
            diskless_delay_ms: delay_ms,
            diskless_max_replicas: 0,
            timeout_ms: 60_000,
            ping_period_ms: 10_000,
        }
    }

    fn full_request() -> SyncRequest {
        SyncRequest {
            psync: Some(("?".into(), -1)),
            listening_port: Some(6380),
            capa_eof: true,
            capa_psync2: true,
        }
    }

    fn replica(client: ClientId) -> (ReplicaLink, StreamSource) {
        let (sink, source) = stream_channel(0);
        let link = ReplicaLink::new(client, "127.0.0.1".into(), 6380 + client as u16, sink, 0);
        (link, source)
    }

    fn events(out: &[ServeOutput]) -> Vec<&'static str> {
        out.iter()
            .filter_map(|o| match o {
                ServeOutput::Emit(e) => Some(e.kind()),
                _ => None,
            })
            .collect()
    }

    fn actions(out: &[ServeOutput], client: ClientId) -> Vec<ReplicaAction> {
        out.iter()
            .filter_map(|o| match o {
                ServeOutput::Replica(c, a) if *c == client => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    fn state() -> (ReplState, rand::rngs::StdRng) {
        (
            ReplState::new(1 << 20, "a".repeat(40)),
            rand::rngs::StdRng::seed_from_u64(1),
        )
    }

    #[test]
    fn a_second_replica_attaches_to_the_disk_bgsave_the_first_started() {
        let (mut repl, mut rng) = state();
        let s = settings(false, 0);
        let (r1, mut s1) = replica(1);
        let out = repl.sync_requested(0, r1, &full_request(), &s, Children::default(), &mut rng);
        assert_eq!(
            events(&out),
            [
                "full-resync-requested",
                "backlog-created",
                "bgsave-for-sync-started"
            ]
        );
        assert!(
            matches!(out.last(), Some(ServeOutput::StartBgsave(p)) if p.target == Target::Disk)
        );
        let out = repl.bgsave_started(0, Ok(()));
        let line = format!("+FULLRESYNC {} 0\r\n", repl.replid);
        assert_eq!(
            actions(&out, 1),
            [ReplicaAction::Send(Bytes::from(line.clone()))]
        );
        repl.feed(&Bytes::from_static(b"*1\r\n$4\r\nping\r\n"));
        let children = Children {
            disk_bgsave: true,
            other: false,
        };
        let (r2, mut s2) = replica(2);
        let out = repl.sync_requested(5, r2, &full_request(), &s, children, &mut rng);
        assert_eq!(
            events(&out),
            ["full-resync-requested", "waiting-for-bgsave-end"]
        );
        assert_eq!(actions(&out, 2), [ReplicaAction::Send(Bytes::from(line))]);
        assert_eq!(repl.sync_full, 2);
        // Both get the stream since the snapshot's offset.
        assert_eq!(s1.try_recv().unwrap(), &b"*1\r\n$4\r\nping\r\n"[..]);
        assert_eq!(s2.try_recv().unwrap(), &b"*1\r\n$4\r\nping\r\n"[..]);
        let out = repl.bgsave_done(9, true, &s, Children::default());
        assert_eq!(actions(&out, 1), [ReplicaAction::SendRdbFile]);
        assert_eq!(actions(&out, 2), [ReplicaAction::SendRdbFile]);
        let out = repl.rdb_sent(10, 2, 100);
        assert_eq!(events(&out), ["rdb-transferred", "replica-synced"]);
        assert_eq!(actions(&out, 2), [ReplicaAction::StartStream]);
    }

    #[test]
    fn diskless_waits_for_the_delay_or_max_replicas_then_serves_all_waiting_at_once() {
        let (mut repl, mut rng) = state();
        let mut s = settings(true, 5000);
        let none = Children::default();
        let (r1, _s1) = replica(1);
        let out = repl.sync_requested(0, r1, &full_request(), &s, none, &mut rng);
        assert!(events(&out).contains(&"diskless-sync-delayed"));
        assert!(!out.iter().any(|o| matches!(o, ServeOutput::StartBgsave(_))));
        let (r2, _s2) = replica(2);
        repl.sync_requested(2000, r2, &full_request(), &s, none, &mut rng);
        let out = repl.serve_tick(4999, &s, none);
        assert!(!out.iter().any(|o| matches!(o, ServeOutput::StartBgsave(_))));
        assert_eq!(
            actions(&out, 1),
            [ReplicaAction::Send(Bytes::from_static(b"\n"))]
        );
        let out = repl.serve_tick(5000, &s, none);
        let Some(ServeOutput::StartBgsave(plan)) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(plan.target, Target::Socket);
        assert_eq!(plan.replicas.len(), 2);
        repl.bgsave_started(5000, Ok(()));
        // A third replica cannot join a child writing to sockets.
        let (r3, _s3) = replica(3);
        let out = repl.sync_requested(5001, r3, &full_request(), &s, none, &mut rng);
        assert!(events(&out).contains(&"bgsave-has-socket-target"));
        let out = repl.bgsave_done(6000, true, &s, none);
        assert_eq!(
            events(&out)[..2],
            ["diskless-transfer-succeeded", "replica-synced"]
        );
        // Replica 3 waits for its own delay; max-replicas 1 starts it at once.
        s.diskless_max_replicas = 1;
        let out = repl.serve_tick(6001, &s, none);
        assert!(matches!(out.last(), Some(ServeOutput::StartBgsave(p)) if p.replicas.len() == 1));
    }

    #[test]
    fn an_ack_sent_before_the_diskless_child_is_reaped_starts_the_stream_when_it_is() {
        let (mut repl, mut rng) = state();
        let s = settings(true, 1000);
        let none = Children::default();
        let (r1, _s1) = replica(1);
        let (r2, _s2) = replica(2);
        repl.sync_requested(0, r1, &full_request(), &s, none, &mut rng);
        repl.sync_requested(0, r2, &full_request(), &s, none, &mut rng);
        let out = repl.serve_tick(1000, &s, none);
        assert!(matches!(out.last(), Some(ServeOutput::StartBgsave(p)) if p.replicas.len() == 2));
        repl.bgsave_started(0, Ok(()));
        // Replica 1 loaded fast and acknowledged while the child was still running.
        assert!(repl.replconf_ack(1900, 1, 14).is_empty());
        let out = repl.bgsave_done(2000, true, &s, none);
        assert_eq!(actions(&out, 1), [ReplicaAction::StartStream]);
        assert!(actions(&out, 2).is_empty());
        // Replica 2 starts with its first ACK, as in Redis; replica 1's next ACK changes nothing.
        assert_eq!(
            actions(&repl.replconf_ack(2100, 2, 14), 2),
            [ReplicaAction::StartStream]
        );
        assert!(repl.replconf_ack(2100, 1, 14).is_empty());
    }

    #[test]
    fn a_replica_waiting_for_its_first_ack_after_a_diskless_transfer_times_out() {
        let (mut repl, mut rng) = state();
        let s = settings(true, 0);
        let none = Children::default();
        let (r1, _s1) = replica(1);
        repl.sync_requested(0, r1, &full_request(), &s, none, &mut rng);
        repl.bgsave_started(0, Ok(()));
        repl.bgsave_done(1000, true, &s, none);
        assert_eq!(repl.replicas[0].state, ReplicaState::Online);
        assert!(repl
            .serve_tick(61_000, &s, none)
            .iter()
            .all(|o| !matches!(o, ServeOutput::Replica(_, ReplicaAction::Drop))));
        let out = repl.serve_tick(61_001, &s, none);
        assert_eq!(events(&out), ["replica-timed-out"]);
        assert_eq!(actions(&out, 1), [ReplicaAction::Drop]);
        assert!(repl.replicas.is_empty());
    }

    #[test]
    fn a_failed_bgsave_drops_its_replicas_and_an_aof_rewrite_delays_it() {
        let (mut repl, mut rng) = state();
        let s = settings(false, 0);
        let busy = Children {
            disk_bgsave: false,
            other: true,
        };
        let (r1, _s1) = replica(1);
        let out = repl.sync_requested(0, r1, &full_request(), &s, busy, &mut rng);
        assert!(events(&out).contains(&"bgsave-for-sync-delayed"));
        let out = repl.serve_tick(100, &s, Children::default());
        assert!(matches!(out.last(), Some(ServeOutput::StartBgsave(_))));
        let out = repl.bgsave_started(100, Err("fork: out of memory".into()));
        assert_eq!(events(&out), ["bgsave-for-sync-failed"]);
        assert_eq!(actions(&out, 1).last(), Some(&ReplicaAction::Drop));
        assert!(repl.replicas.is_empty());
    }
}
