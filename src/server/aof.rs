//! The append-only file as the server runs it (`aof.c`): loading at start-up, appending every
//! write in apply order, the `appendfsync` policy, BGREWRITEAOF and automatic rewrites, and
//! turning the AOF on or off at run time.
//!
//! The file layout and format are in [`crate::persist::aof`]. Writes reach the AOF from the
//! same flush that builds the replication stream ([`crate::repl::flush`]), under the keyspace
//! lock and before any reply leaves the server, so with `appendfsync always` a client never
//! hears "OK" for a write that is not on disk.

use std::sync::Arc;
use std::time::Instant;

use crate::config::AppendFsync;
use crate::persist::aof::{self, AofPaths, AofWriter, BaseFormat, Replay};
use crate::persist::rdb::{AuxValue, SaveOptions};
use crate::persist::snapshot;
use crate::server::engine::{Engine, Propagated};
use crate::server::events::Event;
use crate::server::session::Session;
use crate::server::{unix_ms, Shared};
use crate::store::db::ExpiryMode;

/// A running AOF.
#[derive(Debug)]
pub struct AofState {
    pub writer: AofWriter,
    /// A BGREWRITEAOF child: its pid and when it started.
    pub rewrite: Option<(i32, Instant)>,
    pub last_rewrite_ok: bool,
    pub last_write_ok: bool,
    /// Why the last write failed (`strerror` text), while it has not succeeded since: writes
    /// are refused with `-MISCONF Errors writing to the AOF file: <this>`.
    pub last_write_error: Option<String>,
    /// When the last everysec fsync ran.
    pub last_fsync: Instant,
}

/// The AOF layout the configuration names.
pub fn paths(shared: &Shared) -> AofPaths {
    let config = shared.config();
    let mut paths = AofPaths::new(config.dir.clone());
    if !config.appenddirname.is_empty() {
        paths.dirname = config.appenddirname.clone();
    }
    if !config.appendfilename.is_empty() {
        paths.filename = config.appendfilename.clone();
    }
    paths
}

/// Removes the new base a BGREWRITEAOF child was writing when the process was killed: only the
/// parent could have put it in the manifest, so it is never part of the AOF. (The temporary
/// incr file of a first-time enable is kept: it may hold acknowledged writes.)
fn remove_stale_rewrite(shared: &Shared, paths: &AofPaths) {
    let stale = paths.file(&crate::persist::aof::manifest::temp_base_name(
        &paths.filename,
    ));
    if std::fs::remove_file(&stale).is_ok() {
        shared.emit(Event::Notice {
            text: format!(
                "Removed the stale temporary file {} of an interrupted AOF rewrite",
                stale.display()
            ),
        });
    }
}

/// Loads the AOF if `appendonly yes` and one exists. Returns Ok(true) if it did (the RDB is
/// then ignored, as in Redis), Ok(false) if there is none. A corrupt AOF is an error naming the
/// file and offset; a truncated last command is dropped with Redis's warning and cut from the
/// file (`aof-load-truncated yes`).
pub fn load_at_startup(shared: &Shared) -> Result<bool, String> {
    let paths = paths(shared);
    remove_stale_rewrite(shared, &paths);
    let started = Instant::now();
    let mut engine = shared.engine();
    let databases = engine.dbs.len();
    let mut session = Session::new(0, "aof".into(), true);
    session.is_master_link = true; // applied as recorded: no propagation, no read-only check
    session.may_block = false;
    let loaded = aof::load(&paths, |item| match item {
        Replay::Snapshot { snapshot, .. } => {
            for (index, db) in snapshot.dbs {
                if index >= databases {
                    return Err(format!(
                        "the base uses db {index}, beyond 'databases {databases}'"
                    ));
                }
                engine.dbs[index] = db;
            }
            Ok(())
        }
        Replay::Command(command) => {
            if crate::cmd::lookup(&command.argv[0]).is_none() {
                return Err(format!(
                    "Unknown command '{}'",
                    String::from_utf8_lossy(&command.argv[0])
                ));
            }
            crate::cmd::call(shared, &mut engine, &mut session, &command.argv);
            Ok(())
        }
    })
    .map_err(|e| e.to_string())?;
    let Some(loaded) = loaded else {
        return Ok(false);
    };
    engine.propagated.clear();
    let keys: usize = engine.dbs.iter().map(|d| d.len()).sum();
    for db in engine.dbs.iter_mut() {
        db.set_expiry_mode(ExpiryMode::Delete);
    }
    drop(engine);
    if let Some(truncated) = &loaded.truncated {
        for line in truncated.log_lines() {
            shared.emit(Event::Warning { text: line });
        }
        aof::truncate_tail(truncated).map_err(|e| e.to_string())?;
    }
    shared.emit(Event::Notice {
        text: format!(
            "DB loaded from append only file: {:.3} seconds ({} commands, {keys} keys)",
            started.elapsed().as_secs_f64(),
            loaded.commands
        ),
    });
    Ok(true)
}

/// Opens the AOF for appending at start-up (`appendonly yes`). With no AOF on disk yet, the
/// first base is written now from the dataset in memory, synchronously, as Redis does.
pub fn open_at_startup(shared: &Shared, existed: bool) -> Result<(), String> {
    let paths = paths(shared);
    let mut engine = shared.engine();
    let writer = if existed {
        AofWriter::open(&paths).map_err(|e| e.to_string())?
    } else {
        let (mut writer, temp) =
            AofWriter::create(&paths, BaseFormat::Rdb).map_err(|e| e.to_string())?;
        snapshot::write_temp(&engine.dbs, &temp, &base_aux(), &options(shared))
            .map_err(|e| format!("Can't create the AOF base {}: {e}", temp.display()))?;
        let done = writer.finish_rewrite().map_err(|e| e.to_string())?;
        shared.emit(Event::Notice {
            text: format!("Creating AOF base file {} on server start", done.base),
        });
        writer
    };
    engine.propagate = true;
    *shared.aof() = Some(new_state(writer));
    Ok(())
}

fn new_state(writer: AofWriter) -> AofState {
    AofState {
        writer,
        rewrite: None,
        last_rewrite_ok: true,
        last_write_ok: true,
        last_write_error: None,
        last_fsync: Instant::now(),
    }
}

fn base_aux() -> [(&'static str, AuxValue<'static>); 1] {
    [("aof-base", AuxValue::Int(1))]
}

fn options(shared: &Shared) -> SaveOptions {
    let mut options = SaveOptions::new(unix_ms() / 1000);
    options.compression = shared.config().rdbcompression;
    options
}

/// Appends writes to the AOF and writes them out; fsyncs now under `appendfsync always`.
/// Called with the keyspace lock held, before replies are sent.
pub fn feed(shared: &Shared, records: &[Propagated]) {
    let mut guard = shared.aof();
    let Some(state) = guard.as_mut() else {
        return;
    };
    for record in records {
        state.writer.append(record.db, &record.argv);
    }
    let always = shared.config().appendfsync == AppendFsync::Always;
    let result =
        state
            .writer
            .write_out()
            .and_then(|_| if always { state.writer.fsync() } else { Ok(()) });
    match result {
        Ok(()) => {
            state.last_write_ok = true;
            state.last_write_error = None;
        }
        Err(error) => {
            state.last_write_ok = false;
            state.last_write_error = Some(io_error_text(&error));
            drop(guard);
            if always {
                // Redis exits here: acknowledging writes that may not be on disk is worse.
                shared.emit(Event::Warning {
                    text: format!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({error})"),
                });
                std::process::exit(1);
            }
            shared.emit(Event::Warning {
                text: format!("Error writing to the AOF file: {error}"),
            });
        }
    }
}

/// The `strerror` text of an AOF error (what Redis's MISCONF reply and log name).
fn io_error_text(error: &aof::AofError) -> String {
    match error {
        aof::AofError::Io { source, .. } => crate::config::strerror(source),
        other => other.to_string(),
    }
}

/// After a failed write, retries the buffered writes once per tick (as `serverCron` does);
/// when they get through, writes are accepted again.
fn retry_failed_write(shared: &Shared, state: &mut AofState) {
    if state.last_write_ok {
        return;
    }
    match state.writer.write_out() {
        Ok(_) => {
            state.last_write_ok = true;
            state.last_write_error = None;
            shared.emit(Event::Warning {
                text: "AOF write error looks solved, Redis can write again.".into(),
            });
        }
        Err(error) => state.last_write_error = Some(io_error_text(&error)),
    }
}

/// BGREWRITEAOF: a forked child writes the dataset as the new base while writes go to a new
/// incr file.
pub fn bgrewrite(shared: &Shared, engine: &mut Engine) -> Result<i32, String> {
    if shared.persistence().bgsave.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let options = options(shared);
    let mut guard = shared.aof();
    let Some(state) = guard.as_mut() else {
        return Err(
            "ERR Background append only file rewriting is not possible: the AOF is off".into(),
        );
    };
    if state.rewrite.is_some() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    // Everything applied so far is in the old incr file before the snapshot is taken.
    let temp = state
        .writer
        .begin_rewrite(BaseFormat::Rdb)
        .map_err(|e| format!("ERR {e}"))?;
    let dbs = &engine.dbs;
    let child_temp = temp.clone();
    let pid = match snapshot::fork_child(move || {
        snapshot::write_temp(dbs, &child_temp, &base_aux(), &options).is_ok()
    }) {
        Ok(pid) => pid,
        Err(error) => {
            let _ = state.writer.abort_rewrite();
            return Err(format!(
                "ERR Can't rewrite append only file in background: fork: {error}"
            ));
        }
    };
    state.rewrite = Some((pid, Instant::now()));
    drop(guard);
    shared.emit(Event::Notice {
        text: format!("Background append only file rewriting started by pid {pid}"),
    });
    Ok(pid)
}

/// The periodic AOF work (serverCron): reap a finished rewrite, fsync under everysec, start an
/// automatic rewrite when the AOF outgrew its base.
pub fn cron(shared: &Arc<Shared>) {
    let mut guard = shared.aof();
    let Some(state) = guard.as_mut() else {
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
            drop(guard);
            shared.emit(if ok {
                Event::Notice {
                    text: format!(
                        "Background AOF rewrite terminated with success ({:.3} seconds)\nBackground AOF rewrite finished successfully",
                        started.elapsed().as_secs_f64()
                    ),
                }
            } else {
                Event::Warning {
                    text: "Background AOF rewrite terminated with error".into(),
                }
            });
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
    retry_failed_write(shared, state);
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
    drop(guard);
    if due {
        shared.emit(Event::Notice {
            text: format!("Starting automatic rewriting of AOF on {percentage}% growth"),
        });
        let mut engine = shared.engine();
        crate::repl::flush(shared, &mut engine);
        let _ = bgrewrite(shared, &mut engine);
    }
}

/// `CONFIG SET appendonly yes` at run time: create the AOF from the current dataset in a
/// background rewrite; writes from now on are appended.
pub fn enable(shared: &Shared, engine: &mut Engine) -> Result<(), String> {
    if shared.aof().is_some() {
        return Ok(());
    }
    crate::repl::flush(shared, engine);
    let paths = paths(shared);
    let (writer, temp) = AofWriter::create(&paths, BaseFormat::Rdb).map_err(|e| e.to_string())?;
    let options = options(shared);
    let dbs = &engine.dbs;
    let child_temp = temp.clone();
    let pid = snapshot::fork_child(move || {
        snapshot::write_temp(dbs, &child_temp, &base_aux(), &options).is_ok()
    })
    .map_err(|e| e.to_string())?;
    let mut state = new_state(writer);
    state.rewrite = Some((pid, Instant::now()));
    *shared.aof() = Some(state);
    engine.propagate = true;
    shared.emit(Event::Notice {
        text: format!("Background append only file rewriting started by pid {pid}"),
    });
    Ok(())
}

/// `CONFIG SET appendonly no`: flush what is buffered and stop appending.
pub fn disable(shared: &Shared) {
    if let Some(mut state) = shared.aof().take() {
        let _ = state.writer.write_out();
        let _ = state.writer.fsync();
        if let Some((pid, _)) = state.rewrite {
            snapshot::kill_child(pid);
            let _ = state.writer.abort_rewrite();
        }
    }
}

/// Flushes and fsyncs on shutdown.
pub fn shutdown(shared: &Shared) {
    if let Some(state) = shared.aof().as_mut() {
        let _ = state.writer.write_out();
        let _ = state.writer.fsync();
        if let Some((pid, _)) = state.rewrite.take() {
            snapshot::kill_child(pid);
            let _ = state.writer.abort_rewrite();
        }
    }
}

/// For INFO persistence: (enabled, rewrite in progress, last rewrite ok, last write ok, size).
pub fn info(shared: &Shared) -> Option<(bool, bool, bool, u64, u64)> {
    shared.aof().as_ref().map(|s| {
        (
            s.rewrite.is_some(),
            s.last_rewrite_ok,
            s.last_write_ok,
            s.writer.current_size(),
            s.writer.base_size(),
        )
    })
}
