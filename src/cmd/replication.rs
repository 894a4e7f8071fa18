//! Replication commands: REPLICAOF (and SLAVEOF), REPLCONF, PSYNC, SYNC, WAIT, ROLE.
//!
//! PSYNC and SYNC only record what the replica asked for; the connection task then hands its
//! socket to the runtime's master side (`node::serve_replica`). REPLICAOF changes the role
//! through [`crate::server::role::change_role`]; the runtime starts or stops the replica link.

use std::time::Duration;

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Effect, Exec, Spec};
use crate::repl::ReplicaState;
use crate::repl::SyncRequest;
use crate::resp::Reply;
use crate::server::role::{change_role, Cause, Role, RoleChange};

/// The replication commands' table entries.
pub const COMMANDS: &[Spec] = &[
    // Allowed inside MULTI, as in Redis: Sentinel sends it in a MULTI block.
    Spec::new("replicaof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    Spec::new("slaveof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    Spec::new(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        replconf,
    ),
    Spec::new("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, psync),
    Spec::new("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, sync),
    Spec::new("wait", 3, NOSCRIPT, wait),
    Spec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role),
];

/// `REPLICAOF host port | REPLICAOF NO ONE`: one role change through
/// [`change_role`]. Allowed inside MULTI (a Sentinel promotes with `MULTI / SLAVEOF NO ONE /
/// CONFIG REWRITE / CLIENT KILL / EXEC`); the runtime starts or stops the link after the
/// command, when the role change is announced.
fn replicaof(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.engine.cluster.is_some() {
        return Err(CmdError::new("ERR REPLICAOF not allowed in cluster mode."));
    }
    let host = args.next()?.clone();
    let port = args.next()?.clone();
    let to = if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        Role::Master
    } else {
        let port = super::args::parse_int(&port)
            .ok()
            .filter(|p| (0..=65535).contains(p))
            .ok_or_else(|| CmdError::new("ERR Invalid master port"))? as u16;
        let host = String::from_utf8_lossy(&host).into_owned();
        Role::ReplicaOf { host, port }
    };
    Ok(
        match change_role(cx.shared, cx.engine, to, Cause::Request, cx.now) {
            RoleChange::AlreadyConnected => {
                Reply::simple("OK Already connected to specified master")
            }
            RoleChange::Unchanged | RoleChange::NowReplica | RoleChange::Promoted => Reply::ok(),
        },
    )
}

/// `REPLCONF listening-port <port> | ip-address <ip> | capa <capa>... | ack <offset> | getack *`
fn replconf(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if !args.remaining().is_multiple_of(2) {
        return Err(CmdError::syntax());
    }
    while !args.is_empty() {
        let option = args.next()?.to_ascii_lowercase();
        let value = args.next()?;
        match &option[..] {
            b"listening-port" => {
                let port = super::args::parse_int(value)?;
                cx.session.replconf.listening_port = u16::try_from(port).ok();
            }
            b"capa" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    cx.session.replconf.capa_eof = true;
                } else if value.eq_ignore_ascii_case(b"psync2") {
                    cx.session.replconf.capa_psync2 = true;
                }
            }
            // ACK and GETACK arrive on replication links, which do not reply to them.
            b"ack" | b"getack" => return Ok(Reply::None),
            b"ip-address" | b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Err(CmdError(
                    format!(
                        "ERR Unrecognized REPLCONF option: {}",
                        String::from_utf8_lossy(&option)
                    )
                    .into(),
                ))
            }
        }
    }
    Ok(Reply::ok())
}

fn check_can_serve_sync(cx: &Exec) -> Result<(), CmdError> {
    if cx.engine.repl.is_replica() && !cx.engine.repl.master.as_ref().is_some_and(|m| m.up) {
        return Err(CmdError::new(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    if cx.session.multi.is_some() {
        return Err(CmdError::new("ERR Replica can't be in MULTI"));
    }
    Ok(())
}

/// `PSYNC replid offset`
fn psync(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    check_can_serve_sync(cx)?;
    let replid = String::from_utf8_lossy(args.next()?).into_owned();
    let offset = args.next_i64()?;
    cx.set_effect(Effect::Replicate(SyncRequest {
        psync: Some((replid, offset)),
        listening_port: cx.session.replconf.listening_port,
        capa_eof: cx.session.replconf.capa_eof,
        capa_psync2: cx.session.replconf.capa_psync2,
    }));
    Ok(Reply::None)
}

/// `SYNC`: the old full-sync protocol (what `redis-cli --rdb` sends).
fn sync(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    check_can_serve_sync(cx)?;
    cx.set_effect(Effect::Replicate(SyncRequest {
        psync: None,
        listening_port: cx.session.replconf.listening_port,
        capa_eof: false,
        capa_psync2: false,
    }));
    Ok(Reply::None)
}

/// `WAIT numreplicas timeout`: blocks until that many replicas acknowledged every write made so
/// far, or the timeout (ms, 0 = forever); replies how many did.
fn wait(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.engine.repl.is_replica() {
        return Err(CmdError::new("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let wanted = args.next_i64()?;
    let timeout = args.next_i64()?;
    if timeout < 0 {
        return Err(CmdError::timeout_negative());
    }
    crate::server::propagation::flush(cx.shared, cx.engine);
    let offset = cx.engine.repl.offset;
    let acked = cx.engine.repl.acked_replicas(offset);
    if acked as i64 >= wanted || cx.session.multi.is_some() || !cx.session.may_block {
        return Ok(Reply::Int(acked as i64));
    }
    cx.set_effect(Effect::Wait {
        replicas: wanted.max(0) as usize,
        offset,
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
    });
    Ok(Reply::None)
}

/// `ROLE`: `[master, offset, [[ip, port, ack]...]]` or `[slave, host, port, state, offset]`.
fn role(cx: &mut Exec, _args: &mut Args) -> Result<Reply, CmdError> {
    let repl = &cx.engine.repl;
    if let Some(master) = &repl.master {
        let state = if master.up {
            "connected"
        } else if master.sync_in_progress {
            "sync"
        } else {
            "connect"
        };
        return Ok(Reply::Array(vec![
            Reply::bulk(b"slave"),
            Reply::Bulk(Bytes::from(master.host.clone())),
            Reply::Int(master.port as i64),
            Reply::bulk(state.as_bytes()),
            Reply::Int(repl.offset),
        ]));
    }
    let replicas = repl
        .replicas
        .iter()
        .filter(|r| r.state == ReplicaState::Online)
        .map(|r| {
            Reply::Array(vec![
                Reply::Bulk(Bytes::from(r.ip.clone())),
                Reply::Bulk(Bytes::from(r.port.to_string())),
                Reply::Bulk(Bytes::from(r.ack_offset.to_string())),
            ])
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::bulk(b"master"),
        Reply::Int(repl.offset),
        Reply::Array(replicas),
    ]))
}
