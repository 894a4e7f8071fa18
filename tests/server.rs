//! `redislab server` driven by an independent client (redis-rs) over real sockets: the
//! everyday Redis surface, its error texts, RESP3, pipelining, blocking pops, transactions,
//! pub/sub, expiry, auth and malformed input.

mod common;

use std::time::Duration;

use common::{raw_exchange, TestNode};
use redis::{Commands, RedisResult, Value};

fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("expected an error reply");
    // redis-rs splits the code from the message; put Redis's full text back together.
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => error.to_string(),
    }
}

#[test]
fn tutorial_stage1_strings_on_a_master() {
    let node = TestNode::start(&[]);
    let mut con = node.conn();
    let _: () = con.set("name", "zhangsan").unwrap();
    let name: String = con.get("name").unwrap();
    assert_eq!(name, "zhangsan");
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    assert_eq!(con.incr::<_, _, i64>("counter", 5).unwrap(), 5);
    let err = error_text(con.incr::<_, _, i64>("name", 1));
    assert_eq!(err, "ERR value is not an integer or out of range");
    let err = error_text(redis::cmd("GET").query::<String>(&mut con));
    assert_eq!(err, "ERR wrong number of arguments for 'get' command");
    let err = error_text(redis::cmd("NOSUCH").arg("a").query::<String>(&mut con));
    assert_eq!(
        err,
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' "
    );
}

#[test]
fn pipelining_returns_replies_in_order() {
    let node = TestNode::start(&[]);
    let mut con = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("k999").cmd("DBSIZE");
    let (last, size): (String, i64) = pipe.query(&mut con).unwrap();
    assert_eq!(last, "999");
    assert_eq!(size, 1000);
}

#[test]
fn raw_pipeline_and_inline_commands_on_one_socket() {
    let node = TestNode::start(&[]);
    let mut s = node.raw();
    let got = raw_exchange(
        &mut s,
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\nGET a\r\n\r\nPING\r\n",
        "+OK\r\n$1\r\n1\r\n+PONG\r\n".len(),
    );
    assert_eq!(got, b"+OK\r\n$1\r\n1\r\n+PONG\r\n");
}

#[test]
fn malformed_input_gets_protocol_error_and_close() {
    let node = TestNode::start(&[]);
    for (input, expected) in [
        (
            &b"*999999999999\r\n"[..],
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$600000000\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nx\r\n",
            "-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"set \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ] {
        let mut s = node.raw();
        let got = raw_exchange(&mut s, input, expected.len() + 100);
        assert_eq!(String::from_utf8_lossy(&got), expected, "input {input:?}");
    }
    // The server is still fine.
    let mut con = node.conn();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
}

#[test]
fn resp3_after_hello_3() {
    let node = TestNode::start(&[]);
    let mut s = node.raw();
    let hello = raw_exchange(&mut s, b"HELLO 3\r\n", 120);
    let text = String::from_utf8_lossy(&hello);
    assert!(text.starts_with("%7\r\n"), "{text}");
    assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{text}");
    let got = raw_exchange(&mut s, b"HSET h f v\r\nHGETALL h\r\nGET missing\r\n", 30);
    assert_eq!(
        String::from_utf8_lossy(&got),
        ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n"
    );
    let info = raw_exchange(&mut s, b"INFO server\r\n", 10);
    assert!(info.starts_with(b"="), "INFO is a verbatim string in RESP3");
}

#[test]
fn blocking_pop_is_served_by_a_push_from_another_client() {
    let node = TestNode::start(&[]);
    let mut waiter = node.conn();
    let url = node.url();
    let pusher = std::thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        // Wait (bounded) until the other client is blocked, then push.
        for _ in 0..200 {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
            if info.contains("blocked_clients:1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _: i64 = con.rpush("queue", "job1").unwrap();
    });
    let popped: (String, String) = redis::cmd("BLPOP")
        .arg("queue")
        .arg(5)
        .query(&mut waiter)
        .unwrap();
    assert_eq!(popped, ("queue".to_string(), "job1".to_string()));
    pusher.join().unwrap();
    // A timeout answers a nil array.
    let timed_out: Value = redis::cmd("BLPOP")
        .arg("empty")
        .arg(0.1)
        .query(&mut waiter)
        .unwrap();
    assert_eq!(timed_out, Value::Nil);
}

#[test]
fn a_blocked_client_that_disconnects_stops_waiting() {
    let node = TestNode::start(&[]);
    let mut con = node.conn();
    let mut raw = node.raw();
    use std::io::Write;
    raw.write_all(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        .unwrap();
    let blocked = |con: &mut redis::Connection, n: &str| {
        common::wait_until(Duration::from_secs(15), || {
            let info: String = redis::cmd("INFO").arg("clients").query(con).unwrap();
            info.contains(&format!("blocked_clients:{n}\r\n"))
        })
    };
    assert!(blocked(&mut con, "1"));
    drop(raw);
    assert!(
        blocked(&mut con, "0"),
        "the closed client is no longer blocked"
    );
    let _: i64 = con.rpush("q", "kept").unwrap();
    let len: i64 = con.llen("q").unwrap();
    assert_eq!(len, 1, "nobody took the element");
}

#[test]
fn multi_exec_and_watch() {
    let node = TestNode::start(&[]);
    let mut con = node.conn();
    let mut other = node.conn();
    let (a, b): (String, i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("INCR")
        .arg("a")
        .cmd("GET")
        .arg("a")
        .ignore()
        .query(&mut con)
        .map(|(ok, n): (String, i64)| (ok, n))
        .unwrap();
    assert_eq!((a.as_str(), b), ("OK", 2));
    let _: () = redis::cmd("WATCH").arg("a").query(&mut con).unwrap();
    let _: () = other.set("a", "changed").unwrap();
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("mine")
        .query(&mut con)
        .unwrap();
    let result: Value = redis::cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(
        result,
        Value::Nil,
        "a watched key changed: EXEC answers nil"
    );
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let err = error_text(redis::cmd("NOSUCH").query::<()>(&mut con));
    assert!(err.starts_with("ERR unknown command 'NOSUCH'"));
    let err = error_text(redis::cmd("EXEC").query::<()>(&mut con));
    assert_eq!(
        err,
        "EXECABORT Transaction discarded because of previous errors."
    );
}

#[test]
fn pubsub_delivers_across_connections() {
    let node = TestNode::start(&[]);
    let client = redis::Client::open(node.url()).unwrap();
    let mut sub_con = client.get_connection().unwrap();
    sub_con
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("n*").unwrap();
    let mut publisher = node.conn();
    let receivers: i64 = publisher.publish("news", "hello").unwrap();
    assert_eq!(receivers, 2);
    let first = pubsub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "news");
    assert_eq!(first.get_payload::<String>().unwrap(), "hello");
    let second = pubsub.get_message().unwrap();
    assert_eq!(second.get_pattern::<String>().unwrap(), "n*");
    let numsub: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(numsub.1, 1);
}

#[test]
fn keys_expire_lazily_and_actively() {
    let node = TestNode::start(&[]);
    let mut con = node.conn();
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("bulk{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .query(&mut con)
            .unwrap();
    }
    let ttl: i64 = redis::cmd("PTTL").arg("short").query(&mut con).unwrap();
    assert!(ttl > 0 && ttl <= 50, "pttl {ttl}");
    std::thread::sleep(Duration::from_millis(100));
    let gone: Option<String> = con.get("short").unwrap();
    assert_eq!(gone, None, "lazy expiry on access");
    // The active sweep removes the others without anyone touching them (bounded wait).
    let mut size = -1;
    for _ in 0..100 {
        size = redis::cmd("DBSIZE").query(&mut con).unwrap();
        if size == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(size, 0, "active expiry removed every expired key");
}

#[test]
fn requirepass_demands_auth() {
    let node = TestNode::start(&["--requirepass", "redis"]);
    let mut s = node.raw();
    let got = raw_exchange(&mut s, b"INFO replication\r\n", 34);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-NOAUTH Authentication required.\r\n"
    );
    let got = raw_exchange(&mut s, b"AUTH nope\r\n", 66);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let got = raw_exchange(&mut s, b"AUTH redis\r\nGET x\r\n", 10);
    assert_eq!(String::from_utf8_lossy(&got), "+OK\r\n$-1\r\n");
    // Before AUTH, a big multibulk is refused without buffering it.
    let mut s = node.raw();
    let got = raw_exchange(&mut s, b"*100\r\n", 60);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}

#[test]
fn shutdown_command_stops_the_process() {
    let mut node = TestNode::start(&[]);
    let mut s = node.raw();
    let _ = raw_exchange(&mut s, b"SHUTDOWN NOSAVE\r\n", 1);
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
    assert!(node
        .log()
        .contains("Redis is now ready to exit, bye bye..."));
}

#[test]
fn a_taken_port_is_a_clear_one_line_error() {
    let node = TestNode::start(&[]);
    let out = std::process::Command::new(common::redislab())
        .args([
            "server",
            "--port",
            &node.port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(node.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "Could not create server TCP listening socket 127.0.0.1:{}: bind: Address already in use",
            node.port
        )
    );
}

#[test]
fn client_list_and_kill() {
    let node = TestNode::start(&[]);
    let mut a = node.conn();
    let mut b = node.conn();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("victim")
        .query(&mut b)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    assert!(list.contains("name=victim"), "{list}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut a)
        .unwrap();
    assert_eq!(killed, 1, "SKIPME yes by default");
    assert!(redis::cmd("PING").query::<String>(&mut b).is_err());
}

#[test]
fn monitor_streams_other_clients_commands() {
    let node = TestNode::start(&[]);
    let mut monitor = node.raw();
    let ok = raw_exchange(&mut monitor, b"MONITOR\r\n", 5);
    assert_eq!(ok, b"+OK\r\n");
    let mut con = node.conn();
    let _: () = con.set("name", "zhangsan").unwrap();
    let line = raw_exchange(&mut monitor, b"", 40);
    let line = String::from_utf8_lossy(&line);
    // `+1700000000.123456 [0 127.0.0.1:50000] "SET" "name" "zhangsan"`
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains("[0 127.0.0.1:"), "{line}");
    assert!(line.contains("\"SET\" \"name\" \"zhangsan\""), "{line}");
}

#[test]
fn config_set_requirepass_takes_effect_for_new_connections() {
    let node = TestNode::start(&[]);
    let mut admin = node.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query(&mut admin)
        .unwrap();
    let ok: String = redis::cmd("PING").query(&mut admin).unwrap();
    assert_eq!(
        ok, "PONG",
        "the client that set the password stays authenticated"
    );
    let mut s = node.raw();
    let got = raw_exchange(&mut s, b"GET x\r\n", 34);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-NOAUTH Authentication required.\r\n"
    );
}

#[test]
fn redislab_cli_shutdown_prints_nothing_like_redis_cli() {
    let mut node = TestNode::start(&[]);
    let out = std::process::Command::new(common::redislab())
        .args(["cli", "-p", &node.port.to_string(), "shutdown", "nosave"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(true));
}

#[test]
fn a_busy_script_answers_busy_to_others_until_script_kill() {
    let node = TestNode::start(&[]);
    let mut admin = node.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg("50")
        .query(&mut admin)
        .unwrap();
    let url = node.url();
    let runner = std::thread::spawn(move || {
        let client = redis::Client::open(url).unwrap();
        let mut con = client.get_connection().unwrap();
        error_text(
            redis::cmd("EVAL")
                .arg("while true do end")
                .arg(0)
                .query::<()>(&mut con),
        )
    });
    let busy = common::wait_until(Duration::from_secs(10), || {
        redis::cmd("PING")
            .query::<String>(&mut admin)
            .is_err_and(|e| e.code() == Some("BUSY"))
    });
    assert!(busy, "PING never answered BUSY during the script");
    let err = error_text(admin.get::<_, Option<String>>("k"));
    assert!(
        err.starts_with("BUSY Redis is busy running a script."),
        "{err}"
    );
    let _: () = redis::cmd("SCRIPT").arg("KILL").query(&mut admin).unwrap();
    let killed = runner.join().unwrap();
    assert!(
        killed.contains("Script killed by user with SCRIPT KILL"),
        "{killed}"
    );
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut admin).unwrap(),
        "PONG"
    );
    let err = error_text(redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut admin));
    assert_eq!(err, "NOTBUSY No scripts in execution right now.");
    // A script past the threshold that ends by itself answers as usual.
    let value: String = redis::cmd("EVAL")
        .arg("redis.call('set', 'k', 'v') local t = redis.call('time')[1] + 0 while redis.call('time')[1] + 0 < t + 1 do end return redis.call('get', 'k')")
        .arg(0)
        .query(&mut admin)
        .unwrap();
    assert_eq!(value, "v");
}

/// The threads of process `pid` named `name` (from /proc).
fn threads_named(pid: u32, name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .count()
}

#[test]
fn jemalloc_bg_thread_starts_and_stops_jemallocs_background_thread() {
    let limit = Duration::from_secs(10);
    let node = TestNode::start(&[]);
    let pid = node.pid().expect("a running node");
    assert!(
        common::wait_until(limit, || threads_named(pid, "jemalloc_bg_thd") == 1),
        "no jemalloc background thread with the default jemalloc-bg-thread yes"
    );
    let mut con = node.conn();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "jemalloc-bg-thread", "no"])
        .query(&mut con)
        .unwrap();
    assert!(
        common::wait_until(limit, || threads_named(pid, "jemalloc_bg_thd") == 0),
        "the background thread outlived CONFIG SET jemalloc-bg-thread no"
    );
    let value: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "jemalloc-bg-thread"])
        .query(&mut con)
        .unwrap();
    assert_eq!(value, ["jemalloc-bg-thread", "no"]);

    let off = TestNode::start(&["--jemalloc-bg-thread", "no"]);
    let off_pid = off.pid().expect("a running node");
    let _: String = redis::cmd("PING").query(&mut off.conn()).unwrap();
    // Several ticks (hz 10) pass: the thread was never started.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(threads_named(off_pid, "jemalloc_bg_thd"), 0);
}
