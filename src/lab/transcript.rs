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
        Line::Note(n) => format!("  ({n})\n"),
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
        Line::Note(n) => format!("  {}\n", format!("({n})").dimmed()),
    }
}
