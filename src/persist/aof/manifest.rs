//! The AOF manifest: which files make up the AOF and in what order (`aof.c`:
//! `aofLoadManifestFromFile`, `aofInfoFormat`, `getAofManifestAsString`, `writeAofManifestFile`,
//! `getNewBaseFileNameAndMarkPreAsHistory`, `getNewIncrAofName`, `markRewrittenIncrAofAsHistory`).
//!
//! One line per file, `file <name> seq <n> type <b|h|i>`, the base first, then history files,
//! then incr files in sequence order. A name that needs it is quoted as `sdscatrepr` does and
//! read back with `sdssplitargs` ([`split_args`]). Parsing is as strict as Redis's, with its
//! error texts; a damaged manifest stops start-up. Writing goes through a temp file, fsync,
//! rename and a directory fsync, so a crash leaves the old manifest or the new one, never half.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{fsync_dir, quote_if_needed, AofError};
use crate::resp::request::split_args;

/// Longest manifest line Redis reads, newline included (`MANIFEST_MAX_LINE`, bytes).
pub const MANIFEST_MAX_LINE: usize = 1024;

/// The role of a file in the manifest (`AOF_FILE_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `b`: the base, a snapshot at the last rewrite.
    Base,
    /// `h`: a file a rewrite made obsolete, waiting to be deleted.
    History,
    /// `i`: commands written after the base.
    Incr,
}

impl FileType {
    /// The manifest letter.
    pub fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// Which form a base file takes, and so its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseFormat {
    /// `.base.rdb`: an RDB snapshot (`aof-use-rdb-preamble yes`, the default).
    Rdb,
    /// `.base.aof`: RESP commands (`aof-use-rdb-preamble no`).
    Aof,
}

/// One manifest line (`aofInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofInfo {
    /// The file name, inside the AOF directory (never a path).
    pub name: String,
    /// Its sequence number (base and incr files count separately).
    pub seq: u64,
    /// Its role.
    pub kind: FileType,
}

impl AofInfo {
    /// The manifest line, newline included (`aofInfoFormat`).
    pub fn format(&self) -> String {
        format!(
            "file {} seq {} type {}\n",
            quote_if_needed(self.name.as_bytes()),
            self.seq,
            self.kind.letter()
        )
    }
}

/// The manifest in memory (`aofManifest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofInfo>,
    /// History files, to be deleted.
    pub history: Vec<AofInfo>,
    /// Incr files, in increasing `seq`; the last one is the one being appended to.
    pub incrs: Vec<AofInfo>,
    /// The newest base sequence number used (the next base gets this + 1).
    pub base_seq: u64,
    /// The newest incr sequence number used (the next incr gets this + 1).
    pub incr_seq: u64,
}

/// `<appendfilename>.manifest`.
pub fn manifest_name(filename: &str) -> String {
    format!("{filename}.manifest")
}

/// `<appendfilename>.<seq>.base.rdb` or `.base.aof`.
pub fn base_file_name(filename: &str, seq: u64, format: BaseFormat) -> String {
    let suffix = match format {
        BaseFormat::Rdb => "rdb",
        BaseFormat::Aof => "aof",
    };
    format!("{filename}.{seq}.base.{suffix}")
}

/// `<appendfilename>.<seq>.incr.aof`.
pub fn incr_file_name(filename: &str, seq: u64) -> String {
    format!("{filename}.{seq}.incr.aof")
}

/// `temp-<appendfilename>.incr`: the incr file of a first-time enable, before its rewrite is
/// done (`getTempIncrAofName`).
pub fn temp_incr_name(filename: &str) -> String {
    format!("temp-{filename}.incr")
}

/// The file a rewrite writes its new base to before [`super::AofWriter::finish_rewrite`]
/// renames it (Redis's child writes `temp-rewriteaof-bg-<pid>.aof`).
pub fn temp_base_name(filename: &str) -> String {
    format!("temp-rewriteaof-bg-{filename}")
}

impl Manifest {
    /// Parses manifest text. `file` is only used in errors.
    pub fn parse(text: &[u8], file: &Path) -> Result<Manifest, AofError> {
        let err = |line: usize, reason: &str| AofError::Manifest {
            file: file.to_path_buf(),
            line,
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(err(0, "Found an empty AOF manifest"));
        }
        let mut m = Manifest::default();
        let mut rest = text;
        let mut lineno = 0;
        while !rest.is_empty() {
            lineno += 1;
            let newline = rest.iter().position(|&b| b == b'\n');
            let (raw, next) = match newline {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            if raw.first() == Some(&b'#') {
                continue;
            }
            // Redis reads with a 1024-byte fgets: a longer line, or a last line without its
            // newline, fails the same check.
            if newline.is_none() || raw.len() + 1 > MANIFEST_MAX_LINE {
                return Err(err(lineno, "The AOF manifest file contains too long line"));
            }
            let line = trim(raw);
            if line.is_empty() {
                return Err(err(lineno, "Invalid AOF manifest file format"));
            }
            let args = match split_args(line) {
                Some(args) if args.len() >= 6 && args.len() % 2 == 0 => args,
                _ => return Err(err(lineno, "Invalid AOF manifest file format")),
            };
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in args.chunks(2) {
                let (key, value) = (&pair[0], &pair[1]);
                if key.eq_ignore_ascii_case(b"file") {
                    if value.contains(&b'/') || value.contains(&b'\\') {
                        return Err(err(lineno, "File can't be a path, just a filename"));
                    }
                    name = Some(
                        String::from_utf8(value.to_vec())
                            .map_err(|_| err(lineno, "Invalid AOF manifest file format"))?,
                    );
                } else if key.eq_ignore_ascii_case(b"seq") {
                    seq = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .filter(|&n| n > 0);
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = value.first().copied();
                }
                // Other keys are ignored, for forward compatibility (as in Redis).
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(err(lineno, "Invalid AOF manifest file format"));
            };
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(err(lineno, "Found duplicate base file information"));
                    }
                    m.base_seq = seq;
                    m.base = Some(AofInfo {
                        name,
                        seq,
                        kind: FileType::Base,
                    });
                }
                b'h' => m.history.push(AofInfo {
                    name,
                    seq,
                    kind: FileType::History,
                }),
                b'i' => {
                    if seq <= m.incr_seq {
                        return Err(err(lineno, "Found a non-monotonic sequence number"));
                    }
                    m.incr_seq = seq;
                    m.incrs.push(AofInfo {
                        name,
                        seq,
                        kind: FileType::Incr,
                    });
                }
                _ => return Err(err(lineno, "Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    /// Reads and parses the manifest at `path`.
    pub fn read(path: &Path) -> Result<Manifest, AofError> {
        let text = fs::read(path).map_err(AofError::io("read the AOF manifest", path))?;
        Manifest::parse(&text, path)
    }

    /// The manifest text: base, history, incr (`getAofManifestAsString`).
    pub fn format(&self) -> String {
        let mut out = String::new();
        for info in self.base.iter().chain(&self.history).chain(&self.incrs) {
            out.push_str(&info.format());
        }
        out
    }

    /// True when the manifest names no base and no incr file (there is no AOF).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// Writes the manifest atomically as `<dir>/<appendfilename>.manifest`: a temp file,
    /// fsync, rename over the old one, fsync of the directory (`writeAofManifestFile`).
    pub fn persist(&self, dir: &Path, filename: &str) -> Result<(), AofError> {
        let path = dir.join(manifest_name(filename));
        let temp = dir.join(format!("temp-{}", manifest_name(filename)));
        let mut f = fs::File::create(&temp).map_err(AofError::io("create", &temp))?;
        f.write_all(self.format().as_bytes())
            .map_err(AofError::io("write", &temp))?;
        f.sync_all().map_err(AofError::io("fsync", &temp))?;
        drop(f);
        fs::rename(&temp, &path).map_err(AofError::io("rename", &temp))?;
        fsync_dir(dir)
    }

    /// Adds a new base with the next sequence number, turning the current base (if any) into
    /// history (`getNewBaseFileNameAndMarkPreAsHistory`). Returns the new base's name.
    pub fn new_base(&mut self, filename: &str, format: BaseFormat) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = base_file_name(filename, self.base_seq, format);
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileType::Base,
        });
        name
    }

    /// Adds a new incr file with the next sequence number at the end (`getNewIncrAofName`).
    /// Returns its name.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = incr_file_name(filename, self.incr_seq);
        self.incrs.push(AofInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileType::Incr,
        });
        name
    }

    /// Turns every incr file but the last `keep` into history, after a rewrite whose base
    /// covers them (`markRewrittenIncrAofAsHistory`).
    pub fn mark_incrs_history(&mut self, keep: usize) {
        let cut = self.incrs.len().saturating_sub(keep);
        for mut info in self.incrs.drain(..cut).rev() {
            info.kind = FileType::History;
            self.history.insert(0, info);
        }
    }
}

/// Trims spaces, tabs, CR and LF from both ends (`sdstrim(line, " \t\r\n")`).
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `aof_load` fuzz target (its round trip assumed every parsed manifest names
    /// a file): a manifest of comments only parses, as in Redis (`linenum > 0`), and is empty,
    /// so loading treats it as no AOF.
    #[test]
    fn a_manifest_of_comments_only_is_empty() {
        let m = Manifest::parse(b"# \0\xf0 comment\n", Path::new("m")).unwrap();
        assert!(m.is_empty());
        assert!(Manifest::parse(b"", Path::new("m")).is_err());
    }

    fn parse(text: &str) -> Result<Manifest, AofError> {
        Manifest::parse(text.as_bytes(), Path::new("m"))
    }

    fn error_of(text: &str) -> (usize, String) {
        match parse(text) {
            Err(AofError::Manifest { line, reason, .. }) => (line, reason),
            other => panic!("expected a manifest error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_what_redis_7_writes() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.base_seq, 2);
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.history[0].kind, FileType::History);
        assert_eq!(
            m.incrs.iter().map(|i| i.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(m.incr_seq, 3);
        assert_eq!(m.format(), text);
    }

    #[test]
    fn quoted_names_round_trip() {
        let mut m = Manifest::default();
        m.new_base("my aof", BaseFormat::Rdb);
        m.new_incr("my aof");
        m.new_incr("tab\there\"q");
        let text = m.format();
        assert_eq!(
            text,
            "file \"my aof.1.base.rdb\" seq 1 type b\n\
             file \"my aof.1.incr.aof\" seq 1 type i\n\
             file \"tab\\there\\\"q.2.incr.aof\" seq 2 type i\n"
        );
        assert_eq!(parse(&text).unwrap(), m);
    }

    #[test]
    fn comments_keys_in_any_case_and_unknown_keys_are_accepted() {
        let text = "# written by hand\n\
                    FILE a.1.base.aof SEQ 1 TYPE b\n\
                    file a.1.incr.aof seq 1 type i extra value\n\
                    #last comment without newline";
        let m = parse(text).unwrap();
        assert_eq!(m.base.unwrap().name, "a.1.base.aof");
        assert_eq!(m.incrs.len(), 1);
        // Surrounding blanks and a CRLF are trimmed.
        assert!(parse("  file a seq 1 type b \r\n").is_ok());
    }

    #[test]
    fn every_error_names_its_line() {
        let long = format!("file {} seq 1 type b\n", "x".repeat(1100));
        let cases: Vec<(String, usize, &str)> = vec![
            ("".into(), 0, "Found an empty AOF manifest"),
            ("\n".into(), 1, "Invalid AOF manifest file format"),
            ("   \n".into(), 1, "Invalid AOF manifest file format"),
            (
                "file a seq 1\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "file a seq 1 type\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "file \"a seq 1 type b\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "file a seq 0 type b\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "file a seq x type b\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "name a seq 1 type b\n".into(),
                1,
                "Invalid AOF manifest file format",
            ),
            (
                "file a seq 1 type b".into(),
                1,
                "The AOF manifest file contains too long line",
            ),
            (long, 1, "The AOF manifest file contains too long line"),
            (
                "file d/a seq 1 type b\n".into(),
                1,
                "File can't be a path, just a filename",
            ),
            (
                "file d\\a seq 1 type b\n".into(),
                1,
                "File can't be a path, just a filename",
            ),
            ("file a seq 1 type x\n".into(), 1, "Unknown AOF file type"),
            (
                "file a seq 1 type b\nfile b seq 2 type b\n".into(),
                2,
                "Found duplicate base file information",
            ),
            (
                "file a seq 2 type i\n# c\nfile b seq 2 type i\n".into(),
                3,
                "Found a non-monotonic sequence number",
            ),
        ];
        for (text, line, reason) in cases {
            assert_eq!(error_of(&text), (line, reason.to_string()), "{text:?}");
        }
        let e = parse("file a seq 1 type x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bad AOF manifest m at line 1: Unknown AOF file type"
        );
    }

    #[test]
    fn naming_follows_the_sequence_numbers() {
        let mut m = parse("file appendonly.aof.1.base.rdb seq 1 type b\n").unwrap();
        assert_eq!(m.new_incr("appendonly.aof"), "appendonly.aof.1.incr.aof");
        assert_eq!(m.new_incr("appendonly.aof"), "appendonly.aof.2.incr.aof");
        assert_eq!(
            m.new_base("appendonly.aof", BaseFormat::Rdb),
            "appendonly.aof.2.base.rdb"
        );
        m.mark_incrs_history(1);
        // Redis's order: the covered incr files, then the old base.
        assert_eq!(
            m.format(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(
            base_file_name("appendonly.aof", 3, BaseFormat::Aof),
            "appendonly.aof.3.base.aof"
        );
    }

    #[test]
    fn persist_replaces_the_manifest_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::default();
        m.new_base("appendonly.aof", BaseFormat::Rdb);
        m.persist(dir.path(), "appendonly.aof").unwrap();
        m.new_incr("appendonly.aof");
        m.persist(dir.path(), "appendonly.aof").unwrap();
        let path = dir.path().join("appendonly.aof.manifest");
        assert_eq!(Manifest::read(&path).unwrap(), m);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["appendonly.aof.manifest"], "no temp file left");
    }
}
