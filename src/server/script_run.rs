//! The Lua script running now, as the rest of the node sees it without the keyspace lock
//! (Redis's `curr_run_ctx` and `scriptIsTimedout`).
//!
//! A client's script runs on a thread of its own holding the keyspace lock, so the connection
//! tasks keep running meanwhile. While one is pending or running they do not take the lock: they
//! wait, and once the script has run longer than `busy-reply-threshold` ("busy") they answer
//! `-BUSY` to everything but the few commands Redis allows then (SCRIPT KILL, SHUTDOWN NOSAVE,
//! MULTI...). SCRIPT KILL asks the script to stop; its Lua hook sees the request and raises an
//! error the script cannot catch, unless the script already wrote (then it is unkillable, as in
//! Redis, except by SHUTDOWN NOSAVE).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::watch;

/// No stop requested.
const RUN: u8 = 0;
/// SCRIPT KILL.
const KILL: u8 = 1;
/// SHUTDOWN NOSAVE: stop even a script that wrote.
const FORCE: u8 = 2;

/// The state of the client script that runs off the connections' thread.
#[derive(Debug)]
pub struct ScriptRun {
    pending: AtomicBool,
    busy: AtomicBool,
    stop: AtomicU8,
    wrote: AtomicBool,
    changes: watch::Sender<u64>,
}

impl Default for ScriptRun {
    fn default() -> Self {
        ScriptRun {
            pending: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            stop: AtomicU8::new(RUN),
            wrote: AtomicBool::new(false),
            changes: watch::channel(0).0,
        }
    }
}

/// Why SCRIPT KILL could not stop the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillRefused {
    /// No script runs.
    NotBusy,
    /// It already changed the dataset.
    Unkillable,
}

impl KillRefused {
    /// Redis's error text.
    pub fn text(self) -> &'static str {
        match self {
            KillRefused::NotBusy => "NOTBUSY No scripts in execution right now.",
            KillRefused::Unkillable => {
                "UNKILLABLE Sorry the script already executed write commands against the \
                 dataset. You can either wait the script termination or kill the server in a \
                 hard way using the SHUTDOWN NOSAVE command."
            }
        }
    }
}

impl ScriptRun {
    fn notify(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// A script is about to run off-thread: from now on connections leave the lock to it.
    /// Called on the connections' thread before the script's thread is started.
    pub fn begin(&self) {
        self.busy.store(false, Ordering::SeqCst);
        self.stop.store(RUN, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.pending.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// The script finished (the lock is released).
    pub fn end(&self) {
        self.pending.store(false, Ordering::SeqCst);
        self.busy.store(false, Ordering::SeqCst);
        self.notify();
    }

    /// True from [`begin`](Self::begin) to [`end`](Self::end).
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// True once the running script passed `busy-reply-threshold`.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// The script passed `busy-reply-threshold` (its hook calls this).
    pub fn mark_busy(&self) {
        if !self.busy.swap(true, Ordering::SeqCst) {
            self.notify();
        }
    }

    /// The script ran a write command: SCRIPT KILL can no longer stop it.
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// SCRIPT KILL: asks a busy script to stop.
    pub fn kill(&self) -> Result<(), KillRefused> {
        if !self.is_pending() {
            return Err(KillRefused::NotBusy);
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Err(KillRefused::Unkillable);
        }
        self.stop.fetch_max(KILL, Ordering::SeqCst);
        Ok(())
    }

    /// SHUTDOWN NOSAVE: stops the script even if it wrote.
    pub fn force_kill(&self) {
        self.stop.store(FORCE, Ordering::SeqCst);
    }

    /// True once the script must stop (its hook and its pcall wrapper check this).
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst) != RUN
    }

    /// Resolves after the next change (begin, busy, end).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits until no script is pending.
    pub async fn idle(&self) {
        let mut changes = self.subscribe();
        while self.is_pending() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_is_refused_when_idle_or_after_a_write() {
        let run = ScriptRun::default();
        assert_eq!(run.kill(), Err(KillRefused::NotBusy));
        run.begin();
        run.mark_busy();
        assert!(run.is_busy());
        run.note_write();
        assert_eq!(run.kill(), Err(KillRefused::Unkillable));
        assert!(!run.stop_requested());
        run.force_kill();
        assert!(run.stop_requested());
        run.end();
        run.begin();
        assert!(!run.stop_requested() && !run.is_busy());
        assert_eq!(run.kill(), Ok(()));
        assert!(run.stop_requested());
    }
}
