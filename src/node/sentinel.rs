//! The Sentinel driver: runs the pure [`Sentinel`] machine on tokio.
//!
//! One task owns the machine. It ticks it 10 to 19 times a second with the wall clock (Redis uses
//! `mstime()`, which is what makes TILT detect clock jumps) and a seeded rng, and carries out
//! its outputs: commands go to the instance's command link, events are logged in Redis's
//! format and published to clients subscribed on this Sentinel, the config file is rewritten
//! atomically. Link tasks (a command link and, for masters and replicas, a pub/sub link
//! subscribed to `__sentinel__:hello`) and client connections talk to it through one channel.
//! Clients are served by [`super::sentinel_clients`], with Sentinel's own command table.
//!
//! Every link is a peer link ([`crate::net`]): it goes through the Sentinel's fault table under
//! the instance's address (`127.0.0.1:6379`), so a lab can cut a Sentinel from a master, a
//! replica or another Sentinel, in either direction, on a Sentinel started with `--lab-faults`.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::client::connection::Client;
use crate::config::{Config, ConfigError, LogLevel};
use crate::net::FaultTable;
use crate::resp::frame::Frame;
use crate::resp::Reply;
use crate::sentinel::config::{rewrite_text, SCRIPTS_WARNING};
use crate::sentinel::{
    Event, Expect, Input, LinkId, LinkSpec, Ms, Output, Sentinel, HELLO_CHANNEL,
};
use crate::server::log::Logger;

use super::{Options, StartError};

/// Redis Sentinel's default port.
pub const SENTINEL_PORT: u16 = 26379;

/// The machine's timer runs `TICK_HZ + rand % TICK_HZ` times a second, a new rate after each
/// run, as `sentinelTimer` sets `server.hz`: sentinels stay out of step with each other, which
/// makes split votes rarer.
const TICK_HZ: u64 = 10;
/// Links are reconnected at most this often (Redis's SENTINEL_PING_PERIOD).
const RECONNECT_MS: u64 = 1_000;

pub(super) fn unix_ms() -> Ms {
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

/// Outside sentinel mode a `sentinel` line is an error, as in Redis's `config.c`.
pub fn refuse_outside_sentinel_mode(config: &Config) -> Result<(), ConfigError> {
    match config.sentinel_line_origins.first() {
        Some(origin) => Err(ConfigError {
            file: origin.file.clone(),
            line: Some(origin.line),
            text: Some(origin.text.clone()),
            reason: "sentinel directive while not in sentinel mode".into(),
        }),
        None => Ok(()),
    }
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
/// state in its config file. Of `options`, `lab_faults` applies: a fault table on every link.
pub fn run(
    mut config: Config,
    config_path: Option<PathBuf>,
    overrides: &[String],
    warnings: Vec<String>,
    options: Options,
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

    let logfile = super::enter_dir(&config)?;
    // A daemon's parent waits for the report: listening, or why not (see `node::daemon`).
    let mut report = if config.daemonize {
        super::daemon::daemonize()?
    } else {
        super::daemon::StartReport::none()
    };
    let logger = match Logger::open(&logfile, config.loglevel) {
        Ok(logger) => logger,
        Err(error) => {
            let error = StartError::LogFile(error);
            report.failed(&error.to_string());
            return Err(error);
        }
    };
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
    let faults = options.lab_faults.then(Arc::default);
    let result = runtime.block_on(serve(
        config,
        path,
        sentinel,
        rng,
        logger.clone(),
        faults,
        &mut report,
    ));
    if let Err(error) = &result {
        report.failed(&error.to_string());
    }
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
pub(super) type Call = Box<dyn FnOnce(&mut Driver) -> Reply + Send>;

pub(super) enum Msg {
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
pub(super) struct Driver {
    pub(super) sentinel: Sentinel,
    pub(super) rng: StdRng,
    pub(super) logger: Arc<Logger>,
    pub(super) config_path: PathBuf,
    links: HashMap<(LinkId, bool), LinkTask>,
    last_attempt: HashMap<(LinkId, bool), Instant>,
    next_gen: u64,
    pub(super) tx: mpsc::UnboundedSender<Msg>,
    /// Events for subscribed clients: (channel, payload).
    pub(super) events: broadcast::Sender<(String, String)>,
    pub(super) shutdown: bool,
    pub(super) requirepass: Option<String>,
    pub(super) started: Instant,
    pub(super) port: u16,
    pub(super) run_id: String,
    /// Connected clients, connections accepted so far, and `maxclients`, for INFO.
    pub(super) clients: Arc<AtomicUsize>,
    pub(super) connections: Arc<AtomicU64>,
    pub(super) maxclients: usize,
    /// The fault table every link goes through; only with `--lab-faults`.
    pub(super) faults: Option<Arc<FaultTable>>,
}

impl Driver {
    pub(super) fn apply(&mut self, outputs: Vec<Output>) {
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
                    self.logger.log(event.level(), &event.log_line());
                    if let Some((channel, payload)) = event.publication() {
                        let _ = self.events.send((channel.to_string(), payload));
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

    pub(super) fn handle(&mut self, input: Input) {
        let outputs = self.sentinel.handle(input, unix_ms(), &mut self.rng);
        self.apply(outputs);
    }

    /// Starts the links the machine wants and stops the ones it no longer wants.
    pub(super) fn reconcile_links(&mut self) {
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
                let peer = Peer {
                    spec: spec.clone(),
                    faults: self.faults.clone(),
                };
                let tx = self.tx.clone();
                let task = if pubsub {
                    LinkTask {
                        gen,
                        commands: None,
                        task: tokio::spawn(pubsub_link(peer, gen, name8, tx)),
                    }
                } else {
                    let (ctx, crx) = mpsc::unbounded_channel();
                    LinkTask {
                        gen,
                        commands: Some(ctx),
                        task: tokio::spawn(command_link(peer, gen, name8, tx, crx)),
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

/// What a link task needs to reach its instance.
struct Peer {
    spec: LinkSpec,
    faults: Option<Arc<FaultTable>>,
}

/// Connects (through the fault table, under the instance's address) and sends `AUTH` (if
/// configured) and `CLIENT SETNAME`, ignoring their replies as Redis does. The whole opening
/// is bounded: an instance that accepts but never answers (a stalled host, a cut link) is
/// given up on, and the driver tries again later.
async fn open_link(peer: &Peer, client_name: &str) -> Option<(Client, Option<String>)> {
    let deadline = Duration::from_millis(RECONNECT_MS * 2);
    tokio::time::timeout(deadline, handshake(peer, client_name))
        .await
        .ok()
        .flatten()
}

async fn handshake(peer: &Peer, client_name: &str) -> Option<(Client, Option<String>)> {
    let spec = &peer.spec;
    let addr = format!("{}:{}", spec.id.addr.ip, spec.id.addr.port);
    let mut client = Client::connect_peer(
        &addr,
        Duration::from_millis(RECONNECT_MS * 2),
        peer.faults.clone(),
    )
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
    peer: Peer,
    gen: u64,
    name8: String,
    tx: mpsc::UnboundedSender<Msg>,
    mut commands: mpsc::UnboundedReceiver<(Vec<String>, Expect)>,
) {
    let link = peer.spec.id.clone();
    let down = |tx: &mpsc::UnboundedSender<Msg>| {
        let _ = tx.send(Msg::LinkDown {
            gen,
            link: link.clone(),
            pubsub: false,
        });
    };
    let Some((mut client, local_ip)) = open_link(&peer, &format!("sentinel-{name8}-cmd")).await
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
                if client.send(&renamed(&peer.spec, command)).await.is_err() {
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
async fn pubsub_link(peer: Peer, gen: u64, name8: String, tx: mpsc::UnboundedSender<Msg>) {
    let link = peer.spec.id.clone();
    let down = |tx: &mpsc::UnboundedSender<Msg>| {
        let _ = tx.send(Msg::LinkDown {
            gen,
            link: link.clone(),
            pubsub: true,
        });
    };
    let Some((mut client, _)) = open_link(&peer, &format!("sentinel-{name8}-pubsub")).await else {
        down(&tx);
        return;
    };
    let subscribe = renamed(&peer.spec, vec!["SUBSCRIBE".into(), HELLO_CHANNEL.into()]);
    let deadline = Duration::from_millis(RECONNECT_MS * 2);
    if !matches!(
        tokio::time::timeout(deadline, client.command(&subscribe)).await,
        Ok(Ok(Frame::Array(_) | Frame::Push(_)))
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
    faults: Option<Arc<FaultTable>>,
    report: &mut super::daemon::StartReport,
) -> Result<(), StartError> {
    let myid_configured = config
        .sentinel_lines
        .iter()
        .any(|l| l.first().is_some_and(|w| w.eq_ignore_ascii_case("myid")));
    let listeners = super::bind_all(&config)?;
    report.ready();
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
        connections: Arc::new(AtomicU64::new(0)),
        maxclients: if config.maxclients == 0 {
            10_000
        } else {
            config.maxclients
        },
        faults,
    };
    logger.log(
        LogLevel::Notice,
        &format!("Running mode=sentinel, port={}.", config.port),
    );
    // A new id is saved at once, so that it survives a restart (`sentinelIsRunning`).
    if !myid_configured {
        driver.apply(vec![Output::FlushConfig]);
    }
    driver.apply(vec![Output::Event(Event::SentinelId {
        id: driver.sentinel.core.myid.clone(),
    })]);
    let outputs = driver.sentinel.start(unix_ms());
    driver.apply(outputs);

    let next_id = driver.connections.clone();
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
                    super::sentinel_clients::client_connection(stream, id, tx, events).await;
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
