//! redis-cli's reply formatting, byte for byte.
//!
//! Follows `cliFormatReplyTTY`, `cliFormatReplyRaw` and `cliFormatReply` in redis-cli.c
//! (redis 7.0), with `sdscatrepr` from sds.c for quoting bulk strings:
//!
//! * TTY ("standard") mode, redis-cli's default on a terminal: `"quoted"` bulk strings,
//!   `(integer) 1`, `(nil)`, `(error) ERR ...`, numbered aggregates `1) ` (`1# k => v` for
//!   maps, `1~ ` for sets) whose nested lines are indented by the width of the parent's index.
//! * Raw mode, the default when stdout is not a terminal: bare values, aggregate elements one
//!   per line, nothing at all for nil.
//!
//! Two places differ from 7.0 on purpose, taking 7.2's behaviour: big numbers print as
//! `(big number) 123` and sets format in raw mode (7.0 aborts with "Unknown reply type" on both).
//! CSV output is left out.

use crate::resp::frame::Frame;

/// How replies are printed, as redis-cli's `config.output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Human-readable, quoted and numbered (`--no-raw`, or stdout is a terminal).
    Tty,
    /// Bare values (`--raw`, or stdout is not a terminal).
    Raw,
}

/// Formats a reply as redis-cli prints it after a command (`cliFormatReply`).
///
/// `verbatim` is redis-cli's `output_raw_strings`: commands whose reply is text meant to be read
/// as-is (INFO, CLUSTER NODES, CLIENT LIST, ...) print raw with no newline added, in any mode.
pub fn format_reply(frame: &Frame, mode: OutputMode, verbatim: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if verbatim {
        raw(frame, &mut out);
    } else {
        match mode {
            OutputMode::Tty => tty(frame, "", &mut out),
            OutputMode::Raw => {
                raw(frame, &mut out);
                out.push(b'\n');
            }
        }
    }
    out
}

/// `cliFormatReplyTTY(r, "")`: the TTY rendering, ending in a newline.
pub fn format_tty(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    tty(frame, "", &mut out);
    out
}

/// `cliFormatReplyRaw`: the raw rendering, with no trailing newline added.
pub fn format_raw(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    raw(frame, &mut out);
    out
}

/// Appends `bytes` quoted as sds.c's `sdscatrepr` does: `"..."` with `\\`, `\"`, `\n`, `\r`,
/// `\t`, `\a`, `\b` escaped, printable ASCII as is, every other byte as `\xhh`.
pub fn repr(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

fn tty(frame: &Frame, prefix: &str, out: &mut Vec<u8>) {
    match frame {
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Frame::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Frame::Double { text, .. } => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Frame::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
            out.push(b'\n');
        }
        Frame::Bulk(b) => {
            repr(b, out);
            out.push(b'\n');
        }
        Frame::Verbatim { text, .. } => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Frame::Null => out.extend_from_slice(b"(nil)\n"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Frame::Array(items) => tty_list(items, ')', "(empty array)\n", prefix, out),
        Frame::Set(items) => tty_list(items, '~', "(empty set)\n", prefix, out),
        Frame::Push(items) => tty_list(items, ')', "(empty push)\n", prefix, out),
        Frame::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return;
            }
            let (width, child_prefix) = index_layout(pairs.len(), prefix);
            for (i, (k, v)) in pairs.iter().enumerate() {
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}# ", i + 1).as_bytes());
                tty(k, &child_prefix, out);
                // redis-cli trims the key's newline (sdsrange(out,0,-2)) and appends " => ".
                out.pop();
                out.extend_from_slice(b" => ");
                tty(v, &child_prefix, out);
            }
        }
    }
}

/// The index width for `count` entries and the prefix for lines nested under them: the
/// parent's prefix plus width + 2 spaces, the room taken by `N) `.
fn index_layout(count: usize, prefix: &str) -> (usize, String) {
    let width = count.to_string().len();
    (width, format!("{prefix}{}", " ".repeat(width + 2)))
}

fn tty_list(items: &[Frame], sep: char, empty: &str, prefix: &str, out: &mut Vec<u8>) {
    if items.is_empty() {
        out.extend_from_slice(empty.as_bytes());
        return;
    }
    let (width, child_prefix) = index_layout(items.len(), prefix);
    for (i, item) in items.iter().enumerate() {
        // The first entry's prefix was already written by the parent, before its index.
        let lead = if i == 0 { "" } else { prefix };
        out.extend_from_slice(format!("{lead}{:>width$}{sep} ", i + 1).as_bytes());
        tty(item, &child_prefix, out);
    }
}

fn raw(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Null => {}
        Frame::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) | Frame::Bulk(s) | Frame::BigNumber(s) => out.extend_from_slice(s),
        Frame::Verbatim { text, .. } => out.extend_from_slice(text),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Double { text, .. } => out.extend_from_slice(text),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(item, out);
            }
        }
        Frame::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(k, out);
                out.push(b' ');
                raw(v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn tty_s(f: &Frame) -> String {
        String::from_utf8(format_tty(f)).unwrap()
    }

    fn raw_s(f: &Frame) -> String {
        String::from_utf8(format_reply(f, OutputMode::Raw, false)).unwrap()
    }

    fn arr(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    fn b(s: &str) -> Frame {
        Frame::bulk(s)
    }

    #[test]
    fn scalars_tty() {
        assert_eq!(tty_s(&Frame::simple("OK")), "OK\n");
        assert_eq!(tty_s(&b("zhangsan")), "\"zhangsan\"\n");
        assert_eq!(tty_s(&Frame::Integer(-3)), "(integer) -3\n");
        assert_eq!(tty_s(&Frame::Null), "(nil)\n");
        assert_eq!(
            tty_s(&Frame::error(
                "READONLY You can't write against a read only replica."
            )),
            "(error) READONLY You can't write against a read only replica.\n"
        );
        assert_eq!(tty_s(&Frame::double(1.5)), "(double) 1.5\n");
        assert_eq!(tty_s(&Frame::Boolean(true)), "(true)\n");
        assert_eq!(tty_s(&Frame::Boolean(false)), "(false)\n");
        assert_eq!(
            tty_s(&Frame::BigNumber(Bytes::from_static(b"123"))),
            "(big number) 123\n"
        );
        let verbatim = Frame::Verbatim {
            format: *b"txt",
            text: Bytes::from_static(b"# Server\r\nredis_version:7.0.15\r\n"),
        };
        assert_eq!(tty_s(&verbatim), "# Server\r\nredis_version:7.0.15\r\n\n");
    }

    #[test]
    fn bulk_strings_are_escaped_like_sdscatrepr() {
        assert_eq!(tty_s(&b("张")), "\"\\xe5\\xbc\\xa0\"\n");
        assert_eq!(tty_s(&b("a\"b\\c")), "\"a\\\"b\\\\c\"\n");
        assert_eq!(
            tty_s(&Frame::bulk(b"\n\r\t\x07\x08\x00\x7f ~")),
            "\"\\n\\r\\t\\a\\b\\x00\\x7f ~\"\n"
        );
        assert_eq!(tty_s(&b("")), "\"\"\n");
    }

    #[test]
    fn arrays_tty() {
        assert_eq!(tty_s(&arr(vec![])), "(empty array)\n");
        assert_eq!(tty_s(&arr(vec![b("a"), b("b")])), "1) \"a\"\n2) \"b\"\n");
        assert_eq!(
            tty_s(&arr(vec![
                arr(vec![b("x"), Frame::Integer(1)]),
                Frame::Null
            ])),
            "1) 1) \"x\"\n   2) (integer) 1\n2) (nil)\n"
        );
        // Three levels, with an empty array inside.
        assert_eq!(
            tty_s(&arr(vec![arr(vec![
                arr(vec![b("x"), b("y")]),
                arr(vec![])
            ])])),
            "1) 1) 1) \"x\"\n      2) \"y\"\n   2) (empty array)\n"
        );
    }

    #[test]
    fn ten_or_more_elements_pad_the_index() {
        let items: Vec<Frame> = (1..=10).map(Frame::Integer).collect();
        let out = tty_s(&arr(items));
        assert!(out.starts_with(" 1) (integer) 1\n 2) (integer) 2\n"));
        assert!(out.ends_with(" 9) (integer) 9\n10) (integer) 10\n"));
        // Nested under a wide index, continuation lines are indented by width + 2.
        let nested = arr((0..10).map(|_| arr(vec![b("a"), b("b")])).collect());
        assert!(tty_s(&nested).starts_with(" 1) 1) \"a\"\n    2) \"b\"\n 2) 1) \"a\"\n"));
    }

    #[test]
    fn resp3_aggregates_tty() {
        let map = Frame::Map(vec![(b("k1"), b("v1")), (b("k2"), Frame::Integer(2))]);
        assert_eq!(
            tty_s(&map),
            "1# \"k1\" => \"v1\"\n2# \"k2\" => (integer) 2\n"
        );
        assert_eq!(tty_s(&Frame::Map(vec![])), "(empty hash)\n");
        let set = Frame::Set(vec![b("a"), b("b")]);
        assert_eq!(tty_s(&set), "1~ \"a\"\n2~ \"b\"\n");
        assert_eq!(tty_s(&Frame::Set(vec![])), "(empty set)\n");
        let push = Frame::Push(vec![b("message"), b("ch"), b("hi")]);
        assert_eq!(tty_s(&push), "1) \"message\"\n2) \"ch\"\n3) \"hi\"\n");
        assert_eq!(tty_s(&Frame::Push(vec![])), "(empty push)\n");
        // A map value that is an array continues under the map's prefix.
        let nested = Frame::Map(vec![(b("k"), arr(vec![b("x"), b("y")]))]);
        assert_eq!(tty_s(&nested), "1# \"k\" => 1) \"x\"\n   2) \"y\"\n");
    }

    #[test]
    fn raw_mode() {
        assert_eq!(raw_s(&b("a\nb")), "a\nb\n");
        assert_eq!(raw_s(&Frame::Null), "\n");
        assert_eq!(raw_s(&Frame::Integer(5)), "5\n");
        assert_eq!(raw_s(&Frame::error("ERR x")), "ERR x\n\n");
        assert_eq!(
            raw_s(&arr(vec![b("a"), arr(vec![b("b"), b("c")])])),
            "a\nb\nc\n"
        );
        assert_eq!(raw_s(&arr(vec![])), "\n");
        assert_eq!(
            raw_s(&Frame::Map(vec![(b("k"), b("v")), (b("k2"), b("v2"))])),
            "k v\nk2 v2\n"
        );
        assert_eq!(raw_s(&Frame::Boolean(true)), "(true)\n");
        assert_eq!(raw_s(&Frame::double(2.5)), "2.5\n");
    }

    #[test]
    fn verbatim_commands_print_raw_without_newline() {
        let info = b("# Server\r\nredis_version:7.0.15\r\n");
        assert_eq!(
            format_reply(&info, OutputMode::Tty, true),
            b"# Server\r\nredis_version:7.0.15\r\n"
        );
    }
}
