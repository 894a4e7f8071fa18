//! Events: what a node did, as typed facts in the past tense, each defined once.
//!
//! One line of `define_events!` per kind gives everything the rest of redislab needs:
//!
//! - the typed value ([`Event`]) that the code emitting it builds, with its fields;
//! - its kind name ([`Event::kind`]), what a lab file waits on (`replica-synced`);
//! - its log line ([`Event::log_line`]), word for word what Redis 7.0 logs at the same moment;
//! - its recogniser ([`recognise`]): the same template read backwards, so a log line written by
//!   a redislab node *or by real Redis* comes back as the typed event with its fields.
//!
//! Every event is one log line (Redis's multi-line moments are several events, emitted
//! together), so a lab tailing a log sees each moment exactly once. The runtime writes events
//! to the log and streams them to in-process observers (`server::EventBus`); the lab runner
//! tails the real processes' logs and recognises them here. There is no second table.
//!
//! Templates use `{field}` placeholders; a field is parsed back with its type's `FromStr`.

use std::fmt;
use std::str::FromStr;

use crate::config::LogLevel;

/// Seconds with millisecond precision, printed as Redis prints durations (`0.012`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

impl FromStr for Seconds {
    type Err = std::num::ParseFloatError;
    fn from_str(s: &str) -> Result<Seconds, Self::Err> {
        s.parse().map(Seconds)
    }
}

impl From<std::time::Duration> for Seconds {
    fn from(d: std::time::Duration) -> Seconds {
        Seconds(d.as_secs_f64())
    }
}

/// The instance a Sentinel event is about, as Redis's `sentinelEvent` writes it (`%@`):
/// `master <name> <ip> <port>` for a master, `<slave|sentinel> <name> <ip> <port> @ <master>
/// <master-ip> <master-port>` for a replica (named `ip:port`) or a sentinel (named by run id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    /// `master`, `slave` or `sentinel`.
    pub role: String,
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// For a replica or a sentinel: its master's name, ip and port.
    pub master: Option<(String, String, u16)>,
}

impl InstanceRef {
    /// The fields a lab can test or capture beside the whole text: `role`, `name`, `addr`
    /// (`ip:port`) and `master` (the master's name).
    pub const PARTS: [&'static str; 4] = ["role", "name", "addr", "master"];

    fn parts(&self) -> Vec<(String, String)> {
        let master = match &self.master {
            Some((name, _, _)) => name.clone(),
            None => self.name.clone(),
        };
        vec![
            ("role".into(), self.role.clone()),
            ("name".into(), self.name.clone()),
            ("addr".into(), format!("{}:{}", self.ip, self.port)),
            ("master".into(), master),
        ]
    }
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.role, self.name, self.ip, self.port)?;
        if let Some((name, ip, port)) = &self.master {
            write!(f, " @ {name} {ip} {port}")?;
        }
        Ok(())
    }
}

impl FromStr for InstanceRef {
    type Err = String;
    fn from_str(s: &str) -> Result<InstanceRef, String> {
        let words: Vec<&str> = s.split(' ').collect();
        let port = |w: &str| w.parse::<u16>().map_err(|e| format!("port {w:?}: {e}"));
        match words.as_slice() {
            ["master", name, ip, p] => Ok(InstanceRef {
                role: "master".into(),
                name: name.to_string(),
                ip: ip.to_string(),
                port: port(p)?,
                master: None,
            }),
            [role @ ("slave" | "sentinel"), name, ip, p, "@", m, mip, mp] => Ok(InstanceRef {
                role: role.to_string(),
                name: name.to_string(),
                ip: ip.to_string(),
                port: port(p)?,
                master: Some((m.to_string(), mip.to_string(), port(mp)?)),
            }),
            _ => Err(format!("not a Sentinel instance description: {s:?}")),
        }
    }
}

/// One event kind: its name, log level, template, and how to read it back from a log line.
pub struct Definition {
    pub kind: &'static str,
    pub level: LogLevel,
    /// The log line, with `{field}` placeholders.
    pub template: &'static str,
    parse: fn(&str) -> Option<Event>,
    #[cfg(test)]
    sample: fn() -> Event,
}

impl Definition {
    /// The names of the fields this kind carries, in template order; an `instance` field
    /// (a Sentinel event's [`InstanceRef`]) brings its [`InstanceRef::PARTS`] after it.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        for name in template_fields(self.template) {
            fields.push(name);
            if name == "instance" {
                fields.extend(InstanceRef::PARTS);
            }
        }
        fields
    }

    /// Reads `message` (a log line without its `pid:role date level` prefix) as this kind.
    pub fn parse(&self, message: &str) -> Option<Event> {
        (self.parse)(message)
    }

    /// The text of each field of `message` read as this kind, by name (as logged), or `None`
    /// when `message` is not of this kind. Labs test and capture fields through it.
    pub fn field_values(&self, message: &str) -> Option<Vec<(String, String)>> {
        self.parse(message)?;
        let mut values = Vec::new();
        for (name, text) in capture(self.template, message)? {
            let parts = match name.as_str() {
                "instance" => text.parse::<InstanceRef>().ok().map(|i| i.parts()),
                _ => None,
            };
            values.push((name, text.to_string()));
            values.extend(parts.unwrap_or_default());
        }
        Some(values)
    }
}

impl fmt::Debug for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Definition")
            .field("kind", &self.kind)
            .field("template", &self.template)
            .finish()
    }
}

macro_rules! define_events {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident $({ $($field:ident : $ty:ty),* $(,)? })? = $kind:literal, $level:ident, $template:literal;
    )*) => {
        /// Something a node did. See the module docs: each variant is defined once, with its
        /// kind name, log level and Redis log line.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $(#[doc = $doc])* $name $({ $($field: $ty),* })?, )*
        }

        impl Event {
            /// The kind name a lab file uses (`replica-synced`).
            pub fn kind(&self) -> &'static str {
                match self { $( Event::$name { .. } => $kind, )* }
            }

            /// The level Redis logs this at.
            pub fn level(&self) -> LogLevel {
                match self { $( Event::$name { .. } => LogLevel::$level, )* }
            }

            /// A Sentinel event's pub/sub channel and payload: the kind (`+sdown`) and the
            /// log line after it, as `sentinelEvent` publishes them (all but debug-level ones).
            /// `None` for every other event.
            pub fn publication(&self) -> Option<(&'static str, String)> {
                let kind = self.kind();
                if !kind.starts_with(['+', '-']) || self.level() == LogLevel::Debug {
                    return None;
                }
                let line = self.log_line();
                let payload = line.strip_prefix(kind).unwrap_or(&line).trim_start().to_string();
                Some((kind, payload))
            }

            /// The log line Redis writes at this moment (without the `pid:role date` prefix).
            #[allow(unused_variables)]
            pub fn log_line(&self) -> String {
                match self {
                    $( Event::$name $({ $($field),* })? => format!($template), )*
                }
            }
        }

        /// Every event kind, in definition order.
        pub static DEFINITIONS: &[Definition] = &[
            $( Definition {
                kind: $kind,
                level: LogLevel::$level,
                template: $template,
                #[allow(unused_variables)]
                parse: |message| {
                    let fields = capture($template, message)?;
                    Some(Event::$name $({ $($field: field(&fields, stringify!($field))?),* })?)
                },
                #[cfg(test)]
                sample: || Event::$name $({ $($field: <$ty as tests::Sample>::sample()),* })?,
            }, )*
        ];
    };
}

define_events! {
    // --- process life ---
    /// The process started.
    Starting = "starting", Notice, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo";
    /// The version banner that follows.
    VersionBanner { version: String, pid: u32 } = "version-banner", Notice,
        "Redis version={version}, bits=64, pid={pid}, just started";
    /// A line of the config file is accepted but has no effect in redislab.
    ConfigWarning { message: String } = "config-warning", Warning, "WARNING: {message}";
    /// The pidfile could not be written (Redis only warns).
    PidfileFailed { path: String, error: String } = "pidfile-failed", Warning,
        "Failed to write PID file {path}: {error}";
    /// The listener is bound.
    Listening { mode: String, port: u16 } = "listening", Notice, "Running mode={mode}, port={port}.";
    /// The dataset is loaded and clients are served.
    Ready = "ready", Notice, "Ready to accept connections";
    /// The listening socket could not be bound (Redis's `listenToPort`).
    ListenFailed { error: String } = "listen-failed", Warning, "Warning: Could not create server TCP listening socket {error}";
    /// ... and the server gives up (`initServer`).
    ListenAborted { port: u16 } = "listen-aborted", Warning, "Failed listening on port {port} (TCP), aborting.";
    /// The pidfile is removed on the way out.
    PidfileRemoved = "pidfile-removed", Notice, "Removing the pid file.";
    /// Start-up failed while loading the dataset.
    LoadFailed { error: String } = "load-failed", Warning, "Fatal error at start-up: {error}";
    /// A signal asked the server to stop.
    SignalShutdown { signal: String } = "signal-shutdown", Warning, "Received {signal} scheduling shutdown...";
    /// SHUTDOWN or a signal: the server starts stopping.
    ShutdownStarted = "shutdown-started", Warning, "User requested shutdown...";
    /// The save before exiting starts.
    FinalSaveStarted = "final-save-started", Notice, "Saving the final RDB snapshot before exiting.";
    /// The save before exiting failed: SHUTDOWN refuses.
    ShutdownSaveFailed = "shutdown-save-failed", Warning, "Error trying to save the DB, can't exit.";
    /// Everything is closed; the process exits next.
    ShutdownComplete = "shutdown-complete", Warning, "Redis is now ready to exit, bye bye...";

    // --- RDB ---
    /// A save point was reached.
    SavePointReached { changes: u64, seconds: u64 } = "save-point-reached", Notice,
        "{changes} changes in {seconds} seconds. Saving...";
    /// A forked child started writing a snapshot.
    BackgroundSaveStarted { pid: i32 } = "background-save-started", Notice,
        "Background saving started by pid {pid}";
    /// The background snapshot finished and replaced the dump.
    BackgroundSaveSucceeded = "background-save-finished", Notice,
        "Background saving terminated with success";
    /// The background snapshot failed.
    BackgroundSaveFailed = "background-save-failed", Warning, "Background saving error";
    /// A foreground SAVE (or the save on shutdown) wrote the dump.
    DbSaved = "db-saved", Notice, "DB saved on disk";
    /// A save failed.
    SaveFailed { error: String } = "save-failed", Warning, "Failed saving the DB: {error}";
    /// Loading an RDB file starts (at start-up, or a replica loading its master's snapshot).
    RdbLoading { version: String } = "rdb-loading", Notice, "Loading RDB produced by version {version}";
    /// An RDB was loaded.
    RdbLoaded { keys: usize, expired: usize } = "rdb-loaded", Notice,
        "Done loading RDB, keys loaded: {keys}, keys expired: {expired}.";
    /// The start-up load from the dump finished.
    DbLoadedFromDisk { seconds: Seconds } = "db-loaded-from-disk", Notice,
        "DB loaded from disk: {seconds} seconds";
    /// An RDB held stream keys, which redislab does not have.
    StreamKeysSkipped { count: u64 } = "stream-keys-skipped", Warning,
        "{count} stream keys in the RDB were skipped: redislab has no stream type";

    // --- AOF ---
    /// A MULTI without its EXEC at the end of the AOF is dropped.
    AofMultiReverted { file: String } = "aof-multi-reverted", Warning,
        "Revert incomplete MULTI/EXEC transaction in AOF file {file}";
    /// The AOF ends in the middle of a command.
    AofShortRead { file: String } = "aof-short-read", Warning,
        "!!! Warning: short read while loading the AOF file {file}!!!";
    /// ... and is cut after its last complete command.
    AofTruncating { file: String, offset: u64 } = "aof-truncating", Warning,
        "!!! Truncating the AOF {file} at offset {offset} !!!";
    /// The start-up load from the AOF finished.
    AofLoaded { seconds: Seconds, commands: u64, keys: usize } = "aof-loaded", Notice,
        "DB loaded from append only file: {seconds} seconds ({commands} commands, {keys} keys)";
    /// `appendonly yes` with no AOF yet: the first base is written at start-up.
    AofBaseCreated { file: String } = "aof-base-created", Notice,
        "Creating AOF base file {file} on server start";
    /// Writing to the AOF failed under `appendfsync always`: the server exits.
    AofWriteFatal { error: String } = "aof-write-fatal", Warning,
        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({error})";
    /// Writing to the AOF failed.
    AofWriteFailed { error: String } = "aof-write-failed", Warning, "Error writing to the AOF file: {error}";
    /// After a failed write, the buffered writes went through.
    AofWriteRecovered = "aof-write-recovered", Warning, "AOF write error looks solved, Redis can write again.";
    /// A temp file a killed save or rewrite left behind was removed at start-up.
    StaleTempRemoved { file: String, what: String } = "stale-temp-removed", Notice,
        "Removed the stale temporary file {file} of an interrupted {what}";
    /// A rewrite child started.
    AofRewriteStarted { pid: i32 } = "aof-rewrite-started", Notice,
        "Background append only file rewriting started by pid {pid}";
    /// The rewrite child finished with success.
    AofRewriteSucceeded { seconds: Seconds } = "aof-rewrite-succeeded", Notice,
        "Background AOF rewrite terminated with success ({seconds} seconds)";
    /// The new files are in place.
    AofRewriteFinished = "aof-rewrite-finished", Notice, "Background AOF rewrite finished successfully";
    /// The rewrite failed.
    AofRewriteFailed = "aof-rewrite-failed", Warning, "Background AOF rewrite terminated with error";
    /// A replica could not start its new AOF after a full sync.
    AofRestartAfterSyncFailed { error: String } = "aof-restart-after-sync-failed", Warning,
        "Failed enabling the AOF after successful master synchronization: {error}";
    /// The AOF grew past `auto-aof-rewrite-percentage`.
    AofAutoRewrite { percentage: u64 } = "aof-auto-rewrite", Notice,
        "Starting automatic rewriting of AOF on {percentage}% growth";

    // --- replication, master side ---
    /// A replica asked to synchronise.
    ReplicaAskedForSync { addr: String } = "replica-asked-for-sync", Notice,
        "Replica {addr} asks for synchronization";
    /// No partial resync possible: a full one follows.
    FullResyncRequested { addr: String } = "full-resync-requested", Notice,
        "Full resync requested by replica {addr}";
    /// Why a partial resync was refused.
    PartialResyncRejected { reason: String } = "partial-resync-rejected", Notice,
        "Partial resynchronization not accepted: {reason}";
    /// The backlog covers what the replica lacks.
    PartialResyncAccepted { addr: String, bytes: usize, offset: i64 } = "partial-resync-accepted", Notice,
        "Partial resynchronization request from {addr} accepted. Sending {bytes} bytes of backlog starting from offset {offset}.";
    /// The first replica created the backlog and a new history.
    BacklogCreated { replid: String, replid2: String } = "backlog-created", Notice,
        "Replication backlog created, my new replication IDs are '{replid}' and '{replid2}'";
    /// The snapshot for a full sync started (`disk` or `replicas sockets`).
    BgsaveForSyncStarted { target: String } = "bgsave-for-sync-started", Notice,
        "Starting BGSAVE for SYNC with target: {target}";
    /// The snapshot for a full sync could not be started.
    BgsaveForSyncFailed { error: String } = "bgsave-for-sync-failed", Warning,
        "BGSAVE for replication failed: {error}";
    /// A replica joined the running BGSAVE another replica waits for.
    WaitingForBgsaveEnd = "waiting-for-bgsave-end", Notice, "Waiting for end of BGSAVE for SYNC";
    /// The running BGSAVE cannot serve a new replica (nobody is buffering the stream since it
    /// started): the replica waits for the next one.
    BgsaveNotAttachable = "bgsave-not-attachable", Notice,
        "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC";
    /// The running BGSAVE writes to other replicas' sockets: the replica waits for the next.
    BgsaveHasSocketTarget = "bgsave-has-socket-target", Notice,
        "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC";
    /// Another child (an AOF rewrite) runs: the snapshot for a replica waits for its end.
    BgsaveForSyncDelayed = "bgsave-for-sync-delayed", Notice,
        "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed";
    /// The snapshot child for replicas failed: the replicas waiting for it are dropped.
    SyncBgsaveFailed = "sync-bgsave-failed", Warning, "SYNC failed. BGSAVE child returned an error";
    /// Diskless sync waits `repl-diskless-sync-delay` for more replicas.
    DisklessSyncDelayed = "diskless-sync-delayed", Notice, "Delay next BGSAVE for diskless SYNC";
    /// A diskless transfer child started.
    DisklessTransferStarted { pid: i32 } = "diskless-transfer-started", Notice,
        "Background RDB transfer started by pid {pid}";
    /// A diskless transfer to one replica ended.
    DisklessTransferSucceeded { addr: String } = "diskless-transfer-succeeded", Notice,
        "Streamed RDB transfer with replica {addr} succeeded (socket). Waiting for REPLCONF ACK from slave to enable streaming";
    /// The RDB file was sent to a replica.
    RdbTransferred { bytes: usize, addr: String } = "rdb-transferred", Notice,
        "Sent {bytes} bytes of RDB to replica {addr}";
    /// The replica is online and receives the stream.
    ReplicaSynced { addr: String } = "replica-synced", Notice,
        "Synchronization with replica {addr} succeeded";
    /// A replica's connection closed.
    ReplicaLinkLost { addr: String } = "replica-link-lost", Notice, "Connection with replica {addr} lost.";
    /// A replica sent no ACK for `repl-timeout`.
    ReplicaTimedOut { addr: String } = "replica-timed-out", Warning,
        "Disconnecting timedout replica (streaming sync): {addr}";
    /// A client (a replica, a subscriber, a normal client) passed its output buffer limit.
    OutputLimitReached { id: u64, addr: String } = "output-limit-reached", Warning,
        "Client id={id} addr={addr} scheduled to be closed ASAP for overcoming of output buffer limits.";

    // --- replication, replica side ---
    /// REPLICAOF host port.
    ReplicaOfEnabled { addr: String } = "replicaof-enabled", Notice, "REPLICAOF {addr} enabled (user request)";
    /// A master turning replica keeps its history as a cached master.
    CachedMasterSynthesized = "cached-master-synthesized", Notice,
        "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.";
    ConnectingToMaster { addr: String } = "connecting-to-master", Notice, "Connecting to MASTER {addr}";
    MasterSyncStarted = "master-sync-started", Notice, "MASTER <-> REPLICA sync started";
    /// Connecting to the master failed.
    MasterConnectFailed { error: String } = "master-connect-failed", Warning,
        "Error condition on socket for SYNC: {error}";
    MasterConnectTimeout = "master-connect-timeout", Warning, "Timeout connecting to the MASTER...";
    /// The master answered PING with an error other than NOAUTH.
    PingRefused { reply: String } = "ping-refused", Warning, "Error reply to PING from master: '{reply}'";
    UnexpectedPsyncReply { reply: String } = "unexpected-psync-reply", Warning,
        "Unexpected reply to PSYNC from master: {reply}";
    BadBulkHeader { reply: String } = "bad-bulk-header", Warning,
        "Bad protocol from MASTER, the first byte is not '$' (we received '{reply}'), are you sure the host and port are right?";
    /// The snapshot transfer broke or the snapshot could not be stored.
    MasterTransferFailed { error: String } = "master-transfer-failed", Warning,
        "I/O error trying to sync with MASTER: {error}";
    MasterTransferTimeout = "master-transfer-timeout", Warning,
        "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.";
    MasterRdbLoadFailed { error: String } = "master-rdb-load-failed", Warning,
        "Failed trying to load the MASTER synchronization DB from disk: {error}";
    /// The master's stream is not RESP.
    MasterProtocolError { error: String } = "master-protocol-error", Warning,
        "Protocol error from MASTER: {error}";
    MasterRepliedToPing = "master-replied-to-ping", Notice, "Master replied to PING, replication can continue...";
    MasterAuthFailed { error: String } = "master-auth-failed", Warning, "Unable to AUTH to MASTER: {error}";
    /// An old master refused REPLCONF; Redis goes on.
    ReplconfRefused { what: String, reply: String } = "replconf-refused", Notice,
        "(Non critical) Master does not understand REPLCONF {what}: {reply}";
    PartialResyncImpossible = "partial-resync-impossible", Notice,
        "Partial resynchronization not possible (no cached master)";
    PartialResyncTried { replid: String, offset: i64 } = "partial-resync-tried", Notice,
        "Trying a partial resynchronization (request {replid}:{offset}).";
    FullResyncFromMaster { replid: String, offset: i64 } = "full-resync-from-master", Notice,
        "Full resync from master: {replid}:{offset}";
    ReceivingRdb { bytes: usize } = "receiving-rdb", Notice,
        "MASTER <-> REPLICA sync: receiving {bytes} bytes from master to disk";
    ReceivingStreamedRdb = "receiving-streamed-rdb", Notice,
        "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk";
    FlushingOldData = "flushing-old-data", Notice, "MASTER <-> REPLICA sync: Flushing old data";
    LoadingDbInMemory = "loading-db-in-memory", Notice, "MASTER <-> REPLICA sync: Loading DB in memory";
    MasterSyncFinished = "master-sync-finished", Notice, "MASTER <-> REPLICA sync: Finished with success";
    PartialResyncFromMaster = "partial-resync-from-master", Notice,
        "Successful partial resynchronization with master.";
    PartialResyncAcceptedByMaster = "partial-resync-accepted-by-master", Notice,
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.";
    MasterReplidChanged { replid: String } = "master-replid-changed", Notice,
        "Master replication ID changed to {replid}";
    MasterTimedOut = "master-timed-out", Warning, "MASTER timeout: no data nor PING received...";
    MasterLinkLost = "master-link-lost", Notice, "Connection with master lost.";
    CachingMasterState = "caching-master-state", Notice, "Caching the disconnected master state.";
    DiscardingCachedMaster = "discarding-cached-master", Notice, "Discarding previously cached master state.";
    /// REPLICAOF NO ONE: the old history stays valid up to `valid_until` as `replid2`.
    SecondaryReplidSet { replid2: String, valid_until: i64, replid: String } = "secondary-replid-set", Notice,
        "Setting secondary replication ID to {replid2}, valid up to offset: {valid_until}. New replication ID is {replid}";
    MasterModeEnabled = "master-mode-enabled", Notice, "MASTER MODE enabled (user request)";

    // --- clients ---
    /// A client passed `client-query-buffer-limit`.
    QueryBufferLimitReached { addr: String } = "query-buffer-limit-reached", Warning,
        "Closing client that reached max query buffer length: addr={addr}";
    /// A client sent something that is not RESP.
    ProtocolError { error: String, addr: String } = "protocol-error", Verbose,
        "Protocol error ({error}) from client: addr={addr}";
    ConfigRewritten = "config-rewritten", Notice, "CONFIG REWRITE executed with success.";

    // --- cluster (cluster.c) ---
    /// A node started without a nodes.conf and named itself.
    ClusterNoConfig { name: String } = "cluster-no-config", Notice,
        "No cluster configuration found, I'm {name}";
    /// A node started from its nodes.conf.
    ClusterConfigLoaded { name: String } = "cluster-config-loaded", Notice,
        "Node configuration loaded, I'm {name}";
    /// nodes.conf could not be read: the node exits.
    ClusterConfigCorrupt = "cluster-config-corrupt", Warning,
        "Unrecoverable error: corrupted cluster config file.";
    /// nodes.conf could not be written: the node exits.
    ClusterConfigSaveFailed = "cluster-config-save-failed", Warning,
        "Fatal: can't update cluster config file.";
    /// Keys were loaded for a slot nobody serves; this node takes it.
    ClusterKeysInUnassignedSlot { slot: u16 } = "cluster-keys-in-unassigned-slot", Warning,
        "I have keys for unassigned slot {slot}. Taking responsibility for it.";
    /// Keys were loaded for a slot another node serves; it is marked importing.
    ClusterKeysInOthersSlot { slot: u16 } = "cluster-keys-in-others-slot", Warning,
        "I have keys for slot {slot}, but the slot is assigned to another node. Setting it to importing state.";
    /// `cluster_state` changed.
    ClusterStateChanged { state: String } = "cluster-state-changed", Warning,
        "Cluster state changed: {state}";
    /// CLUSTER SET-CONFIG-EPOCH.
    ClusterConfigEpochSet { epoch: u64 } = "cluster-config-epoch-set", Notice,
        "configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH";
    /// This node gave itself a new configEpoch without an election.
    ClusterNewConfigEpoch { epoch: u64 } = "cluster-new-config-epoch", Warning,
        "New configEpoch set to {epoch}";
    /// CLUSTER SETSLOT NODE closed an import into this node, which took a new configEpoch.
    ClusterEpochAfterImport { slot: u16 } = "cluster-epoch-after-import", Warning,
        "configEpoch updated after importing slot {slot}";
    /// A MEET completed: the node's real name replaced the temporary one.
    ClusterHandshakeCompleted { name: String } = "cluster-handshake-completed", Debug,
        "Handshake with node {name} completed.";
    /// A MEET (or the first PING) told this node its own address.
    ClusterMyIpUpdated { ip: String } = "cluster-my-ip-updated", Warning,
        "IP address for this node updated to {ip}";
    /// A node answered from a new address.
    ClusterAddressUpdated { name: String, addr: String } = "cluster-address-updated", Warning,
        "Address updated for node {name}, now {addr}";
    /// No PONG within node-timeout: PFAIL.
    ClusterNodePossiblyFailing { name: String } = "cluster-node-pfail", Debug,
        "*** NODE {name} possibly failing";
    /// A master's gossip reported a node as failing.
    ClusterFailureReported { sender: String, name: String } = "cluster-failure-reported", Verbose,
        "Node {sender} reported node {name} as not reachable.";
    /// ... and later as reachable.
    ClusterFailureReportCleared { sender: String, name: String } = "cluster-failure-report-cleared", Verbose,
        "Node {sender} reported node {name} is back online.";
    /// Failure reports from a majority of masters: FAIL, broadcast.
    ClusterNodeFailing { name: String } = "cluster-node-fail", Notice,
        "Marking node {name} as failing (quorum reached).";
    /// A FAIL message from another node.
    ClusterFailReceived { sender: String, about: String } = "cluster-fail-received", Notice,
        "FAIL message received from {sender} about {about}";
    /// A FAIL message from a node we do not know.
    ClusterFailIgnored { sender: String, about: String } = "cluster-fail-ignored", Notice,
        "Ignoring FAIL message from unknown node {sender} about {about}";
    /// A failing node is reachable again and its FAIL flag is cleared.
    ClusterFailCleared { name: String, reason: String } = "cluster-fail-cleared", Notice,
        "Clear FAIL state for node {name}: {reason}";
    /// A replica scheduled its election.
    ClusterElectionDelayed { delay: u64, rank: usize, offset: u64 } = "cluster-election-delayed", Warning,
        "Start of election delayed for {delay} milliseconds (rank #{rank}, offset {offset}).";
    /// A sibling with a better offset pushed the election back.
    ClusterReplicaRankUpdated { rank: usize, delay: u64 } = "cluster-replica-rank-updated", Warning,
        "Replica rank updated to #{rank}, added {delay} milliseconds of delay.";
    /// A replica asked the masters for votes.
    ClusterElectionStarted { epoch: u64 } = "cluster-election-started", Warning,
        "Starting a failover election for epoch {epoch}.";
    /// A master voted for a replica.
    ClusterAuthGranted { name: String, epoch: u64 } = "cluster-auth-granted", Warning,
        "Failover auth granted to {name} for epoch {epoch}";
    /// A master refused its vote.
    ClusterAuthDenied { name: String, reason: String } = "cluster-auth-denied", Warning,
        "Failover auth denied to {name}: {reason}";
    /// A majority voted: the replica takes over.
    ClusterElectionWon = "cluster-election-won", Warning,
        "Failover election won: I'm the new master.";
    ClusterConfigEpochAfterFailover { epoch: u64 } = "cluster-config-epoch-after-failover", Warning,
        "configEpoch set to {epoch} after successful failover";
    /// Why a replica of a failed master is not failing over.
    ClusterCantFailover { reason: String } = "cluster-cant-failover", Warning,
        "Currently unable to failover: {reason}";
    /// A node lost its slots to another and follows it.
    ClusterReconfiguredAsReplica { name: String } = "cluster-reconfigured-as-replica", Warning,
        "Configuration change detected. Reconfiguring myself as a replica of {name}";
    ClusterSubReplica { name: String } = "cluster-sub-replica", Warning,
        "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {name}";
    ClusterUpdateAboutMyself = "cluster-update-about-myself", Warning,
        "Discarding UPDATE message about myself.";
    ClusterReplicaMigrating { name: String } = "cluster-replica-migrating", Warning,
        "Migrating to orphaned master {name}";
    /// CLUSTER FAILOVER and its steps.
    ClusterManualFailoverAccepted = "cluster-manual-failover-accepted", Warning,
        "Manual failover user request accepted.";
    ClusterForcedFailover = "cluster-forced-failover", Warning,
        "Forced failover user request accepted.";
    ClusterTakeover = "cluster-takeover", Warning, "Taking over the master (user request).";
    ClusterManualFailoverRequested { name: String } = "cluster-manual-failover-requested", Warning,
        "Manual failover requested by replica {name}.";
    ClusterManualFailoverOffset { offset: u64 } = "cluster-manual-failover-offset", Warning,
        "Received replication offset for paused master manual failover: {offset}";
    ClusterManualFailoverCanStart = "cluster-manual-failover-can-start", Warning,
        "All master replication stream processed, manual failover can start.";
    ClusterManualFailoverTimedOut = "cluster-manual-failover-timed-out", Warning,
        "Manual failover timed out.";
    /// Bus frames that are dropped (the first one also closes the link).
    ClusterBusBadFrame = "cluster-bus-bad-frame", Warning,
        "Bad message length or signature received from Cluster bus.";
    ClusterBusInvalidLength { kind: String, totlen: usize, expected: usize } = "cluster-bus-invalid-length", Warning,
        "Received invalid {kind} packet of length {totlen} but expected length {expected}";
    ClusterBusBadPadding { kind: String, len: usize } = "cluster-bus-bad-padding", Warning,
        "Received a {kind} packet without proper padding ({len} bytes)";
    ClusterBusExtensionOverrun { kind: String, totlen: usize } = "cluster-bus-extension-overrun", Warning,
        "Received invalid {kind} packet with extension data that exceeds total packet length ({totlen})";
    ClusterBusUnknownType { kind: u16 } = "cluster-bus-unknown-type", Warning,
        "Received unknown packet type: {kind}";
    ClusterUnknownExtension { kind: u16 } = "cluster-unknown-extension", Warning,
        "Received unknown extension type {kind}";

    // --- Sentinel (`sentinelEvent`: `<type> <instance> [extra]`, published on channel <type>) ---
    /// The Sentinel's id, logged at start-up; a Sentinel is ready once it is logged.
    SentinelId { id: String } = "sentinel-id", Warning, "Sentinel ID is {id}";
    /// A master is monitored (at start-up, or SENTINEL MONITOR).
    Monitor { instance: InstanceRef, quorum: u32 } = "+monitor", Warning,
        "+monitor {instance} quorum {quorum}";
    /// SENTINEL REMOVE.
    MonitorRemoved { instance: InstanceRef } = "-monitor", Warning, "-monitor {instance}";
    /// SENTINEL RESET forgot what was learnt about a master.
    ResetMaster { instance: InstanceRef } = "+reset-master", Warning, "+reset-master {instance}";
    /// SENTINEL SET changed an option: `<master %@> <option> <value>`.
    SettingChanged { change: String } = "+set", Warning, "+set {change}";
    /// A replica was discovered (from the master's INFO) or added after a failover.
    SlaveAdded { instance: InstanceRef } = "+slave", Notice, "+slave {instance}";
    /// Another sentinel was discovered from its hello.
    SentinelAdded { instance: InstanceRef } = "+sentinel", Notice, "+sentinel {instance}";
    /// A sentinel with another run id took over a known sentinel's address.
    SentinelInvalidAddr { instance: InstanceRef } = "+sentinel-invalid-addr", Notice,
        "+sentinel-invalid-addr {instance}";
    /// A known sentinel now announces another address.
    SentinelAddressSwitch { instance: InstanceRef, ip: String, port: u16, runid: String } =
        "+sentinel-address-switch", Notice,
        "+sentinel-address-switch {instance} ip {ip} port {port} for {runid}";
    /// No valid reply for `down-after-milliseconds`: subjectively down.
    Sdown { instance: InstanceRef } = "+sdown", Warning, "+sdown {instance}";
    /// ... and back.
    SdownCleared { instance: InstanceRef } = "-sdown", Warning, "-sdown {instance}";
    /// Enough sentinels (`votes` of `quorum` needed) agree the master is down.
    Odown { instance: InstanceRef, votes: u32, quorum: u32 } = "+odown", Warning,
        "+odown {instance} #quorum {votes}/{quorum}";
    OdownCleared { instance: InstanceRef } = "-odown", Warning, "-odown {instance}";
    /// The current epoch grew.
    NewEpoch { epoch: u64 } = "+new-epoch", Warning, "+new-epoch {epoch}";
    /// This sentinel starts a failover and asks for votes.
    TryFailover { instance: InstanceRef } = "+try-failover", Warning, "+try-failover {instance}";
    /// This sentinel gave its vote for `epoch` (to itself or to the first that asked).
    VoteForLeader { runid: String, epoch: u64 } = "+vote-for-leader", Warning,
        "+vote-for-leader {runid} {epoch}";
    /// A peer's reply says whom it voted for (logged, not published).
    PeerVoted { voter: String, leader: String, epoch: u64 } = "peer-voted", Warning,
        "{voter} voted for {leader} {epoch}";
    /// This sentinel won the election and runs the failover.
    ElectedLeader { instance: InstanceRef } = "+elected-leader", Warning, "+elected-leader {instance}";
    FailoverStateSelectSlave { instance: InstanceRef } = "+failover-state-select-slave", Warning,
        "+failover-state-select-slave {instance}";
    /// The replica to promote.
    SelectedSlave { instance: InstanceRef } = "+selected-slave", Warning, "+selected-slave {instance}";
    FailoverStateSendSlaveofNoone { instance: InstanceRef } =
        "+failover-state-send-slaveof-noone", Warning, "+failover-state-send-slaveof-noone {instance}";
    FailoverStateWaitPromotion { instance: InstanceRef } = "+failover-state-wait-promotion", Warning,
        "+failover-state-wait-promotion {instance}";
    /// The selected replica reports itself a master.
    PromotedSlave { instance: InstanceRef } = "+promoted-slave", Warning, "+promoted-slave {instance}";
    FailoverStateReconfSlaves { instance: InstanceRef } = "+failover-state-reconf-slaves", Warning,
        "+failover-state-reconf-slaves {instance}";
    /// SLAVEOF <new master> sent to another replica.
    SlaveReconfSent { instance: InstanceRef } = "+slave-reconf-sent", Notice, "+slave-reconf-sent {instance}";
    /// ... sent at the end of a failover that timed out ("best effort").
    SlaveReconfSentBestEffort { instance: InstanceRef } = "+slave-reconf-sent-be", Notice,
        "+slave-reconf-sent-be {instance}";
    /// The replica's INFO names the new master.
    SlaveReconfInprog { instance: InstanceRef } = "+slave-reconf-inprog", Notice,
        "+slave-reconf-inprog {instance}";
    /// ... and its link to it is up.
    SlaveReconfDone { instance: InstanceRef } = "+slave-reconf-done", Notice, "+slave-reconf-done {instance}";
    SlaveReconfSentTimeout { instance: InstanceRef } = "-slave-reconf-sent-timeout", Notice,
        "-slave-reconf-sent-timeout {instance}";
    FailoverEnd { instance: InstanceRef } = "+failover-end", Warning, "+failover-end {instance}";
    FailoverEndForTimeout { instance: InstanceRef } = "+failover-end-for-timeout", Warning,
        "+failover-end-for-timeout {instance}";
    /// The master's address changed: from now on clients are sent to the new one.
    SwitchMaster { master: String, old_ip: String, old_port: u16, new_ip: String, new_port: u16 } =
        "+switch-master", Warning, "+switch-master {master} {old_ip} {old_port} {new_ip} {new_port}";
    /// A hello with a newer configuration: this sentinel adopts it.
    ConfigUpdateFrom { instance: InstanceRef } = "+config-update-from", Warning,
        "+config-update-from {instance}";
    /// A returning old master is told to replicate from the new one.
    ConvertToSlave { instance: InstanceRef } = "+convert-to-slave", Notice, "+convert-to-slave {instance}";
    /// A replica pointing at the wrong master is told the right one.
    FixSlaveConfig { instance: InstanceRef } = "+fix-slave-config", Notice, "+fix-slave-config {instance}";
    /// An instance's run id changed: it restarted.
    Reboot { instance: InstanceRef } = "+reboot", Notice, "+reboot {instance}";
    /// The timer ran late: TILT mode, no action for 30 s.
    TiltEntered = "+tilt", Warning, "+tilt #tilt mode entered";
    TiltExited = "-tilt", Warning, "-tilt #tilt mode exited";
    FailoverAbortNotElected { instance: InstanceRef } = "-failover-abort-not-elected", Warning,
        "-failover-abort-not-elected {instance}";
    FailoverAbortNoGoodSlave { instance: InstanceRef } = "-failover-abort-no-good-slave", Warning,
        "-failover-abort-no-good-slave {instance}";
    FailoverAbortSlaveTimeout { instance: InstanceRef } = "-failover-abort-slave-timeout", Warning,
        "-failover-abort-slave-timeout {instance}";
    /// An instance reports the role Sentinel expects of it.
    RoleChangeConfirmed { instance: InstanceRef, reported: String } = "+role-change", Verbose,
        "+role-change {instance} new reported role is {reported}";
    /// An instance reports another role than Sentinel expects of it.
    RoleChangeMismatch { instance: InstanceRef, reported: String } = "-role-change", Verbose,
        "-role-change {instance} new reported role is {reported}";
    /// Having voted for another, this sentinel waits before trying a failover itself.
    FailoverDelayed { at: String } = "failover-delayed", Warning,
        "Next failover delay: I will not start a failover before {at}";
    /// SENTINEL FAILOVER.
    UserFailover { master: String } = "user-failover", Warning,
        "Executing user requested FAILOVER of '{master}'";

    // --- labs ---
    /// A lab changed this node's fault table (only with `--lab-faults`).
    LabFault { peer: String, what: String } = "lab-fault", Warning, "Lab fault: traffic with {peer} {what}";
}

/// The definition of `kind`, if there is one.
pub fn definition(kind: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.kind == kind)
}

/// Reads a log message (see [`message`]) back into the event that wrote it, if any.
pub fn recognise(message: &str) -> Option<Event> {
    DEFINITIONS.iter().find_map(|d| d.parse(message))
}

/// The message of a Redis log line, without `pid:role dd Mon yyyy hh:mm:ss.mmm <mark> ` in
/// front: `12:M 24 Nov 2026 16:22:01.123 * Ready` → `Ready`. Other lines come back unchanged.
pub fn message(line: &str) -> &str {
    let mut parts = line.splitn(7, ' ');
    let head = parts.next().unwrap_or_default();
    if !head.contains(':')
        || !head
            .split(':')
            .next()
            .unwrap_or("x")
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return line;
    }
    // day, month, year, time, level mark, message
    let rest: Vec<&str> = parts.collect();
    if rest.len() == 6 && rest[4].len() == 1 {
        rest[5]
    } else {
        line
    }
}

/// The `{field}` names of a template, in order.
fn template_fields(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(name) => Some(name),
            Piece::Literal(_) => None,
        })
        .collect()
}

enum Piece<'a> {
    Literal(&'a str),
    Field(&'a str),
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Literal(&rest[..open]));
        }
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len());
        out.push(Piece::Field(&rest[open + 1..close]));
        rest = rest.get(close + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest));
    }
    out
}

/// Matches `message` against `template` as a whole; returns each field's text. A field takes
/// the shortest text after which the rest still matches (fields are never empty).
fn capture<'m>(template: &str, message: &'m str) -> Option<Vec<(String, &'m str)>> {
    fn go<'m>(pieces: &[Piece<'_>], message: &'m str, out: &mut Vec<(String, &'m str)>) -> bool {
        match pieces.split_first() {
            None => message.is_empty(),
            Some((Piece::Literal(lit), rest)) => {
                message.starts_with(lit) && go(rest, &message[lit.len()..], out)
            }
            Some((Piece::Field(name), rest)) => {
                let ends: Vec<usize> = match rest.first() {
                    None => vec![message.len()],
                    Some(Piece::Literal(lit)) => message
                        .match_indices(lit)
                        .map(|(i, _)| i)
                        .filter(|&i| i > 0)
                        .collect(),
                    // Two fields in a row cannot be told apart; templates never do that.
                    Some(Piece::Field(_)) => return false,
                };
                for end in ends {
                    if end == 0 {
                        continue;
                    }
                    out.push((name.to_string(), &message[..end]));
                    if go(rest, &message[end..], out) {
                        return true;
                    }
                    out.pop();
                }
                false
            }
        }
    }
    let mut out = Vec::new();
    go(&pieces(template), message, &mut out).then_some(out)
}

fn field<T: FromStr>(fields: &[(String, &str)], name: &str) -> Option<T> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, text)| text.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of each field type, to build one event of every kind.
    pub trait Sample {
        fn sample() -> Self;
    }
    impl Sample for String {
        fn sample() -> String {
            "sample".into()
        }
    }
    macro_rules! sample_number {
        ($($t:ty),*) => { $(impl Sample for $t { fn sample() -> $t { 42 } })* };
    }
    sample_number!(u16, u32, u64, i32, i64, usize);
    impl Sample for InstanceRef {
        fn sample() -> InstanceRef {
            InstanceRef {
                role: "slave".into(),
                name: "127.0.0.1:6380".into(),
                ip: "127.0.0.1".into(),
                port: 6380,
                master: Some(("mymaster".into(), "127.0.0.1".into(), 6379)),
            }
        }
    }
    impl Sample for Seconds {
        fn sample() -> Seconds {
            Seconds(0.012)
        }
    }

    #[test]
    fn every_kind_reads_back_from_its_own_log_line_and_only_as_itself() {
        for def in DEFINITIONS {
            let event = (def.sample)();
            assert_eq!(event.kind(), def.kind);
            let line = event.log_line();
            assert!(!line.contains('\n'), "{}: one event, one line", def.kind);
            assert_eq!(
                recognise(&line),
                Some(event.clone()),
                "{}: {line}",
                def.kind
            );
            let others: Vec<&str> = DEFINITIONS
                .iter()
                .filter(|d| d.kind != def.kind && d.parse(&line).is_some())
                .map(|d| d.kind)
                .collect();
            assert!(others.is_empty(), "{line:?} also reads as {others:?}");
        }
    }

    #[test]
    fn kinds_are_unique_and_fields_are_named_in_templates() {
        let mut kinds: Vec<&str> = DEFINITIONS.iter().map(|d| d.kind).collect();
        kinds.sort_unstable();
        let before = kinds.len();
        kinds.dedup();
        assert_eq!(kinds.len(), before, "duplicate kind names");
        assert_eq!(
            definition("partial-resync-accepted").unwrap().fields(),
            ["addr", "bytes", "offset"]
        );
    }

    #[test]
    fn real_redis_log_lines_are_recognised_with_their_fields() {
        // Lines as redis-server 7.0.15 writes them.
        let line = "4242:M 02 Dec 2026 10:00:00.123 * Partial resynchronization request from 127.0.0.1:6380 accepted. Sending 168 bytes of backlog starting from offset 1.";
        assert_eq!(
            recognise(message(line)),
            Some(Event::PartialResyncAccepted {
                addr: "127.0.0.1:6380".into(),
                bytes: 168,
                offset: 1
            })
        );
        let line = "4243:S 02 Dec 2026 10:00:00.456 * Full resync from master: 2d7c0b5c5d0e8e3b7f0c2e6f9a1b3c4d5e6f7a8b:14";
        assert_eq!(
            recognise(message(line)),
            Some(Event::FullResyncFromMaster {
                replid: "2d7c0b5c5d0e8e3b7f0c2e6f9a1b3c4d5e6f7a8b".into(),
                offset: 14
            })
        );
        assert_eq!(recognise("something else entirely"), None);
    }

    #[test]
    fn real_sentinel_log_lines_are_recognised_with_their_instances() {
        // Lines as redis-sentinel 7.0.15 writes them (`../shared/reference/redis-interop.md`).
        let line =
            "4250:X 02 Dec 2026 10:00:01.100 # +odown master mymaster 127.0.0.1 22200 #quorum 1/1";
        let Some(Event::Odown {
            instance,
            votes,
            quorum,
        }) = recognise(message(line))
        else {
            panic!("{line}");
        };
        assert_eq!(
            (instance.name.as_str(), instance.port, votes, quorum),
            ("mymaster", 22200, 1, 1)
        );
        let line = "4250:X 02 Dec 2026 10:00:01.180 # +selected-slave slave 127.0.0.1:22201 127.0.0.1 22201 @ mymaster 127.0.0.1 22200";
        let def = definition("+selected-slave").unwrap();
        let fields = def.field_values(message(line)).unwrap();
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("addr"), Some("127.0.0.1:22201"));
        assert_eq!(get("role"), Some("slave"));
        assert_eq!(get("master"), Some("mymaster"));
        assert!(def.fields().contains(&"addr"));
        let line = "4250:X 02 Dec 2026 10:00:02.210 # +switch-master mymaster 127.0.0.1 22200 127.0.0.1 22201";
        assert_eq!(
            recognise(message(line)),
            Some(Event::SwitchMaster {
                master: "mymaster".into(),
                old_ip: "127.0.0.1".into(),
                old_port: 22200,
                new_ip: "127.0.0.1".into(),
                new_port: 22201
            })
        );
        // Not an instance description: not an event.
        assert_eq!(recognise("+sdown master mymaster 127.0.0.1"), None);
        assert_eq!(recognise("+sdown slave a b 1 @ m"), None);
    }

    #[test]
    fn sentinel_events_are_published_on_their_own_channel() {
        let event = Event::Odown {
            instance: "master mymaster 127.0.0.1 6379".parse().unwrap(),
            votes: 2,
            quorum: 2,
        };
        assert_eq!(
            event.publication(),
            Some((
                "+odown",
                "master mymaster 127.0.0.1 6379 #quorum 2/2".into()
            ))
        );
        assert_eq!(
            Event::TiltEntered.publication(),
            Some(("+tilt", "#tilt mode entered".into()))
        );
        assert_eq!(Event::Ready.publication(), None);
        let voted = Event::PeerVoted {
            voter: "a".into(),
            leader: "b".into(),
            epoch: 1,
        };
        assert_eq!(voted.publication(), None);
    }

    #[test]
    fn a_field_may_contain_the_literal_that_follows_it() {
        let got = capture(
            "Failed saving the DB: {error}",
            "Failed saving the DB: x: y",
        );
        assert_eq!(got.unwrap()[0].1, "x: y");
        let got = capture("a {x} b {y}.", "a 1 b 2 b 3.").unwrap();
        assert_eq!((got[0].1, got[1].1), ("1", "2 b 3"));
    }

    #[test]
    fn message_strips_the_redis_prefix() {
        assert_eq!(
            message("12:M 24 Nov 2026 16:22:01.123 * Ready to accept connections"),
            "Ready to accept connections"
        );
        assert_eq!(message("not a log line"), "not a log line");
    }
}
