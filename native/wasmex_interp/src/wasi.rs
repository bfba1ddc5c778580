//! `Wasmex.Wasi.WasiOptions` and `Wasmex.Wasi.PreopenOptions`: decoding WASI options, and
//! delivering streamed output to processes.

use crate::{atoms, pipe::ExPipe, reply};
use rustler::env::SavedTerm;
use rustler::{Encoder, Env, LocalPid, NifStruct, OwnedEnv, Term};
use std::collections::HashMap;
use wasmex_core::wasi::{Output, Preopen, Stream, WasiOptions};

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
/// `BadArg` for a `stdout` or `stderr` of another shape.
pub(crate) fn options(options: ExWasiOptions) -> rustler::NifResult<Decoded> {
    let (stdout, stdout_target) = output(options.stdout)?;
    let (stderr, stderr_target) = output(options.stderr)?;
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
    };
    Ok((decoded, [stdout_target, stderr_target]))
}

fn output(term: Term) -> rustler::NifResult<(Output, Option<StreamTarget>)> {
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
    Ok((Output::Stream(Stream::default()), Some(target)))
}

impl StreamTarget {
    /// Sends `chunk` as `{kind, tag, chunk}`, the tag being `default_tag` when none was
    /// given. A dead receiver is not an error: the output is dropped.
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
