//! The [`Engine`]: one node's state behind one lock — everything a command may change.
//!
//! Commands run one at a time against the engine (as Redis's single thread runs them), so the
//! order in which writes are applied is the order in which they are propagated. Besides the
//! databases, the engine holds what must change atomically with them: which clients WATCH
//! which keys (`multi.c`: `touchWatchedKey`), which clients are blocked on which keys
//! (`blocked.c`: `signalKeyAsReady`), the dirty counter that save points read, the propagation
//! queue, and the two consumers of that queue — the replication stream state ([`ReplState`]:
//! role, replid, offsets, backlog, replica sinks) and the AOF writer — plus the persistence
//! status. `repl::flush` turns what a batch of commands changed into AOF and stream bytes
//! before the lock is released. There is no second lock to order against.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::oneshot;

use super::aof::AofState;
use super::persistence::Persistence;
use crate::repl::ReplState;
use crate::resp::Reply;
use crate::store::Db;

/// A connection's unique id (`CLIENT ID`).
pub type ClientId = u64;

/// A client blocked on keys (BLPOP, BRPOP, BLMOVE): what to run again when a key is ready.
#[derive(Debug)]
pub struct Waiter {
    pub client: ClientId,
    pub db: usize,
    pub resp3: bool,
    pub argv: Vec<Bytes>,
    pub keys: Vec<Bytes>,
    /// Where the reply goes once the command can be served.
    pub reply: oneshot::Sender<Reply>,
}

/// A write to record for AOF and replicas: the command in the form to apply, in its db.
#[derive(Debug, Clone, PartialEq)]
pub struct Propagated {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

/// Counters kept under the keyspace lock (`INFO stats`, `INFO keyspace`).
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    /// Keys deleted by `maxmemory` eviction (`evicted_keys`).
    pub evicted_keys: u64,
}

/// The databases and what must change atomically with them.
#[derive(Debug)]
pub struct Engine {
    pub dbs: Vec<Db>,
    /// Writes since the last successful save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    pub stats: KeyspaceStats,
    /// Chance, for RANDOMKEY, SPOP, SRANDMEMBER, the expiry sampler. Seedable for tests.
    pub rng: StdRng,
    /// When true, writes are queued in `propagated` for AOF and replicas to drain.
    pub propagate: bool,
    pub propagated: Vec<Propagated>,
    /// Replication: the role, ids, offsets, backlog and replica sinks.
    pub repl: ReplState,
    /// The append-only file, when `appendonly yes`.
    pub aof: Option<AofState>,
    /// RDB save state (INFO persistence, the running BGSAVE child).
    pub persistence: Persistence,
    /// Eviction candidates kept between commands (`maxmemory`).
    pub eviction: crate::server::eviction::Pool,
    /// Enabled keyspace notification classes (`notify-keyspace-events`, see
    /// [`notify`](super::notify)); 0 when off, which the command path checks first.
    pub notify_flags: u32,
    /// Keyspace events waiting to be published.
    pub events: Vec<super::notify::KeyEvent>,
    /// `INFO commandstats` / `errorstats` counters.
    pub command_stats: super::cmdstats::CommandStats,
    /// Lua scripts by SHA1 (EVALSHA, SCRIPT LOAD).
    pub scripts: HashMap<String, Bytes>,
    /// The cluster state, in cluster mode (`cluster-enabled yes`); its driver is
    /// `node::cluster`.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// The settings the command path reads per command (see
    /// [`command_config`](super::command_config)).
    pub command_config: super::command_config::CommandConfig,
    /// CLIENT PAUSE and the clients it holds.
    pub pause: super::pause::PauseState,
    watches: HashMap<(usize, Bytes), Vec<ClientId>>,
    dirty_cas: HashSet<ClientId>,
    blocked: HashMap<(usize, Bytes), VecDeque<ClientId>>,
    waiters: HashMap<ClientId, Waiter>,
    ready: Vec<(usize, Bytes)>,
}

impl Engine {
    pub fn new(databases: usize) -> Engine {
        Engine {
            dbs: (0..databases.max(1)).map(|_| Db::new()).collect(),
            dirty: 0,
            stats: KeyspaceStats::default(),
            rng: StdRng::from_entropy(),
            propagate: false,
            propagated: Vec::new(),
            repl: ReplState::new(1 << 20, crate::repl::NO_REPLID.to_string()),
            aof: None,
            persistence: Persistence::new(0),
            eviction: Default::default(),
            notify_flags: 0,
            events: Vec::new(),
            command_stats: Default::default(),
            scripts: HashMap::new(),
            cluster: None,
            command_config: Default::default(),
            pause: Default::default(),
            watches: HashMap::new(),
            dirty_cas: HashSet::new(),
            blocked: HashMap::new(),
            waiters: HashMap::new(),
            ready: Vec::new(),
        }
    }

    /// Puts a loaded database in place (start-up, a full sync), recording accesses as the
    /// configured policy wants.
    pub fn install_db(&mut self, index: usize, mut db: Db) {
        db.set_access_tracking(self.command_config.limits.tracking);
        self.dbs[index] = db;
    }

    /// Records that `key` in `db` changed: WATCHers' transactions will fail, and clients blocked
    /// on it get a chance to be served (Redis's `signalModifiedKey` + `signalKeyAsReady`).
    pub fn touch(&mut self, db: usize, key: &Bytes) {
        if self.watches.is_empty() && self.blocked.is_empty() {
            return;
        }
        let slot = (db, key.clone());
        if let Some(clients) = self.watches.get(&slot) {
            self.dirty_cas.extend(clients.iter().copied());
        }
        if self.blocked.contains_key(&slot) && !self.ready.contains(&slot) {
            self.ready.push(slot);
        }
    }

    /// Records that the keys of `db` that exist now are about to be removed (FLUSHDB,
    /// FLUSHALL): watchers of keys that do not exist keep their transaction, as in Redis's
    /// `touchAllWatchedKeysInDb`.
    pub fn touch_existing(&mut self, db: usize) {
        for ((d, key), clients) in &self.watches {
            if *d == db && self.dbs[db].peek(key).is_some() {
                self.dirty_cas.extend(clients.iter().copied());
            }
        }
    }

    /// Records that every key of `db` may have changed (SWAPDB, a full resync).
    pub fn touch_all(&mut self, db: usize) {
        for ((d, _), clients) in &self.watches {
            if *d == db {
                self.dirty_cas.extend(clients.iter().copied());
            }
        }
    }

    pub fn watch(&mut self, client: ClientId, db: usize, key: Bytes) {
        let watchers = self.watches.entry((db, key)).or_default();
        if !watchers.contains(&client) {
            watchers.push(client);
        }
    }

    /// Forgets every watch of `client` (EXEC, DISCARD, UNWATCH, disconnect).
    pub fn unwatch_all(&mut self, client: ClientId, keys: &[(usize, Bytes)]) {
        for slot in keys {
            if let Some(watchers) = self.watches.get_mut(slot) {
                watchers.retain(|c| *c != client);
                if watchers.is_empty() {
                    self.watches.remove(slot);
                }
            }
        }
        self.dirty_cas.remove(&client);
    }

    /// True if a key `client` watches was touched since it started watching.
    pub fn is_dirty_cas(&self, client: ClientId) -> bool {
        self.dirty_cas.contains(&client)
    }

    /// Marks `client`'s transaction as failed without a key change (a watched key expired at
    /// WATCH time is handled by the caller).
    pub fn mark_dirty_cas(&mut self, client: ClientId) {
        self.dirty_cas.insert(client);
    }

    /// Registers a blocked client. It is served in FIFO order per key.
    pub fn block(&mut self, waiter: Waiter) {
        for key in &waiter.keys {
            self.blocked
                .entry((waiter.db, key.clone()))
                .or_default()
                .push_back(waiter.client);
        }
        self.waiters.insert(waiter.client, waiter);
    }

    /// Removes a blocked client (timeout, disconnect). Returns its registration if it was still
    /// blocked.
    pub fn unblock(&mut self, client: ClientId) -> Option<Waiter> {
        let waiter = self.waiters.remove(&client)?;
        for key in &waiter.keys {
            let slot = (waiter.db, key.clone());
            if let Some(queue) = self.blocked.get_mut(&slot) {
                queue.retain(|c| *c != client);
                if queue.is_empty() {
                    self.blocked.remove(&slot);
                }
            }
        }
        Some(waiter)
    }

    /// Number of blocked clients (`INFO clients: blocked_clients`): on keys, or postponed
    /// by CLIENT PAUSE.
    pub fn blocked_clients(&self) -> usize {
        self.waiters.len() + self.pause.postponed_clients()
    }

    /// Takes the keys that became ready since the last call.
    pub fn take_ready(&mut self) -> Vec<(usize, Bytes)> {
        std::mem::take(&mut self.ready)
    }

    /// The blocked clients on `slot`, oldest first.
    pub fn waiters_on(&self, slot: &(usize, Bytes)) -> Vec<ClientId> {
        self.blocked
            .get(slot)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The registration of a blocked client.
    pub fn waiter(&self, client: ClientId) -> Option<&Waiter> {
        self.waiters.get(&client)
    }

    /// Queues a write for AOF and replicas, if anyone consumes them.
    pub fn propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.propagate {
            self.propagated.push(Propagated { db, argv });
        }
    }

    /// Total keys and keys with expiry in `db` (`INFO keyspace`).
    pub fn keyspace_line(&self, db: usize) -> (usize, usize) {
        let d = &self.dbs[db];
        (d.len(), d.expires_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_watched_key_fails_the_watchers_transaction() {
        let mut engine = Engine::new(16);
        let key = Bytes::from("k");
        engine.watch(7, 0, key.clone());
        engine.touch(1, &key);
        assert!(!engine.is_dirty_cas(7), "another db's key is another key");
        engine.touch(0, &key);
        assert!(engine.is_dirty_cas(7));
        engine.unwatch_all(7, &[(0, key)]);
        assert!(!engine.is_dirty_cas(7));
    }

    #[test]
    fn blocked_clients_are_queued_fifo_and_removed_on_unblock() {
        let mut engine = Engine::new(16);
        let key = Bytes::from("list");
        for client in [3, 4] {
            let (tx, _rx) = oneshot::channel();
            engine.block(Waiter {
                client,
                db: 0,
                resp3: false,
                argv: vec![],
                keys: vec![key.clone()],
                reply: tx,
            });
        }
        engine.touch(0, &key);
        assert_eq!(engine.take_ready(), vec![(0, key.clone())]);
        assert_eq!(engine.waiters_on(&(0, key.clone())), vec![3, 4]);
        assert!(engine.unblock(3).is_some());
        assert_eq!(engine.waiters_on(&(0, key)), vec![4]);
        assert_eq!(engine.blocked_clients(), 1);
    }
}
