//! `maxmemory`: evicting keys by `maxmemory-policy` before a command runs, and refusing
//! commands that would grow memory when nothing can be evicted.
//!
//! Follows Redis's `evict.c`. Before every command (`processCommand`), while used memory is
//! above `maxmemory`, one key is chosen and deleted:
//!
//! - `*-lru`, `*-lfu` and `volatile-ttl` sample `maxmemory-samples` keys per database (all
//!   keys, or only those with an expiry time) into a pool of the best 16 candidates kept
//!   between calls, and evict the best one still present: the longest idle, the least
//!   frequently used, or the nearest to expire. This is Redis's approximation, not an exact
//!   LRU.
//! - `*-random` evicts a random key, visiting the databases in turn.
//! - `noeviction`, or no candidate left: the command is refused with `-OOM` if it may grow
//!   memory (`DENYOOM`, and every command queued inside MULTI except EXEC/DISCARD).
//!
//! Each eviction is propagated as a `DEL` (AOF and replicas), counted in `evicted_keys`, and
//! wakes WATCHers. A replica does not evict (`replica-ignore-maxmemory yes`): it follows its
//! master's deletions. Memory is the live heap counted by [`super::memory`].

use bytes::Bytes;
use rand::Rng;

use crate::config::MaxmemoryPolicy;
use crate::store::{AccessTracking, Str};

use super::engine::Engine;

/// Candidates kept between evictions (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;
/// Keys evicted per command at most; a safety bound on one call, far above what any
/// realistic write needs (Redis bounds the time instead, and resumes in a timer).
const MAX_EVICTIONS_PER_CALL: usize = 100_000;

/// The settings eviction reads, copied from the config when it changes
/// ([`super::command_config`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub maxmemory: u64,
    pub policy: MaxmemoryPolicy,
    pub samples: usize,
    pub tracking: AccessTracking,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Limits {
        let tracking = if config.maxmemory_policy.is_lfu() {
            AccessTracking::Lfu {
                log_factor: config.lfu_log_factor.min(u32::MAX as u64) as u32,
                decay_minutes: config.lfu_decay_time.min(u32::MAX as u64) as u32,
            }
        } else {
            AccessTracking::Lru
        };
        Limits {
            maxmemory: config.maxmemory,
            policy: config.maxmemory_policy,
            samples: config.maxmemory_samples.clamp(1, 64) as usize,
            tracking,
        }
    }
}

/// One sampled key and its eviction score: higher is evicted first.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: Bytes,
}

/// The eviction pool, kept in the engine between commands (`EvictionPoolLRU`).
#[derive(Debug, Default)]
pub struct Pool {
    candidates: Vec<Candidate>,
    /// Where `*-random` starts next (Redis's static `next_db`).
    next_db: usize,
}

impl Pool {
    /// Inserts a sample, keeping the best `POOL_SIZE` ordered by ascending score.
    fn offer(&mut self, candidate: Candidate) {
        if self
            .candidates
            .iter()
            .any(|c| c.db == candidate.db && c.key == candidate.key)
        {
            return;
        }
        if self.candidates.len() == POOL_SIZE && candidate.score <= self.candidates[0].score {
            return;
        }
        let at = self
            .candidates
            .partition_point(|c| c.score < candidate.score);
        self.candidates.insert(at, candidate);
        if self.candidates.len() > POOL_SIZE {
            self.candidates.remove(0);
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl OutOfMemory {
    /// Redis's `shared.oomerr`.
    pub const TEXT: &'static str = "OOM command not allowed when used memory > 'maxmemory'.";
}

/// Brings memory under `maxmemory` before a command (`performEvictions`), using the live
/// heap as used memory. A replica with `replica-ignore-maxmemory yes` leaves it to its master.
/// `Err` when memory is still above the limit.
pub fn make_room(engine: &mut Engine) -> Result<(), OutOfMemory> {
    let settings = engine.command_config;
    let limits = settings.limits;
    if limits.maxmemory == 0 || (settings.replica_ignore_maxmemory && engine.repl.is_replica()) {
        return Ok(());
    }
    // A client pause keeps the dataset static: nothing is evicted, nothing refused
    // (`isSafeToPerformEvictions`).
    if engine.clients_paused(crate::server::unix_ms()) {
        return Ok(());
    }
    evict(engine, &limits, crate::server::unix_ms(), |_| {
        super::memory::used_memory() as u64
    })
    .map(|_| ())
    .map_err(|_| OutOfMemory)
}

/// Evicts until `used(engine)` is at most `limits.maxmemory` or nothing more can be evicted.
/// Returns how many keys were evicted, or `Err` (with that many evicted) when memory is
/// still above the limit. `now` is Unix ms. Evictions are recorded as DELs to propagate.
pub fn evict(
    engine: &mut Engine,
    limits: &Limits,
    now: i64,
    mut used: impl FnMut(&Engine) -> u64,
) -> Result<usize, usize> {
    for db in &mut engine.dbs {
        db.set_access_tracking(limits.tracking);
    }
    if limits.maxmemory == 0 {
        return Ok(0);
    }
    let mut evicted = 0;
    while used(engine) > limits.maxmemory {
        if limits.policy == MaxmemoryPolicy::NoEviction || evicted >= MAX_EVICTIONS_PER_CALL {
            return Err(evicted);
        }
        let Some((db, key)) = pick(engine, limits, now) else {
            return Err(evicted);
        };
        engine.dbs[db].remove(&key);
        engine.stats.evicted_keys += 1;
        engine.dirty += 1;
        engine.touch(db, &key);
        engine.propagate(db, vec![Bytes::from_static(b"DEL"), key]);
        evicted += 1;
    }
    Ok(evicted)
}

/// The next key to evict under `limits.policy`, if any candidate exists.
fn pick(engine: &mut Engine, limits: &Limits, now: i64) -> Option<(usize, Bytes)> {
    let volatile = limits.policy.volatile_only();
    if matches!(
        limits.policy,
        MaxmemoryPolicy::AllkeysRandom | MaxmemoryPolicy::VolatileRandom
    ) {
        let dbs = engine.dbs.len();
        for i in 0..dbs {
            let db = (engine.eviction.next_db + i) % dbs;
            let len = if volatile {
                engine.dbs[db].expires_len()
            } else {
                engine.dbs[db].len()
            };
            if len == 0 {
                continue;
            }
            let key = if volatile {
                let index = engine.rng.gen_range(0..len);
                engine.dbs[db].volatile_at(index).map(|(k, _)| k.to_bytes())
            } else {
                engine.dbs[db]
                    .sample_key(&mut engine.rng)
                    .map(Str::to_bytes)
            };
            if let Some(key) = key {
                engine.eviction.next_db = db + 1;
                return Some((db, key));
            }
        }
        return None;
    }
    // A bounded number of refills: a pool whose candidates were all deleted meanwhile is
    // refilled, and an empty keyspace gives up at once.
    for _ in 0..4 {
        populate(engine, limits, now);
        while let Some(best) = engine.eviction.candidates.pop() {
            if engine.dbs[best.db].peek(&best.key).is_some() {
                return Some((best.db, best.key));
            }
        }
        let any = engine.dbs.iter().any(|d| {
            if volatile {
                d.expires_len() > 0
            } else {
                !d.is_empty()
            }
        });
        if !any {
            return None;
        }
    }
    None
}

/// Samples `limits.samples` keys from every database into the pool
/// (`evictionPoolPopulate`).
fn populate(engine: &mut Engine, limits: &Limits, now: i64) {
    let volatile = limits.policy.volatile_only();
    for db in 0..engine.dbs.len() {
        let len = if volatile {
            engine.dbs[db].expires_len()
        } else {
            engine.dbs[db].len()
        };
        if len == 0 {
            continue;
        }
        for _ in 0..limits.samples.min(len) {
            let d = &engine.dbs[db];
            let (key, expire_at) = if volatile {
                let index = engine.rng.gen_range(0..len);
                match d.volatile_at(index) {
                    Some((k, at)) => (k.to_bytes(), Some(at)),
                    None => continue,
                }
            } else {
                match d.sample_key(&mut engine.rng) {
                    Some(k) => (k.to_bytes(), d.expire_time(k)),
                    None => continue,
                }
            };
            let score = match limits.policy {
                MaxmemoryPolicy::VolatileTtl => u64::MAX - expire_at.unwrap_or(0).max(0) as u64,
                p if p.is_lfu() => 255 - u64::from(d.frequency(&key, now).unwrap_or(0).min(255)),
                _ => d.idle_seconds(&key, now).unwrap_or(0),
            };
            engine.eviction.offer(Candidate { score, db, key });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn limits(policy: MaxmemoryPolicy) -> Limits {
        Limits {
            maxmemory: 1,
            policy,
            samples: 10,
            tracking: if policy.is_lfu() {
                AccessTracking::Lfu {
                    log_factor: 10,
                    decay_minutes: 1,
                }
            } else {
                AccessTracking::Lru
            },
        }
    }

    /// An engine with keys k0..k{n}; "memory" is the number of keys.
    fn engine_with(n: usize) -> Engine {
        let mut engine = Engine::new(2);
        engine.propagate = true;
        for i in 0..n {
            engine.dbs[i % 2].set(b(&format!("k{i}")), Value::String(b("v").into()));
        }
        engine
    }

    fn keys(engine: &Engine) -> u64 {
        engine.dbs.iter().map(|d| d.len() as u64).sum()
    }

    #[test]
    fn noeviction_refuses_and_evicts_nothing() {
        let mut engine = engine_with(10);
        let mut l = limits(MaxmemoryPolicy::NoEviction);
        l.maxmemory = 5;
        let count = keys(&engine);
        assert_eq!(count, 10);
        assert_eq!(evict(&mut engine, &l, 0, |_| count), Err(0));
        assert_eq!(keys(&engine), 10);
    }

    #[test]
    fn every_evicting_policy_brings_memory_under_the_limit_and_propagates_dels() {
        for policy in MaxmemoryPolicy::ALL {
            if policy == MaxmemoryPolicy::NoEviction {
                continue;
            }
            let mut engine = engine_with(100);
            if policy.volatile_only() {
                for i in 0..60 {
                    let key = format!("k{i}");
                    engine.dbs[i % 2].set_expire_time(key.as_bytes(), 1_000_000 + i as i64);
                }
            }
            let mut l = limits(policy);
            l.maxmemory = 50;
            let now = crate::store::clock_ms();
            let result = evict(&mut engine, &l, now, keys);
            assert_eq!(result, Ok(50), "{policy:?}");
            assert_eq!(engine.stats.evicted_keys, 50);
            assert_eq!(engine.propagated.len(), 50);
            assert!(engine.propagated.iter().all(|p| p.argv[0] == "DEL"));
        }
    }

    #[test]
    fn volatile_policies_fail_when_no_key_has_a_ttl() {
        let mut engine = engine_with(10);
        let mut l = limits(MaxmemoryPolicy::VolatileLru);
        l.maxmemory = 5;
        assert_eq!(evict(&mut engine, &l, 0, |_| 10), Err(0));
    }

    #[test]
    fn lru_evicts_the_idle_keys_before_the_recently_used_ones() {
        let mut engine = Engine::new(1);
        let now = crate::store::clock_ms();
        for i in 0..100 {
            engine.dbs[0].set(b(&format!("k{i}")), Value::String(b("v").into()));
        }
        // Half the keys are touched an hour later.
        let later = now + 3_600_000;
        for i in 0..50 {
            engine.dbs[0].get(format!("k{i}").as_bytes(), later);
        }
        let mut l = limits(MaxmemoryPolicy::AllkeysLru);
        l.maxmemory = 50;
        let result = evict(&mut engine, &l, later, keys);
        assert_eq!(result, Ok(50));
        let recent_left = (0..50)
            .filter(|i| engine.dbs[0].peek(format!("k{i}").as_bytes()).is_some())
            .count();
        // Sampling approximates LRU: nearly all the recently used keys survive.
        assert!(recent_left >= 40, "{recent_left}");
    }

    #[test]
    fn volatile_ttl_evicts_the_nearest_expiries_first() {
        let mut engine = Engine::new(1);
        for i in 0..100 {
            let key = b(&format!("k{i}"));
            engine.dbs[0].set(key.clone(), Value::String(b("v").into()));
            engine.dbs[0].set_expire_time(&key, 1_000_000 + i);
        }
        let mut l = limits(MaxmemoryPolicy::VolatileTtl);
        l.maxmemory = 50;
        let result = evict(&mut engine, &l, 0, keys);
        assert_eq!(result, Ok(50));
        // Sampling approximates: nearly all of the 25 nearest expiries are gone.
        let near_left = (0..25)
            .filter(|i| engine.dbs[0].peek(format!("k{i}").as_bytes()).is_some())
            .count();
        assert!(near_left <= 5, "{near_left}");
    }
}
