//! [`Str`]: a byte string as the keyspace keeps it (every key, and every string value).
//!
//! Up to [`Str::INLINE`] bytes are stored inside the value itself, with no heap allocation and
//! no pointer to follow on a lookup; longer strings take one heap buffer of exactly their size
//! (no spare capacity, no shared reference count). A `Str` is 24 bytes either way, so a
//! [`super::Value`] is 24 bytes and a keyspace entry (hash, key, value, access record) fills
//! one 64-byte cache line. This is what Redis's `embstr` and `int` encodings buy it: a short
//! key or value is read where the entry is, not one more cache miss away.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// A byte string, inline when short (see the module documentation).
#[derive(Clone)]
pub enum Str {
    Inline { len: u8, bytes: [u8; Str::INLINE] },
    Heap(Box<[u8]>),
}

impl Str {
    /// The longest string stored without a heap allocation.
    pub const INLINE: usize = 22;

    /// The empty string.
    pub const fn empty() -> Str {
        Str::Inline {
            len: 0,
            bytes: [0; Str::INLINE],
        }
    }

    /// A copy of `data`.
    pub fn new(data: &[u8]) -> Str {
        if data.len() <= Str::INLINE {
            let mut bytes = [0; Str::INLINE];
            bytes[..data.len()].copy_from_slice(data);
            Str::Inline {
                len: data.len() as u8,
                bytes,
            }
        } else {
            Str::Heap(data.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Str::Inline { len, bytes } => &bytes[..*len as usize],
            Str::Heap(data) => data,
        }
    }

    /// A `Bytes` copy, for a reply or a value leaving the keyspace.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_slice())
    }

    /// True when the string lives inside the value (no heap buffer).
    pub fn is_inline(&self) -> bool {
        matches!(self, Str::Inline { .. })
    }

    /// Heap bytes this string owns besides its own 24 (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Inline { .. } => 0,
            Str::Heap(data) => data.len(),
        }
    }
}

impl Default for Str {
    fn default() -> Str {
        Str::empty()
    }
}

impl Deref for Str {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Lets a map keyed by `Str` be searched with a `&[u8]` (the hash is the slice's hash).
impl Borrow<[u8]> for Str {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Str {}

impl PartialEq<[u8]> for Str {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Bytes> for Str {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == &other[..]
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

impl From<&[u8]> for Str {
    fn from(data: &[u8]) -> Str {
        Str::new(data)
    }
}

impl From<&Bytes> for Str {
    fn from(data: &Bytes) -> Str {
        Str::new(data)
    }
}

impl From<Bytes> for Str {
    fn from(data: Bytes) -> Str {
        Str::new(&data)
    }
}

impl From<Vec<u8>> for Str {
    fn from(data: Vec<u8>) -> Str {
        if data.len() <= Str::INLINE {
            Str::new(&data)
        } else {
            Str::Heap(data.into_boxed_slice())
        }
    }
}

impl From<&str> for Str {
    fn from(text: &str) -> Str {
        Str::new(text.as_bytes())
    }
}

impl From<String> for Str {
    fn from(text: String) -> Str {
        Str::from(text.into_bytes())
    }
}

impl From<&Str> for Bytes {
    fn from(s: &Str) -> Bytes {
        s.to_bytes()
    }
}

impl From<Str> for Bytes {
    fn from(s: Str) -> Bytes {
        match s {
            Str::Inline { .. } => s.to_bytes(),
            Str::Heap(data) => Bytes::from(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        h.finish()
    }

    #[test]
    fn short_strings_are_inline_and_long_ones_exact_size_on_the_heap() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        let short = Str::new(b"key:000000012345");
        assert!(short.is_inline());
        assert_eq!(&short[..], b"key:000000012345");
        let edge = Str::new(&[b'x'; Str::INLINE]);
        assert!(edge.is_inline());
        let long = Str::new(&[b'y'; 23]);
        assert!(!long.is_inline());
        assert_eq!(long.heap_size(), 23);
        assert_eq!(Str::from(vec![b'z'; 100]).len(), 100);
        assert!(Str::default().is_empty());
    }

    #[test]
    fn hashes_and_compares_as_the_byte_slice_it_holds() {
        for data in [
            &b""[..],
            b"a",
            b"0123456789012345678901",
            b"01234567890123456789012",
        ] {
            let s = Str::new(data);
            assert_eq!(hash_of(&s), hash_of(data));
            assert_eq!(s, Str::from(Bytes::copy_from_slice(data)));
            assert_eq!(Bytes::from(s.clone()), Bytes::copy_from_slice(data));
        }
        assert!(Str::new(b"a") < Str::new(b"b"));
    }
}
