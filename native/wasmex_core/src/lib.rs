//! The engine logic of wasmex_interp, as plain Rust without the BEAM.
//!
//! Everything here runs and is tested without Erlang (also under qemu for other CPUs); the
//! NIF crate `wasmex_interp` only converts terms and manages processes around it.
//!
//! - [`engine`]: engine options → wasmi config (fuel always on, compile fuel free).
//! - [`store`]: a store with user fuel kept apart from slicing.
//! - [`call`]: the resumable call state machine (slices, Elixir imports).
//! - [`imports`]: host functions that suspend the guest for an Elixir callback.
//! - [`module`], [`instance`], [`memory`]: compiling, instantiating, memory access.
//! - [`value`]: the conversion rules for values entering Wasm.
//! - [`slice`]: run-time calibration of the fuel slice.
//! - [`wasi`]: WASI preview 1 contexts, and a `poll_oneoff` that never blocks a thread.

pub mod call;
pub mod engine;
pub mod error;
pub mod imports;
pub mod instance;
pub mod memory;
pub mod module;
pub mod slice;
pub mod store;
pub mod value;
pub mod wasi;

pub use error::Error;
