//! Group commit for `appendfsync always`: one fsync per event-loop turn for every client
//! served in it.
//!
//! Each batch's writes reach the AOF file (`write`) as the batch runs, under the keyspace lock;
//! instead of an fsync per batch, the batch takes a ticket and its connection holds the replies
//! until an fsync that started after the ticket has completed. The fsync runs in the runtime's
//! syncer task (`aof_syncer`, beside the periodic tick), which is woken by the first ticket and
//! lets every other ready connection run its batch first, so one fsync covers them all, as
//! Redis's `beforeSleep` fsyncs once for all the clients of a turn before any reply is written.
//! Nothing is acknowledged before it is on disk; only the number of fsyncs changes.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{watch, Notify};

/// Tickets handed out and tickets covered by a completed fsync.
pub struct AofSync {
    requested: AtomicU64,
    synced: watch::Sender<u64>,
    wake: Notify,
}

impl Default for AofSync {
    fn default() -> Self {
        AofSync {
            requested: AtomicU64::new(0),
            synced: watch::channel(0).0,
            wake: Notify::new(),
        }
    }
}

impl std::fmt::Debug for AofSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AofSync")
            .field("requested", &self.requested())
            .field("synced", &*self.synced.borrow())
            .finish()
    }
}

impl AofSync {
    /// A ticket for writes just written to the AOF file; wakes the syncer.
    pub fn request(&self) -> u64 {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        ticket
    }

    /// The last ticket handed out (0 before the first).
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::SeqCst)
    }

    /// Waits until an fsync covering `ticket` has completed.
    pub async fn wait(&self, ticket: u64) {
        let mut synced = self.synced.subscribe();
        let _ = synced.wait_for(|&done| done >= ticket).await;
    }

    /// The syncer's side: waits for a ticket, and returns the last one handed out.
    pub async fn next_round(&self) -> u64 {
        self.wake.notified().await;
        self.requested()
    }

    /// The syncer's side: an fsync that started after `ticket` was handed out has completed.
    pub fn completed(&self, ticket: u64) {
        self.synced.send_modify(|done| *done = (*done).max(ticket));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_is_released_by_the_fsync_that_covers_its_ticket() {
        let sync = std::sync::Arc::new(AofSync::default());
        let first = sync.request();
        let second = sync.request();
        assert_eq!((first, second), (1, 2));
        let waiter = {
            let sync = sync.clone();
            tokio::spawn(async move { sync.wait(second).await })
        };
        // One round covers both tickets handed out before it started.
        let round = sync.next_round().await;
        assert_eq!(round, 2);
        sync.completed(1);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        sync.completed(round);
        waiter.await.unwrap();
        // An older ticket is released at once.
        sync.wait(first).await;
    }
}
