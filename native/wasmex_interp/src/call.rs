//! Guest calls: starting one, and the resumes `Wasmex.Call` drives it with.
//!
//! The protocol (the ways a call stops, what each reply means, how it goes on) is
//! described once, in `wasmex_core::call`. Here [`reply()`] is the one mapping from a
//! [`Step`] to a reply. A suspended call stays in the store (`crate::store::owner`), owned
//! by the calling process; only that process can resume or abort it.

use crate::{
    atoms,
    instance::InstanceResource,
    memory::ExMemory,
    reply::{self, Refusal},
    schedule::{self, twin, Schedule},
    store::{Purpose, StoreResource},
    value,
};
use rustler::{Encoder, Env, NifResult, ResourceArc, Term};
use wasmex_core::{
    call::{Step, Suspended},
    store::Store,
    Error,
};

#[rustler::nif(name = "instance_call_function_nif")]
fn call_function<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
    params: Term<'a>,
) -> NifResult<Term<'a>> {
    let inputs = value::inputs(params)?;
    if let Err(error) = store.check(instance.store_id, "instance") {
        return Ok(Refusal::from(error).encode(env));
    }
    Ok(run(env, &store, Purpose::Call, |store, _| {
        let func = instance.func(store, name)?;
        store.call(func, inputs.into_iter())
    }))
}

/// Runs the start function of an instance made by `instance_new` (see
/// `wasmex_core::module` for why start functions run after instantiation).
#[rustler::nif(name = "instance_call_start_nif")]
fn call_start<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
) -> Term<'a> {
    if let Err(error) = store.check(instance.store_id, "instance") {
        return Refusal::from(error).encode(env);
    }
    run(env, &store, Purpose::Call, |store, _| {
        let func = instance
            .start
            .ok_or_else(|| Error::Internal("the instance has no start function".into()))?;
        store.call(func, std::iter::empty())
    })
}

twin!(resume(store) => "call_resume_nif", "call_resume_dirty_nif",
    (store: ResourceArc<StoreResource>) -> Term<'a>);

/// Goes on with the calling process's innermost suspended call after a yield, a sleep or
/// heavy work (the latter only on the dirty twin).
fn resume(schedule: Schedule, env: Env<'_>, store: ResourceArc<StoreResource>) -> Term<'_> {
    run(
        env,
        &store,
        Purpose::Resume(schedule),
        |store, call| match call {
            Some(Suspended::Yield(call)) => call.resume(store),
            Some(Suspended::Sleep(call)) => call.resume(store),
            Some(Suspended::Heavy(call)) => call.resume(store),
            // It waits for an import's results (`call_resume_host`): it cannot go on.
            Some(Suspended::Host(_)) | None => Err(Error::NoCall),
        },
    )
}

/// Gives the calling process's innermost suspended call the results of the Elixir import
/// it called.
#[rustler::nif(name = "call_resume_host")]
fn resume_host<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    results: Term<'a>,
) -> NifResult<Term<'a>> {
    let inputs = value::inputs(results)?;
    Ok(run(
        env,
        &store,
        Purpose::ResumeHost,
        |store, call| match call {
            Some(Suspended::Host(call)) => call.resume(store, inputs.into_iter()),
            // It did not call an import: it cannot go on.
            _ => Err(Error::NoCall),
        },
    ))
}

/// Ends the calling process's innermost suspended call: its deadline passed (`reason` is
/// `nil`, the reply `:ok`), or its Elixir callback failed (the reply is the call's error,
/// `the elixir callback threw an exception: <reason>`).
#[rustler::nif(name = "call_abort")]
fn abort<'a>(env: Env<'a>, store: ResourceArc<StoreResource>, reason: Option<String>) -> Term<'a> {
    let aborted = StoreResource::abort(&store, env).map_err(Refusal::from);
    match (aborted, reason) {
        (Ok(()), Some(reason)) => Refusal::from(Error::Callback(reason)).encode(env),
        (result, _) => reply::done(env, result),
    }
}

/// Checks the store out, runs one step of a call, puts the store (and the call, if it is
/// suspended) back and tells the scheduler how much of its time slice the step took.
fn run<'a>(
    env: Env<'a>,
    resource: &ResourceArc<StoreResource>,
    purpose: Purpose,
    step: impl FnOnce(&mut Store, Option<Suspended>) -> Result<Step, Error>,
) -> Term<'a> {
    let mut checkout = match StoreResource::checkout(resource, env, purpose) {
        Ok(checkout) => checkout,
        Err(refusal) => return refusal.encode(env),
    };
    // A panic in wasmi is caught below `step` (`wasmex_core::error::catch_panic`).
    let outcome = step(&mut checkout.store, checkout.call.take());
    let elapsed = checkout.store.spent();
    let term = reply(env, resource.id, &outcome);
    let (suspended, yielded) = match outcome {
        Ok(Step::Suspended(suspended)) => {
            // A zero-length sleep is a guest waiting for its streamed output to be sent: it
            // makes way for other processes (the receiver among them) as a yield does.
            let yielded = match &suspended {
                Suspended::Yield(_) => true,
                Suspended::Sleep(sleeping) => sleeping.duration().is_zero(),
                _ => false,
            };
            (Some(suspended), yielded)
        }
        _ => (None, false),
    };
    StoreResource::checkin(resource, env, checkout.store, suspended);
    let schedule = match purpose {
        Purpose::Resume(schedule) => schedule,
        _ => Schedule::Normal,
    };
    schedule::consume_guest(env, schedule, elapsed, yielded);
    term
}

/// The one mapping from where a call stands to the NIF's reply (see `wasmex_core::call`).
fn reply<'a>(env: Env<'a>, store_id: u64, outcome: &Result<Step, Error>) -> Term<'a> {
    let suspended = match outcome {
        Ok(Step::Done(results)) => {
            return (atoms::ok(), value::encode_all(env, results)).encode(env)
        }
        Ok(Step::Suspended(suspended)) => suspended,
        Err(error) => return (atoms::error(), error).encode(env),
    };
    match suspended {
        // A heavy call is resumed like a yielded one: `call_resume` moves it to its twin.
        Suspended::Yield(_) | Suspended::Heavy(_) => atoms::yield_().encode(env),
        Suspended::Sleep(sleeping) => {
            let micros = u64::try_from(sleeping.duration().as_micros()).unwrap_or(u64::MAX);
            (atoms::sleep(), micros).encode(env)
        }
        Suspended::Host(call) => {
            let request = call.request();
            let memory = match request.memory {
                Some(memory) => ExMemory::new(store_id, memory).encode(env),
                None => atoms::nil().encode(env),
            };
            (
                atoms::host_call(),
                request.import,
                value::encode_all(env, &request.params),
                memory,
            )
                .encode(env)
        }
    }
}
