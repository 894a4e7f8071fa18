//! RDB persistence as the server runs it: SAVE, BGSAVE, save points, loading at start-up and
//! the state `INFO persistence` reports.
//!
//! Follows `rdb.c` (`rdbSave`, `rdbSaveBackground`, `backgroundSaveDoneHandler`) and the
//! save-point check in `serverCron`. The file format itself is in [`crate::persist::rdb`].

use std::path::PathBuf;
use std::time::Instant;

use crate::persist::rdb::{self, AuxValue, SaveOptions};
use crate::persist::snapshot;
use crate::server::engine::Engine;
use crate::server::events::Event;
use crate::server::{memory, unix_ms, Shared};

/// Seconds to wait after a failed background save before a save point may try again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
pub const BGSAVE_RETRY_DELAY_SECS: i64 = 5;

/// A background save in progress.
#[derive(Debug)]
pub struct BackgroundSave {
    pub pid: i32,
    pub started: Instant,
    /// `dirty` when the child was forked: what a successful save accounts for.
    pub dirty_at_start: u64,
    /// What the child writes and then renames to the dump itself.
    pub temp: PathBuf,
}

/// What INFO persistence reports, and the running child.
#[derive(Debug)]
pub struct Persistence {
    /// Unix seconds of the last successful save (the start time until one happens).
    pub last_save: i64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    /// Unix seconds of the last background save attempt.
    pub last_bgsave_try: i64,
    pub saves: u64,
    pub bgsave: Option<BackgroundSave>,
    /// The pid of a child writing a snapshot to replicas' sockets (diskless sync).
    pub diskless_child: Option<i32>,
}

impl Persistence {
    pub fn new(now_secs: i64) -> Persistence {
        Persistence {
            last_save: now_secs,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_bgsave_try: 0,
            saves: 0,
            bgsave: None,
            diskless_child: None,
        }
    }
}

fn dump_path(shared: &Shared) -> PathBuf {
    let config = shared.config();
    config.dir.join(&config.dbfilename)
}

/// The aux fields a snapshot carries besides the standard ones: the replication id and offset
/// (so a restarted replica can resume with a partial resync, as Redis 7 does) and the db the
/// replication stream last selected, then `aof-base`.
///
/// As Redis's `rdbPopulateSaveInfo` decides, the replication fields are written only when they
/// describe a history someone can continue: a master with a backlog (a replica attached once,
/// which includes every full sync's snapshot) or a replica holding its master's history. A
/// master nobody ever replicated from writes none.
pub struct ReplAux {
    history: Option<ReplHistory>,
}

struct ReplHistory {
    replid: String,
    offset: i64,
    stream_db: i64,
}

impl ReplAux {
    pub fn current(engine: &Engine) -> ReplAux {
        let repl = &engine.repl;
        let continued = match repl.master {
            None => repl.backlog.is_some(),
            Some(_) => repl.has_history,
        };
        ReplAux {
            history: continued.then(|| ReplHistory {
                replid: repl.replid.clone(),
                offset: repl.offset,
                stream_db: repl.stream_db.map_or(0, |d| d as i64),
            }),
        }
    }

    pub fn fields(&self) -> Vec<(&'static str, AuxValue<'_>)> {
        let mut fields = Vec::with_capacity(4);
        if let Some(h) = &self.history {
            fields.extend([
                ("repl-stream-db", AuxValue::Int(h.stream_db)),
                ("repl-id", AuxValue::Str(h.replid.as_bytes())),
                ("repl-offset", AuxValue::Int(h.offset)),
            ]);
        }
        fields.push(("aof-base", AuxValue::Int(0)));
        fields
    }
}

fn options(shared: &Shared) -> SaveOptions {
    let mut options = SaveOptions::new(unix_ms() / 1000);
    options.used_mem = memory::used_memory() as u64;
    options.compression = shared.config().rdbcompression;
    options
}

/// SAVE: writes the dump in the foreground, holding the keyspace lock.
pub fn save(shared: &Shared, engine: &mut Engine) -> Result<(), String> {
    if engine.persistence.bgsave.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let target = dump_path(shared);
    let temp = target.with_file_name(format!("temp-{}.rdb", std::process::id()));
    let repl_aux = ReplAux::current(engine);
    match snapshot::save_to_file(
        &engine.dbs,
        &temp,
        &target,
        &repl_aux.fields(),
        &options(shared),
    ) {
        Ok(_) => {
            engine.dirty = 0;
            engine.persistence.last_save = unix_ms() / 1000;
            engine.persistence.saves += 1;
            shared.emit(Event::DbSaved);
            Ok(())
        }
        Err(error) => {
            shared.emit(Event::SaveFailed {
                error: error.to_string(),
            });
            Err("ERR".into())
        }
    }
}

/// BGSAVE: forks a child that writes the dump while the server keeps serving.
pub fn bgsave(shared: &Shared, engine: &mut Engine) -> Result<i32, String> {
    let repl_aux = ReplAux::current(engine);
    let state = &mut engine.persistence;
    if state.bgsave.is_some() || state.diskless_child.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let target = dump_path(shared);
    let dir = target.parent().map(PathBuf::from).unwrap_or_default();
    let options = options(shared);
    state.last_bgsave_try = unix_ms() / 1000;
    // The child learns its own pid only after the fork, so the parent picks the temp name.
    let temp = dir.join(format!(
        "temp-bgsave-{}-{}.rdb",
        std::process::id(),
        unix_ms()
    ));
    let child_temp = temp.clone();
    let dbs = &engine.dbs;
    // The child renames its file into place itself, as Redis's does (`rdbSave` in the child):
    // a save it completes is the newest complete state even if its parent was killed.
    let pid = snapshot::fork_child(move || {
        snapshot::save_to_file(dbs, &child_temp, &target, &repl_aux.fields(), &options).is_ok()
    })
    .map_err(|e| format!("ERR Can't save in background: fork: {e}"))?;
    engine.persistence.bgsave = Some(BackgroundSave {
        pid,
        started: Instant::now(),
        dirty_at_start: engine.dirty,
        temp,
    });
    shared.emit(Event::BackgroundSaveStarted { pid });
    Ok(pid)
}

/// Removes `temp-*.rdb` files next to the dump: what a save, a background save or a replica's
/// full sync was writing when the process was killed. Only the process that wrote one could
/// have renamed it into place, so none is ever complete state; the dump itself is untouched.
fn remove_stale_temp_files(shared: &Shared, dump: &std::path::Path) {
    let dir = match dump.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("temp-")
            && name.ends_with(".rdb")
            && std::fs::remove_file(entry.path()).is_ok()
        {
            shared.emit(Event::StaleTempRemoved {
                file: name.into_owned(),
                what: "save".into(),
            });
        }
    }
}

/// True if the node starts as a replica: `replicaof` in its config, or, in cluster mode, its
/// `nodes.conf` saying it replicates a master.
fn starts_as_replica(shared: &Shared) -> bool {
    let config = shared.config();
    if config.replicaof.is_some() {
        return true;
    }
    if !config.cluster_enabled {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(&config.cluster_config_file) else {
        return false;
    };
    let settings = crate::cluster::Settings::default();
    matches!(
        crate::cluster::Cluster::from_config(settings, &text, 0),
        Ok(Some(c)) if c.me().is_replica()
    )
}

/// Kills a running background save (SHUTDOWN, FLUSHALL) and removes its temp file.
pub fn kill_bgsave(engine: &mut Engine) {
    if let Some(job) = engine.persistence.bgsave.take() {
        snapshot::kill_child(job.pid);
        let _ = std::fs::remove_file(&job.temp);
    }
}

/// Loads `dir/dbfilename` into the engine if it exists. On a master, keys already expired are
/// dropped, as Redis does while loading. An unreadable or corrupt file is an error naming the
/// file and the offset; nothing is loaded partially.
pub fn load_at_startup(shared: &Shared) -> Result<(), String> {
    let path = dump_path(shared);
    remove_stale_temp_files(shared, &path);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB {}: {e}. Exiting.",
                path.display()
            ))
        }
    };
    let started = Instant::now();
    let limits = super::command_config::encoding_limits(&shared.config());
    let snapshot = rdb::load_snapshot_with(file, limits).map_err(|e| {
        format!(
            "Fatal error loading the DB {}: {e}. Exiting.",
            path.display()
        )
    })?;
    let mut engine = shared.engine();
    // The history in the file is only taken by a node that starts as a replica (`replicaof`,
    // or a cluster replica by its nodes.conf), so that it can continue with its master by a
    // partial resync. A master starts a new history, as Redis does: if it took writes before
    // it went down, its data may have diverged from whoever was promoted meanwhile, and only
    // a full resync may then make it a replica.
    if let (Some(replid), Some(offset), true) = (
        snapshot.repl_id(),
        snapshot.repl_offset(),
        starts_as_replica(shared),
    ) {
        if replid.len() == 40 {
            let repl = &mut engine.repl;
            repl.replid = replid.to_string();
            repl.offset = offset;
            repl.has_history = true;
        }
    }
    let databases = engine.dbs.len();
    let now = unix_ms();
    let mut keys = 0;
    let mut expired = 0;
    let version = snapshot
        .aux("redis-ver")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "unknown".into());
    for (index, mut db) in snapshot.dbs {
        if index >= databases {
            return Err(format!(
                "Fatal error loading the DB {}: FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting.",
                path.display()
            ));
        }
        // Expired keys are deleted on load (a master's choice; replicas keep them).
        let before = db.len();
        let dead: Vec<_> = db
            .iter_with_expiry()
            .filter(|(_, _, at)| at.is_some_and(|at| at <= now))
            .map(|(k, _, _)| k.clone())
            .collect();
        for key in &dead {
            db.remove(key);
        }
        expired += before - db.len();
        keys += db.len();
        engine.install_db(index, db);
    }
    super::role::apply_expiry_mode(&mut engine);
    drop(engine);
    if snapshot.streams_skipped > 0 {
        shared.emit(Event::StreamKeysSkipped {
            count: snapshot.streams_skipped,
        });
    }
    shared.emit(Event::RdbLoading { version });
    shared.emit(Event::RdbLoaded { keys, expired });
    shared.emit(Event::DbLoadedFromDisk {
        seconds: started.elapsed().into(),
    });
    Ok(())
}

/// A replica's full sync: replaces the dataset with the master's snapshot and adopts the
/// master's history (`replid` at `offset`). Our own replicas hold a history that was just
/// thrown away: they are disconnected and must resync. Returns the number of keys.
pub fn install_master_snapshot(
    shared: &Shared,
    snapshot: rdb::Snapshot,
    replid: &str,
    offset: i64,
) -> usize {
    shared.emit(Event::FlushingOldData);
    let version = snapshot
        .aux
        .iter()
        .find(|(k, _)| &k[..] == b"redis-ver")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    shared.emit(Event::LoadingDbInMemory);
    if let Some(version) = version {
        shared.emit(Event::RdbLoading { version });
    }
    let keys = {
        let mut engine = shared.engine();
        let databases = engine.dbs.len();
        for db in engine.dbs.iter_mut() {
            db.clear();
        }
        let mut keys = 0;
        for (index, db) in snapshot.dbs {
            if index < databases {
                keys += db.len();
                engine.install_db(index, db);
            }
        }
        super::role::apply_expiry_mode(&mut engine);
        for index in 0..databases {
            engine.touch_all(index);
        }
        let repl = &mut engine.repl;
        repl.replid = replid.to_string();
        repl.replid2 = crate::repl::NO_REPLID.to_string();
        repl.second_offset = -1;
        repl.offset = offset;
        repl.has_history = true;
        repl.backlog = Some(crate::repl::backlog::Backlog::new(
            repl.backlog_size,
            offset,
        ));
        repl.stream_db = None;
        for replica in repl.replicas.drain(..) {
            if let Some(handle) = shared.clients.get(replica.client) {
                handle.kill();
            }
        }
        // What it applies from now on reaches its AOF, if it keeps one.
        engine.propagate = engine.aof.is_some();
        keys
    };
    shared.emit(Event::RdbLoaded { keys, expired: 0 });
    restart_aof_after_sync(shared);
    keys
}

/// After a full sync the AOF describes a dataset that is gone: like Redis
/// (`restartAOFAfterSYNC`), a replica with `appendonly yes` starts a new AOF whose base is the
/// dataset just loaded, and appends the master's stream to it from here.
fn restart_aof_after_sync(shared: &Shared) {
    let mut engine = shared.engine();
    if engine.aof.is_none() {
        return;
    }
    crate::server::aof::disable(&mut engine);
    if let Err(error) = crate::server::aof::enable(shared, &mut engine) {
        shared.emit(Event::AofRestartAfterSyncFailed { error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::MasterLink;

    fn names(aux: &ReplAux) -> Vec<&'static str> {
        aux.fields().iter().map(|(name, _)| *name).collect()
    }

    #[test]
    fn replication_fields_only_for_a_history_someone_can_continue() {
        let mut engine = Engine::new(1);
        // A master nobody replicated from: none (Redis's `rdbPopulateSaveInfo` returns NULL).
        assert_eq!(names(&ReplAux::current(&engine)), ["aof-base"]);
        // Once a replica attached, the backlog exists: the snapshot names the history.
        engine.repl.ensure_backlog();
        let with_history = ["repl-stream-db", "repl-id", "repl-offset", "aof-base"];
        assert_eq!(names(&ReplAux::current(&engine)), with_history);
        // A replica: only once it holds its master's history (synced, or a cached master).
        engine.repl.backlog = None;
        engine.repl.master = Some(MasterLink {
            host: "127.0.0.1".into(),
            port: 6379,
            up: false,
            last_io_ms: 0,
            down_since_ms: 0,
            sync_in_progress: false,
            transfer: None,
            generation: 1,
        });
        assert_eq!(names(&ReplAux::current(&engine)), ["aof-base"]);
        engine.repl.has_history = true;
        assert_eq!(names(&ReplAux::current(&engine)), with_history);
    }
}
