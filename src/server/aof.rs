//! The append-only file as the server runs it (`aof.c`): appending every write in apply
//! order, the `appendfsync` policy, BGREWRITEAOF and automatic rewrites, and turning the AOF
//! on or off at run time. Replaying it at start-up runs commands, so it lives with the
//! runtime (`node::startup`).
//!
//! The file layout and format are in [`crate::persist::aof`]. Writes reach the AOF from the
//! same flush that builds the replication stream ([`crate::server::propagation::flush`]), under the keyspace
//! lock and before any reply leaves the server, so with `appendfsync always` a client never
//! hears "OK" for a write that is not on disk.

use std::time::Instant;

use crate::config::AppendFsync;
use crate::persist::aof::{AofPaths, AofWriter, BaseFormat};
use crate::persist::rdb::{AuxValue, SaveOptions};
use crate::persist::snapshot;
use crate::server::engine::{Engine, Propagated};
use crate::server::events::Event;
use crate::server::{unix_ms, Shared};

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
    /// Written under `appendfsync always` and not yet fsynced (the group commit's next round).
    pub unsynced: bool,
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
        shared.emit(Event::AofBaseCreated { file: done.base });
        writer
    };
    engine.propagate = true;
    engine.aof = Some(new_state(writer));
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
        unsynced: false,
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

/// Appends writes to the AOF and writes them out. Under `appendfsync always` the fsync is
/// left to the group commit ([`crate::server::aof_sync`]): this takes a ticket, and the
/// connection holds its replies until the fsync that covers it. Called with the keyspace lock
/// held, before replies are sent.
pub fn feed(shared: &Shared, engine: &mut Engine, records: &[Propagated]) {
    let Some(state) = engine.aof.as_mut() else {
        return;
    };
    for record in records {
        state.writer.append(record.db, &record.argv);
    }
    let always = shared.config().appendfsync == AppendFsync::Always;
    match state.writer.write_out() {
        Ok(_) => {
            state.last_write_ok = true;
            state.last_write_error = None;
            if always {
                state.unsynced = true;
                shared.aof_sync.request();
            }
        }
        Err(error) => {
            state.last_write_ok = false;
            state.last_write_error = Some(io_error_text(&error));
            if always {
                // Redis exits here: acknowledging writes that may not be on disk is worse.
                shared.emit(Event::AofWriteFatal {
                    error: error.to_string(),
                });
                std::process::exit(1);
            }
            shared.emit(Event::AofWriteFailed {
                error: error.to_string(),
            });
        }
    }
}

/// The group commit's fsync (see [`crate::server::aof_sync`]): makes what was written under
/// `appendfsync always` durable. A failure exits, as Redis does: acknowledging writes that may
/// not be on disk is worse.
pub fn sync_written(shared: &Shared, engine: &mut Engine) {
    let Some(state) = engine.aof.as_mut() else {
        return;
    };
    if !state.unsynced {
        return;
    }
    if let Err(error) = state.writer.fsync() {
        shared.emit(Event::AofWriteFatal {
            error: error.to_string(),
        });
        std::process::exit(1);
    }
    state.unsynced = false;
}

/// The `strerror` text of an AOF error (what Redis's MISCONF reply and log name).
pub fn io_error_text(error: &crate::persist::aof::AofError) -> String {
    match error {
        crate::persist::aof::AofError::Io { source, .. } => crate::config::strerror(source),
        other => other.to_string(),
    }
}

/// After a failed write, retries the buffered writes (once per tick, as `serverCron` does);
/// when they get through, writes are accepted again.
pub fn retry_failed_write(shared: &Shared, state: &mut AofState) {
    if state.last_write_ok {
        return;
    }
    match state.writer.write_out() {
        Ok(_) => {
            state.last_write_ok = true;
            state.last_write_error = None;
            shared.emit(Event::AofWriteRecovered);
        }
        Err(error) => state.last_write_error = Some(io_error_text(&error)),
    }
}

/// BGREWRITEAOF: a forked child writes the dataset as the new base while writes go to a new
/// incr file.
pub fn bgrewrite(shared: &Shared, engine: &mut Engine) -> Result<i32, String> {
    if engine.persistence.bgsave.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let options = options(shared);
    let Some(state) = engine.aof.as_mut() else {
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
    shared.emit(Event::AofRewriteStarted { pid });
    Ok(pid)
}

/// `CONFIG SET appendonly yes` at run time: create the AOF from the current dataset in a
/// background rewrite; writes from now on are appended.
pub fn enable(shared: &Shared, engine: &mut Engine) -> Result<(), String> {
    if engine.aof.is_some() {
        return Ok(());
    }
    crate::server::propagation::flush(shared, engine);
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
    engine.aof = Some(state);
    engine.propagate = true;
    shared.emit(Event::AofRewriteStarted { pid });
    Ok(())
}

/// `CONFIG SET appendonly no`: flush what is buffered and stop appending.
pub fn disable(engine: &mut Engine) {
    if let Some(mut state) = engine.aof.take() {
        let _ = state.writer.write_out();
        let _ = state.writer.fsync();
        if let Some((pid, _)) = state.rewrite {
            snapshot::kill_child(pid);
            let _ = state.writer.abort_rewrite();
        }
    }
}

/// Flushes and fsyncs on shutdown.
pub fn shutdown(engine: &mut Engine) {
    if let Some(state) = engine.aof.as_mut() {
        let _ = state.writer.write_out();
        let _ = state.writer.fsync();
        if let Some((pid, _)) = state.rewrite.take() {
            snapshot::kill_child(pid);
            let _ = state.writer.abort_rewrite();
        }
    }
}

/// For INFO persistence: (enabled, rewrite in progress, last rewrite ok, last write ok, size).
pub fn info(engine: &Engine) -> Option<(bool, bool, bool, u64, u64)> {
    engine.aof.as_ref().map(|s| {
        (
            s.rewrite.is_some(),
            s.last_rewrite_ok,
            s.last_write_ok,
            s.writer.current_size(),
            s.writer.base_size(),
        )
    })
}
