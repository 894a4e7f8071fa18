//! The node runtime every role shares: listeners, connection tasks, the periodic tick (active
//! expiry), shutdown, daemonizing and the pidfile.
//!
//! [`run`] is what `redislab server` runs: it binds the configured addresses (failing with
//! one clear line if a port is taken), accepts connections — refusing them past `maxclients`
//! and, in protected mode without a password, from non-loopback peers, as Redis does — and
//! serves each one in its own task ([`connection::serve`]). SHUTDOWN, SIGTERM and Ctrl-C take
//! the same path: stop accepting, close connections, remove the pidfile, log, exit.

pub mod connection;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket};

use crate::config::Config;
use crate::server::clients::ClientHandle;
use crate::server::events::{Event, EventBus};
use crate::server::log::Logger;
use crate::server::{unix_ms, Shared, ShutdownMode};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Could not create server TCP listening socket {addr}: bind: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("Can't open the log file: {0}")]
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
}

/// Sets up logging and the working directory, then runs the server until it shuts down.
/// `warnings` are start-up warnings from the config loader. Blocks the calling thread.
pub fn run(
    config: Config,
    config_path: Option<PathBuf>,
    warnings: Vec<String>,
) -> Result<(), StartError> {
    std::env::set_current_dir(&config.dir).map_err(|source| StartError::Dir {
        path: config.dir.clone(),
        source,
    })?;
    let logfile = if config.daemonize && config.logfile.is_empty() {
        // Redis sends a daemon's stdout log to /dev/null.
        "/dev/null".to_string()
    } else {
        config.logfile.clone()
    };
    if config.daemonize {
        daemonize();
    }
    let logger = Logger::open(&logfile, config.loglevel).map_err(StartError::LogFile)?;
    let events = EventBus::new(logger);
    events.emit(Event::Starting {
        pid: std::process::id(),
    });
    for warning in warnings {
        events.emit(Event::Warning { text: warning });
    }
    if let Some(path) = config.pidfile.clone().or_else(|| {
        config
            .daemonize
            .then(|| PathBuf::from(format!("/var/run/redis_{}.pid", config.port)))
    }) {
        // Redis only warns when the pidfile cannot be written.
        if let Err(source) = std::fs::write(&path, format!("{}\n", std::process::id())) {
            events.emit(Event::Warning {
                text: StartError::Pidfile { path, source }.to_string(),
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
    let shared = Shared::new(config, config_path, events).into_arc();
    if let Err(error) = load_dataset(&shared) {
        shared.emit(Event::Warning {
            text: error.clone(),
        });
        return Err(StartError::Load(error));
    }
    let result = runtime.block_on(serve(shared.clone()));
    if result.is_ok() {
        final_save(&shared);
    }
    let pidfile = shared.config().pidfile.clone();
    if let Some(path) = pidfile {
        let _ = std::fs::remove_file(path);
    }
    if result.is_ok() {
        shared.emit(Event::ShutdownComplete);
    }
    // Connection tasks still parked on sockets are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Loads the dataset at start-up: the AOF when `appendonly yes` and one exists (it wins over
/// the RDB, as in Redis), else the RDB; then opens the AOF for appending.
fn load_dataset(shared: &Shared) -> Result<(), String> {
    let appendonly = shared.config().appendonly;
    let from_aof = appendonly && crate::server::aof::load_at_startup(shared)?;
    if !from_aof {
        crate::server::persistence::load_at_startup(shared)?;
    }
    if appendonly {
        crate::server::aof::open_at_startup(shared, from_aof)?;
    }
    Ok(())
}

/// What shutdown does with the dataset: kill a running BGSAVE, then save if SHUTDOWN SAVE was
/// asked, or if save points are configured and NOSAVE was not (Redis's `prepareForShutdown`).
fn final_save(shared: &Shared) {
    crate::server::persistence::kill_bgsave(shared);
    crate::server::aof::shutdown(shared);
    let mode = (*shared.shutdown.borrow()).unwrap_or(ShutdownMode::Default);
    if mode.wants_save(!shared.config().save.is_empty()) {
        shared.emit(Event::Notice {
            text: "Saving the final RDB snapshot before exiting.".into(),
        });
        let mut engine = shared.engine();
        let _ = crate::server::persistence::save(shared, &mut engine);
    }
}

/// Detaches from the terminal like Redis's `daemonize()`: fork, the parent exits, the child
/// starts a new session with stdio on /dev/null. Must run before any thread is started.
fn daemonize() {
    // SAFETY: called before the tokio runtime or any other thread exists, so fork() cannot
    // leave a lock held by another thread in the child.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
}

/// Binds the configured addresses; `-` prefixed ones are optional (`bind * -::*`).
fn bind_all(config: &Config) -> Result<Vec<TcpListener>, StartError> {
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

/// Binds, accepts and ticks until shutdown is requested.
async fn serve(shared: Arc<Shared>) -> Result<(), StartError> {
    let config = shared.config().clone();
    let listeners = bind_all(&config)?;
    if let Some(port) = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
    {
        shared.port.store(port as u64, Ordering::Relaxed);
        shared.emit(Event::Listening { port });
    }
    shared.emit(Event::Ready);
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        tasks.spawn(accept_loop(shared.clone(), listener));
    }
    tasks.spawn(cron(shared.clone()));
    let replicaof = shared.config().replicaof.clone();
    if let Some((host, port)) = replicaof {
        crate::repl::replica::start(&shared, host, port);
    }
    tasks.spawn(signals(shared.clone()));
    let mut shutdown = shared.shutdown_signal();
    let mode = loop {
        if let Some(mode) = *shutdown.borrow_and_update() {
            break mode;
        }
        if shutdown.changed().await.is_err() {
            break ShutdownMode::NoSave;
        }
    };
    let reason = match mode {
        ShutdownMode::NoSave => "User requested shutdown (NOSAVE)...",
        _ => "User requested shutdown...",
    };
    shared.emit(Event::ShutdownRequested {
        reason: reason.to_string(),
    });
    tasks.abort_all();
    for client in shared.clients.all() {
        client.kill();
    }
    Ok(())
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
    shared.emit(Event::Warning {
        text: format!("Received {which} scheduling shutdown..."),
    });
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
    if config.protected_mode && config.requirepass.is_none() && !peer.ip().is_loopback() {
        return Some(PROTECTED_MODE_DENIED.to_string());
    }
    None
}

/// Redis 7.0's protected-mode refusal, verbatim.
const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// The periodic tick (`serverCron`): active expiry, `hz` times a second.
async fn cron(shared: Arc<Shared>) {
    let hz = shared.config().hz.clamp(1, 500);
    let mut interval = tokio::time::interval(Duration::from_millis(1000 / hz as u64));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ping = Instant::now();
    loop {
        interval.tick().await;
        let period = Duration::from_secs(shared.config().repl_ping_replica_period.max(1));
        if last_ping.elapsed() >= period {
            last_ping = Instant::now();
            crate::repl::ping_replicas(&shared);
        }
        crate::repl::drop_timed_out_replicas(&shared);
        crate::server::persistence::check_bgsave(&shared);
        crate::server::aof::cron(&shared);
        crate::server::persistence::check_save_points(&shared);
        active_expire_cycle(&shared, Duration::from_millis(25 * 10 / hz as u64));
    }
}

/// Redis's `activeExpireCycle`: per db, sample 20 keys with a TTL and delete the expired ones,
/// repeating while more than a quarter of a sample was expired, within a time budget so the
/// keyspace lock is never held for long.
pub fn active_expire_cycle(shared: &Shared, budget: Duration) {
    const SAMPLE: usize = 20;
    let started = Instant::now();
    let mut engine = shared.engine();
    let now = unix_ms();
    let engine = &mut *engine;
    for db in 0..engine.dbs.len() {
        loop {
            let (sampled, expired) =
                engine.dbs[db].active_expire_round(now, SAMPLE, &mut engine.rng);
            if sampled == 0 || expired * 4 <= sampled || started.elapsed() > budget {
                break;
            }
        }
        if started.elapsed() > budget {
            break;
        }
    }
    crate::cmd::exec::propagate_expired(engine);
    crate::server::notify::publish(shared, engine);
    crate::repl::flush(shared, engine);
}
