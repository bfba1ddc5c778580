//! `Wasmex.Pipe`: an in-memory file for a WASI guest's stdin, stdout or stderr.

use crate::{
    reply,
    schedule::{self, twin, Schedule, COPY_BYTES},
};
use rustler::{Binary, Encoder, Env, NifResult, NifStruct, ResourceArc, Term};
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
fn seek(pipe: ResourceArc<PipeResource>, position: u64) -> NifResult<rustler::Atom> {
    if position > MAX_POSITION {
        return Err(rustler::Error::BadArg);
    }
    pipe.write()?
        .seek(SeekFrom::Start(position))
        .map_err(|_| rustler::Error::BadArg)?;
    Ok(crate::atoms::ok())
}

twin!(read_binary(pipe) => "pipe_read_binary_nif", "pipe_read_binary_dirty_nif",
    (pipe: ResourceArc<PipeResource>) -> NifResult<Term<'a>>);

fn read_binary(
    schedule: Schedule,
    env: Env<'_>,
    pipe: ResourceArc<PipeResource>,
) -> NifResult<Term<'_>> {
    let mut cursor = pipe.write()?;
    let unread = (cursor.get_ref().len() as u64).saturating_sub(cursor.position());
    if let Err(refusal) = schedule.admit(unread, COPY_BYTES) {
        return Ok(refusal.encode(env));
    }
    let mut bytes = Vec::new();
    cursor
        .read_to_end(&mut bytes)
        .map_err(|_| rustler::Error::BadArg)?;
    drop(cursor);
    schedule::consume_bytes(env, schedule, unread);
    Ok(reply::binary(env, &bytes).encode(env))
}

twin!(write_binary(pipe, bytes) => "pipe_write_binary_nif", "pipe_write_binary_dirty_nif",
    (pipe: ResourceArc<PipeResource>, bytes: Binary<'a>) -> NifResult<Term<'a>>);

fn write_binary<'a>(
    schedule: Schedule,
    env: Env<'a>,
    pipe: ResourceArc<PipeResource>,
    bytes: Binary<'a>,
) -> NifResult<Term<'a>> {
    let len = bytes.len() as u64;
    if let Err(refusal) = schedule.admit(len, COPY_BYTES) {
        return Ok(refusal.encode(env));
    }
    pipe.write()?
        .write_all(bytes.as_slice())
        .map_err(|_| rustler::Error::BadArg)?;
    schedule::consume_bytes(env, schedule, len);
    Ok((crate::atoms::ok(), bytes.len()).encode(env))
}
