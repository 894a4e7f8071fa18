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

    /// The set as inclusive `(start, end)` ranges, in order.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for s in self.iter() {
            let s = s as u16;
            match out.last_mut() {
                Some((_, end)) if *end + 1 == s => *end = s,
                _ => out.push((s, s)),
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
}
