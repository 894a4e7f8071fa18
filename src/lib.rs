//! redislab: a Redis-compatible server, client and lab runner for learning how replication,
//! Sentinel and Cluster work.
//!
//! # The map
//!
//! The modules are layers; a lower one never depends on a higher one, except where noted.
//!
//! - [`resp`]: the wire. Requests in (multibulk and inline, Redis's limits), replies out (RESP2
//!   or RESP3), and client-side frames.
//! - [`store`]: the keyspace. Databases, value types, lazy expiry, SCAN cursors.
//! - [`config`] and [`glob`]: redis.conf and the glob matcher used by CONFIG GET, KEYS and
//!   PSUBSCRIBE.
//! - [`persist`]: the RDB and AOF file formats, and writing snapshots safely (temp file, fork).
//! - [`server`]: what one node shares between its connections. The keyspace [`server::engine`]
//!   sits behind one mutex, next to pub/sub, clients, events and logging, and the persistence
//!   and AOF state.
//! - [`cmd`]: the command table and one module per family; [`cmd::call`] is the path of a
//!   command.
//! - [`node`]: the runtime. Listeners, connection tasks, the periodic tick, shutdown,
//!   daemonizing.
//! - [`repl`]: replication, master and replica sides. It builds on `server` and `cmd`, and
//!   `server` holds its state ([`repl::ReplState`]): the two are one feature split by role.
//! - [`sentinel`]: Redis Sentinel as a pure state machine (time and randomness are inputs);
//!   its driver is [`node::sentinel`].
//! - [`client`]: the async client, redis-cli formatting and `redislab cli`.
//! - [`lab`]: lab files, the runner that starts real nodes and narrates from their logs, and
//!   transcripts.
//!
//! # The life of a command
//!
//! 1. [`node::connection::serve`] reads from the socket into a buffer.
//! 2. [`resp::RequestParser::parse`] cuts a complete request out of it, checking every length
//!    before allocating (malformed input: `-ERR Protocol error: ...`, then close).
//! 3. The connection task locks the keyspace once for everything buffered and calls
//!    [`cmd::call`] for each request in order.
//! 4. [`cmd::call`] looks up the [`cmd::Spec`], then checks arity, AUTH, MULTI queueing, RESP2
//!    pub/sub mode, read-only replica, stale data and `min-replicas-to-write`.
//! 5. The handler parses its arguments ([`cmd::Args`]) and applies the command to the
//!    [`store::Db`] through an [`cmd::Exec`]. It returns a [`resp::Reply`], and an
//!    [`cmd::Effect`] when the connection must change mode (block, replicate, close).
//! 6. What it changed is recorded in apply order. Keys found expired become `DEL`s; the write
//!    itself, or its deterministic form (`SET ... PXAT`), is queued in the engine; WATCHers are
//!    invalidated; clients blocked on keys that became ready are served.
//! 7. Before the lock is released, [`repl::flush`] turns the queue into the AOF (fsynced now
//!    under `appendfsync always`) and the replication stream (backlog and replicas).
//! 8. The replies of the whole batch are encoded for the connection's protocol and written
//!    at once.
#![deny(clippy::print_stdout)]

/// The Redis version redislab reports (INFO, HELLO) and whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";

pub mod client;
pub mod cmd;
pub mod config;
pub mod glob;
pub mod lab;
pub mod node;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod store;
