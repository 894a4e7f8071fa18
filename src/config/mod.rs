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
        }
    }
}
