//! [`call`]: the path of one command through the checks, its handler, and what follows a write;
//! and [`Exec`], the context a handler works in.
//!
//! Follows `processCommand` and `call` in Redis's `server.c`. Everything here runs with the
//! keyspace lock held (the caller locked [`Engine`]), so the writes of one command, the `DEL`s
//! of the keys it found expired, and the commands of clients it unblocked are queued for
//! propagation in exactly the order they were applied.

use std::time::Duration;

use bytes::Bytes;

use super::{flags, lookup, Args, CmdError, Spec};
use crate::resp::Reply;
use crate::server::engine::Engine;
use crate::server::session::Session;
use crate::server::{unix_ms, Shared, ShutdownMode};
use crate::store::Db;

/// A change of connection mode that a command asks the connection task to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    /// Send the reply, then close the connection (QUIT, CLIENT KILL of oneself).
    Close,
    /// No data yet: wait for one of `keys` to be pushed to, or `timeout` (None = forever).
    Block {
        keys: Vec<Bytes>,
        timeout: Option<Duration>,
    },
    /// Stop the server (SHUTDOWN).
    Shutdown(ShutdownMode),
    /// Hand the connection to the replication master side (PSYNC, SYNC).
    Replicate(crate::repl::SyncRequest),
    /// WAIT: until `replicas` replicas acknowledged `offset`, or `timeout` (None = forever).
    Wait {
        replicas: usize,
        offset: i64,
        timeout: Option<Duration>,
    },
    /// CLIENT PAUSE covers this command: it did not run. Park the client until the pause
    /// ends, then call it again (the reply is [`Reply::None`]).
    Postpone,
}

/// A handler's view of the server while it runs.
pub struct Exec<'a> {
    pub shared: &'a Shared,
    pub engine: &'a mut Engine,
    pub session: &'a mut Session,
    /// The command line as received, name included.
    pub argv: &'a [Bytes],
    /// Unix time in ms, read once per command (like Redis's cached `mstime`): every expiry
    /// decision within one command sees the same instant.
    pub now: i64,
    effect: Effect,
    /// What to propagate instead of `argv`: `Some(vec![])` propagates nothing.
    rewrite: Option<Vec<Vec<Bytes>>>,
    /// Keys this command touched, recorded only while keyspace notifications are on.
    touched: Option<Vec<Bytes>>,
}

impl<'a> Exec<'a> {
    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.engine.dbs[self.session.db]
    }

    pub fn db_index(&self) -> usize {
        self.session.db
    }

    /// Records that `key` in the selected db changed (WATCH, blocked clients).
    pub fn touch(&mut self, key: &Bytes) {
        self.engine.touch(self.session.db, key);
        if let Some(touched) = self.touched.as_mut() {
            touched.push(key.clone());
        }
    }

    /// Counts `n` changes to the dataset. A command that counts changes is propagated.
    pub fn dirty(&mut self, n: u64) {
        self.engine.dirty += n;
    }

    /// A modification of `key`: touch plus one change.
    pub fn modified(&mut self, key: &Bytes) {
        self.touch(key);
        self.dirty(1);
    }

    /// Propagates `argv` instead of the command as received; several calls propagate several
    /// commands, in order (Redis's `alsoPropagate` + `preventCommandPropagation`).
    pub fn propagate_as(&mut self, argv: Vec<Bytes>) {
        self.rewrite.get_or_insert_with(Vec::new).push(argv);
    }

    /// Propagates nothing for this command even though it changed data.
    pub fn propagate_nothing(&mut self) {
        self.rewrite.get_or_insert_with(Vec::new);
    }

    /// Counts a read lookup for `keyspace_hits` / `keyspace_misses`.
    pub fn lookup_stat(&mut self, found: bool) {
        if found {
            self.engine.stats.keyspace_hits += 1;
        } else {
            self.engine.stats.keyspace_misses += 1;
        }
    }

    /// Asks the connection to block on `keys`. Returns the (empty) reply to give meanwhile.
    /// Callers check `session.may_block` first and answer at once when it is false.
    pub fn block(&mut self, keys: Vec<Bytes>, timeout: Option<Duration>) -> Reply {
        self.effect = Effect::Block { keys, timeout };
        Reply::None
    }

    pub fn set_effect(&mut self, effect: Effect) {
        self.effect = effect;
    }

    /// Runs another command within this one (EXEC running its queue), with the full
    /// post-command bookkeeping. Access checks were made when it was queued.
    pub fn run_nested(&mut self, argv: &[Bytes]) -> (Reply, Effect) {
        match lookup(&argv[0]) {
            Some(spec) => run(self.shared, self.engine, self.session, spec, argv),
            None => (CmdError::unknown_command(argv).into(), Effect::None),
        }
    }
}

/// Runs one client command: checks, handler, and bookkeeping. Returns the reply and the effect
/// for the connection task. The caller holds the keyspace lock.
pub fn call(
    shared: &Shared,
    engine: &mut Engine,
    session: &mut Session,
    argv: &[Bytes],
) -> (Reply, Effect) {
    if let Some(table) = shared.faults.as_deref() {
        if argv[0].eq_ignore_ascii_case(b"redislab") {
            return (super::lab::redislab(shared, table, argv), Effect::None);
        }
    }
    if session.stale_watches {
        session.stale_watches = false;
        let watched = std::mem::take(&mut session.watched);
        engine.unwatch_all(session.id, &watched);
    }
    crate::server::command_config::refresh(shared, engine);
    match check(session, argv)
        .and_then(|spec| cluster_check(engine, session, spec, argv))
        .and_then(|spec| check_role(engine, session, spec))
    {
        Ok(spec) => {
            if engine.pause.is_set() && must_postpone(engine, session, spec, argv) {
                engine.postpone(session.id);
                return (Reply::None, Effect::Postpone);
            }
            engine.resume(session.id);
            session.last_command = spec.name;
            if let Err(refusal) = check_memory(engine, session, spec)
                .and_then(|()| check_disk_error(engine, session, spec))
            {
                if let Some(multi) = session.multi.as_mut() {
                    multi.failed = true;
                }
                return (refusal.into(), Effect::None);
            }
            if let Some(multi) = session.multi.as_mut() {
                if !is_transaction_control(spec) {
                    multi.queued.push(argv.to_vec());
                    return (Reply::simple("QUEUED"), Effect::None);
                }
            }
            shared.feed_monitors_for(spec, session, argv);
            let outcome = run(shared, engine, session, spec, argv);
            serve_blocked(shared, engine);
            outcome
        }
        Err(error) => {
            if let Some(multi) = session.multi.as_mut() {
                multi.failed = true;
            }
            if let Some(index) = lookup(&argv[0]).and_then(super::spec_index) {
                engine.command_stats.record_rejected(index);
            }
            engine.command_stats.record_error(&error.0);
            (error.into(), Effect::None)
        }
    }
}

/// Redis's reply to a command refused while a script is busy.
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// A client's command while a script is busy (`processCommand`'s busy check), run without the
/// keyspace lock, which the script holds (see [`crate::server::script_run`]). The usual
/// refusals come first (unknown command, arity, AUTH); then everything Redis does not allow
/// during a busy script is refused `-BUSY` (flagging a transaction being queued, and aborting
/// one at EXEC). SCRIPT KILL and SHUTDOWN NOSAVE act on the script, MULTI and QUIT on the
/// connection. `None`: the command is allowed but needs the keyspace, so it waits for the
/// script to end. Nothing is counted in INFO commandstats (the counters are under the lock).
pub fn call_while_busy(
    shared: &Shared,
    session: &mut Session,
    argv: &[Bytes],
) -> Option<(Reply, Effect)> {
    let refuse = |session: &mut Session, error: CmdError| {
        if let Some(multi) = session.multi.as_mut() {
            multi.failed = true;
        }
        Some((error.into(), Effect::None))
    };
    let Some(spec) = lookup(&argv[0]) else {
        return refuse(session, CmdError::unknown_command(argv));
    };
    if !spec.arity_ok(argv.len()) {
        return refuse(session, CmdError::arity(&String::from_utf8_lossy(&argv[0])));
    }
    if !session.authenticated && !spec.has(flags::NO_AUTH) {
        return refuse(session, CmdError::noauth());
    }
    let sub = argv.get(1).map(|a| a.to_ascii_lowercase());
    match (spec.name, sub.as_deref()) {
        ("script", Some(b"kill")) if argv.len() == 2 => {
            let reply = match shared.script.kill() {
                Ok(()) => Reply::ok(),
                Err(refused) => Reply::error(refused.text()),
            };
            Some((reply, Effect::None))
        }
        ("shutdown", _) => {
            if argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) {
                shared.script.force_kill();
                Some((Reply::None, Effect::Shutdown(ShutdownMode::NoSave)))
            } else {
                Some((Reply::error(BUSY_SCRIPT), Effect::None))
            }
        }
        ("multi", _) if session.multi.is_some() => Some((
            Reply::error("ERR MULTI calls can not be nested"),
            Effect::None,
        )),
        ("multi", _) => {
            session.multi = Some(Default::default());
            Some((Reply::ok(), Effect::None))
        }
        ("quit", _) => Some((Reply::ok(), Effect::Close)),
        _ if spec.has(flags::ALLOW_BUSY) => None,
        ("exec", _) if session.multi.is_some() => {
            // `execCommandAbort`; the watched keys are forgotten by the connection's next
            // command, which holds the lock.
            session.multi = None;
            session.stale_watches = !session.watched.is_empty();
            Some((
                Reply::error(format!(
                    "EXECABORT Transaction discarded because of: {BUSY_SCRIPT}"
                )),
                Effect::None,
            ))
        }
        _ => refuse(session, CmdError::new(BUSY_SCRIPT)),
    }
}

/// `maxmemory` (`processCommand`): evicts by policy, and refuses a command that may grow
/// memory while it stays above the limit. Inside MULTI every command but EXEC, DISCARD, QUIT
/// and RESET is refused (queueing takes memory); EXEC is refused when it holds a DENYOOM
/// command, and then discards the transaction. Commands from the master are never refused.
fn check_memory(engine: &mut Engine, session: &mut Session, spec: &Spec) -> Result<(), CmdError> {
    if session.is_master_link || crate::server::eviction::make_room(engine).is_ok() {
        return Ok(());
    }
    let queued_denyoom = |session: &Session| {
        session.multi.as_ref().is_some_and(|m| {
            m.queued
                .iter()
                .any(|argv| lookup(&argv[0]).is_some_and(|s| s.has(flags::DENYOOM)))
        })
    };
    let oom = crate::server::eviction::OutOfMemory::TEXT;
    if spec.name == "exec" {
        if !queued_denyoom(session) {
            return Ok(());
        }
        session.multi = None;
        let watched = std::mem::take(&mut session.watched);
        engine.unwatch_all(session.id, &watched);
        return Err(CmdError(
            format!("EXECABORT Transaction discarded because of: {oom}").into(),
        ));
    }
    let refuse = spec.has(flags::DENYOOM)
        || (session.multi.is_some() && !matches!(spec.name, "discard" | "quit" | "reset"));
    if !refuse {
        return Ok(());
    }
    Err(CmdError::new(oom))
}

/// `writeCommandsDeniedByDiskError`: while save points are configured, the last background
/// save failed and `stop-writes-on-bgsave-error` is on, or while writing the AOF fails, writes
/// and PING are refused with `-MISCONF`, except from the master.
fn check_disk_error(engine: &Engine, session: &Session, spec: &Spec) -> Result<(), CmdError> {
    if session.is_master_link || !(spec.has(flags::WRITE) || spec.name == "ping") {
        return Ok(());
    }
    let stop_writes = engine.command_config.stop_writes_on_bgsave_error;
    if stop_writes && !engine.persistence.last_bgsave_ok {
        return Err(CmdError::new(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to \
             persist to disk. Commands that may modify the data set are disabled, because this \
             instance is configured to report errors during writes if RDB snapshotting fails \
             (stop-writes-on-bgsave-error option). Please check the Redis logs for details \
             about the RDB error.",
        ));
    }
    let aof_error = engine
        .aof
        .as_ref()
        .and_then(|state| state.last_write_error.clone());
    match aof_error {
        Some(error) => Err(CmdError(
            format!("MISCONF Errors writing to the AOF file: {error}").into(),
        )),
        None => Ok(()),
    }
}

/// True if the CLIENT PAUSE in force covers this command (`processCommand`): every command
/// under `ALL`; under `WRITE` the ones that may change the dataset or feed the replication
/// stream, EXEC of a transaction that queued one included. The master's link is not paused.
fn must_postpone(engine: &mut Engine, session: &Session, spec: &Spec, argv: &[Bytes]) -> bool {
    use crate::server::pause::PauseMode;
    if session.is_master_link {
        return false;
    }
    let mode = engine
        .client_pause(crate::server::unix_ms())
        .map(|p| p.mode);
    let may_replicate = |spec: &Spec, argv: &[Bytes]| {
        if matches!(spec.name, "eval" | "evalsha") {
            super::scripting::eval_may_replicate(&engine.scripts, argv)
        } else {
            spec.has(flags::WRITE | flags::MAY_REPLICATE)
        }
    };
    match mode {
        None => false,
        Some(PauseMode::All) => true,
        Some(PauseMode::Write) => {
            may_replicate(spec, argv)
                || (spec.name == "exec"
                    && session.multi.as_ref().is_some_and(|m| {
                        m.queued.iter().any(|queued| {
                            lookup(&queued[0]).is_some_and(|spec| may_replicate(spec, queued))
                        })
                    }))
        }
    }
}

/// Commands that act on the transaction itself rather than being queued.
fn is_transaction_control(spec: &Spec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// The checks before a command runs (`processCommand`), in Redis's order: its shape and access
/// here, then [`cluster_check`], then [`check_role`].
fn check(session: &Session, argv: &[Bytes]) -> Result<&'static Spec, CmdError> {
    let Some(spec) = lookup(&argv[0]) else {
        return Err(CmdError::unknown_command(argv));
    };
    if !spec.arity_ok(argv.len()) {
        return Err(CmdError::arity(&String::from_utf8_lossy(&argv[0])));
    }
    if !session.authenticated && !spec.has(flags::NO_AUTH) {
        return Err(CmdError::noauth());
    }
    // MULTI and WATCH answer their own error inside MULTI without aborting the transaction.
    if session.multi.is_some() && spec.has(flags::NO_MULTI) && !is_transaction_control(spec) {
        return Err(CmdError::new(
            "ERR Command not allowed inside a transaction",
        ));
    }
    if session.in_pubsub_mode() && !spec.has(flags::PUBSUB_CONTEXT) {
        return Err(CmdError(
            format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )
            .into(),
        ));
    }
    Ok(spec)
}

/// In cluster mode, whether this node serves the command's keys (MOVED, ASK, CROSSSLOT,
/// CLUSTERDOWN...). Redis checks it after the command's shape and access, and before the
/// role's own refusals (a write sent to a replica is redirected, not refused).
fn cluster_check(
    engine: &mut Engine,
    session: &mut Session,
    spec: &'static Spec,
    argv: &[Bytes],
) -> Result<&'static Spec, CmdError> {
    if engine.cluster.is_none() {
        return Ok(spec);
    }
    let refusal = super::cluster::redirect(engine, session, spec, argv, unix_ms());
    if spec.name != "asking" {
        session.asking = false;
    }
    refusal.map_or(Ok(spec), Err)
}

/// What the node's role refuses: writes on a read-only replica, any command while a replica
/// that must not serve stale data has lost its master, writes without enough good replicas.
fn check_role(
    engine: &Engine,
    session: &Session,
    spec: &'static Spec,
) -> Result<&'static Spec, CmdError> {
    if !session.is_master_link {
        let settings = &engine.command_config;
        let replica = engine.repl.is_replica();
        if spec.has(flags::WRITE) && replica && settings.replica_read_only {
            return Err(CmdError::readonly_replica());
        }
        if replica && !spec.has(flags::STALE) && !settings.replica_serve_stale_data {
            let link_up = engine.repl.master.as_ref().is_some_and(|m| m.up);
            if !link_up {
                return Err(CmdError::new(
                    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
                ));
            }
        }
        if spec.has(flags::WRITE) && !replica {
            check_good_replicas(engine)?;
        }
    }
    Ok(spec)
}

/// `min-replicas-to-write`: a master refuses writes while fewer replicas than that acknowledged
/// within `min-replicas-max-lag` seconds.
pub(super) fn check_good_replicas(engine: &Engine) -> Result<(), CmdError> {
    let settings = &engine.command_config;
    let (needed, max_lag) = (
        settings.min_replicas_to_write,
        settings.min_replicas_max_lag,
    );
    if needed > 0 && engine.repl.good_replicas(unix_ms(), max_lag) < needed {
        return Err(CmdError::new(
            "NOREPLICAS Not enough good replicas to write.",
        ));
    }
    Ok(())
}

/// Runs a checked command and does the bookkeeping that follows it, except serving blocked
/// clients, which the top-level [`call`] does once the whole command (or transaction) is done.
fn run(
    shared: &Shared,
    engine: &mut Engine,
    session: &mut Session,
    spec: &'static Spec,
    argv: &[Bytes],
) -> (Reply, Effect) {
    let dirty_before = engine.dirty;
    let db_before = session.db;
    let notifying = engine.notify_flags != 0;
    // The command's time (Redis's `call` caches it for the whole command) and the start of its
    // duration, from one read of the clock.
    let (started, now) = crate::clock::Timer::start_at_unix_ms();
    let mut cx = Exec {
        shared,
        engine,
        session,
        argv,
        now,
        effect: Effect::None,
        rewrite: None,
        touched: notifying.then(Vec::new),
    };
    let mut args = Args::new(argv);
    let reply = match (spec.handler)(&mut cx, &mut args) {
        Ok(reply) => reply,
        Err(error) => error.into(),
    };
    let usec = started.elapsed_us();
    record_stats(cx.engine, spec, argv, usec, &reply);
    if let Reply::Error(text) = &reply {
        cx.engine.command_stats.record_error(text);
    }
    let Exec {
        effect,
        rewrite,
        engine,
        session,
        touched,
        ..
    } = cx;
    if let Some(keys) = touched {
        let changed = engine.dirty > dirty_before;
        crate::server::notify::command_events(engine, spec.name, argv, db_before, &keys, changed);
    }
    // ANCHOR: after_a_write
    propagate_expired(engine);
    crate::server::notify::publish(shared, engine);
    if engine.dirty > dirty_before && engine.propagate && session.propagates {
        match rewrite {
            None => engine.propagate(db_before, argv.to_vec()),
            Some(commands) => {
                for command in commands {
                    engine.propagate(db_before, command);
                }
            }
        }
    }
    // ANCHOR_END: after_a_write
    // Only the engine's holder counts commands, so a load and a store do (no locked
    // read-modify-write on every command); readers only load.
    let processed = &shared.stats.total_commands_processed;
    processed.store(
        processed.load(std::sync::atomic::Ordering::Relaxed) + 1,
        std::sync::atomic::Ordering::Relaxed,
    );
    (reply, effect)
}

/// Counts a call in `INFO commandstats`: under the command's name, or for a container command
/// under its subcommand's (`client|list`). As in Redis, an unknown subcommand is counted
/// nowhere and a subcommand's wrong number of arguments is a rejected call.
fn record_stats(
    engine: &mut Engine,
    spec: &'static Spec,
    argv: &[Bytes],
    usec: u64,
    reply: &Reply,
) {
    let Some(index) = super::spec_index(spec) else {
        return;
    };
    if !is_container(index) || argv.len() < 2 {
        engine
            .command_stats
            .record_call(index, usec, reply.is_error());
        return;
    }
    let Some(name) = super::docs::subcommand_name(spec.name, &argv[1]) else {
        return;
    };
    let wrong_arity = matches!(reply, Reply::Error(text)
        if text.strip_prefix("ERR wrong number of arguments for '")
            .is_some_and(|rest| rest.starts_with(name)));
    if wrong_arity {
        engine.command_stats.record_subcommand_rejected(name);
    } else {
        engine
            .command_stats
            .record_subcommand_call(name, usec, reply.is_error());
    }
}

/// True if command number `index` of the table has subcommands (computed once).
fn is_container(index: usize) -> bool {
    static CONTAINERS: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    CONTAINERS
        .get_or_init(|| {
            super::all_specs()
                .iter()
                .map(|spec| super::docs::has_subcommands(spec.name))
                .collect()
        })
        .get(index)
        .copied()
        .unwrap_or(false)
}

/// Turns keys that lazy expiry removed into `DEL`s for AOF and replicas, and wakes their
/// watchers (Redis's `deleteExpiredKeyAndPropagate`).
pub fn propagate_expired(engine: &mut Engine) {
    for db in 0..engine.dbs.len() {
        if !engine.dbs[db].has_expired() {
            continue;
        }
        for key in engine.dbs[db].take_expired() {
            engine.stats.expired_keys += 1;
            engine.touch(db, &key);
            engine.notify(crate::server::notify::class::EXPIRED, "expired", db, &key);
            engine.propagate(db, vec![Bytes::from_static(b"DEL"), key]);
        }
    }
}

/// Serves clients blocked on keys that became ready, oldest first, in the same critical section
/// as the write that readied them (Redis's `handleClientsBlockedOnKeys`).
fn serve_blocked(shared: &Shared, engine: &mut Engine) {
    // Each round serves the keys readied by the previous one (BLMOVE pushes to another list);
    // the bound only guards against a cycle of blocked moves feeding each other forever.
    for _ in 0..1024 {
        let ready = engine.take_ready();
        if ready.is_empty() {
            return;
        }
        for slot in ready {
            for client in engine.waiters_on(&slot) {
                let Some(waiter) = engine.waiter(client) else {
                    continue;
                };
                let argv = waiter.argv.clone();
                let mut session = Session::new(client, String::new(), true);
                session.db = waiter.db;
                session.resp3 = waiter.resp3;
                let Some(spec) = lookup(&argv[0]) else {
                    continue;
                };
                let (reply, effect) = run(shared, engine, &mut session, spec, &argv);
                if matches!(effect, Effect::Block { .. }) {
                    continue; // still nothing for this client: it keeps its place
                }
                if let Some(waiter) = engine.unblock(client) {
                    // The client may have timed out and gone meanwhile; then the reply is dropped
                    // (the data it popped was already consumed, as in Redis when the client dies).
                    let _ = waiter.reply.send(reply);
                }
            }
        }
    }
}

impl Shared {
    /// Feeds MONITOR clients, except for commands Redis hides from them.
    fn feed_monitors_for(&self, spec: &Spec, session: &Session, argv: &[Bytes]) {
        if spec.has(flags::SKIP_MONITOR) || spec.has(flags::ADMIN) {
            return;
        }
        self.feed_monitors(session.db, &session.addr, argv);
    }
}

/// Runs commands against a fresh in-memory server, without sockets: for unit tests of handlers.
#[cfg(test)]
pub mod testing {
    use super::*;
    use crate::config::Config;
    use crate::server::events::EventBus;
    use crate::server::log::Logger;

    /// A server state, a session on it, and helpers to run commands.
    pub struct Harness {
        pub shared: Shared,
        pub session: Session,
    }

    impl Default for Harness {
        fn default() -> Self {
            Harness::new()
        }
    }

    impl Harness {
        pub fn new() -> Harness {
            let mut config = Config::default();
            config.databases = 16;
            let events = EventBus::new(Logger::stdout(crate::config::LogLevel::Warning));
            let shared = Shared::new(config, None, events);
            let session = Session::new(1, "127.0.0.1:1".into(), true);
            Harness { shared, session }
        }

        /// Runs one command given as words; returns its reply.
        pub fn run(&mut self, words: &[&str]) -> Reply {
            let argv: Vec<Bytes> = words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            self.run_argv(&argv).0
        }

        /// Runs one command; returns its reply and effect.
        pub fn run_argv(&mut self, argv: &[Bytes]) -> (Reply, Effect) {
            let mut engine = self.shared.engine();
            call(&self.shared, &mut engine, &mut self.session, argv)
        }

        /// Enables and drains the propagation queue: what AOF and replicas would receive.
        pub fn propagated(&mut self) -> Vec<Vec<String>> {
            let mut engine = self.shared.engine();
            engine.propagate = true;
            engine
                .propagated
                .drain(..)
                .map(|p| {
                    p.argv
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect()
                })
                .collect()
        }
    }

    /// Shorthand for expected replies in tests.
    pub fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn err(s: &'static str) -> Reply {
        Reply::error(s)
    }
}
