//! `help` in `redislab cli`, as redis-cli 7.0 gives it (`cliInitHelp`, `cliOutputHelp` in
//! redis-cli.c): the help table is built from the server's `COMMAND DOCS` reply — one entry per
//! command and subcommand, its parameters spelled from the argument tree — and printed in
//! redis-cli's exact layout, colours included.
//!
//! * `help` alone: how to use help.
//! * `help set`, `help config get`: every entry whose first words match.
//! * `help @string`: every command of a group.
//!
//! When the server cannot be asked (not connected, or it does not know `COMMAND DOCS`), the
//! Redis 7.0 docs built into this binary ([`crate::cmd::docs`]) stand in, as redis-cli falls
//! back to its built-in table.

use crate::resp::frame::Frame;

/// One command or subcommand's help (redis-cli's `helpEntry` and `commandDocs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Upper-case words: `["CONFIG", "GET"]`.
    pub words: Vec<String>,
    /// The parameters, as redis-cli spells them: `key value [NX|XX] ...`.
    pub params: String,
    pub summary: String,
    pub since: Option<String>,
    pub group: String,
}

impl Entry {
    /// The full name, `CONFIG GET`, by which entries are sorted.
    pub fn full(&self) -> String {
        self.words.join(" ")
    }
}

/// The key/value pairs of a map, which RESP2 sends as a flat array.
fn pairs(frame: &Frame) -> Vec<(&Frame, &Frame)> {
    match frame {
        Frame::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Frame::Array(items) => items.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
        _ => Vec::new(),
    }
}

fn items(frame: &Frame) -> &[Frame] {
    match frame {
        Frame::Array(items) | Frame::Set(items) => items,
        _ => &[],
    }
}

fn text(frame: &Frame) -> String {
    frame
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The help table from a `COMMAND DOCS` reply (RESP2 or RESP3), sorted as redis-cli sorts it.
pub fn entries(docs: &Frame) -> Vec<Entry> {
    let mut out = Vec::new();
    for (name, specs) in pairs(docs) {
        add_entry(&text(name), None, specs, &mut out);
    }
    out.sort_by_key(Entry::full);
    out
}

fn add_entry(command: &str, subcommand: Option<&str>, specs: &Frame, out: &mut Vec<Entry>) {
    let mut words = vec![command.to_ascii_uppercase()];
    if let Some(sub) = subcommand {
        let word = sub.split_once('|').map_or(sub, |(_, w)| w);
        words.push(word.to_ascii_uppercase());
    }
    let mut entry = Entry {
        words,
        params: String::new(),
        summary: String::new(),
        since: None,
        group: String::new(),
    };
    let mut subcommands = Vec::new();
    for (key, value) in pairs(specs) {
        match text(key).as_str() {
            "summary" => entry.summary = text(value),
            "since" => entry.since = Some(text(value)),
            "group" => entry.group = text(value),
            "arguments" => entry.params = join_arguments(items(value), " "),
            "subcommands" => subcommands = pairs(value),
            _ => {}
        }
    }
    out.push(entry);
    for (name, specs) in subcommands {
        add_entry(command, Some(&text(name)), specs, out);
    }
}

fn join_arguments(arguments: &[Frame], separator: &str) -> String {
    arguments
        .iter()
        .map(argument)
        .collect::<Vec<_>>()
        .join(separator)
}

/// `""` for an empty name or token, as redis-cli prints them.
fn or_quotes(text: String) -> String {
    if text.is_empty() {
        "\"\"".to_string()
    } else {
        text
    }
}

/// One argument as redis-cli's `cliAddArgument` spells it: `[TOKEN name [TOKEN name ...]]`.
fn argument(spec: &Frame) -> String {
    let (mut name, mut kind, mut token) = (String::new(), String::new(), None);
    let (mut optional, mut multiple, mut multiple_token) = (false, false, false);
    let mut nested: &[Frame] = &[];
    for (key, value) in pairs(spec) {
        match text(key).as_str() {
            "name" => name = text(value),
            "type" => kind = text(value),
            "token" => token = Some(or_quotes(text(value))),
            "arguments" => nested = items(value),
            "flags" => {
                for flag in items(value) {
                    match text(flag).as_str() {
                        "optional" => optional = true,
                        "multiple" => multiple = true,
                        "multiple_token" => multiple_token = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let repeat = match kind.as_str() {
        "oneof" => join_arguments(nested, "|"),
        "block" => join_arguments(nested, " "),
        "pure-token" => String::new(),
        _ => or_quotes(name),
    };
    let mut token = token.unwrap_or_default();
    if !token.is_empty() && kind != "pure-token" {
        token.push(' ');
    }
    let mut out = String::new();
    if optional {
        out.push('[');
    }
    out.push_str(&token);
    out.push_str(&repeat);
    if multiple {
        out.push_str(" [");
        if multiple_token {
            out.push_str(&token);
        }
        out.push_str(&repeat);
        out.push_str(" ...]");
    }
    if optional {
        out.push(']');
    }
    out
}

/// One entry in redis-cli's layout (bold name, grey parameters, yellow labels, `\r\n` ends).
fn render_entry(entry: &Entry, with_group: bool) -> String {
    let mut out = format!(
        "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n  \x1b[33msummary:\x1b[0m {}\r\n",
        entry.full(),
        entry.params,
        entry.summary
    );
    if let Some(since) = &entry.since {
        out.push_str(&format!("  \x1b[33msince:\x1b[0m {since}\r\n"));
    }
    if with_group {
        out.push_str(&format!("  \x1b[33mgroup:\x1b[0m {}\r\n", entry.group));
    }
    out
}

/// What `help` alone prints.
pub fn generic_help() -> String {
    format!(
        "redislab cli {} (Redis {} commands)\n\
         To get help about Redis commands type:\n      \
         \"help @<group>\" to get a list of commands in <group>\n      \
         \"help <command>\" for help on <command>\n      \
         \"clear\" to clear the screen\n      \
         \"quit\" to exit\n",
        env!("CARGO_PKG_VERSION"),
        crate::REDIS_VERSION
    )
}

/// What `help <words>` prints from the table (`help` with no words: [`generic_help`]).
pub fn render(table: &[Entry], words: &[String]) -> String {
    let Some(first) = words.first() else {
        return generic_help();
    };
    let group = first.strip_prefix('@');
    let mut out = String::new();
    for entry in table {
        match group {
            Some(group) if entry.group.eq_ignore_ascii_case(group) => {
                out.push_str(&render_entry(entry, false));
            }
            Some(_) => {}
            None => {
                let matches = words.len() <= entry.words.len()
                    && words
                        .iter()
                        .zip(&entry.words)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b));
                if matches {
                    out.push_str(&render_entry(entry, true));
                }
            }
        }
    }
    out.push_str("\r\n");
    out
}

/// The built-in Redis 7.0 docs of the commands this build implements, as a `COMMAND DOCS`
/// reply would carry them (for when the server cannot be asked).
pub fn builtin_docs() -> Frame {
    let mut buf = bytes::BytesMut::new();
    crate::cmd::docs::reply(&[]).encode(true, &mut buf);
    crate::resp::frame::parse(&mut buf)
        .ok()
        .flatten()
        .unwrap_or(Frame::Map(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Entry> {
        entries(&builtin_docs())
    }

    #[test]
    fn parameters_are_spelled_as_redis_cli_spells_them() {
        let table = table();
        let params = |full: &str| {
            table
                .iter()
                .find(|e| e.full() == full)
                .map(|e| e.params.clone())
                .unwrap_or_else(|| panic!("{full} in the table"))
        };
        assert_eq!(
            params("SET"),
            "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|\
             PXAT unix-time-milliseconds|KEEPTTL]"
        );
        assert_eq!(params("CONFIG GET"), "parameter [parameter ...]");
        assert_eq!(params("AUTH"), "[username] password");
        assert_eq!(params("GET"), "key");
    }

    #[test]
    fn help_for_a_command_matches_redis_cli_byte_for_byte() {
        // As redis-cli 7.0.15 prints `help get` (captured from it).
        assert_eq!(
            render(&table(), &["get".to_string()]),
            "\r\n  \x1b[1mGET\x1b[0m \x1b[90mkey\x1b[0m\r\n  \x1b[33msummary:\x1b[0m Get the value \
             of a key\r\n  \x1b[33msince:\x1b[0m 1.0.0\r\n  \x1b[33mgroup:\x1b[0m string\r\n\r\n"
        );
    }

    #[test]
    fn groups_list_their_commands_without_the_group_line() {
        let text = render(&table(), &["@string".to_string()]);
        assert!(text.contains("\x1b[1mGET\x1b[0m"), "{text}");
        assert!(text.contains("\x1b[1mINCRBY\x1b[0m"), "{text}");
        assert!(!text.contains("group:"), "{text}");
        assert!(!text.contains("\x1b[1mLPUSH\x1b[0m"), "{text}");
    }

    #[test]
    fn resp2_flat_arrays_read_like_maps() {
        let docs = Frame::Array(vec![
            Frame::bulk("ping"),
            Frame::Array(vec![
                Frame::bulk("summary"),
                Frame::bulk("Ping the server"),
                Frame::bulk("group"),
                Frame::bulk("connection"),
            ]),
        ]);
        let table = entries(&docs);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].summary, "Ping the server");
        assert!(generic_help().contains("\"help <command>\""));
        assert_eq!(render(&table, &["nosuch".to_string()]), "\r\n");
    }
}
