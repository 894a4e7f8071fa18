//! The sorted set value: members ordered by `(score, member)`, packed in one buffer while
//! small, a member → score table plus an ordered tree once large.
//!
//! Redis keeps a small sorted set as one listpack (`t_zset.c`: member and score entries back to
//! back, sorted, found by a linear walk) and converts it to a skiplist plus a dict when a new
//! member would make it hold more than `zset-max-listpack-entries` members or is longer than
//! `zset-max-listpack-value` bytes (`zsetAdd`). It converts back only where a result is built
//! whole and turns out small (`zsetConvertToListpackIfNeeded`: ZRANGESTORE, ZUNIONSTORE,
//! ZINTERSTORE, ZDIFFSTORE, and RDB loading of a skiplist-encoded zset); a listpack in an RDB
//! file stays one unless it has too many members, whatever the length of its members. [`ZSet`]
//! does the same with the thresholds of [`EncodingLimits`], and `OBJECT ENCODING` reports which
//! form a sorted set is in (`listpack` or `skiplist`).
//!
//! The packed form is not Redis's listpack byte for byte: a member is a LEB128 length and its
//! bytes, a score is a kind byte and the narrowest exact form of the double (an 8, 16 or
//! 32-bit integer, a 32-bit float, or the full 64 bits), so a small set of short members takes
//! no more room than Redis's listpack. The RDB writer re-encodes it as a listpack
//! (`persist::rdb::write`).
//!
//! In the large form, a `BTreeSet` ordered by `(score, member)` plays the skiplist's part and
//! the keyspace's own table ([`KeyTable`]) the dict's: each member and its score sit in one
//! bucket, so ZSCORE and ZADD's lookup read the bucket tags and the bucket, and the table gives
//! fair random picks and a SCAN cursor, as it does for hashes and sets. Rank queries walk the
//! tree, so they cost O(rank) instead of the skiplist's O(log n).
//!
//! Commands see only this API (insert, remove, scores, ranks, ranges by rank, score or lex in
//! either direction, pops, random picks, scan), never the representation.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;
use rand::Rng;

use super::hash::MAX_RESERVED;
use super::packed::{self, len_size, put_len, read_string, HEADER, PACKED_SAFETY_LIMIT};
use super::str::Str;
use super::table::{KeyTable, Keyed};
use super::value::EncodingLimits;

/// A score with the total order Redis uses: numeric order, `-0.0 == 0.0`, never NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(f64);

impl Score {
    /// Wraps a score, folding `-0.0` into `0.0`. The caller has rejected NaN already
    /// (Redis answers `ERR resulting score is not a number (NaN)`).
    pub fn new(value: f64) -> Score {
        debug_assert!(!value.is_nan(), "zset scores are never NaN");
        Score(if value == 0.0 { 0.0 } else { value })
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The order of entries: by score, then by member bytes.
fn entry_order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    Score::new(a.0)
        .cmp(&Score::new(b.0))
        .then_with(|| a.1.cmp(b.1))
}

// ---------------------------------------------------------------------------------------------
// Ranges

/// A score interval (Redis's `zrangespec`); an exclusive bound is written `(` in commands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// True if `score` is at or above the lower bound.
    pub fn gte_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// True if `score` is at or below the upper bound.
    pub fn lte_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lexicographic interval.
#[derive(Debug, Clone, PartialEq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`
    Inclusive(Bytes),
    /// `(member`
    Exclusive(Bytes),
}

/// A lexicographic interval (Redis's `zlexrangespec`).
#[derive(Debug, Clone, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// True if `member` is at or above the lower bound.
    pub fn gte_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(b) => member >= &b[..],
            LexBound::Exclusive(b) => member > &b[..],
        }
    }

    /// True if `member` is at or below the upper bound.
    pub fn lte_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => member <= &b[..],
            LexBound::Exclusive(b) => member < &b[..],
        }
    }
}

/// What a range query selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// Ranks `start..=end` in the direction of the query, both below the set's length (the
    /// command layer resolves negative ranks and empty ranges).
    Rank {
        start: usize,
        end: usize,
    },
    Score(ScoreRange),
    /// Walked as Redis walks a sorted set: from the first member past the lower bound while
    /// members stay below the upper one (meant for members that share one score).
    Lex(LexRange),
}

// ---------------------------------------------------------------------------------------------
// The packed form

/// The member count (a little-endian `u32`), then the entries in `(score, member)` order,
/// each a LEB128 member length, the member, a score kind and the score's bytes; an empty set
/// has no buffer at all. An exact-size boxed slice keeps the whole [`ZSet`] at 16 bytes, so a
/// key's value holds it without a further allocation.
#[derive(Clone, Default)]
struct Packed {
    buf: Box<[u8]>,
}

/// Score kinds: the narrowest form that holds the double exactly.
const SCORE_I8: u8 = 0;
const SCORE_I16: u8 = 1;
const SCORE_I32: u8 = 2;
const SCORE_F32: u8 = 3;
const SCORE_F64: u8 = 4;

/// The kind byte and payload size of `score`'s packed form.
fn score_kind(score: f64) -> (u8, usize) {
    // fract() of an infinity is NaN, so infinities fall through to the float kinds.
    if score.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&score) {
        let int = score as i32;
        if i8::try_from(int).is_ok() {
            (SCORE_I8, 1)
        } else if i16::try_from(int).is_ok() {
            (SCORE_I16, 2)
        } else {
            (SCORE_I32, 4)
        }
    } else if f64::from(score as f32) == score {
        (SCORE_F32, 4)
    } else {
        (SCORE_F64, 8)
    }
}

/// Bytes one entry takes in a packed buffer.
fn entry_size(member: &[u8], score: f64) -> usize {
    len_size(member.len()) + member.len() + 1 + score_kind(score).1
}

/// Appends one entry.
fn put_entry(buf: &mut Vec<u8>, member: &[u8], score: f64) {
    put_len(buf, member.len());
    buf.extend_from_slice(member);
    let (kind, _) = score_kind(score);
    buf.push(kind);
    match kind {
        SCORE_I8 => buf.push(score as i8 as u8),
        SCORE_I16 => buf.extend_from_slice(&(score as i16).to_le_bytes()),
        SCORE_I32 => buf.extend_from_slice(&(score as i32).to_le_bytes()),
        SCORE_F32 => buf.extend_from_slice(&(score as f32).to_le_bytes()),
        _ => buf.extend_from_slice(&score.to_le_bytes()),
    }
}

/// Reads the score at `pos`: (the score, the position after it).
fn read_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let at = pos + 1;
    let bytes = |n: usize| &buf[at..at + n];
    match buf[pos] {
        SCORE_I8 => (f64::from(buf[at] as i8), at + 1),
        SCORE_I16 => (
            f64::from(i16::from_le_bytes(bytes(2).try_into().expect("2 bytes"))),
            at + 2,
        ),
        SCORE_I32 => (
            f64::from(i32::from_le_bytes(bytes(4).try_into().expect("4 bytes"))),
            at + 4,
        ),
        SCORE_F32 => (
            f64::from(f32::from_le_bytes(bytes(4).try_into().expect("4 bytes"))),
            at + 4,
        ),
        _ => (
            f64::from_le_bytes(bytes(8).try_into().expect("8 bytes")),
            at + 8,
        ),
    }
}

/// One entry as a walk over a sorted set sees it: its member and score, and where its bytes
/// sit in a packed buffer (`start..end`; zero for the large form).
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    member: &'a [u8],
    score: f64,
    start: usize,
    end: usize,
}

/// The entries of a packed buffer, in order.
struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (member, after) = read_string(self.buf, start);
        let (score, end) = read_score(self.buf, after);
        self.pos = end;
        Some(Item {
            member: &self.buf[member],
            score,
            start,
            end,
        })
    }
}

impl Packed {
    /// Encodes `entries` (sorted by `(score, member)`, members distinct) in one buffer.
    fn from_sorted<M: AsRef<[u8]>>(entries: &[(M, f64)]) -> Packed {
        if entries.is_empty() {
            return Packed::default();
        }
        let size: usize = entries
            .iter()
            .map(|(m, s)| entry_size(m.as_ref(), *s))
            .sum();
        let mut buf = Vec::with_capacity(HEADER + size);
        buf.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (member, score) in entries {
            put_entry(&mut buf, member.as_ref(), *score);
        }
        Packed {
            buf: buf.into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        packed::count(&self.buf)
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: HEADER,
        }
    }

    fn find(&self, member: &[u8]) -> Option<Item<'_>> {
        self.iter().find(|item| item.member == member)
    }

    /// Applies `change` to the buffer (see [`packed::edit`]).
    fn edit(&mut self, change: impl FnOnce(&mut Vec<u8>)) {
        packed::edit(&mut self.buf, change);
    }

    /// Inserts an entry for a member not in `buf`, at its place in the order. The buffer
    /// grows by exactly the entry, as a listpack reallocates per insert.
    fn insert_into(buf: &mut Vec<u8>, member: &[u8], score: f64) {
        let at = PackedIter { buf, pos: HEADER }
            .find(|item| entry_order((item.score, item.member), (score, member)).is_gt())
            .map_or(buf.len(), |item| item.start);
        let size = entry_size(member, score);
        buf.reserve_exact(size);
        put_entry(buf, member, score);
        buf[at..].rotate_right(size);
        packed::add_to_count(buf, 1);
    }

    /// Sets `member`'s score; returns the previous one.
    fn set(&mut self, member: &[u8], score: f64) -> Option<f64> {
        match self.find(member) {
            Some(old) => {
                let (start, end, previous) = (old.start, old.end, old.score);
                if Score::new(previous) != Score::new(score) {
                    self.edit(|buf| {
                        buf.drain(start..end);
                        packed::add_to_count(buf, -1);
                        Packed::insert_into(buf, member, score);
                    });
                }
                Some(previous)
            }
            None => {
                self.edit(|buf| Packed::insert_into(buf, member, score));
                None
            }
        }
    }

    /// Removes the entries in `start..end` (`count` of them).
    fn remove_span(&mut self, start: usize, end: usize, count: usize) {
        self.edit(|buf| {
            buf.drain(start..end);
            packed::add_to_count(buf, -(count as i64));
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The large form

/// A member and its score in the member table.
#[derive(Clone)]
struct Scored {
    member: Str,
    score: Score,
}

impl Keyed for Scored {
    fn key(&self) -> &[u8] {
        &self.member
    }
}

/// A member → score table and the entries ordered by `(score, member)`. Members up to 22
/// bytes are held inline ([`Str`]) in both.
#[derive(Clone, Default)]
struct Large {
    scores: KeyTable<Scored>,
    ordered: BTreeSet<(Score, Str)>,
}

impl Large {
    fn with_capacity(capacity: usize) -> Large {
        let mut scores = KeyTable::new();
        scores.reserve(capacity);
        Large {
            scores,
            ordered: BTreeSet::new(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<Score> {
        self.scores.get(member).map(|s| s.score)
    }

    fn set(&mut self, member: &[u8], score: Score) -> Option<f64> {
        let hash = self.scores.hash(member);
        match self.scores.get_mut_hashed(hash, member) {
            Some(old) => {
                let previous = old.score;
                if previous != score {
                    old.score = score;
                    let (_, member) = self
                        .ordered
                        .take(&(previous, Str::new(member)))
                        .expect("the tree holds every member of the table");
                    self.ordered.insert((score, member));
                }
                Some(previous.get())
            }
            None => {
                let member = Str::new(member);
                self.scores.insert_new(
                    hash,
                    Scored {
                        member: member.clone(),
                        score,
                    },
                );
                self.ordered.insert((score, member));
                None
            }
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let Scored { member, score } = self.scores.remove(member)?;
        self.ordered.remove(&(score, member));
        Some(score.get())
    }

    fn pop(&mut self, from_max: bool) -> Option<(Bytes, f64)> {
        let (score, member) = if from_max {
            self.ordered.pop_last()?
        } else {
            self.ordered.pop_first()?
        };
        self.scores.remove(&member[..]);
        Some((member.into(), score.get()))
    }
}

fn large_item((score, member): &(Score, Str)) -> Item<'_> {
    Item {
        member: member.as_slice(),
        score: score.get(),
        start: 0,
        end: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// The sorted set

/// A sorted set. Members are unique; iteration is ascending by `(score, member)`.
#[derive(Clone, Default)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Packed(Packed),
    Large(Box<Large>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

/// A walk over some of a sorted set's entries.
type Items<'a> = Box<dyn Iterator<Item = Item<'a>> + 'a>;

/// The entries of a sorted set, ascending by `(score, member)`.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Packed(PackedIter<'a>),
    Large(std::collections::btree_set::Iter<'a, (Score, Str)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next().map(|item| (item.member, item.score)),
            IterRepr::Large(it) => it.next().map(|(s, m)| (m.as_slice(), s.get())),
        }
    }
}

impl ZSet {
    /// An empty sorted set, packed.
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// An empty sorted set about to receive `len` members: large from the start if that is
    /// more than a packed set may hold (as Redis loads a skiplist-encoded set). `len` may come
    /// from an untrusted file, so at most [`MAX_RESERVED`] slots are reserved.
    pub fn with_expected_len(len: u64, limits: &EncodingLimits) -> ZSet {
        if len <= limits.zset_max_listpack_entries as u64 {
            return ZSet::new();
        }
        let reserved = len.min(MAX_RESERVED as u64) as usize;
        ZSet {
            repr: Repr::Large(Box::new(Large::with_capacity(reserved))),
        }
    }

    /// A sorted set of `entries` (distinct members, any order), packed if it is within
    /// `limits`: a result built whole (ZRANGESTORE, ZUNIONSTORE, ...), which Redis converts to
    /// a listpack when small (`zsetConvertToListpackIfNeeded`).
    pub fn from_entries(mut entries: Vec<(Bytes, f64)>, limits: &EncodingLimits) -> ZSet {
        let max_len = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let total: usize = entries.iter().map(|(m, _)| m.len()).sum();
        if entries.len() <= limits.zset_max_listpack_entries
            && max_len <= limits.zset_max_listpack_value
            && total < PACKED_SAFETY_LIMIT
        {
            entries.sort_unstable_by(|a, b| entry_order((a.1, &a.0), (b.1, &b.0)));
            return ZSet {
                repr: Repr::Packed(Packed::from_sorted(&entries)),
            };
        }
        let mut large = Large::with_capacity(entries.len());
        for (member, score) in entries {
            large.set(&member, Score::new(score));
        }
        ZSet {
            repr: Repr::Large(Box::new(large)),
        }
    }

    /// The sorted set an RDB listpack (or ziplist) of `pairs` stands for: packed unless it
    /// holds more than `zset-max-listpack-entries` members (long members stay packed, as in
    /// Redis's `rdbLoadObject`). None if a member repeats.
    pub fn from_listpack_pairs(pairs: Vec<(&[u8], f64)>, limits: &EncodingLimits) -> Option<ZSet> {
        let mut by_member: Vec<&[u8]> = pairs.iter().map(|(m, _)| *m).collect();
        by_member.sort_unstable();
        if by_member.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        if pairs.len() > limits.zset_max_listpack_entries {
            let mut large = Large::with_capacity(pairs.len());
            for (member, score) in pairs {
                large.set(member, Score::new(score));
            }
            return Some(ZSet {
                repr: Repr::Large(Box::new(large)),
            });
        }
        let mut pairs = pairs;
        pairs.sort_unstable_by(|a, b| entry_order((a.1, a.0), (b.1, b.0)));
        Some(ZSet {
            repr: Repr::Packed(Packed::from_sorted(&pairs)),
        })
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Large(l) => l.scores.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the sorted set is in its packed form (`OBJECT ENCODING` says `listpack`).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        if self.is_packed() {
            "listpack"
        } else {
            "skiplist"
        }
    }

    /// The bytes of the packed buffer, or None for the large form (MEMORY USAGE).
    pub fn packed_bytes(&self) -> Option<usize> {
        match &self.repr {
            Repr::Packed(p) => Some(p.buf.len()),
            Repr::Large(_) => None,
        }
    }

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => p.find(member).map(|item| item.score),
            Repr::Large(l) => l.score(member).map(Score::get),
        }
    }

    /// Inserts `member` with `score` or updates its score; returns the previous score. A new
    /// member makes a packed set large first if the set would then hold more than
    /// `zset-max-listpack-entries` members or the member is longer than
    /// `zset-max-listpack-value` bytes (Redis's `zsetAdd`); an update never converts.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        let score = Score::new(score);
        if let Repr::Packed(p) = &mut self.repr {
            let previous = p.find(member).map(|item| item.score);
            if previous.is_some()
                || (p.len() < limits.zset_max_listpack_entries
                    && member.len() <= limits.zset_max_listpack_value
                    && p.buf.len() + entry_size(member, score.get()) + HEADER
                        <= PACKED_SAFETY_LIMIT)
            {
                return p.set(member, score.get());
            }
            self.convert_to_large();
        }
        match &mut self.repr {
            Repr::Large(l) => l.set(member, score),
            Repr::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; returns its score if it was there. A packed set stays packed.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Packed(p) => {
                let item = p.find(member)?;
                let (start, end, score) = (item.start, item.end, item.score);
                p.remove_span(start, end, 1);
                Some(score)
            }
            Repr::Large(l) => l.remove(member),
        }
    }

    /// The entries, ascending by `(score, member)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Packed(p) => IterRepr::Packed(p.iter()),
            Repr::Large(l) => IterRepr::Large(l.ordered.iter()),
        })
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Packed(p) => p.iter().position(|item| item.member == member),
            Repr::Large(l) => {
                let score = l.score(member)?;
                Some(l.ordered.range(..(score, Str::new(member))).count())
            }
        }
    }

    /// Every entry, ascending or (`rev`) descending.
    fn items(&self, rev: bool) -> Items<'_> {
        match (&self.repr, rev) {
            (Repr::Packed(p), false) => Box::new(p.iter()),
            // A packed set is small: walking it backwards costs one pass to collect it.
            (Repr::Packed(p), true) => Box::new(p.iter().collect::<Vec<_>>().into_iter().rev()),
            (Repr::Large(l), false) => Box::new(l.ordered.iter().map(large_item)),
            (Repr::Large(l), true) => Box::new(l.ordered.iter().rev().map(large_item)),
        }
    }

    /// The entries from where a score range can start in the direction of the walk: the tree
    /// of a large set is entered at the bound instead of walked from its end.
    fn items_from_score(&self, r: ScoreRange, rev: bool) -> Items<'_> {
        let Repr::Large(l) = &self.repr else {
            return self.items(rev);
        };
        if rev {
            let upper = if r.max >= f64::INFINITY {
                Bound::Unbounded
            } else {
                Bound::Excluded((Score::new(r.max.next_up()), Str::empty()))
            };
            Box::new(
                l.ordered
                    .range((Bound::Unbounded, upper))
                    .rev()
                    .map(large_item),
            )
        } else {
            let lower = if r.min <= f64::NEG_INFINITY {
                Bound::Unbounded
            } else {
                Bound::Included((Score::new(r.min), Str::empty()))
            };
            Box::new(l.ordered.range((lower, Bound::Unbounded)).map(large_item))
        }
    }

    /// The entries `range` selects, in the direction of the walk.
    fn select<'a>(&'a self, range: &Range, rev: bool) -> Items<'a> {
        match range {
            Range::Rank { start, end } => Box::new(
                self.items(rev)
                    .skip(*start)
                    .take(end.saturating_add(1).saturating_sub(*start)),
            ),
            Range::Score(r) => {
                let r = *r;
                let items = self.items_from_score(r, rev);
                if rev {
                    Box::new(
                        items
                            .skip_while(move |i| !r.lte_max(i.score))
                            .take_while(move |i| r.gte_min(i.score)),
                    )
                } else {
                    Box::new(
                        items
                            .skip_while(move |i| !r.gte_min(i.score))
                            .take_while(move |i| r.lte_max(i.score)),
                    )
                }
            }
            Range::Lex(r) => {
                let (first, rest) = (r.clone(), r.clone());
                if rev {
                    Box::new(
                        self.items(true)
                            .skip_while(move |i| !first.lte_max(i.member))
                            .take_while(move |i| rest.gte_min(i.member)),
                    )
                } else {
                    Box::new(
                        self.items(false)
                            .skip_while(move |i| !first.gte_min(i.member))
                            .take_while(move |i| rest.lte_max(i.member)),
                    )
                }
            }
        }
    }

    /// The entries in `range`, ascending or (`rev`) descending, after skipping `offset` and
    /// keeping at most `limit` (None: all): ZRANGE and the older range commands.
    pub fn range(
        &self,
        range: &Range,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<(Bytes, f64)> {
        self.select(range, rev)
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|i| (Bytes::copy_from_slice(i.member), i.score))
            .collect()
    }

    /// How many entries `range` selects (ZCOUNT, ZLEXCOUNT).
    pub fn count(&self, range: &Range) -> usize {
        self.select(range, false).count()
    }

    /// Removes the entries in `range` (ZREMRANGEBYRANK/SCORE/LEX); returns how many.
    pub fn remove_range(&mut self, range: &Range) -> usize {
        match &self.repr {
            Repr::Packed(_) => {
                // A forward selection is a run of neighbouring entries: one cut.
                let (mut start, mut end, mut count) = (usize::MAX, 0, 0);
                for item in self.select(range, false) {
                    start = start.min(item.start);
                    end = end.max(item.end);
                    count += 1;
                }
                if let (Repr::Packed(p), true) = (&mut self.repr, count > 0) {
                    p.remove_span(start, end, count);
                }
                count
            }
            Repr::Large(_) => {
                let doomed: Vec<Str> = self
                    .select(range, false)
                    .map(|i| Str::new(i.member))
                    .collect();
                if let Repr::Large(l) = &mut self.repr {
                    for member in &doomed {
                        l.remove(member);
                    }
                }
                doomed.len()
            }
        }
    }

    /// Removes and returns up to `count` of the lowest (`from_max == false`) or highest
    /// entries, in the order popped (ZPOPMIN, ZPOPMAX, ZMPOP).
    pub fn pop(&mut self, from_max: bool, count: usize) -> Vec<(Bytes, f64)> {
        let count = count.min(self.len());
        if count == 0 {
            return Vec::new();
        }
        if let Repr::Large(l) = &mut self.repr {
            return (0..count).map_while(|_| l.pop(from_max)).collect();
        }
        let popped = self.range(
            &Range::Rank {
                start: 0,
                end: count - 1,
            },
            from_max,
            0,
            None,
        );
        let len = self.len();
        let (start, end) = if from_max {
            (len - count, len - 1)
        } else {
            (0, count - 1)
        };
        self.remove_range(&Range::Rank { start, end });
        popped
    }

    /// A uniformly random member (ZRANDMEMBER without a count), or None if empty.
    pub fn random_member(&self, rng: &mut impl Rng) -> Option<&[u8]> {
        if self.is_empty() {
            return None;
        }
        match &self.repr {
            Repr::Packed(p) => {
                let index = rng.gen_range(0..p.len());
                p.iter().nth(index).map(|item| item.member)
            }
            Repr::Large(l) => l.scores.random_fair(rng).map(|s| s.member.as_slice()),
        }
    }

    /// The entries at ascending ranks `ranks` (each below [`ZSet::len`]; repeats allowed), in
    /// that order: the picks of ZRANDMEMBER with a count. The set is walked once.
    pub fn entries_at(&self, ranks: &[usize]) -> Vec<(&[u8], f64)> {
        let all: Vec<(&[u8], f64)> = self.iter().collect();
        ranks.iter().map(|&i| all[i]).collect()
    }

    /// One ZSCAN call from `cursor`, visiting about `count` entries; returns the next cursor
    /// (0 when done). A packed set is visited whole in one call, as Redis does for a listpack.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                for item in p.iter() {
                    visit(item.member, item.score);
                }
                0
            }
            Repr::Large(l) => l
                .scores
                .scan(cursor, count, |s| visit(&s.member, s.score.get())),
        }
    }

    /// Makes this set large (Redis's `zsetConvert` to a skiplist); a large set stays large.
    pub fn convert_to_large(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut large = Large::with_capacity(p.len());
            for item in p.iter() {
                large.set(item.member, Score::new(item.score));
            }
            self.repr = Repr::Large(Box::new(large));
        }
    }
}

impl PartialEq for ZSet {
    /// Same members with the same scores, whatever the form.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.encoding())?;
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

impl<M: AsRef<[u8]>> FromIterator<(M, f64)> for ZSet {
    /// A sorted set of the entries under the default limits (later scores replace earlier).
    fn from_iter<I: IntoIterator<Item = (M, f64)>>(entries: I) -> ZSet {
        let limits = EncodingLimits::default();
        let mut zset = ZSet::new();
        for (member, score) in entries {
            zset.insert(member.as_ref(), score, &limits);
        }
        zset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn limits(entries: usize, value: usize) -> EncodingLimits {
        EncodingLimits {
            zset_max_listpack_entries: entries,
            zset_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    /// A large set holding the same entries as `z`.
    fn large_copy(z: &ZSet) -> ZSet {
        let mut large = z.clone();
        large.convert_to_large();
        large
    }

    fn entries(z: &ZSet) -> Vec<(String, f64)> {
        z.iter()
            .map(|(m, s)| (String::from_utf8(m.to_vec()).unwrap(), s))
            .collect()
    }

    #[test]
    fn orders_by_score_then_member_and_updates_in_place() {
        for large in [false, true] {
            let l = if large {
                limits(0, 64)
            } else {
                limits(128, 64)
            };
            let mut z = ZSet::new();
            z.insert(b"b", 1.0, &l);
            z.insert(b"a", 1.0, &l);
            z.insert(b"c", 0.5, &l);
            assert_eq!(z.is_packed(), !large);
            assert_eq!(z.insert(b"c", 2.0, &l), Some(0.5));
            assert_eq!(
                entries(&z),
                [("a".into(), 1.0), ("b".into(), 1.0), ("c".into(), 2.0)]
            );
            assert_eq!(z.rank(b"c"), Some(2));
            assert_eq!(z.rank(b"x"), None);
            assert_eq!(z.score(b"b"), Some(1.0));
            assert_eq!(z.remove(b"a"), Some(1.0));
            assert_eq!(z.remove(b"a"), None);
            assert_eq!(z.len(), 2);
            assert_eq!(z.pop(false, 1), vec![(Bytes::from("b"), 1.0)]);
            assert_eq!(z.pop(true, 5), vec![(Bytes::from("c"), 2.0)]);
            assert!(z.is_empty());
            assert_eq!(z.packed_bytes().map(|_| ()), (!large).then_some(()));
        }
    }

    #[test]
    fn negative_zero_equals_zero() {
        let mut z = ZSet::new();
        let l = EncodingLimits::default();
        z.insert(b"a", -0.0, &l);
        assert_eq!(z.insert(b"a", 0.0, &l), Some(0.0));
        assert_eq!(z.len(), 1);
        assert_eq!(z.score(b"a").map(f64::is_sign_negative), Some(false));
    }

    #[test]
    fn scores_round_trip_through_the_narrowest_exact_form() {
        let scores = [
            0.0,
            1.0,
            -128.0,
            127.0,
            128.0,
            -32768.0,
            40000.0,
            2147483647.0,
            -2147483648.0,
            2147483648.0,
            1.5,
            0.1,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            1700000000123.0,
        ];
        let sizes = [1, 1, 1, 1, 2, 2, 4, 4, 4, 4, 4, 8, 8, 8, 4, 4, 8, 8, 8];
        for (&score, &size) in scores.iter().zip(&sizes) {
            assert_eq!(score_kind(score).1, size, "{score}");
            let mut buf = Vec::new();
            put_entry(&mut buf, b"m", score);
            assert_eq!(buf.len(), entry_size(b"m", score));
            let (read, end) = read_score(&buf, 2);
            assert_eq!(
                (read.to_bits(), end),
                (score.to_bits(), buf.len()),
                "{score}"
            );
        }
        let z: ZSet = scores.iter().map(|&s| (format!("{s}"), s)).collect();
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        let got: Vec<f64> = z.iter().map(|(_, s)| s).collect();
        assert_eq!(got, sorted);
    }

    #[test]
    fn converts_past_either_threshold_and_back_only_when_built_whole() {
        let l = limits(3, 8);
        let mut z = ZSet::new();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            z.insert(m.as_bytes(), s, &l);
        }
        assert_eq!(
            z.encoding(),
            "listpack",
            "at the entries limit it stays packed"
        );
        z.insert(b"a", 10.0, &l);
        assert!(z.is_packed(), "an update does not convert");
        z.insert(b"d", 4.0, &l);
        assert_eq!(z.encoding(), "skiplist");
        for m in ["a", "b", "c"] {
            z.remove(m.as_bytes());
        }
        assert_eq!(z.encoding(), "skiplist", "removals never convert back");
        assert_eq!(entries(&z), [("d".into(), 4.0)]);

        let mut long = ZSet::new();
        long.insert(b"12345678", 1.0, &l);
        assert!(long.is_packed(), "a member of exactly the limit fits");
        long.insert(b"123456789", 1.0, &l);
        assert!(!long.is_packed());

        let mut none = ZSet::new();
        none.insert(b"a", 1.0, &limits(0, 64));
        assert!(
            !none.is_packed(),
            "zset-max-listpack-entries 0: always large"
        );

        let small = vec![(Bytes::from("x"), 2.0), (Bytes::from("y"), 1.0)];
        let built = ZSet::from_entries(small.clone(), &l);
        assert!(built.is_packed());
        assert_eq!(entries(&built), [("y".into(), 1.0), ("x".into(), 2.0)]);
        assert!(!ZSet::from_entries(small.clone(), &limits(1, 8)).is_packed());
        let with_long = vec![(Bytes::from("123456789"), 1.0)];
        assert!(!ZSet::from_entries(with_long, &l).is_packed());
        assert_eq!(built, ZSet::from_entries(small, &limits(0, 0)));
    }

    #[test]
    fn listpack_pairs_stay_packed_unless_too_many() {
        let l = limits(2, 4);
        let z =
            ZSet::from_listpack_pairs(vec![(&b"long-member"[..], 2.0), (b"a", 1.0)], &l).unwrap();
        assert!(
            z.is_packed(),
            "long members do not convert a loaded listpack"
        );
        assert_eq!(
            entries(&z),
            [("a".into(), 1.0), ("long-member".into(), 2.0)]
        );
        let z = ZSet::from_listpack_pairs(vec![(&b"a"[..], 1.0), (b"b", 1.0), (b"c", 1.0)], &l)
            .unwrap();
        assert!(!z.is_packed());
        assert!(ZSet::from_listpack_pairs(vec![(&b"a"[..], 1.0), (b"a", 2.0)], &l).is_none());
        assert!(ZSet::with_expected_len(3, &l).encoding() == "skiplist");
        assert!(ZSet::with_expected_len(2, &l).is_packed());
    }

    #[test]
    fn ranges_by_rank_score_and_lex_in_both_directions() {
        let l = EncodingLimits::default();
        let small: ZSet = [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0), ("e", 4.0)]
            .into_iter()
            .collect();
        let large = large_copy(&small);
        let score = |min, max, min_exclusive, max_exclusive| {
            Range::Score(ScoreRange {
                min,
                max,
                min_exclusive,
                max_exclusive,
            })
        };
        let lex = |min: LexBound, max: LexBound| Range::Lex(LexRange { min, max });
        for z in [&small, &large] {
            let names = |r: &Range, rev, offset, limit| -> String {
                z.range(r, rev, offset, limit)
                    .into_iter()
                    .map(|(m, _)| String::from_utf8(m.to_vec()).unwrap())
                    .collect()
            };
            assert_eq!(
                names(&Range::Rank { start: 1, end: 3 }, false, 0, None),
                "bcd"
            );
            assert_eq!(
                names(&Range::Rank { start: 0, end: 1 }, true, 0, None),
                "ed"
            );
            assert_eq!(
                names(&score(2.0, 4.0, false, false), false, 0, None),
                "bcde"
            );
            assert_eq!(names(&score(2.0, 4.0, true, true), false, 0, None), "c");
            assert_eq!(
                names(&score(2.0, 4.0, false, false), true, 1, Some(2)),
                "dc"
            );
            assert_eq!(
                names(
                    &score(f64::NEG_INFINITY, f64::INFINITY, false, false),
                    true,
                    0,
                    None
                ),
                "edcba"
            );
            assert_eq!(names(&score(5.0, 1.0, false, false), false, 0, None), "");
            let b_to_d = lex(
                LexBound::Inclusive(Bytes::from("b")),
                LexBound::Exclusive(Bytes::from("d")),
            );
            assert_eq!(names(&b_to_d, false, 0, None), "bc");
            assert_eq!(
                names(&lex(LexBound::Min, LexBound::Max), true, 3, None),
                "ba"
            );
            assert_eq!(z.count(&score(1.0, 3.0, true, false)), 2);
            assert_eq!(z.count(&b_to_d), 2);
            let mut z = z.clone();
            assert_eq!(z.remove_range(&score(2.0, 3.0, false, false)), 2);
            assert_eq!(z.remove_range(&Range::Rank { start: 2, end: 2 }), 1);
            assert_eq!(entries(&z), [("a".into(), 1.0), ("d".into(), 4.0)]);
            assert_eq!(z.remove_range(&lex(LexBound::Max, LexBound::Max)), 0);
            z.insert(b"z", 0.0, &l);
            assert_eq!(z.rank(b"d"), Some(2));
        }
    }

    #[test]
    fn random_picks_and_scans_in_both_forms() {
        let mut rng = StdRng::seed_from_u64(7);
        let small: ZSet = (0..5).map(|i| (format!("m{i}"), i as f64)).collect();
        let large = large_copy(&small);
        for z in [&small, &large] {
            let member = z.random_member(&mut rng).unwrap();
            assert!(z.score(member).is_some());
            let picks = z.entries_at(&[4, 0, 4]);
            assert_eq!(
                picks,
                [(&b"m4"[..], 4.0), (&b"m0"[..], 0.0), (&b"m4"[..], 4.0)]
            );
        }
        assert!(ZSet::new().random_member(&mut rng).is_none());
        let mut seen = Vec::new();
        assert_eq!(small.scan(0, 1, |m, _| seen.push(m.to_vec())), 0);
        assert_eq!(seen.len(), 5, "a packed set is scanned whole");
        seen.clear();
        let mut cursor = large.scan(0, 2, |m, _| seen.push(m.to_vec()));
        let mut calls = 1;
        while cursor != 0 && calls < 10 {
            cursor = large.scan(cursor, 2, |m, _| seen.push(m.to_vec()));
            calls += 1;
        }
        assert_eq!((seen.len(), calls), (5, 3));
    }

    #[test]
    fn a_packed_set_is_16_bytes_and_its_buffer_fits_like_a_listpack() {
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
        // The memory benchmark's row: ten 16-byte members scored 0, 1.5, 3, ... 13.5 take 209
        // bytes (Redis's listpack: 224).
        let z: ZSet = (0..10)
            .map(|m| (format!("member:{m:09}"), m as f64 * 1.5))
            .collect();
        assert_eq!(z.packed_bytes(), Some(HEADER + 10 * 18 + 5 + 5 * 4));
    }

    /// Random operations on a packed and a large set side by side: every answer agrees.
    #[test]
    fn packed_and_large_forms_behave_alike_on_random_operations() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let roomy = limits(usize::MAX, usize::MAX);
        for round in 0..40 {
            let mut packed = ZSet::new();
            let mut large = ZSet::new();
            large.convert_to_large();
            for _ in 0..200 {
                let member = format!("m{}", rng.gen_range(0..30)).into_bytes();
                let score =
                    f64::from(rng.gen_range(-4i32..4)) * [1.0, 0.5, 0.1][rng.gen_range(0..3)];
                match rng.gen_range(0..10) {
                    0..=4 => assert_eq!(
                        packed.insert(&member, score, &roomy),
                        large.insert(&member, score, &roomy)
                    ),
                    5 => assert_eq!(packed.remove(&member), large.remove(&member)),
                    6 => {
                        let (from_max, n) = (rng.gen_bool(0.5), rng.gen_range(0..3));
                        assert_eq!(packed.pop(from_max, n), large.pop(from_max, n));
                    }
                    7 if !packed.is_empty() => {
                        let a = rng.gen_range(0..packed.len());
                        let b = rng.gen_range(a..packed.len());
                        let range = Range::Rank { start: a, end: b };
                        let rev = rng.gen_bool(0.5);
                        assert_eq!(
                            packed.range(&range, rev, 0, None),
                            large.range(&range, rev, 0, None)
                        );
                        if round % 2 == 0 {
                            assert_eq!(packed.remove_range(&range), large.remove_range(&range));
                        }
                    }
                    8 => {
                        let min = f64::from(rng.gen_range(-5i32..5)) * 0.5;
                        let range = Range::Score(ScoreRange {
                            min,
                            max: min + f64::from(rng.gen_range(0..6)) * 0.5,
                            min_exclusive: rng.gen_bool(0.5),
                            max_exclusive: rng.gen_bool(0.5),
                        });
                        let (rev, offset) = (rng.gen_bool(0.5), rng.gen_range(0..3));
                        let limit = rng.gen_bool(0.5).then(|| rng.gen_range(0..4));
                        assert_eq!(
                            packed.range(&range, rev, offset, limit),
                            large.range(&range, rev, offset, limit)
                        );
                        assert_eq!(packed.count(&range), large.count(&range));
                        if round % 2 == 1 {
                            assert_eq!(packed.remove_range(&range), large.remove_range(&range));
                        }
                    }
                    _ => {
                        let bound = |rng: &mut StdRng| {
                            let m = Bytes::from(format!("m{}", rng.gen_range(0..30)));
                            match rng.gen_range(0..4) {
                                0 => LexBound::Min,
                                1 => LexBound::Max,
                                2 => LexBound::Inclusive(m),
                                _ => LexBound::Exclusive(m),
                            }
                        };
                        let range = Range::Lex(LexRange {
                            min: bound(&mut rng),
                            max: bound(&mut rng),
                        });
                        let rev = rng.gen_bool(0.5);
                        assert_eq!(
                            packed.range(&range, rev, 0, None),
                            large.range(&range, rev, 0, None)
                        );
                        assert_eq!(packed.remove_range(&range), large.remove_range(&range));
                    }
                }
                assert_eq!(packed.score(&member), large.score(&member));
                assert_eq!(packed.rank(&member), large.rank(&member));
                assert_eq!(packed.len(), large.len());
            }
            assert!(packed.is_packed() && !large.is_packed());
            assert_eq!(packed, large);
            assert_eq!(
                packed.packed_bytes(),
                Some(if packed.is_empty() {
                    0
                } else {
                    HEADER + packed.iter().map(|(m, s)| entry_size(m, s)).sum::<usize>()
                })
            );
        }
    }
}
