//! The engine logic of wasmex_interp, as plain Rust without the BEAM.
//!
//! Everything here runs and is tested without Erlang (also under qemu for other CPUs); the
//! NIF crate `wasmex_interp` only converts terms and manages processes around it.
//!
//! - [`engine`]: engine options → wasmi config (fuel always on, compile fuel free).
//! - [`store`]: a store with user fuel kept apart from slicing.
//! - [`call`]: the call protocol: a guest call in slices, and the ways it stops for the
//!   host, each with its own resume (the one description of the protocol).
//! - [`imports`]: host functions that suspend the guest: Elixir callbacks, heavy host work.
//! - [`module`], [`instance`], [`memory`]: compiling, instantiating, memory access.
//! - [`value`]: the conversion rules for values entering Wasm.
//! - [`slice`](mod@slice): run-time calibration of the fuel slice.
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
