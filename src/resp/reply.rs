//! [`Reply`]: the value a command answers, and its encoding in RESP2 or RESP3.
//!
//! Commands build one `Reply` value and never see the protocol version; the connection encodes
//! it for the version its client chose with `HELLO` (`networking.c`'s `addReply*` family makes
//! the same choice per reply). RESP3-only shapes degrade as Redis degrades them in RESP2: a map
//! becomes a flat array, a set an array, a double a bulk string, a verbatim string a bulk
//! string, a boolean an integer, null a null bulk (`$-1`) or null array (`*-1`).

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use crate::store::Str;

/// One reply, or a sequence of them, or none.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `+OK`.
    Simple(Bytes),
    /// `-ERR ...`: the whole text after the `-`, error code first.
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    /// A bulk string read out of the keyspace, encoded exactly as [`Reply::Bulk`]: a short one
    /// is carried inline, so a reply of many short elements (LRANGE, GET) allocates nothing
    /// per element.
    Str(Str),
    /// An array of bulk strings encoded as it was read out of a value (LRANGE): the same bytes
    /// in RESP2 and RESP3, written once, with no value per element.
    Bulks(BulkArray),
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Double(f64),
    /// Members with scores (ZRANGE ... WITHSCORES, ZPOPMIN with a count): a flat array
    /// `member, score, ...` with scores as `%.17g` bulk strings in RESP2, an array of
    /// `[member, double]` pairs in RESP3, as Redis 7.0 replies.
    ScoredPairs(Vec<(Bytes, f64)>),
    Bool(bool),
    /// Verbatim text (INFO, CLUSTER INFO/NODES): `=len\r\ntxt:...` in RESP3, bulk in RESP2.
    Verbatim(Bytes),
    /// An out-of-band message (pub/sub, MONITOR): `>` in RESP3, an array in RESP2.
    Push(Vec<Reply>),
    /// Several top-level replies for one command (`SUBSCRIBE a b` confirms each channel).
    Many(Vec<Reply>),
    /// No reply at all (`REPLCONF ACK`, a client that blocked).
    None,
}

/// Replies are equal when they encode the same: a [`Reply::Str`] equals the [`Reply::Bulk`]
/// with the same bytes.
impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        use Reply::*;
        match (self, other) {
            (Bulk(a), Str(b)) | (Str(b), Bulk(a)) => a[..] == b[..],
            (Str(a), Str(b)) => a == b,
            (Bulk(a), Bulk(b)) | (Simple(a), Simple(b)) | (Verbatim(a), Verbatim(b)) => a == b,
            (Error(a), Error(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Null, Null) | (NullArray, NullArray) | (None, None) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) | (Many(a), Many(b)) => {
                a == b
            }
            (Bulks(a), Bulks(b)) => a == b,
            (Bulks(bulks), Array(items)) | (Array(items), Bulks(bulks)) => {
                bulks.len() == items.len()
                    && bulks.iter().zip(items).all(|(bulk, item)| match item {
                        Bulk(b) => b[..] == *bulk,
                        Str(s) => s[..] == *bulk,
                        _ => false,
                    })
            }
            (Map(a), Map(b)) => a == b,
            (Double(a), Double(b)) => a == b,
            (ScoredPairs(a), ScoredPairs(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// A bulk string copied from `data`.
    pub fn bulk(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string holding a formatted number or text.
    pub fn bulk_string(text: String) -> Reply {
        Reply::Bulk(Bytes::from(text))
    }

    /// An array of bulk strings.
    pub fn bulks<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// An error reply with the full Redis text, e.g. `"ERR syntax error"`.
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of this reply to `out`.
    pub fn encode(&self, resp3: bool, out: &mut BytesMut) {
        match self {
            Reply::Simple(s) => put_line(out, b'+', s),
            Reply::Error(e) => put_line(out, b'-', e.as_bytes()),
            Reply::Int(n) => put_header(out, b':', *n),
            Reply::Bulk(b) => put_bulk(out, b),
            Reply::Str(s) => put_bulk(out, s),
            Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => put_aggregate(out, b'*', items, resp3),
            Reply::Bulks(bulks) => {
                put_header(out, b'*', bulks.len() as i64);
                out.extend_from_slice(&bulks.encoded);
            }
            Reply::Set(items) => put_aggregate(out, if resp3 { b'~' } else { b'*' }, items, resp3),
            Reply::Push(items) => put_aggregate(out, if resp3 { b'>' } else { b'*' }, items, resp3),
            Reply::Map(pairs) => {
                if resp3 {
                    put_header(out, b'%', pairs.len() as i64);
                } else {
                    put_header(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    out.put_u8(b',');
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                } else {
                    put_bulk(out, text.as_bytes());
                }
            }
            Reply::ScoredPairs(pairs) if resp3 => {
                put_header(out, b'*', pairs.len() as i64);
                for (member, score) in pairs {
                    out.extend_from_slice(b"*2\r\n");
                    put_bulk(out, member);
                    Reply::Double(*score).encode(true, out);
                }
            }
            Reply::ScoredPairs(pairs) => {
                put_header(out, b'*', 2 * pairs.len() as i64);
                for (member, score) in pairs {
                    put_bulk(out, member);
                    put_bulk(out, format_double(*score).as_bytes());
                }
            }
            Reply::Bool(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(b) => put_header(out, b':', *b as i64),
            Reply::Verbatim(text) if resp3 => {
                put_header(out, b'=', text.len() as i64 + 4);
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Verbatim(text) => put_bulk(out, text),
            Reply::Many(replies) => {
                for reply in replies {
                    reply.encode(resp3, out);
                }
            }
            Reply::None => {}
        }
    }
}

/// An array of bulk strings kept in its wire encoding ([`Reply::Bulks`]): built element by
/// element straight from a value's bytes, written to a connection with one copy. Redis's
/// `addReplyBulkCBuffer` calls write each element into the client's buffer the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkArray {
    len: usize,
    /// `$<len>\r\n<bytes>\r\n` per element, without the array header.
    encoded: Bytes,
}

impl BulkArray {
    /// How many elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size of the elements' encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }

    /// The elements, in order (for callers that need values: scripts, tests).
    pub fn iter(&self) -> BulkArrayIter<'_> {
        BulkArrayIter {
            rest: &self.encoded,
        }
    }

    /// The elements as a plain array reply.
    pub fn to_array(&self) -> Reply {
        Reply::Array(self.iter().map(Reply::bulk).collect())
    }
}

/// Builds a [`BulkArray`]; `capacity_hint` is the expected encoded size in bytes.
#[derive(Debug, Default)]
pub struct BulkArrayBuilder {
    len: usize,
    encoded: BytesMut,
}

impl BulkArrayBuilder {
    pub fn with_capacity(capacity_hint: usize) -> BulkArrayBuilder {
        BulkArrayBuilder {
            len: 0,
            encoded: BytesMut::with_capacity(capacity_hint),
        }
    }

    /// Appends one bulk string.
    pub fn push(&mut self, data: &[u8]) {
        self.len += 1;
        put_bulk(&mut self.encoded, data);
    }

    /// Appends an integer as a bulk string of its decimal digits.
    pub fn push_int(&mut self, value: i64) {
        self.push(itoa::Buffer::new().format(value).as_bytes());
    }

    pub fn finish(self) -> Reply {
        Reply::Bulks(BulkArray {
            len: self.len,
            encoded: self.encoded.freeze(),
        })
    }
}

/// The elements of a [`BulkArray`].
pub struct BulkArrayIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for BulkArrayIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Only `BulkArrayBuilder::push` writes the bytes, so each element is well formed.
        let header_end = self.rest.iter().position(|&b| b == b'\r')?;
        let len: usize = std::str::from_utf8(&self.rest[1..header_end])
            .ok()?
            .parse()
            .ok()?;
        let start = header_end + 2;
        let element = &self.rest[start..start + len];
        self.rest = &self.rest[start + len + 2..];
        Some(element)
    }
}

/// Appends a one-line reply (status or error). A CR or LF inside would break the protocol, so
/// each becomes a space, as Redis's `addReplyErrorLength` / `addReplyStatusLength` callers map
/// them (an unknown command quoting a multi-line argument, a script's status reply).
fn put_line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.put_u8(kind);
    let start = out.len();
    out.extend_from_slice(text);
    for byte in &mut out[start..] {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn put_header(out: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    out.put_u8(kind);
    out.extend_from_slice(digits.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    put_header(out, b'$', data.len() as i64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn put_aggregate(out: &mut BytesMut, kind: u8, items: &[Reply], resp3: bool) {
    put_header(out, kind, items.len() as i64);
    for item in items {
        item.encode(resp3, out);
    }
}

/// Formats a double as Redis 7.0's `addReplyDouble` does: C's `%.17g`, and `inf`/`-inf`/`nan`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(d, 17)
}

/// C's `%.{precision}g` for a finite double.
pub fn format_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let precision = precision.max(1);
    let sci = format!("{:.*e}", precision - 1, d);
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(reply: &Reply, resp3: bool) -> String {
        let mut out = BytesMut::new();
        reply.encode(resp3, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        let map = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(enc(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Null, false), "$-1\r\n");
        assert_eq!(enc(&Reply::NullArray, false), "*-1\r\n");
        assert_eq!(enc(&Reply::Null, true), "_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), false), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        assert_eq!(
            enc(&Reply::Verbatim(Bytes::from("a:1\r\n")), true),
            "=9\r\ntxt:a:1\r\n\r\n"
        );
        assert_eq!(enc(&Reply::Set(vec![Reply::Int(1)]), true), "~1\r\n:1\r\n");
        assert_eq!(enc(&Reply::Push(vec![]), true), ">0\r\n");
        assert_eq!(enc(&Reply::Bool(true), false), ":1\r\n");
        assert_eq!(enc(&Reply::error("ERR x"), false), "-ERR x\r\n");
        assert_eq!(enc(&Reply::None, false), "");
        let scored = Reply::ScoredPairs(vec![(Bytes::from("a"), 0.1)]);
        assert_eq!(
            enc(&scored, false),
            "*2\r\n$1\r\na\r\n$19\r\n0.10000000000000001\r\n"
        );
        assert_eq!(
            enc(&scored, true),
            "*1\r\n*2\r\n$1\r\na\r\n,0.10000000000000001\r\n"
        );
    }

    #[test]
    fn a_bulk_array_encodes_and_compares_as_the_array_it_stands_for() {
        let mut builder = BulkArrayBuilder::with_capacity(16);
        builder.push(b"a\r\nb");
        builder.push(b"");
        builder.push_int(-12);
        let bulks = builder.finish();
        let array = Reply::Array(vec![
            Reply::bulk(b"a\r\nb"),
            Reply::bulk(b""),
            Reply::bulk(b"-12"),
        ]);
        for resp3 in [false, true] {
            assert_eq!(enc(&bulks, resp3), enc(&array, resp3));
            assert_eq!(
                enc(&bulks, resp3),
                "*3\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$3\r\n-12\r\n"
            );
        }
        assert_eq!(bulks, array);
        assert_eq!(array, bulks);
        assert_ne!(bulks, Reply::Array(vec![Reply::bulk(b"a\r\nb")]));
        let Reply::Bulks(inner) = &bulks else {
            unreachable!()
        };
        assert_eq!(inner.to_array(), array);
        assert_eq!(enc(&BulkArrayBuilder::default().finish(), true), "*0\r\n");
    }

    #[test]
    fn doubles_print_like_percent_17g() {
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.5e-5), "-2.5000000000000001e-05");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(
            format_double(123456789012345680.0),
            "1.2345678901234568e+17"
        );
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(0.0001), "0.0001");
    }
}
