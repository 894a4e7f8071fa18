//! redislab: a Redis-compatible server, client and lab runner for learning how replication,
//! Sentinel and Cluster work.
#![deny(clippy::print_stdout)]

/// The Redis version redislab reports (INFO, HELLO) and whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";

pub mod client;
pub mod cmd;
pub mod config;
pub mod glob;
pub mod lab;
pub mod node;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod server;
pub mod store;
