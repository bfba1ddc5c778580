//! Which process may use a store right now, the processes waiting for it, and the hand-off
//! between them. The Elixir half of this protocol is `Wasmex.Native` (`run/4` and
//! `await/3`): every NIF that may answer `{:busy, id}` goes through it.
//!
//! # Ownership
//!
//! A process that starts a call, or a long host operation, *owns* the store until the call
//! ends, including while the call is suspended between slices or inside an Elixir callback.
//! Only the owner may use the store meanwhile (nested calls, memory access from its
//! callbacks). A store nobody owns serves short host operations (a global, a byte, fuel)
//! without taking an owner.
//!
//! # Waiting, and the hand-off
//!
//! Any other process is refused with `{:busy, id}` and queued; its NIF returns at once, so
//! no scheduler thread ever waits for a store. When the owner is done, the store passes
//! straight to the first queued process that is still alive, in arrival order: that
//! process becomes the owner and is sent `{:"$wasmex_store_free", id}`. It asks again, now
//! as the owner, and hands the store on in turn when it is done. Waiters sleep in `receive`
//! until their turn, with nothing to poll, so a crowd of them costs the owner nothing.
//!
//! Every queued process is monitored, and so is the owner while it holds the store between
//! two NIF calls. A waiter that dies leaves the queue. An owner that dies (in a callback,
//! or before it used a store handed to it) loses its suspended calls, and the store passes
//! on. A waiter whose deadline passes leaves the queue (`store_unwait`) and passes on a
//! store handed to it meanwhile, so no hand-off is ever lost.
//!
//! # Locking
//!
//! The mutex is held only for this bookkeeping and for short host operations. Guest code
//! and long host operations (on dirty schedulers) run with the store *checked out* of the
//! mutex ([`StoreResource::checkout`]); meanwhile other processes get `{:busy, id}` rather
//! than waiting for the lock. An owner that dies while a NIF has the store checked out
//! keeps it until that NIF checks it back in ([`StoreResource::checkin`]), which then
//! passes it on: nobody else sees a store that is not there.

use super::{Store, StoreResource};
use crate::{
    atoms,
    reply::{Answer, Refusal},
    schedule::Schedule,
    wasi::StreamTarget,
};
use rustler::{Encoder, Env, LocalPid, Monitor, OwnedEnv, ResourceArc};
use std::collections::{HashMap, VecDeque};
use wasmex_core::{call::Suspended, Error};

/// The mutable part of a store resource, behind its mutex.
pub(super) struct State {
    /// `None` while checked out to run guest code or a long host operation.
    store: Option<Box<Store>>,
    /// The process using the store, from the start of its call to its end, or the process
    /// the store was handed to.
    owner: Option<LocalPid>,
    /// Suspended calls of the owner, innermost last.
    calls: Vec<Suspended>,
    /// The monitor of the owner (kept after its call ends, until another process owns the
    /// store, so that a process calling over and over pays for it once).
    owner_monitor: Option<(LocalPid, Monitor)>,
    /// The owner died while the store was checked out: the checkin passes the store on.
    owner_died: bool,
    /// Processes waiting for the store.
    queue: Queue,
    /// Where a WASI guest's streamed stdout and stderr go.
    streams: [Option<StreamTarget>; 2],
}

/// What a store is checked out for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A long host operation (no guest code).
    Operation,
    /// A new call, perhaps nested in a suspended call of the owner.
    Call,
    /// The next step of the owner's innermost suspended call, on this kind of scheduler: a
    /// heavy one is refused on a normal scheduler.
    Resume(Schedule),
    /// The owner's innermost suspended call, to give it an import's results.
    ResumeHost,
}

/// A store checked out of its resource by the owning process, with the owner's innermost
/// suspended call if one was asked for. Must go back through [`StoreResource::checkin`].
pub(crate) struct Checkout {
    pub(crate) store: Box<Store>,
    pub(crate) call: Option<Suspended>,
}

impl StoreResource {
    /// Runs a short host operation on the store under the lock.
    ///
    /// # Errors
    ///
    /// [`Refusal::Busy`] when another process owns the store (the caller is queued), or
    /// what `f` returns.
    pub(crate) fn with<R>(
        this: &ResourceArc<Self>,
        env: Env,
        f: impl FnOnce(&mut Store) -> Result<R, Error>,
    ) -> Answer<R> {
        let pid = env.pid();
        let mut state = this.lock()?;
        state.admit(this, env, pid)?;
        let store = state.store.as_deref_mut().ok_or_else(checked_out)?;
        let result = f(store);
        // A process the store was handed to is done with it.
        if state.owner == Some(pid) && state.calls.is_empty() {
            state.hand_off(Some(this), env, this.id);
        }
        Ok(result?)
    }

    /// [`StoreResource::with`] for a handle of `kind` (an instance, a memory) made in store
    /// `store_id`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignHandle`] for a handle of another store, or those of `with`.
    pub(crate) fn with_handle<R>(
        this: &ResourceArc<Self>,
        env: Env,
        (store_id, kind): (u64, &'static str),
        f: impl FnOnce(&mut Store) -> Result<R, Error>,
    ) -> Answer<R> {
        this.check(store_id, kind)?;
        Self::with(this, env, f)
    }

    /// Checks the store out for a long operation (guest code, or host work on a dirty
    /// scheduler): the calling process owns the store until [`StoreResource::checkin`],
    /// and the lock is free meanwhile. To resume, the owner's innermost suspended call is
    /// taken out as well.
    ///
    /// # Errors
    ///
    /// [`Refusal::Busy`] when another process owns the store (the caller is queued);
    /// [`Error::NoCall`] to resume when the caller has no suspended call;
    /// [`Refusal::Dirty`] to resume a heavy call on a normal scheduler;
    /// [`Error::NestedCalls`] for a new call when the owner's suspended calls are at the
    /// store's limit.
    pub(crate) fn checkout(
        this: &ResourceArc<Self>,
        env: Env,
        purpose: Purpose,
    ) -> Answer<Checkout> {
        let pid = env.pid();
        let mut state = this.lock()?;
        let resumes = matches!(purpose, Purpose::Resume(_) | Purpose::ResumeHost);
        // Only the owner has calls to resume: anyone else is told so, not queued.
        if resumes && (state.owner != Some(pid) || state.calls.is_empty()) {
            return Err(Error::NoCall.into());
        }
        state.admit(this, env, pid)?;
        let store = state.store.as_deref().ok_or_else(checked_out)?;
        let call = match purpose {
            Purpose::Resume(schedule) => {
                let heavy = state.calls.last().is_some_and(Suspended::is_heavy);
                if heavy && schedule == Schedule::Normal {
                    return Err(Refusal::Dirty);
                }
                state.calls.pop()
            }
            Purpose::ResumeHost => state.calls.pop(),
            Purpose::Call => {
                let limit = store.limits().nested_calls();
                // The owner's suspended calls are the calls this one is nested in.
                if state.calls.len() > limit {
                    return Err(Error::NestedCalls(limit).into());
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
    /// When the owner has no suspended call left, or died meanwhile, the store is handed
    /// to the first waiter. When a call stays suspended, the owner is monitored, so that
    /// its death frees the store.
    pub(crate) fn checkin(
        this: &ResourceArc<Self>,
        env: Env,
        store: Box<Store>,
        suspended: Option<Suspended>,
    ) {
        // A poisoned lock cannot happen: no code panics while holding it. Should it happen
        // anyway, the store stays checked out and calls on it fail with `Error::Internal`.
        let Ok(mut state) = this.lock() else { return };
        Self::deliver_streams(this, env, &state.streams, &store);
        state.store = Some(store);
        if state.owner_died {
            state.owner_died = false;
            state.calls.clear();
            state.hand_off(Some(this), env, this.id);
            return;
        }
        match suspended {
            Some(call) => {
                state.calls.push(call);
                if let Some(owner) = state.owner {
                    state.watch_owner(this, env, owner);
                }
            }
            None if state.calls.is_empty() => state.hand_off(Some(this), env, this.id),
            None => {}
        }
    }

    /// Runs a long host operation with the store checked out, so that the lock is free
    /// meanwhile; other processes wait for the store.
    ///
    /// # Errors
    ///
    /// [`Refusal::Busy`] when another process owns the store, or what `f` returns.
    pub(crate) fn with_checked_out<R>(
        this: &ResourceArc<Self>,
        env: Env,
        f: impl FnOnce(&mut Store) -> Result<R, Error>,
    ) -> Answer<R> {
        let mut checkout = Self::checkout(this, env, Purpose::Operation)?;
        let result = f(&mut checkout.store);
        Self::checkin(this, env, checkout.store, None);
        Ok(result?)
    }

    /// Drops the owner's innermost suspended call (a timeout, or a callback that failed).
    ///
    /// # Errors
    ///
    /// [`Error::NoCall`] when the caller has no suspended call.
    pub(crate) fn abort(this: &ResourceArc<Self>, env: Env) -> Result<(), Error> {
        let mut state = this.lock()?;
        if state.owner != Some(env.pid()) || state.calls.pop().is_none() {
            return Err(Error::NoCall);
        }
        if state.calls.is_empty() {
            state.hand_off(Some(this), env, this.id);
        }
        Ok(())
    }

    /// Takes the caller off the queue: it gave up waiting. A store handed to it meanwhile
    /// goes on to the next waiter.
    ///
    /// # Errors
    ///
    /// Only on a poisoned lock.
    pub(crate) fn unwait(this: &ResourceArc<Self>, env: Env) -> Result<(), Error> {
        let pid = env.pid();
        let mut state = this.lock()?;
        if let Some(monitor) = state.queue.remove(pid) {
            if let Some(monitor) = monitor {
                this.demonitor(Some(env), &monitor);
            }
        } else if state.owner == Some(pid) && state.calls.is_empty() && state.store.is_some() {
            state.hand_off(Some(this), env, this.id);
        }
        Ok(())
    }

    /// `true` when `pid` owns the store: it is inside a call on it (in one of its
    /// callbacks, when asked from Elixir).
    ///
    /// # Errors
    ///
    /// Only on a poisoned lock.
    pub(crate) fn owned_by(&self, pid: LocalPid) -> Result<bool, Error> {
        Ok(self.lock()?.owner == Some(pid))
    }
}

impl State {
    pub(super) fn new(store: Store, streams: [Option<StreamTarget>; 2]) -> Self {
        Self {
            store: Some(Box::new(store)),
            owner: None,
            calls: Vec::new(),
            owner_monitor: None,
            owner_died: false,
            queue: Queue::default(),
            streams,
        }
    }

    /// Lets `pid` use the store, or queues it (once) and refuses.
    fn admit(
        &mut self,
        this: &ResourceArc<StoreResource>,
        env: Env,
        pid: LocalPid,
    ) -> Result<(), Refusal> {
        match self.owner {
            Some(owner) if owner != pid => {
                if !self.queue.contains(pid) {
                    let monitor = this.monitor(Some(env), &pid);
                    self.queue.push(pid, monitor);
                }
                Err(Refusal::Busy(this.id))
            }
            _ => Ok(()),
        }
    }

    /// Makes sure the owner `pid` is monitored.
    fn watch_owner(&mut self, this: &ResourceArc<StoreResource>, env: Env, pid: LocalPid) {
        if self
            .owner_monitor
            .as_ref()
            .is_some_and(|(watched, _)| *watched == pid)
        {
            return;
        }
        if let Some((_, previous)) = self.owner_monitor.take() {
            this.demonitor(Some(env), &previous);
        }
        self.owner_monitor = this.monitor(Some(env), &pid).map(|monitor| (pid, monitor));
    }

    /// The owner is done: the store goes to the first queued process that is alive, which
    /// is told so, or to nobody. `this` is `None` when called from [`State::down`], where
    /// the previous owner is dead and its monitor gone already.
    fn hand_off(&mut self, this: Option<&ResourceArc<StoreResource>>, env: Env, id: u64) {
        self.owner = None;
        while let Some((pid, monitor)) = self.queue.pop() {
            // A waiter that died is skipped (its monitor fired, or will, harmlessly).
            if !notify(env, pid, id) {
                continue;
            }
            self.owner = Some(pid);
            // The waiter's monitor now watches it as the owner.
            let previous = std::mem::replace(
                &mut self.owner_monitor,
                monitor.map(|monitor| (pid, monitor)),
            );
            if let (Some(this), Some((_, previous))) = (this, previous) {
                this.demonitor(Some(env), &previous);
            }
            return;
        }
    }

    /// A monitored process died: a waiter leaves the queue; an owner loses its calls and
    /// the store passes on, once it is checked in if a NIF has it checked out.
    pub(super) fn down(&mut self, env: Env, id: u64, pid: LocalPid) {
        self.queue.remove(pid);
        if self
            .owner_monitor
            .as_ref()
            .is_some_and(|(watched, _)| *watched == pid)
        {
            self.owner_monitor = None;
        }
        if self.owner != Some(pid) {
            return;
        }
        if self.store.is_none() {
            self.owner_died = true;
            return;
        }
        self.calls.clear();
        self.hand_off(None, env, id);
    }
}

/// Tells `pid` that the store `id` is its own now; `false` when `pid` is dead.
///
/// A NIF whose own process died cannot send (an owner killed while its dirty NIF had the
/// store checked out hands the store on from that NIF): a short-lived thread sends then.
fn notify(env: Env, pid: LocalPid, id: u64) -> bool {
    if env.send(&pid, (atoms::store_free(), id)).is_ok() {
        return true;
    }
    if !pid.is_alive(env) {
        return false;
    }
    let sender = std::thread::Builder::new().name("wasmex store hand-off".into());
    sender
        .spawn(move || {
            let message = |env| (atoms::store_free(), id).encode(env);
            let _ = OwnedEnv::new().send_and_clear(&pid, message);
        })
        .is_ok()
}

/// The processes waiting for a store, first come first served.
///
/// Each waiter is monitored, so the queue only ever holds live processes (and stale
/// entries of processes that left it, dropped as they come up or when they pile up).
#[derive(Default)]
struct Queue {
    /// Arrival order: a process and its ticket. An entry whose ticket is not the process's
    /// current one is stale: the process left the queue (and may have come back).
    order: VecDeque<(LocalPid, u64)>,
    /// The queued processes: their ticket and monitor.
    waiting: HashMap<LocalPid, (u64, Option<Monitor>)>,
    next_ticket: u64,
}

impl Queue {
    fn contains(&self, pid: LocalPid) -> bool {
        self.waiting.contains_key(&pid)
    }

    fn push(&mut self, pid: LocalPid, monitor: Option<Monitor>) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.order.push_back((pid, ticket));
        self.waiting.insert(pid, (ticket, monitor));
    }

    /// Takes `pid` off the queue; returns its monitor if it was queued.
    fn remove(&mut self, pid: LocalPid) -> Option<Option<Monitor>> {
        let (_, monitor) = self.waiting.remove(&pid)?;
        // Stale entries are dropped when they come up; many of them at once are dropped now.
        if self.order.len() > 2 * self.waiting.len() + 64 {
            let waiting = &self.waiting;
            self.order
                .retain(|(pid, ticket)| waiting.get(pid).is_some_and(|(t, _)| t == ticket));
        }
        Some(monitor)
    }

    /// The first queued process, off the queue, with its monitor.
    fn pop(&mut self) -> Option<(LocalPid, Option<Monitor>)> {
        while let Some((pid, ticket)) = self.order.pop_front() {
            if self.waiting.get(&pid).is_some_and(|(t, _)| *t == ticket) {
                let (_, monitor) = self.waiting.remove(&pid)?;
                return Some((pid, monitor));
            }
        }
        None
    }
}

/// The store is checked out by its owner, and the caller is the owner: only possible if a
/// process runs two NIFs at once, which the BEAM does not do.
fn checked_out() -> Error {
    Error::Internal("the store is checked out".into())
}
