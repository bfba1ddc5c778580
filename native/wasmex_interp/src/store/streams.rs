//! A WASI guest's streamed standard output and error, sent to their processes as
//! `{:wasi_stdout | :wasi_stderr, tag, chunk}` whenever the store is checked back in.

use super::{ExStoreOrCaller, StoreResource};
use crate::{atoms, wasi::StreamTarget};
use rustler::{Encoder, Env, ResourceArc};
use wasmex_core::store::Store;

impl StoreResource {
    /// Sends what the guest wrote to streamed stdout and stderr since the last time.
    pub(super) fn deliver_streams(
        this: &ResourceArc<Self>,
        env: Env,
        streams: &[Option<StreamTarget>; 2],
        store: &Store,
    ) {
        if streams.iter().all(Option::is_none) {
            return;
        }
        // The store itself is the tag when the user gave none.
        let default_tag = ExStoreOrCaller {
            resource: this.clone(),
        }
        .encode(env);
        let kinds = [atoms::wasi_stdout(), atoms::wasi_stderr()];
        for ((chunk, target), kind) in store.take_streams().iter().zip(streams).zip(kinds) {
            if let (Some(chunk), Some(target)) = (chunk, target) {
                target.send(env, kind, default_tag, chunk);
            }
        }
    }
}
