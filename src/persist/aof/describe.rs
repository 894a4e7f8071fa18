//! A teaching inspector for AOFs: `redislab aof <dir | manifest | file>` prints the manifest,
//! then every file's commands one per line with their byte offsets, in plain, deterministic
//! text:
//!
//! ```text
//! manifest appendonlydir/appendonly.aof.manifest
//!   file appendonly.aof.1.base.rdb seq 1 type b
//!   file appendonly.aof.1.incr.aof seq 1 type i
//!
//! appendonly.aof.1.base.rdb (base, 112 bytes)
//! [0x0000] RDB version 10: 2 keys (db0=1 db3=1); `redislab rdb <file>` shows every record
//!
//! appendonly.aof.1.incr.aof (incr, 58 bytes)
//! [0x0000] SELECT 0
//! [0x0017] SET name zhangsan
//! ```
//!
//! It reads through the loader's own command reader, so it shows what the loader sees, and
//! writes nothing: unlike [`super::load()`] it never migrates an old single file. On a damaged
//! file it prints everything before the damage, then the error.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::load::{rdb_part_len, CommandReader, Step};
use super::manifest::Manifest;
use super::{quote_if_needed, AofError};
use crate::persist::rdb::load_snapshot;

/// Prints the AOF at `path` (its directory, its manifest, or one file) to `out`.
pub fn describe<W: Write>(path: &Path, mut out: W) -> Result<(), AofError> {
    let result = describe_inner(path, &mut out);
    let _ = out.flush();
    result
}

fn describe_inner<W: Write>(path: &Path, out: &mut W) -> Result<(), AofError> {
    let o = |e: io::Error| AofError::Io {
        op: "write the description of",
        file: path.to_path_buf(),
        source: e,
    };
    let manifest_path = if path.is_dir() {
        Some(find_manifest(path)?)
    } else if path.extension().is_some_and(|e| e == "manifest") {
        Some(path.to_path_buf())
    } else {
        None
    };
    let Some(manifest_path) = manifest_path else {
        let name = file_name(path);
        return describe_file(path, &name, "file", out);
    };
    let manifest = Manifest::read(&manifest_path)?;
    writeln!(out, "manifest {}", manifest_path.display()).map_err(o)?;
    for info in manifest
        .base
        .iter()
        .chain(&manifest.history)
        .chain(&manifest.incrs)
    {
        write!(out, "  {}", info.format()).map_err(o)?;
    }
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    for (info, role) in manifest
        .base
        .iter()
        .map(|i| (i, "base"))
        .chain(manifest.incrs.iter().map(|i| (i, "incr")))
    {
        writeln!(out).map_err(o)?;
        describe_file(&dir.join(&info.name), &info.name, role, out)?;
    }
    Ok(())
}

/// The one `*.manifest` file in `dir`.
fn find_manifest(dir: &Path) -> Result<PathBuf, AofError> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(AofError::io("read the directory", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "manifest") && !file_name(p).starts_with("temp-")
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(AofError::Missing {
            file: dir.join("*.manifest"),
        }),
        _ => Err(AofError::Rewrite(
            "more than one manifest in the directory: name the one to describe",
        )),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Prints one file: its RDB part as a summary line, then its commands.
fn describe_file<W: Write>(
    path: &Path,
    name: &str,
    role: &str,
    out: &mut W,
) -> Result<(), AofError> {
    let o = |e: io::Error| AofError::Io {
        op: "write the description of",
        file: path.to_path_buf(),
        source: e,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            writeln!(out, "{name} ({role}): MISSING").map_err(o)?;
            return Err(AofError::Missing {
                file: path.to_path_buf(),
            });
        }
        Err(e) => return Err(AofError::io("open", path)(e)),
    };
    let len = file.metadata().map_err(AofError::io("stat", path))?.len();
    writeln!(out, "{name} ({role}, {len} bytes)").map_err(o)?;
    let fail = |out: &mut W, offset: u64, reason: String| -> Result<(), AofError> {
        writeln!(out, "ERROR at offset {offset} ({offset:#06x}): {reason}").map_err(o)?;
        Err(AofError::Format {
            file: path.to_path_buf(),
            offset,
            reason,
        })
    };

    let mut sig = [0u8; 5];
    let is_rdb = file.read_exact(&mut sig).is_ok() && &sig == b"REDIS";
    let mut start = 0;
    if is_rdb {
        file.seek(SeekFrom::Start(0))
            .map_err(AofError::io("seek", path))?;
        let end = match rdb_part_len(BufReader::new(&mut file)) {
            Ok(end) => end,
            Err(e) => return fail(out, e.offset, e.reason),
        };
        file.seek(SeekFrom::Start(0))
            .map_err(AofError::io("seek", path))?;
        let snapshot = match load_snapshot((&mut file).take(end)) {
            Ok(s) => s,
            Err(e) => return fail(out, e.offset, e.reason),
        };
        let mut dbs: Vec<_> = snapshot.dbs.iter().map(|(n, db)| (*n, db.len())).collect();
        dbs.sort();
        let per_db: Vec<String> = dbs.iter().map(|(n, k)| format!("db{n}={k}")).collect();
        let keys = snapshot.key_count();
        writeln!(
            out,
            "[0x0000] RDB version {}: {keys} key{} ({}), {end} bytes; `redislab rdb <file>` shows every record",
            snapshot.version,
            if keys == 1 { "" } else { "s" },
            if per_db.is_empty() { "empty".to_string() } else { per_db.join(" ") },
        )
        .map_err(o)?;
        start = end;
    }
    file.seek(SeekFrom::Start(start))
        .map_err(AofError::io("seek", path))?;
    let mut reader = CommandReader::new(BufReader::new(file), start, len);
    let mut commands = 0u64;
    loop {
        match reader.next() {
            Ok(Step::Command { offset, argv, .. }) => {
                commands += 1;
                let words: Vec<String> = argv.iter().map(|a| quote_if_needed(a)).collect();
                writeln!(out, "[{offset:#06x}] {}", words.join(" ")).map_err(o)?;
            }
            Ok(Step::Annotation { offset, text, .. }) => {
                writeln!(
                    out,
                    "[{offset:#06x}] {}  (annotation)",
                    String::from_utf8_lossy(&text)
                )
                .map_err(o)?;
            }
            Ok(Step::End) => break,
            Ok(Step::Truncated { offset }) => {
                writeln!(
                    out,
                    "[{offset:#06x}] TRUNCATED: {} bytes of an incomplete command (dropped on load if this is the last file)",
                    len - offset
                )
                .map_err(o)?;
                break;
            }
            Err((offset, reason)) => return fail(out, offset, reason),
        }
    }
    if !is_rdb || commands > 0 {
        writeln!(
            out,
            "{commands} command{}",
            if commands == 1 { "" } else { "s" }
        )
        .map_err(o)?;
    }
    Ok(())
}
