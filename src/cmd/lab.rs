//! `REDISLAB FAULT ...`: the lab's hand on a node's fault table ([`crate::net`]). It exists
//! only on a node (server or Sentinel) started with `--lab-faults`; elsewhere it is an unknown
//! command, and it is not in the command table (`COMMAND` does not list it). A Sentinel runs
//! it through [`fault_command`] from its own command table (`node::sentinel_clients`).
//!
//! - `REDISLAB FAULT CUT <host:port> [IN|OUT|BOTH]`: stall traffic with that peer (default
//!   both directions).
//! - `REDISLAB FAULT DELAY <host:port> <ms>`: hold every write to that peer for `ms`.
//! - `REDISLAB FAULT HEAL <host:port> | ALL`: clear the rule(s).
//! - `REDISLAB FAULT LIST`: `peer in out delay_ms` per rule.

use bytes::Bytes;

use super::args::parse_int;
use super::CmdError;
use crate::events::Event;
use crate::net::FaultTable;
use crate::resp::Reply;
use crate::server::Shared;

/// Runs `REDISLAB ...` against `table`, and emits the change on `shared`'s event bus.
pub fn redislab(shared: &Shared, table: &FaultTable, argv: &[Bytes]) -> Reply {
    let (reply, change) = fault_command(table, argv);
    if let Some(event) = change {
        shared.emit(event);
    }
    reply
}

/// Runs `REDISLAB ...` against `table`: the reply, and the event to log when the table
/// changed ([`Event::LabFault`], the evidence a lab waits for).
pub fn fault_command(table: &FaultTable, argv: &[Bytes]) -> (Reply, Option<Event>) {
    match fault(table, argv) {
        Ok(Change::Listed(reply)) => (reply, None),
        Ok(Change::Rule { peer, what }) => (Reply::ok(), Some(Event::LabFault { peer, what })),
        Err(error) => (error.into(), None),
    }
}

/// What a `REDISLAB FAULT` did.
enum Change {
    /// `LIST`: the rules, nothing changed.
    Listed(Reply),
    /// A rule for `peer` changed.
    Rule { peer: String, what: String },
}

fn fault(table: &FaultTable, argv: &[Bytes]) -> Result<Change, CmdError> {
    let word = |i: usize| -> Option<String> {
        argv.get(i)
            .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
    };
    if word(1).as_deref() != Some("FAULT") {
        return Err(CmdError::new(
            "ERR unknown subcommand, try REDISLAB FAULT CUT|DELAY|HEAL|LIST",
        ));
    }
    let peer = argv.get(3).map(|a| String::from_utf8_lossy(a).into_owned());
    let what = match (word(2).as_deref(), peer) {
        (Some("CUT"), Some(peer)) => {
            let (cut_in, cut_out, said) = match word(4).as_deref() {
                None | Some("BOTH") => (true, true, "cut (both directions)"),
                Some("IN") => (true, false, "cut (incoming)"),
                Some("OUT") => (false, true, "cut (outgoing)"),
                Some(_) => return Err(CmdError::syntax()),
            };
            table.update(&peer, |f| {
                f.cut_in |= cut_in;
                f.cut_out |= cut_out;
            });
            (peer, said.to_string())
        }
        (Some("DELAY"), Some(peer)) => {
            let ms = argv.get(4).ok_or_else(CmdError::syntax)?;
            let ms = parse_int(ms)
                .ok()
                .filter(|ms| (0..=60_000).contains(ms))
                .ok_or_else(|| CmdError::new("ERR delay must be 0 to 60000 ms"))?;
            table.update(&peer, |f| f.delay_ms = ms as u64);
            (peer, format!("delayed by {ms} ms"))
        }
        (Some("HEAL"), Some(peer)) if peer.eq_ignore_ascii_case("all") => {
            table.clear();
            ("every peer".to_string(), "healed".to_string())
        }
        (Some("HEAL"), Some(peer)) => {
            table.update(&peer, |f| *f = Default::default());
            (peer, "healed".to_string())
        }
        (Some("LIST"), None) => {
            let rules = table
                .rules()
                .into_iter()
                .map(|(peer, f)| {
                    Reply::Bulk(Bytes::from(format!(
                        "{peer} in={} out={} delay_ms={}",
                        if f.cut_in { "cut" } else { "ok" },
                        if f.cut_out { "cut" } else { "ok" },
                        f.delay_ms
                    )))
                })
                .collect();
            return Ok(Change::Listed(Reply::Array(rules)));
        }
        _ => return Err(CmdError::syntax()),
    };
    Ok(Change::Rule {
        peer: what.0,
        what: what.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(table: &FaultTable, words: &str) -> (Reply, Option<Event>) {
        let argv: Vec<Bytes> = words
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        fault_command(table, &argv)
    }

    fn logged(change: Option<Event>) -> Option<String> {
        change.map(|e| e.log_line())
    }

    #[test]
    fn each_change_is_a_rule_and_a_log_line_and_bad_input_an_error() {
        let table = FaultTable::default();
        let peer = "127.0.0.1:6380";
        let (reply, change) = run(&table, "REDISLAB FAULT CUT 127.0.0.1:6380 IN");
        assert_eq!(reply, Reply::ok());
        assert_eq!(
            logged(change).as_deref(),
            Some("Lab fault: traffic with 127.0.0.1:6380 cut (incoming)")
        );
        run(&table, "redislab fault cut 127.0.0.1:6380 out");
        let f = table.get(peer);
        assert!(f.cut_in && f.cut_out, "cuts add up: {f:?}");
        run(&table, "REDISLAB FAULT DELAY 127.0.0.1:6380 250");
        assert_eq!(table.get(peer).delay_ms, 250);
        let (reply, change) = run(&table, "REDISLAB FAULT LIST");
        assert_eq!(
            reply,
            Reply::Array(vec![Reply::Bulk(Bytes::from(
                "127.0.0.1:6380 in=cut out=cut delay_ms=250"
            ))])
        );
        assert!(change.is_none(), "LIST changes nothing");
        let (_, change) = run(&table, "REDISLAB FAULT HEAL 127.0.0.1:6380");
        assert_eq!(
            logged(change).as_deref(),
            Some("Lab fault: traffic with 127.0.0.1:6380 healed")
        );
        assert!(table.rules().is_empty());

        let errors = [
            (
                "REDISLAB FAULT CUT 127.0.0.1:6380 SIDEWAYS",
                "ERR syntax error",
            ),
            (
                "REDISLAB FAULT DELAY 127.0.0.1:6380 60001",
                "ERR delay must be 0 to 60000 ms",
            ),
            ("REDISLAB FAULT DELAY 127.0.0.1:6380", "ERR syntax error"),
            ("REDISLAB FAULT CUT", "ERR syntax error"),
            (
                "REDISLAB PANIC",
                "ERR unknown subcommand, try REDISLAB FAULT CUT|DELAY|HEAL|LIST",
            ),
        ];
        for (words, text) in errors {
            let (reply, change) = run(&table, words);
            assert_eq!(reply, Reply::error(text), "{words}");
            assert!(change.is_none(), "{words}");
        }
        assert!(table.rules().is_empty(), "an error changes nothing");
    }
}
