//! The NIF of wasmex_interp: the Wasmex API on the wasmi interpreter.
//!
//! Thin glue: each file decodes terms for one Elixir module, calls the engine logic in
//! `wasmex_core` and encodes the answer. The one exception is [`store`], which also owns
//! the process side of a store (who is running a call on it, who waits for it).

mod atoms;
mod call;
mod engine;
mod instance;
mod memory;
mod module;
mod pipe;
mod reply;
mod store;
mod value;
mod wasi;
mod wat;

rustler::init!("Elixir.Wasmex.Native", load = load);

/// Panics never reach the BEAM: wasmi's are caught and returned as errors that carry their
/// message (`wasmex_core::error::catch_panic`), and rustler catches any other at the NIF
/// boundary. The default hook would also print each one, with a backtrace hint, on the
/// node's stderr: it is replaced by one that prints nothing.
fn load(_env: rustler::Env, _info: rustler::Term) -> bool {
    std::panic::set_hook(Box::new(|_| {}));
    true
}
