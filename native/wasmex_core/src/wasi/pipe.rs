//! In-memory standard input, output and error, each bounded.
//!
//! A [`Pipe`] (Wasmex's `Wasmex.Pipe`) is a byte buffer with one position and a capacity:
//! the host fills it for a guest's stdin or reads a guest's stdout from it. A guest write
//! that does not fit is short, and a write with no room at all fails with `ENOSPC`, so a
//! guest cannot grow host memory past the capacity.
//!
//! A [`Stream`] collects output for the host to send to a process after every slice; it
//! holds at most its capacity. A write that does not fit waits (the guest is suspended,
//! the host takes the output, the write goes on: see [`super::io`]), so a guest writing in
//! a loop is held back by the host instead of filling memory.

use async_trait::async_trait;
use std::any::Any;
use std::io::{IoSlice, IoSliceMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use wasmi_wasi::wasi_common::file::{FdFlags, FileType};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::Errno;
use wasmi_wasi::wasi_common::{Error, ErrorExt, WasiFile};

/// A byte buffer with one read/write position and a capacity, shared by the guest (as
/// stdin, stdout or stderr) and the host (`Wasmex.Pipe`).
#[derive(Debug, Clone)]
pub struct Pipe(Arc<Mutex<PipeBuffer>>);

/// A pipe's bytes, in chunks of [`CHUNK`] bytes: growing never moves what is already
/// there, so a write costs the bytes it writes whatever the pipe's size (a growing `Vec`
/// reallocates, and may copy tens of megabytes at once). A chunk is allocated when a write
/// reaches it: the gap left by a seek past the end costs nothing.
#[derive(Debug)]
struct PipeBuffer {
    /// `None` for a chunk never written (zeros); bytes past `len` are never written.
    chunks: Vec<Option<Box<[u8]>>>,
    len: usize,
    position: usize,
    capacity: usize,
}

const CHUNK: usize = 64 << 10;

impl Default for Pipe {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY as u64)
    }
}

impl Pipe {
    /// The capacity of a pipe unless told otherwise: 64 MiB.
    pub const DEFAULT_CAPACITY: usize = 64 << 20;

    /// The largest capacity: 4 GiB (the list of chunks of a pipe stays small).
    pub const MAX_CAPACITY: u64 = 1 << 32;

    /// A new, empty pipe that holds at most `capacity` bytes (at most
    /// [`Pipe::MAX_CAPACITY`]: a larger capacity is that).
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity.min(Self::MAX_CAPACITY)).unwrap_or(usize::MAX);
        Self(Arc::new(Mutex::new(PipeBuffer {
            chunks: Vec::new(),
            len: 0,
            position: 0,
            capacity,
        })))
    }

    // Every operation leaves the buffer consistent (a length and a position within
    // bounds) before anything can panic, so a poisoned lock holds good data.
    fn lock(&self) -> MutexGuard<'_, PipeBuffer> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most bytes the pipe holds.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// The bytes in the pipe, wherever the position is.
    pub fn size(&self) -> usize {
        self.lock().len
    }

    /// The bytes from the position to the end.
    pub fn remaining(&self) -> usize {
        let buffer = self.lock();
        buffer.len.saturating_sub(buffer.position)
    }

    /// Moves the position to `position` (it may pass the end: a write there fills the gap
    /// with zeros).
    ///
    /// # Errors
    ///
    /// The capacity, when `position` is past it.
    pub fn seek(&self, position: usize) -> Result<(), usize> {
        let mut buffer = self.lock();
        if position > buffer.capacity {
            return Err(buffer.capacity);
        }
        buffer.position = position;
        Ok(())
    }

    /// Writes all of `bytes` at the position and moves the position past them.
    ///
    /// # Errors
    ///
    /// The capacity, when `bytes` do not fit: nothing is written.
    pub fn write_all(&self, bytes: &[u8]) -> Result<usize, usize> {
        let mut buffer = self.lock();
        if bytes.len() > buffer.room() {
            return Err(buffer.capacity);
        }
        Ok(buffer.write(bytes))
    }

    /// Reads from the position to the end, and moves the position to the end.
    pub fn read_to_end(&self) -> Vec<u8> {
        let mut buffer = self.lock();
        let mut bytes = vec![0; buffer.len.saturating_sub(buffer.position)];
        buffer.read(&mut bytes);
        bytes
    }

    /// Everything in the pipe, whatever the position.
    pub fn contents(&self) -> Vec<u8> {
        let buffer = self.lock();
        let mut bytes = vec![0; buffer.len];
        buffer.copy_out(0, &mut bytes);
        bytes
    }

    /// Reads up to `target.len()` bytes from the position; returns how many.
    fn read_into(&self, target: &mut [u8]) -> usize {
        self.lock().read(target)
    }

    /// Bytes a write at the position may still add.
    pub(crate) fn room(&self) -> usize {
        self.lock().room()
    }

    /// Writes what fits of `bytes`; returns how many.
    fn write_some(&self, bytes: &[u8]) -> usize {
        let mut buffer = self.lock();
        let len = bytes.len().min(buffer.room());
        buffer.write(&bytes[..len])
    }
}

impl PipeBuffer {
    fn room(&self) -> usize {
        self.capacity.saturating_sub(self.position)
    }

    /// Writes `bytes` (which fit) at the position, and moves the position past them.
    fn write(&mut self, bytes: &[u8]) -> usize {
        let end = self.position + bytes.len();
        self.chunks
            .resize(end.div_ceil(CHUNK).max(self.chunks.len()), None);
        let mut at = self.position;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (chunk, offset) = (at / CHUNK, at % CHUNK);
            let n = rest.len().min(CHUNK - offset);
            let target =
                self.chunks[chunk].get_or_insert_with(|| vec![0; CHUNK].into_boxed_slice());
            target[offset..offset + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            at += n;
        }
        self.position = end;
        self.len = self.len.max(end);
        bytes.len()
    }

    /// Reads up to `target.len()` bytes from the position, and moves the position past
    /// them; returns how many.
    fn read(&mut self, target: &mut [u8]) -> usize {
        let start = self.position.min(self.len);
        let len = target.len().min(self.len - start);
        self.copy_out(start, &mut target[..len]);
        self.position = self.position.max(start + len);
        len
    }

    /// Copies the bytes from `from` into all of `target` (which the pipe holds).
    fn copy_out(&self, from: usize, target: &mut [u8]) {
        let mut at = from;
        let mut rest = target;
        while !rest.is_empty() {
            let (chunk, offset) = (at / CHUNK, at % CHUNK);
            let n = rest.len().min(CHUNK - offset);
            let (head, tail) = rest.split_at_mut(n);
            match &self.chunks[chunk] {
                Some(bytes) => head.copy_from_slice(&bytes[offset..offset + n]),
                None => head.fill(0),
            }
            rest = tail;
            at += n;
        }
    }
}

/// Output a guest wrote since the host last took it, at most its capacity.
#[derive(Debug, Clone)]
pub struct Stream {
    buffer: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl Default for Stream {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl Stream {
    /// The capacity of a stream unless told otherwise: 64 KiB.
    pub const DEFAULT_CAPACITY: usize = 64 << 10;

    /// A new stream that holds at most `capacity` bytes (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(Vec::new())),
            capacity: capacity.max(1),
        }
    }

    // Appending cannot leave the buffer half-written: a poisoned lock holds good data.
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most bytes the stream holds between two takes, and so the longest chunk the
    /// host sends at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes what was written so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    /// Appends all of `bufs`, or nothing when they do not fit.
    fn write_all(&self, bufs: &[IoSlice<'_>]) -> bool {
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        let mut buffer = self.lock();
        if buffer.len() + len > self.capacity {
            return false;
        }
        for buf in bufs {
            buffer.extend_from_slice(buf);
        }
        true
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

/// A standard stream, wherever the guest moved it: what wasi-common reads or writes as the
/// guest's stdin, stdout or stderr, and what this layer looks up by descriptor
/// ([`super::fds::Fds::stdio`]).
#[derive(Debug, Clone)]
pub(super) enum Stdio {
    /// Standard input: a pipe, or nothing (end of input at once).
    Input(Option<Pipe>),
    /// Standard output or error.
    Output(Output),
}

impl Stdio {
    /// Discarded stdio, for a store without WASI.
    pub(super) fn none() -> [Self; 3] {
        [
            Self::Input(None),
            Self::Output(Output::Discard),
            Self::Output(Output::Discard),
        ]
    }
}

/// wasi-common opens stdin for reading only and stdout and stderr for writing only, so a
/// read of an output (or a write to the input) never gets here; it would get wasi-common's
/// `EBADF`.
#[async_trait]
impl WasiFile for Stdio {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, Error> {
        Ok(FileType::Pipe)
    }

    async fn get_fdflags(&self) -> Result<FdFlags, Error> {
        match self {
            Self::Input(_) => Ok(FdFlags::empty()),
            Self::Output(_) => Ok(FdFlags::APPEND),
        }
    }

    async fn read_vectored<'a>(&self, bufs: &mut [IoSliceMut<'a>]) -> Result<u64, Error> {
        let Self::Input(input) = self else {
            return Err(Error::badf());
        };
        let Some(pipe) = input else { return Ok(0) };
        let mut read = 0;
        for buf in bufs {
            let len = pipe.read_into(buf);
            read += len as u64;
            if len < buf.len() {
                break;
            }
        }
        Ok(read)
    }

    // A pipe has no position: `fd_seek`, `fd_tell`, `fd_pread` and `fd_pwrite` of stdio
    // are `ESPIPE`, as wasi-common's own stdio and POSIX answer (not the trait's `EBADF`,
    // which tells a guest that probes with `lseek` that its stdio is closed).
    async fn seek(&self, _pos: std::io::SeekFrom) -> Result<u64, Error> {
        Err(Error::seek_pipe())
    }

    async fn read_vectored_at<'a>(
        &self,
        _bufs: &mut [IoSliceMut<'a>],
        _offset: u64,
    ) -> Result<u64, Error> {
        Err(Error::seek_pipe())
    }

    async fn write_vectored_at<'a>(
        &self,
        _bufs: &[IoSlice<'a>],
        _offset: u64,
    ) -> Result<u64, Error> {
        Err(Error::seek_pipe())
    }

    fn num_ready_bytes(&self) -> Result<u64, Error> {
        match self {
            Self::Input(pipe) => Ok(pipe.as_ref().map_or(0, |pipe| pipe.remaining() as u64)),
            Self::Output(_) => Ok(0),
        }
    }

    /// Writes what fits: a short write when part of it does; `ENOSPC` for a pipe with no
    /// room; `EAGAIN` for a stream that cannot take all of it now (the caller waits for
    /// the host to take the stream's contents and tries again).
    async fn write_vectored<'a>(&self, bufs: &[IoSlice<'a>]) -> Result<u64, Error> {
        let Self::Output(output) = self else {
            return Err(Error::badf());
        };
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        match output {
            Output::Discard => Ok(len as u64),
            Output::Pipe(pipe) => {
                let mut written = 0;
                for buf in bufs {
                    let n = pipe.write_some(buf);
                    written += n;
                    if n < buf.len() {
                        break;
                    }
                }
                if written == 0 && len > 0 {
                    return Err(Errno::Nospc.into());
                }
                Ok(written as u64)
            }
            Output::Stream(stream) => {
                if stream.write_all(bufs) {
                    Ok(len as u64)
                } else {
                    Err(Errno::Again.into())
                }
            }
        }
    }
}
