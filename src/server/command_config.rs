//! The configuration the command path reads on every command (`maxmemory` and its policy,
//! `stop-writes-on-bgsave-error`, the replica, `min-replicas` and cluster settings, the
//! thresholds of the compact encodings), kept in the engine
//! and refreshed only when the configuration changes.
//!
//! Reading it from [`Shared::config`] on every command took the config lock two or three times
//! per command and reset every database's access tracking each time. Instead,
//! [`Shared::config_mut`] bumps a generation counter, and [`refresh`] (called by the command
//! path before a command) copies the settings when the generation moved: one atomic load per
//! command otherwise.

use super::engine::Engine;
use super::eviction::Limits;
use super::Shared;
use crate::store::value::EncodingLimits;

/// The compact-encoding thresholds `config` sets (also what RDB loading and RESTORE apply).
pub fn encoding_limits(config: &crate::config::Config) -> EncodingLimits {
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    EncodingLimits {
        hash_max_listpack_entries: size(config.hash_max_listpack_entries),
        hash_max_listpack_value: size(config.hash_max_listpack_value),
        set_max_intset_entries: size(config.set_max_intset_entries),
        list_max_listpack_size: config.list_max_listpack_size,
        zset_max_listpack_entries: size(config.zset_max_listpack_entries),
        zset_max_listpack_value: size(config.zset_max_listpack_value),
    }
}

/// The settings the command path reads per command.
#[derive(Debug, Clone, Copy)]
pub struct CommandConfig {
    /// The config generation these were read at (`u64::MAX`: never read).
    generation: u64,
    /// `maxmemory`, its policy and how keys record accesses.
    pub limits: Limits,
    /// `replica-ignore-maxmemory`.
    pub replica_ignore_maxmemory: bool,
    /// `stop-writes-on-bgsave-error`, in effect only while save points are configured.
    pub stop_writes_on_bgsave_error: bool,
    /// `replica-read-only`.
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`.
    pub replica_serve_stale_data: bool,
    /// `min-replicas-to-write`.
    pub min_replicas_to_write: usize,
    /// `min-replicas-max-lag`, seconds.
    pub min_replicas_max_lag: i64,
    /// `cluster-allow-reads-when-down`.
    pub cluster_allow_reads_when_down: bool,
    /// `cluster-allow-pubsubshard-when-down`.
    pub cluster_allow_pubsubshard_when_down: bool,
    /// `hash-max-listpack-entries`, `hash-max-listpack-value`, `set-max-intset-entries`,
    /// `zset-max-listpack-entries`, `zset-max-listpack-value` and `list-max-listpack-size`.
    pub encodings: EncodingLimits,
}

impl CommandConfig {
    /// Settings read from `config` at `generation`.
    pub fn read(config: &crate::config::Config, generation: u64) -> CommandConfig {
        CommandConfig {
            generation,
            limits: Limits::from_config(config),
            replica_ignore_maxmemory: config.replica_ignore_maxmemory,
            stop_writes_on_bgsave_error: config.stop_writes_on_bgsave_error
                && !config.save.is_empty(),
            replica_read_only: config.replica_read_only,
            replica_serve_stale_data: config.replica_serve_stale_data,
            min_replicas_to_write: config.min_replicas_to_write as usize,
            min_replicas_max_lag: config.min_replicas_max_lag as i64,
            cluster_allow_reads_when_down: config.cluster_allow_reads_when_down,
            cluster_allow_pubsubshard_when_down: config.cluster_allow_pubsubshard_when_down,
            encodings: encoding_limits(config),
        }
    }
}

impl Default for CommandConfig {
    fn default() -> Self {
        let mut settings = CommandConfig::read(&crate::config::Config::default(), u64::MAX);
        settings.generation = u64::MAX;
        settings
    }
}

/// Brings the engine's copy up to date with the configuration, and every database's access
/// tracking (LRU or LFU) with the policy.
pub fn refresh(shared: &Shared, engine: &mut Engine) {
    let generation = shared.config_generation();
    if engine.command_config.generation == generation {
        return;
    }
    engine.command_config = CommandConfig::read(&shared.config(), generation);
    let tracking = engine.command_config.limits.tracking;
    for db in &mut engine.dbs {
        db.set_access_tracking(tracking);
    }
}
