//! [`AofWriter`]: appending writes to the current incr file, and the rewrite that moves the AOF
//! to a new base (`aof.c`: `feedAppendOnlyFile`, `catAppendOnlyGenericCommand`,
//! `flushAppendOnlyFile`, `openNewIncrAofForAppend`, `backgroundRewriteDoneHandler`,
//! `aofOpenIfNeededOnServerStart`, `aofDelHistoryFiles`).
//!
//! # The write path and `appendfsync`
//!
//! The writer only supplies the pieces; the server applies the policy, as Redis's
//! `flushAppendOnlyFile` does:
//!
//! 1. Under the keyspace lock, in apply order, [`AofWriter::append`] each propagated write. It
//!    only encodes into a memory buffer.
//! 2. Before any reply to those writes leaves the server, [`AofWriter::write_out`] (one
//!    `write(2)`, no fsync). The client must never hear "OK" for a write that is not in the file.
//! 3. `appendfsync always`: also [`AofWriter::fsync`], still before replying. If the write or the
//!    fsync fails, Redis exits ("Can't recover from AOF write error when the AOF fsync policy is
//!    'always'"): the caller must not reply and should stop.
//!    `appendfsync everysec`: once a second, fsync on a background thread through a handle from
//!    [`AofWriter::sync_handle`]; a failed write keeps the buffer for the next try.
//!    `appendfsync no`: never fsync; the kernel flushes when it likes.
//!
//! # Rewrite (7.0's algorithm)
//!
//! 1. In the same critical section in which the snapshot of the keyspace is taken (Redis forks),
//!    [`AofWriter::begin_rewrite`]: the buffer goes to the old incr file, which is fsynced; a new
//!    incr file is opened and listed in the manifest, and every later write goes there. It
//!    returns the temp path for the new base.
//! 2. The rewrite (a child, a thread) writes the snapshot to that path, as RDB
//!    ([`crate::persist::rdb::write_snapshot`], with the aux field `aof-base` = 1).
//! 3. [`AofWriter::finish_rewrite`]: the temp file becomes `<name>.<n>.base.rdb`; the manifest now
//!    lists the new base and the incr files opened since step 1; the old base and the old incr
//!    files become history and are deleted. Or [`AofWriter::abort_rewrite`]: the temp file is
//!    deleted and the manifest keeps the old base and every incr file, so nothing is lost.
//!
//! Turning the AOF on for the first time (`CONFIG SET appendonly yes`, or a start with
//! `appendonly yes` and no AOF) is [`AofWriter::create`]: the same rewrite, except that writes go
//! to `temp-<name>.incr` and no manifest exists until the rewrite finishes (Redis's
//! `AOF_WAIT_REWRITE` state). At start-up Redis runs that rewrite synchronously.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;

use super::manifest::{temp_base_name, temp_incr_name, BaseFormat, Manifest};
use super::{fsync_dir, AofError, AofPaths};

/// Owns the incr file being appended to, the write buffer and the manifest.
#[derive(Debug)]
pub struct AofWriter {
    paths: AofPaths,
    manifest: Manifest,
    /// The incr file being appended to; `None` after a failed first rewrite (writes are dropped
    /// until the next rewrite begins, as in Redis's `AOF_WAIT_REWRITE`).
    file: Option<File>,
    /// Its name in the AOF directory.
    file_name: String,
    buf: Vec<u8>,
    /// The db of the last command in the current incr file (`aof_selected_db`).
    selected_db: Option<usize>,
    /// Bytes in the current incr file (`aof_last_incr_size`).
    incr_size: u64,
    /// Bytes in the base and every incr file (`aof_current_size`).
    current_size: u64,
    /// `aof_current_size` after the last rewrite, or the base size at start-up
    /// (`aof_rewrite_base_size`).
    base_size: u64,
    rewrite: Option<Rewrite>,
    /// True until the first rewrite finishes: there is no manifest on disk yet.
    initial: bool,
}

#[derive(Debug)]
struct Rewrite {
    format: BaseFormat,
}

/// What a finished rewrite did, for the caller's log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteDone {
    /// The new base file ("Successfully renamed the temporary AOF base file ... into ...").
    pub base: String,
    /// The incr file now being appended to.
    pub incr: String,
    /// History files deleted ("Removing the history file ...").
    pub removed: Vec<String>,
    /// Size of the new base, bytes.
    pub base_size: u64,
}

impl AofWriter {
    /// Opens the AOF for appending at start-up, after [`super::load()`] found one
    /// (`aofOpenIfNeededOnServerStart`): appends to the last incr file, or creates the first
    /// one if the manifest lists only a base, and persists the manifest.
    ///
    /// If there is no AOF yet (`load` returned `None`), use [`AofWriter::create`] instead.
    pub fn open(paths: &AofPaths) -> Result<AofWriter, AofError> {
        let dir = paths.dir();
        let manifest_path = paths.manifest();
        if !manifest_path.exists() {
            return Err(AofError::Missing {
                file: manifest_path,
            });
        }
        let mut manifest = Manifest::read(&manifest_path)?;
        if manifest.is_empty() {
            return Err(AofError::Rewrite(
                "the AOF manifest lists no file: create the AOF with a rewrite",
            ));
        }
        let created = manifest.incrs.is_empty();
        let name = match manifest.incrs.last() {
            Some(info) => info.name.clone(),
            None => manifest.new_incr(&paths.filename),
        };
        let path = dir.join(&name);
        let file = open_append(&path)?;
        if created {
            manifest.persist(&dir, &paths.filename)?;
        }
        let incr_size = file_len(&path)?;
        let base_size = match &manifest.base {
            Some(b) => file_len(&dir.join(&b.name))?,
            None => 0,
        };
        let mut current_size = base_size;
        for info in &manifest.incrs {
            current_size += file_len(&dir.join(&info.name))?;
        }
        Ok(AofWriter {
            paths: paths.clone(),
            manifest,
            file: Some(file),
            file_name: name,
            buf: Vec::new(),
            // Redis starts every opened AOF with an unknown db, so the first write selects.
            selected_db: None,
            incr_size,
            current_size,
            base_size,
            rewrite: None,
            initial: false,
        })
    }

    /// Turns the AOF on where there is none (or only an empty manifest): creates the
    /// directory and begins the first rewrite. Returns the writer and the temp path the base
    /// snapshot must be written to; then call [`AofWriter::finish_rewrite`] (or
    /// [`AofWriter::abort_rewrite`]).
    ///
    /// A leftover manifest is read, so that its files are cleaned up and its sequence numbers
    /// continue, as Redis does with the manifest it loaded at start-up.
    pub fn create(paths: &AofPaths, format: BaseFormat) -> Result<(AofWriter, PathBuf), AofError> {
        let dir = paths.dir();
        fs::create_dir_all(&dir).map_err(AofError::io("create the AOF directory", &dir))?;
        let manifest_path = paths.manifest();
        let manifest = if manifest_path.exists() {
            Manifest::read(&manifest_path)?
        } else {
            Manifest::default()
        };
        let mut writer = AofWriter {
            paths: paths.clone(),
            manifest,
            file: None,
            file_name: String::new(),
            buf: Vec::new(),
            selected_db: None,
            incr_size: 0,
            current_size: 0,
            base_size: 0,
            rewrite: None,
            initial: true,
        };
        let temp = writer.begin_rewrite(format)?;
        Ok((writer, temp))
    }

    /// Encodes one write for the AOF (`feedAppendOnlyFile`): a `SELECT <db>` first whenever
    /// `db` differs from the db of the last command in the current incr file (so the first
    /// command of a new file always gets one), then `argv` as a RESP multibulk. Nothing is
    /// written until [`AofWriter::write_out`].
    pub fn append(&mut self, db: usize, argv: &[Bytes]) {
        if self.file.is_none() {
            return; // waiting for a first rewrite: its snapshot will hold this write
        }
        if self.selected_db != Some(db) {
            let db_text = db.to_string();
            encode_command(&mut self.buf, &[b"SELECT", db_text.as_bytes()]);
            self.selected_db = Some(db);
        }
        encode_command(&mut self.buf, argv);
    }

    /// Writes the buffer to the incr file with one `write(2)` (no fsync) and empties it.
    /// Returns the bytes written. On failure the file is cut back to its last complete command
    /// and the buffer is kept for the next try (as Redis does after a short write).
    pub fn write_out(&mut self) -> Result<usize, AofError> {
        let Some(file) = self.file.as_mut() else {
            self.buf.clear();
            return Ok(0);
        };
        if self.buf.is_empty() {
            return Ok(0);
        }
        let path = self.paths.file(&self.file_name);
        if let Err(source) = file.write_all(&self.buf) {
            // Leave no half command behind: appends must continue from a clean file.
            let _ = file.set_len(self.incr_size);
            return Err(AofError::Io {
                op: "write",
                file: path,
                source,
            });
        }
        let n = self.buf.len();
        self.incr_size += n as u64;
        self.current_size += n as u64;
        self.buf.clear();
        Ok(n)
    }

    /// fsyncs the incr file (`fdatasync`), blocking. For `appendfsync always` call it after
    /// [`AofWriter::write_out`] and before replying.
    pub fn fsync(&mut self) -> Result<(), AofError> {
        match &self.file {
            Some(f) => f
                .sync_data()
                .map_err(AofError::io("fsync", &self.paths.file(&self.file_name))),
            None => Ok(()),
        }
    }

    /// A second handle on the incr file, for an fsync on a background thread
    /// (`appendfsync everysec`). `None` while no incr file is open.
    pub fn sync_handle(&self) -> Option<Result<File, AofError>> {
        self.file.as_ref().map(|f| {
            f.try_clone()
                .map_err(AofError::io("duplicate", &self.paths.file(&self.file_name)))
        })
    }

    /// Bytes encoded by [`AofWriter::append`] and not yet written.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes in the current incr file (`aof_last_incr_size`).
    pub fn incr_size(&self) -> u64 {
        self.incr_size
    }

    /// Bytes in the whole AOF, base and incr files (`aof_current_size`, `INFO persistence`).
    pub fn current_size(&self) -> u64 {
        self.current_size
    }

    /// `aof_current_size` right after the last rewrite, or the base size after start-up
    /// (`aof_rewrite_base_size`). Redis rewrites automatically when `current_size()` exceeds
    /// `auto-aof-rewrite-min-size` and has grown by `auto-aof-rewrite-percentage` over this.
    pub fn base_size(&self) -> u64 {
        self.base_size
    }

    /// The manifest as it is on disk (or will be, before the first rewrite finishes).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The name of the incr file being appended to.
    pub fn incr_file_name(&self) -> &str {
        &self.file_name
    }

    /// True between [`AofWriter::begin_rewrite`] and its finish or abort.
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite.is_some()
    }

    /// True until the first rewrite of a [`AofWriter::create`]d AOF has finished (Redis's
    /// `AOF_WAIT_REWRITE`): there is no AOF on disk to load yet.
    pub fn waiting_for_first_rewrite(&self) -> bool {
        self.initial
    }

    /// Starts a rewrite: flushes and fsyncs the old incr file, opens a new one that receives
    /// every later write (listing it in the manifest), and returns the temp path where the new
    /// base must be written in `format` (`openNewIncrAofForAppend`). Call it in the critical
    /// section where the snapshot is taken, so each write is in exactly one of the two.
    pub fn begin_rewrite(&mut self, format: BaseFormat) -> Result<PathBuf, AofError> {
        if self.rewrite.is_some() {
            return Err(AofError::Rewrite(
                "Background append only file rewriting already in progress",
            ));
        }
        let dir = self.paths.dir();
        let filename = self.paths.filename.clone();
        let (name, new_manifest) = if self.initial {
            (temp_incr_name(&filename), None)
        } else {
            let mut m = self.manifest.clone();
            let name = m.new_incr(&filename);
            (name, Some(m))
        };
        let path = dir.join(&name);
        let new_file = open_append(&path)?;
        // A leftover from a crash (a temp incr file, an incr file no manifest listed yet).
        new_file
            .set_len(0)
            .map_err(AofError::io("truncate", &path))?;
        if let Some(m) = &new_manifest {
            if let Err(e) = m.persist(&dir, &filename) {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        }
        // The commands still buffered were applied before the snapshot: they belong to the old
        // file. Redis fsyncs and closes it in the background; here the caller is already on a
        // blocking thread.
        if self.file.is_some() {
            self.write_out()?;
            self.fsync()?;
        }
        if let Some(m) = new_manifest {
            self.manifest = m;
        }
        self.file = Some(new_file);
        self.file_name = name;
        self.selected_db = None;
        self.incr_size = 0;
        self.rewrite = Some(Rewrite { format });
        let temp = dir.join(temp_base_name(&filename));
        let _ = fs::remove_file(&temp);
        Ok(temp)
    }

    /// Completes a rewrite whose snapshot is in the temp file from
    /// [`AofWriter::begin_rewrite`]: fsyncs it, renames it to the next base name, writes the
    /// manifest (new base + the incr files opened since the rewrite began), then deletes the
    /// files that became history (`backgroundRewriteDoneHandler` + `aofDelHistoryFiles`).
    ///
    /// On error the rewrite is aborted as by [`AofWriter::abort_rewrite`].
    pub fn finish_rewrite(&mut self) -> Result<RewriteDone, AofError> {
        let Some(rewrite) = self.rewrite.take() else {
            return Err(AofError::Rewrite("no AOF rewrite in progress"));
        };
        match self.try_finish(rewrite.format) {
            Ok(done) => Ok(done),
            Err(e) => {
                self.rewrite = Some(rewrite);
                let _ = self.abort_rewrite();
                Err(e)
            }
        }
    }

    fn try_finish(&mut self, format: BaseFormat) -> Result<RewriteDone, AofError> {
        let dir = self.paths.dir();
        let filename = self.paths.filename.clone();
        let temp = dir.join(temp_base_name(&filename));
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(AofError::io("fsync the temporary AOF base file", &temp))?;
        let new_base_size = file_len(&temp)?;

        let mut m = self.manifest.clone();
        let base = m.new_base(&filename, format);
        let base_path = dir.join(&base);
        let mut incr_rename = None;
        if self.initial {
            let incr = m.new_incr(&filename);
            incr_rename = Some((dir.join(&self.file_name), dir.join(&incr)));
        }
        // Every incr file but the one being appended to is covered by the new base.
        m.mark_incrs_history(1);

        fs::rename(&temp, &base_path).map_err(AofError::io("rename", &temp))?;
        if let Some((from, to)) = &incr_rename {
            if let Err(source) = fs::rename(from, to) {
                let _ = fs::rename(&base_path, &temp);
                return Err(AofError::Io {
                    op: "rename",
                    file: from.clone(),
                    source,
                });
            }
        }
        if let Err(e) = m.persist(&dir, &filename) {
            if let Some((from, to)) = &incr_rename {
                let _ = fs::rename(to, from);
            }
            let _ = fs::rename(&base_path, &temp);
            return Err(e);
        }

        // From here on the new AOF is the one on disk.
        if let Some((_, to)) = incr_rename {
            self.file_name = to
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        self.initial = false;
        self.manifest = m;
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for info in std::mem::take(&mut self.manifest.history) {
            match fs::remove_file(dir.join(&info.name)) {
                Ok(()) => removed.push(info.name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(info.name),
                Err(_) => kept.push(info), // stays history; deleted after the next rewrite
            }
        }
        self.manifest.history = kept;
        // The manifest with the history entries is already safe on disk; failing to drop
        // them from it only means deleting them again later.
        let _ = self.manifest.persist(&dir, &filename);
        self.current_size = new_base_size + self.incr_size;
        self.base_size = self.current_size;
        Ok(RewriteDone {
            base,
            incr: self.file_name.clone(),
            removed,
            base_size: new_base_size,
        })
    }

    /// Gives up a rewrite (the child failed or was killed): deletes the temp base. The
    /// manifest already lists the old base and every incr file, so nothing is lost; writes go
    /// on to the new incr file. After a failed first rewrite ([`AofWriter::create`]) the temp
    /// incr file is deleted too, and writes are dropped until the next `begin_rewrite`
    /// (whose snapshot will hold them).
    pub fn abort_rewrite(&mut self) -> Result<(), AofError> {
        if self.rewrite.take().is_none() {
            return Err(AofError::Rewrite("no AOF rewrite in progress"));
        }
        let dir = self.paths.dir();
        let temp = dir.join(temp_base_name(&self.paths.filename));
        remove_if_exists(&temp)?;
        if self.initial {
            self.file = None;
            self.buf.clear();
            self.incr_size = 0;
            let incr = dir.join(&self.file_name);
            remove_if_exists(&incr)?;
        }
        Ok(())
    }
}

/// Appends `argv` as a RESP multibulk (`catAppendOnlyGenericCommand`).
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, argv: &[A]) {
    let mut n = itoa::Buffer::new();
    buf.push(b'*');
    buf.extend_from_slice(n.format(argv.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        buf.push(b'$');
        buf.extend_from_slice(n.format(arg.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(arg);
        buf.extend_from_slice(b"\r\n");
    }
}

fn open_append(path: &std::path::Path) -> Result<File, AofError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(AofError::io("open", path))
}

fn file_len(path: &std::path::Path) -> Result<u64, AofError> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AofError::Missing {
            file: path.to_path_buf(),
        }),
        Err(e) => Err(AofError::Io {
            op: "stat",
            file: path.to_path_buf(),
            source: e,
        }),
    }
}

fn remove_if_exists(path: &std::path::Path) -> Result<(), AofError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AofError::Io {
            op: "remove",
            file: path.to_path_buf(),
            source: e,
        }),
    }
    .and_then(|()| match path.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::load::{load, Replay};
    use crate::persist::rdb::{write_snapshot, AuxValue, SaveOptions};
    use crate::store::value::EncodingLimits;
    use crate::store::{Db, Value};

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn resp(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            encode_command(&mut out, c);
        }
        out
    }

    /// Writes a snapshot of `dbs` where the rewrite asked for it.
    fn write_base(temp: &std::path::Path, dbs: &[Db]) {
        let f = File::create(temp).unwrap();
        write_snapshot(
            f,
            dbs,
            &[("aof-base", AuxValue::Int(1))],
            &SaveOptions::new(0),
        )
        .unwrap();
    }

    fn listing(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn read(paths: &AofPaths, name: &str) -> Vec<u8> {
        fs::read(paths.file(name)).unwrap()
    }

    /// Every command the loader replays, as text, with the keys of any snapshot.
    fn replayed(paths: &AofPaths) -> Vec<String> {
        let mut seen = Vec::new();
        load(paths, EncodingLimits::default(), |r| {
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
                    seen.push(format!("{file}: snapshot {}", keys.join(",")));
                }
                Replay::Command(c) => {
                    let words: Vec<_> = c.argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
                    seen.push(format!("{}: {}", c.file, words.join(" ")));
                }
            }
            Ok(())
        })
        .unwrap()
        .expect("an AOF");
        seen
    }

    /// A fresh AOF with an empty base, as `appendonly yes` on an empty server makes it.
    fn fresh(dir: &std::path::Path) -> (AofPaths, AofWriter) {
        let paths = AofPaths::new(dir);
        let (mut w, temp) = AofWriter::create(&paths, BaseFormat::Rdb).unwrap();
        assert!(w.waiting_for_first_rewrite());
        write_base(&temp, &[]);
        let done = w.finish_rewrite().unwrap();
        assert_eq!(done.base, "appendonly.aof.1.base.rdb");
        assert_eq!(done.incr, "appendonly.aof.1.incr.aof");
        assert!(!w.waiting_for_first_rewrite());
        (paths, w)
    }

    #[test]
    fn select_is_written_exactly_when_the_db_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let (paths, mut w) = fresh(tmp.path());
        w.append(0, &argv(&["SET", "a", "1"]));
        w.append(0, &argv(&["SET", "b", "2"]));
        w.append(3, &argv(&["LPUSH", "l", "x"]));
        w.append(3, &argv(&["EXPIREAT", "l", "100"]));
        w.append(0, &argv(&["DEL", "a"]));
        let expected = resp(&[
            &["SELECT", "0"],
            &["SET", "a", "1"],
            &["SET", "b", "2"],
            &["SELECT", "3"],
            &["LPUSH", "l", "x"],
            &["EXPIREAT", "l", "100"],
            &["SELECT", "0"],
            &["DEL", "a"],
        ]);
        assert_eq!(w.buffered(), expected.len());
        assert_eq!(
            read(&paths, "appendonly.aof.1.incr.aof"),
            b"",
            "nothing before write_out"
        );
        assert_eq!(w.write_out().unwrap(), expected.len());
        w.fsync().unwrap();
        assert_eq!(read(&paths, "appendonly.aof.1.incr.aof"), expected);
        assert_eq!(&expected[..23], b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
        assert_eq!(w.incr_size(), expected.len() as u64);
        assert_eq!(w.buffered(), 0);
    }

    #[test]
    fn binary_arguments_are_written_verbatim() {
        let mut out = Vec::new();
        encode_command(&mut out, &[&b"SET"[..], b"k\r\n", b"", b"\x00\xff"]);
        assert_eq!(
            out,
            b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n$2\r\n\x00\xff\r\n"
        );
    }

    #[test]
    fn rewrite_moves_to_a_new_base_and_deletes_what_it_covers() {
        let tmp = tempfile::tempdir().unwrap();
        let (paths, mut w) = fresh(tmp.path());
        w.append(0, &argv(&["SET", "a", "1"]));
        w.write_out().unwrap();

        // Begin: the buffer so far goes to incr 1, later writes to incr 2.
        w.append(0, &argv(&["SET", "b", "2"]));
        let temp = w.begin_rewrite(BaseFormat::Rdb).unwrap();
        assert!(w.rewrite_in_progress());
        assert_eq!(
            fs::read_to_string(paths.manifest()).unwrap(),
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(
            read(&paths, "appendonly.aof.1.incr.aof"),
            resp(&[&["SELECT", "0"], &["SET", "a", "1"], &["SET", "b", "2"]])
        );
        w.append(0, &argv(&["SET", "c", "3"]));
        w.write_out().unwrap();
        // A new file starts with SELECT even though the db did not change.
        assert_eq!(
            read(&paths, "appendonly.aof.2.incr.aof"),
            resp(&[&["SELECT", "0"], &["SET", "c", "3"]])
        );
        assert!(matches!(
            w.begin_rewrite(BaseFormat::Rdb),
            Err(AofError::Rewrite(_))
        ));

        // The snapshot taken at begin holds a and b.
        let mut db = Db::new();
        db.set(Bytes::from("a"), Value::String(Bytes::from("1").into()));
        db.set(Bytes::from("b"), Value::String(Bytes::from("2").into()));
        write_base(&temp, &[db]);
        let done = w.finish_rewrite().unwrap();
        assert_eq!(done.base, "appendonly.aof.2.base.rdb");
        assert_eq!(done.incr, "appendonly.aof.2.incr.aof");
        assert_eq!(
            done.removed,
            vec!["appendonly.aof.1.incr.aof", "appendonly.aof.1.base.rdb"]
        );
        assert_eq!(
            fs::read_to_string(paths.manifest()).unwrap(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(
            listing(&paths.dir()),
            vec![
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        assert_eq!(w.current_size(), done.base_size + w.incr_size());
        assert_eq!(w.base_size(), w.current_size());
        assert_eq!(
            replayed(&paths),
            vec![
                "appendonly.aof.2.base.rdb: snapshot 0:a,0:b",
                "appendonly.aof.2.incr.aof: SELECT 0",
                "appendonly.aof.2.incr.aof: SET c 3",
            ]
        );
    }

    #[test]
    fn aborted_rewrite_keeps_every_incr_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (paths, mut w) = fresh(tmp.path());
        w.append(0, &argv(&["SET", "a", "1"]));
        w.write_out().unwrap();
        let temp = w.begin_rewrite(BaseFormat::Rdb).unwrap();
        fs::write(&temp, b"REDIS0010 half written").unwrap();
        w.append(1, &argv(&["SET", "b", "2"]));
        w.write_out().unwrap();
        w.abort_rewrite().unwrap();
        assert!(!w.rewrite_in_progress());
        assert!(matches!(w.abort_rewrite(), Err(AofError::Rewrite(_))));
        assert!(matches!(w.finish_rewrite(), Err(AofError::Rewrite(_))));
        assert_eq!(
            listing(&paths.dir()),
            vec![
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        // Writes continue in the new incr file; the next rewrite covers both.
        w.append(1, &argv(&["SET", "c", "3"]));
        w.write_out().unwrap();
        assert_eq!(
            replayed(&paths),
            vec![
                "appendonly.aof.1.base.rdb: snapshot ",
                "appendonly.aof.1.incr.aof: SELECT 0",
                "appendonly.aof.1.incr.aof: SET a 1",
                "appendonly.aof.2.incr.aof: SELECT 1",
                "appendonly.aof.2.incr.aof: SET b 2",
                "appendonly.aof.2.incr.aof: SET c 3",
            ]
        );
        let temp = w.begin_rewrite(BaseFormat::Rdb).unwrap();
        write_base(&temp, &[]);
        let done = w.finish_rewrite().unwrap();
        assert_eq!(done.incr, "appendonly.aof.3.incr.aof");
        assert_eq!(done.removed.len(), 3);
        assert_eq!(
            fs::read_to_string(paths.manifest()).unwrap(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.3.incr.aof seq 3 type i\n"
        );
    }

    #[test]
    fn a_failed_first_rewrite_leaves_no_aof_and_drops_writes_until_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = AofPaths::new(tmp.path());
        let (mut w, temp) = AofWriter::create(&paths, BaseFormat::Rdb).unwrap();
        assert_eq!(w.incr_file_name(), "temp-appendonly.aof.incr");
        w.append(0, &argv(&["SET", "a", "1"]));
        w.write_out().unwrap();
        assert!(
            load(&paths, EncodingLimits::default(), |_| Ok(()))
                .unwrap()
                .is_none(),
            "no manifest yet"
        );
        fs::write(&temp, b"partial").unwrap();
        w.abort_rewrite().unwrap();
        assert!(listing(&paths.dir()).is_empty());
        w.append(0, &argv(&["SET", "dropped", "1"]));
        assert_eq!(w.write_out().unwrap(), 0);

        let temp = w.begin_rewrite(BaseFormat::Rdb).unwrap();
        w.append(0, &argv(&["SET", "b", "2"]));
        w.write_out().unwrap();
        let mut db = Db::new();
        db.set(Bytes::from("a"), Value::String(Bytes::from("1").into()));
        write_base(&temp, &[db]);
        w.finish_rewrite().unwrap();
        assert_eq!(
            listing(&paths.dir()),
            vec![
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        // The renamed temp incr file stays the one being appended to.
        w.append(0, &argv(&["SET", "c", "3"]));
        w.write_out().unwrap();
        assert_eq!(
            replayed(&paths),
            vec![
                "appendonly.aof.1.base.rdb: snapshot 0:a",
                "appendonly.aof.1.incr.aof: SELECT 0",
                "appendonly.aof.1.incr.aof: SET b 2",
                "appendonly.aof.1.incr.aof: SET c 3",
            ]
        );
    }

    #[test]
    fn open_appends_to_the_last_incr_file_after_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let (paths, mut w) = fresh(tmp.path());
        w.append(2, &argv(&["SET", "a", "1"]));
        w.write_out().unwrap();
        let before = w.current_size();
        drop(w);
        let mut w = AofWriter::open(&paths).unwrap();
        assert_eq!(w.current_size(), before);
        assert_eq!(w.incr_file_name(), "appendonly.aof.1.incr.aof");
        w.append(2, &argv(&["SET", "b", "2"]));
        w.write_out().unwrap();
        assert_eq!(
            replayed(&paths),
            vec![
                "appendonly.aof.1.base.rdb: snapshot ",
                "appendonly.aof.1.incr.aof: SELECT 2",
                "appendonly.aof.1.incr.aof: SET a 1",
                "appendonly.aof.1.incr.aof: SELECT 2",
                "appendonly.aof.1.incr.aof: SET b 2",
            ]
        );

        // A manifest with only a base (as after an upgrade) gets its first incr file on open.
        fs::remove_file(paths.file("appendonly.aof.1.incr.aof")).unwrap();
        fs::write(
            paths.manifest(),
            "file appendonly.aof.1.base.rdb seq 1 type b\n",
        )
        .unwrap();
        let w = AofWriter::open(&paths).unwrap();
        assert_eq!(w.incr_file_name(), "appendonly.aof.1.incr.aof");
        assert_eq!(
            fs::read_to_string(paths.manifest()).unwrap(),
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            AofWriter::open(&AofPaths::new(empty.path())),
            Err(AofError::Missing { .. })
        ));
    }
}
