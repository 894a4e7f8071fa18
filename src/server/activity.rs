//! A signal that client traffic arrived, for the runtime's event-loop spin
//! (`event-loop-spin-us`, see `node::spin`).
//!
//! Connections call [`ClientActivity::touch`] after each read of client requests; the spinner
//! compares [`ClientActivity::reads`] to tell whether traffic continues, and when it has none
//! parks in [`ClientActivity::until_touched`] until the next read. A touch costs one atomic
//! add and one load, plus a wake-up only for the first read after the spinner parked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct ClientActivity {
    reads: AtomicU64,
    parked: AtomicBool,
    wake: Notify,
}

impl ClientActivity {
    /// A connection read client requests.
    pub fn touch(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// How many reads so far: a change means traffic arrived in between.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Is a waiter parked (the spinner sleeping until the next read)?
    pub fn parked(&self) -> bool {
        self.parked.load(Ordering::Relaxed)
    }

    /// Waits for the next [`touch`](Self::touch). A touch between the flag and the wait is not
    /// lost: `notify_one` keeps a permit for the coming wait.
    pub async fn until_touched(&self) {
        self.parked.store(true, Ordering::Release);
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_touch_wakes_the_parked_waiter_and_only_then_costs_a_wake_up() {
        let activity = std::sync::Arc::new(ClientActivity::default());
        activity.touch();
        assert_eq!(activity.reads(), 1);
        // Not parked: no permit was stored, so a wait now blocks until the next touch.
        let waiter = tokio::spawn({
            let activity = activity.clone();
            async move { activity.until_touched().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        activity.touch();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the touch woke the waiter")
            .unwrap();
        assert_eq!(activity.reads(), 2);
        assert!(!activity.parked());
    }

    #[tokio::test]
    async fn a_touch_between_parking_and_waiting_is_not_lost() {
        let activity = ClientActivity::default();
        activity.parked.store(true, Ordering::Release);
        activity.touch();
        tokio::time::timeout(std::time::Duration::from_secs(10), activity.until_touched())
            .await
            .expect("the permit from the earlier touch ends the wait");
    }
}
