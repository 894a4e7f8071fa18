//! A teaching inspector for RDB files: `redislab rdb <file>` prints every record in file order
//! with its offset, in plain, deterministic text a student can set beside a hex dump.
//!
//! It reads through the same [`Parser`] as the loader, so what it shows is what the loader
//! sees. On a damaged file it prints everything up to the damage, then the error.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::listpack::format_score;
use super::parse::{Checksum, KeyBody, Parser, Record};
use super::RdbError;
use crate::store::Value;

/// How many bytes of a string, and how many elements of a collection, are shown.
const SHOW_BYTES: usize = 60;
const SHOW_ELEMENTS: usize = 5;

/// Why a file could not be described.
#[derive(Debug, thiserror::Error)]
pub enum DescribeError {
    /// The file could not be opened.
    #[error("Can't open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not valid RDB (the description printed so far ends with this error).
    #[error("{}: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: RdbError,
    },
    /// Writing to the output failed.
    #[error("writing the description: {0}")]
    Output(#[from] io::Error),
}

/// Prints the records of the RDB file at `path` to `out`.
pub fn describe<W: Write>(path: &Path, out: W) -> Result<(), DescribeError> {
    let file = File::open(path).map_err(|source| DescribeError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    match describe_reader(file, out)? {
        Ok(()) => Ok(()),
        Err(source) => Err(DescribeError::Format {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Prints the records read from `input` to `out`. The outer error is a failure to write the
/// description; the inner one is a damaged file (already printed as the last line).
pub fn describe_reader<R: Read, W: Write>(
    input: R,
    mut out: W,
) -> io::Result<Result<(), RdbError>> {
    let result = describe_records(BufReader::new(input), &mut out)?;
    if let Err(e) = &result {
        writeln!(
            out,
            "ERROR at offset {} ({:#06x}): {}",
            e.offset, e.offset, e.reason
        )?;
    }
    out.flush()?;
    Ok(result)
}

fn describe_records<R: io::BufRead, W: Write>(
    input: R,
    out: &mut W,
) -> io::Result<Result<(), RdbError>> {
    let mut parser = match Parser::new(input) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    writeln!(
        out,
        "[0x0000] header  REDIS{:04}  (RDB version {})",
        parser.version(),
        parser.version()
    )?;
    let mut keys = 0u64;
    loop {
        let offset = parser.offset();
        let record = match parser.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Ok(Err(e)),
        };
        let at = format!("[{offset:#06x}]");
        match record {
            Record::Aux { key, value } => writeln!(
                out,
                "{at} aux     {} = {}",
                quote(&key),
                quote_short(&value)
            )?,
            Record::SelectDb { db } => writeln!(out, "{at} SELECTDB {db}")?,
            Record::ResizeDb { keys, expires } => writeln!(
                out,
                "{at} RESIZEDB {keys} key{}, {expires} with expiry",
                if keys == 1 { "" } else { "s" }
            )?,
            Record::Function { code } => {
                writeln!(out, "{at} function library {}", quote_short(&code))?
            }
            Record::Key(k) => {
                keys += 1;
                let mut line = format!("{at} key     {}", quote(&k.key));
                if let Some(ms) = k.expire_ms {
                    let _ = write!(line, "  expires at {ms} ms");
                }
                if let Some(idle) = k.lru_idle {
                    let _ = write!(line, "  idle {idle}s");
                }
                if let Some(freq) = k.lfu_freq {
                    let _ = write!(line, "  lfu {freq}");
                }
                let _ = write!(line, "  {}", k.encoding);
                match &k.body {
                    KeyBody::Value(v) => {
                        let _ = write!(line, "  = {}", show_value(v));
                    }
                    KeyBody::Empty => line.push_str("  (empty, skipped on load)"),
                    KeyBody::Stream => line.push_str("  (not loaded: redislab has no streams)"),
                }
                writeln!(out, "{line}")?;
            }
            Record::Eof { checksum } => {
                writeln!(out, "{at} EOF     ({keys} keys)")?;
                let text = match checksum {
                    Checksum::Absent => "none (RDB versions before 5 have no checksum)".into(),
                    Checksum::Disabled => "0 (checksum disabled: not checked)".into(),
                    Checksum::Matched(crc) => format!("{crc:#018x} (matches)"),
                    Checksum::Mismatch { stored, computed } => {
                        format!("{stored:#018x} (MISMATCH: computed {computed:#018x})")
                    }
                };
                writeln!(out, "{:>8} checksum {text}", "")?;
            }
        }
    }
    Ok(Ok(()))
}

/// A value, shortened: at most [`SHOW_ELEMENTS`] elements and [`SHOW_BYTES`] bytes of each.
fn show_value(value: &Value) -> String {
    fn list<'a>(
        open: &str,
        close: &str,
        total: usize,
        items: impl Iterator<Item = String> + 'a,
    ) -> String {
        let shown: Vec<String> = items.take(SHOW_ELEMENTS).collect();
        let more = if total > shown.len() {
            format!(", ... ({total} in all)")
        } else {
            String::new()
        };
        format!("{open}{}{more}{close}", shown.join(", "))
    }
    match value {
        Value::String(s) => quote_short(s),
        Value::List(l) => list(
            "[",
            "]",
            l.len(),
            l.iter().map(|e| quote_short(&e.to_vec())),
        ),
        Value::Set(s) => list("{", "}", s.len(), s.iter().map(|e| quote_short(&e))),
        Value::Hash(h) => list(
            "{",
            "}",
            h.len(),
            h.iter()
                .map(|(k, v)| format!("{}: {}", quote_short(k), quote_short(v))),
        ),
        Value::ZSet(z) => list(
            "{",
            "}",
            z.len(),
            z.iter()
                .map(|(m, s)| format!("{}: {}", quote_short(m), format_score(s))),
        ),
    }
}

/// Quotes bytes the way redis-cli does: printable ASCII as is, the rest escaped.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// [`quote`], cut to [`SHOW_BYTES`] with the full length noted.
fn quote_short(bytes: &[u8]) -> String {
    if bytes.len() <= SHOW_BYTES {
        quote(bytes)
    } else {
        format!("{}... ({} bytes)", quote(&bytes[..SHOW_BYTES]), bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::write::{AuxValue, RdbWriter};
    use crate::store::Str;
    use bytes::Bytes;

    fn small_file() -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), true);
        w.header().unwrap();
        w.aux("redis-ver", AuxValue::from("7.0.15")).unwrap();
        w.select_db(0).unwrap();
        w.resize_db(3, 1).unwrap();
        w.key(b"num", &Value::String(Bytes::from("12345").into()), None)
            .unwrap();
        let list = (0..7).map(|i| Str::from(format!("e{i}"))).collect();
        w.key(b"list", &Value::List(list), Some(1_700_000_000_000))
            .unwrap();
        w.key(
            b"long",
            &Value::String(Bytes::from("ab".repeat(40)).into()),
            None,
        )
        .unwrap();
        w.finish().unwrap().0
    }

    #[test]
    fn describes_every_record_in_file_order() {
        let mut out = Vec::new();
        describe_reader(&small_file()[..], &mut out)
            .unwrap()
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
[0x0000] header  REDIS0010  (RDB version 10)
[0x0009] aux     \"redis-ver\" = \"7.0.15\"
[0x001b] SELECTDB 0
[0x001d] RESIZEDB 3 keys, 1 with expiry
[0x0020] key     \"num\"  string (int)  = \"12345\"
[0x0028] key     \"list\"  expires at 1700000000000 ms  list (quicklist2, 1 node)  = [\"e0\", \"e1\", \"e2\", \"e3\", \"e4\", ... (7 in all)]
";
        assert!(text.starts_with(expected), "{text}");
        assert!(text.contains("string (lzf, "), "{text}");
        assert!(
            text.contains(
                "\"abababababababababababababababababababababababababababababab\"... (80 bytes)"
            ),
            "{text}"
        );
        assert!(text.contains("EOF     (3 keys)"), "{text}");
        assert!(text.contains("(matches)"), "{text}");
    }

    #[test]
    fn prints_what_it_read_then_the_error() {
        let file = small_file();
        let mut out = Vec::new();
        let err = describe_reader(&file[..40], &mut out).unwrap().unwrap_err();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("key     \"num\""), "{text}");
        assert!(
            text.ends_with(&format!(
                "ERROR at offset {} ({:#06x}): {}\n",
                err.offset, err.offset, err.reason
            )),
            "{text}"
        );
        let err = describe(Path::new("/nonexistent/dump.rdb"), Vec::new()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Can't open /nonexistent/dump.rdb"),
            "{err}"
        );
    }

    #[test]
    fn quotes_like_redis_cli() {
        assert_eq!(quote(b"a\"b\\\n\x00\xff"), "\"a\\\"b\\\\\\n\\x00\\xff\"");
        assert!(quote_short(&[b'x'; 100]).ends_with("... (100 bytes)"));
    }
}
