//! Incremental parsing of client requests: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and
//! inline commands (`GET k\r\n`, as telnet and redis-benchmark's PING_INLINE send them).
//!
//! Follows `processMultibulkBuffer` / `processInlineBuffer` in Redis's `networking.c`: the
//! parser returns `Ok(None)` until a whole request is buffered, checks every length before
//! allocating for it, and answers malformed input with Redis's `Protocol error: ...` texts,
//! after which the server replies and closes the connection. A bare newline, `*0` and `*-1` are
//! empty requests and produce no command.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline command, and longest `*`/`$` header line without its CRLF (Redis's
/// `PROTO_INLINE_MAX_SIZE`, bytes).
pub const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Largest multibulk count a client that has not authenticated may send (Redis: 10).
pub const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
/// Largest bulk a client that has not authenticated may send (Redis: 16384 bytes).
pub const UNAUTHENTICATED_MAX_BULK: i64 = 16 * 1024;
/// Upper bound on how many argument slots are reserved before the arguments arrive.
const MAX_PREALLOCATED_ARGS: usize = 1024;
/// Upper bound on how much buffer is reserved for a bulk beyond the bytes already received.
const BULK_RESERVE_AHEAD_BYTES: usize = 1024 * 1024;

/// A malformed request. The text is what Redis replies (after `-ERR `); the connection is then
/// closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub std::borrow::Cow<'static, str>);

impl ProtocolError {
    fn new(text: &'static str) -> ProtocolError {
        ProtocolError(std::borrow::Cow::Borrowed(text))
    }
}

/// Parser state for one connection: limits and a partly read multibulk.
#[derive(Debug)]
pub struct RequestParser {
    /// `proto-max-bulk-len`, bytes.
    pub max_bulk_len: i64,
    /// Tighter limits before AUTH, so that an unauthenticated peer cannot make the server buffer
    /// much (Redis 7.0 behaviour).
    pub authenticated: bool,
    /// Arguments of a multibulk whose remaining bulks are not all here yet.
    partial: Option<Partial>,
    /// How much of the line at the start of the buffer was already searched for its end, so
    /// that a line arriving a byte at a time is scanned once, not once per byte.
    scanned: usize,
}

#[derive(Debug)]
struct Partial {
    remaining: usize,
    args: Vec<Bytes>,
}

impl RequestParser {
    pub fn new(max_bulk_len: i64) -> RequestParser {
        RequestParser {
            max_bulk_len,
            authenticated: true,
            partial: None,
            scanned: 0,
        }
    }

    /// Parses the next request from `buf`, consuming its bytes. `Ok(None)` means more input is
    /// needed. An empty `Vec` is an empty request (bare newline, `*0`) that gets no reply.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.partial.is_none() {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {}
                Some(_) => return parse_inline(buf, &mut self.scanned),
            }
            let Some((count, used)) =
                read_line_number(buf, "too big mbulk count string", &mut self.scanned)?
            else {
                return Ok(None);
            };
            let count = count.ok_or(ProtocolError::new("invalid multibulk length"))?;
            if count > i32::MAX as i64 {
                return Err(ProtocolError::new("invalid multibulk length"));
            }
            if !self.authenticated && count > UNAUTHENTICATED_MAX_ARGS {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            buf.advance(used);
            if count <= 0 {
                return Ok(Some(Vec::new()));
            }
            let count = count as usize;
            self.partial = Some(Partial {
                remaining: count,
                args: Vec::with_capacity(count.min(MAX_PREALLOCATED_ARGS)),
            });
        }
        let partial = self.partial.as_mut().expect("set above");
        while partial.remaining > 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'$' {
                return Err(expected_dollar(buf[0]));
            }
            let Some((len, used)) =
                read_line_number(buf, "too big bulk count string", &mut self.scanned)?
            else {
                return Ok(None);
            };
            let len = match len {
                Some(len) if len >= 0 && len <= self.max_bulk_len => len,
                _ => return Err(ProtocolError::new("invalid bulk length")),
            };
            if !self.authenticated && len > UNAUTHENTICATED_MAX_BULK {
                return Err(ProtocolError::new("unauthenticated bulk length"));
            }
            let len = len as usize;
            if buf.len() < used + len + 2 {
                // Big values arrive in many reads: reserve ahead, but never more than
                // BULK_RESERVE_AHEAD_BYTES beyond what has arrived, so that a header alone
                // (`$536870912`) cannot make the server allocate for bytes never sent. The
                // buffer grows geometrically, so a big value is still copied only a few times.
                let missing = used + len + 2 - buf.len();
                buf.reserve(missing.min(BULK_RESERVE_AHEAD_BYTES));
                return Ok(None);
            }
            buf.advance(used);
            let arg = buf.split_to(len).freeze();
            buf.advance(2); // the CRLF after the bulk; Redis does not check its bytes either
            partial.args.push(arg);
            partial.remaining -= 1;
        }
        Ok(self.partial.take().map(|p| p.args))
    }
}

/// The second argument (usually the key) of the multibulk request at the start of `buf`, if
/// that much of it is buffered and well formed: a look ahead that consumes nothing, so the
/// keyspace can prefetch the key's bucket while the request before it runs. Only short
/// headers are read (a long command name or key is not worth it), and anything unexpected
/// gives None; the parser proper still reads and checks every byte.
pub fn peek_second_arg(buf: &[u8]) -> Option<&[u8]> {
    /// Reads `<prefix><digits>\r\n` at `at` (a short, non-negative number): (number, next).
    fn header(buf: &[u8], at: usize, prefix: u8) -> Option<(usize, usize)> {
        if *buf.get(at)? != prefix {
            return None;
        }
        let mut n = 0usize;
        for i in at + 1..(at + 8).min(buf.len()) {
            match buf[i] {
                b'0'..=b'9' => n = n * 10 + usize::from(buf[i] - b'0'),
                b'\r' if i > at + 1 => {
                    return (buf.get(i + 1) == Some(&b'\n')).then_some((n, i + 2))
                }
                _ => return None,
            }
        }
        None
    }
    let (count, at) = header(buf, 0, b'*')?;
    if count < 2 {
        return None;
    }
    let (name_len, at) = header(buf, at, b'$')?;
    let (key_len, at) = header(buf, at + name_len + 2, b'$')?;
    buf.get(at..at + key_len)
}

/// Redis's "expected '$', got 'x'" error, naming the byte it found.
fn expected_dollar(got: u8) -> ProtocolError {
    ProtocolError(format!("expected '$', got '{}'", got as char).into())
}

/// Reads a `*N\r\n` or `$N\r\n` header line starting at `buf[0]`.
/// Returns `(Some(n) | None if not a number, bytes used)` or `None` if the line is incomplete.
/// `scanned` is how much of the line earlier calls searched; it is 0 again once the line is
/// complete.
fn read_line_number(
    buf: &BytesMut,
    too_long: &'static str,
    scanned: &mut usize,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(cr) = find_from(buf, b'\r', scanned, INLINE_MAX_BYTES + 2) else {
        if buf.len() > INLINE_MAX_BYTES {
            return Err(ProtocolError::new(too_long));
        }
        return Ok(None);
    };
    if cr + 1 >= buf.len() {
        *scanned = cr; // have the \r, not yet the \n
        return Ok(None);
    }
    *scanned = 0;
    let digits = &buf[1..cr];
    Ok(Some((parse_header_number(digits), cr + 2)))
}

/// The first `byte` in `buf[..limit]`, searching only past `*scanned`; when there is none,
/// `*scanned` records how far the search went.
fn find_from(buf: &[u8], byte: u8, scanned: &mut usize, limit: usize) -> Option<usize> {
    let end = buf.len().min(limit);
    let start = (*scanned).min(end);
    match buf[start..end].iter().position(|&b| b == byte) {
        Some(i) => Some(start + i),
        None => {
            *scanned = end;
            None
        }
    }
}

/// Parses a header number like Redis's `string2ll`: optional `-`, digits, no overflow.
fn parse_header_number(digits: &[u8]) -> Option<i64> {
    crate::store::value::parse_i64_strict(digits)
}

/// Parses one inline command (space-separated, with `sdssplitargs` quoting). `scanned` as
/// for [`read_line_number`].
fn parse_inline(
    buf: &mut BytesMut,
    scanned: &mut usize,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = find_from(buf, b'\n', scanned, INLINE_MAX_BYTES + 1) else {
        if buf.len() > INLINE_MAX_BYTES {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    *scanned = 0;
    let line = buf.split_to(newline + 1);
    let mut line = &line[..newline];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    match split_args(line) {
        Some(args) => Ok(Some(args)),
        None => Err(ProtocolError::new("unbalanced quotes in request")),
    }
}

/// Splits a line into arguments the way Redis's `sdssplitargs` does: whitespace separates,
/// `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'` understands only `\'`, and a
/// closing quote must be followed by whitespace or the end. `None` means unbalanced quotes.
///
/// `sdssplitargs` reads a C string, so a NUL byte ends the line: what follows it is ignored,
/// and a quote still open there is unbalanced. "Whitespace" is C's `isspace` (vertical tab
/// and form feed included) between arguments; inside an unquoted argument only space, tab,
/// CR and LF end it, as in Redis.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        // line[i] is neither a space nor NUL, so the loop below consumes at least one byte.
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).expect("checked hex") as u8;
                    current.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => current.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(current));
    }
}

/// C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_second_arg_finds_a_buffered_key_and_consumes_nothing() {
        let req = b"*2\r\n$4\r\nINCR\r\n$10\r\nkey:000001\r\n*1\r\n";
        assert_eq!(peek_second_arg(req), Some(&b"key:000001"[..]));
        // Without its CRLF the key is still all there.
        assert_eq!(peek_second_arg(&req[..29]), Some(&b"key:000001"[..]));
        for cut in 0..29 {
            assert_eq!(peek_second_arg(&req[..cut]), None, "cut at {cut}");
        }
        for other in [
            &b"*1\r\n$4\r\nPING\r\n"[..],
            b"GET key\r\n",
            b"*2\r\n$3\r\nGET\r\n:5\r\n",
            b"*2\r\n$-1\r\n$1\r\nk\r\n",
            b"*2\r\n$\r\n$1\r\nk\r\n",
            b"*2\r\n$3\r\nGET\r\n$99999999\r\nk",
        ] {
            assert_eq!(
                peek_second_arg(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
        assert_eq!(
            peek_second_arg(b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n"),
            Some(&b""[..])
        );
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = RequestParser::new(512 * 1024 * 1024);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(req) = parser.parse(&mut buf)? {
            out.push(req);
        }
        Ok(out)
    }

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn multibulk_and_inline_requests_parse_in_order() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\n*0\r\n").unwrap();
        assert_eq!(
            got,
            vec![args(&["GET", "k"]), args(&["PING"]), vec![], vec![]]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let input = b"*3\r\n$3\r\nSET\r\n$4\r\nname\r\n$8\r\nzhangsan\r\nget name\r\n";
        for split in 0..input.len() {
            let mut parser = RequestParser::new(1 << 20);
            let mut buf = BytesMut::from(&input[..split]);
            let mut out = Vec::new();
            while let Some(req) = parser.parse(&mut buf).unwrap() {
                out.push(req);
            }
            buf.extend_from_slice(&input[split..]);
            while let Some(req) = parser.parse(&mut buf).unwrap() {
                out.push(req);
            }
            assert_eq!(
                out,
                vec![args(&["SET", "name", "zhangsan"]), args(&["get", "name"])],
                "split at {split}"
            );
        }
    }

    #[test]
    fn absurd_lengths_are_rejected_without_allocating() {
        assert_eq!(
            parse_all(b"*999999999999\r\n"),
            Err(ProtocolError::new("invalid multibulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n"),
            Err(ProtocolError::new("invalid bulk length"))
        );
        let mut parser = RequestParser::new(100);
        let mut buf = BytesMut::from(&b"*1\r\n$101\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf),
            Err(ProtocolError::new("invalid bulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\nx"),
            Err(ProtocolError::new("expected '$', got 'x'"))
        );
        assert_eq!(
            parse_all(b"*abc\r\n"),
            Err(ProtocolError::new("invalid multibulk length"))
        );
    }

    #[test]
    fn a_huge_multibulk_count_reserves_little() {
        let mut parser = RequestParser::new(1 << 20);
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(parser.partial.as_ref().unwrap().args.capacity() <= MAX_PREALLOCATED_ARGS);
    }

    #[test]
    fn a_huge_bulk_header_reserves_little() {
        let mut parser = RequestParser::new(512 * 1024 * 1024);
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(
            buf.capacity() <= 2 * BULK_RESERVE_AHEAD_BYTES,
            "{}",
            buf.capacity()
        );
    }

    #[test]
    fn a_line_arriving_a_byte_at_a_time_is_searched_once() {
        let mut parser = RequestParser::new(1 << 20);
        let mut buf = BytesMut::new();
        let line = format!("SET k {}\r\n", "v".repeat(1000));
        for &b in &line.as_bytes()[..line.len() - 1] {
            buf.extend_from_slice(&[b]);
            assert_eq!(parser.parse(&mut buf), Ok(None));
            assert_eq!(parser.scanned, buf.len());
        }
        buf.extend_from_slice(b"\n");
        let request = parser.parse(&mut buf).unwrap().unwrap();
        assert_eq!(request.len(), 3);
        assert_eq!(parser.scanned, 0);
        // The same for a multibulk header, whose \r may arrive before its \n.
        for &b in b"*1\r" {
            buf.extend_from_slice(&[b]);
            assert_eq!(parser.parse(&mut buf), Ok(None));
        }
        buf.extend_from_slice(b"\n$4\r\nPING\r\n");
        assert_eq!(parser.parse(&mut buf).unwrap().unwrap(), args(&["PING"]));
    }

    #[test]
    fn unauthenticated_clients_get_tight_limits() {
        let mut parser = RequestParser::new(1 << 20);
        parser.authenticated = false;
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf),
            Err(ProtocolError::new("unauthenticated multibulk length"))
        );
    }

    #[test]
    fn overlong_lines_are_protocol_errors() {
        let long = vec![b'a'; INLINE_MAX_BYTES + 10];
        assert_eq!(
            parse_all(&long),
            Err(ProtocolError::new("too big inline request"))
        );
        let mut header = b"*".to_vec();
        header.extend(vec![b'1'; INLINE_MAX_BYTES + 10]);
        assert_eq!(
            parse_all(&header),
            Err(ProtocolError::new("too big mbulk count string"))
        );
    }

    #[test]
    fn inline_quoting_follows_sdssplitargs() {
        assert_eq!(
            split_args(br#"set "a b" 'c\'d' "\x41\n""#).unwrap(),
            vec![
                Bytes::from("set"),
                Bytes::from("a b"),
                Bytes::from("c'd"),
                Bytes::from("A\n")
            ]
        );
        assert_eq!(split_args(br#"set "abc"#), None);
        assert_eq!(split_args(br#"set "a"b"#), None);
        assert_eq!(split_args(b"   ").unwrap(), Vec::<Bytes>::new());
        assert_eq!(
            parse_all(b"set \"a\r\n"),
            Err(ProtocolError::new("unbalanced quotes in request"))
        );
    }

    /// Regression: a NUL byte at the start of an argument was neither skipped as a separator
    /// nor consumed, so the splitter pushed empty arguments forever (an 8 GB allocation, then
    /// an abort). `sdssplitargs` reads a C string: the NUL ends the line.
    #[test]
    fn a_nul_byte_ends_an_inline_line() {
        assert_eq!(split_args(b"\0").unwrap(), Vec::<Bytes>::new());
        assert_eq!(split_args(b"get a \0b c").unwrap(), args(&["get", "a"]));
        assert_eq!(split_args(b"get a\0b").unwrap(), args(&["get", "a"]));
        assert_eq!(split_args(b"set \"a\0b\" c"), None);
        assert_eq!(split_args(b"set 'a'\0x").unwrap(), args(&["set", "a"]));
        assert_eq!(
            parse_all(b"\0\r\nPING \0\0\r\n").unwrap(),
            vec![vec![], args(&["PING"])]
        );
    }

    #[test]
    fn vertical_tab_and_form_feed_separate_but_do_not_end_an_argument() {
        assert_eq!(split_args(b"\x0bget\x0ck").unwrap(), args(&["get\x0ck"]));
        assert_eq!(split_args(b"get \x0b k").unwrap(), args(&["get", "k"]));
        assert_eq!(split_args(b"\"a\"\x0bb").unwrap(), args(&["a", "b"]));
    }
}
