//! The event-loop spin: after client traffic, the runtime keeps polling its sockets for
//! `event-loop-spin-us` microseconds before it goes to sleep in `epoll_wait`.
//!
//! Why: a sleeping server must be woken by the kernel for the next request, and on loopback
//! that wake-up is paid on the client's side of the `write` (the send path runs the receiver's
//! wake-up) and again as scheduling latency before the server runs. A client that sends its
//! next request within the window finds the server still polling: no wake-up at all. With one
//! redis-benchmark connection this halves the round trip (about 63 µs to 31 µs here); with 50
//! connections at pipeline 1, where redis-benchmark's own thread is the bottleneck, it saves
//! the client about a tenth of its CPU per request. Linux's socket busy-polling
//! (`net.core.busy_poll`) trades CPU for latency the same way; Redis has no such option and
//! always sleeps.
//!
//! The price is CPU while traffic lasts: a server whose requests keep arriving within the
//! window uses its whole core instead of sleeping between them. An idle server does not spin
//! at all (it waits for the next read), and `event-loop-spin-us 0` turns the spin off.
//!
//! The spin is one task on the connections' single-threaded runtime: it yields, and a runtime
//! with a yielded task polls epoll with a zero timeout instead of blocking, then runs whatever
//! became ready before coming back to it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Shared;

/// How often a server with the spin turned off looks whether CONFIG SET turned it on.
const CONFIG_RECHECK: Duration = Duration::from_secs(1);

/// Runs until the runtime stops.
pub async fn run(shared: Arc<Shared>) {
    let activity = &shared.client_activity;
    loop {
        let window = spin_window(&shared);
        if window.is_zero() {
            tokio::time::sleep(CONFIG_RECHECK).await;
            continue;
        }
        activity.until_touched().await;
        let mut spin = Spin::start(window, Instant::now(), activity.reads());
        loop {
            tokio::task::yield_now().await;
            if !spin.keep_going(Instant::now(), activity.reads()) {
                break;
            }
        }
    }
}

/// One spell of spinning: it lasts until `window` passes with no new read.
struct Spin {
    window: Duration,
    deadline: Instant,
    reads_seen: u64,
}

impl Spin {
    fn start(window: Duration, now: Instant, reads: u64) -> Spin {
        Spin {
            window,
            deadline: now + window,
            reads_seen: reads,
        }
    }

    /// After one poll: a new read renews the window; otherwise the spell ends at the deadline.
    fn keep_going(&mut self, now: Instant, reads: u64) -> bool {
        if reads != self.reads_seen {
            self.reads_seen = reads;
            self.deadline = now + self.window;
            true
        } else {
            now < self.deadline
        }
    }
}

fn spin_window(shared: &Shared) -> Duration {
    Duration::from_micros(shared.config().event_loop_spin_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, LogLevel};
    use crate::server::events::EventBus;
    use crate::server::log::Logger;

    fn shared_with_window(us: u64) -> Arc<Shared> {
        let mut config = Config::default();
        config.databases = 16;
        config.event_loop_spin_us = us;
        let events = EventBus::new(Logger::stdout(LogLevel::Warning));
        Arc::new(Shared::new(config, None, events))
    }

    /// Yields (real time passing) until `done` holds; false after 10 s.
    async fn eventually(done: impl Fn() -> bool) -> bool {
        let give_up = Instant::now() + Duration::from_secs(10);
        while Instant::now() < give_up {
            if done() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        false
    }

    #[test]
    fn a_read_renews_the_window_and_silence_ends_the_spell() {
        let window = Duration::from_micros(50);
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut spin = Spin::start(window, t0, 7);
        assert!(spin.keep_going(at(30), 7));
        assert!(spin.keep_going(at(49), 7));
        assert!(spin.keep_going(at(49), 8), "a read renews the window");
        assert!(spin.keep_going(at(98), 8), "until 49 + 50");
        assert!(!spin.keep_going(at(99), 8), "50 µs without a read end it");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_spin_parks_when_idle_runs_after_a_read_and_parks_again_after_the_window() {
        let shared = shared_with_window(2_000);
        let spinner = tokio::spawn(run(shared.clone()));
        let activity = &shared.client_activity;
        assert!(eventually(|| activity.parked()).await, "idle: parked");
        activity.touch();
        assert!(!activity.parked(), "a read wakes the spinner");
        assert!(
            eventually(|| activity.parked()).await,
            "no reads: parked again"
        );
        spinner.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_zero_window_never_spins() {
        let shared = shared_with_window(0);
        let spinner = tokio::spawn(run(shared.clone()));
        tokio::task::yield_now().await;
        shared.client_activity.touch();
        tokio::task::yield_now().await;
        // Turned off, the spinner never parks on the activity signal: reads cost no wake-up.
        assert!(!shared.client_activity.parked());
        spinner.abort();
    }
}
