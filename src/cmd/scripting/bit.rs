//! The `bit` library scripts get (LuaBitOp 1.0's API, as Redis embeds it): bitwise operations
//! on 32-bit integers. Every argument is first normalised as `bit.tobit` does — rounded to an
//! integer and reduced modulo 2^32 — and every result is a signed 32-bit number.

use mlua::{Lua, MultiValue, Table, Value};

/// `bit.tobit`'s normalisation: the number rounded to nearest (ties to even, as the FPU rounds
/// LuaBitOp's `n + 2^52 + 2^51` trick) and reduced to its low 32 bits.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let rounded = n.round_ties_even();
    // Reduce modulo 2^32 in floating point first, so huge values keep their low bits.
    let reduced = rounded.rem_euclid(4_294_967_296.0);
    reduced as u64 as u32 as i32
}

/// Argument `index` (1-based) of `name` as a normalised 32-bit value; Lua's error text when it
/// is not a number (numeric strings are numbers, as `luaL_checknumber` takes them).
fn arg(args: &MultiValue, index: usize, name: &str) -> mlua::Result<i32> {
    let value = args.iter().nth(index - 1).unwrap_or(&Value::Nil);
    let number = match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    number.map(tobit).ok_or_else(|| {
        mlua::Error::RuntimeError(format!(
            "bad argument #{index} to '{name}' (number expected, got {})",
            if matches!(value, Value::Nil) {
                "no value"
            } else {
                value.type_name()
            }
        ))
    })
}

/// Builds the `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table<'_>> {
    let bit = lua.create_table()?;
    let unary = |name: &'static str, op: fn(i32) -> i32| {
        lua.create_function(move |_, args: MultiValue| Ok(f64::from(op(arg(&args, 1, name)?))))
    };
    bit.raw_set("tobit", unary("tobit", |x| x)?)?;
    bit.raw_set("bnot", unary("bnot", |x| !x)?)?;
    bit.raw_set("bswap", unary("bswap", i32::swap_bytes)?)?;
    let fold = |name: &'static str, op: fn(i32, i32) -> i32| {
        lua.create_function(move |_, args: MultiValue| {
            let mut acc = arg(&args, 1, name)?;
            for index in 2..=args.len() {
                acc = op(acc, arg(&args, index, name)?);
            }
            Ok(f64::from(acc))
        })
    };
    bit.raw_set("band", fold("band", |a, b| a & b)?)?;
    bit.raw_set("bor", fold("bor", |a, b| a | b)?)?;
    bit.raw_set("bxor", fold("bxor", |a, b| a ^ b)?)?;
    let shift = |name: &'static str, op: fn(i32, u32) -> i32| {
        lua.create_function(move |_, args: MultiValue| {
            let x = arg(&args, 1, name)?;
            let n = (arg(&args, 2, name)? & 31) as u32;
            Ok(f64::from(op(x, n)))
        })
    };
    bit.raw_set("lshift", shift("lshift", |x, n| ((x as u32) << n) as i32)?)?;
    bit.raw_set("rshift", shift("rshift", |x, n| ((x as u32) >> n) as i32)?)?;
    bit.raw_set("arshift", shift("arshift", |x, n| x >> n)?)?;
    bit.raw_set(
        "rol",
        shift("rol", |x, n| (x as u32).rotate_left(n) as i32)?,
    )?;
    bit.raw_set(
        "ror",
        shift("ror", |x, n| (x as u32).rotate_right(n) as i32)?,
    )?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, args: MultiValue| {
            let x = arg(&args, 1, "tohex")? as u32;
            let n = if args.len() >= 2 {
                arg(&args, 2, "tohex")?
            } else {
                8
            };
            Ok(tohex(x, n))
        })?,
    )?;
    Ok(bit)
}

/// `bit.tohex(x, n)`: the low `|n|` hex digits of `x` (at most 8), uppercase when `n` < 0.
fn tohex(x: u32, n: i32) -> String {
    let digits = n.unsigned_abs().min(8) as usize;
    let text = if n < 0 {
        format!("{x:08X}")
    } else {
        format!("{x:08x}")
    };
    text[8 - digits..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> f64 {
        let lua = Lua::new();
        lua.globals().set("bit", library(&lua).unwrap()).unwrap();
        lua.load(code).eval::<f64>().unwrap()
    }

    #[test]
    fn operations_wrap_to_signed_32_bits() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(2_147_483_648.0), -2_147_483_648);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
        assert_eq!(eval("return bit.bor(1, 2, 4, 8, 16, 32, 64, 128)"), 255.0);
        assert_eq!(eval("return bit.band(1)"), 1.0);
        assert_eq!(eval("return bit.bxor(1, 2)"), 3.0);
        assert_eq!(eval("return bit.bnot(0)"), -1.0);
        assert_eq!(eval("return bit.lshift(1, 31)"), -2_147_483_648.0);
        assert_eq!(eval("return bit.rshift(-1, 28)"), 15.0);
        assert_eq!(eval("return bit.arshift(-256, 4)"), -16.0);
        assert_eq!(eval("return bit.rol(0x12345678, 12)"), 0x45678123 as f64);
        assert_eq!(eval("return bit.bswap(0x12345678)"), 0x78563412 as f64);
    }

    #[test]
    fn tohex_takes_a_digit_count_and_case() {
        assert_eq!(tohex(1, 8), "00000001");
        assert_eq!(tohex(0xffff_ffff, -4), "FFFF");
        assert_eq!(tohex(0x1234_5678, 2), "78");
        let lua = Lua::new();
        lua.globals().set("bit", library(&lua).unwrap()).unwrap();
        let err = lua.load("return bit.band('x')").exec().unwrap_err();
        assert!(err.to_string().contains("bad argument #1 to 'band'"));
    }
}
