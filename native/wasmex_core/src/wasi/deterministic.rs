//! Deterministic runs: what a guest can observe depends only on what the host gave it.
//!
//! Fuel is the same on every run and CPU; what else a WASI guest sees is made so too:
//!
//! - **Clocks** are virtual: they start at `clock_start` (realtime; the monotonic and CPU
//!   clocks start at 0) and advance by [`NANOS_PER_FUEL`] nanosecond per unit of fuel the
//!   store has used, WASI charges included. A clock wait in `poll_oneoff` moves them
//!   forward at once, without sleeping. Their resolution is 1 ns.
//! - **Random bytes** come from ChaCha20 seeded with `random_seed`.
//! - **File metadata**: timestamps read as `clock_start`; device and inode numbers are
//!   numbered 1, 2, ... in the order the guest first sees each device and file;
//!   directories list in byte order of names, and report size 0 and one link (their real
//!   values depend on the host's filesystem). The sizes, types and link counts of other
//!   files are their own, which are the host's to give (as are the arguments,
//!   environment, stdin and every file's contents).

use super::fuel;
use super::guest::{self, delegate, offset, read_u64, write_u64, SUCCESS};
use crate::{store::Host, Error};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use wasmi::{Caller, Linker};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::{Errno, Filetype};

/// Nanoseconds of virtual time per unit of fuel. wasmi runs a few units of fuel per
/// nanosecond on a desktop CPU and about one on a small ARM board, so virtual time runs a
/// few times slower than a desktop's real time.
pub const NANOS_PER_FUEL: u64 = 1;

/// How a deterministic run starts (`Wasmex.Wasi.WasiOptions`, `deterministic: true`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deterministic {
    /// The realtime clock's start, in nanoseconds since the Unix epoch.
    pub clock_start: u64,
    /// The seed of the random bytes. Required: [`Store::new_wasi`](crate::store::Store::new_wasi)
    /// fails with `None` (the Elixir option is `nil` until set).
    pub random_seed: Option<u64>,
}

/// The state of a deterministic run.
pub(super) struct Replay {
    start: u64,
    /// Virtual time spent in clock waits.
    slept: u64,
    random: ChaCha20Rng,
    inodes: SharedInodes,
}

impl Replay {
    /// # Errors
    ///
    /// [`Error::Wasi`] without a random seed.
    pub(super) fn new(options: &Deterministic) -> Result<Self, Error> {
        let seed = options.random_seed.ok_or_else(|| {
            Error::Wasi(
                "a deterministic WASI store needs `random_seed:` (a non-negative integer)".into(),
            )
        })?;
        Ok(Self {
            start: options.clock_start,
            slept: 0,
            random: ChaCha20Rng::seed_from_u64(seed),
            inodes: SharedInodes::default(),
        })
    }

    /// The stable device and inode numbers, shared with the run's directories.
    pub(super) fn inodes(&self) -> SharedInodes {
        self.inodes.clone()
    }

    /// Virtual time since the run started, when the store has used `fuel`.
    pub(super) fn elapsed(&self, fuel: u64) -> Duration {
        Duration::from_nanos(
            fuel.saturating_mul(NANOS_PER_FUEL)
                .saturating_add(self.slept),
        )
    }

    /// Virtual time since the Unix epoch.
    pub(super) fn realtime(&self, fuel: u64) -> Duration {
        Duration::from_nanos(self.start).saturating_add(self.elapsed(fuel))
    }

    /// A clock wait of `duration`: time moves on at once.
    pub(super) fn sleep(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.slept = self.slept.saturating_add(nanos);
    }

    /// Fills `bytes` with the next random bytes.
    pub(super) fn fill(&mut self, bytes: &mut [u8]) {
        self.random.fill_bytes(bytes);
    }
}

/// Device and inode numbers in the order the guest first sees them.
#[derive(Debug, Default)]
pub(super) struct Inodes {
    files: HashMap<(u64, u64), u64>,
    devices: HashMap<u64, u64>,
}

/// [`Inodes`] shared by a run's directories and its `filestat` calls.
pub(super) type SharedInodes = Arc<Mutex<Inodes>>;

impl Inodes {
    /// The stable number of the host's inode `inode` on device `device`.
    pub(super) fn inode(&mut self, device: u64, inode: u64) -> u64 {
        let next = self.files.len() as u64 + 1;
        *self.files.entry((device, inode)).or_insert(next)
    }

    /// The stable number of the host's device `device`.
    fn device(&mut self, device: u64) -> u64 {
        let next = self.devices.len() as u64 + 1;
        *self.devices.entry(device).or_insert(next)
    }
}

/// Adds the functions of this module to `linker`: in a store that is not deterministic,
/// each is wasi-common's.
///
/// # Errors
///
/// When the linker refuses a definition.
pub(super) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(super::MODULE, "clock_time_get", clock_time_get)?;
    linker.func_wrap(super::MODULE, "clock_res_get", clock_res_get)?;
    linker.func_wrap(super::MODULE, "fd_filestat_get", fd_filestat_get)?;
    linker.func_wrap(super::MODULE, "path_filestat_get", path_filestat_get)?;
    Ok(())
}

fn deterministic(caller: &mut Caller<'_, Host>) -> bool {
    caller.data_mut().wasi_state().replay.is_some()
}

/// The clock ids: realtime, monotonic, process and thread CPU time.
const CLOCKS: std::ops::RangeInclusive<i32> = 0..=3;

/// `clock_time_get(id, precision, time_out)`.
fn clock_time_get(
    mut caller: Caller<'_, Host>,
    id: i32,
    precision: i64,
    out: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    if !deterministic(&mut caller) {
        return delegate!(&mut caller, memory, clock_time_get(id, precision, out));
    }
    if !CLOCKS.contains(&id) {
        return Ok(guest::errno(Errno::Inval));
    }
    let consumed = fuel::consumed(&caller);
    let (data, host) = memory.data_and_store_mut(&mut caller);
    let Some(replay) = &host.wasi_state().replay else {
        return Ok(guest::errno(Errno::Inval));
    };
    let time = if id == 0 {
        replay.realtime(consumed)
    } else {
        replay.elapsed(consumed)
    };
    let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
    Ok(write_u64(data, out as u32, nanos).err().unwrap_or(SUCCESS))
}

/// `clock_res_get(id, resolution_out)`.
fn clock_res_get(mut caller: Caller<'_, Host>, id: i32, out: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    if !deterministic(&mut caller) {
        return delegate!(&mut caller, memory, clock_res_get(id, out));
    }
    if !CLOCKS.contains(&id) {
        return Ok(guest::errno(Errno::Inval));
    }
    let data = memory.data_mut(&mut caller);
    Ok(write_u64(data, out as u32, NANOS_PER_FUEL)
        .err()
        .unwrap_or(SUCCESS))
}

/// `fd_filestat_get(fd, filestat_out)`.
fn fd_filestat_get(mut caller: Caller<'_, Host>, fd: i32, out: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let result = delegate!(&mut caller, memory, fd_filestat_get(fd, out))?;
    Ok(stable_filestat(&mut caller, memory, result, out))
}

/// `path_filestat_get(dirfd, flags, path, path_len, filestat_out)`.
fn path_filestat_get(
    mut caller: Caller<'_, Host>,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    out: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let result = delegate!(
        &mut caller,
        memory,
        path_filestat_get(fd, flags, path, path_len, out)
    )?;
    Ok(stable_filestat(&mut caller, memory, result, out))
}

/// Offsets in a `filestat`.
const FILESTAT_DEV: u32 = 0;
const FILESTAT_INO: u32 = 8;
const FILESTAT_FILETYPE: u32 = 16;
const FILESTAT_NLINK: u32 = 24;
const FILESTAT_SIZE: u32 = 32;
const FILESTAT_TIMES: [u32; 3] = [40, 48, 56];

/// In a deterministic run, rewrites the `filestat` wasi-common wrote at `out` with stable
/// numbers and times; returns the errno for the guest.
fn stable_filestat(
    caller: &mut Caller<'_, Host>,
    memory: wasmi::Memory,
    result: i32,
    out: i32,
) -> i32 {
    if result != SUCCESS {
        return result;
    }
    let (data, host) = memory.data_and_store_mut(caller);
    let Some(replay) = &host.wasi_state().replay else {
        return result;
    };
    let out = out as u32;
    let rewrite = |data: &mut [u8]| -> Result<(), i32> {
        let device = read_u64(data, offset(out, FILESTAT_DEV)?)?;
        let inode = read_u64(data, offset(out, FILESTAT_INO)?)?;
        let mut inodes = replay.inodes.lock().unwrap_or_else(PoisonError::into_inner);
        write_u64(
            data,
            offset(out, FILESTAT_INO)?,
            inodes.inode(device, inode),
        )?;
        write_u64(data, offset(out, FILESTAT_DEV)?, inodes.device(device))?;
        for at in FILESTAT_TIMES {
            write_u64(data, offset(out, at)?, replay.start)?;
        }
        let directory =
            guest::bytes(data, offset(out, FILESTAT_FILETYPE)?, 1)?[0] == Filetype::Directory as u8;
        if directory {
            write_u64(data, offset(out, FILESTAT_NLINK)?, 1)?;
            write_u64(data, offset(out, FILESTAT_SIZE)?, 0)?;
        }
        Ok(())
    };
    rewrite(data).err().unwrap_or(SUCCESS)
}
