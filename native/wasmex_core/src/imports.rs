//! Host functions that stand for Elixir callbacks.
//!
//! An Elixir callback cannot run inside a NIF, so its host function does not compute
//! anything: it records the call ([`HostRequest`]) in the store and traps out of the guest
//! with a [`HostCallMarker`]. Under `call_resumable` that trap suspends the guest; the Elixir
//! side runs the callback in the calling process and resumes the guest with its results.

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
#[derive(Debug, Clone)]
pub enum Pending {
    /// It called an Elixir import.
    Import(HostRequest),
    /// It went to sleep (WASI `poll_oneoff` on clocks only), or waits for its streamed
    /// output to be taken (a sleep of zero).
    Sleep(crate::wasi::Sleep),
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
