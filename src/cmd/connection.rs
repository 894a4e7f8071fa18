//! Connection commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET, CLIENT.
//!
//! They act on the connection's [`Session`](crate::server::session::Session) and the client
//! registry rather than the keyspace. HELLO follows Redis 7.0's reply exactly (a map with
//! server, version, proto, id, mode, role, modules), because redis-py 8 sends `HELLO 3` first on
//! every connection and gives up if it fails.

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Effect, Exec, Spec};
use crate::resp::Reply;
use crate::server::clients::ClientKind;

/// The connection commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("ping", -1, FAST | STALE | PUBSUB_CONTEXT, ping),
    Spec::new("echo", 2, FAST, echo),
    Spec::new(
        "auth",
        -2,
        NO_AUTH | FAST | STALE | LOADING | SKIP_MONITOR,
        auth,
    ),
    Spec::new(
        "hello",
        -1,
        NO_AUTH | FAST | STALE | LOADING | SKIP_MONITOR,
        hello,
    ),
    Spec::new("select", 2, FAST | LOADING | STALE, select),
    Spec::new(
        "quit",
        -1,
        NO_AUTH | FAST | STALE | LOADING | PUBSUB_CONTEXT,
        quit,
    ),
    Spec::new(
        "reset",
        1,
        NO_AUTH | FAST | STALE | LOADING | PUBSUB_CONTEXT | NO_MULTI,
        reset,
    ),
    Spec::new("client", -2, ADMIN | STALE | LOADING, client),
];

/// `PING [message]`: PONG, or in RESP2 pub/sub mode the array `["pong", message]`.
fn ping(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if args.remaining() > 1 {
        return Err(CmdError::arity("ping"));
    }
    let message = args.peek().cloned();
    if cx.session.in_pubsub_mode() {
        return Ok(Reply::Array(vec![
            Reply::bulk(b"pong"),
            Reply::Bulk(message.unwrap_or_default()),
        ]));
    }
    Ok(match message {
        Some(m) => Reply::Bulk(m),
        None => Reply::simple("PONG"),
    })
}

/// `ECHO message`
fn echo(_cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Bulk(args.next()?.clone()))
}

/// Checks a user/password pair against `requirepass` (only the `default` user exists).
fn check_password(cx: &mut Exec, user: Option<&[u8]>, password: &[u8]) -> Result<(), CmdError> {
    let required = cx.shared.config().requirepass.clone();
    let user_ok = user.is_none_or(|u| u == b"default");
    let pass_ok = match &required {
        None => true,
        Some(p) => p.as_bytes() == password,
    };
    if user_ok && pass_ok {
        cx.session.authenticated = true;
        Ok(())
    } else {
        Err(CmdError::wrong_pass())
    }
}

/// `AUTH [username] password`
fn auth(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let (user, password) = match args.remaining() {
        1 => (None, args.next()?),
        2 => (Some(&args.next()?[..]), args.next()?),
        _ => return Err(CmdError::syntax()),
    };
    if user.is_none() && cx.shared.config().requirepass.is_none() {
        return Err(CmdError::new(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(cx, user, password)?;
    Ok(Reply::ok())
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let mut resp3 = cx.session.resp3;
    if let Some(version) = args.peek() {
        let version = super::args::parse_int(version)
            .map_err(|_| CmdError::new("ERR Protocol version is not an integer or out of range"))?;
        args.next()?;
        match version {
            2 => resp3 = false,
            3 => resp3 = true,
            _ => return Err(CmdError::new("NOPROTO unsupported protocol version")),
        }
    }
    let mut name = None;
    while !args.is_empty() {
        if args.eat("AUTH") && args.remaining() >= 2 {
            let user = args.next()?.clone();
            let password = args.next()?.clone();
            check_password(cx, Some(&user), &password)?;
        } else if args.eat("SETNAME") && args.remaining() >= 1 {
            name = Some(args.next()?.clone());
        } else {
            let option = args.peek().cloned().unwrap_or_default();
            return Err(CmdError(
                format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&option)
                )
                .into(),
            ));
        }
    }
    if !cx.session.authenticated {
        return Err(CmdError::new(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        set_name(cx, name)?;
    }
    cx.session.resp3 = resp3;
    let role = if cx.engine.repl.is_replica() {
        "replica"
    } else {
        "master"
    };
    Ok(Reply::Map(vec![
        (Reply::bulk(b"server"), Reply::bulk(b"redis")),
        (
            Reply::bulk(b"version"),
            Reply::bulk(crate::REDIS_VERSION.as_bytes()),
        ),
        (Reply::bulk(b"proto"), Reply::Int(if resp3 { 3 } else { 2 })),
        (Reply::bulk(b"id"), Reply::Int(cx.session.id as i64)),
        (
            Reply::bulk(b"mode"),
            Reply::bulk(if cx.engine.cluster.is_some() {
                b"cluster"
            } else {
                b"standalone"
            }),
        ),
        (Reply::bulk(b"role"), Reply::bulk(role.as_bytes())),
        (Reply::bulk(b"modules"), Reply::Array(vec![])),
    ]))
}

/// `SELECT index`
fn select(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let index = args.next_i64()?;
    if cx.engine.cluster.is_some() && index != 0 {
        return Err(CmdError::new("ERR SELECT is not allowed in cluster mode"));
    }
    if index < 0 || index as usize >= cx.engine.dbs.len() {
        return Err(CmdError::db_index_out_of_range());
    }
    cx.session.db = index as usize;
    Ok(Reply::ok())
}

/// `QUIT`: replies OK and closes the connection.
fn quit(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    cx.set_effect(Effect::Close);
    Ok(Reply::ok())
}

/// `RESET`: back to a fresh connection's state (db 0, RESP2, no MULTI, no watches, no
/// subscriptions, not authenticated if a password is set).
fn reset(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    let id = cx.session.id;
    let watched = std::mem::take(&mut cx.session.watched);
    cx.engine.unwatch_all(id, &watched);
    cx.session.multi = None;
    cx.session.db = 0;
    cx.session.resp3 = false;
    cx.session.name = None;
    if cx.session.monitor {
        cx.shared.remove_monitor(id);
        cx.session.monitor = false;
    }
    let mut pubsub = cx.shared.pubsub();
    for channel in cx.session.channels.drain() {
        pubsub.unsubscribe(&channel, id);
    }
    for pattern in cx.session.patterns.drain() {
        pubsub.punsubscribe(&pattern, id);
    }
    drop(pubsub);
    cx.session.authenticated = cx.shared.config().requirepass.is_none();
    Ok(Reply::simple("RESET"))
}

fn set_name(cx: &mut Exec, name: Bytes) -> Result<(), CmdError> {
    if name.iter().any(|&b| b <= b' ' || b > b'~') {
        return Err(CmdError::new(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    cx.session.name = if name.is_empty() { None } else { Some(name) };
    Ok(())
}

/// `CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL|SETINFO|NO-EVICT|NO-TOUCH|REPLY|HELP`
fn client(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?.to_ascii_lowercase();
    match &sub[..] {
        b"id" => {
            args.finish().map_err(|_| CmdError::arity("client|id"))?;
            Ok(Reply::Int(cx.session.id as i64))
        }
        b"setname" => {
            let name = args.next().map_err(|_| CmdError::arity("client|setname"))?.clone();
            args.finish().map_err(|_| CmdError::arity("client|setname"))?;
            set_name(cx, name)?;
            if let Some(handle) = &cx.session.handle {
                handle.meta().name = cx.session.name.clone();
            }
            Ok(Reply::ok())
        }
        b"getname" => {
            args.finish().map_err(|_| CmdError::arity("client|getname"))?;
            Ok(cx.session.name.clone().map_or(Reply::Null, Reply::Bulk))
        }
        b"list" => client_list(cx, args),
        b"info" => {
            args.finish().map_err(|_| CmdError::arity("client|info"))?;
            let line = cx
                .session
                .handle
                .as_ref()
                .map(|h| h.info_line())
                .unwrap_or_default();
            Ok(Reply::Verbatim(Bytes::from(line + "\n")))
        }
        b"kill" => client_kill(cx, args),
        b"setinfo" => {
            let attr = args.next().map_err(|_| CmdError::arity("client|setinfo"))?.to_ascii_lowercase();
            let value = args.next().map_err(|_| CmdError::arity("client|setinfo"))?.clone();
            args.finish().map_err(|_| CmdError::arity("client|setinfo"))?;
            let Some(handle) = cx.session.handle.clone() else {
                return Ok(Reply::ok());
            };
            let mut meta = handle.meta();
            match &attr[..] {
                b"lib-name" => meta.lib_name = Some(value),
                b"lib-ver" => meta.lib_ver = Some(value),
                _ => {
                    return Err(CmdError(
                        format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&attr)).into(),
                    ))
                }
            }
            Ok(Reply::ok())
        }
        b"reply" => {
            if args.remaining() != 1 {
                return Err(CmdError::arity("client|reply"));
            }
            let mode = args.next()?.to_ascii_lowercase();
            use crate::server::session::ReplyMode;
            match &mode[..] {
                b"on" => {
                    cx.session.reply_mode = ReplyMode::On;
                    Ok(Reply::ok())
                }
                b"off" => {
                    cx.session.reply_mode = ReplyMode::Off;
                    Ok(Reply::None)
                }
                b"skip" => {
                    if cx.session.reply_mode != ReplyMode::Off {
                        cx.session.reply_mode = ReplyMode::SkipNext;
                    }
                    Ok(Reply::None)
                }
                _ => Err(CmdError::syntax()),
            }
        }
        b"unblock" => client_unblock(cx, args),
        b"pause" => client_pause(cx, args),
        b"unpause" => {
            args.finish().map_err(|_| CmdError::arity("client|unpause"))?;
            cx.engine.unpause_clients();
            crate::server::pause::wake_paused(cx.shared);
            Ok(Reply::ok())
        }
        b"no-evict" | b"no-touch" => {
            let mode = args.next()?.to_ascii_lowercase();
            if mode != b"on" && mode != b"off" {
                return Err(CmdError::syntax());
            }
            Ok(Reply::ok())
        }
        b"help" => Ok(Reply::Array(
            [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID", "    Return the ID of the current connection.",
                "GETNAME", "    Return the name of the current connection.",
                "KILL <ip:port>", "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, TYPE (normal|master|replica|pubsub), ADDR, LADDR, SKIPME.",
                "LIST [options ...]", "    Return information about client connections. Options: TYPE (normal|master|replica|pubsub), ID.",
                "INFO", "    Return information about the current client connection.",
                "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
                "SETNAME <name>", "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
                "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "UNPAUSE", "    Stop the current client pause, resuming traffic.",
                "HELP", "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
        )),
        _ => Err(CmdError::unknown_subcommand(&args.argv()[1], "client")),
    }
}

/// `CLIENT PAUSE timeout-ms [WRITE|ALL]`: postpones the commands the mode covers (`ALL` when
/// omitted) for `timeout` milliseconds; see [`crate::server::pause`].
fn client_pause(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    use crate::server::pause::PauseMode;
    let timeout = args
        .next()
        .map_err(|_| CmdError::arity("client|pause"))?
        .clone();
    let mode =
        match args.remaining() {
            0 => PauseMode::All,
            1 if args.eat("WRITE") => PauseMode::Write,
            1 if args.eat("ALL") => PauseMode::All,
            1 => return Err(CmdError::new("ERR CLIENT PAUSE mode must be WRITE or ALL")),
            _ => return Err(CmdError::new(
                "ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.",
            )),
        };
    let timeout = crate::store::value::parse_i64_strict(&timeout)
        .ok_or_else(|| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::timeout_negative());
    }
    // A zero timeout ends at once (Redis stores an end time of 0).
    let until = if timeout == 0 {
        0
    } else {
        timeout
            .checked_add(cx.now)
            .ok_or_else(CmdError::timeout_out_of_range)?
    };
    cx.engine.pause_clients(mode, until);
    Ok(Reply::ok())
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: answers a client blocked on keys as if its timeout
/// passed, or with `-UNBLOCKED`. Replies 1 if the client was blocked, else 0.
fn client_unblock(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if !(1..=2).contains(&args.remaining()) {
        return Err(CmdError::arity("client|unblock"));
    }
    let id = args.next_i64()?;
    let as_error = match args.peek() {
        None => false,
        Some(_) if args.eat("TIMEOUT") => false,
        Some(_) if args.eat("ERROR") => true,
        Some(_) => {
            return Err(CmdError::new(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    args.finish()
        .map_err(|_| CmdError::arity("client|unblock"))?;
    let Some(waiter) = u64::try_from(id).ok().and_then(|id| cx.engine.unblock(id)) else {
        return Ok(Reply::Int(0));
    };
    let reply = if as_error {
        Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    } else {
        super::lists::timeout_reply(&waiter.argv[0])
    };
    let _ = waiter.reply.send(reply);
    Ok(Reply::Int(1))
}

fn parse_kind(name: &[u8]) -> Option<ClientKind> {
    match &name.to_ascii_lowercase()[..] {
        b"normal" => Some(ClientKind::Normal),
        b"pubsub" => Some(ClientKind::Pubsub),
        b"replica" | b"slave" => Some(ClientKind::Replica),
        b"master" => Some(ClientKind::Master),
        _ => None,
    }
}

/// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]`
fn client_list(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    while !args.is_empty() {
        if args.eat("TYPE") {
            let name = args.next()?;
            kind = Some(parse_kind(name).ok_or_else(|| {
                CmdError(
                    format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(name)
                    )
                    .into(),
                )
            })?);
        } else if args.eat("ID") {
            let mut list = Vec::new();
            while let Some(arg) = args.peek() {
                let id = super::args::parse_int(arg)
                    .ok()
                    .filter(|&id| id > 0)
                    .ok_or_else(|| CmdError::new("ERR Invalid client ID"))?;
                list.push(id as u64);
                args.next()?;
            }
            ids = Some(list);
        } else {
            return Err(CmdError::syntax());
        }
    }
    let mut text = String::new();
    for handle in cx.shared.clients.all() {
        if kind.is_some_and(|k| handle.meta().kind != k) {
            continue;
        }
        if ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        text.push_str(&handle.info_line());
        text.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// `CLIENT KILL ip:port` or `CLIENT KILL [ID id] [TYPE type] [ADDR ip:port] [LADDR ip:port]
/// [SKIPME yes|no]`
fn client_kill(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if args.remaining() == 1 {
        // Old form: one address, +OK or an error.
        let addr = String::from_utf8_lossy(args.next()?).into_owned();
        let target = cx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|h| h.addr.to_string() == addr);
        return match target {
            Some(handle) => {
                kill(cx, &handle);
                Ok(Reply::ok())
            }
            None => Err(CmdError::new("ERR No such client")),
        };
    }
    let (mut id, mut kind, mut addr, mut laddr, mut skipme) = (None, None, None, None, true);
    while !args.is_empty() {
        let option = args.next()?.to_ascii_lowercase();
        let value = args.next()?;
        match &option[..] {
            b"id" => {
                id = Some(
                    super::args::parse_int(value)
                        .ok()
                        .filter(|&v| v > 0)
                        .ok_or_else(|| CmdError::new("ERR client-id should be greater than 0"))?
                        as u64,
                )
            }
            b"type" => {
                kind = Some(parse_kind(value).ok_or_else(|| {
                    CmdError(
                        format!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(value)
                        )
                        .into(),
                    )
                })?)
            }
            b"addr" => addr = Some(String::from_utf8_lossy(value).into_owned()),
            b"laddr" => laddr = Some(String::from_utf8_lossy(value).into_owned()),
            b"skipme" => {
                skipme = match &value.to_ascii_lowercase()[..] {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(CmdError::syntax()),
                }
            }
            _ => return Err(CmdError::syntax()),
        }
    }
    let mut killed = 0;
    for handle in cx.shared.clients.all() {
        if id.is_some_and(|id| handle.id != id)
            || kind.is_some_and(|k| handle.meta().kind != k)
            || addr.as_ref().is_some_and(|a| handle.addr.to_string() != *a)
            || laddr
                .as_ref()
                .is_some_and(|a| handle.laddr.to_string() != *a)
            || (skipme && handle.id == cx.session.id)
        {
            continue;
        }
        kill(cx, &handle);
        killed += 1;
    }
    Ok(Reply::Int(killed))
}

/// Closes a client; killing oneself closes after the reply, as in Redis.
fn kill(cx: &mut Exec, handle: &crate::server::clients::ClientHandle) {
    if handle.id == cx.session.id {
        cx.set_effect(Effect::Close);
    } else {
        handle.kill();
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    fn words(line: &str) -> Vec<bytes::Bytes> {
        line.split(' ')
            .map(|w| bytes::Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn client_pause_write_postpones_writes_and_exec_of_writes_only() {
        use crate::cmd::Effect;
        let mut h = Harness::new();
        let mut other = crate::server::session::Session::new(2, "127.0.0.1:2".into(), true);
        let mut run_other = |h: &mut Harness, line: &str| {
            let mut engine = h.shared.engine();
            crate::cmd::call(&h.shared, &mut engine, &mut other, &words(line))
        };
        assert_eq!(run_other(&mut h, "multi").0, Reply::ok());
        assert_eq!(run_other(&mut h, "set k v").0, Reply::simple("QUEUED"));
        assert_eq!(h.run(&["client", "pause", "100000", "write"]), Reply::ok());
        assert_eq!(h.run(&["get", "k"]), Reply::Null);
        assert_eq!(
            h.run_argv(&words("set k v")),
            (Reply::None, Effect::Postpone)
        );
        assert_eq!(h.run_argv(&words("publish c m")).1, Effect::Postpone);
        assert_eq!(run_other(&mut h, "exec"), (Reply::None, Effect::Postpone));
        assert_eq!(h.shared.engine().blocked_clients(), 2);
        // Bad arguments are answered at once.
        assert_eq!(
            h.run(&["set", "k"]),
            err("ERR wrong number of arguments for 'set' command")
        );
        assert_eq!(h.run(&["client", "unpause"]), Reply::ok());
        assert_eq!(h.run(&["set", "k", "v"]), Reply::ok());
        assert_eq!(h.shared.engine().blocked_clients(), 1);
        assert_eq!(run_other(&mut h, "exec").0, Reply::Array(vec![Reply::ok()]));
        assert_eq!(h.shared.engine().blocked_clients(), 0);
    }

    #[test]
    fn client_pause_all_postpones_everything_and_checks_its_arguments() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["client", "pause", "10", "some"]),
            err("ERR CLIENT PAUSE mode must be WRITE or ALL")
        );
        assert_eq!(
            h.run(&["client", "pause", "x"]),
            err("ERR timeout is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["client", "pause", "-1"]),
            err("ERR timeout is negative")
        );
        assert_eq!(h.run(&["client", "pause", "100000"]), Reply::ok());
        assert_eq!(h.run_argv(&words("ping")).1, crate::cmd::Effect::Postpone);
        h.shared.engine().unpause_clients();
        assert_eq!(h.run(&["client", "pause", "0", "all"]), Reply::ok());
        assert_eq!(h.run(&["ping"]), Reply::simple("PONG"));
    }

    #[test]
    fn ping_echo_select() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["PING"]), Reply::simple("PONG"));
        assert_eq!(h.run(&["ping", "hi"]), bulk("hi"));
        assert_eq!(
            h.run(&["ping", "a", "b"]),
            err("ERR wrong number of arguments for 'ping' command")
        );
        assert_eq!(h.run(&["echo", "x"]), bulk("x"));
        assert_eq!(h.run(&["select", "15"]), Reply::ok());
        assert_eq!(
            h.run(&["select", "16"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            h.run(&["select", "x"]),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn auth_follows_requirepass() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["auth", "x"]),
            err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        );
        h.shared.config_mut().requirepass = Some("redis".into());
        h.session.authenticated = false;
        assert_eq!(h.run(&["get", "k"]), err("NOAUTH Authentication required."));
        assert_eq!(
            h.run(&["auth", "wrong"]),
            err("WRONGPASS invalid username-password pair or user is disabled.")
        );
        assert_eq!(h.run(&["auth", "redis"]), Reply::ok());
        assert_eq!(h.run(&["get", "k"]), Reply::Null);
    }

    #[test]
    fn hello_switches_protocol_and_answers_a_map() {
        let mut h = Harness::new();
        let Reply::Map(fields) = h.run(&["hello", "3"]) else {
            panic!("HELLO must answer a map")
        };
        assert_eq!(fields[2], (bulk("proto"), Reply::Int(3)));
        assert!(h.session.resp3);
        assert_eq!(
            h.run(&["hello", "4"]),
            err("NOPROTO unsupported protocol version")
        );
        h.run(&["hello", "2", "SETNAME", "me"]);
        assert_eq!(h.run(&["client", "getname"]), bulk("me"));
        assert_eq!(
            h.run(&["client", "nope"]),
            err("ERR unknown subcommand 'nope'. Try CLIENT HELP.")
        );
    }
}
