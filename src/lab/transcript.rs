//! The transcript: every line the lab prints, as structured values with a plain rendering
//! (tests, pipes, `NO_COLOR`, `--no-color`) and a coloured one (terminals only).
//!
//! All lab output goes through [`Transcript::emit`], so what a test snapshots is exactly what a
//! student reads, minus colour.

use std::io::{self, Write};
use std::time::Duration;

use owo_colors::OwoColorize;

/// One line (or block) of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// The lab's title.
    Title(String),
    /// A step heading.
    Heading(String),
    /// Narration.
    Say(String),
    /// A shell command as the student would type it: `$ redislab server 6379.conf`.
    Shell(String),
    /// A command at a redis-cli prompt: `127.0.0.1:6379> set name zhangsan`.
    Prompt { addr: String, command: String },
    /// A reply, already formatted like redis-cli (may hold several lines).
    Reply(String),
    /// A file's contents, shown under the `cat` that printed it.
    File(String),
    /// A line a node wrote to its log: the evidence narration is based on.
    Event { node: String, message: String },
    /// A side remark.
    Note(String),
}

/// Where transcript lines go, and how.
pub struct Transcript<'a> {
    out: &'a mut dyn Write,
    color: bool,
    /// Pause after narration, for readability (zero with `--fast`).
    pause: Duration,
}

impl<'a> Transcript<'a> {
    pub fn new(out: &'a mut dyn Write, color: bool, pause: Duration) -> Transcript<'a> {
        Transcript { out, color, pause }
    }

    /// Writes one line in the chosen rendering and flushes it.
    pub fn emit(&mut self, line: Line) -> io::Result<()> {
        let text = if self.color {
            render_color(&line)
        } else {
            render_plain(&line)
        };
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        if matches!(line, Line::Say(_)) && !self.pause.is_zero() {
            std::thread::sleep(self.pause);
        }
        Ok(())
    }
}

fn indent(text: &str, by: &str) -> String {
    let mut out = String::new();
    for l in text.trim_end_matches('\n').split('\n') {
        if l.is_empty() {
            out.push('\n');
        } else {
            out.push_str(by);
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The plain rendering: what tests snapshot.
pub fn render_plain(line: &Line) -> String {
    match line {
        Line::Title(t) => format!("{t}\n{}\n", "=".repeat(t.chars().count())),
        Line::Heading(t) => format!("\n## {t}\n\n"),
        Line::Say(t) => indent(t, ""),
        Line::Shell(c) => format!("$ {c}\n"),
        Line::Prompt { addr, command } => format!("{addr}> {command}\n"),
        Line::Reply(r) => indent(r, ""),
        Line::File(f) => indent(f, "    "),
        Line::Event { node, message } => format!("  [{node} log] {message}\n"),
        Line::Note(n) => indent(&format!("({n})"), "  "),
    }
}

/// The coloured rendering: the same text, styled.
pub fn render_color(line: &Line) -> String {
    match line {
        Line::Title(t) => format!("{}\n", t.bold().underline()),
        Line::Heading(t) => format!("\n{}\n\n", format!("## {t}").bold().cyan()),
        Line::Say(t) => indent(t, ""),
        Line::Shell(c) => format!("{} {}\n", "$".dimmed(), c.bold()),
        Line::Prompt { addr, command } => {
            format!("{} {}\n", format!("{addr}>").green(), command.bold())
        }
        Line::Reply(r) if r.starts_with("(error)") => format!("{}", indent(r, "").red()),
        Line::Reply(r) => indent(r, ""),
        Line::File(f) => format!("{}", indent(f, "    ").dimmed()),
        Line::Event { node, message } => {
            format!(
                "  {} {}\n",
                format!("[{node} log]").yellow(),
                message.yellow()
            )
        }
        Line::Note(n) => format!("{}", indent(&format!("({n})"), "  ").dimmed()),
    }
}

/// The filters that make a transcript comparable between runs: `(regex, replacement)` pairs,
/// applied in order, for insta's `Settings::add_filter`. `ports` is the run's `(tutorial,
/// actual)` map; ports are mapped back only in context (`127.0.0.1:PORT`, `port=PORT`,
/// `-p PORT`, ...), never as bare numbers. Each masked value is something that really varies
/// between runs; tests check the real values separately.
pub fn filters(ports: &[(u16, u16)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        (r"\b[0-9a-f]{40}\b".into(), "[ID]".into()),
        (
            r"tutorial ports moved: [^)]*".into(),
            "tutorial ports moved: [PORTS]".into(),
        ),
    ];
    for (t, a) in ports {
        for (before, shown) in [
            (r"127\.0\.0\.1:", "127.0.0.1:"),
            (r"127\.0\.0\.1 ", "127.0.0.1 "),
            (r"\bport=", "port="),
            (r"\bport ", "port "),
            (r"\bmaster_port:", "master_port:"),
            (r"-p ", "-p "),
        ] {
            f.push((format!(r"{before}{a}\b"), format!("{shown}{t}")));
        }
    }
    f.extend([
        (
            r"offset=\d+,lag=\d+".into(),
            "offset=[OFFSET],lag=[LAG]".into(),
        ),
        (
            r"Sending \d+ bytes of backlog starting from offset \d+".into(),
            "Sending [BYTES] bytes of backlog starting from offset [OFFSET]".into(),
        ),
        (r#""ctime" = "\d+""#.into(), r#""ctime" = "[TIME]""#.into()),
        (
            r#""used-mem" = "\d+""#.into(),
            r#""used-mem" = "[BYTES]""#.into(),
        ),
        (r"checksum 0x[0-9a-f]+".into(), "checksum [CHECKSUM]".into()),
    ]);
    f
}

/// The port map a transcript announces in its `tutorial ports moved:` note.
pub fn ports_in(transcript: &str) -> Vec<(u16, u16)> {
    let Some(rest) = transcript.split("tutorial ports moved: ").nth(1) else {
        return Vec::new();
    };
    let list = rest.split(')').next().unwrap_or_default();
    list.split(", ")
        .filter_map(|pair| {
            let (t, a) = pair.split_once(" -> 127.0.0.1:")?;
            Some((t.parse().ok()?, a.parse().ok()?))
        })
        .collect()
}
