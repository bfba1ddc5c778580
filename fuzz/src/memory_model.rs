//! A focused fuzz target for linear memories (`--target memory`): arbitrary sequences of
//! growth, stores, loads, `memory.fill` and `memory.copy` by a guest, and writes and reads
//! by the host, on memories of arbitrary sizes, maximums, store limits and page sizes
//! (64 KiB or 1 byte), each checked against a plain `Vec<u8>` model. It exercises the
//! patched wasmi_core's mapped byte buffer (`vendor/patches/0005-*`): every byte must
//! read as the model says, grown bytes as zero, and every refusal must be the model's.
//! A disagreement is a finding: this module panics on purpose.

#![allow(clippy::expect_used)]

use crate::Reached;
use arbitrary::{Result, Unstructured};
use wasmex_core::{
    call::{Step, Suspended},
    engine::{EngineOptions, Features},
    instance, memory,
    module::Module,
    store::{Limits, Store},
    value::Input,
};
use wasmi::Val;

/// The largest memory a case may reach, in bytes: growth past it is refused by the store.
const LIMIT: u64 = 16 << 20;

/// Runs one memory case from `data`; panics when the memory and the model disagree.
#[must_use]
pub fn run_memory_case(data: &[u8]) -> Reached {
    let mut reached = Reached::default();
    let _ = memory_session(&mut Unstructured::new(data), &mut reached);
    reached
}

/// The guest: `grow`, `store8`, `load8`, `fill`, `copy` on its memory.
fn guest(min: u64, max: Option<u64>, byte_pages: bool) -> String {
    let max = max.map_or(String::new(), |max| max.to_string());
    let page_size = if byte_pages { "(pagesize 1)" } else { "" };
    format!(
        r#"(module
          (memory (export "memory") {min} {max} {page_size})
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
          (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
          (func (export "fill") (param i32 i32 i32)
            (memory.fill (local.get 0) (local.get 1) (local.get 2)))
          (func (export "copy") (param i32 i32 i32)
            (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#
    )
}

/// Calls `name` to its end with `args` as i32 bit patterns; `None` when it trapped.
fn call(store: &mut Store, instance: wasmi::Instance, name: &str, args: &[u32]) -> Option<i32> {
    let func = instance::func(store, instance, name).ok()?;
    let inputs: Vec<Input> = args
        .iter()
        .map(|n| Input::Int((*n as i32).into()))
        .collect();
    let mut step = store.call(func, inputs.into_iter()).ok()?;
    loop {
        step = match step {
            Step::Done(results) => return Some(results.first().and_then(Val::i32).unwrap_or(0)),
            Step::Suspended(Suspended::Yield(call)) => call.resume(store).ok()?,
            Step::Suspended(Suspended::Heavy(call)) => call.resume(store).ok()?,
            Step::Suspended(Suspended::Host(_) | Suspended::Sleep(_)) => return None,
        };
    }
}

/// An offset that is often near the end of a memory of `len` bytes, sometimes past it.
fn offset(u: &mut Unstructured, len: u64) -> Result<u32> {
    let offset = match u.int_in_range(0..=3)? {
        0 => u.arbitrary::<u32>()?,
        1 => u.int_in_range(0..=len as u32)?,
        _ => (len as u32).saturating_sub(u.int_in_range(0..=70_000)?),
    };
    Ok(offset)
}

fn memory_session(u: &mut Unstructured, reached: &mut Reached) -> Result<()> {
    let byte_pages = u.ratio(1, 4)?;
    let page: u64 = if byte_pages { 1 } else { 65_536 };
    let max_pages = LIMIT / page;
    let min = u.int_in_range(0..=if byte_pages { 200_000 } else { 4 })?;
    let max = if u.arbitrary()? {
        Some(u.int_in_range(min..=max_pages + 2)?)
    } else {
        None
    };
    let limit = u.int_in_range(min * page..=LIMIT)?;
    let engine = EngineOptions {
        features: Features {
            custom_page_sizes: byte_pages,
            ..Features::default()
        },
        ..EngineOptions::default()
    }
    .engine();
    let Ok(module) = Module::compile(&engine, guest(min, max, byte_pages).as_bytes()) else {
        panic!("the memory guest does not compile");
    };
    let limits = Limits {
        memory_size: Some(limit as usize),
        ..Limits::default()
    };
    let mut store = Store::new(&engine, None, &limits);
    let instance = instance::instantiate(&mut store, &module, &[], &[])
        .unwrap_or_else(|error| panic!("the memory guest does not instantiate: {error}"))
        .instance;
    let mem = instance::memory(&store, instance, Some("memory")).expect("exported memory");
    let mut model = vec![0_u8; (min * page) as usize];
    // The largest size growth may reach.
    let top = max.map_or(limit, |max| (max * page).min(limit));

    while !u.is_empty() {
        let len = model.len() as u64;
        reached.memory_operations += 1;
        match u.int_in_range(0..=7)? {
            0 | 1 => {
                let delta = match u.int_in_range(0..=3)? {
                    0 => u.arbitrary::<u32>()?,
                    _ => u.int_in_range(0..=(top / page + 1) as u32)?,
                };
                let by_guest = u.arbitrary()?;
                let result = if by_guest {
                    call(&mut store, instance, "grow", &[delta]).expect("memory.grow traps")
                } else {
                    memory::grow(&mut store, mem, u64::from(delta)).map_or(-1, |old| old as i32)
                };
                let wanted = len + u64::from(delta) * page;
                if wanted <= top {
                    assert_eq!(
                        i64::from(result),
                        (len / page) as i64,
                        "growth by {delta} refused"
                    );
                    model.resize(wanted as usize, 0);
                    reached.memory_growths += 1;
                } else {
                    assert_eq!(result, -1, "growth by {delta} past {top} bytes allowed");
                }
            }
            2 => {
                let addr = offset(u, len)?;
                let byte: u8 = u.arbitrary()?;
                let stored = call(&mut store, instance, "store8", &[addr, byte.into()]);
                assert_eq!(stored.is_some(), u64::from(addr) < len, "store8 at {addr}");
                if stored.is_some() {
                    model[addr as usize] = byte;
                }
            }
            3 => {
                let addr = offset(u, len)?;
                let loaded = call(&mut store, instance, "load8", &[addr]);
                let expected = model.get(addr as usize).map(|byte| i32::from(*byte));
                assert_eq!(loaded, expected, "load8 at {addr}");
            }
            4 => {
                let (dst, n) = (offset(u, len)?, u.int_in_range(0..=200_000)?);
                let byte: u8 = u.arbitrary()?;
                let filled = call(&mut store, instance, "fill", &[dst, byte.into(), n]);
                let fits = u64::from(dst) + u64::from(n) <= len;
                assert_eq!(filled.is_some(), fits, "fill {n} at {dst}");
                if fits {
                    model[dst as usize..(dst + n) as usize].fill(byte);
                }
            }
            5 => {
                let (dst, src, n) = (
                    offset(u, len)?,
                    offset(u, len)?,
                    u.int_in_range(0..=200_000)?,
                );
                let copied = call(&mut store, instance, "copy", &[dst, src, n]);
                let fits = u64::from(dst.max(src)) + u64::from(n) <= len;
                assert_eq!(copied.is_some(), fits, "copy {n} from {src} to {dst}");
                if fits {
                    model.copy_within(src as usize..(src + n) as usize, dst as usize);
                }
            }
            6 => {
                let at = u64::from(offset(u, len)?);
                let bytes: Vec<u8> = (0..u.int_in_range(0..=5_000)?)
                    .map(|i| (i as u8).wrapping_mul(31) ^ 0x5a)
                    .collect();
                let written = memory::write(&mut store, mem, at, &bytes);
                let fits = at + bytes.len() as u64 <= len;
                assert_eq!(
                    written.is_ok(),
                    fits,
                    "host write of {} at {at}",
                    bytes.len()
                );
                if fits {
                    model[at as usize..at as usize + bytes.len()].copy_from_slice(&bytes);
                }
            }
            _ => {
                let at = u64::from(offset(u, len)?);
                let n = u.int_in_range(0..=70_000)?;
                match memory::read(&store, mem, at, n) {
                    Ok(bytes) => assert_eq!(bytes, &model[at as usize..(at + n) as usize]),
                    Err(_) => assert!(at + n > len, "host read of {n} at {at} refused"),
                }
            }
        }
        assert_eq!(memory::size(&store, mem), model.len() as u64);
    }
    let all = memory::read(&store, mem, 0, model.len() as u64).expect("the whole memory");
    assert!(all == &model[..], "the memory differs from the model");
    Ok(())
}
