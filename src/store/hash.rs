//! The hash value: field → value, packed in one buffer while small, a table once large.
//!
//! Redis keeps a small hash as one listpack (`t_hash.c`: fields and values back to back, found
//! by a linear walk) and converts it to a dict once it holds more than
//! `hash-max-listpack-entries` fields or a field or value longer than
//! `hash-max-listpack-value` bytes; it never converts back. [`Hash`] does the same with the
//! thresholds of [`EncodingLimits`], and `OBJECT ENCODING` reports which form a hash is in.
//!
//! The packed form is not Redis's listpack byte for byte: each string is a LEB128 length and
//! its bytes, nothing else (no per-entry back length or integer encoding, which redislab never
//! walks backwards or needs). The RDB writer re-encodes it as a listpack
//! (`persist::rdb::write`); the two hold the same strings in the same order.
//!
//! The large form is the keyspace's segmented table (`table.rs`), which grows and shrinks a
//! segment at a time, with a pair in each bucket.
//!
//! Commands see only this API (get, insert, remove, iterate, random picks, scan), never the
//! representation, so either form can change without touching them.

use bytes::Bytes;
use rand::Rng;

use super::db::KeyArg;
use super::packed::{self, len_size, put_len, read_string, HEADER, PACKED_SAFETY_LIMIT};
use super::pick::{self, Picks};
use super::str::Str;
use super::table::{self, KeyTable, Keyed};
use super::value::EncodingLimits;

/// Most fields [`Hash::with_expected_len`] sizes a table for up front.
pub const MAX_RESERVED: usize = 4096;

/// A hash. Field order is insertion order while packed (as in a listpack); a table's order is
/// unspecified.
#[derive(Clone, Default)]
pub struct Hash {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Packed(Packed),
    /// The keyspace's own table: each pair sits in its bucket, and fields and values up to
    /// 22 bytes are held inline ([`Str`]), so a lookup reads the bucket tags and the bucket.
    Table(Box<KeyTable<Pair>>),
}

/// One field and its value in a table.
#[derive(Debug, Clone)]
struct Pair {
    field: Str,
    value: Str,
}

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        Pair {
            field: Str::new(field),
            value: Str::new(value),
        }
    }

    fn as_slices(&self) -> (&[u8], &[u8]) {
        (&self.field[..], &self.value[..])
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        &self.field
    }
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

/// The pair count (a little-endian `u32`), then fields and values back to back, each a LEB128
/// length and its bytes; an empty hash has no buffer at all. An exact-size boxed slice keeps
/// the whole [`Hash`] at 16 bytes, so a key's value holds it without a further allocation.
#[derive(Clone, Default)]
struct Packed {
    buf: Box<[u8]>,
}

/// Where one pair sits in a packed buffer.
struct Slot {
    /// First byte of the field's length.
    start: usize,
    /// First byte of the value's length.
    value_start: usize,
    /// One past the value's last byte.
    end: usize,
}

impl Packed {
    /// Number of field/value pairs.
    fn pairs(&self) -> usize {
        packed::count(&self.buf)
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: HEADER,
        }
    }

    /// Applies `change` to the buffer (see [`packed::edit`]).
    fn edit(&mut self, change: impl FnOnce(&mut Vec<u8>)) {
        packed::edit(&mut self.buf, change);
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let buf = &self.buf[..];
        let mut pos = HEADER;
        while pos < buf.len() {
            let start = pos;
            let (f, value_start) = read_string(buf, pos);
            let (_, end) = read_string(buf, value_start);
            if &buf[f] == field {
                return Some(Slot {
                    start,
                    value_start,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let slot = self.find(field)?;
        Some(&self.buf[read_string(&self.buf, slot.value_start).0])
    }

    /// Sets `field` to `value`; true if the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(slot) => {
                let mut encoded = Vec::with_capacity(len_size(value.len()) + value.len());
                put_len(&mut encoded, value.len());
                encoded.extend_from_slice(value);
                self.edit(|buf| {
                    buf.splice(slot.value_start..slot.end, encoded);
                });
                false
            }
            None => {
                let extra =
                    len_size(field.len()) + field.len() + len_size(value.len()) + value.len();
                // Exact growth, as a listpack reallocates per insert: a small hash keeps no
                // spare capacity (the allocator's size classes absorb most reallocations).
                self.edit(|buf| {
                    buf.reserve_exact(extra);
                    put_len(buf, field.len());
                    buf.extend_from_slice(field);
                    put_len(buf, value.len());
                    buf.extend_from_slice(value);
                    packed::add_to_count(buf, 1);
                });
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(slot) = self.find(field) else {
            return false;
        };
        self.edit(|buf| {
            buf.drain(slot.start..slot.end);
            packed::add_to_count(buf, -1);
        });
        true
    }
}

/// The pairs of a packed buffer, in order.
struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (field, after) = read_string(self.buf, self.pos);
        let (value, end) = read_string(self.buf, after);
        self.pos = end;
        Some((&self.buf[field], &self.buf[value]))
    }
}

/// The pairs of a hash: insertion order while packed.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Packed(PackedIter<'a>),
    Table(table::Iter<'a, Pair>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next(),
            IterRepr::Table(it) => it.next().map(|p| (&p.field[..], &p.value[..])),
        }
    }
}

impl Hash {
    /// An empty hash, packed (Redis's `createHashObject`).
    pub fn new() -> Hash {
        Hash::default()
    }

    /// An empty hash about to receive `len` fields: a table from the start if that is more
    /// than a packed hash may hold (as Redis loads a large hash). `len` may come from an
    /// untrusted file, so at most [`MAX_RESERVED`] slots are reserved.
    pub fn with_expected_len(len: u64, limits: &EncodingLimits) -> Hash {
        if len <= limits.hash_max_listpack_entries as u64 {
            return Hash::new();
        }
        let mut table = KeyTable::new();
        table.reserve(len.min(MAX_RESERVED as u64) as usize);
        Hash {
            repr: Repr::Table(Box::new(table)),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.pairs(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the hash is in its packed form (`OBJECT ENCODING` says `listpack`).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        if self.is_packed() {
            "listpack"
        } else {
            "hashtable"
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.get(field),
            Repr::Table(t) => t.get(field).map(|p| &p.value[..]),
        }
    }

    /// The value of `field`, copied out for a reply.
    pub fn get_bytes(&self, field: &[u8]) -> Option<Bytes> {
        self.get(field).map(Bytes::copy_from_slice)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new. A packed hash becomes a table first
    /// if the field or value is longer than the limits allow, and after the insert if it then
    /// holds too many fields (Redis's `hashTypeSet`).
    pub fn insert(
        &mut self,
        field: impl KeyArg,
        value: impl KeyArg,
        limits: &EncodingLimits,
    ) -> bool {
        if let Repr::Packed(p) = &self.repr {
            let (f, v) = (field.as_slice().len(), value.as_slice().len());
            if f > limits.hash_max_listpack_value
                || v > limits.hash_max_listpack_value
                || p.buf.len() + f + v + 20 > PACKED_SAFETY_LIMIT
            {
                self.convert_to_table();
            }
        }
        match &mut self.repr {
            Repr::Packed(p) => {
                let created = p.set(field.as_slice(), value.as_slice());
                if created && p.pairs() > limits.hash_max_listpack_entries {
                    self.convert_to_table();
                }
                created
            }
            Repr::Table(t) => {
                let field = field.as_slice();
                let hash = t.hash(field);
                match t.get_mut_hashed(hash, field) {
                    Some(pair) => {
                        pair.value = Str::new(value.as_slice());
                        false
                    }
                    None => {
                        t.insert_new(hash, Pair::new(field, value.as_slice()));
                        true
                    }
                }
            }
        }
    }

    /// Removes `field`; true if it was there. A packed hash keeps its order.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => p.remove(field),
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// The pairs, in insertion order while packed.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Packed(p) => IterRepr::Packed(p.iter()),
            Repr::Table(t) => IterRepr::Table(t.iter()),
        })
    }

    /// The fields.
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(f, _)| f)
    }

    /// The values.
    pub fn values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// A uniformly random pair (HRANDFIELD without a count), or None if empty.
    pub fn random_pair(&self, rng: &mut impl Rng) -> Option<(&[u8], &[u8])> {
        if self.is_empty() {
            return None;
        }
        match &self.repr {
            Repr::Packed(p) => p.iter().nth(rng.gen_range(0..p.pairs())),
            Repr::Table(t) => t.random_fair(rng).map(Pair::as_slices),
        }
    }

    /// Random pairs (HRANDFIELD with a count), in no particular order. A packed hash is
    /// walked once, whatever the count.
    pub fn random_pairs(&self, rng: &mut impl Rng, picks: Picks) -> Vec<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Packed(p) => {
                let all: Vec<_> = p.iter().collect();
                let positions = pick::positions(rng, all.len(), picks);
                positions.into_iter().map(|i| all[i]).collect()
            }
            Repr::Table(t) => t
                .sample(rng, picks)
                .into_iter()
                .map(Pair::as_slices)
                .collect(),
        }
    }

    /// One HSCAN call from `cursor`, visiting about `count` pairs; returns the next cursor (0
    /// when done). A packed hash is visited whole in one call, as Redis does for a listpack.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                for (f, v) in p.iter() {
                    visit(f, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |p| visit(&p.field, &p.value)),
        }
    }

    /// The bytes of the packed buffer, or None for a table (MEMORY USAGE).
    pub fn packed_bytes(&self) -> Option<usize> {
        match &self.repr {
            Repr::Packed(p) => Some(p.buf.len()),
            Repr::Table(_) => None,
        }
    }

    /// Makes this a table (Redis's `hashTypeConvert`); a table stays one.
    fn convert_to_table(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut table = KeyTable::new();
            for (f, v) in p.iter() {
                table.insert_new(table.hash(f), Pair::new(f, v));
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

impl PartialEq for Hash {
    /// Same fields with the same values, whatever the form or order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        write!(f, "{} ", self.encoding())?;
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (lossy(k), lossy(v))))
            .finish()
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(K, V)> for Hash {
    /// A hash of the pairs under the default limits (later pairs overwrite earlier ones).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Hash {
        let limits = EncodingLimits::default();
        let mut hash = Hash::new();
        for (f, v) in pairs {
            hash.insert(f.as_ref(), v.as_ref(), &limits);
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entries: usize, value: usize) -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    fn pairs(h: &Hash) -> Vec<(String, String)> {
        h.iter()
            .map(|(f, v)| {
                (
                    String::from_utf8(f.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn packed_hash_sets_replaces_and_removes_in_insertion_order() {
        let l = EncodingLimits::default();
        let mut h = Hash::new();
        assert!(h.is_empty() && h.is_packed());
        assert!(h.insert(&b"a"[..], &b"1"[..], &l));
        assert!(h.insert(&b"b"[..], &b"2"[..], &l));
        assert!(h.insert(&b"c"[..], &b"3"[..], &l));
        assert!(
            !h.insert(&b"a"[..], &[b'x'; 60][..], &l),
            "replacing is not creating"
        );
        assert!(!h.insert(&b"b"[..], &b""[..], &l));
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(b"a"), Some(&[b'x'; 60][..]));
        assert_eq!(h.get(b"b"), Some(&b""[..]));
        assert_eq!(h.get(b"zz"), None);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(
            pairs(&h),
            [("a".into(), "x".repeat(60)), ("c".into(), "3".into())]
        );
        assert!(h.is_packed());
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_past_either_threshold_and_never_back() {
        let l = limits(3, 8);
        let mut h = Hash::new();
        for f in ["a", "b", "c"] {
            h.insert(f.as_bytes(), &b"v"[..], &l);
        }
        assert!(h.is_packed(), "at the entries limit it stays packed");
        h.insert(&b"d"[..], &b"v"[..], &l);
        assert_eq!(h.encoding(), "hashtable");
        for f in ["a", "b", "c"] {
            h.remove(f.as_bytes());
        }
        assert_eq!(h.encoding(), "hashtable", "never converted back");
        assert_eq!(pairs(&h), [("d".into(), "v".into())]);

        let mut long_value = Hash::new();
        long_value.insert(&b"f"[..], &b"12345678"[..], &l);
        assert!(long_value.is_packed(), "a value of exactly the limit fits");
        long_value.insert(&b"f"[..], &b"123456789"[..], &l);
        assert!(
            !long_value.is_packed(),
            "replacing with a long value converts"
        );
        assert_eq!(long_value.get(b"f"), Some(&b"123456789"[..]));

        let mut long_field = Hash::new();
        long_field.insert(&b"123456789"[..], &b"v"[..], &l);
        assert!(!long_field.is_packed());

        let mut none = Hash::new();
        none.insert(&b"f"[..], &b"v"[..], &limits(0, 64));
        assert!(
            !none.is_packed(),
            "hash-max-listpack-entries 0: every hash is a table"
        );
    }

    #[test]
    fn equality_ignores_form_and_order() {
        let packed: Hash = [("a", "1"), ("b", "2")].into_iter().collect();
        let mut table = Hash::new();
        let l = limits(0, 64);
        table.insert(&b"b"[..], &b"2"[..], &l);
        table.insert(&b"a"[..], &b"1"[..], &l);
        assert!(packed.is_packed() && !table.is_packed());
        assert_eq!(packed, table);
        table.insert(&b"a"[..], &b"9"[..], &l);
        assert_ne!(packed, table);
    }

    #[test]
    fn random_picks_and_scans_in_both_forms() {
        let mut rng = rand::thread_rng();
        let small: Hash = (0..5).map(|i| (format!("f{i}"), format!("{i}"))).collect();
        let mut big = Hash::new();
        for i in 0..5 {
            big.insert(
                format!("f{i}").as_bytes(),
                format!("{i}").as_bytes(),
                &limits(0, 64),
            );
        }
        for h in [&small, &big] {
            let (f, v) = h.random_pair(&mut rng).unwrap();
            assert_eq!(h.get(f), Some(v));
            let repeated = h.random_pairs(&mut rng, Picks::Repeated(20));
            assert_eq!(repeated.len(), 20);
            assert!(repeated.iter().all(|(f, v)| h.get(f) == Some(*v)));
            for count in [1, 3, 5, 9] {
                let mut distinct = h.random_pairs(&mut rng, Picks::Distinct(count));
                assert!(distinct.iter().all(|(f, v)| h.get(f) == Some(*v)));
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), count.min(5), "{count} distinct");
            }
        }
        assert!(Hash::new().random_pair(&mut rng).is_none());
        assert!(Hash::new()
            .random_pairs(&mut rng, Picks::Repeated(3))
            .is_empty());

        let mut seen = Vec::new();
        assert_eq!(small.scan(0, 1, |f, _| seen.push(f.to_vec())), 0);
        assert_eq!(seen.len(), 5, "a packed hash is scanned whole");
        seen.clear();
        let mut cursor = big.scan(0, 2, |f, _| seen.push(f.to_vec()));
        let mut calls = 1;
        while cursor != 0 && calls < 10 {
            cursor = big.scan(cursor, 2, |f, _| seen.push(f.to_vec()));
            calls += 1;
        }
        assert_eq!((seen.len(), calls), (5, 3));
    }

    #[test]
    fn packed_form_is_its_contents_plus_a_byte_per_string_and_a_count() {
        let h: Hash = (0..10)
            .map(|i| (format!("field:{i}"), format!("v:{i:07}:xxxxxx")))
            .collect();
        assert_eq!(h.packed_bytes(), Some(HEADER + 10 * (1 + 7 + 1 + 16)));
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }
}
