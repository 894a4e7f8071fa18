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
use crate::store::db::ExpiryMode;

/// Seconds to wait after a failed background save before a save point may try again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY_SECS: i64 = 5;

/// A background save in progress.
#[derive(Debug)]
pub struct BackgroundSave {
    pub pid: i32,
    pub started: Instant,
    /// `dirty` when the child was forked: what a successful save accounts for.
    pub dirty_at_start: u64,
    pub temp: PathBuf,
    pub target: PathBuf,
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
        }
    }
}

fn dump_path(shared: &Shared) -> PathBuf {
    let config = shared.config();
    config.dir.join(&config.dbfilename)
}

/// The aux fields every snapshot carries besides the standard ones: the replication id and
/// offset (so a restarted replica can resume with a partial resync, as Redis 7 does) and the db
/// the replication stream last selected.
pub struct ReplAux {
    replid: String,
    offset: i64,
    stream_db: i64,
}

impl ReplAux {
    pub fn current(shared: &Shared) -> ReplAux {
        let repl = shared.repl();
        ReplAux {
            replid: repl.replid.clone(),
            offset: repl.offset,
            stream_db: repl.stream_db.map_or(0, |d| d as i64),
        }
    }

    pub fn fields(&self) -> [(&'static str, AuxValue<'_>); 4] {
        [
            ("repl-stream-db", AuxValue::Int(self.stream_db)),
            ("repl-id", AuxValue::Str(self.replid.as_bytes())),
            ("repl-offset", AuxValue::Int(self.offset)),
            ("aof-base", AuxValue::Int(0)),
        ]
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
    if shared.persistence().bgsave.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let target = dump_path(shared);
    let temp = target.with_file_name(format!("temp-{}.rdb", std::process::id()));
    let repl_aux = ReplAux::current(shared);
    match snapshot::save_to_file(
        &engine.dbs,
        &temp,
        &target,
        &repl_aux.fields(),
        &options(shared),
    ) {
        Ok(_) => {
            engine.dirty = 0;
            let mut state = shared.persistence();
            state.last_save = unix_ms() / 1000;
            state.saves += 1;
            drop(state);
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
    let repl_aux = ReplAux::current(shared);
    let mut state = shared.persistence();
    if state.bgsave.is_some() {
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
    let pid = snapshot::fork_child(move || {
        snapshot::write_temp(dbs, &child_temp, &repl_aux.fields(), &options).is_ok()
    })
    .map_err(|e| format!("ERR Can't save in background: fork: {e}"))?;
    state.bgsave = Some(BackgroundSave {
        pid,
        started: Instant::now(),
        dirty_at_start: engine.dirty,
        temp,
        target,
    });
    drop(state);
    shared.emit(Event::BackgroundSaveStarted { pid });
    Ok(pid)
}

/// Reaps a finished background save (called from the periodic tick): renames its file into
/// place on success and accounts the changes it saved.
pub fn check_bgsave(shared: &Shared) {
    let mut state = shared.persistence();
    let Some(job) = state.bgsave.as_ref() else {
        return;
    };
    let Some(ok) = snapshot::try_reap(job.pid) else {
        return;
    };
    let job = state.bgsave.take().expect("checked above");
    let renamed = ok && std::fs::rename(&job.temp, &job.target).is_ok();
    if !renamed {
        let _ = std::fs::remove_file(&job.temp);
    }
    state.last_bgsave_ok = renamed;
    state.last_bgsave_secs = job.started.elapsed().as_secs() as i64;
    if renamed {
        snapshot::sync_dir(&job.target);
        state.last_save = unix_ms() / 1000;
        state.saves += 1;
    }
    drop(state);
    if renamed {
        let mut engine = shared.engine();
        engine.dirty = engine.dirty.saturating_sub(job.dirty_at_start);
        drop(engine);
        shared.emit(Event::DbSaved);
    }
    shared.emit(Event::BackgroundSaveFinished { ok: renamed });
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
            shared.emit(Event::Notice {
                text: format!("Removed the stale temporary file {name} of an interrupted save"),
            });
        }
    }
}

/// Starts a background save if a `save <seconds> <changes>` point is reached (serverCron).
pub fn check_save_points(shared: &Shared) {
    let points = shared.config().save.clone();
    if points.is_empty() {
        return;
    }
    let now = unix_ms() / 1000;
    let (last_save, last_ok, last_try, running) = {
        let state = shared.persistence();
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
    let mut engine = shared.engine();
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

/// Kills a running background save (SHUTDOWN, FLUSHALL) and removes its temp file.
pub fn kill_bgsave(shared: &Shared) {
    if let Some(job) = shared.persistence().bgsave.take() {
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
    let snapshot = rdb::load_snapshot(file).map_err(|e| {
        format!(
            "Fatal error loading the DB {}: {e}. Exiting.",
            path.display()
        )
    })?;
    if let (Some(replid), Some(offset)) = (snapshot.repl_id(), snapshot.repl_offset()) {
        if replid.len() == 40 {
            let mut repl = shared.repl();
            repl.replid = replid.to_string();
            repl.offset = offset;
            repl.has_history = true;
        }
    }
    let mut engine = shared.engine();
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
        db.set_expiry_mode(ExpiryMode::Delete);
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
        engine.dbs[index] = db;
    }
    drop(engine);
    if snapshot.streams_skipped > 0 {
        shared.emit(Event::Warning {
            text: format!(
                "{} stream keys in the RDB were skipped: redislab has no stream type",
                snapshot.streams_skipped
            ),
        });
    }
    shared.emit(Event::RdbLoaded {
        version,
        keys,
        expired,
        millis: started.elapsed().as_millis(),
    });
    Ok(())
}
