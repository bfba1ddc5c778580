//! `Wasmex.Store` and `Wasmex.StoreOrCaller`: the store resource, the only lock.
//!
//! - [`owner`]: which process may use the store right now, who waits for it, and the
//!   hand-off between them (checkout, checkin, monitors).
//! - [`streams`]: a WASI guest's standard output and error, delivered to processes.
//! - [`limits`]: decoding `%Wasmex.StoreLimits{}`.
//! - [`nifs`]: creating stores; fuel.

mod limits;
mod nifs;
mod owner;
mod streams;

pub(crate) use owner::Purpose;

use crate::wasi::StreamTarget;
use owner::State;
use rustler::{Env, LocalPid, Monitor, NifStruct, ResourceArc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use wasmex_core::{engine::Engine, store::Store, Error};

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// A store and the processes around it.
pub(crate) struct StoreResource {
    /// Identifies the store in handles ([`StoreResource::check`]) and in `{:busy, id}` and
    /// wake-up messages.
    pub(crate) id: u64,
    /// The store's engine, for compiling modules without touching the store.
    pub(crate) engine: Engine,
    state: Mutex<State>,
}

// rustler returns NIF results through `catch_unwind`. A panic cannot leave this resource
// broken in a way Elixir could observe: the lock is never held where a panic can happen
// (wasmi's are caught inside `wasmex_core`).
impl std::panic::RefUnwindSafe for StoreResource {}

#[rustler::resource_impl]
impl rustler::Resource for StoreResource {
    const IMPLEMENTS_DOWN: bool = true;

    /// A monitored process died: an owner or a waiter (see [`owner`]).
    fn down<'a>(&'a self, env: Env<'a>, pid: LocalPid, _monitor: Monitor) {
        if let Ok(mut state) = self.state.lock() {
            state.down(env, self.id, pid);
        }
    }
}

/// `%Wasmex.StoreOrCaller{}`.
#[derive(NifStruct)]
#[module = "Wasmex.StoreOrCaller"]
pub(crate) struct ExStoreOrCaller {
    resource: ResourceArc<StoreResource>,
}

impl StoreResource {
    fn new(engine: Engine, store: Store, streams: [Option<StreamTarget>; 2]) -> Self {
        Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            engine,
            state: Mutex::new(State::new(store, streams)),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("store lock poisoned".into()))
    }

    /// Checks that a handle created in store `store_id` belongs to this store.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignHandle`] naming the `kind` of handle.
    pub(crate) fn check(&self, store_id: u64, kind: &'static str) -> Result<(), Error> {
        if store_id == self.id {
            Ok(())
        } else {
            Err(Error::ForeignHandle(kind))
        }
    }
}
