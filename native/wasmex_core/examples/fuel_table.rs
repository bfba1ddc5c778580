//! Runs a fixed set of guests through the library's call machinery (fuel slices, user
//! fuel, host calls, WASI) and prints, for each, its results and the exact fuel it used:
//! one line per guest, `name<TAB>results<TAB>fuel`. `scripts/cross-check` runs it on every
//! target (under qemu) and compares the tables: results and fuel must be the same on every
//! CPU.
//!
//! ```text
//! cargo run --release -p wasmex_core --example fuel_table -- .
//! ```
//!
//! The argument is the repository root (guests come from `bench/guests` and
//! `test/fixtures/wasi`; those of `tests/guests` are built in).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The guests and the call driver of the engine's tests.
#[path = "../tests/common/mod.rs"]
mod common;

use common::sized_fuel::{answer_twice, fnv1a, show, twice_import};
use wasmex_core::{
    engine::{Engine, EngineOptions},
    instance,
    module::Module,
    store::{Limits, Store},
    value::Input,
    wasi::{self, Output, WasiOptions},
};
use wasmi::Val;

/// A call: export name and i32 arguments.
type Invoke = (&'static str, &'static [i32]);

/// Label, guest file (relative to the root), setup calls, measured call.
const FILE_CASES: &[(&str, &str, &[Invoke], Invoke)] = &[
    ("fib(20)", "bench/guests/fib.wasm", &[], ("fib", &[20])),
    (
        "sha256(64 KiB)",
        "bench/guests/sha256.wasm",
        &[("fill", &[65_536, 7])],
        ("sha256", &[65_536]),
    ),
    (
        "sha256 word 0",
        "bench/guests/sha256.wasm",
        &[("fill", &[1000, 5]), ("sha256", &[1000])],
        ("digest_word", &[0]),
    ),
    ("mix(3)", "bench/guests/mix.wasm", &[], ("run", &[3])),
    (
        "startup_100k entry(42)",
        "bench/guests/startup_100k.wasm",
        &[],
        ("entry", &[42]),
    ),
];

/// WAT guests with float, SIMD, memory and import code: NaN bits, lane shuffles, growth
/// and host round trips must agree too.
const WAT_CASES: &[(&str, &str, Invoke)] = &[
    (
        "f32 nan bits",
        r#"(module (func (export "f") (result i32)
            (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0)))))"#,
        ("f", &[]),
    ),
    (
        "f64 math",
        r#"(module (func (export "f") (result i64)
            (i64.reinterpret_f64 (f64.sqrt (f64.mul (f64.const 2.5) (f64.const 1.1))))))"#,
        ("f", &[]),
    ),
    (
        "simd lanes",
        r#"(module (func (export "f") (result i32)
            (i32x4.extract_lane 2 (i32x4.mul (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8)))))"#,
        ("f", &[]),
    ),
    (
        "memory.grow x 8",
        r#"(module (memory 1)
            (func (export "f") (result i32) (local $i i32)
              (loop $l
                (drop (memory.grow (i32.const 1)))
                (i32.store (i32.mul (memory.size) (i32.const 65532)) (local.get $i))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 8))))
              (memory.size)))"#,
        ("f", &[]),
    ),
    (
        "1000 host calls",
        r#"(module (import "env" "twice" (func $twice (param i32) (result i32)))
            (func (export "f") (param $n i32) (result i32) (local $acc i32)
              (loop $l
                (local.set $acc (i32.add (local.get $acc) (call $twice (local.get $n))))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br_if $l (local.get $n)))
              (local.get $acc)))"#,
        ("f", &[1000]),
    ),
];

/// Calls `name` to the end: resumes yields, answers `twice` imports.
fn run(store: &mut Store, instance: wasmi::Instance, (name, args): Invoke) -> Vec<Val> {
    let inputs: Vec<Input> = args.iter().map(|n| Input::Int((*n).into())).collect();
    common::run(
        store,
        instance,
        name,
        &inputs,
        &mut answer_twice,
        usize::MAX,
    )
    .unwrap()
    .results
}

/// Runs `setup` then measures `invoke` in `store`; returns the results and fuel used.
fn measure(
    mut store: Store,
    engine: &Engine,
    bytes: &[u8],
    setup: &[Invoke],
    invoke: Invoke,
) -> (String, u64) {
    let module = Module::compile(engine, bytes).unwrap();
    let imports = if module
        .imports()
        .iter()
        .any(|(namespace, ..)| namespace == "env")
    {
        twice_import()
    } else {
        Vec::new()
    };
    let instance = instance::instantiate(&mut store, &module, &imports, &[])
        .unwrap()
        .instance;
    for call in setup {
        run(&mut store, instance, *call);
    }
    let before = store.fuel().unwrap();
    let results = run(&mut store, instance, invoke);
    let used = before - store.fuel().unwrap();
    (show(&results), used)
}

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let engine = EngineOptions::default().engine();
    let fresh = || Store::new(&engine, Some(u64::MAX), &Limits::default());

    for (label, file, setup, invoke) in FILE_CASES {
        let bytes = std::fs::read(format!("{root}/{file}")).unwrap();
        let (results, fuel) = measure(fresh(), &engine, &bytes, setup, *invoke);
        println!("{label}\t{results}\t{fuel}");
    }
    for (label, wat, invoke) in WAT_CASES {
        let (results, fuel) = measure(fresh(), &engine, wat.as_bytes(), &[], *invoke);
        println!("{label}\t{results}\t{fuel}");
    }

    // Every instruction class whose fuel depends on its operands, calls, host calls and WASI
    // calls, with the calibrated slice (tests/guests/sized_fuel*.wat).
    for outcome in common::sized_fuel::run_all(&engine, None) {
        println!("{}\t{}\t{}", outcome.label, outcome.results, outcome.fuel);
    }

    // A C program built with wasi-libc: printf, qsort, argv and environment handling.
    let bytes = std::fs::read(format!("{root}/test/fixtures/wasi/wasi_tool.wasm")).unwrap();
    for args in [
        &["wasi_tool", "args", "b", "a", "c"][..],
        &["wasi_tool", "env"][..],
    ] {
        let stdout = wasi::Pipe::default();
        let options = WasiOptions {
            args: args.iter().map(|arg| (*arg).to_string()).collect(),
            env: vec![("HOME".into(), "/".into()), ("LANG".into(), "C".into())],
            stdout: Output::Pipe(stdout.clone()),
            ..WasiOptions::default()
        };
        let store = Store::new_wasi(&engine, Some(u64::MAX), &Limits::default(), &options).unwrap();
        let (results, fuel) = measure(store, &engine, &bytes, &[], ("_start", &[]));
        let output = stdout.contents();
        // `_start` returns nothing: the output stands for the results.
        println!(
            "wasi {}\t{results}stdout {:016x}\t{fuel}",
            args[1..].join(" "),
            fnv1a(&output)
        );
    }

    // A deterministic WASI run (wasi_checks.c `det`): with virtual clocks, seeded random
    // bytes and stable file metadata, its whole output is the same on every CPU too.
    let dir = std::env::temp_dir().join(format!("wasmex-fuel-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "ay").unwrap();
    let bytes = std::fs::read(format!("{root}/test/fixtures/wasi/wasi_checks.wasm")).unwrap();
    let stdout = wasi::Pipe::default();
    let options = WasiOptions {
        args: ["wasi_checks", "det", "/data"].map(String::from).to_vec(),
        preopens: vec![wasi::Preopen {
            path: dir.clone(),
            guest: "/data".into(),
        }],
        stdout: Output::Pipe(stdout.clone()),
        deterministic: Some(wasi::Deterministic {
            clock_start: 1_700_000_000_000_000_000,
            random_seed: Some(42),
        }),
        ..WasiOptions::default()
    };
    let store = Store::new_wasi(&engine, Some(u64::MAX), &Limits::default(), &options).unwrap();
    let (results, fuel) = measure(store, &engine, &bytes, &[], ("_start", &[]));
    std::fs::remove_dir_all(&dir).unwrap();
    println!(
        "wasi det\t{results}stdout {:016x}\t{fuel}",
        fnv1a(&stdout.contents())
    );
}
