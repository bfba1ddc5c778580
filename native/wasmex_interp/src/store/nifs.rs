//! The store NIFs: creating stores, fuel, and the store-wait protocol's own calls.

use super::{limits::ExStoreLimits, ExStoreOrCaller, StoreResource};
use crate::{engine::EngineResource, reply, wasi};
use rustler::{Env, NifResult, ResourceArc, Term};
use wasmex_core::{
    store::{Limits, Store},
    Error,
};

/// The fuel a new store gives the user: the map form's `%{fuel: n}`, else 0 when the
/// engine meters fuel (Wasmex), else no metering.
fn user_fuel(engine: &EngineResource, fuel: Option<u64>) -> Option<u64> {
    fuel.or(engine.engine.options().consume_fuel.then_some(0))
}

#[rustler::nif(name = "store_new")]
fn new(
    limits: Option<ExStoreLimits>,
    engine: Option<ResourceArc<EngineResource>>,
    fuel: Option<u64>,
) -> ExStoreOrCaller {
    let limits = limits.map(Limits::from).unwrap_or_default();
    let engine = engine.unwrap_or_else(|| EngineResource::new(&Default::default()));
    let store = Store::new(&engine.engine, user_fuel(&engine, fuel), &limits);
    ExStoreOrCaller {
        resource: ResourceArc::new(StoreResource::new(
            engine.engine.clone(),
            store,
            [None, None],
        )),
    }
}

#[rustler::nif(name = "store_new_wasi")]
fn new_wasi(
    options: wasi::ExWasiOptions,
    limits: Option<ExStoreLimits>,
    engine: Option<ResourceArc<EngineResource>>,
    fuel: Option<u64>,
) -> NifResult<Result<ExStoreOrCaller, Error>> {
    let (options, streams) = wasi::options(options)?;
    let limits = limits.map(Limits::from).unwrap_or_default();
    let engine = engine.unwrap_or_else(|| EngineResource::new(&Default::default()));
    let store = match Store::new_wasi(&engine.engine, user_fuel(&engine, fuel), &limits, &options) {
        Ok(store) => store,
        Err(error) => return Ok(Err(error)),
    };
    let resource = StoreResource::new(engine.engine.clone(), store, streams);
    Ok(Ok(ExStoreOrCaller {
        resource: ResourceArc::new(resource),
    }))
}

#[rustler::nif(name = "store_or_caller_get_fuel_nif")]
fn get_fuel(env: Env, store: ResourceArc<StoreResource>) -> Term {
    reply::ok(env, StoreResource::with(&store, env, |store| store.fuel()))
}

#[rustler::nif(name = "store_or_caller_set_fuel_nif")]
fn set_fuel(env: Env, store: ResourceArc<StoreResource>, fuel: u64) -> Term {
    reply::done(
        env,
        StoreResource::with(&store, env, |store| store.set_fuel(fuel)),
    )
}

/// Takes the calling process off the store's queue (see `super::owner`).
#[rustler::nif(name = "store_unwait")]
fn unwait(env: Env, store: ResourceArc<StoreResource>) -> Term {
    reply::done(env, StoreResource::unwait(&store, env).map_err(Into::into))
}

/// Whether the calling process owns the store (it is inside a call on it).
#[rustler::nif(name = "store_owned")]
fn owned(env: Env, store: ResourceArc<StoreResource>) -> bool {
    store.owned_by(env.pid()).unwrap_or(false)
}
