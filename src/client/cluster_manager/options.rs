//! The cluster manager's command line, read as redis-cli 7.0 reads `--cluster <sub> args...`
//! and its `--cluster-*` options (`parseOptions`, `createClusterManagerCommand`,
//! `validateClusterManagerCommand`). Every `--cluster-<name>` option may also be spelled
//! `--<name>` (`--replicas 1 --yes`), the form `redislab cluster` documents.

/// A subcommand: its name, how many arguments it takes (negative: at least that many), its
/// argument synopsis and its options, as `redis-cli --cluster help` lists them.
#[derive(Debug)]
pub struct Subcommand {
    /// e.g. `create`.
    pub name: &'static str,
    /// Exact count if positive, minimum if negative.
    pub arity: i32,
    /// The argument synopsis.
    pub args: &'static str,
    /// Its `--cluster-*` options (without the prefix).
    pub options: &'static [&'static str],
}

const HOST_ARGS: &str = "<host:port> or <host> <port> - separated by either colon or space";

/// The subcommands, in redis-cli's order (its `clusterManagerCommands`).
pub const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "create",
        arity: -2,
        args: "host1:port1 ... hostN:portN",
        options: &["replicas <arg>"],
    },
    Subcommand {
        name: "check",
        arity: -1,
        args: HOST_ARGS,
        options: &["search-multiple-owners"],
    },
    Subcommand {
        name: "info",
        arity: -1,
        args: HOST_ARGS,
        options: &[],
    },
    Subcommand {
        name: "fix",
        arity: -1,
        args: HOST_ARGS,
        options: &["search-multiple-owners", "fix-with-unreachable-masters"],
    },
    Subcommand {
        name: "reshard",
        arity: -1,
        args: HOST_ARGS,
        options: &[
            "from <arg>",
            "to <arg>",
            "slots <arg>",
            "yes",
            "timeout <arg>",
            "pipeline <arg>",
            "replace",
        ],
    },
    Subcommand {
        name: "rebalance",
        arity: -1,
        args: HOST_ARGS,
        options: &[
            "weight <node1=w1...nodeN=wN>",
            "use-empty-masters",
            "timeout <arg>",
            "simulate",
            "pipeline <arg>",
            "threshold <arg>",
            "replace",
        ],
    },
    Subcommand {
        name: "add-node",
        arity: 2,
        args: "new_host:new_port existing_host:existing_port",
        options: &["slave", "master-id <arg>"],
    },
    Subcommand {
        name: "del-node",
        arity: 2,
        args: "host:port node_id",
        options: &[],
    },
    Subcommand {
        name: "call",
        arity: -2,
        args: "host:port command arg arg .. arg",
        options: &["only-masters", "only-replicas"],
    },
    Subcommand {
        name: "set-timeout",
        arity: 2,
        args: "host:port milliseconds",
        options: &[],
    },
    Subcommand {
        name: "help",
        arity: 0,
        args: "",
        options: &[],
    },
];

/// Everything the cluster manager was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The subcommand, e.g. `create`.
    pub command: String,
    /// Its arguments (addresses, ids, the command for `call`).
    pub args: Vec<String>,
    /// `--cluster-replicas`.
    pub replicas: usize,
    /// `--cluster-yes` (or `REDISCLI_CLUSTER_YES=1`).
    pub yes: bool,
    /// `--cluster-from`.
    pub from: Option<String>,
    /// `--cluster-to`.
    pub to: Option<String>,
    /// `--cluster-slots` (0: ask).
    pub slots: i64,
    /// `--cluster-timeout` for MIGRATE, in milliseconds.
    pub timeout: i64,
    /// `--cluster-pipeline`: keys per GETKEYSINSLOT/MIGRATE batch.
    pub pipeline: i64,
    /// `--cluster-threshold`, in percent.
    pub threshold: f32,
    /// `--cluster-weight node=w ...`.
    pub weights: Vec<String>,
    /// `--cluster-use-empty-masters`.
    pub use_empty_masters: bool,
    /// `--cluster-simulate`.
    pub simulate: bool,
    /// `--cluster-replace`.
    pub replace: bool,
    /// `--cluster-slave` / `--cluster-replica`.
    pub slave: bool,
    /// `--cluster-master-id`.
    pub master_id: Option<String>,
    /// `--cluster-search-multiple-owners`.
    pub search_multiple_owners: bool,
    /// `--cluster-fix-with-unreachable-masters`.
    pub fix_with_unreachable_masters: bool,
    /// `--cluster-only-masters`.
    pub only_masters: bool,
    /// `--cluster-only-replicas`.
    pub only_replicas: bool,
    /// `-a` / `--pass`: AUTH on every node.
    pub password: Option<String>,
    /// `--user`: AUTH's user name.
    pub user: Option<String>,
    /// `--no-auth-warning`.
    pub no_auth_warning: bool,
    /// `--verbose`: rebalance prints every node's balance.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            command: String::new(),
            args: Vec::new(),
            replicas: 0,
            yes: false,
            from: None,
            to: None,
            slots: 0,
            timeout: 60_000,
            pipeline: 10,
            threshold: 2.0,
            weights: Vec::new(),
            use_empty_masters: false,
            simulate: false,
            replace: false,
            slave: false,
            master_id: None,
            search_multiple_owners: false,
            fix_with_unreachable_masters: false,
            only_masters: false,
            only_replicas: false,
            password: None,
            user: None,
            no_auth_warning: false,
            verbose: false,
        }
    }
}

/// Why the command line was refused: the message for stderr (exit code 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

fn unrecognized(word: &str) -> UsageError {
    UsageError(format!(
        "Unrecognized option or bad number of args for: '{word}'"
    ))
}

/// Parses `words` as redis-cli's options: `--cluster <sub> <args...>` (arguments run until a
/// word starting with `-`) and the options around it. `redislab cluster <sub> ...` passes its
/// words with `--cluster` put first.
pub fn parse(words: &[String]) -> Result<Options, UsageError> {
    let mut opts = Options::default();
    let mut have_command = false;
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        let value = |i: usize| -> Result<&str, UsageError> {
            words
                .get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| unrecognized(word))
        };
        if word == "--cluster" {
            if have_command {
                return Err(unrecognized(word));
            }
            let command = value(i)?;
            have_command = true;
            opts.command = command.to_string();
            i += 2;
            while i < words.len() && !words[i].starts_with('-') {
                opts.args.push(words[i].clone());
                i += 1;
            }
            continue;
        }
        let name = word
            .strip_prefix("--cluster-")
            .or_else(|| word.strip_prefix("--"));
        let number = |text: &str| super::topology::atoi(text);
        match (word, name) {
            ("-a", _) | (_, Some("pass")) => {
                opts.password = Some(value(i)?.to_string());
                i += 1;
            }
            (_, Some("user")) => {
                opts.user = Some(value(i)?.to_string());
                i += 1;
            }
            (_, Some("no-auth-warning")) => opts.no_auth_warning = true,
            (_, Some("verbose")) => opts.verbose = true,
            (_, Some("replicas")) => {
                opts.replicas = number(value(i)?).max(0) as usize;
                i += 1;
            }
            (_, Some("master-id")) => {
                opts.master_id = Some(value(i)?.to_string());
                i += 1;
            }
            (_, Some("from")) => {
                opts.from = Some(value(i)?.to_string());
                i += 1;
            }
            (_, Some("to")) => {
                opts.to = Some(value(i)?.to_string());
                i += 1;
            }
            (_, Some("slots")) => {
                opts.slots = number(value(i)?);
                i += 1;
            }
            (_, Some("timeout")) => {
                opts.timeout = number(value(i)?);
                i += 1;
            }
            (_, Some("pipeline")) => {
                opts.pipeline = number(value(i)?);
                i += 1;
            }
            (_, Some("threshold")) => {
                opts.threshold = value(i)?.trim().parse().unwrap_or(0.0);
                i += 1;
            }
            (_, Some("weight")) => {
                if !opts.weights.is_empty() {
                    return Err(UsageError(
                        "WARNING: you cannot use --cluster-weight more than once.\n\
                         You can set more weights by adding them as a space-separated list, ie:\n\
                         --cluster-weight n1=w n2=w"
                            .to_string(),
                    ));
                }
                while let Some(w) = words.get(i + 1) {
                    if w.starts_with("--") || !w.contains('=') {
                        break;
                    }
                    opts.weights.push(w.clone());
                    i += 1;
                }
            }
            (_, Some("yes")) => opts.yes = true,
            (_, Some("simulate")) => opts.simulate = true,
            (_, Some("replace")) => opts.replace = true,
            (_, Some("slave" | "replica")) => opts.slave = true,
            (_, Some("use-empty-masters")) => opts.use_empty_masters = true,
            (_, Some("search-multiple-owners")) => opts.search_multiple_owners = true,
            (_, Some("fix-with-unreachable-masters")) => opts.fix_with_unreachable_masters = true,
            (_, Some("only-masters")) => opts.only_masters = true,
            (_, Some("only-replicas")) => opts.only_replicas = true,
            _ => return Err(unrecognized(word)),
        }
        i += 1;
    }
    if !have_command {
        return Err(UsageError(
            "A cluster subcommand is required (try `help`).".to_string(),
        ));
    }
    Ok(opts)
}

/// Options followed by a value (in either spelling).
const VALUE_OPTIONS: &[&str] = &[
    "pass",
    "user",
    "replicas",
    "master-id",
    "from",
    "to",
    "slots",
    "timeout",
    "pipeline",
    "threshold",
];

/// `redislab cluster [options] <sub> <args...> [options]`: the same words with `--cluster`
/// put before the subcommand, for [`parse`].
pub fn subcommand_words(words: &[String]) -> Vec<String> {
    let mut out = words.to_vec();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        let name = word
            .strip_prefix("--cluster-")
            .or_else(|| word.strip_prefix("--"));
        if word == "-a" || name.is_some_and(|n| VALUE_OPTIONS.contains(&n)) {
            i += 2;
        } else if word.starts_with('-') {
            i += 1;
        } else {
            out.insert(i, "--cluster".to_string());
            break;
        }
    }
    out
}

/// Checks the subcommand and its argument count, with redis-cli's messages.
pub fn validate(opts: &Options) -> Result<&'static Subcommand, UsageError> {
    let Some(sub) = SUBCOMMANDS.iter().find(|s| s.name == opts.command) else {
        return Err(UsageError("Unknown --cluster subcommand".to_string()));
    };
    let argc = opts.args.len() as i32;
    if (sub.arity > 0 && argc != sub.arity) || (sub.arity < 0 && argc < -sub.arity) {
        return Err(UsageError(
            "[ERR] Wrong number of arguments for specified --cluster sub command".to_string(),
        ));
    }
    Ok(sub)
}

/// `redis-cli --cluster help`.
pub fn help_text() -> String {
    const PADDING: usize = 15;
    let mut out = String::from("Cluster Manager Commands:\n");
    for sub in SUBCOMMANDS {
        out.push_str(&format!("  {:<PADDING$}{}\n", sub.name, sub.args));
        for option in sub.options {
            out.push_str(&format!("{:PADDING$}  --cluster-{option}\n", ""));
        }
    }
    out.push_str(
        "\nFor check, fix, reshard, del-node, set-timeout, info, rebalance, call you can \
         specify the host and port of any working node in the cluster.\n",
    );
    out.push_str("\nCluster Manager Options:\n");
    out.push_str(&format!(
        "  {:<PADDING$}Automatic yes to cluster commands prompts\n",
        "--cluster-yes"
    ));
    out.push_str(
        "\nEvery --cluster-<option> may also be written --<option> (e.g. --replicas 1 --yes).\n\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn both_spellings_parse() {
        let a = parse(&words(
            "--cluster create 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 --cluster-replicas 1 --cluster-yes",
        ))
        .unwrap();
        assert_eq!(a.command, "create");
        assert_eq!(a.args.len(), 3);
        assert_eq!((a.replicas, a.yes), (1, true));
        let b = parse(&words(
            "--cluster create 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 --replicas 1 --yes",
        ))
        .unwrap();
        assert_eq!(a, b);
        let r = parse(&words(
            "-a pw --cluster reshard h:1 --from all --to abc --slots 10 --pipeline 5 --timeout 100 --replace",
        ))
        .unwrap();
        assert_eq!(r.password.as_deref(), Some("pw"));
        assert_eq!(
            (r.from.as_deref(), r.to.as_deref()),
            (Some("all"), Some("abc"))
        );
        assert_eq!(
            (r.slots, r.pipeline, r.timeout, r.replace),
            (10, 5, 100, true)
        );
        let w = parse(&words(
            "--cluster rebalance h:1 --cluster-weight a=1 b=2 --cluster-simulate",
        ))
        .unwrap();
        assert_eq!(w.weights, ["a=1", "b=2"]);
        assert!(w.simulate);
        let s = parse(&words("--cluster add-node h:1 h:2 --replica --master-id x")).unwrap();
        assert!(s.slave);
        assert_eq!(s.master_id.as_deref(), Some("x"));
    }

    #[test]
    fn subcommand_comes_first_or_after_options() {
        assert_eq!(
            subcommand_words(&words("-a pw --yes create h:1")),
            words("-a pw --yes --cluster create h:1")
        );
        assert_eq!(
            subcommand_words(&words("check h:1")),
            words("--cluster check h:1")
        );
        assert_eq!(subcommand_words(&words("--slots 5")), words("--slots 5"));
    }

    #[test]
    fn bad_command_lines_are_refused_with_redis_cli_messages() {
        assert_eq!(
            parse(&words("--cluster create h:1 --bogus")).unwrap_err().0,
            "Unrecognized option or bad number of args for: '--bogus'"
        );
        assert!(parse(&words("--cluster")).is_err());
        assert!(parse(&words("--cluster create h:1 --replicas")).is_err());
        let unknown = parse(&words("--cluster bogus")).unwrap();
        assert_eq!(
            validate(&unknown).unwrap_err().0,
            "Unknown --cluster subcommand"
        );
        let short = parse(&words("--cluster check")).unwrap();
        assert_eq!(
            validate(&short).unwrap_err().0,
            "[ERR] Wrong number of arguments for specified --cluster sub command"
        );
        let add = parse(&words("--cluster add-node h:1")).unwrap();
        assert!(validate(&add).is_err());
        assert!(validate(&parse(&words("--cluster help")).unwrap()).is_ok());
    }

    #[test]
    fn help_lists_subcommands_like_redis_cli() {
        let help = help_text();
        assert!(help.starts_with("Cluster Manager Commands:\n  create         host1:port1 ... hostN:portN\n                 --cluster-replicas <arg>\n"));
        assert!(help.contains("  del-node       host:port node_id\n"));
        assert!(help.contains("  --cluster-yes  Automatic yes to cluster commands prompts\n"));
    }
}
