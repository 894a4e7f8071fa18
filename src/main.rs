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
    /// A redis-cli-like client: `redislab cli [-h host] [-p port] [-a password] [-c] [command ...]`.
    #[command(disable_help_flag = true)]
    Cli(redislab::client::cli::CliArgs),
    /// Print what an RDB snapshot contains: header, aux fields, every key with its type,
    /// encoding, expiry and value.
    Rdb {
        /// The dump file, e.g. dump.rdb.
        file: PathBuf,
    },
    /// List the commands in an append-only file: the appendonlydir, its manifest, or one file.
    Aof {
        /// e.g. appendonlydir
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    let parsed = Cli::parse();
    match parsed.command {
        Command::Server { args } => server(args),
        Command::Cli(args) => cli(args),
        Command::Rdb { file } => rdb(&file),
        Command::Aof { path } => aof(&path),
    }
}

fn cli(args: redislab::client::cli::CliArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Failed to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = runtime.block_on(redislab::client::cli::run(
        args,
        redislab::client::cli::CliIo::stdio(&mut out, &mut err),
    ));
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn aof(path: &std::path::Path) -> ExitCode {
    match redislab::persist::aof::describe(path, std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn rdb(file: &std::path::Path) -> ExitCode {
    match redislab::persist::rdb::describe(file, std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
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
