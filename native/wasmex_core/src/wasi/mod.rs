//! WASI preview 1 for a store: wasi-common 36 (through wasmi_wasi), with the functions it
//! gets wrong for a sandbox on the BEAM replaced or wrapped.
//!
//! - `pipe`: in-memory standard input, output and error, every buffer bounded.
//! - `dir`: preopened directories; opening a file never waits (special files are
//!   refused), `O_APPEND | O_TRUNC` works, listings can be made deterministic.
//! - `fds`: the descriptor table as the host sees it: a per-store limit on open
//!   descriptors, which descriptors are stdio, the rights a guest dropped, `ENOTSOCK`.
//! - `io`: reads, writes and `random_get` in bounded pieces, charged in fuel per byte.
//! - `work`: WASI work too big for a time budget that cannot be cut (a large
//!   `random_get` or `fd_readdir`, `fd_sync`), handed to the host to run where it may
//!   run long.
//! - `poll`: `poll_oneoff` answered here, never blocking a thread: clock waits suspend
//!   the guest like an Elixir import, descriptors are always ready.
//! - `deterministic`: virtual clocks, seeded random bytes and stable file metadata for
//!   runs whose every output is the same each time.
//! - `fuel`: the fuel meter WASI calls charge.
//! - `guest`: guest memory access and calls into wasi-common.

mod deterministic;
mod dir;
mod fds;
pub(crate) mod fuel;
mod guest;
mod io;
mod pipe;
mod poll;
mod work;

pub use deterministic::{Deterministic, NANOS_PER_FUEL};
pub use fuel::FUEL_PER_BYTE;
pub use pipe::{Output, Pipe, Stream};
pub use poll::Sleep;

use crate::{store::Host, Error};
use deterministic::Replay;
use dir::Dir;
use fds::Fds;
use pipe::Stdio;
use std::path::PathBuf;
use wasmi::Linker;
use wasmi_wasi::{ambient_authority, WasiCtx, WasiCtxBuilder};

/// The WASI module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A host directory the guest may use, and the path the guest sees it under.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The directory on the host.
    pub path: PathBuf,
    /// The guest's path for it.
    pub guest: String,
}

/// The WASI configuration of a store (`Wasmex.Wasi.WasiOptions`).
#[derive(Debug, Clone)]
pub struct WasiOptions {
    /// Arguments, `argv[0]` included.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Directories the guest may reach; it reaches nothing else.
    pub preopens: Vec<Preopen>,
    /// Standard input; empty when `None`.
    pub stdin: Option<Pipe>,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
    /// The most descriptors the guest may have open at once, stdio and preopened
    /// directories included ([`WasiOptions::DEFAULT_FD_LIMIT`] by default).
    pub fd_limit: usize,
    /// A deterministic run: virtual clocks, seeded random bytes, stable file metadata.
    pub deterministic: Option<Deterministic>,
}

impl WasiOptions {
    /// Descriptors a guest may hold unless told otherwise: far more than programs use,
    /// few enough that a guest opening files in a loop cannot take the node's.
    pub const DEFAULT_FD_LIMIT: usize = 256;
}

impl Default for WasiOptions {
    fn default() -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            preopens: Vec::new(),
            stdin: None,
            stdout: Output::Discard,
            stderr: Output::Discard,
            fd_limit: Self::DEFAULT_FD_LIMIT,
            deterministic: None,
        }
    }
}

/// The WASI state of a store: wasi-common's context and what this layer keeps beside it.
pub(crate) struct WasiState {
    ctx: WasiCtx,
    fds: Fds,
    /// `Some` for a deterministic run.
    replay: Option<Replay>,
    /// What the store's directories share.
    dirs: dir::Shared,
}

impl WasiState {
    /// Builds the WASI state of `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Wasi`] when a preopened directory cannot be opened, or an argument or
    /// variable is too long for WASI.
    pub(crate) fn new(options: &WasiOptions) -> Result<Self, Error> {
        let replay = options
            .deterministic
            .as_ref()
            .map(Replay::new)
            .transpose()?;
        let mut builder = WasiCtxBuilder::new();
        builder
            .args(&options.args)
            .map_err(|error| Error::Wasi(format!("invalid argument: {error}")))?;
        builder
            .envs(&options.env)
            .map_err(|error| Error::Wasi(format!("invalid environment variable: {error}")))?;
        let stdio = [
            Stdio::Input(options.stdin.clone()),
            Stdio::Output(options.stdout.clone()),
            Stdio::Output(options.stderr.clone()),
        ];
        let [stdin, stdout, stderr] = stdio.clone();
        builder.stdin(Box::new(stdin));
        builder.stdout(Box::new(stdout));
        builder.stderr(Box::new(stderr));
        let ctx = builder.build();
        let dirs = dir::Shared::new(replay.as_ref().map(Replay::inodes));
        for preopen in &options.preopens {
            let dir = cap_std::fs::Dir::open_ambient_dir(&preopen.path, ambient_authority())
                .map_err(|error| {
                    Error::Wasi(format!(
                        "could not open the preopened directory `{}`: {error}",
                        preopen.path.display()
                    ))
                })?;
            ctx.push_preopened_dir(Box::new(Dir::new(dir, dirs.clone())), &preopen.guest)
                .map_err(|error| {
                    Error::Wasi(format!("could not preopen `{}`: {error}", preopen.guest))
                })?;
        }
        let fds = Fds::new(options.fd_limit, options.preopens.len(), stdio);
        Ok(Self {
            ctx,
            fds,
            replay,
            dirs,
        })
    }
}

/// Adds every WASI function to `linker`: wasi-common's, with those this module answers
/// itself or wraps defined over them.
///
/// # Errors
///
/// When the linker refuses a definition.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), Error> {
    let wasi = |error: wasmi::Error| Error::Wasi(error.to_string());
    wasmi_wasi::add_to_linker(linker, Host::wasi_ctx)
        .map_err(|error| Error::Wasi(error.to_string()))?;
    poll::add_to_linker(linker).map_err(wasi)?;
    fds::add_to_linker(linker).map_err(wasi)?;
    io::add_to_linker(linker).map_err(wasi)?;
    dir::add_to_linker(linker).map_err(wasi)?;
    deterministic::add_to_linker(linker).map_err(wasi)?;
    Ok(())
}

impl Host {
    /// The store's WASI context (an empty one if the store was made without WASI, which
    /// then has no WASI functions to call it).
    pub(crate) fn wasi_ctx(&mut self) -> &mut WasiCtx {
        &mut self.wasi_state().ctx
    }

    /// The store's WASI state (see [`Host::wasi_ctx`]).
    pub(crate) fn wasi_state(&mut self) -> &mut WasiState {
        self.wasi.get_or_insert_with(|| WasiState {
            ctx: WasiCtxBuilder::new().build(),
            fds: Fds::new(WasiOptions::DEFAULT_FD_LIMIT, 0, Stdio::none()),
            replay: None,
            dirs: dir::Shared::default(),
        })
    }
}
