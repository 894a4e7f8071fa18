//! The master's side of a replica link (`replication.c`: `syncCommand`,
//! `masterTryPartialResynchronization`, `startBgsaveForReplication`, `sendBulkToSlave`,
//! `rdbSaveToSlavesSockets`).
//!
//! When a connection sends PSYNC or SYNC, its task hands the socket to [`serve_replica`]. The
//! decision is taken under the keyspace lock, so the snapshot (or the backlog range) and the
//! start of the live stream meet at exactly one offset:
//! - partial: `+CONTINUE <replid>`, the backlog bytes the replica misses, then the stream;
//! - full, from disk: `+FULLRESYNC <replid> <offset>`, a BGSAVE forked at that offset, `\n`
//!   keep-alives while it runs, `$<len>` and the file, then the stream buffered meanwhile;
//! - full, diskless (`repl-diskless-sync yes` and the replica sent `capa eof`): `\n`
//!   keep-alives for `repl-diskless-sync-delay` seconds, then a child that writes
//!   `$EOF:<mark>` + the RDB + `<mark>` straight to the socket; the stream starts once the
//!   replica's first ACK arrives.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::PeerStream;

use crate::persist::rdb::{self, SaveOptions};
use crate::persist::snapshot;
use crate::repl::stream::{stream_channel, StreamSource};
use crate::repl::{Psync, ReplicaLink, ReplicaState, SyncRequest};
use crate::resp::RequestParser;
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::engine::Engine;
use crate::server::events::Event;
use crate::server::propagation::flush;
use crate::server::{random_hex_id, unix_ms, Shared};

/// Why a link ended, for the log.
fn lost(shared: &Shared, addr: &str) {
    shared.emit(Event::ReplicaLinkLost {
        addr: addr.to_string(),
    });
}

/// Serves a replica on `stream` until the link breaks. `pending` holds bytes the replica sent
/// after PSYNC that were already read.
pub async fn serve_replica(
    shared: Arc<Shared>,
    stream: TcpStream,
    handle: Arc<ClientHandle>,
    request: SyncRequest,
    pending: BytesMut,
) {
    let ip = handle.addr.ip().to_string();
    let port = request.listening_port.unwrap_or(handle.addr.port());
    let addr = format!("{ip}:{port}");
    // The replica is a peer now: its traffic goes through the fault table by its address.
    let mut stream = PeerStream::new(stream, addr.clone(), shared.faults.clone());
    handle.meta().kind = ClientKind::Replica;
    shared.emit(Event::ReplicaAskedForSync { addr: addr.clone() });
    let limit = shared
        .config()
        .client_output_buffer_limit
        .replica
        .hard_bytes as usize;
    let (sink, source) = stream_channel(limit);
    let link = ReplicaLink {
        client: handle.id,
        ip: ip.clone(),
        port,
        state: ReplicaState::WaitBgsave,
        ack_offset: 0,
        last_ack_ms: unix_ms(),
        stream: sink,
    };

    // Partial resync, if the replica's history and offset are still in our backlog.
    shared.script.idle().await;
    let answer = {
        let mut engine = shared.engine();
        flush(&shared, &mut engine);
        let answer = engine.repl.answer_psync(&request);
        if let Psync::Continue { offset, .. } = &answer {
            let mut link = link_clone(&link);
            link.state = ReplicaState::Online;
            link.ack_offset = offset - 1;
            engine.repl.replicas.push(link);
        }
        answer
    };
    match answer {
        Psync::Continue {
            reply,
            missing,
            offset,
        } => {
            shared.emit(Event::PartialResyncAccepted {
                addr: addr.clone(),
                bytes: missing.len(),
                offset,
            });
            if stream.write_all(reply.as_bytes()).await.is_err()
                || stream.write_all(&missing).await.is_err()
            {
                remove(&shared, handle.id);
                lost(&shared, &addr);
                return;
            }
            stream_to_replica(&shared, stream, &handle, source, &addr, pending, false).await;
            return;
        }
        Psync::Full {
            rejected: Some(reason),
        } => shared.emit(Event::PartialResyncRejected { reason }),
        Psync::Full { rejected: None } => {
            shared.emit(Event::FullResyncRequested { addr: addr.clone() })
        }
    }

    let diskless =
        shared.config().repl_diskless_sync && request.capa_eof && request.psync.is_some();
    let sent = if diskless {
        full_sync_diskless(&shared, &mut stream, &handle, link, &request, &addr).await
    } else {
        full_sync_disk(&shared, &mut stream, &handle, link, &request, &addr).await
    };
    if !sent {
        remove(&shared, handle.id);
        lost(&shared, &addr);
        return;
    }
    stream_to_replica(&shared, stream, &handle, source, &addr, pending, diskless).await;
}

fn link_clone(link: &ReplicaLink) -> ReplicaLink {
    ReplicaLink {
        client: link.client,
        ip: link.ip.clone(),
        port: link.port,
        state: link.state,
        ack_offset: link.ack_offset,
        last_ack_ms: link.last_ack_ms,
        stream: link.stream.clone(),
    }
}

fn set_state(shared: &Shared, client: u64, state: ReplicaState) {
    let mut engine = shared.engine();
    if let Some(r) = engine.repl.replicas.iter_mut().find(|r| r.client == client) {
        r.state = state;
    }
}

fn remove(shared: &Shared, client: u64) {
    shared.engine().repl.replicas.retain(|r| r.client != client);
}

/// Prepares a full resync under the keyspace lock (see [`ReplState::begin_full_sync`]).
fn begin_full_sync(shared: &Shared, engine: &mut Engine, link: ReplicaLink) -> (String, i64) {
    let engine = &mut *engine;
    let (replid, offset, created) = engine.repl.begin_full_sync(link, &mut engine.rng);
    if let Some((replid, replid2)) = created {
        shared.emit(Event::BacklogCreated { replid, replid2 });
    }
    (replid, offset)
}

/// Disk mode: BGSAVE, keep-alives, then `$<len>` and the file.
async fn full_sync_disk(
    shared: &Arc<Shared>,
    stream: &mut PeerStream<TcpStream>,
    handle: &ClientHandle,
    link: ReplicaLink,
    request: &SyncRequest,
    addr: &str,
) -> bool {
    // One child at a time: wait for a running BGSAVE to end (its offset is not ours).
    let mut ticks = 0u32;
    while shared.engine().persistence.bgsave.is_some() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ticks += 1;
        if ticks.is_multiple_of(10) && stream.write_all(b"\n").await.is_err() {
            return false;
        }
    }
    let (replid, offset, target) = {
        let mut engine = shared.engine();
        flush(shared, &mut engine);
        engine.propagate = true;
        let (replid, offset) = begin_full_sync(shared, &mut engine, link);
        shared.emit(Event::BgsaveForSyncStarted {
            target: "disk".into(),
        });
        match crate::server::persistence::bgsave(shared, &mut engine) {
            Ok(_pid) => {
                let config = shared.config();
                (replid, offset, config.dir.join(&config.dbfilename))
            }
            Err(error) => {
                shared.emit(Event::BgsaveForSyncFailed { error });
                return false;
            }
        }
    };
    if request.psync.is_some() {
        let line = format!("+FULLRESYNC {replid} {offset}\r\n");
        if stream.write_all(line.as_bytes()).await.is_err() {
            return false;
        }
    }
    // Keep-alives while the child writes.
    let mut waited = 0u32;
    loop {
        let done = { shared.engine().persistence.bgsave.is_none() };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
        if waited.is_multiple_of(10) && stream.write_all(b"\n").await.is_err() {
            return false;
        }
        if handle.is_killed() {
            return false;
        }
    }
    if !shared.engine().persistence.last_bgsave_ok {
        return false;
    }
    let Ok(rdb) = tokio::fs::read(&target).await else {
        return false;
    };
    set_state(shared, handle.id, ReplicaState::SendBulk);
    let header = format!("${}\r\n", rdb.len());
    if stream.write_all(header.as_bytes()).await.is_err() || stream.write_all(&rdb).await.is_err() {
        return false;
    }
    shared.emit(Event::RdbTransferred {
        addr: addr.to_string(),
        bytes: rdb.len(),
    });
    shared.emit(Event::ReplicaSynced {
        addr: addr.to_string(),
    });
    set_state(shared, handle.id, ReplicaState::Online);
    true
}

/// Diskless mode: keep-alives for the configured delay, then a child writes the snapshot
/// straight to the replica's socket.
async fn full_sync_diskless(
    shared: &Arc<Shared>,
    stream: &mut PeerStream<TcpStream>,
    handle: &ClientHandle,
    link: ReplicaLink,
    _request: &SyncRequest,
    addr: &str,
) -> bool {
    shared.emit(Event::DisklessSyncDelayed);
    let delay = shared.config().repl_diskless_sync_delay;
    for _ in 0..delay {
        if stream.write_all(b"\n").await.is_err() {
            return false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mark = random_hex_id(&mut rand::thread_rng());
    let fd = stream.get_ref().as_raw_fd();
    let pid = {
        let mut engine = shared.engine();
        flush(shared, &mut engine);
        engine.propagate = true;
        let (replid, offset) = begin_full_sync(shared, &mut engine, link);
        shared.emit(Event::BgsaveForSyncStarted {
            target: "replicas sockets".into(),
        });
        let mut options = SaveOptions::new(unix_ms() / 1000);
        options.compression = shared.config().rdbcompression;
        let fields = crate::server::persistence::ReplAux::current(&engine);
        let line = format!("+FULLRESYNC {replid} {offset}\r\n$EOF:{mark}\r\n");
        let dbs = &engine.dbs;
        let mark_bytes = mark.clone();
        let pid = snapshot::fork_child_keeping(&[fd], move || {
            let mut out = FdWriter(fd);
            use std::io::Write;
            out.write_all(line.as_bytes()).is_ok()
                && rdb::write_snapshot(&mut out, dbs, &fields.fields(), &options).is_ok()
                && out.write_all(mark_bytes.as_bytes()).is_ok()
        });
        match pid {
            Ok(pid) => pid,
            Err(_) => return false,
        }
    };
    shared.emit(Event::DisklessTransferStarted { pid });
    set_state(shared, handle.id, ReplicaState::SendBulk);
    let ok = loop {
        if let Some(ok) = snapshot::try_reap(pid) {
            break ok;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if !ok {
        return false;
    }
    shared.emit(Event::DisklessTransferSucceeded {
        addr: addr.to_string(),
    });
    true
}

/// Writes to a non-blocking socket fd from a forked child, waiting with poll() when it is full.
struct FdWriter(i32);

impl std::io::Write for FdWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            // SAFETY: writing from a valid buffer to a socket fd the child inherited.
            let n = unsafe { libc::write(self.0, buf.as_ptr() as *const libc::c_void, buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::WouldBlock {
                return Err(error);
            }
            let mut pfd = libc::pollfd {
                fd: self.0,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll on one valid pollfd, with a timeout so a dead peer cannot hang us.
            if unsafe { libc::poll(&mut pfd, 1, 60_000) } <= 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "replica not reading",
                ));
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams writes to an online replica and reads its ACKs until the link breaks.
async fn stream_to_replica(
    shared: &Arc<Shared>,
    mut stream: PeerStream<TcpStream>,
    handle: &ClientHandle,
    mut source: StreamSource,
    addr: &str,
    mut input: BytesMut,
    wait_first_ack: bool,
) {
    let mut parser = RequestParser::new(i64::MAX);
    let mut streaming = !wait_first_ack;
    let mut shutdown = shared.shutdown_signal();
    loop {
        // A client's script holds the keyspace: wait without blocking the connections' thread.
        shared.script.idle().await;
        // Handle what the replica sent (REPLCONF ACK <offset>).
        while let Ok(Some(argv)) = parser.parse(&mut input) {
            if argv.len() >= 3
                && argv[0].eq_ignore_ascii_case(b"replconf")
                && argv[1].eq_ignore_ascii_case(b"ack")
            {
                let offset = std::str::from_utf8(&argv[2])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0);
                shared
                    .engine()
                    .repl
                    .ack(handle.id, offset, unix_ms(), !streaming);
                if !streaming {
                    streaming = true;
                    shared.emit(Event::ReplicaSynced {
                        addr: addr.to_string(),
                    });
                }
            }
        }
        if source.overflowed() {
            shared.emit(Event::OutputLimitReached {
                id: handle.id,
                addr: addr.to_string(),
            });
            break;
        }
        tokio::select! {
            read = stream.read_buf(&mut input) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            bytes = source.recv(), if streaming => {
                let Some(bytes) = bytes else { break };
                // A replica that stops reading blocks this write; its queue keeps growing
                // until the output limit, which must end the link even mid-write.
                let overflow = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if source.overflowed() {
                            return;
                        }
                    }
                };
                let written = tokio::select! {
                    result = stream.write_all(&bytes) => result.is_ok(),
                    _ = overflow => false,
                    // Dropped meanwhile (repl-timeout): a stalled write must not hold the link.
                    _ = handle.killed() => false,
                };
                if !written {
                    if source.overflowed() {
                        shared.emit(Event::OutputLimitReached {
                            id: handle.id,
                            addr: addr.to_string(),
                        });
                    }
                    break;
                }
            }
            _ = handle.killed() => break,
            _ = shutdown.changed() => break,
        }
    }
    remove(shared, handle.id);
    lost(shared, addr);
}
