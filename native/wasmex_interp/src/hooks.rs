//! Test and bench hooks: NIFs that are no part of the API. `Wasmex.Native` keeps them in
//! a section of their own, and no public module calls them.

use crate::{atoms, reply, store::StoreResource};
use rustler::{Env, ResourceArc, Term};

/// Does nothing: the floor the call benchmarks compare against (an empty NIF call).
#[rustler::nif(name = "hook_noop")]
fn noop() -> rustler::Atom {
    atoms::ok()
}

/// Forces the fuel of every slice (for tests and benchmarks of slicing); `nil` calibrates.
#[rustler::nif(name = "hook_set_slice_nif")]
fn set_slice(env: Env, store: ResourceArc<StoreResource>, fuel: Option<u64>) -> Term {
    let answer = StoreResource::with(&store, env, |store| {
        store.set_slice(fuel);
        Ok(())
    });
    reply::done(env, answer)
}
