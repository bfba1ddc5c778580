//! A guest's results and fuel never depend on how its call is sliced: the guests of
//! `tests/guests/sized_fuel*.wat` (every instruction class whose fuel depends on its
//! operands, calls, host calls, WASI calls) give the same results and use the same fuel
//! with 10,000-, 1,000,000- and 100,000,000-fuel slices, and with the calibrated slice
//! while other threads keep every CPU busy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sized_fuel::{run_all, Outcome};
use std::sync::atomic::{AtomicBool, Ordering};
use wasmex_core::engine::{CompilationMode, EngineOptions};

fn assert_same(reference: &[Outcome], outcomes: &[Outcome], what: &str) {
    for (expected, got) in reference.iter().zip(outcomes) {
        assert_eq!(got, expected, "{} differs {what}", expected.label);
    }
}

#[test]
fn results_and_fuel_do_not_depend_on_the_slice_size_or_the_load() {
    let engine = EngineOptions::default().engine();
    let reference = run_all(&engine, Some(10_000));
    let one_million = run_all(&engine, Some(1_000_000));
    assert_same(&reference, &one_million, "with 1,000,000-fuel slices");
    // The biggest slices on a thread with a small stack, as a BEAM scheduler's: wasmi's
    // handlers tail-call each other, so a long slice must not grow the native stack.
    let big_slices = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| run_all(&EngineOptions::default().engine(), Some(100_000_000)))
        .unwrap()
        .join()
        .unwrap();
    assert_same(&reference, &big_slices, "with 100,000,000-fuel slices");

    // The calibrated slice, measured while every CPU is busy: slices vary in size as they
    // are recalibrated.
    let stop = AtomicBool::new(false);
    let busy = std::thread::available_parallelism().map_or(2, usize::from);
    let calibrated = std::thread::scope(|scope| {
        for _ in 0..busy {
            scope.spawn(|| {
                let mut x = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(
                        x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                    );
                }
            });
        }
        let outcomes = run_all(&engine, None);
        stop.store(true, Ordering::Relaxed);
        outcomes
    });
    assert_same(
        &reference,
        &calibrated,
        "with the calibrated slice on a busy machine",
    );

    // Eagerly translated code uses the same fuel.
    let eager = EngineOptions {
        compilation_mode: CompilationMode::Eager,
        ..EngineOptions::default()
    }
    .engine();
    assert_same(
        &reference,
        &run_all(&eager, Some(10_000)),
        "when compiled eagerly",
    );
}
