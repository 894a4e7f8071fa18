//! Scenarios: small scripts that drive a [`Sim`] and read like the lab they explain. One step
//! a line; `#` starts a comment. The trace holds every event the nodes emitted (as Redis log
//! lines with virtual timestamps), every command with its reply, and every fault, in order.
//!
//! ```text
//! node master                      # a node (a master, empty); its address is master:6379
//! node replica
//! config replica repl-timeout 5    # CONFIG SET on a node
//! cmd replica REPLICAOF master 6379
//! run 2s                           # advance virtual time (ms, s)
//! cmd master SET k v               # any command, through the command path
//! fill master 100 1000             # SET fill:0 .. fill:99 with 1000-byte values
//! cut master replica               # both directions; `cut a b one-way` for a -> b only
//! delay master replica 200ms       # added latency, both directions
//! heal master replica
//! pause replica                    # SIGSTOP: reads nothing, decides nothing
//! resume replica
//! expect replica replication master_link_status up   # an INFO field, or the scenario fails
//! expect-same replica master       # equal datasets, or the scenario fails
//! ```

use bytes::Bytes;

use super::{NodeId, Sim};
use crate::resp::Reply;

/// Runs `script` with randomness from `seed`; returns the trace, or where and why it failed
/// (with the trace so far).
pub fn run(script: &str, seed: u64) -> Result<Vec<String>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut sim = Sim::new(seed, dir.path().to_path_buf());
    for (number, line) in script.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Err(why) = step(&mut sim, line) {
            return Err(format!(
                "line {}: {line}: {why}\n--- trace ---\n{}",
                number + 1,
                sim.trace().join("\n")
            ));
        }
    }
    Ok(sim.trace().to_vec())
}

fn step(sim: &mut Sim, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let node = |i: usize| -> Result<NodeId, String> {
        let name = words.get(i).ok_or("a node name is missing")?;
        sim.node(name).ok_or_else(|| format!("no node {name:?}"))
    };
    match words[0] {
        "node" => {
            let name = words.get(1).ok_or("node needs a name")?;
            if sim.node(name).is_some() {
                return Err(format!("node {name:?} exists"));
            }
            sim.add_node(name);
        }
        "run" => {
            let ms = duration(words.get(1).ok_or("run needs a duration")?)?;
            sim.run(ms);
        }
        "cmd" | "config" => {
            let id = node(1)?;
            let mut argv: Vec<Bytes> = words[2..]
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            if words[0] == "config" {
                // CONFIG SET name value, the value being the rest of the line.
                let value = words.get(3..).unwrap_or_default().join(" ");
                argv = [
                    "CONFIG",
                    "SET",
                    words.get(2).copied().unwrap_or_default(),
                    &value,
                ]
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            }
            let reply = sim.command(id, &argv);
            let text = format_reply(&reply);
            let shown: Vec<String> = argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            sim.note(format!("{}> {} -> {text}", words[1], shown.join(" ")));
            if words[0] == "config" && matches!(reply, Reply::Error(_)) {
                return Err(text);
            }
        }
        "fill" => {
            let id = node(1)?;
            let (count, size) = match words[2..] {
                [count, size] => (
                    count.parse::<usize>().map_err(|_| "bad count")?,
                    size.parse::<usize>().map_err(|_| "bad size")?,
                ),
                _ => return Err("fill NODE COUNT SIZE".into()),
            };
            for i in 0..count {
                let value = format!("{i:0size$}");
                let argv = [
                    Bytes::from_static(b"SET"),
                    Bytes::from(format!("fill:{i}")),
                    Bytes::from(value),
                ];
                if let Reply::Error(e) = sim.command(id, &argv) {
                    return Err(e.to_string());
                }
            }
            sim.note(format!(
                "{}> SET fill:0..{count} ({size}-byte values)",
                words[1]
            ));
        }
        "cut" | "heal" | "delay" => {
            let (a, b) = (node(1)?, node(2)?);
            match words[0] {
                "cut" => {
                    let both = words.get(3) != Some(&"one-way");
                    sim.net.cut(a, b, both);
                }
                "heal" => sim.net.heal(a, b),
                _ => {
                    let ms = duration(words.get(3).ok_or("delay needs a duration")?)?;
                    sim.net.delay(a, b, ms, true);
                }
            }
            sim.note(words.join(" "));
        }
        "pause" | "resume" => {
            let id = node(1)?;
            sim.nodes[id].paused = words[0] == "pause";
            sim.note(words.join(" "));
        }
        "expect" => {
            let id = node(1)?;
            let (section, field, want) = match words[2..] {
                [section, field, want] => (section, field, want),
                _ => return Err("expect NODE SECTION FIELD VALUE".into()),
            };
            let info = sim.command(
                id,
                &[
                    Bytes::from_static(b"INFO"),
                    Bytes::copy_from_slice(section.as_bytes()),
                ],
            );
            let text = match &info {
                Reply::Bulk(b) | Reply::Verbatim(b) => String::from_utf8_lossy(b).into_owned(),
                Reply::Str(s) => String::from_utf8_lossy(s).into_owned(),
                other => format_reply(other),
            };
            let got = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{field}:")))
                .unwrap_or("(missing)")
                .trim()
                .to_string();
            if got != want {
                return Err(format!("{field} is {got}, expected {want}"));
            }
            sim.note(format!("{} {field}:{got}", words[1]));
        }
        "expect-same" => {
            let (a, b) = (node(1)?, node(2)?);
            let (da, db) = (sim.dataset(a), sim.dataset(b));
            if da != db {
                return Err(format!(
                    "{} has {} keys, {} has {} keys, and they differ",
                    words[1],
                    da.len(),
                    words[2],
                    db.len()
                ));
            }
            sim.note(format!(
                "{} and {} hold the same {} keys",
                words[1],
                words[2],
                da.len()
            ));
        }
        other => return Err(format!("unknown step {other:?}")),
    }
    Ok(())
}

/// `1500`, `1500ms`, `2s`.
fn duration(text: &str) -> Result<i64, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else {
        (text, 1)
    };
    number
        .parse::<i64>()
        .map(|n| n * scale)
        .map_err(|_| format!("bad duration {text:?}"))
}

/// A reply on one line, as redis-cli would show its gist.
fn format_reply(reply: &Reply) -> String {
    match reply {
        Reply::Simple(s) => String::from_utf8_lossy(s).into_owned(),
        Reply::Error(e) => format!("(error) {e}"),
        Reply::Int(n) => format!("(integer) {n}"),
        Reply::Bulk(b) | Reply::Verbatim(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
        Reply::Null | Reply::NullArray => "(nil)".into(),
        Reply::Bulks(bulks) => format_reply(&bulks.to_array()),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) | Reply::Many(items) => {
            let parts: Vec<String> = items.iter().map(format_reply).collect();
            format!("[{}]", parts.join(", "))
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_unknown_steps() {
        assert_eq!(duration("2s"), Ok(2000));
        assert_eq!(duration("150ms"), Ok(150));
        assert_eq!(duration("7"), Ok(7));
        assert!(duration("soon").is_err());
        let err = run("node a\nfly a", 1).unwrap_err();
        assert!(err.starts_with("line 2: fly a: unknown step"), "{err}");
    }
}
