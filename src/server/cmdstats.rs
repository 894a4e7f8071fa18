//! Per-command and per-error counters for `INFO commandstats` and `INFO errorstats`
//! (Redis's `c->cmd->calls`, `microseconds`, `rejected_calls`, `failed_calls` and
//! `server.errors`).
//!
//! Kept in the [`Engine`](super::engine::Engine), so the command path updates them under the
//! lock it already holds: one vector slot per command (indexed by the command's position in the
//! table), no hashing on the hot path. A container command's subcommands (`CLIENT LIST`) are
//! counted under their own names (`client|list`), as Redis counts them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counters of one command.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    /// Refused before running (arity, auth, MULTI/pub-sub context, read-only replica...).
    pub rejected_calls: u64,
    /// Ran and answered an error.
    pub failed_calls: u64,
}

/// Redis keeps at most this many distinct error codes (`ERRORSTATS_LIMIT`).
const ERROR_KINDS_LIMIT: usize = 128;

/// The counters of every command and every error code.
#[derive(Debug, Clone, Default)]
pub struct CommandStats {
    commands: Vec<CommandStat>,
    /// Subcommands by full name (`client|list`).
    subcommands: BTreeMap<&'static str, CommandStat>,
    errors: BTreeMap<String, u64>,
}

impl CommandStats {
    fn slot(&mut self, command: usize) -> &mut CommandStat {
        if command >= self.commands.len() {
            self.commands.resize(command + 1, CommandStat::default());
        }
        &mut self.commands[command]
    }

    /// A command ran for `usec` microseconds; `failed` if it answered an error.
    pub fn record_call(&mut self, command: usize, usec: u64, failed: bool) {
        let stat = self.slot(command);
        stat.calls += 1;
        stat.usec += usec;
        if failed {
            stat.failed_calls += 1;
        }
    }

    /// A command was refused before running.
    pub fn record_rejected(&mut self, command: usize) {
        self.slot(command).rejected_calls += 1;
    }

    /// Subcommand `name` (`client|list`) ran for `usec` microseconds; `failed` if it answered
    /// an error.
    pub fn record_subcommand_call(&mut self, name: &'static str, usec: u64, failed: bool) {
        let stat = self.subcommands.entry(name).or_default();
        stat.calls += 1;
        stat.usec += usec;
        if failed {
            stat.failed_calls += 1;
        }
    }

    /// Subcommand `name` was refused (wrong number of arguments).
    pub fn record_subcommand_rejected(&mut self, name: &'static str) {
        self.subcommands.entry(name).or_default().rejected_calls += 1;
    }

    /// The counters of subcommand `name` (`client|list`).
    pub fn get_subcommand(&self, name: &str) -> CommandStat {
        self.subcommands.get(name).copied().unwrap_or_default()
    }

    /// An error reply was sent: counted by its code (the first word, `ERR`, `WRONGTYPE`...).
    pub fn record_error(&mut self, text: &str) {
        let code = text.split(' ').next().unwrap_or("ERR");
        if let Some(count) = self.errors.get_mut(code) {
            *count += 1;
        } else if self.errors.len() < ERROR_KINDS_LIMIT {
            self.errors.insert(code.to_string(), 1);
        }
    }

    /// The counters of command number `command`.
    pub fn get(&self, command: usize) -> CommandStat {
        self.commands.get(command).copied().unwrap_or_default()
    }

    /// Forgets everything (CONFIG RESETSTAT).
    pub fn reset(&mut self) {
        self.commands.clear();
        self.subcommands.clear();
        self.errors.clear();
    }

    /// The `# Commandstats` lines for commands and subcommands that were called or refused;
    /// `name(i)` names command number `i`.
    pub fn write_commandstats(&self, text: &mut String, name: impl Fn(usize) -> &'static str) {
        text.push_str("# Commandstats\r\n");
        let commands = self.commands.iter().enumerate().map(|(i, s)| (name(i), s));
        let subcommands = self.subcommands.iter().map(|(name, s)| (*name, s));
        for (name, stat) in commands.chain(subcommands) {
            if stat.calls == 0 && stat.rejected_calls == 0 && stat.failed_calls == 0 {
                continue;
            }
            let per_call = if stat.calls == 0 {
                0.0
            } else {
                stat.usec as f64 / stat.calls as f64
            };
            let _ = write!(
                text,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                name,
                stat.calls,
                stat.usec,
                per_call,
                stat.rejected_calls,
                stat.failed_calls
            );
        }
    }

    /// The `# Errorstats` lines.
    pub fn write_errorstats(&self, text: &mut String) {
        text.push_str("# Errorstats\r\n");
        for (code, count) in &self.errors {
            let _ = write!(text, "errorstat_{code}:count={count}\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_rejections_and_error_codes() {
        let mut stats = CommandStats::default();
        stats.record_call(2, 10, false);
        stats.record_call(2, 20, true);
        stats.record_rejected(2);
        stats.record_error("WRONGTYPE Operation against a key");
        stats.record_error("ERR syntax error");
        stats.record_error("ERR x");
        let mut text = String::new();
        stats.write_commandstats(&mut text, |_| "get");
        assert_eq!(
            text,
            "# Commandstats\r\ncmdstat_get:calls=2,usec=30,usec_per_call=15.00,rejected_calls=1,failed_calls=1\r\n"
        );
        let mut text = String::new();
        stats.write_errorstats(&mut text);
        assert_eq!(
            text,
            "# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        stats.record_subcommand_call("client|list", 4, false);
        stats.record_subcommand_rejected("client|kill");
        let mut text = String::new();
        stats.write_commandstats(&mut text, |_| "get");
        assert!(text.ends_with(
            "cmdstat_client|kill:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n\
             cmdstat_client|list:calls=1,usec=4,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n"
        ));
        stats.reset();
        assert_eq!(stats.get(2), CommandStat::default());
        assert_eq!(stats.get_subcommand("client|list"), CommandStat::default());
    }
}
