//! Guest calls: `Instance.call_function` and the Elixir loop that drives it.
//!
//! Each NIF here runs at most one fuel slice of guest code and answers:
//!
//! - `{:ok, results}` or `{:error, reason}`: the call is over;
//! - `:yield`: the time budget ran out; call `call_resume(store, nil)` to go on;
//! - `{:sleep, microseconds}`: the guest sleeps (WASI); wait, then `call_resume(store, nil)`;
//! - `{:host_call, import_index, params, memory}`: the guest called an Elixir import; run
//!   the callback and call `call_resume(store, results)` (or `call_abort/1`);
//! - `{:error, :busy}`: another process owns the store; wait for
//!   `{:"$wasmex_store_free", id}` and retry.
//!
//! The suspended call stays in the store (see [`crate::store`]), owned by the calling
//! process; only that process can resume or abort it.

use crate::{
    atoms,
    instance::InstanceResource,
    memory::ExMemory,
    reply::Done,
    store::{Purpose, StoreResource},
    value,
};
use rustler::{Encoder, Env, NifResult, ResourceArc, Term};
use std::time::Duration;
use wasmex_core::{
    call::{Call, Step},
    imports::HostRequest,
    instance,
    store::Store,
    Error,
};
use wasmi::Val;

/// What a slice ended with, once the suspended call (if any) is back in the store.
enum Progress {
    Done(Vec<Val>),
    Yield,
    Sleep(Duration),
    Host(HostRequest),
}

#[rustler::nif(name = "instance_call_function")]
fn call_function<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
    params: Term<'a>,
) -> NifResult<Term<'a>> {
    let inputs = value::inputs(params)?;
    let progress = store.check(instance.store_id, "instance").and_then(|()| {
        run(env, &store, Purpose::Call, |store, _| {
            let func = instance::func(store, instance.instance, name)?;
            store.call(func, inputs.into_iter())
        })
    });
    Ok(reply(env, &store, progress))
}

/// Runs the start function of an instance made by `instance_new` (see
/// `wasmex_core::module` for why start functions run after instantiation).
#[rustler::nif(name = "instance_call_start")]
fn call_start<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
) -> Term<'a> {
    let progress = store.check(instance.store_id, "instance").and_then(|()| {
        run(env, &store, Purpose::Call, |store, _| {
            let func = instance::start_func(store, instance.instance)?;
            store.call(func, std::iter::empty())
        })
    });
    reply(env, &store, progress)
}

#[rustler::nif(name = "call_resume")]
fn resume<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    results: Term<'a>,
) -> NifResult<Term<'a>> {
    // `nil` after a yield; the callback's results (a list) after a host call.
    let inputs = if results == atoms::nil().to_term(env) {
        None
    } else {
        Some(value::inputs(results)?)
    };
    let progress = run(env, &store, Purpose::Resume, |store, call| {
        let call = call.ok_or(Error::NoCall)?;
        match inputs {
            Some(inputs) if call.awaits_host() => store.resume_host(call, inputs.into_iter()),
            None if !call.awaits_host() => store.resume(call),
            // Resumed the wrong way: the call cannot go on.
            _ => Err(Error::NoCall),
        }
    });
    Ok(reply(env, &store, progress))
}

/// Ends the calling process's innermost suspended call: its deadline passed (`reason` is
/// `nil`, the reply `:ok`), or its Elixir callback failed (the reply is the call's error,
/// `the elixir callback threw an exception: <reason>`).
#[rustler::nif(name = "call_abort")]
fn abort<'a>(env: Env<'a>, store: ResourceArc<StoreResource>, reason: Option<String>) -> Term<'a> {
    let aborted = StoreResource::abort(&store, env);
    match (aborted, reason) {
        (Ok(()), Some(reason)) => (atoms::error(), Error::Callback(reason)).encode(env),
        (result, _) => Done(result).encode(env),
    }
}

/// Does nothing: the floor the call benchmarks compare against (an empty NIF call).
#[rustler::nif(name = "call_noop")]
fn noop() -> rustler::Atom {
    atoms::ok()
}

/// Checks the store out, runs one step of a call, puts the store (and the call, if it is
/// suspended) back and tells the scheduler how much of its time slice the step took.
fn run(
    env: Env,
    store: &ResourceArc<StoreResource>,
    purpose: Purpose,
    step: impl FnOnce(&mut Store, Option<Call>) -> Result<Step, Error>,
) -> Result<Progress, Error> {
    let mut checkout = store.checkout(env, purpose)?;
    // A panic in wasmi is caught below `step` (`wasmex_core::error::catch_panic`).
    let outcome = step(&mut checkout.store, checkout.call.take());
    let elapsed = checkout.store.spent();
    let (progress, suspended) = match outcome {
        Ok(Step::Done(results)) => (Ok(Progress::Done(results)), None),
        Ok(Step::Yield(call)) => (Ok(Progress::Yield), Some(call)),
        Ok(Step::Host(call, request)) => (Ok(Progress::Host(request)), Some(call)),
        Ok(Step::Sleep(call, duration)) => (Ok(Progress::Sleep(duration)), Some(call)),
        Err(error) => (Err(error), None),
    };
    // A zero-length sleep is a guest waiting for its streamed output to be sent: it makes
    // way for other processes (the receiver among them) as a yield does.
    let yielded = matches!(progress, Ok(Progress::Yield))
        || matches!(progress, Ok(Progress::Sleep(duration)) if duration.is_zero());
    StoreResource::checkin(store, env, checkout.store, suspended);
    consume_timeslice(env, elapsed, yielded);
    progress
}

/// Tells the BEAM how much of a time slice the guest used, so that a process running
/// guest code is scheduled out like one running Erlang code.
///
/// A yield means the invocation ran its whole budget: that counts as a full time slice,
/// so the process makes way for others after every budget (turns of about 0.2 ms). A
/// shorter invocation counts in proportion to 1 ms; one under 10 µs (most calls) counts as
/// an ordinary NIF call.
fn consume_timeslice(env: Env, elapsed: Duration, yielded: bool) {
    let percent = if yielded {
        100
    } else {
        (elapsed.as_micros() / 10).min(100)
    };
    if percent >= 1 {
        rustler::schedule::consume_timeslice(env, percent as i32);
    }
}

fn reply<'a>(env: Env<'a>, store: &StoreResource, progress: Result<Progress, Error>) -> Term<'a> {
    match progress {
        Ok(Progress::Done(results)) => (atoms::ok(), value::encode_all(env, &results)).encode(env),
        Ok(Progress::Yield) => atoms::yield_().encode(env),
        Ok(Progress::Sleep(duration)) => {
            let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            (atoms::sleep(), micros).encode(env)
        }
        Ok(Progress::Host(request)) => {
            let memory = match request.memory {
                Some(memory) => ExMemory::new(store.id, memory).encode(env),
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
        Err(error) => (atoms::error(), error).encode(env),
    }
}
