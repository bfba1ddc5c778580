//! A linear memory costs the pages its guest touches, not its size: declaring, growing
//! (by the guest or by the host) and instantiating big memories leaves the process's
//! resident memory almost unchanged until the pages are written.
//!
//! One test in its own binary: it reads the process's resident set size, which other tests
//! running in parallel threads would change.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{instantiate, ints, no_imports, run};
use wasmex_core::{
    engine::EngineOptions,
    instance, memory,
    store::{Limits, Store},
    value::Input,
};

const MIB: u64 = 1 << 20;

/// The resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// `touch(addr)` writes a byte at `addr` and reads it back; `grow(pages)` is memory.grow.
const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "touch") (param $addr i32) (result i32)
    (i32.store8 (local.get $addr) (i32.const 7))
    (i32.load8_u (local.get $addr)))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages))))"#;

#[test]
fn memory_costs_the_pages_the_guest_touches() {
    let engine = EngineOptions::default().engine();
    let before = rss();
    let mut stores = Vec::new();

    // A module declaring a 256 MiB memory.
    let mut store = Store::new(&engine, None, &Limits::default());
    let declared = GUEST.replace(
        "(memory (export \"memory\") 1)",
        "(memory (export \"memory\") 4096)",
    );
    let instance = instantiate(&mut store, &engine, &declared, &[]);
    let touch = |store: &mut Store, addr: u32| {
        let ran = run(
            store,
            instance,
            "touch",
            &[Input::Int(addr.into())],
            &mut no_imports,
            100,
        );
        ints(&ran.unwrap().results)
    };
    assert_eq!(touch(&mut store, (256 << 20) - 1), [7]);
    stores.push(store);

    // A guest growing its 1-page memory by 256 MiB.
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(&mut store, &engine, GUEST, &[]);
    let grown = run(
        &mut store,
        instance,
        "grow",
        &[Input::Int(4096)],
        &mut no_imports,
        100,
    );
    assert_eq!(ints(&grown.unwrap().results), [1]);
    let ran = run(
        &mut store,
        instance,
        "touch",
        &[Input::Int(4097 * 65536 - 1)],
        &mut no_imports,
        100,
    );
    assert_eq!(ints(&ran.unwrap().results), [7]);
    stores.push(store);

    // The host growing a memory by 256 MiB.
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(&mut store, &engine, GUEST, &[]);
    let exported = instance::memory(&store, instance, Some("memory")).unwrap();
    assert_eq!(memory::grow(&mut store, exported, 4096).unwrap(), 1);
    memory::write(&mut store, exported, 4097 * 65536 - 1, &[9]).unwrap();
    assert_eq!(
        memory::read(&store, exported, 4097 * 65536 - 1, 1).unwrap(),
        [9]
    );
    stores.push(store);

    // 769 MiB of linear memory exist, a few pages of it touched.
    let grew = rss().saturating_sub(before);
    assert!(
        grew < 32 * MIB,
        "resident memory grew by {} MiB",
        grew / MIB
    );
    drop(stores);
}
