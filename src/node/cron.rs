//! The periodic tick (`serverCron`): the runtime's timers and child reaping. The master side's
//! replication tick (PINGs, keep-alives, replica timeouts, delayed diskless syncs: see
//! `node::serve_replica`), reaping BGSAVE, diskless-sync and BGREWRITEAOF children, save
//! points, `appendfsync everysec`, automatic AOF rewrites, and active expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::AppendFsync;
use crate::persist::snapshot;
use crate::server::events::Event;
use crate::server::persistence::{bgsave, BGSAVE_RETRY_DELAY_SECS};
use crate::server::{unix_ms, Shared};

/// The periodic tick (`serverCron`): active expiry, `hz` times a second.
pub async fn run(shared: Arc<Shared>) {
    let hz = shared.config().hz.clamp(1, 500);
    let mut interval = tokio::time::interval(Duration::from_millis(1000 / hz as u64));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut idle = IdlePurge::default();
    loop {
        interval.tick().await;
        idle.tick(&shared);
        // A client's script holds the keyspace: the tick waits for it, without blocking the
        // thread the connections (and SCRIPT KILL) are served on.
        shared.script.idle().await;
        super::serve_replica::tick(&shared);
        check_bgsave(&shared);
        check_diskless_child(&shared);
        aof_cron(&shared);
        check_save_points(&shared);
        active_expire_cycle(&shared, Duration::from_millis(25 * 10 / hz as u64));
    }
}

/// `jemalloc-bg-thread`, applied to the allocator at start and whenever CONFIG SET changes it;
/// and, while it is on, freed pages handed back to the system once per idle spell: at the first
/// tick that finds no command run since the previous one, after some were. jemalloc's
/// background thread returns pages as they decay, over ten seconds, as Redis runs it; the
/// purge makes an idle server give back at once, for instance, the entry array its keyspace
/// outgrew (60 bytes a key at 30k keys just after a load). A busy server is never interrupted
/// by it. With the directive off, neither happens: pages go back only while the server
/// allocates, as in Redis without the thread.
#[derive(Debug, Default)]
struct IdlePurge {
    /// The `jemalloc-bg-thread` value last applied, if any.
    applied: Option<bool>,
    /// Commands processed at the previous tick.
    seen: u64,
    /// True once commands ran since the last purge.
    pending: bool,
}

impl IdlePurge {
    fn tick(&mut self, shared: &Shared) {
        use crate::server::Stats;
        let enabled = shared.config().jemalloc_bg_thread;
        if self.applied != Some(enabled) {
            self.applied = Some(enabled);
            if let Err(message) = crate::server::memory::set_background_thread(enabled) {
                shared.emit(Event::ConfigWarning { message });
            }
        }
        let processed = Stats::get(&shared.stats.total_commands_processed);
        if processed != self.seen {
            self.seen = processed;
            self.pending = enabled;
        } else if self.pending {
            self.pending = false;
            // A failure leaves the pages to jemalloc's own decay; nothing else depends on it.
            let _ = crate::server::memory::purge();
        }
    }
}

/// The group commit's syncer ([`crate::server::aof_sync`]): woken by the first batch that
/// wrote to the AOF under `appendfsync always`, it lets every other ready connection run its
/// batch first, then fsyncs once for all of them and releases their replies.
pub async fn aof_syncer(shared: Arc<Shared>) {
    loop {
        shared.aof_sync.next_round().await;
        // The other connections woken in this turn run their batches (and write) first.
        tokio::task::yield_now().await;
        shared.script.idle().await;
        let covered = shared.aof_sync.requested();
        crate::server::aof::sync_written(&shared, &mut shared.engine());
        shared.aof_sync.completed(covered);
    }
}

/// Redis's `activeExpireCycle`: per db, sample 20 keys with a TTL and delete the expired ones,
/// repeating while more than a quarter of a sample was expired, within a time budget so the
/// keyspace lock is never held for long.
pub fn active_expire_cycle(shared: &Shared, budget: Duration) {
    const SAMPLE: usize = 20;
    let started = Instant::now();
    let mut engine = shared.engine();
    let now = unix_ms();
    let engine = &mut *engine;
    // A client pause keeps the dataset static; checking it also ends one whose time passed.
    if engine.clients_paused(now) {
        return;
    }
    for db in 0..engine.dbs.len() {
        loop {
            let (sampled, expired) =
                engine.dbs[db].active_expire_round(now, SAMPLE, &mut engine.rng);
            if sampled == 0 || expired * 4 <= sampled || started.elapsed() > budget {
                break;
            }
        }
        if started.elapsed() > budget {
            break;
        }
    }
    crate::cmd::exec::propagate_expired(engine);
    crate::server::notify::publish(shared, engine);
    crate::server::propagation::flush(shared, engine);
}

/// Reaps a finished background save (called from the periodic tick; the child renamed its
/// file into place itself) and accounts the changes it saved.
pub fn check_bgsave(shared: &Shared) {
    let mut engine = shared.engine();
    let state = &mut engine.persistence;
    let Some(job) = state.bgsave.as_ref() else {
        return;
    };
    let Some(ok) = snapshot::try_reap(job.pid) else {
        return;
    };
    let job = state.bgsave.take().expect("checked above");
    if !ok {
        let _ = std::fs::remove_file(&job.temp);
    }
    state.last_bgsave_ok = ok;
    state.last_bgsave_secs = job.started.elapsed().as_secs() as i64;
    if ok {
        state.last_save = unix_ms() / 1000;
        state.saves += 1;
        engine.dirty = engine.dirty.saturating_sub(job.dirty_at_start);
        shared.emit(Event::DbSaved);
    }
    shared.emit(if ok {
        Event::BackgroundSaveSucceeded
    } else {
        Event::BackgroundSaveFailed
    });
    super::serve_replica::bgsave_done(shared, &mut engine, ok);
}

/// Reaps a finished diskless-sync child: the replicas it wrote to go on.
pub fn check_diskless_child(shared: &Shared) {
    let mut engine = shared.engine();
    let Some(pid) = engine.persistence.diskless_child else {
        return;
    };
    let Some(ok) = snapshot::try_reap(pid) else {
        return;
    };
    engine.persistence.diskless_child = None;
    super::serve_replica::bgsave_done(shared, &mut engine, ok);
}

/// Starts a background save if a `save <seconds> <changes>` point is reached (serverCron).
pub fn check_save_points(shared: &Shared) {
    let points = shared.config().save.clone();
    if points.is_empty() {
        return;
    }
    let now = unix_ms() / 1000;
    let mut engine = shared.engine();
    let (last_save, last_ok, last_try, running) = {
        let state = &engine.persistence;
        (
            state.last_save,
            state.last_bgsave_ok,
            state.last_bgsave_try,
            state.bgsave.is_some(),
        )
    };
    if running || (!last_ok && now - last_try < BGSAVE_RETRY_DELAY_SECS) {
        return;
    }
    let dirty = engine.dirty;
    let due = points.iter().find(|(seconds, changes)| {
        dirty >= *changes && dirty > 0 && now - last_save >= *seconds as i64
    });
    if let Some(&(seconds, changes)) = due {
        shared.emit(Event::SavePointReached { changes, seconds });
        if let Err(error) = bgsave(shared, &mut engine) {
            shared.emit(Event::SaveFailed { error });
        }
    }
}

/// The periodic AOF work (serverCron): reap a finished rewrite, fsync under everysec, start an
/// automatic rewrite when the AOF outgrew its base.
fn aof_cron(shared: &Shared) {
    let mut engine = shared.engine();
    let Some(state) = engine.aof.as_mut() else {
        return;
    };
    if let Some((pid, started)) = state.rewrite {
        if let Some(ok) = snapshot::try_reap(pid) {
            state.rewrite = None;
            let result = if ok {
                state.writer.finish_rewrite().map(|_| ())
            } else {
                state.writer.abort_rewrite()
            };
            state.last_rewrite_ok = ok && result.is_ok();
            let ok = state.last_rewrite_ok;
            drop(engine);
            if ok {
                shared.emit(Event::AofRewriteSucceeded {
                    seconds: started.elapsed().into(),
                });
                shared.emit(Event::AofRewriteFinished);
            } else {
                shared.emit(Event::AofRewriteFailed);
            }
            return;
        }
    }
    let (policy, percentage, min_size) = {
        let config = shared.config();
        (
            config.appendfsync,
            config.auto_aof_rewrite_percentage,
            config.auto_aof_rewrite_min_size,
        )
    };
    crate::server::aof::retry_failed_write(shared, state);
    if policy == AppendFsync::EverySec && state.last_fsync.elapsed().as_secs() >= 1 {
        state.last_fsync = Instant::now();
        if let Some(Ok(file)) = state.writer.sync_handle() {
            // fsync can take long on a busy disk: keep it off the serving thread.
            tokio::task::spawn_blocking(move || file.sync_data());
        }
    }
    let current = state.writer.current_size();
    let base = state.writer.base_size().max(1);
    let due = percentage > 0
        && state.rewrite.is_none()
        && current >= min_size
        && (current.saturating_sub(base)) * 100 / base >= percentage;
    if due {
        shared.emit(Event::AofAutoRewrite { percentage });
        crate::server::propagation::flush(shared, &mut engine);
        let _ = crate::server::aof::bgrewrite(shared, &mut engine);
    }
}
