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
    /// The names of the fields this kind carries, in template order.
    pub fn fields(&self) -> Vec<&'static str> {
        template_fields(self.template)
    }

    /// Reads `message` (a log line without its `pid:role date level` prefix) as this kind.
    pub fn parse(&self, message: &str) -> Option<Event> {
        (self.parse)(message)
    }

    /// The text of each field of `message` read as this kind, by name (as logged), or `None`
    /// when `message` is not of this kind. Labs test and capture fields through it.
    pub fn field_values(&self, message: &str) -> Option<Vec<(String, String)>> {
        self.parse(message)?;
        let fields = capture(self.template, message)?;
        Some(
            fields
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
        )
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
