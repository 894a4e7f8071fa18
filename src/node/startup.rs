//! Start-up: loading the dataset, from the AOF (replayed through the command path, as Redis
//! does) or from the RDB dump, then opening the AOF for appending.

use std::time::Instant;

use crate::persist::aof::{self, Replay};
use crate::server::events::Event;
use crate::server::session::Session;
use crate::server::Shared;

/// Loads the dataset at start-up: the AOF when `appendonly yes` and one exists (it wins over
/// the RDB, as in Redis), else the RDB; then opens the AOF for appending.
pub fn load_dataset(shared: &Shared) -> Result<(), String> {
    let appendonly = shared.config().appendonly;
    let from_aof = appendonly && load_aof(shared)?;
    if !from_aof {
        crate::server::persistence::load_at_startup(shared)?;
    }
    if appendonly {
        crate::server::aof::open_at_startup(shared, from_aof)?;
    }
    Ok(())
}

/// Loads the AOF if `appendonly yes` and one exists. Returns Ok(true) if it did (the RDB is
/// then ignored, as in Redis), Ok(false) if there is none. A corrupt AOF is an error naming the
/// file and offset; a truncated last command is dropped with Redis's warning and cut from the
/// file (`aof-load-truncated yes`).
fn load_aof(shared: &Shared) -> Result<bool, String> {
    let paths = crate::server::aof::paths(shared);
    remove_stale_rewrite(shared, &paths);
    let started = Instant::now();
    let mut engine = shared.engine();
    let databases = engine.dbs.len();
    let mut session = Session::aof_loader();
    let limits = crate::server::command_config::encoding_limits(&shared.config());
    let loaded = aof::load(&paths, limits, |item| match item {
        Replay::Snapshot { snapshot, .. } => {
            for (index, db) in snapshot.dbs {
                if index >= databases {
                    return Err(format!(
                        "the base uses db {index}, beyond 'databases {databases}'"
                    ));
                }
                engine.install_db(index, db);
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
    crate::server::role::apply_expiry_mode(&mut engine);
    drop(engine);
    if let Some(truncated) = &loaded.truncated {
        let file = truncated.name.clone();
        if truncated.reverted_multi {
            shared.emit(Event::AofMultiReverted { file: file.clone() });
        }
        shared.emit(Event::AofShortRead { file: file.clone() });
        shared.emit(Event::AofTruncating {
            file,
            offset: truncated.valid_up_to,
        });
        aof::truncate_tail(truncated).map_err(|e| e.to_string())?;
    }
    shared.emit(Event::AofLoaded {
        seconds: started.elapsed().into(),
        commands: loaded.commands,
        keys,
    });
    Ok(true)
}

/// Removes the new base a BGREWRITEAOF child was writing when the process was killed: only the
/// parent could have put it in the manifest, so it is never part of the AOF. (The temporary
/// incr file of a first-time enable is kept: it may hold acknowledged writes.)
fn remove_stale_rewrite(shared: &Shared, paths: &crate::persist::aof::AofPaths) {
    let stale = paths.file(&crate::persist::aof::manifest::temp_base_name(
        &paths.filename,
    ));
    if std::fs::remove_file(&stale).is_ok() {
        shared.emit(Event::StaleTempRemoved {
            file: stale.display().to_string(),
            what: "AOF rewrite".into(),
        });
    }
}
