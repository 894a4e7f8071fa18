//! redislab: a Redis-compatible server, client and lab runner for learning how replication,
//! Sentinel and Cluster work.
#![deny(clippy::print_stdout)]

pub mod client;
pub mod config;
pub mod glob;
pub mod persist;
pub mod resp;
pub mod store;
