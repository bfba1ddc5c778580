//! Fuel that WASI calls charge for the bytes they move, and the meter that makes it count.
//!
//! wasmi charges fuel for the instructions a guest runs, not for the work of a host
//! function. A WASI call that copies a megabyte would then be free, and a slice of guest
//! code that makes such calls could run far past its time budget. So the calls of this
//! module that move bytes (`fd_read`, `fd_pread`, `fd_write`, `fd_pwrite`, `random_get`,
//! `fd_readdir`) charge [`FUEL_PER_BYTE`] for each byte read, written, generated or
//! listed. The charge is a function of the bytes moved only, so fuel stays the same on
//! every run and every slicing, and wherever the work runs (see [`super::work`]).
//!
//! A charge larger than what the running slice has left ends the slice (its fuel goes to
//! 0) and the rest is kept as a *debt* that the store adds to the slice's use
//! ([`FuelMeter::end_slice`]); the user's fuel pays for all of it. A charge the user's
//! fuel cannot pay is the "all fuel consumed" trap, before any byte moves. Work handed
//! over to the host runs between two slices and is charged there
//! ([`charge_between_slices`]), as it would have been within the slice.

use crate::store::Host;
use wasmi::{Caller, TrapCode};

/// Fuel per byte a WASI call moves. Measured on x86-64 with wasmi running about 3 units
/// of fuel per nanosecond: writing to a growing pipe takes about as long as 2 units of
/// fuel per byte, copying to a stream or a file in the page cache about 1, filling
/// random bytes about 1.5.
pub const FUEL_PER_BYTE: u64 = 1;

/// The fuel the store's guests have used, host charges included, as the WASI functions of
/// this store see it: the deterministic clock reads it.
#[derive(Debug, Default)]
pub struct FuelMeter {
    /// Fuel used by the slices that ended.
    consumed: u64,
    /// The fuel the running slice started with.
    slice: u64,
    /// Host charges of the running slice beyond what it had left.
    debt: u64,
}

impl FuelMeter {
    /// A slice starts with `budget` fuel.
    pub(crate) fn start_slice(&mut self, budget: u64) {
        self.slice = budget;
        self.debt = 0;
    }

    /// The running slice ended with `left` fuel: returns the fuel it used, host charges
    /// included.
    pub(crate) fn end_slice(&mut self, left: u64) -> u64 {
        let used = self
            .slice
            .saturating_sub(left)
            .saturating_add(std::mem::take(&mut self.debt));
        self.consumed = self.consumed.saturating_add(used);
        self.slice = left;
        used
    }

    /// Fuel used so far while the running slice has `left`.
    pub(crate) fn consumed(&self, left: u64) -> u64 {
        self.consumed.saturating_add(self.used_in_slice(left))
    }

    fn used_in_slice(&self, left: u64) -> u64 {
        self.slice.saturating_sub(left).saturating_add(self.debt)
    }
}

/// Fuel for moving `bytes`.
pub(crate) fn cost(bytes: usize) -> u64 {
    (bytes as u64).saturating_mul(FUEL_PER_BYTE)
}

/// Fuel used so far by the caller's store (see [`FuelMeter::consumed`]).
pub(crate) fn consumed(caller: &Caller<'_, Host>) -> u64 {
    caller.data().meter.consumed(caller.get_fuel().unwrap_or(0))
}

/// Charges `fuel` to the caller's store.
///
/// # Errors
///
/// The "all fuel consumed" trap when the user meters fuel and has less than `fuel` left.
pub(crate) fn charge(caller: &mut Caller<'_, Host>, fuel: u64) -> Result<(), wasmi::Error> {
    if fuel == 0 {
        return Ok(());
    }
    // The engine always meters fuel (slices), so this cannot fail.
    let left = caller.get_fuel().unwrap_or(0);
    let host = caller.data_mut();
    if let Some(user) = host.user_fuel {
        if user.saturating_sub(host.meter.used_in_slice(left)) < fuel {
            return Err(TrapCode::OutOfFuel.into());
        }
    }
    let debt = fuel.saturating_sub(left);
    host.meter.debt = host.meter.debt.saturating_add(debt);
    let _ = caller.set_fuel(left.saturating_sub(fuel));
    Ok(())
}

/// Charges `fuel` for host work done between two slices (WASI work handed over to the
/// host, see [`super::work`]): the same charge as [`charge`] within a slice.
///
/// # Errors
///
/// The "all fuel consumed" trap when the user meters fuel and has less than `fuel` left.
pub(crate) fn charge_between_slices(host: &mut Host, fuel: u64) -> Result<(), wasmi::Error> {
    if let Some(user) = &mut host.user_fuel {
        if *user < fuel {
            return Err(TrapCode::OutOfFuel.into());
        }
        *user -= fuel;
    }
    host.meter.consumed = host.meter.consumed.saturating_add(fuel);
    Ok(())
}
