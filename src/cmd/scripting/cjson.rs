//! The `cjson` library scripts get (lua-cjson 2.1's API and behaviour, as Redis embeds it).
//!
//! `encode(value)` writes JSON: numbers with 14 significant digits (`%.14g`), NaN and Inf
//! refused unless `encode_invalid_numbers` allows them, `/` escaped as `\/` and DEL as
//! `\u007f`; a table whose keys are all whole numbers >= 1 is an array (holes become `null`,
//! and an excessively sparse one is refused or, with `encode_sparse_array(true)`, written as an
//! object), an empty table is `{}`, other tables are objects whose keys must be strings or
//! numbers. `decode(text)` reads JSON into tables, with `null` as the `cjson.null` sentinel.
//! Nesting is bounded both ways (`encode_max_depth`, `decode_max_depth`, 1000 by default).
//! Settings are per library instance (`cjson.new()` makes another).

use std::sync::{Arc, Mutex};

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// What `encode_invalid_numbers` allows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InvalidNumbers {
    Refuse,
    Allow,
    AsNull,
}

/// One instance's settings (`json_config_t`).
#[derive(Debug, Clone)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    encode_invalid: InvalidNumbers,
    decode_invalid: bool,
    keep_buffer: bool,
    precision: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid: InvalidNumbers::Refuse,
            decode_invalid: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn config(shared: &Shared) -> std::sync::MutexGuard<'_, Config> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn error(text: String) -> mlua::Error {
    mlua::Error::RuntimeError(text)
}

/// The `cjson.null` sentinel.
fn null() -> Value<'static> {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Builds a `cjson` table with default settings.
pub fn library(lua: &Lua) -> mlua::Result<Table<'_>> {
    let shared: Shared = Arc::default();
    let json = lua.create_table()?;
    let cfg = shared.clone();
    json.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(error(
                    "bad argument #1 to 'encode' (expected 1 argument)".into(),
                ));
            }
            let settings = config(&cfg).clone();
            let mut out = Vec::new();
            encode(
                args.iter().next().unwrap_or(&Value::Nil),
                &settings,
                0,
                &mut out,
            )?;
            lua.create_string(&out)
        })?,
    )?;
    let cfg = shared.clone();
    json.raw_set(
        "decode",
        lua.create_function(move |lua, text: mlua::String| {
            let settings = config(&cfg).clone();
            let mut parser = Parser {
                lua,
                text: text.as_bytes(),
                pos: 0,
                depth: 0,
                config: &settings,
            };
            let value = parser.document()?;
            Ok(value)
        })?,
    )?;
    let integer_option =
        |name: &'static str, min: i64, max: i64, field: fn(&mut Config) -> &mut i64| {
            let cfg = shared.clone();
            lua.create_function(move |_, value: Option<f64>| {
                let mut settings = config(&cfg);
                if let Some(value) = value {
                    let value = value as i64;
                    if !(min..=max).contains(&value) {
                        return Err(error(format!(
                        "bad argument #1 to '{name}' (expected integer between {min} and {max})"
                    )));
                    }
                    *field(&mut settings) = value;
                }
                Ok(*field(&mut settings))
            })
        };
    json.raw_set(
        "encode_max_depth",
        integer_option("encode_max_depth", 1, i32::MAX.into(), |c| {
            &mut c.encode_max_depth
        })?,
    )?;
    json.raw_set(
        "decode_max_depth",
        integer_option("decode_max_depth", 1, i32::MAX.into(), |c| {
            &mut c.decode_max_depth
        })?,
    )?;
    json.raw_set(
        "encode_number_precision",
        integer_option("encode_number_precision", 1, 14, |c| &mut c.precision)?,
    )?;
    let cfg = shared.clone();
    json.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, value: Value| {
            let mut settings = config(&cfg);
            settings.encode_invalid = match value {
                Value::Nil => settings.encode_invalid,
                Value::Boolean(true) => InvalidNumbers::Allow,
                Value::Boolean(false) => InvalidNumbers::Refuse,
                Value::String(s) => match s.as_bytes() {
                    b"on" => InvalidNumbers::Allow,
                    b"off" => InvalidNumbers::Refuse,
                    b"null" => InvalidNumbers::AsNull,
                    _ => return Err(invalid_option("encode_invalid_numbers")),
                },
                _ => return Err(invalid_option("encode_invalid_numbers")),
            };
            Ok(match settings.encode_invalid {
                InvalidNumbers::Allow => Value::Boolean(true),
                InvalidNumbers::Refuse => Value::Boolean(false),
                InvalidNumbers::AsNull => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    let boolean_option = |name: &'static str, field: fn(&mut Config) -> &mut bool| {
        let cfg = shared.clone();
        lua.create_function(move |_, value: Value| {
            let mut settings = config(&cfg);
            match value {
                Value::Nil => {}
                Value::Boolean(b) => *field(&mut settings) = b,
                Value::String(s) if s.as_bytes() == b"on" => *field(&mut settings) = true,
                Value::String(s) if s.as_bytes() == b"off" => *field(&mut settings) = false,
                _ => return Err(invalid_option(name)),
            }
            Ok(*field(&mut settings))
        })
    };
    json.raw_set(
        "decode_invalid_numbers",
        boolean_option("decode_invalid_numbers", |c| &mut c.decode_invalid)?,
    )?;
    json.raw_set(
        "encode_keep_buffer",
        boolean_option("encode_keep_buffer", |c| &mut c.keep_buffer)?,
    )?;
    let cfg = shared.clone();
    json.raw_set(
        "encode_sparse_array",
        lua.create_function(
            move |_, (convert, ratio, safe): (Option<bool>, Option<f64>, Option<f64>)| {
                let mut settings = config(&cfg);
                if let Some(convert) = convert {
                    settings.sparse_convert = convert;
                }
                if let Some(ratio) = ratio {
                    settings.sparse_ratio = ratio.clamp(0.0, i32::MAX as f64) as i64;
                }
                if let Some(safe) = safe {
                    settings.sparse_safe = safe.clamp(0.0, i32::MAX as f64) as i64;
                }
                Ok((
                    settings.sparse_convert,
                    settings.sparse_ratio,
                    settings.sparse_safe,
                ))
            },
        )?,
    )?;
    json.raw_set("new", lua.create_function(|lua, ()| library(lua))?)?;
    json.raw_set("null", null())?;
    json.raw_set("_NAME", "cjson")?;
    json.raw_set("_VERSION", "2.1.0")?;
    Ok(json)
}

fn invalid_option(name: &str) -> mlua::Error {
    error(format!("bad argument #1 to '{name}' (invalid option)"))
}

fn cannot_serialise(value: &Value, reason: &str) -> mlua::Error {
    error(format!("Cannot serialise {}: {reason}", value.type_name()))
}

fn encode(value: &Value, config: &Config, depth: i64, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_string(s.as_bytes(), out),
        Value::Integer(n) => encode_number(*n as f64, value, config, out)?,
        Value::Number(n) => encode_number(*n, value, config, out)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(table) => {
            let depth = depth + 1;
            if depth > config.encode_max_depth {
                return Err(error(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            encode_table(table, value, config, depth, out)?;
        }
        other => return Err(cannot_serialise(other, "type not supported")),
    }
    Ok(())
}

fn encode_number(n: f64, value: &Value, config: &Config, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        match config.encode_invalid {
            InvalidNumbers::Refuse => {
                return Err(cannot_serialise(value, "must not be NaN or Inf"))
            }
            InvalidNumbers::AsNull => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            InvalidNumbers::Allow => {
                let text: &[u8] = if n.is_nan() {
                    b"nan"
                } else if n > 0.0 {
                    b"inf"
                } else {
                    b"-inf"
                };
                out.extend_from_slice(text);
                return Ok(());
            }
        }
    }
    let text = crate::resp::reply::format_g(n, config.precision as usize);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in s {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// The array length of `table` (`lua_array_length`): None if it must be an object. Pairs are
/// walked, not collected: a big table would exhaust Lua references.
fn array_length(table: &Table, config: &Config, value: &Value) -> mlua::Result<Option<i64>> {
    let mut max = 0i64;
    let mut items = 0i64;
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        let k = match key {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = max.max(k as i64);
        items += 1;
    }
    if config.sparse_ratio > 0 && max > items * config.sparse_ratio && max > config.sparse_safe {
        if !config.sparse_convert {
            return Err(cannot_serialise(value, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn encode_table(
    table: &Table,
    value: &Value,
    config: &Config,
    depth: i64,
    out: &mut Vec<u8>,
) -> mlua::Result<()> {
    match array_length(table, config, value)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for index in 1..=len {
                if index > 1 {
                    out.push(b',');
                }
                encode(&table.raw_get::<_, Value>(index)?, config, depth, out)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            for (i, pair) in table.clone().pairs::<Value, Value>().enumerate() {
                let (key, item) = pair?;
                if i > 0 {
                    out.push(b',');
                }
                match key {
                    Value::String(s) => encode_string(s.as_bytes(), out),
                    Value::Integer(n) => {
                        out.push(b'"');
                        encode_number(n as f64, &key, config, out)?;
                        out.push(b'"');
                    }
                    Value::Number(n) => {
                        out.push(b'"');
                        encode_number(n, &key, config, out)?;
                        out.push(b'"');
                    }
                    _ => {
                        return Err(cannot_serialise(
                            value,
                            "table key must be a number or string",
                        ))
                    }
                }
                out.push(b':');
                encode(&item, config, depth, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A recursive-descent JSON reader producing Lua values.
struct Parser<'a, 'lua> {
    lua: &'lua Lua,
    text: &'a [u8],
    pos: usize,
    depth: i64,
    config: &'a Config,
}

impl<'lua> Parser<'_, 'lua> {
    fn document(&mut self) -> mlua::Result<Value<'lua>> {
        let value = self.value()?;
        self.skip_space();
        if self.pos < self.text.len() {
            return Err(self.unexpected("the end"));
        }
        Ok(value)
    }

    fn skip_space(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// lua-cjson's error: what was expected, what was found, where (1-based).
    fn unexpected(&self, expected: &str) -> mlua::Error {
        let found = match self.text.get(self.pos) {
            None => "T_END".to_string(),
            Some(b'{') => "T_OBJ_BEGIN".into(),
            Some(b'}') => "T_OBJ_END".into(),
            Some(b'[') => "T_ARR_BEGIN".into(),
            Some(b']') => "T_ARR_END".into(),
            Some(b',') => "T_COMMA".into(),
            Some(b':') => "T_COLON".into(),
            Some(b'"') => "T_STRING".into(),
            Some(_) => "invalid token".into(),
        };
        error(format!(
            "Expected {expected} but found {found} at character {}",
            self.pos + 1
        ))
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.config.decode_max_depth {
            return Err(error(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                self.pos + 1
            )));
        }
        Ok(())
    }

    fn value(&mut self) -> mlua::Result<Value<'lua>> {
        self.skip_space();
        let rest = &self.text[self.pos.min(self.text.len())..];
        match rest.first() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') if rest.starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if rest.starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if rest.starts_with(b"null") => {
                self.pos += 4;
                Ok(null())
            }
            Some(_) => match self.number() {
                Some(n) => Ok(Value::Number(n)),
                None => Err(self.unexpected("value")),
            },
            None => Err(self.unexpected("value")),
        }
    }

    /// A number as `strtod` reads it (plus `nan` / `inf` when `decode_invalid_numbers`).
    fn number(&mut self) -> Option<f64> {
        let rest = &self.text[self.pos..];
        if self.config.decode_invalid {
            for (word, n) in [
                (&b"nan"[..], f64::NAN),
                (b"-nan", f64::NAN),
                (b"inf", f64::INFINITY),
                (b"-inf", f64::NEG_INFINITY),
            ] {
                if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
                    self.pos += word.len();
                    return Some(n);
                }
            }
        }
        let len = rest
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        // The longest prefix that parses, as strtod stops at the first character it cannot use.
        let text = std::str::from_utf8(&rest[..len]).ok()?;
        let (n, used) = (1..=text.len())
            .rev()
            .find_map(|end| text[..end].parse::<f64>().ok().map(|n| (n, end)))?;
        self.pos += used;
        Some(n)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let code = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.pos += 4;
        Some(code)
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        let invalid = |pos: usize| {
            error(format!(
                "Expected value but found invalid string at character {}",
                pos + 1
            ))
        };
        loop {
            let Some(&byte) = self.text.get(self.pos) else {
                return Err(invalid(start));
            };
            self.pos += 1;
            match byte {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&escape) = self.text.get(self.pos) else {
                        return Err(invalid(start));
                    };
                    self.pos += 1;
                    match escape {
                        b'"' | b'\\' | b'/' => out.push(escape),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4().ok_or_else(|| invalid(start))?;
                            if (0xd800..0xdc00).contains(&code) {
                                // A high surrogate must be followed by a low one.
                                if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(invalid(start));
                                }
                                self.pos += 2;
                                let low = self.hex4().ok_or_else(|| invalid(start))?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return Err(invalid(start));
                                }
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            } else if (0xdc00..0xe000).contains(&code) {
                                return Err(invalid(start));
                            }
                            let ch = char::from_u32(code).ok_or_else(|| invalid(start))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(invalid(start)),
                    }
                }
                _ => out.push(byte),
            }
        }
    }

    fn object(&mut self) -> mlua::Result<Value<'lua>> {
        self.descend()?;
        self.pos += 1;
        let table = self.lua.create_table()?;
        self.skip_space();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            self.skip_space();
            if self.text.get(self.pos) != Some(&b'"') {
                return Err(self.unexpected("object key string"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.text.get(self.pos) != Some(&b':') {
                return Err(self.unexpected("colon"));
            }
            self.pos += 1;
            let value = self.value()?;
            table.raw_set(self.lua.create_string(&key)?, value)?;
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.unexpected("comma or object end")),
            }
        }
    }

    fn array(&mut self) -> mlua::Result<Value<'lua>> {
        self.descend()?;
        self.pos += 1;
        let table = self.lua.create_table()?;
        self.skip_space();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut index = 1;
        loop {
            let value = self.value()?;
            table.raw_set(index, value)?;
            index += 1;
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.unexpected("comma or array end")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.globals().set("cjson", library(&lua).unwrap()).unwrap();
        lua
    }

    fn eval(lua: &Lua, code: &str) -> String {
        lua.load(code).eval::<String>().unwrap()
    }

    #[test]
    fn encodes_as_lua_cjson_does() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return cjson.encode({1, 'a/b', true, {}, 0.1, cjson.null})"
            ),
            r#"[1,"a\/b",true,{},0.1,null]"#
        );
        assert_eq!(
            eval(&lua, "return cjson.encode({[1] = 1, [3] = 3})"),
            "[1,null,3]"
        );
        assert_eq!(
            eval(&lua, "return cjson.encode({x = 'q\"\\127'})"),
            r#"{"x":"q\"\u007f"}"#
        );
        assert_eq!(eval(&lua, "return cjson.encode(1/3)"), "0.33333333333333");
        let err = lua
            .load("return cjson.encode({[1000] = 1})")
            .exec()
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("Cannot serialise table: excessively sparse array"));
        let err = lua.load("return cjson.encode(0/0)").exec().unwrap_err();
        assert!(err
            .to_string()
            .contains("Cannot serialise number: must not be NaN or Inf"));
        let err = lua
            .load("return cjson.encode({[true] = 1})")
            .exec()
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("table key must be a number or string"));
        assert_eq!(
            eval(
                &lua,
                "cjson.encode_invalid_numbers(true) return cjson.encode(1/0)"
            ),
            "inf"
        );
    }

    #[test]
    fn decodes_and_bounds_nesting() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#
            ),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(
            eval(
                &lua,
                r#"local t = cjson.decode([[{"a": {"b": ["x\u00e9\ud83d\ude00"]}}]]) return t.a.b[1]"#
            ),
            "x\u{e9}\u{1f600}"
        );
        assert_eq!(
            eval(
                &lua,
                r#"return tostring(cjson.decode('[null]')[1] == cjson.null)"#
            ),
            "true"
        );
        let err = lua
            .load(r#"cjson.decode_max_depth(1) return cjson.decode('{"a": {}}')"#)
            .exec()
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("Found too many nested data structures (2)"));
        let err = lua.load("return cjson.decode('[1,]')").exec().unwrap_err();
        assert!(err
            .to_string()
            .contains("Expected value but found T_ARR_END at character 4"));
        let err = lua.load("return cjson.decode('{} x')").exec().unwrap_err();
        assert!(err.to_string().contains("Expected the end"));
    }
}
