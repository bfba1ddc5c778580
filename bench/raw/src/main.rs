//! The raw-engine baseline of `bench/run.exs`: runs the benchmark guests with plain wasmi
//! (same version, same `Config` as the library, fuel metering on) and prints one JSON
//! object per line with the median times.
//!
//! ```text
//! raw_bench compute GUESTS_DIR REPS   # W3: fib, sha256, mix
//! raw_bench startup GUESTS_DIR REPS   # W4: compile + instantiate tiny, 100 KB, big
//! ```

use std::time::{Duration, Instant};
use wasmex_core::engine::EngineOptions;
use wasmi::{Engine, Linker, Module, Store, Val};

/// The compute workloads: guest file, setup calls, measured call.
type Workload = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static [i32])],
    (&'static str, &'static [i32]),
);

const COMPUTE: &[Workload] = &[
    ("fib", "fib.wasm", &[], ("fib", &[27])),
    (
        "sha256",
        "sha256.wasm",
        &[("fill", &[1_048_576, 1])],
        ("sha256", &[1_048_576]),
    ),
    ("mix", "mix.wasm", &[], ("run", &[50])),
];

const STARTUP: &[(&str, &str)] = &[
    ("tiny", "fib.wasm"),
    ("100k", "startup_100k.wasm"),
    ("big", "startup_big.wasm"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, dir, reps) = match args.as_slice() {
        [_, mode, dir, reps] => (mode.as_str(), dir.as_str(), reps.parse::<usize>()?),
        _ => return Err("usage: raw_bench compute|startup GUESTS_DIR REPS".into()),
    };
    let engine = Engine::new(&EngineOptions::default().config());
    match mode {
        "compute" => {
            for (name, file, setup, call) in COMPUTE {
                let wasm = std::fs::read(format!("{dir}/{file}"))?;
                let (median, result) = compute(&engine, &wasm, setup, *call, reps)?;
                println!(
                    r#"{{"workload": "{name}", "median_us": {:.1}, "result": {result}}}"#,
                    micros(median)
                );
            }
        }
        "startup" => {
            for (name, file) in STARTUP {
                let wasm = std::fs::read(format!("{dir}/{file}"))?;
                let median = startup(&wasm, reps)?;
                println!(
                    r#"{{"workload": "{name}", "median_us": {:.1}}}"#,
                    micros(median)
                );
            }
        }
        _ => return Err(format!("unknown mode {mode}").into()),
    }
    Ok(())
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn instantiate(engine: &Engine, wasm: &[u8]) -> Result<(Store<()>, wasmi::Instance), wasmi::Error> {
    let module = Module::new(engine, wasm)?;
    let mut store = Store::new(engine, ());
    store.set_fuel(u64::MAX)?;
    let instance = Linker::<()>::new(engine).instantiate_and_start(&mut store, &module)?;
    Ok((store, instance))
}

fn call(
    store: &mut Store<()>,
    instance: wasmi::Instance,
    name: &str,
    args: &[i32],
) -> Result<i32, wasmi::Error> {
    let func = instance
        .get_func(&*store, name)
        .ok_or_else(|| wasmi::Error::new(format!("no export {name}")))?;
    let params: Vec<Val> = args.iter().map(|n| Val::I32(*n)).collect();
    let mut results = vec![Val::I32(0); func.ty(&*store).results().len()];
    store.set_fuel(u64::MAX)?;
    func.call(&mut *store, &params, &mut results)?;
    Ok(results.first().and_then(Val::i32).unwrap_or(0))
}

/// Median time of the measured call (after one warm-up run), and its result.
fn compute(
    engine: &Engine,
    wasm: &[u8],
    setup: &[(&str, &[i32])],
    (name, args): (&str, &[i32]),
    reps: usize,
) -> Result<(Duration, i32), wasmi::Error> {
    let (mut store, instance) = instantiate(engine, wasm)?;
    for (setup_name, setup_args) in setup {
        call(&mut store, instance, setup_name, setup_args)?;
    }
    // Warm up for 0.3 s, as the Elixir side does.
    let warm = Instant::now();
    let mut result = call(&mut store, instance, name, args)?;
    while warm.elapsed() < Duration::from_millis(300) {
        result = call(&mut store, instance, name, args)?;
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        call(&mut store, instance, name, args)?;
        times.push(started.elapsed());
    }
    Ok((median(times), result))
}

/// Median time to compile and instantiate in a new engine (as the library's default
/// `Store.new()` path does).
fn startup(wasm: &[u8], reps: usize) -> Result<Duration, wasmi::Error> {
    let config = EngineOptions::default().config();
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        let engine = Engine::new(&config);
        drop(instantiate(&engine, wasm)?);
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..=reps {
        let started = Instant::now();
        let engine = Engine::new(&config);
        let (store, instance) = instantiate(&engine, wasm)?;
        times.push(started.elapsed());
        drop((store, instance));
    }
    times.remove(0); // warm-up
    Ok(median(times))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
