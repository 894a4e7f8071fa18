//! The transcript: every line the lab prints, as structured values with a plain rendering
//! (tests, pipes, `NO_COLOR`, `--no-color`) and a coloured one (terminals only).
//!
//! All lab output goes through [`Transcript::emit`], so what a test snapshots is exactly what a
//! student reads, minus colour. Narration, notes and log lines are wrapped (textwrap) to the
//! terminal's width, or to [`FIXED_WIDTH`] when output is not a terminal; replies and files are
//! printed as they are.

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

/// The width narration is wrapped to when output is not a terminal: tests, snapshots, the
/// book (whose code blocks show about 85 columns), pipes.
pub const FIXED_WIDTH: usize = 80;

/// The width of the terminal on standard output, if it is one.
pub fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize struct we pass for fd 1; it fails harmlessly when
    // stdout is not a terminal.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// How narration is laid out: the width, and the run's port map, so that lines break where
/// they would with the tutorial's ports (the layout, and so the snapshot, does not depend on
/// which ports a run got).
#[derive(Debug, Clone)]
pub struct Layout {
    /// Columns to wrap narration, notes and log lines to.
    pub width: usize,
    /// `(tutorial, actual)` ports.
    pub ports: Vec<(u16, u16)>,
    /// The lab's node names in order: each gets its own colour.
    pub nodes: Vec<String>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            width: FIXED_WIDTH,
            ports: Vec::new(),
            nodes: Vec::new(),
        }
    }
}

/// A word to wrap, measured as it reads with the tutorial's ports.
#[derive(Debug)]
struct Word {
    text: String,
    width: f64,
}

/// The words of a paragraph; a `code span` with spaces in it stays one word, so a command the
/// reader may copy is never broken across lines.
fn words_of(paragraph: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in paragraph.split_whitespace() {
        match words.last_mut() {
            Some(last) if in_code => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
        if word.matches('`').count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    words
}

impl textwrap::core::Fragment for Word {
    fn width(&self) -> f64 {
        self.width
    }
    fn whitespace_width(&self) -> f64 {
        1.0
    }
    fn penalty_width(&self) -> f64 {
        0.0
    }
}

impl Layout {
    /// Reflows `text` (paragraphs are separated by blank lines; single line breaks are spaces)
    /// to the width, the first line after `first` and the others after `rest` (both counted
    /// in the width). Words are never broken; a longer word gets a line of its own.
    pub fn wrap(&self, text: &str, first: &str, rest: &str) -> String {
        let mut out = String::new();
        for (i, paragraph) in text.trim_end_matches('\n').split("\n\n").enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let words: Vec<Word> = words_of(paragraph)
                .into_iter()
                .map(|w| Word {
                    width: textwrap::core::display_width(&self.as_tutorial(&w)) as f64,
                    text: w,
                })
                .collect();
            let widths = [
                self.width.saturating_sub(first.len()).max(1) as f64,
                self.width.saturating_sub(rest.len()).max(1) as f64,
            ];
            let lines = textwrap::wrap_algorithms::wrap_first_fit(&words, &widths);
            for (n, line) in lines.iter().enumerate() {
                out.push_str(if i == 0 && n == 0 { first } else { rest });
                let texts: Vec<&str> = line.iter().map(|w| w.text.as_str()).collect();
                out.push_str(&texts.join(" "));
                out.push('\n');
            }
        }
        out
    }

    /// A word with the run's ports shown as the tutorial's, for measuring it.
    fn as_tutorial(&self, word: &str) -> String {
        let mut shown = word.to_string();
        for (tutorial, actual) in &self.ports {
            if tutorial != actual {
                shown = shown.replace(&actual.to_string(), &tutorial.to_string());
            }
        }
        shown
    }

    /// The colour slot of a node (its position in the lab).
    fn slot(&self, node: &str) -> usize {
        self.nodes.iter().position(|n| n == node).unwrap_or(0)
    }
}

/// Where transcript lines go, and how.
pub struct Transcript<'a> {
    out: &'a mut dyn Write,
    color: bool,
    /// Pause after narration, for readability (zero with `--fast`).
    pause: Duration,
    layout: Layout,
}

impl<'a> Transcript<'a> {
    pub fn new(out: &'a mut dyn Write, color: bool, pause: Duration) -> Transcript<'a> {
        Transcript {
            out,
            color,
            pause,
            layout: Layout::default(),
        }
    }

    /// Sets the width, port map and node order narration is laid out with.
    pub fn with_layout(mut self, layout: Layout) -> Transcript<'a> {
        self.layout = layout;
        self
    }

    /// Sets the pause after narration (zero while a run fast-forwards to `--from`).
    pub fn set_pause(&mut self, pause: Duration) {
        self.pause = pause;
    }

    /// Writes one line in the chosen rendering and flushes it.
    pub fn emit(&mut self, line: Line) -> io::Result<()> {
        let text = if self.color {
            render_color(&line, &self.layout)
        } else {
            render_with(&line, &self.layout)
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

/// The plain rendering at the fixed width: what tests snapshot.
pub fn render_plain(line: &Line) -> String {
    render_with(line, &Layout::default())
}

/// The plain rendering, narration wrapped by `layout`.
pub fn render_with(line: &Line, layout: &Layout) -> String {
    match line {
        Line::Title(t) => format!("{t}\n{}\n", "=".repeat(t.chars().count())),
        Line::Heading(t) => format!("\n## {t}\n\n"),
        Line::Say(t) => layout.wrap(t, "", ""),
        Line::Shell(c) => format!("$ {c}\n"),
        Line::Prompt { addr, command } => format!("{addr}> {command}\n"),
        Line::Reply(r) => indent(r, ""),
        Line::File(f) => indent(f, "    "),
        Line::Event { node, message } => {
            layout.wrap(&format!("[{node} log] {message}"), "  ", "      ")
        }
        Line::Note(n) => layout.wrap(&format!("({n})"), "  ", "   "),
    }
}

/// The coloured rendering: the same text and layout, styled; each node's log lines in its own
/// colour.
pub fn render_color(line: &Line, layout: &Layout) -> String {
    let plain = render_with(line, layout);
    let styled = |text: &str, style: fn(&str) -> String| -> String {
        text.lines().map(|l| style(l) + "\n").collect()
    };
    match line {
        Line::Title(t) => format!("{}\n", t.bold().underline()),
        Line::Heading(t) => format!("\n{}\n\n", format!("## {t}").bold().cyan()),
        Line::Shell(c) => format!("{} {}\n", "$".dimmed(), c.bold()),
        Line::Prompt { addr, command } => {
            format!("{} {}\n", format!("{addr}>").green(), command.bold())
        }
        Line::Reply(r) if r.starts_with("(error)") => styled(&plain, |l| l.red().to_string()),
        Line::File(_) | Line::Note(_) => styled(&plain, |l| l.dimmed().to_string()),
        Line::Event { node, .. } => {
            const NODE_COLOURS: [fn(&str) -> String; 4] = [
                |l| l.yellow().to_string(),
                |l| l.magenta().to_string(),
                |l| l.blue().to_string(),
                |l| l.bright_green().to_string(),
            ];
            styled(&plain, NODE_COLOURS[layout.slot(node) % NODE_COLOURS.len()])
        }
        Line::Say(_) | Line::Reply(_) => plain,
    }
}

/// Masks for the values a run captured: each `($name = value)` note's value becomes `[NAME]`
/// wherever it appears (a captured leader is `[LEADER]`), so that a snapshot does not depend
/// on which node won; tests check the real values. Put these before [`filters`].
pub fn capture_filters(transcript: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in transcript.lines() {
        let Some(note) = line
            .trim_start()
            .strip_prefix("($")
            .and_then(|l| l.strip_suffix(')'))
        else {
            continue;
        };
        let Some((name, value)) = note.split_once(" = ") else {
            continue;
        };
        let escaped: String = value
            .chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$#&-~".contains(c);
                special.then_some('\\').into_iter().chain([c])
            })
            .collect();
        let mask = format!("[{}]", name.to_ascii_uppercase());
        if !value.is_empty() && !out.iter().any(|(e, _)| *e == escaped) {
            out.push((escaped, mask));
        }
    }
    out
}

/// The filters that make a transcript comparable between runs: `(regex, replacement)` pairs,
/// applied in order, for insta's `Settings::add_filter`. `ports` is the run's `(tutorial,
/// actual)` map; ports are mapped back only in context (`127.0.0.1:PORT`, `port=PORT`,
/// `-p PORT`, ...), never as bare numbers. Each masked value is something that really varies
/// between runs; tests check the real values separately.
pub fn filters(ports: &[(u16, u16)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        (r"\b[0-9a-f]{40}\b".into(), "[ID]".into()),
        // The port map note is what a run at the tutorial's own ports does not print.
        (r"  \(tutorial ports moved: [^)]*\)\n".into(), String::new()),
    ];
    for (t, a) in ports {
        for (before, shown) in [
            (r"127\.0\.0\.1:", "127.0.0.1:"),
            (r"127\.0\.0\.1 ", "127.0.0.1 "),
            (r"\bport=", "port="),
            (r"\bport ", "port "),
            (r"\bmaster_port:", "master_port:"),
            (r"-p ", "-p "),
            // A port as redis-cli prints a bulk reply (SENTINEL MASTER, GET-MASTER-ADDR-BY-NAME).
            ("\"", "\""),
        ] {
            f.push((format!(r"{before}{a}\b"), format!("{shown}{t}")));
        }
    }
    // An event line wrapped between an address's ip and port.
    for (t, a) in ports {
        f.push((
            format!(r"127\.0\.0\.1(\n +){a}\b"),
            format!("127.0.0.1${{1}}{t}"),
        ));
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
    let list = list.split_whitespace().collect::<Vec<_>>().join(" ");
    list.split(", ")
        .filter_map(|pair| {
            let (t, a) = pair.split_once(" -> 127.0.0.1:")?;
            Some((t.parse().ok()?, a.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAY: &str = "The replica connected to its master at 127.0.0.1:6379. It sends PING,\n\
                       AUTH with its masterauth.\n\nA second paragraph.";

    #[test]
    fn narration_is_reflowed_to_the_width_in_paragraphs() {
        let layout = Layout {
            width: 40,
            ..Layout::default()
        };
        let text = render_with(&Line::Say(SAY.into()), &layout);
        assert_eq!(
            text,
            "The replica connected to its master at\n127.0.0.1:6379. It sends PING, AUTH with\n\
             its masterauth.\n\nA second paragraph.\n"
        );
        assert!(text.lines().all(|l| l.len() <= 40));
        // Log lines keep their evidence whole, continued under a hanging indent.
        let event = Line::Event {
            node: "master".into(),
            message: "Partial resynchronization request from 127.0.0.1:6380 accepted.".into(),
        };
        assert_eq!(
            render_with(&event, &layout),
            "  [master log] Partial resynchronization\n      request from 127.0.0.1:6380\n      \
             accepted.\n"
        );
    }

    #[test]
    fn commands_in_backticks_are_never_broken() {
        let layout = Layout {
            width: 30,
            ..Layout::default()
        };
        let text = layout.wrap(
            "master: connect with `redislab cli -p 6379 -a redis`.",
            "",
            "",
        );
        assert_eq!(
            text,
            "master: connect with\n`redislab cli -p 6379 -a redis`.\n"
        );
    }

    #[test]
    fn moved_ports_do_not_move_line_breaks() {
        let tutorial = Layout {
            width: 40,
            ..Layout::default()
        };
        let moved = Layout {
            width: 40,
            ports: vec![(6379, 45123)],
            ..Layout::default()
        };
        let at_tutorial = tutorial.wrap(SAY, "", "");
        let at_moved = moved.wrap(&SAY.replace("6379", "45123"), "", "");
        assert_eq!(at_moved.replace("45123", "6379"), at_tutorial);
    }

    #[test]
    fn each_node_has_its_own_colour() {
        let layout = Layout {
            nodes: vec!["master".into(), "replica".into()],
            ..Layout::default()
        };
        let event = |node: &str| Line::Event {
            node: node.into(),
            message: "Ready to accept connections".into(),
        };
        let master = render_color(&event("master"), &layout);
        let replica = render_color(&event("replica"), &layout);
        assert_ne!(master, replica);
        assert!(master.contains("[master log] Ready") && master.contains('\x1b'));
    }

    #[test]
    fn the_port_map_is_read_back_from_a_wrapped_note() {
        let text = "Lab\n===\n  (tutorial ports moved: 6379 -> 127.0.0.1:40001, 6380 ->\n   \
                    127.0.0.1:40002)\n\n## Start\n";
        assert_eq!(ports_in(text), [(6379, 40001), (6380, 40002)]);
    }
}
