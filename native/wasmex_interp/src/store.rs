//! `Wasmex.Store` and `Wasmex.StoreOrCaller`: the store resource, the only lock, and which
//! process may use the store right now.
//!
//! # Ownership
//!
//! A process that starts a call *owns* the store until the call ends, including while the
//! call is suspended between slices or inside an Elixir callback. Only the owner may use
//! the store meanwhile (nested calls, memory access from its callbacks). Any other process
//! gets [`Error::Busy`], is queued as a waiter, and is sent `{:"$wasmex_store_free", id}`
//! when the store is released; the Elixir side then retries. No scheduler thread ever
//! blocks waiting for a store.
//!
//! # Locking
//!
//! The mutex is held only for bookkeeping and short host operations. While guest code
//! runs, the store is *checked out* of the mutex (see [`StoreResource::checkout`]), so the
//! lock is never held across guest code or an Elixir callback.
//!
//! # Cancellation
//!
//! When a call first suspends, the store monitors its owner. If the owner dies, the
//! monitor drops its suspended calls, releases the store and wakes a waiter. The monitor
//! is kept after the call ends (and replaced when another process suspends a call), so a
//! process that calls into a store over and over pays for it once.

use crate::{
    atoms,
    engine::EngineResource,
    reply::Done,
    wasi::{self, ExWasiOptions, StreamTarget},
};
use rustler::{Encoder, Env, LocalPid, Monitor, NifResult, NifStruct, ResourceArc};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use wasmex_core::{
    call::Call,
    engine::Engine,
    store::{Limits, Store},
    Error,
};

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// A store and the processes around it.
pub(crate) struct StoreResource {
    /// Identifies the store in handles ([`StoreResource::check`]) and wake-up messages.
    pub(crate) id: u64,
    /// The store's engine, for compiling modules without touching the store.
    pub(crate) engine: Engine,
    state: Mutex<State>,
}

struct State {
    /// `None` while checked out by the owner to run guest code.
    store: Option<Box<Store>>,
    /// The process running a call, from its start to its end.
    owner: Option<LocalPid>,
    /// Suspended calls of the owner, innermost last.
    calls: Vec<Call>,
    /// The last process that suspended a call, and its monitor.
    monitored: Option<(LocalPid, Monitor)>,
    /// Processes waiting for the store, first come first served.
    waiters: VecDeque<LocalPid>,
    /// Where a WASI guest's streamed stdout and stderr go.
    streams: [Option<StreamTarget>; 2],
}

// rustler returns NIF results through `catch_unwind`. A panic cannot leave this resource
// broken in a way Elixir could observe: see `crate::store` for the one mutable part.
impl std::panic::RefUnwindSafe for StoreResource {}

#[rustler::resource_impl]
impl rustler::Resource for StoreResource {
    const IMPLEMENTS_DOWN: bool = true;

    /// A monitored process died: if it owned the store, its suspended calls are dropped
    /// and the store is free again.
    fn down<'a>(&'a self, env: Env<'a>, pid: LocalPid, _monitor: Monitor) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state
            .monitored
            .is_some_and(|(monitored, _)| monitored == pid)
        {
            state.monitored = None;
        }
        if state.owner == Some(pid) {
            state.calls.clear();
            state.owner = None;
            state.wake_one(env, self.id);
        }
    }
}

/// `%Wasmex.StoreLimits{}`.
#[derive(NifStruct)]
#[module = "Wasmex.StoreLimits"]
pub(crate) struct ExStoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: Option<usize>,
    tables: Option<usize>,
    memories: Option<usize>,
    nested_calls: Option<usize>,
}

impl From<ExStoreLimits> for Limits {
    fn from(limits: ExStoreLimits) -> Self {
        Limits {
            memory_size: limits.memory_size,
            table_elements: limits.table_elements,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
            nested_calls: limits.nested_calls,
        }
    }
}

/// `%Wasmex.StoreOrCaller{}`.
#[derive(NifStruct)]
#[module = "Wasmex.StoreOrCaller"]
pub(crate) struct ExStoreOrCaller {
    resource: ResourceArc<StoreResource>,
}

/// What a store is checked out for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A long host operation (no guest code).
    Operation,
    /// A new call, perhaps nested in a suspended call of the owner.
    Call,
    /// The next step of the owner's innermost suspended call.
    Resume,
}

/// A store checked out of its resource by the owning process, with the owner's innermost
/// suspended call if one was asked for. Must go back through [`StoreResource::checkin`].
pub(crate) struct Checkout {
    pub(crate) store: Box<Store>,
    pub(crate) call: Option<Call>,
}

impl StoreResource {
    fn new(engine: Engine, store: Store, streams: [Option<StreamTarget>; 2]) -> Self {
        Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            engine,
            state: Mutex::new(State {
                store: Some(Box::new(store)),
                owner: None,
                calls: Vec::new(),
                monitored: None,
                waiters: VecDeque::new(),
                streams,
            }),
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

    /// Runs a short host operation on the store under the lock.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when another process owns the store (the caller is queued), or what
    /// `f` returns.
    pub(crate) fn with<R>(
        &self,
        env: Env,
        f: impl FnOnce(&mut Store) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut state = self.lock()?;
        state.admit(env.pid())?;
        let store = state.store.as_deref_mut().ok_or_else(checked_out)?;
        f(store)
    }

    /// Checks the store out for a long operation (guest code): the calling process owns the
    /// store until [`StoreResource::checkin`]. To resume, the owner's innermost suspended
    /// call is taken out as well.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when another process owns the store (the caller is queued);
    /// [`Error::NoCall`] to resume when the caller has no suspended call;
    /// [`Error::NestedCalls`] for a new call when the owner's suspended calls are at the
    /// store's limit.
    pub(crate) fn checkout(&self, env: Env, purpose: Purpose) -> Result<Checkout, Error> {
        let pid = env.pid();
        let mut state = self.lock()?;
        state.admit(pid)?;
        let call = match purpose {
            Purpose::Resume => {
                let owned = state.owner == Some(pid);
                Some(state.calls.pop().filter(|_| owned).ok_or(Error::NoCall)?)
            }
            Purpose::Call => {
                let store = state.store.as_deref().ok_or_else(checked_out)?;
                let limit = store.limits().nested_calls();
                // The owner's suspended calls are the calls this one is nested in.
                if state.calls.len() > limit {
                    return Err(Error::NestedCalls(limit));
                }
                None
            }
            Purpose::Operation => None,
        };
        let store = state.store.take().ok_or_else(checked_out)?;
        state.owner = Some(pid);
        Ok(Checkout { store, call })
    }

    /// Puts a checked-out store back, with the call still suspended if there is one.
    ///
    /// When the owner has no suspended call left, the store is released and the first
    /// waiter woken. When a call stays suspended, the owner is monitored, so that its
    /// death releases the store.
    pub(crate) fn checkin(
        this: &ResourceArc<Self>,
        env: Env,
        store: Box<Store>,
        suspended: Option<Call>,
    ) {
        // A poisoned lock cannot happen: no code panics while holding it. Should it happen
        // anyway, the store stays checked out and calls on it fail with `Error::Internal`.
        let Ok(mut state) = this.lock() else { return };
        state.deliver_streams(this, env, &store);
        state.store = Some(store);
        match suspended {
            Some(call) => {
                state.calls.push(call);
                if let Some(owner) = state.owner {
                    state.monitor(this, env, owner);
                }
            }
            None if state.calls.is_empty() => state.release(this, env),
            None => {}
        }
    }

    /// Runs a long host operation (on a dirty scheduler) with the store checked out, so
    /// that the lock is not held meanwhile; other processes wait for the store.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when another process owns the store, or what `f` returns.
    pub(crate) fn with_checked_out<R>(
        this: &ResourceArc<Self>,
        env: Env,
        f: impl FnOnce(&mut Store) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut checkout = this.checkout(env, Purpose::Operation)?;
        let result = f(&mut checkout.store);
        StoreResource::checkin(this, env, checkout.store, None);
        result
    }

    /// Drops the owner's innermost suspended call (a timeout, or a callback that failed).
    ///
    /// # Errors
    ///
    /// [`Error::NoCall`] when the caller has no suspended call.
    pub(crate) fn abort(this: &ResourceArc<Self>, env: Env) -> Result<(), Error> {
        let mut state = this.lock()?;
        let owned = state.owner == Some(env.pid());
        if !owned || state.calls.pop().is_none() {
            return Err(Error::NoCall);
        }
        if state.calls.is_empty() {
            state.release(this, env);
        }
        Ok(())
    }

    /// Takes the caller off the waiters (it gave up waiting).
    fn unwait(&self, pid: LocalPid) -> Result<(), Error> {
        self.lock()?.waiters.retain(|waiter| *waiter != pid);
        Ok(())
    }
}

impl State {
    /// Lets `pid` use the store, or queues it.
    fn admit(&mut self, pid: LocalPid) -> Result<(), Error> {
        match self.owner {
            Some(owner) if owner != pid => {
                if !self.waiters.contains(&pid) {
                    self.waiters.push_back(pid);
                }
                Err(Error::Busy)
            }
            _ => Ok(()),
        }
    }

    /// Sends what the guest wrote to streamed stdout and stderr to their processes, as
    /// `{:wasi_stdout | :wasi_stderr, tag, chunk}`.
    fn deliver_streams(&self, this: &ResourceArc<StoreResource>, env: Env, store: &Store) {
        if self.streams.iter().all(Option::is_none) {
            return;
        }
        let default_tag = ExStoreOrCaller {
            resource: this.clone(),
        }
        .encode(env);
        let kinds = [atoms::wasi_stdout(), atoms::wasi_stderr()];
        for ((chunk, target), kind) in store.take_streams().iter().zip(&self.streams).zip(kinds) {
            if let (Some(chunk), Some(target)) = (chunk, target) {
                target.send(env, kind, default_tag, chunk);
            }
        }
    }

    /// Makes sure `pid` is the monitored process.
    fn monitor(&mut self, this: &ResourceArc<StoreResource>, env: Env, pid: LocalPid) {
        if self
            .monitored
            .is_some_and(|(monitored, _)| monitored == pid)
        {
            return;
        }
        if let Some((_, previous)) = self.monitored.take() {
            this.demonitor(Some(env), &previous);
        }
        self.monitored = this.monitor(Some(env), &pid).map(|monitor| (pid, monitor));
    }

    fn release(&mut self, this: &ResourceArc<StoreResource>, env: Env) {
        self.owner = None;
        self.wake_one(env, this.id);
    }

    /// Wakes the first waiter that is still alive.
    fn wake_one(&mut self, env: Env, id: u64) {
        while let Some(pid) = self.waiters.pop_front() {
            if pid.is_alive(env) && env.send(&pid, (atoms::store_free(), id)).is_ok() {
                return;
            }
        }
    }
}

/// The store is checked out by its owner, and the caller is the owner: only possible if a
/// process runs two NIFs at once, which the BEAM does not do.
fn checked_out() -> Error {
    Error::Internal("the store is checked out".into())
}

/// The fuel a new store gives the user: the seed's `%{fuel: n}`, else 0 when the engine
/// meters fuel (Wasmex), else no metering.
fn user_fuel(engine: &EngineResource, fuel: Option<u64>) -> Option<u64> {
    fuel.or(engine.engine.options().consume_fuel.then_some(0))
}

#[rustler::nif(name = "store_new")]
fn new(
    limits: Option<ExStoreLimits>,
    engine: Option<ResourceArc<EngineResource>>,
    fuel: Option<u64>,
) -> ExStoreOrCaller {
    let limits = limits.map(Limits::from).unwrap_or_default();
    let engine = engine.unwrap_or_else(|| EngineResource::new(&Default::default()));
    let store = Store::new(&engine.engine, user_fuel(&engine, fuel), &limits);
    ExStoreOrCaller {
        resource: ResourceArc::new(StoreResource::new(
            engine.engine.clone(),
            store,
            [None, None],
        )),
    }
}

#[rustler::nif(name = "store_new_wasi")]
fn new_wasi(
    options: ExWasiOptions,
    limits: Option<ExStoreLimits>,
    engine: Option<ResourceArc<EngineResource>>,
    fuel: Option<u64>,
) -> NifResult<Result<ExStoreOrCaller, Error>> {
    let (options, streams) = wasi::options(options)?;
    let limits = limits.map(Limits::from).unwrap_or_default();
    let engine = engine.unwrap_or_else(|| EngineResource::new(&Default::default()));
    let store = match Store::new_wasi(&engine.engine, user_fuel(&engine, fuel), &limits, &options) {
        Ok(store) => store,
        Err(error) => return Ok(Err(error)),
    };
    let resource = StoreResource::new(engine.engine.clone(), store, streams);
    Ok(Ok(ExStoreOrCaller {
        resource: ResourceArc::new(resource),
    }))
}

#[rustler::nif(name = "store_or_caller_get_fuel")]
fn get_fuel(env: Env, store: ResourceArc<StoreResource>) -> Result<u64, Error> {
    store.with(env, |store| store.fuel())
}

#[rustler::nif(name = "store_or_caller_set_fuel")]
fn set_fuel(env: Env, store: ResourceArc<StoreResource>, fuel: u64) -> Done {
    Done(store.with(env, |store| store.set_fuel(fuel)))
}

#[rustler::nif(name = "store_set_slice")]
fn set_slice(env: Env, store: ResourceArc<StoreResource>, fuel: Option<u64>) -> Done {
    Done(store.with(env, |store| {
        store.set_slice(fuel);
        Ok(())
    }))
}

#[rustler::nif(name = "store_unwait")]
fn unwait(env: Env, store: ResourceArc<StoreResource>) -> Done {
    Done(store.unwait(env.pid()))
}
