//! The set value: an intset (sorted integers of one width) while every member is an integer,
//! a table once not.
//!
//! Redis keeps a set whose members are all integers in canonical form (`string2ll`) as an
//! intset (`intset.c`: sorted, binary-searched, 2, 4 or 8 bytes per member, widened as
//! needed) and converts it to a dict on the first other member or once it holds more than
//! `set-max-intset-entries` members; it never converts back (`t_set.c`). [`Set`] does the same
//! with the thresholds of [`EncodingLimits`]; an intset's members come out in ascending order,
//! as Redis's do.
//!
//! Commands see only this API (contains, insert, remove, random picks and pops, iterate,
//! scan), never the representation.

use bytes::Bytes;
use rand::Rng;

use super::db::KeyArg;
use super::pick::{self, Picks};
use super::str::Str;
use super::table::{self, KeyTable, Keyed};
use super::value::{parse_i64_strict, EncodingLimits};

/// A set of members.
#[derive(Clone, Default)]
pub struct Set {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Ints(IntSet),
    /// The keyspace's own table, a member in each bucket; members up to 22 bytes are held
    /// inline ([`Str`]), so a lookup reads the bucket tags and the bucket, no third buffer.
    Table(Box<KeyTable<Str>>),
}

/// A member is its own key.
impl Keyed for Str {
    fn key(&self) -> &[u8] {
        self
    }
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Ints(IntSet::default())
    }
}

/// Sorted distinct integers, all stored at the narrowest width that holds every one of them:
/// a width byte (2, 4 or 8), then the members little-endian; an empty intset has no buffer.
/// An exact-size boxed slice keeps the whole [`Set`] at 16 bytes, so a key's value holds it
/// without a further allocation, and an intset takes what Redis's does (`intset.c` keeps an
/// 8-byte header and exact-size contents, reallocated per insert).
#[derive(Clone, Default)]
struct IntSet {
    buf: Box<[u8]>,
}

/// Bytes of `value`'s narrowest intset width.
fn width_for(value: i64) -> usize {
    if i16::try_from(value).is_ok() {
        2
    } else if i32::try_from(value).is_ok() {
        4
    } else {
        8
    }
}

/// Appends `value` at `width` bytes (it fits).
fn put_int(buf: &mut Vec<u8>, value: i64, width: usize) {
    buf.extend_from_slice(&value.to_le_bytes()[..width]);
}

impl IntSet {
    /// Bytes per member (the intset's encoding: 2, 4 or 8).
    fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| usize::from(w))
    }

    fn len(&self) -> usize {
        self.buf.len().saturating_sub(1) / self.width()
    }

    fn get(&self, index: usize) -> Option<i64> {
        let width = self.width();
        let at = 1 + index * width;
        let bytes = self.buf.get(at..at + width)?;
        // Sign-extend from the stored width.
        let mut wide = if bytes[width - 1] & 0x80 != 0 {
            [0xff; 8]
        } else {
            [0; 8]
        };
        wide[..width].copy_from_slice(bytes);
        Some(i64::from_le_bytes(wide))
    }

    /// The position of `value`, or where it would go.
    fn search(&self, value: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            match self.get(mid).expect("mid below len").cmp(&value) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    fn contains(&self, value: i64) -> bool {
        self.search(value).is_ok()
    }

    /// Adds `value`; true if it was not there. The buffer grows by exactly one member, or is
    /// rewritten at a wider width when `value` needs one (Redis's `intsetUpgradeAndAdd`).
    fn insert(&mut self, value: i64) -> bool {
        let at = match self.search(value) {
            Ok(_) => return false,
            Err(at) => at,
        };
        let width = self.width();
        let needed = width_for(value);
        if self.buf.is_empty() || needed > width {
            let width = needed.max(width);
            let mut buf = Vec::with_capacity(1 + (self.len() + 1) * width);
            buf.push(width as u8);
            for (i, member) in self.iter().enumerate() {
                if i == at {
                    put_int(&mut buf, value, width);
                }
                put_int(&mut buf, member, width);
            }
            if at == self.len() {
                put_int(&mut buf, value, width);
            }
            self.buf = buf.into_boxed_slice();
            return true;
        }
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(width);
        put_int(&mut buf, value, width);
        buf[1 + at * width..].rotate_right(width);
        self.buf = buf.into_boxed_slice();
        true
    }

    fn remove_at(&mut self, index: usize) -> i64 {
        let value = self.get(index).expect("index below len");
        let width = self.width();
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.drain(1 + index * width..1 + (index + 1) * width);
        if buf.len() > 1 {
            self.buf = buf.into_boxed_slice();
        }
        value
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index below len"))
    }
}

/// An integer member as the text Redis stores and replies with.
fn int_member(value: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(value).as_bytes())
}

impl Set {
    /// An empty set (an intset until a member says otherwise, as Redis's `setTypeCreate`).
    pub fn new() -> Set {
        Set::default()
    }

    /// An empty set about to receive `len` members: a table from the start if an intset could
    /// not hold that many (as Redis loads a large set). `len` may come from an untrusted file,
    /// so at most [`super::hash::MAX_RESERVED`] slots are reserved.
    pub fn with_expected_len(len: u64, limits: &EncodingLimits) -> Set {
        if len <= limits.set_max_intset_entries as u64 {
            return Set::new();
        }
        let mut table = KeyTable::new();
        table.reserve(len.min(super::hash::MAX_RESERVED as u64) as usize);
        Set {
            repr: Repr::Table(Box::new(table)),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the set is an intset.
    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// The encoding `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        if self.is_intset() {
            "intset"
        } else {
            "hashtable"
        }
    }

    /// Bytes per member of an intset (2, 4 or 8), or None for a table.
    pub fn intset_width(&self) -> Option<usize> {
        match &self.repr {
            Repr::Ints(ints) => Some(ints.width()),
            Repr::Table(_) => None,
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => parse_i64_strict(member).is_some_and(|i| ints.contains(i)),
            Repr::Table(t) => t.get(member).is_some(),
        }
    }

    /// Adds `member`; true if it is new. An intset becomes a table on a member that is not an
    /// integer, or once it holds more than `set-max-intset-entries` members (Redis's
    /// `setTypeAdd`).
    pub fn insert(&mut self, member: impl KeyArg, limits: &EncodingLimits) -> bool {
        if let Repr::Ints(ints) = &mut self.repr {
            match parse_i64_strict(member.as_slice()) {
                Some(value) => {
                    let added = ints.insert(value);
                    if added && ints.len() > limits.set_max_intset_entries {
                        self.convert_to_table();
                    }
                    return added;
                }
                None => self.convert_to_table(),
            }
        }
        match &mut self.repr {
            // One lookup: a member already there costs no allocation.
            Repr::Table(t) => {
                let member = member.as_slice();
                t.find_or_insert(t.hash(member), member, || Str::new(member))
                    .1
            }
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => match parse_i64_strict(member).and_then(|i| ints.search(i).ok()) {
                Some(at) => {
                    ints.remove_at(at);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(member).is_some(),
        }
    }

    /// A random member (SRANDMEMBER without a count), or None if empty.
    pub fn random_member(&self, rng: &mut impl Rng) -> Option<Bytes> {
        match &self.repr {
            Repr::Ints(ints) if ints.len() == 0 => None,
            Repr::Ints(ints) => ints.get(rng.gen_range(0..ints.len())).map(int_member),
            Repr::Table(t) => t.random_fair(rng).map(Str::to_bytes),
        }
    }

    /// Random members (SRANDMEMBER with a count), in no particular order.
    pub fn random_members(&self, rng: &mut impl Rng, picks: Picks) -> Vec<Bytes> {
        match &self.repr {
            Repr::Ints(ints) => pick::positions(rng, ints.len(), picks)
                .into_iter()
                .map(|i| int_member(ints.get(i).expect("position below len")))
                .collect(),
            Repr::Table(t) => t
                .sample(rng, picks)
                .into_iter()
                .map(Str::to_bytes)
                .collect(),
        }
    }

    /// Removes and returns a random member (SPOP without a count), or None if empty.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Bytes> {
        let member = self.random_member(rng)?;
        self.remove(&member);
        Some(member)
    }

    /// Removes and returns `count` distinct random members (SPOP with a count), or every
    /// member if there are no more than that.
    pub fn pop_random_members(&mut self, rng: &mut impl Rng, count: usize) -> Vec<Bytes> {
        let popped = self.random_members(rng, Picks::Distinct(count));
        for member in &popped {
            self.remove(member);
        }
        popped
    }

    /// The members: ascending while an intset.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Ints(ints) => IterRepr::Ints(ints, 0),
            Repr::Table(t) => IterRepr::Table(t.iter()),
        })
    }

    /// One SSCAN call from `cursor`, visiting about `count` members; returns the next cursor (0
    /// when done). An intset is visited whole in one call, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Bytes)) -> u64 {
        match &self.repr {
            Repr::Ints(ints) => {
                ints.iter().map(int_member).for_each(visit);
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |m| visit(m.to_bytes())),
        }
    }

    /// Makes this a table; a table stays one.
    fn convert_to_table(&mut self) {
        if let Repr::Ints(ints) = &self.repr {
            let mut table = KeyTable::new();
            for i in ints.iter() {
                let member = itoa::Buffer::new().format(i).as_bytes().to_vec();
                table.insert_new(table.hash(&member), Str::new(&member));
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

/// The members of a set, as [`Set::iter`] gives them.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    /// The intset and the next position.
    Ints(&'a IntSet, usize),
    Table(table::Iter<'a, Str>),
}

impl Iterator for Iter<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        match &mut self.0 {
            IterRepr::Ints(ints, next) => {
                let member = ints.get(*next)?;
                *next += 1;
                Some(int_member(member))
            }
            IterRepr::Table(it) => it.next().map(Str::to_bytes),
        }
    }
}

impl PartialEq for Set {
    /// Same members, whatever the form or order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m))
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.encoding())?;
        f.debug_set()
            .entries(
                self.iter()
                    .map(|m| String::from_utf8_lossy(&m).into_owned()),
            )
            .finish()
    }
}

impl<M: AsRef<[u8]>> FromIterator<M> for Set {
    /// A set of the members under the default limits.
    fn from_iter<I: IntoIterator<Item = M>>(members: I) -> Set {
        let limits = EncodingLimits::default();
        let mut set = Set::new();
        for m in members {
            set.insert(m.as_ref(), &limits);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn limits(entries: usize) -> EncodingLimits {
        EncodingLimits {
            set_max_intset_entries: entries,
            ..EncodingLimits::default()
        }
    }

    fn members(s: &Set) -> Vec<String> {
        s.iter()
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn intset_keeps_integers_sorted_and_widens_as_needed() {
        let l = EncodingLimits::default();
        let mut s = Set::new();
        assert!(s.insert(&b"5"[..], &l));
        assert!(s.insert(&b"-3"[..], &l));
        assert!(!s.insert(&b"5"[..], &l));
        assert_eq!(s.intset_width(), Some(2));
        assert!(s.insert(&b"70000"[..], &l));
        assert_eq!(s.intset_width(), Some(4));
        assert!(s.insert(&b"-9223372036854775808"[..], &l));
        assert_eq!(s.intset_width(), Some(8));
        assert_eq!(members(&s), ["-9223372036854775808", "-3", "5", "70000"]);
        assert!(s.contains(b"70000") && !s.contains(b"070000") && !s.contains(b"x"));
        assert!(s.remove(b"-3") && !s.remove(b"-3") && !s.remove(b"x"));
        assert_eq!(members(&s), ["-9223372036854775808", "5", "70000"]);
        assert_eq!(s.encoding(), "intset");
    }

    #[test]
    fn converts_on_a_non_integer_or_past_the_limit_and_never_back() {
        let l = limits(3);
        let mut s: Set = Set::new();
        for m in ["1", "2", "3"] {
            s.insert(m.as_bytes(), &l);
        }
        assert!(s.is_intset(), "at the limit it stays an intset");
        s.insert(&b"4"[..], &l);
        assert_eq!(s.encoding(), "hashtable");
        for m in ["1", "2", "3"] {
            s.remove(m.as_bytes());
        }
        assert_eq!(s.encoding(), "hashtable", "never converted back");

        let mut mixed = Set::new();
        mixed.insert(&b"1"[..], &l);
        mixed.insert(&b"01"[..], &l);
        assert_eq!(
            mixed.encoding(),
            "hashtable",
            "01 is not a canonical integer"
        );
        assert!(mixed.contains(b"1") && mixed.contains(b"01"));
        assert!(!mixed.insert(&b"1"[..], &l));
        assert_eq!(mixed.len(), 2);

        let mut none = Set::new();
        none.insert(&b"1"[..], &limits(0));
        assert!(!none.is_intset());
    }

    #[test]
    fn random_picks_and_pops_in_both_forms() {
        let mut rng = StdRng::seed_from_u64(11);
        let ints: Set = (0..6).map(|i| i.to_string()).collect();
        let mut table = Set::new();
        for i in 0..6 {
            table.insert(i.to_string().as_bytes(), &limits(0));
        }
        assert!(ints.is_intset() && !table.is_intset());
        for s in [&ints, &table] {
            assert!(s.contains(&s.random_member(&mut rng).unwrap()));
            let repeated = s.random_members(&mut rng, Picks::Repeated(30));
            assert_eq!(repeated.len(), 30);
            assert!(repeated.iter().all(|m| s.contains(m)));
            for count in [1, 2, 4, 6, 10] {
                let mut distinct = s.random_members(&mut rng, Picks::Distinct(count));
                assert!(distinct.iter().all(|m| s.contains(m)));
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), count.min(6), "{count} distinct");
            }
        }
        for mut s in [ints, table] {
            let popped = s.pop_random(&mut rng).unwrap();
            assert!(!s.contains(&popped) && s.len() == 5);
            let mut popped = s.pop_random_members(&mut rng, 3);
            assert_eq!(s.len(), 2);
            assert!(popped.iter().all(|m| !s.contains(m)));
            popped.sort();
            popped.dedup();
            assert_eq!(popped.len(), 3);
            assert_eq!(s.pop_random_members(&mut rng, 9).len(), 2);
            assert!(s.is_empty() && s.pop_random(&mut rng).is_none());
            assert!(s.random_members(&mut rng, Picks::Repeated(2)).is_empty());
        }
    }

    #[test]
    fn a_big_set_gives_its_table_back_as_members_leave() {
        let mut s = Set::new();
        let l = EncodingLimits::default();
        for i in 0..50_000 {
            s.insert(format!("member:{i}").as_bytes(), &l);
        }
        let Repr::Table(t) = &s.repr else {
            panic!("a table")
        };
        let full = t.allocation_size();
        for i in 10..50_000 {
            assert!(s.remove(format!("member:{i}").as_bytes()));
        }
        let Repr::Table(t) = &s.repr else {
            panic!("a table")
        };
        assert!(
            t.allocation_size() * 20 < full,
            "{} bytes of {full} kept",
            t.allocation_size()
        );
        assert_eq!(members(&s).len(), 10);
        assert!(s.contains(b"member:9") && !s.contains(b"member:10"));
    }

    #[test]
    fn a_set_is_16_bytes_and_an_intset_exact_size() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
        let s: Set = (0..10).map(|i| (100_000 + i).to_string()).collect();
        let Repr::Ints(ints) = &s.repr else {
            panic!("an intset")
        };
        assert_eq!(ints.buf.len(), 1 + 10 * 4);
        let mut s = s;
        for i in 0..10 {
            assert!(s.remove((100_000 + i).to_string().as_bytes()));
        }
        assert!(s.is_empty() && s.is_intset());
    }

    #[test]
    fn equality_ignores_form_and_scans_return_an_intset_whole() {
        let ints: Set = ["3", "1", "2"].into_iter().collect();
        let mut table = Set::new();
        for m in ["2", "3", "1"] {
            table.insert(m.as_bytes(), &limits(0));
        }
        assert!(ints.is_intset() && !table.is_intset());
        assert_eq!(ints, table);
        let mut seen = Vec::new();
        assert_eq!(ints.scan(0, 1, |m| seen.push(m)), 0);
        assert_eq!(seen.len(), 3);
        seen.clear();
        let mut cursor = table.scan(0, 1, |m| seen.push(m));
        while cursor != 0 && seen.len() < 10 {
            cursor = table.scan(cursor, 1, |m| seen.push(m));
        }
        assert_eq!(seen.len(), 3);
    }
}
