//! Reply shapes shared by several NIFs.

use crate::atoms;
use rustler::{Binary, Encoder, Env, NewBinary, Term};
use wasmex_core::Error;

/// The reply of an operation without a value: `:ok` or `{:error, message}` (rustler would
/// encode `Ok(())` as `{:ok, {}}`).
pub(crate) struct Done(pub(crate) Result<(), Error>);

impl Encoder for Done {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        match &self.0 {
            Ok(()) => atoms::ok().encode(env),
            Err(error) => (atoms::error(), error).encode(env),
        }
    }
}

/// A new Elixir binary holding a copy of `bytes`.
pub(crate) fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Binary<'a> {
    NewBinary::from_slice(env, bytes).into()
}
