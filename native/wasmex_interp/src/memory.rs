//! `Wasmex.Memory`: size, grow, bytes in and out of a linear memory.

use crate::{
    instance::InstanceResource,
    reply::{self, Answer},
    schedule::{twin, Schedule},
    store::StoreResource,
};
use rustler::{Binary, Env, NifResult, NifStruct, ResourceArc, Term};
use wasmex_core::{instance, memory, store::Store, Error};

/// A linear memory, tied to the store it lives in.
pub(crate) struct MemoryResource {
    store_id: u64,
    memory: wasmi::Memory,
}

resource!(MemoryResource);

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
    store: &ResourceArc<StoreResource>,
    memory: &MemoryResource,
    f: impl FnOnce(&mut Store, wasmi::Memory) -> Result<R, Error>,
) -> Answer<R> {
    StoreResource::with_handle(store, env, (memory.store_id, "memory"), |store| {
        f(store, memory.memory)
    })
}

/// Runs `copy`, which copies `bytes` in or out of `memory`, with the store checked out (so
/// that the lock is free meanwhile) after checking that the memory belongs to `store`; see
/// [`Schedule::copy`].
fn copy_memory<R>(
    schedule: Schedule,
    env: Env,
    store: &ResourceArc<StoreResource>,
    memory: &MemoryResource,
    bytes: u64,
    copy: impl FnOnce(&mut Store, wasmi::Memory) -> Result<R, Error>,
) -> Answer<R> {
    schedule.copy(env, bytes, || {
        store.check(memory.store_id, "memory")?;
        StoreResource::with_checked_out(store, env, |store| copy(store, memory.memory))
    })
}

#[rustler::nif(name = "memory_from_instance_nif")]
fn from_instance<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: Option<&str>,
) -> Term<'a> {
    let handle = (instance.store_id, "instance");
    let answer = StoreResource::with_handle(&store, env, handle, |store| {
        instance::memory(store, instance.instance, name)
    });
    reply::ok(env, answer.map(|memory| ExMemory::new(store.id, memory)))
}

#[rustler::nif(name = "memory_size_nif")]
fn size(env: Env, store: ResourceArc<StoreResource>, memory: ResourceArc<MemoryResource>) -> Term {
    let answer = with_memory(env, &store, &memory, |store, memory| {
        Ok(memory::size(store, memory))
    });
    reply::ok(env, answer)
}

twin!(grow(store, memory, pages) => "memory_grow_nif", "memory_grow_dirty_nif",
    (store: ResourceArc<StoreResource>, memory: ResourceArc<MemoryResource>,
     pages: u64) -> Term<'a>);

/// Growing writes zeros to the new pages. (Moving the memory is left to the allocator: a
/// large allocation is remapped, not copied.) Answers the previous size in pages, which
/// `Wasmex.Memory.grow/3` returns in Wasmex compatibility mode.
fn grow(
    schedule: Schedule,
    env: Env<'_>,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    pages: u64,
) -> Term<'_> {
    let bytes = pages.saturating_mul(65_536);
    let answer = copy_memory(schedule, env, &store, &memory, bytes, |store, memory| {
        memory::grow(store, memory, pages)
    });
    reply::ok(env, answer)
}

twin!(read_binary(store, memory, offset, len) => "memory_read_binary_nif", "memory_read_binary_dirty_nif",
    (store: ResourceArc<StoreResource>, memory: ResourceArc<MemoryResource>,
     offset: u64, len: u64) -> Term<'a>);

fn read_binary(
    schedule: Schedule,
    env: Env<'_>,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    len: u64,
) -> Term<'_> {
    let answer = copy_memory(schedule, env, &store, &memory, len, |store, memory| {
        Ok(reply::binary(
            env,
            memory::read(store, memory, offset, len)?,
        ))
    });
    reply::ok(env, answer)
}

twin!(write_binary(store, memory, offset, bytes) => "memory_write_binary_nif", "memory_write_binary_dirty_nif",
    (store: ResourceArc<StoreResource>, memory: ResourceArc<MemoryResource>,
     offset: u64, bytes: Binary<'a>) -> Term<'a>);

fn write_binary<'a>(
    schedule: Schedule,
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    offset: u64,
    bytes: Binary<'a>,
) -> Term<'a> {
    let len = bytes.len() as u64;
    let answer = copy_memory(schedule, env, &store, &memory, len, |store, memory| {
        memory::write(store, memory, offset, bytes.as_slice())
    });
    reply::done(env, answer)
}

#[rustler::nif(name = "memory_get_byte_nif")]
fn get_byte(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    index: u64,
) -> Term {
    let answer = with_memory(env, &store, &memory, |store, memory| {
        Ok(memory::read(store, memory, index, 1)?[0])
    });
    reply::ok(env, answer)
}

#[rustler::nif(name = "memory_set_byte_nif")]
fn set_byte(
    env: Env,
    store: ResourceArc<StoreResource>,
    memory: ResourceArc<MemoryResource>,
    index: u64,
    value: u32,
) -> NifResult<Term> {
    // rustler's `u8` decoding truncates (256 becomes 0): check the range here.
    let value = u8::try_from(value).map_err(|_| rustler::Error::BadArg)?;
    let answer = with_memory(env, &store, &memory, |store, memory| {
        memory::write(store, memory, index, &[value])
    });
    Ok(reply::done(env, answer))
}
