//! The store: a [`wasmi::Store`] plus what the host keeps per store (user fuel, the host
//! call in flight).

use crate::engine::Engine;
use crate::{
    imports::Pending,
    wasi::{self, Stream, WasiOptions},
    Error,
};
use std::time::{Duration, Instant};
use wasmi::{StoreLimits, StoreLimitsBuilder};

/// Resource limits of a store (`Wasmex.StoreLimits`); `None` keeps wasmi's default
/// (unlimited sizes, 10,000 instances, tables and memories).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes each linear memory may grow to.
    pub memory_size: Option<usize>,
    /// Elements each table may grow to.
    pub table_elements: Option<usize>,
    /// Instances in the store.
    pub instances: Option<usize>,
    /// Tables in the store.
    pub tables: Option<usize>,
    /// Linear memories in the store.
    pub memories: Option<usize>,
    /// Calls into the store in progress at once beyond the first: calls from Elixir imports
    /// back into the store's guests ([`Limits::DEFAULT_NESTED_CALLS`] when `None`).
    pub nested_calls: Option<usize>,
}

impl Limits {
    /// Nested calls a store allows unless told otherwise: deep enough for any sensible
    /// recursion through the host, a few megabytes of suspended calls at most.
    pub const DEFAULT_NESTED_CALLS: usize = 1_000;

    /// The most nested calls the store allows.
    pub fn nested_calls(&self) -> usize {
        self.nested_calls.unwrap_or(Self::DEFAULT_NESTED_CALLS)
    }

    fn limiter(&self) -> StoreLimits {
        let mut builder = StoreLimitsBuilder::new();
        if let Some(limit) = self.memory_size {
            builder = builder.memory_size(limit);
        }
        if let Some(limit) = self.table_elements {
            builder = builder.table_elements(limit);
        }
        if let Some(limit) = self.instances {
            builder = builder.instances(limit);
        }
        if let Some(limit) = self.tables {
            builder = builder.tables(limit);
        }
        if let Some(limit) = self.memories {
            builder = builder.memories(limit);
        }
        builder.build()
    }
}

/// The data wasmi keeps for us in every store.
pub struct Host {
    /// Fuel left for the user, when the user meters fuel; `None` means unmetered.
    pub(crate) user_fuel: Option<u64>,
    /// Why the guest just trapped out to the host, waiting to be taken.
    pub(crate) pending: Option<Pending>,
    /// The WASI state of a WASI store.
    pub(crate) wasi: Option<wasi::WasiState>,
    /// The fuel used so far, as WASI calls see and charge it.
    pub(crate) meter: wasi::fuel::FuelMeter,
    /// The store's resource limiter.
    limits: StoreLimits,
}

/// A store of Wasm instances, with fuel accounting kept apart from slicing.
pub struct Store {
    inner: wasmi::Store<Host>,
    engine: Engine,
    limits: Limits,
    /// Fuel per slice when set; otherwise the calibrated [`crate::slice`] size.
    slice_override: Option<u64>,
    /// When the current host invocation started.
    started: Instant,
    /// When the last slice ended (or the invocation started).
    clock: Instant,
    /// The guest's standard output and error, when they stream to the host.
    streams: [Option<Stream>; 2],
}

impl Store {
    /// A new store of `engine`; `user_fuel` is `Some(fuel)` when the user meters fuel.
    pub fn new(engine: &Engine, user_fuel: Option<u64>, limits: &Limits) -> Self {
        let host = Host {
            user_fuel,
            pending: None,
            wasi: None,
            meter: wasi::fuel::FuelMeter::default(),
            limits: limits.limiter(),
        };
        let mut inner = wasmi::Store::new(engine.wasmi(), host);
        inner.limiter(|host| &mut host.limits);
        Self {
            inner,
            engine: engine.clone(),
            limits: *limits,
            slice_override: None,
            started: Instant::now(),
            clock: Instant::now(),
            streams: [None, None],
        }
    }

    /// A new WASI store of `engine` (see [`Store::new`]).
    ///
    /// # Errors
    ///
    /// [`Error::Wasi`] when the WASI context cannot be built (a preopen that does not open).
    pub fn new_wasi(
        engine: &Engine,
        user_fuel: Option<u64>,
        limits: &Limits,
        options: &WasiOptions,
    ) -> Result<Self, Error> {
        let mut store = Self::new(engine, user_fuel, limits);
        store.inner.data_mut().wasi = Some(wasi::WasiState::new(options)?);
        let stream = |output: &wasi::Output| match output {
            wasi::Output::Stream(stream) => Some(stream.clone()),
            _ => None,
        };
        store.streams = [stream(&options.stdout), stream(&options.stderr)];
        Ok(store)
    }

    /// `true` for a WASI store.
    pub fn is_wasi(&self) -> bool {
        self.inner.data().wasi.is_some()
    }

    /// Takes what the guest wrote to its streamed standard output and error since the last
    /// time (`None` for a stream that is not streamed or has nothing new).
    pub fn take_streams(&self) -> [Option<Vec<u8>>; 2] {
        self.streams.each_ref().map(|stream| {
            stream
                .as_ref()
                .map(Stream::take)
                .filter(|chunk| !chunk.is_empty())
        })
    }

    /// The wasmi store.
    pub fn wasmi(&self) -> &wasmi::Store<Host> {
        &self.inner
    }

    /// The wasmi store, mutably.
    pub fn wasmi_mut(&mut self) -> &mut wasmi::Store<Host> {
        &mut self.inner
    }

    /// The store's resource limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The engine this store belongs to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Fuel left for the user.
    ///
    /// # Errors
    ///
    /// [`Error::GetFuelDisabled`] when this store does not meter fuel.
    pub fn fuel(&self) -> Result<u64, Error> {
        self.inner.data().user_fuel.ok_or(Error::GetFuelDisabled)
    }

    /// Sets the fuel left for the user.
    ///
    /// # Errors
    ///
    /// [`Error::SetFuelDisabled`] when this store does not meter fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        match &mut self.inner.data_mut().user_fuel {
            Some(left) => {
                *left = fuel;
                Ok(())
            }
            None => Err(Error::SetFuelDisabled),
        }
    }

    /// Forces every slice of this store to `fuel` (for tests of slicing); `None` calibrates.
    pub fn set_slice(&mut self, fuel: Option<u64>) {
        self.slice_override = fuel.map(|fuel| fuel.max(1));
    }

    /// Wall time the current (or last) host invocation has spent running guest code.
    pub fn spent(&self) -> Duration {
        self.clock.saturating_duration_since(self.started)
    }

    /// Starts the time budget of a host invocation.
    pub(crate) fn start_budget(&mut self) {
        self.started = Instant::now();
        self.clock = self.started;
    }

    /// `true` once the current host invocation has run guest code for its budget.
    pub(crate) fn budget_spent(&self) -> bool {
        self.spent() >= crate::slice::BUDGET
    }

    /// The fuel of one slice: the calibrated [`crate::slice`] size, or the forced one.
    pub(crate) fn slice(&self) -> u64 {
        self.slice_override.unwrap_or_else(crate::slice::current)
    }

    /// Runs `run` with a fuel budget of one slice (at least `required`), then charges the
    /// fuel it used to the user. With `sample`, the slice's speed calibrates the slice size.
    pub(crate) fn metered<R>(
        &mut self,
        required: u64,
        sample: bool,
        run: impl FnOnce(&mut wasmi::Store<Host>) -> R,
    ) -> R {
        let slice = self.slice().max(required);
        let budget = match self.inner.data().user_fuel {
            Some(left) => left.min(slice),
            None => slice,
        };
        // `set_fuel` only fails when the engine does not meter fuel; ours always does.
        let _ = self.inner.set_fuel(budget);
        self.inner.data_mut().meter.start_slice(budget);
        let result = run(&mut self.inner);
        // One clock reading per slice: it ends this slice and starts the next.
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.clock);
        self.clock = now;
        // What the slice used, with what WASI calls charged beyond its budget.
        let left = self.inner.get_fuel().unwrap_or(0);
        let used = self.inner.data_mut().meter.end_slice(left);
        if let Some(left) = &mut self.inner.data_mut().user_fuel {
            *left = left.saturating_sub(used);
        }
        if sample && self.slice_override.is_none() {
            crate::slice::record(used, budget, elapsed);
        }
        result
    }

    /// `true` when the user meters fuel and has less than `required` left.
    pub(crate) fn user_fuel_exhausted(&self, required: u64) -> bool {
        matches!(self.inner.data().user_fuel, Some(left) if left < required.max(1))
    }
}
