//! The cluster manager: `redislab cluster <subcommand>` and `redislab cli --cluster
//! <subcommand>`, a clone of `redis-cli --cluster` (Redis 7.0.15) that works against any
//! Redis-Cluster-speaking nodes (real redis-server, redislab, or a mix).
//!
//! * [`options`]: the command line (`--cluster-*` and the short `--*` spellings), the
//!   subcommand table and `help`.
//! * [`topology`]: what `CLUSTER NODES` says about a node, the agreement signature, and the
//!   node summaries printed by `check` and `create` (pure).
//! * [`plan`]: slot and replica allocation for `create` (with anti-affinity), the reshard
//!   table, rebalance weights (pure).
//! * [`manager`]: the loaded cluster and the operations on it: load, check, wait for the
//!   join, move a slot with MIGRATE, the slot primitives (SETSLOT, ADDSLOTS in MULTI).
//! * `fix`: repairing open, uncovered and multiply-owned slots (`fix`).
//! * `commands`: the subcommands themselves.
//! * [`output`]: where it prints (with redis-cli's colours) and reads answers.
//!
//! What goes on the wire and what is printed follow redis-cli's `clusterManager*` functions,
//! captured in the project's interop notes. Differences, on purpose: waiting for the nodes
//! to agree gives up after [`manager::JOIN_LIMIT_SECS`]; a reply that takes minutes fails
//! the command; questions met with end of input abort instead of asking forever; `import`
//! and `backup` are not provided.

mod commands;
mod fix;
pub mod manager;
pub mod options;
pub mod output;
pub mod plan;
pub mod topology;

use manager::Manager;
use options::Options;
pub use output::Output;

/// Runs the cluster manager on redis-cli-style `words` (`--cluster <sub> args... options`)
/// and returns the exit code (0 on success, 1 otherwise, as redis-cli). `defaults` carries
/// options given outside the words (`redislab cli -a pw --cluster ...`).
pub async fn run(words: &[String], defaults: Options, out: &mut Output<'_>) -> i32 {
    let mut opts = match options::parse(words) {
        Ok(opts) => opts,
        Err(e) => {
            out.eprint(&format!("{}\n", e.0));
            return 1;
        }
    };
    if opts.password.is_none() {
        opts.password = defaults.password;
        opts.user = opts.user.or(defaults.user);
        opts.no_auth_warning |= defaults.no_auth_warning;
    } else if !opts.no_auth_warning {
        out.eprint(crate::client::cli::AUTH_WARNING);
    }
    if opts.password.is_none() {
        opts.password = std::env::var(crate::client::cli::AUTH_ENV).ok();
    }
    if std::env::var("REDISCLI_CLUSTER_YES").is_ok_and(|v| v == "1") {
        opts.yes = true;
    }
    if let Err(e) = options::validate(&opts) {
        out.eprint(&format!("{}\n", e.0));
        return 1;
    }
    let ok = match opts.command.as_str() {
        "help" => {
            out.print(&options::help_text());
            // redis-cli exits with 1 after its help, as every subcommand returning 0.
            return 1;
        }
        command => {
            let command = command.to_string();
            let fix = command == "fix";
            let mut manager = Manager::new(opts, out);
            manager.fix = fix;
            match command.as_str() {
                "create" => manager.create().await,
                "check" | "fix" => manager.check().await,
                "info" => manager.info().await,
                "reshard" => manager.reshard().await,
                "rebalance" => manager.rebalance().await,
                "add-node" => manager.add_node().await,
                "del-node" => manager.del_node().await,
                "call" => manager.call_all().await,
                "set-timeout" => manager.set_timeout().await,
                _ => false,
            }
        }
    };
    if ok {
        0
    } else {
        1
    }
}
