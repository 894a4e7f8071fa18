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
    /// Run a Sentinel, like redis-sentinel: `redislab sentinel <sentinel.conf> [--port 26380 ...]`
    /// (the same as `redislab server <sentinel.conf> --sentinel`).
    Sentinel {
        /// A sentinel.conf, then `--directive value` overrides.
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
    /// The cluster manager, like `redis-cli --cluster`: `redislab cluster create host:port...
    /// --replicas 1`, `check`, `info`, `fix`, `reshard`, `rebalance`, `add-node`, `del-node`,
    /// `call`, `set-timeout` (`redislab cluster help` lists them and their options).
    #[command(disable_help_flag = true)]
    Cluster {
        /// The subcommand, its arguments and options (`--cluster-yes` or `--yes`, ...).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "SUBCOMMAND] [ARGS] [--OPTION"
        )]
        args: Vec<String>,
    },
    /// Print what an RDB snapshot contains: header, aux fields, every key with its type,
    /// encoding, expiry and value.
    Rdb {
        /// The dump file, e.g. dump.rdb.
        file: PathBuf,
    },
    /// Run a lab: replay a stage of the tutorial with real nodes and narrate what they do.
    Run(RunArgs),
    /// List the labs (`--kept`: the labs left running by `redislab run LAB --keep`).
    Labs {
        /// List the labs kept with `--keep`: their folders, nodes, PIDs and ports.
        #[arg(long)]
        kept: bool,
    },
    /// Stop labs kept with `--keep` and remove their folders (all of them, or those named).
    Stop {
        /// Kept labs' folders, as `redislab labs --kept` lists them.
        folders: Vec<PathBuf>,
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
        Command::Server { args } => server(args, false),
        Command::Sentinel { args } => server(args, true),
        Command::Cli(args) => cli(args),
        Command::Cluster { args } => cluster(args),
        Command::Rdb { file } => rdb(&file),
        Command::Aof { path } => aof(&path),
        Command::Run(args) => run(args),
        Command::Labs { kept } => labs(kept),
        Command::Stop { folders } => {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            let code = redislab::lab::stop_kept(&folders, &mut out, &mut err);
            ExitCode::from(code.clamp(0, 255) as u8)
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// The lab, e.g. `replication` (`redislab labs` lists them).
    lab: String,
    /// Wait for Enter before each section (`s` + Enter: before every step; `q` + Enter stops),
    /// and ask the lab's questions before revealing their answers.
    #[arg(long)]
    step: bool,
    /// Leave the nodes running at the end, and say how to reach them (`redislab labs --kept`
    /// lists kept labs, `redislab stop` stops them and removes their folders).
    #[arg(long)]
    keep: bool,
    /// No pauses between narration lines (same as `--speed 0`).
    #[arg(long)]
    fast: bool,
    /// Narration pace: 1 is the default, 2 twice as fast, 0 no pauses.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Move every port of the lab by N (6379 becomes 6379+N).
    #[arg(
        long,
        default_value_t = 0,
        allow_hyphen_values = true,
        conflicts_with = "ports"
    )]
    port_offset: i32,
    /// `auto`: use free ports picked at start.
    #[arg(long, value_parser = ["auto"])]
    ports: Option<String>,
    /// No colours (also when NO_COLOR is set, TERM=dumb, or stdout is not a terminal).
    #[arg(long)]
    no_color: bool,
    /// For tests: stop after the first node starts and wait for a signal.
    #[arg(long, hide = true)]
    hold_after_start: bool,
    /// Start at this section (its heading, or its number from 1); the steps before it run
    /// without pauses.
    #[arg(long, value_name = "SECTION")]
    from: Option<String>,
    /// What the nodes run: `redislab` (this binary) or `redis` (real redis-server from PATH;
    /// links the lab cuts go through a relay the lab owns).
    #[arg(long, value_parser = ["redislab", "redis"], default_value = "redislab")]
    engine: String,
    /// For tests: stop after the first `pause` step and wait for a signal.
    #[arg(long, hide = true)]
    hold_after_pause: bool,
}

fn run(args: RunArgs) -> ExitCode {
    use std::io::IsTerminal;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("Cannot find this program's path to start nodes: {error}");
            return ExitCode::FAILURE;
        }
    };
    let terminal = std::io::stdout().is_terminal();
    let color = !args.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        && terminal;
    // Narration follows the terminal's width (within reason); pipes get the fixed width.
    let width = match redislab::lab::transcript::terminal_width() {
        Some(columns) if terminal => columns.clamp(40, 120),
        _ => redislab::lab::transcript::FIXED_WIDTH,
    };
    let speed = if args.fast { 0.0 } else { args.speed };
    let pause = if speed > 0.0 && speed.is_finite() {
        std::time::Duration::from_millis((350.0 / speed) as u64)
    } else {
        std::time::Duration::ZERO
    };
    let opts = redislab::lab::Options {
        lab: args.lab,
        ports: match args.ports {
            Some(_) => redislab::lab::PortChoice::Auto,
            None => redislab::lab::PortChoice::Offset(args.port_offset),
        },
        step: args.step,
        keep: args.keep,
        pause,
        color,
        width,
        hold_after_start: args.hold_after_start,
        hold_after_pause: args.hold_after_pause,
        from: args.from,
        engine: if args.engine == "redis" {
            redislab::lab::Engine::Redis
        } else {
            redislab::lab::Engine::Redislab
        },
        exe,
        deadline: std::time::Duration::from_millis(redislab::lab::nodes::DEADLINE_MS),
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = redislab::lab::main(opts, &mut out, &mut err);
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn labs(kept: bool) -> ExitCode {
    let mut out = std::io::stdout();
    if kept {
        let exe = std::env::current_exe().unwrap_or_else(|_| "redislab".into());
        return match redislab::lab::list_kept(&mut out, &exe) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    match redislab::lab::list(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// The single-threaded runtime the client commands run on (`None` after saying why not).
fn client_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("Failed to start the runtime: {error}");
            None
        }
    }
}

fn cli(args: redislab::client::cli::CliArgs) -> ExitCode {
    let Some(runtime) = client_runtime() else {
        return ExitCode::FAILURE;
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = runtime.block_on(redislab::client::cli::run(
        args,
        redislab::client::cli::CliIo::stdio(&mut out, &mut err),
    ));
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn cluster(args: Vec<String>) -> ExitCode {
    use redislab::client::cluster_manager::{self, options, output};
    let words = if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        vec!["--cluster".to_string(), "help".to_string()]
    } else {
        options::subcommand_words(&args)
    };
    let Some(runtime) = client_runtime() else {
        return ExitCode::FAILURE;
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut stdin = std::io::BufReader::new(std::io::stdin());
    let mut out = output::Output {
        stdout: &mut stdout,
        stderr: &mut stderr,
        stdin: &mut stdin,
        color: output::color_from_env(),
    };
    let code = runtime.block_on(cluster_manager::run(
        &words,
        options::Options::default(),
        &mut out,
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

/// `redislab server` and `redislab sentinel`: a config file, then overrides. A `--sentinel`
/// override (or the `sentinel` subcommand) runs a Sentinel instead of a server.
fn server(mut args: Vec<String>, sentinel: bool) -> ExitCode {
    // redislab's own switch, not a redis.conf directive: the lab's fault table.
    let lab_faults = args.iter().any(|a| a == "--lab-faults");
    args.retain(|a| a != "--lab-faults");
    let options = redislab::node::Options { lab_faults };
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
    let result = if sentinel || loaded.config.sentinel_mode {
        redislab::node::sentinel::run(loaded.config, path, overrides, loaded.warnings, options)
    } else {
        if let Err(error) = redislab::node::sentinel::refuse_outside_sentinel_mode(&loaded.config) {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
        redislab::node::run_with(loaded.config, path, loaded.warnings, options)
    };
    match result {
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
