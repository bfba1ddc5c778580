//! The call state machine: every guest call runs in fuel slices and may stop for an Elixir
//! import, then is resumed.
//!
//! ```text
//! call ──▶ Done(results) | Err(error)
//!   │
//!   ├──▶ Yield(call)            the time budget is spent: resume() goes on
//!   ├──▶ Sleep(call, duration)  the guest sleeps (WASI): wait, then resume()
//!   └──▶ Host(call, request)    the guest called an Elixir import: resume_host(results)
//! ```
//!
//! Each of [`Store::call`], [`Store::resume`] and [`Store::resume_host`] runs fuel slices
//! (see [`crate::slice`]) back to back, resuming in Rust after each, until the call ends,
//! calls an import, or the store's time budget for one host invocation
//! ([`crate::slice::BUDGET`]) is spent. A small fuel slice therefore costs one wasmi
//! suspend/resume (~130 ns), not a round trip to the host.
//!
//! Every `Err` ends the call. A [`Call`] that is dropped instead of resumed ends it too
//! (cancellation); nothing else needs cleaning up.

use crate::{
    error::catch_panic,
    error::trap_message,
    imports::{HostCallMarker, HostRequest, Pending},
    store::Store,
    value::{self, Input},
    wasi::Sleep,
    Error,
};
use std::time::Duration;
use wasmi::{
    Func, ResumableCall, ResumableCallHostTrap, ResumableCallOutOfFuel, TrapCode, Val, ValType,
};

/// A suspended guest call.
#[derive(Debug)]
pub struct Call {
    suspended: Suspended,
    results: Vec<Val>,
}

#[derive(Debug)]
enum Suspended {
    Host(ResumableCallHostTrap),
    Sleep(ResumableCallHostTrap, Sleep),
    Fuel(ResumableCallOutOfFuel),
    /// An import called with no Wasm frame left to resume: the host called an exported
    /// import directly, or the entry function tail-called one (`return_call`). The
    /// import's results are the call's results.
    LastHost,
    /// The same for a sleep (`return_call $poll_oneoff`).
    LastSleep(Sleep),
}

/// Where a call stands after a slice.
#[derive(Debug)]
pub enum Step {
    /// The call returned these results.
    Done(Vec<Val>),
    /// The slice ran out; resume with [`Store::resume`].
    Yield(Call),
    /// The guest called an Elixir import; resume with [`Store::resume_host`].
    Host(Call, HostRequest),
    /// The guest sleeps this long; resume with [`Store::resume`] once it is over.
    Sleep(Call, Duration),
}

impl Call {
    /// `true` when the call waits for an Elixir import's results, `false` after a yield.
    pub fn awaits_host(&self) -> bool {
        matches!(self.suspended, Suspended::Host(_) | Suspended::LastHost)
    }
}

impl Store {
    /// Starts a call of `func` with `inputs` and runs it for one time budget.
    ///
    /// # Errors
    ///
    /// A parameter count or type mismatch, or the guest's trap.
    pub fn call(
        &mut self,
        func: Func,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        self.guarded(|store| store.call_unguarded(func, inputs))
    }

    /// Goes on with a call that yielded or slept, for one more time budget.
    ///
    /// # Errors
    ///
    /// [`Error::NoCall`] when the call waits for an import's results; or the guest's trap.
    pub fn resume(&mut self, call: Call) -> Result<Step, Error> {
        self.guarded(|store| store.resume_unguarded(call))
    }

    /// Resumes a call that waits for an Elixir import with the callback's results.
    ///
    /// # Errors
    ///
    /// [`Error::Callback`] when the results do not match the import's declared result types;
    /// [`Error::NoCall`] when the call did not wait for an import; or the guest's trap.
    pub fn resume_host(
        &mut self,
        call: Call,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        self.guarded(|store| store.resume_host_unguarded(call, inputs))
    }
}

impl Store {
    /// Runs a step of a call unless the engine is poisoned; a panic in it poisons the engine.
    fn guarded(
        &mut self,
        step: impl FnOnce(&mut Self) -> Result<Step, Error>,
    ) -> Result<Step, Error> {
        if self.engine().is_poisoned() {
            return Err(Error::EnginePoisoned);
        }
        let result = catch_panic(|| step(self));
        if let Err(Error::Panic(_)) = result {
            self.engine().poison();
        }
        result
    }

    /// [`Store::call`] without its guard against panics.
    fn call_unguarded(
        &mut self,
        func: Func,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        let ty = func.ty(self.wasmi());
        let params = value::to_vals(inputs, ty.params())?;
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .copied()
            .map(Val::default_for_ty)
            .collect();
        self.start_budget();
        let outcome = self.metered(0, |store| func.call_resumable(store, &params, &mut results));
        self.run_budget(outcome, results)
    }
    /// [`Store::resume`] without its guard against panics.
    fn resume_unguarded(&mut self, call: Call) -> Result<Step, Error> {
        let Call {
            suspended,
            mut results,
        } = call;
        self.start_budget();
        let outcome = match suspended {
            Suspended::Fuel(suspended) => {
                let required = suspended.required_fuel();
                self.metered(required, |store| suspended.resume(store, &mut results))
            }
            Suspended::Sleep(suspended, sleep) => {
                let poll_results = sleep.finish(self.wasmi_mut());
                self.metered(0, |store| {
                    suspended.resume(store, &poll_results, &mut results)
                })
            }
            Suspended::LastSleep(sleep) => {
                return Ok(Step::Done(sleep.finish(self.wasmi_mut()).to_vec()));
            }
            Suspended::Host(_) | Suspended::LastHost => return Err(Error::NoCall),
        };
        self.run_budget(outcome, results)
    }
    /// [`Store::resume_host`] without its guard against panics.
    fn resume_host_unguarded(
        &mut self,
        call: Call,
        inputs: impl ExactSizeIterator<Item = Input>,
    ) -> Result<Step, Error> {
        let Call {
            suspended,
            mut results,
        } = call;
        let suspended = match suspended {
            Suspended::Host(suspended) => suspended,
            Suspended::LastHost => {
                let types: Vec<ValType> = results.iter().map(Val::ty).collect();
                return host_results(inputs, &types).map(Step::Done);
            }
            _ => return Err(Error::NoCall),
        };
        let ty = suspended.host_func().ty(self.wasmi());
        let host_results = host_results(inputs, ty.results())?;
        self.start_budget();
        let outcome = self.metered(0, |store| {
            suspended.resume(store, &host_results, &mut results)
        });
        self.run_budget(outcome, results)
    }

    /// Resumes slices that ran out of slice fuel in place, while the time budget lasts
    /// and the user's fuel can pay for them; then settles where the call stands.
    fn run_budget(
        &mut self,
        mut outcome: Result<ResumableCall, wasmi::Error>,
        mut results: Vec<Val>,
    ) -> Result<Step, Error> {
        loop {
            match outcome {
                Ok(ResumableCall::OutOfFuel(suspended))
                    if !self.budget_spent()
                        && !self.user_fuel_exhausted(suspended.required_fuel()) =>
                {
                    let required = suspended.required_fuel();
                    outcome = self.metered(required, |store| suspended.resume(store, &mut results));
                }
                outcome => return self.settle(outcome, results),
            }
        }
    }

    fn settle(
        &mut self,
        outcome: Result<ResumableCall, wasmi::Error>,
        results: Vec<Val>,
    ) -> Result<Step, Error> {
        let outcome = match outcome {
            Err(error) if error.downcast_ref::<HostCallMarker>().is_some() => {
                return self.last_host_call(results);
            }
            outcome => outcome,
        };
        match outcome? {
            ResumableCall::Finished => Ok(Step::Done(results)),
            ResumableCall::HostTrap(trap) => {
                if trap.host_error().downcast_ref::<HostCallMarker>().is_none() {
                    let error = trap.into_host_error();
                    // WASI's proc_exit(0) is a successful end of the program.
                    if error.i32_exit_status() == Some(0) {
                        return Ok(Step::Done(Vec::new()));
                    }
                    return Err(Error::from(error));
                }
                let pending = self.wasmi_mut().data_mut().pending.take();
                match pending {
                    Some(Pending::Import(request)) => {
                        let suspended = Suspended::Host(trap);
                        Ok(Step::Host(Call { suspended, results }, request))
                    }
                    Some(Pending::Sleep(sleep)) => {
                        let duration = sleep.duration;
                        let suspended = Suspended::Sleep(trap, sleep);
                        Ok(Step::Sleep(Call { suspended, results }, duration))
                    }
                    None => Err(Error::Internal("host call without its request".into())),
                }
            }
            ResumableCall::OutOfFuel(suspended) => {
                if self.user_fuel_exhausted(suspended.required_fuel()) {
                    return Err(Error::Trap(trap_message(TrapCode::OutOfFuel).into()));
                }
                let call = Call {
                    suspended: Suspended::Fuel(suspended),
                    results,
                };
                Ok(Step::Yield(call))
            }
        }
    }
}

impl Store {
    /// An import was called with no Wasm frame to resume (see [`Suspended::LastHost`]).
    fn last_host_call(&mut self, results: Vec<Val>) -> Result<Step, Error> {
        match self.wasmi_mut().data_mut().pending.take() {
            Some(Pending::Import(request)) => {
                let suspended = Suspended::LastHost;
                Ok(Step::Host(Call { suspended, results }, request))
            }
            Some(Pending::Sleep(sleep)) => {
                let duration = sleep.duration;
                let suspended = Suspended::LastSleep(sleep);
                Ok(Step::Sleep(Call { suspended, results }, duration))
            }
            None => Err(Error::Internal("host call without its request".into())),
        }
    }
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
