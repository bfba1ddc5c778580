//! `Wasmex.Wat`: WAT text to a Wasm binary.

use crate::reply;
use rustler::{Binary, Env};
use wasmex_core::{module, Error};

#[rustler::nif(name = "wat_to_wasm", schedule = "DirtyCpu")]
fn to_wasm<'a>(env: Env<'a>, text: &str) -> Result<Binary<'a>, Error> {
    Ok(reply::binary(env, &module::wat_to_wasm(text)?))
}
