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
//!
//! Limits, as Redis enforces them: `client-query-buffer-limit` on what is buffered unparsed,
//! `proto-max-bulk-len` in the parser, `client-output-buffer-limit` (normal or pub/sub class)
//! on what waits to be written — the unwritten part of the output plus queued pub/sub
//! messages — and `timeout` for idle clients (never subscribers, MONITOR or blocked ones).

use crate::events::Event;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::cmd::{self, Effect};
use crate::config::ObufLimit;
use crate::resp::request::peek_second_arg;
use crate::resp::{Reply, RequestParser};
use crate::server::clients::{ClientHandle, ClientKind};
use crate::server::engine::Waiter;
use crate::server::pubsub::PushSource;
use crate::server::session::{release as disconnect, Session};
use crate::server::{Shared, Stats};

/// Bytes read from the socket per read call.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Buffers larger than this are released once empty, so that a connection that once sent or
/// received something big does not keep the memory (Redis's `clientsCronResizeQueryBuffer`
/// and `clientsCronResizeOutputBuffer`). Idle connections hold no buffer at all.
const KEEP_BUFFER_BYTES: usize = 4 * READ_CHUNK_BYTES;
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
    /// CLIENT PAUSE postponed this command: run it again once the pause ends.
    Postpone(Vec<Bytes>),
    /// A Lua script to run on a thread of its own (see [`crate::server::script_run`]).
    Script(Vec<Bytes>),
    /// Another client's script holds the keyspace: run this command once the script is busy
    /// (then it may be answered without the keyspace) or, `until_end`, once it is done.
    AwaitScript { argv: Vec<Bytes>, until_end: bool },
    /// Flush and close.
    Close,
    /// Hand the socket to the replication master side.
    Replicate(crate::repl::SyncRequest),
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
    let mut input = BytesMut::new();
    let mut output = BytesMut::new();
    let mut push: Option<PushSource> = None;
    let mut shutdown = shared.shutdown_signal();
    let mut limits = ConnLimits::read(&shared);
    // A command to run before what is buffered after it (postponed by CLIENT PAUSE, or waiting
    // for a script), and whether it already started (CLIENT REPLY SKIP counted it).
    let mut postponed: Option<Pending> = None;

    'connection: loop {
        // Run what is buffered.
        let tickets_before = shared.aof_sync.requested();
        let next = run_batch(
            &shared,
            &mut session,
            &mut parser,
            &mut postponed,
            &mut input,
            &mut output,
        );
        if push.is_none() {
            push = session.push_source.take();
        }
        limits.refresh(&shared);
        let limit = limits.output(&session);
        if let Some(source) = &push {
            source.set_limit(limit.hard_bytes.min(usize::MAX as u64) as usize);
        }
        // Under `appendfsync always`, what this batch wrote is acknowledged only once an
        // fsync covers it (one per turn for every connection: see `server::aof_sync`).
        let ticket = shared.aof_sync.requested();
        if ticket > tickets_before {
            shared.aof_sync.wait(ticket).await;
        }
        if !output.is_empty() {
            let queued = || push.as_ref().map_or(0, |p| p.queued_bytes());
            match write_output(&shared, &mut stream, &mut output, limit, &handle, queued).await {
                Ok(()) => {}
                Err(WriteError::OverLimit) => {
                    warn_output_limit(&shared, &session);
                    break;
                }
                Err(WriteError::Gone) => break,
            }
        }
        update_meta(&handle, &session);
        match next {
            Next::Close => break,
            Next::Replicate(request) => {
                let pending = std::mem::take(&mut input);
                super::serve_replica::serve_replica(
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
                let reply = wait_reading(
                    &shared,
                    &stream,
                    &mut input,
                    limits.query_buffer,
                    &handle,
                    &mut shutdown,
                    wait,
                )
                .await;
                let Some(reply) = reply.flatten() else {
                    shared.engine().unblock(session.id);
                    break;
                };
                session
                    .filter_reply(reply)
                    .encode(session.resp3, &mut output);
                continue;
            }
            Next::Postpone(argv) => {
                postponed = Some(Pending {
                    argv,
                    started: true,
                });
                handle.meta().blocked = true;
                let wait = wait_for_unpause(&shared);
                let woken = wait_reading(
                    &shared,
                    &stream,
                    &mut input,
                    limits.query_buffer,
                    &handle,
                    &mut shutdown,
                    wait,
                )
                .await;
                handle.meta().blocked = false;
                if woken.is_none() {
                    break;
                }
                continue;
            }
            Next::AwaitScript { argv, until_end } => {
                postponed = Some(Pending {
                    argv,
                    started: false,
                });
                let wait = wait_for_script(&shared, until_end);
                let woken = wait_reading(
                    &shared,
                    &stream,
                    &mut input,
                    limits.query_buffer,
                    &handle,
                    &mut shutdown,
                    wait,
                )
                .await;
                if woken.is_none() {
                    break;
                }
                continue;
            }
            Next::Script(argv) => {
                let Some((reply, effect)) =
                    run_script_off_thread(&shared, &mut session, argv.clone()).await
                else {
                    break;
                };
                session
                    .filter_reply(reply)
                    .encode(session.resp3, &mut output);
                match effect {
                    Effect::Close => {
                        let queued = || 0;
                        let limit = limits.output(&session);
                        let _ =
                            write_output(&shared, &mut stream, &mut output, limit, &handle, queued)
                                .await;
                        break;
                    }
                    Effect::Shutdown(mode) => {
                        shared.request_shutdown(mode);
                        break;
                    }
                    Effect::Postpone => {
                        // CLIENT PAUSE holds the script: wait, then try it again.
                        postponed = Some(Pending {
                            argv,
                            started: true,
                        });
                        handle.meta().blocked = true;
                        let wait = wait_for_unpause(&shared);
                        let woken = wait_reading(
                            &shared,
                            &stream,
                            &mut input,
                            limits.query_buffer,
                            &handle,
                            &mut shutdown,
                            wait,
                        )
                        .await;
                        handle.meta().blocked = false;
                        if woken.is_none() {
                            break;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Next::Read => {}
        }
        release_if_large(&mut output);
        if input.is_empty() {
            // Nothing buffered: an idle connection holds no read buffer.
            input = BytesMut::new();
        }
        // Wait for input, a pushed message, a kill, shutdown or the idle timeout.
        loop {
            limits.refresh(&shared);
            let idle = idle_limit(limits.idle_timeout, &session);
            tokio::select! {
                read = read_some(&stream, &mut input) => {
                    match read {
                        Ok(0) | Err(_) => break 'connection,
                        Ok(n) => {
                            Stats::add(&shared.stats.net_input_bytes, n as u64);
                            shared.client_activity.touch();
                            if input.len() as u64 > limits.query_buffer {
                                shared.emit(Event::QueryBufferLimitReached {
                                    addr: session.addr.clone(),
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
                    if let Some(message) = as_delivered(&mut session, message) {
                        message.encode(session.resp3, &mut output);
                    }
                    while let Ok(more) = source.rx.try_recv() {
                        source.delivered(&more);
                        if let Some(more) = as_delivered(&mut session, more) {
                            more.encode(session.resp3, &mut output);
                        }
                        if output.len() > FLUSH_THRESHOLD_BYTES { break; }
                    }
                    if source.overflowed() {
                        warn_output_limit(&shared, &session);
                        break 'connection;
                    }
                    let limit = limits.output(&session);
                    let source = &*source;
                    match write_output(&shared, &mut stream, &mut output, limit, &handle, || source.queued_bytes()).await {
                        Ok(()) => {}
                        Err(WriteError::OverLimit) => {
                            warn_output_limit(&shared, &session);
                            break 'connection;
                        }
                        Err(WriteError::Gone) => break 'connection,
                    }
                }
                _ = handle.killed() => break 'connection,
                _ = shutdown.changed() => break 'connection,
                _ = sleep_or_forever(idle) => break 'connection,
            }
        }
    }
    disconnect(&shared, &mut session);
}

/// Waits until the socket is readable, then reads into `input`, allocating the read buffer
/// only now (a connection waiting for its next request holds none). `Ok(0)` is end of file.
///
/// A read that returns less than it had room for has drained the socket, so the readiness
/// tokio keeps for it is cleared at once: the next call waits for epoll to report new data
/// instead of spending a `read` that fails with EAGAIN, as Redis's level-triggered loop never
/// does. (Data that arrives meanwhile raises a new epoll event, which sets readiness again.)
async fn read_some(stream: &TcpStream, input: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        if input.capacity() - input.len() < READ_CHUNK_BYTES / 2 {
            input.reserve(READ_CHUNK_BYTES);
        }
        let room = input.capacity() - input.len();
        match stream.try_read_buf(input) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Ok(read) if read > 0 && read < room => {
                let _ = stream.try_io(Interest::READABLE, || {
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                });
                return Ok(read);
            }
            result => return result,
        }
    }
}

/// Replaces an empty buffer grown past `KEEP_BUFFER_BYTES` with a fresh one.
fn release_if_large(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER_BYTES {
        *buf = BytesMut::new();
    }
}

/// Why writing the output stopped.
enum WriteError {
    /// The peer closed, the write failed, or the client was killed.
    Gone,
    /// `client-output-buffer-limit` was passed: the client is dropped.
    OverLimit,
}

/// The connection's limits from the configuration, re-read only when it changed (one atomic
/// load per batch otherwise, instead of the config lock).
struct ConnLimits {
    generation: u64,
    normal: ObufLimit,
    pubsub: ObufLimit,
    /// `timeout`, seconds.
    idle_timeout: u64,
    /// `client-query-buffer-limit`, bytes.
    query_buffer: u64,
}

impl ConnLimits {
    fn read(shared: &Shared) -> ConnLimits {
        let generation = shared.config_generation();
        let config = shared.config();
        ConnLimits {
            generation,
            normal: config.client_output_buffer_limit.normal,
            pubsub: config.client_output_buffer_limit.pubsub,
            idle_timeout: config.timeout,
            query_buffer: config.client_query_buffer_limit,
        }
    }

    fn refresh(&mut self, shared: &Shared) {
        if shared.config_generation() != self.generation {
            *self = ConnLimits::read(shared);
        }
    }

    /// The `client-output-buffer-limit` class of this client: pub/sub once subscribed, else
    /// normal (replicas are served by the replication master side, with their own class).
    fn output(&self, session: &Session) -> ObufLimit {
        if session.subscription_count() > 0 {
            self.pubsub
        } else {
            self.normal
        }
    }
}

/// Redis's log line for a client dropped by `client-output-buffer-limit`.
fn warn_output_limit(shared: &Shared, session: &Session) {
    shared.emit(Event::OutputLimitReached {
        id: session.id,
        addr: session.addr.clone(),
    });
}

/// Writes `output` and clears it, enforcing `limit` as Redis's
/// `checkClientOutputBufferLimits` does: the client's output buffer is what is still to be
/// written plus `queued()` (pub/sub messages waiting). Above the hard limit the client is
/// dropped at once — a single reply larger than it included; above the soft limit
/// continuously for longer than its seconds, too. A peer that stops reading therefore costs at
/// most one batch of output, and CLIENT KILL still reaches it.
async fn write_output(
    shared: &Shared,
    stream: &mut TcpStream,
    output: &mut BytesMut,
    limit: ObufLimit,
    handle: &ClientHandle,
    queued: impl Fn() -> usize,
) -> Result<(), WriteError> {
    let mut written = 0;
    // Most batches fit in the socket buffer: one write, with no timers and no wake-ups, when
    // the output is within both limits.
    let pending = (output.len() + queued()) as u64;
    let within = |bytes: u64| bytes == 0 || pending <= bytes;
    if within(limit.hard_bytes) && within(limit.soft_bytes) {
        if let Ok(n) = stream.try_write(output) {
            written = n;
        }
    }
    let mut soft_since: Option<tokio::time::Instant> = None;
    let soft_period = Duration::from_secs(limit.soft_seconds);
    let result = loop {
        let pending = (output.len() - written + queued()) as u64;
        if limit.hard_bytes > 0 && pending > limit.hard_bytes {
            break Err(WriteError::OverLimit);
        }
        let soft_deadline = if limit.soft_bytes > 0 && pending > limit.soft_bytes {
            let since = *soft_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() > soft_period {
                break Err(WriteError::OverLimit);
            }
            Some(since + soft_period + Duration::from_millis(1))
        } else {
            soft_since = None;
            None
        };
        if written == output.len() {
            break Ok(());
        }
        tokio::select! {
            result = stream.write(&output[written..]) => match result {
                Ok(0) | Err(_) => break Err(WriteError::Gone),
                Ok(n) => written += n,
            },
            _ = handle.killed() => break Err(WriteError::Gone),
            _ = sleep_until_or_forever(soft_deadline) => {}
        }
    };
    Stats::add(&shared.stats.net_output_bytes, written as u64);
    output.clear();
    result
}

async fn sleep_until_or_forever(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

// ANCHOR: run_batch
/// Runs every complete request in `input`. The keyspace lock is taken once for the batch, and
/// the batch's writes become replication stream before it is released.
fn run_batch(
    shared: &Shared,
    session: &mut Session,
    parser: &mut RequestParser,
    postponed: &mut Option<Pending>,
    input: &mut BytesMut,
    output: &mut BytesMut,
) -> Next {
    let mut engine = None;
    let next = run_requests(
        shared,
        session,
        parser,
        postponed,
        input,
        output,
        &mut engine,
    );
    if let Some(engine) = engine.as_mut() {
        crate::server::propagation::flush(shared, engine);
    }
    next
}
// ANCHOR_END: run_batch

fn run_requests<'a>(
    shared: &'a Shared,
    session: &mut Session,
    parser: &mut RequestParser,
    postponed: &mut Option<Pending>,
    input: &mut BytesMut,
    output: &mut BytesMut,
    engine: &mut Option<std::sync::MutexGuard<'a, crate::server::engine::Engine>>,
) -> Next {
    loop {
        let (parsed, started) = match postponed.take() {
            Some(pending) => (Ok(Some(pending.argv)), pending.started),
            None => (parser.parse(input), false),
        };
        let argv = match parsed {
            Ok(Some(argv)) => argv,
            Ok(None) => return Next::Read,
            Err(error) => {
                Reply::error(format!("ERR {error}")).encode(session.resp3, output);
                shared.emit(Event::ProtocolError {
                    error: error.0.to_string(),
                    addr: session.addr.clone(),
                });
                return Next::Close;
            }
        };
        if argv.is_empty() {
            continue;
        }
        // While another client's script holds the keyspace, this connection must not wait
        // for the lock (the script could then never be killed).
        if engine.is_none() && shared.script.is_pending() {
            if !shared.script.is_busy() {
                return Next::AwaitScript {
                    argv,
                    until_end: false,
                };
            }
            let Some((reply, effect)) = cmd::exec::call_while_busy(shared, session, &argv) else {
                return Next::AwaitScript {
                    argv,
                    until_end: true,
                };
            };
            if !started {
                session.start_command();
            }
            session.filter_reply(reply).encode(session.resp3, output);
            match effect {
                Effect::Close => return Next::Close,
                Effect::Shutdown(mode) => {
                    shared.request_shutdown(mode);
                    return Next::Close;
                }
                _ => continue,
            }
        }
        if is_script_call(&argv) && session.multi.is_none() {
            if !started {
                session.start_command();
            }
            return Next::Script(argv);
        }
        let engine = engine.get_or_insert_with(|| shared.engine());
        if !started {
            session.start_command();
        }
        // The next pipelined request's key, if it is here already: its bucket loads while
        // this command runs.
        if let Some(next_key) = peek_second_arg(input) {
            if let Some(db) = engine.dbs.get(session.db) {
                db.prefetch(next_key);
            }
        }
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
            Effect::Postpone => return Next::Postpone(argv),
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

/// A command to run again before what is buffered after it.
struct Pending {
    argv: Vec<Bytes>,
    /// It already started (CLIENT REPLY SKIP counted it).
    started: bool,
}

/// True for EVAL, EVALSHA and their read-only forms, which run on a thread of their own
/// (the first byte is checked first: this runs for every command).
fn is_script_call(argv: &[Bytes]) -> bool {
    argv[0]
        .first()
        .is_some_and(|b| b.eq_ignore_ascii_case(&b'e'))
        && cmd::lookup(&argv[0])
            .is_some_and(|spec| matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro"))
}

/// Runs a client's script on a blocking-pool thread holding the keyspace lock, so that this
/// thread keeps serving the other connections (BUSY, SCRIPT KILL) meanwhile. The session goes
/// with it and comes back. `None` if the thread failed (the connection is closed).
async fn run_script_off_thread(
    shared: &Arc<Shared>,
    session: &mut Session,
    argv: Vec<Bytes>,
) -> Option<(Reply, Effect)> {
    /// Ends the script's run however its thread leaves (a panic included).
    struct EndOnDrop(Arc<crate::server::script_run::ScriptRun>);
    impl Drop for EndOnDrop {
        fn drop(&mut self) {
            self.0.end();
        }
    }
    let placeholder = Session::new(session.id, session.addr.clone(), false);
    let owned = std::mem::replace(session, placeholder);
    let task_shared = shared.clone();
    shared.script.begin();
    let job = tokio::task::spawn_blocking(move || {
        let _end = EndOnDrop(task_shared.script.clone());
        let mut session = owned;
        let outcome = {
            let mut engine = task_shared.engine();
            let outcome = cmd::call(&task_shared, &mut engine, &mut session, &argv);
            crate::server::propagation::flush(&task_shared, &mut engine);
            // This thread may block: the script's writes are made durable here, before its
            // reply, under `appendfsync always`.
            crate::server::aof::sync_written(&task_shared, &mut engine);
            outcome
        };
        (session, outcome)
    });
    match job.await {
        Ok((owned, outcome)) => {
            *session = owned;
            Some(outcome)
        }
        Err(_) => None,
    }
}

/// Waits until the running script is busy (or, `until_end`, until it is done).
async fn wait_for_script(shared: &Shared, until_end: bool) {
    let mut changes = shared.script.subscribe();
    loop {
        let script = &shared.script;
        if !script.is_pending() || (!until_end && script.is_busy()) {
            return;
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// BLMOVE and BRPOPLPUSH answer a nil bulk on timeout; the other blocking pops a nil array.
fn is_single_value_pop(name: &Bytes) -> bool {
    name.eq_ignore_ascii_case(b"blmove") || name.eq_ignore_ascii_case(b"brpoplpush")
}

/// Waits for `event` while still reading the socket, so that a client that disconnects stops
/// waiting and what it pipelines meanwhile stays buffered. `None` if the connection must close
/// (closed, over the query buffer limit, killed, shutdown).
#[allow(clippy::too_many_arguments)]
async fn wait_reading<T>(
    shared: &Shared,
    stream: &TcpStream,
    input: &mut BytesMut,
    query_buffer_limit: u64,
    handle: &ClientHandle,
    shutdown: &mut tokio::sync::watch::Receiver<Option<crate::server::ShutdownMode>>,
    event: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(event);
    loop {
        tokio::select! {
            outcome = &mut event => return Some(outcome),
            read = read_some(stream, input) => match read {
                Ok(n) if n > 0 && (input.len() as u64) <= query_buffer_limit => {
                    Stats::add(&shared.stats.net_input_bytes, n as u64);
                }
                _ => return None,
            },
            _ = handle.killed() => return None,
            _ = shutdown.changed() => return None,
        }
    }
}

/// Waits until the CLIENT PAUSE that postponed a command may have ended: CLIENT UNPAUSE, or
/// its end time. The command is then tried again (a new pause may hold it once more).
async fn wait_for_unpause(shared: &Shared) {
    // Subscribed before reading the pause, so an UNPAUSE in between is not missed.
    let mut changes = shared.pause_changes.subscribe();
    let until = shared
        .engine()
        .client_pause(crate::server::unix_ms())
        .map(|pause| pause.until_ms);
    let Some(until) = until else {
        return;
    };
    let left = Duration::from_millis((until - crate::server::unix_ms()).max(0) as u64 + 1);
    tokio::select! {
        _ = tokio::time::sleep(left) => {}
        _ = changes.changed() => {}
    }
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
    crate::server::propagation::request_acks(shared);
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    loop {
        let acked = shared.engine().repl.acked_replicas(offset);
        if acked >= replicas || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return acked;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A push as this client receives it. A `sunsubscribe` the server sent on its own (the
/// node's shard lost the channel's slot) also ends the subscription in the session, and
/// carries the session's remaining count of sharded subscriptions, as Redis's
/// `pubsubUnsubscribeShardChannels` does; if the client already unsubscribed, it is dropped.
fn as_delivered(session: &mut Session, push: Reply) -> Option<Reply> {
    let Some(channel) = crate::server::pubsub::PubSub::server_sunsubscribed(&push) else {
        return Some(push);
    };
    if !session.shard_channels.remove(channel) {
        return None;
    }
    Some(Reply::Push(vec![
        Reply::Bulk(bytes::Bytes::from_static(b"sunsubscribe")),
        Reply::Bulk(channel.clone()),
        Reply::Int(session.shard_channels.len() as i64),
    ]))
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
    meta.last_command = session.last_command;
    if session.subscription_count() > 0 && meta.kind == ClientKind::Normal {
        meta.kind = ClientKind::Pubsub;
    } else if session.subscription_count() == 0 && meta.kind == ClientKind::Pubsub {
        meta.kind = ClientKind::Normal;
    }
}
