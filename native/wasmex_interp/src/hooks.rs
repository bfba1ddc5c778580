//! Test and bench hooks: NIFs that are no part of the API. `Wasmex.Native` keeps them in
//! a section of their own, and no public module calls them.

use crate::{atoms, instance::InstanceResource, reply, store::StoreResource, value};
use rustler::{Encoder, Env, NifResult, ResourceArc, Term};
use std::time::Instant;
use wasmex_core::{error::catch_panic, Error};

/// Does nothing: the floor the call benchmarks compare against (an empty NIF call).
#[rustler::nif(name = "hook_noop")]
fn noop() -> rustler::Atom {
    atoms::ok()
}

/// The CPU time of this OS process in ns, all its threads (exact, unlike the per-thread
/// figures in `/proc`, which move in scheduler ticks); `nil` where there is no such clock.
/// W3 takes it around each run: on a machine shared with other work, wall time mostly
/// measures who else ran.
#[rustler::nif(name = "hook_cpu_time")]
fn cpu_time() -> Option<u64> {
    #[cfg(unix)]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        let nanos = i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec);
        u64::try_from(nanos).ok()
    }
    #[cfg(not(unix))]
    None
}

/// Forces the fuel of every slice (for tests and benchmarks of slicing); `nil` calibrates.
#[rustler::nif(name = "hook_set_slice_nif")]
fn set_slice(env: Env, store: ResourceArc<StoreResource>, fuel: Option<u64>) -> Term {
    let answer = StoreResource::with(&store, env, |store| {
        store.set_slice(fuel);
        Ok(())
    });
    reply::done(env, answer)
}

/// Makes the next host function a guest of this store calls panic inside wasmi, once: a
/// stand-in for a wasmi bug, to test that a panic fails its call and nothing else.
///
/// wasmi runs a store's call hook just before each host function, below its execution
/// handlers, where the patched wasmi contains a panic.
#[rustler::nif(name = "hook_panic_next_host_call_nif")]
fn panic_next_host_call(env: Env, store: ResourceArc<StoreResource>) -> Term {
    let answer = StoreResource::with(&store, env, |store| {
        let mut armed = true;
        store.wasmi_mut().call_hook(move |_, hook| {
            if armed && matches!(hook, wasmi::CallHook::CallingHost) {
                armed = false;
                // Unwinds as `panic!` does, without printing a panic message to stderr.
                std::panic::resume_unwind(Box::new("the test hook made a host call panic"));
            }
            Ok(())
        });
        Ok(())
    });
    reply::done(env, answer)
}

/// Calls `name` of `instance` with plain wasmi: the same store, the same compiled module,
/// the same engine (fuel metering on), but wasmi's own `Func::call` with all the user's
/// fuel (`u64::MAX` when the store does not meter fuel) in one go: no slices, no time
/// budget, no resumes. The baseline the compute benchmark (W3) alternates with the API
/// path in one process. Runs on a dirty CPU scheduler, as it runs as long as the guest.
///
/// Answers `{:ok, {results, nanoseconds, fuel}}`: the wall time of `Func::call` alone and
/// the fuel it used (charged to the user's fuel, as the API path charges it). For guests
/// without Elixir imports: a guest that calls one fails with the import's error.
#[rustler::nif(name = "hook_call_raw_nif", schedule = "DirtyCpu")]
fn call_raw<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
    params: Term<'a>,
) -> NifResult<Term<'a>> {
    let inputs = value::inputs(params)?;
    let answer =
        StoreResource::with_handle(&store, env, (instance.store_id, "instance"), |store| {
            let func = instance.func(store, name)?;
            let (params, mut results) =
                wasmex_core::value::call_vals(inputs.into_iter(), &func.ty(store.wasmi()))?;
            let fuel = store.fuel().ok();
            let total = fuel.unwrap_or(u64::MAX);
            let wasmi = store.wasmi_mut();
            wasmi.set_fuel(total).map_err(Error::from)?;
            let started = Instant::now();
            let called = catch_panic(|| {
                func.call(&mut *wasmi, &params, &mut results)
                    .map_err(Error::from)
            });
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let used = total - wasmi.get_fuel().unwrap_or(0);
            if let Some(fuel) = fuel {
                store.set_fuel(fuel - used)?;
            }
            called.map(|()| (results, nanos, used))
        });
    Ok(match answer {
        Ok((results, nanos, used)) => {
            (atoms::ok(), (value::encode_all(env, &results), nanos, used)).encode(env)
        }
        Err(refusal) => refusal.encode(env),
    })
}
