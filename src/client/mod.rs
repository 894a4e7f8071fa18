//! The client side of the wire: an async client, redis-cli's reply formatting, and
//! `redislab cli`, a redis-cli clone.
//!
//! * [`connection`]: [`connection::Client`], one TCP connection speaking RESP2/RESP3, reused by
//!   the lab runner, the cluster tool and sentinel; plus INFO parsing helpers.
//! * [`format`](mod@format): replies rendered exactly as redis-cli 7.0 prints them (TTY and raw modes).
//! * [`cli`]: the `redislab cli` command: options, one-shot mode, the REPL, `-c` redirects.
//! * [`help`]: its `help` command, built from the server's `COMMAND DOCS` as redis-cli does.
//!
//! The frame type and its parser live below this layer, in [`crate::resp::frame`].

pub mod cli;
pub mod cluster_manager;
pub mod connection;
pub mod format;
pub mod help;
