//! Lua scripting (`eval.c`, `script_lua.c`): EVAL, EVALSHA, their read-only forms, and SCRIPT
//! LOAD/EXISTS/FLUSH/KILL, on Lua 5.1 as Redis embeds it.
//!
//! Each call runs in a fresh Lua state with the `base`, `table`, `string` and `math` libraries
//! (no `os`, `io`, `loadfile`, `dofile`), the `redis` table, `KEYS` and `ARGV`, and a global
//! table that refuses new globals and reads of undefined ones, as Redis's sandbox does. Scripts
//! are cached by SHA1 in the engine for EVALSHA. A `#!lua flags=...` first line declares the
//! script's flags as in Redis 7 (`no-writes` makes it read-only, so it also runs during CLIENT
//! PAUSE WRITE); without one the script runs in the compatible mode (may write).
//!
//! `redis.call` runs a command through the same path as a client's (with the checks a script
//! gets: unknown command, arity, commands denied to scripts, writes in a read-only script); an
//! error reply raises a Lua error carrying the reply, which `redis.pcall` returns as a table
//! `{err=...}` instead. Replies convert to Lua and back with Redis's RESP2 rules. Effects are
//! replicated: each command the script ran is propagated on its own, and a script that
//! propagated more than one is wrapped in MULTI/EXEC so AOF and replicas apply it atomically.
//!
//! A client's script runs on a thread of its own (the connection hands it over, see
//! [`crate::server::script_run`]): past `busy-reply-threshold` it is "busy", other clients get
//! `-BUSY` and SCRIPT KILL stops it through the Lua hook. A script run in place (inside EXEC,
//! from the AOF) cannot be reached by SCRIPT KILL and is stopped at the threshold instead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Lua, LuaOptions, MultiValue, StdLib, Table, Value as LuaValue};

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use super::flags::*;
use super::{lookup, Args, CmdError, Exec, Spec};
use crate::resp::Reply;

/// The scripting commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("eval", -3, NOSCRIPT | MAY_REPLICATE | MOVABLE_KEYS, eval),
    Spec::new(
        "evalsha",
        -3,
        NOSCRIPT | MAY_REPLICATE | MOVABLE_KEYS,
        evalsha,
    ),
    Spec::new("eval_ro", -3, NOSCRIPT | READONLY | MOVABLE_KEYS, eval_ro),
    Spec::new(
        "evalsha_ro",
        -3,
        NOSCRIPT | READONLY | MOVABLE_KEYS,
        evalsha_ro,
    ),
    Spec::new("script", -2, NOSCRIPT | MAY_REPLICATE, script),
];

/// The lowercase hex SHA1 of `data` (script ids, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

fn eval(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let body = args.next()?.clone();
    run_script(cx, args, body, false)
}

fn eval_ro(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let body = args.next()?.clone();
    run_script(cx, args, body, true)
}

fn cached(cx: &mut Exec, sha: &[u8]) -> Result<Bytes, CmdError> {
    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
    cx.engine
        .scripts
        .get(&sha)
        .cloned()
        .ok_or_else(|| CmdError::new("NOSCRIPT No matching script. Please use EVAL."))
}

fn evalsha(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let body = cached(cx, args.next()?)?;
    run_script(cx, args, body, false)
}

fn evalsha_ro(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let body = cached(cx, args.next()?)?;
    run_script(cx, args, body, true)
}

/// `SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP`
fn script(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?.to_ascii_lowercase();
    match (&sub[..], args.remaining()) {
        (b"load", 1) => {
            let body = args.next()?.clone();
            compile_check(&body)?;
            let sha = sha1_hex(&body);
            cx.engine.scripts.insert(sha.clone(), body);
            cx.propagate_nothing();
            Ok(Reply::bulk_string(sha))
        }
        (b"exists", n) if n >= 1 => Ok(Reply::Array(
            args.rest()
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Reply::Int(cx.engine.scripts.contains_key(&sha) as i64)
                })
                .collect(),
        )),
        (b"flush", _) => {
            let n = args.remaining();
            if n > 1 || n == 1 && !args.eat("ASYNC") && !args.eat("SYNC") {
                return Err(CmdError::new(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
            cx.engine.scripts.clear();
            Ok(Reply::ok())
        }
        (b"kill", 0) => Err(CmdError::new("NOTBUSY No scripts in execution right now.")),
        (b"help", 0) => Ok(Reply::Array(
            [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ]
            .iter()
            .map(|line| Reply::simple(line))
            .collect(),
        )),
        (b"load" | b"exists" | b"kill" | b"help", _) => Err(CmdError::arity(&format!(
            "script|{}",
            String::from_utf8_lossy(&sub)
        ))),
        _ => Err(CmdError::unknown_subcommand(&args.argv()[1], "script")),
    }
}

/// What a script declared on a `#!lua flags=...` first line (`evalExtractShebangFlags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: the script runs as before Redis 7 (may write, may replicate).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// The flags of `body` and the length of its shebang line (without its newline, which stays
/// so that line numbers in errors are the user's). Errors are Redis's texts.
pub fn script_flags(body: &[u8]) -> Result<(ScriptFlags, usize), CmdError> {
    if !body.starts_with(b"#!") {
        let flags = ScriptFlags {
            compat: true,
            ..Default::default()
        };
        return Ok((flags, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::new("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    match parts.next() {
        None => return Err(CmdError::new("ERR Invalid engine in script shebang")),
        Some("#!lua") => {}
        Some(engine) => {
            return Err(CmdError(
                format!("ERR Unexpected engine in script shebang: {engine}").into(),
            ))
        }
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError(
                format!("ERR Unknown lua shebang option: {part}").into(),
            ));
        };
        for flag in list.split(',') {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                "" if list.is_empty() => {}
                other => {
                    return Err(CmdError(
                        format!("ERR Unexpected flag in script shebang: {other}").into(),
                    ))
                }
            }
        }
    }
    Ok((flags, end))
}

/// True if EVAL/EVALSHA `argv` may write or feed the replication stream, as CLIENT PAUSE
/// WRITE judges it (`evalGetCommandFlags`): a script without a shebang may, one with a shebang
/// unless it declared `no-writes`. An unknown SHA may not (it fails at once).
pub fn eval_may_replicate(scripts: &HashMap<String, Bytes>, argv: &[Bytes]) -> bool {
    let Some(script) = argv.get(1) else {
        return true;
    };
    let body = if argv[0].eq_ignore_ascii_case(b"evalsha") {
        match scripts.get(&String::from_utf8_lossy(script).to_ascii_lowercase()) {
            Some(body) => body,
            None => return false,
        }
    } else {
        script
    };
    script_flags(body).map_or(true, |(flags, _)| !flags.no_writes)
}

/// Fails with Redis's text if `body` does not compile.
fn compile_check(body: &[u8]) -> Result<(), CmdError> {
    let (_, shebang) = script_flags(body)?;
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::new()).map_err(lua_setup_error)?;
    lua.load(&body[shebang..])
        .set_name("@user_script")
        .into_function()
        .map(|_| ())
        .map_err(compile_error)
}

fn compile_error(error: mlua::Error) -> CmdError {
    let text = match error {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    };
    CmdError(format!("ERR Error compiling script (new function): {text}").into())
}

fn lua_setup_error(error: mlua::Error) -> CmdError {
    CmdError(format!("ERR Lua setup failed: {error}").into())
}

/// The configured busy-script limit in ms (`busy-reply-threshold`, alias `lua-time-limit`).
fn time_limit(cx: &Exec) -> Duration {
    let ms = cx
        .shared
        .config()
        .get_one("busy-reply-threshold")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000);
    Duration::from_millis(if ms == 0 { 5000 } else { ms })
}

/// EVAL's shared body: `numkeys key ... arg ...`, then the script.
fn run_script(
    cx: &mut Exec,
    args: &mut Args,
    body: Bytes,
    read_only: bool,
) -> Result<Reply, CmdError> {
    let numkeys = args.next_i64()?;
    if numkeys < 0 {
        return Err(CmdError::new("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CmdError::new(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let rest = args.rest();
    let (keys, argv) = rest.split_at(numkeys as usize);
    let (flags, shebang) = script_flags(&body)?;
    let declared_read_only = check_declared_flags(cx, flags, read_only)?;
    let read_only = read_only || declared_read_only;

    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::new(),
    )
    .map_err(lua_setup_error)?;
    let function = lua
        .load(&body[shebang..])
        .set_name("@user_script")
        .into_function()
        .map_err(compile_error)?;
    cx.engine.scripts.insert(sha1_hex(&body), body.clone());

    // The script's commands run like a client's but never block, in the caller's db (a SELECT
    // inside the script does not change the caller's), and are wrapped for propagation unless
    // the script itself runs inside EXEC (which wraps everything).
    let outer_db = cx.session.db;
    let wrap = cx.session.may_block;
    let first_propagated = cx.engine.propagated.len();
    cx.session.may_block = false;
    let in_script = std::mem::replace(&mut cx.session.in_script, true);
    let sha = sha1_hex(&body);
    let outcome = run_in_lua(cx, &lua, function, keys, argv, read_only, &sha);
    cx.session.in_script = in_script;
    cx.session.may_block = wrap;
    cx.session.db = outer_db;
    cx.propagate_nothing();
    let propagated = cx.engine.propagated.len() - first_propagated;
    if wrap && propagated > 1 {
        let multi = crate::server::engine::Propagated {
            db: outer_db,
            argv: vec![Bytes::from_static(b"MULTI")],
        };
        cx.engine.propagated.insert(first_propagated, multi);
        let last_db = cx.engine.propagated.last().map_or(outer_db, |p| p.db);
        cx.engine
            .propagated
            .push(crate::server::engine::Propagated {
                db: last_db,
                argv: vec![Bytes::from_static(b"EXEC")],
            });
    }
    outcome
}

/// The checks a script with a shebang gets before it runs (`scriptPrepareForRun`). Returns
/// true if the script must not write (it declared `no-writes`).
fn check_declared_flags(
    cx: &mut Exec,
    flags: ScriptFlags,
    read_only_command: bool,
) -> Result<bool, CmdError> {
    if flags.compat {
        return Ok(false);
    }
    if flags.no_writes {
        return Ok(true);
    }
    let replica = cx.engine.repl.is_replica();
    if replica && cx.shared.config().replica_read_only && !cx.session.is_master_link {
        return Err(CmdError::new(
            "READONLY Can not run script with write flag on readonly replica",
        ));
    }
    if read_only_command {
        return Err(CmdError::new(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    if !replica {
        super::exec::check_good_replicas(cx.engine)?;
    }
    if !flags.allow_oom && crate::server::eviction::make_room(cx.engine).is_err() {
        return Err(CmdError::new(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    Ok(false)
}

/// Sets up the sandbox, runs `function` and converts its result.
fn run_in_lua(
    cx: &mut Exec,
    lua: &Lua,
    function: mlua::Function,
    keys: &[Bytes],
    argv: &[Bytes],
    read_only: bool,
    sha: &str,
) -> Result<Reply, CmdError> {
    let limit = time_limit(cx);
    let started = Instant::now();
    // A client's script runs on its own thread (see `server::script_run`): past the limit it
    // becomes busy and runs on until it ends or SCRIPT KILL stops it. A script run in place
    // (inside EXEC, from the AOF) cannot be reached by SCRIPT KILL, so it is stopped at the
    // limit instead.
    let script = cx.shared.script.clone();
    let off_thread = script.is_pending();
    let stop = move || {
        if !off_thread {
            return (started.elapsed() > limit)
                .then_some("ERR Script killed: it ran longer than busy-reply-threshold");
        }
        if started.elapsed() > limit {
            script.mark_busy();
        }
        script
            .stop_requested()
            .then_some("ERR Script killed by user with SCRIPT KILL...")
    };
    let hook_stop = stop.clone();
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| match hook_stop() {
            Some(text) => Err(mlua::Error::RuntimeError(text.into())),
            None => Ok(()),
        },
    );
    let cx_cell = std::cell::RefCell::new(&mut *cx);
    let result = lua.scope(|scope| {
        let pcall = scope.create_function(|lua, args: MultiValue| {
            let reply = script_call(&mut cx_cell.borrow_mut(), args, read_only);
            reply_to_lua(lua, reply)
        })?;
        let call = scope.create_function(|lua, args: MultiValue| {
            match script_call(&mut cx_cell.borrow_mut(), args, read_only) {
                Reply::Error(text) => {
                    let line = lua.inspect_stack(1).map_or(0, |d| d.curr_line());
                    Err(mlua::Error::external(CallError {
                        text: text.into_owned(),
                        line,
                    }))
                }
                reply => reply_to_lua(lua, reply),
            }
        })?;
        let env = install_sandbox(lua, call, pcall, keys, argv, move || stop().is_some())?;
        let trampoline: mlua::Function = lua
            .load("local f, env = ...; setfenv(f, env); return pcall(f)")
            .set_name("=trampoline")
            .into_function()?;
        trampoline.call::<_, MultiValue>((function, env))
    });
    let values = match result {
        Ok(values) => values,
        Err(error) => return Err(CmdError(format!("ERR {error}").into())),
    };
    let mut values = values.into_iter();
    let ok = matches!(values.next(), Some(LuaValue::Boolean(true)));
    let value = values.next().unwrap_or(LuaValue::Nil);
    if ok {
        return Ok(lua_to_reply(&value, 0));
    }
    let (text, line) = script_error(&value);
    let place = line.map_or(String::new(), |line| format!(", on @user_script:{line}."));
    Err(CmdError(format!("{text} script: {sha}{place}").into()))
}

/// An error reply from `redis.call`, raised into the script with the line that called.
#[derive(Debug)]
struct CallError {
    text: String,
    line: i32,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CallError {}

/// The `redis.call` error inside an error raised by a callback, if it is one.
fn call_error(error: &mlua::Error) -> Option<&CallError> {
    match error {
        mlua::Error::CallbackError { cause, .. } => call_error(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<CallError>(),
        _ => None,
    }
}

/// The error text and line for a script that raised `value`: a `redis.call` error or an
/// `{err=...}` table keeps its text (and code); a message gets the `ERR` code and the line Lua
/// put in front of it.
fn script_error(value: &LuaValue) -> (String, Option<i32>) {
    if let LuaValue::Table(table) = value {
        if let Ok(mlua::Value::String(text)) = table.raw_get::<_, LuaValue>("err") {
            return (String::from_utf8_lossy(text.as_bytes()).into_owned(), None);
        }
    }
    if let LuaValue::Error(error) = value {
        if let Some(call) = call_error(error) {
            return (call.text.clone(), Some(call.line));
        }
    }
    let text = match value {
        LuaValue::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        LuaValue::Error(mlua::Error::RuntimeError(text)) => text.clone(),
        LuaValue::Error(error) => error.to_string(),
        other => format!("{other:?}"),
    };
    let line = text
        .strip_prefix("user_script:")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok());
    if text.starts_with("ERR ") {
        (text, line)
    } else {
        (format!("ERR {text}"), line)
    }
}

/// Builds the script's environment (returned): the `redis` table, the `cjson`, `cmsgpack`,
/// `bit` and `struct` libraries, KEYS and ARGV, behind read-only views as in Redis 7 — the
/// globals and every library table refuse changes ("Attempt to modify a readonly table"),
/// reading an undefined global is an error, and `print`, `loadfile`, `dofile` and loading
/// precompiled (binary) chunks are not available.
fn install_sandbox<'lua>(
    lua: &'lua Lua,
    call: mlua::Function<'lua>,
    pcall: mlua::Function<'lua>,
    keys: &[Bytes],
    argv: &[Bytes],
    stopped: impl Fn() -> bool + Send + 'static,
) -> mlua::Result<Table<'lua>> {
    let globals = lua.globals();
    for unsafe_name in ["loadfile", "dofile", "print"] {
        globals.raw_set(unsafe_name, LuaValue::Nil)?;
    }
    let redis = lua.create_table()?;
    redis.raw_set("call", call)?;
    redis.raw_set("pcall", pcall)?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| match args.iter().next() {
            Some(LuaValue::String(data)) if args.len() == 1 => Ok(sha1_hex(data.as_bytes())),
            Some(LuaValue::Number(n)) if args.len() == 1 => {
                Ok(sha1_hex(lua_number_text(*n).as_bytes()))
            }
            _ => Err(mlua::Error::RuntimeError(
                "wrong number of arguments".into(),
            )),
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, text: String| {
            let table = lua.create_table()?;
            table.raw_set("err", error_reply_text(&text))?;
            Ok(table)
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, text: String| {
            let table = lua.create_table()?;
            table.raw_set("ok", text)?;
            Ok(table)
        })?,
    )?;
    redis.raw_set("log", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, level)?;
    }
    globals.raw_set("redis", redis)?;
    // The libraries are built on a script's first use of their name: most scripts use none,
    // and each call gets a fresh state.
    let libraries = lua.create_table()?;
    libraries.raw_set("cjson", lua.create_function(|lua, ()| cjson::library(lua))?)?;
    libraries.raw_set(
        "cmsgpack",
        lua.create_function(|lua, ()| cmsgpack::library(lua))?,
    )?;
    libraries.raw_set("bit", lua.create_function(|lua, ()| bit::library(lua))?)?;
    libraries.raw_set(
        "struct",
        lua.create_function(|lua, ()| structlib::library(lua))?,
    )?;
    let to_table = |items: &[Bytes]| -> mlua::Result<Table> {
        let table = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            table.raw_set(i + 1, lua.create_string(&item[..])?)?;
        }
        Ok(table)
    };
    globals.raw_set("KEYS", to_table(keys)?)?;
    globals.raw_set("ARGV", to_table(argv)?)?;
    // Once the script must stop, pcall/xpcall inside it rethrow, so it cannot catch its own
    // stop in a loop.
    let stopped = lua.create_function(move |_, ()| Ok(stopped()))?;
    lua.load(SANDBOX)
        .set_name("=sandbox")
        .call((stopped, libraries))
}

/// The `err` field `redis.error_reply(text)` makes (`luaPushErrorBuff`): the first word is the
/// error code, so a text of one word (or none) gets the generic `ERR` code in front; a leading
/// `-` is dropped, trailing CR/LF too.
fn error_reply_text(text: &str) -> String {
    let text = text.strip_prefix('-').unwrap_or(text);
    let text = text.trim_end_matches(['\r', '\n']);
    if text.contains(' ') {
        text.to_string()
    } else {
        format!("ERR {text}")
    }
}

/// Makes the script's environment: read-only views of the globals and of every library table
/// (Redis patches Lua for read-only tables; here each is a proxy whose writes fail).
const SANDBOX: &str = r#"
local stopped, libraries = ...
local raw_pcall, raw_xpcall = pcall, xpcall
local raw_setmetatable, raw_rawset, raw_loadstring = setmetatable, rawset, loadstring
local error, type, pairs, tostring = error, type, pairs, tostring
local readonly = raw_setmetatable({}, {__mode = "k"})
local function deny() error("Attempt to modify a readonly table", 2) end
local function protect(t, on_missing)
    local proxy = {}
    local guard = {}
    readonly[guard] = true
    raw_setmetatable(guard, {__newindex = deny, __metatable = false})
    readonly[proxy] = true
    raw_setmetatable(proxy, {__index = on_missing or t, __newindex = deny, __metatable = guard})
    return proxy
end
local function checked(ok, ...)
    if not ok and stopped() then error((...), 0) end
    return ok, ...
end
local env = {}
for name, value in pairs(_G) do
    if type(value) == "table" and name ~= "_G" and name ~= "KEYS" and name ~= "ARGV" then
        value = protect(value)
    end
    env[name] = value
end
env.pcall = function(...) return checked(raw_pcall(...)) end
env.xpcall = function(...) return checked(raw_xpcall(...)) end
env.setmetatable = function(t, mt)
    if readonly[t] then deny() end
    return raw_setmetatable(t, mt)
end
env.rawset = function(t, k, v)
    if readonly[t] then deny() end
    return raw_rawset(t, k, v)
end
env.loadstring = function(chunk, name)
    if type(chunk) == "string" and chunk:byte(1) == 27 then
        return nil, "attempt to load a binary chunk"
    end
    return raw_loadstring(chunk, name)
end
-- Existing globals are found by plain table lookups (proxy -> env); only a missing name
-- reaches this function: a library built on first use, or the sandbox's error.
raw_setmetatable(env, {__index = function(_, name)
    local loader = libraries[name]
    if loader then
        local value = protect(loader())
        raw_rawset(env, name, value)
        return value
    end
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end})
local globals = protect(env)
env._G = globals
return globals
"#;

/// `redis.pcall(command, arg, ...)`: runs one command for the script; errors come back as
/// error replies.
fn script_call(cx: &mut Exec, args: MultiValue, read_only: bool) -> Reply {
    let mut argv = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            LuaValue::String(s) => argv.push(Bytes::copy_from_slice(s.as_bytes())),
            LuaValue::Integer(n) => argv.push(Bytes::from(n.to_string())),
            LuaValue::Number(n) => argv.push(Bytes::from(lua_number_text(n))),
            _ => {
                return Reply::error(
                    "ERR Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    if argv.is_empty() {
        return Reply::error("ERR Please specify at least one argument for this redis lib call");
    }
    let Some(spec) = lookup(&argv[0]) else {
        return Reply::error("ERR Unknown Redis command called from script");
    };
    if !spec.arity_ok(argv.len()) {
        return Reply::error("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(NOSCRIPT) {
        return Reply::error("ERR This Redis command is not allowed from script");
    }
    // May-replicate commands (PUBLISH) count as writes, so that a read-only script can run
    // during CLIENT PAUSE WRITE.
    if read_only && spec.has(WRITE | MAY_REPLICATE) {
        return Reply::error("ERR Write commands are not allowed from read-only scripts.");
    }
    if spec.has(WRITE) {
        cx.shared.script.note_write();
    }
    if spec.has(WRITE) && !cx.session.is_master_link && !cx.engine.repl.is_replica() {
        if let Err(refusal) = super::exec::check_good_replicas(cx.engine) {
            return refusal.into();
        }
    }
    cx.run_nested(&argv).0
}

/// A Lua number as Lua 5.1's `tostring` writes it (`%.14g`).
fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        crate::resp::reply::format_g(n, 14)
    }
}

/// A command's reply as a Lua value (Redis's RESP2 conversion).
fn reply_to_lua(lua: &Lua, reply: Reply) -> mlua::Result<LuaValue<'_>> {
    let table_with = |field: &str, text: &[u8]| -> mlua::Result<LuaValue> {
        let table = lua.create_table()?;
        table.raw_set(field, lua.create_string(text)?)?;
        Ok(LuaValue::Table(table))
    };
    let array = |items: Vec<Reply>| -> mlua::Result<LuaValue> {
        let table = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.into_iter().enumerate() {
            table.raw_set(i + 1, reply_to_lua(lua, item)?)?;
        }
        Ok(LuaValue::Table(table))
    };
    Ok(match reply {
        Reply::Int(n) => LuaValue::Number(n as f64),
        Reply::Bulk(b) | Reply::Verbatim(b) => LuaValue::String(lua.create_string(&b[..])?),
        Reply::Str(s) => LuaValue::String(lua.create_string(&s[..])?),
        Reply::Bulks(bulks) => {
            let table = lua.create_table_with_capacity(bulks.len(), 0)?;
            for (i, element) in bulks.iter().enumerate() {
                table.raw_set(i + 1, lua.create_string(element)?)?;
            }
            LuaValue::Table(table)
        }
        Reply::Null | Reply::NullArray | Reply::None => LuaValue::Boolean(false),
        Reply::Simple(s) => table_with("ok", &s)?,
        Reply::Error(e) => table_with("err", e.as_bytes())?,
        Reply::Bool(b) => LuaValue::Number(b as i64 as f64),
        Reply::Double(d) => {
            LuaValue::String(lua.create_string(crate::resp::reply::format_double(d))?)
        }
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Many(items) => {
            array(items)?
        }
        Reply::Map(pairs) => array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())?,
        Reply::ScoredPairs(pairs) => array(
            pairs
                .into_iter()
                .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
                .collect(),
        )?,
    })
}

/// A script's result as a reply (Redis's Lua → RESP2 conversion). Arrays stop at the first nil;
/// nesting is bounded.
fn lua_to_reply(value: &LuaValue, depth: usize) -> Reply {
    match value {
        LuaValue::String(s) => Reply::Bulk(Bytes::copy_from_slice(s.as_bytes())),
        LuaValue::Integer(n) => Reply::Int(*n),
        LuaValue::Number(n) => Reply::Int(*n as i64),
        LuaValue::Boolean(true) => Reply::Int(1),
        LuaValue::Table(table) => {
            if let Ok(LuaValue::String(err)) = table.raw_get::<_, LuaValue>("err") {
                return Reply::error(String::from_utf8_lossy(err.as_bytes()).into_owned());
            }
            if let Ok(LuaValue::String(ok)) = table.raw_get::<_, LuaValue>("ok") {
                return Reply::Simple(Bytes::copy_from_slice(ok.as_bytes()));
            }
            if depth > 64 {
                return Reply::error("ERR reached lua stack limit");
            }
            let mut items = Vec::new();
            for i in 1.. {
                match table.raw_get::<_, LuaValue>(i) {
                    Ok(LuaValue::Nil) | Err(_) => break,
                    Ok(item) => items.push(lua_to_reply(&item, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Null,
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn the_sandbox_is_read_only_and_has_redis_libraries() {
        let mut h = Harness::new();
        for script in [
            "redis = 1",
            "redis.call = nil",
            "cjson.encode = nil",
            "_G = {}",
            "setmetatable(_G, {})",
            "getmetatable(_G).__index = {}",
            "rawset(bit, 'x', 1)",
        ] {
            let Reply::Error(text) = h.run(&["eval", script, "0"]) else {
                panic!("{script} was allowed");
            };
            assert!(
                text.contains("Attempt to modify a readonly table"),
                "{script}: {text}"
            );
        }
        let Reply::Error(text) = h.run(&["eval", "print('x')", "0"]) else {
            panic!("print is available");
        };
        assert!(text.contains("nonexistent global variable 'print'"));
        assert_eq!(
            h.run(&["eval", "return cjson.encode({a = bit.bor(1, 2)}) .. cmsgpack.pack(1) .. struct.pack('>H', 258)", "0"]),
            bulk("{\"a\":3}\u{1}\u{1}\u{2}")
        );
        assert_eq!(
            h.run(&["eval", "return redis.error_reply('')", "0"]),
            err("ERR ")
        );
        assert_eq!(
            h.run(&["eval", "return redis.error_reply('MY code')", "0"]),
            err("MY code")
        );
    }

    #[test]
    fn a_shebang_declares_flags_and_keeps_line_numbers() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&[
                "eval",
                "#!lua flags=no-writes\nreturn redis.call('get', 'k')",
                "0"
            ]),
            Reply::Null
        );
        assert_eq!(
            h.run(&["eval", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"]),
            err("ERR Write commands are not allowed from read-only scripts. script: b257fa457662db6b514d4f207000d9d67c45e83f, on @user_script:2.")
        );
        assert_eq!(
            h.run(&["eval", "#!lua\nreturn redis.call('publish', 'c', 'm')", "0"]),
            Reply::Int(0)
        );
        assert_eq!(
            h.run(&["eval_ro", "#!lua\nreturn 1", "0"]),
            err("ERR Can not execute a script with write flag using *_ro command.")
        );
        assert_eq!(
            h.run(&["eval", "#!lua flags=bad\nreturn 1", "0"]),
            err("ERR Unexpected flag in script shebang: bad")
        );
        assert_eq!(
            h.run(&["eval", "#!py\nreturn 1", "0"]),
            err("ERR Unexpected engine in script shebang: #!py")
        );
        assert_eq!(
            h.run(&["eval", "#!lua x=1\nreturn 1", "0"]),
            err("ERR Unknown lua shebang option: x=1")
        );
        assert_eq!(
            h.run(&["eval", "#!lua", "0"]),
            err("ERR Invalid script shebang")
        );
        assert_eq!(
            h.run(&["eval_ro", "return redis.call('publish', 'c', 'm')", "0"]),
            err("ERR Write commands are not allowed from read-only scripts. script: a57cc0abcd7eee395047c54676a4bffbbf4d2d90, on @user_script:1.")
        );
    }

    #[test]
    fn eval_runs_commands_and_converts_replies() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&[
                "eval",
                "return redis.call('set', KEYS[1], ARGV[1])",
                "1",
                "k",
                "v"
            ]),
            Reply::simple("OK")
        );
        assert_eq!(
            h.run(&["eval", "return redis.call('get', KEYS[1])", "1", "k"]),
            bulk("v")
        );
        assert_eq!(
            h.run(&["eval", "return {1, 'a', {2}, nil, 3}", "0"]),
            Reply::Array(vec![
                Reply::Int(1),
                bulk("a"),
                Reply::Array(vec![Reply::Int(2)])
            ])
        );
        assert_eq!(h.run(&["eval", "return 3.9", "0"]), Reply::Int(3));
        assert_eq!(h.run(&["eval", "return false", "0"]), Reply::Null);
        assert_eq!(
            h.run(&["eval", "return redis.call('get', 'nokey')", "0"]),
            Reply::Null
        );
        assert_eq!(
            h.run(&["eval", "return redis.error_reply('MY fault')", "0"]),
            err("MY fault")
        );
        assert!(matches!(
            h.run(&["eval", "error('boom')", "0"]),
            Reply::Error(e) if e.starts_with("ERR user_script:1: boom script: ")
                && e.ends_with(", on @user_script:1.")
        ));
        assert_eq!(
            h.run(&["eval", "return redis.status_reply('FINE')", "0"]),
            Reply::simple("FINE")
        );
        h.run(&["rpush", "l", "x"]);
        assert_eq!(
            h.run(&["eval", "\nreturn redis.call('incr', 'l')", "0"]),
            Reply::error(format!(
                "WRONGTYPE Operation against a key holding the wrong kind of value script: {}, on @user_script:2.",
                super::sha1_hex(b"\nreturn redis.call('incr', 'l')")
            ))
        );
        assert_eq!(
            h.run(&[
                "eval",
                "local r = redis.pcall('incr', 'l'); return type(r)",
                "0"
            ]),
            bulk("table")
        );
        // LRANGE answers with its elements already encoded; a script sees a table of strings.
        h.run(&["rpush", "l", "y", "12"]);
        assert_eq!(
            h.run(&[
                "eval",
                "local r = redis.call('lrange', 'l', 0, -1); return {#r, r[1], r[3], type(r[3])}",
                "0"
            ]),
            Reply::Array(vec![Reply::Int(3), bulk("x"), bulk("12"), bulk("string")])
        );
    }

    #[test]
    fn evalsha_script_cache_and_errors() {
        let mut h = Harness::new();
        let sha = super::sha1_hex(b"return 1");
        assert_eq!(h.run(&["script", "load", "return 1"]), bulk(&sha));
        assert_eq!(h.run(&["evalsha", &sha, "0"]), Reply::Int(1));
        assert_eq!(
            h.run(&["script", "exists", &sha, "ffff"]),
            Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
        );
        assert_eq!(h.run(&["script", "flush"]), Reply::ok());
        assert_eq!(
            h.run(&["evalsha", &sha, "0"]),
            err("NOSCRIPT No matching script. Please use EVAL.")
        );
        assert_eq!(
            h.run(&["eval", "return 1", "2", "a"]),
            err("ERR Number of keys can't be greater than number of args")
        );
        assert_eq!(
            h.run(&["eval", "return 1", "-1"]),
            err("ERR Number of keys can't be negative")
        );
        assert!(matches!(
            h.run(&["eval", "return (", "0"]),
            Reply::Error(e) if e.starts_with("ERR Error compiling script")
        ));
        assert!(matches!(
            h.run(&["eval", "x = 1", "0"]),
            Reply::Error(e) if e.starts_with("ERR user_script:1: Attempt to modify a readonly table script: ")
        ));
        assert!(matches!(
            h.run(&["eval", "return os.time()", "0"]),
            Reply::Error(e) if e.contains("nonexistent global variable 'os'")
        ));
        assert_eq!(
            h.run(&["eval_ro", "return redis.pcall('set', 'a', 'b')['err']", "0"]),
            bulk("ERR Write commands are not allowed from read-only scripts.")
        );
        assert!(matches!(
            h.run(&["eval", "return redis.call('nosuch')", "0"]),
            Reply::Error(e) if e.starts_with("ERR Unknown Redis command called from script script: ")
        ));
        assert_eq!(
            h.run(&["eval", "return redis.sha1hex('')", "0"]),
            bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        assert_eq!(
            h.run(&["script", "kill"]),
            err("NOTBUSY No scripts in execution right now.")
        );
        assert_eq!(
            h.run(&["script", "load"]),
            err("ERR wrong number of arguments for 'script|load' command")
        );
        assert_eq!(
            h.run(&["script", "flush", "x"]),
            err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        );
    }

    #[test]
    fn a_script_writes_propagate_as_its_commands_in_multi_exec() {
        let mut h = Harness::new();
        h.propagated();
        h.run(&[
            "eval",
            "redis.call('set', 'a', '1'); redis.call('incr', 'a'); return 1",
            "0",
        ]);
        h.run(&["eval", "return redis.call('get', 'a')", "0"]);
        assert_eq!(
            h.propagated(),
            vec![
                vec!["MULTI"],
                vec!["set", "a", "1"],
                vec!["incr", "a"],
                vec!["EXEC"]
            ]
        );
    }

    #[test]
    fn a_runaway_script_is_stopped() {
        let mut h = Harness::new();
        h.run(&["config", "set", "busy-reply-threshold", "50"]);
        assert!(matches!(
            h.run(&["eval", "while true do end", "0"]),
            Reply::Error(e) if e.contains("busy-reply-threshold")
        ));
        assert!(matches!(
            h.run(&["eval", "while true do pcall(function() while true do end end) end", "0"]),
            Reply::Error(e) if e.contains("busy-reply-threshold")
        ));
        assert_eq!(h.run(&["ping"]), Reply::simple("PONG"));
    }
}
