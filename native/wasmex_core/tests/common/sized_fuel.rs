//! The guests of `tests/guests/sized_fuel*.wat`, whose instructions charge fuel by size
//! (bulk memory and table instructions, growth), plus calls, host calls and WASI calls,
//! with one way to run them all: `tests/determinism.rs` compares their results and fuel
//! across slice sizes, `examples/fuel_table.rs` across CPUs.

use super::run;
use wasmex_core::{
    engine::Engine,
    imports::{HostRequest, ImportSpec},
    instance,
    module::Module,
    store::{Limits, Store},
    value::Input,
    wasi::{self, Output, WasiOptions},
};
use wasmi::{FuncType, Val, ValType};

const GUEST: &str = include_str!("../guests/sized_fuel.wat");
const WASI_GUEST: &str = include_str!("../guests/sized_fuel_wasi.wat");

/// Label, export and argument (rounds) of each case; the `wasi` export is the WASI guest's.
pub const CASES: &[(&str, &str, i32)] = &[
    ("memory.grow/fill/copy/init x40", "memory", 40),
    ("table.grow/fill/copy/init x300", "table", 300),
    ("wide, indirect, deep and tail calls x2000", "calls", 2000),
    ("host calls x1000", "host", 1000),
    ("wasi fd_write, poll_oneoff x200", "wasi", 200),
];

/// What one case gave: its results (and the hash of its standard output, for WASI) and
/// the fuel it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub label: &'static str,
    pub results: String,
    pub fuel: u64,
}

/// Runs every case in a fresh store of `engine`, with fuel slices of `slice` fuel (`None`:
/// the calibrated slice).
pub fn run_all(engine: &Engine, slice: Option<u64>) -> Vec<Outcome> {
    CASES
        .iter()
        .map(|&(label, export, rounds)| {
            let stdout = wasi::Pipe::default();
            let (mut store, wat, imports) = if export == "wasi" {
                let options = WasiOptions {
                    args: vec!["sized_fuel".into(), "--rounds".into(), rounds.to_string()],
                    stdout: Output::Pipe(stdout.clone()),
                    ..WasiOptions::default()
                };
                let store =
                    Store::new_wasi(engine, Some(u64::MAX), &Limits::default(), &options).unwrap();
                (store, WASI_GUEST, Vec::new())
            } else {
                let store = Store::new(engine, Some(u64::MAX), &Limits::default());
                (store, GUEST, twice_import())
            };
            store.set_slice(slice);
            let module = Module::compile(engine, wat.as_bytes()).unwrap();
            let instance = instance::instantiate(&mut store, &module, &imports, &[])
                .unwrap()
                .instance;
            // Each case takes about a thousand host invocations at most (its host calls and
            // sleeps, plus a few time budgets); one that takes far more would never end.
            let ran = run(
                &mut store,
                instance,
                export,
                &[Input::Int(rounds.into())],
                &mut answer_twice,
                20_000,
            )
            .unwrap_or_else(|error| panic!("{label}: {error}"));
            let mut results = show(&ran.results);
            let output = stdout.contents();
            if !output.is_empty() {
                results = format!("{results} stdout {:016x}", fnv1a(&output));
            }
            Outcome {
                label,
                results,
                fuel: ran.fuel.unwrap(),
            }
        })
        .collect()
}

/// The `env.twice` import of the guest.
pub fn twice_import() -> Vec<ImportSpec> {
    vec![ImportSpec {
        module: "env".into(),
        name: "twice".into(),
        ty: FuncType::new([ValType::I32], [ValType::I32]),
    }]
}

/// Answers the guest's calls of `twice`.
pub fn answer_twice(_: &mut Store, request: &HostRequest) -> Vec<Input> {
    let Val::I32(n) = request.params[0] else {
        panic!("twice takes an i32")
    };
    vec![Input::Int(2 * i128::from(n))]
}

/// Results as text: integers in decimal, others as debug output.
pub fn show(results: &[Val]) -> String {
    let shown: Vec<String> = results
        .iter()
        .map(|val| match val {
            Val::I32(n) => n.to_string(),
            Val::I64(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    shown.join(",")
}

/// FNV-1a, to show a long output as one number.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
