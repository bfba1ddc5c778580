//! Helpers shared by the engine's test files that run guests to their end: compile WAT,
//! instantiate, and drive a call through yields, sleeps and host calls.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod sized_fuel;

use wasmex_core::{
    call::{Step, Suspended},
    engine::Engine,
    imports::{HostRequest, ImportSpec},
    instance,
    module::Module,
    store::Store,
    value::Input,
    Error,
};
use wasmi::Val;

/// How a call ended: its results, the fuel it used (when the store meters fuel) and how
/// many host invocations (the first call and every resume) it took.
#[derive(Debug, Clone)]
pub struct Ran {
    pub results: Vec<Val>,
    pub fuel: Option<u64>,
    pub invocations: usize,
}

/// Compiles `wat` (text or binary) and instantiates it in `store` with `imports`.
pub fn instantiate(
    store: &mut Store,
    engine: &Engine,
    wat: &str,
    imports: &[ImportSpec],
) -> wasmi::Instance {
    let module = Module::compile(engine, wat.as_bytes()).unwrap();
    instance::instantiate(store, &module, imports, &[])
        .unwrap()
        .instance
}

/// Calls `name` with `args` and drives it to its end: resumes yields, waits out sleeps,
/// answers every import with `answer`. Gives up with [`Error::Internal`] after
/// `max_invocations` host invocations, so that a call that would never end fails its test
/// instead of hanging it.
pub fn run(
    store: &mut Store,
    instance: wasmi::Instance,
    name: &str,
    args: &[Input],
    answer: &mut dyn FnMut(&mut Store, &HostRequest) -> Vec<Input>,
    max_invocations: usize,
) -> Result<Ran, Error> {
    let before = store.fuel().ok();
    let func = instance::func(store, instance, name)?;
    let mut step = store.call(func, args.iter().cloned())?;
    let mut invocations = 1;
    loop {
        if invocations > max_invocations {
            return Err(Error::Internal(format!(
                "`{name}` did not end within {max_invocations} host invocations"
            )));
        }
        invocations += 1;
        step = match step {
            Step::Done(results) => {
                let fuel = before.map(|before| before - store.fuel().unwrap());
                return Ok(Ran {
                    results,
                    fuel,
                    invocations: invocations - 1,
                });
            }
            Step::Suspended(Suspended::Yield(call)) => call.resume(store)?,
            Step::Suspended(Suspended::Heavy(call)) => call.resume(store)?,
            Step::Suspended(Suspended::Sleep(sleeping)) => {
                std::thread::sleep(sleeping.duration());
                sleeping.resume(store)?
            }
            Step::Suspended(Suspended::Host(call)) => {
                let results = answer(store, call.request());
                call.resume(store, results.into_iter())?
            }
        };
    }
}

/// An `answer` for guests without imports.
pub fn no_imports(_: &mut Store, request: &HostRequest) -> Vec<Input> {
    panic!("unexpected host call {request:?}")
}

/// The i32 results of a call.
pub fn ints(results: &[Val]) -> Vec<i32> {
    results.iter().map(|val| val.i32().unwrap()).collect()
}
