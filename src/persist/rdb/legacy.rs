//! The older compact blobs an RDB can hold: ziplist (`ziplist.c`, RDB types 10, 12, 13 and
//! the nodes of type 14), zipmap (`zipmap.c`, type 9) and intset (`intset.c`, type 11).
//!
//! Redis 7.0 no longer writes ziplists or zipmaps but still loads them (converting them to
//! listpacks); redislab decodes them into plain values. Intsets are still written by 7.0 for
//! small sets of integers, so this module also encodes them.

use super::listpack::Entry;

/// Decodes a ziplist: `<zlbytes u32> <zltail u32> <zllen u16> <entry>... <FF>`, each entry
/// `<prevlen: 1 byte, or FE + u32> <encoding> <data>`.
pub fn decode_ziplist(blob: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    const HEADER: usize = 10;
    if blob.len() < HEADER + 1 {
        return Err("ziplist shorter than its header".into());
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err(format!(
            "ziplist header says {total} bytes but the blob has {}",
            blob.len()
        ));
    }
    let tail = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    let count = u16::from_le_bytes([blob[8], blob[9]]);
    if blob[blob.len() - 1] != 0xff || tail >= blob.len() {
        return Err("ziplist has a bad tail or terminator".into());
    }
    let end = blob.len() - 1;
    let short = || "ziplist entry runs past the end".to_string();
    let mut entries = Vec::new();
    let mut p = HEADER;
    let mut previous = 0usize;
    while p < end {
        let start = p;
        let prevlen = match blob[p] {
            0xfe => {
                let b = blob.get(p + 1..p + 5).ok_or_else(short)?;
                p += 5;
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
            }
            0xff => return Err("ziplist entry with prevlen FF".into()),
            b => {
                p += 1;
                b as usize
            }
        };
        if prevlen != previous {
            return Err(format!("ziplist entry at byte {start} has a bad prevlen"));
        }
        let enc = *blob.get(p).ok_or_else(short)?;
        let int = |from: usize, n: usize| -> Result<i64, String> {
            let b = blob.get(from..from + n).ok_or_else(short)?;
            let mut v: u64 = 0;
            for (i, &byte) in b.iter().enumerate() {
                v |= (byte as u64) << (8 * i);
            }
            let shift = 64 - 8 * n as u32;
            Ok(((v << shift) as i64) >> shift)
        };
        let (entry, size) = match enc >> 6 {
            0 => {
                let len = (enc & 0x3f) as usize;
                (
                    Entry::Str(blob.get(p + 1..p + 1 + len).ok_or_else(short)?),
                    1 + len,
                )
            }
            1 => {
                let b1 = *blob.get(p + 1).ok_or_else(short)? as usize;
                let len = ((enc as usize & 0x3f) << 8) | b1;
                (
                    Entry::Str(blob.get(p + 2..p + 2 + len).ok_or_else(short)?),
                    2 + len,
                )
            }
            2 => {
                if enc != 0x80 {
                    return Err(format!("ziplist string encoding {enc:#04x} is invalid"));
                }
                let b = blob.get(p + 1..p + 5).ok_or_else(short)?;
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                (
                    Entry::Str(blob.get(p + 5..p + 5 + len).ok_or_else(short)?),
                    5 + len,
                )
            }
            _ => match enc {
                0xc0 => (Entry::Int(int(p + 1, 2)?), 3),
                0xd0 => (Entry::Int(int(p + 1, 4)?), 5),
                0xe0 => (Entry::Int(int(p + 1, 8)?), 9),
                0xf0 => (Entry::Int(int(p + 1, 3)?), 4),
                0xfe => (Entry::Int(int(p + 1, 1)?), 2),
                0xf1..=0xfd => (Entry::Int((enc & 0x0f) as i64 - 1), 1),
                _ => return Err(format!("ziplist entry with unknown encoding {enc:#04x}")),
            },
        };
        p += size;
        if p > end {
            return Err(short());
        }
        previous = p - start;
        entries.push(entry);
    }
    if count != u16::MAX && count as usize != entries.len() {
        return Err(format!(
            "ziplist header says {count} entries but holds {}",
            entries.len()
        ));
    }
    Ok(entries)
}

/// A field and its value, borrowed from a blob.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes a zipmap (hashes before Redis 2.6): `<zmlen u8> (<len> key <len> <free u8> value
/// <free bytes>)... <FF>`, lengths being one byte below 254 or `FE` + u32 LE.
pub fn decode_zipmap(blob: &[u8]) -> Result<Vec<Pair<'_>>, String> {
    let short = || "zipmap entry runs past the end".to_string();
    let read_len = |p: &mut usize| -> Result<Option<usize>, String> {
        let b = *blob.get(*p).ok_or_else(short)?;
        *p += 1;
        Ok(match b {
            0xff => None,
            0xfe => {
                let raw = blob.get(*p..*p + 4).ok_or_else(short)?;
                *p += 4;
                Some(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
            }
            n => Some(n as usize),
        })
    };
    let mut pairs = Vec::new();
    let mut p = 1;
    while let Some(key_len) = read_len(&mut p)? {
        let key = blob.get(p..p + key_len).ok_or_else(short)?;
        p += key_len;
        let value_len = read_len(&mut p)?.ok_or("zipmap key without a value")?;
        let free = *blob.get(p).ok_or_else(short)? as usize;
        p += 1;
        let value = blob.get(p..p + value_len).ok_or_else(short)?;
        p += value_len + free;
        pairs.push((key, value));
    }
    if p != blob.len() {
        return Err("zipmap has bytes after its terminator".into());
    }
    Ok(pairs)
}

/// Decodes an intset: `<width u32 LE: 2, 4 or 8> <count u32 LE> <count sorted integers LE>`.
/// Returns the width and the members.
pub fn decode_intset(blob: &[u8]) -> Result<(u32, Vec<i64>), String> {
    if blob.len() < 8 {
        return Err("intset shorter than its header".into());
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]);
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as u64;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset with invalid width {width}"));
    }
    if 8 + count * width as u64 != blob.len() as u64 {
        return Err("intset size does not match its header".into());
    }
    let members: Vec<i64> = blob[8..]
        .chunks_exact(width as usize)
        .map(|c| match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if members.windows(2).any(|w| w[0] >= w[1]) {
        return Err("intset members are not sorted and unique".into());
    }
    Ok((width, members))
}

/// Encodes integers as an intset with the narrowest width that holds them all.
pub fn encode_intset(members: &mut [i64]) -> Vec<u8> {
    members.sort_unstable();
    let width: usize = if members.iter().all(|&m| i16::try_from(m).is_ok()) {
        2
    } else if members.iter().all(|&m| i32::try_from(m).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + members.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &m in members.iter() {
        out.extend_from_slice(&m.to_le_bytes()[..width]);
    }
    out
}

/// Test helper: a ziplist of `entries` (strings, with integer forms for canonical integers).
#[cfg(test)]
pub(crate) fn encode_ziplist(entries: &[&[u8]]) -> Vec<u8> {
    use crate::store::value::parse_i64_strict;
    let mut body = Vec::new();
    let mut prev = 0usize;
    for e in entries {
        let mut entry = Vec::new();
        if prev < 254 {
            entry.push(prev as u8);
        } else {
            entry.push(0xfe);
            entry.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match parse_i64_strict(e) {
            Some(v @ 0..=12) => entry.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => entry.extend_from_slice(&[0xfe, v as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                entry.push(0xc0);
                entry.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) => {
                entry.push(0xe0);
                entry.extend_from_slice(&v.to_le_bytes());
            }
            None if e.len() < 64 => {
                entry.push(e.len() as u8);
                entry.extend_from_slice(e);
            }
            None => {
                entry.push(0x80);
                entry.extend_from_slice(&(e.len() as u32).to_be_bytes());
                entry.extend_from_slice(e);
            }
        }
        prev = entry.len();
        body.extend_from_slice(&entry);
    }
    let total = 10 + body.len() + 1;
    let mut blob = Vec::with_capacity(total);
    blob.extend_from_slice(&(total as u32).to_le_bytes());
    blob.extend_from_slice(&((total - 1 - prev.min(total - 11)) as u32).to_le_bytes());
    blob.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    blob.extend_from_slice(&body);
    blob.push(0xff);
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_matches_the_captured_file() {
        // §2.7: SADD iset 1 2 3.
        let blob = encode_intset(&mut [3, 1, 2]);
        assert_eq!(blob, [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
        assert_eq!(decode_intset(&blob).unwrap(), (2, vec![1, 2, 3]));
        let wide = encode_intset(&mut [-1, 70_000, 1 << 40]);
        assert_eq!(
            decode_intset(&wide).unwrap(),
            (8, vec![-1, 70_000, 1 << 40])
        );
        assert!(decode_intset(&blob[..13]).is_err());
        assert!(decode_intset(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]).is_err());
    }

    /// A ziplist built by hand the way Redis 6 wrote `RPUSH l a 12 <300 x's> -70000`.
    fn sample_ziplist() -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut push = |enc_and_data: Vec<u8>, body: &mut Vec<u8>| {
            let mut entry = Vec::new();
            if prev < 254 {
                entry.push(prev as u8);
            } else {
                entry.push(0xfe);
                entry.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            entry.extend_from_slice(&enc_and_data);
            prev = entry.len();
            body.extend_from_slice(&entry);
        };
        push(vec![0x01, b'a'], &mut body);
        push(vec![0xf1 + 12], &mut body); // immediate 12
        let mut long = vec![0x40 | (300 >> 8) as u8, (300 & 0xff) as u8];
        long.extend_from_slice(&[b'x'; 300]);
        push(long, &mut body);
        let mut int = vec![0xd0];
        int.extend_from_slice(&(-70_000i32).to_le_bytes());
        push(int, &mut body);
        let mut blob = Vec::new();
        let total = 10 + body.len() + 1;
        blob.extend_from_slice(&(total as u32).to_le_bytes());
        blob.extend_from_slice(&((total - 1 - 6) as u32).to_le_bytes());
        blob.extend_from_slice(&4u16.to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(0xff);
        blob
    }

    #[test]
    fn decodes_ziplist_entries_and_rejects_damage() {
        let blob = sample_ziplist();
        let entries: Vec<Vec<u8>> = decode_ziplist(&blob)
            .unwrap()
            .into_iter()
            .map(Entry::to_vec)
            .collect();
        assert_eq!(entries[0], b"a");
        assert_eq!(entries[1], b"12");
        assert_eq!(entries[2], vec![b'x'; 300]);
        assert_eq!(entries[3], b"-70000");
        for cut in 0..blob.len() {
            assert!(decode_ziplist(&blob[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn decodes_zipmap() {
        let blob = [
            2, 1, b'a', 2, 0, b'x', b'y', 3, b'b', b'c', b'd', 1, 1, b'z', b'?', 0xff,
        ];
        let pairs = decode_zipmap(&blob).unwrap();
        assert_eq!(
            pairs,
            vec![(&b"a"[..], &b"xy"[..]), (&b"bcd"[..], &b"z"[..])]
        );
        assert!(decode_zipmap(&blob[..blob.len() - 1]).is_err());
    }
}
