//! Interop with the real Redis tools (Debian's redis-server and redis-tools): the same commands
//! through the real `redis-cli` against redislab and against a real redis-server must print the
//! same thing, and `redis-benchmark` must run against redislab without an error. Each test says
//! loudly when a tool is missing and skips.

mod common;

use std::process::Command;

use common::{have_tool, RealRedis, TestNode};

/// Runs the real redis-cli with TTY-style formatting (`--no-raw`), as a student sees it.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--no-raw"])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Commands whose output must be identical on redislab and redis-server 7.0, in order.
const MIRROR_SCRIPT: &[&[&str]] = &[
    &["SET", "name", "zhangsan"],
    &["GET", "name"],
    &["GET", "missing"],
    &["SET", "name", "lisi", "NX"],
    &["SET", "name", "lisi", "XX", "GET"],
    &["APPEND", "name", "!"],
    &["GETRANGE", "name", "0", "2"],
    &["SETRANGE", "name", "1", "IS"],
    &["STRLEN", "name"],
    &["INCR", "counter"],
    &["INCRBY", "counter", "41"],
    &["DECRBY", "counter", "2"],
    &["INCRBYFLOAT", "float", "10.5"],
    &["INCRBYFLOAT", "float", "0.1"],
    &["INCR", "name"],
    &["MSET", "a", "1", "b", "2", "c", "3"],
    &["MGET", "a", "b", "nope", "c"],
    &["MSETNX", "a", "9", "z", "9"],
    &["GETDEL", "c"],
    &["EXISTS", "a", "b", "c", "a"],
    &["DEL", "a", "nope"],
    &["TYPE", "b"],
    &["TYPE", "nope"],
    &["EXPIRE", "b", "100"],
    &["TTL", "b"],
    &["PERSIST", "b"],
    &["TTL", "b"],
    &["TTL", "nope"],
    &["RPUSH", "list", "a", "b", "c", "d", "e"],
    &["LPUSH", "list", "z"],
    &["LRANGE", "list", "0", "-1"],
    &["LRANGE", "list", "10", "20"],
    &["LINDEX", "list", "-1"],
    &["LPOP", "list", "2"],
    &["RPOP", "list"],
    &["LLEN", "list"],
    &["LINSERT", "list", "BEFORE", "c", "x"],
    &["LPOS", "list", "c"],
    &["LREM", "list", "0", "x"],
    &["LSET", "list", "99", "v"],
    &["LTRIM", "list", "0", "0"],
    &["LMOVE", "list", "other", "LEFT", "RIGHT"],
    &["LPOP", "list"],
    &["HSET", "user", "name", "chen", "age", "30"],
    &["HGET", "user", "name"],
    &["HGETALL", "user"],
    &["HMGET", "user", "name", "nope"],
    &["HINCRBY", "user", "age", "1"],
    &["HINCRBYFLOAT", "user", "age", "0.5"],
    &["HKEYS", "user"],
    &["HVALS", "user"],
    &["HLEN", "user"],
    &["HEXISTS", "user", "nope"],
    &["HDEL", "user", "name", "nope"],
    &["HSTRLEN", "user", "age"],
    &["HINCRBY", "user", "age", "1"],
    &["SADD", "set", "a", "b", "c"],
    &["SADD", "set", "a"],
    &["SISMEMBER", "set", "a"],
    &["SMISMEMBER", "set", "a", "z"],
    &["SCARD", "set"],
    &["SREM", "set", "a", "z"],
    &["SADD", "set2", "b", "x"],
    &["SINTER", "set", "set2"],
    &["SINTERCARD", "2", "set", "set2"],
    &["SUNIONSTORE", "dest", "set", "set2"],
    &["SDIFFSTORE", "dest2", "set", "set2"],
    &["SMOVE", "set", "set2", "c"],
    &["ZADD", "z", "1", "a", "2", "b", "2.5", "c"],
    &["ZADD", "z", "XX", "CH", "3", "a"],
    &["ZADD", "z", "NX", "XX", "1", "a"],
    &["ZSCORE", "z", "c"],
    &["ZINCRBY", "z", "0.1", "b"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &["ZRANGE", "z", "(2", "+inf", "BYSCORE", "LIMIT", "0", "1"],
    &["ZREVRANGE", "z", "0", "0"],
    &["ZRANK", "z", "a"],
    &["ZREVRANK", "z", "a"],
    &["ZCOUNT", "z", "-inf", "(3"],
    &["ZCARD", "z"],
    &["ZMSCORE", "z", "a", "nope"],
    &["OBJECT", "ENCODING", "z"],
    &[
        "ZADD",
        "zlong",
        "1",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ],
    &["OBJECT", "ENCODING", "zlong"],
    &["ZADD", "zlong", "2", "short"],
    &["ZRANGESTORE", "zshort", "zlong", "1", "1"],
    &["OBJECT", "ENCODING", "zshort"],
    &["OBJECT", "ENCODING", "zlong"],
    &["SADD", "iset", "3", "-70000", "1"],
    &["SMEMBERS", "iset"],
    &["OBJECT", "ENCODING", "iset"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z", "5"],
    &["ZADD", "z", "NAN", "a"],
    &["GET", "z"],
    &["LPUSH", "name", "x"],
    &["SELECT", "16"],
    &["SELECT", "3"],
    &["DBSIZE"],
    &["OBJECT", "ENCODING", "counter"],
    &["OBJECT", "ENCODING", "user"],
    &["RENAME", "nope", "x"],
    &["RENAME", "counter", "ctr"],
    &["RENAMENX", "ctr", "b"],
    &["MULTI"],
    &["PING"],
    &["PING", "hello"],
    &["ECHO", "hi there"],
    &["NOSUCHCOMMAND", "arg"],
    &["GET"],
    &["SET", "k", "v", "EX", "0"],
    &["SET", "k", "v", "EX", "notanumber"],
    &["CLIENT", "NOSUCH"],
    &["PUBLISH", "ch", "msg"],
    &["PUBSUB", "NUMSUB", "ch"],
    &[
        "COMMAND",
        "DOCS",
        "set",
        "get",
        "config|get",
        "zadd",
        "blmove",
        "nosuch",
    ],
    &["FLUSHALL"],
    &["DBSIZE"],
];

#[test]
fn redis_cli_prints_the_same_for_redislab_and_redis_server() {
    if !have_tool("redis-cli") || !have_tool("redis-server") {
        return;
    }
    let real = RealRedis::start(&[]);
    let node = TestNode::start(&[]);
    let mut differences = Vec::new();
    for command in MIRROR_SCRIPT {
        let expected = cli(real.port, command);
        let got = cli(node.port, command);
        if expected != got {
            differences.push(format!(
                "{}\n  redis-server: {expected:?}\n  redislab:     {got:?}",
                command.join(" ")
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} commands differ:\n{}",
        differences.len(),
        MIRROR_SCRIPT.len(),
        differences.join("\n")
    );
}

#[test]
fn redis_benchmark_runs_without_errors() {
    if !have_tool("redis-benchmark") {
        return;
    }
    let node = TestNode::start(&["--save", "", "--appendonly", "no"]);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &node.port.to_string(),
            "-n",
            "2000",
            "-c",
            "10",
            "-r",
            "1000",
            "-q",
            "-t",
            "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset",
        ])
        .output()
        .expect("run redis-benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {stdout}\n{stderr}"
    );
    assert!(
        !stdout.to_lowercase().contains("error") && !stderr.to_lowercase().contains("error"),
        "{stdout}\n{stderr}"
    );
    for test in [
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LRANGE_100",
        "MSET",
    ] {
        // Progress lines end in \r; a finished test prints `NAME...: N requests per second`.
        let finished = stdout
            .split(['\r', '\n'])
            .map(str::trim)
            .any(|l| l.starts_with(test) && l.contains("requests per second"));
        assert!(finished, "no result line for {test}:\n{stdout}");
    }
}

#[test]
fn redis_cli_sees_noauth_then_role_master_like_the_tutorial() {
    if !have_tool("redis-cli") {
        return;
    }
    let node = TestNode::start(&["--requirepass", "redis"]);
    assert_eq!(
        cli(node.port, &["info", "replication"]).trim(),
        "NOAUTH Authentication required."
    );
    let out = Command::new("redis-cli")
        .args([
            "-p",
            &node.port.to_string(),
            "-a",
            "redis",
            "--no-auth-warning",
            "info",
            "replication",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("role:master"), "{text}");
}

/// redis-py 8 opens every connection with `HELLO 3` and relies on RESP3 types (maps for
/// HGETALL and CONFIG GET, push frames for pub/sub).
#[test]
fn redis_py_works_over_resp3() {
    if !common::have_tools(&["python3 redis"]) {
        return;
    }
    let node = TestNode::start(&["--requirepass", "redis"]);
    let script = format!(
        r#"
import redis
r = redis.Redis(host="127.0.0.1", port={port}, password="redis", protocol=3, decode_responses=True)
assert r.ping()
r.set("name", "zhangsan")
assert r.get("name") == "zhangsan"
r.hset("h", mapping={{"a": "1", "b": "2"}})
assert r.hgetall("h") == {{"a": "1", "b": "2"}}, r.hgetall("h")
assert r.config_get("maxclients") == {{"maxclients": "10000"}}
r.zadd("z", {{"m": 1.5}})
assert r.zscore("z", "m") == 1.5
assert r.info("replication")["role"] == "master"
p = r.pubsub()
p.subscribe("news")
assert p.get_message(timeout=5)["type"] == "subscribe"
assert r.publish("news", "hi") == 1
m = p.get_message(timeout=5)
assert m["type"] == "message" and m["data"] == "hi", m
with r.pipeline(transaction=True) as pipe:
    pipe.incr("c").incr("c")
    assert pipe.execute() == [1, 2]
print("ok")
"#,
        port = node.port
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "redis-py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
