//! The value types a key can hold, and the encoding names `OBJECT ENCODING` reports for them.
//!
//! A hash and a sorted set switch between a packed and a large form and a set between an
//! intset and a table, as Redis's do (see [`Hash`], [`ZSet`], [`Set`]); a list is a quicklist
//! of listpacks as in Redis 7.0 ([`List`]). The encodings Redis reports for strings (int,
//! embstr, raw) come from [`Value::encoding`] with Redis 7.0's thresholds.

pub use super::hash::Hash;
pub use super::list::List;
pub use super::set::Set;
pub use super::str::Str;
pub use super::zset::ZSet;

/// The thresholds up to which collections keep their compact form, from the configuration
/// directives of the same names. The defaults are Redis 7.0's built-in ones (`config.c`; the
/// sample redis.conf lowers `hash-max-listpack-entries` to 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-listpack-entries`: most fields a packed hash holds.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value a packed hash holds, in bytes.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: most members an intset holds.
    pub set_max_intset_entries: usize,
    /// `zset-max-listpack-entries`: most members a packed sorted set holds.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`: longest member a packed sorted set takes in, in bytes.
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size`: how full a list's node may grow (see [`super::list::Fill`]).
    pub list_max_listpack_size: i64,
}

impl EncodingLimits {
    /// The list node limit `list-max-listpack-size` sets.
    pub fn list_fill(&self) -> super::list::Fill {
        super::list::Fill::new(self.list_max_listpack_size)
    }
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

/// One key's value. 24 bytes: a string is inline when short (see [`Str`]); a collection is
/// one pointer to its body, so that a keyspace entry stays within one cache line. A hash, a
/// list, a set and a sorted set are themselves 16 bytes (a packed buffer, or a boxed table
/// or ring of nodes), so they need no box of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Str),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The encoding `OBJECT ENCODING` answers, following Redis 7.0's default thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::String(s) => {
                if s.len() <= 20 && parse_i64_strict(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// True for an empty collection (such keys are deleted, as in Redis).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// Bytes of bookkeeping per allocation and per collection entry in the estimates of
/// [`Value::memory_usage`] (Redis's object header, dict entry and allocator rounding).
const OBJECT_OVERHEAD: usize = 16;
const ENTRY_OVERHEAD: usize = 24;

impl Value {
    /// An estimate of the bytes this value takes, for `MEMORY USAGE`. Collections larger than
    /// `samples` elements (0 = all) are estimated from the average of their first `samples`
    /// elements, as Redis's `objectComputeSize` does.
    pub fn memory_usage(&self, samples: usize) -> usize {
        fn estimate<I: Iterator<Item = usize>>(len: usize, sizes: I, samples: usize) -> usize {
            let taken = if samples == 0 { len } else { samples.min(len) };
            if taken == 0 {
                return 0;
            }
            let sum: usize = sizes.take(taken).sum();
            sum / taken * len
        }
        OBJECT_OVERHEAD
            + match self {
                Value::String(s) => s.len(),
                Value::List(l) => l.sampled_heap_bytes(samples),
                Value::Hash(h) => h.packed_bytes().unwrap_or_else(|| {
                    estimate(
                        h.len(),
                        h.iter().map(|(k, v)| k.len() + v.len() + ENTRY_OVERHEAD),
                        samples,
                    )
                }),
                Value::Set(s) => match s.intset_width() {
                    Some(width) => width * s.len(),
                    None => estimate(s.len(), s.iter().map(|m| m.len() + ENTRY_OVERHEAD), samples),
                },
                Value::ZSet(z) => z.packed_bytes().unwrap_or_else(|| {
                    estimate(
                        z.len(),
                        z.iter().map(|(m, _)| 2 * m.len() + 8 + 2 * ENTRY_OVERHEAD),
                        samples,
                    )
                }),
            }
    }
}

/// Parses a decimal i64 the way Redis's `string2ll` does: no spaces, no `+`, no leading zeros
/// (except "0"), no "-0".
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || negative)) {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = (d - b'0') as i64;
        value = if negative {
            value.checked_mul(10)?.checked_sub(digit)?
        } else {
            value.checked_mul(10)?.checked_add(digit)?
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integer_parsing_matches_string2ll() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn a_value_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn encodings_follow_redis_thresholds() {
        assert_eq!(Value::String(Str::from("123")).encoding(), "int");
        assert_eq!(Value::String(Str::from("abc")).encoding(), "embstr");
        assert_eq!(Value::String(Str::from(vec![b'x'; 45])).encoding(), "raw");
    }

    #[test]
    fn memory_usage_grows_with_content_and_samples_large_collections() {
        let small = Value::String(Str::from("a")).memory_usage(5);
        let big = Value::String(Str::from(vec![b'x'; 1000])).memory_usage(5);
        assert!(small > 0 && big > small + 900);
        let list: List = (0..100).map(|_| Str::from("abcd")).collect();
        let value = Value::List(list);
        assert_eq!(value.memory_usage(5), value.memory_usage(0));
    }
}
