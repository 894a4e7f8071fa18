//! Listpack: the compact serialized list Redis 7.0 uses for small hashes and zsets (RDB types
//! 16 and 17) and for quicklist nodes (type 18). Follows `listpack.c`.
//!
//! Layout: `<total bytes: u32 LE> <count: u16 LE, 65535 = unknown> <entry>... <FF>`. Each entry
//! is `<encoding+data> <backlen>`, where backlen is the size of `encoding+data` written in
//! 1..=5 bytes of 7 bits each so the list can be walked backwards.
//!
//! Encodings (first byte):
//!
//! | byte | meaning |
//! | --- | --- |
//! | `0xxxxxxx` | 7-bit unsigned int |
//! | `10xxxxxx` | string, 6-bit length |
//! | `110xxxxx yyyyyyyy` | 13-bit signed int |
//! | `1110xxxx yyyyyyyy` | string, 12-bit length |
//! | `F0` + u32 LE | string, 32-bit length |
//! | `F1` `F2` `F3` `F4` | 16, 24, 32, 64-bit signed int LE |
//! | `FF` | end |
//!
//! Strings that are canonical integers are stored as integers, as `lpAppend` does.

use crate::store::value::parse_i64_strict;

/// Bytes in the listpack header.
pub const HEADER_SIZE: usize = 6;
/// The listpack terminator.
const END: u8 = 0xff;

/// One element as it is stored: a string or an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    /// A string entry.
    Str(&'a [u8]),
    /// An integer entry.
    Int(i64),
}

impl Entry<'_> {
    /// The element as Redis would reply with it: integers in decimal.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Entry::Str(s) => s.to_vec(),
            Entry::Int(i) => i.to_string().into_bytes(),
        }
    }

    /// [`Entry::to_vec`] as the keyspace stores an element.
    pub fn to_str(self) -> crate::store::Str {
        match self {
            Entry::Str(s) => crate::store::Str::new(s),
            Entry::Int(i) => crate::store::Str::new(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    /// The element read as a zset score (`zzlGetScore`): integers exactly, strings parsed.
    pub fn to_score(self) -> Result<f64, String> {
        let score = match self {
            Entry::Int(i) => i as f64,
            Entry::Str(s) => parse_score(s)?,
        };
        if score.is_nan() {
            return Err("zset with NaN score detected".into());
        }
        Ok(score)
    }
}

/// Parses a score written as text (listpack, ziplist and the old zset type 3).
pub fn parse_score(s: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| format!("bad zset score {:?}", String::from_utf8_lossy(s)))
}

/// Formats a score as Redis's `d2string` would, but with the shortest digits that read back to
/// the same double (Redis 7.0 uses `%.17g`; both load identically).
pub fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if score.fract() == 0.0 && score.abs() < 4_503_599_627_370_496.0 {
        return (score as i64).to_string();
    }
    format!("{score:?}")
}

/// Decodes a whole listpack, checking its header, every entry's backlen and the terminator.
pub fn decode(blob: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    if blob.len() < HEADER_SIZE + 1 {
        return Err("listpack shorter than its header".into());
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err(format!(
            "listpack header says {total} bytes but the blob has {}",
            blob.len()
        ));
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]);
    if blob[blob.len() - 1] != END {
        return Err("listpack does not end with FF".into());
    }
    let mut entries = Vec::new();
    let mut p = HEADER_SIZE;
    let end = blob.len() - 1;
    while p < end {
        let (entry, size) = decode_entry(&blob[p..end])?;
        let mut backlen = [0u8; 5];
        let backlen = encode_backlen(size, &mut backlen);
        if blob.get(p + size..p + size + backlen.len()) != Some(backlen) {
            return Err(format!("listpack entry at byte {p} has a bad backlen"));
        }
        entries.push(entry);
        p += size + backlen.len();
    }
    if p != end {
        return Err("listpack entries overrun the terminator".into());
    }
    if count != u16::MAX && count as usize != entries.len() {
        return Err(format!(
            "listpack header says {count} entries but holds {}",
            entries.len()
        ));
    }
    Ok(entries)
}

/// Decodes one entry's encoding and data; returns it and its size without the backlen.
fn decode_entry(data: &[u8]) -> Result<(Entry<'_>, usize), String> {
    let short = || "listpack entry runs past the end".to_string();
    let bytes = |from: usize, n: usize| data.get(from..from + n).ok_or_else(short);
    let le = |from: usize, n: usize| -> Result<i64, String> {
        let b = bytes(from, n)?;
        let mut v: u64 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= (byte as u64) << (8 * i);
        }
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    };
    let b0 = data[0];
    Ok(match b0 {
        0x00..=0x7f => (Entry::Int(b0 as i64), 1),
        0x80..=0xbf => {
            let len = (b0 & 0x3f) as usize;
            (Entry::Str(bytes(1, len)?), 1 + len)
        }
        0xc0..=0xdf => {
            let b1 = *data.get(1).ok_or_else(short)?;
            let raw = ((b0 as i64 & 0x1f) << 8) | b1 as i64;
            let value = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
            (Entry::Int(value), 2)
        }
        0xe0..=0xef => {
            let b1 = *data.get(1).ok_or_else(short)?;
            let len = ((b0 as usize & 0x0f) << 8) | b1 as usize;
            (Entry::Str(bytes(2, len)?), 2 + len)
        }
        0xf0 => {
            let len = le(1, 4)? as u32 as usize;
            (Entry::Str(bytes(5, len)?), 5 + len)
        }
        0xf1 => (Entry::Int(le(1, 2)?), 3),
        0xf2 => (Entry::Int(le(1, 3)?), 4),
        0xf3 => (Entry::Int(le(1, 4)?), 5),
        0xf4 => (Entry::Int(le(1, 8)?), 9),
        _ => return Err(format!("listpack entry with unknown encoding {b0:#04x}")),
    })
}

/// Writes `len` as a listpack backlen into `buf`; returns the used prefix.
fn encode_backlen(len: usize, buf: &mut [u8; 5]) -> &[u8] {
    let n = match len {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    // Most significant 7-bit group first; every byte but the first has the high bit set, so a
    // reader walking backwards knows when to stop.
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        let group = ((len >> (7 * (n - 1 - i))) & 0x7f) as u8;
        *slot = if i == 0 { group } else { group | 0x80 };
    }
    &buf[..n]
}

/// Builds a listpack by appending elements, as `lpAppend` does.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// An empty listpack.
    pub fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER_SIZE]);
        Builder { buf, count: 0 }
    }

    /// Appends one element, integer-encoded if it is a canonical integer.
    pub fn push(&mut self, element: &[u8]) {
        let start = self.buf.len();
        encode_entry(element, &mut self.buf);
        let size = self.buf.len() - start;
        let mut backlen = [0u8; 5];
        let backlen = encode_backlen(size, &mut backlen);
        self.buf.extend_from_slice(backlen);
        self.count += 1;
    }

    /// Size in bytes the finished listpack would have.
    pub fn finished_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Elements appended so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Writes the header and terminator and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Bytes one element takes in a listpack, backlen included.
pub fn entry_size(element: &[u8]) -> usize {
    let size = match parse_i64_strict(element) {
        Some(v) => int_size(v),
        None => str_header_size(element.len()) + element.len(),
    };
    let mut backlen = [0u8; 5];
    size + encode_backlen(size, &mut backlen).len()
}

fn int_size(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32_768..=32_767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

fn str_header_size(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    }
}

fn encode_entry(element: &[u8], out: &mut Vec<u8>) {
    if let Some(v) = parse_i64_strict(element) {
        match int_size(v) {
            1 => out.push(v as u8),
            2 => {
                let raw = (v as u16) & 0x1fff;
                out.push(0xc0 | (raw >> 8) as u8);
                out.push(raw as u8);
            }
            3 => {
                out.push(0xf1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            4 => {
                out.push(0xf2);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            5 => {
                out.push(0xf3);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                out.push(0xf4);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        return;
    }
    let len = element.len();
    match str_header_size(len) {
        1 => out.push(0x80 | len as u8),
        2 => {
            out.push(0xe0 | (len >> 8) as u8);
            out.push(len as u8);
        }
        _ => {
            out.push(0xf0);
            out.extend_from_slice(&(len as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(element);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_captured_list_node() {
        // §2.7: the quicklist node holding a, b, c.
        let mut b = Builder::new();
        for e in [b"a", b"b", b"c"] {
            b.push(e);
        }
        assert_eq!(
            b.finish(),
            [0x10, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0x81, b'b', 2, 0x81, b'c', 2, 0xff]
        );
    }

    #[test]
    fn round_trips_every_encoding() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let elements: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-4097".to_vec(),
            b"32767".to_vec(),
            b"-8388608".to_vec(),
            b"8388608".to_vec(),
            b"2147483647".to_vec(),
            b"-2147483649".to_vec(),
            i64::MIN.to_string().into_bytes(),
            i64::MAX.to_string().into_bytes(),
            b"007".to_vec(),
            b"".to_vec(),
            b"hello".to_vec(),
            mid.clone(),
            long.clone(),
        ];
        let mut b = Builder::new();
        let mut predicted = HEADER_SIZE + 1;
        for e in &elements {
            b.push(e);
            predicted += entry_size(e);
        }
        assert_eq!(b.finished_len(), predicted);
        let blob = b.finish();
        assert_eq!(blob.len(), predicted);
        let decoded: Vec<Vec<u8>> = decode(&blob)
            .unwrap()
            .into_iter()
            .map(Entry::to_vec)
            .collect();
        assert_eq!(decoded, elements);
    }

    #[test]
    fn backlen_uses_seven_bit_groups() {
        let mut buf = [0u8; 5];
        assert_eq!(encode_backlen(2, &mut buf), [2]);
        assert_eq!(encode_backlen(128, &mut buf), [1, 0x80]);
        assert_eq!(encode_backlen(5005, &mut buf), [39, 0x80 | 13]);
    }

    #[test]
    fn rejects_corrupt_listpacks() {
        let mut b = Builder::new();
        b.push(b"hello");
        b.push(b"12");
        let good = b.finish();
        assert!(decode(&good).is_ok());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_count = good.clone();
        bad_count[4] = 3;
        assert!(decode(&bad_count).is_err());
        let mut bad_backlen = good.clone();
        bad_backlen[12] = 9;
        assert!(decode(&bad_backlen).is_err());
        let mut bad_encoding = good;
        bad_encoding[6] = 0xf5;
        assert!(decode(&bad_encoding).is_err());
    }

    #[test]
    fn scores_format_shortest_and_parse_back() {
        assert_eq!(format_score(1.0), "1");
        assert_eq!(format_score(-3.0), "-3");
        assert_eq!(format_score(2.5), "2.5");
        assert_eq!(format_score(0.1), "0.1");
        assert_eq!(format_score(f64::INFINITY), "inf");
        assert_eq!(format_score(f64::NEG_INFINITY), "-inf");
        for s in [0.1, 1e300, -1.5e-7, 1e16, f64::INFINITY] {
            assert_eq!(parse_score(format_score(s).as_bytes()).unwrap(), s);
        }
        assert!(Entry::Str(b"nan").to_score().is_err());
    }
}
