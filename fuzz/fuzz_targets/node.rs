//! A whole node in-process: a random sequence of commands over several simulated connections,
//! through the same `cmd::call` and propagation path the connection task uses, with blocking
//! pops registered and abandoned, MULTI/EXEC, pub/sub, MONITOR, SYNC/PSYNC and eviction under
//! `maxmemory` (the counting allocator is installed, so `used_memory` is real). It must never
//! panic, and memory must stay within the configured limits after every command, as Redis
//! keeps them (`processCommand`, `checkClientOutputBufferLimits`):
//! - the heap within `maxmemory`, unless the policy has nothing left to evict;
//! - each connection's queue of pub/sub and MONITOR messages, which these connections never
//!   read (slow consumers), within its `client-output-buffer-limit` class's hard limit; a
//!   connection past it is closed and its queue freed, as the connection task does.
//!
//! libFuzzer's `-rss_limit_mb` and the allocation cap (`support/allocation_cap.rs`) catch any
//! other unbounded allocation.
//!
//! Commands that leave the process (SHUTDOWN, DEBUG, SAVE/BGSAVE/BGREWRITEAOF fork or write
//! files, CONFIG, REPLICAOF/SLAVEOF connect out) are not drawn.
//!
//! Input: one byte of setup (maxmemory policy, limit on or off, small output-buffer limits or
//! Redis's defaults), then operations of
//! `[connection] [command] [argc] args...`, each argument a tag byte choosing a key from a
//! small set, a number, a keyword, or raw bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use redislab::cmd::{self, Effect};
use redislab::config::{Config, MaxmemoryPolicy};
use redislab::server::engine::Waiter;
use redislab::server::events::EventBus;
use redislab::server::log::Logger;
use redislab::server::session::Session;
use redislab::server::Shared;
use std::sync::OnceLock;
use tokio::sync::oneshot;

type Blocked = Option<oneshot::Receiver<redislab::resp::Reply>>;

/// Hard output-buffer limit of the small setting, in bytes: a few dozen queued messages.
const SMALL_OUTPUT_LIMIT_BYTES: u64 = 4096;

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<redislab::server::memory::CountingAllocator> =
    allocation_cap::Capped(redislab::server::memory::CountingAllocator);

const CONNECTIONS: usize = 4;
const EXCLUDED: &[&str] = &[
    "shutdown",
    "debug",
    "save",
    "bgsave",
    "bgrewriteaof",
    "config",
    "slaveof",
    "replicaof",
    "failover",
];
const WORDS: &[&str] = &[
    "EX",
    "PX",
    "EXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "GET",
    "KEEPTTL",
    "WITHSCORES",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "MATCH",
    "COUNT",
    "TYPE",
    "RANK",
    "MAXLEN",
    "*",
    "-inf",
    "+inf",
    "(1",
    "[a",
    "-",
    "+",
    "0",
    "-1",
    "LIST",
    "ID",
    "SETNAME",
    "GETNAME",
    "KILL",
    "INFO",
    "RESET",
    "ENCODING",
    "FREQ",
    "IDLETIME",
    "listen-port",
    "capa",
    "eof",
    "psync2",
    "ACK",
    "GETACK",
    "?",
    "all",
    "3",
    "2",
    "AUTH",
    "default",
    "string",
    "hash",
    "zset",
    "set",
    "list",
    "ASYNC",
    "SYNC",
    "REPLACE",
    "DB",
    "WITHVALUES",
    "NOVALUES",
];

struct Input<'a>(&'a [u8]);

/// The connection goes away: releases what it held, as the connection task does, and a new
/// client takes its place.
fn disconnect(shared: &Shared, session: &mut Session, blocked: &mut Blocked) {
    redislab::server::session::release(shared, session);
    let id = session.id + CONNECTIONS as u64;
    *session = Session::new(id, format!("127.0.0.1:{}", 10000 + id), true);
    *blocked = None;
}

/// The connection task's output-buffer check for messages queued to `session` (pub/sub,
/// MONITOR): the limit of its class applies; a queue past it closes the connection. Panics if
/// a queue that did not overflow holds more than the limit.
fn enforce_output_limit(shared: &Shared, session: &mut Session, blocked: &mut Blocked) {
    let Some(source) = &session.push_source else {
        return;
    };
    let limits = shared.config().client_output_buffer_limit;
    let class = if session.subscription_count() > 0 {
        limits.pubsub
    } else {
        limits.normal
    };
    let limit = class.hard_bytes as usize;
    source.set_limit(limit);
    if source.overflowed() {
        disconnect(shared, session, blocked);
        return;
    }
    assert!(
        limit == 0 || source.queued_bytes() <= limit,
        "client {}: {} bytes queued past its hard limit {limit}",
        session.id,
        source.queued_bytes()
    );
}

/// Memory stays within `maxmemory` unless nothing is left that the policy may evict (what
/// Redis's `performEvictions` guarantees before each command).
fn assert_within_maxmemory(shared: &Shared) {
    let mut engine = shared.engine();
    redislab::server::command_config::refresh(shared, &mut engine);
    if redislab::server::eviction::make_room(&mut engine).is_ok() {
        return;
    }
    let (policy, maxmemory) = {
        let config = shared.config();
        (config.maxmemory_policy, config.maxmemory)
    };
    let candidates: usize = engine
        .dbs
        .iter()
        .map(|db| {
            if policy.volatile_only() {
                db.expires_len()
            } else {
                db.len()
            }
        })
        .sum();
    assert!(
        policy == MaxmemoryPolicy::NoEviction || candidates == 0,
        "{policy:?}: used {} > maxmemory {maxmemory} with {candidates} keys left to evict",
        redislab::server::memory::used_memory()
    );
    redislab::server::propagation::flush(shared, &mut engine);
    engine.propagated.clear();
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn arg(&mut self) -> Option<Bytes> {
        let tag = self.byte()?;
        Some(match tag {
            0..=63 => Bytes::from(format!("k{}", tag % 8)),
            64..=127 => {
                let raw = self.bytes(2);
                let n = i16::from_le_bytes([
                    raw.first().copied().unwrap_or(0),
                    raw.get(1).copied().unwrap_or(0),
                ]);
                Bytes::from(n.to_string())
            }
            128..=191 => Bytes::from_static(WORDS[tag as usize % WORDS.len()].as_bytes()),
            _ => {
                let len = self.byte().unwrap_or(0) as usize % 48;
                Bytes::copy_from_slice(self.bytes(len))
            }
        })
    }
}

/// The commands drawn from, in table order (built once: it does not depend on the input).
fn commands() -> &'static [&'static str] {
    static COMMANDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    COMMANDS.get_or_init(|| {
        cmd::all_specs()
            .iter()
            .map(|s| s.name)
            .filter(|name| !EXCLUDED.contains(name))
            .collect()
    })
}

thread_local! {
    /// The runtime the node's channels and timers belong to, built once: the harness never
    /// runs it (nothing is spawned that outlives an input; each input's node, sessions and
    /// channels are dropped at its end), so it carries no state from one input to the next.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
}

fuzz_target!(|data: &[u8]| {
    RUNTIME.with(|runtime| {
        let _context = runtime.enter();
        run(data);
    });
});

fn run(data: &[u8]) {
    let commands = commands();

    let mut input = Input(data);
    let Some(setup) = input.byte() else { return };
    let mut config = Config::default();
    config.databases = 16;
    config.maxmemory_policy = MaxmemoryPolicy::ALL[setup as usize % 8];
    if setup & 8 != 0 {
        config.maxmemory = redislab::server::memory::used_memory() as u64 + 2 * 1024 * 1024;
    }
    if setup & 16 != 0 {
        let limits = &mut config.client_output_buffer_limit;
        limits.normal.hard_bytes = SMALL_OUTPUT_LIMIT_BYTES;
        limits.pubsub.hard_bytes = SMALL_OUTPUT_LIMIT_BYTES;
    }
    config.maxmemory_samples = 5;
    config.lfu_log_factor = 10;
    config.lfu_decay_time = 1;
    let events = EventBus::new(Logger::stdout(redislab::config::LogLevel::Warning));
    let shared = Shared::new(config, None, events);
    shared.engine().propagate = true;
    let mut sessions: Vec<Session> = (0..CONNECTIONS)
        .map(|i| Session::new(i as u64 + 1, format!("127.0.0.1:{}", 10000 + i), true))
        .collect();
    let mut blocked: Vec<Blocked> = (0..CONNECTIONS).map(|_| None).collect();

    for _ in 0..256 {
        let Some(conn) = input.byte() else { break };
        let conn = conn as usize % CONNECTIONS;
        let Some(which) = input.byte() else { break };
        let argc = input.byte().unwrap_or(0) % 8;
        let mut argv = vec![Bytes::from_static(
            commands[which as usize % commands.len()].as_bytes(),
        )];
        for _ in 0..argc {
            match input.arg() {
                Some(arg) => argv.push(arg),
                None => break,
            }
        }
        let session = &mut sessions[conn];
        let mut engine = shared.engine();
        // A blocked connection sending again: served meanwhile, or it gave up (timeout).
        if let Some(mut rx) = blocked[conn].take() {
            if rx.try_recv().is_err() {
                engine.unblock(session.id);
            }
        }
        let (_reply, effect) = cmd::call(&shared, &mut engine, session, &argv);
        match effect {
            Effect::Block { keys, .. } => {
                let (tx, rx) = oneshot::channel();
                engine.block(Waiter {
                    client: session.id,
                    db: session.db,
                    resp3: session.resp3,
                    argv: argv.clone(),
                    keys,
                    reply: tx,
                });
                blocked[conn] = Some(rx);
            }
            Effect::Close | Effect::Replicate(_) => {
                // The connection goes away (QUIT, or SYNC/PSYNC handing the socket over and
                // the replica vanishing).
                drop(engine);
                disconnect(&shared, session, &mut blocked[conn]);
                continue;
            }
            _ => {}
        }
        redislab::server::propagation::flush(&shared, &mut engine);
        engine.propagated.clear();
        drop(engine);
        // What was published or monitored reached every connection's queue.
        for (session, blocked) in sessions.iter_mut().zip(blocked.iter_mut()) {
            enforce_output_limit(&shared, session, blocked);
        }
        assert_within_maxmemory(&shared);
    }
}
