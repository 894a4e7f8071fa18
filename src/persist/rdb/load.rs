//! Loading RDB: whole files into databases ([`load_snapshot`]) and DUMP payloads into one value
//! ([`restore_value`]).
//!
//! Follows `rdbLoadRioWithLoadingCtx` (files) and `verifyDumpPayload` + `restoreCommand`
//! (payloads) in Redis 7.0. Both read through the shared [`Parser`]. Like Redis, the loader
//! keeps keys whose expiry time has already passed (the server decides what to do with them),
//! skips empty collections, and refuses a key that appears twice in one database.

use std::io::{BufReader, Read};

use bytes::Bytes;

use super::crc64::crc64;
use super::parse::{read_value, Checksum, KeyBody, Parser, Record, Source};
use super::{Encoding, RdbError, RDB_VERSION};
use crate::store::value::EncodingLimits;
use crate::store::{Db, Value};

/// Everything a file held that redislab keeps.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The RDB version from the header.
    pub version: u32,
    /// Aux fields in file order (`redis-ver`, `ctime`, `repl-id`, ...).
    pub aux: Vec<(Bytes, Bytes)>,
    /// Databases the file put keys in or announced keys for (`RESIZEDB`), by db number, in the
    /// order first seen.
    pub dbs: Vec<(usize, Db)>,
    /// Streams read and dropped (redislab has no stream type); the server should warn.
    pub streams_skipped: u64,
    /// Empty collections skipped, as Redis 7.0 logs "empty keys skipped".
    pub empty_keys_skipped: u64,
    /// Function libraries (`F5`), kept as their source code.
    pub functions: Vec<Bytes>,
    /// The checksum outcome (never `Mismatch`: that is an error).
    pub checksum: Checksum,
}

impl Snapshot {
    /// The value of aux field `name`, if present (the last one wins, as in Redis).
    pub fn aux(&self, name: &str) -> Option<&Bytes> {
        self.aux
            .iter()
            .rev()
            .find(|(k, _)| &k[..] == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// `repl-id`, if the file came from a master (40 hex characters).
    pub fn repl_id(&self) -> Option<&str> {
        self.aux("repl-id")
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// `repl-offset`, if present and numeric.
    pub fn repl_offset(&self) -> Option<i64> {
        self.aux("repl-offset")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
    }

    /// Database `index`, if the file put any key in it.
    pub fn db(&self, index: usize) -> Option<&Db> {
        self.dbs.iter().find(|(i, _)| *i == index).map(|(_, db)| db)
    }

    /// Total keys loaded over all databases.
    pub fn key_count(&self) -> usize {
        self.dbs.iter().map(|(_, db)| db.len()).sum()
    }
}

/// The position in `snapshot.dbs` of database `db_number` (the current `SELECT`), added on
/// first use; `slot` caches it until the next `SELECT`.
fn db_index(
    snapshot: &mut Snapshot,
    slot: &mut Option<usize>,
    db_number: u64,
    offset: u64,
) -> Result<usize, RdbError> {
    if let Some(i) = *slot {
        return Ok(i);
    }
    let db = usize::try_from(db_number).map_err(|_| RdbError {
        offset,
        reason: format!("database number {db_number} is too large"),
    })?;
    let i = match snapshot.dbs.iter().position(|(n, _)| *n == db) {
        Some(i) => i,
        None => {
            snapshot.dbs.push((db, Db::new()));
            snapshot.dbs.len() - 1
        }
    };
    *slot = Some(i);
    Ok(i)
}

/// Loads a whole RDB file (any version 1..=10) under Redis's default encoding thresholds.
/// The input is buffered internally.
pub fn load_snapshot<R: Read>(input: R) -> Result<Snapshot, RdbError> {
    load_snapshot_with(input, EncodingLimits::default())
}

/// [`load_snapshot`] under the configuration's thresholds: collections past them load in
/// their large form, as Redis converts on load.
pub fn load_snapshot_with<R: Read>(input: R, limits: EncodingLimits) -> Result<Snapshot, RdbError> {
    let mut parser = Parser::new(BufReader::with_capacity(1 << 16, input))?.with_limits(limits);
    let mut snapshot = Snapshot {
        version: parser.version(),
        ..Snapshot::default()
    };
    let mut current_db: u64 = 0;
    let mut slot: Option<usize> = None;
    // Keys loaded together count as accessed together, as Redis's loader stamps them.
    let now = crate::store::clock_ms();
    loop {
        let offset = parser.offset();
        let Some(record) = parser.next_record()? else {
            break;
        };
        match record {
            Record::Aux { key, value } => snapshot.aux.push((key, value)),
            Record::SelectDb { db } => {
                current_db = db;
                slot = None;
            }
            Record::ResizeDb { keys, .. } => {
                let index = db_index(&mut snapshot, &mut slot, current_db, offset)?;
                // A hint: the table allocates as keys arrive, and its directory is bounded
                // however large the count (`KeyTable::reserve`).
                snapshot.dbs[index]
                    .1
                    .reserve(usize::try_from(keys).unwrap_or(usize::MAX));
            }
            Record::Function { code } => snapshot.functions.push(code),
            Record::Key(record) => match record.body {
                KeyBody::Stream => snapshot.streams_skipped += 1,
                KeyBody::Empty => snapshot.empty_keys_skipped += 1,
                KeyBody::Value(value) => {
                    let index = db_index(&mut snapshot, &mut slot, current_db, offset)?;
                    let db = &mut snapshot.dbs[index].1;
                    if db.add_loaded(&record.key, value, now).is_err() {
                        return Err(RdbError {
                            offset: record.offset,
                            reason: format!(
                                "duplicated key '{}' in DB {current_db}",
                                String::from_utf8_lossy(&record.key)
                            ),
                        });
                    }
                    if let Some(at) = record.expire_ms {
                        db.set_expire_time(&record.key, at);
                    }
                }
            },
            Record::Eof { checksum } => {
                if let Checksum::Mismatch { stored, computed } = checksum {
                    return Err(RdbError {
                        offset,
                        reason: format!(
                            "wrong RDB checksum: stored {stored:#018x}, computed {computed:#018x}"
                        ),
                    });
                }
                snapshot.checksum = checksum;
            }
        }
    }
    Ok(snapshot)
}

/// Decodes a DUMP payload (RESTORE, MIGRATE). Rejects a version above 10 and any CRC that does
/// not match, including an all-zero one, as `verifyDumpPayload` does.
/// The value takes the form Redis's default thresholds give it.
pub fn restore_value(payload: &[u8]) -> Result<Value, RdbError> {
    restore_value_with(payload, &EncodingLimits::default())
}

/// [`restore_value`] under the configuration's thresholds (RESTORE converts as Redis does).
pub fn restore_value_with(payload: &[u8], limits: &EncodingLimits) -> Result<Value, RdbError> {
    restore_with_encoding(payload, limits).map(|(value, _)| value)
}

/// [`restore_value_with`], also reporting how the value was encoded.
pub fn restore_with_encoding(
    payload: &[u8],
    limits: &EncodingLimits,
) -> Result<(Value, Encoding), RdbError> {
    let bad = |offset: usize, reason: &str| RdbError {
        offset: offset as u64,
        reason: reason.to_string(),
    };
    if payload.len() < 10 {
        return Err(bad(0, "DUMP payload version or checksum are wrong"));
    }
    let footer = payload.len() - 10;
    let version = u16::from_le_bytes([payload[footer], payload[footer + 1]]);
    if version as u32 > RDB_VERSION {
        return Err(bad(footer, "DUMP payload version or checksum are wrong"));
    }
    let stored = u64::from_le_bytes(payload[footer + 2..].try_into().expect("8 bytes"));
    if crc64(0, &payload[..footer + 2]) != stored {
        return Err(bad(
            footer + 2,
            "DUMP payload version or checksum are wrong",
        ));
    }
    let mut src = Source::new(&payload[..footer]);
    let type_byte = src.u8()?;
    let (encoding, body) = read_value(&mut src, type_byte, limits)?;
    if !src.at_end()? {
        return Err(src.error("bytes left over after the value"));
    }
    match body {
        KeyBody::Value(value) => Ok((value, encoding)),
        KeyBody::Empty => Err(bad(0, "empty collection in DUMP payload")),
        KeyBody::Stream => Err(bad(0, "streams are not supported by redislab")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::legacy::encode_ziplist;
    use crate::persist::rdb::write::{write_snapshot, AuxValue, RdbWriter, SaveOptions};
    use crate::persist::rdb::{dump_value, rdb_type, Encoding, StrEncoding};
    use crate::store::value::{EncodingLimits, Hash, List, Set};
    use crate::store::zset::ZSet;
    use crate::store::Str;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Every type in small and big forms, with expiry, binary keys and three databases (db 1
    /// left empty on purpose).
    pub(crate) fn sample_dbs() -> Vec<Db> {
        let mut db0 = Db::new();
        db0.set(b("int"), Value::String(b("12345").into()));
        db0.set(b("bigint"), Value::String(b("9223372036854775807").into()));
        db0.set(b("str"), Value::String(b("hello").into()));
        db0.set(
            b("long"),
            Value::String(Bytes::from("abcdefgh".repeat(100)).into()),
        );
        db0.set(
            Bytes::from_static(b"bin\x00\xff\r\n"),
            Value::String(Bytes::from_static(b"\x00\x01\x02").into()),
        );
        db0.set(b("ttl"), Value::String(b("v").into()));
        db0.set_expire_time(b"ttl", 1_717_000_000_000);
        db0.set(b("expired"), Value::String(b("old").into()));
        db0.set_expire_time(b"expired", 1);
        db0.set(
            b("list"),
            Value::List(["a", "b", "c"].iter().map(|s| Str::from(*s)).collect()),
        );
        let big_list: List = (0..5000).map(|i| Str::from(format!("item-{i}"))).collect();
        db0.set(b("biglist"), Value::List(big_list));
        let mut huge_elements = List::new();
        huge_elements.push_back(Str::from(vec![b'x'; 20_000]));
        huge_elements.push_back(Str::from("-42"));
        db0.set(b("hugelist"), Value::List(huge_elements));
        db0.set(
            b("iset"),
            Value::Set(["1", "2", "3"].iter().map(|s| b(s)).collect()),
        );
        db0.set(
            b("wideset"),
            Value::Set(["-5", "70000", "8589934592"].iter().map(|s| b(s)).collect()),
        );
        db0.set(
            b("set"),
            Value::Set(["x", "y", "z"].iter().map(|s| b(s)).collect()),
        );
        let bigiset: Set = (0..600).map(|i| Bytes::from(i.to_string())).collect();
        db0.set(b("bigintset"), Value::Set(bigiset));
        let mut hash = Hash::new();
        hash.insert(b("f1"), b("v1"), &EncodingLimits::default());
        hash.insert(b("f2"), b("300"), &EncodingLimits::default());
        db0.set(b("hash"), Value::Hash(hash));
        let bighash: Hash = (0..600)
            .map(|i| {
                (
                    Bytes::from(format!("field{i}")),
                    Bytes::from(format!("value{i}")),
                )
            })
            .collect();
        db0.set(b("bighash"), Value::Hash(bighash));
        let mut longvalue = Hash::new();
        longvalue.insert(
            b("f"),
            Bytes::from(vec![b'v'; 65]),
            &EncodingLimits::default(),
        );
        db0.set(b("longvaluehash"), Value::Hash(longvalue));
        let mut zset = ZSet::new();
        zset.insert(b"a", 1.0, &EncodingLimits::default());
        zset.insert(b"b", 2.5, &EncodingLimits::default());
        zset.insert(b"c", -0.1, &EncodingLimits::default());
        zset.insert(b"d", f64::INFINITY, &EncodingLimits::default());
        zset.insert(b"e", 1e300, &EncodingLimits::default());
        db0.set(b("zset"), Value::ZSet(zset));
        let mut bigzset = ZSet::new();
        for i in 0..300 {
            bigzset.insert(
                format!("m{i}").as_bytes(),
                i as f64 / 7.0,
                &EncodingLimits::default(),
            );
        }
        bigzset.insert(b"neg", f64::NEG_INFINITY, &EncodingLimits::default());
        db0.set(b("bigzset"), Value::ZSet(bigzset));

        let db1 = Db::new();
        let mut db2 = Db::new();
        db2.set(b("db2key"), Value::String(b("val").into()));
        vec![db0, db1, db2]
    }

    fn write(dbs: &[Db], compression: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut options = SaveOptions::new(1_700_000_000);
        options.compression = compression;
        let aux = [
            ("repl-stream-db", AuxValue::Int(0)),
            (
                "repl-id",
                AuxValue::from("0123456789abcdef0123456789abcdef01234567"),
            ),
            ("repl-offset", AuxValue::Int(1234)),
            ("aof-base", AuxValue::Int(0)),
        ];
        let n = write_snapshot(&mut out, dbs, &aux, &options).unwrap();
        assert_eq!(n as usize, out.len());
        out
    }

    fn assert_same(a: &Db, b: &Db) {
        assert_eq!(a.len(), b.len());
        assert_eq!(a.expires_len(), b.expires_len());
        for (key, value, expire) in a.iter_with_expiry() {
            assert_eq!(b.peek(key), Some(value), "key {key:?}");
            assert_eq!(b.expire_time(key), expire, "expiry of {key:?}");
        }
    }

    fn encodings(file: &[u8]) -> Vec<(Bytes, Encoding)> {
        let mut parser = Parser::new(file).unwrap();
        let mut out = Vec::new();
        while let Some(record) = parser.next_record().unwrap() {
            if let Record::Key(k) = record {
                out.push((k.key, k.encoding));
            }
        }
        out
    }

    #[test]
    fn round_trips_every_type_and_encoding() {
        let dbs = sample_dbs();
        for compression in [true, false] {
            let file = write(&dbs, compression);
            let snap = load_snapshot(&file[..]).unwrap();
            assert_eq!(snap.version, 10);
            assert!(matches!(snap.checksum, Checksum::Matched(_)));
            assert_eq!(snap.dbs.len(), 2, "the empty db 1 is not written");
            assert_same(&dbs[0], snap.db(0).unwrap());
            assert_same(&dbs[2], snap.db(2).unwrap());
            assert!(snap.db(1).is_none());
            assert_eq!(snap.aux("redis-ver").unwrap(), "7.0.15");
            assert_eq!(snap.aux("redis-bits").unwrap(), "64");
            assert_eq!(snap.aux("ctime").unwrap(), "1700000000");
            assert_eq!(
                snap.repl_id(),
                Some("0123456789abcdef0123456789abcdef01234567")
            );
            assert_eq!(snap.repl_offset(), Some(1234));
        }
    }

    #[test]
    fn writer_picks_redis_70_encodings() {
        let file = write(&sample_dbs(), true);
        let encs: std::collections::HashMap<Bytes, Encoding> =
            encodings(&file).into_iter().collect();
        let enc = |k: &str| encs[&b(k)];
        assert_eq!(enc("int"), Encoding::String(StrEncoding::Int));
        assert_eq!(enc("bigint"), Encoding::String(StrEncoding::Raw));
        assert_eq!(enc("str"), Encoding::String(StrEncoding::Raw));
        assert!(matches!(
            enc("long"),
            Encoding::String(StrEncoding::Lzf { .. })
        ));
        assert_eq!(
            enc("list"),
            Encoding::Quicklist2 {
                nodes: 1,
                plain_nodes: 0
            }
        );
        assert!(matches!(enc("biglist"), Encoding::Quicklist2 { nodes, .. } if nodes > 1));
        assert_eq!(
            enc("hugelist"),
            Encoding::Quicklist2 {
                nodes: 2,
                plain_nodes: 0
            }
        );
        assert_eq!(enc("iset"), Encoding::Intset { width: 2 });
        assert_eq!(enc("wideset"), Encoding::Intset { width: 8 });
        assert_eq!(enc("set"), Encoding::Set);
        assert_eq!(enc("bigintset"), Encoding::Set);
        assert_eq!(enc("hash"), Encoding::HashListpack);
        assert_eq!(enc("bighash"), Encoding::Hash);
        assert_eq!(enc("longvaluehash"), Encoding::Hash);
        assert_eq!(enc("zset"), Encoding::ZSetListpack);
        assert_eq!(enc("bigzset"), Encoding::ZSet2);
        let uncompressed = write(&sample_dbs(), false);
        assert!(encodings(&uncompressed)
            .iter()
            .all(|(_, e)| !matches!(e, Encoding::String(StrEncoding::Lzf { .. }))));
    }

    #[test]
    fn captured_prefix_of_a_real_file_matches_byte_for_byte() {
        // §2.7: the first keys of the captured 7.0 file, written by RdbWriter.
        let mut w = RdbWriter::new(Vec::new(), true);
        w.key(b"num", &Value::String(b("12345").into()), None)
            .unwrap();
        w.key(b"str", &Value::String(b("hello").into()), None)
            .unwrap();
        w.key(
            b"ttlkey",
            &Value::String(b("v").into()),
            Some(0x01a2_13f5_fead),
        )
        .unwrap();
        let set: Set = ["1", "2", "3"].iter().map(|s| b(s)).collect();
        w.key(b"iset", &Value::Set(set), None).unwrap();
        let list: List = ["a", "b", "c"].iter().map(|s| Str::from(*s)).collect();
        w.key(b"list", &Value::List(list), None).unwrap();
        let (out, _) = w.finish().unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\x00\x03num\xc1\x39\x30");
        expected.extend_from_slice(b"\x00\x03str\x05hello");
        expected.extend_from_slice(b"\xfc\xad\xfe\xf5\x13\xa2\x01\x00\x00\x00\x06ttlkey\x01v");
        expected.extend_from_slice(
            b"\x0b\x04iset\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00",
        );
        expected.extend_from_slice(
            b"\x12\x04list\x01\x02\x10\x10\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\x81c\x02\xff",
        );
        assert_eq!(&out[..expected.len()], &expected[..]);
    }

    /// A file written by Redis 7.0.15 itself (see `testdata/README.md`).
    const REAL_7_0: &[u8] = include_bytes!("testdata/redis-7.0.15.rdb");

    #[test]
    fn loads_a_file_written_by_redis_7_0() {
        let snap = load_snapshot(REAL_7_0).unwrap();
        assert_eq!(snap.version, 10);
        assert!(matches!(snap.checksum, Checksum::Matched(_)));
        assert_eq!(snap.aux("redis-ver").unwrap(), "7.0.15");
        assert_eq!(snap.streams_skipped, 1);
        assert_eq!(snap.functions.len(), 1);
        assert!(snap.functions[0].starts_with(b"#!lua name=mylib"));
        let db0 = snap.db(0).unwrap();
        assert_eq!(db0.len(), 8);
        assert_eq!(db0.peek(b"num"), Some(&Value::String(b("12345").into())));
        assert_eq!(
            db0.peek(b"long"),
            Some(&Value::String(Bytes::from("a".repeat(90)).into()))
        );
        assert!(db0.expire_time(b"ttlkey").is_some());
        let iset: Set = ["1", "2", "3"].iter().map(|s| b(s)).collect();
        assert_eq!(db0.peek(b"iset"), Some(&Value::Set(iset)));
        let list: List = ["a", "b", "c"].iter().map(|s| Str::from(*s)).collect();
        assert_eq!(db0.peek(b"list"), Some(&Value::List(list)));
        let Some(Value::ZSet(z)) = db0.peek(b"zset") else {
            panic!("zset")
        };
        assert_eq!((z.score(b"a"), z.score(b"b")), (Some(1.0), Some(2.5)));
        let Some(Value::Hash(h)) = db0.peek(b"hash") else {
            panic!("hash")
        };
        assert_eq!(h.get(&b"f2"[..]), Some(&b"v2"[..]));
        assert_eq!(
            snap.db(2).unwrap().peek(b"db2key"),
            Some(&Value::String(b("val").into()))
        );
    }

    #[test]
    fn truncating_the_real_file_anywhere_fails_cleanly() {
        for cut in 0..REAL_7_0.len() {
            let err = load_snapshot(&REAL_7_0[..cut]).expect_err("truncated file must fail");
            assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        }
    }

    #[test]
    fn truncation_at_every_offset_fails_cleanly() {
        // Every offset of a file holding each encoding in its small form...
        let mut small = sample_dbs();
        for big in ["biglist", "hugelist", "bigintset", "bighash", "bigzset"] {
            small[0].remove(big.as_bytes());
        }
        let file = write(&small, true);
        for cut in 0..file.len() {
            let err = load_snapshot(&file[..cut]).expect_err("truncated file must fail");
            assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        }
        // ...and a stride through the big forms.
        let file = write(&sample_dbs(), true);
        for cut in (0..file.len()).step_by(61) {
            let err = load_snapshot(&file[..cut]).expect_err("truncated file must fail");
            assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        }
    }

    #[test]
    fn damaged_bytes_never_panic() {
        let mut small = sample_dbs();
        small[0].remove(b"biglist");
        small[0].remove(b"hugelist");
        let mut file = write(&small, true);
        let n = file.len();
        file[n - 8..].fill(0); // checksum disabled, so damage reaches the parser
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..1000 {
            let mut damaged = file.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = 9 + (state as usize % (n - 17));
                damaged[at] = (state >> 32) as u8;
            }
            let _ = load_snapshot(&damaged[..]);
        }
    }

    #[test]
    fn checksum_is_verified_unless_zero() {
        let file = write(&sample_dbs(), true);
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let err = load_snapshot(&bad[..]).unwrap_err();
        assert!(err.reason.contains("checksum"), "{err}");
        bad[n - 8..].fill(0);
        assert_eq!(
            load_snapshot(&bad[..]).unwrap().checksum,
            Checksum::Disabled
        );
    }

    fn file_with(body: &[u8], version: u32) -> Vec<u8> {
        let mut f = format!("REDIS{version:04}").into_bytes();
        f.extend_from_slice(body);
        f.push(0xff);
        if version >= 5 {
            f.extend_from_slice(&[0; 8]);
        }
        f
    }

    #[test]
    fn rejects_newer_versions_and_bad_headers() {
        let err = load_snapshot(&file_with(b"", 11)[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bad file format reading the RDB at offset 5: Can't handle RDB format version 11"
        );
        assert!(load_snapshot(&b"RADIS0010\xff"[..]).is_err());
        assert!(load_snapshot(&b"REDIS00x0\xff"[..]).is_err());
        assert!(load_snapshot(&b""[..]).is_err());
        let old = load_snapshot(&file_with(b"\xfe\x00\x00\x01k\x01v", 4)[..]).unwrap();
        assert_eq!(old.checksum, Checksum::Absent);
        assert_eq!(old.key_count(), 1);
    }

    #[test]
    fn absurd_lengths_fail_without_allocating() {
        let huge_len = [0x81, 0x10, 0, 0, 0, 0, 0, 0, 0]; // 2^60
        let mut string = b"\xfe\x00\x00".to_vec();
        string.extend_from_slice(&huge_len);
        let err = load_snapshot(&file_with(&string, 10)[..]).unwrap_err();
        assert!(err.reason.contains("end of file"), "{err}");
        let mut set = b"\xfe\x00\x02\x01s".to_vec();
        set.extend_from_slice(&huge_len);
        assert!(load_snapshot(&file_with(&set, 10)[..]).is_err());
        let mut lzf = b"\xfe\x00\x00\x01s\xc3\x02".to_vec();
        lzf.extend_from_slice(&huge_len);
        lzf.extend_from_slice(b"\x00a");
        let err = load_snapshot(&file_with(&lzf, 10)[..]).unwrap_err();
        assert!(err.reason.contains("LZF"), "{err}");
        let mut list = b"\xfe\x00\x12\x01l".to_vec();
        list.extend_from_slice(&huge_len);
        assert!(load_snapshot(&file_with(&list, 10)[..]).is_err());
    }

    #[test]
    fn loads_legacy_encodings() {
        let mut body = b"\xfe\x00".to_vec();
        let mut key = |type_byte: u8, name: &str, value: &[u8]| {
            body.push(type_byte);
            body.push(name.len() as u8);
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(value);
        };
        let blob = |data: Vec<u8>| {
            let mut v = vec![0x80];
            v.extend_from_slice(&(data.len() as u32).to_be_bytes());
            v.extend_from_slice(&data);
            v
        };
        key(rdb_type::LIST, "l1", b"\x02\x01a\xc0\x07");
        key(rdb_type::ZSET, "z3", b"\x02\x01a\x031.5\x01b\xfe");
        key(
            rdb_type::LIST_ZIPLIST,
            "l10",
            &blob(encode_ziplist(&[b"a", b"200", b"-3"])),
        );
        key(
            rdb_type::ZSET_ZIPLIST,
            "z12",
            &blob(encode_ziplist(&[b"m", b"2", b"n", b"0.5"])),
        );
        key(
            rdb_type::HASH_ZIPLIST,
            "h13",
            &blob(encode_ziplist(&[b"f", b"v"])),
        );
        let mut quicklist = vec![0x02];
        quicklist.extend_from_slice(&blob(encode_ziplist(&[b"x", b"y"])));
        quicklist.extend_from_slice(&blob(encode_ziplist(&[&[b'z'; 300][..]])));
        key(rdb_type::LIST_QUICKLIST, "l14", &quicklist);
        key(
            rdb_type::HASH_ZIPMAP,
            "h9",
            &blob(b"\x01\x01a\x02\x00xy\xff".to_vec()),
        );
        let mut plain = vec![0x02, 0x01];
        plain.extend_from_slice(&blob(vec![b'p'; 100]));
        plain.push(0x02);
        let mut lp = crate::persist::rdb::listpack::Builder::new();
        lp.push(b"q");
        plain.extend_from_slice(&blob(lp.finish()));
        key(rdb_type::LIST_QUICKLIST_2, "l18", &plain);
        key(rdb_type::SET, "empty", b"\x00");
        let snap = load_snapshot(&file_with(&body, 9)[..]).unwrap();
        let db = snap.db(0).unwrap();
        let list = |k: &[u8]| match db.peek(k) {
            Some(Value::List(l)) => l.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(list(b"l1"), [b"a".to_vec(), b"7".to_vec()]);
        assert_eq!(
            list(b"l10"),
            [b"a".to_vec(), b"200".to_vec(), b"-3".to_vec()]
        );
        assert_eq!(
            list(b"l14"),
            [b"x".to_vec(), b"y".to_vec(), vec![b'z'; 300]]
        );
        assert_eq!(list(b"l18"), [vec![b'p'; 100], b"q".to_vec()]);
        let Some(Value::ZSet(z3)) = db.peek(b"z3") else {
            panic!()
        };
        assert_eq!(z3.score(b"a"), Some(1.5));
        assert_eq!(z3.score(b"b"), Some(f64::INFINITY));
        let Some(Value::ZSet(z12)) = db.peek(b"z12") else {
            panic!()
        };
        assert_eq!(z12.score(b"n"), Some(0.5));
        assert_eq!(z12.score(b"m"), Some(2.0));
        let Some(Value::Hash(h13)) = db.peek(b"h13") else {
            panic!()
        };
        assert_eq!(h13.get(&b"f"[..]), Some(&b"v"[..]));
        let Some(Value::Hash(h9)) = db.peek(b"h9") else {
            panic!()
        };
        assert_eq!(h9.get(&b"a"[..]), Some(&b"xy"[..]));
        assert!(db.peek(b"empty").is_none());
        assert_eq!(snap.empty_keys_skipped, 1);
        let encs: Vec<Encoding> = encodings(&file_with(&body, 9))
            .into_iter()
            .map(|e| e.1)
            .collect();
        assert!(encs.contains(&Encoding::Quicklist2 {
            nodes: 2,
            plain_nodes: 1
        }));
        assert!(encs.contains(&Encoding::Quicklist { nodes: 2 }));
    }

    #[test]
    fn skips_streams_and_functions_and_rejects_modules() {
        // A 7.0 stream (type 19) with one listpack, one group, one PEL entry and a consumer.
        let mut body = b"\xfe\x00\x13\x01s".to_vec();
        body.extend_from_slice(b"\x01\x10");
        body.extend_from_slice(&[0; 16]);
        body.extend_from_slice(b"\x03abc"); // listpack blob, not inspected when skipping
        body.extend_from_slice(b"\x01\x05\x00\x05\x00\x00\x00\x01"); // length, last, first, max-deleted, added
        body.extend_from_slice(b"\x01\x01g\x05\x00\x01"); // one group "g", last id, entries read
        body.extend_from_slice(b"\x01");
        body.extend_from_slice(&[0; 24]);
        body.push(0x01); // PEL: id, delivery time, count
        body.extend_from_slice(b"\x01\x01c");
        body.extend_from_slice(&[0; 8]);
        body.push(0x01);
        body.extend_from_slice(&[0; 16]); // consumer with its PEL
        body.extend_from_slice(b"\xf5\x0b#!lua name=");
        body.extend_from_slice(b"\x00\x01k\x01v");
        let snap = load_snapshot(&file_with(&body, 10)[..]).unwrap();
        assert_eq!(snap.streams_skipped, 1);
        assert_eq!(snap.functions, vec![b("#!lua name=")]);
        assert_eq!(snap.key_count(), 1);
        let pre_ga = load_snapshot(&file_with(b"\xf6\x03lib\x03LUA\x01\x01d\x04code", 10)[..]);
        assert_eq!(pre_ga.unwrap().functions, vec![b("#!LUA name=lib\ncode")]);
        let err = load_snapshot(&file_with(b"\xf7\x00", 10)[..]).unwrap_err();
        assert!(err.reason.contains("module"), "{err}");
        let err = load_snapshot(&file_with(b"\x07\x01k\x00", 10)[..]).unwrap_err();
        assert!(err.reason.contains("module"), "{err}");
        let err = load_snapshot(&file_with(b"\x08\x01k\x00", 10)[..]).unwrap_err();
        assert!(err.reason.contains("Unknown RDB encoding type 8"), "{err}");
    }

    #[test]
    fn duplicate_keys_and_nan_scores_are_errors() {
        let dup = file_with(b"\x00\x01k\x01v\x00\x01k\x01w", 10);
        assert!(load_snapshot(&dup[..])
            .unwrap_err()
            .reason
            .contains("duplicated key"));
        let nan = file_with(b"\x05\x01z\x01\x01m\x00\x00\x00\x00\x00\x00\xf8\x7f", 10);
        assert!(load_snapshot(&nan[..]).unwrap_err().reason.contains("NaN"));
        let expiry_s = load_snapshot(&file_with(b"\xfd\x10\x00\x00\x00\x00\x01k\x01v", 10)[..]);
        assert_eq!(
            expiry_s.unwrap().db(0).unwrap().expire_time(b"k"),
            Some(16_000)
        );
    }

    #[test]
    fn dump_and_restore_round_trip_every_type() {
        for (_, value, _) in sample_dbs()[0].iter_with_expiry() {
            let payload = dump_value(value);
            assert_eq!(&restore_value(&payload).unwrap(), value);
        }
    }

    #[test]
    fn hashes_load_in_the_form_the_configured_thresholds_give_them() {
        let is_packed = |value: &Value| matches!(value, Value::Hash(h) if h.is_packed());
        let dbs = sample_dbs();
        let file = write(&dbs, true);
        // Redis's defaults: the small hash stays packed, the others are tables.
        let snap = load_snapshot(&file[..]).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(is_packed(db0.peek(b"hash").unwrap()));
        assert!(!is_packed(db0.peek(b"bighash").unwrap()));
        assert!(!is_packed(db0.peek(b"longvaluehash").unwrap()));
        // Lower limits convert on load, from the listpack (type 16) and the table (type 4) forms.
        let tight = EncodingLimits {
            hash_max_listpack_entries: 1,
            ..EncodingLimits::default()
        };
        let snap = load_snapshot_with(&file[..], tight).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(!is_packed(db0.peek(b"hash").unwrap()));
        assert_eq!(db0.peek(b"hash"), dbs[0].peek(b"hash"));
        // Higher limits keep a big hash packed, as Redis builds a listpack from a type-4 hash.
        let loose = EncodingLimits {
            hash_max_listpack_entries: 1000,
            hash_max_listpack_value: 100,
            ..EncodingLimits::default()
        };
        let snap = load_snapshot_with(&file[..], loose).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(is_packed(db0.peek(b"bighash").unwrap()));
        assert!(is_packed(db0.peek(b"longvaluehash").unwrap()));
        assert_eq!(db0.peek(b"bighash"), dbs[0].peek(b"bighash"));
        // RESTORE applies the thresholds as well; a packed hash is dumped as a listpack.
        let payload = dump_value(dbs[0].peek(b"hash").unwrap());
        assert_eq!(payload[0], rdb_type::HASH_LISTPACK);
        assert!(is_packed(&restore_value(&payload).unwrap()));
        assert!(!is_packed(&restore_value_with(&payload, &tight).unwrap()));
    }

    #[test]
    fn sets_load_as_intsets_within_the_configured_threshold() {
        let is_intset = |value: &Value| matches!(value, Value::Set(s) if s.is_intset());
        let dbs = sample_dbs();
        let file = write(&dbs, true);
        let snap = load_snapshot(&file[..]).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(is_intset(db0.peek(b"iset").unwrap()));
        assert!(!is_intset(db0.peek(b"set").unwrap()));
        assert!(!is_intset(db0.peek(b"bigintset").unwrap()));
        let tight = EncodingLimits {
            set_max_intset_entries: 2,
            ..EncodingLimits::default()
        };
        let snap = load_snapshot_with(&file[..], tight).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(
            !is_intset(db0.peek(b"iset").unwrap()),
            "3 members > 2: a table"
        );
        assert_eq!(db0.peek(b"iset"), dbs[0].peek(b"iset"));
        let loose = EncodingLimits {
            set_max_intset_entries: 1000,
            ..EncodingLimits::default()
        };
        let snap = load_snapshot_with(&file[..], loose).unwrap();
        assert!(is_intset(snap.db(0).unwrap().peek(b"bigintset").unwrap()));
        let payload = dump_value(dbs[0].peek(b"iset").unwrap());
        assert_eq!(payload[0], rdb_type::SET_INTSET);
        assert!(!is_intset(&restore_value_with(&payload, &tight).unwrap()));
    }

    #[test]
    fn sorted_sets_load_in_the_form_redis_gives_them() {
        let is_packed = |value: &Value| matches!(value, Value::ZSet(z) if z.is_packed());
        let mut dbs = sample_dbs();
        // A big set that shrank stays large in memory until it is loaded again (DEBUG RELOAD).
        let mut shrunk = ZSet::new();
        let limits = EncodingLimits::default();
        for i in 0..200 {
            shrunk.insert(format!("m{i}").as_bytes(), f64::from(i), &limits);
        }
        for i in 3..200 {
            shrunk.remove(format!("m{i}").as_bytes());
        }
        assert!(!shrunk.is_packed());
        dbs[0].set(b("shrunk"), Value::ZSet(shrunk));
        let file = write(&dbs, true);
        let snap = load_snapshot(&file[..]).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(is_packed(db0.peek(b"zset").unwrap()));
        assert!(!is_packed(db0.peek(b"bigzset").unwrap()));
        assert!(
            is_packed(db0.peek(b"shrunk").unwrap()),
            "a small skiplist (type 5) loads packed"
        );
        assert_eq!(db0.peek(b"shrunk"), dbs[0].peek(b"shrunk"));
        // A listpack (type 17) becomes large only for its length, not for long members.
        let tight = EncodingLimits {
            zset_max_listpack_entries: 4,
            zset_max_listpack_value: 0,
            ..EncodingLimits::default()
        };
        let snap = load_snapshot_with(&file[..], tight).unwrap();
        let db0 = snap.db(0).unwrap();
        assert!(!is_packed(db0.peek(b"zset").unwrap()), "5 members > 4");
        assert_eq!(db0.peek(b"zset"), dbs[0].peek(b"zset"));
        assert!(
            !is_packed(db0.peek(b"shrunk").unwrap()),
            "members > 0 bytes"
        );
        let payload = dump_value(dbs[0].peek(b"zset").unwrap());
        assert_eq!(payload[0], rdb_type::ZSET_LISTPACK);
        let long_members = EncodingLimits {
            zset_max_listpack_value: 0,
            ..EncodingLimits::default()
        };
        assert!(is_packed(
            &restore_value_with(&payload, &long_members).unwrap()
        ));
        let payload = dump_value(dbs[0].peek(b"bigzset").unwrap());
        assert_eq!(payload[0], rdb_type::ZSET_2);
        let loose = EncodingLimits {
            zset_max_listpack_entries: 1000,
            ..EncodingLimits::default()
        };
        assert!(is_packed(&restore_value_with(&payload, &loose).unwrap()));
    }

    #[test]
    fn restore_rejects_bad_version_checksum_and_zero_crc() {
        let payload = dump_value(&Value::String(b("v12").into()));
        let mut newer = payload.clone();
        newer[5] = 11;
        assert!(restore_value(&newer).is_err());
        let mut bad_crc = payload.clone();
        bad_crc[14] ^= 1;
        assert!(restore_value(&bad_crc).is_err());
        let mut zero_crc = payload.clone();
        zero_crc[7..].fill(0);
        assert!(restore_value(&zero_crc).is_err());
        for cut in 0..payload.len() {
            assert!(restore_value(&payload[..cut]).is_err());
        }
        // A correctly checksummed payload with garbage after the value.
        let mut extra = vec![0x00, 0x01, b'a', b'!'];
        extra.extend_from_slice(&[10, 0]);
        let crc = crc64(0, &extra);
        extra.extend_from_slice(&crc.to_le_bytes());
        assert!(restore_value(&extra).is_err());
    }
}
