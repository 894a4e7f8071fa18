//! A teaching inspector for AOFs (for a `redislab aof <dir | manifest | file>` subcommand, not
//! wired yet): given a directory, a manifest or one file, it prints the manifest,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::writer::encode_command;
    use crate::persist::rdb::{write_snapshot, SaveOptions};
    use crate::store::{Db, Value};
    use bytes::Bytes;

    #[test]
    fn prints_manifest_then_each_file_with_offsets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("appendonlydir");
        std::fs::create_dir_all(&dir).unwrap();
        let mut dbs: Vec<Db> = (0..4).map(|_| Db::new()).collect();
        dbs[0].set(Bytes::from("k"), Value::String(Bytes::from("v").into()));
        dbs[3].set(Bytes::from("k3"), Value::String(Bytes::from("v").into()));
        let mut base = Vec::new();
        write_snapshot(&mut base, &dbs, &[], &SaveOptions::new(0)).unwrap();
        std::fs::write(dir.join("appendonly.aof.1.base.rdb"), &base).unwrap();
        let mut incr = Vec::new();
        encode_command(&mut incr, &["SELECT", "0"]);
        encode_command(&mut incr, &["SET", "name", "zhangsan"]);
        encode_command(&mut incr, &[&b"SET"[..], b"a b", b"x\ny"]);
        incr.extend_from_slice(b"*3\r\n$3\r\nSET");
        std::fs::write(dir.join("appendonly.aof.1.incr.aof"), &incr).unwrap();
        std::fs::write(
            dir.join("appendonly.aof.manifest"),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let mut out = Vec::new();
        describe(&dir, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let text = text.replace(&tmp.path().display().to_string(), "[TMP]");
        let base_len = base.len();
        assert_eq!(
            text,
            format!(
                "manifest [TMP]/appendonlydir/appendonly.aof.manifest\n\
                 \x20 file appendonly.aof.1.base.rdb seq 1 type b\n\
                 \x20 file appendonly.aof.1.incr.aof seq 1 type i\n\
                 \n\
                 appendonly.aof.1.base.rdb (base, {base_len} bytes)\n\
                 [0x0000] RDB version 10: 2 keys (db0=1 db3=1), {base_len} bytes; `redislab rdb <file>` shows every record\n\
                 \n\
                 appendonly.aof.1.incr.aof (incr, {} bytes)\n\
                 [0x0000] SELECT 0\n\
                 [0x0017] SET name zhangsan\n\
                 [0x003c] SET \"a b\" \"x\\ny\"\n\
                 [0x005b] TRUNCATED: 11 bytes of an incomplete command (dropped on load if this is the last file)\n\
                 3 commands\n",
                incr.len()
            )
        );
    }

    #[test]
    fn a_damaged_file_prints_up_to_the_damage_then_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.aof");
        let mut bytes = Vec::new();
        encode_command(&mut bytes, &["SET", "a", "1"]);
        bytes.extend_from_slice(b"oops\r\n");
        std::fs::write(&path, &bytes).unwrap();
        let mut out = Vec::new();
        let err = describe(&path, &mut out).unwrap_err();
        assert!(matches!(err, AofError::Format { offset: 27, .. }));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x.aof (file, 33 bytes)\n\
             [0x0000] SET a 1\n\
             ERROR at offset 27 (0x001b): expected '*' at the start of a command, got 'o'\n"
        );
    }
}
