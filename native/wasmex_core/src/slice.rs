//! How long guest code runs before the host gets control back.
//!
//! Two units: a *fuel slice* is the fuel wasmi runs before it suspends (cheap: ~130 ns to
//! suspend and resume in place); the *budget* is the wall time one host invocation (one
//! NIF call) may spend on slices before it returns to the BEAM, which then may schedule
//! another process. A NIF on a normal scheduler should return within about a millisecond.
//!
//! The fuel slice is calibrated at run time so that one slice takes about [`TARGET`] on
//! whatever CPU this runs on: wasmi runs a few million units of fuel per millisecond on a
//! desktop x86 core and several times fewer on a Cortex-A53, so a fixed slice would make
//! the budget overshoot on slow boards. Every slice that used a good part of its fuel is a
//! sample of fuel per nanosecond; the slice follows those samples, a bounded step at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Wall time one host invocation runs guest code for before it yields, well inside the
/// BEAM's 1 ms NIF guideline. An invocation ends within about `BUDGET + TARGET`.
///
/// Measured with 2 × schedulers processes running endless guests (bench W7): a 500 µs
/// budget made a 1 ms timer fire 2.1 ms late (p99 3.1 ms); 200 µs makes it 1.0 ms late
/// (p99 1.2 ms), the same as an idle BEAM. Each yield costs well under a microsecond.
pub const BUDGET: Duration = Duration::from_micros(200);

/// Wall time one fuel slice aims at.
pub const TARGET: Duration = Duration::from_micros(50);

/// The first slice before any sample: short enough for a slow 32-bit ARM board.
pub const INITIAL: u64 = 30_000;

/// Slices never go below this: the cost of a suspend/resume (~130 ns) stays negligible.
pub const MIN: u64 = 10_000;

/// Slices never go above this, whatever a sample says.
pub const MAX: u64 = 100_000_000;

static FUEL_PER_SLICE: AtomicU64 = AtomicU64::new(INITIAL);

/// The current slice size in units of fuel.
pub fn current() -> u64 {
    FUEL_PER_SLICE.load(Ordering::Relaxed)
}

/// Records that a slice used `used` of its `budget` fuel in `elapsed` wall time.
///
/// Samples that used less than a quarter of the budget are too short to say much and are
/// ignored. One sample moves the slice by at most a factor of two, so a single odd slice
/// (a page fault, a bulk `memory.fill`, a preempted thread) cannot swing it far.
pub fn record(used: u64, budget: u64, elapsed: Duration) {
    let nanos = elapsed.as_nanos();
    if used == 0 || used < budget / 4 || nanos == 0 {
        return;
    }
    let current = current();
    let ideal = u128::from(used) * TARGET.as_nanos() / nanos;
    let ideal = u64::try_from(ideal).unwrap_or(MAX);
    let bounded = ideal.clamp(current / 2, current.saturating_mul(2));
    // An exponential moving average: three parts old, one part new.
    let next = (current.saturating_mul(3) / 4 + bounded / 4).clamp(MIN, MAX);
    FUEL_PER_SLICE.store(next, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_the_measured_speed_within_bounds() {
        // One test touches the global so that parallel tests cannot race on it.
        FUEL_PER_SLICE.store(MIN, Ordering::Relaxed);
        // A CPU doing 1 fuel/ns: the ideal 50 µs slice is 50_000 fuel.
        for _ in 0..50 {
            let slice = current();
            record(slice, slice, Duration::from_nanos(slice));
        }
        let settled = current();
        assert!((45_000..=55_000).contains(&settled), "settled at {settled}");

        // A sample that used little of its budget says nothing.
        record(10, settled, Duration::from_secs(1));
        assert_eq!(current(), settled);

        // A pathological slow sample moves the slice by at most a factor of two.
        record(settled, settled, Duration::from_secs(10));
        assert!(current() >= settled / 2);

        // Never below MIN.
        for _ in 0..100 {
            let slice = current();
            record(slice, slice, Duration::from_secs(1));
        }
        assert_eq!(current(), MIN);
    }
}
