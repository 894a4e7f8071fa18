//! The one RDB parser: a pull parser that turns a byte stream into [`Record`]s. The loader
//! ([`super::load_snapshot`]), RESTORE ([`super::restore_value`]) and the teaching inspector
//! ([`super::describe`]) all read through it, so they can never disagree about the format.
//!
//! Follows `rdbLoadRioWithLoadingCtx` and `rdbLoadObject` in Redis 7.0's `rdb.c`. Every read is
//! checked: a short read or a malformed structure becomes an [`RdbError`] carrying the offset,
//! never a panic. Lengths read from the file never size an allocation directly: strings are
//! read through `Read::take`, which grows the buffer only as bytes actually arrive, and
//! collection capacities are capped.

use std::io::{BufRead, Read};

use bytes::Bytes;

use super::crc64::crc64;
use super::legacy::{decode_intset, decode_ziplist, decode_zipmap};
use super::listpack::{self, parse_score, Entry};
use super::lzf;
use super::{opcode, rdb_type, Encoding, RdbError, StrEncoding, RDB_VERSION};
use crate::store::list::{self, List};
use crate::store::value::{EncodingLimits, Hash, Set};
use crate::store::zset::ZSet;
use crate::store::Value;

/// One top-level item of an RDB file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// `FA`: an auxiliary field (`redis-ver`, `repl-id`, ...).
    Aux {
        /// Field name.
        key: Bytes,
        /// Field value.
        value: Bytes,
    },
    /// `FE`: the following keys belong to this database.
    SelectDb {
        /// The db number.
        db: u64,
    },
    /// `FB`: a hint of how many keys (and keys with an expiry) the database holds.
    ResizeDb {
        /// Keys in the db.
        keys: u64,
        /// Keys with an expiry.
        expires: u64,
    },
    /// A key with its value (possibly preceded by expiry/LRU/LFU opcodes).
    Key(KeyRecord),
    /// `F5` (or the 7.0 release-candidate `F6`): a function library's source code.
    Function {
        /// The library source (`#!lua name=...`).
        code: Bytes,
    },
    /// `FF`: the end of the file, with what became of the checksum.
    Eof {
        /// The checksum outcome.
        checksum: Checksum,
    },
}

/// A key as stored: its value and how it was encoded on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// File offset of the key's first byte (its first opcode or its type byte).
    pub offset: u64,
    /// The key name.
    pub key: Bytes,
    /// Absolute expiry time in Unix milliseconds (from `FC`, or `FD` seconds × 1000).
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (`F8`), if the file recorded one.
    pub lru_idle: Option<u64>,
    /// LFU frequency counter (`F9`), if the file recorded one.
    pub lfu_freq: Option<u8>,
    /// The on-disk encoding.
    pub encoding: Encoding,
    /// The value, or why there is none.
    pub body: KeyBody,
}

/// What a key record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyBody {
    /// A value redislab can hold.
    Value(Value),
    /// An empty collection: Redis 7.0 skips these on load ("empty keys skipped").
    Empty,
    /// A stream: redislab has no stream type, so it was read and dropped.
    Stream,
}

/// The outcome of the trailing CRC64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Checksum {
    /// Versions before 5 have no checksum.
    #[default]
    Absent,
    /// Eight zero bytes: the writer had `rdbchecksum no`. Accepted without a check.
    Disabled,
    /// The stored checksum equals the computed one.
    Matched(u64),
    /// The file is damaged.
    Mismatch {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
}

/// A byte source that counts its offset and keeps a running CRC64 of everything read.
pub(crate) struct Source<R> {
    inner: R,
    offset: u64,
    crc: u64,
}

/// A length field: either a length or the special string encoding `11xxxxxx`.
enum Len {
    Plain(u64),
    Special(u8),
}

impl<R: BufRead> Source<R> {
    pub(crate) fn new(inner: R) -> Source<R> {
        Source {
            inner,
            offset: 0,
            crc: 0,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn crc(&self) -> u64 {
        self.crc
    }

    /// True when no byte is left.
    pub(crate) fn at_end(&mut self) -> Result<bool, RdbError> {
        match self.inner.fill_buf() {
            Ok(buf) => Ok(buf.is_empty()),
            Err(e) => Err(self.error(format!("read error: {e}"))),
        }
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> RdbError {
        RdbError {
            offset: self.offset,
            reason: reason.into(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.crc = crc64(self.crc, buf);
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.error("unexpected end of file"))
            }
            Err(e) => Err(self.error(format!("read error: {e}"))),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// Reads exactly `n` bytes, growing the buffer only as data arrives.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let mut buf = Vec::with_capacity(n.min(1 << 16) as usize);
        let got = (&mut self.inner)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|e| self.error(format!("read error: {e}")))?;
        self.crc = crc64(self.crc, &buf);
        self.offset += got as u64;
        if (got as u64) < n {
            return Err(self.error(format!(
                "unexpected end of file ({n} bytes announced, {got} present)"
            )));
        }
        Ok(buf)
    }

    fn len_or_special(&mut self) -> Result<Len, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b as u64 & 0x3f) << 8) | self.u8()? as u64),
            3 => Len::Special(b & 0x3f),
            _ => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(self.error(format!("unknown length encoding {b:#04x}"))),
            },
        })
    }

    /// Reads a length (`rdbLoadLen`).
    pub(crate) fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(self.error("string encoding found where a length was expected")),
        }
    }

    /// Reads a string in any of its encodings (`rdbGenericLoadStringObject`).
    pub(crate) fn string(&mut self) -> Result<(Vec<u8>, StrEncoding), RdbError> {
        match self.len_or_special()? {
            Len::Plain(n) => Ok((self.bytes(n)?, StrEncoding::Raw)),
            Len::Special(0) => Ok((
                (self.u8()? as i8).to_string().into_bytes(),
                StrEncoding::Int,
            )),
            Len::Special(1) => Ok((
                i16::from_le_bytes(self.array()?).to_string().into_bytes(),
                StrEncoding::Int,
            )),
            Len::Special(2) => Ok((
                i32::from_le_bytes(self.array()?).to_string().into_bytes(),
                StrEncoding::Int,
            )),
            Len::Special(3) => {
                let compressed_len = self.len()?;
                let len = self.len()?;
                if len > compressed_len.saturating_mul(lzf::MAX_EXPANSION) {
                    return Err(self.error(format!(
                        "LZF string claims {len} bytes from {compressed_len} compressed bytes"
                    )));
                }
                let start = self.offset;
                let packed = self.bytes(compressed_len)?;
                let data = lzf::decompress(&packed, len as usize).map_err(|reason| RdbError {
                    offset: start,
                    reason,
                })?;
                Ok((
                    data,
                    StrEncoding::Lzf {
                        compressed: compressed_len,
                    },
                ))
            }
            Len::Special(other) => Err(self.error(format!("unknown string encoding {other}"))),
        }
    }

    fn blob(&mut self) -> Result<(u64, Vec<u8>), RdbError> {
        let start = self.offset;
        let (data, _) = self.string()?;
        Ok((start, data))
    }

    fn bytes_value(&mut self) -> Result<Bytes, RdbError> {
        Ok(Bytes::from(self.string()?.0))
    }
}

/// Maps a blob decoder's reason to an error at the blob's offset.
fn at(offset: u64) -> impl Fn(String) -> RdbError {
    move |reason| RdbError { offset, reason }
}

/// The pull parser over a whole RDB file.
pub struct Parser<R> {
    src: Source<R>,
    version: u32,
    done: bool,
    /// The thresholds that decide which collections load in their compact form.
    limits: EncodingLimits,
}

impl<R: BufRead> Parser<R> {
    /// Reads and checks the `REDISnnnn` header.
    pub fn new(input: R) -> Result<Parser<R>, RdbError> {
        let mut src = Source::new(input);
        let magic: [u8; 9] = src.array().map_err(|mut e| {
            e.reason = format!("not an RDB file: {}", e.reason);
            e
        })?;
        if &magic[..5] != b"REDIS" {
            return Err(RdbError {
                offset: 0,
                reason: "wrong signature: the file does not start with REDIS".into(),
            });
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| RdbError {
                offset: 5,
                reason: "the version after REDIS is not four digits".into(),
            })?;
        if !(1..=RDB_VERSION).contains(&version) {
            return Err(RdbError {
                offset: 5,
                reason: format!("Can't handle RDB format version {version}"),
            });
        }
        Ok(Parser {
            src,
            version,
            done: false,
            limits: EncodingLimits::default(),
        })
    }

    /// Loads collections under `limits` (the configuration's) instead of Redis's defaults:
    /// a collection past them loads in its large form, as Redis converts on load.
    pub fn with_limits(mut self, limits: EncodingLimits) -> Parser<R> {
        self.limits = limits;
        self
    }

    /// The RDB format version from the header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The number of bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// The next record, or `None` after `EOF` has been returned.
    pub fn next_record(&mut self) -> Result<Option<Record>, RdbError> {
        if self.done {
            return Ok(None);
        }
        let key_offset = self.src.offset();
        let mut expire_ms = None;
        let mut lru_idle = None;
        let mut lfu_freq = None;
        loop {
            let op = self.src.u8()?;
            match op {
                opcode::EXPIRETIME_MS => {
                    expire_ms = Some(i64::from_le_bytes(self.src.array()?));
                }
                opcode::EXPIRETIME => {
                    expire_ms = Some(i32::from_le_bytes(self.src.array()?) as i64 * 1000);
                }
                opcode::IDLE => lru_idle = Some(self.src.len()?),
                opcode::FREQ => lfu_freq = Some(self.src.u8()?),
                opcode::AUX => {
                    let key = self.src.bytes_value()?;
                    let value = self.src.bytes_value()?;
                    return Ok(Some(Record::Aux { key, value }));
                }
                opcode::SELECTDB => {
                    let db = self.src.len()?;
                    return Ok(Some(Record::SelectDb { db }));
                }
                opcode::RESIZEDB => {
                    let keys = self.src.len()?;
                    let expires = self.src.len()?;
                    return Ok(Some(Record::ResizeDb { keys, expires }));
                }
                opcode::FUNCTION2 => {
                    let code = self.src.bytes_value()?;
                    return Ok(Some(Record::Function { code }));
                }
                opcode::FUNCTION_PRE_GA => return self.pre_ga_function().map(Some),
                opcode::MODULE_AUX => {
                    return Err(self
                        .src
                        .error("module auxiliary data found: redislab does not support modules"))
                }
                opcode::EOF => {
                    self.done = true;
                    let checksum = self.checksum()?;
                    return Ok(Some(Record::Eof { checksum }));
                }
                type_byte => {
                    let key = self.src.bytes_value()?;
                    let (encoding, body) = read_value(&mut self.src, type_byte, &self.limits)?;
                    return Ok(Some(Record::Key(KeyRecord {
                        offset: key_offset,
                        key,
                        expire_ms,
                        lru_idle,
                        lfu_freq,
                        encoding,
                        body,
                    })));
                }
            }
        }
    }

    /// `F6` (7.0-rc1/rc2): name, engine, optional description, code. Rebuilt as 7.0 does into
    /// a single `#!<engine> name=<name>` source.
    fn pre_ga_function(&mut self) -> Result<Record, RdbError> {
        let name = self.src.string()?.0;
        let engine = self.src.string()?.0;
        if self.src.len()? != 0 {
            self.src.string()?;
        }
        let body = self.src.string()?.0;
        let mut code = b"#!".to_vec();
        code.extend_from_slice(&engine);
        code.extend_from_slice(b" name=");
        code.extend_from_slice(&name);
        code.push(b'\n');
        code.extend_from_slice(&body);
        Ok(Record::Function {
            code: Bytes::from(code),
        })
    }

    fn checksum(&mut self) -> Result<Checksum, RdbError> {
        if self.version < 5 {
            return Ok(Checksum::Absent);
        }
        let computed = self.src.crc();
        let stored = u64::from_le_bytes(self.src.array()?);
        Ok(if stored == 0 {
            Checksum::Disabled
        } else if stored == computed {
            Checksum::Matched(stored)
        } else {
            Checksum::Mismatch { stored, computed }
        })
    }
}

/// Reads one value of RDB type `type_byte` (`rdbLoadObject`); collections past `limits` take
/// their large form, whatever form the file had.
pub(crate) fn read_value<R: BufRead>(
    src: &mut Source<R>,
    type_byte: u8,
    limits: &EncodingLimits,
) -> Result<(Encoding, KeyBody), RdbError> {
    let type_offset = src.offset().saturating_sub(1);
    let value = match type_byte {
        rdb_type::STRING => {
            let (data, enc) = src.string()?;
            return Ok((
                Encoding::String(enc),
                KeyBody::Value(Value::String(data.into())),
            ));
        }
        rdb_type::LIST => {
            let n = src.len()?;
            let fill = limits.list_fill();
            let mut list = List::new();
            for _ in 0..n {
                list.push(list::End::Tail, &src.bytes_value()?, fill);
            }
            (Encoding::LinkedList, Value::List(list))
        }
        rdb_type::SET => {
            let n = src.len()?;
            let mut set = Set::with_expected_len(n, limits);
            for _ in 0..n {
                let member = src.bytes_value()?;
                if !set.insert(member, limits) {
                    return Err(src.error("duplicate set members detected"));
                }
            }
            (Encoding::Set, Value::Set(set))
        }
        rdb_type::ZSET | rdb_type::ZSET_2 => {
            let n = src.len()?;
            // Within the limits the set ends up packed, as Redis converts a loaded skiplist
            // that turns out small.
            let mut zset = ZSet::with_expected_len(n, limits);
            for _ in 0..n {
                let member = src.bytes_value()?;
                let score = if type_byte == rdb_type::ZSET_2 {
                    f64::from_le_bytes(src.array()?)
                } else {
                    read_text_score(src)?
                };
                if score.is_nan() {
                    return Err(src.error("zset with NaN score detected"));
                }
                if zset.insert(&member, score, limits).is_some() {
                    return Err(src.error("duplicate zset fields detected"));
                }
            }
            let enc = if type_byte == rdb_type::ZSET_2 {
                Encoding::ZSet2
            } else {
                Encoding::ZSet
            };
            (enc, Value::ZSet(zset))
        }
        rdb_type::HASH => {
            let n = src.len()?;
            let mut hash = Hash::with_expected_len(n, limits);
            for _ in 0..n {
                let field = src.bytes_value()?;
                let value = src.bytes_value()?;
                if !hash.insert(field, value, limits) {
                    return Err(src.error("duplicate hash fields detected"));
                }
            }
            (Encoding::Hash, Value::Hash(hash))
        }
        rdb_type::HASH_ZIPMAP => {
            let (offset, blob) = src.blob()?;
            let pairs = decode_zipmap(&blob).map_err(at(offset))?;
            let hash = pairs_to_hash(pairs.len(), pairs.into_iter(), limits).map_err(at(offset))?;
            (Encoding::Zipmap, Value::Hash(hash))
        }
        rdb_type::LIST_ZIPLIST => {
            let (offset, blob) = src.blob()?;
            let entries = decode_ziplist(&blob).map_err(at(offset))?;
            let fill = limits.list_fill();
            let mut list = List::new();
            for entry in entries {
                list.push(list::End::Tail, &entry.to_vec(), fill);
            }
            (Encoding::ListZiplist, Value::List(list))
        }
        rdb_type::SET_INTSET => {
            let (offset, blob) = src.blob()?;
            let (width, members) = decode_intset(&blob).map_err(at(offset))?;
            let mut set = Set::with_expected_len(members.len() as u64, limits);
            for member in members {
                if !set.insert(itoa::Buffer::new().format(member).as_bytes(), limits) {
                    return Err(at(offset)("intset with a duplicate member".into()));
                }
            }
            (Encoding::Intset { width }, Value::Set(set))
        }
        rdb_type::ZSET_ZIPLIST | rdb_type::ZSET_LISTPACK => {
            let (offset, blob) = src.blob()?;
            let entries = if type_byte == rdb_type::ZSET_LISTPACK {
                listpack::decode(&blob)
            } else {
                decode_ziplist(&blob)
            }
            .map_err(at(offset))?;
            let zset = entries_to_zset(&entries, limits).map_err(at(offset))?;
            let enc = if type_byte == rdb_type::ZSET_LISTPACK {
                Encoding::ZSetListpack
            } else {
                Encoding::ZSetZiplist
            };
            (enc, Value::ZSet(zset))
        }
        rdb_type::HASH_ZIPLIST | rdb_type::HASH_LISTPACK => {
            let (offset, blob) = src.blob()?;
            let entries = if type_byte == rdb_type::HASH_LISTPACK {
                listpack::decode(&blob)
            } else {
                decode_ziplist(&blob)
            }
            .map_err(at(offset))?;
            if !entries.len().is_multiple_of(2) {
                return Err(at(offset)("hash blob with an odd number of entries".into()));
            }
            let hash = pairs_to_hash(
                entries.len() / 2,
                entries
                    .chunks_exact(2)
                    .map(|p| (p[0].to_vec(), p[1].to_vec())),
                limits,
            )
            .map_err(at(offset))?;
            let enc = if type_byte == rdb_type::HASH_LISTPACK {
                Encoding::HashListpack
            } else {
                Encoding::HashZiplist
            };
            (enc, Value::Hash(hash))
        }
        rdb_type::LIST_QUICKLIST | rdb_type::LIST_QUICKLIST_2 => {
            let nodes = src.len()?;
            let fill = limits.list_fill();
            let mut list = List::new();
            let mut plain_nodes = 0;
            for _ in 0..nodes {
                let container = if type_byte == rdb_type::LIST_QUICKLIST_2 {
                    src.len()?
                } else {
                    QUICKLIST_PACKED
                };
                let (offset, blob) = src.blob()?;
                match container {
                    QUICKLIST_PLAIN => {
                        plain_nodes += 1;
                        list.push(list::End::Tail, &blob, fill);
                    }
                    // A listpack node is kept as it is (`quicklistAppendListpack`).
                    QUICKLIST_PACKED if type_byte == rdb_type::LIST_QUICKLIST_2 => {
                        list.append_listpack(blob).map_err(at(offset))?;
                    }
                    QUICKLIST_PACKED => {
                        let entries = decode_ziplist(&blob).map_err(at(offset))?;
                        for entry in entries {
                            list.push(list::End::Tail, &entry.to_vec(), fill);
                        }
                    }
                    other => {
                        return Err(at(offset)(format!("quicklist node with container {other}")))
                    }
                }
            }
            let enc = if type_byte == rdb_type::LIST_QUICKLIST_2 {
                Encoding::Quicklist2 { nodes, plain_nodes }
            } else {
                Encoding::Quicklist { nodes }
            };
            (enc, Value::List(list))
        }
        rdb_type::STREAM_LISTPACKS
        | rdb_type::STREAM_LISTPACKS_2
        | rdb_type::STREAM_LISTPACKS_3 => {
            skip_stream(src, type_byte)?;
            return Ok((Encoding::Stream { type_byte }, KeyBody::Stream));
        }
        rdb_type::MODULE_PRE_GA | rdb_type::MODULE_2 => {
            return Err(RdbError {
                offset: type_offset,
                reason: format!(
                    "module value (type {type_byte}) found: redislab does not support modules"
                ),
            })
        }
        other => {
            return Err(RdbError {
                offset: type_offset,
                reason: format!("Unknown RDB encoding type {other}"),
            })
        }
    };
    let (encoding, value) = value;
    let body = if value.is_empty_collection() {
        KeyBody::Empty
    } else {
        KeyBody::Value(value)
    };
    Ok((encoding, body))
}

/// Quicklist v2 node containers (`quicklist.h`).
pub(crate) const QUICKLIST_PLAIN: u64 = 1;
pub(crate) const QUICKLIST_PACKED: u64 = 2;

/// The old zset (type 3) score: a one-byte length and ASCII, or 253/254/255 for nan/inf/-inf.
fn read_text_score<R: BufRead>(src: &mut Source<R>) -> Result<f64, RdbError> {
    let len = src.u8()?;
    match len {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let mut text = vec![0u8; n as usize];
            src.read_exact(&mut text)?;
            parse_score(&text).map_err(|reason| src.error(reason))
        }
    }
}

/// The hash of `count` pairs decoded from a compact blob, converted as its length and
/// contents require under `limits`.
fn pairs_to_hash<F: AsRef<[u8]>, V: AsRef<[u8]>>(
    count: usize,
    pairs: impl Iterator<Item = (F, V)>,
    limits: &EncodingLimits,
) -> Result<Hash, String> {
    let mut hash = Hash::with_expected_len(count as u64, limits);
    for (field, value) in pairs {
        if !hash.insert(field.as_ref(), value.as_ref(), limits) {
            return Err("duplicate hash fields detected".into());
        }
    }
    Ok(hash)
}

/// The sorted set a listpack or ziplist blob holds: packed unless it has more members than
/// `limits` allow (long members stay packed, as in Redis's `rdbLoadObject`).
fn entries_to_zset(entries: &[Entry<'_>], limits: &EncodingLimits) -> Result<ZSet, String> {
    if !entries.len().is_multiple_of(2) {
        return Err("zset blob with an odd number of entries".into());
    }
    let members: Vec<_> = entries
        .chunks_exact(2)
        .map(|pair| pair[0].to_vec())
        .collect();
    let mut pairs = Vec::with_capacity(members.len());
    for (member, pair) in members.iter().zip(entries.chunks_exact(2)) {
        pairs.push((&member[..], listpack::entry_score(pair[1])?));
    }
    ZSet::from_listpack_pairs(pairs, limits).ok_or_else(|| "duplicate zset fields detected".into())
}

/// Reads past a stream value (types 15, 19 and 7.2's 21) without keeping it.
fn skip_stream<R: BufRead>(src: &mut Source<R>, type_byte: u8) -> Result<(), RdbError> {
    let listpacks = src.len()?;
    for _ in 0..listpacks {
        let (offset, node_key) = src.blob()?;
        if node_key.len() != 16 {
            return Err(at(offset)(
                "stream node key is not the size of a stream ID".into(),
            ));
        }
        src.blob()?;
    }
    // length, last id (ms, seq)
    for _ in 0..3 {
        src.len()?;
    }
    if type_byte >= rdb_type::STREAM_LISTPACKS_2 {
        // first id, max deleted id, entries added
        for _ in 0..5 {
            src.len()?;
        }
    }
    let groups = src.len()?;
    for _ in 0..groups {
        src.string()?; // group name
        src.len()?; // last id ms
        src.len()?; // last id seq
        if type_byte >= rdb_type::STREAM_LISTPACKS_2 {
            src.len()?; // entries read
        }
        let pel = src.len()?;
        for _ in 0..pel {
            src.array::<16>()?; // id
            src.array::<8>()?; // delivery time
            src.len()?; // delivery count
        }
        let consumers = src.len()?;
        for _ in 0..consumers {
            src.string()?; // name
            src.array::<8>()?; // seen time
            if type_byte >= rdb_type::STREAM_LISTPACKS_3 {
                src.array::<8>()?; // active time
            }
            let pel = src.len()?;
            for _ in 0..pel {
                src.array::<16>()?;
            }
        }
    }
    Ok(())
}
