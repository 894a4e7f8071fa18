//! The table of every directive Redis 7.0 knows: name, alias, value kind, default, flags; and,
//! at its end, redislab's own (hidden, so `CONFIG GET *` lists what Redis lists).
//!
//! Built from `static_configs[]` in Redis 7.0's `config.c` and checked against
//! `CONFIG GET *` of a real Redis 7.0.15 (TLS build). This is the one place that says which
//! directives exist, what they accept, whether CONFIG SET may change them, and which ones
//! redislab implements ([`IMPLEMENTED`]). The directives that are not values at all
//! (`include`, `rename-command`, `user`, `loadmodule`, `sentinel`) are handled by the loader.
//!
//! To implement a directive: give `Config` a typed field, map it in `Config::store` /
//! `Config::fetch` (config/mod.rs), and add `IMPLEMENTED` here. A unit test checks the three
//! agree.

/// CONFIG SET refuses it: "can't set immutable config".
pub const IMMUTABLE: u8 = 1;
/// CONFIG SET refuses it unless `enable-protected-configs` allows: "can't set protected config".
pub const PROTECTED: u8 = 2;
/// Not matched by CONFIG GET patterns, only by its exact name.
pub const HIDDEN: u8 = 4;
/// Takes several arguments; one argument holding spaces is split on them.
pub const MULTI_ARG: u8 = 8;
/// Holds a secret (a password).
pub const SENSITIVE: u8 = 16;
/// redislab implements it: it has a typed field in `Config` and no start-up warning.
pub const IMPLEMENTED: u8 = 32;

/// A validity check on a string value; the error is Redis's reason.
pub type Check = fn(&str) -> Result<(), &'static str>;

/// What values a directive accepts, and so how it is parsed, shown and rewritten.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// A decimal integer within bounds.
    Int { min: i64, max: i64 },
    /// An octal integer within bounds (`unixsocketperm`).
    Octal { min: i64, max: i64 },
    /// Bytes, with optional unit (`1k` = 1000, `1kb` = 1024, m/mb, g/gb).
    Mem { min: u64, max: u64 },
    /// Bytes or a percentage `N%` (kept negative, as Redis does) — `maxmemory-clients`.
    MemPercent { min: i64, max: i64 },
    /// One of the listed names; names sharing an id are aliases of the first.
    Enum(&'static [(&'static str, u8)]),
    /// Several words from a fixed set, as one value (`shutdown-on-sigint save now`).
    Flags(&'static [&'static str]),
    /// Free text; with `empty_is_null` an empty string means "not set".
    Str {
        empty_is_null: bool,
        check: Option<Check>,
    },
    /// `save <seconds> <changes> ...`.
    Save,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> ...`.
    ClientOutputBufferLimit,
    /// `bind <addr> ...`.
    Bind,
    /// `replicaof <host> <port>` or `replicaof no one`.
    ReplicaOf,
    /// `dir <path>`: must be an existing directory.
    Dir,
    /// `notify-keyspace-events <classes>`.
    NotifyKeyspaceEvents,
    /// `oom-score-adj-values <master> <replica> <bgchild>`.
    OomScoreAdjValues,
    /// `latency-tracking-info-percentiles <p> ...`.
    LatencyPercentiles,
}

/// One directive of the table.
#[derive(Debug)]
pub struct Directive {
    /// The canonical name.
    pub name: &'static str,
    /// The other accepted name (`slave-*` spellings and older names).
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// The default, written as in a config file (`"3600 1 300 100 60 10000"`, `"64mb"`).
    /// `None` only for `dir`, whose default is the working directory.
    pub default: Option<&'static str>,
    pub flags: u8,
}

impl Directive {
    /// Is `flag` set?
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;

const fn d(
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    flags: u8,
) -> Directive {
    Directive {
        name,
        alias,
        kind,
        default: Some(default),
        flags,
    }
}
const fn b(
    name: &'static str,
    alias: Option<&'static str>,
    default: &'static str,
    flags: u8,
) -> Directive {
    d(name, alias, Kind::Bool, default, flags)
}
const fn int(
    name: &'static str,
    alias: Option<&'static str>,
    min: i64,
    max: i64,
    default: &'static str,
    flags: u8,
) -> Directive {
    d(name, alias, Kind::Int { min, max }, default, flags)
}
const fn mem(
    name: &'static str,
    alias: Option<&'static str>,
    min: u64,
    max: u64,
    default: &'static str,
    flags: u8,
) -> Directive {
    d(name, alias, Kind::Mem { min, max }, default, flags)
}
const fn s(
    name: &'static str,
    alias: Option<&'static str>,
    empty_is_null: bool,
    default: &'static str,
    flags: u8,
) -> Directive {
    d(
        name,
        alias,
        Kind::Str {
            empty_is_null,
            check: None,
        },
        default,
        flags,
    )
}
const fn sc(
    name: &'static str,
    empty_is_null: bool,
    check: Check,
    default: &'static str,
    flags: u8,
) -> Directive {
    d(
        name,
        None,
        Kind::Str {
            empty_is_null,
            check: Some(check),
        },
        default,
        flags,
    )
}
const fn e(
    name: &'static str,
    values: &'static [(&'static str, u8)],
    default: &'static str,
    flags: u8,
) -> Directive {
    d(name, None, Kind::Enum(values), default, flags)
}

const NULL: bool = true; // empty string means "not set"
const EMPTY: bool = false; // empty string is a value

const IMPL: u8 = IMPLEMENTED;
const IMM: u8 = IMMUTABLE;

const SUPERVISED: &[(&str, u8)] = &[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)];
const SYSLOG_FACILITY: &[(&str, u8)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const REPL_DISKLESS_LOAD: &[(&str, u8)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
/// `loglevel` names, in `LogLevel` order.
pub const LOGLEVEL: &[(&str, u8)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
/// `maxmemory-policy` names, in `MaxmemoryPolicy` order.
pub const MAXMEMORY_POLICY: &[(&str, u8)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
/// `appendfsync` names.
pub const APPENDFSYNC: &[(&str, u8)] = &[("everysec", 0), ("always", 1), ("no", 2)];
const OOM_SCORE_ADJ: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT: &[(&str, u8)] = &[("allchannels", 0), ("resetchannels", 1)];
const SANITIZE_DUMP: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("clients", 2)];
/// `enable-*-command` / `enable-protected-configs` names.
pub const PROTECTED_ACTION: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("local", 2)];
const ENDPOINT_TYPE: &[(&str, u8)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, u8)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];
const TLS_AUTH_CLIENTS: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("optional", 2)];

fn is_base_name(v: &str) -> bool {
    !v.contains('/')
}
fn check_dbfilename(v: &str) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}
fn check_appendfilename(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appendfilename can't be empty")
    } else if !is_base_name(v) {
        Err("appendfilename can't be a path, just a filename")
    } else {
        Ok(())
    }
}
fn check_appenddirname(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appenddirname can't be empty")
    } else if !is_base_name(v) {
        Err("appenddirname can't be a path, just a dirname")
    } else {
        Ok(())
    }
}
fn check_hostname(v: &str) -> Result<(), &'static str> {
    if v.len() >= 256 {
        Err("Hostnames must be less than 256 characters")
    } else if !v
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots")
    } else {
        Ok(())
    }
}

/// Every directive Redis 7.0 knows, in `config.c` order, then redislab's own.
#[rustfmt::skip]
pub static TABLE: &[Directive] = &[
    // Booleans
    b("rdbchecksum", None, "yes", IMM | IMPL),
    b("daemonize", None, "no", IMM | IMPL),
    b("io-threads-do-reads", None, "no", IMM),
    b("always-show-logo", None, "no", IMM),
    b("protected-mode", None, "yes", IMPL),
    b("rdbcompression", None, "yes", IMPL),
    b("rdb-del-sync-files", None, "no", 0),
    b("activerehashing", None, "yes", 0),
    b("stop-writes-on-bgsave-error", None, "yes", IMPL),
    b("set-proc-title", None, "yes", IMM),
    b("dynamic-hz", None, "yes", 0),
    b("lazyfree-lazy-eviction", None, "no", 0),
    b("lazyfree-lazy-expire", None, "no", 0),
    b("lazyfree-lazy-server-del", None, "no", 0),
    b("lazyfree-lazy-user-del", None, "no", 0),
    b("lazyfree-lazy-user-flush", None, "no", 0),
    b("repl-disable-tcp-nodelay", None, "no", 0),
    b("repl-diskless-sync", None, "yes", IMPL),
    b("aof-rewrite-incremental-fsync", None, "yes", 0),
    b("no-appendfsync-on-rewrite", None, "no", 0),
    b("cluster-require-full-coverage", None, "yes", IMPL),
    b("rdb-save-incremental-fsync", None, "yes", 0),
    b("aof-load-truncated", None, "yes", IMPL),
    b("aof-use-rdb-preamble", None, "yes", 0),
    b("aof-timestamp-enabled", None, "no", 0),
    b("cluster-replica-no-failover", Some("cluster-slave-no-failover"), "no", 0),
    b("replica-lazy-flush", Some("slave-lazy-flush"), "no", 0),
    b("replica-serve-stale-data", Some("slave-serve-stale-data"), "yes", IMPL),
    b("replica-read-only", Some("slave-read-only"), "yes", IMPL),
    b("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), "yes", IMPL),
    b("jemalloc-bg-thread", None, "yes", IMPL),
    b("activedefrag", None, "no", 0),
    b("syslog-enabled", None, "no", IMM),
    b("cluster-enabled", None, "no", IMM | IMPL),
    b("appendonly", None, "no", IMPL),
    b("cluster-allow-reads-when-down", None, "no", IMPL),
    b("cluster-allow-pubsubshard-when-down", None, "yes", IMPL),
    b("crash-log-enabled", None, "yes", 0),
    b("crash-memcheck-enabled", None, "yes", 0),
    b("use-exit-on-panic", None, "no", HIDDEN),
    b("disable-thp", None, "yes", IMM),
    b("cluster-allow-replica-migration", None, "yes", 0),
    b("replica-announced", None, "yes", 0),
    b("latency-tracking", None, "yes", 0),
    b("aof-disable-auto-gc", None, "no", 0),
    b("replica-ignore-disk-write-errors", None, "no", 0),
    // Strings
    s("aclfile", None, EMPTY, "", IMM),
    s("unixsocket", None, NULL, "", IMM),
    s("pidfile", None, NULL, "", IMM | IMPL),
    s("replica-announce-ip", Some("slave-announce-ip"), NULL, "", IMPL),
    s("masteruser", None, NULL, "", SENSITIVE | IMPL),
    s("cluster-announce-ip", None, NULL, "", IMPL),
    s("cluster-config-file", None, EMPTY, "nodes.conf", IMM | IMPL),
    sc("cluster-announce-hostname", NULL, check_hostname, "", 0),
    s("syslog-ident", None, EMPTY, "redis", IMM),
    sc("dbfilename", EMPTY, check_dbfilename, "dump.rdb", PROTECTED | IMPL),
    sc("appendfilename", EMPTY, check_appendfilename, "appendonly.aof", IMM | IMPL),
    sc("appenddirname", EMPTY, check_appenddirname, "appendonlydir", IMM | IMPL),
    s("server_cpulist", None, NULL, "", IMM),
    s("bio_cpulist", None, NULL, "", IMM),
    s("aof_rewrite_cpulist", None, NULL, "", IMM),
    s("bgsave_cpulist", None, NULL, "", IMM),
    s("ignore-warnings", None, EMPTY, "", 0),
    s("proc-title-template", None, EMPTY, "{title} {listen-addr} {server-mode}", 0),
    s("bind-source-addr", None, NULL, "", 0),
    s("logfile", None, EMPTY, "", IMM | IMPL),
    s("masterauth", None, NULL, "", SENSITIVE | IMPL),
    s("requirepass", None, NULL, "", SENSITIVE | IMPL),
    // Enums
    e("supervised", SUPERVISED, "no", IMM),
    e("syslog-facility", SYSLOG_FACILITY, "local0", IMM),
    e("repl-diskless-load", REPL_DISKLESS_LOAD, "disabled", IMPL),
    e("loglevel", LOGLEVEL, "notice", IMPL),
    e("maxmemory-policy", MAXMEMORY_POLICY, "noeviction", IMPL),
    e("appendfsync", APPENDFSYNC, "everysec", IMPL),
    e("oom-score-adj", OOM_SCORE_ADJ, "no", 0),
    e("acl-pubsub-default", ACL_PUBSUB_DEFAULT, "resetchannels", 0),
    e("sanitize-dump-payload", SANITIZE_DUMP, "no", 0),
    e("enable-protected-configs", PROTECTED_ACTION, "no", IMM),
    e("enable-debug-command", PROTECTED_ACTION, "no", IMM),
    e("enable-module-command", PROTECTED_ACTION, "no", IMM),
    e("cluster-preferred-endpoint-type", ENDPOINT_TYPE, "ip", 0),
    e("propagation-error-behavior", PROPAGATION_ERROR, "ignore", 0),
    d("shutdown-on-sigint", None, Kind::Flags(SHUTDOWN_FLAGS), "default", MULTI_ARG),
    d("shutdown-on-sigterm", None, Kind::Flags(SHUTDOWN_FLAGS), "default", MULTI_ARG),
    // Integers
    int("databases", None, 1, INT_MAX, "16", IMM | IMPL),
    int("port", None, 0, 65535, "6379", IMPL),
    int("io-threads", None, 1, 128, "1", IMM),
    int("auto-aof-rewrite-percentage", None, 0, INT_MAX, "100", IMPL),
    int("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), 0, INT_MAX, "10", IMPL),
    int("list-max-listpack-size", Some("list-max-ziplist-size"), INT_MIN, INT_MAX, "-2", IMPL),
    int("tcp-keepalive", None, 0, INT_MAX, "300", IMPL),
    int("cluster-migration-barrier", None, 0, INT_MAX, "1", IMPL),
    int("active-defrag-cycle-min", None, 1, 99, "1", 0),
    int("active-defrag-cycle-max", None, 1, 99, "25", 0),
    int("active-defrag-threshold-lower", None, 0, 1000, "10", 0),
    int("active-defrag-threshold-upper", None, 0, 1000, "100", 0),
    int("lfu-log-factor", None, 0, INT_MAX, "10", IMPL),
    int("lfu-decay-time", None, 0, INT_MAX, "1", IMPL),
    int("replica-priority", Some("slave-priority"), 0, INT_MAX, "100", IMPL),
    int("repl-diskless-sync-delay", None, 0, INT_MAX, "5", IMPL),
    int("maxmemory-samples", None, 1, INT_MAX, "5", IMPL),
    int("maxmemory-eviction-tenacity", None, 0, 100, "10", 0),
    int("timeout", None, 0, INT_MAX, "0", IMPL),
    int("replica-announce-port", Some("slave-announce-port"), 0, 65535, "0", IMPL),
    int("tcp-backlog", None, 0, INT_MAX, "511", IMM),
    int("cluster-port", None, 0, 65535, "0", IMM | IMPL),
    int("cluster-announce-bus-port", None, 0, 65535, "0", IMPL),
    int("cluster-announce-port", None, 0, 65535, "0", IMPL),
    int("cluster-announce-tls-port", None, 0, 65535, "0", 0),
    int("repl-timeout", None, 1, INT_MAX, "60", IMPL),
    int("repl-ping-replica-period", Some("repl-ping-slave-period"), 1, INT_MAX, "10", IMPL),
    int("list-compress-depth", None, 0, INT_MAX, "0", 0),
    int("rdb-key-save-delay", None, INT_MIN, INT_MAX, "0", HIDDEN),
    int("key-load-delay", None, INT_MIN, INT_MAX, "0", HIDDEN),
    int("active-expire-effort", None, 1, 10, "1", 0),
    int("hz", None, 0, INT_MAX, "10", IMPL),
    int("min-replicas-to-write", Some("min-slaves-to-write"), 0, INT_MAX, "0", IMPL),
    int("min-replicas-max-lag", Some("min-slaves-max-lag"), 0, INT_MAX, "10", IMPL),
    int("watchdog-period", None, 0, INT_MAX, "0", HIDDEN),
    int("shutdown-timeout", None, 0, INT_MAX, "10", 0),
    int("repl-diskless-sync-max-replicas", None, 0, INT_MAX, "0", IMPL),
    int("maxclients", None, 1, UINT_MAX, "10000", IMPL),
    int("socket-mark-id", None, 0, UINT_MAX, "0", IMM),
    d("unixsocketperm", None, Kind::Octal { min: 0, max: 0o777 }, "0", IMM),
    int("active-defrag-max-scan-fields", None, 1, LONG_MAX, "1000", 0),
    int("slowlog-max-len", None, 0, LONG_MAX, "128", 0),
    int("acllog-max-len", None, 0, LONG_MAX, "128", 0),
    int("busy-reply-threshold", Some("lua-time-limit"), 0, LONG_MAX, "5000", 0),
    int("cluster-node-timeout", None, 0, LONG_MAX, "15000", IMPL),
    int("slowlog-log-slower-than", None, -1, LONG_MAX, "10000", 0),
    int("latency-monitor-threshold", None, 0, LONG_MAX, "0", 0),
    mem("proto-max-bulk-len", None, 1024 * 1024, LONG_MAX as u64, "512mb", IMPL),
    int("stream-node-max-entries", None, 0, LONG_MAX, "100", 0),
    mem("repl-backlog-size", None, 1, LONG_MAX as u64, "1mb", IMPL),
    mem("maxmemory", None, 0, u64::MAX, "0", IMPL),
    mem("cluster-link-sendbuf-limit", None, 0, u64::MAX, "0", 0),
    int("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), 0, LONG_MAX, "512", IMPL),
    int("set-max-intset-entries", None, 0, LONG_MAX, "512", IMPL),
    int("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), 0, LONG_MAX, "128", IMPL),
    mem("active-defrag-ignore-bytes", None, 1, LONG_MAX as u64, "100mb", 0),
    mem("hash-max-listpack-value", Some("hash-max-ziplist-value"), 0, LONG_MAX as u64, "64", IMPL),
    mem("stream-node-max-bytes", None, 0, LONG_MAX as u64, "4096", 0),
    mem("zset-max-listpack-value", Some("zset-max-ziplist-value"), 0, LONG_MAX as u64, "64", IMPL),
    mem("hll-sparse-max-bytes", None, 0, LONG_MAX as u64, "3000", 0),
    int("tracking-table-max-keys", None, 0, LONG_MAX, "1000000", 0),
    mem("client-query-buffer-limit", None, 1024 * 1024, LONG_MAX as u64, "1gb", IMPL),
    d("maxmemory-clients", None, Kind::MemPercent { min: -100, max: LONG_MAX }, "0", 0),
    int("repl-backlog-ttl", None, 0, LONG_MAX, "3600", IMPL),
    mem("auto-aof-rewrite-min-size", None, 0, LONG_MAX as u64, "64mb", IMPL),
    int("loading-process-events-interval-bytes", None, 1024, INT_MAX, "2097152", HIDDEN),
    // TLS (Redis built with TLS, as Debian's is)
    int("tls-port", None, 0, 65535, "0", 0),
    int("tls-session-cache-size", None, 0, INT_MAX, "20480", 0),
    int("tls-session-cache-timeout", None, 0, INT_MAX, "300", 0),
    b("tls-cluster", None, "no", 0),
    b("tls-replication", None, "no", 0),
    e("tls-auth-clients", TLS_AUTH_CLIENTS, "yes", 0),
    b("tls-prefer-server-ciphers", None, "no", 0),
    b("tls-session-caching", None, "yes", 0),
    s("tls-cert-file", None, NULL, "", 0),
    s("tls-key-file", None, NULL, "", 0),
    s("tls-key-file-pass", None, NULL, "", SENSITIVE),
    s("tls-client-cert-file", None, NULL, "", 0),
    s("tls-client-key-file", None, NULL, "", 0),
    s("tls-client-key-file-pass", None, NULL, "", SENSITIVE),
    s("tls-dh-params-file", None, NULL, "", 0),
    s("tls-ca-cert-file", None, NULL, "", 0),
    s("tls-ca-cert-dir", None, NULL, "", 0),
    s("tls-protocols", None, NULL, "", 0),
    s("tls-ciphers", None, NULL, "", 0),
    s("tls-ciphersuites", None, NULL, "", 0),
    // Special
    Directive { name: "dir", alias: None, kind: Kind::Dir, default: None, flags: PROTECTED | IMPL },
    d("save", None, Kind::Save, "3600 1 300 100 60 10000", MULTI_ARG | IMPL),
    d("client-output-buffer-limit", None, Kind::ClientOutputBufferLimit,
      "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", MULTI_ARG | IMPL),
    d("oom-score-adj-values", None, Kind::OomScoreAdjValues, "0 200 800", MULTI_ARG),
    d("notify-keyspace-events", None, Kind::NotifyKeyspaceEvents, "", 0),
    d("bind", None, Kind::Bind, "* -::*", MULTI_ARG | IMPL),
    d("replicaof", Some("slaveof"), Kind::ReplicaOf, "no one", IMM | MULTI_ARG | IMPL),
    d("latency-tracking-info-percentiles", None, Kind::LatencyPercentiles, "50 99 99.9", MULTI_ARG),
    // redislab's own, hidden from `CONFIG GET *` so that listings match Redis's.
    int("event-loop-spin-us", None, 0, 1_000_000, "50", HIDDEN | IMPL),
];

/// Find a directive by name or alias, ignoring case.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    TABLE.iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Directives Redis 7.0 ignores silently (deprecated, `loadServerConfigFromString`).
pub const DEPRECATED_IGNORED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name (and alias) `CONFIG GET *` lists on Redis 7.0.15 (Debian, TLS build).
    const REDIS_7_0_CONFIG_GET_ALL: &str = "acl-pubsub-default aclfile acllog-max-len \
        active-defrag-cycle-max active-defrag-cycle-min active-defrag-ignore-bytes \
        active-defrag-max-scan-fields active-defrag-threshold-lower active-defrag-threshold-upper \
        active-expire-effort activedefrag activerehashing always-show-logo aof-disable-auto-gc \
        aof-load-truncated aof-rewrite-incremental-fsync aof-timestamp-enabled \
        aof-use-rdb-preamble aof_rewrite_cpulist appenddirname appendfilename appendfsync \
        appendonly auto-aof-rewrite-min-size auto-aof-rewrite-percentage bgsave_cpulist bind \
        bind-source-addr bio_cpulist busy-reply-threshold client-output-buffer-limit \
        client-query-buffer-limit cluster-allow-pubsubshard-when-down \
        cluster-allow-reads-when-down cluster-allow-replica-migration cluster-announce-bus-port \
        cluster-announce-hostname cluster-announce-ip cluster-announce-port \
        cluster-announce-tls-port cluster-config-file cluster-enabled cluster-link-sendbuf-limit \
        cluster-migration-barrier cluster-node-timeout cluster-port \
        cluster-preferred-endpoint-type cluster-replica-no-failover \
        cluster-replica-validity-factor cluster-require-full-coverage cluster-slave-no-failover \
        cluster-slave-validity-factor crash-log-enabled crash-memcheck-enabled daemonize \
        databases dbfilename dir disable-thp dynamic-hz enable-debug-command \
        enable-module-command enable-protected-configs hash-max-listpack-entries \
        hash-max-listpack-value hash-max-ziplist-entries hash-max-ziplist-value \
        hll-sparse-max-bytes hz ignore-warnings io-threads io-threads-do-reads \
        jemalloc-bg-thread latency-monitor-threshold latency-tracking \
        latency-tracking-info-percentiles lazyfree-lazy-eviction lazyfree-lazy-expire \
        lazyfree-lazy-server-del lazyfree-lazy-user-del lazyfree-lazy-user-flush lfu-decay-time \
        lfu-log-factor list-compress-depth list-max-listpack-size list-max-ziplist-size logfile \
        loglevel lua-time-limit masterauth masteruser maxclients maxmemory maxmemory-clients \
        maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples min-replicas-max-lag \
        min-replicas-to-write min-slaves-max-lag min-slaves-to-write no-appendfsync-on-rewrite \
        notify-keyspace-events oom-score-adj oom-score-adj-values pidfile port \
        proc-title-template propagation-error-behavior protected-mode proto-max-bulk-len \
        rdb-del-sync-files rdb-save-incremental-fsync rdbchecksum rdbcompression \
        repl-backlog-size repl-backlog-ttl repl-disable-tcp-nodelay repl-diskless-load \
        repl-diskless-sync repl-diskless-sync-delay repl-diskless-sync-max-replicas \
        repl-ping-replica-period repl-ping-slave-period repl-timeout replica-announce-ip \
        replica-announce-port replica-announced replica-ignore-disk-write-errors \
        replica-ignore-maxmemory replica-lazy-flush replica-priority replica-read-only \
        replica-serve-stale-data replicaof requirepass sanitize-dump-payload save \
        server_cpulist set-max-intset-entries set-proc-title shutdown-on-sigint \
        shutdown-on-sigterm shutdown-timeout slave-announce-ip slave-announce-port \
        slave-ignore-maxmemory slave-lazy-flush slave-priority slave-read-only \
        slave-serve-stale-data slaveof slowlog-log-slower-than slowlog-max-len socket-mark-id \
        stop-writes-on-bgsave-error stream-node-max-bytes stream-node-max-entries supervised \
        syslog-enabled syslog-facility syslog-ident tcp-backlog tcp-keepalive timeout \
        tls-auth-clients tls-ca-cert-dir tls-ca-cert-file tls-cert-file tls-ciphers \
        tls-ciphersuites tls-client-cert-file tls-client-key-file tls-client-key-file-pass \
        tls-cluster tls-dh-params-file tls-key-file tls-key-file-pass tls-port \
        tls-prefer-server-ciphers tls-protocols tls-replication tls-session-cache-size \
        tls-session-cache-timeout tls-session-caching tracking-table-max-keys unixsocket \
        unixsocketperm zset-max-listpack-entries zset-max-listpack-value \
        zset-max-ziplist-entries zset-max-ziplist-value";

    #[test]
    fn table_knows_every_name_redis_7_0_lists() {
        let missing: Vec<&str> = REDIS_7_0_CONFIG_GET_ALL
            .split_whitespace()
            .filter(|n| lookup(n).is_none())
            .collect();
        assert!(missing.is_empty(), "missing: {missing:?}");
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for d in TABLE {
            for n in std::iter::once(d.name).chain(d.alias) {
                assert_eq!(n, n.to_ascii_lowercase());
                assert!(seen.insert(n), "duplicate {n}");
            }
        }
    }
}
