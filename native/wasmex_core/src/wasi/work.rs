//! WASI work that may take longer than a time budget and cannot be cut into short calls:
//! done within the calling slice when it is small, handed over as the call protocol's host
//! work ([`crate::imports::offload`]) when it is not.
//!
//! Reads and writes are cut into short calls instead (see [`super::io`]): POSIX lets them
//! be short. `random_get` must fill the whole buffer, `fd_readdir` must fill it up to the
//! end of the listing, and `fd_sync` waits for the disk: a gigabyte of random bytes took
//! about 0.6 s, all on the scheduler that ran the slice. Handed over, the guest is
//! suspended ([`crate::call::Heavy`]) and the host does the work where it may run long (a
//! dirty scheduler under the BEAM), then resumes the guest with its errno.
//!
//! Where the work runs changes nothing the guest can see: the same bytes (the same
//! stream of seeded random bytes in a deterministic run) and the same fuel. Whether it is
//! handed over depends only on the call's arguments and on what the guest did before, so
//! the same run hands over the same calls whatever the slicing.

use super::fuel::{self, charge};
use crate::imports::{offload, HostWork};
use crate::store::Host;
use std::fmt;
use wasmi::{Caller, Memory, Val};

/// What a piece of work returns to the guest, and what it costs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Done {
    /// The errno for the guest.
    pub(super) errno: i32,
    /// Fuel for what the work moved, when that is only known once it is done (charged as
    /// a slice's own fuel is: the user's fuel pays).
    pub(super) fuel: u64,
}

impl Done {
    /// Work that returns `errno` and costs nothing more.
    pub(super) fn errno(errno: i32) -> Self {
        Self { errno, fuel: 0 }
    }
}

/// What [`Work::run`] answers: what the work returns, `None` when work within a slice
/// finds that it is too big, or a trap.
pub(super) type Outcome = Result<Option<Done>, wasmi::Error>;

/// A WASI call's work, on the guest's memory and the store's WASI state.
pub(super) trait Work: fmt::Debug + Send + 'static {
    /// Does the work on `data` (the guest's memory).
    ///
    /// `within_slice` is `true` when it runs in the calling slice: work that finds only
    /// then that it is too big returns `None`, before it had any effect, and is handed
    /// over (`None` is not an answer outside a slice).
    ///
    /// # Errors
    ///
    /// A trap (a bug in wasi-common, `proc_exit`).
    fn run(&self, data: &mut [u8], host: &mut Host, within_slice: bool) -> Outcome;
}

/// Runs `work` in the calling slice when `small`, and hands it over otherwise (or when it
/// turns out too big); returns what the host function returns.
///
/// # Errors
///
/// A trap from the work, the "all fuel consumed" trap when the user cannot pay for what
/// it moved, or the marker that suspends the guest for the handed-over work.
pub(super) fn run(
    caller: &mut Caller<'_, Host>,
    memory: Memory,
    small: bool,
    work: impl Work,
) -> Result<i32, wasmi::Error> {
    if small {
        let (data, host) = memory.data_and_store_mut(&mut *caller);
        if let Some(done) = work.run(data, host, true)? {
            charge(caller, done.fuel)?;
            return Ok(done.errno);
        }
    }
    Err(offload(caller, HandedOver { memory, work }))
}

/// Work handed over to the host, with the memory it works on.
#[derive(Debug)]
struct HandedOver<W> {
    memory: Memory,
    work: W,
}

impl<W: Work> HostWork for HandedOver<W> {
    fn run(self: Box<Self>, store: &mut wasmi::Store<Host>) -> Result<Vec<Val>, wasmi::Error> {
        let (data, host) = self.memory.data_and_store_mut(store);
        let done = self
            .work
            .run(data, host, false)?
            .ok_or_else(|| wasmi::Error::new("WASI host work refused outside a slice"))?;
        fuel::charge_between_slices(host, done.fuel)?;
        Ok(vec![Val::I32(done.errno)])
    }
}
