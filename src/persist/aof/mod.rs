//! The append-only file of Redis 7.0 (`aof.c`): the multi-part layout, its manifest, the writer
//! that appends every write, the rewrite that starts a new base, the loader and an inspector.
//!
//! Since 7.0 an AOF is a directory (`appenddirname`, default `appendonlydir`) holding:
//!
//! ```text
//! appendonly.aof.1.base.rdb    the base: an RDB snapshot (aof-use-rdb-preamble yes), or RESP
//!                              commands in appendonly.aof.1.base.aof
//! appendonly.aof.1.incr.aof    incremental files: RESP commands written after the base
//! appendonly.aof.manifest      which files make up the AOF, in order:
//!     file appendonly.aof.1.base.rdb seq 1 type b
//!     file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Where it sits on the path of a command: the server applies a write under the keyspace lock
//! and records it; the AOF [`AofWriter::append`]s the record (`feedAppendOnlyFile`), writes its
//! buffer before replying ([`AofWriter::write_out`], `flushAppendOnlyFile`) and fsyncs as
//! `appendfsync` says. At start-up [`load()`] replays the files through the caller's command
//! table. A rewrite ([`AofWriter::begin_rewrite`] ... [`AofWriter::finish_rewrite`]) replaces
//! the base with a fresh snapshot and drops the incr files the snapshot covers.
//!
//! Modules:
//!
//! - [`manifest`]: parse, format and atomically persist the manifest; file naming.
//! - [`writer`]: [`AofWriter`], the RESP encoding with its SELECTs, and the rewrite steps.
//! - [`load`](mod@load): [`load()`], replaying base and incr files in order; the truncated-tail rule.
//! - [`describe`](mod@describe): a teaching print-out of a directory, manifest or file.
//!
//! Left out on purpose: the `aof-timestamp-enabled` annotations are skipped when read but never
//! written; a RESP base is read but never written (the caller writes bases with
//! [`crate::persist::rdb::write_snapshot`]); `aof-disable-auto-gc` (history files are always
//! deleted); the rewrite-failure back-off (`aofRewriteLimited`) is the caller's business.

pub mod describe;
pub mod load;
pub mod manifest;
pub mod writer;

use std::io;
use std::path::{Path, PathBuf};

pub use describe::describe;
pub use load::{load, truncate_tail, Command, Loaded, Replay, Truncated};
pub use manifest::{AofInfo, BaseFormat, FileType, Manifest};
pub use writer::{AofWriter, RewriteDone};

/// Redis's default `appenddirname`.
pub const DEFAULT_DIRNAME: &str = "appendonlydir";
/// Redis's default `appendfilename`.
pub const DEFAULT_FILENAME: &str = "appendonly.aof";

/// Where an AOF lives: the server's working directory (`dir`), `appenddirname` inside it, and
/// `appendfilename`, the stem of every file name (and the old single file's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofPaths {
    /// The working directory (`dir`); the old single-file AOF lives here.
    pub workdir: PathBuf,
    /// `appenddirname`, relative to `workdir`.
    pub dirname: String,
    /// `appendfilename`.
    pub filename: String,
}

impl AofPaths {
    /// The layout with Redis's default names inside `workdir`.
    pub fn new(workdir: impl Into<PathBuf>) -> AofPaths {
        AofPaths {
            workdir: workdir.into(),
            dirname: DEFAULT_DIRNAME.to_string(),
            filename: DEFAULT_FILENAME.to_string(),
        }
    }

    /// The AOF directory.
    pub fn dir(&self) -> PathBuf {
        self.workdir.join(&self.dirname)
    }

    /// A file inside the AOF directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// The manifest: `<appendfilename>.manifest` in the AOF directory.
    pub fn manifest(&self) -> PathBuf {
        self.file(&manifest::manifest_name(&self.filename))
    }

    /// The pre-7.0 single file, `<dir>/<appendfilename>`.
    pub fn old_style_file(&self) -> PathBuf {
        self.workdir.join(&self.filename)
    }
}

/// Everything that can go wrong in this layer. All are fatal at start-up, as in Redis; the
/// writer's I/O errors are for the caller to handle by its `appendfsync` policy.
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    /// The manifest is malformed (Redis: `*** FATAL AOF MANIFEST FILE ERROR ***`).
    #[error("Bad AOF manifest {} at line {line}: {reason}", file.display())]
    Manifest {
        /// The manifest file.
        file: PathBuf,
        /// 1-based line number (0: the file as a whole).
        line: usize,
        /// Redis's text, e.g. "Invalid AOF manifest file format".
        reason: String,
    },
    /// An AOF file is damaged, or truncated somewhere other than at the end of the last file.
    #[error(
        "Bad file format reading the append only file {} at offset {offset}: {reason}",
        file.display()
    )]
    Format {
        /// The AOF file.
        file: PathBuf,
        /// Byte offset of the problem in that file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The caller refused a replayed command (an unknown command, a wrong arity).
    #[error("{reason} reading the append only file {} at offset {offset}", file.display())]
    Replay {
        /// The AOF file.
        file: PathBuf,
        /// Offset of the command in that file.
        offset: u64,
        /// The caller's reason, e.g. "Unknown command 'foo'".
        reason: String,
    },
    /// A file the manifest names is not there.
    #[error("The append log file {} doesn't exist", file.display())]
    Missing {
        /// The missing file.
        file: PathBuf,
    },
    /// A system call failed.
    #[error("Can't {op} {}: {source}", file.display())]
    Io {
        /// What was being done ("open", "write", "fsync", "rename", ...).
        op: &'static str,
        /// The file it was done to.
        file: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A rewrite step called out of order (a second `begin_rewrite`, `finish` without `begin`).
    #[error("{0}")]
    Rewrite(&'static str),
}

impl AofError {
    /// An [`AofError::Io`] for `op` on `file`.
    pub(crate) fn io<'a>(
        op: &'static str,
        file: &'a Path,
    ) -> impl FnOnce(io::Error) -> AofError + 'a {
        move |source| AofError::Io {
            op,
            file: file.to_path_buf(),
            source,
        }
    }
}

/// True when `s` must be quoted to be read back by `sdssplitargs` (Redis's `sdsneedsrepr`).
pub(crate) fn needs_repr(s: &[u8]) -> bool {
    s.is_empty()
        || s.iter().any(|&b| {
            matches!(
                b,
                b'\\' | b'"' | b'\'' | b'\n' | b'\r' | b'\t' | 0x07 | 0x08
            ) || !b.is_ascii_graphic()
        })
}

/// Quotes `s` as Redis's `sdscatrepr` does: `"..."` with `\\ \" \n \r \t \a \b` and `\xHH`.
pub(crate) fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// `s` as is when it reads back unchanged, else [`repr`] (redis-cli and the manifest both do
/// this).
pub(crate) fn quote_if_needed(s: &[u8]) -> String {
    if needs_repr(s) {
        repr(s)
    } else {
        String::from_utf8_lossy(s).into_owned()
    }
}

/// fsyncs a directory so that renames and new files in it survive a crash (`fsyncFileDir`).
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), AofError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(AofError::io("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::request::split_args;

    #[test]
    fn quoting_reads_back_through_split_args() {
        for s in [
            &b"plain"[..],
            b"with space",
            b"",
            b"quote\"d",
            b"it's",
            b"\x00\xff\r\n\t\x07\x08",
            b"back\\slash",
        ] {
            let q = quote_if_needed(s);
            assert_eq!(split_args(q.as_bytes()).unwrap(), vec![s.to_vec()], "{q}");
        }
        assert_eq!(
            quote_if_needed(b"appendonly.aof.1.base.rdb"),
            "appendonly.aof.1.base.rdb"
        );
        assert_eq!(quote_if_needed(b"a b"), "\"a b\"");
    }

    #[test]
    fn paths_follow_the_default_layout() {
        let p = AofPaths::new("/data");
        assert_eq!(p.dir(), Path::new("/data/appendonlydir"));
        assert_eq!(
            p.manifest(),
            Path::new("/data/appendonlydir/appendonly.aof.manifest")
        );
        assert_eq!(p.old_style_file(), Path::new("/data/appendonly.aof"));
    }
}
