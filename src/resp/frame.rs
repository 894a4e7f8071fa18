//! RESP2/RESP3 frames as a *client* sees them, an incremental bounded parser for them, and the
//! encoder for requests (multibulk commands).
//!
//! This is the client half of the wire: replies come in through [`parse`], commands go out
//! through [`encode_command`]. It follows the RESP3 specification (`RESP3.md` in
//! redis/redis-specifications) and what hiredis accepts, with these choices:
//!
//! * RESP2's null bulk `$-1` and null array `*-1` and RESP3's `_` all become [`Frame::Null`]:
//!   hiredis (and so redis-cli) does not tell them apart either.
//! * RESP3 blob errors `!<len>` become [`Frame::Error`], like simple errors.
//! * Attributes `|<n>` are parsed and dropped; the frame that follows is returned.
//! * Doubles keep the text seen on the wire next to the value, because redis-cli prints that
//!   text (`(double) 0.10000000000000001`), not a re-formatted number.
//! * Streamed strings and aggregates (`$?`, `*?`) are rejected: Redis never sends them.
//!
//! Limits: a bulk string or single line may be at most [`MAX_BULK_LEN`] bytes (Redis's default
//! `proto-max-bulk-len`), an aggregate at most [`MAX_AGGREGATE_LEN`] elements, nesting at most
//! [`MAX_DEPTH`] levels. Lengths are checked before anything is allocated, and pre-allocation
//! is capped, so a hostile length costs nothing until its bytes really arrive.
//!
//! The parser first checks, without allocating, that a whole frame is buffered, then builds it
//! from zero-copy slices of the buffer. A frame arriving in many small reads is re-checked on
//! each read; that is cheap next to the network for the reply sizes a CLI sees.

use bytes::{BufMut, Bytes, BytesMut};

/// Largest bulk string or simple line accepted, in bytes (Redis's `proto-max-bulk-len`).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Largest element count accepted for an array, set, push or map (pairs for a map).
pub const MAX_AGGREGATE_LEN: usize = i32::MAX as usize;
/// Deepest nesting of aggregates accepted (a top-level array is depth 1).
pub const MAX_DEPTH: usize = 64;
/// Longest header line (type byte, digits, CRLF) for lengths and numbers, in bytes.
const MAX_HEADER_LINE: usize = 64;
/// Pre-allocation cap for aggregates, in elements: the rest grows as elements are built.
const PREALLOC_CAP: usize = 1024;

/// One RESP2 or RESP3 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a simple (status) string.
    Simple(Bytes),
    /// `-ERR ...` or a RESP3 blob error `!<len>`: the text without the leading `-`.
    Error(Bytes),
    /// `:1`: a signed 64-bit integer.
    Integer(i64),
    /// `$<len>`: a binary-safe bulk string.
    Bulk(Bytes),
    /// `$-1`, `*-1` (RESP2) or `_` (RESP3).
    Null,
    /// `*<n>`: an array.
    Array(Vec<Frame>),
    /// `%<n>`: a RESP3 map, pairs in wire order.
    Map(Vec<(Frame, Frame)>),
    /// `~<n>`: a RESP3 set, in wire order.
    Set(Vec<Frame>),
    /// `,<text>`: a RESP3 double; `text` is exactly what was on the wire (`inf`, `1.5`).
    Double {
        /// The parsed value.
        value: f64,
        /// The text as sent, which redis-cli prints.
        text: Bytes,
    },
    /// `#t` / `#f`: a RESP3 boolean.
    Boolean(bool),
    /// `(<digits>`: a RESP3 big number, as its decimal text.
    BigNumber(Bytes),
    /// `=<len>`: a RESP3 verbatim string: a three-byte format (`txt`, `mkd`) and the text.
    Verbatim {
        /// The format, e.g. `b"txt"`.
        format: [u8; 3],
        /// The text after `xxx:`.
        text: Bytes,
    },
    /// `><n>`: a RESP3 out-of-band push (pub/sub messages, invalidations).
    Push(Vec<Frame>),
}

/// Why bytes could not be parsed as RESP. The connection is unusable afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte of a frame is not a RESP type byte.
    #[error("invalid frame type byte {0:#04x}")]
    InvalidType(u8),
    /// A length, integer or big number is not a valid decimal.
    #[error("invalid number in frame header")]
    InvalidNumber,
    /// A negative length other than `-1`.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A length beyond the limits of this module.
    #[error("length {len} exceeds the limit of {max}")]
    TooLarge {
        /// The length announced.
        len: u64,
        /// The limit it exceeds.
        max: u64,
    },
    /// Aggregates nested deeper than [`MAX_DEPTH`].
    #[error("aggregates nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A header line without CRLF within its length limit, or a bulk not followed by CRLF.
    #[error("missing CRLF terminator")]
    MissingCrlf,
    /// A boolean other than `#t` or `#f`.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A double that does not parse.
    #[error("invalid double")]
    InvalidDouble,
    /// A verbatim string shorter than its `xxx:` format prefix.
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    /// A RESP3 streamed string or aggregate (`$?`, `*?`), which Redis never sends.
    #[error("streamed RESP3 types are not supported")]
    Streamed,
}

impl Frame {
    /// A double frame whose wire text is Rust's shortest round-trip form of `value`.
    pub fn double(value: f64) -> Frame {
        let text = if value.is_infinite() {
            if value > 0.0 { "inf" } else { "-inf" }.to_string()
        } else if value.is_nan() {
            "nan".to_string()
        } else {
            value.to_string()
        };
        Frame::Double {
            value,
            text: Bytes::from(text),
        }
    }

    /// A bulk frame from anything byte-like.
    pub fn bulk(data: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A simple-string frame.
    pub fn simple(text: &str) -> Frame {
        Frame::Simple(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// An error frame (`text` without the leading `-`).
    pub fn error(text: &str) -> Frame {
        Frame::Error(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// The bytes of a string-like frame: simple, error, bulk, verbatim text, big number.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(b) | Frame::Error(b) | Frame::Bulk(b) | Frame::BigNumber(b) => Some(b),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The text of a string-like frame, if it is UTF-8 (see [`Frame::as_bytes`]).
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The value of an integer frame.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// True for an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Writes the frame in RESP (RESP3 types where the frame is a RESP3 type).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            // A RESP3 blob error may hold CR/LF, which a `-` line cannot carry.
            Frame::Error(s) if s.contains(&b'\r') || s.contains(&b'\n') => {
                line(out, b'!', s.len().to_string().as_bytes());
                out.put_slice(s);
                out.put_slice(b"\r\n");
            }
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Frame::Bulk(b) => {
                line(out, b'$', b.len().to_string().as_bytes());
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Array(items) => aggregate(out, b'*', items),
            Frame::Set(items) => aggregate(out, b'~', items),
            Frame::Push(items) => aggregate(out, b'>', items),
            Frame::Map(pairs) => {
                line(out, b'%', pairs.len().to_string().as_bytes());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Frame::Double { text, .. } => line(out, b',', text),
            Frame::Boolean(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(n) => line(out, b'(', n),
            Frame::Verbatim { format, text } => {
                line(out, b'=', (text.len() + 4).to_string().as_bytes());
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
        }
    }
}

fn line(out: &mut BytesMut, kind: u8, body: &[u8]) {
    out.put_u8(kind);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, kind: u8, items: &[Frame]) {
    line(out, kind, items.len().to_string().as_bytes());
    for item in items {
        item.encode(out);
    }
}

/// Writes `args` as one RESP multibulk request (`*<n>\r\n$<len>\r\n<arg>\r\n...`).
pub fn encode_command(args: &[impl AsRef<[u8]>], out: &mut BytesMut) {
    line(out, b'*', args.len().to_string().as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        line(out, b'$', arg.len().to_string().as_bytes());
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

/// Takes one whole frame off the front of `buf`.
///
/// Returns `Ok(None)` and leaves `buf` untouched while the frame is incomplete; on success
/// the frame's bytes are removed from `buf`. An `Err` means the stream is not valid RESP (or
/// breaks a limit) and should be closed.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    let end = match check(buf, 0, 1)? {
        Some(end) => end,
        None => return Ok(None),
    };
    let bytes = buf.split_to(end).freeze();
    let (frame, used) = build(&bytes, 0)?;
    debug_assert_eq!(used, end);
    Ok(Some(frame))
}

/// What kind of body follows a frame header.
enum Shape {
    /// The whole frame is its header line.
    Line,
    /// `len` bytes of payload and CRLF follow (`$`, `!`, `=`), or it was a null.
    Blob(Option<usize>),
    /// `n` child frames follow (`n` already doubled for maps); `None` is a null array.
    Children(Option<usize>),
    /// An attribute map of `n` pairs, then the real frame.
    Attribute(usize),
}

/// Finds the header line starting at `pos`: returns the end of the line body and the index
/// just past its CRLF. `limit` bounds the line length.
fn find_line(buf: &[u8], pos: usize, limit: usize) -> Result<Option<(usize, usize)>, FrameError> {
    let window_end = buf.len().min(pos.saturating_add(limit));
    match buf[pos..window_end].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let nl = pos + i;
            if nl == pos || buf[nl - 1] != b'\r' {
                return Err(FrameError::MissingCrlf);
            }
            Ok(Some((nl - 1, nl + 1)))
        }
        None if window_end - pos >= limit => Err(FrameError::MissingCrlf),
        None => Ok(None),
    }
}

fn parse_i64(text: &[u8]) -> Result<i64, FrameError> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(FrameError::InvalidNumber);
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(FrameError::InvalidNumber);
        }
        let d = i64::from(d - b'0');
        n = n
            .checked_mul(10)
            .and_then(|n| {
                if neg {
                    n.checked_sub(d)
                } else {
                    n.checked_add(d)
                }
            })
            .ok_or(FrameError::InvalidNumber)?;
    }
    Ok(n)
}

/// A length header: `-1` is a null, other negatives are errors, and `max` bounds the rest.
fn parse_len(text: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    if text == b"?" {
        return Err(FrameError::Streamed);
    }
    match parse_i64(text)? {
        -1 => Ok(None),
        n if n < 0 => Err(FrameError::InvalidLength(n)),
        n if n as u64 > max as u64 => Err(FrameError::TooLarge {
            len: n as u64,
            max: max as u64,
        }),
        n => Ok(Some(n as usize)),
    }
}

fn parse_double(text: &[u8]) -> Result<f64, FrameError> {
    let s = std::str::from_utf8(text).map_err(|_| FrameError::InvalidDouble)?;
    match s {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| FrameError::InvalidDouble),
    }
}

/// Reads the header at `pos`: the type byte, the line body, where the line ends, and the
/// shape of what follows. Validates the line (numbers, booleans, doubles) on the way.
fn header(buf: &[u8], pos: usize) -> Result<Option<(u8, usize, usize, Shape)>, FrameError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let limit = match kind {
        b'+' | b'-' | b'(' | b',' => MAX_BULK_LEN,
        _ => MAX_HEADER_LINE,
    };
    let Some((body_end, next)) = find_line(buf, pos + 1, limit)? else {
        return Ok(None);
    };
    let body = &buf[pos + 1..body_end];
    let shape = match kind {
        b'+' | b'-' => Shape::Line,
        b':' => {
            parse_i64(body)?;
            Shape::Line
        }
        b'(' => {
            let digits = body.strip_prefix(b"-").unwrap_or(body);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::InvalidNumber);
            }
            Shape::Line
        }
        b',' => {
            parse_double(body)?;
            Shape::Line
        }
        b'#' => match body {
            b"t" | b"f" => Shape::Line,
            _ => return Err(FrameError::InvalidBoolean),
        },
        b'_' => {
            if !body.is_empty() {
                return Err(FrameError::MissingCrlf);
            }
            Shape::Line
        }
        b'$' | b'!' | b'=' => {
            let len = parse_len(body, MAX_BULK_LEN)?;
            if kind != b'$' && len.is_none() {
                return Err(FrameError::InvalidLength(-1));
            }
            if kind == b'=' && len.is_some_and(|n| n < 4) {
                return Err(FrameError::InvalidVerbatim);
            }
            Shape::Blob(len)
        }
        b'*' | b'~' | b'>' => {
            let n = parse_len(body, MAX_AGGREGATE_LEN)?;
            if kind != b'*' && n.is_none() {
                return Err(FrameError::InvalidLength(-1));
            }
            Shape::Children(n)
        }
        b'%' | b'|' => {
            let n = parse_len(body, MAX_AGGREGATE_LEN)?.ok_or(FrameError::InvalidLength(-1))?;
            if kind == b'|' {
                Shape::Attribute(n)
            } else {
                Shape::Children(Some(n * 2))
            }
        }
        other => return Err(FrameError::InvalidType(other)),
    };
    Ok(Some((kind, body_end, next, shape)))
}

/// Checks that a whole frame starts at `pos`; returns the index just past it.
fn check(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, FrameError> {
    let Some((_, _, next, shape)) = header(buf, pos)? else {
        return Ok(None);
    };
    match shape {
        Shape::Line | Shape::Blob(None) | Shape::Children(None) => Ok(Some(next)),
        Shape::Blob(Some(len)) => {
            let end = next + len + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(FrameError::MissingCrlf);
            }
            Ok(Some(end))
        }
        Shape::Children(Some(n)) => {
            if depth > MAX_DEPTH {
                return Err(FrameError::TooDeep);
            }
            let mut at = next;
            for _ in 0..n {
                match check(buf, at, depth + 1)? {
                    Some(end) => at = end,
                    None => return Ok(None),
                }
            }
            Ok(Some(at))
        }
        Shape::Attribute(n) => {
            if depth > MAX_DEPTH {
                return Err(FrameError::TooDeep);
            }
            let mut at = next;
            for _ in 0..n * 2 {
                match check(buf, at, depth + 1)? {
                    Some(end) => at = end,
                    None => return Ok(None),
                }
            }
            // The attributed frame counts one level deeper, so chained attributes are bounded.
            check(buf, at, depth + 1)
        }
    }
}

/// Builds the frame at `pos` of a buffer already known (by [`check`]) to hold it whole.
fn build(buf: &Bytes, pos: usize) -> Result<(Frame, usize), FrameError> {
    let (kind, body_end, next, shape) = header(buf, pos)?.ok_or(FrameError::MissingCrlf)?;
    let body = || buf.slice(pos + 1..body_end);
    let frame = match shape {
        Shape::Line => match kind {
            b'+' => Frame::Simple(body()),
            b'-' => Frame::Error(body()),
            b':' => Frame::Integer(parse_i64(&body())?),
            b'(' => Frame::BigNumber(body()),
            b',' => {
                let text = body();
                Frame::Double {
                    value: parse_double(&text)?,
                    text,
                }
            }
            b'#' => Frame::Boolean(buf[pos + 1] == b't'),
            _ => Frame::Null,
        },
        Shape::Blob(None) | Shape::Children(None) => Frame::Null,
        Shape::Blob(Some(len)) => {
            let data = buf.slice(next..next + len);
            let end = next + len + 2;
            let frame = match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::Error(data),
                _ => Frame::Verbatim {
                    format: [data[0], data[1], data[2]],
                    text: data.slice(4..),
                },
            };
            return Ok((frame, end));
        }
        Shape::Children(Some(n)) => {
            let mut at = next;
            let mut items = Vec::with_capacity(n.min(PREALLOC_CAP));
            for _ in 0..n {
                let (item, end) = build(buf, at)?;
                items.push(item);
                at = end;
            }
            let frame = match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            };
            return Ok((frame, at));
        }
        Shape::Attribute(n) => {
            let mut at = next;
            for _ in 0..n * 2 {
                at = build(buf, at)?.1;
            }
            return build(buf, at);
        }
    };
    Ok((frame, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (found by the `resp_reply` fuzz target): a blob error holding CRLF was
    /// encoded as a `-` line, which the parser then read as a shorter error and garbage.
    #[test]
    fn a_blob_error_with_crlf_encodes_as_a_blob_error() {
        let mut buf = BytesMut::from(&b"!21\r\nSYNTA\n*\r\n*alid syntax\r\n"[..]);
        let frame = parse(&mut buf).unwrap().unwrap();
        let mut encoded = BytesMut::new();
        frame.encode(&mut encoded);
        assert_eq!(&encoded[..], b"!21\r\nSYNTA\n*\r\n*alid syntax\r\n");
        let mut again = encoded.clone();
        assert_eq!(parse(&mut again).unwrap(), Some(frame));
        assert!(again.is_empty());
    }

    fn parse_all(bytes: &[u8]) -> Result<Option<Frame>, FrameError> {
        let mut buf = BytesMut::from(bytes);
        let r = parse(&mut buf);
        if let Ok(Some(_)) = r {
            assert!(buf.is_empty(), "leftover bytes after {bytes:?}");
        }
        r
    }

    fn cases() -> Vec<(&'static [u8], Frame)> {
        vec![
            (b"+OK\r\n", Frame::simple("OK")),
            (b"+\r\n", Frame::simple("")),
            (b"-ERR wrong\r\n", Frame::error("ERR wrong")),
            (b":0\r\n", Frame::Integer(0)),
            (b":-42\r\n", Frame::Integer(-42)),
            (b":9223372036854775807\r\n", Frame::Integer(i64::MAX)),
            (b":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
            (b"$5\r\nhello\r\n", Frame::bulk("hello")),
            (b"$0\r\n\r\n", Frame::bulk("")),
            (b"$4\r\na\r\nb\r\n", Frame::bulk("a\r\nb")),
            (b"$-1\r\n", Frame::Null),
            (b"*-1\r\n", Frame::Null),
            (b"_\r\n", Frame::Null),
            (b"*0\r\n", Frame::Array(vec![])),
            (
                b"*2\r\n$1\r\na\r\n:1\r\n",
                Frame::Array(vec![Frame::bulk("a"), Frame::Integer(1)]),
            ),
            (
                b"*2\r\n*1\r\n+x\r\n*0\r\n",
                Frame::Array(vec![
                    Frame::Array(vec![Frame::simple("x")]),
                    Frame::Array(vec![]),
                ]),
            ),
            (
                b"%1\r\n+k\r\n:1\r\n",
                Frame::Map(vec![(Frame::simple("k"), Frame::Integer(1))]),
            ),
            (b"%0\r\n", Frame::Map(vec![])),
            (b"~1\r\n+a\r\n", Frame::Set(vec![Frame::simple("a")])),
            (b",1.5\r\n", Frame::double(1.5)),
            (b",inf\r\n", Frame::double(f64::INFINITY)),
            (b",-inf\r\n", Frame::double(f64::NEG_INFINITY)),
            (b"#t\r\n", Frame::Boolean(true)),
            (b"#f\r\n", Frame::Boolean(false)),
            (
                b"(3492890328409238509324850943850943825024385\r\n",
                Frame::BigNumber(Bytes::from_static(
                    b"3492890328409238509324850943850943825024385",
                )),
            ),
            (
                b"=15\r\ntxt:Some string\r\n",
                Frame::Verbatim {
                    format: *b"txt",
                    text: Bytes::from_static(b"Some string"),
                },
            ),
            (
                b"!21\r\nSYNTAX invalid syntax\r\n",
                Frame::error("SYNTAX invalid syntax"),
            ),
            (
                b">2\r\n+message\r\n$2\r\nhi\r\n",
                Frame::Push(vec![Frame::simple("message"), Frame::bulk("hi")]),
            ),
            (b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", Frame::bulk("v")),
            (
                b"*1\r\n|1\r\n+a\r\n+b\r\n:7\r\n",
                Frame::Array(vec![Frame::Integer(7)]),
            ),
        ]
    }

    #[test]
    fn parses_every_type() {
        for (bytes, want) in cases() {
            assert_eq!(
                parse_all(bytes),
                Ok(Some(want)),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn double_keeps_wire_text() {
        let f = parse_all(b",0.10000000000000001\r\n").unwrap().unwrap();
        match f {
            Frame::Double { value, text } => {
                assert_eq!(value, 0.1);
                assert_eq!(&text[..], b"0.10000000000000001");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_all(b",nan\r\n"),
            Ok(Some(Frame::Double { value, .. })) if value.is_nan()
        ));
    }

    #[test]
    fn incomplete_at_every_split_point_then_complete() {
        for (bytes, want) in cases() {
            for split in 0..bytes.len() {
                let mut buf = BytesMut::from(&bytes[..split]);
                assert_eq!(parse(&mut buf), Ok(None), "split {split} of {bytes:?}");
                assert_eq!(buf.len(), split, "incomplete parse must not consume");
                buf.extend_from_slice(&bytes[split..]);
                assert_eq!(parse(&mut buf), Ok(Some(want.clone())));
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn pipelined_frames_come_out_one_at_a_time() {
        let mut buf = BytesMut::from(&b"+OK\r\n:1\r\n$1\r\nx"[..]);
        assert_eq!(parse(&mut buf), Ok(Some(Frame::simple("OK"))));
        assert_eq!(parse(&mut buf), Ok(Some(Frame::Integer(1))));
        assert_eq!(parse(&mut buf), Ok(None));
        buf.extend_from_slice(b"\r\n");
        assert_eq!(parse(&mut buf), Ok(Some(Frame::bulk("x"))));
    }

    #[test]
    fn encode_round_trips() {
        for (_, frame) in cases() {
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            assert_eq!(parse_all(&out), Ok(Some(frame)));
        }
    }

    #[test]
    fn absurd_lengths_are_rejected_before_allocating() {
        assert_eq!(
            parse_all(format!("${}\r\n", MAX_BULK_LEN + 1).as_bytes()),
            Err(FrameError::TooLarge {
                len: MAX_BULK_LEN as u64 + 1,
                max: MAX_BULK_LEN as u64
            })
        );
        assert!(matches!(
            parse_all(b"*9999999999999\r\n"),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(
            parse_all(b"$99999999999999999999999\r\n"),
            Err(FrameError::InvalidNumber)
        );
        // A huge but allowed array header with no elements yet is just incomplete.
        assert_eq!(parse_all(b"*2000000000\r\n"), Ok(None));
        assert_eq!(parse_all(b"$-2\r\n"), Err(FrameError::InvalidLength(-2)));
        assert_eq!(parse_all(b"~-1\r\n"), Err(FrameError::InvalidLength(-1)));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH - 1);
        ok.extend_from_slice(b":1\r\n");
        assert!(matches!(parse_all(&ok), Ok(Some(Frame::Array(_)))));
        let mut deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        deep.extend_from_slice(b":1\r\n");
        assert_eq!(parse_all(&deep), Err(FrameError::TooDeep));
        // Chained attributes count as nesting too.
        assert_eq!(
            parse_all(&b"|1\r\n+a\r\n+b\r\n".repeat(100_000)),
            Err(FrameError::TooDeep)
        );
        // Deep nesting is rejected even before the innermost element arrives.
        assert_eq!(
            parse_all(&b"*1\r\n".repeat(100_000)),
            Err(FrameError::TooDeep)
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let bad: &[&[u8]] = &[
            b"?x\r\n",
            b":12a\r\n",
            b":\r\n",
            b"$3\r\nabcd\r\n",
            b"#x\r\n",
            b",abc\r\n",
            b"=3\r\ntxt\r\n",
            b"$?\r\n",
            b"+OK\n",
            b"_x\r\n",
            b"(12x\r\n",
        ];
        for b in bad {
            assert!(parse_all(b).is_err(), "{:?}", String::from_utf8_lossy(b));
        }
        // A length line that never ends is refused once it is longer than any valid one.
        assert_eq!(parse_all(&[b'*'; 100]), Err(FrameError::MissingCrlf));
    }

    #[test]
    fn encode_command_writes_multibulk() {
        let mut out = BytesMut::new();
        encode_command(&["SET", "k", "a b"], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
        let mut out = BytesMut::new();
        encode_command(&[b"\x00\xff".as_slice()], &mut out);
        assert_eq!(&out[..], b"*1\r\n$2\r\n\x00\xff\r\n");
    }
}
