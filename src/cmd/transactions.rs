//! Transactions (`multi.c`): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! While a session is in MULTI, [`call`](super::exec::call) queues commands instead of running
//! them and remembers whether any was rejected (unknown command, wrong arity), which turns EXEC
//! into `EXECABORT`. EXEC runs the queue in one critical section, so no other client's command
//! interleaves, and propagates the writes wrapped in MULTI/EXEC, as Redis 7.0 does. A WATCHed
//! key touched by anyone before EXEC makes EXEC answer a nil array.

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::server::session::MultiState;

/// The transaction commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new(
        "multi",
        1,
        NO_MULTI | LOADING | STALE | FAST | ALLOW_BUSY,
        multi,
    ),
    Spec::new("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_MONITOR, exec),
    Spec::new(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        discard,
    ),
    Spec::new(
        "watch",
        -2,
        NO_MULTI | NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        watch,
    )
    .keys(1, -1, 1),
    Spec::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        unwatch,
    ),
];

/// `MULTI`
fn multi(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.is_some() {
        return Err(CmdError::new("ERR MULTI calls can not be nested"));
    }
    cx.session.multi = Some(MultiState::default());
    Ok(Reply::ok())
}

/// Forgets this session's watches.
fn forget_watches(cx: &mut Exec) {
    let watched = std::mem::take(&mut cx.session.watched);
    cx.engine.unwatch_all(cx.session.id, &watched);
}

/// `EXEC`: runs the queue, or EXECABORT, or nil if a watched key changed.
fn exec(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    let Some(state) = cx.session.multi.take() else {
        return Err(CmdError::new("ERR EXEC without MULTI"));
    };
    let aborted = cx.engine.is_dirty_cas(cx.session.id);
    forget_watches(cx);
    cx.propagate_nothing();
    if state.failed {
        return Err(CmdError::new(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if aborted {
        return Ok(Reply::NullArray);
    }
    let first_propagated = cx.engine.propagated.len();
    let db = cx.session.db;
    cx.session.may_block = false;
    let mut replies = Vec::with_capacity(state.queued.len());
    for argv in &state.queued {
        let (reply, _effect) = cx.run_nested(argv);
        replies.push(reply);
    }
    cx.session.may_block = true;
    // Wrap the transaction's writes so replicas and the AOF apply them atomically too.
    if cx.engine.propagated.len() > first_propagated {
        let multi = crate::server::engine::Propagated {
            db,
            argv: vec![Bytes::from_static(b"MULTI")],
        };
        cx.engine.propagated.insert(first_propagated, multi);
        let last_db = cx.engine.propagated.last().map_or(db, |p| p.db);
        cx.engine
            .propagated
            .push(crate::server::engine::Propagated {
                db: last_db,
                argv: vec![Bytes::from_static(b"EXEC")],
            });
    }
    Ok(Reply::Array(replies))
}

/// `DISCARD`
fn discard(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.take().is_none() {
        return Err(CmdError::new("ERR DISCARD without MULTI"));
    }
    forget_watches(cx);
    Ok(Reply::ok())
}

/// `WATCH key [key ...]`
fn watch(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.is_some() {
        return Err(CmdError::new("ERR WATCH inside MULTI is not allowed"));
    }
    let db = cx.session.db;
    for key in args.rest() {
        let key = Bytes::copy_from_slice(key);
        if !cx.session.watched.contains(&(db, key.clone())) {
            cx.engine.watch(cx.session.id, db, key.clone());
            cx.session.watched.push((db, key));
        }
    }
    Ok(Reply::ok())
}

/// `UNWATCH`
fn unwatch(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    forget_watches(cx);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;
    use crate::server::session::Session;

    #[test]
    fn exec_runs_the_queue_and_wraps_propagation() {
        let mut h = Harness::new();
        h.propagated();
        assert_eq!(h.run(&["multi"]), Reply::ok());
        assert_eq!(h.run(&["set", "a", "1"]), Reply::simple("QUEUED"));
        assert_eq!(h.run(&["incr", "a"]), Reply::simple("QUEUED"));
        assert_eq!(h.run(&["get", "a"]), Reply::simple("QUEUED"));
        assert_eq!(
            h.run(&["exec"]),
            Reply::Array(vec![Reply::ok(), Reply::Int(2), bulk("2")])
        );
        let p = h.propagated();
        assert_eq!(p.first().unwrap(), &["MULTI"]);
        assert_eq!(p.last().unwrap(), &["EXEC"]);
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn queued_errors_abort_and_runtime_errors_do_not() {
        let mut h = Harness::new();
        h.run(&["multi"]);
        assert_eq!(
            h.run(&["nosuch"]),
            err("ERR unknown command 'nosuch', with args beginning with: ")
        );
        h.run(&["set", "a", "1"]);
        assert_eq!(
            h.run(&["exec"]),
            err("EXECABORT Transaction discarded because of previous errors.")
        );
        h.run(&["multi"]);
        h.run(&["set", "s", "x"]);
        h.run(&["incr", "s"]);
        assert_eq!(
            h.run(&["exec"]),
            Reply::Array(vec![
                Reply::ok(),
                err("ERR value is not an integer or out of range")
            ])
        );
        assert_eq!(h.run(&["exec"]), err("ERR EXEC without MULTI"));
        assert_eq!(h.run(&["discard"]), err("ERR DISCARD without MULTI"));
        h.run(&["multi"]);
        assert_eq!(h.run(&["multi"]), err("ERR MULTI calls can not be nested"));
        assert_eq!(
            h.run(&["watch", "x"]),
            err("ERR WATCH inside MULTI is not allowed")
        );
        h.run(&["ping"]);
        assert_eq!(
            h.run(&["exec"]),
            Reply::Array(vec![Reply::simple("PONG")]),
            "the nested MULTI and WATCH do not abort the transaction"
        );
    }

    #[test]
    fn flushing_fails_exec_only_for_watched_keys_that_existed() {
        let mut h = Harness::new();
        h.run(&["watch", "missing"]);
        h.run(&["flushall"]);
        h.run(&["multi"]);
        h.run(&["ping"]);
        assert_eq!(h.run(&["exec"]), Reply::Array(vec![Reply::simple("PONG")]));
        h.run(&["set", "x", "1"]);
        h.run(&["watch", "x"]);
        h.run(&["flushdb"]);
        h.run(&["multi"]);
        h.run(&["ping"]);
        assert_eq!(h.run(&["exec"]), Reply::NullArray);
    }

    #[test]
    fn a_touched_watched_key_fails_exec() {
        let mut h = Harness::new();
        h.run(&["watch", "k"]);
        // Another client writes k.
        let mut other = Session::new(2, "127.0.0.1:2".into(), true);
        {
            let mut engine = h.shared.engine();
            let argv: Vec<bytes::Bytes> = vec!["set".into(), "k".into(), "v".into()];
            crate::cmd::call(&h.shared, &mut engine, &mut other, &argv);
        }
        h.run(&["multi"]);
        h.run(&["set", "k", "mine"]);
        assert_eq!(h.run(&["exec"]), Reply::NullArray);
        assert_eq!(h.run(&["get", "k"]), bulk("v"));
        // Watches are gone after EXEC: the next transaction succeeds.
        h.run(&["multi"]);
        h.run(&["set", "k", "mine"]);
        assert_eq!(h.run(&["exec"]), Reply::Array(vec![Reply::ok()]));
    }
}
