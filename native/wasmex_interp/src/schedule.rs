//! Where NIF work runs: on the calling process's normal scheduler, or on a dirty one.
//!
//! A NIF on a normal scheduler should return within about a millisecond: the scheduler
//! runs nothing else meanwhile. Guest code keeps to that by running in time budgets
//! (`wasmex_core::call`). Host work whose size the arguments tell is checked against the
//! limits below before it starts: a NIF defined with [`twin!`] has a dirty twin, and on a
//! normal scheduler it answers `:dirty` ([`crate::reply::Refusal::Dirty`]) for work over
//! its limit; `Wasmex.Native` then runs the twin, the same body on a dirty CPU scheduler.
//! Below the limit, the work done is reported to the BEAM ([`consume_bytes`]), so that
//! several such NIFs in a row do not add up to a long schedule either.
//!
//! The limits are cautious: a dirty hop costs tens of microseconds, far less than the
//! millisecond of scheduler time it saves when a limit is crossed.

use crate::reply::{Answer, Refusal};
use rustler::Env;
use std::time::Duration;

/// Which of a pair of twin NIFs is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// A normal scheduler: work over its limit goes to the dirty twin.
    Normal,
    /// A dirty CPU scheduler: any amount of work.
    Dirty,
}

/// Bytes copied on a normal scheduler in one NIF (memory and pipe reads and writes): one
/// MiB takes 0.1–0.3 ms on a desktop core with its binary allocated, about a millisecond
/// on a Cortex-A53.
const COPY_BYTES: u64 = 1 << 20;

/// Bytes of Wasm (binary or WAT text) compiled on a normal scheduler. The costliest
/// modules per byte take 40-50 ns a byte on this project's x86-64 machine (thousands of
/// tiny functions compiled eagerly, WAT text; most modules 10-30 ns): 16 KiB is at most
/// 0.8 ms, where modules just under 64 KiB held a scheduler for 1.5-3.7 ms (6 ms for WAT
/// on a loaded machine).
pub(crate) const COMPILE_BYTES: u64 = 16 << 10;

/// Instantiation work done on a normal scheduler, in bytes written (see
/// [`instantiation_work`]).
pub(crate) const INSTANTIATE_BYTES: u64 = 1 << 20;

/// What one import costs an instantiation, in bytes of work: a host function made and
/// defined by name in the linker takes about a microsecond (200,000 imports: 0.2 s).
const IMPORT_BYTES: u64 = 4 << 10;

/// Imports past which an instantiation is dirty work whatever its modules: counting the
/// imports of a call stops there, so that a list of 200,000 is not walked on a normal
/// scheduler only to be sent to the dirty twin.
pub(crate) const NORMAL_IMPORTS: usize = (INSTANTIATE_BYTES / IMPORT_BYTES) as usize;

/// The work of instantiating modules whose memories, tables and segments come to `bytes`
/// (`wasmex_core::module::Module::instantiation_bytes`), with `imports` Elixir imports.
///
/// # Note
///
/// wasmi 2.0.0 writes every byte of a new memory, so a declared minimum is real work.
pub(crate) fn instantiation_work(bytes: u64, imports: usize) -> u64 {
    bytes.saturating_add(IMPORT_BYTES.saturating_mul(imports as u64))
}

impl Schedule {
    /// Refuses `work` over `limit` on a normal scheduler: the dirty twin is to do it.
    ///
    /// # Errors
    ///
    /// [`Refusal::Dirty`] on a normal scheduler for work over the limit.
    pub(crate) fn admit(self, work: u64, limit: u64) -> Result<(), Refusal> {
        if self == Schedule::Normal && work > limit {
            return Err(Refusal::Dirty);
        }
        Ok(())
    }

    /// Runs `copy`, which copies `bytes` (memory and pipe reads and writes, new pages
    /// zeroed): refused over [`COPY_BYTES`] on a normal scheduler, and reported to the BEAM
    /// after ([`consume_bytes`]).
    ///
    /// # Errors
    ///
    /// [`Refusal::Dirty`] on a normal scheduler for a copy over the limit, or `copy`'s.
    pub(crate) fn copy<T>(
        self,
        env: Env,
        bytes: u64,
        copy: impl FnOnce() -> Answer<T>,
    ) -> Answer<T> {
        self.admit(bytes, COPY_BYTES)?;
        let copied = copy();
        consume_bytes(env, self, bytes);
        copied
    }
}

/// Bytes a normal scheduler copies in a millisecond, cautiously, for [`consume_bytes`]: a
/// copy into a new binary that the process keeps runs at about 2.5 GB/s here (its pages
/// are fresh), so 1 MiB, the most one NIF copies, takes half a millisecond.
const BYTES_PER_MS: u64 = 2 << 20;

/// Reports `bytes` of copying on a normal scheduler to the BEAM as part of the process's
/// time slice (a millisecond of work is a whole slice).
fn consume_bytes(env: Env, schedule: Schedule, bytes: u64) {
    if schedule == Schedule::Normal {
        consume_percent(env, bytes.saturating_mul(100) / BYTES_PER_MS);
    }
}

/// Reports guest code that ran for `elapsed` to the BEAM, so that a process running guest
/// code is scheduled out like one running Erlang code.
///
/// A yield means the invocation ran its whole time budget: that counts as a full time
/// slice, so the process makes way for others after every budget (turns of about 0.2 ms).
/// A shorter invocation counts in proportion to 1 ms; one under 10 µs (most calls) counts
/// as an ordinary NIF call.
pub(crate) fn consume_guest(env: Env, schedule: Schedule, elapsed: Duration, yielded: bool) {
    if schedule == Schedule::Normal {
        let percent = if yielded {
            100
        } else {
            elapsed.as_micros() / 10
        };
        consume_percent(env, u64::try_from(percent).unwrap_or(100));
    }
}

fn consume_percent(env: Env, percent: u64) {
    if percent >= 1 {
        rustler::schedule::consume_timeslice(env, percent.min(100) as i32);
    }
}

/// Defines a NIF and its dirty twin from one body.
///
/// `twin!(body(a, b) => "name_nif", "name_dirty_nif", (a: A, b: B) -> Return)` defines the
/// NIF `name_nif` on a normal scheduler and `name_dirty_nif` on a dirty CPU scheduler; both
/// take the calling process's `env` first and call `body(schedule, env, a, b)`, which
/// decides with [`Schedule::admit`] what the normal one may do. The Elixir side
/// (`Wasmex.Native`) calls the normal one and, on `:dirty`, the twin.
///
/// The parameters are passed on as plain tokens (rustler's attribute does not read types
/// that went through a `ty` fragment), and `env` is declared here: rustler's attribute
/// refers to it by its own name.
macro_rules! twin {
    (
        $body:ident($($arg:ident),* $(,)?) => $normal:literal, $dirty:literal,
        ($($params:tt)*) -> $($ret:tt)+
    ) => {
        mod $body {
            #[allow(clippy::wildcard_imports)]
            use super::*;

            #[rustler::nif(name = $normal)]
            fn normal<'a>(env: rustler::Env<'a>, $($params)*) -> $($ret)+ {
                super::$body($crate::schedule::Schedule::Normal, env, $($arg),*)
            }

            #[rustler::nif(name = $dirty, schedule = "DirtyCpu")]
            fn dirty<'a>(env: rustler::Env<'a>, $($params)*) -> $($ret)+ {
                super::$body($crate::schedule::Schedule::Dirty, env, $($arg),*)
            }
        }
    };
}

pub(crate) use twin;
