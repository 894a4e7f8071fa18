//! Manual testing of `redislab cli` without the main binary:
//! `cargo run --example cli -- -p 6379 [command...]`.

use clap::Parser;
use redislab::client::cli::{run, CliArgs, CliIo};

#[derive(Parser)]
#[command(disable_help_flag = true)]
struct Args {
    #[command(flatten)]
    cli: CliArgs,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = run(args.cli, CliIo::stdio(&mut out, &mut err)).await;
    std::process::exit(code);
}
