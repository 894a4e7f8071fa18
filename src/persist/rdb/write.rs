//! Writing RDB: whole snapshots ([`write_snapshot`]) and single values ([`dump_value`]).
//!
//! Follows `rdbSaveRio`, `rdbSaveKeyValuePair` and `rdbSaveObject` in Redis 7.0's `rdb.c`, and
//! picks the encodings 7.0 picks with its default configuration:
//!
//! | value | written as |
//! | --- | --- |
//! | string | `C0`/`C1`/`C2` if a canonical integer of at most 11 chars fitting 32 bits; LZF (`C3`) if longer than 20 bytes and LZF saves at least 4 bytes; raw otherwise |
//! | list | type 18, quicklist v2: the list's listpack nodes as they are in memory (`list-max-listpack-size`), PACKED; PLAIN for an element of 1 GiB or more |
//! | set | type 11 intset if an intset in memory (`set-max-intset-entries`), type 2 otherwise |
//! | hash | type 16 listpack if packed in memory (`hash-max-listpack-entries/value`); type 4 otherwise |
//! | zset | type 17 listpack under the same limits (member length); type 5 (binary doubles) otherwise |
//!
//! The writer streams: nothing but one compact blob (at most a few KiB) or one LZF buffer is
//! held in memory, and the CRC64 is updated as bytes go out.

use std::io::{self, BufWriter, Write};

use super::crc64::crc64;
use super::legacy::encode_intset;
use super::listpack::{self, format_score};
use super::parse::{QUICKLIST_PACKED, QUICKLIST_PLAIN};
use super::{lzf, opcode, rdb_type, RDB_VERSION, REDIS_VERSION};
use crate::store::list::PACKED_THRESHOLD;
use crate::store::listpack::{self as store_listpack, Entry};
use crate::store::value::parse_i64_strict;
use crate::store::{Db, Value};

/// The value of an aux field: bytes, or an integer written as its decimal text (which the
/// string encoder then stores as `C0`/`C1`/`C2` when it fits, as Redis does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxValue<'a> {
    /// Bytes, stored as they are.
    Str(&'a [u8]),
    /// An integer, stored as its decimal text.
    Int(i64),
}

impl<'a> From<&'a str> for AuxValue<'a> {
    fn from(s: &'a str) -> Self {
        AuxValue::Str(s.as_bytes())
    }
}

impl<'a> From<&'a [u8]> for AuxValue<'a> {
    fn from(s: &'a [u8]) -> Self {
        AuxValue::Str(s)
    }
}

impl From<i64> for AuxValue<'_> {
    fn from(i: i64) -> Self {
        AuxValue::Int(i)
    }
}

/// What goes into the standard aux fields, plus the `rdbcompression` switch. Time is an input,
/// never read from the clock here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOptions {
    /// The `ctime` aux field: when the snapshot was taken, in Unix seconds.
    pub ctime_s: i64,
    /// The `used-mem` aux field, in bytes.
    pub used_mem: u64,
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it helps.
    pub compression: bool,
}

impl SaveOptions {
    /// Options with compression on (Redis's default).
    pub fn new(ctime_s: i64) -> SaveOptions {
        SaveOptions {
            ctime_s,
            used_mem: 0,
            compression: true,
        }
    }
}

/// Writes a whole snapshot of `dbs` (index = db number) to `out`, buffered, and returns the
/// number of bytes written.
///
/// Aux fields come in Redis's order: `redis-ver`, `redis-bits`, `ctime`, `used-mem`, then
/// `aux` as given (a master adds `repl-stream-db`, `repl-id`, `repl-offset`; then `aof-base`).
/// Empty databases get no SELECTDB; empty collections (which Redis never keeps) are skipped.
pub fn write_snapshot<W: Write>(
    out: W,
    dbs: &[Db],
    aux: &[(&str, AuxValue<'_>)],
    options: &SaveOptions,
) -> io::Result<u64> {
    let mut w = RdbWriter::new(BufWriter::with_capacity(1 << 16, out), options.compression);
    w.header()?;
    w.aux("redis-ver", REDIS_VERSION.into())?;
    w.aux("redis-bits", AuxValue::Int(64))?;
    w.aux("ctime", AuxValue::Int(options.ctime_s))?;
    w.aux(
        "used-mem",
        AuxValue::Int(i64::try_from(options.used_mem).unwrap_or(i64::MAX)),
    )?;
    for (key, value) in aux {
        w.aux(key, *value)?;
    }
    for (index, db) in dbs.iter().enumerate() {
        let mut keys = 0;
        let mut expires = 0;
        for (_, value, expire) in db.iter_with_expiry() {
            if !value.is_empty_collection() {
                keys += 1;
                expires += expire.is_some() as u64;
            }
        }
        if keys == 0 {
            continue;
        }
        w.select_db(index as u64)?;
        w.resize_db(keys, expires)?;
        for (key, value, expire) in db.iter_with_expiry() {
            if !value.is_empty_collection() {
                w.key(key, value, expire)?;
            }
        }
    }
    let (mut out, written) = w.finish()?;
    out.flush()?;
    Ok(written)
}

/// The DUMP payload of `value`: type byte, value, RDB version as 2 bytes LE, CRC64 LE of all
/// of that (`createDumpPayload` in `cluster.c`).
pub fn dump_value(value: &Value) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), true);
    // Writing into a Vec cannot fail.
    let _ = w.value(value);
    let _ = w.raw(&(RDB_VERSION as u16).to_le_bytes());
    let crc = w.crc;
    let mut out = w.out;
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A streaming RDB writer: each call writes one record; [`RdbWriter::finish`] adds EOF and the
/// checksum. Use [`write_snapshot`] unless you need to write records yourself (a replica link
/// sending a snapshot while the keyspace is locked piecewise, or a test building odd files).
pub struct RdbWriter<W: Write> {
    out: W,
    crc: u64,
    written: u64,
    compression: bool,
}

impl<W: Write> RdbWriter<W> {
    /// A writer onto `out`. `compression` is `rdbcompression`.
    pub fn new(out: W, compression: bool) -> RdbWriter<W> {
        RdbWriter {
            out,
            crc: 0,
            written: 0,
            compression,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)?;
        self.crc = crc64(self.crc, data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// `REDIS0010`.
    pub fn header(&mut self) -> io::Result<()> {
        self.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    /// `FA <key> <value>`.
    pub fn aux(&mut self, key: &str, value: AuxValue<'_>) -> io::Result<()> {
        self.raw(&[opcode::AUX])?;
        self.string(key.as_bytes())?;
        match value {
            AuxValue::Str(s) => self.string(s),
            AuxValue::Int(i) => self.string(i.to_string().as_bytes()),
        }
    }

    /// `FE <db>`.
    pub fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.raw(&[opcode::SELECTDB])?;
        self.len(db)
    }

    /// `FB <keys> <expires>`.
    pub fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.raw(&[opcode::RESIZEDB])?;
        self.len(keys)?;
        self.len(expires)
    }

    /// `[FC <ms>] <type> <key> <value>`.
    pub fn key(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) -> io::Result<()> {
        if let Some(at) = expire_ms {
            self.raw(&[opcode::EXPIRETIME_MS])?;
            self.raw(&at.to_le_bytes())?;
        }
        let type_byte = type_for(value);
        self.raw(&[type_byte])?;
        self.string(key)?;
        self.body(type_byte, value)
    }

    /// `FF <crc64>`; returns the output and the total bytes written. Flushing is the caller's.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.raw(&[opcode::EOF])?;
        let crc = self.crc;
        self.raw(&crc.to_le_bytes())?;
        Ok((self.out, self.written))
    }

    /// A value with its type byte, as in a DUMP payload.
    pub fn value(&mut self, value: &Value) -> io::Result<()> {
        let type_byte = type_for(value);
        self.raw(&[type_byte])?;
        self.body(type_byte, value)
    }

    /// A length (`rdbSaveLen`).
    fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.raw(&[0x80])?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.raw(&[0x81])?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string (`rdbSaveRawString`): integer form, LZF, or raw.
    fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = parse_i64_strict(s) {
                if let Ok(v) = i8::try_from(v) {
                    return self.raw(&[0xc0, v as u8]);
                } else if let Ok(v) = i16::try_from(v) {
                    self.raw(&[0xc1])?;
                    return self.raw(&v.to_le_bytes());
                } else if let Ok(v) = i32::try_from(v) {
                    self.raw(&[0xc2])?;
                    return self.raw(&v.to_le_bytes());
                }
            }
        }
        if self.compression && s.len() > 20 {
            if let Some(packed) = lzf::compress(s, s.len() - 4) {
                self.raw(&[0xc3])?;
                self.len(packed.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&packed);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    fn body(&mut self, type_byte: u8, value: &Value) -> io::Result<()> {
        match value {
            Value::String(s) => self.string(s),
            Value::List(list) => {
                // The nodes as they are in memory (`rdbSaveObject`); an element of 1 GiB or
                // more, alone in its node, is written as a PLAIN node of its bare bytes.
                self.len(list.node_count() as u64)?;
                for lp in list.listpacks() {
                    match plain_element(lp) {
                        Some(element) => {
                            self.len(QUICKLIST_PLAIN)?;
                            self.string(element)?;
                        }
                        None => {
                            self.len(QUICKLIST_PACKED)?;
                            self.string(lp)?;
                        }
                    }
                }
                Ok(())
            }
            Value::Set(set) if type_byte == rdb_type::SET_INTSET => {
                let mut members: Vec<i64> =
                    set.iter().filter_map(|m| parse_i64_strict(&m)).collect();
                self.string(&encode_intset(&mut members))
            }
            Value::Set(set) => {
                self.len(set.len() as u64)?;
                for member in set.iter() {
                    self.string(&member)?;
                }
                Ok(())
            }
            Value::Hash(hash) if type_byte == rdb_type::HASH_LISTPACK => {
                let mut lp = listpack::Builder::new();
                for (field, value) in hash.iter() {
                    lp.push(field);
                    lp.push(value);
                }
                self.string(&lp.finish())
            }
            Value::Hash(hash) => {
                self.len(hash.len() as u64)?;
                for (field, value) in hash.iter() {
                    self.string(field)?;
                    self.string(value)?;
                }
                Ok(())
            }
            Value::ZSet(zset) if type_byte == rdb_type::ZSET_LISTPACK => {
                let mut lp = listpack::Builder::new();
                for (member, score) in zset.iter() {
                    lp.push(member);
                    lp.push(format_score(score).as_bytes());
                }
                self.string(&lp.finish())
            }
            Value::ZSet(zset) => {
                self.len(zset.len() as u64)?;
                for (member, score) in zset.iter() {
                    self.string(member)?;
                    self.raw(&score.to_le_bytes())?;
                }
                Ok(())
            }
        }
    }
}

/// The RDB type Redis 7.0 would write for `value` (see the module table).
pub fn type_for(value: &Value) -> u8 {
    match (value, value.encoding()) {
        (Value::String(_), _) => rdb_type::STRING,
        (Value::List(_), _) => rdb_type::LIST_QUICKLIST_2,
        (Value::Set(_), "intset") => rdb_type::SET_INTSET,
        (Value::Set(_), _) => rdb_type::SET,
        (Value::Hash(_), "listpack") => rdb_type::HASH_LISTPACK,
        (Value::Hash(_), _) => rdb_type::HASH,
        (Value::ZSet(_), "listpack") => rdb_type::ZSET_LISTPACK,
        (Value::ZSet(_), _) => rdb_type::ZSET_2,
    }
}

/// The element of a node Redis keeps as a PLAIN node: the only one, 1 GiB or longer.
fn plain_element(lp: &[u8]) -> Option<&[u8]> {
    if lp.len() <= PACKED_THRESHOLD {
        return None;
    }
    let at = store_listpack::first(lp)?;
    match store_listpack::get(lp, at) {
        Entry::Str(s) if s.len() >= PACKED_THRESHOLD && store_listpack::next(lp, at).is_none() => {
            Some(s)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn dump_of_v12_matches_redis() {
        // §1.4 of the interop notes, captured from Redis 7.0.15.
        let payload = dump_value(&Value::String(Bytes::from_static(b"v12").into()));
        assert_eq!(
            payload,
            [
                0x00, 0x03, 0x76, 0x31, 0x32, 0x0a, 0x00, 0xbf, 0x0b, 0xe0, 0xff, 0x5c, 0xea, 0x65,
                0x04
            ]
        );
    }

    fn encoded_string(s: &[u8], compression: bool) -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), compression);
        w.string(s).unwrap();
        w.out
    }

    #[test]
    fn strings_use_redis_encodings() {
        assert_eq!(encoded_string(b"64", true), [0xc0, 64]);
        assert_eq!(encoded_string(b"-128", true), [0xc0, 0x80]);
        assert_eq!(encoded_string(b"12345", true), [0xc1, 0x39, 0x30]);
        assert_eq!(
            encoded_string(b"1795531218", true),
            [0xc2, 0xd2, 0xa1, 0x05, 0x6b]
        );
        assert_eq!(encoded_string(b"2147483648", true)[0], 10); // too big for 32 bits
        assert_eq!(encoded_string(b"012", true), [3, b'0', b'1', b'2']);
        assert_eq!(encoded_string(&[b'a'; 30], true)[0], 0xc3);
        assert_eq!(encoded_string(&[b'a'; 30], false)[0], 30);
        assert_eq!(encoded_string(&[b'a'; 20], true)[0], 20); // 20 bytes: never compressed
    }

    #[test]
    fn lengths_use_all_four_forms() {
        let enc = |n| {
            let mut w = RdbWriter::new(Vec::new(), false);
            w.len(n).unwrap();
            w.out
        };
        assert_eq!(enc(63), [63]);
        assert_eq!(enc(64), [0x40, 64]);
        assert_eq!(enc(16_384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn lists_are_written_node_for_node() {
        use crate::store::list::List;
        let big: List = [vec![b'x'; 10_000], b"a".to_vec(), vec![b'y'; 9000]]
            .into_iter()
            .collect();
        assert_eq!(big.node_count(), 3);
        let small: List = (0..1000).map(|i| format!("element-{i}")).collect();
        for list in [big, small] {
            let payload = dump_value(&Value::List(list.clone()));
            assert_eq!(payload[0], rdb_type::LIST_QUICKLIST_2);
            let mut expected = RdbWriter::new(Vec::new(), true);
            expected.len(list.node_count() as u64).unwrap();
            for lp in list.listpacks() {
                expected.len(QUICKLIST_PACKED).unwrap();
                expected.string(lp).unwrap();
            }
            let body = expected.out;
            assert_eq!(&payload[1..1 + body.len()], &body[..]);
        }
    }
}
