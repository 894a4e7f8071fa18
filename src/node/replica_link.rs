//! The runtime side of a replica's link: a thin tokio driver for the state machine
//! [`crate::repl::link::ReplicaLink`], which takes every decision (handshake, PSYNC, transfer,
//! streaming, ACKs, timeouts, backoff).
//!
//! One task per role change to replica ([`crate::server::role`] announces it, the runtime
//! spawns [`run`] for its generation). The driver feeds the machine socket bytes, connection
//! results and a 100 ms tick, and carries out its outputs: connect, write, apply the stream's
//! commands through the command path (with their exact bytes fed to our own backlog and
//! replicas), load a received snapshot (into a temp file first; only a complete, valid
//! snapshot replaces the dataset), update the link status, and emit events. It stops when the
//! role changes again or the server shuts down.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::net::PeerStream;
use crate::persist::rdb;
use crate::repl::link::{ack_command, History, LinkConfig, LinkStatus, Output, ReplicaLink};
use crate::repl::MasterLink;
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::engine::Engine;
use crate::server::events::Event;
use crate::server::persistence::install_master_snapshot;
use crate::server::propagation::flush;
use crate::server::session::Session;
use crate::server::{unix_ms, Shared};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the machine is ticked.
const TICK: Duration = Duration::from_millis(100);

/// The link task for one role change (`generation`): runs the machine until the role changes
/// again or the server shuts down.
pub async fn run(shared: Arc<Shared>, generation: u64) {
    let Some(config) = link_config(&shared, generation) else {
        return;
    };
    let mut driver = Driver {
        shared: shared.clone(),
        generation,
        link: ReplicaLink::new(config, unix_ms()),
        stream: None,
        writer: None,
        handle: None,
        session: Session::master_link(),
        addrs: None,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = shared.shutdown_signal();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if current_generation(&shared) != Some(generation) {
            break;
        }
        let outputs = tokio::select! {
            _ = tick.tick() => driver.link.tick(unix_ms()),
            read = read_some(&mut driver.stream, &mut buf) => match read {
                Ok(n) if n > 0 => {
                    let now = unix_ms();
                    let history = history(&shared);
                    let outputs = driver.link.received(now, &buf[..n], &history);
                    let transfer = driver.link.transfer();
                    update_link(&shared, generation, |m| {
                        m.last_io_ms = now;
                        m.transfer = transfer;
                    });
                    outputs
                }
                _ => driver.link.closed(unix_ms()),
            },
            _ = killed(&driver.handle) => driver.link.closed(unix_ms()),
            _ = shutdown.changed() => break,
        };
        driver.carry_out(outputs).await;
    }
    driver.disconnect();
}

/// What the machine needs from the configuration and the role.
fn link_config(shared: &Shared, generation: u64) -> Option<LinkConfig> {
    let (host, port) = {
        let engine = shared.engine();
        let master = engine.repl.master.as_ref()?;
        if master.generation != generation {
            return None;
        }
        (master.host.clone(), master.port)
    };
    let config = shared.config();
    Some(LinkConfig {
        host,
        port,
        auth: config
            .masterauth
            .clone()
            .map(|password| (config.masteruser.clone(), password)),
        listening_port: if config.replica_announce_port != 0 {
            config.replica_announce_port
        } else {
            shared.port.load(Ordering::Relaxed) as u16
        },
        timeout_ms: config.repl_timeout.max(1) as i64 * 1000,
    })
}

/// The history a PSYNC offers: the id and offset the core holds.
fn history(shared: &Shared) -> History {
    let engine = shared.engine();
    History {
        replid: engine.repl.replid.clone(),
        offset: engine.repl.offset,
        known: engine.repl.has_history,
    }
}

fn current_generation(shared: &Shared) -> Option<u64> {
    shared.engine().repl.master.as_ref().map(|m| m.generation)
}

fn update_link(shared: &Shared, generation: u64, f: impl FnOnce(&mut MasterLink)) {
    let mut engine = shared.engine();
    if let Some(link) = engine
        .repl
        .master
        .as_mut()
        .filter(|m| m.generation == generation)
    {
        f(link);
    }
}

async fn read_some(
    stream: &mut Option<ReadHalf<PeerStream<TcpStream>>>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match stream {
        Some(stream) => stream.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn killed(handle: &Option<Arc<ClientHandle>>) {
    match handle {
        Some(handle) => handle.killed().await,
        None => std::future::pending().await,
    }
}

struct Driver {
    shared: Arc<Shared>,
    generation: u64,
    link: ReplicaLink,
    /// What the driver reads from the master.
    stream: Option<ReadHalf<PeerStream<TcpStream>>>,
    /// Writes go through a task of their own, so a stalled write (a cut link, a full socket)
    /// never stops the machine's clock: the link still times out as Redis's does.
    writer: Option<Writer>,
    /// The link as a client (`CLIENT LIST` shows it, `CLIENT KILL TYPE master` breaks it),
    /// registered while the stream flows.
    handle: Option<Arc<ClientHandle>>,
    /// The session the stream's commands run in.
    session: Session,
    /// The connection's peer and local addresses.
    addrs: Option<(SocketAddr, SocketAddr)>,
}

/// The task that writes to the master, fed through a channel; aborted (closing its half of the
/// socket) when dropped.
struct Writer {
    tx: mpsc::UnboundedSender<Bytes>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn spawn(mut half: WriteHalf<PeerStream<TcpStream>>) -> Writer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if half.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        Writer { tx, task }
    }

    /// Queues `bytes`; false once the writer failed.
    fn send(&self, bytes: Bytes) -> bool {
        self.tx.send(bytes).is_ok()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Driver {
    /// Carries out the machine's outputs in order, feeding it what they result in.
    async fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut queue: VecDeque<Output> = outputs.into();
        while let Some(output) = queue.pop_front() {
            // A client's script holds the keyspace: wait without blocking the connections'
            // thread (see `server::script_run`).
            self.shared.script.idle().await;
            let more = match output {
                Output::Connect => self.connect().await,
                Output::Send(bytes) => self.write(&bytes).await,
                Output::SendAck => {
                    let offset = self.shared.engine().repl.offset;
                    self.write(&ack_command(offset)).await
                }
                apply @ (Output::Apply { .. } | Output::Proxy(_)) => {
                    // Every command of this read under one lock, in stream order.
                    let mut batch = vec![apply];
                    while matches!(queue.front(), Some(Output::Apply { .. } | Output::Proxy(_))) {
                        batch.extend(queue.pop_front());
                    }
                    self.apply(batch);
                    Vec::new()
                }
                Output::LoadSnapshot {
                    rdb,
                    replid,
                    offset,
                } => {
                    let result = load_snapshot(&self.shared, &rdb, &replid, offset).await;
                    self.link.snapshot_loaded(unix_ms(), result)
                }
                Output::Continue { new_replid } => {
                    self.adopt(new_replid);
                    Vec::new()
                }
                Output::Disconnect => {
                    self.disconnect();
                    Vec::new()
                }
                Output::Status(status) => {
                    self.status(status);
                    Vec::new()
                }
                Output::Emit(event) => {
                    self.shared.emit(event);
                    Vec::new()
                }
            };
            queue.extend(more);
        }
    }

    async fn connect(&mut self) -> Vec<Output> {
        let addr = {
            let config = self.link.config();
            format!("{}:{}", config.host, config.port)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let addrs = (stream.peer_addr(), stream.local_addr());
                let faults = self.shared.faults.clone();
                let (read, write) = tokio::io::split(PeerStream::new(stream, addr, faults));
                self.stream = Some(read);
                self.writer = Some(Writer::spawn(write));
                if let (Ok(peer), Ok(local)) = addrs {
                    self.addrs = Some((peer, local));
                }
                self.link.connected(unix_ms())
            }
            Ok(Err(e)) => self.link.connect_failed(unix_ms(), e.to_string()),
            Err(_) => self
                .link
                .connect_failed(unix_ms(), "connection timed out".into()),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Vec<Output> {
        match self.writer.as_ref() {
            Some(writer) if writer.send(Bytes::copy_from_slice(bytes)) => Vec::new(),
            Some(_) => self.link.closed(unix_ms()),
            None => Vec::new(),
        }
    }

    fn apply(&mut self, batch: Vec<Output>) {
        let mut engine = self.shared.engine();
        for output in batch {
            apply_from_master(&self.shared, &mut engine, &mut self.session, output);
        }
    }

    /// `+CONTINUE <new id>`: the master was promoted; its old history is ours up to here
    /// (PSYNC2), so our own replicas can continue too.
    fn adopt(&mut self, new_replid: Option<String>) {
        let Some(new_id) = new_replid else {
            return;
        };
        let changed = {
            let mut guard = self.shared.engine();
            let engine = &mut *guard;
            engine.repl.adopt_master_replid(&new_id, &mut engine.rng)
        };
        if changed {
            self.shared
                .emit(Event::MasterReplidChanged { replid: new_id });
        }
    }

    fn status(&mut self, status: LinkStatus) {
        let now = unix_ms();
        update_link(&self.shared, self.generation, |m| match status {
            LinkStatus::Syncing => m.sync_in_progress = true,
            LinkStatus::Up => {
                m.up = true;
                m.sync_in_progress = false;
                m.last_io_ms = now;
            }
            LinkStatus::Down => {
                if m.up {
                    m.down_since_ms = now;
                }
                m.up = false;
                m.sync_in_progress = false;
                m.transfer = None;
            }
        });
        if status == LinkStatus::Up {
            self.register();
        }
    }

    fn register(&mut self) {
        let Some((peer, local)) = self.addrs else {
            return;
        };
        let handle = Arc::new(ClientHandle::new(self.shared.next_client_id(), peer, local));
        handle.meta().kind = ClientKind::Master;
        self.shared.clients.register(handle.clone());
        self.handle = Some(handle);
    }

    fn disconnect(&mut self) {
        self.stream = None;
        self.writer = None;
        self.addrs = None;
        if let Some(handle) = self.handle.take() {
            self.shared.clients.unregister(handle.id);
        }
        self.session = Session::master_link();
    }
}

/// Applies one command of the master's stream ([`Output::Apply`]) or passes one on
/// ([`Output::Proxy`]): its effects reach our AOF, and its exact bytes our offset, backlog and
/// own replicas (chained replication). Other outputs are ignored.
pub fn apply_from_master(
    shared: &Shared,
    engine: &mut Engine,
    session: &mut Session,
    output: Output,
) {
    let raw = match output {
        Output::Apply { argv, raw } => {
            crate::cmd::call(shared, engine, session, &argv);
            flush(shared, engine);
            raw
        }
        Output::Proxy(raw) => raw,
        _ => return,
    };
    engine.repl.feed(&raw);
}

/// Stores the snapshot in a temp file (fsynced, as Redis's `readSyncBulkPayload` does) and loads
/// it; only a valid snapshot replaces the dataset ([`install_master_snapshot`]), and the file
/// becomes our dump by a rename. A kill before the rename leaves a `temp-*.rdb` that the next
/// start removes, and the older dump in place.
async fn load_snapshot(
    shared: &Shared,
    data: &[u8],
    replid: &str,
    offset: i64,
) -> Result<(), String> {
    let dir = shared.config().dir.clone();
    let temp = dir.join(format!("temp-{}-{}.rdb", unix_ms(), std::process::id()));
    write_synced(&temp, data)
        .await
        .map_err(|e| format!("writing {}: {e}", temp.display()))?;
    let limits = crate::server::command_config::encoding_limits(&shared.config());
    let snapshot = match rdb::load_snapshot_with(data, limits) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e.to_string());
        }
    };
    install_master_snapshot(shared, snapshot, replid, offset);
    let target = {
        let config = shared.config();
        config.dir.join(&config.dbfilename)
    };
    if std::fs::rename(&temp, &target).is_ok() {
        crate::persist::snapshot::sync_dir(&target);
    }
    Ok(())
}

async fn write_synced(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    file.write_all(data).await?;
    file.sync_all().await
}
