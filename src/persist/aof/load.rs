//! Loading an AOF at start-up (`aof.c`: `loadAppendOnlyFiles`, `loadSingleAppendOnlyFile`,
//! `aofUpgradePrepare`).
//!
//! The manifest gives the files in order: the base, then each incr file. A file that starts with
//! `REDIS` opens with an RDB snapshot (a `.base.rdb`, or an old single file with an RDB
//! preamble); RESP commands may follow it, and make up the rest of every other file. Commands
//! go to the caller one by one through a callback, with their file and offset; the caller runs
//! them through its command table like Redis's fake AOF client. This layer knows no commands
//! beyond MULTI and EXEC: a transaction is handed over only once its EXEC has been read.
//!
//! The truncated-tail rule (`aof-load-truncated yes`, the default): if the LAST file ends in
//! the middle of a command, or inside a MULTI without its EXEC (a crash mid-write), the
//! incomplete part is dropped and reported in [`Loaded::truncated`]; the caller logs Redis's
//! warning and calls [`truncate_tail`] so later appends continue from a clean end. The same
//! anywhere else, or any malformed byte, is an [`AofError`] that stops start-up.
//!
//! Implementation caveat: an RDB part is parsed twice, once to find where it ends (the RDB
//! loader reads ahead through its own buffer) and once to load it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::manifest::{AofInfo, FileType, Manifest};
use super::{fsync_dir, AofError, AofPaths};
use crate::persist::rdb::{load_snapshot_with, Parser, Snapshot};
use crate::resp::request::RequestParser;
use crate::store::value::EncodingLimits;

/// Redis's default `proto-max-bulk-len` (bytes): no argument can be longer, unless the file
/// itself is (then its size is the limit). Keeps a damaged length from reserving memory.
const MAX_BULK_BYTES: i64 = 512 * 1024 * 1024;
/// How much is read from a file at a time (bytes).
const READ_CHUNK: usize = 64 * 1024;

/// One thing to replay, in file order.
#[derive(Debug)]
pub enum Replay<'a> {
    /// An RDB snapshot (a base file, or an old AOF's preamble): install its databases before
    /// the commands that follow.
    Snapshot {
        /// The file it came from.
        file: &'a str,
        /// The loaded snapshot.
        snapshot: Snapshot,
    },
    /// A command to execute, as the AOF client (its SELECTs included).
    Command(Command<'a>),
}

/// A command read from an AOF file.
#[derive(Debug, Clone, PartialEq)]
pub struct Command<'a> {
    /// The file it came from.
    pub file: &'a str,
    /// Byte offset of its `*` in that file.
    pub offset: u64,
    /// The arguments, command name first.
    pub argv: Vec<Bytes>,
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The manifest the files were read by.
    pub manifest: Manifest,
    /// True when an old single-file `appendonly.aof` was moved into the AOF directory first
    /// ("Successfully migrated an old-style AOF file ... into the AOF directory").
    pub upgraded: bool,
    /// RDB snapshots replayed (0 or 1).
    pub snapshots: usize,
    /// Commands replayed (SELECT, MULTI and EXEC included).
    pub commands: u64,
    /// A dropped incomplete tail of the last file, if any.
    pub truncated: Option<Truncated>,
    /// Size of the base file, bytes (the writer's `base_size` at start-up).
    pub base_size: u64,
    /// Size of the base and all incr files, bytes.
    pub total_size: u64,
}

/// An incomplete tail dropped from the last AOF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// The file's name in the manifest.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Where its last complete command ends: the length to cut it to (`valid_up_to`).
    pub valid_up_to: u64,
    /// Its length now.
    pub file_len: u64,
    /// True when the dropped part is a MULTI without its EXEC ("Revert incomplete MULTI/EXEC
    /// transaction in AOF file ...").
    pub reverted_multi: bool,
}

/// Cuts the file to its last complete command and fsyncs it (Redis's `truncate(valid_up_to)`
/// under `aof-load-truncated yes`). Call it before [`super::AofWriter::open`].
pub fn truncate_tail(t: &Truncated) -> Result<(), AofError> {
    let f = OpenOptions::new()
        .write(true)
        .open(&t.path)
        .map_err(AofError::io("open", &t.path))?;
    f.set_len(t.valid_up_to)
        .map_err(AofError::io("truncate", &t.path))?;
    f.sync_all().map_err(AofError::io("fsync", &t.path))
}

/// Loads the AOF described by `paths`, handing every snapshot and command to `replay` in
/// order. `Ok(None)`: there is no AOF (no directory, no manifest, no old single file, or a
/// manifest naming no file). An `Err` from `replay` stops loading with
/// [`AofError::Replay`] at that command.
///
/// Like Redis, an old single-file AOF in the working directory is first moved into the AOF
/// directory with a manifest naming it as the base (`aofUpgradePrepare`); apart from that,
/// nothing is written. A base in RDB form loads its collections under `limits`.
pub fn load<F>(
    paths: &AofPaths,
    limits: EncodingLimits,
    mut replay: F,
) -> Result<Option<Loaded>, AofError>
where
    F: FnMut(Replay<'_>) -> Result<(), String>,
{
    let dir = paths.dir();
    let manifest_path = paths.manifest();
    let mut manifest = if dir.is_dir() && manifest_path.exists() {
        Manifest::read(&manifest_path)?
    } else {
        Manifest::default()
    };
    let mut upgraded = false;
    if paths.old_style_file().exists() {
        let only_old_base = manifest.incrs.is_empty()
            && manifest
                .base
                .as_ref()
                .is_some_and(|b| b.name == paths.filename)
            && !paths.file(&paths.filename).exists();
        if !dir.is_dir() || manifest.is_empty() || only_old_base {
            manifest = upgrade(paths, manifest)?;
            upgraded = true;
        }
    }
    if manifest.is_empty() {
        return Ok(None);
    }

    let files: Vec<&AofInfo> = manifest.base.iter().chain(&manifest.incrs).collect();
    let mut sizes = Vec::with_capacity(files.len());
    for info in &files {
        let path = dir.join(&info.name);
        match fs::metadata(&path) {
            Ok(m) => sizes.push(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AofError::Missing { file: path })
            }
            Err(e) => {
                return Err(AofError::Io {
                    op: "stat",
                    file: path,
                    source: e,
                })
            }
        }
    }
    let mut loaded = Loaded {
        manifest: manifest.clone(),
        upgraded,
        snapshots: 0,
        commands: 0,
        truncated: None,
        base_size: if manifest.base.is_some() { sizes[0] } else { 0 },
        total_size: sizes.iter().sum(),
    };
    if loaded.total_size == 0 {
        return Ok(Some(loaded));
    }
    for (i, info) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let outcome = load_file(&dir.join(&info.name), &info.name, limits, &mut replay)?;
        loaded.snapshots += outcome.snapshots;
        loaded.commands += outcome.commands;
        if let Some(t) = outcome.truncated {
            if !last {
                return Err(AofError::Format {
                    file: t.path,
                    offset: t.valid_up_to,
                    reason: "unexpected end of file, and the truncated file is not the last file"
                        .into(),
                });
            }
            loaded.truncated = Some(t);
        }
    }
    Ok(Some(loaded))
}

/// Moves the old single file into the AOF directory under a manifest naming it the base.
fn upgrade(paths: &AofPaths, mut manifest: Manifest) -> Result<Manifest, AofError> {
    let dir = paths.dir();
    fs::create_dir_all(&dir).map_err(AofError::io("create the AOF directory", &dir))?;
    manifest.base = Some(AofInfo {
        name: paths.filename.clone(),
        seq: 1,
        kind: FileType::Base,
    });
    manifest.base_seq = 1;
    manifest.persist(&dir, &paths.filename)?;
    let old = paths.old_style_file();
    fs::rename(&old, paths.file(&paths.filename)).map_err(AofError::io("move", &old))?;
    fsync_dir(&paths.workdir)?;
    Ok(manifest)
}

/// A command of an open transaction: its offset and arguments.
type Queued = (u64, Vec<Bytes>);

/// What loading one file gave.
#[derive(Debug, Default)]
struct FileOutcome {
    snapshots: usize,
    commands: u64,
    truncated: Option<Truncated>,
}

/// Loads one file (`loadSingleAppendOnlyFile`).
fn load_file<F>(
    path: &Path,
    name: &str,
    limits: EncodingLimits,
    replay: &mut F,
) -> Result<FileOutcome, AofError>
where
    F: FnMut(Replay<'_>) -> Result<(), String>,
{
    let mut outcome = FileOutcome::default();
    let mut file = File::open(path).map_err(AofError::io("open", path))?;
    let file_len = file.metadata().map_err(AofError::io("stat", path))?.len();
    let format_err = |offset: u64, reason: String| AofError::Format {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    let start = match rdb_end(&mut file, path)? {
        Some(end) => {
            file.seek(SeekFrom::Start(0))
                .map_err(AofError::io("seek", path))?;
            let snapshot = load_snapshot_with((&mut file).take(end), limits)
                .map_err(|e| format_err(e.offset, e.reason))?;
            outcome.snapshots += 1;
            replay(Replay::Snapshot {
                file: name,
                snapshot,
            })
            .map_err(|reason| AofError::Replay {
                file: path.to_path_buf(),
                offset: 0,
                reason,
            })?;
            end
        }
        None => 0,
    };
    file.seek(SeekFrom::Start(start))
        .map_err(AofError::io("seek", path))?;

    let mut reader = CommandReader::new(BufReader::new(file), start, file_len);
    let mut valid_up_to = start;
    // A transaction is held back until its EXEC: (offset before MULTI, its commands).
    let mut multi: Option<(u64, Vec<Queued>)> = None;
    let mut truncated_at = None;
    loop {
        match reader
            .next()
            .map_err(|(offset, reason)| format_err(offset, reason))?
        {
            Step::Command { offset, end, argv } => {
                let is_exec = argv[0].eq_ignore_ascii_case(b"exec");
                let is_multi = argv[0].eq_ignore_ascii_case(b"multi");
                if let Some((_, queued)) = multi.as_mut() {
                    queued.push((offset, argv));
                    if is_exec {
                        let (_, queued) = multi.take().expect("checked above");
                        for (offset, argv) in queued {
                            outcome.commands += 1;
                            emit(replay, path, name, offset, argv)?;
                        }
                    }
                } else if is_multi {
                    multi = Some((valid_up_to, vec![(offset, argv)]));
                } else {
                    outcome.commands += 1;
                    emit(replay, path, name, offset, argv)?;
                }
                valid_up_to = end;
            }
            Step::Annotation { end, .. } => valid_up_to = end,
            Step::End => break,
            Step::Truncated { .. } => {
                truncated_at = Some(valid_up_to);
                break;
            }
        }
    }
    let reverted_multi = multi.is_some();
    if let Some((before, _)) = multi {
        truncated_at = Some(before);
    }
    if let Some(valid_up_to) = truncated_at {
        outcome.truncated = Some(Truncated {
            name: name.to_string(),
            path: path.to_path_buf(),
            valid_up_to,
            file_len,
            reverted_multi,
        });
    }
    Ok(outcome)
}

fn emit<F>(
    replay: &mut F,
    path: &Path,
    name: &str,
    offset: u64,
    argv: Vec<Bytes>,
) -> Result<(), AofError>
where
    F: FnMut(Replay<'_>) -> Result<(), String>,
{
    replay(Replay::Command(Command {
        file: name,
        offset,
        argv,
    }))
    .map_err(|reason| AofError::Replay {
        file: path.to_path_buf(),
        offset,
        reason,
    })
}

/// If the file starts with `REDIS`, parses its RDB part and returns where it ends.
fn rdb_end(file: &mut File, path: &Path) -> Result<Option<u64>, AofError> {
    let mut sig = [0u8; 5];
    let mut got = 0;
    while got < sig.len() {
        match file.read(&mut sig[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AofError::io("read", path)(e)),
        }
    }
    if got < sig.len() || &sig != b"REDIS" {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))
        .map_err(AofError::io("seek", path))?;
    rdb_part_len(BufReader::new(&mut *file))
        .map(Some)
        .map_err(|e| AofError::Format {
            file: path.to_path_buf(),
            offset: e.offset,
            reason: e.reason,
        })
}

/// Walks an RDB from its header to its EOF record and returns its length in bytes.
pub(crate) fn rdb_part_len<R: io::BufRead>(input: R) -> Result<u64, crate::persist::rdb::RdbError> {
    let mut parser = Parser::new(input)?;
    while parser.next_record()?.is_some() {}
    Ok(parser.offset())
}

/// One step through the command part of a file.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// A complete command from `offset` to `end`.
    Command {
        offset: u64,
        end: u64,
        argv: Vec<Bytes>,
    },
    /// A `#...` annotation line (`aof-timestamp-enabled`), skipped by the loader.
    Annotation { offset: u64, end: u64, text: Bytes },
    /// The end of the file, at a command boundary.
    End,
    /// The file ends inside the command that starts at `offset`.
    Truncated { offset: u64 },
}

/// Reads RESP commands from a file through the request parser, in chunks, tracking offsets.
/// Stricter than a client connection, as Redis's loader is: only multibulk (`*`), no empty
/// command; `#` lines are annotations.
pub(crate) struct CommandReader<R> {
    input: R,
    buf: BytesMut,
    parser: RequestParser,
    /// File offset just past the bytes read so far.
    read_end: u64,
}

impl<R: Read> CommandReader<R> {
    /// Reads from `input`, which is positioned at file offset `start` in a file of `file_len`
    /// bytes.
    pub(crate) fn new(input: R, start: u64, file_len: u64) -> CommandReader<R> {
        let limit = MAX_BULK_BYTES.max(i64::try_from(file_len).unwrap_or(i64::MAX));
        CommandReader {
            input,
            buf: BytesMut::new(),
            parser: RequestParser::new(limit),
            read_end: start,
        }
    }

    /// The file offset of the next unconsumed byte.
    fn pos(&self) -> u64 {
        self.read_end - self.buf.len() as u64
    }

    /// Reads another chunk; false at the end of the file.
    fn fill(&mut self) -> Result<bool, (u64, String)> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.input.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.read_end += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((self.pos(), format!("read error: {e}"))),
            }
        }
    }

    /// The next step. Errors carry the offset of the offending byte and the reason.
    pub(crate) fn next(&mut self) -> Result<Step, (u64, String)> {
        loop {
            if self.buf.is_empty() && !self.fill()? {
                return Ok(Step::End);
            }
            let offset = self.pos();
            match self.buf[0] {
                b'#' => {
                    let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
                        if !self.fill()? {
                            return Ok(Step::Truncated { offset });
                        }
                        continue;
                    };
                    let line = self.buf.split_to(nl + 1).freeze();
                    let text = line.slice(..trim_crlf(&line));
                    return Ok(Step::Annotation {
                        offset,
                        end: self.pos(),
                        text,
                    });
                }
                b'*' => {}
                other => {
                    return Err((
                        offset,
                        format!(
                            "expected '*' at the start of a command, got {}",
                            show(other)
                        ),
                    ))
                }
            }
            loop {
                match self.parser.parse(&mut self.buf) {
                    Ok(Some(argv)) if argv.is_empty() => {
                        return Err((offset, "a command with no arguments".into()))
                    }
                    Ok(Some(argv)) => {
                        return Ok(Step::Command {
                            offset,
                            end: self.pos(),
                            argv,
                        })
                    }
                    Ok(None) => {
                        if !self.fill()? {
                            return Ok(Step::Truncated { offset });
                        }
                    }
                    Err(e) => return Err((self.pos(), e.to_string())),
                }
            }
        }
    }
}

fn trim_crlf(line: &[u8]) -> usize {
    let mut n = line.len();
    while n > 0 && matches!(line[n - 1], b'\r' | b'\n') {
        n -= 1;
    }
    n
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte {b:#04x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::writer::encode_command;
    use crate::persist::rdb::{write_snapshot, AuxValue, SaveOptions};
    use crate::store::{Db, Value};

    fn resp(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            encode_command(&mut out, c);
        }
        out
    }

    fn rdb(keys: &[(usize, &str, &str)]) -> Vec<u8> {
        let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
        for (db, k, v) in keys {
            dbs[*db].set(
                Bytes::copy_from_slice(k.as_bytes()),
                Value::String(Bytes::copy_from_slice(v.as_bytes()).into()),
            );
        }
        let mut out = Vec::new();
        write_snapshot(
            &mut out,
            &dbs,
            &[("aof-base", AuxValue::Int(1))],
            &SaveOptions::new(0),
        )
        .unwrap();
        out
    }

    /// An AOF directory holding `files` (name, bytes) and a manifest listing them in order:
    /// the first as the base, the rest as incr files.
    fn aof_dir(files: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, AofPaths) {
        let tmp = tempfile::tempdir().unwrap();
        let paths = AofPaths::new(tmp.path());
        fs::create_dir_all(paths.dir()).unwrap();
        let mut manifest = String::new();
        for (i, (name, bytes)) in files.iter().enumerate() {
            fs::write(paths.file(name), bytes).unwrap();
            let kind = if i == 0 { 'b' } else { 'i' };
            let seq = i.max(1);
            manifest.push_str(&format!("file {name} seq {seq} type {kind}\n"));
        }
        fs::write(paths.manifest(), manifest).unwrap();
        (tmp, paths)
    }

    /// Loads and renders what was replayed, one line each.
    fn replay_all(paths: &AofPaths) -> Result<(Vec<String>, Option<Loaded>), AofError> {
        let mut seen = Vec::new();
        let loaded = load(paths, EncodingLimits::default(), |r| {
            match r {
                Replay::Snapshot { file, snapshot } => {
                    let mut keys: Vec<String> = snapshot
                        .dbs
                        .iter()
                        .flat_map(|(n, db)| {
                            db.iter()
                                .map(move |(k, _)| format!("{n}:{}", String::from_utf8_lossy(k)))
                        })
                        .collect();
                    keys.sort();
                    seen.push(format!("{file} snapshot {}", keys.join(",")));
                }
                Replay::Command(c) => {
                    let words: Vec<_> = c.argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
                    seen.push(format!("{}@{} {}", c.file, c.offset, words.join(" ")));
                }
            }
            Ok(())
        })?;
        Ok((seen, loaded))
    }

    const B: &str = "appendonly.aof.1.base.rdb";
    const I1: &str = "appendonly.aof.1.incr.aof";
    const I2: &str = "appendonly.aof.2.incr.aof";

    #[test]
    fn replays_base_then_incr_files_in_order() {
        let incr1 = resp(&[&["SELECT", "0"], &["SET", "a", "1"]]);
        let incr2 = resp(&[&["SELECT", "3"], &["LPUSH", "l", "x"], &["DEL", "k"]]);
        let (_tmp, paths) = aof_dir(&[
            (B, rdb(&[(0, "k", "v"), (3, "k3", "v3")])),
            (I1, incr1.clone()),
            (I2, incr2.clone()),
        ]);
        let (seen, loaded) = replay_all(&paths).unwrap();
        assert_eq!(
            seen,
            vec![
                format!("{B} snapshot 0:k,3:k3"),
                format!("{I1}@0 SELECT 0"),
                format!("{I1}@23 SET a 1"),
                format!("{I2}@0 SELECT 3"),
                format!("{I2}@23 LPUSH l x"),
                format!("{I2}@52 DEL k"),
            ]
        );
        let loaded = loaded.unwrap();
        assert_eq!(loaded.snapshots, 1);
        assert_eq!(loaded.commands, 5);
        assert_eq!(loaded.truncated, None);
        assert!(!loaded.upgraded);
        assert_eq!(
            loaded.total_size,
            loaded.base_size + (incr1.len() + incr2.len()) as u64
        );
    }

    #[test]
    fn no_aof_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = AofPaths::new(tmp.path());
        assert!(load(&paths, EncodingLimits::default(), |_| Ok(()))
            .unwrap()
            .is_none());
        fs::create_dir_all(paths.dir()).unwrap();
        assert!(load(&paths, EncodingLimits::default(), |_| Ok(()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_truncated_last_command_is_dropped_at_every_byte() {
        let good = resp(&[&["SELECT", "0"], &["SET", "a", "1"]]);
        let last = resp(&[&["SET", "key", "value"]]);
        for cut in 1..last.len() {
            let mut bytes = good.clone();
            bytes.extend_from_slice(&last[..cut]);
            let (_tmp, paths) = aof_dir(&[
                (B, rdb(&[])),
                (I1, resp(&[&["SET", "x", "1"]])),
                (I2, bytes),
            ]);
            let (seen, loaded) = replay_all(&paths).unwrap();
            assert_eq!(seen.len(), 4, "cut at {cut}: {seen:?}");
            assert_eq!(seen[3], format!("{I2}@23 SET a 1"));
            let t = loaded.unwrap().truncated.expect("a truncation");
            assert_eq!(t.valid_up_to, good.len() as u64, "cut at {cut}");
            assert_eq!(t.file_len, (good.len() + cut) as u64);
            assert!(!t.reverted_multi);
            assert_eq!(t.name, I2);
            truncate_tail(&t).unwrap();
            assert_eq!(fs::read(paths.file(I2)).unwrap(), good);
            let (again, loaded) = replay_all(&paths).unwrap();
            assert_eq!(again, seen);
            assert_eq!(loaded.unwrap().truncated, None);
        }
    }

    #[test]
    fn an_unfinished_transaction_at_the_end_is_reverted() {
        let good = resp(&[&["SELECT", "0"], &["SET", "a", "1"]]);
        let mut bytes = good.clone();
        bytes.extend(resp(&[&["MULTI"], &["INCR", "n"], &["EXEC"]]));
        bytes.extend(resp(&[&["MULTI"], &["INCR", "n"]]));
        let (_tmp, paths) = aof_dir(&[(B, rdb(&[])), (I1, bytes)]);
        let (seen, loaded) = replay_all(&paths).unwrap();
        let names: Vec<&str> = seen.iter().map(|s| s.split(' ').nth(1).unwrap()).collect();
        assert_eq!(
            names,
            vec!["snapshot", "SELECT", "SET", "MULTI", "INCR", "EXEC"]
        );
        let t = loaded.unwrap().truncated.unwrap();
        assert!(t.reverted_multi);
        assert_eq!(
            t.valid_up_to,
            (good.len() + resp(&[&["MULTI"], &["INCR", "n"], &["EXEC"]]).len()) as u64
        );
    }

    #[test]
    fn truncation_before_the_last_file_is_an_error() {
        let mut cut = resp(&[&["SELECT", "0"], &["SET", "a", "1"]]);
        cut.truncate(30);
        let (_tmp, paths) = aof_dir(&[(B, rdb(&[])), (I1, cut), (I2, resp(&[&["SET", "b", "2"]]))]);
        match replay_all(&paths) {
            Err(AofError::Format {
                file,
                offset,
                reason,
            }) => {
                assert!(file.ends_with(I1));
                assert_eq!(offset, 23);
                assert!(reason.contains("not the last file"), "{reason}");
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn garbage_in_the_middle_is_an_error_with_file_and_offset() {
        let cases: Vec<(Vec<u8>, u64, &str)> = vec![
            (
                b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\nGARBAGE\r\n".to_vec(),
                23,
                "expected '*' at the start of a command, got 'G'",
            ),
            (
                b"*2\r\n$6\r\nSELECT\r\nX1\r\n0\r\n".to_vec(),
                16,
                "Protocol error: expected '$', got 'X'",
            ),
            (
                b"*x\r\n".to_vec(),
                0,
                "Protocol error: invalid multibulk length",
            ),
            (b"*0\r\n".to_vec(), 0, "a command with no arguments"),
            (
                b"*1\r\n$-3\r\n".to_vec(),
                4,
                "Protocol error: invalid bulk length",
            ),
        ];
        for (bad, offset, reason) in cases {
            let mut bytes = bad.clone();
            bytes.extend(resp(&[&["SET", "after", "1"]]));
            let (_tmp, paths) = aof_dir(&[(B, rdb(&[])), (I1, bytes)]);
            let err = replay_all(&paths).unwrap_err();
            match &err {
                AofError::Format {
                    file,
                    offset: o,
                    reason: r,
                } => {
                    assert!(file.ends_with(I1));
                    assert_eq!((*o, r.as_str()), (offset, reason), "{bad:?}");
                }
                other => panic!("expected a format error, got {other:?}"),
            }
            assert!(err
                .to_string()
                .starts_with("Bad file format reading the append only file "));
        }
        // A damaged RDB base is reported at the RDB's offset.
        let mut base = rdb(&[(0, "k", "v")]);
        let n = base.len();
        base[n - 3] ^= 0xff; // the checksum
        let (_tmp, paths) = aof_dir(&[(B, base), (I1, Vec::new())]);
        assert!(matches!(replay_all(&paths), Err(AofError::Format { .. })));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let (_tmp, paths) = aof_dir(&[(B, rdb(&[])), (I1, resp(&[&["SET", "a", "1"]]))]);
        fs::remove_file(paths.file(I1)).unwrap();
        match replay_all(&paths) {
            Err(e @ AofError::Missing { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "The append log file {} doesn't exist",
                    paths.file(I1).display()
                )
            ),
            other => panic!("expected a missing file, got {other:?}"),
        }
    }

    #[test]
    fn a_refused_command_stops_loading_at_its_offset() {
        let (_tmp, paths) = aof_dir(&[
            (B, rdb(&[])),
            (I1, resp(&[&["SELECT", "0"], &["FOO", "x"]])),
        ]);
        let err = load(&paths, EncodingLimits::default(), |r| match r {
            Replay::Command(c) if &c.argv[0][..] == b"FOO" => Err("Unknown command 'FOO'".into()),
            _ => Ok(()),
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Unknown command 'FOO' reading the append only file {} at offset 23",
                paths.file(I1).display()
            )
        );
    }

    #[test]
    fn a_resp_base_and_annotations_load() {
        let mut base = b"#TS:1700000000\r\n".to_vec();
        base.extend(resp(&[&["SELECT", "0"], &["SET", "a", "1"]]));
        let (_tmp, paths) = aof_dir(&[("appendonly.aof.1.base.aof", base), (I1, Vec::new())]);
        let (seen, loaded) = replay_all(&paths).unwrap();
        assert_eq!(
            seen,
            vec![
                "appendonly.aof.1.base.aof@16 SELECT 0",
                "appendonly.aof.1.base.aof@39 SET a 1"
            ]
        );
        assert_eq!(loaded.unwrap().snapshots, 0);
    }

    #[test]
    fn an_old_single_file_with_preamble_is_migrated_then_loaded() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = AofPaths::new(tmp.path());
        let mut old = rdb(&[(0, "k", "v")]);
        let preamble = old.len();
        old.extend(resp(&[&["SELECT", "0"], &["SET", "a", "1"]]));
        fs::write(paths.old_style_file(), &old).unwrap();
        let (seen, loaded) = replay_all(&paths).unwrap();
        assert_eq!(
            seen,
            vec![
                "appendonly.aof snapshot 0:k".to_string(),
                format!("appendonly.aof@{preamble} SELECT 0"),
                format!("appendonly.aof@{} SET a 1", preamble + 23),
            ]
        );
        assert!(loaded.unwrap().upgraded);
        assert!(!paths.old_style_file().exists());
        assert_eq!(
            fs::read_to_string(paths.manifest()).unwrap(),
            "file appendonly.aof seq 1 type b\n"
        );
        // Loading again reads the migrated file and migrates nothing.
        let (again, loaded) = replay_all(&paths).unwrap();
        assert_eq!(again, seen);
        assert!(!loaded.unwrap().upgraded);
    }
}
