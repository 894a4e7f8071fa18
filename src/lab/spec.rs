//! The lab file format (`labs/*.toml`), read with serde and checked before anything starts.
//!
//! A lab is data: the nodes it needs (name, tutorial port, config file text) and a flat list of
//! steps, each a table tagged by `do`. Ports in the file are always the tutorial's (6379, 6380);
//! the runner maps them at run time (`--port-offset`, `--ports auto`). A mistake — an unknown
//! step, a misspelt field, a step naming a node that does not exist, an unknown event kind — is
//! reported up front as `file:line: reason`, before any node starts.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::LabError;

/// A whole lab file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// The name used on the command line: `redislab run <name>`.
    pub name: String,
    /// One line for `redislab labs`.
    pub summary: String,
    /// The transcript's first heading.
    pub title: String,
    /// The nodes, in the order they are listed (and cleaned up).
    #[serde(rename = "node")]
    pub nodes: Vec<NodeSpec>,
    /// What happens, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One server process of the lab.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// How steps refer to it (`master`, `replica`).
    pub name: String,
    /// The tutorial's port; the folder and config file are named after it (`6379/6379.conf`).
    pub port: u16,
    /// The config file text, with tutorial ports; `port` and `slaveof`/`replicaof` lines are
    /// rewritten to the actual ports.
    pub config: String,
}

/// One step. `say` and `explain` texts may contain `{6379}`-style placeholders: a tutorial port
/// in braces, replaced by the actual port.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// A section heading.
    Heading { text: String },
    /// Narration.
    Say { text: String },
    /// Print a node's config file as `cat` would.
    ShowConfig { node: String },
    /// Start (or restart) a node and wait until it accepts connections.
    Start {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// `SHUTDOWN` sent as a client would; waits for the process to exit.
    Shutdown { node: String },
    /// `kill -9 <pid>`: no save, no goodbye.
    Kill { node: String },
    /// Type a command at the node's prompt and show the reply as redis-cli does.
    Run {
        node: String,
        command: String,
        /// The reply as printed must equal this (trailing newline ignored).
        #[serde(default)]
        expect: Option<String>,
        /// For INFO-style replies: `field:value` pairs that must hold.
        #[serde(default)]
        fields: BTreeMap<String, String>,
        /// For INFO-style replies: print only these fields (and say so).
        #[serde(default)]
        show: Vec<String>,
        /// Retry silently (bounded) until `expect`/`fields` hold, then show the last reply.
        #[serde(default)]
        retry: bool,
        /// Narration printed after the reply.
        #[serde(default)]
        say: Option<String>,
    },
    /// Wait (bounded) for a node's log to show an event, print that log line, then narrate.
    Wait {
        node: String,
        /// An event kind (see [`crate::events::DEFINITIONS`]), or...
        #[serde(default)]
        event: Option<String>,
        /// ...a literal piece of a log line.
        #[serde(default)]
        pattern: Option<String>,
        /// Printed only once the event was seen.
        #[serde(default)]
        say: Option<String>,
    },
    /// Wait (bounded) for whichever of several events happens first; narrate that one.
    WaitAny {
        #[serde(rename = "case")]
        cases: Vec<WaitCase>,
    },
    /// Partition the link between two nodes (`REDISLAB FAULT CUT` on each side): traffic
    /// stalls as through a dead network, so neither side sees the connection close. With
    /// `one_way`, only what `from` sends to `to` stalls.
    Cut {
        from: String,
        to: String,
        #[serde(default)]
        one_way: bool,
        #[serde(default)]
        say: Option<String>,
    },
    /// Undo every cut and delay between two nodes (`REDISLAB FAULT HEAL` on each side).
    Heal {
        from: String,
        to: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// Hold every write `from` sends to `to` for `ms` milliseconds.
    Delay {
        from: String,
        to: String,
        ms: u64,
        #[serde(default)]
        say: Option<String>,
    },
    /// `kill -STOP`: the node stops running until `resume` (or the end of the lab).
    Pause {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// `kill -CONT` after `pause`.
    Resume {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
    /// Describe the node's dump file (`redislab rdb <dir>/dump.rdb`).
    Rdb {
        node: String,
        #[serde(default)]
        say: Option<String>,
    },
}

/// One alternative of a [`Step::WaitAny`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitCase {
    pub node: String,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub say: Option<String>,
}

impl Lab {
    /// Parses and checks a lab file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Lab, LabError> {
        let lab: Lab = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or_default();
            LabError::new(file, line, e.message().trim().to_string())
        })?;
        lab.check(file, text)?;
        Ok(lab)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn check(&self, file: &str, text: &str) -> Result<(), LabError> {
        // Steps have no spans after deserialising; find the n-th `[[step]]` header instead.
        let step_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[step]]")
            .map(|(i, _)| i + 1)
            .collect();
        let at = |i: usize| step_lines.get(i).copied().unwrap_or_default();
        if self.nodes.is_empty() {
            return Err(LabError::new(file, 0, "a lab needs at least one [[node]]"));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if self.nodes[..i].iter().any(|n| n.name == node.name) {
                return Err(LabError::new(
                    file,
                    0,
                    format!("two nodes are called {:?}", node.name),
                ));
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            let known = |name: &str| -> Result<(), LabError> {
                if self.node(name).is_some() {
                    Ok(())
                } else {
                    Err(LabError::new(
                        file,
                        at(i),
                        format!(
                            "step {} names node {name:?}, which is not a [[node]]",
                            i + 1
                        ),
                    ))
                }
            };
            let pattern = |event: &Option<String>, pattern: &Option<String>| match (event, pattern)
            {
                (Some(kind), None) => {
                    if crate::events::definition(kind).is_some() {
                        Ok(())
                    } else {
                        Err(LabError::new(
                            file,
                            at(i),
                            format!(
                                "unknown event {kind:?}; known events: {}",
                                crate::events::DEFINITIONS
                                    .iter()
                                    .map(|d| d.kind)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ))
                    }
                }
                (None, Some(_)) => Ok(()),
                _ => Err(LabError::new(
                    file,
                    at(i),
                    "a wait needs exactly one of `event` or `pattern`",
                )),
            };
            match step {
                Step::Heading { .. } | Step::Say { .. } => {}
                Step::ShowConfig { node }
                | Step::Start { node, .. }
                | Step::Shutdown { node }
                | Step::Kill { node }
                | Step::Pause { node, .. }
                | Step::Resume { node, .. }
                | Step::Rdb { node, .. } => known(node)?,
                Step::Cut { from, to, .. }
                | Step::Heal { from, to, .. }
                | Step::Delay { from, to, .. } => {
                    known(from)?;
                    known(to)?;
                    if from == to {
                        return Err(LabError::new(
                            file,
                            at(i),
                            format!("a link joins two nodes; `from` and `to` are both {from:?}"),
                        ));
                    }
                    if let Step::Delay { ms, .. } = step {
                        if *ms > 60_000 {
                            return Err(LabError::new(file, at(i), "a delay is 0 to 60000 ms"));
                        }
                    }
                }
                Step::Run { node, command, .. } => {
                    known(node)?;
                    if super::runner::split_command(command).is_empty() {
                        return Err(LabError::new(file, at(i), "a run step needs a command"));
                    }
                }
                Step::Wait {
                    node,
                    event,
                    pattern: p,
                    ..
                } => {
                    known(node)?;
                    pattern(event, p)?;
                }
                Step::WaitAny { cases } => {
                    if cases.is_empty() {
                        return Err(LabError::new(file, at(i), "wait-any needs a [[step.case]]"));
                    }
                    for case in cases {
                        known(&case.node)?;
                        pattern(&case.event, &case.pattern)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "name = \"t\"\nsummary = \"s\"\ntitle = \"T\"\n[[node]]\nname = \"a\"\nport = 6379\nconfig = \"port 6379\"\n";

    #[test]
    fn a_good_lab_parses() {
        let text = format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"a\"\n");
        let lab = Lab::parse("t.toml", &text).unwrap();
        assert_eq!(lab.steps.len(), 1);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let cases = [
            (
                format!("{NODE}[[step]]\ndo = \"strat\"\nnode = \"a\"\n"),
                "t.toml:9:",
                "unknown variant `strat`",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"b\"\n"),
                "t.toml:8:",
                "not a [[node]]",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"wait\"\nnode = \"a\"\nevent = \"nope\"\n"),
                "t.toml:8:",
                "unknown event \"nope\"",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"start\"\nnode = \"a\"\ncolour = 1\n"),
                "t.toml:8:",
                "unknown field `colour`",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"cut\"\nfrom = \"a\"\nto = \"a\"\n"),
                "t.toml:8:",
                "a link joins two nodes",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"heal\"\nfrom = \"a\"\nto = \"b\"\n"),
                "t.toml:8:",
                "names node \"b\", which is not a [[node]]",
            ),
            (
                format!("{NODE}[[step]]\ndo = \"say\"\ntext = \"x\"\n[[step]]\ndo = \"delay\"\nfrom = \"a\"\nto = \"a\"\nms = 70000\n"),
                "t.toml:11:",
                "a link joins two nodes",
            ),
            (
                "name = \"t\"\nsummary = 3\n".to_string(),
                "t.toml:2:",
                "invalid type",
            ),
        ];
        for (text, at, reason) in cases {
            let err = Lab::parse("t.toml", &text).unwrap_err().to_string();
            assert!(err.starts_with(at), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn line_of_counts_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
