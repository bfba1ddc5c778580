//! The raw-engine side of `bench/run.exs`, in plain Rust, and prints one JSON object per
//! line.
//!
//! ```text
//! raw_bench startup GUESTS_DIR REPS   # W4: compile + instantiate tiny, 100 KB, big
//! raw_bench resume GUESTS_DIR REPS    # W10: the cost of one resume, wasmi's and ours
//! ```
//!
//! (W3, the compute guests against raw wasmi, runs raw wasmi inside the NIF instead: one
//! process, one build of wasmi.)

use std::time::{Duration, Instant};
use wasmex_core::{
    call::{Step, Suspended},
    engine::EngineOptions,
    value::Input,
};
use wasmi::{Engine, Linker, Module, ResumableCall, Store, Val};

const STARTUP: &[(&str, &str)] = &[
    ("tiny", "fib.wasm"),
    ("100k", "startup_100k.wasm"),
    ("big", "startup_big.wasm"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, dir, reps) = match args.as_slice() {
        [_, mode, dir, reps] => (mode.as_str(), dir.as_str(), reps.parse::<usize>()?),
        _ => return Err("usage: raw_bench startup|resume GUESTS_DIR REPS".into()),
    };
    match mode {
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
        "resume" => {
            let wasm = std::fs::read(format!("{dir}/fib.wasm"))?;
            let [wasmi_ns, core_ns] = resume(&wasm, reps)?;
            for (name, ns) in [("wasmi", wasmi_ns), ("wasmex_core", core_ns)] {
                println!(r#"{{"workload": "{name}", "ns_per_resume": {ns:.1}}}"#);
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

/// Fuel per slice in [`resume`]: small, so that the resumes outweigh the noise.
const RESUME_SLICE: u64 = 1_000;

/// The guest call [`resume`] runs: `fib(25)`, 4 million units of fuel.
const RESUME_CALL: (&str, i32) = ("fib", 25);

/// What one resume costs, in ns of this thread's CPU time: `fib(25)` in 1,000-fuel slices
/// against one `Func::call`, alternated in `reps` rounds (median of the rounds), with
/// wasmi's resumable calls alone, and through `wasmex_core`'s `Store::call` (a yield every
/// time budget, fuel bookkeeping and the budget's clock every slice).
fn resume(wasm: &[u8], reps: usize) -> Result<[f64; 2], Box<dyn std::error::Error>> {
    let engine = EngineOptions::default().engine();
    let mut store = wasmex_core::store::Store::new(&engine, Some(u64::MAX), &Default::default());
    let module = wasmex_core::module::Module::compile(&engine, wasm)?;
    let instance = wasmex_core::instance::instantiate(&mut store, &module, &[], &[])?.instance;
    let func = wasmex_core::instance::func(&store, instance, RESUME_CALL.0)?;
    let params = [Val::I32(RESUME_CALL.1)];
    let mut results = [Val::I32(0)];
    // Each closure gives the CPU time of one run and the resumes it took.
    let mut raw = |store: &mut wasmex_core::store::Store| -> Result<(u64, u64), wasmi::Error> {
        let wasmi = store.wasmi_mut();
        wasmi.set_fuel(u64::MAX)?;
        let started = thread_cpu_ns();
        func.call(&mut *wasmi, &params, &mut results)?;
        Ok((thread_cpu_ns() - started, 0))
    };
    let plain = |store: &mut wasmex_core::store::Store| -> Result<(u64, u64), wasmi::Error> {
        let wasmi = store.wasmi_mut();
        let mut results = [Val::I32(0)];
        let started = thread_cpu_ns();
        wasmi.set_fuel(RESUME_SLICE)?;
        let mut outcome = func.call_resumable(&mut *wasmi, &params, &mut results)?;
        let mut resumes = 0;
        while let ResumableCall::OutOfFuel(call) = outcome {
            resumes += 1;
            wasmi.set_fuel(RESUME_SLICE)?;
            outcome = call.resume(&mut *wasmi, &mut results)?;
        }
        Ok((thread_cpu_ns() - started, resumes))
    };
    store.set_slice(Some(RESUME_SLICE));
    let core = |store: &mut wasmex_core::store::Store| -> Result<(u64, u64), wasmex_core::Error> {
        let started = thread_cpu_ns();
        let mut step = store.call(func, [Input::Int(RESUME_CALL.1.into())].into_iter())?;
        let mut yields = 0;
        while let Step::Suspended(suspended) = step {
            let Suspended::Yield(call) = suspended else {
                return Err(wasmex_core::Error::Internal(
                    "fib stopped for the host".into(),
                ));
            };
            yields += 1;
            step = call.resume(store)?;
        }
        let _ = yields;
        Ok((thread_cpu_ns() - started, 0))
    };
    let mut wasmi_ns = Vec::with_capacity(reps);
    let mut core_ns = Vec::with_capacity(reps);
    for round in 0..=reps {
        let (raw_a, _) = raw(&mut store)?;
        let (plain_ns, resumes) = plain(&mut store)?;
        let (raw_b, _) = raw(&mut store)?;
        let (ours, _) = core(&mut store)?;
        // The same fuel, so the same slices: the resumes `plain` counted.
        let per = |ns: u64, raw: u64| (ns as f64 - raw as f64) / resumes.max(1) as f64;
        if round > 0 {
            wasmi_ns.push(per(plain_ns, raw_a));
            core_ns.push(per(ours, raw_b));
        }
    }
    Ok([median_f64(wasmi_ns), median_f64(core_ns)])
}

/// CPU time of this thread in ns (so that other processes on a busy machine do not
/// count); wall time where there is no thread CPU clock.
fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        u64::try_from(i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}
