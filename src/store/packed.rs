//! The buffer both packed collections (a small hash, a small sorted set) are kept in: a
//! little-endian `u32` count of entries, then the entries, in one exact-size boxed slice that
//! is reallocated per change as Redis reallocates a listpack; an empty collection has no
//! buffer at all. Strings inside are a LEB128 length and their bytes.

/// Bytes of the entry count before the first entry.
pub const HEADER: usize = 4;

/// Largest packed buffer, in bytes, before a collection takes its large form whatever the
/// thresholds say (Redis's `lpSafeToAdd` limit of 1 GiB). At two or more bytes per entry the
/// count fits a `u32`.
pub const PACKED_SAFETY_LIMIT: usize = 1 << 30;

/// The entry count of a packed buffer.
pub fn count(buf: &[u8]) -> usize {
    match buf.get(..HEADER) {
        Some(count) => u32::from_le_bytes(count.try_into().expect("4 bytes")) as usize,
        None => 0,
    }
}

/// Applies `change` to the buffer as a vector (with a zero count if it had no buffer) and
/// stores it back at its exact size, or drops it once no entry is left.
pub fn edit(buf: &mut Box<[u8]>, change: impl FnOnce(&mut Vec<u8>)) {
    let mut vec = std::mem::take(buf).into_vec();
    if vec.is_empty() {
        vec.extend_from_slice(&[0; HEADER]);
    }
    change(&mut vec);
    if count(&vec) > 0 {
        *buf = vec.into_boxed_slice();
    }
}

/// Adds `delta` to the entry count of a buffer being edited.
pub fn add_to_count(buf: &mut [u8], delta: i64) {
    let count = count(buf) as i64 + delta;
    buf[..HEADER].copy_from_slice(&(count as u32).to_le_bytes());
}

/// Appends `n` as LEB128.
pub fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Bytes `n` takes as LEB128.
pub fn len_size(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Reads the string at `pos`: (its bytes' range, the position after it).
pub fn read_string(buf: &[u8], mut pos: usize) -> (std::ops::Range<usize>, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let byte = buf[pos];
        pos += 1;
        n |= ((byte & 0x7f) as usize) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    (pos..pos + n, pos + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_leb128() {
        for n in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 30, usize::MAX] {
            let mut buf = Vec::new();
            put_len(&mut buf, n);
            assert_eq!(buf.len(), len_size(n), "{n}");
            // Only the length is decoded: the range end may overflow for usize::MAX.
            if n < 1 << 31 {
                buf.extend(std::iter::repeat_n(b'x', n.min(400)));
                if n <= 400 {
                    assert_eq!(
                        read_string(&buf, 0),
                        (len_size(n)..len_size(n) + n, buf.len())
                    );
                }
            }
        }
    }

    #[test]
    fn a_buffer_counts_its_entries_and_is_dropped_when_empty() {
        let mut buf: Box<[u8]> = Box::default();
        assert_eq!(count(&buf), 0);
        edit(&mut buf, |b| {
            put_len(b, 1);
            b.push(b'x');
            add_to_count(b, 1);
        });
        assert_eq!((count(&buf), buf.len()), (1, HEADER + 2));
        edit(&mut buf, |b| {
            b.truncate(HEADER);
            add_to_count(b, -1);
        });
        assert!(buf.is_empty());
    }
}
