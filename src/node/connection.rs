//! One client connection: read, parse, run, reply — the first and last steps on the path of a
//! command.
//!
//! The task reads into one buffer, runs every complete request in it under a single
//! acquisition of the keyspace lock, encodes all replies into one output buffer and writes it
//! once (pipelining). A command can change the connection's mode through its
//! [`Effect`](crate::cmd::Effect): a blocking pop registers a waiter (still under the lock, so
//! no push can slip in between) and the task waits for its reply or its timeout; pub/sub and
//! MONITOR messages arrive on the session's push queue and are written as they come.
//! Follows `networking.c` (`readQueryFromClient`, `processInputBuffer`) and `blocked.c`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::cmd::{self, Effect};
use crate::resp::{Reply, RequestParser};
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::engine::Waiter;
use crate::server::pubsub::PushSource;
use crate::server::session::Session;
use crate::server::{Shared, Stats};

/// Bytes read from the socket per read call.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Output is flushed mid-batch once it grows past this, so a long pipeline of big replies
/// does not accumulate in memory (bytes).
const FLUSH_THRESHOLD_BYTES: usize = 64 * 1024;

/// What the batch runner left for the async part of the task to do.
enum Next {
    /// Buffer exhausted: flush and read more.
    Read,
    /// Output is large: flush, then keep running what is buffered.
    Flush,
    /// A blocking command is waiting for data.
    Block(Blocked),
    /// Flush and close.
    Close,
    /// Hand the socket to the replication master side.
    Replicate(crate::repl::master::SyncRequest),
    /// WAIT for replica acknowledgements.
    Wait {
        replicas: usize,
        offset: i64,
        timeout: Option<Duration>,
    },
}

struct Blocked {
    reply: oneshot::Receiver<Reply>,
    timeout: Option<Duration>,
    /// What a timeout answers: nil array for BLPOP/BRPOP, nil bulk for BLMOVE/BRPOPLPUSH.
    on_timeout: Reply,
}

/// Serves one connection until it closes.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let requirepass = shared.config().requirepass.clone();
    let mut session = Session::new(handle.id, handle.addr.to_string(), requirepass.is_none());
    session.handle = Some(handle.clone());
    let max_bulk = shared.config().proto_max_bulk_len as i64;
    let mut parser = RequestParser::new(max_bulk);
    parser.authenticated = session.authenticated;
    let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut output = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut push: Option<PushSource> = None;
    let mut shutdown = shared.shutdown_signal();
    let idle_timeout = shared.config().timeout;

    'connection: loop {
        // Run what is buffered.
        let next = run_batch(&shared, &mut session, &mut parser, &mut input, &mut output);
        if push.is_none() {
            push = session.push_source.take();
        }
        if !output.is_empty() {
            Stats::add(&shared.stats.net_output_bytes, output.len() as u64);
            if stream.write_all(&output).await.is_err() {
                break;
            }
            output.clear();
        }
        update_meta(&handle, &session);
        match next {
            Next::Close => break,
            Next::Replicate(request) => {
                let pending = std::mem::take(&mut input);
                crate::repl::master::serve_replica(
                    shared.clone(),
                    stream,
                    handle.clone(),
                    request,
                    pending,
                )
                .await;
                disconnect(&shared, &mut session);
                return;
            }
            Next::Wait {
                replicas,
                offset,
                timeout,
            } => {
                let acked = tokio::select! {
                    acked = wait_for_acks(&shared, replicas, offset, timeout) => acked,
                    _ = handle.killed() => break,
                    _ = shutdown.changed() => break,
                };
                Reply::Int(acked as i64).encode(session.resp3, &mut output);
                continue;
            }
            Next::Flush => continue,
            Next::Block(blocked) => {
                // While blocked, keep reading: a client that disconnects must stop waiting
                // (else it would still take data when a key is pushed to), and pipelined
                // commands stay buffered until the blocked one is answered, as in Redis.
                let wait = wait_blocked(&shared, &session, blocked);
                tokio::pin!(wait);
                let reply = loop {
                    tokio::select! {
                        reply = &mut wait => break reply,
                        read = stream.read_buf(&mut input) => match read {
                            Ok(n) if n > 0
                                && (input.len() as u64) <= shared.config().client_query_buffer_limit =>
                            {
                                Stats::add(&shared.stats.net_input_bytes, n as u64);
                            }
                            _ => break None,
                        },
                        _ = handle.killed() => break None,
                        _ = shutdown.changed() => break None,
                    }
                };
                let Some(reply) = reply else {
                    shared.engine().unblock(session.id);
                    break;
                };
                session
                    .filter_reply(reply)
                    .encode(session.resp3, &mut output);
                continue;
            }
            Next::Read => {}
        }
        // Wait for input, a pushed message, a kill, shutdown or the idle timeout.
        loop {
            let idle = idle_limit(idle_timeout, &session);
            tokio::select! {
                read = stream.read_buf(&mut input) => {
                    match read {
                        Ok(0) | Err(_) => break 'connection,
                        Ok(n) => {
                            Stats::add(&shared.stats.net_input_bytes, n as u64);
                            if input.len() as u64 > shared.config().client_query_buffer_limit {
                                shared.emit(crate::server::events::Event::Warning {
                                    text: format!("Closing client that reached max query buffer length: addr={}", session.addr),
                                });
                                break 'connection;
                            }
                            continue 'connection;
                        }
                    }
                }
                message = recv_push(&mut push) => {
                    let Some(message) = message else { break 'connection };
                    let source = push.as_mut().expect("recv_push returned a message");
                    source.delivered(&message);
                    message.encode(session.resp3, &mut output);
                    while let Ok(more) = source.rx.try_recv() {
                        source.delivered(&more);
                        more.encode(session.resp3, &mut output);
                        if output.len() > FLUSH_THRESHOLD_BYTES { break; }
                    }
                    if source.overflowed() {
                        shared.emit(crate::server::events::Event::Warning {
                            text: format!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", session.id, session.addr),
                        });
                        break 'connection;
                    }
                    Stats::add(&shared.stats.net_output_bytes, output.len() as u64);
                    if stream.write_all(&output).await.is_err() { break 'connection; }
                    output.clear();
                }
                _ = handle.killed() => break 'connection,
                _ = shutdown.changed() => break 'connection,
                _ = sleep_or_forever(idle) => break 'connection,
            }
        }
    }
    disconnect(&shared, &mut session);
}

/// Runs every complete request in `input`. The keyspace lock is taken once for the batch, and
/// the batch's writes become replication stream before it is released.
fn run_batch(
    shared: &Shared,
    session: &mut Session,
    parser: &mut RequestParser,
    input: &mut BytesMut,
    output: &mut BytesMut,
) -> Next {
    let mut engine = None;
    let next = run_requests(shared, session, parser, input, output, &mut engine);
    if let Some(engine) = engine.as_mut() {
        crate::repl::flush(shared, engine);
    }
    next
}

fn run_requests<'a>(
    shared: &'a Shared,
    session: &mut Session,
    parser: &mut RequestParser,
    input: &mut BytesMut,
    output: &mut BytesMut,
    engine: &mut Option<std::sync::MutexGuard<'a, crate::server::engine::Engine>>,
) -> Next {
    loop {
        let argv = match parser.parse(input) {
            Ok(Some(argv)) => argv,
            Ok(None) => return Next::Read,
            Err(error) => {
                Reply::error(format!("ERR {error}")).encode(session.resp3, output);
                shared.emit(crate::server::events::Event::Notice {
                    text: format!(
                        "Protocol error ({}) from client: addr={}",
                        error.0, session.addr
                    ),
                });
                return Next::Close;
            }
        };
        if argv.is_empty() {
            continue;
        }
        let engine = engine.get_or_insert_with(|| shared.engine());
        session.start_command();
        let (reply, effect) = cmd::call(shared, engine, session, &argv);
        parser.authenticated = session.authenticated;
        session.filter_reply(reply).encode(session.resp3, output);
        match effect {
            Effect::None => {}
            Effect::Close => return Next::Close,
            Effect::Shutdown(mode) => {
                shared.request_shutdown(mode);
                return Next::Close;
            }
            Effect::Replicate(request) => return Next::Replicate(request),
            Effect::Wait {
                replicas,
                offset,
                timeout,
            } => {
                return Next::Wait {
                    replicas,
                    offset,
                    timeout,
                }
            }
            Effect::Block { keys, timeout } => {
                let (tx, rx) = oneshot::channel();
                let on_timeout = if is_single_value_pop(&argv[0]) {
                    Reply::Null
                } else {
                    Reply::NullArray
                };
                engine.block(Waiter {
                    client: session.id,
                    db: session.db,
                    resp3: session.resp3,
                    argv,
                    keys,
                    reply: tx,
                });
                return Next::Block(Blocked {
                    reply: rx,
                    timeout,
                    on_timeout,
                });
            }
        }
        if output.len() > FLUSH_THRESHOLD_BYTES {
            return Next::Flush;
        }
    }
}

/// BLMOVE and BRPOPLPUSH answer a nil bulk on timeout; the other blocking pops a nil array.
fn is_single_value_pop(name: &Bytes) -> bool {
    name.eq_ignore_ascii_case(b"blmove") || name.eq_ignore_ascii_case(b"brpoplpush")
}

/// Waits for a blocked command's reply or its timeout. `None` if the waiter vanished.
async fn wait_blocked(shared: &Shared, session: &Session, blocked: Blocked) -> Option<Reply> {
    let Blocked {
        mut reply,
        timeout,
        on_timeout,
    } = blocked;
    if let Some(handle) = &session.handle {
        handle.meta().blocked = true;
    }
    let outcome = match timeout {
        None => (&mut reply).await.ok(),
        Some(limit) => match tokio::time::timeout(limit, &mut reply).await {
            Ok(result) => result.ok(),
            Err(_) => {
                // Timed out: unless a writer served us meanwhile, answer nil.
                if shared.engine().unblock(session.id).is_some() {
                    Some(on_timeout)
                } else {
                    reply.try_recv().ok()
                }
            }
        },
    };
    if let Some(handle) = &session.handle {
        handle.meta().blocked = false;
    }
    outcome
}

/// WAIT: asks replicas for an ACK, then polls (every 10 ms) until enough acknowledged `offset`
/// or the timeout passes. Returns how many did.
async fn wait_for_acks(
    shared: &Shared,
    replicas: usize,
    offset: i64,
    timeout: Option<Duration>,
) -> usize {
    crate::repl::request_acks(shared);
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    loop {
        let acked = crate::repl::acked_replicas(shared, offset);
        if acked >= replicas || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return acked;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn recv_push(push: &mut Option<PushSource>) -> Option<Reply> {
    match push {
        Some(source) => source.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The idle limit for this client: `timeout` seconds, except for pub/sub and blocked clients,
/// which Redis never closes for idleness.
fn idle_limit(timeout_secs: u64, session: &Session) -> Option<Duration> {
    if timeout_secs == 0 || session.subscription_count() > 0 || session.monitor {
        None
    } else {
        Some(Duration::from_secs(timeout_secs))
    }
}

async fn sleep_or_forever(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Mirrors the session into the handle CLIENT LIST reads, once per batch.
fn update_meta(handle: &ClientHandle, session: &Session) {
    let mut meta = handle.meta();
    meta.db = session.db;
    meta.name = session.name.clone();
    meta.subscriptions = session.channels.len();
    meta.patterns = session.patterns.len();
    meta.multi = session.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
    meta.resp = if session.resp3 { 3 } else { 2 };
    meta.monitor = session.monitor;
    meta.last_interaction = std::time::Instant::now();
    meta.last_command = session.last_command.to_string();
    if session.subscription_count() > 0 && meta.kind == ClientKind::Normal {
        meta.kind = ClientKind::Pubsub;
    } else if session.subscription_count() == 0 && meta.kind == ClientKind::Pubsub {
        meta.kind = ClientKind::Normal;
    }
}

/// Releases what a closing connection held: watches, subscriptions, MONITOR, a blocked pop.
fn disconnect(shared: &Shared, session: &mut Session) {
    {
        let mut engine = shared.engine();
        engine.unwatch_all(session.id, &session.watched);
        engine.unblock(session.id);
    }
    if !session.channels.is_empty() || !session.patterns.is_empty() {
        let mut pubsub = shared.pubsub();
        for channel in session.channels.drain() {
            pubsub.unsubscribe(&channel, session.id);
        }
        for pattern in session.patterns.drain() {
            pubsub.punsubscribe(&pattern, session.id);
        }
    }
    if session.monitor {
        shared.remove_monitor(session.id);
    }
    shared.clients.unregister(session.id);
}
