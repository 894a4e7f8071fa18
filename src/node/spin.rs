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
//! at all (it waits for the next read); a server whose requests come further apart than the
//! window stops spinning after a few spells that caught nothing, and only probes now and then
//! ([`SpinPolicy`]); it never spins while other tasks wait for a CPU ([`CpuCrowd`]); and
//! `event-loop-spin-us 0` turns the spin off.
//!
//! The spin is one task on the connections' single-threaded runtime: it yields, and a runtime
//! with a yielded task polls epoll with a zero timeout instead of blocking, then runs whatever
//! became ready before coming back to it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Shared;

/// How often a server with the spin turned off looks whether CONFIG SET turned it on.
const CONFIG_RECHECK: Duration = Duration::from_secs(1);
/// Spells in a row that caught no read before the spin stops paying for itself: a client
/// whose requests come further apart than the window (a slow sequential client) would only
/// cost CPU, on a machine where that CPU may be what the client needs.
const MISSES_BEFORE_RESTING: u32 = 4;
/// While resting, one wake-up in this many still spins, to notice traffic that speeds up.
const PROBE_EVERY: u32 = 16;
/// How often the count of runnable tasks is read again while spinning.
const CROWD_RECHECK: Duration = Duration::from_millis(10);

/// Runs until the runtime stops.
pub async fn run(shared: Arc<Shared>) {
    let activity = &shared.client_activity;
    let mut policy = SpinPolicy::default();
    let mut crowd = CpuCrowd::new();
    loop {
        let window = spin_window(&shared);
        if window.is_zero() {
            tokio::time::sleep(CONFIG_RECHECK).await;
            continue;
        }
        activity.until_touched().await;
        let now = Instant::now();
        if !policy.on_wake(window, now, activity.reads(), crowd.crowded(now)) {
            continue;
        }
        loop {
            tokio::task::yield_now().await;
            let now = Instant::now();
            if !policy.after_poll(now, activity.reads(), crowd.crowded(now)) {
                break;
            }
        }
    }
}

/// Do other tasks want the CPUs? The spin is worth it only on a CPU nobody else would use:
/// with more runnable tasks than CPUs (six nodes and a benchmark on two cores), spinning
/// takes the time from the other nodes and the clients. Linux counts runnable tasks in the
/// fourth field of `/proc/loadavg` (this thread included); it is read at most every
/// [`CROWD_RECHECK`]. Where it cannot be read, the CPUs count as free.
struct CpuCrowd {
    cpus: usize,
    checked: Option<Instant>,
    crowded: bool,
}

impl CpuCrowd {
    fn new() -> CpuCrowd {
        CpuCrowd {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            checked: None,
            crowded: false,
        }
    }

    fn crowded(&mut self, now: Instant) -> bool {
        if self
            .checked
            .is_none_or(|at| now.duration_since(at) >= CROWD_RECHECK)
        {
            self.checked = Some(now);
            self.crowded = std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|text| runnable_tasks(&text))
                .is_some_and(|runnable| runnable > self.cpus);
        }
        self.crowded
    }
}

/// The runnable-task count of `/proc/loadavg` (`0.52 0.58 0.59 2/467 12345` gives 2).
fn runnable_tasks(loadavg: &str) -> Option<usize> {
    let field = loadavg.split_whitespace().nth(3)?;
    field.split_once('/')?.0.parse().ok()
}

/// When to spin and for how long. The driver reports each wake-up and, while spinning, each
/// poll, with the time and the read count; the policy reads no clock itself.
///
/// A spell lasts until `window` passes with no new read. A spell that caught at least one read
/// paid off; after [`MISSES_BEFORE_RESTING`] spells in a row that caught none, the policy
/// rests (does not spin) except on every [`PROBE_EVERY`]th wake-up, and a probe that catches a
/// read ends the rest.
///
/// It never spins while the CPUs are crowded (more runnable tasks than CPUs): a spell ends at
/// once, counted as neither a catch nor a miss, and a wake-up then does not spin.
#[derive(Debug, Default)]
struct SpinPolicy {
    /// Spells in a row that caught no read.
    misses: u32,
    /// Wake-ups since the policy began resting.
    rested_wakes: u32,
    spell: Option<Spell>,
}

#[derive(Debug)]
struct Spell {
    window: Duration,
    deadline: Instant,
    reads_seen: u64,
    caught: bool,
}

impl SpinPolicy {
    /// A read woke the parked loop: spin now?
    fn on_wake(&mut self, window: Duration, now: Instant, reads: u64, crowded: bool) -> bool {
        if crowded {
            return false;
        }
        if self.misses >= MISSES_BEFORE_RESTING {
            self.rested_wakes = self.rested_wakes.wrapping_add(1);
            if !self.rested_wakes.is_multiple_of(PROBE_EVERY) {
                return false;
            }
        }
        self.spell = Some(Spell {
            window,
            deadline: now + window,
            reads_seen: reads,
            caught: false,
        });
        true
    }

    /// After one poll while spinning: keep spinning? A new read renews the window; a spell
    /// ends at its deadline.
    fn after_poll(&mut self, now: Instant, reads: u64, crowded: bool) -> bool {
        let Some(spell) = &mut self.spell else {
            return false;
        };
        if reads != spell.reads_seen {
            spell.reads_seen = reads;
            spell.deadline = now + spell.window;
            spell.caught = true;
        }
        if !crowded && now < spell.deadline {
            return true;
        }
        // The spell ends: at its deadline, or at once when the CPUs are crowded (a spell cut
        // short by crowding is never counted as a miss).
        if spell.caught {
            self.misses = 0;
            self.rested_wakes = 0;
        } else if !crowded {
            self.misses = self.misses.saturating_add(1);
        }
        self.spell = None;
        false
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
        let mut policy = SpinPolicy::default();
        assert!(policy.on_wake(window, t0, 7, false));
        assert!(policy.after_poll(at(30), 7, false));
        assert!(policy.after_poll(at(49), 7, false));
        assert!(
            policy.after_poll(at(49), 8, false),
            "a read renews the window"
        );
        assert!(policy.after_poll(at(98), 8, false), "until 49 + 50");
        assert!(
            !policy.after_poll(at(99), 8, false),
            "50 µs without a read end it"
        );
        assert_eq!(policy.misses, 0, "the spell caught a read");
    }

    /// Runs one spell that catches nothing, from a wake-up at `t`; false if it did not spin.
    fn empty_spell(policy: &mut SpinPolicy, t: Instant, reads: u64) -> bool {
        let window = Duration::from_micros(50);
        if !policy.on_wake(window, t, reads, false) {
            return false;
        }
        assert!(policy.after_poll(t + Duration::from_micros(10), reads, false));
        assert!(!policy.after_poll(t + window, reads, false));
        true
    }

    #[test]
    fn spells_that_catch_nothing_make_it_rest_and_a_probe_that_catches_a_read_wakes_it() {
        let t0 = Instant::now();
        let mut policy = SpinPolicy::default();
        let mut t = t0;
        let mut reads = 0;
        // A slow client: every request comes after the window has run out.
        for _ in 0..MISSES_BEFORE_RESTING {
            reads += 1;
            t += Duration::from_micros(200);
            assert!(empty_spell(&mut policy, t, reads));
        }
        // Resting: only every PROBE_EVERY-th wake-up spins.
        let mut spun = 0;
        for _ in 0..2 * PROBE_EVERY {
            reads += 1;
            t += Duration::from_micros(200);
            if empty_spell(&mut policy, t, reads) {
                spun += 1;
            }
        }
        assert_eq!(spun, 2);
        // The client speeds up: the next probe catches a read, and spinning resumes for good.
        let mut woke_to_spin = 0;
        for _ in 0..PROBE_EVERY {
            reads += 1;
            t += Duration::from_micros(200);
            if policy.on_wake(Duration::from_micros(50), t, reads, false) {
                woke_to_spin += 1;
                assert!(policy.after_poll(t + Duration::from_micros(20), reads + 1, false));
                assert!(!policy.after_poll(t + Duration::from_micros(70), reads + 1, false));
                reads += 1;
                break;
            }
        }
        assert_eq!(woke_to_spin, 1);
        for _ in 0..3 {
            t += Duration::from_micros(200);
            reads += 1;
            assert!(
                policy.on_wake(Duration::from_micros(50), t, reads, false),
                "no longer resting"
            );
            assert!(!policy.after_poll(t + Duration::from_micros(50), reads, false));
        }
    }

    #[test]
    fn crowded_cpus_end_a_spell_at_once_and_keep_it_from_starting_without_counting_misses() {
        let window = Duration::from_micros(50);
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut policy = SpinPolicy::default();
        assert!(!policy.on_wake(window, t0, 1, true), "crowded: no spin");
        for round in 0..2 * MISSES_BEFORE_RESTING as u64 {
            let t = at(1_000 * round);
            assert!(policy.on_wake(window, t, 1, false));
            assert!(!policy.after_poll(t + Duration::from_micros(5), 1, true));
        }
        assert_eq!(policy.misses, 0, "crowding is not the spin's miss");
        assert!(policy.on_wake(window, at(100_000), 1, false), "not resting");
    }

    #[test]
    fn runnable_tasks_is_the_count_before_the_slash_of_the_fourth_field() {
        assert_eq!(runnable_tasks("0.52 0.58 0.59 2/467 12345\n"), Some(2));
        assert_eq!(runnable_tasks("5.01 4.69 2.94 13/81 22467"), Some(13));
        assert_eq!(runnable_tasks("0.52 0.58 0.59"), None);
        assert_eq!(runnable_tasks("0.52 0.58 0.59 x/467 1"), None);
        assert_eq!(runnable_tasks(""), None);
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
