//! `redislab cli` against real Redis: output must equal real redis-cli's for the same
//! commands, in TTY (`--no-raw`), raw and RESP3 (`-3`) modes; the REPL is driven through an
//! in-memory stdin. Cluster redirects (`-c`) are tested against tiny fake servers.
//!
//! Tests that need `redis-server`/`redis-cli` print "SKIPPED: ..." and pass when they are not
//! installed (`tests/tools_present.rs` makes that visible; under `CI=true` it fails). Every server started here is killed by PID in a Drop guard; every wait has a
//! deadline.

mod common;

use std::io::{BufRead, Write};
use std::net::TcpStream as StdTcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use clap::Parser;
use redislab::client::cli::{run, CliArgs, CliIo, Input};
use redislab::client::connection::Client;
use redislab::resp::frame::{self, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

const DEADLINE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real redis-server on an ephemeral loopback port, killed by PID on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Option<RedisServer> {
        if !common::have_tools(&["redis-server", "redis-cli"]) {
            return None;
        }
        for _attempt in 0..3 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--enable-debug-command", "yes", "--dir", "/tmp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let server = RedisServer { child, port };
            if server.wait_ready() {
                return Some(server);
            }
            // Port taken between choosing and binding, or a slow start: try another port.
        }
        panic!("redis-server did not become ready");
    }

    fn wait_ready(&self) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(mut s) = StdTcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut line = String::new();
                    let mut r = std::io::BufReader::new(s);
                    if r.read_line(&mut line).is_ok() && line == "+PONG\r\n" {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn redis_cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-cli");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Parser)]
struct Top {
    #[command(flatten)]
    args: CliArgs,
}

fn cli_args(words: &[&str]) -> CliArgs {
    Top::try_parse_from(std::iter::once("cli").chain(words.iter().copied()))
        .unwrap()
        .args
}

/// A writer the test can read while the CLI is still writing to it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs our CLI with `words`, feeding `stdin` to the REPL (with prompts shown if asked).
async fn our_cli(words: &[&str], stdin: &str, show_prompt: bool) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let io = CliIo {
        input: Input::Lines {
            reader: Box::new(std::io::Cursor::new(stdin.as_bytes().to_vec())),
            show_prompt,
        },
        stdout: &mut out,
        stderr: &mut err,
        stdout_is_tty: false,
        interrupt: None,
    };
    let code = tokio::time::timeout(DEADLINE, run(cli_args(words), io))
        .await
        .expect("cli finished in time");
    Run {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        code,
    }
}

fn seed(server: &RedisServer) {
    let setup = "set s zhangsan\nset u \"\\xe5\\xbc\\xa0\\n\\\"q\\\"\"\nrpush l a b c\n\
        hset h k1 v1 k2 v2\nzadd z 1.5 a 2 b\nsadd st x\n\
        rpush big 1 2 3 4 5 6 7 8 9 10 11 12\n";
    server.redis_cli(&[], setup);
}

const COMMANDS: &[&[&str]] = &[
    &["get", "s"],
    &["get", "u"],
    &["get", "nokey"],
    &["strlen", "s"],
    &["get"],
    &["ping"],
    &["lrange", "l", "0", "-1"],
    &["lrange", "nokey", "0", "-1"],
    &["lrange", "big", "0", "-1"],
    &["hgetall", "h"],
    &["mget", "s", "nokey", "u"],
    &["zrange", "z", "0", "-1", "withscores"],
    &["smembers", "st"],
    &["eval", "return {1,{2,{3,'x'}},{},redis.error_reply('boom')}", "0"],
    &["eval", "return {{'a','b'},{'c','d'},{'e','f'},{'g','h'},{'i','j'},{'k','l'},{'m','n'},{'o','p'},{'q','r'},{'s','t'}}", "0"],
];

const RESP3_COMMANDS: &[&[&str]] = &[
    &["hgetall", "h"],
    &["hgetall", "nokey"],
    &["zscore", "z", "a"],
    &["smembers", "st"],
    &["get", "nokey"],
    &["zrange", "z", "0", "-1", "withscores"],
    &["debug", "protocol", "map"],
    &["debug", "protocol", "set"],
    &["debug", "protocol", "double"],
    &["debug", "protocol", "true"],
    &["debug", "protocol", "false"],
    &["debug", "protocol", "verbatim"],
    &["debug", "protocol", "null"],
    &["eval", "return {double=1.5}", "0"],
];

async fn compare(server: &RedisServer, modes: &[&str], commands: &[&[&str]]) {
    let port = server.port.to_string();
    for cmd in commands {
        let mut words = vec!["-p", &port];
        words.extend_from_slice(modes);
        words.extend_from_slice(cmd);
        let mut theirs_args = modes.to_vec();
        theirs_args.extend_from_slice(cmd);
        let theirs = server.redis_cli(&theirs_args, "");
        assert!(!theirs.is_empty(), "redis-cli printed nothing for {cmd:?}");
        let ours = our_cli(&words, "", false).await;
        assert_eq!(ours.stdout, theirs, "{modes:?} {cmd:?}");
        assert_eq!(ours.code, 0, "{modes:?} {cmd:?}");
    }
}

#[tokio::test]
async fn one_shot_output_matches_redis_cli() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    seed(&server);
    compare(&server, &["--no-raw"], COMMANDS).await;
    compare(&server, &[], COMMANDS).await;
    compare(&server, &["-3", "--no-raw"], RESP3_COMMANDS).await;
    compare(&server, &["-3"], RESP3_COMMANDS).await;
    compare(
        &server,
        &["-n", "3", "--no-raw"],
        &[&["set", "k", "v"], &["dbsize"]],
    )
    .await;
}

#[tokio::test]
async fn repeat_and_info_match_redis_cli() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    let theirs = server.redis_cli(&["--no-raw", "-r", "3", "incr", "theirs"], "");
    let ours = our_cli(
        &["-p", &port, "--no-raw", "-r", "3", "incr", "ours"],
        "",
        false,
    )
    .await;
    assert_eq!(ours.stdout, theirs);
    assert_eq!(ours.stdout, "(integer) 1\n(integer) 2\n(integer) 3\n");
    // INFO prints raw even in TTY mode (redis-cli's output_raw list).
    let ours = our_cli(&["-p", &port, "--no-raw", "info", "keyspace"], "", false).await;
    let theirs = server.redis_cli(&["--no-raw", "info", "keyspace"], "");
    assert_eq!(ours.stdout, theirs);
    assert!(ours.stdout.starts_with("# Keyspace\r\n"));
}

#[tokio::test]
async fn repl_through_stdin_matches_redis_cli() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    let script = "set a 1\nselect 2\nget a\nset a \"two words\"\nget a\n\
        multi\nincr n\nexec\nfoo\n3 incr r\n0 incr r\n\"unterminated\n\n   \nlrange nokey 0 -1\nquit\nping\n";
    let theirs = server.redis_cli(&["--no-raw"], script);
    // The keys now exist; start from the same state for our run.
    server.redis_cli(&[], "flushall\n");
    let ours = our_cli(&["-p", &port, "--no-raw"], script, false).await;
    assert_eq!(ours.stdout, theirs);
    assert_eq!(ours.code, 0);
    assert!(
        ours.stdout.ends_with("(empty array)\n"),
        "quit stops before ping"
    );
}

#[tokio::test]
async fn repl_prompt_follows_select_and_multi() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    let ours = our_cli(
        &["-p", &port],
        "select 2\nmulti\nping\ndiscard\nselect 0\n",
        true,
    )
    .await;
    let p = format!("127.0.0.1:{port}");
    assert_eq!(
        ours.stdout,
        format!("{p}> OK\n{p}[2]> OK\n{p}[2](TX)> QUEUED\n{p}[2](TX)> OK\n{p}[2]> OK\n{p}> ")
    );
    // -n starts in that db.
    let ours = our_cli(&["-p", &port, "-n", "5"], "", true).await;
    assert_eq!(ours.stdout, format!("{p}[5]> "));
}

#[tokio::test]
async fn repl_reconnects_with_remembered_select() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    // CLIENT KILL of our own connection: the next command reconnects, SELECT 4 is replayed.
    let script = "select 4\nset k v\nclient kill type normal\nget k\n";
    let ours = our_cli(&["-p", &port, "--no-raw"], script, true).await;
    let p = format!("127.0.0.1:{port}");
    assert!(
        ours.stdout.ends_with(&format!("{p}[4]> \"v\"\n{p}[4]> ")),
        "{}",
        ours.stdout
    );
}

#[tokio::test]
async fn not_connected_prompt_when_server_is_down() {
    let port = free_port().to_string();
    let ours = our_cli(&["-p", &port], "ping\n", true).await;
    assert_eq!(ours.stdout, "not connected> not connected> ");
    let refused = format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    assert_eq!(ours.stderr, refused.repeat(2));
    assert_eq!(ours.code, 0);
    let one_shot = our_cli(&["-p", &port, "ping"], "", false).await;
    assert_eq!(one_shot.stderr, refused);
    assert_eq!(one_shot.code, 1);
}

#[tokio::test]
async fn password_warning_and_auth_failure_match_redis_cli() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    let ours = our_cli(&["-p", &port, "-a", "secret", "ping"], "", false).await;
    assert_eq!(
        ours.stderr,
        "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n\
         AUTH failed: ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\n"
    );
    assert_eq!(ours.stdout, "PONG\n");
    let quiet = our_cli(
        &["-p", &port, "-a", "x", "--no-auth-warning", "ping"],
        "",
        false,
    )
    .await;
    assert!(!quiet.stderr.contains("Warning"));
}

/// Runs the REPL concurrently with `drive`, which sees stdout as it grows and can press
/// Ctrl-C through the returned Notify.
async fn drive_repl<F, Fut>(words: &[&str], stdin: &str, drive: F) -> String
where
    F: FnOnce(Shared, Arc<Notify>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let out = Shared::default();
    let (mut out_w, mut err) = (out.clone(), Vec::new());
    let ctrl_c = Arc::new(Notify::new());
    let io = CliIo {
        input: Input::Lines {
            reader: Box::new(std::io::Cursor::new(stdin.as_bytes().to_vec())),
            show_prompt: false,
        },
        stdout: &mut out_w,
        stderr: &mut err,
        stdout_is_tty: false,
        interrupt: Some(ctrl_c.clone()),
    };
    let (code, ()) = tokio::time::timeout(DEADLINE, async {
        tokio::join!(run(cli_args(words), io), drive(out.clone(), ctrl_c))
    })
    .await
    .expect("repl finished in time");
    assert_eq!(code, 0);
    out.text()
}

async fn wait_for(out: &Shared, needle: &str) {
    let start = Instant::now();
    while !out.text().contains(needle) {
        assert!(
            start.elapsed() < DEADLINE,
            "never saw {needle:?} in {:?}",
            out.text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn monitor_and_subscribe_stream_until_ctrl_c() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let port = server.port.to_string();
    let addr = format!("127.0.0.1:{port}");
    let out = drive_repl(
        &["-p", &port, "--no-raw"],
        "monitor\nsubscribe ch\nping\n",
        |out, ctrl_c| async move {
            let mut other = Client::connect(&addr).await.unwrap();
            wait_for(&out, "OK\n").await;
            other.command(&["set", "seen", "1"]).await.unwrap();
            wait_for(&out, "\"set\" \"seen\" \"1\"").await;
            ctrl_c.notify_one();
            wait_for(&out, "3) (integer) 1\n").await;
            other.command(&["publish", "ch", "hello"]).await.unwrap();
            wait_for(&out, "3) \"hello\"\n").await;
            ctrl_c.notify_one();
        },
    )
    .await;
    assert!(out.starts_with("OK\n"), "{out}");
    assert!(out.contains(
        "Reading messages... (press Ctrl-C to quit)\n\
         1) \"subscribe\"\n2) \"ch\"\n3) (integer) 1\n\
         1) \"message\"\n2) \"ch\"\n3) \"hello\"\n"
    ));
    assert!(out.ends_with("PONG\n"), "{out}");
}

/// A fake cluster node: answers every command with `reply(args)`, recording what it got.
async fn fake_node<F>(reply: F) -> (u16, Arc<Mutex<Vec<Vec<String>>>>)
where
    F: Fn(u16, &[String]) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (log, reply) = (log.clone(), reply.clone());
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(Frame::Array(items))) = frame::parse(&mut buf) {
                        let args: Vec<String> = items
                            .iter()
                            .map(|f| f.as_str().unwrap_or("").to_string())
                            .collect();
                        log.lock().unwrap().push(args.clone());
                        if sock.write_all(&reply(port, &args)).await.is_err() {
                            return;
                        }
                    }
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn cluster_mode_follows_moved_and_prompt_moves() {
    let (target, target_seen) = fake_node(|_, _| b"+OK\r\n".to_vec()).await;
    let (origin, _) =
        fake_node(move |_, _| format!("-MOVED 5798 127.0.0.1:{target}\r\n").into_bytes()).await;
    let origin_s = origin.to_string();

    let ours = our_cli(&["-c", "-p", &origin_s], "set foo bar\n", true).await;
    assert_eq!(
        ours.stdout,
        format!(
            "127.0.0.1:{origin}> -> Redirected to slot [5798] located at 127.0.0.1:{target}\n\
             OK\n127.0.0.1:{target}> "
        )
    );
    assert_eq!(
        target_seen.lock().unwrap().last().unwrap(),
        &["set", "foo", "bar"]
    );

    // One-shot mode prints only the final reply, as redis-cli does.
    let one_shot = our_cli(
        &["-c", "-p", &origin_s, "--no-raw", "set", "foo", "bar"],
        "",
        false,
    )
    .await;
    assert_eq!(one_shot.stdout, "OK\n");

    // Without -c the redirect is just an error.
    let plain = our_cli(
        &["-p", &origin_s, "--no-raw", "set", "foo", "bar"],
        "",
        false,
    )
    .await;
    assert_eq!(
        plain.stdout,
        format!("(error) MOVED 5798 127.0.0.1:{target}\n")
    );
}

#[tokio::test]
async fn cluster_mode_sends_asking_after_ask() {
    let (target, target_seen) = fake_node(|_, _| b"+OK\r\n".to_vec()).await;
    let (origin, _) =
        fake_node(move |_, _| format!("-ASK 12 127.0.0.1:{target}\r\n").into_bytes()).await;
    let ours = our_cli(&["-c", "-p", &origin.to_string(), "get", "k"], "", false).await;
    assert_eq!(ours.stdout, "OK\n");
    let seen = target_seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![vec!["ASKING".to_string()], vec!["get".into(), "k".into()]]
    );
}

#[tokio::test]
async fn a_refused_asking_stops_the_command() {
    let (target, target_seen) = fake_node(|_, args| {
        if args[0] == "ASKING" {
            b"-ERR This instance has cluster support disabled\r\n".to_vec()
        } else {
            b"+OK\r\n".to_vec()
        }
    })
    .await;
    let (origin, _) =
        fake_node(move |_, _| format!("-ASK 12 127.0.0.1:{target}\r\n").into_bytes()).await;
    let ours = our_cli(&["-c", "-p", &origin.to_string(), "get", "k"], "", false).await;
    // redis-cli's cliSendAsking: the error on stderr, the command not sent, exit code 1.
    assert_eq!(
        ours.stderr,
        "ASKING failed: ERR This instance has cluster support disabled\n"
    );
    assert_eq!((ours.stdout.as_str(), ours.code), ("", 1));
    assert_eq!(
        target_seen.lock().unwrap().len(),
        1,
        "only ASKING reached the target"
    );
}

#[tokio::test]
async fn cluster_redirect_loops_are_bounded() {
    let (looping, seen) =
        fake_node(|port, _| format!("-MOVED 1 127.0.0.1:{port}\r\n").into_bytes()).await;
    let ours = our_cli(&["-c", "-p", &looping.to_string(), "get", "k"], "", false).await;
    assert_eq!(ours.code, 1);
    assert!(
        ours.stderr.contains("too many redirects"),
        "{}",
        ours.stderr
    );
    assert!(seen.lock().unwrap().len() <= redislab::client::cli::MAX_REDIRECTS + 1);
}

/// `help` is answered by the client, from the server's COMMAND DOCS, exactly as redis-cli
/// 7.0 prints it; real redis-cli's `help` against redislab shows Redis's real docs too.
#[test]
fn help_and_clear_are_local_and_match_redis_cli() {
    let node = common::TestNode::start(&[]);
    let port = node.port.to_string();
    let ours = Command::new(common::redislab())
        .args(["cli", "-p", &port, "help", "set"])
        .output()
        .unwrap();
    let ours = String::from_utf8(ours.stdout).unwrap();
    assert!(
        ours.contains("\x1b[33msummary:\x1b[0m Set the string value of a key\r\n"),
        "{ours:?}"
    );
    assert!(
        ours.contains("[NX|XX] [GET] [EX seconds|PX milliseconds"),
        "{ours:?}"
    );

    // The REPL: help and clear never reach the server.
    let mut repl = Command::new(common::redislab())
        .args(["cli", "-p", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    repl.stdin
        .take()
        .unwrap()
        .write_all(b"help get\nclear\nhelp\nping\n")
        .unwrap();
    let out = repl.wait_with_output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.contains("Get the value of a key"), "{out:?}");
    assert!(out.contains("\x1b[H\x1b[2J"), "{out:?}");
    assert!(out.contains("\"help @<group>\""), "{out:?}");
    assert!(out.ends_with("PONG\n"), "{out:?}");
    assert!(!out.contains("unknown command"), "{out:?}");

    if !common::have_tools(&["redis-cli"]) {
        return;
    }
    for words in [&["set"][..], &["config", "get"], &["@list"], &["nosuch"]] {
        let real = Command::new("redis-cli")
            .args(["-p", &port, "help"])
            .args(words)
            .output()
            .unwrap();
        let mine = Command::new(common::redislab())
            .args(["cli", "-p", &port, "help"])
            .args(words)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&real.stdout),
            "help {words:?}"
        );
    }
}

/// As redis-cli: `--version`/`-v` print the version, an unknown option is refused (never sent
/// to the server as a command), and `REDISCLI_AUTH` gives the password without a warning.
#[test]
fn version_unknown_options_and_rediscli_auth_follow_redis_cli() {
    let node = common::TestNode::start(&["--requirepass", "s3cret"]);
    let port = node.port.to_string();
    let cli = |args: &[&str], auth: Option<&str>| {
        let mut command = Command::new(common::redislab());
        command.arg("cli").args(["-p", &port]).args(args);
        command.env_remove("REDISCLI_AUTH");
        if let Some(password) = auth {
            command.env("REDISCLI_AUTH", password);
        }
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for flag in ["--version", "-v"] {
        let (code, out, _) = cli(&[flag], None);
        assert_eq!(code, Some(0));
        assert!(out.starts_with("redislab cli "), "{out}");
    }
    let (code, out, err) = cli(&["--no-such-option", "ping"], None);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "Unrecognized option or bad number of args for: '--no-such-option'\n"
    );
    assert!(out.is_empty(), "nothing was sent: {out}");

    let (_, out, err) = cli(&["ping"], Some("s3cret"));
    assert_eq!(out, "PONG\n");
    assert!(err.is_empty(), "no warning for REDISCLI_AUTH: {err}");
    let (_, out, _) = cli(&["ping"], None);
    assert!(out.contains("NOAUTH"), "{out}");
}
