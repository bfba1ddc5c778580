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

rustler::init!("Elixir.Wasmex.Native");
