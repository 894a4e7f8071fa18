//! The configuration layer: redis.conf syntax and command-line overrides in, a typed
//! [`Config`] out; CONFIG GET, CONFIG SET and CONFIG REWRITE on it.
//!
//! Follows Redis 7.0's `config.c` (`loadServerConfigFromString`, `configSetCommand`,
//! `configGetCommand`, `rewriteConfig`), `sds.c` (`sdssplitargs`, `sdscatrepr`) and the
//! option handling in `main()` of `server.c`.
//!
//! The path of a setting:
//! 1. [`Config::load`] reads the file (following `include`), then the overrides turned into
//!    lines by [`args::overrides_to_lines`]; each line is split by [`args::split_args`].
//! 2. The directive is looked up in [`table::TABLE`], its arguments parsed into a `Value`
//!    (`value.rs`) and stored: in a typed field when redislab implements it, otherwise kept
//!    as a value so CONFIG GET and REWRITE still show it. The unimplemented ones that were set
//!    are named in one start-up warning ([`Loaded::warnings`]).
//! 3. At run time the command layer calls [`Config::get`], [`Config::set`] and
//!    [`Config::rewrite`]; their errors are [`ConfigCommandError`]s with Redis's reply texts.
//!
//! Differences from Redis, on purpose:
//! - the library never `chdir()`s: `dir` is resolved to an absolute path and checked; relative
//!   paths read after it (`include`, a later `dir`) resolve against it, as they would after
//!   Redis's `chdir()`. The server decides whether to change directory.
//! - errors name the file (or the command line) they come from.
//! - CONFIG REWRITE keeps a line byte for byte when it already says the current value, and
//!   deletes the lines of removed settings instead of blanking them, so a rewrite changes only
//!   what changed.
//! - `sentinel` lines are kept in [`Config::sentinel_lines`] whatever the mode; the server
//!   refuses them outside sentinel mode if it wants Redis's behaviour. `rename-command`,
//!   `user` and `loadmodule` are kept raw and not checked against the command table.
//! - the log file is not opened here (Redis checks it can be opened for appending).

pub mod args;
mod error;
mod rewrite;
mod runtime;
pub mod table;
mod value;

pub use value::strerror;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use error::{ConfigCommandError, ConfigError, COMMAND_LINE, REDIS_VERSION};

use table::{Directive, Kind, IMPLEMENTED, MULTI_ARG};
use value::{ParseCtx, Value};

/// How much the server logs (`loglevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// When the AOF is fsynced (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    Always,
    EverySec,
    No,
}

/// What happens when a write needs memory above `maxmemory` (`maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl MaxmemoryPolicy {
    /// Every policy in the order of the directive's table ([`table`]'s `MAXMEMORY_POLICY`).
    pub const ALL: [MaxmemoryPolicy; 8] = [
        MaxmemoryPolicy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl,
        MaxmemoryPolicy::AllkeysLru,
        MaxmemoryPolicy::AllkeysLfu,
        MaxmemoryPolicy::AllkeysRandom,
        MaxmemoryPolicy::NoEviction,
    ];

    /// The directive's spelling (`allkeys-lru`).
    pub fn name(self) -> &'static str {
        table::MAXMEMORY_POLICY[self as usize].0
    }

    fn from_name(name: &str) -> MaxmemoryPolicy {
        MaxmemoryPolicy::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .unwrap_or(MaxmemoryPolicy::NoEviction)
    }

    /// Only keys with an expiry time are candidates.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
        )
    }

    /// Accesses are counted (LFU) rather than timed (LRU).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu
        )
    }
}

/// One class of `client-output-buffer-limit`. Zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObufLimit {
    /// Disconnect at once above this many bytes.
    pub hard_bytes: u64,
    /// Disconnect when above this many bytes for `soft_seconds`.
    pub soft_bytes: u64,
    /// Seconds the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for the three client classes (`slave` is `replica`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOutputBufferLimits {
    pub normal: ObufLimit,
    pub replica: ObufLimit,
    pub pubsub: ObufLimit,
}

impl Default for ClientOutputBufferLimits {
    /// Redis's defaults: `normal 0 0 0`, `replica 256mb 64mb 60`, `pubsub 32mb 8mb 60`.
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        ClientOutputBufferLimits {
            normal: ObufLimit::default(),
            replica: ObufLimit {
                hard_bytes: 256 * MB,
                soft_bytes: 64 * MB,
                soft_seconds: 60,
            },
            pubsub: ObufLimit {
                hard_bytes: 32 * MB,
                soft_bytes: 8 * MB,
                soft_seconds: 60,
            },
        }
    }
}

/// The file, 1-based line number and text of a config line, kept for reports made after
/// loading (the sentinel checks its `sentinel ...` lines once the whole file is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOrigin {
    pub file: String,
    pub line: usize,
    pub text: String,
}

/// A loaded configuration and what to log about it at start-up.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Warnings to log once the log is open (e.g. the directives accepted but not implemented).
    pub warnings: Vec<String>,
}

/// The server's configuration. Fields are the directives redislab implements; every other
/// Redis 7.0 directive is accepted and kept for CONFIG GET / REWRITE. Defaults are Redis 7.0's
/// (the table in `table.rs` is their one source).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `port`.
    pub port: u16,
    /// `bind`: addresses to listen on (default `* -::*`; `-` marks an optional address).
    pub bind: Vec<String>,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `requirepass`; an empty password means none.
    pub requirepass: Option<String>,
    /// `daemonize`.
    pub daemonize: bool,
    /// `pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `logfile`; empty means standard output.
    pub logfile: String,
    /// `loglevel`.
    pub loglevel: LogLevel,
    /// `dir`: absolute, existing; defaults to the working directory at load time.
    pub dir: PathBuf,
    /// `databases`.
    pub databases: usize,
    /// `timeout`: close idle clients after this many seconds (0: never).
    pub timeout: u64,
    /// `tcp-keepalive`, seconds.
    pub tcp_keepalive: u64,
    /// `maxclients`.
    pub maxclients: usize,
    /// `maxmemory`, bytes (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// `maxmemory-samples`: keys sampled per eviction round.
    pub maxmemory_samples: u64,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u64,
    /// `lfu-decay-time`, minutes.
    pub lfu_decay_time: u64,
    /// `replica-ignore-maxmemory`.
    pub replica_ignore_maxmemory: bool,
    /// `save`: (seconds, changes) points; empty means no snapshots.
    pub save: Vec<(u64, u64)>,
    /// `appendonly`.
    pub appendonly: bool,
    /// `jemalloc-bg-thread`: jemalloc's background thread returns freed pages to the system
    /// (`server::memory::set_background_thread`), and the idle tick purges them at once.
    pub jemalloc_bg_thread: bool,
    /// `appendfsync`.
    pub appendfsync: AppendFsync,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `appendfilename`.
    pub appendfilename: String,
    /// `appenddirname`.
    pub appenddirname: String,
    /// `rdbcompression`.
    pub rdbcompression: bool,
    /// `rdbchecksum`.
    pub rdbchecksum: bool,
    /// `stop-writes-on-bgsave-error`.
    pub stop_writes_on_bgsave_error: bool,
    /// `auto-aof-rewrite-percentage`.
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size`, bytes.
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-load-truncated`.
    pub aof_load_truncated: bool,
    /// `proto-max-bulk-len`, bytes.
    pub proto_max_bulk_len: u64,
    /// `hash-max-listpack-entries`: most fields a hash keeps in its packed form.
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value`: longest field or value, in bytes, a packed hash keeps.
    pub hash_max_listpack_value: u64,
    /// `set-max-intset-entries`: most members a set of integers keeps as an intset.
    pub set_max_intset_entries: u64,
    /// `list-max-listpack-size`: a list node's limit, bytes (-1 = 4 KiB ... -5 = 64 KiB) or
    /// entries (positive).
    pub list_max_listpack_size: i64,
    /// `zset-max-listpack-entries`: most members a sorted set keeps in its packed form.
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value`: longest member, in bytes, a packed sorted set takes in.
    pub zset_max_listpack_value: u64,
    /// `client-query-buffer-limit`, bytes.
    pub client_query_buffer_limit: u64,
    /// `hz`, clamped to 1..=500 as Redis does.
    pub hz: u32,
    /// `event-loop-spin-us` (redislab's own): how long the event loop keeps polling after
    /// client traffic before it sleeps (`node::spin`); 0 turns the spin off.
    pub event_loop_spin_us: u64,
    /// `replicaof` / `slaveof`: the master's host and port.
    pub replicaof: Option<(String, u16)>,
    /// `masterauth`.
    pub masterauth: Option<String>,
    /// `masteruser`.
    pub masteruser: Option<String>,
    /// `replica-read-only` / `slave-read-only`.
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`.
    pub replica_serve_stale_data: bool,
    /// `replica-priority` / `slave-priority`.
    pub replica_priority: u32,
    /// `repl-backlog-size`, bytes.
    pub repl_backlog_size: u64,
    /// `repl-backlog-ttl`, seconds.
    pub repl_backlog_ttl: u64,
    /// `repl-timeout`, seconds.
    pub repl_timeout: u64,
    /// `repl-ping-replica-period`, seconds.
    pub repl_ping_replica_period: u64,
    /// `repl-diskless-sync`.
    pub repl_diskless_sync: bool,
    /// `repl-diskless-sync-delay`, seconds.
    pub repl_diskless_sync_delay: u64,
    /// `repl-diskless-sync-max-replicas`: start a delayed diskless sync once this many
    /// replicas wait (0: wait for the whole delay).
    pub repl_diskless_sync_max_replicas: u64,
    /// `repl-diskless-load`: `disabled`, `on-empty-db` or `swapdb`.
    pub repl_diskless_load: String,
    /// `min-replicas-to-write`.
    pub min_replicas_to_write: u32,
    /// `min-replicas-max-lag`, seconds.
    pub min_replicas_max_lag: u64,
    /// `replica-announce-ip`.
    pub replica_announce_ip: Option<String>,
    /// `replica-announce-port` (0: the real port).
    pub replica_announce_port: u16,
    /// `cluster-enabled`.
    pub cluster_enabled: bool,
    /// `cluster-config-file`.
    pub cluster_config_file: String,
    /// `cluster-node-timeout`, milliseconds.
    pub cluster_node_timeout: u64,
    /// `cluster-port` (0: port + 10000).
    pub cluster_port: u16,
    /// `cluster-announce-ip`.
    pub cluster_announce_ip: Option<String>,
    /// `cluster-announce-port` (0: the real port).
    pub cluster_announce_port: u16,
    /// `cluster-announce-bus-port` (0: the real bus port).
    pub cluster_announce_bus_port: u16,
    /// `cluster-require-full-coverage`.
    pub cluster_require_full_coverage: bool,
    /// `cluster-replica-validity-factor`.
    pub cluster_replica_validity_factor: u64,
    /// `cluster-migration-barrier`.
    pub cluster_migration_barrier: u64,
    /// `cluster-allow-reads-when-down`.
    pub cluster_allow_reads_when_down: bool,
    /// `cluster-allow-pubsubshard-when-down`.
    pub cluster_allow_pubsubshard_when_down: bool,
    /// `client-output-buffer-limit`.
    pub client_output_buffer_limit: ClientOutputBufferLimits,
    /// `sentinel ...` lines in order, without the word `sentinel`, for the sentinel role.
    pub sentinel_lines: Vec<Vec<String>>,
    /// Where each of [`Config::sentinel_lines`] came from, for the sentinel's error reports.
    pub sentinel_line_origins: Vec<LineOrigin>,
    /// A bare `sentinel` directive was seen (`--sentinel` on the command line).
    pub sentinel_mode: bool,
    /// `rename-command <old> <new>` lines, in order (not applied by this layer).
    pub rename_commands: Vec<(String, String)>,
    /// `user ...` lines, in order, arguments after `user`.
    pub users: Vec<Vec<String>>,
    /// `loadmodule ...` lines, in order, arguments after `loadmodule`.
    pub loadmodules: Vec<Vec<String>>,
    /// The config file, absolute, if the server was started with one (CONFIG REWRITE's target).
    pub config_file: Option<PathBuf>,
    /// Values of the directives redislab does not implement, by canonical name.
    other: BTreeMap<&'static str, Value>,
}

/// How deep `include` may nest (Redis has no limit and recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 16;

/// State while loading.
struct LoadState {
    /// Where relative paths resolve: the working directory, then the last `dir`.
    base_dir: PathBuf,
    /// A `save` line was read: further ones add points instead of replacing the defaults.
    save_seen: bool,
    /// Table directives set so far.
    seen: Vec<&'static str>,
}

impl LoadState {
    fn new(base_dir: PathBuf) -> LoadState {
        LoadState {
            base_dir,
            save_seen: false,
            seen: Vec::new(),
        }
    }
}

/// How long a line of the start-up list of unimplemented directives may grow (characters,
/// before the log line's prefix).
const UNIMPLEMENTED_LINE_WIDTH: usize = 72;

impl Default for Config {
    /// Redis 7.0's defaults, with `dir` the current working directory. The table's defaults
    /// are parsed once per process and copied from then on: parsing them all is most of the
    /// cost of starting an engine (every `Engine` reads a default configuration).
    fn default() -> Self {
        static DEFAULTS: OnceLock<Config> = OnceLock::new();
        let mut c = DEFAULTS.get_or_init(Config::from_table).clone();
        c.dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        c
    }
}

impl Config {
    /// Every directive at its table default, `dir` the current working directory.
    fn from_table() -> Config {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let mut c = Config {
            port: 0,
            bind: Vec::new(),
            protected_mode: false,
            requirepass: None,
            daemonize: false,
            pidfile: None,
            logfile: String::new(),
            loglevel: LogLevel::Notice,
            dir: cwd.clone(),
            databases: 0,
            timeout: 0,
            tcp_keepalive: 0,
            maxclients: 0,
            maxmemory: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            maxmemory_samples: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            replica_ignore_maxmemory: false,
            save: Vec::new(),
            appendonly: false,
            jemalloc_bg_thread: true,
            appendfsync: AppendFsync::EverySec,
            dbfilename: String::new(),
            appendfilename: String::new(),
            appenddirname: String::new(),
            rdbcompression: false,
            rdbchecksum: false,
            stop_writes_on_bgsave_error: false,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_load_truncated: false,
            proto_max_bulk_len: 0,
            hash_max_listpack_entries: 0,
            hash_max_listpack_value: 0,
            set_max_intset_entries: 0,
            list_max_listpack_size: 0,
            zset_max_listpack_entries: 0,
            zset_max_listpack_value: 0,
            client_query_buffer_limit: 0,
            hz: 0,
            event_loop_spin_us: 0,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_read_only: false,
            replica_serve_stale_data: false,
            replica_priority: 0,
            repl_backlog_size: 0,
            repl_backlog_ttl: 0,
            repl_timeout: 0,
            repl_ping_replica_period: 0,
            repl_diskless_sync: false,
            repl_diskless_sync_delay: 0,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: String::new(),
            min_replicas_to_write: 0,
            min_replicas_max_lag: 0,
            replica_announce_ip: None,
            replica_announce_port: 0,
            cluster_enabled: false,
            cluster_config_file: String::new(),
            cluster_node_timeout: 0,
            cluster_port: 0,
            cluster_announce_ip: None,
            cluster_announce_port: 0,
            cluster_announce_bus_port: 0,
            cluster_require_full_coverage: false,
            cluster_replica_validity_factor: 0,
            cluster_migration_barrier: 0,
            cluster_allow_reads_when_down: false,
            cluster_allow_pubsubshard_when_down: true,
            client_output_buffer_limit: ClientOutputBufferLimits::default(),
            sentinel_lines: Vec::new(),
            sentinel_line_origins: Vec::new(),
            sentinel_mode: false,
            rename_commands: Vec::new(),
            users: Vec::new(),
            loadmodules: Vec::new(),
            config_file: None,
            other: BTreeMap::new(),
        };
        for d in table::TABLE {
            let v = default_value(d).unwrap_or_else(|| Value::Dir(cwd.clone()));
            c.store(d, v);
        }
        c
    }
}

/// The default of `d` as a value; `None` for `dir` (the working directory).
fn default_value(d: &Directive) -> Option<Value> {
    let text = d.default?;
    let args = split_multi(d, vec![text.to_string()]);
    let ctx = ParseCtx {
        current: &Value::Obuf(ClientOutputBufferLimits::default()),
        base_dir: Path::new("."),
        append_save: false,
    };
    // The table's defaults are valid by construction; a unit test parses every one.
    value::parse(d, &args, &ctx).ok()
}

/// Multi-argument directives given one argument with spaces take its words, as Redis 7.0
/// does for `--save "900 1 300 10"`.
fn split_multi(d: &Directive, args: Vec<String>) -> Vec<String> {
    if d.has(MULTI_ARG) && args.len() == 1 && !args[0].is_empty() {
        args[0].split(' ').map(str::to_string).collect()
    } else {
        args
    }
}

fn num<T: TryFrom<i64> + Default>(v: &Value) -> T {
    match v {
        // Table bounds make every value fit its field.
        Value::Int(i) => T::try_from(*i).unwrap_or_default(),
        Value::Mem(m) => T::try_from(i64::try_from(*m).unwrap_or(i64::MAX)).unwrap_or_default(),
        _ => T::default(),
    }
}
fn mem(v: &Value) -> u64 {
    match v {
        Value::Mem(m) => *m,
        Value::Int(i) => u64::try_from(*i).unwrap_or_default(),
        _ => 0,
    }
}
fn flag(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}
fn text(v: Value) -> String {
    match v {
        Value::Str(s) => s.unwrap_or_default(),
        Value::Enum(e) => e.to_string(),
        _ => String::new(),
    }
}
fn opt(v: Value) -> Option<String> {
    match v {
        Value::Str(s) => s,
        _ => None,
    }
}
fn int(i: impl TryInto<i64>) -> Value {
    Value::Int(i.try_into().unwrap_or(i64::MAX))
}
fn ostr(s: &Option<String>) -> Value {
    Value::Str(s.clone())
}

impl Config {
    /// Load an optional redis.conf-syntax file, then command-line overrides as redis-server
    /// takes them after the file name (`--port 6380 --save "" --replicaof 127.0.0.1 6379`).
    ///
    /// Later lines override earlier ones, except accumulating directives: `save` lines add
    /// save points (the first one replaces the defaults), `client-output-buffer-limit`
    /// changes the classes it names, and `sentinel`, `rename-command`, `user`, `loadmodule`
    /// and `include` each add a line.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Loaded, ConfigError> {
        let mut config = Config::default();
        let mut st = LoadState::new(config.dir.clone());
        if let Some(path) = path {
            let absolute = st.base_dir.join(path);
            config.config_file = Some(absolute);
            config.load_file(path, &mut st, 0)?;
        }
        let lines = args::overrides_to_lines(overrides);
        for (i, line) in lines.iter().enumerate() {
            config.load_line(COMMAND_LINE, i + 1, line, &mut st, 0)?;
        }

        if config.cluster_enabled && config.replicaof.is_some() {
            let file = path.map_or(COMMAND_LINE.to_string(), |p| p.display().to_string());
            return Err(ConfigError {
                file,
                line: None,
                text: None,
                reason: "replicaof directive not allowed in cluster mode".into(),
            });
        }

        let mut warnings = Vec::new();
        let mut unimplemented: Vec<&str> = table::TABLE
            .iter()
            .filter(|d| !d.has(IMPLEMENTED) && st.seen.contains(&d.name))
            .map(|d| d.name)
            .collect();
        for (present, name) in [
            (!config.users.is_empty(), "user"),
            (!config.loadmodules.is_empty(), "loadmodule"),
        ] {
            if present {
                unimplemented.push(name);
            }
        }
        if !unimplemented.is_empty() {
            warnings.push(
                "Directives accepted but not implemented by redislab (only CONFIG GET and \
                 REWRITE use them):"
                    .to_string(),
            );
            // Listed a few to a log line, so that Redis's own redis.conf does not produce one
            // line of a thousand characters.
            let mut line = String::new();
            for name in unimplemented {
                if !line.is_empty() && line.len() + name.len() + 2 > UNIMPLEMENTED_LINE_WIDTH {
                    warnings.push(format!("  {line},"));
                    line.clear();
                }
                if !line.is_empty() {
                    line.push_str(", ");
                }
                line.push_str(name);
            }
            warnings.push(format!("  {line}"));
        }
        Ok(Loaded { config, warnings })
    }

    fn load_file(
        &mut self,
        path: &Path,
        st: &mut LoadState,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let name = path.display().to_string();
        let full = st.base_dir.join(path);
        let bytes = std::fs::read(&full).map_err(|e| ConfigError {
            file: name.clone(),
            line: None,
            text: None,
            reason: format!(
                "Fatal error, can't open config file '{}': {}",
                name,
                value::strerror(&e)
            ),
        })?;
        let content = String::from_utf8_lossy(&bytes);
        for (i, line) in content.split('\n').enumerate() {
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.load_line(&name, i + 1, line, st, depth)?;
        }
        Ok(())
    }

    /// Apply one config line (already trimmed, not a comment).
    fn load_line(
        &mut self,
        file: &str,
        lineno: usize,
        line: &str,
        st: &mut LoadState,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let err = |reason: String| ConfigError {
            file: file.to_string(),
            line: Some(lineno),
            text: Some(line.to_string()),
            reason,
        };
        let argv = args::split_args(line)
            .ok_or_else(|| err("Unbalanced quotes in configuration line".into()))?;
        let Some(first) = argv.first() else {
            return Ok(());
        };
        let name = first.to_ascii_lowercase();
        let argc = argv.len();

        if let Some(d) = table::lookup(&name) {
            if !d.has(MULTI_ARG) && argc != 2 {
                return Err(err("wrong number of arguments".into()));
            }
            let args = split_multi(d, argv[1..].to_vec());
            self.set_directive(d, &args, true, st).map_err(err)?;
            if !st.seen.contains(&d.name) {
                st.seen.push(d.name);
            }
            return Ok(());
        }
        if table::DEPRECATED_IGNORED.contains(&name.as_str()) && argc == 2 {
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err(format!(
                        "include nested more than {MAX_INCLUDE_DEPTH} levels deep"
                    )));
                }
                self.include(&argv[1], st, depth + 1)
            }
            "rename-command" if argc == 3 => {
                self.rename_commands
                    .push((argv[1].clone(), argv[2].clone()));
                Ok(())
            }
            "user" if argc >= 2 => {
                self.users.push(argv[1..].to_vec());
                Ok(())
            }
            "loadmodule" if argc >= 2 => {
                self.loadmodules.push(argv[1..].to_vec());
                Ok(())
            }
            "sentinel" => {
                if argc == 1 {
                    self.sentinel_mode = true;
                } else {
                    self.sentinel_lines.push(argv[1..].to_vec());
                    self.sentinel_line_origins.push(LineOrigin {
                        file: file.to_string(),
                        line: lineno,
                        text: line.to_string(),
                    });
                }
                Ok(())
            }
            n if n.contains('.') => Err(err(if argc != 2 {
                "Module config specified without value".into()
            } else {
                "Module Configuration detected without loadmodule directive or no ApplyConfig \
                 call: aborting"
                    .into()
            })),
            _ => Err(err("Bad directive or wrong number of arguments".into())),
        }
    }

    /// `include <path>`: relative to the working directory (as after Redis's `chdir` to
    /// `dir`); a pattern with `*`, `?` or `[` in its file name includes every match, in
    /// name order, and nothing when none matches.
    fn include(
        &mut self,
        target: &str,
        st: &mut LoadState,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let path = Path::new(target);
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned());
        let is_pattern = file_name
            .as_deref()
            .is_some_and(|f| f.contains(['*', '?', '[']));
        if !is_pattern {
            return self.load_file(path, st, depth);
        }
        let parent = path.parent().unwrap_or(Path::new(""));
        let pattern = file_name.unwrap_or_default();
        let mut matches: Vec<PathBuf> = std::fs::read_dir(st.base_dir.join(parent))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name();
                crate::glob::glob_match(pattern.as_bytes(), n.to_string_lossy().as_bytes(), false)
            })
            .map(|e| parent.join(e.file_name()))
            .collect();
        matches.sort();
        for m in matches {
            self.load_file(&m, st, depth)?;
        }
        Ok(())
    }

    /// Parse `args` for `d` and store the value. `loading`: from a file or the command line
    /// (where `save` lines accumulate). The error is Redis's reason.
    fn set_directive(
        &mut self,
        d: &'static Directive,
        args: &[String],
        loading: bool,
        st: &mut LoadState,
    ) -> Result<(), String> {
        let current = self.fetch(d);
        let ctx = ParseCtx {
            current: &current,
            base_dir: &st.base_dir,
            append_save: loading && st.save_seen,
        };
        let mut v = value::parse(d, args, &ctx)?;
        match (&d.kind, &mut v) {
            (Kind::Save, _) if loading => st.save_seen = true,
            (Kind::Dir, Value::Dir(p)) => st.base_dir = p.clone(),
            // Redis accepts any hz and caps it (updateHZ).
            (_, Value::Int(hz)) if d.name == "hz" => *hz = (*hz).clamp(1, 500),
            _ => {}
        }
        self.store(d, v);
        Ok(())
    }

    /// Store `v` as the value of `d`: in its typed field if redislab implements it.
    /// Returns whether it went to a typed field.
    fn store(&mut self, d: &Directive, v: Value) -> bool {
        match d.name {
            "port" => self.port = num(&v),
            "bind" => {
                if let Value::Bind(b) = v {
                    self.bind = b
                }
            }
            "protected-mode" => self.protected_mode = flag(&v),
            "requirepass" => self.requirepass = opt(v),
            "daemonize" => self.daemonize = flag(&v),
            "pidfile" => self.pidfile = opt(v).map(PathBuf::from),
            "logfile" => self.logfile = text(v),
            "loglevel" => {
                self.loglevel = match text(v).as_str() {
                    "debug" => LogLevel::Debug,
                    "verbose" => LogLevel::Verbose,
                    "warning" => LogLevel::Warning,
                    _ => LogLevel::Notice,
                }
            }
            "dir" => {
                if let Value::Dir(p) = v {
                    self.dir = p
                }
            }
            "databases" => self.databases = num(&v),
            "timeout" => self.timeout = num(&v),
            "tcp-keepalive" => self.tcp_keepalive = num(&v),
            "maxclients" => self.maxclients = num(&v),
            "maxmemory" => self.maxmemory = mem(&v),
            "maxmemory-policy" => self.maxmemory_policy = MaxmemoryPolicy::from_name(&text(v)),
            "maxmemory-samples" => self.maxmemory_samples = num(&v),
            "lfu-log-factor" => self.lfu_log_factor = num(&v),
            "lfu-decay-time" => self.lfu_decay_time = num(&v),
            "replica-ignore-maxmemory" => self.replica_ignore_maxmemory = flag(&v),
            "save" => {
                if let Value::Save(s) = v {
                    self.save = s
                }
            }
            "appendonly" => self.appendonly = flag(&v),
            "jemalloc-bg-thread" => self.jemalloc_bg_thread = flag(&v),
            "appendfsync" => {
                self.appendfsync = match text(v).as_str() {
                    "always" => AppendFsync::Always,
                    "no" => AppendFsync::No,
                    _ => AppendFsync::EverySec,
                }
            }
            "dbfilename" => self.dbfilename = text(v),
            "appendfilename" => self.appendfilename = text(v),
            "appenddirname" => self.appenddirname = text(v),
            "rdbcompression" => self.rdbcompression = flag(&v),
            "rdbchecksum" => self.rdbchecksum = flag(&v),
            "stop-writes-on-bgsave-error" => self.stop_writes_on_bgsave_error = flag(&v),
            "auto-aof-rewrite-percentage" => self.auto_aof_rewrite_percentage = num(&v),
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size = mem(&v),
            "aof-load-truncated" => self.aof_load_truncated = flag(&v),
            "proto-max-bulk-len" => self.proto_max_bulk_len = mem(&v),
            "hash-max-listpack-entries" => self.hash_max_listpack_entries = num(&v),
            "hash-max-listpack-value" => self.hash_max_listpack_value = mem(&v),
            "set-max-intset-entries" => self.set_max_intset_entries = num(&v),
            "list-max-listpack-size" => self.list_max_listpack_size = num(&v),
            "zset-max-listpack-entries" => self.zset_max_listpack_entries = num(&v),
            "zset-max-listpack-value" => self.zset_max_listpack_value = mem(&v),
            "client-query-buffer-limit" => self.client_query_buffer_limit = mem(&v),
            "hz" => self.hz = num(&v),
            "event-loop-spin-us" => self.event_loop_spin_us = num(&v),
            "replicaof" => {
                if let Value::ReplicaOf(r) = v {
                    self.replicaof = r
                }
            }
            "masterauth" => self.masterauth = opt(v),
            "masteruser" => self.masteruser = opt(v),
            "replica-read-only" => self.replica_read_only = flag(&v),
            "replica-serve-stale-data" => self.replica_serve_stale_data = flag(&v),
            "replica-priority" => self.replica_priority = num(&v),
            "repl-backlog-size" => self.repl_backlog_size = mem(&v),
            "repl-backlog-ttl" => self.repl_backlog_ttl = num(&v),
            "repl-timeout" => self.repl_timeout = num(&v),
            "repl-ping-replica-period" => self.repl_ping_replica_period = num(&v),
            "repl-diskless-sync" => self.repl_diskless_sync = flag(&v),
            "repl-diskless-sync-delay" => self.repl_diskless_sync_delay = num(&v),
            "repl-diskless-sync-max-replicas" => self.repl_diskless_sync_max_replicas = num(&v),
            "repl-diskless-load" => self.repl_diskless_load = text(v),
            "min-replicas-to-write" => self.min_replicas_to_write = num(&v),
            "min-replicas-max-lag" => self.min_replicas_max_lag = num(&v),
            "replica-announce-ip" => self.replica_announce_ip = opt(v),
            "replica-announce-port" => self.replica_announce_port = num(&v),
            "cluster-enabled" => self.cluster_enabled = flag(&v),
            "cluster-config-file" => self.cluster_config_file = text(v),
            "cluster-node-timeout" => self.cluster_node_timeout = num(&v),
            "cluster-port" => self.cluster_port = num(&v),
            "cluster-announce-ip" => self.cluster_announce_ip = opt(v),
            "cluster-announce-port" => self.cluster_announce_port = num(&v),
            "cluster-announce-bus-port" => self.cluster_announce_bus_port = num(&v),
            "cluster-require-full-coverage" => self.cluster_require_full_coverage = flag(&v),
            "cluster-replica-validity-factor" => self.cluster_replica_validity_factor = num(&v),
            "cluster-migration-barrier" => self.cluster_migration_barrier = num(&v),
            "cluster-allow-reads-when-down" => self.cluster_allow_reads_when_down = flag(&v),
            "cluster-allow-pubsubshard-when-down" => {
                self.cluster_allow_pubsubshard_when_down = flag(&v)
            }
            "client-output-buffer-limit" => {
                if let Value::Obuf(l) = v {
                    self.client_output_buffer_limit = l
                }
            }
            _ => {
                self.other.insert(d.name, v);
                return false;
            }
        }
        true
    }

    /// The current value of `d`, from its typed field or the kept values.
    fn fetch(&self, d: &Directive) -> Value {
        let enum_name = |values: &'static [(&'static str, u8)], i: usize| {
            Value::Enum(values.get(i).map_or("", |(n, _)| *n))
        };
        match d.name {
            "port" => int(self.port),
            "bind" => Value::Bind(self.bind.clone()),
            "protected-mode" => Value::Bool(self.protected_mode),
            "requirepass" => ostr(&self.requirepass),
            "daemonize" => Value::Bool(self.daemonize),
            "pidfile" => Value::Str(self.pidfile.as_ref().map(|p| p.display().to_string())),
            "logfile" => Value::Str(Some(self.logfile.clone())),
            "loglevel" => enum_name(table::LOGLEVEL, self.loglevel as usize),
            "dir" => Value::Dir(self.dir.clone()),
            "databases" => int(self.databases),
            "timeout" => int(self.timeout),
            "tcp-keepalive" => int(self.tcp_keepalive),
            "maxclients" => int(self.maxclients),
            "maxmemory" => Value::Mem(self.maxmemory),
            "maxmemory-policy" => {
                enum_name(table::MAXMEMORY_POLICY, self.maxmemory_policy as usize)
            }
            "maxmemory-samples" => int(self.maxmemory_samples),
            "lfu-log-factor" => int(self.lfu_log_factor),
            "lfu-decay-time" => int(self.lfu_decay_time),
            "replica-ignore-maxmemory" => Value::Bool(self.replica_ignore_maxmemory),
            "save" => Value::Save(self.save.clone()),
            "appendonly" => Value::Bool(self.appendonly),
            "jemalloc-bg-thread" => Value::Bool(self.jemalloc_bg_thread),
            "appendfsync" => enum_name(
                table::APPENDFSYNC,
                match self.appendfsync {
                    AppendFsync::EverySec => 0,
                    AppendFsync::Always => 1,
                    AppendFsync::No => 2,
                },
            ),
            "dbfilename" => Value::Str(Some(self.dbfilename.clone())),
            "appendfilename" => Value::Str(Some(self.appendfilename.clone())),
            "appenddirname" => Value::Str(Some(self.appenddirname.clone())),
            "rdbcompression" => Value::Bool(self.rdbcompression),
            "rdbchecksum" => Value::Bool(self.rdbchecksum),
            "stop-writes-on-bgsave-error" => Value::Bool(self.stop_writes_on_bgsave_error),
            "auto-aof-rewrite-percentage" => int(self.auto_aof_rewrite_percentage),
            "auto-aof-rewrite-min-size" => Value::Mem(self.auto_aof_rewrite_min_size),
            "aof-load-truncated" => Value::Bool(self.aof_load_truncated),
            "proto-max-bulk-len" => Value::Mem(self.proto_max_bulk_len),
            "hash-max-listpack-entries" => int(self.hash_max_listpack_entries),
            "hash-max-listpack-value" => Value::Mem(self.hash_max_listpack_value),
            "set-max-intset-entries" => int(self.set_max_intset_entries),
            "list-max-listpack-size" => int(self.list_max_listpack_size),
            "zset-max-listpack-entries" => int(self.zset_max_listpack_entries),
            "zset-max-listpack-value" => Value::Mem(self.zset_max_listpack_value),
            "client-query-buffer-limit" => Value::Mem(self.client_query_buffer_limit),
            "hz" => int(self.hz),
            "event-loop-spin-us" => int(self.event_loop_spin_us),
            "replicaof" => Value::ReplicaOf(self.replicaof.clone()),
            "masterauth" => ostr(&self.masterauth),
            "masteruser" => ostr(&self.masteruser),
            "replica-read-only" => Value::Bool(self.replica_read_only),
            "replica-serve-stale-data" => Value::Bool(self.replica_serve_stale_data),
            "replica-priority" => int(self.replica_priority),
            "repl-backlog-size" => Value::Mem(self.repl_backlog_size),
            "repl-backlog-ttl" => int(self.repl_backlog_ttl),
            "repl-timeout" => int(self.repl_timeout),
            "repl-ping-replica-period" => int(self.repl_ping_replica_period),
            "repl-diskless-sync" => Value::Bool(self.repl_diskless_sync),
            "repl-diskless-sync-delay" => int(self.repl_diskless_sync_delay),
            "repl-diskless-sync-max-replicas" => int(self.repl_diskless_sync_max_replicas),
            "repl-diskless-load" => {
                let names = match d.kind {
                    Kind::Enum(values) => values,
                    _ => &[],
                };
                Value::Enum(
                    names
                        .iter()
                        .find(|(n, _)| *n == self.repl_diskless_load)
                        .map_or("disabled", |(n, _)| *n),
                )
            }
            "min-replicas-to-write" => int(self.min_replicas_to_write),
            "min-replicas-max-lag" => int(self.min_replicas_max_lag),
            "replica-announce-ip" => ostr(&self.replica_announce_ip),
            "replica-announce-port" => int(self.replica_announce_port),
            "cluster-enabled" => Value::Bool(self.cluster_enabled),
            "cluster-config-file" => Value::Str(Some(self.cluster_config_file.clone())),
            "cluster-node-timeout" => int(self.cluster_node_timeout),
            "cluster-port" => int(self.cluster_port),
            "cluster-announce-ip" => ostr(&self.cluster_announce_ip),
            "cluster-announce-port" => int(self.cluster_announce_port),
            "cluster-announce-bus-port" => int(self.cluster_announce_bus_port),
            "cluster-require-full-coverage" => Value::Bool(self.cluster_require_full_coverage),
            "cluster-replica-validity-factor" => int(self.cluster_replica_validity_factor),
            "cluster-migration-barrier" => int(self.cluster_migration_barrier),
            "cluster-allow-reads-when-down" => Value::Bool(self.cluster_allow_reads_when_down),
            "cluster-allow-pubsubshard-when-down" => {
                Value::Bool(self.cluster_allow_pubsubshard_when_down)
            }
            "client-output-buffer-limit" => Value::Obuf(self.client_output_buffer_limit),
            name => self
                .other
                .get(name)
                .cloned()
                .or_else(|| default_value(d))
                .unwrap_or(Value::Str(None)),
        }
    }
}

#[cfg(test)]
mod tests;
