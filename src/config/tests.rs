//! Tests of loading, CONFIG GET/SET/REWRITE, against the tutorial's config files and Redis's
//! error texts.

use std::path::{Path, PathBuf};

use super::table::{self, IMPLEMENTED};
use super::*;

/// Redis 7.0's default config files, copied unchanged from the tutorial.
const REDIS_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/config/testdata/redis-7.0.conf"
);
const SENTINEL_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/config/testdata/sentinel-7.0.conf"
);

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Load `content` as a file in a fresh temp dir.
fn load_str(content: &str) -> Result<Loaded, ConfigError> {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "redis.conf", content);
    Config::load(Some(&p), &[])
}

fn err_of(content: &str) -> ConfigError {
    load_str(content).expect_err("should fail")
}

#[test]
fn a_default_configuration_is_a_copy_of_the_parsed_table() {
    // The first call parses the table; later ones copy it, and a changed copy does not change
    // the next one.
    let mut first = Config::default();
    assert_eq!(first, Config::from_table());
    first.port = 1;
    first.other.clear();
    let second = Config::default();
    assert_eq!(second, Config::from_table());
    assert_eq!(second.dir, std::env::current_dir().unwrap());
}

#[test]
fn defaults_are_redis_7_0() {
    let c = Config::default();
    assert_eq!(c.port, 6379);
    assert_eq!(c.bind, vec!["*", "-::*"]);
    assert!(c.protected_mode);
    assert_eq!(c.requirepass, None);
    assert_eq!(c.loglevel, LogLevel::Notice);
    assert_eq!(c.databases, 16);
    assert_eq!(c.tcp_keepalive, 300);
    assert_eq!(c.maxclients, 10000);
    assert_eq!(c.save, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(c.appendfsync, AppendFsync::EverySec);
    assert_eq!(c.dbfilename, "dump.rdb");
    assert_eq!(c.appendfilename, "appendonly.aof");
    assert_eq!(c.appenddirname, "appendonlydir");
    assert_eq!(c.auto_aof_rewrite_min_size, 64 << 20);
    assert_eq!(c.proto_max_bulk_len, 512 << 20);
    assert_eq!(c.client_query_buffer_limit, 1 << 30);
    assert_eq!(c.hz, 10);
    assert_eq!(c.replica_priority, 100);
    assert_eq!(c.repl_backlog_size, 1 << 20);
    assert_eq!(c.repl_backlog_ttl, 3600);
    assert_eq!(c.repl_timeout, 60);
    assert_eq!(c.repl_ping_replica_period, 10);
    assert!(c.repl_diskless_sync);
    assert_eq!(c.repl_diskless_sync_delay, 5);
    assert_eq!(c.repl_diskless_load, "disabled");
    assert_eq!(c.min_replicas_max_lag, 10);
    assert_eq!(c.cluster_config_file, "nodes.conf");
    assert_eq!(c.cluster_node_timeout, 15000);
    assert!(c.cluster_require_full_coverage);
    assert_eq!(c.cluster_replica_validity_factor, 10);
    assert_eq!(c.cluster_migration_barrier, 1);
    assert_eq!(
        c.client_output_buffer_limit,
        ClientOutputBufferLimits::default()
    );
    assert_eq!(c.dir, std::env::current_dir().unwrap());
    assert!(c.aof_load_truncated && c.rdbchecksum && c.rdbcompression);
}

#[test]
fn every_table_default_parses_and_implemented_flag_matches_typed_fields() {
    for d in table::TABLE {
        let v = match default_value(d) {
            Some(v) => v,
            None => {
                assert_eq!(d.name, "dir");
                Value::Dir(PathBuf::from("/"))
            }
        };
        let mut c = Config::default();
        let typed = c.store(d, v.clone());
        assert_eq!(
            typed,
            d.has(IMPLEMENTED),
            "{}: IMPLEMENTED flag vs typed field",
            d.name
        );
        assert_eq!(c.fetch(d), v, "{} round trip", d.name);
    }
}

#[test]
fn redis_7_0_conf_loads_unchanged() {
    let loaded = Config::load(Some(Path::new(REDIS_CONF)), &[]).expect("redis-7.0.conf loads");
    let c = &loaded.config;
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.pidfile, Some(PathBuf::from("/var/run/redis_6379.pid")));
    assert_eq!(c.logfile, "");
    assert_eq!(c.save, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(c.config_file.as_deref(), Some(Path::new(REDIS_CONF)));
    // One warning: a heading, then the directives a few to a line (no 1,000-character line).
    let (heading, list) = loaded.warnings.split_first().expect("a warning");
    assert!(
        heading.contains("accepted but not implemented"),
        "{heading}"
    );
    assert!(list.len() > 1, "{list:?}");
    assert!(
        list.iter()
            .all(|l| l.len() <= UNIMPLEMENTED_LINE_WIDTH + 3 && l.starts_with("  ")),
        "{list:?}"
    );
    let names: Vec<&str> = list
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    assert!(
        names.contains(&"tcp-backlog") && names.contains(&"lazyfree-lazy-eviction"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"port") && !names.contains(&"jemalloc-bg-thread"),
        "{names:?}"
    );
}

#[test]
fn sentinel_conf_non_sentinel_lines_load_and_sentinel_lines_are_kept() {
    let loaded = Config::load(Some(Path::new(SENTINEL_CONF)), &[]).expect("sentinel conf loads");
    let c = loaded.config;
    assert_eq!(c.port, 26379);
    assert!(!c.protected_mode);
    assert_eq!(c.dir, std::fs::canonicalize("/tmp").unwrap());
    assert_eq!(c.sentinel_lines.len(), 8);
    assert_eq!(
        c.sentinel_lines[0],
        strings(&["monitor", "mymaster", "127.0.0.1", "6379", "2"])
    );
    assert_eq!(c.sentinel_lines[5][0], "resolve-hostnames"); // from `SENTINEL resolve-hostnames no`
}

#[test]
fn tutorial_master_and_replica_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display();
    let master = write(
        tmp.path(),
        "6379.conf",
        &format!(
            "include {REDIS_CONF}\ndaemonize yes\npidfile {d}/redis_6379.pid\nrequirepass redis\n"
        ),
    );
    let c = Config::load(Some(&master), &[]).unwrap().config;
    assert!(c.daemonize);
    assert_eq!(c.pidfile, Some(tmp.path().join("redis_6379.pid")));
    assert_eq!(c.requirepass.as_deref(), Some("redis"));

    let replica = write(
        tmp.path(),
        "6380.conf",
        &format!(
            "include {REDIS_CONF}\nport 6380\ndaemonize yes\npidfile {d}/redis_6380.pid\n\
             slaveof 127.0.0.1 6379\nmasterauth redis\n"
        ),
    );
    let c = Config::load(Some(&replica), &[]).unwrap().config;
    assert_eq!(c.port, 6380);
    assert_eq!(c.replicaof, Some(("127.0.0.1".into(), 6379)));
    assert_eq!(c.masterauth.as_deref(), Some("redis"));
    assert_eq!(
        c.get(&["slaveof"]),
        vec![("slaveof".into(), "127.0.0.1 6379".into())]
    );
}

#[test]
fn tutorial_cluster_config() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("9001/data");
    std::fs::create_dir_all(&data).unwrap();
    let conf = write(
        tmp.path(),
        "redis.conf",
        &format!(
            "port 9001\ndaemonize yes\nbind 127.0.0.1\ndir {}/\npidfile {}/redis_9001.pid\n\
             cluster-enabled yes\ncluster-config-file nodes-9001.conf\n\
             cluster-node-timeout 15000\nappendonly yes\n",
            data.display(),
            tmp.path().display()
        ),
    );
    let c = Config::load(Some(&conf), &[]).unwrap().config;
    assert_eq!(c.port, 9001);
    assert_eq!(c.bind, vec!["127.0.0.1"]);
    assert_eq!(c.dir, std::fs::canonicalize(&data).unwrap());
    assert!(c.cluster_enabled && c.appendonly);
    assert_eq!(c.cluster_config_file, "nodes-9001.conf");
    assert_eq!(c.cluster_node_timeout, 15000);
}

#[test]
fn cluster_mode_is_read_from_the_file_and_the_command_line() {
    let on = Config::load(
        None,
        &strings(&["--port", "7000", "--cluster-enabled", "yes"]),
    )
    .unwrap();
    assert!(on.config.cluster_enabled);
    let on_then_off = strings(&["--cluster-enabled", "yes", "--cluster-enabled", "no"]);
    assert!(
        !Config::load(None, &on_then_off)
            .unwrap()
            .config
            .cluster_enabled
    );
}

#[test]
fn cluster_mode_refuses_replicaof() {
    let e = err_of("cluster-enabled yes\nreplicaof 127.0.0.1 6379\n");
    assert_eq!(e.reason, "replicaof directive not allowed in cluster mode");
}

#[test]
fn overrides_follow_redis_server() {
    let o = |args: &[&str]| Config::load(None, &strings(args)).map(|l| l.config);
    let c = o(&["--port", "6380", "--save", "", "--appendonly", "no"]).unwrap();
    assert_eq!(c.port, 6380);
    assert!(c.save.is_empty());
    assert!(!c.appendonly);
    assert_eq!(c.config_file, None);

    let c = o(&["--port", "6380", "--replicaof", "127.0.0.1", "6379"]).unwrap();
    assert_eq!(c.replicaof, Some(("127.0.0.1".into(), 6379)));

    assert_eq!(
        o(&["--save", "900 1 300 10"]).unwrap().save,
        vec![(900, 1), (300, 10)]
    );
    assert_eq!(o(&["--save", "900", "1"]).unwrap().save, vec![(900, 1)]);
    assert_eq!(
        o(&["--save", "900", "1", "--save", "300", "10"])
            .unwrap()
            .save,
        vec![(900, 1), (300, 10)]
    );
    assert!(o(&["--save"]).unwrap().save.is_empty());
    assert!(o(&["--sentinel"]).unwrap().sentinel_mode);
    assert_eq!(
        o(&["--bind", "127.0.0.1 ::1"]).unwrap().bind,
        vec!["127.0.0.1", "::1"]
    );
    assert_eq!(o(&["--hz", "1000"]).unwrap().hz, 500);
    assert_eq!(o(&["--hz", "0"]).unwrap().hz, 1);

    let e = o(&["--port", "6380", "--port", "abc"]).unwrap_err();
    assert_eq!(e.file, COMMAND_LINE);
    assert_eq!(e.line, Some(2));
    assert_eq!(e.text.as_deref(), Some("port \"abc\""));
    assert_eq!(
        e.to_string(),
        "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
         Reading the command line options, at line 2\n\
         >>> 'port \"abc\"'\n\
         argument couldn't be parsed into an integer"
    );
}

#[test]
fn overrides_apply_after_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "r.conf", "port 7000\nsave 10 1\n");
    let c = Config::load(Some(&p), &strings(&["--port", "7001", "--save", "20", "2"]))
        .unwrap()
        .config;
    assert_eq!(c.port, 7001);
    // Like Redis, later save lines add points.
    assert_eq!(c.save, vec![(10, 1), (20, 2)]);
}

#[test]
fn syntax_comments_case_and_repeats() {
    let c = load_str("# comment\n\n   \nPORT 1234\n  Port 1235  \r\nsave 900 1\nsave 300 10\n")
        .unwrap()
        .config;
    assert_eq!(c.port, 1235);
    assert_eq!(c.save, vec![(900, 1), (300, 10)]);
    let c = load_str("save \"\"\nrequirepass \"\"\nmasterauth \"a b\\x41\"\n")
        .unwrap()
        .config;
    assert!(c.save.is_empty());
    assert_eq!(c.requirepass, None);
    assert_eq!(c.masterauth.as_deref(), Some("a bA"));
    let c = load_str("client-output-buffer-limit slave 1mb 512kb 10\n")
        .unwrap()
        .config;
    let l = c.client_output_buffer_limit;
    assert_eq!(
        (
            l.replica.hard_bytes,
            l.replica.soft_bytes,
            l.replica.soft_seconds
        ),
        (1 << 20, 512 << 10, 10)
    );
    assert_eq!(l.pubsub, ClientOutputBufferLimits::default().pubsub);
    let c = load_str("repl-backlog-size 1k\nauto-aof-rewrite-min-size 1GB\n")
        .unwrap()
        .config;
    assert_eq!(c.repl_backlog_size, 1000);
    assert_eq!(c.auto_aof_rewrite_min_size, 1 << 30);
    let c =
        load_str("slave-read-only no\nslave-priority 7\nloglevel WARNING\nappendfsync always\n")
            .unwrap()
            .config;
    assert!(!c.replica_read_only);
    assert_eq!(c.replica_priority, 7);
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.appendfsync, AppendFsync::Always);
    let c = load_str("replicaof 10.0.0.1 6379\nreplicaof no one\n")
        .unwrap()
        .config;
    assert_eq!(c.replicaof, None);
    let c = load_str("list-max-ziplist-entries 512\nrename-command FLUSHALL \"\"\nuser bob on\n")
        .unwrap()
        .config;
    assert_eq!(
        c.rename_commands,
        vec![("FLUSHALL".to_string(), String::new())]
    );
    assert_eq!(c.users, vec![strings(&["bob", "on"])]);
}

#[test]
fn error_texts_are_redis_s() {
    let cases: &[(&str, &str)] = &[
        (
            "port \"abc\"",
            "argument couldn't be parsed into an integer",
        ),
        (
            "port 99999",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("port 1 2", "wrong number of arguments"),
        ("daemonize maybe", "argument must be 'yes' or 'no'"),
        ("foo bar", "Bad directive or wrong number of arguments"),
        ("include", "Bad directive or wrong number of arguments"),
        ("save 900 1 300", "Invalid save parameters"),
        ("save 0 1", "Invalid save parameters"),
        ("save abc 1", "Invalid save parameters"),
        ("port \"abc", "Unbalanced quotes in configuration line"),
        ("port \"abc\"x", "Unbalanced quotes in configuration line"),
        (
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        (
            "appendfsync sometimes",
            "argument(s) must be one of the following: everysec, always, no",
        ),
        (
            "dbfilename a/b",
            "dbfilename can't be a path, just a filename",
        ),
        ("repl-backlog-size lots", "argument must be a memory value"),
        (
            "maxclients 0",
            "argument must be between 1 and 4294967295 inclusive",
        ),
        (
            "client-output-buffer-limit foo 1 1 1",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit normal 1 1",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        ("replicaof 127.0.0.1 notaport", "Invalid master port"),
        ("dir /no/such/dir/anywhere", "No such file or directory"),
        (
            "unixsocketperm 999",
            "argument couldn't be parsed as an octal number",
        ),
        (
            "notify-keyspace-events Q",
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
        ),
    ];
    for (line, reason) in cases {
        let e = err_of(&format!("# first line\n{line}\n"));
        assert_eq!(e.reason, *reason, "{line}");
        assert_eq!(e.line, Some(2), "{line}");
        assert_eq!(e.text.as_deref(), Some(*line));
        assert!(e.file.ends_with("redis.conf"));
    }
    let e = err_of("port \"abc\"\n");
    let shown = e.to_string();
    assert!(shown.starts_with("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"));
    assert!(
        shown.contains("redis.conf', at line 1\n>>> 'port \"abc\"'\n"),
        "{shown}"
    );
}

#[test]
fn include_nested_relative_and_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    write(&sub, "inner.conf", "port 7002\n");
    write(&sub, "bad.conf", "\nhz x\n");
    // Relative includes resolve from the working directory — or the last `dir`, as after
    // Redis's chdir().
    let outer = write(
        tmp.path(),
        "outer.conf",
        &format!("dir {}\ninclude sub/inner.conf\n", tmp.path().display()),
    );
    let main = write(
        tmp.path(),
        "main.conf",
        &format!("include {}\ntimeout 5\n", outer.display()),
    );
    let c = Config::load(Some(&main), &[]).unwrap().config;
    assert_eq!(c.port, 7002);
    assert_eq!(c.timeout, 5);

    let with_bad = write(
        tmp.path(),
        "withbad.conf",
        &format!("dir {}\ninclude sub/bad.conf\n", tmp.path().display()),
    );
    let e = Config::load(Some(&with_bad), &[]).unwrap_err();
    assert_eq!(e.file, "sub/bad.conf");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.reason, "argument couldn't be parsed into an integer");

    let missing = write(tmp.path(), "missing.conf", "include /no/such/file.conf\n");
    let e = Config::load(Some(&missing), &[]).unwrap_err();
    assert_eq!(e.file, "/no/such/file.conf");
    assert_eq!(
        e.reason,
        "Fatal error, can't open config file '/no/such/file.conf': No such file or directory"
    );

    let e = Config::load(Some(Path::new("/no/such/redis.conf")), &[]).unwrap_err();
    assert_eq!(e.line, None);

    // A pattern includes every match in name order, and nothing when none matches.
    write(&sub, "a.part", "port 7100\n");
    write(&sub, "b.part", "port 7101\n");
    let glob = write(
        tmp.path(),
        "glob.conf",
        &format!(
            "dir {}\ninclude sub/*.part\ninclude sub/*.none\n",
            tmp.path().display()
        ),
    );
    assert_eq!(Config::load(Some(&glob), &[]).unwrap().config.port, 7101);

    // Includes that loop end in an error, not a stack overflow.
    let looped = tmp.path().join("loop.conf");
    std::fs::write(&looped, format!("include {}\n", looped.display())).unwrap();
    assert!(Config::load(Some(&looped), &[]).is_err());
}

#[test]
fn config_get_patterns_and_formatting() {
    let c = Config::default();
    let get = |p: &[&str]| c.get(p);
    assert_eq!(
        get(&["save"]),
        vec![("save".into(), "3600 1 300 100 60 10000".into())]
    );
    assert_eq!(
        get(&["SAVE"]),
        vec![("SAVE".into(), "3600 1 300 100 60 10000".into())]
    );
    assert_eq!(get(&["bind"]), vec![("bind".into(), "* -::*".into())]);
    assert_eq!(
        get(&["appendonly"]),
        vec![("appendonly".into(), "no".into())]
    );
    assert_eq!(get(&["auto-aof-rewrite-min-size"])[0].1, "67108864");
    assert_eq!(
        get(&["client-output-buffer-limit"])[0].1,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get(&["requirepass"])[0].1, "");
    assert_eq!(get(&["replicaof"])[0].1, "");
    assert_eq!(get(&["unixsocketperm"])[0].1, "0");
    assert_eq!(
        get(&["latency-tracking-info-percentiles"])[0].1,
        "50 99 99.9"
    );
    assert_eq!(get(&["nosuch"]), vec![]);
    let names: Vec<String> = get(&["*slave-pri*"]).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["slave-priority"]);
    let names: Vec<String> = get(&["repl-ping-*", "*PING*"])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        vec!["repl-ping-replica-period", "repl-ping-slave-period"]
    );
    // Hidden directives answer only to their exact name.
    assert!(get(&["*"]).iter().all(|(n, _)| n != "key-load-delay"));
    assert_eq!(get(&["key-load-delay"]).len(), 1);
    // So does redislab's own directive, whose default spins 50 µs.
    assert!(get(&["*"]).iter().all(|(n, _)| n != "event-loop-spin-us"));
    assert_eq!(
        get(&["event-loop-spin-us"]),
        vec![("event-loop-spin-us".into(), "50".into())]
    );
    // `*` lists every name and alias CONFIG GET * lists on Redis 7.0.15.
    assert_eq!(get(&["*"]).len(), 192);
}

#[test]
fn config_set_all_or_nothing_with_redis_errors() {
    let mut c = Config::default();
    let changed = c
        .set(&["port", "6380", "requirepass", "pw", "hz", "10"], true)
        .unwrap();
    assert_eq!(changed, vec!["port", "requirepass"]);
    assert_eq!((c.port, c.requirepass.as_deref()), (6380, Some("pw")));
    c.set(&["event-loop-spin-us", "0"], true).unwrap();
    assert_eq!(c.event_loop_spin_us, 0);
    let e = c.set(&["event-loop-spin-us", "-1"], true).unwrap_err();
    assert!(
        e.to_string()
            .contains("argument must be between 0 and 1000000"),
        "{e}"
    );

    let before = c.clone();
    let e = c.set(&["timeout", "5", "port", "abc"], true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be \
         parsed into an integer"
    );
    assert_eq!(c, before, "nothing changes when one pair fails");

    let cases: &[(&[&str], &str)] = &[
        (&["foo", "bar"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&["daemonize", "yes"], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&["replicaof", "127.0.0.1 6379"], "ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config"),
        (&["dir", "/tmp"], "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"),
        (&["port", "1", "port", "2"], "ERR CONFIG SET failed (possibly related to argument 'port') - duplicate parameter"),
        (&["save", "1 2 3"], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&["loglevel", "LOUD"], "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"),
        (&["slave-priority", "x"], "ERR CONFIG SET failed (possibly related to argument 'slave-priority') - argument couldn't be parsed into an integer"),
        (&["port"], "ERR syntax error"),
    ];
    for (args, want) in cases {
        assert_eq!(
            c.set(args, true).unwrap_err().to_string(),
            *want,
            "{args:?}"
        );
    }
    assert_eq!(c, before);

    c.set(&["save", "900 1 300 10"], true).unwrap();
    assert_eq!(c.save, vec![(900, 1), (300, 10)]);
    c.set(&["save", ""], true).unwrap();
    assert!(c.save.is_empty());
    c.set(&["client-output-buffer-limit", "slave 1mb 1mb 10"], true)
        .unwrap();
    assert_eq!(
        c.get(&["client-output-buffer-limit"])[0].1,
        "normal 0 0 0 slave 1048576 1048576 10 pubsub 33554432 8388608 60"
    );
    c.set(
        &[
            "maxmemory-clients",
            "10%",
            "appendfsync",
            "EVERYSEC",
            "hz",
            "1000",
        ],
        true,
    )
    .unwrap();
    assert_eq!(c.get_one("maxmemory-clients").as_deref(), Some("10%"));
    assert_eq!(c.hz, 500);
    assert_eq!(
        c.set(&["requirepass", ""], true).unwrap(),
        vec!["requirepass"]
    );
    assert_eq!(c.requirepass, None);
    assert_eq!(
        c.set(&["appendonly", "no"], true).unwrap(),
        Vec::<&str>::new()
    );
}

#[test]
fn rewrite_without_a_file_is_an_error() {
    let e = Config::default().rewrite().unwrap_err();
    assert_eq!(
        e.to_string(),
        "ERR The server is running without a config file"
    );
}

#[test]
fn rewrite_of_redis_7_0_conf_changes_only_the_port_line() {
    let tmp = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(REDIS_CONF).unwrap();
    let path = write(tmp.path(), "redis.conf", &original);
    let mut c = Config::load(Some(&path), &[]).unwrap().config;

    // Nothing changed: the file stays as it is (Redis would rewrite `dir ./` as an absolute
    // path, quote `pidfile`, and append the default save points).
    let same = c.rewrite_content(&original);
    let diff = |a: &str, b: &str| -> Vec<(String, String)> {
        a.lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .map(|(x, y)| (x.into(), y.into()))
            .collect()
    };
    assert_eq!(same.lines().count(), original.lines().count());
    assert!(
        diff(&original, &same).is_empty(),
        "{:?}",
        diff(&original, &same)
    );

    c.set(&["port", "6380"], true).unwrap();
    c.rewrite().unwrap();
    let rewritten = std::fs::read_to_string(&path).unwrap();
    assert_eq!(rewritten.lines().count(), original.lines().count());
    assert_eq!(
        diff(&original, &rewritten),
        vec![("port 6379".into(), "port 6380".into())]
    );
    let again = Config::load(Some(&path), &[]).unwrap().config;
    assert_eq!(again.port, 6380);
}

#[test]
fn rewrite_appends_replaces_and_removes_like_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let old = "# my config\nport 7000\nsave 900 1\nsave 300 10\nrequirepass secret\n\
               slaveof 127.0.0.1 6379\nrename-command FLUSHALL \"\"\n";
    let path = write(tmp.path(), "r.conf", old);
    let mut c = Config::load(Some(&path), &[]).unwrap().config;
    c.set(
        &[
            "save",
            "60 5",
            "requirepass",
            "",
            "maxmemory",
            "1gb",
            "appendonly",
            "yes",
        ],
        true,
    )
    .unwrap();
    c.replicaof = None; // REPLICAOF NO ONE is a command; the server changes the field.
    let new = c.rewrite_content(old);
    let dir_line = format!("dir \"{}\"", c.dir.display());
    let want = format!(
        "# my config\nport 7000\nsave 60 5\nrename-command FLUSHALL \"\"\n\
         # Generated by CONFIG REWRITE\nappendonly yes\nmaxmemory 1gb\n{dir_line}\n"
    );
    assert_eq!(new, want);
    // A second rewrite is stable.
    let mut reloaded = Config::load(Some(&write(tmp.path(), "r2.conf", &new)), &[])
        .unwrap()
        .config;
    reloaded.config_file = c.config_file.clone();
    assert_eq!(reloaded.rewrite_content(&new), new);
    assert_eq!(reloaded.save, vec![(60, 5)]);
    assert_eq!(reloaded.requirepass, None);
}
