//! `REDISLAB FAULT ...`: the lab's hand on a node's fault table ([`crate::net`]). It exists
//! only on a node started with `--lab-faults`; elsewhere it is an unknown command, and it is
//! not in the command table (`COMMAND` does not list it).
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

/// Runs `REDISLAB ...` against `table`.
pub fn redislab(shared: &Shared, table: &FaultTable, argv: &[Bytes]) -> Reply {
    match fault(shared, table, argv) {
        Ok(reply) => reply,
        Err(error) => error.into(),
    }
}

fn fault(shared: &Shared, table: &FaultTable, argv: &[Bytes]) -> Result<Reply, CmdError> {
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
            return Ok(Reply::Array(rules));
        }
        _ => return Err(CmdError::syntax()),
    };
    shared.emit(Event::LabFault {
        peer: what.0,
        what: what.1,
    });
    Ok(Reply::ok())
}
