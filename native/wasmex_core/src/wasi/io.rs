//! Reads, writes, syncs and random bytes, in bounded pieces or as host work, charged in
//! fuel.
//!
//! wasi-common's `fd_write` gathers every buffer a guest names: one call with 30,000
//! vectors pointing at the same 64 KiB put 1.9 GB into a pipe, on one scheduler, in one go.
//! Here one `fd_write`, `fd_pwrite`, `fd_read` or `fd_pread` moves at most
//! [`MAX_BYTES_PER_CALL`] (256 KiB) and looks at most at [`IOV_MAX`](super::guest::IOV_MAX)
//! vectors; the rest is a short write or read, which POSIX allows and every libc loops
//! on. The bytes go through a scratch memory ([`Scratch`]) into wasi-common, so its
//! checks and files do the work, and the guest pays [`FUEL_PER_BYTE`](super::fuel::FUEL_PER_BYTE) per byte.
//!
//! `random_get` cannot be short: up to [`INLINE_RANDOM_BYTES`] it fills the buffer within
//! the slice, more is host work for a thread that may run long ([`super::work`]), as is
//! `fd_sync`/`fd_datasync` of a file (it waits for the disk).
//!
//! A write to a streamed stdout or stderr that does not fit the stream's buffer suspends
//! the guest (a zero-length [`Sleep`]): the host sends the buffer to its process, then the
//! write completes. The amount one call writes never depends on when the host took the
//! buffer, so output and fuel are the same whatever the slicing.

use super::fuel::{charge, cost};
use super::guest::{self, errno, finish, iovecs, ready, write_u32, IoVec, Scratch, SUCCESS};
use super::pipe::Stdio;
use super::work::{self, Done, Outcome, Work};
use super::{Output, Sleep, WasiState};
use crate::imports::{HostCallMarker, Pending};
use crate::store::Host;
use wasmi::{Caller, Linker, Memory};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::{Errno, Rights};
use wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1 as preview1;

/// The most bytes one read or write moves: a fraction of a millisecond of copying (about
/// 0.1 ms on x86-64, a few times more on a small ARM board), so that a call holds its
/// scheduler about as long as a slice of guest code does.
pub(super) const MAX_BYTES_PER_CALL: usize = 256 << 10;

/// Random bytes one `random_get` fills within the calling slice (about 0.1 ms with
/// wasi-common's generator on x86-64, less with the seeded one). Larger fills are host
/// work ([`super::work`]).
pub(super) const INLINE_RANDOM_BYTES: usize = 256 << 10;

/// Adds the functions of this module to `linker`.
///
/// # Errors
///
/// When the linker refuses a definition.
pub(super) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(super::MODULE, "fd_write", fd_transfer::<WRITE>)?;
    linker.func_wrap(super::MODULE, "fd_pwrite", fd_ptransfer::<WRITE>)?;
    linker.func_wrap(super::MODULE, "fd_read", fd_transfer::<READ>)?;
    linker.func_wrap(super::MODULE, "fd_pread", fd_ptransfer::<READ>)?;
    linker.func_wrap(super::MODULE, "random_get", random_get)?;
    linker.func_wrap(super::MODULE, "fd_sync", fd_sync)?;
    linker.func_wrap(super::MODULE, "fd_datasync", fd_datasync)?;
    Ok(())
}

/// The way a transfer goes, as the const parameter of [`fd_transfer`] and
/// [`fd_ptransfer`]: reads and writes share their entry and their checks.
const READ: bool = false;
const WRITE: bool = true;

/// `fd_write` or `fd_read(fd, iovs, iovs_len, count_out)`, at the descriptor's position.
fn fd_transfer<const WRITING: bool>(
    caller: Caller<'_, Host>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    count_out: i32,
) -> Result<i32, wasmi::Error> {
    transfer::<WRITING>(caller, fd, iovs, iovs_len, None, count_out)
}

/// `fd_pwrite` or `fd_pread(fd, iovs, iovs_len, offset, count_out)`, at `offset`.
fn fd_ptransfer<const WRITING: bool>(
    caller: Caller<'_, Host>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    count_out: i32,
) -> Result<i32, wasmi::Error> {
    transfer::<WRITING>(caller, fd, iovs, iovs_len, Some(offset), count_out)
}

/// A read or a write as the guest asked it, its vectors checked.
struct Request {
    memory: Memory,
    fd: i32,
    iovecs: Vec<IoVec>,
    offset: Option<i64>,
    /// Where the byte count goes.
    count_out: u32,
}

/// Checks the right, the vectors and the count's place of a read or write on `fd`, then
/// does it. The errno for the guest: `ENOTCAPABLE` when the guest dropped the right on
/// `fd`, `EFAULT` for vectors or a count outside memory.
fn transfer<const WRITING: bool>(
    mut caller: Caller<'_, Host>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: Option<i64>,
    count_out: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let (data, host) = memory.data_and_store_mut(&mut caller);
    let right = if WRITING {
        Rights::FD_WRITE
    } else {
        Rights::FD_READ
    };
    if !host.wasi_state().fds.allows(fd as u32, right) {
        return Ok(errno(Errno::Notcapable));
    }
    let iovecs = match iovecs(data, iovs as u32, iovs_len as u32) {
        Ok(iovecs) => iovecs,
        Err(code) => return Ok(code),
    };
    // Checked before any byte moves: a count that cannot be stored would leave the bytes
    // read from stdin lost, or written, behind an error.
    if let Err(code) = guest::bytes(data, count_out as u32, 4) {
        return Ok(code);
    }
    let request = Request {
        memory,
        fd,
        iovecs,
        offset,
        count_out: count_out as u32,
    };
    if WRITING {
        write(caller, request)
    } else {
        read(caller, request)
    }
}

/// Gathers the bytes of a write (at most [`MAX_BYTES_PER_CALL`]), charges them, and writes
/// them; suspends the guest when a stream cannot take them yet.
fn write(mut caller: Caller<'_, Host>, request: Request) -> Result<i32, wasmi::Error> {
    let memory = request.memory;
    let (data, host) = memory.data_and_store_mut(&mut caller);
    let limit = write_limit(host.wasi_state(), request.fd as u32);
    let scratch = Scratch::gather(data, &request.iovecs, limit);
    charge(&mut caller, cost(scratch.len()))?;
    let mut write = Write {
        fd: request.fd,
        offset: request.offset,
        scratch,
        nwritten: request.count_out,
        memory,
    };
    let (data, host) = memory.data_and_store_mut(&mut caller);
    match write.run(data, host)? {
        Some(result) => Ok(result),
        None => {
            // The stream is full: the host takes its contents, then the write goes on.
            caller.data_mut().pending = Some(Pending::Sleep(Sleep::write(write)));
            Err(wasmi::Error::host(HostCallMarker))
        }
    }
}

/// The most bytes one write to `fd` moves: a stream takes at most its capacity at once.
fn write_limit(state: &WasiState, fd: u32) -> usize {
    match state.fds.stdio(fd) {
        Some(Stdio::Output(Output::Stream(stream))) => MAX_BYTES_PER_CALL.min(stream.capacity()),
        _ => MAX_BYTES_PER_CALL,
    }
}

/// One write: the bytes (gathered from the guest's buffers) and where its result goes.
#[derive(Debug, Clone)]
pub(super) struct Write {
    fd: i32,
    offset: Option<i64>,
    scratch: Scratch,
    nwritten: u32,
    pub(super) memory: Memory,
}

impl Write {
    /// Writes, and stores the byte count for the guest; returns the errno, or `None` when
    /// `fd` is a stream that cannot take the bytes before the host takes its contents.
    ///
    /// # Errors
    ///
    /// A trap from wasi-common.
    pub(super) fn run(
        &mut self,
        data: &mut [u8],
        host: &mut Host,
    ) -> Result<Option<i32>, wasmi::Error> {
        let (iovs, iovs_len, result_at) = Scratch::args();
        let state = host.wasi_state();
        let mut memory = self.scratch.memory();
        let result = finish(match self.offset {
            None => ready(preview1::fd_write(
                &mut state.ctx,
                &mut memory,
                self.fd,
                iovs,
                iovs_len,
                result_at,
            )),
            Some(offset) => ready(preview1::fd_pwrite(
                &mut state.ctx,
                &mut memory,
                self.fd,
                iovs,
                iovs_len,
                offset,
                result_at,
            )),
        })?;
        let stream = matches!(
            state.fds.stdio(self.fd as u32),
            Some(Stdio::Output(Output::Stream(_)))
        );
        if result == errno(Errno::Again) && stream {
            return Ok(None);
        }
        if result != SUCCESS {
            return Ok(Some(result));
        }
        Ok(Some(
            write_u32(data, self.nwritten, self.scratch.result())
                .err()
                .unwrap_or(SUCCESS),
        ))
    }
}

/// Reads at most [`MAX_BYTES_PER_CALL`] bytes into a scratch buffer, copies them into the
/// guest's buffers, and charges what was read.
fn read(mut caller: Caller<'_, Host>, request: Request) -> Result<i32, wasmi::Error> {
    let Request {
        memory,
        fd,
        iovecs,
        offset,
        count_out,
    } = request;
    let (data, host) = memory.data_and_store_mut(&mut caller);
    let state = host.wasi_state();
    // Saturating: on a 32-bit host, a thousand 4 GiB vectors overflow `usize`.
    let wanted = iovecs
        .iter()
        .fold(0usize, |sum, iovec| sum.saturating_add(iovec.len as usize));
    let mut scratch = Scratch::buffer(wanted.min(MAX_BYTES_PER_CALL));
    let (scratch_iovs, scratch_len, result_at) = Scratch::args();
    let mut scratch_memory = scratch.memory();
    let result = finish(match offset {
        None => ready(preview1::fd_read(
            &mut state.ctx,
            &mut scratch_memory,
            fd,
            scratch_iovs,
            scratch_len,
            result_at,
        )),
        Some(offset) => ready(preview1::fd_pread(
            &mut state.ctx,
            &mut scratch_memory,
            fd,
            scratch_iovs,
            scratch_len,
            offset,
            result_at,
        )),
    })?;
    if result != SUCCESS {
        return Ok(result);
    }
    let count = scratch.result() as usize;
    scratch.scatter(data, &iovecs, count);
    let result = write_u32(data, count_out, count as u32)
        .err()
        .unwrap_or(SUCCESS);
    charge(&mut caller, cost(count))?;
    Ok(result)
}

/// `random_get(buf, buf_len)`: seeded bytes in a deterministic run, wasi-common's
/// generator otherwise. Up to [`INLINE_RANDOM_BYTES`] within the slice, more as host work
/// ([`super::work`]). The bytes are charged before any is generated.
fn random_get(mut caller: Caller<'_, Host>, buf: i32, len: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let fill = RandomFill {
        at: buf as u32,
        len: len as u32 as usize,
    };
    if let Err(code) = guest::bytes(memory.data(&caller), fill.at, fill.len) {
        return Ok(code);
    }
    charge(&mut caller, cost(fill.len))?;
    work::run(&mut caller, memory, fill.len <= INLINE_RANDOM_BYTES, fill)
}

/// Fills `len` bytes at `at` with random bytes.
#[derive(Debug, Clone, Copy)]
struct RandomFill {
    at: u32,
    len: usize,
}

impl Work for RandomFill {
    fn run(&self, data: &mut [u8], host: &mut Host, _within_slice: bool) -> Outcome {
        let target = match guest::bytes_mut(data, self.at, self.len) {
            Ok(target) => target,
            Err(code) => return Ok(Some(Done::errno(code))),
        };
        let state = host.wasi_state();
        let errno = match &mut state.replay {
            Some(replay) => {
                replay.fill(target);
                SUCCESS
            }
            None => {
                let mut memory = wasmi_wasi::WasmiGuestMemory::Unshared(target);
                finish(ready(preview1::random_get(
                    &mut state.ctx,
                    &mut memory,
                    0,
                    self.len as i32,
                )))?
            }
        };
        Ok(Some(Done::errno(errno)))
    }
}

/// `fd_sync(fd)`.
fn fd_sync(caller: Caller<'_, Host>, fd: i32) -> Result<i32, wasmi::Error> {
    sync(
        caller,
        Sync {
            fd,
            data_only: false,
        },
    )
}

/// `fd_datasync(fd)`.
fn fd_datasync(caller: Caller<'_, Host>, fd: i32) -> Result<i32, wasmi::Error> {
    sync(
        caller,
        Sync {
            fd,
            data_only: true,
        },
    )
}

/// A sync waits for the disk (seconds, after a gigabyte of writes): host work, except on
/// stdio, which is in memory.
fn sync(mut caller: Caller<'_, Host>, sync: Sync) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let state = caller.data_mut().wasi_state();
    let right = if sync.data_only {
        Rights::FD_DATASYNC
    } else {
        Rights::FD_SYNC
    };
    if !state.fds.allows(sync.fd as u32, right) {
        return Ok(errno(Errno::Notcapable));
    }
    let stdio = state.fds.stdio(sync.fd as u32).is_some();
    work::run(&mut caller, memory, stdio, sync)
}

/// `fd_sync` or `fd_datasync` of `fd`.
#[derive(Debug, Clone, Copy)]
struct Sync {
    fd: i32,
    data_only: bool,
}

impl Work for Sync {
    fn run(&self, _data: &mut [u8], host: &mut Host, _within_slice: bool) -> Outcome {
        let ctx = &mut host.wasi_state().ctx;
        let mut memory = guest::no_memory();
        let errno = finish(if self.data_only {
            ready(preview1::fd_datasync(ctx, &mut memory, self.fd))
        } else {
            ready(preview1::fd_sync(ctx, &mut memory, self.fd))
        })?;
        Ok(Some(Done::errno(errno)))
    }
}
