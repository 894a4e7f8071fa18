//! [`Args`]: a cursor over a command's arguments, converting them with Redis's rules and error
//! texts. `finish()` rejects arguments left over (`ERR syntax error`).

use bytes::Bytes;

use super::error::CmdError;
use crate::store::value::parse_i64_strict;

/// The arguments after the command name.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor positioned after `argv[0]` (the command name).
    pub fn new(argv: &'a [Bytes]) -> Args<'a> {
        Args { argv, pos: 1 }
    }

    /// The whole command, name included (for propagation as received).
    pub fn argv(&self) -> &'a [Bytes] {
        self.argv
    }

    /// Arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, or `ERR syntax error` if there is none. (Not `Iterator::next`: a
    /// missing argument is an error reply, not the end of a sequence.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<&'a Bytes, CmdError> {
        let arg = self.argv.get(self.pos).ok_or_else(CmdError::syntax)?;
        self.pos += 1;
        Ok(arg)
    }

    /// The next argument as an owned copy, detached from the connection's read buffer (for
    /// storing in the keyspace).
    pub fn next_owned(&mut self) -> Result<Bytes, CmdError> {
        self.next().map(|b| Bytes::copy_from_slice(b))
    }

    pub fn peek(&self) -> Option<&'a Bytes> {
        self.argv.get(self.pos)
    }

    /// Consumes the next argument if it equals `word` (ASCII case-insensitive).
    pub fn eat(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(arg) if arg.eq_ignore_ascii_case(word.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// The next argument as an i64 (`ERR value is not an integer or out of range`).
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_int(self.next()?)
    }

    /// The next argument as a float (`ERR value is not a valid float`).
    pub fn next_f64(&mut self) -> Result<f64, CmdError> {
        parse_float(self.next()?)
    }

    /// All remaining arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let rest = &self.argv[self.pos..];
        self.pos = self.argv.len();
        rest
    }

    /// Fails with `ERR syntax error` if arguments are left.
    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CmdError::syntax())
        }
    }
}

/// Parses an integer argument like Redis's `getLongLongFromObject`.
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64_strict(arg).ok_or_else(CmdError::not_integer)
}

/// Parses a float argument like Redis's `getLongDoubleFromObject`/`string2ld`: no spaces, no NaN;
/// `inf`, `+inf`, `-inf` are accepted.
pub fn parse_float(arg: &[u8]) -> Result<f64, CmdError> {
    float_value(arg).ok_or_else(CmdError::not_float)
}

/// The float in `arg`, or None (for callers with their own error text).
pub fn float_value(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.len() > 5120 || text.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("nan") || lower.contains("infinity") {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        None
    } else {
        Some(value)
    }
}

/// Normalizes an inclusive index range `start..=end` against a collection of `len` elements the
/// way Redis's LRANGE, LTRIM and ZRANGE do: negative indices count from the end, the start is
/// clamped to 0 and the end to the last element. None when the range is empty.
pub fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    end = end.min(len - 1);
    Some((start as usize, end as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_string2ld() {
        assert_eq!(float_value(b"1.5"), Some(1.5));
        assert_eq!(float_value(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(float_value(b"+inf"), Some(f64::INFINITY));
        assert_eq!(float_value(b"nan"), None);
        assert_eq!(float_value(b" 1"), None);
        assert_eq!(float_value(b"1 "), None);
        assert_eq!(float_value(b""), None);
        assert_eq!(float_value(b"abc"), None);
    }

    #[test]
    fn cursor_consumes_keywords_and_rejects_leftovers() {
        let argv: Vec<Bytes> = ["set", "k", "v", "EX", "10"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let mut args = Args::new(&argv);
        assert_eq!(args.next().unwrap(), "k");
        assert_eq!(args.next().unwrap(), "v");
        assert!(!args.eat("px"));
        assert!(args.eat("ex"));
        assert!(args.finish().is_err());
        assert_eq!(args.next_i64().unwrap(), 10);
        assert!(args.finish().is_ok());
        assert_eq!(args.next(), Err(CmdError::syntax()));
    }
}
