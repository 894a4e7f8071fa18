//! The RDB snapshot format of Redis 7.0 (`rdb.c`, `rdb.h`): writing it, loading it, the DUMP
//! payload built from it, and a teaching inspector that prints a file record by record.
//!
//! An RDB file is `REDIS` + a four-digit version, then records each introduced by an opcode or
//! a value type byte, then `FF` and a CRC64 of everything before it:
//!
//! ```text
//! "REDIS0010"
//! FA <str> <str>                      aux field (redis-ver, ctime, repl-id, ...)
//! FE <len>                            SELECTDB
//! FB <len> <len>                      RESIZEDB: keys, keys with expiry
//! [FC <i64 LE ms>] <type> <key> <value>
//! FF <crc64 LE>                       EOF + checksum (all zeros = not checked)
//! ```
//!
//! Modules, in the order a byte travels:
//!
//! - [`crc64`], [`lzf`], [`listpack`], [`legacy`]: the building blocks (checksum, string
//!   compression, the compact blobs).
//! - [`write`]: [`write_snapshot`] and [`dump_value`], streaming, with the encodings Redis 7.0
//!   itself chooses.
//! - [`parse`]: the one parser, a pull parser yielding [`Record`]s; [`load`] builds databases
//!   from it ([`load_snapshot`], [`restore_value`]) and [`describe`] prints it.
//!
//! Left out on purpose: streams are read and skipped (redislab has no stream type; the count is
//! reported in [`Snapshot::streams_skipped`]); module values are an error; LRU/LFU hints are
//! read and ignored; the writer never emits ziplists, zipmaps or the old zset type 3.

pub mod crc64;
pub mod describe;
pub mod legacy;
pub mod listpack;
pub mod load;
pub mod lzf;
pub mod parse;
pub mod write;

use std::fmt;

pub use describe::{describe, describe_reader, DescribeError};
pub use load::{load_snapshot, load_snapshot_with, restore_value, restore_value_with, Snapshot};
pub use parse::{Checksum, KeyBody, KeyRecord, Parser, Record};
pub use write::{dump_value, write_snapshot, AuxValue, RdbWriter, SaveOptions};

/// The RDB version this module writes and the newest it reads (Redis 7.0).
pub const RDB_VERSION: u32 = 10;

/// The redis-ver aux field redislab writes, so tools treat the file as Redis 7.0's.
pub const REDIS_VERSION: &str = "7.0.15";

/// Opcodes (`RDB_OPCODE_*` in `rdb.h`).
pub mod opcode {
    /// A function library (7.0 GA).
    pub const FUNCTION2: u8 = 0xf5;
    /// A function library in the 7.0 release-candidate format.
    pub const FUNCTION_PRE_GA: u8 = 0xf6;
    /// Module auxiliary data.
    pub const MODULE_AUX: u8 = 0xf7;
    /// LRU idle time of the next key.
    pub const IDLE: u8 = 0xf8;
    /// LFU frequency of the next key.
    pub const FREQ: u8 = 0xf9;
    /// Auxiliary field.
    pub const AUX: u8 = 0xfa;
    /// Hash table size hints for the current db.
    pub const RESIZEDB: u8 = 0xfb;
    /// Expiry of the next key in ms (8 bytes LE).
    pub const EXPIRETIME_MS: u8 = 0xfc;
    /// Expiry of the next key in seconds (4 bytes LE).
    pub const EXPIRETIME: u8 = 0xfd;
    /// Select a database.
    pub const SELECTDB: u8 = 0xfe;
    /// End of file.
    pub const EOF: u8 = 0xff;
}

/// Value type bytes (`RDB_TYPE_*` in `rdb.h`).
pub mod rdb_type {
    /// A string.
    pub const STRING: u8 = 0;
    /// A plain list (before 3.2).
    pub const LIST: u8 = 1;
    /// A plain set.
    pub const SET: u8 = 2;
    /// A zset with text scores (before 3.0).
    pub const ZSET: u8 = 3;
    /// A plain hash.
    pub const HASH: u8 = 4;
    /// A zset with binary double scores.
    pub const ZSET_2: u8 = 5;
    /// A module value, pre-GA format (rejected).
    pub const MODULE_PRE_GA: u8 = 6;
    /// A module value (rejected).
    pub const MODULE_2: u8 = 7;
    /// A hash as a zipmap (before 2.6).
    pub const HASH_ZIPMAP: u8 = 9;
    /// A list as one ziplist (before 3.2).
    pub const LIST_ZIPLIST: u8 = 10;
    /// A set of integers as an intset.
    pub const SET_INTSET: u8 = 11;
    /// A zset as a ziplist (before 7.0).
    pub const ZSET_ZIPLIST: u8 = 12;
    /// A hash as a ziplist (before 7.0).
    pub const HASH_ZIPLIST: u8 = 13;
    /// A quicklist of ziplists (3.2 to 6.2).
    pub const LIST_QUICKLIST: u8 = 14;
    /// A stream (5.0 to 6.2; skipped).
    pub const STREAM_LISTPACKS: u8 = 15;
    /// A hash as a listpack (7.0).
    pub const HASH_LISTPACK: u8 = 16;
    /// A zset as a listpack (7.0).
    pub const ZSET_LISTPACK: u8 = 17;
    /// A quicklist of listpacks (7.0).
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// A stream (7.0; skipped).
    pub const STREAM_LISTPACKS_2: u8 = 19;
    /// Redis 7.2 (RDB 11); only skipped.
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// A file that cannot be read as RDB: where and why. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bad file format reading the RDB at offset {offset}: {reason}")]
pub struct RdbError {
    /// Byte offset in the file (or payload) where the problem was found.
    pub offset: u64,
    /// What is wrong, in Redis's words where Redis has some.
    pub reason: String,
}

/// How a string was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrEncoding {
    /// Length-prefixed bytes.
    Raw,
    /// `C0`/`C1`/`C2`: an 8, 16 or 32-bit integer standing for its decimal text.
    Int,
    /// `C3`: LZF-compressed, `compressed` bytes on disk.
    Lzf {
        /// Bytes on disk.
        compressed: u64,
    },
}

/// How a value was stored on disk: the RDB type byte and what it says about the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Type 0: a string, in one of its encodings.
    String(StrEncoding),
    /// Type 1: a plain list (before Redis 3.2).
    LinkedList,
    /// Type 10: a list in one ziplist.
    ListZiplist,
    /// Type 14: a quicklist of ziplist nodes (Redis 3.2 to 6.2).
    Quicklist {
        /// Number of nodes.
        nodes: u64,
    },
    /// Type 18: a quicklist of listpack nodes (Redis 7.0); PLAIN nodes hold one big element.
    Quicklist2 {
        /// Number of nodes.
        nodes: u64,
        /// How many of them are PLAIN.
        plain_nodes: u64,
    },
    /// Type 2: a plain set.
    Set,
    /// Type 11: an intset of `width`-byte integers.
    Intset {
        /// Bytes per integer: 2, 4 or 8.
        width: u32,
    },
    /// Type 4: a plain hash.
    Hash,
    /// Type 9: a zipmap (before Redis 2.6).
    Zipmap,
    /// Type 13: a hash in a ziplist.
    HashZiplist,
    /// Type 16: a hash in a listpack.
    HashListpack,
    /// Type 3: a zset with scores as text.
    ZSet,
    /// Type 5: a zset with binary double scores.
    ZSet2,
    /// Type 12: a zset in a ziplist.
    ZSetZiplist,
    /// Type 17: a zset in a listpack.
    ZSetListpack,
    /// Types 15, 19, 21: a stream (skipped).
    Stream {
        /// The RDB type byte.
        type_byte: u8,
    },
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        match *self {
            Encoding::String(StrEncoding::Raw) => write!(f, "string (raw)"),
            Encoding::String(StrEncoding::Int) => write!(f, "string (int)"),
            Encoding::String(StrEncoding::Lzf { compressed }) => {
                write!(f, "string (lzf, {compressed} bytes compressed)")
            }
            Encoding::LinkedList => write!(f, "list (linkedlist)"),
            Encoding::ListZiplist => write!(f, "list (ziplist)"),
            Encoding::Quicklist { nodes } => {
                write!(f, "list (quicklist, {nodes} ziplist node{})", plural(nodes))
            }
            Encoding::Quicklist2 { nodes, plain_nodes } => {
                write!(f, "list (quicklist2, {nodes} node{}", plural(nodes))?;
                if plain_nodes > 0 {
                    write!(f, ", {plain_nodes} plain")?;
                }
                write!(f, ")")
            }
            Encoding::Set => write!(f, "set (hashtable)"),
            Encoding::Intset { width } => write!(f, "set (intset, {width}-byte integers)"),
            Encoding::Hash => write!(f, "hash (hashtable)"),
            Encoding::Zipmap => write!(f, "hash (zipmap)"),
            Encoding::HashZiplist => write!(f, "hash (ziplist)"),
            Encoding::HashListpack => write!(f, "hash (listpack)"),
            Encoding::ZSet => write!(f, "zset (skiplist, text scores)"),
            Encoding::ZSet2 => write!(f, "zset (skiplist)"),
            Encoding::ZSetZiplist => write!(f, "zset (ziplist)"),
            Encoding::ZSetListpack => write!(f, "zset (listpack)"),
            Encoding::Stream { type_byte } => write!(f, "stream (type {type_byte}, skipped)"),
        }
    }
}
