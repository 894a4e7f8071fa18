//! CONFIG GET and CONFIG SET on a [`Config`], with Redis 7.0's semantics
//! (`configGetCommand`, `configSetCommand` in `config.c`). No sockets here: the command layer
//! turns the results into replies.

use std::collections::HashSet;

use super::table::{self, Directive, HIDDEN, IMMUTABLE, MULTI_ARG, PROTECTED};
use super::value;
use super::{Config, ConfigCommandError, LoadState};
use crate::glob::glob_match;

impl Config {
    /// CONFIG GET: name/value pairs for every directive matching any of `patterns`, with
    /// values as Redis shows them (`"3600 1 300 100 60 10000"`, `yes`/`no`, memory in plain
    /// bytes). Patterns are globs matched case-insensitively against names and aliases; a
    /// pattern without `*`, `?` or `[` is an exact name, which alone also finds hidden
    /// directives and is echoed back as the client spelled it. Each directive name appears once.
    pub fn get<P: AsRef<[u8]>>(&self, patterns: &[P]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(pattern).into_owned();
                if let Some(d) = table::lookup(&name) {
                    if seen.insert(name.to_ascii_lowercase()) {
                        out.push((name, value::show(d, &self.fetch(d))));
                    }
                }
                continue;
            }
            for d in table::TABLE.iter().filter(|d| !d.has(HIDDEN)) {
                for name in std::iter::once(d.name).chain(d.alias) {
                    if !seen.contains(name) && glob_match(pattern, name.as_bytes(), true) {
                        seen.insert(name.to_string());
                        out.push((name.to_string(), value::show(d, &self.fetch(d))));
                    }
                }
            }
        }
        out
    }

    /// CONFIG SET `name value [name value ...]`: all or nothing, as Redis 7.0. Returns the
    /// canonical names of the directives whose value actually changed, so the server can
    /// react (rebind on `port`/`bind`, start or stop the AOF on `appendonly`, ...).
    ///
    /// `client_is_local`: the client is on a loopback or unix socket, which allows the
    /// protected directives (`dir`, `dbfilename`) when `enable-protected-configs` is `local`.
    pub fn set<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        client_is_local: bool,
    ) -> Result<Vec<&'static str>, ConfigCommandError> {
        if args.is_empty() {
            return Err(ConfigCommandError::Arity);
        }
        if args.len() % 2 == 1 {
            return Err(ConfigCommandError::Syntax);
        }
        let protected_allowed = match self.get_one("enable-protected-configs").as_deref() {
            Some("yes") => true,
            Some("local") => client_is_local,
            _ => false,
        };

        // Check every name first; the first problem found is the one reported.
        let mut pairs: Vec<(&'static Directive, String, String)> = Vec::new();
        for pair in args.chunks(2) {
            let given = String::from_utf8_lossy(pair[0].as_ref()).into_owned();
            let val = String::from_utf8_lossy(pair[1].as_ref()).into_owned();
            let Some(d) = table::lookup(&given) else {
                return Err(ConfigCommandError::UnknownOption(given));
            };
            let fail = |reason: &str| ConfigCommandError::SetFailed {
                name: given.clone(),
                reason: reason.into(),
            };
            if d.has(IMMUTABLE) {
                return Err(fail("can't set immutable config"));
            }
            if d.has(PROTECTED) && !protected_allowed {
                return Err(fail("can't set protected config"));
            }
            if pairs.iter().any(|(seen, _, _)| std::ptr::eq(*seen, d)) {
                return Err(fail("duplicate parameter"));
            }
            // Redis names the failing directive as it is registered: name or alias.
            let shown = if d.alias.is_some_and(|a| a.eq_ignore_ascii_case(&given)) {
                d.alias.unwrap_or(d.name)
            } else {
                d.name
            };
            pairs.push((d, shown.to_string(), val));
        }

        let mut next = self.clone();
        let mut st = LoadState::new(self.dir.clone());
        for (d, shown, val) in &pairs {
            let args: Vec<String> = if d.has(MULTI_ARG) {
                if val.is_empty() {
                    Vec::new()
                } else {
                    val.split(' ').map(str::to_string).collect()
                }
            } else {
                vec![val.clone()]
            };
            next.set_directive(d, &args, false, &mut st)
                .map_err(|reason| ConfigCommandError::SetFailed {
                    name: shown.clone(),
                    reason,
                })?;
        }
        let changed = pairs
            .iter()
            .filter(|(d, _, _)| self.fetch(d) != next.fetch(d))
            .map(|(d, _, _)| d.name)
            .collect();
        *self = next;
        Ok(changed)
    }

    /// The value of one directive as CONFIG GET shows it, by name or alias (any case).
    pub fn get_one(&self, name: &str) -> Option<String> {
        table::lookup(name).map(|d| value::show(d, &self.fetch(d)))
    }
}
