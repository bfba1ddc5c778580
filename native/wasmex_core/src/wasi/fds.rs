//! The guest's descriptors as this layer sees them, beside wasi-common's table (whose
//! entries it cannot reach): how many are open, which are stdio, which rights the guest
//! dropped.
//!
//! The WASI functions that change the table (`path_open`, `sock_accept`, `fd_close`,
//! `fd_renumber`) are wrapped here to keep [`Fds`] in step, and:
//!
//! - `path_open` and `sock_accept` fail with `EMFILE` once the guest holds its store's
//!   limit of descriptors (a guest opening files in a loop took every descriptor of the
//!   OS process before);
//! - `fd_fdstat_set_rights` drops rights for real: `fd_fdstat_get` reports what is left,
//!   reads and writes without their right fail with `ENOTCAPABLE`, and asking for rights
//!   back fails with `ENOTCAPABLE` (wasi-common accepts and ignores it);
//! - `sock_shutdown`, `sock_recv` and `sock_send` on a descriptor that is not a socket fail
//!   with `ENOTSOCK` (wasi-common says `EBADF`).

use super::guest::{
    self, delegate, errno, no_memory, offset, read_u32, read_u64, write_u64, SUCCESS,
};
use super::pipe::Stdio;
use super::WasiState;
use crate::store::Host;
use std::collections::{BTreeSet, HashMap};
use wasmi::{Caller, Linker, Memory};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::{Errno, Fd, Filetype, Rights};
use wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1::WasiSnapshotPreview1;

/// The guest's descriptors.
#[derive(Debug)]
pub(super) struct Fds {
    /// Every descriptor in wasi-common's table.
    open: BTreeSet<u32>,
    /// The most that may be open at once.
    limit: usize,
    /// The descriptors that are stdio.
    stdio: HashMap<u32, Stdio>,
    /// The rights the guest kept with `fd_fdstat_set_rights` (base, inheriting).
    kept: HashMap<u32, (u64, u64)>,
}

impl Fds {
    /// The descriptors of a new context: stdio at 0, 1 and 2, then `preopens` directories.
    pub(super) fn new(limit: usize, preopens: usize, stdio: [Stdio; 3]) -> Self {
        Self {
            open: (0..3 + preopens as u32).collect(),
            limit,
            stdio: (0..).zip(stdio).collect(),
            kept: HashMap::new(),
        }
    }

    fn full(&self) -> bool {
        self.open.len() >= self.limit
    }

    fn opened(&mut self, fd: u32) {
        self.open.insert(fd);
    }

    fn closed(&mut self, fd: u32) {
        self.open.remove(&fd);
        self.stdio.remove(&fd);
        self.kept.remove(&fd);
    }

    /// `from` replaced `to` (which was open).
    fn renumbered(&mut self, from: u32, to: u32) {
        if from == to {
            return;
        }
        self.closed(to);
        self.open.remove(&from);
        self.open.insert(to);
        if let Some(stdio) = self.stdio.remove(&from) {
            self.stdio.insert(to, stdio);
        }
        if let Some(kept) = self.kept.remove(&from) {
            self.kept.insert(to, kept);
        }
    }

    /// The standard stream at `fd`, if it is one.
    pub(super) fn stdio(&self, fd: u32) -> Option<&Stdio> {
        self.stdio.get(&fd)
    }

    /// `false` when the guest dropped `right` on `fd`.
    pub(super) fn allows(&self, fd: u32, right: Rights) -> bool {
        self.kept
            .get(&fd)
            .is_none_or(|(base, _)| base & right.bits() != 0)
    }
}

/// Rights a regular file reports besides reading and writing (which follow how it was
/// opened), as wasi-common reports for directories.
fn file_rights() -> Rights {
    Rights::FD_DATASYNC
        | Rights::FD_SEEK
        | Rights::FD_FDSTAT_SET_FLAGS
        | Rights::FD_SYNC
        | Rights::FD_TELL
        | Rights::FD_ADVISE
        | Rights::FD_ALLOCATE
        | Rights::FD_FILESTAT_GET
        | Rights::FD_FILESTAT_SET_SIZE
        | Rights::FD_FILESTAT_SET_TIMES
        | Rights::POLL_FD_READWRITE
}

/// Rights any other non-directory reports besides reading and writing.
fn stream_rights() -> Rights {
    Rights::FD_FILESTAT_GET | Rights::POLL_FD_READWRITE
}

/// `fd`'s type and rights (base, inheriting) as the guest sees them.
///
/// # Errors
///
/// wasi-common's errno for a descriptor it does not know; a trap for a bug.
pub(super) fn fdstat(state: &mut WasiState, fd: u32) -> Result<(Filetype, u64, u64), Fault> {
    let stat = guest::ready(state.ctx.fd_fdstat_get(&mut no_memory(), Fd::from(fd)))
        .ok_or_else(|| Fault::Trap(wasmi::Error::new("fd_fdstat_get would block")))?
        .map_err(Fault::from)?;
    let (base, inheriting) = reported(
        state,
        fd,
        stat.fs_filetype,
        stat.fs_rights_base.bits(),
        stat.fs_rights_inheriting.bits(),
    );
    Ok((stat.fs_filetype, base, inheriting))
}

/// The rights wasi-common reports for `fd`, completed and reduced to what the guest kept.
fn reported(
    state: &WasiState,
    fd: u32,
    filetype: Filetype,
    base: u64,
    inheriting: u64,
) -> (u64, u64) {
    let base = base
        | match filetype {
            Filetype::Directory => Rights::empty(),
            Filetype::RegularFile => file_rights(),
            _ => stream_rights(),
        }
        .bits();
    match state.fds.kept.get(&fd) {
        Some((kept_base, kept_inheriting)) => (base & kept_base, inheriting & kept_inheriting),
        None => (base, inheriting),
    }
}

/// Why a typed call into wasi-common failed: an errno for the guest, or a trap.
pub(super) enum Fault {
    Errno(i32),
    Trap(wasmi::Error),
}

impl Fault {
    /// What a host function returns for this fault: the errno, or the trap.
    pub(super) fn answer(self) -> Result<i32, wasmi::Error> {
        match self {
            Self::Errno(code) => Ok(code),
            Self::Trap(trap) => Err(trap),
        }
    }
}

impl From<wasmi_wasi::wasi_common::Error> for Fault {
    fn from(error: wasmi_wasi::wasi_common::Error) -> Self {
        match error.downcast() {
            Ok(code) => Self::Errno(errno(code)),
            Err(error) => Self::Trap(wasmi::Error::new(error.to_string())),
        }
    }
}

/// Adds the wrapped functions to `linker`.
///
/// # Errors
///
/// When the linker refuses a definition.
pub(super) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(super::MODULE, "path_open", path_open)?;
    linker.func_wrap(super::MODULE, "sock_accept", sock_accept)?;
    linker.func_wrap(super::MODULE, "fd_close", fd_close)?;
    linker.func_wrap(super::MODULE, "fd_renumber", fd_renumber)?;
    linker.func_wrap(super::MODULE, "fd_fdstat_get", fd_fdstat_get)?;
    linker.func_wrap(super::MODULE, "fd_fdstat_set_rights", fd_fdstat_set_rights)?;
    linker.func_wrap(super::MODULE, "sock_shutdown", sock_shutdown)?;
    linker.func_wrap(super::MODULE, "sock_recv", sock_recv)?;
    linker.func_wrap(super::MODULE, "sock_send", sock_send)?;
    Ok(())
}

/// `path_open(dirfd, dirflags, path, path_len, oflags, base, inheriting, fdflags, fd_out)`.
#[allow(clippy::too_many_arguments)]
fn path_open(
    mut caller: Caller<'_, Host>,
    dirfd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    base: i64,
    inheriting: i64,
    fdflags: i32,
    fd_out: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    if let Some(refused) = refuse_open(&mut caller, memory, fd_out) {
        return Ok(refused);
    }
    let result = delegate!(
        &mut caller,
        memory,
        path_open(dirfd, dirflags, path, path_len, oflags, base, inheriting, fdflags, fd_out)
    )?;
    opened(&mut caller, memory, result, fd_out)
}

/// `sock_accept(fd, flags, fd_out)`.
fn sock_accept(
    mut caller: Caller<'_, Host>,
    fd: i32,
    flags: i32,
    fd_out: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    if let Some(refused) = refuse_open(&mut caller, memory, fd_out) {
        return Ok(refused);
    }
    let result = delegate!(&mut caller, memory, sock_accept(fd, flags, fd_out))?;
    opened(&mut caller, memory, result, fd_out)
}

/// Why an open must not start: `EMFILE` at the descriptor limit; `EFAULT` when the new
/// descriptor could not be stored at `fd_out` (outside memory or not 4-aligned).
/// wasi-common opens first and then traps on a bad `fd_out`, leaving the descriptor in its
/// table, uncounted: a guest could hold host descriptors past its limit.
fn refuse_open(caller: &mut Caller<'_, Host>, memory: Memory, fd_out: i32) -> Option<i32> {
    let (data, host) = memory.data_and_store_mut(caller);
    if host.wasi_state().fds.full() {
        return Some(errno(Errno::Mfile));
    }
    let fd_out = fd_out as u32;
    if !fd_out.is_multiple_of(4) || guest::bytes(data, fd_out, 4).is_err() {
        return Some(errno(Errno::Fault));
    }
    None
}

/// Records the descriptor a successful open wrote at `fd_out`.
fn opened(
    caller: &mut Caller<'_, Host>,
    memory: wasmi::Memory,
    result: i32,
    fd_out: i32,
) -> Result<i32, wasmi::Error> {
    if result == SUCCESS {
        let (data, host) = memory.data_and_store_mut(caller);
        if let Ok(fd) = read_u32(data, fd_out as u32) {
            host.wasi_state().fds.opened(fd);
        }
    }
    Ok(result)
}

/// `fd_close(fd)`.
fn fd_close(mut caller: Caller<'_, Host>, fd: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let result = delegate!(&mut caller, memory, fd_close(fd))?;
    if result == SUCCESS {
        caller.data_mut().wasi_state().fds.closed(fd as u32);
    }
    Ok(result)
}

/// `fd_renumber(from, to)`.
fn fd_renumber(mut caller: Caller<'_, Host>, from: i32, to: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let result = delegate!(&mut caller, memory, fd_renumber(from, to))?;
    if result == SUCCESS {
        caller
            .data_mut()
            .wasi_state()
            .fds
            .renumbered(from as u32, to as u32);
    }
    Ok(result)
}

/// Offsets in an `fdstat`.
const FDSTAT_FILETYPE: u32 = 0;
const FDSTAT_RIGHTS_BASE: u32 = 8;
const FDSTAT_RIGHTS_INHERITING: u32 = 16;

/// `fd_fdstat_get(fd, fdstat_out)`: wasi-common's, with the rights completed and reduced
/// (see [`reported`]).
fn fd_fdstat_get(mut caller: Caller<'_, Host>, fd: i32, out: i32) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let result = delegate!(&mut caller, memory, fd_fdstat_get(fd, out))?;
    if result != SUCCESS {
        return Ok(result);
    }
    let (data, host) = memory.data_and_store_mut(&mut caller);
    let out = out as u32;
    let mut rewrite = |data: &mut [u8]| -> Result<(), i32> {
        let filetype = guest::bytes(data, offset(out, FDSTAT_FILETYPE)?, 1)?[0];
        let filetype = Filetype::try_from(i32::from(filetype)).unwrap_or(Filetype::Unknown);
        let base = read_u64(data, offset(out, FDSTAT_RIGHTS_BASE)?)?;
        let inheriting = read_u64(data, offset(out, FDSTAT_RIGHTS_INHERITING)?)?;
        let (base, inheriting) = reported(host.wasi_state(), fd as u32, filetype, base, inheriting);
        write_u64(data, offset(out, FDSTAT_RIGHTS_BASE)?, base)?;
        write_u64(data, offset(out, FDSTAT_RIGHTS_INHERITING)?, inheriting)
    };
    Ok(rewrite(data).err().unwrap_or(SUCCESS))
}

/// `fd_fdstat_set_rights(fd, base, inheriting)`: keeps only these rights; asking for a
/// right `fd` does not have is `ENOTCAPABLE`.
fn fd_fdstat_set_rights(
    mut caller: Caller<'_, Host>,
    fd: i32,
    base: i64,
    inheriting: i64,
) -> Result<i32, wasmi::Error> {
    let state = caller.data_mut().wasi_state();
    let fd = fd as u32;
    let (base, inheriting) = (base as u64, inheriting as u64);
    let (_, has_base, has_inheriting) = match fdstat(state, fd) {
        Ok(stat) => stat,
        Err(fault) => return fault.answer(),
    };
    if base & !has_base != 0 || inheriting & !has_inheriting != 0 {
        return Ok(errno(Errno::Notcapable));
    }
    state.fds.kept.insert(fd, (base, inheriting));
    Ok(SUCCESS)
}

/// `call` (wasi-common's function on socket `fd`, with the guest's memory); `ENOTSOCK`
/// instead when `fd` is open and not a socket.
fn on_socket(
    mut caller: Caller<'_, Host>,
    fd: i32,
    call: impl FnOnce(&mut Caller<'_, Host>, Memory) -> Result<i32, wasmi::Error>,
) -> Result<i32, wasmi::Error> {
    match fdstat(caller.data_mut().wasi_state(), fd as u32) {
        Ok((Filetype::SocketDgram | Filetype::SocketStream, ..)) => {}
        Ok(_) => return Ok(errno(Errno::Notsock)),
        Err(fault) => return fault.answer(),
    }
    let memory = guest::memory(&caller)?;
    call(&mut caller, memory)
}

/// `sock_shutdown(fd, how)`.
fn sock_shutdown(caller: Caller<'_, Host>, fd: i32, how: i32) -> Result<i32, wasmi::Error> {
    on_socket(caller, fd, |caller, memory| {
        delegate!(caller, memory, sock_shutdown(fd, how))
    })
}

/// `sock_recv(fd, iovs, iovs_len, ri_flags, size_out, roflags_out)`.
fn sock_recv(
    caller: Caller<'_, Host>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    flags: i32,
    size_out: i32,
    flags_out: i32,
) -> Result<i32, wasmi::Error> {
    on_socket(caller, fd, |caller, memory| {
        delegate!(
            caller,
            memory,
            sock_recv(fd, iovs, iovs_len, flags, size_out, flags_out)
        )
    })
}

/// `sock_send(fd, iovs, iovs_len, si_flags, size_out)`.
fn sock_send(
    caller: Caller<'_, Host>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    flags: i32,
    size_out: i32,
) -> Result<i32, wasmi::Error> {
    on_socket(caller, fd, |caller, memory| {
        delegate!(
            caller,
            memory,
            sock_send(fd, iovs, iovs_len, flags, size_out)
        )
    })
}
