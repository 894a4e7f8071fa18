//! Events: what a node did, as typed facts in the past tense.
//!
//! Each event is emitted at the point where the state changes (where Redis writes its log
//! line). Emitting writes the event's Redis-format log line and broadcasts it to in-process
//! observers; the lab runner narrates from these, so a transcript is evidence of what happened.
//! Later roles (replication, sentinel, cluster) add their own variants here.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::log::Logger;
use crate::config::LogLevel;

/// Something a node did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The process started (`oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo`).
    Starting {
        pid: u32,
    },
    /// Directives Redis knows that redislab accepts but does not act on.
    UnimplementedDirectives {
        names: Vec<String>,
    },
    /// The listener is bound.
    Listening {
        port: u16,
    },
    /// The dataset is loaded and clients are served.
    Ready,
    /// A SHUTDOWN command or a signal asked the server to stop.
    ShutdownRequested {
        reason: String,
    },
    /// Everything is closed; the process exits next.
    ShutdownComplete,
    /// A save point was reached (`100 changes in 300 seconds. Saving...`).
    SavePointReached {
        changes: u64,
        seconds: u64,
    },
    /// A forked child started writing a snapshot.
    BackgroundSaveStarted {
        pid: i32,
    },
    /// The background snapshot finished; on success its file replaced the old dump.
    BackgroundSaveFinished {
        ok: bool,
    },
    /// A foreground SAVE (or the save on shutdown) wrote the dump.
    DbSaved,
    /// A save failed.
    SaveFailed {
        error: String,
    },
    /// The dataset was loaded from an RDB file at start-up.
    RdbLoaded {
        /// The `redis-ver` aux field of the file.
        version: String,
        keys: usize,
        expired: usize,
        millis: u128,
    },
    /// Master side: a replica asked to synchronise.
    ReplicaAskedForSync {
        addr: String,
    },
    /// Master side: no partial resync possible, a full one follows.
    FullResyncRequested {
        addr: String,
    },
    PartialResyncRejected {
        reason: String,
    },
    PartialResyncAccepted {
        addr: String,
        bytes: usize,
        offset: i64,
    },
    /// Master side: the first replica created the backlog and a new history.
    BacklogCreated {
        replid: String,
        replid2: String,
    },
    /// Master side: the snapshot for a full sync started (`disk` or `replicas sockets`).
    BgsaveForSyncStarted {
        target: &'static str,
    },
    /// Master side: the RDB file was sent to a replica.
    RdbTransferred {
        addr: String,
        bytes: usize,
    },
    /// Master side: the replica is online and receives the stream.
    ReplicaSynced {
        addr: String,
    },
    ReplicaLinkLost {
        addr: String,
    },
    /// Replica side.
    ConnectingToMaster {
        addr: String,
    },
    MasterSyncStarted,
    MasterAuthFailed {
        error: String,
    },
    FullResyncFromMaster {
        replid: String,
        offset: i64,
    },
    ReceivingRdb {
        bytes: Option<usize>,
    },
    FlushingOldData,
    LoadingDbInMemory,
    RdbLoadedFromMaster {
        keys: usize,
        bytes: usize,
    },
    MasterSyncFinished,
    PartialResyncFromMaster,
    MasterLinkLost,
    /// REPLICAOF host port.
    ReplicaOfEnabled {
        addr: String,
    },
    /// REPLICAOF NO ONE.
    Promoted {
        replid: String,
        replid2: String,
        valid_until: i64,
    },
    /// A warning that is not a state change a lab waits on (e.g. a rejected connection).
    Warning {
        text: String,
    },
    /// A notice that is not a state change a lab waits on.
    Notice {
        text: String,
    },
}

impl Event {
    /// The level and text of the log line Redis writes at this point.
    pub fn log_line(&self) -> (LogLevel, String) {
        use Event::*;
        match self {
            Starting { pid } => (
                LogLevel::Notice,
                format!(
                    "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\nRedis version=7.0.15 (redislab {}), bits=64, pid={pid}, just started",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            UnimplementedDirectives { names } => (
                LogLevel::Warning,
                format!(
                    "WARNING: these directives are accepted but not implemented by redislab: {}",
                    names.join(", ")
                ),
            ),
            Listening { port } => (
                LogLevel::Notice,
                format!("Running mode=standalone, port={port}."),
            ),
            Ready => (
                LogLevel::Notice,
                "Ready to accept connections tcp".to_string(),
            ),
            ShutdownRequested { reason } => (LogLevel::Warning, reason.clone()),
            ShutdownComplete => (
                LogLevel::Warning,
                "Redis is now ready to exit, bye bye...".to_string(),
            ),
            SavePointReached { changes, seconds } => (
                LogLevel::Notice,
                format!("{changes} changes in {seconds} seconds. Saving..."),
            ),
            BackgroundSaveStarted { pid } => (
                LogLevel::Notice,
                format!("Background saving started by pid {pid}"),
            ),
            BackgroundSaveFinished { ok: true } => (
                LogLevel::Notice,
                "Background saving terminated with success".to_string(),
            ),
            BackgroundSaveFinished { ok: false } => {
                (LogLevel::Warning, "Background saving error".to_string())
            }
            DbSaved => (LogLevel::Notice, "DB saved on disk".to_string()),
            SaveFailed { error } => (
                LogLevel::Warning,
                format!("Failed saving the DB: {error}"),
            ),
            RdbLoaded {
                version,
                keys,
                expired,
                millis,
            } => (
                LogLevel::Notice,
                format!(
                    "Loading RDB produced by version {version}\nDone loading RDB, keys loaded: {keys}, keys expired: {expired}.\nDB loaded from disk: {:.3} seconds",
                    *millis as f64 / 1000.0
                ),
            ),
            ReplicaAskedForSync { addr } => (
                LogLevel::Notice,
                format!("Replica {addr} asks for synchronization"),
            ),
            FullResyncRequested { addr } => (
                LogLevel::Notice,
                format!("Full resync requested by replica {addr}"),
            ),
            PartialResyncRejected { reason } => (
                LogLevel::Notice,
                format!("Partial resynchronization not accepted: {reason}"),
            ),
            PartialResyncAccepted { addr, bytes, offset } => (
                LogLevel::Notice,
                format!("Partial resynchronization request from {addr} accepted. Sending {bytes} bytes of backlog starting from offset {offset}."),
            ),
            BacklogCreated { replid, replid2 } => (
                LogLevel::Notice,
                format!("Replication backlog created, my new replication IDs are '{replid}' and '{replid2}'"),
            ),
            BgsaveForSyncStarted { target } => (
                LogLevel::Notice,
                format!("Starting BGSAVE for SYNC with target: {target}"),
            ),
            RdbTransferred { addr, bytes } => (
                LogLevel::Notice,
                format!("Sent {bytes} bytes of RDB to replica {addr}"),
            ),
            ReplicaSynced { addr } => (
                LogLevel::Notice,
                format!("Synchronization with replica {addr} succeeded"),
            ),
            ReplicaLinkLost { addr } => (
                LogLevel::Notice,
                format!("Connection with replica {addr} lost."),
            ),
            ConnectingToMaster { addr } => {
                (LogLevel::Notice, format!("Connecting to MASTER {addr}"))
            }
            MasterSyncStarted => (
                LogLevel::Notice,
                "MASTER <-> REPLICA sync started".to_string(),
            ),
            MasterAuthFailed { error } => (LogLevel::Warning, error.clone()),
            FullResyncFromMaster { replid, offset } => (
                LogLevel::Notice,
                format!("Full resync from master: {replid}:{offset}"),
            ),
            ReceivingRdb { bytes: Some(n) } => (
                LogLevel::Notice,
                format!("MASTER <-> REPLICA sync: receiving {n} bytes from master to disk"),
            ),
            ReceivingRdb { bytes: None } => (
                LogLevel::Notice,
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
                    .to_string(),
            ),
            FlushingOldData => (
                LogLevel::Notice,
                "MASTER <-> REPLICA sync: Flushing old data".to_string(),
            ),
            LoadingDbInMemory => (
                LogLevel::Notice,
                "MASTER <-> REPLICA sync: Loading DB in memory".to_string(),
            ),
            RdbLoadedFromMaster { keys, .. } => (
                LogLevel::Notice,
                format!("Done loading RDB, keys loaded: {keys}, keys expired: 0."),
            ),
            MasterSyncFinished => (
                LogLevel::Notice,
                "MASTER <-> REPLICA sync: Finished with success".to_string(),
            ),
            PartialResyncFromMaster => (
                LogLevel::Notice,
                "Successful partial resynchronization with master.\nMASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.".to_string(),
            ),
            MasterLinkLost => (
                LogLevel::Notice,
                "Connection with master lost.\nCaching the disconnected master state.".to_string(),
            ),
            ReplicaOfEnabled { addr } => (
                LogLevel::Notice,
                format!("REPLICAOF {addr} enabled (user request)"),
            ),
            Promoted {
                replid,
                replid2,
                valid_until,
            } => (
                LogLevel::Notice,
                format!("Setting secondary replication ID to {replid2}, valid up to offset: {}. New replication ID is {replid}\nMASTER MODE enabled (user request)", valid_until + 1),
            ),
            Warning { text } => (LogLevel::Warning, text.clone()),
            Notice { text } => (LogLevel::Notice, text.clone()),
        }
    }
}

/// Writes events to the log and to observers.
#[derive(Debug)]
pub struct EventBus {
    pub logger: Logger,
    observers: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    pub fn new(logger: Logger) -> EventBus {
        let (observers, _) = broadcast::channel(1024);
        EventBus { logger, observers }
    }

    pub fn emit(&self, event: Event) {
        let (level, line) = event.log_line();
        for part in line.split('\n') {
            self.logger.log(level, part);
        }
        // No observer is fine: events are also in the log.
        let _ = self.observers.send(Arc::new(event));
    }

    /// A stream of every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.observers.subscribe()
    }
}
