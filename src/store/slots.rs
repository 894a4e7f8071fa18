//! Hash slots as the keyspace knows them: which of the 16384 cluster slots a key belongs to,
//! and, in cluster mode, which keys each slot holds, so that COUNTKEYSINSLOT and
//! GETKEYSINSLOT do not scan the keyspace.

use std::collections::HashSet;

use bytes::Bytes;

use super::str::Str;

/// The number of hash slots (`CLUSTER_SLOTS`).
pub const SLOTS: usize = 16384;

/// The slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}` when the key has a
/// non-empty one, mod 16384 (Redis's `keyHashSlot`).
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    };
    crc16::State::<crc16::XMODEM>::calculate(hashed) & 0x3FFF
}

/// The keys of each slot (Redis's `slots_to_keys`).
#[derive(Debug)]
pub struct SlotIndex {
    keys: Vec<HashSet<Str>>,
}

impl SlotIndex {
    pub fn new<'a>(keys: impl Iterator<Item = &'a [u8]>) -> SlotIndex {
        let mut index = SlotIndex {
            keys: vec![HashSet::new(); SLOTS],
        };
        for k in keys {
            index.add(k);
        }
        index
    }

    pub fn add(&mut self, key: &[u8]) {
        self.keys[key_slot(key) as usize].insert(Str::new(key));
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.keys[key_slot(key) as usize].remove(key);
    }

    pub fn count(&self, slot: u16) -> usize {
        self.keys[slot as usize].len()
    }

    /// Up to `max` keys of a slot.
    pub fn keys(&self, slot: u16, max: usize) -> Vec<Bytes> {
        self.keys[slot as usize]
            .iter()
            .take(max)
            .map(Str::to_bytes)
            .collect()
    }

    /// The slots holding at least one key.
    pub fn used_slots(&self) -> Vec<u16> {
        (0..SLOTS as u16)
            .filter(|&s| !self.keys[s as usize].is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_known_keys() {
        // Values from the tutorial and from CLUSTER KEYSLOT on real Redis.
        assert_eq!(key_slot(b"name"), 5798);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn the_index_counts_and_lists_a_slots_keys() {
        let keys: Vec<Bytes> = ["{a}1", "{a}2", "b"]
            .iter()
            .map(|k| Bytes::from(*k))
            .collect();
        let mut index = SlotIndex::new(keys.iter().map(|k| &k[..]));
        let a = key_slot(b"a");
        assert_eq!(index.count(a), 2);
        assert_eq!(index.keys(a, 1).len(), 1);
        index.remove(b"{a}1");
        assert_eq!(index.keys(a, 10), vec![Bytes::from("{a}2")]);
        assert_eq!(index.used_slots().len(), 2);
    }
}
