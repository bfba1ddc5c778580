//! How NIFs answer: a result, an error, or one of the two replies that `Wasmex.Native`
//! acts on instead of returning them.

use crate::atoms;
use rustler::{Binary, Encoder, Env, NewBinary, Term};
use wasmex_core::Error;

/// Why a NIF did not do what it was asked.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// It failed: `{:error, message}`.
    Error(Error),
    /// Another process holds the store: `{:busy, store_id}`. The caller was queued; it waits
    /// for the store to be handed to it and asks again (see `crate::store::owner`).
    Busy(u64),
    /// The work is too big for a normal scheduler: `:dirty`. The caller runs the NIF's
    /// dirty twin instead (see `crate::schedule`).
    Dirty,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal::Error(error)
    }
}

/// What a NIF that uses a store, or has a dirty twin, comes to.
pub(crate) type Answer<T> = Result<T, Refusal>;

impl Encoder for Refusal {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            Refusal::Error(error) => (atoms::error(), error).encode(env),
            Refusal::Busy(id) => (atoms::busy(), id).encode(env),
            Refusal::Dirty => atoms::dirty().encode(env),
        }
    }
}

/// `{:ok, value}`, or the refusal.
pub(crate) fn ok<'a, T: Encoder>(env: Env<'a>, answer: Answer<T>) -> Term<'a> {
    match answer {
        Ok(value) => (atoms::ok(), value).encode(env),
        Err(refusal) => refusal.encode(env),
    }
}

/// `:ok` (rustler would encode `Ok(())` as `{:ok, {}}`), or the refusal.
pub(crate) fn done(env: Env<'_>, answer: Answer<()>) -> Term<'_> {
    match answer {
        Ok(()) => atoms::ok().encode(env),
        Err(refusal) => refusal.encode(env),
    }
}

/// A new Elixir binary holding a copy of `bytes`.
pub(crate) fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Binary<'a> {
    NewBinary::from_slice(env, bytes).into()
}
