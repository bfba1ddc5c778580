//! Host functions that suspend the guest: Elixir callbacks, and host work too big for a
//! time budget.
//!
//! An Elixir callback cannot run inside a NIF, so its host function does not compute
//! anything: it records the call ([`HostRequest`]) in the store and traps out of the guest
//! with a [`HostCallMarker`]. Under `call_resumable` that trap suspends the guest; the Elixir
//! side runs the callback in the calling process and resumes the guest with its results.
//!
//! A host function whose work may take longer than a time budget (filling a gigabyte with
//! random bytes, writing many large buffers) suspends the guest the same way with
//! [`offload`]: the call comes back as [`crate::call::Heavy`], and the host resumes it where
//! it may run long (a dirty scheduler), which does the work and hands its results to the
//! guest. See [`HostWork`].

use crate::store::Host;
use core::fmt;
use wasmi::{Caller, Extern, Func, FuncType, Linker, Memory, Val};

/// One Elixir import: where it lives and its signature. Its index in the list given to
/// [`define`] identifies it in every [`HostRequest`].
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// The import's module (namespace), e.g. `"env"`.
    pub module: String,
    /// The import's name.
    pub name: String,
    /// The declared signature.
    pub ty: FuncType,
}

/// Why the guest stopped for the host.
#[derive(Debug)]
pub enum Pending {
    /// It called an Elixir import.
    Import(HostRequest),
    /// It went to sleep (WASI `poll_oneoff` on clocks only), or waits for its streamed
    /// output to be taken (a sleep of zero).
    Sleep(crate::wasi::Sleep),
    /// It called a host function whose work is too big for a time budget.
    Work(Box<dyn HostWork>),
}

/// The work of a host function that may take longer than a time budget, done when the call
/// is resumed on a thread allowed to run long.
///
/// A host function hands it over with [`offload`] and returns what `offload` returns; it
/// has done nothing yet, so the guest sees no effect until [`HostWork::run`]. Its results
/// are the host function's results: they must match its declared result types.
///
/// ```ignore
/// fn random_get(mut caller: Caller<'_, Host>, ptr: i32, len: i32) -> Result<i32, wasmi::Error> {
///     if (len as u32) < SMALL {
///         return Ok(fill_now(&mut caller, ptr, len));  // cheap: do it in the slice
///     }
///     let memory = /* the caller's "memory" export */;
///     Err(imports::offload(&mut caller, RandomFill { memory, ptr, len }))
/// }
///
/// impl HostWork for RandomFill {
///     fn run(self: Box<Self>, store: &mut wasmi::Store<Host>) -> Result<Vec<Val>, wasmi::Error> {
///         let errno = fill(self.memory.data_mut(store), self.ptr, self.len);
///         Ok(vec![Val::I32(errno)])
///     }
/// }
/// ```
pub trait HostWork: fmt::Debug + Send {
    /// Does the work with the store; returns the host function's results.
    ///
    /// # Errors
    ///
    /// An error ends the call, as a host function's error does.
    fn run(self: Box<Self>, store: &mut wasmi::Store<Host>) -> Result<Vec<Val>, wasmi::Error>;
}

/// Suspends the guest for `work`: a host function returns `Err(offload(caller, work))`.
pub fn offload(caller: &mut Caller<'_, Host>, work: impl HostWork + 'static) -> wasmi::Error {
    caller.data_mut().pending = Some(Pending::Work(Box::new(work)));
    wasmi::Error::host(HostCallMarker)
}

/// A call of an Elixir import by the guest, waiting for the callback's results.
#[derive(Debug, Clone)]
pub struct HostRequest {
    /// Index of the import in the list given to [`define`].
    pub import: u32,
    /// The arguments the guest passed.
    pub params: Vec<Val>,
    /// The calling instance's export named `"memory"`, if any (Wasmex's `context.memory`).
    pub memory: Option<Memory>,
}

/// The host error that suspends a guest when it calls an Elixir import.
#[derive(Debug, Clone, Copy)]
pub struct HostCallMarker;

impl fmt::Display for HostCallMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Elixir import was called outside of a resumable call")
    }
}

impl wasmi::errors::HostError for HostCallMarker {}

/// Defines every import of `specs` in `linker` as a host function of `store`.
///
/// # Errors
///
/// When `linker` refuses a definition (two specs with the same module and name).
pub fn define(
    linker: &mut Linker<Host>,
    store: &mut wasmi::Store<Host>,
    specs: &[ImportSpec],
) -> Result<(), crate::Error> {
    for (index, spec) in specs.iter().enumerate() {
        let import =
            u32::try_from(index).map_err(|_| crate::Error::Internal("too many imports".into()))?;
        let func = Func::new(
            &mut *store,
            spec.ty.clone(),
            move |mut caller: Caller<'_, Host>, params: &[Val], _results: &mut [Val]| {
                let memory = caller.get_export("memory").and_then(Extern::into_memory);
                caller.data_mut().pending = Some(Pending::Import(HostRequest {
                    import,
                    params: params.to_vec(),
                    memory,
                }));
                Err(wasmi::Error::host(HostCallMarker))
            },
        );
        linker
            .define(&spec.module, &spec.name, func)
            .map_err(|error| crate::Error::Wasm(error.to_string()))?;
    }
    Ok(())
}
