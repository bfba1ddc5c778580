//! The call protocol: how a guest call runs in bounded pieces and stops for the host.
//!
//! This is the one description of the protocol; the NIF (`native/wasmex_interp/src/call.rs`),
//! `Wasmex.Call` and the README link here.
//!
//! # In Rust
//!
//! [`Store::call`] starts a call and runs it until it ends or has to stop; it returns a
//! [`Step`]. A call that stopped is [`Suspended`] in one of four ways, and each kind carries
//! its own resume, so a call cannot be resumed the wrong way:
//!
//! | suspension | why the call stopped | what the host does | then |
//! |---|---|---|---|
//! | [`Yielded`] | it ran for its time budget ([`crate::slice::BUDGET`]) | anything (the BEAM may schedule another process) | [`Yielded::resume`] |
//! | [`HostCall`] | the guest called an Elixir import ([`HostCall::request`]) | runs the callback | [`HostCall::resume`] with the callback's results |
//! | [`Sleeping`] | the guest sleeps (WASI `poll_oneoff` on clocks) | waits [`Sleeping::duration`] without a thread | [`Sleeping::resume`] |
//! | [`Heavy`] | the next piece of work is too big for a time budget: one instruction that needs more fuel than a slice (`memory.fill`, `memory.grow`, `table.grow` of a huge range), or host work a host function handed over ([`crate::imports::HostWork`]) | moves to a thread that may run long (a dirty scheduler) | [`Heavy::resume`] does that work, then runs on for at most one slice |
//!
//! Each resume runs fuel slices (see [`crate::slice`]) back to back, resuming in Rust after
//! each (~130 ns), until the call ends, stops for the host, or its time budget is spent.
//! Every `Err` ends the call. A [`Suspended`] call that is dropped instead of resumed ends
//! too (cancellation); nothing else needs cleaning up. A panic in wasmi or in a host
//! function ends its call with [`Error::Panic`], charged the fuel it used, and nothing
//! else: the store and the engine stay usable (why: `Store::guarded`). A host call may
//! start other calls on the same store while its own waits (nested calls).
//!
//! Fuel is charged exactly as the guest uses it, whatever the slicing and wherever a piece
//! runs: the user's fuel budget is kept apart from the slices ([`Store`]).
//!
//! # Through the NIF and Elixir
//!
//! The NIF keeps a suspended call in the store between two NIF invocations, owned by the
//! calling process, and answers each with one reply (`reply` in the NIF's `call.rs`);
//! `Wasmex.Call` drives the call in the calling process:
//!
//! | [`Step`] | NIF reply | `Wasmex.Call` |
//! |---|---|---|
//! | [`Step::Done`] | `{:ok, results}` | returns them |
//! | `Err(error)` | `{:error, message}` | returns it |
//! | [`Yielded`], [`Heavy`] | `:yield` | checks the deadline, `call_resume(store)` |
//! | [`Sleeping`] | `{:sleep, microseconds}` | waits in `receive`, then `call_resume(store)` |
//! | [`HostCall`] | `{:host_call, import, params, memory}` | runs the callback, `call_resume_host(store, results)` |
//!
//! `call_resume` has a dirty twin: on a normal scheduler it answers `:dirty` for a
//! [`Heavy`] suspension instead of running it, and `Wasmex.Native` runs the twin, as for
//! every other NIF with a twin. A process that finds the store in use by another
//! process's call gets `{:busy, id}` and waits for the store to be handed to it (the NIF's
//! `store/owner.rs`); neither reply reaches `Wasmex.Call`.

use crate::{
    error::{catch_panic, trap_message},
    imports::{HostCallMarker, HostRequest, HostWork, Pending},
    store::Store,
    value::{self, Input},
    wasi::Sleep,
    Error,
};
use std::time::Duration;
use wasmi::{
    Func, ResumableCall, ResumableCallHostTrap, ResumableCallOutOfFuel, TrapCode, Val, ValType,
};

/// Where a call stands when it returns to the host.
// Not boxed: a box would cost an allocation per suspension (per host call), more than
// moving a few hundred bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    /// The call returned these results.
    Done(Vec<Val>),
    /// The call stopped; it goes on with the resume of its kind.
    Suspended(Suspended),
}

/// A call that stopped for the host, by kind (see the [module docs](self)).
#[derive(Debug)]
pub enum Suspended {
    /// Its time budget is spent.
    Yield(Yielded),
    /// The guest called an Elixir import.
    Host(HostCall),
    /// The guest sleeps.
    Sleep(Sleeping),
    /// The next piece of work is too big for a time budget.
    Heavy(Heavy),
}

impl Suspended {
    /// `true` when resuming the call may take longer than a time budget: it must be resumed
    /// on a thread allowed to run long.
    pub fn is_heavy(&self) -> bool {
        matches!(self, Suspended::Heavy(_))
    }
}

/// A call that spent its time budget.
#[derive(Debug)]
pub struct Yielded {
    fuel: ResumableCallOutOfFuel,
    results: Vec<Val>,
}

/// A call waiting for the results of an Elixir import.
#[derive(Debug)]
pub struct HostCall {
    request: HostRequest,
    after: AfterHost,
}

/// A call whose guest sleeps (WASI `poll_oneoff` on clocks only).
#[derive(Debug)]
pub struct Sleeping {
    sleep: Sleep,
    after: AfterHost,
}

/// A call whose next piece of work is too big for a time budget.
#[derive(Debug)]
pub struct Heavy(HeavyWork);

#[derive(Debug)]
enum HeavyWork {
    /// One instruction that needs more fuel than a slice holds.
    Instruction(ResumableCallOutOfFuel, Vec<Val>),
    /// Work a host function handed over.
    Host(Box<dyn HostWork>, AfterHost),
}

/// What a host function's results go to: the suspended guest, or, when the host function
/// was called with no Wasm frame left (the host called an exported import, or the entry
/// function tail-called one), the end of the call: its results are the call's results.
#[derive(Debug)]
struct AfterHost {
    frame: Option<ResumableCallHostTrap>,
    results: Vec<Val>,
}

impl Yielded {
    /// Runs the call for one more time budget.
    ///
    /// # Errors
    ///
    /// The guest's trap, or any error that ends the call.
    pub fn resume(self, store: &mut Store) -> Result<Step, Error> {
        let Self { fuel, mut results } = self;
        store.guarded(|store| {
            store.start_budget();
            let required = fuel.required_fuel();
            let outcome = store.metered(required, true, |s| fuel.resume(s, &mut results));
            store.run_budget(outcome, results)
        })
    }
}

impl HostCall {
    /// The import the guest called, and with what.
    pub fn request(&self) -> &HostRequest {
        &self.request
    }

    /// Resumes the guest with the Elixir callback's results, for one time budget.
    ///
    /// # Errors
    ///
    /// [`Error::Callback`] when the results do not match the import's declared result types;
    /// the guest's trap, or any error that ends the call.
    pub fn resume(
        self,
        store: &mut Store,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        store.guarded(|store| {
            let types = self.after.result_types(store);
            let values = host_results(inputs, &types)?;
            self.after.resume(store, &values)
        })
    }
}

impl Sleeping {
    /// How long the guest sleeps.
    pub fn duration(&self) -> Duration {
        self.sleep.duration
    }

    /// Ends the sleep (the guest sees its clocks fire) and runs the call for one time budget.
    ///
    /// # Errors
    ///
    /// The guest's trap, or any error that ends the call.
    pub fn resume(self, store: &mut Store) -> Result<Step, Error> {
        store.guarded(|store| {
            let values = self.sleep.finish(store.wasmi_mut());
            self.after.resume(store, &values)
        })
    }
}

impl Heavy {
    /// Does the heavy piece of work, then runs the call on for at most one slice, so that
    /// what follows runs in ordinary time budgets again.
    ///
    /// # Errors
    ///
    /// The guest's trap, the host work's error, or any error that ends the call.
    pub fn resume(self, store: &mut Store) -> Result<Step, Error> {
        store.guarded(|store| {
            store.start_budget();
            match self.0 {
                HeavyWork::Instruction(fuel, mut results) => {
                    // The instruction's fuel (a slice's when a slice has grown bigger
                    // since), as every resume gets: the instruction runs, and the guest
                    // stops at the first instruction after it that costs fuel, to go on in
                    // ordinary time budgets (a yield). Not a sample for the slice
                    // calibration: bulk work costs far more time per unit of fuel than
                    // ordinary code.
                    let required = fuel.required_fuel();
                    let outcome = store.metered(required, false, |s| fuel.resume(s, &mut results));
                    store.settle(outcome, results)
                }
                HeavyWork::Host(work, after) => {
                    let values = work.run(store.wasmi_mut()).map_err(Error::from)?;
                    // The slice after it is timed on its own: it calibrates the slice size,
                    // and the host work's time would make slices shrink for every store.
                    store.start_budget();
                    after.resume_once(store, &values)
                }
            }
        })
    }
}

impl AfterHost {
    /// The types the host function's results must have.
    fn result_types(&self, store: &Store) -> Vec<ValType> {
        match &self.frame {
            Some(frame) => frame.host_func().ty(store.wasmi()).results().to_vec(),
            None => self.results.iter().map(Val::ty).collect(),
        }
    }

    /// Hands the host function's results to the guest and runs it for one time budget.
    fn resume(self, store: &mut Store, values: &[Val]) -> Result<Step, Error> {
        let Self { frame, mut results } = self;
        let Some(frame) = frame else {
            return Ok(Step::Done(values.to_vec()));
        };
        store.start_budget();
        let outcome = store.metered(0, true, |s| frame.resume(s, values, &mut results));
        store.run_budget(outcome, results)
    }

    /// Hands the host function's results to the guest and runs it for one slice at most.
    fn resume_once(self, store: &mut Store, values: &[Val]) -> Result<Step, Error> {
        let Self { frame, mut results } = self;
        let Some(frame) = frame else {
            return Ok(Step::Done(values.to_vec()));
        };
        let outcome = store.metered(0, true, |s| frame.resume(s, values, &mut results));
        store.settle(outcome, results)
    }
}

impl Store {
    /// Starts a call of `func` with `inputs` and runs it for one time budget.
    ///
    /// # Errors
    ///
    /// A parameter count or type mismatch, the guest's trap, or any error that ends the call.
    pub fn call(
        &mut self,
        func: Func,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        self.guarded(|store| {
            let (params, mut results) = value::call_vals(inputs, &func.ty(store.wasmi()))?;
            store.start_budget();
            let outcome = store.metered(0, true, |s| func.call_resumable(s, &params, &mut results));
            store.run_budget(outcome, results)
        })
    }

    /// Runs a step of a call; a panic in it (a bug of wasmi or of a host function) fails
    /// that call and nothing else: the store, its instances and the engine stay usable.
    ///
    /// They can be trusted after the panic, from wasmi's code (the patched 2.0.0): a panic
    /// below the execution handlers is parked and resumed once outside them (patch 0004);
    /// on the way out, the guard of `with_stack` puts back the execution context the call
    /// replaced (wasmi keeps it sound for embedders that catch panics, like its C API);
    /// nothing else of the store is taken out during a call, and the engine's locks are
    /// `spin` locks, released on unwinding and never poisoned. A function whose lazy
    /// translation panicked is marked failed to compile, in the engine: every later call
    /// of it, from any store, fails at once (translation is deterministic, it would panic
    /// again). What the guest changed before the panic (memory, globals, tables) stays, as
    /// after a trap.
    ///
    /// What is ours is settled here: the fuel the guest used in the slice that panicked is
    /// charged (as a trap's is; without it the fuel left would depend on where slices
    /// ended), and a host call the guest might have requested is dropped.
    fn guarded(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<Step, Error>,
    ) -> Result<Step, Error> {
        let result = catch_panic(|| step(self));
        if let Err(Error::Panic(_)) = result {
            let store = self.wasmi_mut();
            // wasmi keeps the fuel in the store as it runs: what is left is exact.
            let left = store.get_fuel().unwrap_or(0);
            let host = store.data_mut();
            host.pending = None;
            // Outside a slice (the panic came from our code between two) this is 0: the
            // meter's slice ended with the fuel the store still has.
            let used = host.meter.end_slice(left);
            if let Some(user) = &mut host.user_fuel {
                *user = user.saturating_sub(used);
            }
        }
        result
    }

    /// Resumes slices that ran out of slice fuel in place, while the time budget lasts and
    /// the user's fuel can pay for them; then settles where the call stands.
    fn run_budget(
        &mut self,
        mut outcome: Result<ResumableCall, wasmi::Error>,
        mut results: Vec<Val>,
    ) -> Result<Step, Error> {
        loop {
            match outcome {
                Ok(ResumableCall::OutOfFuel(fuel))
                    if !self.budget_spent()
                        && fuel.required_fuel() <= self.slice()
                        && !self.user_fuel_exhausted(fuel.required_fuel()) =>
                {
                    let required = fuel.required_fuel();
                    outcome = self.metered(required, true, |s| fuel.resume(s, &mut results));
                }
                outcome => return self.settle(outcome, results),
            }
        }
    }

    /// The one mapping from where wasmi stopped to a [`Step`].
    fn settle(
        &mut self,
        outcome: Result<ResumableCall, wasmi::Error>,
        results: Vec<Val>,
    ) -> Result<Step, Error> {
        let frame = match outcome {
            Ok(ResumableCall::Finished) => return Ok(Step::Done(results)),
            Ok(ResumableCall::OutOfFuel(fuel)) => return self.out_of_fuel(fuel, results),
            Ok(ResumableCall::HostTrap(trap)) if is_marker(trap.host_error()) => Some(trap),
            Ok(ResumableCall::HostTrap(trap)) => return host_error(trap.into_host_error()),
            // A host function called with no Wasm frame left (see `AfterHost`).
            Err(error) if is_marker(&error) => None,
            Err(error) => return host_error(error),
        };
        let after = AfterHost { frame, results };
        let pending = self.wasmi_mut().data_mut().pending.take();
        let suspended = match pending {
            Some(Pending::Import(request)) => Suspended::Host(HostCall { request, after }),
            Some(Pending::Sleep(sleep)) => Suspended::Sleep(Sleeping { sleep, after }),
            Some(Pending::Work(work)) => Suspended::Heavy(Heavy(HeavyWork::Host(work, after))),
            None => return Err(Error::Internal("host call without its request".into())),
        };
        Ok(Step::Suspended(suspended))
    }

    /// The guest needs `fuel.required_fuel()` to go on: a trap when the user cannot pay it,
    /// heavy work when a slice cannot hold it, otherwise a yield.
    fn out_of_fuel(&self, fuel: ResumableCallOutOfFuel, results: Vec<Val>) -> Result<Step, Error> {
        let required = fuel.required_fuel();
        if self.user_fuel_exhausted(required) {
            return Err(Error::Trap(trap_message(TrapCode::OutOfFuel).into()));
        }
        let suspended = if required > self.slice() {
            Suspended::Heavy(Heavy(HeavyWork::Instruction(fuel, results)))
        } else {
            Suspended::Yield(Yielded { fuel, results })
        };
        Ok(Step::Suspended(suspended))
    }
}

/// `true` for the marker a host function returns to suspend the guest.
fn is_marker(error: &wasmi::Error) -> bool {
    error.downcast_ref::<HostCallMarker>().is_some()
}

/// A host function failed: the call ends. WASI's `proc_exit(0)` is a successful end.
fn host_error(error: wasmi::Error) -> Result<Step, Error> {
    if error.i32_exit_status() == Some(0) {
        return Ok(Step::Done(Vec::new()));
    }
    Err(Error::from(error))
}

/// Converts an Elixir callback's results to the import's declared result types.
fn host_results(
    inputs: impl ExactSizeIterator<Item = Input>,
    types: &[ValType],
) -> Result<Vec<Val>, Error> {
    if inputs.len() != types.len() {
        return Err(Error::Callback(format!(
            "expected {} result(s), got {}",
            types.len(),
            inputs.len()
        )));
    }
    inputs
        .zip(types)
        .enumerate()
        .map(|(index, (input, ty))| {
            value::to_val(input, *ty).map_err(|mismatch| {
                Error::Callback(format!(
                    "could not convert callback result #{} to a WebAssembly {mismatch}",
                    index + 1
                ))
            })
        })
        .collect()
}
