//! The state one node shares between its connections: the keyspace [`Engine`] behind its mutex,
//! pub/sub, the client registry, configuration, counters and the event bus.
//!
//! This layer sits between the keyspace (`store`) and the commands (`cmd`): commands read and
//! change it, the runtime (`node`) creates it and drives I/O around it. It holds no sockets.
//!
//! Lock order, to stay deadlock-free: `engine` (the keyspace, replication, AOF and persistence
//! state: one lock) before `pubsub`, `clients`, `monitors` and `config`; none of these locks is
//! held across an `.await`.

pub mod activity;
pub mod aof;
pub mod aof_sync;
pub mod clients;
pub mod cmdstats;
pub mod command_config;
pub mod engine;
pub mod events;
pub mod eviction;
pub mod log;
pub mod memory;
pub mod notify;
pub mod pause;
pub mod persistence;
pub mod propagation;
pub mod pubsub;
pub mod role;
pub mod script_run;
pub mod session;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;

pub use crate::clock::{unix_ms, unix_us};
use crate::config::Config;
use clients::ClientRegistry;
use engine::{ClientId, Engine};
use events::{Event, EventBus};
use pubsub::PubSub;

/// Counters for `INFO stats`, updated without the keyspace lock.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// How the server was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Save if save points are configured (SHUTDOWN, SIGTERM).
    Default,
    Save,
    NoSave,
    /// The SHUTDOWN command already saved (it does so before answering, so that a failed
    /// save can refuse the shutdown): nothing more to save.
    Saved,
}

impl ShutdownMode {
    /// Whether the final save runs, given whether save points are configured.
    pub fn wants_save(self, has_save_points: bool) -> bool {
        match self {
            ShutdownMode::Save => true,
            ShutdownMode::NoSave | ShutdownMode::Saved => false,
            ShutdownMode::Default => has_save_points,
        }
    }
}

/// Everything a node shares between connections and background tasks.
#[derive(Debug)]
pub struct Shared {
    pub config: RwLock<Config>,
    /// Bumped by every [`Shared::config_mut`], so that copies of settings know when to re-read.
    config_generation: AtomicU64,
    /// The config file the server was started with (CONFIG REWRITE writes it).
    pub config_path: Option<PathBuf>,
    pub engine: Mutex<Engine>,
    pub pubsub: Mutex<PubSub>,
    pub clients: ClientRegistry,
    /// MONITOR clients: each gets every executed command.
    pub monitors: Mutex<Vec<(ClientId, pubsub::PushSink)>>,
    has_monitors: AtomicBool,
    pub stats: Stats,
    pub events: EventBus,
    /// 40 hex characters, new at every start (`run_id` in INFO).
    pub run_id: String,
    pub started: Instant,
    /// The port actually bound (differs from the config when it asked for port 0).
    pub port: AtomicU64,
    next_client_id: AtomicU64,
    /// The replica-link generation after each role change ([`role::change_role`]); the
    /// runtime starts the link task for it.
    pub role_changes: watch::Sender<u64>,
    /// The client script running off the connections' thread, if any.
    pub script: std::sync::Arc<script_run::ScriptRun>,
    /// Bumped when CLIENT UNPAUSE ends a pause: clients it postponed check it again.
    pub pause_changes: watch::Sender<u64>,
    /// Faults to apply to peer links; only on a node started with `--lab-faults`.
    pub faults: Option<std::sync::Arc<crate::net::FaultTable>>,
    /// Set to ask every task to stop.
    pub shutdown: watch::Sender<Option<ShutdownMode>>,
    /// Woken after a command changed the cluster state, so its driver acts at once.
    pub cluster_wake: tokio::sync::Notify,
    /// Group commit of the AOF under `appendfsync always` ([`aof_sync`]).
    pub aof_sync: aof_sync::AofSync,
    /// Client reads, for the runtime's event-loop spin ([`activity`]).
    pub client_activity: activity::ClientActivity,
}

impl Shared {
    pub fn new(config: Config, config_path: Option<PathBuf>, events: EventBus) -> Shared {
        let mut engine = Engine::new(config.databases);
        engine.repl = crate::repl::ReplState::new(
            config.repl_backlog_size as usize,
            random_hex_id(&mut rand::thread_rng()),
        );
        engine.persistence = persistence::Persistence::new(unix_ms() / 1000);
        if let Some(classes) = config.get_one("notify-keyspace-events") {
            engine.set_notify_flags(notify::parse_classes(&classes));
        }
        let (shutdown, _) = watch::channel(None);
        Shared {
            port: AtomicU64::new(config.port as u64),
            config: RwLock::new(config),
            config_generation: AtomicU64::new(0),
            config_path,
            engine: Mutex::new(engine),
            pubsub: Mutex::new(PubSub::default()),
            clients: ClientRegistry::default(),
            monitors: Mutex::new(Vec::new()),
            has_monitors: AtomicBool::new(false),
            stats: Stats::default(),
            events,
            run_id: random_hex_id(&mut rand::thread_rng()),
            started: Instant::now(),
            next_client_id: AtomicU64::new(1),
            shutdown,
            cluster_wake: tokio::sync::Notify::new(),
            aof_sync: Default::default(),
            client_activity: Default::default(),
            role_changes: watch::channel(0).0,
            pause_changes: watch::channel(0).0,
            script: Default::default(),
            faults: None,
        }
    }

    /// Locks the keyspace. A panic in another thread while holding it must not take the whole
    /// server down with it, so a poisoned lock is recovered.
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn pubsub(&self) -> MutexGuard<'_, PubSub> {
        self.pubsub.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration for writing. Copies of settings (see [`command_config`]) re-read it.
    pub fn config_mut(&self) -> std::sync::RwLockWriteGuard<'_, Config> {
        let guard = self.config.write().unwrap_or_else(|e| e.into_inner());
        self.config_generation.fetch_add(1, Ordering::Release);
        guard
    }

    /// How many times the configuration was opened for writing.
    pub fn config_generation(&self) -> u64 {
        self.config_generation.load(Ordering::Acquire)
    }

    /// The Unix time (seconds) the server started.
    pub fn started_unix_secs(&self) -> i64 {
        (unix_ms() - self.started.elapsed().as_millis() as i64) / 1000
    }

    pub fn next_client_id(&self) -> ClientId {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// Adds a MONITOR client.
    pub fn add_monitor(&self, id: ClientId, sink: pubsub::PushSink) {
        let mut monitors = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        monitors.push((id, sink));
        self.has_monitors.store(true, Ordering::Relaxed);
    }

    pub fn remove_monitor(&self, id: ClientId) {
        let mut monitors = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        monitors.retain(|(m, _)| *m != id);
        self.has_monitors
            .store(!monitors.is_empty(), Ordering::Relaxed);
    }

    /// Sends an executed command to MONITOR clients, formatted as Redis does:
    /// `1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`.
    pub fn feed_monitors(&self, db: usize, addr: &str, argv: &[Bytes]) {
        if !self.has_monitors.load(Ordering::Relaxed) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "{}.{:06} [{} {}]",
            now.as_secs(),
            now.subsec_micros(),
            db,
            addr
        );
        for arg in argv {
            line.push(' ');
            line.push_str(&quote_for_monitor(arg));
        }
        let monitors = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        for (_, sink) in monitors.iter() {
            sink.send(crate::resp::Reply::Simple(Bytes::from(line.clone())));
        }
    }

    /// Asks every task to stop.
    pub fn request_shutdown(&self, mode: ShutdownMode) {
        self.shutdown.send_replace(Some(mode));
    }

    /// A receiver that resolves when shutdown is requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<Option<ShutdownMode>> {
        self.shutdown.subscribe()
    }
}

pub use crate::repl::random_hex_id;

/// Quotes an argument like Redis's `sdscatrepr`: `"..."` with `\n`, `\"`, `\xHH` escapes.
pub fn quote_for_monitor(arg: &[u8]) -> String {
    let mut s = String::with_capacity(arg.len() + 2);
    s.push('"');
    for &b in arg {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// Creates the per-connection message queue used for pub/sub and MONITOR.
pub fn new_push_channel() -> (pubsub::PushSink, pubsub::PushSource) {
    pubsub::push_channel(pubsub::PUBSUB_HARD_LIMIT_BYTES)
}
