//! Regression tests of the fixes the project carries in its patched wasmi
//! (`vendor/patches/`, described in `vendor/README.md`). Each failed on wasmi 2.0.0 as
//! published; keep them when moving to a wasmi release that includes the fixes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{instantiate, ints, no_imports, run};
use wasmex_core::{
    engine::EngineOptions,
    store::{Limits, Store},
    value::Input,
};

/// A loop that counts its iterations in a global and grows a table by 64 elements (4 fuel)
/// in each: `count(n)` returns the global and the table's size.
const TABLE_GROW_LOOP: &str = r#"(module
  (table $t 0 funcref)
  (global $n (mut i32) (i32.const 0))
  (func (export "count") (param $iters i32) (result i32 i32)
    (local $i i32)
    (loop $l
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (drop (table.grow $t (ref.null func) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $iters))))
    (global.get $n)
    (table.size $t))
  (func (export "grow") (param $delta i32) (result i32 i32)
    (table.grow $t (ref.null func) (local.get $delta))
    (table.size $t)))"#;

/// wasmi 2.0.0's `table.grow` ran out of fuel without saving its instruction pointer: the
/// call resumed at an older one and ran the instructions before it again.
#[test]
fn table_grow_across_slice_boundaries_runs_each_instruction_once() {
    let engine = EngineOptions::default().engine();
    let iterations = 5_000;
    let mut fuel = Vec::new();
    // Slices that end at every kind of place in the loop, and the calibrated slice.
    for slice in [Some(97), Some(1_000), Some(10_000), None] {
        let mut store = Store::new(&engine, Some(u64::MAX), &Limits::default());
        store.set_slice(slice);
        let instance = instantiate(&mut store, &engine, TABLE_GROW_LOOP, &[]);
        let ran = run(
            &mut store,
            instance,
            "count",
            &[Input::Int(iterations.into())],
            &mut no_imports,
            100_000,
        )
        .unwrap();
        assert_eq!(
            ints(&ran.results),
            [iterations, 64 * iterations],
            "slice {slice:?}"
        );
        fuel.push(ran.fuel.unwrap());
    }
    assert!(
        fuel.windows(2).all(|w| w[0] == w[1]),
        "fuel differs: {fuel:?}"
    );
}

/// One `table.grow` that needs more fuel than a slice (600,000 elements: 37,500 fuel) gets
/// a slice of its own and ends; on wasmi 2.0.0 it started over for ever.
#[test]
fn a_table_grow_bigger_than_a_slice_finishes() {
    let engine = EngineOptions::default().engine();
    let mut store = Store::new(&engine, Some(u64::MAX), &Limits::default());
    store.set_slice(Some(10_000));
    let instance = instantiate(&mut store, &engine, TABLE_GROW_LOOP, &[]);
    let ran = run(
        &mut store,
        instance,
        "grow",
        &[Input::Int(600_000)],
        &mut no_imports,
        1_000,
    )
    .unwrap();
    assert_eq!(ints(&ran.results), [0, 600_000]);
    assert!(ran.fuel.unwrap() >= 600_000 * 4 / 64);
}

/// A function wasmi validates but cannot translate (40,000 `v128` locals need more than its
/// 65,535 stack slots), followed by `nops` bytes of `nop`.
fn untranslatable(nops: usize) -> String {
    format!(
        r#"(module (func (export "f") (local {}) {}))"#,
        "v128 ".repeat(40_000),
        "nop ".repeat(nops)
    )
}

/// With lazy translation, a big function is translated when its module is compiled (on a
/// dirty scheduler for big modules), never inside a call's slice; small ones on first call.
#[test]
fn big_functions_are_translated_when_their_module_is_compiled() {
    use wasmex_core::{
        engine::{CompilationMode, LAZY_TRANSLATION_MAX_BYTES},
        module::Module,
    };
    let lazy = EngineOptions::default().engine();
    let eager = EngineOptions {
        compilation_mode: CompilationMode::Eager,
        ..EngineOptions::default()
    }
    .engine();

    // Small: translated on its first call.
    let small = untranslatable(0);
    assert!(Module::compile(&eager, small.as_bytes()).is_err());
    let module = Module::compile(&lazy, small.as_bytes()).unwrap();
    let mut store = Store::new(&lazy, None, &Limits::default());
    let instance = wasmex_core::instance::instantiate(&mut store, &module, &[], &[])
        .unwrap()
        .instance;
    let error = run(&mut store, instance, "f", &[], &mut no_imports, 10).unwrap_err();
    assert!(error.to_string().contains("too many"), "{error}");

    // Just over the limit: translated, and refused, when compiled.
    let big = untranslatable(LAZY_TRANSLATION_MAX_BYTES);
    let error = Module::compile(&lazy, big.as_bytes()).err().unwrap();
    assert!(error.to_string().contains("too many"), "{error}");
    // Just under it: on first call.
    let under = untranslatable(LAZY_TRANSLATION_MAX_BYTES - 16);
    assert!(Module::compile(&lazy, under.as_bytes()).is_ok());
}

/// A module of `n` functions whose bodies are `reps` additions inside an `if` that is never
/// taken (translated, but charged no fuel), and `entry`, which calls them all once.
fn untaken_bodies(n: u32, reps: usize) -> String {
    let addition = "local.get 0 i32.const 1 i32.add local.set 0 ";
    let callee = format!(
        "(func (result i32) (local i32) (if (local.get 0) (then {})) (local.get 0))\n",
        addition.repeat(reps)
    );
    let calls: String = (0..n).map(|i| format!("(call {i}) i32.add ")).collect();
    format!(
        r#"(module {} (func (export "entry") (result i32) i32.const 7 {calls}))"#,
        callee.repeat(n as usize)
    )
}

/// Code that is translated but never run costs no fuel: lazily translating many such
/// functions in one slice took as long as the whole module's translation (47 ms for 4.8 MB
/// here). Translation now yields: the call suspends after each 16 KiB or so translated, and
/// goes on (in place, or in the next host invocation once the time budget is spent).
#[test]
fn lazy_translation_yields_and_uses_no_fuel() {
    use wasmex_core::{engine::CompilationMode, module::Module};
    // 100 functions of 14 KB each: 1.4 MB to translate, about 12 ms.
    let wasm = untaken_bodies(100, 2_000);
    let wasm = wasm.as_bytes();
    let mut fuel = Vec::new();
    for mode in [CompilationMode::LazyTranslation, CompilationMode::Eager] {
        let engine = EngineOptions {
            compilation_mode: mode,
            ..EngineOptions::default()
        }
        .engine();
        let module = Module::compile(&engine, wasm).unwrap();
        let mut store = Store::new(&engine, Some(u64::MAX), &Limits::default());
        // One slice could run the whole call.
        store.set_slice(Some(100_000_000));
        let instance = wasmex_core::instance::instantiate(&mut store, &module, &[], &[])
            .unwrap()
            .instance;
        let ran = run(&mut store, instance, "entry", &[], &mut no_imports, 10_000).unwrap();
        assert_eq!(ints(&ran.results), [7]);
        if mode == CompilationMode::LazyTranslation {
            assert!(ran.invocations >= 5, "{} host invocations", ran.invocations);
        }
        fuel.push(ran.fuel.unwrap());
    }
    assert_eq!(
        fuel[0], fuel[1],
        "lazy and eager translation use different fuel"
    );
}

/// A guest that loops over `memory.grow` or `table.grow`, succeeding or failing.
const GROW_LOOPS: &str = include_str!("../../../test/fixtures/wat/grow_loops.wat");

/// wasmi 2.0.0's `memory.grow` and `table.grow` handlers passed stack slots to the store
/// and so called the next instruction's handler instead of tail-calling it: every grow,
/// failed or not, left a native stack frame until the slice ended. A loop of failing
/// grows in one slice overflowed the stack and crashed the process (the BEAM included: a
/// scheduler thread's stack is small). This runs the loops on a thread with a 256 KiB
/// stack, in slices of up to 100,000,000 fuel.
#[test]
fn grow_loops_run_in_constant_native_stack() {
    let worker = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let engine = EngineOptions::default().engine();
            let mut store = Store::new(&engine, None, &Limits::default());
            store.set_slice(Some(100_000_000));
            let instance = instantiate(&mut store, &engine, GROW_LOOPS, &[]);
            let mut call = |name: &str, n: i32| {
                let ran = run(
                    &mut store,
                    instance,
                    name,
                    &[Input::Int(n.into())],
                    &mut no_imports,
                    10_000,
                );
                ints(&ran.unwrap().results)
            };
            assert_eq!(call("memory_fails", 1_000_000), [1]);
            // 250 MiB in 4,000 steps; a 32-bit host may run out of address space first.
            let [size] = call("memory_grows", 4_000)[..] else {
                panic!("memory_grows returns one i32")
            };
            assert!((1_000..=4_001).contains(&size), "{size} pages");
            assert_eq!(call("table_fails", 1_000_000), [1]);
            assert_eq!(call("table_grows", 1_000_000), [1_000_001]);
        })
        .unwrap();
    worker.join().unwrap();
}
