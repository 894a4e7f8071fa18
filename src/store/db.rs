//! One database (`SELECT n`): the key → value dict, the key → expiry-time dict, lazy expiry and
//! the active expiry sampler.
//!
//! The key dict is a [`KeyTable`]: entries live in its buckets, it grows a segment at a time
//! (no pause to rehash millions of keys), and it gives SCAN Redis's guarantee and RANDOMKEY a
//! random entry (see `store/table.rs`). The expires dict is an `IndexMap` so that the active
//! expiry sampler and the volatile eviction policies draw a random volatile key in O(1).
//!
//! Keys are [`Str`]s and a [`Value`] is 24 bytes, so an entry (key, value, access record) is
//! 56 bytes: a lookup of a key of up to 22 bytes, and a read of a string value of up to 22
//! bytes, touch no other memory.

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

use super::str::Str;
use super::table::{KeyTable, Keyed};
use super::value::{Hash, List, Set, Value, ZSet};

/// The error a typed lookup returns when the key holds another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// What lazy expiry does with a logically expired key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryMode {
    /// A master deletes it and records the deletion for propagation.
    Delete,
    /// A replica answers as if it were missing but keeps it until the master's DEL arrives.
    HideOnly,
}

/// How key accesses are recorded, for the eviction policies and OBJECT IDLETIME / FREQ
/// (Redis's 24-bit `lru` field of every object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTracking {
    /// Last access time, in seconds (every policy but the LFU ones).
    Lru,
    /// A logarithmic access counter that decays with time (`maxmemory-policy *-lfu`):
    /// `lfu-log-factor` and `lfu-decay-time` (minutes).
    Lfu { log_factor: u32, decay_minutes: u32 },
}

/// A key, its value and when or how often it was accessed: 56 bytes, so a bucket of the
/// table is too (not padded to a cache line: a lookup reads the key and the value, 48 bytes,
/// which a cache line boundary splits in some buckets; the memory matters more).
#[derive(Debug)]
struct Entry {
    key: Str,
    value: Value,
    /// Lru: Unix seconds of the last access. Lfu: minutes of the last decrement (16 bits)
    /// above an 8-bit logarithmic counter, as Redis packs it.
    access: u32,
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        self.key.as_slice()
    }
}

/// The counter a new key starts with under LFU, so that it is not evicted at once
/// (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u32 = 5;

/// A key given to a write: owned, or borrowed and copied only if the db must keep it.
pub trait KeyArg {
    fn as_slice(&self) -> &[u8];
    fn into_bytes(self) -> Bytes;
}

impl KeyArg for Bytes {
    fn as_slice(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl KeyArg for &[u8] {
    fn as_slice(&self) -> &[u8] {
        self
    }
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

/// A database. Expiry times are absolute Unix times in milliseconds.
#[derive(Debug)]
pub struct Db {
    dict: KeyTable<Entry>,
    expires: IndexMap<Str, i64>,
    mode: ExpiryMode,
    /// Keys deleted by lazy or active expiry since the last `take_expired`.
    expired: Vec<Bytes>,
    tracking: AccessTracking,
    /// State of the cheap generator behind LFU's probabilistic increments.
    lfu_seed: u64,
    /// Keys added since the last `take_new_keys`, recorded only while `track_new` is on (the
    /// `new` keyspace event).
    new_keys: Vec<Bytes>,
    track_new: bool,
    /// The keys of each cluster slot, built on first use in cluster mode and kept up to date
    /// from then on.
    slots: Option<Box<super::slots::SlotIndex>>,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

macro_rules! typed_access {
    ($variant:ident, $ty:ty, $get:ident, $get_mut:ident, $get_or_create:ident) => {
        /// The value at `key` if it holds this type; `Err(WrongType)` if it holds another.
        pub fn $get(&mut self, key: &[u8], now: i64) -> Result<Option<&$ty>, WrongType> {
            match self.get(key, now) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(v)),
                Some(_) => Err(WrongType),
            }
        }

        /// Mutable access to the value at `key` if it holds this type. A caller that may empty
        /// the collection calls [`Db::remove_if_empty`] afterwards.
        pub fn $get_mut(&mut self, key: &[u8], now: i64) -> Result<Option<&mut $ty>, WrongType> {
            match self.get_mut(key, now) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(v)),
                Some(_) => Err(WrongType),
            }
        }

        /// The value at `key`, created empty if the key does not exist; an existing key's
        /// access is recorded. One hash lookup when the key exists.
        pub fn $get_or_create(&mut self, key: &[u8], now: i64) -> Result<&mut $ty, WrongType> {
            self.expire_if_needed(key, now);
            let hash = self.dict.hash(key);
            let random = self.lfu_random();
            let tracking = self.tracking;
            let access = self.new_access(now);
            let (entry, inserted) = self.dict.find_or_insert(hash, key, || Entry {
                key: Str::new(key),
                value: Value::$variant(Default::default()),
                access,
            });
            if inserted {
                if self.track_new {
                    self.new_keys.push(Bytes::copy_from_slice(key));
                }
                if let Some(index) = self.slots.as_mut() {
                    index.add(key);
                }
            } else {
                touch(entry, tracking, random, now);
            }
            match &mut entry.value {
                Value::$variant(v) => Ok(v),
                _ => Err(WrongType),
            }
        }
    };
}

impl Db {
    pub fn new() -> Db {
        Db {
            dict: KeyTable::new(),
            expires: IndexMap::new(),
            mode: ExpiryMode::Delete,
            expired: Vec::new(),
            tracking: AccessTracking::Lru,
            lfu_seed: 0x9e37_79b9_7f4a_7c15,
            new_keys: Vec::new(),
            track_new: false,
            slots: None,
        }
    }

    /// Sets how accesses are recorded (from `maxmemory-policy`). Switching between LRU and
    /// LFU leaves old records meaningless, as in Redis, until keys are accessed again.
    pub fn set_access_tracking(&mut self, tracking: AccessTracking) {
        self.tracking = tracking;
    }

    /// The access record a key created at `now` (Unix ms) starts with.
    fn new_access(&self, now: i64) -> u32 {
        match self.tracking {
            AccessTracking::Lru => lru_clock(now),
            AccessTracking::Lfu { .. } => (lfu_minutes(now) << 8) | LFU_INIT_VAL,
        }
    }

    /// The entry at `key`, with an access at `now` recorded (Redis's `lookupKey` touching
    /// `lru`): one hash lookup for both.
    fn touch_entry(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let random = self.lfu_random();
        let tracking = self.tracking;
        let entry = self.dict.get_mut(key)?;
        Some(touch(entry, tracking, random, now))
    }

    /// The random number an LFU access draws (0 under LRU, which draws none).
    fn lfu_random(&mut self) -> f64 {
        match self.tracking {
            AccessTracking::Lfu { .. } => self.next_random(),
            AccessTracking::Lru => 0.0,
        }
    }

    /// A uniform number in [0, 1) from a xorshift generator (LFU increments only).
    fn next_random(&mut self) -> f64 {
        let mut x = self.lfu_seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.lfu_seed = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Seconds since `key` was last accessed (OBJECT IDLETIME; the LRU policies' score).
    /// Meaningful while tracking is LRU.
    pub fn idle_seconds(&self, key: &[u8], now: i64) -> Option<u64> {
        let entry = self.dict.get(key)?;
        Some(u64::from(lru_clock(now).saturating_sub(entry.access)))
    }

    /// The key's access counter after decay (OBJECT FREQ; the LFU policies' score).
    /// Meaningful while tracking is LFU.
    pub fn frequency(&self, key: &[u8], now: i64) -> Option<u32> {
        let entry = self.dict.get(key)?;
        let decay = match self.tracking {
            AccessTracking::Lfu { decay_minutes, .. } => decay_minutes,
            AccessTracking::Lru => 0,
        };
        Some(lfu_decayed(entry.access, now, decay))
    }

    /// Sets what lazy expiry does (a replica hides, a master deletes).
    pub fn set_expiry_mode(&mut self, mode: ExpiryMode) {
        self.mode = mode;
    }

    /// Number of keys, including logically expired ones not yet removed (as DBSIZE counts).
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Number of keys with an expiry time.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// True if `key` is logically expired at `now`.
    fn is_expired(&self, key: &[u8], now: i64) -> bool {
        !self.expires.is_empty() && matches!(self.expires.get(key), Some(&at) if at <= now)
    }

    /// Lazy expiry: returns true if `key` must be treated as missing. In `Delete` mode the key is
    /// removed and remembered for [`Db::take_expired`].
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        if !self.is_expired(key, now) {
            return false;
        }
        if self.mode == ExpiryMode::Delete {
            if let Some(entry) = self.dict.remove(key) {
                self.expires.swap_remove(key);
                if let Some(index) = self.slots.as_mut() {
                    index.remove(key);
                }
                self.expired.push(entry.key.into());
            }
        }
        true
    }

    /// Starts loading what a lookup of `key` will read first (see [`KeyTable::prefetch`]).
    pub fn prefetch(&self, key: &[u8]) {
        self.dict.prefetch(key);
    }

    /// The value at `key`, honouring expiry.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        self.touch_entry(key, now).map(|e| &e.value)
    }

    /// Mutable access to the value at `key`, honouring expiry.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        self.touch_entry(key, now).map(|e| &mut e.value)
    }

    /// True if `key` exists (and is not expired).
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(key, now) && self.dict.get(key).is_some()
    }

    /// Reads without expiring anything: for snapshots and introspection that must not change
    /// the dataset.
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.dict.get(key).map(|e| &e.value)
    }

    /// Makes room for `keys` keys in an empty database before loading them (an RDB file's
    /// `RESIZEDB` hint), so the table does not grow step by step while it loads.
    pub fn reserve(&mut self, keys: usize) {
        self.dict.reserve(keys);
    }

    /// Adds a key read from an RDB file, accessed at `now` (Unix ms), with one hash lookup
    /// (Redis's `dbAddRDBLoad`). Returns the value back if the key is already there.
    pub fn add_loaded(&mut self, key: &[u8], value: Value, now: i64) -> Result<(), Value> {
        let access = self.new_access(now);
        let hash = self.dict.hash(key);
        let mut value = Some(value);
        let (_, added) = self.dict.find_or_insert(hash, key, || Entry {
            key: Str::new(key),
            value: value.take().expect("taken once"),
            access,
        });
        if !added {
            return Err(value.expect("not taken"));
        }
        if self.track_new {
            self.new_keys.push(Bytes::copy_from_slice(key));
        }
        if let Some(index) = self.slots.as_mut() {
            index.add(key);
        }
        Ok(())
    }

    /// Sets `key` to `value` and clears any expiry time (Redis's `setKey`).
    pub fn set(&mut self, key: Bytes, value: Value) {
        self.set_at(key, value, crate::store::clock_ms());
    }

    /// [`Db::set`] by a command running at `now` (Unix ms): its access is recorded at that
    /// time, with no clock read. A borrowed key is copied only if the key is new.
    pub fn set_at(&mut self, key: impl KeyArg, value: Value, now: i64) {
        if !self.expires.is_empty() {
            self.expires.swap_remove(key.as_slice());
        }
        self.set_keep_ttl_at(key, value, now);
    }

    /// Sets `key` to `value`, keeping its expiry time if it has one (`SET ... KEEPTTL`).
    /// A new value counts as a fresh access; under LFU an overwritten key keeps its counter,
    /// as in Redis's `dbOverwrite`.
    pub fn set_keep_ttl(&mut self, key: Bytes, value: Value) {
        self.set_keep_ttl_at(key, value, crate::store::clock_ms());
    }

    /// [`Db::set_keep_ttl`] by a command running at `now` (Unix ms).
    pub fn set_keep_ttl_at(&mut self, key: impl KeyArg, value: Value, now: i64) {
        let fresh = self.new_access(now);
        let hash = self.dict.hash(key.as_slice());
        match self.dict.get_mut_hashed(hash, key.as_slice()) {
            Some(entry) => {
                entry.value = value;
                if self.tracking == AccessTracking::Lru {
                    entry.access = fresh;
                }
            }
            None => {
                let key = key.as_slice();
                if self.track_new {
                    self.new_keys.push(Bytes::copy_from_slice(key));
                }
                if let Some(index) = self.slots.as_mut() {
                    index.add(key);
                }
                self.dict.insert_new(
                    hash,
                    Entry {
                        key: Str::new(key),
                        value,
                        access: fresh,
                    },
                );
            }
        }
    }

    /// Starts or stops recording the keys this db creates (for the `new` keyspace event).
    pub fn track_new_keys(&mut self, on: bool) {
        self.track_new = on;
        if !on {
            self.new_keys.clear();
        }
    }

    /// The keys created since the last call.
    pub fn take_new_keys(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.new_keys)
    }

    /// Removes `key` and its expiry time. Returns the old value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let entry = self.dict.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        if let Some(index) = self.slots.as_mut() {
            index.remove(key);
        }
        Some(entry.value)
    }

    /// The keys of each cluster slot, indexed on first use (one scan) and kept up to date by
    /// every insert and removal afterwards.
    pub fn slot_index(&mut self) -> &super::slots::SlotIndex {
        if self.slots.is_none() {
            self.slots = Some(Box::new(super::slots::SlotIndex::new(
                self.dict.iter().map(|e| e.key.as_slice()),
            )));
        }
        self.slots.as_deref().expect("built above")
    }

    /// Removes `key` if it holds an empty collection (Redis never keeps empty collections).
    /// Returns true if it was removed.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        if matches!(self.dict.get(key), Some(e) if e.value.is_empty_collection()) {
            self.remove(key);
            true
        } else {
            false
        }
    }

    /// The absolute expiry time of `key` in Unix ms, if any.
    pub fn expire_time(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// Sets the absolute expiry time of an existing key. Returns false if the key is missing.
    pub fn set_expire_time(&mut self, key: &[u8], at_ms: i64) -> bool {
        match self.dict.get(key) {
            Some(entry) => {
                let k = entry.key.clone();
                self.expires.insert(k, at_ms);
                true
            }
            None => false,
        }
    }

    /// Removes the expiry time of `key`. Returns true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.swap_remove(key).is_some()
    }

    /// Removes every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.dict.len();
        self.dict.clear();
        self.expires = IndexMap::new();
        if self.slots.is_some() {
            self.slots = Some(Box::new(super::slots::SlotIndex::new(std::iter::empty())));
        }
        n
    }

    /// Iterates keys and values without expiring anything (snapshots, KEYS filters by expiry
    /// itself).
    pub fn iter(&self) -> impl Iterator<Item = (&Str, &Value)> + '_ {
        self.dict.iter().map(|e| (&e.key, &e.value))
    }

    /// Iterates keys with their expiry time, without expiring anything.
    pub fn iter_with_expiry(&self) -> impl Iterator<Item = (&Str, &Value, Option<i64>)> + '_ {
        self.dict.iter().map(|e| {
            let expiry = if self.expires.is_empty() {
                None
            } else {
                self.expires.get(&e.key).copied()
            };
            (&e.key, &e.value, expiry)
        })
    }

    /// A random key, without expiring anything (eviction's samples).
    pub fn sample_key(&self, rng: &mut impl Rng) -> Option<&Str> {
        self.dict.random(rng).map(|e| &e.key)
    }

    /// One SCAN step over the keys (see [`KeyTable::scan`]): visits at least `count` keys
    /// unless the dict ends, and returns the next cursor (0 once done). Expires nothing.
    pub fn scan_keys(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Str)) -> u64 {
        self.dict.scan(cursor, count, |e| visit(&e.key))
    }

    /// A uniformly random key that is not expired, or None (RANDOMKEY: Redis's `dbRandomKey`
    /// draws with `dictGetFairRandomKey` too). Tries a bounded number of samples before giving
    /// up on a dict full of expired keys.
    pub fn random_key(&mut self, now: i64, rng: &mut impl Rng) -> Option<Bytes> {
        for _ in 0..100 {
            let key = self.dict.random_fair(rng)?.key.to_bytes();
            if !self.expire_if_needed(&key, now) {
                return Some(key);
            }
        }
        None
    }

    /// One round of active expiry (Redis's `activeExpireCycle`): samples up to `samples` keys
    /// with an expiry time and deletes the expired ones. Returns (sampled, expired) so the
    /// caller can repeat while more than a quarter of the sample was expired.
    pub fn active_expire_round(
        &mut self,
        now: i64,
        samples: usize,
        rng: &mut impl Rng,
    ) -> (usize, usize) {
        if self.mode != ExpiryMode::Delete {
            return (0, 0);
        }
        let mut sampled = 0;
        let mut expired = 0;
        while sampled < samples && !self.expires.is_empty() {
            sampled += 1;
            let index = rng.gen_range(0..self.expires.len());
            let (key, &at) = self
                .expires
                .get_index(index)
                .expect("index drawn below len");
            if at <= now {
                let key = key.clone();
                self.expire_if_needed(&key, now);
                expired += 1;
            }
        }
        (sampled, expired)
    }

    /// Keys removed by expiry since the last call, in the order they were removed.
    pub fn take_expired(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.expired)
    }

    /// True if expiry removed keys that have not been collected yet.
    pub fn has_expired(&self) -> bool {
        !self.expired.is_empty()
    }

    /// The key at expires position `index` and its expiry time (eviction's volatile sample).
    pub fn volatile_at(&self, index: usize) -> Option<(&Str, i64)> {
        self.expires.get_index(index).map(|(k, &at)| (k, at))
    }

    typed_access!(List, List, get_list, get_list_mut, list_or_create);
    typed_access!(Hash, Hash, get_hash, get_hash_mut, hash_or_create);
    typed_access!(Set, Set, get_set, get_set_mut, set_or_create);
    typed_access!(ZSet, ZSet, get_zset, get_zset_mut, zset_or_create);

    /// The string at `key`; `Err(WrongType)` if it holds another type.
    pub fn get_string(&mut self, key: &[u8], now: i64) -> Result<Option<&Str>, WrongType> {
        match self.get(key, now) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }
}

/// Records an access at `now` in `entry` (`random` drives LFU's probabilistic increment).
fn touch(entry: &mut Entry, tracking: AccessTracking, random: f64, now: i64) -> &mut Entry {
    entry.access = match tracking {
        AccessTracking::Lru => lru_clock(now),
        AccessTracking::Lfu {
            log_factor,
            decay_minutes,
        } => {
            let counter = lfu_decayed(entry.access, now, decay_minutes);
            let counter = lfu_log_incr(counter, log_factor, random);
            (lfu_minutes(now) << 8) | counter
        }
    };
    entry
}

/// Redis's LRU clock: Unix seconds (Redis keeps 24 bits of it; 32 do not wrap for a century).
fn lru_clock(now_ms: i64) -> u32 {
    (now_ms.max(0) / 1000) as u32
}

/// The 16-bit minutes clock of LFU's last-decrement time.
fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 60_000) & 0xffff) as u32
}

/// The counter of an LFU record after one decrement per `decay_minutes` elapsed
/// (Redis's `LFUDecrAndReturn`; the 16-bit minutes clock wraps).
fn lfu_decayed(access: u32, now_ms: i64, decay_minutes: u32) -> u32 {
    let last = (access >> 8) & 0xffff;
    let counter = access & 0xff;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        65535 - last + now
    };
    let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment (Redis's `LFULogIncr`): the higher the counter, the less likely
/// an access raises it; 255 is the ceiling.
fn lfu_log_incr(counter: u32, log_factor: u32, random: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if random < p {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn an_entry_with_its_bucket_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 56);
    }

    #[test]
    fn random_key_draws_every_key_equally_often() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut db = Db::new();
        for i in 0..30_000 {
            db.set(b(&format!("k{i}")), Value::String(b("v").into()));
        }
        // 20 keys left, spread unevenly over shrunken segments: a pick that starts from a
        // random hash position and probes forwards favours some of them several times over.
        for i in (0..30_000).filter(|i| i % 1500 != 0) {
            db.remove(format!("k{i}").as_bytes());
        }
        let mut counts = std::collections::HashMap::new();
        for _ in 0..100_000 {
            *counts
                .entry(db.random_key(0, &mut rng).unwrap())
                .or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 20);
        // 5,000 expected each; a standard deviation is about 70.
        for (key, n) in counts {
            assert!((4_600..5_400).contains(&n), "{key:?} drawn {n} times");
        }
    }

    #[test]
    fn lazy_expiry_deletes_on_master_and_records_the_key() {
        let mut db = Db::new();
        db.set(b("k"), Value::String(b("v").into()));
        assert!(db.set_expire_time(b"k", 100));
        assert!(db.get(b"k", 99).is_some());
        assert!(db.get(b"k", 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.take_expired(), vec![b("k")]);
    }

    #[test]
    fn lazy_expiry_on_replica_hides_but_keeps_the_key() {
        let mut db = Db::new();
        db.set_expiry_mode(ExpiryMode::HideOnly);
        db.set(b("k"), Value::String(b("v").into()));
        db.set_expire_time(b"k", 100);
        assert!(db.get(b"k", 200).is_none());
        assert_eq!(db.len(), 1);
        assert!(db.take_expired().is_empty());
    }

    #[test]
    fn set_clears_ttl_and_keep_ttl_keeps_it() {
        let mut db = Db::new();
        db.set(b("k"), Value::String(b("v").into()));
        db.set_expire_time(b"k", 1000);
        db.set_keep_ttl(b("k"), Value::String(b("w").into()));
        assert_eq!(db.expire_time(b"k"), Some(1000));
        db.set(b("k"), Value::String(b("x").into()));
        assert_eq!(db.expire_time(b"k"), None);
    }

    #[test]
    fn typed_access_reports_wrong_type() {
        let mut db = Db::new();
        db.set(b("s"), Value::String(b("v").into()));
        assert_eq!(db.get_list(b"s", 0), Err(WrongType));
        db.list_or_create(b"l", 0)
            .unwrap()
            .push_back(Str::from("x"));
        assert_eq!(db.get_list(b"l", 0).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn lru_records_the_last_access_and_lfu_counts_logarithmically() {
        let mut db = Db::new();
        db.set(b("k"), Value::String(b("v").into()));
        let now = crate::store::clock_ms();
        db.get(b"k", now);
        assert_eq!(db.idle_seconds(b"k", now + 5_000), Some(5));
        db.set_access_tracking(AccessTracking::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        });
        db.set(b("f"), Value::String(b("v").into()));
        assert_eq!(db.frequency(b"f", now), Some(LFU_INIT_VAL));
        for _ in 0..1000 {
            db.get(b"f", now);
        }
        let hot = db.frequency(b"f", now).unwrap();
        assert!(hot > 10 && hot < 255, "{hot}");
        // One decrement per elapsed decay period.
        assert_eq!(db.frequency(b"f", now + 3 * 60_000), Some(hot - 3));
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
    }

    #[test]
    fn active_expiry_removes_expired_keys() {
        let mut db = Db::new();
        for i in 0..50 {
            let k = b(&format!("k{i}"));
            db.set(k.clone(), Value::String(b("v").into()));
            db.set_expire_time(&k, 10);
        }
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            db.active_expire_round(20, 20, &mut rng);
        }
        assert_eq!(db.len(), 0);
        assert_eq!(db.take_expired().len(), 50);
    }
}
