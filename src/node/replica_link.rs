//! The replica's side of replication (`replication.c`: `connectWithMaster`,
//! `syncWithMaster`, `readSyncBulkPayload`, `replicationCron`).
//!
//! One task per role change to replica ([`crate::server::role`] announces it, the runtime
//! spawns [`run`] for its generation): connect; `PING`; `AUTH` if `masterauth` is set; `REPLCONF
//! listening-port` and `REPLCONF capa eof capa psync2`; `PSYNC <replid> <offset+1>` (or
//! `PSYNC ? -1` with no history). `+FULLRESYNC`: the snapshot (`$<len>` or `$EOF:<mark>`, with
//! `\n` keep-alives skipped) is stored in a temp file, loaded, and only then replaces the
//! dataset — a master that dies mid-transfer leaves the previous data. `+CONTINUE [replid]`:
//! the data is kept and the stream resumes. Then every command of the stream is applied in
//! order, its bytes counted in the offset and passed verbatim to our own backlog and replicas
//! (chained replication); `REPLCONF ACK <offset>` goes out every second and in answer to
//! `REPLCONF GETACK`. A lost link is retried with backoff while reads keep being served.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::persist::rdb;
use crate::repl::{encode_command, MasterLink};
use crate::resp::RequestParser;
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::events::Event;
use crate::server::role::apply_expiry_mode;
use crate::server::session::Session;
use crate::server::{unix_ms, Shared};

/// Longest wait between reconnection attempts (ms).
const MAX_BACKOFF_MS: u64 = 5000;
/// Bound on one handshake reply line (bytes).
const MAX_LINE: usize = 64 * 1024;

/// Why a link attempt ended.
#[derive(Debug)]
enum LinkEnd {
    /// REPLICAOF changed: this task must stop.
    Replaced,
    /// Something failed (and what the log says of it, if anything); retry after a pause.
    Retry(Option<Event>),
}

fn current_generation(shared: &Shared) -> Option<u64> {
    shared.engine().repl.master.as_ref().map(|m| m.generation)
}

fn update_link(shared: &Shared, generation: u64, f: impl FnOnce(&mut MasterLink)) {
    let mut engine = shared.engine();
    if let Some(link) = engine
        .repl
        .master
        .as_mut()
        .filter(|m| m.generation == generation)
    {
        f(link);
    }
}

/// The link task for one role change (`generation`, see [`crate::server::role`]): connects,
/// syncs and streams, reconnecting until the role changes again.
pub async fn run(shared: Arc<Shared>, generation: u64) {
    let mut backoff_ms = 1000;
    let mut shutdown = shared.shutdown_signal();
    loop {
        if current_generation(&shared) != Some(generation) {
            return;
        }
        let end = tokio::select! {
            end = link_once(&shared, generation) => end,
            _ = shutdown.changed() => return,
        };
        let was_up = shared.engine().repl.master.as_ref().is_some_and(|m| m.up);
        update_link(&shared, generation, |m| {
            if m.up {
                m.down_since_ms = unix_ms();
            }
            m.up = false;
            m.sync_in_progress = false;
        });
        match end {
            LinkEnd::Replaced => return,
            LinkEnd::Retry(reason) => {
                if let Some(event) = reason {
                    shared.emit(event);
                }
                if was_up {
                    shared.emit(Event::MasterLinkLost);
                    shared.emit(Event::CachingMasterState);
                    backoff_ms = 1000;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
        backoff_ms = (backoff_ms * 2).min(MAX_BACKOFF_MS);
    }
}

/// Reads a line (without CRLF) from the master, skipping `\n` keep-alives.
async fn read_line(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<String, Event> {
    loop {
        while buf.first() == Some(&b'\n') {
            buf.advance(1);
        }
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(pos + 1);
            let text = String::from_utf8_lossy(&line[..pos]);
            return Ok(text.trim_end_matches('\r').to_string());
        }
        if buf.len() > MAX_LINE {
            return Err(Event::MasterProtocolError {
                error: "reply line too long".into(),
            });
        }
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read_buf(buf))
            .await
            .map_err(|_| Event::MasterConnectTimeout)?;
        match read {
            Ok(0) => {
                return Err(Event::MasterConnectFailed {
                    error: "Connection closed by the master".into(),
                })
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Event::MasterConnectFailed {
                    error: e.to_string(),
                })
            }
        }
    }
}

async fn send(stream: &mut TcpStream, argv: &[&[u8]]) -> Result<(), Event> {
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut out = BytesMut::new();
    encode_command(&argv, &mut out);
    stream
        .write_all(&out)
        .await
        .map_err(|e| Event::MasterConnectFailed {
            error: e.to_string(),
        })
}

/// One connection to the master: handshake, sync, stream.
async fn link_once(shared: &Arc<Shared>, generation: u64) -> LinkEnd {
    let Some(master) = shared.engine().repl.master.clone() else {
        return LinkEnd::Replaced;
    };
    let addr = format!("{}:{}", master.host, master.port);
    shared.emit(Event::ConnectingToMaster { addr: addr.clone() });
    let mut stream =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return LinkEnd::Retry(Some(Event::MasterConnectFailed {
                    error: e.to_string(),
                }))
            }
            Err(_) => return LinkEnd::Retry(Some(Event::MasterConnectTimeout)),
        };
    let _ = stream.set_nodelay(true);
    shared.emit(Event::MasterSyncStarted);
    update_link(shared, generation, |m| m.sync_in_progress = true);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    match handshake(shared, &mut stream, &mut buf).await {
        Ok(()) => {}
        Err(reason) => return LinkEnd::Retry(reason),
    }
    if current_generation(shared) != Some(generation) {
        return LinkEnd::Replaced;
    }
    // PSYNC with what we have.
    let (psync_id, psync_offset) = {
        let engine = shared.engine();
        let repl = &engine.repl;
        if repl.has_history {
            (repl.replid.clone(), repl.offset + 1)
        } else {
            ("?".to_string(), -1)
        }
    };
    if psync_id == "?" {
        shared.emit(Event::PartialResyncImpossible);
    } else {
        shared.emit(Event::PartialResyncTried {
            replid: psync_id.clone(),
            offset: psync_offset,
        });
    }
    let offset_text = psync_offset.to_string();
    if let Err(reason) = send(
        &mut stream,
        &[b"PSYNC", psync_id.as_bytes(), offset_text.as_bytes()],
    )
    .await
    {
        return LinkEnd::Retry(Some(reason));
    }
    let reply = match read_line(&mut stream, &mut buf).await {
        Ok(reply) => reply,
        Err(reason) => return LinkEnd::Retry(Some(reason)),
    };
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split_whitespace();
        let (Some(replid), Some(Ok(offset))) = (parts.next(), parts.next().map(str::parse::<i64>))
        else {
            return LinkEnd::Retry(Some(Event::UnexpectedPsyncReply { reply }));
        };
        shared.emit(Event::FullResyncFromMaster {
            replid: replid.to_string(),
            offset,
        });
        if let Err(reason) = full_sync(shared, &mut stream, &mut buf, replid, offset).await {
            return LinkEnd::Retry(Some(reason));
        }
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        let changed = {
            let mut guard = shared.engine();
            let engine = &mut *guard;
            let changed = !new_id.is_empty() && new_id != engine.repl.replid;
            if changed {
                // The master was promoted: its old history is ours up to here (PSYNC2).
                engine.repl.shift_replid(&mut engine.rng);
                engine.repl.replid = new_id.to_string();
            }
            changed
        };
        if changed {
            shared.emit(Event::MasterReplidChanged {
                replid: new_id.to_string(),
            });
        }
        shared.emit(Event::PartialResyncFromMaster);
        shared.emit(Event::PartialResyncAcceptedByMaster);
    } else {
        return LinkEnd::Retry(Some(Event::UnexpectedPsyncReply { reply }));
    }
    update_link(shared, generation, |m| {
        m.up = true;
        m.sync_in_progress = false;
        m.last_io_ms = unix_ms();
    });
    // The link is a client like any other: CLIENT LIST shows it, `CLIENT KILL TYPE master`
    // breaks it.
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return LinkEnd::Retry(None);
    };
    let handle = Arc::new(ClientHandle::new(shared.next_client_id(), peer, local));
    handle.meta().kind = ClientKind::Master;
    shared.clients.register(handle.clone());
    let end = stream_from_master(shared, stream, buf, generation, &handle).await;
    shared.clients.unregister(handle.id);
    end
}

/// PING, AUTH, REPLCONF listening-port, REPLCONF capa.
async fn handshake(
    shared: &Shared,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<(), Option<Event>> {
    send(stream, &[b"PING"]).await?;
    let pong = read_line(stream, buf).await?;
    // NOAUTH / NOPERM / operation not permitted mean "reachable, authenticate next".
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(Some(Event::PingRefused { reply: pong }));
    }
    shared.emit(Event::MasterRepliedToPing);
    let (auth, user, port) = {
        let config = shared.config();
        (
            config.masterauth.clone(),
            config.masteruser.clone(),
            if config.replica_announce_port != 0 {
                config.replica_announce_port
            } else {
                shared.port.load(Ordering::Relaxed) as u16
            },
        )
    };
    if let Some(password) = auth {
        match &user {
            Some(user) => send(stream, &[b"AUTH", user.as_bytes(), password.as_bytes()]).await?,
            None => send(stream, &[b"AUTH", password.as_bytes()]).await?,
        }
        let reply = read_line(stream, buf).await?;
        if reply.starts_with('-') {
            return Err(Some(Event::MasterAuthFailed { error: reply }));
        }
    }
    let port = port.to_string();
    send(stream, &[b"REPLCONF", b"listening-port", port.as_bytes()]).await?;
    send(stream, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    for what in ["listening-port", "capa"] {
        let reply = read_line(stream, buf).await?;
        if reply.starts_with('-') {
            // Old masters may refuse REPLCONF; Redis goes on, and so do we.
            shared.emit(Event::ReplconfRefused {
                what: what.into(),
                reply,
            });
        }
    }
    Ok(())
}

/// Reads the snapshot into a temp file, loads it, and replaces the dataset with it.
async fn full_sync(
    shared: &Shared,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    replid: &str,
    offset: i64,
) -> Result<(), Event> {
    let header = read_line(stream, buf).await?;
    let Some(spec) = header.strip_prefix('$') else {
        return Err(Event::BadBulkHeader { reply: header });
    };
    let dir = shared.config().dir.clone();
    let temp = dir.join(format!("temp-{}-{}.rdb", unix_ms(), std::process::id()));
    let mut data: Vec<u8> = Vec::new();
    if let Some(mark) = spec.strip_prefix("EOF:") {
        shared.emit(Event::ReceivingStreamedRdb);
        let mark = mark.as_bytes().to_vec();
        loop {
            data.extend_from_slice(&buf.split());
            if data.len() >= mark.len() && data.ends_with(&mark) {
                data.truncate(data.len() - mark.len());
                break;
            }
            read_more(stream, buf).await?;
        }
    } else {
        let len: usize = spec.parse().map_err(|_| Event::BadBulkHeader {
            reply: header.clone(),
        })?;
        shared.emit(Event::ReceivingRdb { bytes: len });
        while buf.len() < len {
            read_more(stream, buf).await?;
        }
        data.extend_from_slice(&buf.split_to(len));
    }
    tokio::fs::write(&temp, &data)
        .await
        .map_err(|e| Event::MasterTransferFailed {
            error: format!("writing {}: {e}", temp.display()),
        })?;
    let snapshot = match rdb::load_snapshot(&data[..]) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(Event::MasterRdbLoadFailed {
                error: e.to_string(),
            });
        }
    };
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
                engine.dbs[index] = db;
            }
        }
        apply_expiry_mode(&mut engine);
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
        // Our own replicas hold a history we just threw away: they must resync.
        for replica in repl.replicas.drain(..) {
            if let Some(handle) = shared.clients.get(replica.client) {
                handle.kill();
            }
        }
        engine.propagate = true;
        keys
    };
    let target = {
        let config = shared.config();
        config.dir.join(&config.dbfilename)
    };
    let _ = std::fs::rename(&temp, &target);
    shared.emit(Event::RdbLoaded { keys, expired: 0 });
    shared.emit(Event::MasterSyncFinished);
    Ok(())
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), Event> {
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_buf(buf))
        .await
        .map_err(|_| Event::MasterTransferTimeout)?;
    match read {
        Ok(0) => Err(Event::MasterTransferFailed {
            error: "connection lost".into(),
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(Event::MasterTransferFailed {
            error: e.to_string(),
        }),
    }
}

/// Applies the master's stream until the link breaks or REPLICAOF changes.
async fn stream_from_master(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    mut buf: BytesMut,
    generation: u64,
    handle: &ClientHandle,
) -> LinkEnd {
    let mut parser = RequestParser::new(i64::MAX);
    let mut pending_raw = BytesMut::new();
    let mut session = Session::new(0, "master".into(), true);
    session.is_master_link = true;
    session.may_block = false;
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = Instant::now();
    let timeout = Duration::from_secs(shared.config().repl_timeout.max(1));
    loop {
        // Apply every complete command, keeping the exact bytes each one took on the wire
        // (a command may span several reads: `pending_raw` holds its first part).
        let mut acks = Vec::new();
        {
            let mut engine = shared.engine();
            let snapshot = buf.clone().freeze();
            let mut pos = 0;
            loop {
                let before = buf.len();
                let parsed = parser.parse(&mut buf);
                let consumed = before - buf.len();
                pending_raw.extend_from_slice(&snapshot[pos..pos + consumed]);
                pos += consumed;
                let argv = match parsed {
                    Ok(Some(argv)) => argv,
                    Ok(None) => break,
                    Err(e) => {
                        return LinkEnd::Retry(Some(Event::MasterProtocolError {
                            error: e.to_string(),
                        }))
                    }
                };
                let raw = pending_raw.split().freeze();
                if argv.is_empty() {
                    continue; // a bare \n keep-alive: not part of the stream
                }
                if argv.len() >= 2
                    && argv[0].eq_ignore_ascii_case(b"replconf")
                    && argv[1].eq_ignore_ascii_case(b"getack")
                {
                    // The ACK does not include the GETACK itself.
                    acks.push(engine.repl.offset);
                } else if !argv[0].eq_ignore_ascii_case(b"ping") {
                    crate::cmd::call(shared, &mut engine, &mut session, &argv);
                }
                // Proxy the exact bytes: offset, our backlog, our own replicas.
                engine.repl.feed(&raw);
            }
        }
        for offset in acks {
            let text = offset.to_string();
            if send(&mut stream, &[b"REPLCONF", b"ACK", text.as_bytes()])
                .await
                .is_err()
            {
                return LinkEnd::Retry(None);
            }
        }
        if current_generation(shared) != Some(generation) {
            return LinkEnd::Replaced;
        }
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => return LinkEnd::Retry(None),
                    Ok(_) => {
                        last_io = Instant::now();
                        update_link(shared, generation, |m| m.last_io_ms = unix_ms());
                    }
                }
            }
            _ = handle.killed() => return LinkEnd::Retry(None),
            _ = ack.tick() => {
                if current_generation(shared) != Some(generation) {
                    return LinkEnd::Replaced;
                }
                if last_io.elapsed() > timeout {
                    return LinkEnd::Retry(Some(Event::MasterTimedOut));
                }
                let text = shared.engine().repl.offset.to_string();
                if send(&mut stream, &[b"REPLCONF", b"ACK", text.as_bytes()]).await.is_err() {
                    return LinkEnd::Retry(None);
                }
            }
        }
    }
}
