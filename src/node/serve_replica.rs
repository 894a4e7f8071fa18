//! The runtime side of the master's part of a sync: a thin tokio driver for the state machine
//! in [`crate::repl::serve`], which takes every decision (continue or not, share or start a
//! snapshot, diskless delay, going online, timeouts).
//!
//! When a connection sends PSYNC or SYNC, its task hands the socket to [`serve_replica`], which
//! registers the replica with the machine under the keyspace lock (so the snapshot, or the
//! backlog range, and the start of its stream meet at exactly one offset) and then runs the
//! replica's task: it carries out the machine's actions for this replica (replies and
//! keep-alives, the dump file, the start of the stream), writes the stream, and feeds the
//! machine the replica's `REPLCONF ACK`s. [`carry_out`] carries out the machine's outputs
//! wherever an input came from (this task, the periodic tick, a reaped child): it forks the
//! snapshot child (a BGSAVE to disk, or a child writing `+FULLRESYNC`, `$EOF:<mark>`, the RDB
//! and the mark to every served replica's socket) and hands per-replica actions to their
//! tasks.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::PeerStream;
use crate::persist::rdb::{self, SaveOptions};
use crate::persist::snapshot;
use crate::repl::serve::{BgsavePlan, Children, ReplicaAction, ServeOutput, ServeSettings, Target};
use crate::repl::stream::{stream_channel, StreamSource};
use crate::repl::{ReplicaLink, SyncRequest};
use crate::resp::RequestParser;
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::engine::Engine;
use crate::server::events::Event;
use crate::server::propagation::flush;
use crate::server::{random_hex_id, unix_ms, Shared};

/// What the machine reads from the configuration.
pub fn settings(shared: &Shared) -> ServeSettings {
    let config = shared.config();
    ServeSettings {
        diskless: config.repl_diskless_sync,
        diskless_delay_ms: config.repl_diskless_sync_delay as i64 * 1000,
        diskless_max_replicas: config.repl_diskless_sync_max_replicas as usize,
        timeout_ms: config.repl_timeout.max(1) as i64 * 1000,
        ping_period_ms: config.repl_ping_replica_period.max(1) as i64 * 1000,
    }
}

/// The child processes running besides the machine's own.
pub fn children(engine: &Engine) -> Children {
    Children {
        disk_bgsave: engine.persistence.bgsave.is_some(),
        other: engine.aof.as_ref().is_some_and(|a| a.rewrite.is_some()),
    }
}

/// The periodic tick of the master side (`replicationCron`), from `node::cron`.
pub fn tick(shared: &Shared) {
    let settings = settings(shared);
    let mut engine = shared.engine();
    flush(shared, &mut engine);
    let children = children(&engine);
    let outputs = engine.repl.serve_tick(unix_ms(), &settings, children);
    carry_out(shared, &mut engine, outputs);
}

/// A snapshot child ended (`ok`: complete): the replicas waiting for it go on.
pub fn bgsave_done(shared: &Shared, engine: &mut Engine, ok: bool) {
    let settings = settings(shared);
    let children = children(engine);
    let outputs = engine.repl.bgsave_done(unix_ms(), ok, &settings, children);
    carry_out(shared, engine, outputs);
}

/// Carries out the machine's outputs, feeding it what they result in. Called with the keyspace
/// lock held.
pub fn carry_out(shared: &Shared, engine: &mut Engine, outputs: Vec<ServeOutput>) {
    let mut queue: std::collections::VecDeque<ServeOutput> = outputs.into();
    while let Some(output) = queue.pop_front() {
        match output {
            ServeOutput::Emit(event) => shared.emit(event),
            ServeOutput::Replica(client, ReplicaAction::Drop) => {
                if let Some(handle) = shared.clients.get(client) {
                    handle.kill();
                }
            }
            ServeOutput::Replica(client, action) => {
                if let Some(link) = engine.repl.replicas.iter().find(|r| r.client == client) {
                    link.stream.act(action);
                }
            }
            ServeOutput::StartBgsave(plan) => {
                flush(shared, engine);
                let result = match plan.target {
                    Target::Disk => crate::server::persistence::bgsave(shared, engine).map(|_| ()),
                    Target::Socket => fork_diskless(shared, engine, &plan),
                };
                queue.extend(engine.repl.bgsave_started(unix_ms(), result));
            }
        }
    }
}

/// Forks the child that writes the snapshot to the plan's replicas' sockets.
fn fork_diskless(shared: &Shared, engine: &mut Engine, plan: &BgsavePlan) -> Result<(), String> {
    let mark = random_hex_id(&mut engine.rng);
    let targets: Vec<(i32, Bytes)> = plan
        .replicas
        .iter()
        .filter_map(|(client, preamble)| {
            let link = engine.repl.replicas.iter().find(|r| r.client == *client)?;
            Some((link.stream.fd()?, preamble.clone()))
        })
        .collect();
    let fds: Vec<i32> = targets.iter().map(|(fd, _)| *fd).collect();
    let mut options = SaveOptions::new(unix_ms() / 1000);
    options.compression = shared.config().rdbcompression;
    let fields = crate::server::persistence::ReplAux::current(engine);
    let dbs = &engine.dbs;
    let pid = snapshot::fork_child_keeping(&fds, move || {
        let mut payload = format!("$EOF:{mark}\r\n").into_bytes();
        if rdb::write_snapshot(&mut payload, dbs, &fields.fields(), &options).is_err() {
            return false;
        }
        payload.extend_from_slice(mark.as_bytes());
        write_to_all(&targets, &payload)
    })
    .map_err(|e| format!("fork: {e}"))?;
    engine.persistence.diskless_child = Some(pid);
    shared.emit(Event::DisklessTransferStarted { pid });
    Ok(())
}

/// In the diskless child: each socket gets its preamble, then the payload, in 64 KiB turns so a
/// slow replica paces the others rather than starving them. True if any replica got it all.
fn write_to_all(targets: &[(i32, Bytes)], payload: &[u8]) -> bool {
    use std::io::Write;
    let mut alive: Vec<(FdWriter, &[u8])> = targets
        .iter()
        .map(|(fd, preamble)| (FdWriter(*fd), &preamble[..]))
        .collect();
    alive.retain_mut(|(out, preamble)| out.write_all(preamble).is_ok());
    for chunk in payload.chunks(64 * 1024) {
        alive.retain_mut(|(out, _)| out.write_all(chunk).is_ok());
        if alive.is_empty() {
            return false;
        }
    }
    !alive.is_empty()
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
    let fd = stream.as_raw_fd();
    // The replica is a peer now: its traffic goes through the fault table by its address.
    let stream = PeerStream::new(stream, addr.clone(), shared.faults.clone());
    handle.meta().kind = ClientKind::Replica;
    shared.emit(Event::ReplicaAskedForSync { addr: addr.clone() });
    let limit = shared
        .config()
        .client_output_buffer_limit
        .replica
        .hard_bytes as usize;
    let (sink, source) = stream_channel(limit);
    let link = ReplicaLink::new(handle.id, ip, port, sink.with_fd(fd), unix_ms());
    // A client's script holds the keyspace: wait without blocking the connections' thread.
    shared.script.idle().await;
    {
        let settings = settings(&shared);
        let mut guard = shared.engine();
        let engine = &mut *guard;
        flush(&shared, engine);
        engine.propagate = true;
        let children = children(engine);
        let outputs = engine.repl.sync_requested(
            unix_ms(),
            link,
            &request,
            &settings,
            children,
            &mut engine.rng,
        );
        carry_out(&shared, engine, outputs);
    }
    run(&shared, stream, &handle, source, &addr, pending).await;
    shared.script.idle().await;
    shared.engine().repl.replica_gone(handle.id);
    shared.emit(Event::ReplicaLinkLost { addr });
}

/// Writes `bytes` unless the replica is dropped meanwhile (a stalled write must not hold the
/// link) or its stream passes the output limit.
async fn write(
    stream: &mut PeerStream<TcpStream>,
    handle: &ClientHandle,
    source: &StreamSource,
    bytes: &[u8],
) -> bool {
    let overflow = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if source.overflowed() {
                return;
            }
        }
    };
    tokio::select! {
        result = stream.write_all(bytes) => result.is_ok(),
        _ = overflow => false,
        _ = handle.killed() => false,
    }
}

/// The replica's task: the machine's actions for it, its stream once started, its ACKs.
async fn run(
    shared: &Arc<Shared>,
    mut stream: PeerStream<TcpStream>,
    handle: &ClientHandle,
    mut source: StreamSource,
    addr: &str,
    mut input: BytesMut,
) {
    let Some(mut actions) = source.take_actions() else {
        return;
    };
    let mut parser = RequestParser::new(i64::MAX);
    let mut streaming = false;
    let mut shutdown = shared.shutdown_signal();
    loop {
        // A client's script holds the keyspace: wait without blocking the connections' thread.
        shared.script.idle().await;
        // What the replica sent: REPLCONF ACK <offset>.
        while let Ok(Some(argv)) = parser.parse(&mut input) {
            if argv.len() >= 3
                && argv[0].eq_ignore_ascii_case(b"replconf")
                && argv[1].eq_ignore_ascii_case(b"ack")
            {
                let offset = std::str::from_utf8(&argv[2])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0);
                let mut engine = shared.engine();
                let outputs = engine.repl.replconf_ack(unix_ms(), handle.id, offset);
                carry_out(shared, &mut engine, outputs);
            }
        }
        if source.overflowed() {
            shared.emit(Event::OutputLimitReached {
                id: handle.id,
                addr: addr.to_string(),
            });
            return;
        }
        tokio::select! {
            read = stream.read_buf(&mut input) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            action = actions.recv() => match action {
                Some(ReplicaAction::Send(bytes)) => {
                    if !write(&mut stream, handle, &source, &bytes).await {
                        return;
                    }
                }
                Some(ReplicaAction::StartStream) => streaming = true,
                Some(ReplicaAction::SendRdbFile) => {
                    let path = {
                        let config = shared.config();
                        config.dir.join(&config.dbfilename)
                    };
                    let Ok(rdb) = tokio::fs::read(&path).await else {
                        return;
                    };
                    let header = format!("${}\r\n", rdb.len());
                    if !write(&mut stream, handle, &source, header.as_bytes()).await
                        || !write(&mut stream, handle, &source, &rdb).await
                    {
                        return;
                    }
                    shared.script.idle().await;
                    let mut engine = shared.engine();
                    let outputs = engine.repl.rdb_sent(unix_ms(), handle.id, rdb.len());
                    carry_out(shared, &mut engine, outputs);
                }
                Some(ReplicaAction::Drop) | None => return,
            },
            bytes = source.recv(), if streaming => {
                let Some(bytes) = bytes else { return };
                if !write(&mut stream, handle, &source, &bytes).await {
                    if source.overflowed() {
                        shared.emit(Event::OutputLimitReached {
                            id: handle.id,
                            addr: addr.to_string(),
                        });
                    }
                    return;
                }
            }
            _ = handle.killed() => return,
            _ = shutdown.changed() => return,
        }
    }
}
