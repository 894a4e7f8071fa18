//! Where the cluster manager writes and reads: redis-cli's `printf` lines, its coloured
//! `clusterManagerLog*` lines, `fprintf(stderr, ...)`, and the answers to its questions.

use std::io::{BufRead, Write};

use super::plan::Level;

/// The manager's terminal.
pub struct Output<'a> {
    /// Plans, progress and results (redis-cli prints even its errors here).
    pub stdout: &'a mut (dyn Write + Send),
    /// Connection and usage errors.
    pub stderr: &'a mut (dyn Write + Send),
    /// Answers to `Can I set the above configuration?` and reshard's questions.
    pub stdin: &'a mut (dyn BufRead + Send),
    /// Colour the log lines (redis-cli: when `TERM` contains `xterm`).
    pub color: bool,
}

/// Whether log lines are coloured: as redis-cli's `isColorTerm` (`TERM` contains `xterm`),
/// unless `NO_COLOR` is set.
pub fn color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").is_ok_and(|t| t.contains("xterm"))
}

impl Output<'_> {
    /// Plain text, as is.
    pub fn print(&mut self, text: &str) {
        let _ = self.stdout.write_all(text.as_bytes());
        let _ = self.stdout.flush();
    }

    /// Text for stderr, as is.
    pub fn eprint(&mut self, text: &str) {
        let _ = self.stderr.write_all(text.as_bytes());
        let _ = self.stderr.flush();
    }

    fn log(&mut self, code: &str, text: &str) {
        if self.color {
            self.print(&format!("\x1b[{code}{text}\x1b[0m"));
        } else {
            self.print(text);
        }
    }

    /// `clusterManagerLogInfo` (bold).
    pub fn info(&mut self, text: &str) {
        self.log("29;1m", text);
    }

    /// `clusterManagerLogWarn` (yellow).
    pub fn warn(&mut self, text: &str) {
        self.log("33;1m", text);
    }

    /// `clusterManagerLogErr` (red, on stdout as redis-cli does).
    pub fn err(&mut self, text: &str) {
        self.log("31;1m", text);
    }

    /// `clusterManagerLogOk` (green).
    pub fn ok(&mut self, text: &str) {
        self.log("32;1m", text);
    }

    /// A planned line at its level, with a newline.
    pub fn line(&mut self, level: Level, text: &str) {
        let text = format!("{text}\n");
        match level {
            Level::Plain => self.print(&text),
            Level::Info => self.info(&text),
            Level::Warn => self.warn(&text),
            Level::Ok => self.ok(&text),
        }
    }

    /// `Node ip:port replied with error:\n<err>`.
    pub fn reply_error(&mut self, addr: &str, error: &str) {
        self.err(&format!("Node {addr} replied with error:\n{error}\n"));
    }

    /// Reads one answer line (without its newline); `None` at end of input.
    pub fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stdin.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }

    /// `confirmWithYes`: true without asking when `yes` (and the question allows it), else
    /// asks and accepts an answer starting with `yes` (redis-cli reads 3 bytes).
    pub fn confirm(&mut self, question: &str, yes: bool) -> bool {
        if yes {
            return true;
        }
        self.print(&format!("{question} (type 'yes' to accept): "));
        self.read_line()
            .is_some_and(|answer| answer.starts_with("yes"))
    }
}
