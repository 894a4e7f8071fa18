//! `redislab cli`: a redis-cli clone (one-shot commands, the REPL, `-c` cluster redirects).
//!
//! Follows redis-cli.c (redis 7.0): `parseOptions` for the options, `cliConnect` (AUTH,
//! SELECT, HELLO 3 on every (re)connect), `issueCommandRepeat`/`cliSendCommand`/`cliReadReply`
//! for sending, printing and following `-MOVED`/`-ASK`, `repl()` for the prompt and history,
//! and sds.c's `sdssplitargs` for splitting a typed line ([`split_args`]).
//!
//! The caller passes all I/O in a [`CliIo`] (stdout, stderr, where lines come from, whether
//! stdout is a terminal, what counts as Ctrl-C), so tests drive the whole CLI in-process.
//!
//! Differences from redis-cli, on purpose:
//! * `SELECT` and `AUTH` given in the REPL are remembered and replayed on reconnect.
//! * Redirects are bounded ([`MAX_REDIRECTS`]).
//! * Ctrl-C during MONITOR or SUBSCRIBE in the REPL returns to the prompt (as in 7.2); Ctrl-C
//!   anywhere else ends the program with exit code 130.
//!
//! `--cluster <subcommand>` runs the cluster manager ([`super::cluster_manager`]).
//!
//! Left out: `-s`, `-u`, `-x`, `-e`, `-d`/`-D`, `--csv`, `--pipe`, `--stat`, `--scan`,
//! `--bigkeys`, `--latency*`, `--eval`/`--ldb`, replica mode
//! (`SYNC`/`PSYNC`), command hints/completion and the `(0.52s)` timing line. `help` and `clear`
//! are answered locally as redis-cli does ([`super::help`]).

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::connection::{format_addr, io_error_text, Client, ClientError};
use super::format::{format_reply, OutputMode};
use crate::resp::frame::Frame;

/// Most `-MOVED`/`-ASK` redirects followed for one command before giving up.
pub const MAX_REDIRECTS: usize = 16;
/// Environment variable overriding the history file path (`/dev/null` disables history).
pub const HISTFILE_ENV: &str = "REDISLAB_CLI_HISTFILE";
/// History file name under `$HOME`.
pub const HISTFILE_DEFAULT: &str = ".redislab_cli_history";
/// Environment variable redis-cli reads the password from when `-a` is not given.
pub const AUTH_ENV: &str = "REDISCLI_AUTH";
/// Exit code after Ctrl-C outside a MONITOR/SUBSCRIBE stream (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The warning redis-cli prints when `-a` is given (unless `--no-auth-warning`).
pub const AUTH_WARNING: &str =
    "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n";

/// Options of `redislab cli`, as redis-cli's (`-h` is the host; help is `--help` only).
#[derive(clap::Args, Debug, Clone, PartialEq)]
#[command(disable_help_flag = true)]
pub struct CliArgs {
    /// Server hostname.
    #[arg(short = 'h', value_name = "hostname", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short = 'p', value_name = "port", default_value_t = 6379)]
    pub port: u16,
    /// Password to use when connecting to the server.
    #[arg(short = 'a', long = "pass", value_name = "password")]
    pub password: Option<String>,
    /// Used to send ACL style 'AUTH username pass'. Needs -a.
    #[arg(long, value_name = "username")]
    pub user: Option<String>,
    /// Database number.
    #[arg(short = 'n', value_name = "db", default_value_t = 0)]
    pub db: i64,
    /// Enable cluster mode (follow -ASK and -MOVED redirections).
    #[arg(short = 'c')]
    pub cluster: bool,
    /// Use raw formatting for replies (default when STDOUT is not a tty).
    #[arg(long)]
    pub raw: bool,
    /// Force formatted output even when STDOUT is not a tty.
    #[arg(long)]
    pub no_raw: bool,
    /// Start session in RESP3 protocol mode.
    #[arg(short = '3')]
    pub resp3: bool,
    /// Execute specified command N times (negative: forever).
    #[arg(
        short = 'r',
        value_name = "repeat",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub repeat: i64,
    /// When -r is used, waits `interval` seconds per command (sub-second like -i 0.1).
    #[arg(short = 'i', value_name = "interval", default_value_t = 0.0)]
    pub interval: f64,
    /// Don't show warning message when using password on command line interface.
    #[arg(long)]
    pub no_auth_warning: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The command to run; without one, an interactive session starts.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "cmd"
    )]
    pub command: Vec<String>,
}

/// Where the REPL reads lines from.
pub enum Input {
    /// An interactive terminal: rustyline with history.
    Terminal,
    /// Lines from a reader (stdin that is not a terminal, or a test): no history. With
    /// `show_prompt`, the prompt is written to stdout before each line (redis-cli does not do
    /// this for piped stdin; tests use it to see the prompt).
    Lines {
        /// The source of lines.
        reader: Box<dyn BufRead + Send>,
        /// Write the prompt to stdout before reading each line.
        show_prompt: bool,
    },
}

/// Everything the CLI reads and writes, passed in so tests can drive it.
pub struct CliIo<'a> {
    /// Where REPL lines come from (unused in one-shot mode).
    pub input: Input,
    /// Replies and prompts.
    pub stdout: &'a mut (dyn Write + Send),
    /// Warnings and connection errors.
    pub stderr: &'a mut (dyn Write + Send),
    /// Whether stdout is a terminal: picks TTY vs raw output and whether RESP3 pushes print.
    pub stdout_is_tty: bool,
    /// What counts as Ctrl-C: `None` is the process's SIGINT, `Some` a test's trigger.
    pub interrupt: Option<Arc<Notify>>,
}

impl<'a> CliIo<'a> {
    /// The process's own stdin/stdout/stderr, with terminal detection.
    pub fn stdio(stdout: &'a mut (dyn Write + Send), stderr: &'a mut (dyn Write + Send)) -> Self {
        use std::io::IsTerminal;
        let input = if std::io::stdin().is_terminal() {
            Input::Terminal
        } else {
            Input::Lines {
                reader: Box::new(std::io::BufReader::new(std::io::stdin())),
                show_prompt: false,
            }
        };
        CliIo {
            input,
            stdout,
            stderr,
            stdout_is_tty: std::io::stdout().is_terminal(),
            interrupt: None,
        }
    }
}

/// Splits a typed line into arguments as sds.c's `sdssplitargs` does: blanks separate,
/// `"..."` understands `\n \r \t \b \a \\ \"` and `\xhh`, `'...'` understands only `\'`, and a
/// closing quote must be followed by a blank or the end. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let args = crate::resp::request::split_args(line)?;
    Some(args.into_iter().map(|arg| arg.to_vec()).collect())
}

fn client_error_text(e: &ClientError) -> String {
    match e {
        ClientError::Io(io) => io_error_text(io),
        other => other.to_string(),
    }
}

/// Commands whose reply redis-cli prints raw in every mode (`output_raw` in cliSendCommand).
/// The lab runner prints its commands' replies with the same rule.
pub fn prints_verbatim<A: AsRef<[u8]>>(args: &[A]) -> bool {
    let is = |i: usize, name: &str| {
        args.get(i)
            .is_some_and(|a| a.as_ref().eq_ignore_ascii_case(name.as_bytes()))
    };
    let argc = args.len();
    is(0, "info")
        || is(0, "lolwut")
        || (argc >= 2 && is(0, "debug") && (is(1, "htstats") || is(1, "htstats-key")))
        || (argc >= 2 && is(0, "memory") && (is(1, "malloc-stats") || is(1, "doctor")))
        || (argc == 2 && is(0, "cluster") && (is(1, "nodes") || is(1, "info")))
        || (argc >= 2 && is(0, "client") && (is(1, "list") || is(1, "info")))
        || (argc == 3 && is(0, "latency") && is(1, "graph"))
        || (argc == 2 && is(0, "latency") && is(1, "doctor"))
        || (argc >= 2 && is(0, "proxy") && is(1, "info"))
}

/// Parses `MOVED 3999 127.0.0.1:6381` / `ASK ...` into (is_ask, slot, host, port). An empty
/// host (`:6381`, sent when a node does not know its address) keeps `current_host`.
pub fn parse_redirect(err: &[u8], current_host: &str) -> Option<(bool, u16, String, u16)> {
    let text = std::str::from_utf8(err).ok()?;
    let (kind, rest) = text.split_once(' ')?;
    let ask = match kind {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    let (slot, addr) = rest.split_once(' ')?;
    let (host, port) = addr.rsplit_once(':')?;
    let host = if host.is_empty() { current_host } else { host };
    Some((
        ask,
        slot.parse().ok()?,
        host.to_string(),
        port.parse().ok()?,
    ))
}

/// What happened to one command.
enum Outcome {
    /// Printed (or streamed until it ended).
    Done,
    /// A redirect was taken: reconnect to the new node and send again.
    Redirected,
    /// Ctrl-C outside a stream: the program ends.
    Interrupted,
}

/// The CLI's state: redis-cli's `config` and `context`.
struct Session<'a, 'io> {
    io: &'a mut CliIo<'io>,
    host: String,
    port: u16,
    db: i64,
    user: Option<String>,
    password: Option<String>,
    resp3: bool,
    cluster: bool,
    mode: OutputMode,
    interval: Duration,
    interactive: bool,
    conn: Option<Client>,
    in_multi: bool,
    pre_multi_db: i64,
    send_asking: bool,
    /// The help table, built on the first `help` (from the server's COMMAND DOCS).
    help: Option<Vec<super::help::Entry>>,
    /// Connection errors are not printed (while fetching help, as redis-cli's `CC_QUIET`).
    quiet: bool,
}

impl Session<'_, '_> {
    fn out(&mut self, bytes: &[u8]) {
        // A closed stdout (e.g. `| head`) is not worth failing a command for.
        let _ = self.io.stdout.write_all(bytes);
        let _ = self.io.stdout.flush();
    }

    fn err(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        let _ = self.io.stderr.write_all(text.as_bytes());
        let _ = self.io.stderr.flush();
    }

    fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".to_string();
        }
        let mut p = format_addr(&self.host, self.port);
        if self.db != 0 {
            p.push_str(&format!("[{}]", self.db));
        }
        if self.in_multi {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }
}

/// Resolves on Ctrl-C: the test's trigger if one was given, else the process's SIGINT.
async fn interrupted(trigger: Option<Arc<Notify>>) {
    {
        match &trigger {
            Some(notify) => notify.notified().await,
            None => {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl Session<'_, '_> {
    /// `cliConnect(CC_FORCE)`: a new connection, then AUTH, SELECT and HELLO 3 as configured.
    /// Returns false (having printed why) if the TCP connection failed.
    async fn connect(&mut self) -> bool {
        self.conn = None;
        let addr = format_addr(&self.host, self.port);
        let mut client = match Client::connect(&addr).await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!(
                    "Could not connect to Redis at {addr}: {}\n",
                    io_error_text(&e)
                );
                self.err(&msg);
                return false;
            }
        };
        if let Some(password) = self.password.clone() {
            match client.auth(self.user.as_deref(), &password).await {
                Err(ClientError::Reply(e)) => self.err(&format!("AUTH failed: {e}\n")),
                Err(e) => return self.setup_failed(e),
                Ok(()) => {}
            }
        }
        if self.db != 0 {
            match client.select(self.db).await {
                Err(ClientError::Reply(e)) => {
                    self.err(&format!("SELECT {} failed: {e}\n", self.db))
                }
                Err(e) => return self.setup_failed(e),
                Ok(()) => {}
            }
        }
        if self.resp3 {
            match client.hello(3).await {
                Err(ClientError::Reply(e)) => self.err(&format!("HELLO 3 failed: {e}\n")),
                Err(e) => return self.setup_failed(e),
                Ok(_) => {}
            }
        }
        self.conn = Some(client);
        true
    }

    fn setup_failed(&mut self, e: ClientError) -> bool {
        self.err(&format!("Error: {}\n", client_error_text(&e)));
        false
    }

    /// `issueCommandRepeat`: (re)connects as needed, sends, follows redirects. Returns false
    /// if the command could not be delivered, `Err(code)` if the program must end.
    async fn issue(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<bool, i32> {
        let mut redirects = 0;
        let mut retried = false;
        loop {
            if self.conn.is_none() && !self.connect().await {
                return Ok(false);
            }
            if self.send_asking {
                self.send_asking = false;
                let asking = match self.conn.as_mut() {
                    Some(c) => c.command(&["ASKING"]).await,
                    None => return Ok(false),
                };
                match asking {
                    Err(e) => {
                        self.lost(&e)?;
                        return Ok(false);
                    }
                    // redis-cli's cliSendAsking: the command is not sent then.
                    Ok(Frame::Error(e)) => {
                        let text = format!("ASKING failed: {}\n", String::from_utf8_lossy(&e));
                        self.err(&text);
                        return Ok(false);
                    }
                    Ok(_) => {}
                }
            }
            match self.send(args, repeat).await {
                Ok(Outcome::Done) => return Ok(true),
                Ok(Outcome::Interrupted) => return Err(EXIT_INTERRUPTED),
                Ok(Outcome::Redirected) => {
                    redirects += 1;
                    self.conn = None;
                    if redirects > MAX_REDIRECTS {
                        self.err(&format!(
                            "Error: too many redirects (more than {MAX_REDIRECTS})\n"
                        ));
                        return Ok(false);
                    }
                }
                Err(e) => {
                    self.lost(&e)?;
                    // redis-cli reconnects and sends once more after a lost connection.
                    if retried {
                        return Ok(false);
                    }
                    retried = true;
                    if !self.connect().await {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// A connection failed mid-command. Interactive sessions carry on (reconnecting on the
    /// next command); one-shot mode prints hiredis's error and ends with exit code 1.
    fn lost(&mut self, e: &ClientError) -> Result<(), i32> {
        self.conn = None;
        if self.interactive && matches!(e, ClientError::Io(_) | ClientError::Closed) {
            return Ok(());
        }
        self.err(&format!("Error: {}\n", client_error_text(e)));
        Err(1)
    }

    /// Reads the reply to a command, printing RESP3 pushes that arrive first (on a terminal).
    async fn read_reply(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            let trigger = self.io.interrupt.clone();
            let conn = self.conn.as_mut().ok_or(ClientError::Closed)?;
            let frame = tokio::select! {
                frame = conn.read_frame() => frame?,
                _ = interrupted(trigger) => return Ok(None),
            };
            if matches!(frame, Frame::Push(_)) {
                if self.io.stdout_is_tty {
                    let text = format_reply(&frame, self.mode, false);
                    self.out(&text);
                }
                continue;
            }
            return Ok(Some(frame));
        }
    }

    /// `cliSendCommand`: sends `repeat` times, prints replies, tracks SELECT/MULTI state.
    async fn send(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<Outcome, ClientError> {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let verbatim = prints_verbatim(args);
        let monitor = name == "monitor";
        let pubsub = name == "subscribe" || name == "psubscribe" || name == "ssubscribe";
        let mut left = repeat;
        while left != 0 {
            left -= 1;
            let conn = self.conn.as_mut().ok_or(ClientError::Closed)?;
            conn.send(args).await?;
            if monitor || pubsub {
                return self.stream(pubsub, verbatim).await;
            }
            let reply = match self.read_reply().await {
                // A successful SHUTDOWN closes the connection without a reply; redis-cli then
                // prints nothing and succeeds.
                Err(ClientError::Closed | ClientError::Io(_)) if name == "shutdown" => {
                    self.conn = None;
                    return Ok(Outcome::Done);
                }
                other => other?,
            };
            let Some(reply) = reply else {
                return Ok(Outcome::Interrupted);
            };
            if let Frame::Error(e) = &reply {
                if self.cluster {
                    if let Some((ask, slot, host, port)) = parse_redirect(e, &self.host) {
                        self.host = host;
                        self.port = port;
                        self.send_asking = ask;
                        if self.interactive {
                            // As redis-cli: `host:port` even for IPv6 (the prompt brackets it).
                            let line = format!(
                                "-> Redirected to slot [{slot}] located at {}:{}\n",
                                self.host, self.port
                            );
                            self.out(line.as_bytes());
                        }
                        return Ok(Outcome::Redirected);
                    }
                }
            }
            let text = format_reply(&reply, self.mode, verbatim);
            self.out(&text);
            self.track_state(&name, args, &reply);
            if !self.interval.is_zero() {
                tokio::time::sleep(self.interval).await;
            }
        }
        Ok(Outcome::Done)
    }

    /// MONITOR and (P|S)SUBSCRIBE: print every frame until Ctrl-C, an error reply (pub/sub)
    /// or the connection ends.
    async fn stream(&mut self, pubsub: bool, verbatim: bool) -> Result<Outcome, ClientError> {
        if pubsub && self.mode != OutputMode::Raw {
            self.out(b"Reading messages... (press Ctrl-C to quit)\n");
        }
        loop {
            let trigger = self.io.interrupt.clone();
            let conn = self.conn.as_mut().ok_or(ClientError::Closed)?;
            let frame = tokio::select! {
                frame = conn.read_frame() => frame?,
                _ = interrupted(trigger) => {
                    if !self.interactive {
                        return Ok(Outcome::Interrupted);
                    }
                    // Back to the prompt; the subscribed connection is of no further use.
                    self.conn = None;
                    return Ok(Outcome::Done);
                }
            };
            let text = format_reply(&frame, self.mode, verbatim);
            self.out(&text);
            if pubsub && frame.is_error() {
                return Ok(Outcome::Done);
            }
        }
    }

    /// The bookkeeping after a reply that cliSendCommand does: the db for the prompt and for
    /// reconnects, MULTI's `(TX)`, and AUTH credentials for reconnects.
    fn track_state(&mut self, name: &str, args: &[Vec<u8>], reply: &Frame) {
        let ok = !reply.is_error();
        match (name, args.len()) {
            ("select", 2) if ok => {
                if let Some(db) = std::str::from_utf8(&args[1])
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    self.db = db;
                }
            }
            ("auth", 2 | 3) if ok => {
                let text = |a: &Vec<u8>| String::from_utf8_lossy(a).into_owned();
                if args.len() == 3 {
                    self.user = Some(text(&args[1]));
                    self.password = Some(text(&args[2]));
                } else {
                    self.user = None;
                    self.password = Some(text(&args[1]));
                }
            }
            ("multi", 1) if ok => {
                self.in_multi = true;
                self.pre_multi_db = self.db;
            }
            ("exec", 1) if self.in_multi => {
                self.in_multi = false;
                if !ok {
                    self.db = self.pre_multi_db;
                }
            }
            ("discard", 1) if ok => {
                self.in_multi = false;
                self.db = self.pre_multi_db;
            }
            _ => {}
        }
    }

    /// `help [command words | @group]`, answered here as redis-cli does, from the server's
    /// `COMMAND DOCS` (or the built-in Redis 7.0 docs when the server cannot say).
    async fn help(&mut self, words: &[Vec<u8>]) {
        if self.help.is_none() {
            self.quiet = true;
            if self.conn.is_none() {
                self.connect().await;
            }
            self.quiet = false;
            let docs = match self.conn.as_mut() {
                Some(conn) => conn.command(&["COMMAND", "DOCS"]).await.ok(),
                None => None,
            };
            let docs = match docs {
                Some(frame @ (Frame::Map(_) | Frame::Array(_))) => frame,
                _ => super::help::builtin_docs(),
            };
            self.help = Some(super::help::entries(&docs));
        }
        let words: Vec<String> = words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        let text = super::help::render(self.help.as_deref().unwrap_or_default(), &words);
        self.out(text.as_bytes());
    }

    /// `repl()`: read, split, run, until quit/exit or end of input.
    async fn repl(&mut self, lines: &mut LineSource) -> i32 {
        loop {
            let prompt = self.prompt();
            let Some(line) = lines.read(&prompt, self.io.stdout).await else {
                return 0;
            };
            if line.is_empty() {
                continue;
            }
            let Some(mut args) = split_args(&line) else {
                self.out(b"Invalid argument(s)\n");
                continue;
            };
            if args.is_empty() {
                continue;
            }
            let mut repeat = 1;
            if args.len() > 1 {
                if let Some(n) = std::str::from_utf8(&args[0])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    if n <= 0 {
                        self.out(b"Invalid redis-cli repeat command option value.\n");
                        continue;
                    }
                    repeat = n;
                    args.remove(0);
                }
            }
            let first = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
            match first.as_str() {
                "quit" | "exit" => return 0,
                "help" | "?" => self.help(&args[1..]).await,
                // linenoise's clear screen: cursor home, erase the display.
                "clear" => self.out(b"\x1b[H\x1b[2J"),
                "connect" if args.len() == 3 => {
                    let port = std::str::from_utf8(&args[2])
                        .ok()
                        .and_then(|p| p.parse().ok());
                    self.host = String::from_utf8_lossy(&args[1]).into_owned();
                    self.port = port.unwrap_or(0);
                    self.db = 0;
                    self.in_multi = false;
                    self.connect().await;
                }
                _ => {
                    if let Err(code) = self.issue(&args, repeat).await {
                        return code;
                    }
                }
            }
        }
    }
}

/// Lines for the REPL, read on a thread of their own so that a blocking terminal or pipe
/// never stalls the async runtime.
struct LineSource {
    requests: std::sync::mpsc::Sender<String>,
    lines: tokio::sync::mpsc::Receiver<Option<Vec<u8>>>,
    show_prompt: bool,
}

impl LineSource {
    fn spawn(input: Input) -> LineSource {
        let (req_tx, req_rx) = std::sync::mpsc::channel::<String>();
        let (line_tx, line_rx) = tokio::sync::mpsc::channel(1);
        let show_prompt = match &input {
            Input::Lines { show_prompt, .. } => *show_prompt,
            Input::Terminal => false,
        };
        std::thread::spawn(move || match input {
            Input::Terminal => terminal_lines(req_rx, line_tx),
            Input::Lines { mut reader, .. } => {
                for _prompt in req_rx {
                    let mut line = Vec::new();
                    let got = match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => None,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            Some(line)
                        }
                    };
                    let end = got.is_none();
                    if line_tx.blocking_send(got).is_err() || end {
                        return;
                    }
                }
            }
        });
        LineSource {
            requests: req_tx,
            lines: line_rx,
            show_prompt,
        }
    }

    /// The next line (without its newline), or `None` at end of input or Ctrl-C/Ctrl-D.
    async fn read(&mut self, prompt: &str, stdout: &mut (dyn Write + Send)) -> Option<Vec<u8>> {
        if self.show_prompt {
            let _ = stdout.write_all(prompt.as_bytes());
            let _ = stdout.flush();
        }
        self.requests.send(prompt.to_string()).ok()?;
        self.lines.recv().await.flatten()
    }
}

/// The history file: `$REDISLAB_CLI_HISTFILE`, else `~/.redislab_cli_history`.
fn history_path() -> Option<std::path::PathBuf> {
    match std::env::var_os(HISTFILE_ENV) {
        Some(p) if p == "/dev/null" => None,
        Some(p) if !p.is_empty() => Some(p.into()),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::Path::new(&h).join(HISTFILE_DEFAULT)),
    }
}

/// AUTH and ACL SETUSER lines carry passwords: redis-cli keeps them out of the history.
fn keep_in_history(line: &str) -> bool {
    let Some(args) = split_args(line.as_bytes()) else {
        return true;
    };
    let mut words = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    let mut first = words.next();
    if first.as_deref().is_some_and(|w| w.parse::<i64>().is_ok()) {
        first = words.next();
    }
    match first.as_deref() {
        Some("auth") => false,
        Some("acl") => words.next().as_deref() != Some("setuser"),
        _ => true,
    }
}

fn terminal_lines(
    requests: std::sync::mpsc::Receiver<String>,
    lines: tokio::sync::mpsc::Sender<Option<Vec<u8>>>,
) {
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        let _ = lines.blocking_send(None);
        return;
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    for prompt in requests {
        let got = match editor.readline(&prompt) {
            Ok(line) => {
                if !line.is_empty() && keep_in_history(&line) {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = editor.save_history(path);
                    }
                }
                Some(line.into_bytes())
            }
            // Ctrl-C and Ctrl-D at the prompt end the session, as with linenoise.
            Err(_) => None,
        };
        let end = got.is_none();
        if lines.blocking_send(got).is_err() || end {
            return;
        }
    }
}

/// Runs `redislab cli` and returns the process exit code.
///
/// With command words: connect, run the command (`-r`/`-i` times), print, exit (1 if the
/// server cannot be reached). Without: the REPL on `io.input`.
pub async fn run(mut args: CliArgs, mut io: CliIo<'_>) -> i32 {
    // `--cluster <subcommand>` (and its `--cluster-*` options): the cluster manager.
    if args
        .command
        .first()
        .is_some_and(|w| w == "--cluster" || w.starts_with("--cluster-"))
    {
        return cluster_manager(args, io).await;
    }
    // Options clap did not know end up first among the command words; redis-cli's
    // `parseOptions` stops at the first word that is not an option, and refuses unknown ones.
    if let Some(first) = args
        .command
        .first()
        .filter(|w| w.len() > 1 && w.starts_with('-'))
    {
        if first == "-v" || first == "--version" {
            let _ = writeln!(
                io.stdout,
                "redislab cli {} (redis-cli {})",
                env!("CARGO_PKG_VERSION"),
                crate::REDIS_VERSION
            );
            return 0;
        }
        let _ = writeln!(
            io.stderr,
            "Unrecognized option or bad number of args for: '{first}'"
        );
        return 1;
    }
    if args.password.is_some() && !args.no_auth_warning {
        let _ = io.stderr.write_all(AUTH_WARNING.as_bytes());
    }
    // As redis-cli: the password may come from the environment instead (no warning then).
    if args.password.is_none() {
        args.password = std::env::var(AUTH_ENV).ok();
    }
    let mode = if args.raw {
        OutputMode::Raw
    } else if args.no_raw || io.stdout_is_tty {
        OutputMode::Tty
    } else {
        OutputMode::Raw
    };
    let interval = Duration::try_from_secs_f64(args.interval).unwrap_or_default();
    let input = std::mem::replace(
        &mut io.input,
        Input::Lines {
            reader: Box::new(std::io::empty()),
            show_prompt: false,
        },
    );
    let mut session = Session {
        io: &mut io,
        host: args.host,
        port: args.port,
        db: args.db,
        user: args.user,
        password: args.password,
        resp3: args.resp3,
        cluster: args.cluster,
        mode,
        interval,
        interactive: args.command.is_empty(),
        conn: None,
        in_multi: false,
        pre_multi_db: 0,
        send_asking: false,
        help: None,
        quiet: false,
    };
    if session.interactive {
        // In the REPL a failed connection is not fatal: every command tries again.
        session.connect().await;
        let mut lines = LineSource::spawn(input);
        return session.repl(&mut lines).await;
    }
    let words: Vec<Vec<u8>> = args.command.into_iter().map(String::into_bytes).collect();
    if words[0].eq_ignore_ascii_case(b"help") || words[0] == b"?" {
        session.help(&words[1..]).await;
        return 0;
    }
    if !session.connect().await {
        return 1;
    }
    match session.issue(&words, args.repeat).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(code) => code,
    }
}

/// `redislab cli [-a pw] --cluster <subcommand> ...`: hands the words to the cluster manager,
/// with the connection options given before them.
async fn cluster_manager(args: CliArgs, mut io: CliIo<'_>) -> i32 {
    use super::cluster_manager::{options::Options, output, run};
    if args.password.is_some() && !args.no_auth_warning {
        let _ = io.stderr.write_all(AUTH_WARNING.as_bytes());
    }
    let defaults = Options {
        password: args.password,
        user: args.user,
        no_auth_warning: true,
        ..Options::default()
    };
    let mut stdin_lock;
    let mut reader;
    let stdin: &mut (dyn BufRead + Send) = match &mut io.input {
        Input::Lines { reader: r, .. } => {
            reader = std::mem::replace(r, Box::new(std::io::empty()));
            &mut reader
        }
        Input::Terminal => {
            stdin_lock = std::io::BufReader::new(std::io::stdin());
            &mut stdin_lock
        }
    };
    let mut out = output::Output {
        stdout: io.stdout,
        stderr: io.stderr,
        stdin,
        color: output::color_from_env(),
    };
    run(&args.command, defaults, &mut out).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn split_args_like_sdssplitargs() {
        assert_eq!(split("set k v").unwrap(), ["set", "k", "v"]);
        assert_eq!(split("  set   k\tv  ").unwrap(), ["set", "k", "v"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split(r#"set "a b" 'c d'"#).unwrap(), ["set", "a b", "c d"]);
        assert_eq!(split(r#""a\nb\t\"q\"\\""#).unwrap(), ["a\nb\t\"q\"\\"]);
        assert_eq!(split(r#"'it\'s' 'a\nb'"#).unwrap(), ["it's", "a\\nb"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(
            split(r#"a"b c"d"#),
            None,
            "closing quote must be followed by a space"
        );
        assert_eq!(split(r#"ab"c d" e"#).unwrap(), ["abc d", "e"]);
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split("'unterminated"), None);
        assert_eq!(
            split_args(br#""\xe5\xbc\xa0" "\x4""#).unwrap(),
            vec![vec![0xe5, 0xbc, 0xa0], b"x4".to_vec()]
        );
    }

    #[test]
    fn redirects_parse() {
        assert_eq!(
            parse_redirect(b"MOVED 5798 127.0.0.1:9002", "h"),
            Some((false, 5798, "127.0.0.1".into(), 9002))
        );
        assert_eq!(
            parse_redirect(b"ASK 5 ::1:7000", "h"),
            Some((true, 5, "::1".into(), 7000))
        );
        assert_eq!(
            parse_redirect(b"MOVED 1 :7001", "10.0.0.1"),
            Some((false, 1, "10.0.0.1".into(), 7001))
        );
        assert_eq!(parse_redirect(b"ERR MOVED", "h"), None);
        assert_eq!(parse_redirect(b"MOVEDX 1 a:1", "h"), None);
    }

    #[test]
    fn history_skips_passwords() {
        assert!(keep_in_history("set k v"));
        assert!(!keep_in_history("AUTH secret"));
        assert!(!keep_in_history("3 auth u p"));
        assert!(!keep_in_history("acl SETUSER bob on >pw"));
        assert!(keep_in_history("acl list"));
    }

    #[test]
    fn verbatim_commands() {
        let words = |s: &str| split_args(s.as_bytes()).unwrap();
        assert!(prints_verbatim(&words("INFO replication")));
        assert!(prints_verbatim(&words("cluster nodes")));
        assert!(!prints_verbatim(&words("cluster slots")));
        assert!(prints_verbatim(&words("client list")));
        assert!(!prints_verbatim(&words("get info")));
    }

    #[derive(clap::Parser, Debug)]
    struct Top {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        Cli(CliArgs),
    }

    fn parse(words: &[&str]) -> CliArgs {
        let Sub::Cli(args) = Top::try_parse_from(["redislab", "cli"].iter().chain(words))
            .unwrap()
            .cmd;
        args
    }

    #[test]
    fn options_parse_like_redis_cli() {
        let a = parse(&[]);
        assert_eq!((a.host.as_str(), a.port, a.db), ("127.0.0.1", 6379, 0));
        assert!(a.command.is_empty());
        let a = parse(&[
            "-h", "10.0.0.5", "-p", "7000", "-a", "pw", "--user", "bob", "-n", "2", "-c", "-3",
            "--no-raw", "-r", "5", "-i", "0.1", "set", "k", "-1",
        ]);
        assert_eq!(a.host, "10.0.0.5");
        assert_eq!(a.port, 7000);
        assert_eq!(a.password.as_deref(), Some("pw"));
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.db, 2);
        assert!(a.cluster && a.resp3 && a.no_raw && !a.raw);
        assert_eq!(a.repeat, 5);
        assert_eq!(a.interval, 0.1);
        assert_eq!(a.command, ["set", "k", "-1"]);
        assert_eq!(parse(&["-r", "-1", "ping"]).repeat, -1);
        let help = Top::try_parse_from(["redislab", "cli", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn prompt_follows_db_and_multi() {
        assert_eq!(format_addr("127.0.0.1", 6379), "127.0.0.1:6379");
        assert_eq!(format_addr("::1", 6379), "[::1]:6379");
    }
}
