//! Runs a fixed set of guests through the library's call machinery (fuel slices, user
//! fuel) and prints, for each, its results and the exact fuel it used: one line per guest,
//! `name results fuel`. `scripts/cross-check` runs it on every target (under qemu) and
//! compares the tables: fuel use must be the same on every CPU.
//!
//! ```text
//! cargo run --release -p wasmex_core --example fuel_table -- bench/guests
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use wasmex_core::{
    call::Step,
    engine::EngineOptions,
    instance,
    module::Module,
    store::{Limits, Store},
    value::Input,
};
use wasmi::Val;

/// Guest file, setup calls, measured call.
type Case = (&'static str, &'static str, &'static [(&'static str, &'static [i32])], (&'static str, &'static [i32]));

const CASES: &[Case] = &[
    ("fib(20)", "fib.wasm", &[], ("fib", &[20])),
    ("sha256(64 KiB)", "sha256.wasm", &[("fill", &[65_536, 7])], ("sha256", &[65_536])),
    ("sha256 word 0", "sha256.wasm", &[("fill", &[1000, 5]), ("sha256", &[1000])], ("digest_word", &[0])),
    ("mix(3)", "mix.wasm", &[], ("run", &[3])),
    ("startup_100k entry(42)", "startup_100k.wasm", &[], ("entry", &[42])),
];

/// WAT guests with float and SIMD code: NaN bits and lane shuffles must agree too.
const WAT_CASES: &[(&str, &str, &str)] = &[
    (
        "f32 nan bits",
        r#"(module (func (export "f") (result i32)
            (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0)))))"#,
        "f",
    ),
    (
        "f64 math",
        r#"(module (func (export "f") (result i64)
            (i64.reinterpret_f64 (f64.sqrt (f64.mul (f64.const 2.5) (f64.const 1.1))))))"#,
        "f",
    ),
    (
        "simd lanes",
        r#"(module (func (export "f") (result i32)
            (i32x4.extract_lane 2 (i32x4.mul (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8)))))"#,
        "f",
    ),
];

fn run(store: &mut Store, instance: wasmi::Instance, name: &str, args: &[i32]) -> Vec<Val> {
    let func = instance::func(store, instance, name).unwrap();
    let inputs: Vec<Input> = args.iter().map(|n| Input::Int((*n).into())).collect();
    let mut step = store.call(func, inputs.into_iter()).unwrap();
    loop {
        step = match step {
            Step::Done(results) => return results,
            Step::Yield(call) => store.resume(call).unwrap(),
            other => panic!("unexpected step {other:?}"),
        }
    }
}

fn fuel_of(bytes: &[u8], setup: &[(&str, &[i32])], (name, args): (&str, &[i32])) -> (String, u64) {
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, bytes).unwrap();
    let mut store = Store::new(&engine, Some(u64::MAX), &Limits::default());
    let instance = instance::instantiate(&mut store, &module, &[], &[])
        .unwrap()
        .instance;
    for (setup_name, setup_args) in setup {
        run(&mut store, instance, setup_name, setup_args);
    }
    let before = store.fuel().unwrap();
    let results = run(&mut store, instance, name, args);
    let used = before - store.fuel().unwrap();
    let shown: Vec<String> = results
        .iter()
        .map(|val| match val {
            Val::I32(n) => n.to_string(),
            Val::I64(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    (shown.join(","), used)
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "bench/guests".into());
    for (label, file, setup, call) in CASES {
        let bytes = std::fs::read(format!("{dir}/{file}")).unwrap();
        let (results, fuel) = fuel_of(&bytes, setup, *call);
        println!("{label}\t{results}\t{fuel}");
    }
    for (label, wat, function) in WAT_CASES {
        let (results, fuel) = fuel_of(wat.as_bytes(), &[], (function, &[]));
        println!("{label}\t{results}\t{fuel}");
    }
}
