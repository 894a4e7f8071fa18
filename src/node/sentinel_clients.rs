//! The Sentinel's client side: the connection task and Sentinel's own command table (PING,
//! AUTH, HELLO, CLIENT, ACL, COMMAND, INFO, ROLE, SENTINEL, (P)(UN)SUBSCRIBE to event
//! channels, PUBLISH for hellos, SHUTDOWN). Commands that need the machine are calls into the
//! task that owns it ([`super::sentinel`]). On a Sentinel started with `--lab-faults`,
//! `REDISLAB FAULT` edits the fault table its links go through (not in the table, as on a
//! server: `crate::cmd::lab`).

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::cmd::lab::fault_command;
use crate::glob::glob_match;
use crate::resp::{Reply, RequestParser};
use crate::sentinel::commands::{info_section, role_reply, sentinel_command};
use crate::sentinel::{Input, Output, HELLO_CHANNEL};

use super::sentinel::{unix_ms, Driver, Msg};

/// The commands a Sentinel knows (Redis 7.0's table in sentinel mode).
const COMMAND_TABLE: &[&str] = &[
    "acl",
    "auth",
    "client",
    "command",
    "hello",
    "info",
    "ping",
    "psubscribe",
    "publish",
    "punsubscribe",
    "role",
    "sentinel",
    "shutdown",
    "subscribe",
    "unsubscribe",
];

/// One client of the Sentinel.
struct Session {
    id: u64,
    resp3: bool,
    authenticated: bool,
    name: Option<String>,
    channels: Vec<String>,
    patterns: Vec<String>,
}

impl Session {
    fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

async fn call(
    tx: &mpsc::UnboundedSender<Msg>,
    f: impl FnOnce(&mut Driver) -> Reply + Send + 'static,
) -> Reply {
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx.send(Msg::Call(Box::new(f), reply_tx)).is_err() {
        return Reply::error("ERR Sentinel is shutting down");
    }
    reply_rx
        .await
        .unwrap_or_else(|_| Reply::error("ERR Sentinel is shutting down"))
}

pub(super) async fn client_connection(
    mut stream: TcpStream,
    id: u64,
    tx: mpsc::UnboundedSender<Msg>,
    events: broadcast::Sender<(String, String)>,
) {
    let needs_auth = matches!(
        call(&tx, |d| Reply::Bool(d.requirepass.is_some())).await,
        Reply::Bool(true)
    );
    let mut session = Session {
        id,
        resp3: false,
        authenticated: !needs_auth,
        name: None,
        channels: Vec::new(),
        patterns: Vec::new(),
    };
    let mut parser = RequestParser::new(512 * 1024 * 1024);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::new();
    let mut event_rx = events.subscribe();
    loop {
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let mut close = false;
                loop {
                    parser.authenticated = session.authenticated;
                    match parser.parse(&mut buf) {
                        Ok(Some(args)) => {
                            if args.is_empty() {
                                continue;
                            }
                            let (reply, quit) = client_command(&mut session, &tx, args).await;
                            reply.encode(session.resp3, &mut out);
                            if quit {
                                close = true;
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            Reply::error(format!("ERR Protocol error: {}", e.0)).encode(session.resp3, &mut out);
                            close = true;
                            break;
                        }
                    }
                }
                if stream.write_all(&out).await.is_err() || close {
                    return;
                }
                out.clear();
            }
            event = event_rx.recv(), if session.subscriptions() > 0 => {
                let Ok((channel, payload)) = event else { continue };
                let mut push = |reply: Reply| reply.encode(session.resp3, &mut out);
                if session.channels.contains(&channel) {
                    push(Reply::Push(vec![
                        Reply::bulk(b"message"),
                        Reply::bulk(channel.as_bytes()),
                        Reply::bulk(payload.as_bytes()),
                    ]));
                }
                for pattern in &session.patterns {
                    if glob_match(pattern.as_bytes(), channel.as_bytes(), false) {
                        push(Reply::Push(vec![
                            Reply::bulk(b"pmessage"),
                            Reply::bulk(pattern.as_bytes()),
                            Reply::bulk(channel.as_bytes()),
                            Reply::bulk(payload.as_bytes()),
                        ]));
                    }
                }
                if !out.is_empty() {
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        }
    }
}

fn text(arg: &Bytes) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// The commands a Sentinel answers (Redis's sentinel command table). Returns the reply and
/// whether to close the connection afterwards.
async fn client_command(
    session: &mut Session,
    tx: &mpsc::UnboundedSender<Msg>,
    args: Vec<Bytes>,
) -> (Reply, bool) {
    let name = text(&args[0]).to_ascii_lowercase();
    let argv: Vec<String> = args.iter().map(text).collect();
    let argc = argv.len();
    let arity = |n: &str| Reply::error(format!("ERR wrong number of arguments for '{n}' command"));
    if !session.authenticated && !matches!(name.as_str(), "auth" | "hello" | "quit") {
        return (Reply::error("NOAUTH Authentication required."), false);
    }
    if !session.resp3
        && session.subscriptions() > 0
        && !matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
        )
    {
        return (
            Reply::error(format!(
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )),
            false,
        );
    }
    let reply = match name.as_str() {
        "ping" => match argc {
            1 if session.subscriptions() > 0 && !session.resp3 => {
                Reply::Array(vec![Reply::bulk(b"pong"), Reply::bulk(b"")])
            }
            1 => Reply::simple("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => arity("ping"),
        },
        "quit" => return (Reply::ok(), true),
        "auth" => match argc {
            2 | 3 => {
                let password = argv[argc - 1].clone();
                let user_ok = argc == 2 || argv[1] == "default";
                let ok = call(tx, move |d| match &d.requirepass {
                    None => Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                    Some(p) if *p == password && user_ok => Reply::ok(),
                    Some(_) => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
                })
                .await;
                if !ok.is_error() {
                    session.authenticated = true;
                }
                ok
            }
            _ => arity("auth"),
        },
        "hello" => return (hello(session, tx, &argv).await, false),
        "client" => client_subcommand(session, &argv),
        "subscribe" | "psubscribe" if argc >= 2 => {
            let pattern = name == "psubscribe";
            let mut replies = Vec::new();
            for channel in &argv[1..] {
                let list = if pattern {
                    &mut session.patterns
                } else {
                    &mut session.channels
                };
                if !list.contains(channel) {
                    list.push(channel.clone());
                }
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::bulk(channel.as_bytes()),
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            Reply::Many(replies)
        }
        "unsubscribe" | "punsubscribe" => {
            let pattern = name == "punsubscribe";
            let targets: Vec<String> = if argc > 1 {
                argv[1..].to_vec()
            } else if pattern {
                session.patterns.clone()
            } else {
                session.channels.clone()
            };
            let mut replies = Vec::new();
            for channel in &targets {
                let list = if pattern {
                    &mut session.patterns
                } else {
                    &mut session.channels
                };
                list.retain(|c| c != channel);
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::bulk(channel.as_bytes()),
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            if replies.is_empty() {
                replies.push(Reply::Push(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::Null,
                    Reply::Int(session.subscriptions() as i64),
                ]));
            }
            Reply::Many(replies)
        }
        "publish" if argc == 3 => {
            if argv[1] != HELLO_CHANNEL {
                Reply::error("ERR Only HELLO messages are accepted by Sentinel instances.")
            } else {
                let payload = argv[2].clone();
                call(tx, move |d| {
                    d.handle(Input::Hello { payload });
                    Reply::Int(1)
                })
                .await
            }
        }
        "sentinel" => {
            let rest = argv[1..].to_vec();
            call(tx, move |d| {
                let (reply, outputs) =
                    sentinel_command(&mut d.sentinel, &rest, unix_ms(), &mut d.rng);
                d.apply(outputs);
                d.reconcile_links();
                reply
            })
            .await
        }
        "role" if argc == 1 => call(tx, |d| role_reply(&d.sentinel)).await,
        "info" => {
            let sections: Vec<String> = argv[1..].iter().map(|s| s.to_ascii_lowercase()).collect();
            // A bulk string, not verbatim, even in RESP3: Redis's sentinelInfoCommand.
            call(tx, move |d| Reply::Bulk(info_text(d, &sections).into())).await
        }
        "shutdown" => {
            let _ = call(tx, |d| {
                d.shutdown = true;
                Reply::ok()
            })
            .await;
            return (Reply::None, true);
        }
        "command" => match argv.get(1).map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("count") => Reply::Int(COMMAND_TABLE.len() as i64),
            Some("list") => Reply::Array(
                COMMAND_TABLE
                    .iter()
                    .map(|c| Reply::bulk(c.as_bytes()))
                    .collect(),
            ),
            // Command docs and info are not kept: an empty answer, which redis-cli accepts.
            _ => Reply::Array(Vec::new()),
        },
        "acl" => match argv.get(1).map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("whoami") if argc == 2 => Reply::bulk(b"default"),
            Some("users") if argc == 2 => Reply::Array(vec![Reply::bulk(b"default")]),
            Some(_) => Reply::error(format!(
                "ERR unknown subcommand '{}'. Try ACL HELP.",
                truncate(&argv[1], 128)
            )),
            None => arity("acl"),
        },
        "subscribe" | "psubscribe" | "publish" | "role" => arity(&name),
        "redislab" => {
            let unknown = unknown_command(&argv);
            call(tx, move |d| match d.faults.clone() {
                Some(table) => {
                    let (reply, change) = fault_command(&table, &args);
                    d.apply(change.map(Output::Event).into_iter().collect());
                    reply
                }
                None => unknown,
            })
            .await
        }
        _ => unknown_command(&argv),
    };
    (reply, false)
}

/// Redis's reply to a command it does not know.
fn unknown_command(argv: &[String]) -> Reply {
    let shown: String = argv[1..]
        .iter()
        .map(|a| format!("'{}' ", truncate(a, 128)))
        .collect();
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {shown}",
        truncate(&argv[0], 128)
    ))
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: on a sentinel, a map without `role`.
async fn hello(session: &mut Session, tx: &mpsc::UnboundedSender<Msg>, argv: &[String]) -> Reply {
    let mut proto = if session.resp3 { 3 } else { 2 };
    let mut j = 1;
    if argv.len() > 1 {
        match argv[1].parse::<i64>() {
            Ok(v) if v == 2 || v == 3 => proto = v,
            Ok(_) => return Reply::error("NOPROTO unsupported protocol version"),
            Err(_) => {
                return Reply::error("ERR Protocol version is not an integer or out of range")
            }
        }
        j = 2;
    }
    while j < argv.len() {
        let opt = argv[j].to_ascii_lowercase();
        if opt == "auth" && j + 2 < argv.len() {
            let user_ok = argv[j + 1] == "default";
            let pass = argv[j + 2].clone();
            let reply = call(tx, move |d| match &d.requirepass {
                Some(p) if *p == pass && user_ok => Reply::ok(),
                None if user_ok => Reply::ok(),
                _ => Reply::error("WRONGPASS invalid username-password pair or user is disabled."),
            })
            .await;
            if reply.is_error() {
                return reply;
            }
            session.authenticated = true;
            j += 3;
        } else if opt == "setname" && j + 1 < argv.len() {
            session.name = Some(argv[j + 1].clone());
            j += 2;
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", argv[j]));
        }
    }
    if !session.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    session.resp3 = proto == 3;
    let id = session.id as i64;
    Reply::Map(vec![
        (Reply::bulk(b"server"), Reply::bulk(b"redis")),
        (
            Reply::bulk(b"version"),
            Reply::bulk(crate::REDIS_VERSION.as_bytes()),
        ),
        (Reply::bulk(b"proto"), Reply::Int(proto)),
        (Reply::bulk(b"id"), Reply::Int(id)),
        (Reply::bulk(b"mode"), Reply::bulk(b"sentinel")),
        (Reply::bulk(b"modules"), Reply::Array(Vec::new())),
    ])
}

fn client_subcommand(session: &mut Session, argv: &[String]) -> Reply {
    let Some(sub) = argv.get(1).map(|s| s.to_ascii_lowercase()) else {
        return Reply::error("ERR wrong number of arguments for 'client' command");
    };
    match (sub.as_str(), argv.len()) {
        ("setname", 3) => {
            if argv[2].bytes().any(|b| b <= b' ' || b > b'~') {
                return Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            session.name = (!argv[2].is_empty()).then(|| argv[2].clone());
            Reply::ok()
        }
        ("getname", 2) => match &session.name {
            Some(n) => Reply::bulk(n.as_bytes()),
            None => Reply::Null,
        },
        ("id", 2) => Reply::Int(session.id as i64),
        ("info", 2) | ("list", 2) => Reply::Verbatim(
            format!(
                "id={} name={} resp={} sub={} psub={}\n",
                session.id,
                session.name.clone().unwrap_or_default(),
                if session.resp3 { 3 } else { 2 },
                session.channels.len(),
                session.patterns.len()
            )
            .into(),
        ),
        ("setname" | "getname" | "id" | "info" | "list", _) => Reply::error(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        )),
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            truncate(&argv[1], 128)
        )),
    }
}

/// INFO on a sentinel: the server, clients, cpu, stats and sentinel sections (the default,
/// `all` and `everything` are all five), as `sentinelInfoCommand` offers.
fn info_text(d: &Driver, sections: &[String]) -> String {
    let all = sections.is_empty()
        || sections
            .iter()
            .any(|s| matches!(s.as_str(), "default" | "all" | "everything"));
    let wants = |name: &str| all || sections.iter().any(|s| s == name);
    let mut parts: Vec<String> = Vec::new();
    let uptime = d.started.elapsed().as_secs();
    if wants("server") {
        parts.push(format!(
            "# Server\r\nredis_version:{}\r\nredis_mode:sentinel\r\nos:{} {}\r\narch_bits:64\r\n\
             process_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n\
             uptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n",
            crate::REDIS_VERSION,
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            d.run_id,
            d.port,
            uptime / 86_400,
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            d.config_path.display()
        ));
    }
    if wants("clients") {
        parts.push(format!(
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
             client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n\
             blocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
            d.clients.load(Ordering::Relaxed),
            d.maxclients
        ));
    }
    if wants("cpu") {
        // SAFETY: getrusage writes only into the struct passed.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let secs = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
        parts.push(format!(
            "# CPU\r\nused_cpu_sys:{}\r\nused_cpu_user:{}\r\nused_cpu_sys_children:0.000000\r\n\
             used_cpu_user_children:0.000000\r\n",
            secs(usage.ru_stime),
            secs(usage.ru_utime)
        ));
    }
    if wants("stats") {
        parts.push(format!(
            "# Stats\r\ntotal_connections_received:{}\r\n",
            d.connections.load(Ordering::Relaxed)
        ));
    }
    if wants("sentinel") {
        parts.push(info_section(&d.sentinel, unix_ms()));
    }
    parts.join("\r\n")
}
