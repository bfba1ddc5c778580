//! `Wasmex.Wasi.WasiOptions` and `Wasmex.Wasi.PreopenOptions`: decoding WASI options, and
//! delivering streamed output to processes.

use crate::{atoms, pipe::ExPipe, reply};
use rustler::env::SavedTerm;
use rustler::{Encoder, Env, LocalPid, NifStruct, OwnedEnv, Term};
use std::collections::HashMap;
use wasmex_core::wasi::{Deterministic, Output, Preopen, Stream, WasiOptions};

/// `%Wasmex.Wasi.WasiOptions{}`. `stdin` is a pipe or nil; `stdout` and `stderr` are a
/// pipe, nil, `{:send, pid}` or `{:send, pid, tag}`.
#[derive(NifStruct)]
#[module = "Wasmex.Wasi.WasiOptions"]
pub(crate) struct ExWasiOptions<'a> {
    args: Vec<String>,
    env: HashMap<String, String>,
    preopen: Vec<ExPreopenOptions>,
    stdin: Option<ExPipe>,
    stdout: Term<'a>,
    stderr: Term<'a>,
    fd_limit: usize,
    stream_buffer: usize,
    deterministic: bool,
    clock_start: u64,
    random_seed: Option<u64>,
}

/// `%Wasmex.Wasi.PreopenOptions{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Wasi.PreopenOptions"]
pub(crate) struct ExPreopenOptions {
    path: String,
    alias: Option<String>,
}

/// A process that receives a guest's output as it is written, and the tag of its messages
/// (the store itself when the user gave none).
pub(crate) struct StreamTarget {
    pid: LocalPid,
    tag: Option<(OwnedEnv, SavedTerm)>,
}

/// Decoded options, and the processes streamed stdout and stderr go to.
pub(crate) type Decoded = (WasiOptions, [Option<StreamTarget>; 2]);

/// Decodes `%Wasmex.Wasi.WasiOptions{}`.
///
/// # Errors
///
/// `BadArg` for a `stdout` or `stderr` of another shape, or a `stream_buffer` of 0.
pub(crate) fn options(options: ExWasiOptions) -> rustler::NifResult<Decoded> {
    if options.stream_buffer == 0 {
        return Err(rustler::Error::BadArg);
    }
    let (stdout, stdout_target) = output(options.stdout, options.stream_buffer)?;
    let (stderr, stderr_target) = output(options.stderr, options.stream_buffer)?;
    let mut env: Vec<(String, String)> = options.env.into_iter().collect();
    env.sort();
    let preopens = options
        .preopen
        .into_iter()
        .map(|preopen| Preopen {
            guest: preopen.alias.unwrap_or_else(|| preopen.path.clone()),
            path: preopen.path.into(),
        })
        .collect();
    let decoded = WasiOptions {
        args: options.args,
        env,
        preopens,
        stdin: options.stdin.map(|pipe| pipe.resource.pipe.clone()),
        stdout,
        stderr,
        fd_limit: options.fd_limit,
        deterministic: options.deterministic.then_some(Deterministic {
            clock_start: options.clock_start,
            random_seed: options.random_seed,
        }),
    };
    Ok((decoded, [stdout_target, stderr_target]))
}

/// Where output goes; a stream holds at most `stream_buffer` bytes between deliveries.
fn output(term: Term, stream_buffer: usize) -> rustler::NifResult<(Output, Option<StreamTarget>)> {
    if term == atoms::nil().to_term(term.get_env()) {
        return Ok((Output::Discard, None));
    }
    if let Ok(pipe) = term.decode::<ExPipe>() {
        return Ok((Output::Pipe(pipe.resource.pipe.clone()), None));
    }
    let target = match rustler::types::tuple::get_tuple(term)?.as_slice() {
        [send, pid] if *send == atoms::send().to_term(term.get_env()) => StreamTarget {
            pid: pid.decode()?,
            tag: None,
        },
        [send, pid, tag] if *send == atoms::send().to_term(term.get_env()) => {
            let owned = OwnedEnv::new();
            let saved = owned.save(*tag);
            StreamTarget {
                pid: pid.decode()?,
                tag: Some((owned, saved)),
            }
        }
        _ => return Err(rustler::Error::BadArg),
    };
    Ok((Output::Stream(Stream::new(stream_buffer)), Some(target)))
}

impl StreamTarget {
    /// Sends `chunk` as `{kind, tag, chunk}`, the tag being `default_tag` when none was
    /// given. A dead receiver is not an error: the output is dropped. A chunk is what the
    /// guest wrote since the last delivery, so at most the stream's `stream_buffer` bytes.
    pub(crate) fn send<'a>(
        &self,
        env: Env<'a>,
        kind: rustler::Atom,
        default_tag: Term<'a>,
        chunk: &[u8],
    ) {
        let tag = match &self.tag {
            Some((owned, saved)) => owned.run(|owned_env| saved.load(owned_env).in_env(env)),
            None => default_tag,
        };
        let message = (kind, tag, reply::binary(env, chunk)).encode(env);
        let _ = env.send(&self.pid, message);
    }
}
