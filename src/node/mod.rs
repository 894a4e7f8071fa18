//! The node runtime every role shares: listeners, connection tasks, the periodic tick (active
//! expiry), shutdown, daemonizing and the pidfile.
//!
//! [`run`] is what `redislab server` runs: it binds the configured addresses (failing with
//! one clear line if a port is taken), accepts connections — refusing them past `maxclients`
//! and, in protected mode without a password, from non-loopback peers, as Redis does — and
//! serves each one in its own task ([`connection::serve`]). SHUTDOWN, SIGTERM and Ctrl-C take
//! the same path: stop accepting, close connections, remove the pidfile, log, exit.

pub mod cluster;
pub mod connection;
pub mod cron;
mod daemon;
pub mod replica_link;
pub mod sentinel;
pub mod sentinel_clients;
pub mod serve_replica;
pub mod spin;
pub mod startup;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

use crate::config::Config;
use crate::server::clients::ClientHandle;
use crate::server::events::{Event, EventBus};
use crate::server::log::Logger;
use crate::server::role::{change_role, Cause, Role};
use crate::server::{unix_ms, Shared, ShutdownMode};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "Could not create server TCP listening socket {addr}: bind: {}",
        strerror(source)
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("Can't open the log file: {}", strerror(.0))]
    LogFile(std::io::Error),
    #[error("Failed to write PID file {path}: {source}")]
    Pidfile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Can't chdir to '{path}': {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Load(String),
    #[error("Failed to start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Daemon(String),
}

/// An I/O error as C's `strerror` words it (`Address already in use`), without Rust's
/// ` (os error 98)` suffix, so messages read like Redis's.
fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Moves into `dir` (every relative path a node uses is relative to it, as in Redis) and
/// names the log file: `logfile`, or /dev/null for a daemon without one (Redis sends a daemon's
/// stdout log there). Shared by the server and the Sentinel.
pub(crate) fn enter_dir(config: &Config) -> Result<String, StartError> {
    std::env::set_current_dir(&config.dir).map_err(|source| StartError::Dir {
        path: config.dir.clone(),
        source,
    })?;
    Ok(if config.daemonize && config.logfile.is_empty() {
        "/dev/null".to_string()
    } else {
        config.logfile.clone()
    })
}

/// How a node runs beyond its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--lab-faults`: keep a fault table for peer links and accept `REDISLAB FAULT` (see
    /// [`crate::net`]), on a server or a Sentinel. Off unless a lab asks for it.
    pub lab_faults: bool,
}

/// Sets up logging and the working directory, then runs the server until it shuts down.
/// `warnings` are start-up warnings from the config loader. Blocks the calling thread.
///
/// With `daemonize yes` the process forks: the parent waits for the daemon to report that it
/// listens (or why it could not start) and exits, so a taken port is an error on the terminal
/// and a non-zero exit status, not a silent exit 0. Failures after the log is open are also
/// logged, as Redis logs them.
pub fn run(
    config: Config,
    config_path: Option<PathBuf>,
    warnings: Vec<String>,
) -> Result<(), StartError> {
    run_with(config, config_path, warnings, Options::default())
}

/// [`run`], with [`Options`].
pub fn run_with(
    config: Config,
    config_path: Option<PathBuf>,
    warnings: Vec<String>,
    options: Options,
) -> Result<(), StartError> {
    let logfile = enter_dir(&config)?;
    // Open the log once while still attached to the terminal, so that a logfile in a missing
    // folder is reported there (Redis checks it while reading the config, before forking).
    if !logfile.is_empty() {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
            .map_err(StartError::LogFile)?;
    }
    let mut report = if config.daemonize {
        daemon::daemonize()?
    } else {
        daemon::StartReport::none()
    };
    crate::clock::calibrate();
    let logger = Logger::open(&logfile, config.loglevel).map_err(StartError::LogFile);
    let logger = match logger {
        Ok(logger) => logger,
        Err(error) => {
            report.failed(&error.to_string());
            return Err(error);
        }
    };
    let result = run_logged(config, config_path, warnings, logger, &mut report, options);
    if let Err(error) = &result {
        report.failed(&error.to_string());
    }
    result
}

fn run_logged(
    config: Config,
    config_path: Option<PathBuf>,
    warnings: Vec<String>,
    logger: Logger,
    report: &mut daemon::StartReport,
    options: Options,
) -> Result<(), StartError> {
    let events = EventBus::new(logger);
    events.emit(Event::Starting);
    events.emit(Event::VersionBanner {
        version: format!(
            "{} (redislab {})",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION")
        ),
        pid: std::process::id(),
    });
    for message in warnings {
        events.emit(Event::ConfigWarning { message });
    }
    let pidfile = config.pidfile.clone().or_else(|| {
        config
            .daemonize
            .then(|| PathBuf::from(format!("/var/run/redis_{}.pid", config.port)))
    });
    if let Some(path) = pidfile.clone() {
        // Redis only warns when the pidfile cannot be written.
        if let Err(source) = std::fs::write(&path, format!("{}\n", std::process::id())) {
            events.emit(Event::PidfileFailed {
                path: path.display().to_string(),
                error: source.to_string(),
            });
        }
    }
    // One thread serves every connection, as in Redis: commands are serialized on the keyspace
    // anyway, and a single thread never contends for it. Blocking work (snapshots, fsync) goes
    // to tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    if let Err(error) = crate::cmd::apply_renames(&config.rename_commands) {
        events.emit(Event::LoadFailed {
            error: error.clone(),
        });
        return Err(StartError::Load(error));
    }
    let mut shared = Shared::new(config, config_path, events);
    if options.lab_faults {
        shared.faults = Some(Arc::default());
    }
    let shared = Arc::new(shared);
    if let Err(error) = startup::load_dataset(&shared) {
        shared.emit(Event::LoadFailed {
            error: error.clone(),
        });
        return Err(StartError::Load(error));
    }
    let config = shared.config().clone();
    let listeners = match runtime.block_on(async { bind_all(&config) }) {
        Ok(listeners) => listeners,
        Err(error) => {
            // Redis's two lines (`listenToPort`, then `initServer`) before it exits 1.
            let text = error.to_string();
            let detail = text
                .strip_prefix("Could not create server TCP listening socket ")
                .unwrap_or(&text);
            shared.emit(Event::ListenFailed {
                error: detail.to_string(),
            });
            shared.emit(Event::ListenAborted { port: config.port });
            return Err(error);
        }
    };
    let bus = if config.cluster_enabled {
        let port = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map_or(config.port, |a| a.port());
        if let Err(error) = cluster::init(&shared, port) {
            if let StartError::Load(text) = &error {
                shared.emit(Event::LoadFailed {
                    error: text.clone(),
                });
            }
            return Err(error);
        }
        match runtime.block_on(cluster::bind(&config, port)) {
            Ok(l) => Some(l),
            Err(error) => {
                shared.emit(Event::ListenFailed {
                    error: error.to_string(),
                });
                return Err(error);
            }
        }
    } else {
        None
    };
    report.ready();
    let result = runtime.block_on(serve(shared.clone(), listeners, bus));
    if result.is_ok() {
        final_save(&shared);
    }
    if let Some(path) = pidfile {
        shared.emit(Event::PidfileRemoved);
        let _ = std::fs::remove_file(path);
    }
    if result.is_ok() {
        shared.emit(Event::ShutdownComplete);
    }
    // Connection tasks still parked on sockets are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// What shutdown does with the dataset: kill a running BGSAVE, then save if SHUTDOWN SAVE was
/// asked, or if save points are configured and NOSAVE was not (Redis's `prepareForShutdown`).
fn final_save(shared: &Shared) {
    {
        let mut engine = shared.engine();
        crate::server::persistence::kill_bgsave(&mut engine);
        crate::server::aof::shutdown(&mut engine);
    }
    let mode = (*shared.shutdown.borrow()).unwrap_or(ShutdownMode::Default);
    if mode.wants_save(!shared.config().save.is_empty()) {
        shared.emit(Event::FinalSaveStarted);
        let mut engine = shared.engine();
        let _ = crate::server::persistence::save(shared, &mut engine);
    }
}

/// Binds the configured addresses; `-` prefixed ones are optional (`bind * -::*`).
pub(crate) fn bind_all(config: &Config) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::new();
    let binds = if config.bind.is_empty() {
        vec!["*".to_string(), "-::*".to_string()]
    } else {
        config.bind.clone()
    };
    for bind in binds {
        let (optional, addr) = match bind.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, bind.clone()),
        };
        let ip: IpAddr = match addr.as_str() {
            "*" => IpAddr::from([0, 0, 0, 0]),
            "::*" => "::".parse().expect("valid IPv6 literal"),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) if optional => continue,
                Err(_) => {
                    return Err(StartError::Bind {
                        addr: format!("{addr}:{}", config.port),
                        source: std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "invalid address",
                        ),
                    })
                }
            },
        };
        match listen(SocketAddr::new(ip, config.port), 511) {
            Ok(listener) => listeners.push(listener),
            Err(_) if optional => {}
            Err(source) => {
                return Err(StartError::Bind {
                    addr: format!("{addr}:{}", config.port),
                    source,
                })
            }
        }
    }
    Ok(listeners)
}

fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        // `bind * -::*` binds both families separately, as Redis does.
        set_ipv6_only(&socket)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Sets IPV6_V6ONLY so that `::` does not collide with `0.0.0.0` on the same port.
fn set_ipv6_only(socket: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a valid socket fd with a correctly sized int option.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Accepts on `listeners` and ticks until shutdown is requested.
async fn serve(
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    bus: Option<TcpListener>,
) -> Result<(), StartError> {
    if let Some(port) = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
    {
        shared.port.store(port as u64, Ordering::Relaxed);
        shared.emit(Event::Listening {
            mode: if bus.is_some() {
                "cluster"
            } else {
                "standalone"
            }
            .into(),
            port,
        });
    }
    shared.emit(Event::Ready);
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        tasks.spawn(accept_loop(shared.clone(), listener));
    }
    tasks.spawn(cron::run(shared.clone()));
    tasks.spawn(cron::aof_syncer(shared.clone()));
    tasks.spawn(spin::run(shared.clone()));
    if let Some(bus) = bus {
        tasks.spawn(cluster::run(shared.clone(), bus));
    }
    let replicaof = shared.config().replicaof.clone();
    if let Some((host, port)) = replicaof {
        let mut engine = shared.engine();
        let to = Role::ReplicaOf { host, port };
        change_role(&shared, &mut engine, to, Cause::Config, unix_ms());
    }
    tasks.spawn(replica_links(shared.clone()));
    tasks.spawn(signals(shared.clone()));
    let mut shutdown = shared.shutdown_signal();
    // Whoever asks (SHUTDOWN, a signal) has logged "User requested shutdown..." already.
    loop {
        if shutdown.borrow_and_update().is_some() || shutdown.changed().await.is_err() {
            break;
        }
    }
    tasks.abort_all();
    for client in shared.clients.all() {
        client.kill();
    }
    Ok(())
}

/// Carries out role changes ([`crate::server::role`]): after each one that made this node a
/// replica, starts the link task for its generation. A link task whose generation is stale
/// stops by itself.
async fn replica_links(shared: Arc<Shared>) {
    let mut changes = shared.role_changes.subscribe();
    changes.mark_changed();
    while changes.changed().await.is_ok() {
        let generation = *changes.borrow_and_update();
        let current = shared.engine().repl.master.as_ref().map(|m| m.generation);
        if current == Some(generation) {
            tokio::spawn(replica_link::run(shared.clone(), generation));
        }
    }
}

/// SIGTERM and SIGINT ask for a normal shutdown, like Redis's signal handler.
async fn signals(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    shared.emit(Event::SignalShutdown {
        signal: which.into(),
    });
    shared.emit(Event::ShutdownStarted);
    shared.request_shutdown(ShutdownMode::Default);
}

/// Accepts connections on one listener.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let laddr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(_) => return,
    };
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared
            .stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        if let Some(refusal) = refuse(&shared, &peer) {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(refusal.as_bytes()).await;
            });
            continue;
        }
        let handle = Arc::new(ClientHandle::new(shared.next_client_id(), peer, laddr));
        shared.clients.register(handle.clone());
        tokio::spawn(connection::serve(shared.clone(), stream, handle));
    }
}

/// The error a new connection gets instead of service, if any.
fn refuse(shared: &Shared, peer: &SocketAddr) -> Option<String> {
    let config = shared.config();
    if shared.clients.len() >= config.maxclients {
        return Some("-ERR max number of clients reached\r\n".to_string());
    }
    if config.protected_mode
        && config.requirepass.is_none()
        && !crate::server::clients::is_local_peer(peer)
    {
        return Some(PROTECTED_MODE_DENIED.to_string());
    }
    None
}

/// Redis 7.0's protected-mode refusal, verbatim.
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
