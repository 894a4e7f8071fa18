//! Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF.
//!
//! The work is in [`crate::server::persistence`]; these handlers only parse and answer.

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::server::persistence;

/// The persistence commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("save", 1, ADMIN | NOSCRIPT | NO_MULTI, save),
    Spec::new("bgsave", -1, ADMIN | NOSCRIPT, bgsave),
    Spec::new("lastsave", 1, LOADING | STALE | FAST, lastsave),
    Spec::new("bgrewriteaof", 1, ADMIN | NOSCRIPT, bgrewriteaof),
];

/// `BGREWRITEAOF`: rewrites the AOF in a forked child (a new base from the dataset).
fn bgrewriteaof(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    crate::server::propagation::flush(cx.shared, cx.engine);
    crate::server::aof::bgrewrite(cx.shared, cx.engine).map_err(CmdError::new)?;
    Ok(Reply::simple(
        "Background append only file rewriting started",
    ))
}

/// `SAVE`: writes the dump now, blocking every client meanwhile (as in Redis).
fn save(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    persistence::save(cx.shared, cx.engine).map_err(CmdError::new)?;
    Ok(Reply::ok())
}

/// `BGSAVE [SCHEDULE]`: forks a child that writes the dump.
fn bgsave(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let _schedule = args.eat("SCHEDULE");
    args.finish()?;
    persistence::bgsave(cx.shared, cx.engine).map_err(CmdError::new)?;
    Ok(Reply::simple("Background saving started"))
}

/// `LASTSAVE`: Unix time of the last successful save.
fn lastsave(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Int(cx.engine.persistence.last_save))
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::Harness;
    use crate::resp::Reply;

    #[test]
    fn save_writes_a_loadable_dump_and_resets_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new();
        h.shared.config_mut().dir = dir.path().to_path_buf();
        h.run(&["set", "name", "zhangsan"]);
        h.run(&["zadd", "z", "1", "a"]);
        assert_eq!(h.shared.engine().dirty, 2);
        assert_eq!(h.run(&["save"]), Reply::ok());
        assert_eq!(h.shared.engine().dirty, 0);
        let file = std::fs::File::open(dir.path().join("dump.rdb")).unwrap();
        let snapshot = crate::persist::rdb::load_snapshot(file).unwrap();
        assert_eq!(snapshot.key_count(), 2);
    }

    #[test]
    fn save_itself_is_not_propagated() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new();
        h.shared.config_mut().dir = dir.path().to_path_buf();
        h.propagated();
        h.run(&["set", "a", "1"]);
        h.run(&["save"]);
        assert_eq!(h.propagated(), vec![vec!["set", "a", "1"]]);
    }
}
