//! `Wasmex.Memory`: size, grow, bytes in and out of a linear memory.

use crate::{instance::InstanceResource, reply, reply::Done, store::StoreResource};
use rustler::{Binary, Env, NifResult, NifStruct, ResourceArc};
use wasmex_core::{instance, memory, Error};

/// A linear memory, tied to the store it lives in.
pub(crate) struct MemoryResource {
    store_id: u64,
    memory: wasmi::Memory,
}

// rustler returns NIF results through `catch_unwind`. A panic cannot leave this resource
// broken in a way Elixir could observe: see `crate::store` for the one mutable part.
impl std::panic::RefUnwindSafe for MemoryResource {}

#[rustler::resource_impl]
impl rustler::Resource for MemoryResource {}

/// `%Wasmex.Memory{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Memory"]
pub(crate) struct ExMemory {
    resource: ResourceArc<MemoryResource>,
}

impl ExMemory {
    /// Wraps `memory` of the store `store_id`.
    pub(crate) fn new(store_id: u64, memory: wasmi::Memory) -> Self {
        Self {
            resource: ResourceArc::new(MemoryResource { store_id, memory }),
        }
    }
}

/// Runs a short operation on `memory` under the store lock, after checking that the
/// memory belongs to `store`.
fn with_memory<R>(
    env: Env,
    store: &StoreResource,
    memory: &MemoryResource,
    f: impl FnOnce(&mut wasmex_core::store::Store, wasmi::Memory) -> Result<R, Error>,
) -> Result<R, Error> {
    store.check(memory.store_id, "memory")?;
    store.with(env, |store| f(store, memory.memory))
}

/// Runs a long operation on `memory` (from a dirty NIF) with the store checked out.
fn with_memory_checked_out<R>(
    env: Env,
    store: &ResourceArc<StoreResource>,
    memory: &MemoryResource,
    f: impl FnOnce(&mut wasmex_core::store::Store, wasmi::Memory) -> Result<R, Error>,
) -> Result<R, Error> {
    store.check(memory.store_id, "memory")?;
    StoreResource::with_checked_out(store, env, |store| f(store, memory.memory))
}

#[rustler::nif(name = "memory_from_instance")]
fn from_instance(
    env: Env,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: Option<&str>,
) -> Result<ExMemory, Error> {
    store.check(instance.store_id, "instance")?;
    let memory = store.with(env, |store| {
        instance::memory(store, instance.instance, name)
    })?;
    Ok(ExMemory::new(store.id, memory))
}

#[rustler::nif(name = "memory_size")]
fn size(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
) -> Result<u64, Error> {
    with_memory(env, &store, &memory, |store, memory| {
        Ok(memory::size(store, memory))
    })
}

// Growing can take tens of milliseconds (the new pages are zeroed). Returns the previous
// size in pages, which `Wasmex.Memory.grow/3` returns in Wasmex compatibility mode.
#[rustler::nif(name = "memory_grow", schedule = "DirtyCpu")]
fn grow(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    pages: u64,
) -> Result<u64, Error> {
    with_memory_checked_out(env, &store, &memory, |store, memory| {
        memory::grow(store, memory, pages)
    })
}

// Reads and writes come in two schedules: the Elixir side sends copies of more than a few
// megabytes (about a millisecond of memcpy) to the dirty variant.

#[rustler::nif(name = "memory_read_binary")]
fn read_binary<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    len: u64,
) -> Result<Binary<'a>, Error> {
    with_memory(env, &store, &memory, |store, memory| {
        Ok(reply::binary(
            env,
            memory::read(store, memory, offset, len)?,
        ))
    })
}

#[rustler::nif(name = "memory_read_binary_dirty", schedule = "DirtyCpu")]
fn read_binary_dirty<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    len: u64,
) -> Result<Binary<'a>, Error> {
    with_memory_checked_out(env, &store, &memory, |store, memory| {
        Ok(reply::binary(
            env,
            memory::read(store, memory, offset, len)?,
        ))
    })
}

#[rustler::nif(name = "memory_write_binary")]
fn write_binary(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    bytes: Binary,
) -> Done {
    Done(with_memory(env, &store, &memory, |store, memory| {
        memory::write(store, memory, offset, bytes.as_slice())
    }))
}

#[rustler::nif(name = "memory_write_binary_dirty", schedule = "DirtyCpu")]
fn write_binary_dirty(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    bytes: Binary,
) -> Done {
    Done(with_memory_checked_out(
        env,
        &store,
        &memory,
        |store, memory| memory::write(store, memory, offset, bytes.as_slice()),
    ))
}
#[rustler::nif(name = "memory_get_byte")]
fn get_byte(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    index: u64,
) -> Result<u8, Error> {
    with_memory(env, &store, &memory, |store, memory| {
        Ok(memory::read(store, memory, index, 1)?[0])
    })
}

#[rustler::nif(name = "memory_set_byte")]
fn set_byte(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    index: u64,
    value: u32,
) -> NifResult<Done> {
    // rustler's `u8` decoding truncates (256 becomes 0): check the range here.
    let value = u8::try_from(value).map_err(|_| rustler::Error::BadArg)?;
    Ok(Done(with_memory(env, &store, &memory, |store, memory| {
        memory::write(store, memory, index, &[value])
    })))
}
