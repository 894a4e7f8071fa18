//! The `struct` library scripts get (Roberto Ierusalimschy's `struct` 0.2, as Redis embeds
//! it): packing numbers and strings into binary strings and back, C-struct style.
//!
//! A format is a sequence of options: `>` / `<` big / little endian (default: the machine's,
//! little here), `!n` maximum alignment (a power of 2; default 1, `!` alone 8), `x` a zero pad
//! byte, `b`/`B` `h`/`H` `l`/`L` `T` signed/unsigned char, short, long and size_t, `i`/`I`
//! with an optional size (default 4, at most 32), `f` / `d` float / double, `s` a
//! zero-terminated string, `c` with an optional length a fixed-length string (`c0`: the
//! length is the string's, or in `unpack` the number unpacked just before). Spaces are ignored.

use mlua::{Lua, MultiValue, Table, Value};

/// Integers wider than this many bytes are refused (`MAXINTSIZE`).
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the platform's maximum alignment.
const MAX_ALIGN: usize = 8;

fn error(text: String) -> mlua::Error {
    mlua::Error::RuntimeError(text)
}

fn arg_error(index: usize, name: &str, text: &str) -> mlua::Error {
    error(format!("bad argument #{index} to '{name}' ({text})"))
}

/// Byte order and alignment as the format sets them.
struct Header {
    little: bool,
    align: usize,
}

/// One option of a format, with its size.
struct Cursor<'f> {
    fmt: &'f [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(&d) = self.fmt.get(self.pos).filter(|d| d.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or_else(|| error("integral size overflow".into()))?;
            self.pos += 1;
        }
        Ok(n)
    }

    /// The next option and its size, or None at the end.
    fn next(&mut self) -> mlua::Result<Option<(u8, usize)>> {
        let Some(&opt) = self.fmt.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let size = match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        };
        Ok(Some((opt, size)))
    }

    /// Applies a control option (`<`, `>`, `!n`, space); anything else is an invalid option.
    fn control(&mut self, opt: u8, header: &mut Header, name: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => header.little = false,
            b'<' => header.little = true,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(error(format!("alignment {align} is not a power of 2")));
                }
                header.align = align;
            }
            other => {
                return Err(arg_error(
                    1,
                    name,
                    &format!("invalid format option '{}'", other as char),
                ))
            }
        }
        Ok(())
    }
}

/// Padding bytes before an item of `size` at offset `len`.
fn padding(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn number_arg(args: &[Value], index: usize, name: &str) -> mlua::Result<f64> {
    match args.get(index - 1) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| arg_error(index, name, "number expected, got string")),
        other => Err(arg_error(
            index,
            name,
            &format!(
                "number expected, got {}",
                other.map_or("no value", |v| v.type_name())
            ),
        )),
    }
}

fn string_arg(args: &[Value], index: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match args.get(index - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::lua_number_text(*n).into_bytes()),
        other => Err(arg_error(
            index,
            name,
            &format!(
                "string expected, got {}",
                other.map_or("no value", |v| v.type_name())
            ),
        )),
    }
}

fn put_int(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    for byte in bytes.iter_mut() {
        *byte = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn get_int(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let ordered: Vec<u8> = if little {
        bytes.iter().rev().copied().collect()
    } else {
        bytes.to_vec()
    };
    for byte in ordered {
        value = (value << 8) | u64::from(byte);
    }
    let bits = bytes.len() * 8;
    if !signed || bits == 0 {
        return value as f64;
    }
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        value |= u64::MAX << bits;
    }
    value as i64 as f64
}

fn pack(args: &[Value]) -> mlua::Result<Vec<u8>> {
    let fmt = string_arg(args, 1, "pack")?;
    let mut cursor = Cursor { fmt: &fmt, pos: 0 };
    let mut header = Header {
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some((opt, size)) = cursor.next()? {
        let pad = padding(out.len(), &header, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                put_int(
                    &mut out,
                    number_arg(args, arg, "pack")?,
                    header.little,
                    size,
                );
                arg += 1;
            }
            b'x' => out.push(0),
            b'f' => {
                let f = number_arg(args, arg, "pack")? as f32;
                arg += 1;
                let bytes = if header.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'd' => {
                let d = number_arg(args, arg, "pack")?;
                arg += 1;
                let bytes = if header.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = string_arg(args, arg, "pack")?;
                arg += 1;
                let size = if size == 0 { s.len() } else { size };
                if s.len() < size {
                    return Err(arg_error(arg, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            other => cursor.control(other, &mut header, "pack")?,
        }
    }
    Ok(out)
}

fn unpack<'lua>(lua: &'lua Lua, args: &[Value]) -> mlua::Result<MultiValue<'lua>> {
    let fmt = string_arg(args, 1, "unpack")?;
    let data = string_arg(args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => number_arg(args, 3, "unpack")?,
    };
    if start < 1.0 {
        return Err(arg_error(3, "unpack", "offset must be 1 or greater"));
    }
    let mut pos = start as usize - 1;
    let mut cursor = Cursor { fmt: &fmt, pos: 0 };
    let mut header = Header {
        little: true,
        align: 1,
    };
    let mut values: Vec<Value> = Vec::new();
    let too_short = || arg_error(2, "unpack", "data string too short");
    while let Some((opt, mut size)) = cursor.next()? {
        pos += padding(pos, &header, opt, size);
        if size > data.len() || pos > data.len() - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_int(
                    &data[pos..pos + size],
                    header.little,
                    opt.is_ascii_lowercase(),
                );
                values.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let f = if header.little {
                    f32::from_le_bytes(bytes)
                } else {
                    f32::from_be_bytes(bytes)
                };
                values.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let bytes: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let d = if header.little {
                    f64::from_le_bytes(bytes)
                } else {
                    f64::from_be_bytes(bytes)
                };
                values.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    size = match values.pop() {
                        Some(Value::Number(n)) if n >= 0.0 => n as usize,
                        _ => return Err(error("format 'c0' needs a previous size".into())),
                    };
                    if size > data.len() || pos > data.len() - size {
                        return Err(too_short());
                    }
                }
                values.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error("unfinished string in data".into()));
                };
                values.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            other => cursor.control(other, &mut header, "unpack")?,
        }
        pos += size;
    }
    values.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(values))
}

fn size(args: &[Value]) -> mlua::Result<f64> {
    let fmt = string_arg(args, 1, "size")?;
    let mut cursor = Cursor { fmt: &fmt, pos: 0 };
    let mut header = Header {
        little: true,
        align: 1,
    };
    let mut pos = 0;
    while let Some((opt, size)) = cursor.next()? {
        pos += padding(pos, &header, opt, size);
        if opt == b's' {
            return Err(arg_error(1, "size", "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(1, "size", "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            cursor.control(opt, &mut header, "size")?;
        }
        pos += size;
    }
    Ok(pos as f64)
}

/// Builds the `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table<'_>> {
    let table = lua.create_table()?;
    table.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_vec();
            lua.create_string(pack(&args)?)
        })?,
    )?;
    table.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| unpack(lua, &args.into_vec()))?,
    )?;
    table.raw_set(
        "size",
        lua.create_function(|_, args: MultiValue| size(&args.into_vec()))?,
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.globals().set("struct", library(&lua).unwrap()).unwrap();
        lua
    }

    #[test]
    fn pack_unpack_and_size_agree() {
        let lua = lua();
        let ok: bool = lua
            .load(
                r#"
                local s = struct.pack('>I2<i4!4dBc3s', 258, -2, 1.5, 255, 'abcdef', 'zz')
                local a, b, c, d, e, f, next = struct.unpack('>I2<i4!4dBc3s', s)
                return s:sub(1, 2) == '\1\2' and a == 258 and b == -2 and c == 1.5
                    and d == 255 and e == 'abc' and f == 'zz' and next == #s + 1
                    and struct.size('>I2<i4') == 6 and struct.size('!8bd') == 16
                "#,
            )
            .eval()
            .unwrap();
        assert!(ok);
        let (n, text): (f64, String) = lua
            .load("return struct.unpack('Bc0', '\\3abcd')")
            .eval()
            .map(|(text, _next): (String, f64)| (0.0, text))
            .unwrap();
        assert_eq!((n, text.as_str()), (0.0, "abc"));
    }

    #[test]
    fn bad_formats_and_short_data_are_errors() {
        let lua = lua();
        for (code, text) in [
            ("struct.pack('q', 1)", "invalid format option 'q'"),
            ("struct.unpack('i4', 'ab')", "data string too short"),
            ("struct.size('s')", "option 's' has no fixed size"),
            (
                "struct.pack('i33', 1)",
                "integral size 33 is larger than limit of 32",
            ),
            ("struct.pack('!3i', 1)", "alignment 3 is not a power of 2"),
            ("struct.unpack('s', 'abc')", "unfinished string in data"),
        ] {
            let err = lua.load(code).exec().unwrap_err().to_string();
            assert!(err.contains(text), "{code}: {err}");
        }
    }
}
