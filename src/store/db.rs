//! One database (`SELECT n`): the key → value dict, the key → expiry-time dict, lazy expiry and
//! the active expiry sampler.
//!
//! Both dicts are `IndexMap`s so that a random key (RANDOMKEY, the active expiry sampler) and a
//! stable SCAN cursor cost O(1). Removal uses `swap_remove`, which only ever moves an entry from
//! the end to a lower index; SCAN walks indices downwards, so every key present for a whole scan
//! is returned at least once, as Redis guarantees.

use bytes::Bytes;
use indexmap::IndexMap;
use rand::Rng;

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

/// A value, when it was last accessed (Unix seconds), and its access-frequency counter.
#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    accessed: u32,
    /// Logarithmic access counter (Redis's LFU counter), kept under an LFU maxmemory-policy.
    freq: u8,
}

/// The counter a new key starts with (Redis's `LFU_INIT_VAL`), so it is not the first evicted.
const LFU_INIT: u8 = 5;

/// LFU parameters (`lfu-log-factor`, `lfu-decay-time` in minutes), while a `*-lfu`
/// maxmemory-policy is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lfu {
    pub log_factor: u32,
    pub decay_minutes: u32,
}

impl Lfu {
    /// The counter after the decay of the minutes since `accessed`.
    fn decayed(self, freq: u8, accessed: u32, now_s: u32) -> u8 {
        if self.decay_minutes == 0 {
            return freq;
        }
        let periods = (now_s.saturating_sub(accessed) / 60) / self.decay_minutes;
        freq.saturating_sub(periods.min(255) as u8)
    }

    /// One access: decay, then a logarithmic increment (more unlikely the higher the counter).
    fn touched(self, freq: u8, accessed: u32, now_s: u32, random: f64) -> u8 {
        let freq = self.decayed(freq, accessed, now_s);
        if freq == 255 {
            return freq;
        }
        let base = freq.saturating_sub(LFU_INIT) as f64;
        let p = 1.0 / (base * self.log_factor as f64 + 1.0);
        if random < p {
            freq + 1
        } else {
            freq
        }
    }
}

/// A database. Expiry times are absolute Unix times in milliseconds.
#[derive(Debug)]
pub struct Db {
    dict: IndexMap<Bytes, Entry>,
    /// Unix seconds of the latest access through an expiring lookup: the time new and read
    /// entries are stamped with (Redis's LRU clock, for OBJECT IDLETIME).
    clock: u32,
    lfu: Option<Lfu>,
    /// xorshift state for the LFU increments.
    random: u64,
    expires: IndexMap<Bytes, i64>,
    mode: ExpiryMode,
    /// Keys deleted by lazy or active expiry since the last `take_expired`.
    expired: Vec<Bytes>,
    /// Keys added since the last `take_new_keys`, recorded only while `track_new` is on (the
    /// `new` keyspace event).
    new_keys: Vec<Bytes>,
    track_new: bool,
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

        /// The value at `key`, created empty if the key does not exist.
        pub fn $get_or_create(&mut self, key: &[u8], now: i64) -> Result<&mut $ty, WrongType> {
            if !self.contains(key, now) {
                if self.track_new {
                    self.new_keys.push(Bytes::copy_from_slice(key));
                }
                let entry = Entry {
                    value: Value::$variant(Default::default()),
                    accessed: self.clock,
                    freq: LFU_INIT,
                };
                self.dict.insert(Bytes::copy_from_slice(key), entry);
            }
            match self.dict.get_mut(key).map(|e| &mut e.value) {
                Some(Value::$variant(v)) => Ok(v),
                _ => Err(WrongType),
            }
        }
    };
}

impl Db {
    pub fn new() -> Db {
        Db {
            dict: IndexMap::new(),
            // Keys loaded before any command (RDB, AOF) count as accessed at creation.
            clock: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs().min(u32::MAX as u64) as u32),
            lfu: None,
            random: 0x9E37_79B9_7F4A_7C15,
            expires: IndexMap::new(),
            mode: ExpiryMode::Delete,
            expired: Vec::new(),
            new_keys: Vec::new(),
            track_new: false,
        }
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
        self.set_clock(now);
        if !self.is_expired(key, now) {
            return false;
        }
        if self.mode == ExpiryMode::Delete {
            if let Some((k, _)) = self.dict.swap_remove_entry(key) {
                self.expires.swap_remove(key);
                self.expired.push(k);
            }
        }
        true
    }

    /// The value at `key`, honouring expiry.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.get_mut(key, now).map(|v| &*v)
    }

    /// Mutable access to the value at `key`, honouring expiry.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        let clock = self.clock;
        let random = match self.lfu {
            Some(_) => self.next_random(),
            None => 0.0,
        };
        let lfu = self.lfu;
        self.dict.get_mut(key).map(|entry| {
            if let Some(lfu) = lfu {
                entry.freq = lfu.touched(entry.freq, entry.accessed, clock, random);
            }
            entry.accessed = clock;
            &mut entry.value
        })
    }

    /// A uniform number in [0, 1) (xorshift64*), for LFU increments.
    fn next_random(&mut self) -> f64 {
        let mut x = self.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Starts (Some) or stops keeping access-frequency counters (a `*-lfu` maxmemory-policy).
    pub fn set_lfu(&mut self, lfu: Option<Lfu>) {
        self.lfu = lfu;
    }

    /// The access-frequency counter of `key` (OBJECT FREQ), decayed to now, without touching
    /// it. None if the key is missing or expired.
    pub fn frequency(&mut self, key: &[u8], now: i64) -> Option<u8> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        let entry = self.dict.get(key)?;
        let lfu = self.lfu.unwrap_or(Lfu {
            log_factor: 10,
            decay_minutes: 1,
        });
        Some(lfu.decayed(entry.freq, entry.accessed, self.clock))
    }

    /// Sets the time (Unix ms) that entries written or read from now on are stamped with.
    pub fn set_clock(&mut self, now: i64) {
        self.clock = (now / 1000).clamp(0, u32::MAX as i64) as u32;
    }

    /// Seconds since `key` was last accessed (OBJECT IDLETIME), without touching it. None if
    /// the key is missing or expired.
    pub fn idle_seconds(&mut self, key: &[u8], now: i64) -> Option<i64> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        let accessed = self.dict.get(key)?.accessed as i64;
        Some((now / 1000 - accessed).max(0))
    }

    /// True if `key` exists (and is not expired).
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(key, now) && self.dict.contains_key(key)
    }

    /// Reads without expiring anything: for snapshots and introspection that must not change
    /// the dataset.
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.dict.get(key).map(|e| &e.value)
    }

    /// Sets `key` to `value` and clears any expiry time (Redis's `setKey`).
    pub fn set(&mut self, key: Bytes, value: Value) {
        if !self.expires.is_empty() {
            self.expires.swap_remove(&key[..]);
        }
        self.insert(key, value);
    }

    fn insert(&mut self, key: Bytes, value: Value) {
        if self.track_new && !self.dict.contains_key(&key[..]) {
            self.new_keys.push(key.clone());
        }
        let accessed = self.clock;
        let entry = Entry {
            value,
            accessed,
            freq: LFU_INIT,
        };
        self.dict.insert(key, entry);
    }

    /// Starts or stops recording added keys for [`Db::take_new_keys`].
    pub fn track_new_keys(&mut self, on: bool) {
        self.track_new = on;
        self.new_keys.clear();
    }

    /// Keys added since the last call (empty unless tracking is on).
    pub fn take_new_keys(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.new_keys)
    }

    /// Sets `key` to `value`, keeping its expiry time if it has one (`SET ... KEEPTTL`).
    pub fn set_keep_ttl(&mut self, key: Bytes, value: Value) {
        self.insert(key, value);
    }

    /// Removes `key` and its expiry time. Returns the old value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let entry = self.dict.swap_remove(key)?;
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        Some(entry.value)
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
        match self.dict.get_key_value(key) {
            Some((k, _)) => {
                let k = k.clone();
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
        self.dict = IndexMap::new();
        self.expires = IndexMap::new();
        n
    }

    /// Iterates keys and values without expiring anything (snapshots, KEYS filters by expiry
    /// itself).
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Value)> + '_ {
        self.dict.iter().map(|(k, e)| (k, &e.value))
    }

    /// Iterates keys with their expiry time, without expiring anything.
    pub fn iter_with_expiry(&self) -> impl Iterator<Item = (&Bytes, &Value, Option<i64>)> + '_ {
        self.dict
            .iter()
            .map(|(k, e)| (k, &e.value, self.expires.get(k).copied()))
    }

    /// The key at dict position `index` (SCAN and RANDOMKEY), without expiring anything.
    pub fn key_at(&self, index: usize) -> Option<&Bytes> {
        self.dict.get_index(index).map(|(k, _)| k)
    }

    /// A uniformly random key that is not expired, or None. Tries a bounded number of samples
    /// (like Redis's `dbRandomKey`) before giving up on a dict full of expired keys.
    pub fn random_key(&mut self, now: i64, rng: &mut impl Rng) -> Option<Bytes> {
        for _ in 0..100 {
            if self.dict.is_empty() {
                return None;
            }
            let index = rng.gen_range(0..self.dict.len());
            let key = self.dict.get_index(index)?.0.clone();
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

    typed_access!(List, List, get_list, get_list_mut, list_or_create);
    typed_access!(Hash, Hash, get_hash, get_hash_mut, hash_or_create);
    typed_access!(Set, Set, get_set, get_set_mut, set_or_create);
    typed_access!(ZSet, ZSet, get_zset, get_zset_mut, zset_or_create);

    /// The string at `key`; `Err(WrongType)` if it holds another type.
    pub fn get_string(&mut self, key: &[u8], now: i64) -> Result<Option<&Bytes>, WrongType> {
        match self.get(key, now) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WrongType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn lazy_expiry_deletes_on_master_and_records_the_key() {
        let mut db = Db::new();
        db.set(b("k"), Value::String(b("v")));
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
        db.set(b("k"), Value::String(b("v")));
        db.set_expire_time(b"k", 100);
        assert!(db.get(b"k", 200).is_none());
        assert_eq!(db.len(), 1);
        assert!(db.take_expired().is_empty());
    }

    #[test]
    fn set_clears_ttl_and_keep_ttl_keeps_it() {
        let mut db = Db::new();
        db.set(b("k"), Value::String(b("v")));
        db.set_expire_time(b"k", 1000);
        db.set_keep_ttl(b("k"), Value::String(b("w")));
        assert_eq!(db.expire_time(b"k"), Some(1000));
        db.set(b("k"), Value::String(b("x")));
        assert_eq!(db.expire_time(b"k"), None);
    }

    #[test]
    fn typed_access_reports_wrong_type() {
        let mut db = Db::new();
        db.set(b("s"), Value::String(b("v")));
        assert_eq!(db.get_list(b"s", 0), Err(WrongType));
        db.list_or_create(b"l", 0).unwrap().push_back(b("x"));
        assert_eq!(db.get_list(b"l", 0).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn active_expiry_removes_expired_keys() {
        let mut db = Db::new();
        for i in 0..50 {
            let k = b(&format!("k{i}"));
            db.set(k.clone(), Value::String(b("v")));
            db.set_expire_time(&k, 10);
        }
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            db.active_expire_round(20, 20, &mut rng);
        }
        assert_eq!(db.len(), 0);
        assert_eq!(db.take_expired().len(), 50);
    }

    #[test]
    fn idle_time_counts_from_the_last_access() {
        let mut db = Db::new();
        db.get(b"none", 1_000_000);
        db.set(Bytes::from("k"), Value::String(Bytes::from("v")));
        assert_eq!(db.idle_seconds(b"k", 1_010_000), Some(10));
        assert_eq!(
            db.idle_seconds(b"k", 1_020_000),
            Some(20),
            "asking is not an access"
        );
        db.get(b"k", 1_030_000);
        assert_eq!(db.idle_seconds(b"k", 1_031_000), Some(1));
        assert_eq!(db.idle_seconds(b"none", 1_031_000), None);
    }

    #[test]
    fn lfu_counters_grow_logarithmically_and_decay() {
        let mut db = Db::new();
        db.set_lfu(Some(Lfu {
            log_factor: 10,
            decay_minutes: 1,
        }));
        db.get(b"none", 1_000_000);
        db.set(Bytes::from("k"), Value::String(Bytes::from("v")));
        assert_eq!(db.frequency(b"k", 1_000_000), Some(LFU_INIT));
        db.get(b"k", 1_000_000);
        assert_eq!(
            db.frequency(b"k", 1_000_000),
            Some(LFU_INIT + 1),
            "at the start, certain"
        );
        for _ in 0..1000 {
            db.get(b"k", 1_000_000);
        }
        let hot = db.frequency(b"k", 1_000_000).unwrap();
        assert!(
            hot > LFU_INIT + 1 && hot < 40,
            "{hot}: logarithmic, not linear"
        );
        assert_eq!(db.frequency(b"k", 1_000_000 + 3 * 60_000), Some(hot - 3));
    }
}
