//! Hash slots: the slot bitmap the bus carries (which slot a key is in is the keyspace's
//! knowledge, [`crate::store::slots`]).

pub use crate::store::slots::{key_slot, SLOTS};

/// A set of slots as the bus sends it: 2048 bytes, slot `n` is bit `n % 8` of byte `n / 8`.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap(Box::new([0; SLOTS / 8]))
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap({})", render_ranges(&self.ranges()))
    }
}

impl SlotBitmap {
    pub fn get(&self, slot: usize) -> bool {
        self.0[slot / 8] & (1 << (slot & 7)) != 0
    }

    /// Sets the bit; returns its old value.
    pub fn set(&mut self, slot: usize) -> bool {
        let old = self.get(slot);
        self.0[slot / 8] |= 1 << (slot & 7);
        old
    }

    /// Clears the bit; returns its old value.
    pub fn clear(&mut self, slot: usize) -> bool {
        let old = self.get(slot);
        self.0[slot / 8] &= !(1 << (slot & 7));
        old
    }

    /// Sets every slot from `lo` to `hi` inclusive (nothing when `lo > hi`), whole bytes at
    /// a time.
    pub fn set_range(&mut self, lo: usize, hi: usize) {
        if lo > hi {
            return;
        }
        let (first, last) = (lo / 8, hi / 8);
        let low_mask = 0xffu8 << (lo & 7);
        let high_mask = 0xffu8 >> (7 - (hi & 7));
        if first == last {
            self.0[first] |= low_mask & high_mask;
            return;
        }
        self.0[first] |= low_mask;
        self.0[first + 1..last].fill(0xff);
        self.0[last] |= high_mask;
    }

    /// Clears every slot.
    pub fn clear_all(&mut self) {
        self.0.fill(0);
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The slots in the set, in order (a byte at a time: a sparse set costs its 2048 bytes).
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &byte)| byte != 0)
            .flat_map(|(i, &byte)| {
                (0..8)
                    .filter(move |bit| byte & (1 << bit) != 0)
                    .map(move |bit| i * 8 + bit)
            })
    }

    /// The set as inclusive `(start, end)` ranges, in order (empty and full bytes are
    /// taken whole).
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        let mut extend = |first: u16, last: u16| match out.last_mut() {
            Some((_, end)) if *end + 1 == first => *end = last,
            _ => out.push((first, last)),
        };
        for (i, &byte) in self.0.iter().enumerate() {
            let base = (i * 8) as u16;
            match byte {
                0 => {}
                0xff => extend(base, base + 7),
                _ => (0..8)
                    .filter(|bit| byte & (1 << bit) != 0)
                    .for_each(|bit| extend(base + bit, base + bit)),
            }
        }
        out
    }
}

/// Ranges as CLUSTER NODES writes them: `0-5460 5462`.
pub fn render_ranges(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_is_lsb_first_and_ranges_join() {
        let mut b = SlotBitmap::default();
        assert!(!b.set(0));
        assert!(b.set(0));
        b.set(1);
        b.set(2);
        b.set(9);
        b.set(16383);
        assert_eq!(b.0[0], 0b0000_0111);
        assert_eq!(b.0[1], 0b0000_0010);
        assert_eq!(b.count(), 5);
        assert_eq!(render_ranges(&b.ranges()), "0-2 9 16383");
        assert!(b.clear(9));
        assert!(!b.get(9));
    }

    #[test]
    fn set_range_matches_setting_each_slot() {
        let cases = [
            (0, 0),
            (0, 7),
            (1, 6),
            (3, 12),
            (7, 8),
            (8, 15),
            (5, 16383),
            (0, 16383),
        ];
        for (lo, hi) in cases {
            let mut by_range = SlotBitmap::default();
            by_range.set_range(lo, hi);
            let mut by_slot = SlotBitmap::default();
            (lo..=hi).for_each(|s| {
                by_slot.set(s);
            });
            assert_eq!(by_range, by_slot, "{lo}-{hi}");
            assert_eq!(by_range.count(), hi - lo + 1);
            assert_eq!(by_range.ranges(), vec![(lo as u16, hi as u16)]);
        }
        let mut empty = SlotBitmap::default();
        empty.set_range(9, 8);
        assert!(empty.is_empty());
    }

    #[test]
    fn ranges_join_across_full_and_partial_bytes() {
        let mut b = SlotBitmap::default();
        b.set_range(6, 17);
        b.set(18);
        b.set(20);
        b.set_range(24, 31);
        b.set(32);
        assert_eq!(render_ranges(&b.ranges()), "6-18 20 24-32");
        b.clear_all();
        assert!(b.ranges().is_empty());
    }
}
