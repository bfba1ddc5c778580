//! `Wasmex.Pipe`: an in-memory file for a WASI guest's stdin, stdout or stderr, holding at
//! most its capacity.
//!
//! Copying a pipe's bytes to or from Elixir takes about a millisecond per few megabytes:
//! above [`DIRTY_BYTES`] it runs on a dirty scheduler (`pipe_read_binary` answers `:dirty`
//! and the Elixir side calls `pipe_read_binary_dirty`; writes choose by size).

use crate::{atoms, reply};
use rustler::{Binary, Encoder, Env, NifResult, NifStruct, ResourceArc, Term};
use wasmex_core::wasi::Pipe;

/// Bytes copied on a normal scheduler at most (keep in step with `@dirty_bytes` in
/// lib/wasmex/pipe.ex).
const DIRTY_BYTES: usize = 1 << 20;

/// A pipe: bytes, one read/write position and a capacity, shared with the guests it is
/// given to.
pub(crate) struct PipeResource {
    pub(crate) pipe: Pipe,
}

#[rustler::resource_impl]
impl rustler::Resource for PipeResource {}

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

/// The bytes from the position to the end, or `:dirty` when there are more than
/// [`DIRTY_BYTES`] of them (then nothing is read).
#[rustler::nif(name = "pipe_read_binary")]
fn read_binary(env: Env, pipe: ResourceArc<PipeResource>) -> Term {
    if pipe.pipe.remaining() > DIRTY_BYTES {
        return atoms::dirty().encode(env);
    }
    reply::binary(env, &pipe.pipe.read_to_end()).encode(env)
}

#[rustler::nif(name = "pipe_read_binary_dirty", schedule = "DirtyCpu")]
fn read_binary_dirty(env: Env, pipe: ResourceArc<PipeResource>) -> Binary {
    reply::binary(env, &pipe.pipe.read_to_end())
}

#[rustler::nif(name = "pipe_write_binary")]
fn write_binary<'a>(env: Env<'a>, pipe: ResourceArc<PipeResource>, bytes: Binary) -> Term<'a> {
    write(env, &pipe, &bytes)
}

#[rustler::nif(name = "pipe_write_binary_dirty", schedule = "DirtyCpu")]
fn write_binary_dirty<'a>(
    env: Env<'a>,
    pipe: ResourceArc<PipeResource>,
    bytes: Binary,
) -> Term<'a> {
    write(env, &pipe, &bytes)
}

/// `{:ok, bytes}`, or `{:error, message}` when the bytes do not fit (nothing is written).
fn write<'a>(env: Env<'a>, pipe: &PipeResource, bytes: &[u8]) -> Term<'a> {
    match pipe.pipe.write_all(bytes) {
        Ok(written) => (atoms::ok(), written).encode(env),
        Err(capacity) => (
            atoms::error(),
            format!(
                "the pipe is full: {} bytes do not fit in its capacity of {capacity} bytes",
                bytes.len()
            ),
        )
            .encode(env),
    }
}
