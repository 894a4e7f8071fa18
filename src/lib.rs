//! redislab: a Redis-compatible server, client and lab runner for learning how replication,
//! Sentinel and Cluster work.
//!
//! # The map
//!
//! The modules are layers, listed bottom first. A module uses only the modules listed before
//! it (`tests/layers.rs` fails when an import runs upward, so this list cannot drift):
//!
//! 1. [`clock`]: the wall clock and the command timer, read on every command (from the
//!    CPU's cycle counter once it is calibrated).
//! 2. [`glob`]: the glob matcher used by CONFIG GET, KEYS and PSUBSCRIBE.
//! 3. [`store`]: the keyspace. Databases, value types, lazy expiry, SCAN cursors.
//! 4. [`resp`]: the wire. Requests in (multibulk and inline, Redis's limits), replies out (RESP2
//!    or RESP3), and client-side frames.
//! 5. [`config`]: redis.conf (its lines split as inline requests are), its directive table,
//!    CONFIG REWRITE.
//! 6. [`events`]: what a node did, each kind defined once: typed value, Redis log line, and the
//!    recogniser the labs read logs with.
//! 7. [`persist`]: the RDB and AOF file formats, and writing snapshots safely (temp file, fork).
//! 8. [`repl`]: replication with no I/O: ids, offsets, the backlog, PSYNC's continue-or-not
//!    rule, the per-replica stream channel, and the state machines of both sides of a sync.
//! 9. [`sentinel`]: Redis Sentinel as a pure state machine (time and randomness are inputs);
//!    its driver is `node::sentinel`.
//! 10. [`cluster`]: Redis Cluster as a pure state machine: hash slots, the bus's binary format,
//!     `nodes.conf`, gossip, failure detection, elections and votes; its driver is
//!     `node::cluster`.
//! 11. [`net`]: peer links through one layer with a fault table (cut, delay per peer and
//!     direction), which a lab drives on a node started with `--lab-faults`.
//! 12. [`server`]: the core. One node's state: the [`server::engine::Engine`] (keyspace,
//!     replication state, AOF writer, persistence status, the role) behind one lock, the one
//!     role transition ([`server::role`]), propagation ([`server::propagation::flush`]), and
//!     what sits beside the engine (pub/sub, clients, config, the event bus).
//! 13. [`cmd`]: the command table and one module per family; [`cmd::call`] is the path of a
//!     command. Commands change the core and return a reply and an effect for the runtime.
//! 14. [`client`]: the async client, redis-cli formatting and `redislab cli` (its help reads
//!     the command docs).
//! 15. [`node`]: the runtime. Listeners, connection tasks, the periodic tick and child reaping
//!     ([`node::cron`]), start-up loading, the replica link ([`node::replica_link`]) and the
//!     master's side of a sync ([`node::serve_replica`]), carrying out role changes, shutdown,
//!     and the Sentinel's driver ([`node::sentinel`]).
//! 16. [`sim`]: the deterministic simulator: nodes running the real core, command path and
//!     replication machines over a virtual network, in virtual time, with seeded randomness;
//!     scenarios as scripts whose traces are snapshots.
//! 17. [`lab`]: lab files, the runner that starts real nodes and narrates from their logs, and
//!     transcripts.
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
//! 7. Before the lock is released, [`server::propagation::flush`] turns the queue into the AOF (fsynced now
//!    under `appendfsync always`) and the replication stream (backlog and replicas).
//! 8. The replies of the whole batch are encoded for the connection's protocol and written
//!    at once.
#![deny(clippy::print_stdout)]

/// The Redis version redislab reports (INFO, HELLO) and whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";

pub mod client;
pub mod clock;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod events;
pub mod glob;
pub mod lab;
pub mod net;
pub mod node;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod sim;
pub mod store;
