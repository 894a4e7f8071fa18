//! LZF compression, the format of RDB strings encoded as `C3 <clen> <len> <data>`.
//!
//! Follows the format described by liblzf (`lzf_c.c` / `lzf_d.c` in Redis's tree), written
//! from the format, not from that code. The stream is a sequence of chunks, each starting with
//! a control byte `ctrl`:
//!
//! - `ctrl < 32`: a literal run; the next `ctrl + 1` bytes are copied as they are.
//! - otherwise a back reference: `len = ctrl >> 5` (if 7, add the next byte), the copy length
//!   is `len + 2`, and the distance back is `((ctrl & 0x1f) << 8 | next byte) + 1`. Copies may
//!   overlap their own output (a run of one repeated byte).
//!
//! The compressor is a greedy matcher over a hash of the next three bytes. Its output need not
//! equal liblzf's byte for byte; any valid stream decodes the same.

/// Longest literal run one control byte can announce.
const MAX_LITERAL: usize = 32;
/// Longest back reference: `7 + 255 + 2` bytes.
const MAX_MATCH: usize = 264;
/// Farthest back a reference can reach, in bytes.
const MAX_DISTANCE: usize = 1 << 13;
/// log2 of the hash table size.
const HASH_LOG: u32 = 14;

/// Upper bound on how much one compressed byte can expand into: a 3-byte back reference
/// yields at most 264 bytes. Used to refuse absurd declared lengths before allocating.
pub const MAX_EXPANSION: u64 = 88;

fn hash3(data: &[u8]) -> usize {
    let v = (data[0] as u32) << 16 | (data[1] as u32) << 8 | data[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// Compresses `input`. Returns `None` if the result would be longer than `max_out` bytes (the
/// caller then stores the string uncompressed, as Redis does when LZF does not save at least
/// four bytes).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        table.begin();
        compress_with(&mut table, input, max_out)
    })
}

/// The match-finder's hash table: position of the last 3-byte sequence seen per bucket.
/// It is reused across calls (a snapshot compresses a million short strings: clearing a fresh
/// 16K-entry table for each one cost more than the compression itself). Entries are stamped
/// with the call's generation, so entries from earlier calls read as empty and the output is
/// exactly that of a freshly cleared table.
struct HashTable {
    slots: Vec<(u32, usize)>,
    generation: u32,
}

impl HashTable {
    fn begin(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill((0, 0));
            self.generation = 1;
        }
    }

    fn get(&self, bucket: usize) -> usize {
        match self.slots[bucket] {
            (generation, position) if generation == self.generation => position,
            _ => usize::MAX,
        }
    }

    fn set(&mut self, bucket: usize, position: usize) {
        self.slots[bucket] = (self.generation, position);
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<HashTable> = std::cell::RefCell::new(HashTable {
        slots: vec![(0, 0); 1 << HASH_LOG],
        generation: 0,
    });
}

fn compress_with(table: &mut HashTable, input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    let mut literal_start = 0;
    let mut ip = 0;

    while ip + 2 < input.len() {
        let h = hash3(&input[ip..]);
        let candidate = table.get(h);
        table.set(h, ip);
        if candidate != usize::MAX
            && ip - candidate <= MAX_DISTANCE
            && input[candidate..candidate + 3] == input[ip..ip + 3]
        {
            let max_len = (input.len() - ip).min(MAX_MATCH);
            let mut len = 3;
            while len < max_len && input[candidate + len] == input[ip + len] {
                len += 1;
            }
            push_literals(&mut out, &input[literal_start..ip], max_out)?;
            let distance = ip - candidate - 1;
            let encoded = len - 2;
            if encoded < 7 {
                push(&mut out, ((encoded << 5) | (distance >> 8)) as u8, max_out)?;
            } else {
                push(&mut out, ((7 << 5) | (distance >> 8)) as u8, max_out)?;
                push(&mut out, (encoded - 7) as u8, max_out)?;
            }
            push(&mut out, (distance & 0xff) as u8, max_out)?;
            // Index the positions inside the match so later data can refer to them.
            let end = ip + len;
            ip += 1;
            while ip < end && ip + 2 < input.len() {
                table.set(hash3(&input[ip..]), ip);
                ip += 1;
            }
            ip = end;
            literal_start = ip;
        } else {
            ip += 1;
        }
    }
    push_literals(&mut out, &input[literal_start..], max_out)?;
    Some(out)
}

fn push(out: &mut Vec<u8>, byte: u8, max_out: usize) -> Option<()> {
    if out.len() >= max_out {
        return None;
    }
    out.push(byte);
    Some(())
}

fn push_literals(out: &mut Vec<u8>, literals: &[u8], max_out: usize) -> Option<()> {
    for chunk in literals.chunks(MAX_LITERAL) {
        if out.len() + 1 + chunk.len() > max_out {
            return None;
        }
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
    Some(())
}

/// Decompresses `input`, which must expand to exactly `len` bytes.
pub fn decompress(input: &[u8], len: usize) -> Result<Vec<u8>, String> {
    if len as u64 > (input.len() as u64).saturating_mul(MAX_EXPANSION) {
        return Err(format!(
            "LZF string claims {len} bytes from {} compressed bytes",
            input.len()
        ));
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0;
    let truncated = || "Invalid LZF compressed string (truncated chunk)".to_string();
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literals = input.get(ip..ip + run).ok_or_else(truncated)?;
            if out.len() + run > len {
                return Err("Invalid LZF compressed string (longer than declared)".into());
            }
            out.extend_from_slice(literals);
            ip += run;
        } else {
            let mut copy = ctrl >> 5;
            if copy == 7 {
                copy += *input.get(ip).ok_or_else(truncated)? as usize;
                ip += 1;
            }
            copy += 2;
            let low = *input.get(ip).ok_or_else(truncated)? as usize;
            ip += 1;
            let distance = ((ctrl & 0x1f) << 8 | low) + 1;
            if distance > out.len() {
                return Err("Invalid LZF compressed string (reference before start)".into());
            }
            if out.len() + copy > len {
                return Err("Invalid LZF compressed string (longer than declared)".into());
            }
            let from = out.len() - distance;
            for i in 0..copy {
                let byte = out[from + i];
                out.push(byte);
            }
        }
    }
    if out.len() != len {
        return Err(format!(
            "Invalid LZF compressed string (got {} bytes, expected {len})",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data, data.len() + data.len() / 16 + 64).expect("fits");
        assert_eq!(decompress(&packed, data.len()).unwrap(), data);
    }

    #[test]
    fn round_trips_assorted_inputs() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"abc");
        round_trip(&[b'x'; 1000]);
        round_trip(b"hello hello hello hello hello hello world");
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("key:{} value:{} ", i % 97, i % 13).into_bytes())
            .collect();
        round_trip(&text);
        let mut state = 12345u32;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect();
        round_trip(&noise);
    }

    #[test]
    fn compresses_repetitive_data_and_refuses_when_it_does_not_fit() {
        let data = vec![b'a'; 100];
        let packed = compress(&data, 96).unwrap();
        assert!(packed.len() < 10, "{packed:?}");
        assert!(compress(b"abcdefgh", 4).is_none());
    }

    #[test]
    fn rejects_corrupt_streams() {
        assert!(decompress(&[0x05, b'a'], 6).is_err()); // literal run past the end
        assert!(decompress(&[0x20, 0x00], 3).is_err()); // reference before start
        assert!(decompress(&[0x00, b'a'], 2).is_err()); // shorter than declared
        assert!(decompress(&[0x00, b'a', 0x20, 0x00], 2).is_err()); // longer than declared
        assert!(decompress(&[0x00], 1 << 40).is_err()); // absurd declared length
    }
}
