//! The keyspace's table: a hash table of entries that grows one small segment at a time. Large
//! hashes and sets keep their fields and members in one too (`hash.rs`, `set.rs`), as Redis
//! uses its dict for both.
//!
//! Redis grows a dict by rehashing it incrementally, a few buckets per operation, so a table of
//! millions of keys never stops the server to move them all (`dict.c`). Here the same bound
//! comes from extendible hashing: the table is a directory of segments, each a small
//! open-addressing table of at most [`SEGMENT_ENTRIES`] entries. A full segment is rebuilt a
//! quarter larger, or split in two once at that size, moving a few thousand entries at most.
//!
//! Entries live in the buckets themselves, next to a byte of tag per bucket, so a lookup
//! touches the segment's tags and then the entry (two cache misses at most, against three for
//! a map with a separate index). A segment is rebuilt between 68% and 85% full rather than
//! doubled, so memory per key does not swing with the key count by a factor of two.
//!
//! Bits of the key's hash: 57..63 are the bucket's tag, 0..31 pick the first bucket to probe
//! in a segment, and the directory uses bits 24..55, read as a 32-bit *position*. A segment
//! of local depth `d` holds the keys whose position starts with its `d`-bit prefix;
//! splitting it looks at the next bit (depths stay far below 24, so the bits do not meet).
//!
//! Deletion leaves a tombstone and moves no other entry, unless it leaves the segment under an
//! eighth full: then the segment is rebuilt smaller, as Redis shrinks a dict, so deleting most
//! of a table gives its memory back. SCAN walks positions in ascending order, a segment at a
//! time, and the buckets of one segment in order. A rebuild or split, the only times entries
//! move, changes the segment's layout tag; a cursor that comes back
//! with a stale tag gets that whole segment again. So a key present for the whole scan is
//! returned at least once, as Redis guarantees, and every call ends (a segment is bounded).

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

use rand::Rng;

use super::pick::Picks;

/// Entries a segment may hold; a full segment this large splits instead of growing. About
/// 6000 entries of 64 bytes in 8.8k buckets are half a megabyte, moved in well under a
/// millisecond.
pub const SEGMENT_ENTRIES: usize = 6000;

/// The deepest directory [`KeyTable::reserve`] makes: 2^16 segments, room for about 300
/// million keys before any split, in a directory of under 5 MB however large the count.
pub const MAX_RESERVED_DEPTH: u8 = 16;

/// A segment is rebuilt once entries and tombstones fill 85% of its buckets ...
const MAX_LOAD: (usize, usize) = (17, 20);
/// ... to hold its entries at 68%: it grows by a quarter.
const REBUILT_LOAD: (usize, usize) = (17, 25);
/// A segment is rebuilt smaller once its entries fill less than an eighth of its buckets, as
/// Redis shrinks a dict that falls below a tenth full (`htNeedsResize`), so deleting most of
/// a table gives its memory back ...
const MIN_LOAD: (usize, usize) = (1, 8);
/// ... unless it has no more buckets than this.
const MIN_SHRUNK_BUCKETS: usize = 64;
/// Buckets in the largest segment.
const SEGMENT_BUCKETS: usize = SEGMENT_ENTRIES * REBUILT_LOAD.1 / REBUILT_LOAD.0 + 1;

/// What the table stores: a value that carries its own key.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

/// Bucket tags: empty, a deleted entry's tombstone, or a full bucket's 7 hash bits (top bit set).
const EMPTY: u8 = 0;
const TOMBSTONE: u8 = 1;

fn tag_of(hash: u64) -> u8 {
    0x80 | (hash >> 57) as u8
}

/// An open-addressing table with linear probing: one tag byte and one slot per bucket.
#[derive(Debug, Clone)]
struct Buckets<E> {
    tags: Box<[u8]>,
    slots: Box<[Option<E>]>,
    len: usize,
    tombstones: usize,
}

impl<E: Keyed> Buckets<E> {
    fn with_buckets(buckets: usize) -> Buckets<E> {
        Buckets {
            tags: vec![EMPTY; buckets].into_boxed_slice(),
            slots: std::iter::repeat_with(|| None).take(buckets).collect(),
            len: 0,
            tombstones: 0,
        }
    }

    /// Buckets for `entries` at the rebuilt load (at least 8).
    fn for_entries(entries: usize) -> Buckets<E> {
        Buckets::with_buckets((entries * REBUILT_LOAD.1 / REBUILT_LOAD.0 + 1).max(8))
    }

    fn num_buckets(&self) -> usize {
        self.tags.len()
    }

    /// True if one more entry would pass the maximum load.
    fn is_full(&self) -> bool {
        (self.len + self.tombstones + 1) * MAX_LOAD.1 > self.num_buckets() * MAX_LOAD.0
    }

    fn home(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.num_buckets() as u64) >> 32) as usize
    }

    /// The bucket holding `key`. Every probe ends: an empty bucket always remains.
    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let buckets = self.num_buckets();
        if buckets == 0 {
            return None;
        }
        let tag = tag_of(hash);
        let mut i = self.home(hash);
        for _ in 0..buckets {
            match self.tags[i] {
                EMPTY => return None,
                t if t == tag && self.slots[i].as_ref().is_some_and(|e| e.key() == key) => {
                    return Some(i);
                }
                _ => {}
            }
            i += 1;
            if i == buckets {
                i = 0;
            }
        }
        None
    }

    /// Puts an entry whose key is absent into the first free bucket of its probe sequence
    /// (the caller made room). Returns its bucket.
    fn put(&mut self, hash: u64, entry: E) -> usize {
        let buckets = self.num_buckets();
        let mut i = self.home(hash);
        while self.tags[i] >= 0x80 {
            i += 1;
            if i == buckets {
                i = 0;
            }
        }
        if self.tags[i] == TOMBSTONE {
            self.tombstones -= 1;
        }
        self.tags[i] = tag_of(hash);
        self.slots[i] = Some(entry);
        self.len += 1;
        i
    }

    /// Takes the entry out of bucket `i`, leaving a tombstone unless the probe sequences
    /// through `i` end right after it anyway. No entry moves.
    fn take(&mut self, i: usize) -> E {
        let entry = self.slots[i].take().expect("a full bucket");
        self.len -= 1;
        let buckets = self.num_buckets();
        if self.tags[(i + 1) % buckets] == EMPTY {
            // Nothing probed past `i`: it and the tombstones before it can be empty again.
            self.tags[i] = EMPTY;
            let mut j = i;
            loop {
                j = if j == 0 { buckets - 1 } else { j - 1 };
                if self.tags[j] != TOMBSTONE {
                    break;
                }
                self.tags[j] = EMPTY;
                self.tombstones -= 1;
            }
        } else {
            self.tags[i] = TOMBSTONE;
            self.tombstones += 1;
        }
        entry
    }

    fn get(&self, i: usize) -> Option<&E> {
        self.slots.get(i)?.as_ref()
    }

    fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.slots.iter().flatten()
    }

    /// True once so few buckets are full that the segment should be rebuilt smaller.
    fn is_sparse(&self) -> bool {
        self.num_buckets() > MIN_SHRUNK_BUCKETS
            && self.len * MIN_LOAD.1 < self.num_buckets() * MIN_LOAD.0
    }

    fn allocation_size(&self) -> usize {
        self.num_buckets() * (1 + std::mem::size_of::<Option<E>>())
    }
}

/// One segment: its buckets, its local depth, and its layout tag.
#[derive(Debug, Clone)]
struct Segment<E> {
    table: Buckets<E>,
    depth: u8,
    /// Changes whenever entries may have moved between buckets (rebuild, split).
    tag: u32,
    /// Entries its first buckets are sized for ([`KeyTable::reserve`]); 0 once allocated.
    reserved: u32,
}

impl<E: Keyed> Segment<E> {
    fn new(depth: u8, tag: u32) -> Segment<E> {
        Segment {
            table: Buckets::with_buckets(0),
            depth,
            tag,
            reserved: 0,
        }
    }

    /// The first position this segment covers, given any position inside it.
    fn start(&self, position: u32) -> u32 {
        if self.depth == 0 {
            0
        } else {
            position & !(u32::MAX >> self.depth)
        }
    }

    /// The position after the last one this segment covers (2^32 for the last segment).
    fn end(&self, position: u32) -> u64 {
        u64::from(self.start(position)) + (1u64 << (32 - u32::from(self.depth)))
    }
}

/// A short key and its hash, kept by [`KeyTable::prefetch`] for the lookup that follows.
#[derive(Debug, Clone, Copy)]
struct HashedKey {
    hash: u64,
    len: u8,
    bytes: [u8; HashedKey::MAX_LEN],
}

impl HashedKey {
    /// Longer keys are not kept: hashing them again costs little next to their comparison.
    const MAX_LEN: usize = 23;

    fn new(key: &[u8], hash: u64) -> Option<HashedKey> {
        let mut bytes = [0; HashedKey::MAX_LEN];
        bytes.get_mut(..key.len())?.copy_from_slice(key);
        Some(HashedKey {
            hash,
            len: key.len() as u8,
            bytes,
        })
    }

    fn key(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Starts loading the cache line holding `value` (a hint that never faults).
fn prefetch_line<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching has no architectural effect and never faults; SSE, which the
        // instruction belongs to, is part of every x86-64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The entries of a [`KeyTable`], segment by segment.
pub struct Iter<'a, E> {
    segments: std::slice::Iter<'a, Segment<E>>,
    slots: std::slice::Iter<'a, Option<E>>,
    left: usize,
}

impl<'a, E> Iterator for Iter<'a, E> {
    type Item = &'a E;

    fn next(&mut self) -> Option<&'a E> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(entry) = self.slots.by_ref().flatten().next() {
                self.left -= 1;
                return Some(entry);
            }
            self.slots = self.segments.next()?.table.slots.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// A hash table of [`Keyed`] entries that grows by splitting segments.
#[derive(Debug, Clone)]
pub struct KeyTable<E> {
    /// Segment index for each `global_depth`-bit position prefix.
    directory: Vec<u32>,
    global_depth: u8,
    segments: Vec<Segment<E>>,
    len: usize,
    hasher: RandomState,
    /// The last key [`KeyTable::prefetch`] hashed, so that the lookup that follows it does
    /// not hash it again.
    prefetched: Cell<Option<HashedKey>>,
    /// Source of fresh layout tags.
    next_tag: u32,
}

impl<E: Keyed> Default for KeyTable<E> {
    fn default() -> Self {
        KeyTable::new()
    }
}

/// The directory position of a hash (see the module doc).
fn position(hash: u64) -> u32 {
    (hash >> 24) as u32
}

/// SCAN cursor layout: position (32 bits), layout tag (15 bits), bucket (17 bits).
const CURSOR_TAG_BITS: u32 = 15;
const CURSOR_BUCKET_BITS: u32 = 17;
const _: () = assert!(SEGMENT_BUCKETS < 1 << CURSOR_BUCKET_BITS);

fn encode_cursor(position: u32, tag: u32, bucket: usize) -> u64 {
    (u64::from(position) << 32)
        | (u64::from(tag & ((1 << CURSOR_TAG_BITS) - 1)) << CURSOR_BUCKET_BITS)
        | bucket as u64
}

fn decode_cursor(cursor: u64) -> (u32, u32, usize) {
    (
        (cursor >> 32) as u32,
        ((cursor >> CURSOR_BUCKET_BITS) as u32) & ((1 << CURSOR_TAG_BITS) - 1),
        (cursor & ((1 << CURSOR_BUCKET_BITS) - 1)) as usize,
    )
}

impl<E: Keyed> KeyTable<E> {
    pub fn new() -> KeyTable<E> {
        KeyTable {
            directory: vec![0],
            global_depth: 0,
            segments: vec![Segment::new(0, 0)],
            len: 0,
            hasher: RandomState::new(),
            prefetched: Cell::new(None),
            next_tag: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash of `key` in this table.
    pub fn hash(&self, key: &[u8]) -> u64 {
        if let Some(prefetched) = self.prefetched.get() {
            if prefetched.key() == key {
                return prefetched.hash;
            }
        }
        self.hasher.hash_one(key)
    }

    fn segment_of(&self, hash: u64) -> usize {
        let index = if self.global_depth == 0 {
            0
        } else {
            (position(hash) >> (32 - u32::from(self.global_depth))) as usize
        };
        self.directory[index] as usize
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        self.get_hashed(self.hash(key), key)
    }

    pub fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&E> {
        let table = &self.segments[self.segment_of(hash)].table;
        table.get(table.find(hash, key)?)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut E> {
        self.get_mut_hashed(self.hash(key), key)
    }

    pub fn get_mut_hashed(&mut self, hash: u64, key: &[u8]) -> Option<&mut E> {
        let segment = self.segment_of(hash);
        let table = &mut self.segments[segment].table;
        let bucket = table.find(hash, key)?;
        table.slots[bucket].as_mut()
    }

    /// Asks the CPU to start loading the cache lines a lookup of `key` reads first: its home
    /// bucket's tag and slot. A hint only: nothing changes, and a key that is not there or
    /// probes further costs just the hash. Run for a pipelined request while the one before
    /// it executes, the two cache misses of its lookup overlap that work (Redis 8 prefetches
    /// a batch's keys for the same reason).
    pub fn prefetch(&self, key: &[u8]) {
        let hash = self.hasher.hash_one(key);
        self.prefetched.set(HashedKey::new(key, hash));
        let table = &self.segments[self.segment_of(hash)].table;
        if table.num_buckets() == 0 {
            return;
        }
        let home = table.home(hash);
        prefetch_line(&table.tags[home]);
        prefetch_line(&table.slots[home]);
    }

    /// The entry at `key` (hashed to `hash`), or a new one from `make`; true if it is new.
    pub fn find_or_insert(
        &mut self,
        hash: u64,
        key: &[u8],
        make: impl FnOnce() -> E,
    ) -> (&mut E, bool) {
        let segment = self.segment_of(hash);
        if let Some(bucket) = self.segments[segment].table.find(hash, key) {
            let entry = self.segments[segment].table.slots[bucket].as_mut();
            return (entry.expect("the bucket just found"), false);
        }
        (self.insert_new(hash, make()), true)
    }

    /// Inserts an entry whose key is not in the table (the caller looked it up with the same
    /// `hash`), and returns it.
    pub fn insert_new(&mut self, hash: u64, entry: E) -> &mut E {
        let mut segment = self.segment_of(hash);
        if self.segments[segment].table.is_full() {
            let live = self.segments[segment].table.len;
            // A segment of depth 31 (2^31 segments) grows instead: a bound never reached.
            if live >= SEGMENT_ENTRIES && self.segments[segment].depth < 31 {
                self.split(segment);
                segment = self.segment_of(hash);
            }
            if self.segments[segment].table.is_full() {
                self.rebuild(segment);
            }
        }
        self.len += 1;
        let table = &mut self.segments[segment].table;
        let bucket = table.put(hash, entry);
        table.slots[bucket].as_mut().expect("just put")
    }

    /// Removes and returns the entry at `key`. A segment left less than an eighth full is
    /// rebuilt smaller (moving at most [`SEGMENT_ENTRIES`] / 8 entries).
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let hash = self.hash(key);
        let segment = self.segment_of(hash);
        let table = &mut self.segments[segment].table;
        let bucket = table.find(hash, key)?;
        self.len -= 1;
        let entry = table.take(bucket);
        if table.is_sparse() {
            self.rebuild(segment);
        }
        Some(entry)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> Iter<'_, E> {
        Iter {
            segments: self.segments.iter(),
            slots: [].iter(),
            left: self.len,
        }
    }

    /// Random entries (HRANDFIELD, SRANDMEMBER and SPOP with a count), picked as Redis's
    /// `hrandfieldWithCountCommand` does: with repeats, one [`KeyTable::random_fair`] pick each;
    /// distinct and at least a third of the table, a uniform sample of all of it; distinct and
    /// fewer, random picks until that many differ (a bounded number of tries, then the
    /// uniform sample). A distinct count of the whole table or more gives every entry.
    pub fn sample(&self, rng: &mut impl Rng, picks: Picks) -> Vec<&E> {
        match picks {
            _ if self.is_empty() => Vec::new(),
            Picks::Repeated(count) => (0..count)
                .map(|_| self.random_fair(rng).expect("not empty"))
                .collect(),
            Picks::Distinct(count) if count >= self.len => self.iter().collect(),
            Picks::Distinct(count) => {
                if count * 3 <= self.len {
                    let mut seen = std::collections::HashSet::with_capacity(count);
                    let mut picked = Vec::with_capacity(count);
                    for _ in 0..count.saturating_mul(16).max(64) {
                        let entry = self.random_fair(rng).expect("not empty");
                        if seen.insert(entry as *const E) {
                            picked.push(entry);
                            if picked.len() == count {
                                return picked;
                            }
                        }
                    }
                }
                let all: Vec<&E> = self.iter().collect();
                rand::seq::index::sample(rng, all.len(), count)
                    .into_iter()
                    .map(|i| all[i])
                    .collect()
            }
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        *self = KeyTable {
            hasher: self.hasher.clone(),
            next_tag: self.next_tag.wrapping_add(1),
            ..KeyTable::new()
        };
    }

    /// Prepares an empty table for `entries` (an RDB file's `RESIZEDB` count, as Redis's
    /// loader expands its dict), so that loading them moves no entry: the directory is made
    /// deep enough that each segment expects at most four fifths of [`SEGMENT_ENTRIES`], and
    /// each segment's first buckets are sized for its share. Buckets are allocated as entries
    /// arrive, so a count that overstates costs only the directory ([`MAX_RESERVED_DEPTH`]
    /// bounds it). A table that holds entries is left as it is.
    pub fn reserve(&mut self, entries: usize) {
        if !self.is_empty() || entries == 0 {
            return;
        }
        let mut depth = 0u8;
        while depth < MAX_RESERVED_DEPTH && entries >> depth > SEGMENT_ENTRIES * 4 / 5 {
            depth += 1;
        }
        let share = ((entries >> depth) + 1).min(SEGMENT_ENTRIES) as u32;
        self.global_depth = depth;
        self.directory = (0..1u32 << depth).collect();
        self.segments = (0..1u32 << depth)
            .map(|_| Segment {
                table: Buckets::with_buckets(0),
                depth,
                tag: 0,
                reserved: share,
            })
            .collect();
        for i in 0..self.segments.len() {
            self.segments[i].tag = self.fresh_tag();
        }
    }

    fn fresh_tag(&mut self) -> u32 {
        self.next_tag = self.next_tag.wrapping_add(1);
        self.next_tag
    }

    /// Moves a segment's entries into buckets sized for them plus the next insert (or for
    /// what was reserved, the first time).
    fn rebuild(&mut self, index: usize) {
        let old = std::mem::replace(&mut self.segments[index].table, Buckets::with_buckets(0));
        let reserved = std::mem::take(&mut self.segments[index].reserved) as usize;
        let mut table = Buckets::for_entries((old.len + 1).max(reserved));
        for entry in old.slots.into_vec().into_iter().flatten() {
            table.put(self.hasher.hash_one(entry.key()), entry);
        }
        self.segments[index].table = table;
        self.segments[index].tag = self.fresh_tag();
    }

    /// Splits a segment in two on the next bit of the position, doubling the directory
    /// first if the segment was as deep as it.
    fn split(&mut self, index: usize) {
        let depth = self.segments[index].depth;
        if depth == self.global_depth {
            self.directory = self.directory.iter().flat_map(|&s| [s, s]).collect();
            self.global_depth += 1;
        }
        let new_depth = depth + 1;
        let upper_bit = 1u32 << (31 - u32::from(depth));
        let old = std::mem::replace(&mut self.segments[index].table, Buckets::with_buckets(0));
        type Hashed<E> = Vec<(u64, E)>;
        let (lower, upper): (Hashed<E>, Hashed<E>) = old
            .slots
            .into_vec()
            .into_iter()
            .flatten()
            .map(|entry| (self.hasher.hash_one(entry.key()), entry))
            .partition(|(hash, _)| position(*hash) & upper_bit == 0);
        let fill = |entries: Hashed<E>| {
            let mut table = Buckets::for_entries(entries.len() + 1);
            for (hash, entry) in entries {
                table.put(hash, entry);
            }
            table
        };
        let (lower, upper) = (fill(lower), fill(upper));
        let lower_tag = self.fresh_tag();
        let upper_tag = self.fresh_tag();
        self.segments[index].table = lower;
        self.segments[index].depth = new_depth;
        self.segments[index].tag = lower_tag;
        let upper_index = self.segments.len() as u32;
        self.segments.push(Segment {
            table: upper,
            depth: new_depth,
            tag: upper_tag,
            reserved: 0,
        });
        // The directory entries of the old segment: the upper half now points to the new one.
        let span = 1usize << (self.global_depth - depth);
        let first = self
            .directory
            .iter()
            .position(|&s| s as usize == index)
            .expect("a segment is in the directory");
        for slot in &mut self.directory[first + span / 2..first + span] {
            *slot = upper_index;
        }
    }

    /// A random entry (eviction's samples): a random position picks a segment, a
    /// random bucket in it is probed forwards to the next entry. Not exactly uniform, as
    /// Redis's `dictGetRandomKey` is not; None only if the table is empty.
    pub fn random(&self, rng: &mut impl Rng) -> Option<&E> {
        if self.len == 0 {
            return None;
        }
        for _ in 0..32 {
            let segment = &self.segments[self.segment_of(rng.gen::<u64>())];
            if let Some(entry) = Self::probe(segment, rng) {
                return Some(entry);
            }
        }
        // Mostly empty segments: pick among the non-empty ones.
        let filled: Vec<&Segment<E>> = self.segments.iter().filter(|s| s.table.len > 0).collect();
        let segment = filled[rng.gen_range(0..filled.len())];
        Self::probe(segment, rng)
    }

    /// A uniformly random entry (RANDOMKEY, HRANDFIELD, SRANDMEMBER, SPOP, ZRANDMEMBER), as
    /// Redis's `dictGetFairRandomKey` means to be: a segment with probability in proportion to
    /// its entries, then buckets of it at random until a full one (a segment is at least an
    /// eighth full once it has more than [`MIN_SHRUNK_BUCKETS`] buckets, so that takes a few
    /// tries). Walks the segment list: a collection's table has few segments, a keyspace of a
    /// million keys a few hundred. None only if the table is empty.
    pub fn random_fair(&self, rng: &mut impl Rng) -> Option<&E> {
        if self.len == 0 {
            return None;
        }
        let mut nth = rng.gen_range(0..self.len);
        let table = &self
            .segments
            .iter()
            .find(|s| {
                let inside = nth < s.table.len;
                if !inside {
                    nth -= s.table.len;
                }
                inside
            })
            .expect("the segments hold len entries")
            .table;
        let buckets = table.num_buckets();
        for _ in 0..buckets.max(64) * 4 {
            if let Some(entry) = table.get(rng.gen_range(0..buckets)) {
                return Some(entry);
            }
        }
        // Improbably unlucky: the nth entry of the segment is as fair.
        table.iter().nth(nth)
    }

    fn probe<'a>(segment: &'a Segment<E>, rng: &mut impl Rng) -> Option<&'a E> {
        if segment.table.len == 0 {
            return None;
        }
        let buckets = segment.table.num_buckets();
        let start = rng.gen_range(0..buckets);
        (0..buckets).find_map(|i| segment.table.get((start + i) % buckets))
    }

    /// One SCAN step from `cursor` (0 starts): visits entries until at least `count` were
    /// visited or the table ends, and returns the next cursor (0 once done). See the module
    /// doc for the guarantee.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&E)) -> u64 {
        let (mut position, tag, mut bucket) = decode_cursor(cursor);
        let mut visited = 0;
        loop {
            let index = self.segment_of(u64::from(position) << 24);
            let segment = &self.segments[index];
            let start = segment.start(position);
            let stale = start != position
                || (bucket > 0 && tag != segment.tag & ((1 << CURSOR_TAG_BITS) - 1));
            let buckets = segment.table.num_buckets();
            if stale {
                // Entries may have moved since this cursor was made: the whole segment again.
                position = start;
                segment.table.iter().for_each(&mut visit);
                visited += segment.table.len;
                bucket = buckets;
            }
            while bucket < buckets {
                if let Some(entry) = segment.table.get(bucket) {
                    visit(entry);
                    visited += 1;
                }
                bucket += 1;
                if visited >= count && bucket < buckets {
                    return encode_cursor(position, segment.tag, bucket);
                }
            }
            let end = segment.end(position);
            if end >= 1 << 32 {
                return 0;
            }
            position = end as u32;
            bucket = 0;
            if visited >= count {
                return encode_cursor(position, 0, 0);
            }
        }
    }

    /// Segments and directory size, for tests and MEMORY reports.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// Bytes the table's own allocations hold (buckets, control bytes, directory).
    pub fn allocation_size(&self) -> usize {
        self.segments
            .iter()
            .map(|s| s.table.allocation_size())
            .sum::<usize>()
            + self.directory.len() * 4
            + self.segments.len() * std::mem::size_of::<Segment<E>>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Item(Vec<u8>, u32);

    impl Keyed for Item {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    fn insert(t: &mut KeyTable<Item>, key: &str, value: u32) {
        let hash = t.hash(key.as_bytes());
        match t.get_mut_hashed(hash, key.as_bytes()) {
            Some(item) => item.1 = value,
            None => {
                t.insert_new(hash, Item(key.as_bytes().to_vec(), value));
            }
        }
    }

    fn scan_all(t: &KeyTable<Item>, count: usize) -> (Vec<Vec<u8>>, usize) {
        let mut keys = Vec::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            cursor = t.scan(cursor, count, |e| keys.push(e.0.clone()));
            calls += 1;
            if cursor == 0 {
                return (keys, calls);
            }
            assert!(calls < 1_000_000, "scan must end");
        }
    }

    #[test]
    fn grows_by_splitting_segments_and_finds_every_key() {
        let mut t = KeyTable::new();
        for i in 0..100_000u32 {
            insert(&mut t, &format!("key:{i}"), i);
        }
        assert_eq!(t.len(), 100_000);
        assert!(t.segments() >= 14, "{} segments", t.segments());
        for s in &t.segments {
            assert!(s.table.num_buckets() <= SEGMENT_BUCKETS);
            assert!(s.table.len * MAX_LOAD.1 <= SEGMENT_BUCKETS * MAX_LOAD.0);
        }
        for i in 0..100_000u32 {
            assert_eq!(t.get(format!("key:{i}").as_bytes()).map(|e| e.1), Some(i));
        }
        assert!(t.get(b"key:100000").is_none());
        for i in (0..100_000u32).step_by(2) {
            assert_eq!(
                t.remove(format!("key:{i}").as_bytes()).map(|e| e.1),
                Some(i)
            );
        }
        assert_eq!(t.len(), 50_000);
        assert_eq!(t.iter().count(), 50_000);
        assert!(t.get(b"key:0").is_none() && t.get(b"key:1").is_some());
    }

    #[test]
    fn a_reserved_table_loads_its_entries_without_moving_them() {
        let mut t = KeyTable::new();
        t.reserve(50_000);
        assert_eq!(t.segments(), 16);
        for i in 0..50_000u32 {
            insert(&mut t, &format!("key:{i}"), i);
        }
        // Each segment was allocated once, at the reserved size: no split, no second rebuild.
        assert_eq!(t.segments(), 16);
        let reserved_buckets = Buckets::<Item>::for_entries(50_000 / 16 + 1).num_buckets();
        for s in &t.segments {
            assert_eq!(s.table.num_buckets(), reserved_buckets);
        }
        for i in 0..50_000u32 {
            assert_eq!(t.get(format!("key:{i}").as_bytes()).map(|e| e.1), Some(i));
        }
        // Reserving again, or into a table with entries, changes nothing.
        t.reserve(10_000_000);
        assert_eq!(t.segments(), 16);
    }

    #[test]
    fn an_overstated_reservation_costs_only_a_bounded_directory() {
        let mut t = KeyTable::new();
        t.reserve(usize::MAX);
        assert_eq!(t.segments(), 1 << MAX_RESERVED_DEPTH);
        assert!(
            t.allocation_size() < 5 << 20,
            "{} bytes",
            t.allocation_size()
        );
        for i in 0..100u32 {
            insert(&mut t, &format!("k{i}"), i);
        }
        let (keys, _) = scan_all(&t, 10);
        assert_eq!(keys.len(), 100);
        let mut rng = StdRng::seed_from_u64(1);
        assert!(t.random(&mut rng).is_some());
        assert_eq!(t.remove(b"k7").map(|e| e.1), Some(7));
        assert_eq!(t.len(), 99);
    }

    #[test]
    fn scan_returns_every_key_once_on_a_quiet_table_whatever_the_count() {
        let mut t = KeyTable::new();
        for i in 0..30_000u32 {
            insert(&mut t, &format!("k{i}"), i);
        }
        for count in [1, 10, 1000, 100_000] {
            let (keys, calls) = scan_all(&t, count);
            assert_eq!(keys.len(), 30_000, "count {count}");
            let distinct: HashSet<_> = keys.into_iter().collect();
            assert_eq!(distinct.len(), 30_000);
            if count == 10 {
                assert!(calls >= 3000 / 2, "{calls} calls");
            }
        }
        let empty: KeyTable<Item> = KeyTable::new();
        assert_eq!(scan_all(&empty, 10).0.len(), 0);
    }

    #[test]
    fn scan_returns_keys_present_throughout_while_the_table_grows_and_shrinks() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut t = KeyTable::new();
        for i in 0..20_000u32 {
            insert(&mut t, &format!("stay{i}"), i);
        }
        let segments_before = t.segments();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next = 0u32;
        for calls in 0.. {
            cursor = t.scan(cursor, 20, |e| {
                seen.insert(e.0.clone());
            });
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000);
            // Between calls: many inserts (splits and regrowth) and deletions.
            for _ in 0..rng.gen_range(0..400) {
                insert(&mut t, &format!("new{next}"), next);
                next += 1;
            }
            for _ in 0..rng.gen_range(0..100) {
                let victim = format!("new{}", rng.gen_range(0..next.max(1)));
                t.remove(victim.as_bytes());
            }
        }
        for i in 0..20_000u32 {
            assert!(
                seen.contains(format!("stay{i}").as_bytes()),
                "stay{i} missed"
            );
        }
        assert!(
            t.segments() > segments_before,
            "the table split during the scan"
        );
    }

    #[test]
    fn random_reaches_every_segment_and_only_live_entries() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut t = KeyTable::new();
        assert!(t.random(&mut rng).is_none());
        for i in 0..20_000u32 {
            insert(&mut t, &format!("r{i}"), i);
        }
        for i in 0..19_990u32 {
            t.remove(format!("r{i}").as_bytes());
        }
        let mut picked = HashSet::new();
        for _ in 0..2000 {
            let item = t.random(&mut rng).expect("not empty");
            assert!(item.1 >= 19_990);
            picked.insert(item.1);
        }
        assert_eq!(picked.len(), 10);
        t.clear();
        assert!(t.is_empty() && t.random(&mut rng).is_none());
        assert_eq!(t.segments(), 1);
    }

    #[test]
    fn deleting_most_entries_shrinks_segments_and_a_scan_still_returns_the_rest() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut t = KeyTable::new();
        for i in 0..10_000u32 {
            insert(&mut t, &format!("stay{i}"), i);
        }
        for i in 0..90_000u32 {
            insert(&mut t, &format!("gone{i}"), i);
        }
        let full = t.allocation_size();
        let mut gone = (0..90_000u32).collect::<Vec<_>>();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        for calls in 0.. {
            cursor = t.scan(cursor, 50, |e| {
                seen.insert(e.0.clone());
            });
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000);
            for _ in 0..rng.gen_range(0..2000).min(gone.len()) {
                let victim = gone.swap_remove(rng.gen_range(0..gone.len()));
                assert!(t.remove(format!("gone{victim}").as_bytes()).is_some());
            }
        }
        for i in gone {
            t.remove(format!("gone{i}").as_bytes());
        }
        for i in 0..10_000u32 {
            assert!(seen.contains(format!("stay{i}").as_bytes()), "stay{i}");
            assert_eq!(t.get(format!("stay{i}").as_bytes()).map(|e| e.1), Some(i));
        }
        assert_eq!((t.len(), t.iter().count()), (10_000, 10_000));
        assert!(
            t.allocation_size() * 5 < full,
            "{} of {full} bytes kept",
            t.allocation_size()
        );
        for s in &t.segments {
            assert!(!s.table.is_sparse());
        }
    }

    #[test]
    fn fair_random_picks_every_entry_equally_often_across_uneven_segments() {
        let mut rng = StdRng::seed_from_u64(8);
        let mut t = KeyTable::new();
        for i in 0..30_000u32 {
            insert(&mut t, &format!("f{i}"), i);
        }
        // 20 entries left over several shrunken segments, unevenly (some keep none).
        for i in (0..30_000u32).filter(|i| i % 1500 != 0) {
            t.remove(format!("f{i}").as_bytes());
        }
        assert!(t.segments() > 1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..200_000 {
            *counts
                .entry(t.random_fair(&mut rng).unwrap().1)
                .or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 20);
        for (entry, count) in counts {
            // 10,000 expected; the standard deviation is under 100.
            assert!((9_500..10_500).contains(&count), "f{entry}: {count}");
        }
    }

    #[test]
    fn samples_are_live_entries_distinct_when_asked() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut t = KeyTable::new();
        assert!(t.sample(&mut rng, Picks::Repeated(3)).is_empty());
        for i in 0..1000u32 {
            insert(&mut t, &format!("s{i}"), i);
        }
        for i in 0..900u32 {
            t.remove(format!("s{i}").as_bytes());
        }
        let repeated = t.sample(&mut rng, Picks::Repeated(500));
        assert_eq!(repeated.len(), 500);
        assert!(repeated.iter().all(|e| e.1 >= 900));
        // Few (random picks), a third or more (a uniform sample), all, more than all.
        for count in [1, 10, 33, 34, 60, 100, 150] {
            let picked = t.sample(&mut rng, Picks::Distinct(count));
            assert!(picked.iter().all(|e| e.1 >= 900));
            let distinct: HashSet<u32> = picked.iter().map(|e| e.1).collect();
            assert_eq!(
                (picked.len(), distinct.len()),
                (count.min(100), count.min(100))
            );
        }
        assert_eq!(t.iter().size_hint(), (100, Some(100)));
    }

    #[test]
    fn a_prefetched_key_hashes_the_same_and_lookups_are_unchanged() {
        let mut t = KeyTable::new();
        t.prefetch(b"before any bucket");
        for i in 0..20_000u32 {
            insert(&mut t, &format!("p{i}"), i);
        }
        let long = "p".repeat(HashedKey::MAX_LEN + 1);
        insert(&mut t, &long, 7);
        for key in ["p5", "p19999", "absent", long.as_str(), ""] {
            t.prefetch(key.as_bytes());
            assert_eq!(t.hash(key.as_bytes()), t.hasher.hash_one(key.as_bytes()));
            // Another key after the prefetch is hashed afresh.
            assert_eq!(t.hash(b"p6"), t.hasher.hash_one(&b"p6"[..]));
        }
        t.prefetch(b"p5");
        assert_eq!(t.get(b"p5").map(|e| e.1), Some(5));
        assert_eq!(t.get(b"p6").map(|e| e.1), Some(6));
        assert_eq!(t.get(long.as_bytes()).map(|e| e.1), Some(7));
        assert!(t.get(b"absent").is_none());
    }

    #[test]
    fn cursors_encode_and_decode() {
        for (p, tag, b) in [
            (0, 0, 1),
            (u32::MAX, 0x7fff, SEGMENT_BUCKETS),
            (1 << 31, 5, 0),
        ] {
            assert_eq!(decode_cursor(encode_cursor(p, tag, b)), (p, tag, b));
        }
    }
}
