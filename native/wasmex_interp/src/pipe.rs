//! `Wasmex.Pipe`: an in-memory file for a WASI guest's stdin, stdout or stderr.

use crate::reply::{self, Done};
use rustler::{Binary, Env, NifResult, NifStruct, ResourceArc};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{RwLockReadGuard, RwLockWriteGuard};
use wasmex_core::wasi::{self, Pipe};

/// A pipe: bytes and one read/write position, shared with the guests it is given to.
pub(crate) struct PipeResource {
    pub(crate) pipe: Pipe,
}

// A panic cannot leave the pipe in a state Elixir could observe: a poisoned lock is an
// error on every later use.
impl std::panic::RefUnwindSafe for PipeResource {}

#[rustler::resource_impl]
impl rustler::Resource for PipeResource {}

/// `%Wasmex.Pipe{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Pipe"]
pub(crate) struct ExPipe {
    pub(crate) resource: ResourceArc<PipeResource>,
}

impl PipeResource {
    fn read(&self) -> NifResult<RwLockReadGuard<'_, std::io::Cursor<Vec<u8>>>> {
        self.pipe.read().map_err(|_| poisoned())
    }

    fn write(&self) -> NifResult<RwLockWriteGuard<'_, std::io::Cursor<Vec<u8>>>> {
        self.pipe.write().map_err(|_| poisoned())
    }
}

fn poisoned() -> rustler::Error {
    rustler::Error::RaiseTerm(Box::new("the pipe is unusable after a panic"))
}

#[rustler::nif(name = "pipe_new")]
fn new() -> ExPipe {
    ExPipe {
        resource: ResourceArc::new(PipeResource { pipe: wasi::pipe() }),
    }
}

#[rustler::nif(name = "pipe_size")]
fn size(pipe: ResourceArc<PipeResource>) -> NifResult<u64> {
    Ok(pipe.read()?.get_ref().len() as u64)
}

/// The furthest a pipe's position may be set (`Wasmex.Pipe.seek/2` checks it too): a write
/// past the end fills the gap with zeros, so a far position would be a huge allocation.
const MAX_POSITION: u64 = 1 << 30;

#[rustler::nif(name = "pipe_seek")]
fn seek(pipe: ResourceArc<PipeResource>, position: u64) -> NifResult<Done> {
    if position > MAX_POSITION {
        return Err(rustler::Error::BadArg);
    }
    pipe.write()?
        .seek(SeekFrom::Start(position))
        .map_err(|_| rustler::Error::BadArg)?;
    Ok(Done(Ok(())))
}

#[rustler::nif(name = "pipe_read_binary")]
fn read_binary(env: Env, pipe: ResourceArc<PipeResource>) -> NifResult<Binary> {
    let mut bytes = Vec::new();
    pipe.write()?
        .read_to_end(&mut bytes)
        .map_err(|_| rustler::Error::BadArg)?;
    Ok(reply::binary(env, &bytes))
}

#[rustler::nif(name = "pipe_write_binary")]
fn write_binary(
    pipe: ResourceArc<PipeResource>,
    bytes: Binary,
) -> NifResult<(rustler::Atom, usize)> {
    pipe.write()?
        .write_all(bytes.as_slice())
        .map_err(|_| rustler::Error::BadArg)?;
    Ok((crate::atoms::ok(), bytes.len()))
}
