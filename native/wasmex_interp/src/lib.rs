//! The NIF of wasmex_interp: the Wasmex API on the wasmi interpreter.
//!
//! Thin glue: each file decodes terms for one Elixir module, calls the engine logic in
//! `wasmex_core` and encodes the answer. The process side of a store (who is using it,
//! who waits for it) is in `store`; where work runs (normal or dirty scheduler) is in
//! `schedule`; how NIFs answer is in `reply`.
//!
//! Panics never reach the BEAM: wasmi's are caught and returned as errors that carry their
//! message (`wasmex_core::error::catch_panic`), and rustler catches any other at the NIF
//! boundary. No panic hook is installed: the panic hook is the whole node's, and other
//! NIFs' (and the host's) must stay as they are.

/// Makes `$resource` a NIF resource, for the resources with nothing to do when Elixir
/// drops them (the store, which has, is `store::StoreResource`).
///
/// rustler returns NIF results through `catch_unwind`, so a resource must be
/// `RefUnwindSafe`. A panic cannot leave one broken in a way Elixir could observe: they
/// are immutable once made, and the store's lock is never held where a panic can happen.
macro_rules! resource {
    ($resource:ident) => {
        impl std::panic::RefUnwindSafe for $resource {}

        #[rustler::resource_impl]
        impl rustler::Resource for $resource {}
    };
}

mod atoms;
mod call;
mod engine;
mod hooks;
mod instance;
mod memory;
mod module;
mod pipe;
mod reply;
mod schedule;
mod store;
mod value;
mod wasi;
mod wat;

/// Takes the wording of messages from the load info of `Wasmex.Native`: `true` when
/// wasmex_interp is compiled in Wasmex compatibility mode (`wasmex_core::error`).
fn load(_env: rustler::Env, load_info: rustler::Term) -> bool {
    wasmex_core::error::use_wasmex_wording(load_info.decode().unwrap_or(false));
    true
}

rustler::init!("Elixir.Wasmex.Native", load = load);
