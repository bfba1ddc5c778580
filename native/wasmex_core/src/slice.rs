//! The size of a fuel slice, calibrated at run time so that one slice of guest code takes
//! about [`TARGET`] of wall time on whatever CPU this runs on.
//!
//! A NIF on a normal scheduler should return within about a millisecond. wasmi runs a few
//! million units of fuel per millisecond on a desktop x86 core and several times fewer on a
//! Cortex-A53, so a fixed slice would be either too long on slow boards or needlessly short
//! (more round trips) on fast ones. Every slice that used a good part of its budget is a
//! sample of fuel per nanosecond; the slice follows those samples, a bounded step at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Wall time one slice aims at: half the BEAM's 1 ms NIF budget, to leave room for spread.
pub const TARGET: Duration = Duration::from_micros(500);

/// The first slice before any sample: short enough for a slow 32-bit ARM board.
pub const INITIAL: u64 = 100_000;

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
        FUEL_PER_SLICE.store(INITIAL, Ordering::Relaxed);
        // A CPU doing 1 fuel/ns: the ideal 500 µs slice is 500_000 fuel.
        for _ in 0..50 {
            let slice = current();
            record(slice, slice, Duration::from_nanos(slice));
        }
        let settled = current();
        assert!(
            (450_000..=550_000).contains(&settled),
            "settled at {settled}"
        );

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
