//! The `cmsgpack` library scripts get (lua-cmsgpack's API, as Redis embeds it): MessagePack
//! encoding of Lua values.
//!
//! `pack(...)` encodes each argument and concatenates them; `unpack(data)` decodes every value
//! in `data`; `unpack_one(data, offset)` and `unpack_limit(data, limit, offset)` decode some and
//! return first the offset to continue from (-1 once the input is exhausted). Encoding follows
//! lua-cmsgpack: a number that is a whole value within int64 is an integer (smallest form), any
//! other a float when a 32-bit float holds it exactly, else a double; a table whose keys are
//! exactly 1..n is an array, any other a map; functions and other values become nil, and
//! tables nested deeper than 16 levels too (so a cycle encodes as a bounded deep copy).

use mlua::{Lua, MultiValue, Table, Value};

/// Tables nested deeper than this encode as nil (`LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;

/// Builds the `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table<'_>> {
    let msgpack = lua.create_table()?;
    msgpack.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::RuntimeError(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)".into(),
                ));
            }
            let mut out = Vec::new();
            for value in args.iter() {
                encode(value, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    msgpack.raw_set(
        "unpack",
        lua.create_function(|lua, data: mlua::String| unpack(lua, data.as_bytes(), 0, 0))?,
    )?;
    msgpack.raw_set(
        "unpack_one",
        lua.create_function(|lua, (data, offset): (mlua::String, Option<i64>)| {
            unpack(lua, data.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    msgpack.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (data, limit, offset): (mlua::String, Option<i64>, Option<i64>)| {
                unpack(
                    lua,
                    data.as_bytes(),
                    limit.unwrap_or(0),
                    offset.unwrap_or(0),
                )
            },
        )?,
    )?;
    msgpack.raw_set("_NAME", "cmsgpack")?;
    msgpack.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(msgpack)
}

fn encode(value: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_bytes(s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(table) if level < MAX_NESTING => encode_table(table, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // A whole number that int64 holds exactly is an integer.
    if n.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        encode_int(n as i64, out);
    } else if f64::from(n as f32) == n || n.is_nan() && (n as f32).is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// A header for an array (`0x90`, `0xdc`, `0xdd`) or a map (`0x80`, `0xde`, `0xdf`).
fn encode_header(len: usize, fix: u8, bits16: u8, bits32: u8, out: &mut Vec<u8>) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(bits16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(bits32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_table(table: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    // Keys exactly 1..n (all positive whole numbers, the largest equal to the count): an array.
    // Pairs are walked twice rather than collected: a big table would exhaust Lua references.
    let mut count = 0usize;
    let mut max = 0.0f64;
    let mut is_array = true;
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        count += 1;
        let n = match key {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => f64::NAN,
        };
        if n > 0.0 && n.fract() == 0.0 {
            max = max.max(n);
        } else {
            is_array = false;
        }
    }
    if is_array && max == count as f64 {
        let len = table.raw_len();
        encode_header(len, 0x90, 0xdc, 0xdd, out);
        for index in 1..=len {
            encode(&table.get::<_, Value>(index)?, level + 1, out)?;
        }
    } else {
        encode_header(count, 0x80, 0xde, 0xdf, out);
        for pair in table.clone().pairs::<Value, Value>() {
            let (key, value) = pair?;
            encode(&key, level + 1, out)?;
            encode(&value, level + 1, out)?;
        }
    }
    Ok(())
}

/// Why decoding stopped.
enum DecodeError {
    Eof,
    BadFormat,
}

/// A position in the input being decoded.
struct Cursor<'d> {
    data: &'d [u8],
    pos: usize,
}

impl<'d> Cursor<'d> {
    fn take(&mut self, n: usize) -> Result<&'d [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Eof)?;
        let bytes = self.data.get(self.pos..end).ok_or(DecodeError::Eof)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset` (`limit` and `offset` both 0:
/// every value, and no offset in front).
fn unpack<'lua>(
    lua: &'lua Lua,
    data: &[u8],
    limit: i64,
    offset: i64,
) -> mlua::Result<MultiValue<'lua>> {
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::RuntimeError(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )));
    }
    if offset as u64 > data.len() as u64 {
        return Err(mlua::Error::RuntimeError(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cursor = Cursor {
        data,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    while cursor.pos < data.len() && (values.len() as i64) < limit {
        // Lua cannot return more values than its stack holds (`luaL_checkstack`).
        if values.len() >= MAX_RESULTS {
            return Err(mlua::Error::RuntimeError(
                "stack overflow (too many results to unpack)".into(),
            ));
        }
        values.push(decode(lua, &mut cursor)?);
    }
    if !decode_all {
        let next = if cursor.pos == data.len() {
            -1
        } else {
            cursor.pos as i64
        };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(MultiValue::from_vec(values))
}

/// Decodes one value, as a Lua error with lua-cmsgpack's text on bad input.
fn decode<'lua>(lua: &'lua Lua, cursor: &mut Cursor) -> mlua::Result<Value<'lua>> {
    decode_value(lua, cursor, 0).map_err(|error| {
        mlua::Error::RuntimeError(
            match error {
                DecodeError::Eof => "Missing bytes in input.",
                DecodeError::BadFormat => "Bad data format in input.",
            }
            .into(),
        )
    })
}

/// At most this many values are returned by one unpack.
const MAX_RESULTS: usize = 4000;

/// Deeper input than this is refused rather than risking the native stack.
const MAX_DECODE_DEPTH: usize = 500;

fn decode_value<'lua>(
    lua: &'lua Lua,
    cursor: &mut Cursor,
    depth: usize,
) -> Result<Value<'lua>, DecodeError> {
    if depth > MAX_DECODE_DEPTH {
        return Err(DecodeError::BadFormat);
    }
    let lua_err = |_| DecodeError::BadFormat;
    let byte = cursor.byte()?;
    let number = |n: f64| Ok(Value::Number(n));
    match byte {
        0x00..=0x7f => number(f64::from(byte)),
        0xe0..=0xff => number(f64::from(byte as i8)),
        0xcc => number(cursor.uint(1)? as f64),
        0xcd => number(cursor.uint(2)? as f64),
        0xce => number(cursor.uint(4)? as f64),
        0xcf => number(cursor.uint(8)? as f64),
        0xd0 => number(f64::from(cursor.uint(1)? as u8 as i8)),
        0xd1 => number(f64::from(cursor.uint(2)? as u16 as i16)),
        0xd2 => number(f64::from(cursor.uint(4)? as u32 as i32)),
        0xd3 => number(cursor.uint(8)? as i64 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xca => number(f64::from(f32::from_bits(cursor.uint(4)? as u32))),
        0xcb => number(f64::from_bits(cursor.uint(8)?)),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let len = match byte {
                0xa0..=0xbf => u64::from(byte & 0x1f),
                0xd9 | 0xc4 => cursor.uint(1)?,
                0xda | 0xc5 => cursor.uint(2)?,
                _ => cursor.uint(4)?,
            };
            let bytes = cursor.take(len as usize)?;
            lua.create_string(bytes).map(Value::String).map_err(lua_err)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = match byte {
                0x90..=0x9f => u64::from(byte & 0x0f),
                0xdc => cursor.uint(2)?,
                _ => cursor.uint(4)?,
            };
            // Each element takes at least one byte: a length past the input is truncated input.
            if len > (cursor.data.len() - cursor.pos) as u64 {
                return Err(DecodeError::Eof);
            }
            let table = lua.create_table().map_err(lua_err)?;
            for index in 1..=len {
                let item = decode_value(lua, cursor, depth + 1)?;
                table.raw_set(index, item).map_err(lua_err)?;
            }
            Ok(Value::Table(table))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = match byte {
                0x80..=0x8f => u64::from(byte & 0x0f),
                0xde => cursor.uint(2)?,
                _ => cursor.uint(4)?,
            };
            if len > (cursor.data.len() - cursor.pos) as u64 {
                return Err(DecodeError::Eof);
            }
            let table = lua.create_table().map_err(lua_err)?;
            for _ in 0..len {
                let key = decode_value(lua, cursor, depth + 1)?;
                let value = decode_value(lua, cursor, depth + 1)?;
                // A nil key (or NaN) cannot index a Lua table: lua-cmsgpack would fail too.
                if !matches!(key, Value::Nil) {
                    table.raw_set(key, value).map_err(lua_err)?;
                }
            }
            Ok(Value::Table(table))
        }
        _ => Err(DecodeError::BadFormat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(code: &str) -> String {
        let lua = Lua::new();
        lua.globals()
            .set("cmsgpack", library(&lua).unwrap())
            .unwrap();
        let packed: mlua::String = lua.load(code).eval().unwrap();
        packed
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn numbers_take_lua_cmsgpacks_forms() {
        assert_eq!(hex("return cmsgpack.pack(0.1)"), "cb3fb999999999999a");
        assert_eq!(hex("return cmsgpack.pack(0.5)"), "ca3f000000");
        assert_eq!(
            hex("return cmsgpack.pack(-1099511627776)"),
            "d3ffffff0000000000"
        );
        assert_eq!(
            hex("return cmsgpack.pack(1, -1, 200, -100)"),
            "01ffccc8d09c"
        );
        assert_eq!(
            hex("return cmsgpack.pack({1, 2}, {a = true})"),
            "92010281a161c3"
        );
        assert_eq!(hex("return cmsgpack.pack({})"), "90");
    }

    #[test]
    fn unpack_round_trips_and_reports_offsets() {
        let lua = Lua::new();
        lua.globals()
            .set("cmsgpack", library(&lua).unwrap())
            .unwrap();
        let ok: bool = lua
            .load(
                r#"
                local s = string.rep("x", 300)
                local packed = cmsgpack.pack({a = {1, 2, 3}, b = "x"}, s, 2^40, -3147483648)
                local t, str, big, neg = cmsgpack.unpack(packed)
                local offset, first = cmsgpack.unpack_one(packed, 0)
                local offset2, second = cmsgpack.unpack_limit(packed, 1, offset)
                local last_offset = cmsgpack.unpack_limit(packed, 2, offset2)
                return t.a[3] == 3 and t.b == "x" and str == s and big == 2^40
                    and neg == -3147483648 and first.b == "x" and second == s
                    and last_offset == -1
                "#,
            )
            .eval()
            .unwrap();
        assert!(ok);
        let err = lua
            .load("return cmsgpack.unpack('\\220\\0')")
            .exec()
            .unwrap_err();
        assert!(err.to_string().contains("Missing bytes in input."));
    }
}
