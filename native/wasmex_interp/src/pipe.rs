//! `Wasmex.Pipe`: an in-memory file for a WASI guest's stdin, stdout or stderr, holding at
//! most its capacity.
//!
//! Copying a pipe's bytes to or from Elixir takes about a millisecond per few megabytes:
//! reads and writes are normal/dirty twins that choose by size (see [`crate::schedule`]).

use crate::{
    atoms, reply,
    schedule::{twin, Schedule},
};
use rustler::{Binary, Encoder, Env, NifResult, NifStruct, ResourceArc, Term};
use wasmex_core::wasi::Pipe;

/// A pipe: bytes, one read/write position and a capacity, shared with the guests it is
/// given to.
pub(crate) struct PipeResource {
    pub(crate) pipe: Pipe,
}

resource!(PipeResource);

/// `%Wasmex.Pipe{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Pipe"]
pub(crate) struct ExPipe {
    pub(crate) resource: ResourceArc<PipeResource>,
}

#[rustler::nif(name = "pipe_new")]
fn new(capacity: u64) -> NifResult<ExPipe> {
    if capacity > Pipe::MAX_CAPACITY {
        return Err(rustler::Error::BadArg);
    }
    Ok(ExPipe {
        resource: ResourceArc::new(PipeResource {
            pipe: Pipe::new(capacity),
        }),
    })
}

#[rustler::nif(name = "pipe_size")]
fn size(pipe: ResourceArc<PipeResource>) -> u64 {
    pipe.pipe.size() as u64
}

/// `:ok`, or `{:error, capacity}` for a position past the capacity (Elixir raises).
#[rustler::nif(name = "pipe_seek")]
fn seek(env: Env, pipe: ResourceArc<PipeResource>, position: u64) -> Term {
    let position = usize::try_from(position).unwrap_or(usize::MAX);
    match pipe.pipe.seek(position) {
        Ok(()) => atoms::ok().encode(env),
        Err(capacity) => (atoms::error(), capacity as u64).encode(env),
    }
}

twin!(read_binary(pipe) => "pipe_read_binary_nif", "pipe_read_binary_dirty_nif",
    (pipe: ResourceArc<PipeResource>) -> Term<'a>);

/// The bytes from the position to the end.
fn read_binary(schedule: Schedule, env: Env<'_>, pipe: ResourceArc<PipeResource>) -> Term<'_> {
    let unread = pipe.pipe.remaining() as u64;
    match schedule.copy(env, unread, || Ok(pipe.pipe.read_to_end())) {
        Ok(bytes) => reply::binary(env, &bytes).encode(env),
        Err(refusal) => refusal.encode(env),
    }
}

twin!(write_binary(pipe, bytes) => "pipe_write_binary_nif", "pipe_write_binary_dirty_nif",
    (pipe: ResourceArc<PipeResource>, bytes: Binary<'a>) -> Term<'a>);

/// `{:ok, bytes}`, or `{:error, message}` when the bytes do not fit (nothing is written).
fn write_binary<'a>(
    schedule: Schedule,
    env: Env<'a>,
    pipe: ResourceArc<PipeResource>,
    bytes: Binary<'a>,
) -> Term<'a> {
    let written = schedule.copy(env, bytes.len() as u64, || {
        Ok(pipe.pipe.write_all(bytes.as_slice()))
    });
    match written {
        Err(refusal) => refusal.encode(env),
        Ok(Ok(written)) => (atoms::ok(), written).encode(env),
        Ok(Err(capacity)) => (
            atoms::error(),
            format!(
                "the pipe is full: {} bytes do not fit in its capacity of {capacity} bytes",
                bytes.len()
            ),
        )
            .encode(env),
    }
}
