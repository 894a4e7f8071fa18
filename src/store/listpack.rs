//! Listpack: Redis 7.0's compact serialized list (`listpack.c`), byte for byte. The keyspace
//! keeps every list as a sequence of listpacks (see [`super::list`]), and the RDB layer
//! writes and reads them unchanged as quicklist nodes (type 18), hashes (16) and zsets (17).
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
//! Strings that are canonical integers are stored as integers, as `lpAppend` does, so an
//! integer element takes 1 to 9 bytes plus its backlen.
//!
//! Two kinds of functions live here: checked ones ([`decode`], [`validate`]) for bytes from
//! outside (an RDB file, a RESTORE payload), which return an error and never panic, and the
//! positional operations ([`first`], [`next`], [`prev`], [`get`], [`seek`], [`insert`],
//! [`delete`], [`replace`]) for buffers already known to be valid: the keyspace's own nodes.
//! A position is the byte offset of an entry's first byte; the terminator's offset stands for
//! "after the last entry".

use super::str::Str;
use super::value::parse_i64_strict;

/// Bytes in the listpack header.
pub const HEADER_SIZE: usize = 6;
/// The listpack terminator.
const END: u8 = 0xff;
/// The header count that means "count the entries" (`LP_HDR_NUMELE_UNKNOWN`).
const COUNT_UNKNOWN: u16 = u16::MAX;
/// An empty listpack (`lpNew`).
pub const EMPTY: [u8; HEADER_SIZE + 1] = [7, 0, 0, 0, 0, 0, END];

/// One element as it is stored: a string or an integer.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// A string entry.
    Str(&'a [u8]),
    /// An integer entry.
    Int(i64),
}

/// Entries are equal when they stand for the same element: `Int(5)` equals `Str(b"5")`.
impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Entry<'_>) -> bool {
        match (self, other) {
            (Entry::Int(a), Entry::Int(b)) => a == b,
            (Entry::Str(a), Entry::Str(b)) => a == b,
            (Entry::Int(i), Entry::Str(s)) | (Entry::Str(s), Entry::Int(i)) => {
                itoa::Buffer::new().format(*i).as_bytes() == *s
            }
        }
    }
}

impl Entry<'_> {
    /// The element as Redis would reply with it: integers in decimal.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Entry::Str(s) => s.to_vec(),
            Entry::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
        }
    }

    /// [`Entry::to_vec`] as the keyspace stores an element (inline when short, so an integer
    /// never allocates).
    pub fn to_str(self) -> Str {
        match self {
            Entry::Str(s) => Str::new(s),
            Entry::Int(i) => Str::new(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    /// Length of the element's bytes (an integer's decimal digits).
    pub fn len(self) -> usize {
        match self {
            Entry::Str(s) => s.len(),
            Entry::Int(i) => itoa::Buffer::new().format(i).len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(self) -> bool {
        matches!(self, Entry::Str(s) if s.is_empty())
    }
}

/// An element searched for (LREM, LPOS, LINSERT's pivot): its bytes and, when they are a
/// canonical integer, its value, so that each stored integer is compared without formatting
/// it (`lpCompare`).
#[derive(Debug, Clone, Copy)]
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    /// A needle for `bytes`.
    pub fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: parse_i64_strict(bytes),
        }
    }

    /// True when `entry` is this element.
    pub fn matches(&self, entry: Entry<'_>) -> bool {
        match entry {
            Entry::Str(s) => s == self.bytes,
            Entry::Int(i) => self.int == Some(i),
        }
    }
}

/// Decodes a whole listpack, checking its header, every entry's backlen and the terminator.
pub fn decode(blob: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut entries = Vec::new();
    walk_checked(blob, |entry| entries.push(entry))?;
    Ok(entries)
}

/// Checks a whole listpack as [`decode`] does, without collecting it; returns its entry count.
pub fn validate(blob: &[u8]) -> Result<usize, String> {
    let mut count = 0;
    walk_checked(blob, |_| count += 1)?;
    Ok(count)
}

fn walk_checked<'a>(blob: &'a [u8], mut each: impl FnMut(Entry<'a>)) -> Result<(), String> {
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
    let mut seen = 0usize;
    let mut p = HEADER_SIZE;
    let end = blob.len() - 1;
    while p < end {
        let (entry, size) = decode_entry(&blob[p..end])?;
        let mut backlen = [0u8; 5];
        let backlen = encode_backlen(size, &mut backlen);
        if blob.get(p + size..p + size + backlen.len()) != Some(backlen) {
            return Err(format!("listpack entry at byte {p} has a bad backlen"));
        }
        each(entry);
        seen += 1;
        p += size + backlen.len();
    }
    if p != end {
        return Err("listpack entries overrun the terminator".into());
    }
    if count != COUNT_UNKNOWN && count as usize != seen {
        return Err(format!(
            "listpack header says {count} entries but holds {seen}"
        ));
    }
    Ok(())
}

/// Decodes one entry's encoding and data; returns it and its size without the backlen.
fn decode_entry(data: &[u8]) -> Result<(Entry<'_>, usize), String> {
    let short = || "listpack entry runs past the end".to_string();
    let bytes = |from: usize, n: usize| data.get(from..from + n).ok_or_else(short);
    let le = |from: usize, n: usize| -> Result<i64, String> { Ok(read_le(bytes(from, n)?)) };
    let b0 = data[0];
    Ok(match b0 {
        0x00..=0x7f => (Entry::Int(b0 as i64), 1),
        0x80..=0xbf => {
            let len = (b0 & 0x3f) as usize;
            (Entry::Str(bytes(1, len)?), 1 + len)
        }
        0xc0..=0xdf => {
            let b1 = *data.get(1).ok_or_else(short)?;
            (Entry::Int(int13(b0, b1)), 2)
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

/// A little-endian signed integer of `b.len()` bytes (1 to 8), sign-extended.
fn read_le(b: &[u8]) -> i64 {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        v |= (byte as u64) << (8 * i);
    }
    let shift = 64 - 8 * b.len() as u32;
    ((v << shift) as i64) >> shift
}

/// The 13-bit signed integer encoded in `110xxxxx yyyyyyyy`.
fn int13(b0: u8, b1: u8) -> i64 {
    let raw = ((b0 as i64 & 0x1f) << 8) | b1 as i64;
    if raw >= 1 << 12 {
        raw - (1 << 13)
    } else {
        raw
    }
}

/// Writes `len` as a listpack backlen into `buf`; returns the used prefix.
pub fn encode_backlen(len: usize, buf: &mut [u8; 5]) -> &[u8] {
    let n = backlen_size(len);
    // Most significant 7-bit group first; every byte but the first has the high bit set, so a
    // reader walking backwards knows when to stop.
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        let group = ((len >> (7 * (n - 1 - i))) & 0x7f) as u8;
        *slot = if i == 0 { group } else { group | 0x80 };
    }
    &buf[..n]
}

/// Bytes the backlen of an entry of `len` bytes takes (`lpEncodeBacklen`).
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
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
        encode_entry(element, &mut self.buf);
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
        set_header(&mut self.buf, self.count);
        self.buf
    }
}

/// Writes the total-bytes and count fields of `lp`, a listpack filling its buffer (a count
/// too large reads "unknown").
fn set_header(lp: &mut [u8], count: usize) {
    set_header_total(lp, lp.len(), count);
}

fn set_header_total(buf: &mut [u8], total: usize, count: usize) {
    buf[0..4].copy_from_slice(&(total as u32).to_le_bytes());
    let count = count.min(COUNT_UNKNOWN as usize) as u16;
    buf[4..6].copy_from_slice(&count.to_le_bytes());
}

/// The listpack's length as its header says (the buffer holding it may be longer).
pub fn total_bytes(buf: &[u8]) -> usize {
    u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize
}

/// Largest listpack whose buffer is rounded up to a size class (the biggest node
/// `list-max-listpack-size` allows); a bigger one, a node of one huge element, is kept exact.
const ROUNDED_UP_TO: usize = 64 * 1024;

/// The buffer a listpack of `n` bytes is kept in: the size class jemalloc (the server's
/// allocator) would serve `n` bytes from anyway, so the slack costs no memory and lets most
/// inserts grow in place, as Redis's `lpInsert` grows within `lp_malloc_size`. Classes: 8,
/// multiples of 16 up to 128, then four per doubling (160, 192, 224, 256, 320, ...).
pub fn buffer_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.next_multiple_of(16),
        _ if n > ROUNDED_UP_TO => n,
        _ => {
            let group = usize::BITS - 1 - (n - 1).leading_zeros();
            n.next_multiple_of(1 << (group - 2))
        }
    }
}

/// Bytes one element takes in a listpack, backlen included.
pub fn entry_size(element: &[u8]) -> usize {
    Encoded::new(element).len()
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

/// One element's entry, ready to be written where it goes (no buffer of its own): the
/// encoding bytes (all of an integer), the string's bytes after them, and the backlen.
struct Encoded<'a> {
    head: [u8; 9],
    head_len: usize,
    data: &'a [u8],
    backlen: [u8; 5],
    backlen_len: usize,
}

impl<'a> Encoded<'a> {
    /// The entry `lpAppend` writes for `element`: an integer if it is a canonical one.
    fn new(element: &'a [u8]) -> Encoded<'a> {
        let mut head = [0u8; 9];
        let (head_len, data) = if let Some(v) = parse_i64_strict(element) {
            let n = int_size(v);
            match n {
                1 => head[0] = v as u8,
                2 => {
                    let raw = (v as u16) & 0x1fff;
                    head[0] = 0xc0 | (raw >> 8) as u8;
                    head[1] = raw as u8;
                }
                3 => {
                    head[0] = 0xf1;
                    head[1..3].copy_from_slice(&(v as i16).to_le_bytes());
                }
                4 => {
                    head[0] = 0xf2;
                    head[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                5 => {
                    head[0] = 0xf3;
                    head[1..5].copy_from_slice(&(v as i32).to_le_bytes());
                }
                _ => {
                    head[0] = 0xf4;
                    head[1..9].copy_from_slice(&v.to_le_bytes());
                }
            }
            (n, &element[..0])
        } else {
            let len = element.len();
            let n = str_header_size(len);
            match n {
                1 => head[0] = 0x80 | len as u8,
                2 => {
                    head[0] = 0xe0 | (len >> 8) as u8;
                    head[1] = len as u8;
                }
                _ => {
                    head[0] = 0xf0;
                    head[1..5].copy_from_slice(&(len as u32).to_le_bytes());
                }
            }
            (n, element)
        };
        let mut backlen = [0u8; 5];
        let backlen_len = encode_backlen(head_len + data.len(), &mut backlen).len();
        Encoded {
            head,
            head_len,
            data,
            backlen,
            backlen_len,
        }
    }

    /// Bytes of the whole entry.
    fn len(&self) -> usize {
        self.head_len + self.data.len() + self.backlen_len
    }

    /// Writes the entry into `out` (exactly [`Encoded::len`] bytes).
    fn write(&self, out: &mut [u8]) {
        let (head, rest) = out.split_at_mut(self.head_len);
        head.copy_from_slice(&self.head[..self.head_len]);
        let (data, backlen) = rest.split_at_mut(self.data.len());
        data.copy_from_slice(self.data);
        backlen.copy_from_slice(&self.backlen[..self.backlen_len]);
    }
}

/// Appends one whole entry (encoding, data, backlen) for `element` to `out`.
fn encode_entry(element: &[u8], out: &mut Vec<u8>) {
    let entry = Encoded::new(element);
    let start = out.len();
    out.resize(start + entry.len(), 0);
    entry.write(&mut out[start..]);
}

// Positional operations on valid listpacks (the keyspace's own nodes).

/// Entries in `lp` (from the header; counted when the header says "unknown").
pub fn count(lp: &[u8]) -> usize {
    match u16::from_le_bytes([lp[4], lp[5]]) {
        COUNT_UNKNOWN => {
            let mut n = 0;
            let mut p = first(lp);
            while let Some(at) = p {
                n += 1;
                p = next(lp, at);
            }
            n
        }
        n => n as usize,
    }
}

/// The position of the first entry, if any.
pub fn first(lp: &[u8]) -> Option<usize> {
    (lp[HEADER_SIZE] != END).then_some(HEADER_SIZE)
}

/// The position of the last entry, if any.
pub fn last(lp: &[u8]) -> Option<usize> {
    prev(lp, lp.len() - 1)
}

/// The position of the terminator, where [`insert`] appends.
pub fn end(lp: &[u8]) -> usize {
    lp.len() - 1
}

/// The position after the entry at `at`: the next entry's or the terminator's.
pub fn skip(lp: &[u8], at: usize) -> usize {
    let size = entry_len(lp, at);
    at + size + backlen_size(size)
}

/// The position of the entry after the one at `at`, if any.
pub fn next(lp: &[u8], at: usize) -> Option<usize> {
    let p = skip(lp, at);
    (lp[p] != END).then_some(p)
}

/// The position of the entry before position `at` (an entry's or the terminator's), if any.
pub fn prev(lp: &[u8], at: usize) -> Option<usize> {
    if at <= HEADER_SIZE {
        return None;
    }
    // The backlen ends just before `at`: its last byte holds the lowest 7 bits.
    let mut p = at - 1;
    let mut size = 0usize;
    let mut shift = 0;
    loop {
        let byte = lp[p];
        size |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        p -= 1;
    }
    Some(p - size)
}

/// Size of the entry at `at` without its backlen.
fn entry_len(lp: &[u8], at: usize) -> usize {
    let b0 = lp[at];
    match b0 {
        0x00..=0x7f => 1,
        0x80..=0xbf => 1 + (b0 & 0x3f) as usize,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 2 + (((b0 as usize & 0x0f) << 8) | lp[at + 1] as usize),
        0xf0 => 5 + u32::from_le_bytes([lp[at + 1], lp[at + 2], lp[at + 3], lp[at + 4]]) as usize,
        0xf1 => 3,
        0xf2 => 4,
        0xf3 => 5,
        _ => 9,
    }
}

/// The entry at `at`.
pub fn get(lp: &[u8], at: usize) -> Entry<'_> {
    read(lp, at).0
}

/// The entry at `at` and the position after it (one decoding for both, for iteration).
pub fn read(lp: &[u8], at: usize) -> (Entry<'_>, usize) {
    let b0 = lp[at];
    let (entry, size) = match b0 {
        0x00..=0x7f => (Entry::Int(b0 as i64), 1),
        0x80..=0xbf => {
            let len = (b0 & 0x3f) as usize;
            (Entry::Str(&lp[at + 1..at + 1 + len]), 1 + len)
        }
        0xc0..=0xdf => (Entry::Int(int13(b0, lp[at + 1])), 2),
        0xe0..=0xef => {
            let len = ((b0 as usize & 0x0f) << 8) | lp[at + 1] as usize;
            (Entry::Str(&lp[at + 2..at + 2 + len]), 2 + len)
        }
        0xf0 => {
            let size = entry_len(lp, at);
            (Entry::Str(&lp[at + 5..at + size]), size)
        }
        0xf1 => (Entry::Int(read_le(&lp[at + 1..at + 3])), 3),
        0xf2 => (Entry::Int(read_le(&lp[at + 1..at + 4])), 4),
        0xf3 => (Entry::Int(read_le(&lp[at + 1..at + 5])), 5),
        _ => (Entry::Int(read_le(&lp[at + 1..at + 9])), 9),
    };
    (entry, at + size + backlen_size(size))
}

/// The position of entry `index` (`index < count`), walking from the nearer end (`lpSeek`).
pub fn seek(lp: &[u8], index: usize, count: usize) -> usize {
    if index < count / 2 {
        let mut p = HEADER_SIZE;
        for _ in 0..index {
            p = skip(lp, p);
        }
        p
    } else {
        let mut p = end(lp);
        for _ in index..count {
            p = prev(lp, p).expect("index below the count");
        }
        p
    }
}

// The three edits below work on a listpack at the start of `buf`, whose header says how
// long it is; `buf` is kept at [`buffer_size`] of that length, so it is reallocated only when
// the listpack crosses a size class. Positions are the listpack's, as for the readers.

/// Inserts `element` before position `at` (the terminator's position appends); returns the
/// new entry's position.
pub fn insert(buf: &mut Vec<u8>, at: usize, element: &[u8]) -> usize {
    let entry = Encoded::new(element);
    if let Some(gap) = splice(buf, at, at, entry.len(), 1) {
        entry.write(gap);
    }
    at
}

/// Removes `n` entries starting at position `at` (`lpDeleteRange`).
pub fn delete(buf: &mut Vec<u8>, at: usize, n: usize) {
    let mut stop = at;
    for _ in 0..n {
        stop = skip(buf, stop);
    }
    splice(buf, at, stop, 0, -(n as isize));
}

/// Replaces the entry at `at` with `element` (`lpReplace`).
pub fn replace(buf: &mut Vec<u8>, at: usize, element: &[u8]) {
    let stop = skip(buf, at);
    let entry = Encoded::new(element);
    if let Some(gap) = splice(buf, at, stop, entry.len(), 0) {
        entry.write(gap);
    }
}

/// Replaces the listpack's bytes `from..to` by a gap of `gap` bytes, changes the count by
/// `delta` and rewrites the header; returns the gap to fill, if any. The buffer changes size
/// only when the listpack's [`buffer_size`] does, and then to exactly that.
fn splice(
    buf: &mut Vec<u8>,
    from: usize,
    to: usize,
    gap: usize,
    delta: isize,
) -> Option<&mut [u8]> {
    let used = total_bytes(buf);
    let new_count = count(&buf[..used]).saturating_add_signed(delta);
    let new_used = used - (to - from) + gap;
    let size = buffer_size(new_used);
    if size > buf.len() {
        buf.reserve_exact(size - buf.len());
        buf.resize(size, 0);
    }
    buf.copy_within(to..used, from + gap);
    if size < buf.len() {
        buf.truncate(size);
        buf.shrink_to_fit();
    }
    set_header_total(buf, new_used, new_count);
    (gap > 0).then(|| &mut buf[from..from + gap])
}

/// A listpack holding the entries of `lp` between positions `from` and `to` (`to` may be the
/// terminator's position), which are `n` entries.
pub fn slice(lp: &[u8], from: usize, to: usize, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + (to - from) + 1);
    out.extend_from_slice(&[0; HEADER_SIZE]);
    out.extend_from_slice(&lp[from..to]);
    out.push(END);
    set_header(&mut out, n);
    out
}

/// `lp` without the entries at positions `doomed` (ascending, each an entry's position).
pub fn without(lp: &[u8], doomed: &[usize]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(lp.len());
    kept.extend_from_slice(&lp[..HEADER_SIZE]);
    let mut from = HEADER_SIZE;
    for &at in doomed {
        kept.extend_from_slice(&lp[from..at]);
        from = skip(lp, at);
    }
    kept.extend_from_slice(&lp[from..]);
    kept.shrink_to_fit();
    let n = count(lp) - doomed.len();
    set_header(&mut kept, n);
    kept
}

/// The concatenation of two listpacks (`lpMerge`).
pub fn merge(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len() - HEADER_SIZE - 1);
    out.extend_from_slice(&a[..a.len() - 1]);
    out.extend_from_slice(&b[HEADER_SIZE..]);
    let n = count(a) + count(b);
    set_header(&mut out, n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(elements: &[&[u8]]) -> Vec<u8> {
        let mut b = Builder::new();
        for e in elements {
            b.push(e);
        }
        b.finish()
    }

    #[test]
    fn encodes_the_captured_list_node() {
        // The quicklist node Redis 7.0.15 writes for RPUSH l a b c (interop notes §2.7).
        assert_eq!(
            build(&[b"a", b"b", b"c"]),
            [0x10, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0x81, b'b', 2, 0x81, b'c', 2, 0xff]
        );
    }

    #[test]
    fn encodes_integers_and_strings_as_redis_does() {
        // Each element's entry as listpack.c writes it (lpEncodeIntegerGetType,
        // lpEncodeString, lpEncodeBacklen).
        let cases: &[(&[u8], &[u8])] = &[
            (b"0", &[0x00, 1]),
            (b"127", &[0x7f, 1]),
            (b"128", &[0xc0, 0x80, 2]),
            (b"-1", &[0xdf, 0xff, 2]),
            (b"-4096", &[0xd0, 0x00, 2]),
            (b"4095", &[0xcf, 0xff, 2]),
            (b"4096", &[0xf1, 0x00, 0x10, 3]),
            (b"-32768", &[0xf1, 0x00, 0x80, 3]),
            (b"32768", &[0xf2, 0x00, 0x80, 0x00, 4]),
            (b"-8388608", &[0xf2, 0x00, 0x00, 0x80, 4]),
            (b"8388608", &[0xf3, 0x00, 0x00, 0x80, 0x00, 5]),
            (b"-2147483648", &[0xf3, 0x00, 0x00, 0x00, 0x80, 5]),
            (
                b"2147483648",
                &[0xf4, 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0, 9],
            ),
            (
                b"-9223372036854775808",
                &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80, 9],
            ),
            (b"", &[0x80, 1]),
            (b"007", &[0x83, b'0', b'0', b'7', 4]),
            (b"-0", &[0x82, b'-', b'0', 3]),
        ];
        for (element, entry) in cases {
            let mut out = Vec::new();
            encode_entry(element, &mut out);
            assert_eq!(&out[..], *entry, "{:?}", String::from_utf8_lossy(element));
            assert_eq!(entry_size(element), entry.len());
        }
        // 64 bytes: a 12-bit string length; 128-byte entry: a two-byte backlen.
        let mut out = Vec::new();
        encode_entry(&[b'x'; 64], &mut out);
        assert_eq!(&out[..2], [0xe0, 64]);
        assert_eq!(&out[66..], [66]);
        out.clear();
        encode_entry(&[b'x'; 200], &mut out);
        assert_eq!(&out[..2], [0xe0, 200]);
        assert_eq!(&out[202..], [1, 0x80 | 74]);
        out.clear();
        encode_entry(&[b'x'; 5000], &mut out);
        assert_eq!(&out[..5], [0xf0, 0x88, 0x13, 0, 0]);
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
        // The positional walk agrees, both ways.
        let mut forward = Vec::new();
        let mut p = first(&blob);
        while let Some(at) = p {
            forward.push(get(&blob, at).to_vec());
            p = next(&blob, at);
        }
        assert_eq!(forward, elements);
        let mut backward = Vec::new();
        let mut p = last(&blob);
        while let Some(at) = p {
            backward.push(get(&blob, at).to_vec());
            p = prev(&blob, at);
        }
        backward.reverse();
        assert_eq!(backward, elements);
        for i in 0..elements.len() {
            assert_eq!(
                get(&blob, seek(&blob, i, elements.len())).to_vec(),
                elements[i]
            );
        }
    }

    #[test]
    fn inserts_deletes_and_replaces_in_place() {
        // The edits keep the listpack at the start of a buffer of its size class.
        let listpack = |buf: &Vec<u8>| buf[..total_bytes(buf)].to_vec();
        let mut buf = EMPTY.to_vec();
        let at = end(&listpack(&buf));
        insert(&mut buf, at, b"b");
        insert(&mut buf, HEADER_SIZE, b"a");
        let at = end(&listpack(&buf));
        insert(&mut buf, at, b"300");
        assert_eq!(listpack(&buf), build(&[b"a", b"b", b"300"]));
        assert_eq!(buf.len(), 16);
        let at = seek(&listpack(&buf), 1, 3);
        replace(&mut buf, at, &[b'z'; 70]);
        assert_eq!(listpack(&buf), build(&[b"a", &[b'z'; 70], b"300"]));
        assert_eq!(buf.len(), 96);
        delete(&mut buf, HEADER_SIZE, 2);
        assert_eq!(listpack(&buf), build(&[b"300"]));
        assert_eq!((buf.len(), buf.capacity()), (16, 16));
        delete(&mut buf, HEADER_SIZE, 1);
        assert_eq!(listpack(&buf), EMPTY);
        assert_eq!(first(&listpack(&buf)), None);
        assert_eq!(last(&listpack(&buf)), None);
        let a = build(&[b"1", b"x"]);
        let b = build(&[b"y"]);
        assert_eq!(merge(&a, &b), build(&[b"1", b"x", b"y"]));
        let whole = build(&[b"1", b"x", b"y"]);
        let cut = seek(&whole, 1, 3);
        assert_eq!(slice(&whole, HEADER_SIZE, cut, 1), build(&[b"1"]));
        assert_eq!(slice(&whole, cut, end(&whole), 2), build(&[b"x", b"y"]));
        let last = seek(&whole, 2, 3);
        assert_eq!(without(&whole, &[HEADER_SIZE, last]), build(&[b"x"]));
    }

    #[test]
    fn buffers_are_jemalloc_size_classes() {
        let sizes = [
            0, 1, 8, 9, 16, 17, 128, 129, 160, 161, 256, 257, 1000, 4097, 8192, 8193,
        ];
        let classes = [
            0, 8, 8, 16, 16, 32, 128, 160, 160, 192, 256, 320, 1024, 5120, 8192, 10240,
        ];
        for (n, class) in sizes.into_iter().zip(classes) {
            assert_eq!(buffer_size(n), class, "{n}");
        }
        assert_eq!(buffer_size(ROUNDED_UP_TO), ROUNDED_UP_TO);
        assert_eq!(buffer_size(ROUNDED_UP_TO + 1), ROUNDED_UP_TO + 1);
    }

    #[test]
    fn a_growing_listpack_reallocates_only_across_size_classes() {
        let mut buf = EMPTY.to_vec();
        let mut reallocations = 0;
        for i in 0..500 {
            let before = buf.as_ptr();
            let at = total_bytes(&buf) - 1;
            insert(&mut buf, at, format!("element:{i}").as_bytes());
            assert_eq!(buf.len(), buffer_size(total_bytes(&buf)));
            assert_eq!(buf.len(), buf.capacity());
            reallocations += usize::from(buf.as_ptr() != before || i == 0);
        }
        let lp = &buf[..total_bytes(&buf)];
        assert_eq!(count(lp), 500);
        assert_eq!(get(lp, seek(lp, 499, 500)).to_vec(), b"element:499");
        // About 6.5 KB in classes 25% apart: a few dozen reallocations, not 500.
        assert!(reallocations < 40, "{reallocations}");
    }

    #[test]
    fn backlen_uses_seven_bit_groups() {
        let mut buf = [0u8; 5];
        assert_eq!(encode_backlen(2, &mut buf), [2]);
        assert_eq!(encode_backlen(128, &mut buf), [1, 0x80]);
        assert_eq!(encode_backlen(5005, &mut buf), [39, 0x80 | 13]);
        assert_eq!(encode_backlen(16_383, &mut buf), [0, 0xff, 0xff]);
    }

    #[test]
    fn needles_match_integers_by_value_and_strings_by_bytes() {
        assert!(Needle::new(b"12").matches(Entry::Int(12)));
        assert!(Needle::new(b"12").matches(Entry::Str(b"12")));
        assert!(!Needle::new(b"012").matches(Entry::Int(12)));
        assert!(!Needle::new(b"x").matches(Entry::Int(0)));
        assert_eq!(Entry::Int(-5), Entry::Str(b"-5"));
        assert_ne!(Entry::Int(5), Entry::Str(b"05"));
    }

    #[test]
    fn rejects_corrupt_listpacks() {
        let good = build(&[b"hello", b"12"]);
        assert!(decode(&good).is_ok());
        assert_eq!(validate(&good), Ok(2));
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
}
