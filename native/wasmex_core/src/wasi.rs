//! WASI preview 1 for a store: the context (args, env, preopened directories, stdio) and
//! the one WASI function implemented here instead of wasi-common's, `poll_oneoff`.
//!
//! wasi-common's `poll_oneoff` sleeps on the OS thread, which on a BEAM scheduler would
//! stall every process behind it. Ours handles clock-only polls (that is `sleep`,
//! `nanosleep`, `usleep`) by suspending the guest like an Elixir import does: the host
//! waits without a thread (`receive after`), then resumes the call and this module writes
//! the poll's events. Polls on file descriptors never block here (stdio is in memory,
//! files are always ready), so they go to wasi-common.
//!
//! Standard output and error go to a [`Pipe`] (Wasmex's `Wasmex.Pipe`), to a [`Stream`]
//! (collected and handed to the host after every slice), or nowhere.

use crate::{imports::HostCallMarker, store::Host, Error};
use std::future::Future;
use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmi::{Caller, Extern, Linker, Memory, Val};
use wasmi_wasi::wasi_common::pipe::{ReadPipe, WritePipe};
use wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1;
use wasmi_wasi::{ambient_authority, Dir, WasiCtx, WasiCtxBuilder, WasmiGuestMemory};

/// The WASI module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A byte buffer with one read/write position, shared by the guest (as stdin, stdout or
/// stderr) and the host (`Wasmex.Pipe`).
pub type Pipe = Arc<RwLock<Cursor<Vec<u8>>>>;

/// A new, empty [`Pipe`].
pub fn pipe() -> Pipe {
    Arc::new(RwLock::new(Cursor::new(Vec::new())))
}

/// Output a guest wrote since the host last took it.
#[derive(Debug, Clone, Default)]
pub struct Stream(Arc<Mutex<Vec<u8>>>);

impl Stream {
    /// Takes what was written so far.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut buffer| std::mem::take(&mut *buffer))
            .unwrap_or_default()
    }
}

impl Write for Stream {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("stream lock poisoned"))?;
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the guest's standard output or error goes.
#[derive(Debug, Clone, Default)]
pub enum Output {
    /// Discarded.
    #[default]
    Discard,
    /// Into a pipe.
    Pipe(Pipe),
    /// Collected for the host to deliver as it comes.
    Stream(Stream),
}

/// A host directory the guest may use, and the path the guest sees it under.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The directory on the host.
    pub path: PathBuf,
    /// The guest's path for it.
    pub guest: String,
}

/// The WASI configuration of a store (`Wasmex.Wasi.WasiOptions`).
#[derive(Debug, Clone, Default)]
pub struct WasiOptions {
    /// Arguments, `argv[0]` included.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Directories the guest may reach; it reaches nothing else.
    pub preopens: Vec<Preopen>,
    /// Standard input; empty when `None`.
    pub stdin: Option<Pipe>,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
}

/// Builds the WASI context of `options`.
///
/// # Errors
///
/// [`Error::Wasi`] when a preopened directory cannot be opened, or an argument or
/// variable is too long for WASI.
pub fn context(options: &WasiOptions) -> Result<WasiCtx, Error> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&options.args)
        .map_err(|error| Error::Wasi(format!("invalid argument: {error}")))?;
    builder
        .envs(&options.env)
        .map_err(|error| Error::Wasi(format!("invalid environment variable: {error}")))?;
    if let Some(pipe) = &options.stdin {
        builder.stdin(Box::new(ReadPipe::from_shared(pipe.clone())));
    }
    if let Some(file) = output_file(&options.stdout) {
        builder.stdout(file);
    }
    if let Some(file) = output_file(&options.stderr) {
        builder.stderr(file);
    }
    for preopen in &options.preopens {
        let dir = Dir::open_ambient_dir(&preopen.path, ambient_authority()).map_err(|error| {
            Error::Wasi(format!(
                "could not open the preopened directory `{}`: {error}",
                preopen.path.display()
            ))
        })?;
        builder
            .preopened_dir(dir, &preopen.guest)
            .map_err(|error| {
                Error::Wasi(format!("could not preopen `{}`: {error}", preopen.guest))
            })?;
    }
    Ok(builder.build())
}

fn output_file(output: &Output) -> Option<Box<dyn wasmi_wasi::WasiFile>> {
    match output {
        Output::Discard => None,
        Output::Pipe(pipe) => Some(Box::new(WritePipe::from_shared(pipe.clone()))),
        Output::Stream(stream) => Some(Box::new(WritePipe::new(stream.clone()))),
    }
}

/// Adds every WASI function to `linker`, with [`poll_oneoff`] replacing wasi-common's.
///
/// # Errors
///
/// When the linker refuses a definition.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), Error> {
    wasmi_wasi::add_to_linker(linker, Host::wasi_ctx)
        .map_err(|error| Error::Wasi(error.to_string()))?;
    linker
        .func_wrap(MODULE, "poll_oneoff", poll_oneoff)
        .map_err(|error| Error::Wasi(error.to_string()))?;
    Ok(())
}

// WASI errno values.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;

const SUBSCRIPTION_SIZE: usize = 48;
const EVENT_SIZE: usize = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;

/// A guest's sleep in progress: what `poll_oneoff` must report once it is over.
#[derive(Debug, Clone)]
pub struct Sleep {
    /// How long the guest waits.
    pub duration: Duration,
    /// The user data of the clock subscriptions that fire when the wait is over.
    userdata: Vec<u64>,
    /// Where the events go, and where their count goes.
    events: u32,
    nevents: u32,
    memory: Memory,
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_out) -> errno`.
fn poll_oneoff(
    mut caller: Caller<'_, Host>,
    subscriptions: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> Result<i32, wasmi::Error> {
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
        return Err(wasmi::Error::new("missing required WASI memory export"));
    };
    let monotonic_now = caller
        .data_mut()
        .wasi_ctx()
        .clocks
        .monotonic()
        .ok()
        .map(|clock| {
            clock
                .abs_clock
                .now(Duration::ZERO)
                .duration_since(clock.creation_time)
        });
    let subscribed = clock_subscriptions(memory.data(&caller), subscriptions, count, monotonic_now);
    let clocks = match subscribed {
        Ok(Some(clocks)) => clocks,
        Ok(None) => {
            return delegate_poll_oneoff(
                &mut caller,
                memory,
                [subscriptions, events, count, nevents],
            )
        }
        Err(errno) => return Ok(errno),
    };
    let Some(duration) = clocks.iter().map(|(_, wait)| *wait).min() else {
        return Ok(ERRNO_INVAL);
    };
    // Every subscription due by the earliest deadline fires.
    let userdata = clocks
        .iter()
        .filter(|(_, wait)| *wait <= duration)
        .map(|(userdata, _)| *userdata)
        .collect();
    let sleep = Sleep {
        duration,
        userdata,
        events: events as u32,
        nevents: nevents as u32,
        memory,
    };
    if duration.is_zero() {
        return Ok(finish_sleep(&mut caller, &sleep));
    }
    caller.data_mut().pending = Some(crate::imports::Pending::Sleep(sleep));
    Err(wasmi::Error::host(HostCallMarker))
}

/// The clock subscriptions as `(userdata, wait)`, or `None` if any subscription is not a
/// clock; an errno for a malformed request. `monotonic_now` is the guest's monotonic time
/// (counted from the WASI context's creation, as wasi-common's `clock_time_get` does).
fn clock_subscriptions(
    data: &[u8],
    at: i32,
    count: i32,
    monotonic_now: Option<Duration>,
) -> Result<Option<Vec<(u64, Duration)>>, i32> {
    let count = usize::try_from(count).map_err(|_| ERRNO_INVAL)?;
    if count == 0 {
        return Err(ERRNO_INVAL);
    }
    let start = at as u32 as usize;
    let end = count
        .checked_mul(SUBSCRIPTION_SIZE)
        .and_then(|len| start.checked_add(len))
        .ok_or(ERRNO_FAULT)?;
    let bytes = data.get(start..end).ok_or(ERRNO_FAULT)?;
    let mut clocks = Vec::with_capacity(count);
    for sub in bytes.chunks_exact(SUBSCRIPTION_SIZE) {
        if sub[8] != EVENTTYPE_CLOCK {
            return Ok(None);
        }
        let userdata = u64::from_le_bytes(array(&sub[0..8]));
        let clock = u32::from_le_bytes(array(&sub[16..20]));
        let timeout = u64::from_le_bytes(array(&sub[24..32]));
        let flags = u16::from_le_bytes(array(&sub[40..42]));
        let deadline = Duration::from_nanos(timeout);
        let wait = match (flags & SUBCLOCKFLAGS_ABSTIME != 0, clock) {
            (false, _) => deadline,
            (true, CLOCK_REALTIME) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                deadline.saturating_sub(now)
            }
            (true, CLOCK_MONOTONIC) => deadline.saturating_sub(monotonic_now.ok_or(ERRNO_INVAL)?),
            (true, _) => return Err(ERRNO_INVAL),
        };
        clocks.push((userdata, wait));
    }
    Ok(Some(clocks))
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}

/// Writes the events of a finished sleep; returns the errno for the guest.
fn finish_sleep(caller: &mut Caller<'_, Host>, sleep: &Sleep) -> i32 {
    write_events(sleep.memory.data_mut(caller), sleep)
}

fn write_events(data: &mut [u8], sleep: &Sleep) -> i32 {
    let start = sleep.events as usize;
    let Some(end) = start.checked_add(sleep.userdata.len() * EVENT_SIZE) else {
        return ERRNO_FAULT;
    };
    let Some(events) = data.get_mut(start..end) else {
        return ERRNO_FAULT;
    };
    for (event, userdata) in events.chunks_exact_mut(EVENT_SIZE).zip(&sleep.userdata) {
        event.fill(0);
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[10] = EVENTTYPE_CLOCK;
    }
    let at = sleep.nevents as usize;
    let Some(nevents) = data.get_mut(at..at + 4) else {
        return ERRNO_FAULT;
    };
    nevents.copy_from_slice(&(sleep.userdata.len() as u32).to_le_bytes());
    ERRNO_SUCCESS
}

impl Sleep {
    /// Reports the sleep as over: writes its events and returns the results the suspended
    /// `poll_oneoff` call resumes with.
    pub(crate) fn finish(&self, store: &mut wasmi::Store<Host>) -> [Val; 1] {
        [Val::I32(write_events(self.memory.data_mut(store), self))]
    }
}

/// Runs wasi-common's `poll_oneoff` (for polls on file descriptors, which are always
/// ready here and so never block).
fn delegate_poll_oneoff(
    caller: &mut Caller<'_, Host>,
    memory: Memory,
    [subscriptions, events, count, nevents]: [i32; 4],
) -> Result<i32, wasmi::Error> {
    let (data, host) = memory.data_and_store_mut(caller);
    let mut memory = WasmiGuestMemory::Unshared(data);
    let future = wasi_snapshot_preview1::poll_oneoff(
        host.wasi_ctx(),
        &mut memory,
        subscriptions,
        events,
        count,
        nevents,
    );
    let polled = pin!(future).poll(&mut Context::from_waker(Waker::noop()));
    match polled {
        Poll::Ready(Ok(errno)) => Ok(errno),
        Poll::Ready(Err(error)) => Err(wasmi::Error::new(error.to_string())),
        Poll::Pending => Err(wasmi::Error::new("poll_oneoff would block")),
    }
}

impl Host {
    /// The store's WASI context (an empty one if the store was made without WASI, which
    /// then has no WASI functions to call it).
    pub(crate) fn wasi_ctx(&mut self) -> &mut WasiCtx {
        self.wasi
            .get_or_insert_with(|| WasiCtxBuilder::new().build())
    }
}
