//! The cluster's driver: the bus listener on port + 10000 (or `cluster-port`), one task per
//! link reading whole frames, the 100 ms cron, and carrying out what the machine
//! ([`crate::cluster::Cluster`], kept in the engine) asks: connect, send, close, save
//! `nodes.conf` atomically, replicate or stop replicating, publish, drop a lost slot's keys.
//!
//! Decisions are the machine's; this file only moves bytes and reads the clock. Bus links go
//! through the fault layer, so a lab can cut and heal them as it does replication links.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::cluster::{bus, Cluster, LinkId, Output, ReplView, Settings};
use crate::events::Event;
use crate::net::PeerStream;
use crate::server::engine::Engine;
use crate::server::role::{change_role, Cause, Role};
use crate::server::{unix_ms, Shared};

use super::StartError;

/// The bus port of a node: `cluster-port`, or the client port + 10000.
pub fn bus_port(config: &crate::config::Config, port: u16) -> u16 {
    if config.cluster_port != 0 {
        config.cluster_port
    } else {
        port.wrapping_add(10000)
    }
}

/// The machine's settings from the config (`port`: the client port actually bound).
pub fn settings(config: &crate::config::Config, port: u16) -> Settings {
    let flag = |name: &str, default: bool| {
        config
            .get_one(name)
            .map_or(default, |v| v.eq_ignore_ascii_case("yes"))
    };
    let real_cport = bus_port(config, port);
    Settings {
        node_timeout: config.cluster_node_timeout.max(1),
        replica_validity_factor: config.cluster_replica_validity_factor,
        migration_barrier: config.cluster_migration_barrier as usize,
        allow_replica_migration: flag("cluster-allow-replica-migration", true),
        replica_no_failover: flag("cluster-replica-no-failover", false),
        require_full_coverage: config.cluster_require_full_coverage,
        announce_ip: config
            .cluster_announce_ip
            .clone()
            .filter(|ip| !ip.is_empty()),
        port: if config.cluster_announce_port != 0 {
            config.cluster_announce_port
        } else {
            port
        },
        cport: if config.cluster_announce_bus_port != 0 {
            config.cluster_announce_bus_port
        } else {
            real_cport
        },
        hostname: config
            .get_one("cluster-announce-hostname")
            .unwrap_or_default(),
        repl_ping_period: config.repl_ping_replica_period * 1000,
    }
}

/// Loads `nodes.conf` (or starts a new node), checks the loaded keys against it, and puts
/// the machine in the engine. Runs after the dataset is loaded, before clients are served.
pub fn init(shared: &Shared, port: u16) -> Result<(), StartError> {
    let config = shared.config().clone();
    let settings = settings(&config, port);
    let path = config.cluster_config_file.clone();
    let now = unix_ms() as u64;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            let error = format!("Loading the cluster node config from {path}: {e}");
            return Err(StartError::Load(error));
        }
    };
    let loaded = Cluster::from_config(settings.clone(), &text, now).map_err(|e| {
        shared.emit(Event::ClusterConfigCorrupt);
        StartError::Load(format!("corrupted cluster config file {path}, {e}"))
    })?;
    let mut cluster = match loaded {
        Some(c) => {
            shared.emit(Event::ClusterConfigLoaded {
                name: bus::name_str(&c.myself),
            });
            c
        }
        None => {
            let c = Cluster::new(settings, now, &mut rand::thread_rng());
            shared.emit(Event::ClusterNoConfig {
                name: bus::name_str(&c.myself),
            });
            c
        }
    };
    let mut engine = shared.engine();
    if engine.dbs.iter().skip(1).any(|db| !db.is_empty()) {
        return Err(StartError::Load(
            "You have keys in a DB different than DB 0 while in cluster mode. Exiting.".into(),
        ));
    }
    let slots = engine.dbs[0].slot_index().used_slots();
    cluster.verify_with_data(&slots);
    engine.cluster = Some(Box::new(cluster));
    let outputs = engine.cluster.as_mut().expect("just set").take_outputs();
    // Nothing is connected yet: only the save and the events matter here.
    let mut links = Links::default();
    carry_out(shared, &mut engine, outputs, &mut links);
    if !std::path::Path::new(&path).exists() {
        save_config(shared, &engine);
    }
    Ok(())
}

/// Binds the bus port on the addresses the client port uses.
pub async fn bind(config: &crate::config::Config, port: u16) -> Result<TcpListener, StartError> {
    let cport = bus_port(config, port);
    let ip = config
        .bind
        .iter()
        .map(|b| b.trim_start_matches('-'))
        .find(|b| b.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or("0.0.0.0")
        .to_string();
    let addr: SocketAddr = format!("{ip}:{cport}")
        .parse()
        .map_err(|_| StartError::Bind {
            addr: format!("{ip}:{cport}"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid address"),
        })?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{ip}:{cport}"),
            source,
        })
}

/// What link tasks tell the driver.
enum LinkEvent {
    Accepted(TcpStream),
    Connected(LinkId, TcpStream),
    ConnectFailed(LinkId),
    Frame(LinkId, Vec<u8>),
    Closed(LinkId),
}

/// What a link's writer task is told.
enum ToWriter {
    Frame(Vec<u8>),
    /// The peer's client address became known (an inbound link's first frame).
    Peer(String),
}

/// The writers of the open links.
#[derive(Default)]
struct Links {
    writers: HashMap<LinkId, mpsc::UnboundedSender<ToWriter>>,
    /// Outbound links' peers (`ip:client-port`), which name them in the fault layer.
    peers: HashMap<LinkId, String>,
    tx: Option<mpsc::UnboundedSender<LinkEvent>>,
    faults: Option<Arc<crate::net::FaultTable>>,
}

/// Most link events handled ahead of a cron tick (what arrived before it was due).
const PENDING_BEFORE_TICK: usize = 4096;

/// The driver: runs until shutdown.
pub async fn run(shared: Arc<Shared>, listener: TcpListener) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut links = Links {
        writers: HashMap::new(),
        peers: HashMap::new(),
        tx: Some(tx.clone()),
        faults: shared.faults.clone(),
    };
    let accept_tx = tx.clone();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    if accept_tx.send(LinkEvent::Accepted(stream)).is_err() {
                        return;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let mut shutdown = shared.shutdown_signal();
    let mut cron = tokio::time::interval(Duration::from_millis(100));
    // After a stall (the process was stopped, the host was busy), one tick, as Redis's cron
    // runs once however late it is, not a burst of the ticks missed.
    cron.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = rand::rngs::StdRng::from_entropy();
    loop {
        tokio::select! {
            _ = cron.tick() => {
                // What the links already received counts before the timeouts are checked, as
                // Redis handles file events before time events: a PONG that arrived while
                // this process was stopped is not a missing PONG.
                for _ in 0..PENDING_BEFORE_TICK {
                    let Ok(event) = rx.try_recv() else { break };
                    handle(&shared, &mut links, event);
                }
                with_machine(&shared, &mut links, |c, now| c.tick(now, &mut rng));
            }
            _ = shared.cluster_wake.notified() => {
                with_machine(&shared, &mut links, |_, _| {});
            }
            event = rx.recv() => {
                let Some(event) = event else { return };
                handle(&shared, &mut links, event);
            }
            _ = shutdown.changed() => {
                if shutdown.borrow().is_some() {
                    return;
                }
            }
        }
    }
}

fn handle(shared: &Arc<Shared>, links: &mut Links, event: LinkEvent) {
    match event {
        LinkEvent::Accepted(stream) => {
            let peer = peer_ip(&stream);
            let local = local_ip(&stream);
            let mut id = 0;
            with_machine(shared, links, |c, now| id = c.accepted(now, &peer, &local));
            spawn_link(links, id, stream);
        }
        LinkEvent::Connected(id, stream) => {
            let peer = peer_ip(&stream);
            let local = local_ip(&stream);
            spawn_link(links, id, stream);
            with_machine(shared, links, |c, now| c.connected(now, id, &peer, &local));
        }
        LinkEvent::ConnectFailed(id) | LinkEvent::Closed(id) => {
            links.writers.remove(&id);
            links.peers.remove(&id);
            with_machine(shared, links, |c, _| c.closed(id));
        }
        LinkEvent::Frame(id, frame) => {
            with_machine(shared, links, |c, now| {
                c.received(now, id, &frame);
            });
        }
    }
}

fn peer_ip(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.ip().to_canonical().to_string())
        .unwrap_or_default()
}

fn local_ip(stream: &TcpStream) -> String {
    stream
        .local_addr()
        .map(|a| a.ip().to_canonical().to_string())
        .unwrap_or_default()
}

/// Gives the machine the replication state and an input, then carries out its outputs.
fn with_machine(shared: &Arc<Shared>, links: &mut Links, input: impl FnOnce(&mut Cluster, u64)) {
    let mut engine = shared.engine();
    let view = repl_view(&engine);
    let now = unix_ms() as u64;
    let Some(cluster) = engine.cluster.as_mut() else {
        return;
    };
    cluster.set_repl(view);
    input(cluster, now);
    let outputs = cluster.take_outputs();
    carry_out(shared, &mut engine, outputs, links);
}

/// What the bus says about this node's replication.
pub fn repl_view(engine: &Engine) -> ReplView {
    let repl = &engine.repl;
    match &repl.master {
        Some(m) => ReplView {
            offset: repl.offset.max(0) as u64,
            link_up: m.up,
            since: if m.up {
                m.last_io_ms.max(0) as u64
            } else {
                m.down_since_ms.max(0) as u64
            },
        },
        None => ReplView {
            offset: repl.offset.max(0) as u64,
            link_up: false,
            since: 0,
        },
    }
}

fn carry_out(shared: &Shared, engine: &mut Engine, outputs: Vec<Output>, links: &mut Links) {
    // The slots this node's shard stopped serving, handled in one pass over the channels.
    let mut lost = crate::cluster::slot::SlotBitmap::default();
    let mut lost_any = false;
    for out in outputs {
        match out {
            Output::Connect {
                link,
                ip,
                port,
                node_port,
            } => {
                let Some(tx) = links.tx.clone() else {
                    continue;
                };
                links.peers.insert(link, format!("{ip}:{node_port}"));
                tokio::spawn(async move {
                    let addr = format!("{ip}:{port}");
                    let connect = TcpStream::connect(addr);
                    let event = match tokio::time::timeout(Duration::from_secs(5), connect).await {
                        Ok(Ok(stream)) => {
                            let _ = stream.set_nodelay(true);
                            LinkEvent::Connected(link, stream)
                        }
                        _ => LinkEvent::ConnectFailed(link),
                    };
                    let _ = tx.send(event);
                });
            }
            Output::Send { link, frame } => {
                if let Some(w) = links.writers.get(&link) {
                    let _ = w.send(ToWriter::Frame(frame));
                }
            }
            Output::Close { link } => {
                links.writers.remove(&link);
                links.peers.remove(&link);
            }
            Output::SaveConfig { .. } => save_config(shared, engine),
            Output::SetMaster(target) => {
                let to = match target {
                    Some((host, port)) => Role::ReplicaOf { host, port },
                    None => Role::Master,
                };
                change_role(shared, engine, to, Cause::Request, unix_ms());
            }
            Output::Publish {
                channel,
                message,
                shard,
            } => {
                // A PUBLISHSHARD from this shard's other nodes goes to SSUBSCRIBE subscribers.
                let hub = shared.pubsub.lock().expect("pubsub lock");
                if shard {
                    hub.spublish(&channel, &message);
                } else {
                    hub.publish(&channel, &message);
                }
            }
            Output::ShardLostSlot(slot) => {
                lost.set(slot as usize);
                lost_any = true;
            }
            Output::DeleteSlotKeys(slot) => {
                let db = &mut engine.dbs[0];
                let count = db.slot_index().count(slot);
                let keys = db.slot_index().keys(slot, count);
                for k in keys {
                    engine.dbs[0].remove(&k);
                }
            }
            Output::PauseWrites(until) => {
                // A master in a manual failover holds writes, so that its replica can catch up
                // to a final offset (CLIENT PAUSE WRITE's mechanism).
                match until {
                    Some(until) => {
                        engine.pause_clients(crate::server::pause::PauseMode::Write, until as i64)
                    }
                    None => engine.unpause_clients(),
                }
                crate::server::pause::wake_paused(shared);
            }
            Output::Event(e) => shared.emit(e),
        }
    }
    if lost_any {
        let mut hub = shared.pubsub.lock().expect("pubsub lock");
        hub.remove_shard_channels(|slot| lost.get(slot as usize));
    }
}

/// Writes `nodes.conf` atomically (temp file, fsync, rename); a failure stops the node as in
/// Redis ("Fatal: can't update cluster config file.").
fn save_config(shared: &Shared, engine: &Engine) {
    let Some(cluster) = engine.cluster.as_ref() else {
        return;
    };
    let path = shared.config().cluster_config_file.clone();
    let text = cluster.config_text();
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        shared.emit(Event::ClusterConfigSaveFailed);
        std::process::exit(1);
    }
}

/// Starts the reader and writer of a link. Both go through the fault layer
/// ([`crate::net::PeerStream`]) named by the peer's client address: known for an outbound
/// link, learned from an inbound link's first frame (its announced IP, or the socket's, and
/// its port).
fn spawn_link(links: &mut Links, id: LinkId, stream: TcpStream) {
    let Some(tx) = links.tx.clone() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let socket_ip = peer_ip(&stream);
    let known_peer = links.peers.get(&id).cloned();
    let peer = known_peer.clone().unwrap_or_default();
    let (reader, writer) = stream.into_split();
    let mut reader = PeerStream::new(reader, peer.clone(), links.faults.clone());
    let mut writer = PeerStream::new(writer, peer, links.faults.clone());
    let (wtx, mut wrx) = mpsc::unbounded_channel::<ToWriter>();
    links.writers.insert(id, wtx.clone());
    tokio::spawn(async move {
        while let Some(msg) = wrx.recv().await {
            match msg {
                ToWriter::Peer(peer) => writer.set_peer(peer),
                ToWriter::Frame(frame) => {
                    if writer.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut named = known_peer.is_some();
        loop {
            let mut head = [0u8; 8];
            if reader.read_exact(&mut head).await.is_err() {
                break;
            }
            let Ok(len) = bus::frame_len(&head) else {
                // A bad frame: the machine logs it and closes the link.
                let _ = tx.send(LinkEvent::Frame(id, head.to_vec()));
                break;
            };
            let mut frame = head.to_vec();
            // Read in bounded steps so that a lying length costs only what arrives.
            while frame.len() < len {
                let want = (len - frame.len()).min(64 * 1024);
                let start = frame.len();
                frame.resize(start + want, 0);
                if reader.read_exact(&mut frame[start..]).await.is_err() {
                    let _ = tx.send(LinkEvent::Closed(id));
                    return;
                }
            }
            if !named {
                if let Ok(msg) = bus::decode(&frame) {
                    let ip = if msg.header.ip.is_empty() {
                        socket_ip.clone()
                    } else {
                        msg.header.ip.clone()
                    };
                    let peer = format!("{ip}:{}", msg.header.port);
                    reader.set_peer(peer.clone());
                    let _ = wtx.send(ToWriter::Peer(peer));
                    named = true;
                }
            }
            if tx.send(LinkEvent::Frame(id, frame)).is_err() {
                return;
            }
        }
        let _ = tx.send(LinkEvent::Closed(id));
    });
}
