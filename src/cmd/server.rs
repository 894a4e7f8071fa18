//! Server commands: INFO, COMMAND, TIME, MONITOR, SHUTDOWN, DEBUG, ROLE, LASTSAVE.
//!
//! INFO follows Redis 7.0's field names and `\r\n` line endings exactly where clients parse
//! them (redis-cli, Sentinel and redis-py split on `\r\n`; `run_id`, `tcp_port`, `role`,
//! `connected_clients`, `used_memory`, `db0:keys=..,expires=..`). COMMAND answers the 7.0
//! ten-field entries built from the one command table.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::flags::*;
use super::{all_specs, lookup, Args, CmdError, Effect, Exec, Spec};
use crate::resp::Reply;
use crate::server::memory;
use crate::server::{ShutdownMode, Stats};

/// The server commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("info", -1, LOADING | STALE, info),
    Spec::new("command", -1, LOADING | STALE, command),
    Spec::new("time", 1, LOADING | STALE | FAST, time),
    Spec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor),
    Spec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI,
        shutdown,
    ),
    Spec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, debug),
    Spec::new("config", -2, ADMIN | NOSCRIPT | LOADING | STALE, config),
];

/// Sections INFO prints with no argument (and with `default`), in Redis's order.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];

/// Every section, in Redis's order (`INFO everything`; `all` leaves out `modules`).
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// `INFO [section ...]`
fn info(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let requested: Vec<String> = args
        .rest()
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_lowercase())
        .collect();
    let wants = |section: &str| {
        let is_default = DEFAULT_SECTIONS.contains(&section);
        requested.is_empty() && is_default
            || requested.iter().any(|r| {
                r == section
                    || r == "everything"
                    || r == "all" && section != "modules"
                    || r == "default" && is_default
            })
    };
    let sections: Vec<&str> = ALL_SECTIONS.iter().copied().filter(|s| wants(s)).collect();
    let mut text = String::new();
    for section in sections {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match section {
            "server" => info_server(cx, &mut text),
            "clients" => info_clients(cx, &mut text),
            "memory" => info_memory(cx, &mut text),
            "persistence" => info_persistence(cx, &mut text),
            "stats" => info_stats(cx, &mut text),
            "replication" => info_replication(cx, &mut text),
            "cpu" => info_cpu(&mut text),
            "cluster" => text.push_str(if cx.engine.cluster.is_some() {
                "# Cluster\r\ncluster_enabled:1\r\n"
            } else {
                "# Cluster\r\ncluster_enabled:0\r\n"
            }),
            "modules" => text.push_str("# Modules\r\n"),
            "commandstats" => cx
                .engine
                .command_stats
                .write_commandstats(&mut text, |i| all_specs()[i].name),
            "errorstats" => cx.engine.command_stats.write_errorstats(&mut text),
            "keyspace" => info_keyspace(cx, &mut text),
            _ => {}
        }
    }
    Ok(Reply::Verbatim(Bytes::from(text)))
}

fn line(text: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(text, "{name}:{value}\r\n");
}

fn info_server(cx: &mut Exec, text: &mut String) {
    let uptime = cx.shared.started.elapsed().as_secs();
    let config = cx.shared.config();
    text.push_str("# Server\r\n");
    line(text, "redis_version", crate::REDIS_VERSION);
    line(text, "redis_git_sha1", "00000000");
    line(text, "redis_git_dirty", 0);
    line(text, "redis_build_id", "0");
    let mode = if cx.engine.cluster.is_some() {
        "cluster"
    } else {
        "standalone"
    };
    line(text, "redis_mode", mode);
    line(text, "os", std::env::consts::OS);
    line(text, "arch_bits", 64);
    line(text, "monotonic_clock", "POSIX clock_gettime");
    line(text, "multiplexing_api", "epoll");
    line(text, "process_id", std::process::id());
    line(text, "process_supervised", "no");
    line(text, "run_id", &cx.shared.run_id);
    line(text, "tcp_port", cx.shared.port.load(Ordering::Relaxed));
    line(
        text,
        "server_time_usec",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros(),
    );
    line(text, "uptime_in_seconds", uptime);
    line(text, "uptime_in_days", uptime / 86400);
    line(text, "hz", config.hz);
    line(text, "configured_hz", config.hz);
    line(
        text,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    line(
        text,
        "config_file",
        cx.shared
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    line(text, "redislab_version", env!("CARGO_PKG_VERSION"));
}

fn info_clients(cx: &mut Exec, text: &mut String) {
    let clients = cx.shared.clients.all();
    let pubsub = clients
        .iter()
        .filter(|c| {
            let m = c.meta();
            m.subscriptions + m.patterns > 0
        })
        .count();
    text.push_str("# Clients\r\n");
    line(text, "connected_clients", clients.len());
    line(text, "cluster_connections", 0);
    line(text, "maxclients", cx.shared.config().maxclients);
    line(text, "client_recent_max_input_buffer", 0);
    line(text, "client_recent_max_output_buffer", 0);
    line(text, "blocked_clients", cx.engine.blocked_clients());
    line(text, "tracking_clients", 0);
    line(
        text,
        "clients_in_timeout_table",
        cx.engine.blocked_clients(),
    );
    line(text, "pubsub_clients", pubsub);
}

fn info_memory(cx: &Exec, text: &mut String) {
    let rss = memory::rss_bytes();
    let used = match memory::used_memory() {
        0 => rss,
        n => n,
    };
    let peak = memory::peak_memory().max(used);
    text.push_str("# Memory\r\n");
    line(text, "used_memory", used);
    line(text, "used_memory_human", memory::human_bytes(used));
    line(text, "used_memory_rss", rss);
    line(text, "used_memory_rss_human", memory::human_bytes(rss));
    line(text, "used_memory_peak", peak);
    line(text, "used_memory_peak_human", memory::human_bytes(peak));
    // Scripts: each call gets a fresh Lua state, so only the cached bodies stay in memory.
    let scripts = &cx.engine.scripts;
    let script_bytes: usize = scripts
        .iter()
        .map(|(sha, body)| sha.len() + body.len())
        .sum();
    line(text, "used_memory_scripts_eval", script_bytes);
    line(text, "number_of_cached_scripts", scripts.len());
    let (maxmemory, policy) = {
        let config = cx.shared.config();
        (config.maxmemory, config.maxmemory_policy)
    };
    line(text, "maxmemory", maxmemory);
    line(
        text,
        "maxmemory_human",
        memory::human_bytes(maxmemory as usize),
    );
    line(text, "maxmemory_policy", policy.name());
    line(
        text,
        "mem_fragmentation_ratio",
        format!("{:.2}", rss as f64 / used.max(1) as f64),
    );
    line(text, "mem_allocator", memory::ALLOCATOR_NAME);
}

fn info_persistence(cx: &mut Exec, text: &mut String) {
    let state = &cx.engine.persistence;
    text.push_str("# Persistence\r\n");
    line(text, "loading", 0);
    line(text, "async_loading", 0);
    line(text, "current_cow_peak", 0);
    line(text, "current_fork_perc", "0.00");
    line(text, "rdb_changes_since_last_save", cx.engine.dirty);
    let in_progress = state.bgsave.is_some() || state.diskless_child.is_some();
    line(text, "rdb_bgsave_in_progress", in_progress as u8);
    line(text, "rdb_last_save_time", state.last_save);
    line(
        text,
        "rdb_last_bgsave_status",
        if state.last_bgsave_ok { "ok" } else { "err" },
    );
    line(text, "rdb_last_bgsave_time_sec", state.last_bgsave_secs);
    line(
        text,
        "rdb_current_bgsave_time_sec",
        state
            .bgsave
            .as_ref()
            .map_or(-1, |job| job.started.elapsed().as_secs() as i64),
    );
    line(text, "rdb_saves", state.saves);
    let aof = crate::server::aof::info(cx.engine);
    line(text, "aof_enabled", aof.is_some() as u8);
    line(
        text,
        "aof_rewrite_in_progress",
        aof.is_some_and(|a| a.0) as u8,
    );
    line(text, "aof_rewrite_scheduled", 0);
    line(
        text,
        "aof_last_bgrewrite_status",
        if aof.is_none_or(|a| a.1) { "ok" } else { "err" },
    );
    line(
        text,
        "aof_last_write_status",
        if aof.is_none_or(|a| a.2) { "ok" } else { "err" },
    );
    if let Some((_, _, _, current, base)) = aof {
        line(text, "aof_current_size", current);
        line(text, "aof_base_size", base);
    }
}

fn info_stats(cx: &mut Exec, text: &mut String) {
    let stats = &cx.shared.stats;
    let (channels, patterns) = cx.shared.pubsub().counts();
    text.push_str("# Stats\r\n");
    line(
        text,
        "total_connections_received",
        Stats::get(&stats.total_connections_received),
    );
    line(
        text,
        "total_commands_processed",
        Stats::get(&stats.total_commands_processed),
    );
    line(text, "instantaneous_ops_per_sec", 0);
    line(
        text,
        "total_net_input_bytes",
        Stats::get(&stats.net_input_bytes),
    );
    line(
        text,
        "total_net_output_bytes",
        Stats::get(&stats.net_output_bytes),
    );
    line(
        text,
        "rejected_connections",
        Stats::get(&stats.rejected_connections),
    );
    {
        let repl = &cx.engine.repl;
        line(text, "sync_full", repl.sync_full);
        line(text, "sync_partial_ok", repl.sync_partial_ok);
        line(text, "sync_partial_err", repl.sync_partial_err);
    }
    line(text, "expired_keys", cx.engine.stats.expired_keys);
    line(text, "evicted_keys", cx.engine.stats.evicted_keys);
    line(text, "keyspace_hits", cx.engine.stats.keyspace_hits);
    line(text, "keyspace_misses", cx.engine.stats.keyspace_misses);
    line(text, "pubsub_channels", channels);
    line(text, "pubsub_patterns", patterns);
    line(text, "total_blocking_keys", cx.engine.blocked_clients());
}

fn info_replication(cx: &mut Exec, text: &mut String) {
    let repl = &cx.engine.repl;
    let now = crate::server::unix_ms();
    text.push_str("# Replication\r\n");
    if let Some(master) = &repl.master {
        line(text, "role", "slave");
        line(text, "master_host", &master.host);
        line(text, "master_port", master.port);
        line(
            text,
            "master_link_status",
            if master.up { "up" } else { "down" },
        );
        line(
            text,
            "master_last_io_seconds_ago",
            if master.up {
                (now - master.last_io_ms) / 1000
            } else {
                -1
            },
        );
        line(
            text,
            "master_sync_in_progress",
            master.sync_in_progress as u8,
        );
        line(text, "slave_read_repl_offset", repl.offset);
        line(text, "slave_repl_offset", repl.offset);
        if let Some(transfer) = master.transfer.filter(|_| master.sync_in_progress) {
            // Redis's percentage divides by the total even when it is -1 (no header yet).
            let perc = if transfer.total == 0 {
                0.0
            } else {
                transfer.read as f64 / transfer.total as f64 * 100.0
            };
            line(text, "master_sync_total_bytes", transfer.total);
            line(text, "master_sync_read_bytes", transfer.read);
            line(
                text,
                "master_sync_left_bytes",
                transfer.total - transfer.read,
            );
            line(text, "master_sync_perc", format!("{perc:.2}"));
            line(
                text,
                "master_sync_last_io_seconds_ago",
                (now - master.last_io_ms) / 1000,
            );
        }
        if !master.up {
            line(
                text,
                "master_link_down_since_seconds",
                (now - master.down_since_ms) / 1000,
            );
        }
        let config = cx.shared.config();
        line(text, "slave_priority", config.replica_priority);
        line(text, "slave_read_only", config.replica_read_only as u8);
        line(text, "replica_announced", 1);
    } else {
        line(text, "role", "master");
    }
    line(text, "connected_slaves", repl.replicas.len());
    for (i, r) in repl.replicas.iter().enumerate() {
        let _ = write!(
            text,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.port,
            r.state.name(),
            r.ack_offset,
            (now - r.last_ack_ms) / 1000
        );
    }
    line(text, "master_failover_state", "no-failover");
    line(text, "master_replid", &repl.replid);
    line(text, "master_replid2", &repl.replid2);
    line(text, "master_repl_offset", repl.offset);
    line(text, "second_repl_offset", repl.second_offset);
    match &repl.backlog {
        Some(backlog) => {
            line(text, "repl_backlog_active", 1);
            line(text, "repl_backlog_size", backlog.capacity());
            line(
                text,
                "repl_backlog_first_byte_offset",
                backlog.first_offset(),
            );
            line(text, "repl_backlog_histlen", backlog.len());
        }
        None => {
            line(text, "repl_backlog_active", 0);
            line(text, "repl_backlog_size", repl.backlog_size);
            line(text, "repl_backlog_first_byte_offset", 0);
            line(text, "repl_backlog_histlen", 0);
        }
    }
}

fn info_cpu(text: &mut String) {
    // SAFETY: getrusage writes only into the struct passed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
    text.push_str("# CPU\r\n");
    line(text, "used_cpu_sys", secs(usage.ru_stime));
    line(text, "used_cpu_user", secs(usage.ru_utime));
    line(text, "used_cpu_sys_children", "0.000000");
    line(text, "used_cpu_user_children", "0.000000");
}

fn info_keyspace(cx: &mut Exec, text: &mut String) {
    text.push_str("# Keyspace\r\n");
    for db in 0..cx.engine.dbs.len() {
        let (keys, expires) = cx.engine.keyspace_line(db);
        if keys > 0 {
            let _ = write!(text, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}

/// Redis 7.0 command flag names for COMMAND's third field.
fn flag_names(spec: &Spec) -> Vec<Reply> {
    const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
    NAMES
        .iter()
        .filter(|(flag, _)| spec.has(*flag))
        .map(|(_, name)| Reply::Simple(Bytes::from_static(name.as_bytes())))
        .collect()
}

/// ACL categories derived from the flags (COMMAND's seventh field).
fn categories(spec: &Spec) -> Vec<Reply> {
    let mut cats = Vec::new();
    if spec.has(WRITE) {
        cats.push("@write");
    }
    if spec.has(READONLY) {
        cats.push("@read");
    }
    if spec.has(ADMIN) {
        cats.extend(["@admin", "@dangerous"]);
    }
    if spec.has(PUBSUB) {
        cats.push("@pubsub");
    }
    if spec.has(FAST) {
        cats.push("@fast");
    } else {
        cats.push("@slow");
    }
    if spec.has(BLOCKING) {
        cats.push("@blocking");
    }
    cats.into_iter()
        .map(|c| Reply::Simple(Bytes::from_static(c.as_bytes())))
        .collect()
}

/// One COMMAND entry: name, arity, flags, first, last, step, categories, tips, key specs,
/// subcommands.
fn command_entry(spec: &Spec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(spec.name.as_bytes()),
        Reply::Int(spec.arity as i64),
        Reply::Set(flag_names(spec)),
        Reply::Int(spec.first_key as i64),
        Reply::Int(spec.last_key as i64),
        Reply::Int(spec.key_step as i64),
        Reply::Set(categories(spec)),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// `COMMAND [COUNT | INFO name... | DOCS [name...] | GETKEYS cmd args... | LIST | HELP]`
fn command(_cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let Some(sub) = args.next().ok().map(|s| s.to_ascii_lowercase()) else {
        return Ok(Reply::Array(
            all_specs().iter().map(command_entry).collect(),
        ));
    };
    match &sub[..] {
        b"count" => Ok(Reply::Int(all_specs().len() as i64)),
        b"list" => Ok(Reply::Array(
            all_specs()
                .iter()
                .map(|s| Reply::bulk(s.name.as_bytes()))
                .collect(),
        )),
        b"info" => {
            let names = args.rest();
            if names.is_empty() {
                return Ok(Reply::Array(
                    all_specs().iter().map(command_entry).collect(),
                ));
            }
            Ok(Reply::Array(
                names
                    .iter()
                    .map(|n| lookup(n).map_or(Reply::NullArray, command_entry))
                    .collect(),
            ))
        }
        b"docs" => Ok(crate::cmd::docs::reply(args.rest())),
        b"getkeys" => {
            let argv = args.rest();
            if argv.is_empty() {
                return Err(CmdError::arity("command|getkeys"));
            }
            let spec =
                lookup(&argv[0]).ok_or_else(|| CmdError::new("ERR Invalid command specified"))?;
            if !spec.arity_ok(argv.len()) {
                return Err(CmdError::new(
                    "ERR Invalid number of arguments specified for command",
                ));
            }
            let keys = spec.key_positions(argv.len());
            if keys.is_empty() {
                return Err(CmdError::new("ERR The command has no key arguments"));
            }
            Ok(Reply::Array(
                keys.into_iter()
                    .map(|i| Reply::Bulk(argv[i].clone()))
                    .collect(),
            ))
        }
        b"help" => Ok(Reply::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
        )),
        _ => Err(CmdError::unknown_subcommand(&args.argv()[1], "command")),
    }
}

/// `TIME`: `[seconds, microseconds]` as bulk strings.
fn time(_cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk_string(now.as_secs().to_string()),
        Reply::bulk_string(now.subsec_micros().to_string()),
    ]))
}

/// `MONITOR`: every command any client runs from now on is streamed to this connection.
fn monitor(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    if !cx.session.monitor {
        let sink = cx.session.push_sink();
        cx.shared.add_monitor(cx.session.id, sink);
        cx.session.monitor = true;
    }
    Ok(Reply::ok())
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: on success there is no reply, the server
/// exits.
fn shutdown(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let mut mode = ShutdownMode::Default;
    while let Some(option) = args.peek() {
        match &option.to_ascii_lowercase()[..] {
            b"nosave" if mode != ShutdownMode::Save => mode = ShutdownMode::NoSave,
            b"save" if mode != ShutdownMode::NoSave => mode = ShutdownMode::Save,
            b"now" | b"force" => {}
            b"abort" => return Err(CmdError::new("ERR No shutdown in progress.")),
            _ => return Err(CmdError::syntax()),
        }
        args.next()?;
    }
    // Redis's prepareForShutdown logs the request first, then saves.
    cx.shared.emit(crate::events::Event::ShutdownStarted);
    // Save now, under the keyspace lock, so that a failed save can refuse the shutdown instead
    // of losing data (Redis's prepareForShutdown).
    if mode.wants_save(!cx.shared.config().save.is_empty()) {
        crate::server::persistence::kill_bgsave(cx.engine);
        cx.shared.emit(crate::events::Event::FinalSaveStarted);
        if crate::server::persistence::save(cx.shared, cx.engine).is_err() {
            cx.shared.emit(crate::events::Event::ShutdownSaveFailed);
            return Err(CmdError::new("ERR Errors trying to SHUTDOWN. Check logs."));
        }
        mode = ShutdownMode::Saved;
    }
    cx.set_effect(Effect::Shutdown(mode));
    Ok(Reply::None)
}

/// `DEBUG SLEEP seconds | DEBUG SET-ACTIVE-EXPIRE 0|1 | DEBUG JMAP | DEBUG HELP`
fn debug(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    // `enable-debug-command` (Redis 7.0 default `no`): `yes`, or `local` from 127.0.0.1/::1.
    let allowed = match cx
        .shared
        .config()
        .get_one("enable-debug-command")
        .as_deref()
    {
        Some("yes") => true,
        Some("local") => cx
            .session
            .addr
            .parse()
            .is_ok_and(|peer| crate::server::clients::is_local_peer(&peer)),
        _ => false,
    };
    if !allowed {
        return Err(CmdError::new(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \
             \"local\", you can run it from a local connection, otherwise you need to set this \
             option in the configuration file, and then restart the server.",
        ));
    }
    let sub = args.next()?.to_ascii_lowercase();
    match &sub[..] {
        b"sleep" => {
            let secs = args.next_f64()?;
            // Like Redis, the whole server sleeps: the keyspace lock is held throughout.
            std::thread::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            Ok(Reply::ok())
        }
        b"set-active-expire" => {
            args.next_i64()?;
            Ok(Reply::ok())
        }
        b"help" => Ok(Reply::Array(vec![
            Reply::simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
            Reply::simple("SLEEP <seconds>"),
            Reply::simple("    Stop the server for <seconds>. Decimals allowed."),
        ])),
        _ => Err(CmdError(
            format!(
                "ERR unknown subcommand '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(&sub)
            )
            .into(),
        )),
    }
}

/// `CONFIG GET pattern... | SET name value [name value ...] | REWRITE | RESETSTAT | HELP`
fn config(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?.to_ascii_lowercase();
    match &sub[..] {
        b"get" => {
            let patterns = args.rest();
            if patterns.is_empty() {
                return Err(CmdError::arity("config|get"));
            }
            let pairs = cx.shared.config().get(patterns);
            Ok(Reply::Map(
                pairs
                    .into_iter()
                    .map(|(name, value)| {
                        (
                            Reply::Bulk(Bytes::from(name)),
                            Reply::Bulk(Bytes::from(value)),
                        )
                    })
                    .collect(),
            ))
        }
        b"set" => {
            let pairs = args.rest();
            let local = cx
                .session
                .handle
                .as_ref()
                .is_none_or(|h| h.addr.ip().is_loopback());
            let changed = cx
                .shared
                .config_mut()
                .set(pairs, local)
                .map_err(|e| CmdError::new(e.to_string()))?;
            if changed.contains(&"appendonly") {
                let on = cx.shared.config().appendonly;
                if on {
                    crate::server::aof::enable(cx.shared, cx.engine).map_err(CmdError::err)?;
                } else {
                    crate::server::aof::disable(cx.engine);
                }
            }
            if changed.contains(&"repl-backlog-size") {
                let size = cx.shared.config().repl_backlog_size as usize;
                cx.engine.repl.set_backlog_size(size);
            }
            if changed.contains(&"notify-keyspace-events") {
                let classes = cx.shared.config().get_one("notify-keyspace-events");
                let flags = crate::server::notify::parse_classes(&classes.unwrap_or_default());
                cx.engine.set_notify_flags(flags);
            }
            if changed.contains(&"requirepass") && cx.shared.config().requirepass.is_some() {
                // The client that set the password stays authenticated, as in Redis.
                cx.session.authenticated = true;
            }
            Ok(Reply::ok())
        }
        b"rewrite" => {
            args.finish()
                .map_err(|_| CmdError::arity("config|rewrite"))?;
            cx.shared
                .config()
                .rewrite()
                .map_err(|e| CmdError::new(e.to_string()))?;
            cx.shared.emit(crate::events::Event::ConfigRewritten);
            Ok(Reply::ok())
        }
        b"resetstat" => {
            args.finish()
                .map_err(|_| CmdError::arity("config|resetstat"))?;
            cx.shared.stats.reset();
            cx.engine.stats = Default::default();
            cx.engine.command_stats.reset();
            Ok(Reply::ok())
        }
        b"help" => Ok(Reply::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
        )),
        _ => Err(CmdError::unknown_subcommand(&args.argv()[1], "config")),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn info_uses_crlf_and_reports_keyspace() {
        let mut h = Harness::new();
        h.run(&["set", "a", "1"]);
        let Reply::Verbatim(text) = h.run(&["info"]) else {
            panic!("INFO is verbatim")
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.contains("\r\nrole:master\r\n"));
        assert!(text.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
        let Reply::Verbatim(only) = h.run(&["info", "keyspace"]) else {
            panic!()
        };
        assert!(only.starts_with(b"# Keyspace\r\n"));
    }

    fn info_text(h: &mut Harness, words: &[&str]) -> String {
        let Reply::Verbatim(text) = h.run(words) else {
            panic!("INFO is verbatim")
        };
        String::from_utf8(text.to_vec()).unwrap()
    }

    #[test]
    fn info_sections_all_everything_and_stats() {
        let mut h = Harness::new();
        h.run(&["set", "a", "1"]);
        h.run(&["get"]);
        h.run(&["lpush", "a", "x"]);
        let default = info_text(&mut h, &["info"]);
        assert!(!default.contains("# Commandstats"));
        let all = info_text(&mut h, &["info", "all"]);
        assert!(all.contains("cmdstat_set:calls=1,"));
        assert!(all.contains("cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,"));
        assert!(all.contains("cmdstat_lpush:calls=1,") && all.contains("failed_calls=1\r\n"));
        assert!(all.contains("errorstat_ERR:count=1\r\nerrorstat_WRONGTYPE:count=1\r\n"));
        assert!(!all.contains("# Modules"));
        assert!(info_text(&mut h, &["info", "everything"]).contains("# Modules"));
        let two = info_text(&mut h, &["info", "CPU", "commandSTATS"]);
        assert!(two.starts_with("# CPU\r\n") && two.contains("# Commandstats"));
        assert!(!two.contains("# Memory"));
        let twice = info_text(&mut h, &["info", "cpu", "all"]);
        assert_eq!(twice.matches("# CPU").count(), 1);
    }

    #[test]
    fn commandstats_name_subcommands() {
        let mut h = Harness::new();
        h.run(&["client", "id"]);
        h.run(&["CLIENT", "ID"]);
        h.run(&["client", "id", "extra"]);
        h.run(&["client", "nosuchsub"]);
        h.run(&["config", "get", "maxclients"]);
        let stats = info_text(&mut h, &["info", "commandstats"]);
        assert!(stats.contains("cmdstat_client|id:calls=2,"), "{stats}");
        assert!(stats.contains("rejected_calls=1,failed_calls=0\r\n"));
        assert!(stats.contains("cmdstat_config|get:calls=1,"));
        assert!(!stats.contains("cmdstat_client:"));
        assert!(!stats.contains("nosuchsub"));
    }

    #[test]
    fn config_get_set() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["config", "get", "maxclients"]),
            Reply::Map(vec![(bulk("maxclients"), bulk("10000"))])
        );
        assert_eq!(h.run(&["config", "set", "maxclients", "100"]), Reply::ok());
        assert_eq!(h.shared.config().maxclients, 100);
        assert_eq!(
            h.run(&["config", "set", "nosuch", "1"]),
            err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
        );
        assert_eq!(
            h.run(&["config", "rewrite"]),
            err("ERR The server is running without a config file")
        );
    }

    #[test]
    fn command_introspection() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["command", "getkeys", "mset", "a", "1", "b", "2"]),
            Reply::Array(vec![
                crate::cmd::exec::testing::bulk("a"),
                crate::cmd::exec::testing::bulk("b")
            ])
        );
        assert_eq!(
            h.run(&["command", "getkeys", "ping"]),
            err("ERR The command has no key arguments")
        );
        let Reply::Array(info) = h.run(&["command", "info", "get"]) else {
            panic!()
        };
        let Reply::Array(entry) = &info[0] else {
            panic!()
        };
        assert_eq!(entry.len(), 10);
        assert_eq!(entry[1], Reply::Int(2));
    }
}
