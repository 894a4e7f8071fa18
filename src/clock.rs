//! The clocks a node reads on every command: the wall clock (Redis's `ustime`/`mstime`, the
//! command's time for expiry) and the timer of how long a command runs (`INFO commandstats`,
//! SLOWLOG, LATENCY).
//!
//! A read of the system's clock costs tens of nanoseconds through the vDSO, a few percent of a
//! pipelined command. Once the CPU's cycle counter is calibrated against the system's
//! monotonic clock ([`calibrate`] starts that on a thread at start-up: `quanta` spins for at
//! least half a millisecond), both clocks come from it: the wall clock is the realtime clock
//! read at an anchor plus the cycle-counter time since, re-anchored every
//! [`REANCHOR_NS`], so it follows a step of the system's clock within that time and never drifts
//! from it by more than the counter's calibration error over that interval (microseconds).
//! Until then, and on machines without a stable counter (where `quanta` itself falls back to
//! the monotonic clock), the system's clocks are read directly.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// How long an anchor of the wall clock is used before the realtime clock is read again.
pub const REANCHOR_NS: u64 = 50_000_000;

/// Set once the cycle counter is calibrated.
static CALIBRATED: AtomicBool = AtomicBool::new(false);
/// The cycle-counter instant all thread anchors count from.
static ORIGIN: OnceLock<quanta::Instant> = OnceLock::new();

thread_local! {
    /// This thread's anchor: (nanoseconds since [`ORIGIN`], realtime in µs), read together.
    /// Per thread, so a reader never sees half of another thread's re-anchoring.
    static ANCHOR: Cell<Option<(u64, i64)>> = const { Cell::new(None) };
}

/// Calibrates the cycle counter on a thread of its own; the clocks use it once it is ready.
pub fn calibrate() {
    std::thread::spawn(|| {
        ORIGIN.get_or_init(quanta::Instant::now);
        CALIBRATED.store(true, Ordering::Release);
    });
}

/// The realtime clock from the system, in µs since the Unix epoch.
fn system_unix_us() -> i64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } != 0 {
        return 0;
    }
    now.tv_sec * 1_000_000 + now.tv_nsec / 1000
}

/// Nanoseconds on the calibrated cycle counter since [`ORIGIN`], if it is ready.
fn counter_ns() -> Option<u64> {
    if !CALIBRATED.load(Ordering::Acquire) {
        return None;
    }
    let origin = ORIGIN.get()?;
    Some(quanta::Instant::now().duration_since(*origin).as_nanos() as u64)
}

/// Microseconds since the Unix epoch (Redis's `ustime`).
pub fn unix_us() -> i64 {
    match counter_ns() {
        Some(now_ns) => anchored_unix_us(now_ns),
        None => system_unix_us(),
    }
}

/// The wall clock at counter time `now_ns`, from this thread's anchor.
fn anchored_unix_us(now_ns: u64) -> i64 {
    ANCHOR.with(|anchor| match anchor.get() {
        Some((at_ns, at_us)) if now_ns.wrapping_sub(at_ns) < REANCHOR_NS => {
            at_us + ((now_ns - at_ns) / 1000) as i64
        }
        _ => {
            let us = system_unix_us();
            anchor.set(Some((now_ns, us)));
            us
        }
    })
}

/// Milliseconds since the Unix epoch (Redis's `mstime`).
pub fn unix_ms() -> i64 {
    unix_us() / 1000
}

/// The start of a timed stretch (a command); [`Timer::elapsed_us`] reads its length.
#[derive(Debug, Clone, Copy)]
pub struct Timer(TimerStart);

#[derive(Debug, Clone, Copy)]
enum TimerStart {
    Counter(u64),
    System(std::time::Instant),
}

impl Timer {
    pub fn start() -> Timer {
        Timer::start_at_unix_ms().0
    }

    /// A timer started now, and the wall clock in Unix milliseconds, from one read of the
    /// clock (a command's start: its time and the start of its duration).
    pub fn start_at_unix_ms() -> (Timer, i64) {
        match counter_ns() {
            Some(ns) => (Timer(TimerStart::Counter(ns)), anchored_unix_us(ns) / 1000),
            None => (
                Timer(TimerStart::System(std::time::Instant::now())),
                system_unix_us() / 1000,
            ),
        }
    }

    /// Microseconds since [`Timer::start`].
    pub fn elapsed_us(&self) -> u64 {
        match self.0 {
            // Once calibrated, always: an end read finds the counter its start found.
            TimerStart::Counter(ns) => counter_ns().map_or(0, |now| now.saturating_sub(ns) / 1000),
            TimerStart::System(at) => at.elapsed().as_micros() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_follows_the_system_clock_before_and_after_calibration() {
        let check = || {
            for _ in 0..1000 {
                let before = system_unix_us();
                let ours = unix_us();
                let after = system_unix_us();
                // An anchored read is off by the counter's error since its anchor, microseconds;
                // 200 µs is far above that.
                assert!(
                    before - 200 <= ours && ours <= after + 200,
                    "{before} <= {ours} <= {after}"
                );
            }
        };
        check();
        calibrate();
        for _ in 0..2000 {
            if CALIBRATED.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(
            CALIBRATED.load(Ordering::Acquire),
            "calibration did not finish in 2 s"
        );
        check();
        let started = Timer::start();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let us = started.elapsed_us();
        assert!((19_000..2_000_000).contains(&us), "{us} µs");
    }
}
