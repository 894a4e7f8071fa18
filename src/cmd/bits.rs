//! Single-bit access to strings (`bitops.c`): SETBIT and GETBIT. Bit 0 is the most significant
//! bit of the first byte; a string grows with zero bytes to reach a bit set beyond its end.

use bytes::Bytes;

use super::flags::*;
use super::strings::{read_string, store, Expiry, MAX_STRING_BYTES};
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;
use crate::store::value::parse_i64_strict;

/// The bit commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new("setbit", 4, WRITE | DENYOOM, setbit).keys(1, 1, 1),
    Spec::new("getbit", 3, READONLY | FAST, getbit).keys(1, 1, 1),
];

/// A bit offset: 0 up to the bits of the largest string (`getBitOffsetFromArgument`).
fn bit_offset(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64_strict(arg) {
        Some(n) if n >= 0 && ((n as u64) >> 3) < MAX_STRING_BYTES as u64 => Ok(n as usize),
        _ => Err(CmdError::new(
            "ERR bit offset is not an integer or out of range",
        )),
    }
}

fn bit_at(data: &[u8], offset: usize) -> u8 {
    data.get(offset >> 3)
        .map_or(0, |byte| (byte >> (7 - (offset & 7))) & 1)
}

/// `SETBIT key offset value`: replies the bit's previous value.
fn setbit(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let offset = bit_offset(args.next()?)?;
    let on = match args.next()?.as_ref() {
        b"1" => true,
        b"0" => false,
        _ => return Err(CmdError::new("ERR bit is not an integer or out of range")),
    };
    let now = cx.now;
    let mut data = cx
        .db()
        .get_string(key, now)?
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let byte = offset >> 3;
    if data.len() <= byte {
        data.resize(byte + 1, 0);
    }
    let old = bit_at(&data, offset);
    let mask = 1u8 << (7 - (offset & 7));
    if on {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
    store(cx, key, Bytes::from(data), Expiry::Keep);
    Ok(Reply::Int(old as i64))
}

/// `GETBIT key offset`: 0 beyond the end or for a missing key.
fn getbit(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let offset = bit_offset(args.next()?)?;
    let data = read_string(cx, key)?.unwrap_or_default();
    Ok(Reply::Int(bit_at(&data, offset) as i64))
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn set_and_get_bits() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["setbit", "k", "1", "1"]), Reply::Int(0));
        assert_eq!(h.run(&["get", "k"]), bulk("\u{40}"));
        assert_eq!(h.run(&["setbit", "k", "1", "0"]), Reply::Int(1));
        assert_eq!(h.run(&["setbit", "k", "17", "1"]), Reply::Int(0));
        assert_eq!(h.run(&["strlen", "k"]), Reply::Int(3));
        assert_eq!(h.run(&["getbit", "k", "17"]), Reply::Int(1));
        assert_eq!(h.run(&["getbit", "k", "100"]), Reply::Int(0));
        assert_eq!(h.run(&["getbit", "none", "0"]), Reply::Int(0));
        assert_eq!(
            h.run(&["setbit", "k", "4294967296", "1"]),
            err("ERR bit offset is not an integer or out of range")
        );
        assert_eq!(
            h.run(&["setbit", "k", "1", "2"]),
            err("ERR bit is not an integer or out of range")
        );
        h.run(&["rpush", "l", "a"]);
        assert_eq!(
            h.run(&["setbit", "l", "1", "1"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
}
