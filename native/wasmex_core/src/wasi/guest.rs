//! Guest memory access for the WASI functions of this module, and calls into wasi-common.
//!
//! wasi-common's functions are `async` only in name: with the sync context every future is
//! ready at its first poll ([`ready`]). They run either on the guest's memory (a wrapper
//! that only adds a check or fixes a result) or on a small *scratch memory* built here
//! ([`Scratch`]), so that the host decides how many bytes one call moves.

use crate::store::Host;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasmi::{Caller, Extern, Memory};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::Errno;
use wasmi_wasi::wasi_common::I32Exit;
use wasmi_wasi::WasmiGuestMemory;

/// The errno of `errno`, as a WASI function returns it.
pub(super) fn errno(errno: Errno) -> i32 {
    i32::from(errno as u16)
}

/// The success errno.
pub(super) const SUCCESS: i32 = 0;

/// The guest's `"memory"` export, which every WASI function needs.
///
/// # Errors
///
/// A trap when the calling instance exports no memory (as wasi-common's functions do).
pub(super) fn memory(caller: &Caller<'_, Host>) -> Result<Memory, wasmi::Error> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("missing required WASI memory export"))
}

/// Polls `future` once: wasi-common's sync implementations never wait.
pub(super) fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// The result of a wasi-common function as a host function returns it: its errno, or a
/// trap (`proc_exit`, a bug).
pub(super) fn finish(output: Option<anyhow::Result<i32>>) -> Result<i32, wasmi::Error> {
    match output {
        Some(Ok(errno)) => Ok(errno),
        Some(Err(error)) => Err(match error.downcast::<I32Exit>() {
            Ok(I32Exit(status)) => wasmi::Error::i32_exit(status),
            Err(error) => wasmi::Error::new(error.to_string()),
        }),
        None => Err(wasmi::Error::new("a WASI call would block")),
    }
}

/// Calls the wasi-common function `$name` with the guest's memory and `$args`; evaluates
/// to the host function's result (an errno, or a trap).
macro_rules! delegate {
    ($caller:expr, $memory:expr, $name:ident($($arg:expr),* $(,)?)) => {{
        let (data, host) = $memory.data_and_store_mut(&mut *$caller);
        let mut guest = wasmi_wasi::WasmiGuestMemory::Unshared(data);
        $crate::wasi::guest::finish($crate::wasi::guest::ready(
            wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1::$name(
                host.wasi_ctx(),
                &mut guest,
                $($arg),*
            ),
        ))
    }};
}
pub(super) use delegate;

/// An empty guest memory, for wasi-common's typed functions that take one and do not use
/// it.
pub(super) fn no_memory() -> WasmiGuestMemory<'static> {
    WasmiGuestMemory::Unshared(&mut [])
}

/// The address `by` bytes past `at`.
///
/// # Errors
///
/// `EFAULT` past the 4 GiB a memory can hold.
pub(super) fn offset(at: u32, by: u32) -> Result<u32, i32> {
    at.checked_add(by).ok_or(errno(Errno::Fault))
}

/// Reads a little-endian `u32` at `at`.
///
/// # Errors
///
/// `EFAULT` when it is outside `data`.
pub(super) fn read_u32(data: &[u8], at: u32) -> Result<u32, i32> {
    Ok(u32::from_le_bytes(array(bytes(data, at, 4)?)))
}

/// Reads a little-endian `u64` at `at` (see [`read_u32`]).
pub(super) fn read_u64(data: &[u8], at: u32) -> Result<u64, i32> {
    Ok(u64::from_le_bytes(array(bytes(data, at, 8)?)))
}

/// Writes `value` as a little-endian `u32` at `at` (see [`read_u32`]).
pub(super) fn write_u32(data: &mut [u8], at: u32, value: u32) -> Result<(), i32> {
    bytes_mut(data, at, 4)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// Writes `value` as a little-endian `u64` at `at` (see [`read_u32`]).
pub(super) fn write_u64(data: &mut [u8], at: u32, value: u64) -> Result<(), i32> {
    bytes_mut(data, at, 8)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// The `len` bytes at `at`.
///
/// # Errors
///
/// `EFAULT` when they are not all inside `data`.
pub(super) fn bytes(data: &[u8], at: u32, len: usize) -> Result<&[u8], i32> {
    let start = at as usize;
    let end = start.checked_add(len).ok_or(errno(Errno::Fault))?;
    data.get(start..end).ok_or(errno(Errno::Fault))
}

/// The `len` bytes at `at`, mutably (see [`bytes`]).
pub(super) fn bytes_mut(data: &mut [u8], at: u32, len: usize) -> Result<&mut [u8], i32> {
    let start = at as usize;
    let end = start.checked_add(len).ok_or(errno(Errno::Fault))?;
    data.get_mut(start..end).ok_or(errno(Errno::Fault))
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}

/// An I/O vector (`iovec`/`ciovec`): where a buffer is in guest memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct IoVec {
    pub(super) at: u32,
    pub(super) len: u32,
}

/// The size of an `iovec` in guest memory.
const IOVEC_SIZE: u32 = 8;

/// The first `count` I/O vectors of the array at `at`, up to [`IOV_MAX`] of them (a call
/// with more handles only those, as a short read or write), each checked to lie in `data`.
///
/// # Errors
///
/// `EFAULT` when the array or one of its buffers is outside `data`; `EINVAL` when there are
/// more than [`IOV_MAX`] and the first ones are all empty (as Linux refuses more than
/// `IOV_MAX`): a transfer of 0 bytes would read as the end of the file.
pub(super) fn iovecs(data: &[u8], at: u32, count: u32) -> Result<Vec<IoVec>, i32> {
    let iovecs = first_iovecs(data, at, count)?;
    if count > IOV_MAX && iovecs.iter().all(|iovec| iovec.len == 0) {
        return Err(errno(Errno::Inval));
    }
    Ok(iovecs)
}

fn first_iovecs(data: &[u8], at: u32, count: u32) -> Result<Vec<IoVec>, i32> {
    (0..count.min(IOV_MAX))
        .map(|index| {
            let entry = offset(at, index * IOVEC_SIZE)?;
            let iovec = IoVec {
                at: read_u32(data, entry)?,
                len: read_u32(data, offset(entry, 4)?)?,
            };
            bytes(data, iovec.at, iovec.len as usize)?;
            Ok(iovec)
        })
        .collect()
}

/// I/O vectors one call looks at, as POSIX's `IOV_MAX` on Linux: so that a call costs
/// the same whatever length a guest claims for its array.
pub(super) const IOV_MAX: u32 = 1024;

/// A scratch guest memory for one wasi-common call: an I/O vector at 0, a `u32` result at
/// 8, and a buffer from 12.
#[derive(Clone)]
pub(super) struct Scratch(Vec<u8>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} bytes)", self.len())
    }
}

impl Scratch {
    const RESULT: u32 = 8;
    const BUFFER: u32 = 12;

    /// A scratch memory whose buffer holds what `iovecs` point at in `data`, up to `max`
    /// bytes in all: the bytes of one write.
    pub(super) fn gather(data: &[u8], iovecs: &[IoVec], max: usize) -> Self {
        let mut scratch = Vec::with_capacity(Self::BUFFER as usize + max.min(1 << 16));
        scratch.resize(Self::BUFFER as usize, 0);
        for iovec in iovecs {
            let room = max + Self::BUFFER as usize - scratch.len();
            if room == 0 {
                break;
            }
            let len = (iovec.len as usize).min(room);
            // Checked by `iovecs`.
            if let Ok(bytes) = bytes(data, iovec.at, len) {
                scratch.extend_from_slice(bytes);
            }
        }
        let mut scratch = Self(scratch);
        scratch.set_iovec();
        scratch
    }

    /// A scratch memory with an empty buffer of `len` bytes: room for one read.
    pub(super) fn buffer(len: usize) -> Self {
        let mut scratch = Self(vec![0; Self::BUFFER as usize + len]);
        scratch.set_iovec();
        scratch
    }

    fn set_iovec(&mut self) {
        let len = (self.0.len() - Self::BUFFER as usize) as u32;
        self.0[0..4].copy_from_slice(&Self::BUFFER.to_le_bytes());
        self.0[4..8].copy_from_slice(&len.to_le_bytes());
    }

    /// The buffer's length.
    pub(super) fn len(&self) -> usize {
        self.0.len() - Self::BUFFER as usize
    }

    /// The buffer.
    pub(super) fn data(&self) -> &[u8] {
        &self.0[Self::BUFFER as usize..]
    }

    /// The scratch memory as wasi-common takes it.
    pub(super) fn memory(&mut self) -> WasmiGuestMemory<'_> {
        WasmiGuestMemory::Unshared(&mut self.0)
    }

    /// Arguments for wasi-common: the address of the I/O vector array, its length, and the
    /// address of the result.
    pub(super) fn args() -> (i32, i32, i32) {
        (0, 1, Self::RESULT as i32)
    }

    /// The `u32` result wasi-common wrote (a byte count).
    pub(super) fn result(&self) -> u32 {
        read_u32(&self.0, Self::RESULT).unwrap_or(0)
    }

    /// Copies the first `count` bytes of the buffer into the guest buffers `iovecs` of
    /// `data`, in order (the end of a read).
    pub(super) fn scatter(&self, data: &mut [u8], iovecs: &[IoVec], count: usize) {
        let mut rest = &self.data()[..count.min(self.len())];
        for iovec in iovecs {
            if rest.is_empty() {
                break;
            }
            let len = (iovec.len as usize).min(rest.len());
            if let Ok(target) = bytes_mut(data, iovec.at, len) {
                target.copy_from_slice(&rest[..len]);
            }
            rest = &rest[len..];
        }
    }
}
