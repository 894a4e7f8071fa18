//! Placeholder until the redis.conf layer lands: the typed fields the server reads.
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<String>,
    pub daemonize: bool,
    pub pidfile: Option<PathBuf>,
    pub logfile: String,
    pub loglevel: LogLevel,
    pub dir: PathBuf,
    pub databases: usize,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub maxclients: usize,
    pub proto_max_bulk_len: u64,
    pub hz: u32,
    pub replica_read_only: bool,
    pub save: Vec<(u64, u64)>,
    pub appendonly: bool,
    pub client_query_buffer_limit: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            protected_mode: true,
            requirepass: None,
            daemonize: false,
            pidfile: None,
            logfile: String::new(),
            loglevel: LogLevel::Notice,
            dir: PathBuf::from("."),
            databases: 16,
            timeout: 0,
            tcp_keepalive: 300,
            maxclients: 10000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            replica_read_only: true,
            save: vec![],
            appendonly: false,
            client_query_buffer_limit: 1 << 30,
        }
    }
}

/// A loaded configuration and its start-up warnings.
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

impl Config {
    /// Placeholder loader: `--port`, `--bind`, `--requirepass` overrides only.
    pub fn load(_path: Option<&std::path::Path>, overrides: &[String]) -> Result<Loaded, String> {
        let mut config = Config::default();
        let mut i = 0;
        while i + 1 < overrides.len() {
            match overrides[i].as_str() {
                "--port" => config.port = overrides[i + 1].parse().map_err(|_| "bad port")?,
                "--bind" => config.bind = vec![overrides[i + 1].clone()],
                "--requirepass" => config.requirepass = Some(overrides[i + 1].clone()),
                "--timeout" => config.timeout = overrides[i + 1].parse().map_err(|_| "bad")?,
                _ => {}
            }
            i += 2;
        }
        config.dir = std::env::current_dir().map_err(|e| e.to_string())?;
        Ok(Loaded {
            config,
            warnings: vec![],
        })
    }
}
