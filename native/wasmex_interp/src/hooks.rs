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

/// Makes the next host function a guest of this store calls panic inside wasmi, once: a
/// stand-in for a wasmi bug, to test that a panic fails its call and nothing else.
///
/// wasmi runs a store's call hook just before each host function, below its execution
/// handlers, where the patched wasmi contains a panic.
#[rustler::nif(name = "hook_panic_next_host_call_nif")]
fn panic_next_host_call(env: Env, store: ResourceArc<StoreResource>) -> Term {
    let answer = StoreResource::with(&store, env, |store| {
        let mut armed = true;
        store.wasmi_mut().call_hook(move |_, hook| {
            if armed && matches!(hook, wasmi::CallHook::CallingHost) {
                armed = false;
                // Unwinds as `panic!` does, without printing a panic message to stderr.
                std::panic::resume_unwind(Box::new("the test hook made a host call panic"));
            }
            Ok(())
        });
        Ok(())
    });
    reply::done(env, answer)
}
