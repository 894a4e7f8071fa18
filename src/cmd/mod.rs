//! Commands: the command table and one module per family.
//!
//! Every command is a [`Spec`] — name, arity, flags, key positions and a handler — declared in
//! its family's module next to the function that parses and applies it. The table built from
//! those specs is the single source that the dispatcher, `COMMAND`, and (later) the cluster slot
//! check and client-side routing read.
//!
//! The path through this layer (see [`exec::call`]): look up the spec, check arity and access
//! (auth, MULTI queueing, pub/sub mode, read-only replica), run the handler against an
//! [`Exec`] context, then record what the command changed: expired keys become `DEL`s, the
//! write itself (or the deterministic form the handler chose) is queued for AOF and replicas,
//! WATCHers are invalidated and blocked clients on ready keys are served.
//!
//! Handlers return a [`Reply`](crate::resp::Reply) value and never touch a socket; a change of
//! connection mode (block, close) is an [`Effect`] the connection task acts on.

pub mod args;
pub mod docs;
pub mod error;
pub mod exec;

pub mod bits;
pub mod cluster;
pub mod connection;
pub mod dump;
pub mod hashes;
pub mod keys;
pub mod lab;
pub mod lists;
pub mod memory;
#[cfg(test)]
mod notify_tests;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

pub use args::Args;
pub use error::CmdError;
pub use exec::{call, Effect, Exec};

use crate::resp::Reply;

/// A command handler: parses its arguments and applies the command.
pub type Handler = fn(&mut Exec, &mut Args) -> Result<Reply, CmdError>;

/// Command flags (Redis's `CMD_*`), as a bit set.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    /// Allowed before AUTH (AUTH, HELLO, QUIT, RESET).
    pub const NO_AUTH: u32 = 1 << 11;
    /// Cannot be queued in MULTI (MULTI, WATCH...): runs or fails at once.
    pub const NO_MULTI: u32 = 1 << 12;
    pub const MOVABLE_KEYS: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;
    /// Allowed in RESP2 pub/sub mode.
    pub const PUBSUB_CONTEXT: u32 = 1 << 15;
    pub const MAY_REPLICATE: u32 = 1 << 16;
}

/// One command's table entry.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Lowercase name.
    pub name: &'static str,
    /// Exact argument count including the name, or `-n` for "at least n".
    pub arity: i32,
    pub flags: u32,
    /// First key position (0 = no keys), last key (-1 = last argument), step.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub handler: Handler,
}

impl Spec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Spec {
        Spec {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            key_step: 0,
            handler,
        }
    }

    /// Sets the key positions (`COMMAND`'s first/last/step).
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Spec {
        self.first_key = first;
        self.last_key = last;
        self.key_step = step;
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// True if `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Positions of the key arguments in a command of `argc` arguments.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key
        };
        let step = self.key_step.max(1) as usize;
        (self.first_key as usize..=last.max(0) as usize)
            .step_by(step)
            .filter(|&i| i < argc)
            .collect()
    }
}

/// Every command, from every family.
pub fn all_specs() -> &'static [Spec] {
    static ALL: OnceLock<Vec<Spec>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            connection::COMMANDS,
            strings::COMMANDS,
            keys::COMMANDS,
            lists::COMMANDS,
            hashes::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            pubsub::COMMANDS,
            persistence::COMMANDS,
            replication::COMMANDS,
            cluster::COMMANDS,
            transactions::COMMANDS,
            server::COMMANDS,
            memory::COMMANDS,
            bits::COMMANDS,
            sort::COMMANDS,
            dump::COMMANDS,
            scripting::COMMANDS,
        ]
        .concat()
    })
}

/// The position of a table entry (from [`lookup`]) in [`all_specs`]: a dense index for
/// per-command counters. None for a spec that is not in the table.
pub fn spec_index(spec: &Spec) -> Option<usize> {
    let base = all_specs().as_ptr() as usize;
    let offset = (spec as *const Spec as usize).checked_sub(base)?;
    let index = offset / std::mem::size_of::<Spec>();
    (index < all_specs().len() && std::ptr::eq(&all_specs()[index], spec)).then_some(index)
}

/// `rename-command` lines applied to the command table: lowercase name -> the command it now
/// runs, or `None` for a name renamed away. Set once at start-up, for the whole process, as
/// Redis edits its one command table.
static RENAMES: OnceLock<HashMap<String, Option<&'static Spec>>> = OnceLock::new();

/// Applies `rename-command old new` pairs (`new` empty: the command is removed). Errors are
/// Redis's start-up errors. Only the first call in a process takes effect.
pub fn apply_renames(pairs: &[(String, String)]) -> Result<(), String> {
    let mut renames: HashMap<String, Option<&'static Spec>> = HashMap::new();
    for (old, new) in pairs {
        let old = old.to_ascii_lowercase();
        let new = new.to_ascii_lowercase();
        let spec = renames
            .get(&old)
            .copied()
            .unwrap_or_else(|| builtin_lookup(old.as_bytes()))
            .ok_or("No such command in rename-command")?;
        if !new.is_empty() && renames.get(&new).copied().flatten().is_some() {
            return Err("Target command name already exists".into());
        }
        if !new.is_empty()
            && builtin_lookup(new.as_bytes()).is_some()
            && !renames.contains_key(&new)
        {
            return Err("Target command name already exists".into());
        }
        renames.insert(old, None);
        if !new.is_empty() {
            renames.insert(new, Some(spec));
        }
    }
    if !renames.is_empty() {
        let _ = RENAMES.set(renames);
    }
    Ok(())
}

/// Finds a command by name, ignoring ASCII case, after `rename-command`.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    if let Some(renames) = RENAMES.get() {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some(renamed) = renames.get(&lower) {
            return *renamed;
        }
    }
    builtin_lookup(name)
}

thread_local! {
    /// The command this thread found last: a pipeline mostly repeats one command, and
    /// comparing its name costs less than hashing it.
    static LAST_FOUND: std::cell::Cell<Option<&'static Spec>> = const { std::cell::Cell::new(None) };
}

/// Finds a command by its own name, ignoring ASCII case, without allocating. It runs for
/// every request, so the table hashes with FNV-1a: the names are short and not chosen by an
/// attacker who could profit from collisions (the table is fixed).
fn builtin_lookup(name: &[u8]) -> Option<&'static Spec> {
    type Table = HashMap<&'static [u8], &'static Spec, BuildHasherDefault<Fnv1a>>;
    static TABLE: OnceLock<Table> = OnceLock::new();
    if let Some(last) = LAST_FOUND.get() {
        if last.name.as_bytes().eq_ignore_ascii_case(name) {
            return Some(last);
        }
    }
    let table = TABLE.get_or_init(|| all_specs().iter().map(|s| (s.name.as_bytes(), s)).collect());
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    let found = table.get(&lower[..name.len()]).copied();
    if found.is_some() {
        LAST_FOUND.set(found);
    }
    found
}

/// The FNV-1a hash, for the command table.
#[derive(Default)]
struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash = (hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for spec in all_specs() {
            assert_eq!(spec.name, spec.name.to_lowercase());
            assert!(seen.insert(spec.name), "duplicate command {}", spec.name);
            assert!(spec.arity != 0, "{} has arity 0", spec.name);
        }
    }

    #[test]
    fn spec_index_finds_table_entries_only() {
        let get = lookup(b"get").unwrap();
        assert_eq!(all_specs()[spec_index(get).unwrap()].name, "get");
        let outside = Spec::new("get", 2, 0, |_, _| Ok(Reply::ok()));
        assert_eq!(spec_index(&outside), None);
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"PiNg").map(|s| s.name), Some("ping"));
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn key_positions_follow_first_last_step() {
        let spec = Spec::new("mset", -3, 0, |_, _| Ok(Reply::ok())).keys(1, -1, 2);
        assert_eq!(spec.key_positions(5), vec![1, 3]);
        let spec = Spec::new("get", 2, 0, |_, _| Ok(Reply::ok())).keys(1, 1, 1);
        assert_eq!(spec.key_positions(2), vec![1]);
    }
}
