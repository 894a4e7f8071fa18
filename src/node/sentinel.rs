//! The Sentinel driver: runs the pure [`Sentinel`] machine on tokio.
//!
//! One task owns the machine. It ticks it 10 to 19 times a second with the wall clock (Redis uses
//! `mstime()`, which is what makes TILT detect clock jumps) and a seeded rng, and carries out
//! its outputs: commands go to the instance's command link, events are logged in Redis's
//! format and published to clients subscribed on this Sentinel, the config file is rewritten
//! atomically. Link tasks (a command link and, for masters and replicas, a pub/sub link
//! subscribed to `__sentinel__:hello`) and client connections talk to it through one channel.
//! The listener serves Sentinel's own command table: SENTINEL, INFO, ROLE, PING, AUTH, HELLO,
//! CLIENT, (P)SUBSCRIBE, PUBLISH (hellos only), SHUTDOWN.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::client::connection::Client;
use crate::config::{Config, ConfigError, LogLevel};
use crate::glob::glob_match;
use crate::resp::frame::Frame;
use crate::resp::{Reply, RequestParser};
use crate::sentinel::commands::{info_section, role_reply, sentinel_command};
use crate::sentinel::config::{rewrite_text, SCRIPTS_WARNING};
use crate::sentinel::{Expect, Input, LinkId, LinkSpec, Ms, Output, Sentinel, HELLO_CHANNEL};
use crate::server::log::Logger;

use super::StartError;

/// The commands a Sentinel knows (Redis 7.0's table in sentinel mode).
const COMMAND_TABLE: &[&str] = &[
    "acl",
    "auth",
    "client",
    "command",
    "hello",
    "info",
    "ping",
    "psubscribe",
    "publish",
    "punsubscribe",
    "role",
    "sentinel",
    "shutdown",
    "subscribe",
    "unsubscribe",
];

/// Redis Sentinel's default port.
pub const SENTINEL_PORT: u16 = 26379;

/// The machine's timer runs `TICK_HZ + rand % TICK_HZ` times a second, a new rate after each
/// run, as `sentinelTimer` sets `server.hz`: sentinels stay out of step with each other, which
/// makes split votes rarer.
const TICK_HZ: u64 = 10;
/// Links are reconnected at most this often (Redis's SENTINEL_PING_PERIOD).
const RECONNECT_MS: u64 = 1_000;

fn unix_ms() -> Ms {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Ms)
}

/// Builds the machine from the config: `sentinel` lines, checked as Redis checks them, with
/// a refused line reported with its file, line and reason.
pub fn load(
    config: &Config,
    port: u16,
    rng: &mut StdRng,
) -> Result<(Sentinel, Vec<String>), ConfigError> {
    let mut sentinel = Sentinel::new(Sentinel::random_id(rng), port);
    let warnings = sentinel
        .load_lines(&config.sentinel_lines, unix_ms())
        .map_err(|e| {
            let origin = config.sentinel_line_origins.get(e.index);
            ConfigError {
                file: origin.map_or_else(|| "command line".to_string(), |o| o.file.clone()),
                line: origin.map(|o| o.line),
                text: origin.map(|o| o.text.clone()),
                reason: e.reason,
            }
        })?;
    Ok((sentinel, warnings))
}

/// Does the config file (or the command line) set `port`? Sentinel's default is 26379.
fn port_is_set(path: &Path, overrides: &[String]) -> bool {
    let in_file = std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("port"))
        })
    });
    in_file
        || overrides
            .iter()
            .any(|a| a == "--port" || a.starts_with("--port "))
}

/// Runs a Sentinel until SHUTDOWN or a signal. `config_path` is required: Sentinel keeps its
/// state in its config file.
pub fn run(
    mut config: Config,
    config_path: Option<PathBuf>,
    overrides: &[String],
    warnings: Vec<String>,
) -> Result<(), StartError> {
    let Some(path) = config_path else {
        return Err(StartError::Load(
            "Sentinel needs config file on disk to save state. Exiting...".into(),
        ));
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&path) {
        return Err(StartError::Load(format!(
            "Sentinel config file {} is not writable: {e}. Exiting...",
            path.display()
        )));
    }
    if !port_is_set(&path, overrides) {
        config.port = SENTINEL_PORT;
    }
    let mut rng = StdRng::from_entropy();
    let (sentinel, sentinel_warnings) =
        load(&config, config.port, &mut rng).map_err(|e| StartError::Load(e.to_string()))?;

    std::env::set_current_dir(&config.dir).map_err(|source| StartError::Dir {
        path: config.dir.clone(),
        source,
    })?;
    let logfile = if config.daemonize && config.logfile.is_empty() {
        "/dev/null".to_string()
    } else {
        config.logfile.clone()
    };
    if config.daemonize {
        super::daemonize();
    }
    let logger = Logger::open(&logfile, config.loglevel).map_err(StartError::LogFile)?;
    logger.set_role(b'X');
    let logger = Arc::new(logger);
    logger.log(
        LogLevel::Notice,
        &format!(
            "Redis version={}, bits=64, pid={}, just started (redislab, sentinel mode)",
            crate::REDIS_VERSION,
            std::process::id()
        ),
    );
    for warning in warnings {
        logger.log(LogLevel::Warning, &warning);
    }
    if sentinel_warnings.iter().any(|w| w == SCRIPTS_WARNING) {
        logger.log(LogLevel::Warning, SCRIPTS_WARNING);
    }
    // As redis-server: a daemon without a pidfile setting writes the default one.
    if config.pidfile.is_none() && config.daemonize {
        config.pidfile = Some(PathBuf::from(format!("/var/run/redis_{}.pid", config.port)));
    }
    if let Some(pidfile) = &config.pidfile {
        if let Err(e) = std::fs::write(pidfile, format!("{}\n", std::process::id())) {
            logger.log(
                LogLevel::Warning,
                &format!("Failed to write PID file {}: {e}", pidfile.display()),
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    let pidfile = config.pidfile.clone();
    let myid_configured = config
        .sentinel_lines
        .iter()
        .any(|l| l.first().is_some_and(|w| w.eq_ignore_ascii_case("myid")));
    let result = runtime.block_on(serve(
        config,
        path,
        sentinel,
        rng,
        logger.clone(),
        myid_configured,
    ));
    if let Some(pidfile) = pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    if result.is_ok() {
        logger.log(
            LogLevel::Warning,
            "Sentinel is now ready to exit, bye bye...",
        );
    }
    result
}

/// A call into the task that owns the machine.
type Call = Box<dyn FnOnce(&mut Driver) -> Reply + Send>;

enum Msg {
    /// From a link task of generation `gen`.
    Link { gen: u64, input: Input },
    /// A link task ended.
    LinkDown {
        gen: u64,
        link: LinkId,
        pubsub: bool,
    },
    /// A client command that needs the machine.
    Call(Call, oneshot::Sender<Reply>),
}

struct LinkTask {
    gen: u64,
    /// Commands for a command link (none for a pub/sub link).
    commands: Option<mpsc::UnboundedSender<(Vec<String>, Expect)>>,
    task: tokio::task::JoinHandle<()>,
}

/// The state the owning task keeps around the machine.
struct Driver {
    sentinel: Sentinel,
    rng: StdRng,
    logger: Arc<Logger>,
    config_path: PathBuf,
    links: HashMap<(LinkId, bool), LinkTask>,
    last_attempt: HashMap<(LinkId, bool), Instant>,
    next_gen: u64,
    tx: mpsc::UnboundedSender<Msg>,
    /// Events for subscribed clients: (channel, payload).
    events: broadcast::Sender<(String, String)>,
    shutdown: bool,
    requirepass: Option<String>,
    started: Instant,
    port: u16,
    run_id: String,
    /// Connected clients, for INFO.
    clients: Arc<AtomicUsize>,
}

impl Driver {
    fn apply(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send {
                    link,
                    command,
                    expect,
                } => {
                    if let Some(task) = self.links.get(&(link, false)) {
                        if let Some(tx) = &task.commands {
                            let _ = tx.send((command, expect));
                        }
                    }
                }
                Output::Close { link, pubsub } => {
                    if let Some(task) = self.links.remove(&(link, pubsub)) {
                        task.task.abort();
                    }
                }
                Output::Event(event) => {
                    self.logger.log(event.level, &event.log_line());
                    if event.published() {
                        let _ = self.events.send((event.name.to_string(), event.payload));
                    }
                }
                Output::Log { level, text } => self.logger.log(level, &text),
                Output::FlushConfig => {
                    if let Err(e) = self.flush_config() {
                        self.logger.log(
                            LogLevel::Warning,
                            &format!(
                                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                            ),
                        );
                    }
                }
                Output::Crash => {
                    self.logger.log(
                        LogLevel::Warning,
                        "Sentinel CRASH because of SENTINEL simulate-failure",
                    );
                    std::process::exit(99);
                }
            }
        }
    }

    /// Rewrites the config file: temp file in the same directory, fsync, rename.
    fn flush_config(&self) -> std::io::Result<()> {
        let original = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let text = rewrite_text(&original, &self.sentinel.config_lines());
        let dir = self
            .config_path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.config_path).map_err(|e| e.error)?;
        Ok(())
    }

    fn tick(&mut self) {
        let now = unix_ms();
        let outputs = self.sentinel.tick(now, &mut self.rng);
        self.apply(outputs);
        self.reconcile_links();
    }

    fn handle(&mut self, input: Input) {
        let outputs = self.sentinel.handle(input, unix_ms(), &mut self.rng);
        self.apply(outputs);
    }

    /// Starts the links the machine wants and stops the ones it no longer wants.
    fn reconcile_links(&mut self) {
        let wanted = self.sentinel.links();
        let mut keep: Vec<(LinkId, bool)> = Vec::new();
        for spec in &wanted {
            keep.push((spec.id.clone(), false));
            if spec.pubsub {
                keep.push((spec.id.clone(), true));
            }
        }
        let stale: Vec<(LinkId, bool)> = self
            .links
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for key in stale {
            if let Some(task) = self.links.remove(&key) {
                task.task.abort();
            }
        }
        self.last_attempt.retain(|k, _| keep.contains(k));
        for spec in wanted {
            for pubsub in [false, true] {
                if pubsub && !spec.pubsub {
                    continue;
                }
                let key = (spec.id.clone(), pubsub);
                if self.links.contains_key(&key) {
                    continue;
                }
                if self
                    .last_attempt
                    .get(&key)
                    .is_some_and(|t| t.elapsed() < Duration::from_millis(RECONNECT_MS))
                {
                    continue;
                }
                self.last_attempt.insert(key.clone(), Instant::now());
                self.next_gen += 1;
                let gen = self.next_gen;
                let name8: String = self.sentinel.core.myid.chars().take(8).collect();
                let tx = self.tx.clone();
                let task = if pubsub {
                    LinkTask {
                        gen,
                        commands: None,
                        task: tokio::spawn(pubsub_link(spec.clone(), gen, name8, tx)),
                    }
                } else {
                    let (ctx, crx) = mpsc::unbounded_channel();
                    LinkTask {
                        gen,
                        commands: Some(ctx),
                        task: tokio::spawn(command_link(spec.clone(), gen, name8, tx, crx)),
                    }
                };
                self.links.insert(key, task);
            }
        }
    }

    fn current_gen(&self, link: &LinkId, pubsub: bool) -> Option<u64> {
        self.links.get(&(link.clone(), pubsub)).map(|t| t.gen)
    }
}

fn input_link(input: &Input) -> Option<(&LinkId, bool)> {
    match input {
        Input::Connected { link, pubsub, .. } | Input::Disconnected { link, pubsub } => {
            Some((link, *pubsub))
        }
        Input::Reply { link, .. } => Some((link, false)),
        Input::Message { link, .. } => Some((link, true)),
        Input::Hello { .. } => None,
    }
}

/// Applies `rename-command` to a command's name.
fn renamed(spec: &LinkSpec, mut command: Vec<String>) -> Vec<String> {
    if let Some(first) = command.first_mut() {
        if let Some((_, to)) = spec
            .renamed_commands
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(first))
        {
            *first = to.clone();
        }
    }
    command
}

/// Connects and sends `AUTH` (if configured) and `CLIENT SETNAME`, ignoring their replies as
/// Redis does.
async fn open_link(spec: &LinkSpec, client_name: &str) -> Option<(Client, Option<String>)> {
    let addr = format!("{}:{}", spec.id.addr.ip, spec.id.addr.port);
    let mut client = Client::connect_timeout(&addr, Duration::from_millis(RECONNECT_MS * 2))
        .await
        .ok()?;
    let local_ip = client.local_ip();
    if let Some((user, pass)) = &spec.auth {
        let mut auth = vec![spec
            .renamed_commands
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case("AUTH"))
            .map_or("AUTH".to_string(), |(_, t)| t.clone())];
        auth.extend(user.clone());
        auth.push(pass.clone());
        client.command(&auth).await.ok()?;
    }
    let setname = renamed(
        spec,
        vec!["CLIENT".into(), "SETNAME".into(), client_name.into()],
    );
    client.command(&setname).await.ok()?;
    Some((client, local_ip))
}

/// A command link: writes what the machine sends, reports each reply with what it answers.
async fn command_link(
    spec: LinkSpec,
    gen: u64,
    name8: String,
    tx: mpsc::UnboundedSender<Msg>,
    mut commands: mpsc::UnboundedReceiver<(Vec<String>, Expect)>,
) {
    let link = spec.id.clone();
    let down = |tx: &mpsc::UnboundedSender<Msg>| {
        let _ = tx.send(Msg::LinkDown {
            gen,
            link: link.clone(),
            pubsub: false,
        });
    };
    let Some((mut client, local_ip)) = open_link(&spec, &format!("sentinel-{name8}-cmd")).await
    else {
        down(&tx);
        return;
    };
    let _ = tx.send(Msg::Link {
        gen,
        input: Input::Connected {
            link: link.clone(),
            pubsub: false,
            local_ip,
        },
    });
    let mut expects: VecDeque<Expect> = VecDeque::new();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some((command, expect)) = command else { break };
                if client.send(&renamed(&spec, command)).await.is_err() {
                    break;
                }
                expects.push_back(expect);
            }
            frame = client.read_frame() => {
                let Ok(reply) = frame else { break };
                let expect = expects.pop_front().unwrap_or(Expect::Ignore);
                let input = Input::Reply { link: link.clone(), expect, reply };
                if tx.send(Msg::Link { gen, input }).is_err() {
                    return;
                }
            }
        }
    }
    down(&tx);
}

/// A pub/sub link: SUBSCRIBE to the hello channel and pass every message on.
async fn pubsub_link(spec: LinkSpec, gen: u64, name8: String, tx: mpsc::UnboundedSender<Msg>) {
    let link = spec.id.clone();
    let down = |tx: &mpsc::UnboundedSender<Msg>| {
        let _ = tx.send(Msg::LinkDown {
            gen,
            link: link.clone(),
            pubsub: true,
        });
    };
    let Some((mut client, _)) = open_link(&spec, &format!("sentinel-{name8}-pubsub")).await else {
        down(&tx);
        return;
    };
    let subscribe = renamed(&spec, vec!["SUBSCRIBE".into(), HELLO_CHANNEL.into()]);
    if !matches!(
        client.command(&subscribe).await,
        Ok(Frame::Array(_) | Frame::Push(_))
    ) {
        down(&tx);
        return;
    }
    let _ = tx.send(Msg::Link {
        gen,
        input: Input::Connected {
            link: link.clone(),
            pubsub: true,
            local_ip: None,
        },
    });
    while let Ok(frame) = client.read_frame().await {
        let items = match frame {
            Frame::Array(items) | Frame::Push(items) => items,
            _ => continue,
        };
        if items.len() == 3 && items[0].as_str() == Some("message") {
            if let Some(payload) = items[2].as_str() {
                let input = Input::Message {
                    link: link.clone(),
                    payload: payload.to_string(),
                };
                if tx.send(Msg::Link { gen, input }).is_err() {
                    return;
                }
            }
        }
    }
    down(&tx);
}

async fn serve(
    config: Config,
    config_path: PathBuf,
    sentinel: Sentinel,
    rng: StdRng,
    logger: Arc<Logger>,
    myid_configured: bool,
) -> Result<(), StartError> {
    let listeners = super::bind_all(&config)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (events, _) = broadcast::channel(4096);
    let mut driver = Driver {
        sentinel,
        rng,
        logger: logger.clone(),
        config_path,
        links: HashMap::new(),
        last_attempt: HashMap::new(),
        next_gen: 0,
        tx: tx.clone(),
        events: events.clone(),
        shutdown: false,
        requirepass: config.requirepass.clone().filter(|p| !p.is_empty()),
        started: Instant::now(),
        port: config.port,
        run_id: Sentinel::random_id(&mut StdRng::from_entropy()),
        clients: Arc::new(AtomicUsize::new(0)),
    };
    logger.log(
        LogLevel::Notice,
        &format!("Running mode=sentinel, port={}.", config.port),
    );
    // A new id is saved at once, so that it survives a restart (`sentinelIsRunning`).
    if !myid_configured {
        driver.apply(vec![Output::FlushConfig]);
    }
    logger.log(
        LogLevel::Warning,
        &format!("Sentinel ID is {}", driver.sentinel.core.myid),
    );
    let outputs = driver.sentinel.start(unix_ms());
    driver.apply(outputs);

    let next_id = Arc::new(AtomicU64::new(0));
    for listener in listeners {
        let tx = tx.clone();
        let events = events.clone();
        let next_id = next_id.clone();
        let clients = driver.clients.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let id = next_id.fetch_add(1, Ordering::Relaxed) + 1;
                let (tx, events, clients) = (tx.clone(), events.clone(), clients.clone());
                tokio::spawn(async move {
                    clients.fetch_add(1, Ordering::Relaxed);
                    client_connection(stream, id, tx, events).await;
                    clients.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
    }

    let next_tick = |rng: &mut StdRng| {
        let hz = TICK_HZ + rng.next_u64() % TICK_HZ;
        tokio::time::Instant::now() + Duration::from_millis(1000 / hz)
    };
    let timer = tokio::time::sleep_until(next_tick(&mut driver.rng));
    tokio::pin!(timer);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(StartError::Runtime)?;
    loop {
        tokio::select! {
            _ = &mut timer => {
                driver.tick();
                timer.as_mut().reset(next_tick(&mut driver.rng));
            }
            msg = rx.recv() => match msg {
                Some(Msg::Link { gen, input }) => {
                    if let Some((link, pubsub)) = input_link(&input) {
                        if driver.current_gen(link, pubsub) != Some(gen) {
                            continue;
                        }
                    }
                    driver.handle(input);
                }
                Some(Msg::LinkDown { gen, link, pubsub }) => {
                    if driver.current_gen(&link, pubsub) == Some(gen) {
                        driver.links.remove(&(link.clone(), pubsub));
                        driver.handle(Input::Disconnected { link, pubsub });
                    }
                }
                Some(Msg::Call(call, reply)) => {
                    let _ = reply.send(call(&mut driver));
                }
                None => break,
            },
            _ = sigterm.recv() => {
                logger.log(LogLevel::Warning, "Received SIGTERM scheduling shutdown...");
                driver.shutdown = true;
            }
            _ = tokio::signal::ctrl_c() => {
                logger.log(LogLevel::Warning, "Received SIGINT scheduling shutdown...");
                driver.shutdown = true;
            }
        }
        if driver.shutdown {
            logger.log(LogLevel::Warning, "User requested shutdown...");
            driver.apply(vec![Output::FlushConfig]);
            break;
        }
    }
    for (_, task) in driver.links.drain() {
        task.task.abort();
    }
    Ok(())
}

/// One client of the Sentinel.
struct Session {
    id: u64,
    resp3: bool,
    authenticated: bool,
    name: Option<String>,
    channels: Vec<String>,
    patterns: Vec<String>,
}

impl Session {
    fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

async fn call(
    tx: &mpsc::UnboundedSender<Msg>,
    f: impl FnOnce(&mut Driver) -> Reply + Send + 'static,
) -> Reply {
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx.send(Msg::Call(Box::new(f), reply_tx)).is_err() {
        return Reply::error("ERR Sentinel is shutting down");
    }
    reply_rx
        .await
        .unwrap_or_else(|_| Reply::error("ERR Sentinel is shutting down"))
}

async fn client_connection(
    mut stream: TcpStream,
    id: u64,
    tx: mpsc::UnboundedSender<Msg>,
    events: broadcast::Sender<(String, String)>,
) {
    let needs_auth = matches!(
        call(&tx, |d| Reply::Bool(d.requirepass.is_some())).await,
        Reply::Bool(true)
    );
    let mut session = Session {
        id,
        resp3: false,
        authenticated: !needs_auth,
        name: None,
        channels: Vec::new(),
        patterns: Vec::new(),
    };
    let mut parser = RequestParser::new(512 * 1024 * 1024);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::new();
    let mut event_rx = events.subscribe();
    loop {
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let mut close = false;
                loop {
                    parser.authenticated = session.authenticated;
                    match parser.parse(&mut buf) {
                        Ok(Some(args)) => {
                            if args.is_empty() {
                                continue;
                            }
                            let (reply, quit) = client_command(&mut session, &tx, args).await;
                            reply.encode(session.resp3, &mut out);
                            if quit {
                                close = true;
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            Reply::error(format!("ERR Protocol error: {}", e.0)).encode(session.resp3, &mut out);
                            close = true;
                            break;
                        }
                    }
                }
                if stream.write_all(&out).await.is_err() || close {
                    return;
                }
                out.clear();
            }
            event = event_rx.recv(), if session.subscriptions() > 0 => {
                let Ok((channel, payload)) = event else { continue };
                let mut push = |reply: Reply| reply.encode(session.resp3, &mut out);
                if session.channels.contains(&channel) {
                    push(Reply::Push(vec![
                        Reply::bulk(b"message"),
                        Reply::bulk(channel.as_bytes()),
                        Reply::bulk(payload.as_bytes()),
                    ]));
                }
                for pattern in &session.patterns {
                    if glob_match(pattern.as_bytes(), channel.as_bytes(), false) {
                        push(Reply::Push(vec![
                            Reply::bulk(b"pmessage"),
                            Reply::bulk(pattern.as_bytes()),
                            Reply::bulk(channel.as_bytes()),
                            Reply::bulk(payload.as_bytes()),
                        ]));
                    }
                }
                if !out.is_empty() {
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        }
    }
}

fn text(arg: &Bytes) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// The commands a Sentinel answers (Redis's sentinel command table). Returns the reply and
/// whether to close the connection afterwards.
async fn client_command(
    session: &mut Session,
    tx: &mpsc::UnboundedSender<Msg>,
    args: Vec<Bytes>,
) -> (Reply, bool) {
    let name = text(&args[0]).to_ascii_lowercase();
    let argv: Vec<String> = args.iter().map(text).collect();
    let argc = argv.len();
    let arity = |n: &str| Reply::error(format!("ERR wrong number of arguments for '{n}' command"));
    if !session.authenticated && !matches!(name.as_str(), "auth" | "hello" | "quit") {
        return (Reply::error("NOAUTH Authentication required."), false);
    }
    if !session.resp3
        && session.subscriptions() > 0
        && !matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
        )
    {
        return (
            Reply::error(format!(
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )),
            false,
        );
    }
    let reply = match name.as_str() {
        "ping" => match argc {
            1 if session.subscriptions() > 0 && !session.resp3 => {
                Reply::Array(vec![Reply::bulk(b"pong"), Reply::bulk(b"")])
            }
            1 => Reply::simple("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => arity("ping"),
        },
        "quit" => return (Reply::ok(), true),
        "auth" => match argc {
            2 | 3 => {
                let password = argv[argc - 1].clone();
                let user_ok = argc == 2 || argv[1] == "default";
                let ok = call(tx, move |d| match &d.requirepass {
                    None => Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                    Some(p) if *p == password && user_ok => Reply::ok(),
                    Some(_) => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
                })
                .await;
                if !ok.is_error() {
                    session.authenticated = true;
                }
                ok
            }
            _ => arity("auth"),
        },
        "hello" => return (hello(session, tx, &argv).await, false),
        "client" => client_subcommand(session, &argv),
        "subscribe" | "psubscribe" if argc >= 2 => {
            let pattern = name == "psubscribe";
            let mut replies = Vec::new();
            for channel in &argv[1..] {
                let list = if pattern {
                    &mut session.patterns
                } else {
                    &mut session.channels
                };
                if !list.contains(channel) {
                    list.push(channel.clone());
                }
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::bulk(channel.as_bytes()),
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            Reply::Many(replies)
        }
        "unsubscribe" | "punsubscribe" => {
            let pattern = name == "punsubscribe";
            let targets: Vec<String> = if argc > 1 {
                argv[1..].to_vec()
            } else if pattern {
                session.patterns.clone()
            } else {
                session.channels.clone()
            };
            let mut replies = Vec::new();
            for channel in &targets {
                let list = if pattern {
                    &mut session.patterns
                } else {
                    &mut session.channels
                };
                list.retain(|c| c != channel);
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::bulk(channel.as_bytes()),
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            if replies.is_empty() {
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::Null,
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            Reply::Many(replies)
        }
        "publish" if argc == 3 => {
            if argv[1] != HELLO_CHANNEL {
                Reply::error("ERR Only HELLO messages are accepted by Sentinel instances.")
            } else {
                let payload = argv[2].clone();
                call(tx, move |d| {
                    d.handle(Input::Hello { payload });
                    Reply::Int(1)
                })
                .await
            }
        }
        "sentinel" => {
            let rest = argv[1..].to_vec();
            call(tx, move |d| {
                let (reply, outputs) =
                    sentinel_command(&mut d.sentinel, &rest, unix_ms(), &mut d.rng);
                d.apply(outputs);
                d.reconcile_links();
                reply
            })
            .await
        }
        "role" if argc == 1 => call(tx, |d| role_reply(&d.sentinel)).await,
        "info" => {
            let sections: Vec<String> = argv[1..].iter().map(|s| s.to_ascii_lowercase()).collect();
            // A bulk string, not verbatim, even in RESP3: Redis's sentinelInfoCommand.
            call(tx, move |d| Reply::Bulk(info_text(d, &sections).into())).await
        }
        "shutdown" => {
            let _ = call(tx, |d| {
                d.shutdown = true;
                Reply::ok()
            })
            .await;
            return (Reply::None, true);
        }
        "command" => match argv.get(1).map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("count") => Reply::Int(COMMAND_TABLE.len() as i64),
            Some("list") => Reply::Array(
                COMMAND_TABLE
                    .iter()
                    .map(|c| Reply::bulk(c.as_bytes()))
                    .collect(),
            ),
            // Command docs and info are not kept: an empty answer, which redis-cli accepts.
            _ => Reply::Array(Vec::new()),
        },
        "acl" => match argv.get(1).map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("whoami") if argc == 2 => Reply::bulk(b"default"),
            Some("users") if argc == 2 => Reply::Array(vec![Reply::bulk(b"default")]),
            Some(_) => Reply::error(format!(
                "ERR unknown subcommand '{}'. Try ACL HELP.",
                truncate(&argv[1], 128)
            )),
            None => arity("acl"),
        },
        "subscribe" | "psubscribe" | "publish" | "role" => arity(&name),
        _ => {
            let shown: String = argv[1..]
                .iter()
                .map(|a| format!("'{}' ", truncate(a, 128)))
                .collect();
            Reply::error(format!(
                "ERR unknown command '{}', with args beginning with: {shown}",
                truncate(&argv[0], 128)
            ))
        }
    };
    (reply, false)
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: on a sentinel, a map without `role`.
async fn hello(session: &mut Session, tx: &mpsc::UnboundedSender<Msg>, argv: &[String]) -> Reply {
    let mut proto = if session.resp3 { 3 } else { 2 };
    let mut j = 1;
    if argv.len() > 1 {
        match argv[1].parse::<i64>() {
            Ok(v) if v == 2 || v == 3 => proto = v,
            Ok(_) => return Reply::error("NOPROTO unsupported protocol version"),
            Err(_) => {
                return Reply::error("ERR Protocol version is not an integer or out of range")
            }
        }
        j = 2;
    }
    while j < argv.len() {
        let opt = argv[j].to_ascii_lowercase();
        if opt == "auth" && j + 2 < argv.len() {
            let user_ok = argv[j + 1] == "default";
            let pass = argv[j + 2].clone();
            let reply = call(tx, move |d| match &d.requirepass {
                Some(p) if *p == pass && user_ok => Reply::ok(),
                None if user_ok => Reply::ok(),
                _ => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
            })
            .await;
            if reply.is_error() {
                return reply;
            }
            session.authenticated = true;
            j += 3;
        } else if opt == "setname" && j + 1 < argv.len() {
            session.name = Some(argv[j + 1].clone());
            j += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", argv[j]));
        }
    }
    if !session.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    session.resp3 = proto == 3;
    let id = session.id as i64;
    Reply::Map(vec![
        (Reply::bulk(b"server"), Reply::bulk(b"redis")),
        (
            Reply::bulk(b"version"),
            Reply::bulk(crate::REDIS_VERSION.as_bytes()),
        ),
        (Reply::bulk(b"proto"), Reply::Int(proto)),
        (Reply::bulk(b"id"), Reply::Int(id)),
        (Reply::bulk(b"mode"), Reply::bulk(b"sentinel")),
        (Reply::bulk(b"modules"), Reply::Array(Vec::new())),
    ])
}

fn client_subcommand(session: &mut Session, argv: &[String]) -> Reply {
    let Some(sub) = argv.get(1).map(|s| s.to_ascii_lowercase()) else {
        return Reply::error("ERR wrong number of arguments for 'client' command");
    };
    match (sub.as_str(), argv.len()) {
        ("setname", 3) => {
            if argv[2].bytes().any(|b| b <= b' ' || b > b'~') {
                return Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            session.name = (!argv[2].is_empty()).then(|| argv[2].clone());
            Reply::ok()
        }
        ("getname", 2) => match &session.name {
            Some(n) => Reply::bulk(n.as_bytes()),
            None => Reply::Null,
        },
        ("id", 2) => Reply::Int(session.id as i64),
        ("info", 2) | ("list", 2) => Reply::Verbatim(
            format!(
                "id={} name={} resp={} sub={} psub={}\n",
                session.id,
                session.name.clone().unwrap_or_default(),
                if session.resp3 { 3 } else { 2 },
                session.channels.len(),
                session.patterns.len()
            )
            .into(),
        ),
        ("setname" | "getname" | "id" | "info" | "list", _) => Reply::error(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        )),
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            truncate(&argv[1], 128)
        )),
    }
}

/// INFO on a sentinel: the server, clients, cpu, stats and sentinel sections (the default,
/// `all` and `everything` are all five), as `sentinelInfoCommand` offers.
fn info_text(d: &Driver, sections: &[String]) -> String {
    let all = sections.is_empty()
        || sections
            .iter()
            .any(|s| matches!(s.as_str(), "default" | "all" | "everything"));
    let wants = |name: &str| all || sections.iter().any(|s| s == name);
    let mut parts: Vec<String> = Vec::new();
    let uptime = d.started.elapsed().as_secs();
    if wants("server") {
        parts.push(format!(
            "# Server\r\nredis_version:{}\r\nredis_mode:sentinel\r\nos:{} {}\r\narch_bits:64\r\n\
             process_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n\
             uptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n",
            crate::REDIS_VERSION,
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            d.run_id,
            d.port,
            uptime / 86_400,
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            d.config_path.display()
        ));
    }
    if wants("clients") {
        parts.push(format!(
            "# Clients\r\nconnected_clients:{}\r\n",
            d.clients.load(Ordering::Relaxed)
        ));
    }
    if wants("cpu") {
        parts.push("# CPU\r\n".into());
    }
    if wants("stats") {
        parts.push("# Stats\r\n".into());
    }
    if wants("sentinel") {
        parts.push(info_section(&d.sentinel, unix_ms()));
    }
    parts.join("\r\n")
}
