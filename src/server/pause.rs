//! `CLIENT PAUSE` / `CLIENT UNPAUSE` (Redis's `pauseClients`, `networking.c`): while a pause is
//! in force, the commands it covers are postponed — the connection parks the client (it counts
//! as blocked) until the pause ends, then runs the command and the ones buffered after it, so
//! replies stay in order. `WRITE` covers commands that may change the dataset or feed the
//! replication stream (write commands, PUBLISH, EVAL, and EXEC of a transaction holding one);
//! `ALL` covers every command of a normal client. The dataset stays static meanwhile: lazy
//! expiry hides expired keys without deleting them, active expiry and eviction wait.
//!
//! The pause lives in the [`Engine`], so the decision to postpone is taken under the lock the
//! command runs under. The connection task waits for [`Shared::pause_changes`] or the pause's
//! end time: no polling.

use std::collections::HashSet;

use super::engine::{ClientId, Engine};
use super::Shared;

/// What a pause covers; a stronger pause (`All`) wins over a weaker one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    Write,
    All,
}

/// A pause in force until `until_ms` (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPause {
    pub mode: PauseMode,
    pub until_ms: i64,
}

/// The pause and the clients it holds.
#[derive(Debug, Default)]
pub struct PauseState {
    current: Option<ClientPause>,
    postponed: HashSet<ClientId>,
}

impl PauseState {
    /// True while a pause may be in force (its end time is checked by [`Engine::client_pause`]).
    pub fn is_set(&self) -> bool {
        self.current.is_some()
    }

    /// Clients parked by the pause (`blocked_clients` counts them, as Redis does).
    pub fn postponed_clients(&self) -> usize {
        self.postponed.len()
    }
}

impl Engine {
    /// Pauses clients until `until_ms` (Unix ms). A pause already in force keeps the later end
    /// and the stronger mode, as Redis's `pauseClients` does.
    pub fn pause_clients(&mut self, mode: PauseMode, until_ms: i64) {
        let pause = match self.pause.current {
            Some(old) => ClientPause {
                mode: old.mode.max(mode),
                until_ms: old.until_ms.max(until_ms),
            },
            None => ClientPause { mode, until_ms },
        };
        self.pause.current = Some(pause);
        for db in self.dbs.iter_mut() {
            db.set_expiry_mode(crate::store::db::ExpiryMode::HideOnly);
        }
    }

    /// Ends the pause (CLIENT UNPAUSE, or its time passed): expiry works again. The caller
    /// wakes the parked clients with [`wake_paused`].
    pub fn unpause_clients(&mut self) {
        if self.pause.current.take().is_some() {
            super::role::apply_expiry_mode(self);
        }
    }

    /// The pause in force at `now_ms`, ending it if its time has passed.
    pub fn client_pause(&mut self, now_ms: i64) -> Option<ClientPause> {
        let pause = self.pause.current?;
        if pause.until_ms <= now_ms {
            self.unpause_clients();
            return None;
        }
        Some(pause)
    }

    /// True while clients are paused: expiry and eviction wait.
    pub fn clients_paused(&mut self, now_ms: i64) -> bool {
        self.pause.current.is_some() && self.client_pause(now_ms).is_some()
    }

    /// Records that `client` waits for the pause to end.
    pub fn postpone(&mut self, client: ClientId) {
        self.pause.postponed.insert(client);
    }

    /// Records that `client` no longer waits (it runs again, or disconnected).
    pub fn resume(&mut self, client: ClientId) {
        if !self.pause.postponed.is_empty() {
            self.pause.postponed.remove(&client);
        }
    }
}

/// Wakes the clients parked by a pause so that they check it again.
pub fn wake_paused(shared: &Shared) {
    shared
        .pause_changes
        .send_modify(|generation| *generation += 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_pause_keeps_the_stronger_mode_and_the_later_end() {
        let mut engine = Engine::new(1);
        engine.pause_clients(PauseMode::All, 1_000);
        engine.pause_clients(PauseMode::Write, 5_000);
        assert_eq!(
            engine.client_pause(0),
            Some(ClientPause {
                mode: PauseMode::All,
                until_ms: 5_000
            })
        );
        assert_eq!(engine.client_pause(5_000), None);
        assert!(!engine.pause.is_set());
    }

    #[test]
    fn expired_keys_stay_while_paused_and_go_after() {
        let mut engine = Engine::new(1);
        let key = Bytes::from_static(b"k");
        engine.dbs[0].set(
            key.clone(),
            crate::store::Value::String(Bytes::from_static(b"v").into()),
        );
        engine.dbs[0].set_expire_time(&key, 10);
        engine.pause_clients(PauseMode::Write, 1_000);
        assert!(engine.dbs[0].get(&key, 20).is_none());
        assert!(!engine.dbs[0].has_expired());
        assert_eq!(engine.dbs[0].len(), 1);
        engine.unpause_clients();
        assert!(engine.dbs[0].get(&key, 20).is_none());
        assert_eq!(engine.dbs[0].take_expired(), vec![key]);
    }

    #[test]
    fn postponed_clients_are_counted_until_they_resume() {
        let mut engine = Engine::new(1);
        engine.postpone(7);
        engine.postpone(8);
        assert_eq!(engine.pause.postponed_clients(), 2);
        engine.resume(7);
        assert_eq!(engine.pause.postponed_clients(), 1);
    }
}
