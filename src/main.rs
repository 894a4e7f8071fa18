//! The `redislab` binary: command-line parsing only; everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "redislab",
    version,
    about = "A Redis-compatible server, client and lab runner for learning replication, Sentinel and Cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server, like redis-server: `redislab server [redis.conf] [--port 6380 ...]`.
    Server {
        /// A redis.conf-syntax file, then `--directive value` overrides.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CONFIG_FILE] [--DIRECTIVE VALUE"
        )]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { args } => server(args),
    }
}

fn server(args: Vec<String>) -> ExitCode {
    let (path, overrides) = match args.first() {
        Some(first) if !first.starts_with("--") => (Some(PathBuf::from(first)), &args[1..]),
        _ => (None, &args[..]),
    };
    let loaded = match redislab::config::Config::load(path.as_deref(), overrides) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match redislab::node::run(loaded.config, path, loaded.warnings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

#[global_allocator]
static ALLOCATOR: redislab::server::memory::CountingAllocator =
    redislab::server::memory::CountingAllocator;
