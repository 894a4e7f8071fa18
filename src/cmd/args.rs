//! [`Args`]: a cursor over a command's arguments, converting them with Redis's rules and error
//! texts. `finish()` rejects arguments left over (`ERR syntax error`).

use bytes::Bytes;

use super::error::CmdError;
use crate::store::pick::{self, Picks};
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

/// Most elements a random-member reply with a negative count (repeats allowed) may hold. Redis
/// would build such a reply however large; here a count whose reply could not fit in memory is
/// refused (`ERR value is out of range`) instead of taking the server down.
pub const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// What HRANDFIELD/SRANDMEMBER/ZRANDMEMBER's `count` asks for: a positive count distinct
/// elements (all of them when it exceeds the collection), a negative one `|count|` picks that
/// may repeat.
pub fn random_picks(count: i64) -> Result<Picks, CmdError> {
    if count < 0 {
        if count.unsigned_abs() > MAX_RANDOM_REPLY {
            return Err(CmdError::value_out_of_range());
        }
        Ok(Picks::Repeated(count.unsigned_abs() as usize))
    } else {
        Ok(Picks::Distinct(
            usize::try_from(count).unwrap_or(usize::MAX),
        ))
    }
}

/// The positions [`random_picks`] gives for `count` over `len` elements (a collection kept by
/// position, such as a sorted set).
pub fn random_positions(
    rng: &mut impl rand::Rng,
    len: usize,
    count: i64,
) -> Result<Vec<usize>, CmdError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    Ok(pick::positions(rng, len, random_picks(count)?))
}

/// The shared arguments of LMPOP/BLMPOP/ZMPOP/BZMPOP (after the timeout, for the blocking
/// forms): `numkeys key [key ...] <first|second> [COUNT count]`, parsed as Redis's
/// `lmpopGenericCommand`/`zmpopGenericCommand` do.
#[derive(Debug, Clone)]
pub struct MpopArgs<'a> {
    pub keys: &'a [Bytes],
    /// True for the second of the two end words (RIGHT, MAX).
    pub second_end: bool,
    /// The COUNT given, or None (pop one element, reply still as a list).
    pub count: Option<usize>,
}

impl<'a> MpopArgs<'a> {
    /// Parses from `args`; `ends` are the two accepted end words (`["LEFT", "RIGHT"]`).
    pub fn parse(args: &mut Args<'a>, ends: [&str; 2]) -> Result<MpopArgs<'a>, CmdError> {
        let numkeys = match parse_i64_strict(args.next()?) {
            Some(n) if n > 0 => n as u64,
            _ => return Err(CmdError::new("ERR numkeys should be greater than 0")),
        };
        // The keys and the end word must all be there.
        if numkeys >= args.remaining() as u64 {
            return Err(CmdError::syntax());
        }
        let start = args.pos;
        args.pos += numkeys as usize;
        let keys = &args.argv[start..args.pos];
        let second_end = if args.eat(ends[0]) {
            false
        } else if args.eat(ends[1]) {
            true
        } else {
            return Err(CmdError::syntax());
        };
        let mut count = None;
        while !args.is_empty() {
            if count.is_none() && args.remaining() >= 2 && args.eat("COUNT") {
                match parse_i64_strict(args.next()?) {
                    Some(n) if n > 0 => count = Some(n as usize),
                    _ => return Err(CmdError::new("ERR count should be greater than 0")),
                }
            } else {
                return Err(CmdError::syntax());
            }
        }
        Ok(MpopArgs {
            keys,
            second_end,
            count,
        })
    }
}

/// Parses a blocking timeout in seconds like Redis's `getTimeoutFromObjectOrReply`: a float,
/// truncated to whole milliseconds; 0 (after truncation) blocks forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    let seconds = float_value(arg).ok_or_else(CmdError::timeout_not_float)?;
    let ms = (seconds * 1000.0).trunc();
    if ms < 0.0 {
        return Err(CmdError::timeout_negative());
    }
    // Redis adds the timeout to the current time in ms and rejects an overflow.
    if ms >= (i64::MAX / 2) as f64 {
        return Err(CmdError::timeout_out_of_range());
    }
    Ok(if ms == 0.0 {
        None
    } else {
        Some(std::time::Duration::from_millis(ms as u64))
    })
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

    fn words(items: &[&str]) -> Vec<Bytes> {
        items.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn random_positions_are_distinct_or_repeated_and_bounded() {
        let mut rng = rand::thread_rng();
        let mut distinct = random_positions(&mut rng, 10, 5).unwrap();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 5);
        assert_eq!(random_positions(&mut rng, 3, 10).unwrap(), vec![0, 1, 2]);
        assert_eq!(random_positions(&mut rng, 3, -10).unwrap().len(), 10);
        assert!(random_positions(&mut rng, 3, -i64::MAX).is_err());
        assert!(random_positions(&mut rng, 0, -5).unwrap().is_empty());
        assert_eq!(random_picks(-5).unwrap(), Picks::Repeated(5));
        assert_eq!(random_picks(7).unwrap(), Picks::Distinct(7));
        assert!(random_picks(-(MAX_RANDOM_REPLY as i64) - 1).is_err());
    }

    #[test]
    fn mpop_arguments_follow_redis_errors() {
        let ends = ["LEFT", "RIGHT"];
        let argv = words(&["lmpop", "2", "a", "b", "right", "COUNT", "3"]);
        let parsed = MpopArgs::parse(&mut Args::new(&argv), ends).unwrap();
        assert_eq!(parsed.keys.len(), 2);
        assert!(parsed.second_end);
        assert_eq!(parsed.count, Some(3));
        let cases: &[(&[&str], &str)] = &[
            (
                &["lmpop", "0", "a", "left"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["lmpop", "x", "a", "left"],
                "ERR numkeys should be greater than 0",
            ),
            (&["lmpop", "2", "a", "left"], "ERR syntax error"),
            (&["lmpop", "1", "a", "up"], "ERR syntax error"),
            (
                &["lmpop", "1", "a", "left", "count", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["lmpop", "1", "a", "left", "count", "1", "count", "2"],
                "ERR syntax error",
            ),
            (&["lmpop", "1", "a", "left", "count"], "ERR syntax error"),
        ];
        for (argv, expected) in cases {
            let argv = words(argv);
            let error = MpopArgs::parse(&mut Args::new(&argv), ends).unwrap_err();
            assert_eq!(error.0, *expected, "{argv:?}");
        }
    }
}
