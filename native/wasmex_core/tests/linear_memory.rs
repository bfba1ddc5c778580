//! Linear memories behave the same whatever backs them (anonymous mappings where the
//! patched wasmi_core has them, the heap elsewhere): fresh and grown bytes read as zero,
//! written bytes stay, limits and maximum sizes hold exactly, and growth fails cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{instantiate, ints, no_imports, run};
use wasmex_core::{
    engine::{EngineOptions, Features},
    instance::{self, Link},
    memory,
    module::Module,
    store::{Limits, Store},
    value::Input,
};

const PAGE: u64 = 65_536;

/// `load(addr)`, `store(addr, byte)`, `grow(delta)` (memory.grow), `size()` in pages.
fn guest(memory: &str) -> String {
    format!(
        r#"(module
          {memory}
          (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
          (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "size") (result i32) (memory.size)))"#
    )
}

fn call(store: &mut Store, instance: wasmi::Instance, name: &str, args: &[i64]) -> Vec<i32> {
    let args: Vec<Input> = args.iter().map(|n| Input::Int((*n).into())).collect();
    let ran = run(store, instance, name, &args, &mut no_imports, 1_000).unwrap();
    ints(&ran.results)
}

/// A 64-bit linear congruential generator: the same operations on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn grown_bytes_read_zero_and_written_bytes_stay() {
    let engine = EngineOptions::default().engine();
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(
        &mut store,
        &engine,
        &guest(r#"(memory (export "memory") 1 64)"#),
        &[],
    );
    let mem = instance::memory(&store, instance, Some("memory")).unwrap();
    let mut model = vec![0_u8; PAGE as usize];
    let mut rng = Rng(42);
    for step in 0..300 {
        match rng.below(6) {
            // Grow by 0 to 3 pages, by the guest or by the host; at the maximum, refused.
            0 | 1 => {
                let delta = rng.below(4);
                let pages = model.len() as u64 / PAGE;
                let grown = if rng.below(2) == 0 {
                    i64::from(call(&mut store, instance, "grow", &[delta as i64])[0])
                } else {
                    memory::grow(&mut store, mem, delta).map_or(-1, |old| old as i64)
                };
                if pages + delta <= 64 {
                    assert_eq!(grown, pages as i64, "step {step}");
                    model.resize(((pages + delta) * PAGE) as usize, 0);
                } else {
                    assert_eq!(grown, -1, "step {step}");
                }
            }
            // Write a run of bytes from the host, or one byte from the guest.
            2 | 3 => {
                let len = rng.below(3 * PAGE).min(model.len() as u64);
                let offset = rng.below(model.len() as u64 - len + 1);
                let byte = rng.below(255) as u8 + 1;
                if len > 0 && rng.below(2) == 0 {
                    memory::write(&mut store, mem, offset, &vec![byte; len as usize]).unwrap();
                    model[offset as usize..(offset + len) as usize].fill(byte);
                } else {
                    call(
                        &mut store,
                        instance,
                        "store",
                        &[offset as i64, i64::from(byte)],
                    );
                    model[offset as usize] = byte;
                }
            }
            // Read bytes back through the guest.
            _ => {
                for _ in 0..16 {
                    let addr = rng.below(model.len() as u64);
                    let byte = call(&mut store, instance, "load", &[addr as i64])[0];
                    assert_eq!(byte, i32::from(model[addr as usize]), "step {step}");
                }
            }
        }
        assert_eq!(memory::size(&store, mem), model.len() as u64);
    }
    assert_eq!(
        memory::read(&store, mem, 0, model.len() as u64).unwrap(),
        &model[..]
    );
}

#[test]
fn store_limits_and_maximum_sizes_hold_exactly() {
    let engine = EngineOptions::default().engine();
    // The store allows 10 pages.
    let limits = Limits {
        memory_size: Some(10 * PAGE as usize),
        ..Limits::default()
    };
    let mut store = Store::new(&engine, None, &limits);
    let instance = instantiate(&mut store, &engine, &guest("(memory 1)"), &[]);
    assert_eq!(call(&mut store, instance, "grow", &[9]), [1]);
    assert_eq!(call(&mut store, instance, "grow", &[1]), [-1]);
    assert_eq!(call(&mut store, instance, "size", &[]), [10]);
    assert_eq!(
        call(&mut store, instance, "load", &[10 * PAGE as i64 - 1]),
        [0]
    );
    // A declared minimum over the limit does not instantiate.
    let module = Module::compile(&engine, guest("(memory 11)").as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &limits);
    assert!(instance::instantiate(&mut store, &module, &[], &[]).is_err());

    // The memory's own maximum: 5 pages.
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(&mut store, &engine, &guest("(memory 2 5)"), &[]);
    assert_eq!(call(&mut store, instance, "grow", &[4]), [-1]);
    assert_eq!(call(&mut store, instance, "grow", &[3]), [2]);
    assert_eq!(call(&mut store, instance, "grow", &[1]), [-1]);
    assert_eq!(call(&mut store, instance, "grow", &[0]), [5]);
}

#[test]
fn memories_of_zero_pages_grow() {
    let engine = EngineOptions::default().engine();
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(&mut store, &engine, &guest("(memory 0)"), &[]);
    assert_eq!(call(&mut store, instance, "size", &[]), [0]);
    assert_eq!(call(&mut store, instance, "grow", &[0]), [0]);
    assert_eq!(call(&mut store, instance, "grow", &[2]), [0]);
    call(&mut store, instance, "store", &[2 * PAGE as i64 - 1, 200]);
    assert_eq!(
        call(&mut store, instance, "load", &[2 * PAGE as i64 - 1]),
        [200]
    );
    assert_eq!(call(&mut store, instance, "load", &[0]), [0]);
}

#[test]
fn byte_sized_pages_grow_byte_by_byte() {
    let engine = EngineOptions {
        features: Features {
            custom_page_sizes: true,
            ..Features::default()
        },
        ..EngineOptions::default()
    }
    .engine();
    let mut store = Store::new(&engine, None, &Limits::default());
    let wat = r#"(module
      (memory 3 20000 (pagesize 1))
      ;; Grows the memory one byte at a time to `n` bytes, writing each new last byte.
      (func (export "fill") (param $n i32) (result i32)
        (local $sum i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (memory.size) (local.get $n)))
            (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.sub (memory.size) (i32.const 1)))))
            (drop (memory.grow (i32.const 1)))
            (i32.store8 (i32.sub (memory.size) (i32.const 1)) (memory.size))
            (br $l)))
        (local.get $sum))
      (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    let instance = instantiate(&mut store, &engine, wat, &[]);
    // Each new byte read as zero before it was written: the sum is of the written bytes
    // 4..=n-1 only (and the first three, zero).
    let n: i64 = 10_000;
    let expected: i64 = (4..n).map(|size| size % 256).sum();
    assert_eq!(call(&mut store, instance, "fill", &[n]), [expected as i32]);
    for addr in [0, 2, 3, 4_095, 4_096, 9_999] {
        let expected = if addr < 3 { 0 } else { (addr + 1) % 256 };
        assert_eq!(
            call(&mut store, instance, "load", &[addr]),
            [expected as i32]
        );
    }
    assert!(run(
        &mut store,
        instance,
        "load",
        &[Input::Int(n.into())],
        &mut no_imports,
        10
    )
    .is_err());
}

#[test]
fn a_memory_shared_by_two_instances_grows_for_both() {
    let engine = EngineOptions::default().engine();
    let lib =
        Module::compile(&engine, guest(r#"(memory (export "memory") 1)"#).as_bytes()).unwrap();
    // `main` imports the memory and `load` of `lib`, and exports `lib_load`, which calls it.
    let main = guest(
        r#"(import "lib" "memory" (memory 1))
           (import "lib" "load" (func $lib_load (param i32) (result i32)))
           (export "lib_load" (func $lib_load))"#,
    );
    let main = Module::compile(&engine, main.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let lib_module = lib;
    let lib = instance::instantiate(&mut store, &lib_module, &[], &[]).unwrap();
    assert!(lib.start.is_none());
    let links = [Link {
        name: "lib".into(),
        instance: lib.instance,
        module: lib_module,
    }];
    let instance = instance::instantiate(&mut store, &main, &[], &links)
        .unwrap()
        .instance;
    assert_eq!(call(&mut store, instance, "grow", &[3]), [1]);
    call(&mut store, instance, "store", &[4 * PAGE as i64 - 1, 77]);
    assert_eq!(
        call(&mut store, instance, "lib_load", &[4 * PAGE as i64 - 1]),
        [77]
    );
    assert_eq!(
        call(&mut store, instance, "lib_load", &[4 * PAGE as i64 - 2]),
        [0]
    );
}

#[test]
fn huge_growth_fails_cleanly_or_works() {
    let engine = EngineOptions {
        features: Features {
            memory64: true,
            ..Features::default()
        },
        ..EngineOptions::default()
    }
    .engine();
    // 2^40 pages (64 PiB) is more than any machine maps: memory.grow returns -1.
    let mut store = Store::new(&engine, None, &Limits::default());
    let wat = r#"(module (memory i64 1)
      (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
      (func (export "load") (param i64) (result i32) (i32.load8_u (local.get 0))))"#;
    let instance = instantiate(&mut store, &engine, wat, &[]);
    let grow = |store: &mut Store, pages: i64| {
        let ran = run(
            store,
            instance,
            "grow",
            &[Input::Int(pages.into())],
            &mut no_imports,
            10,
        );
        ran.unwrap().results[0].i64().unwrap()
    };
    assert_eq!(grow(&mut store, 1 << 40), -1);
    assert_eq!(grow(&mut store, 0), 1);

    // 4 GiB in one step: refused on a 32-bit host, lazily mapped on a 64-bit one.
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instantiate(&mut store, &engine, &guest("(memory 1)"), &[]);
    match call(&mut store, instance, "grow", &[65_535])[0] {
        -1 => assert_eq!(call(&mut store, instance, "size", &[]), [1]),
        old => {
            assert_eq!(old, 1);
            // The last byte, 2^32 - 1, is the i32 -1.
            assert_eq!(call(&mut store, instance, "load", &[-1]), [0]);
        }
    }
}

#[test]
fn many_instances_keep_their_own_memory() {
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, guest("(memory 1)").as_bytes()).unwrap();
    let mut guests: Vec<(Store, wasmi::Instance)> = (0..500)
        .map(|_| {
            let mut store = Store::new(&engine, None, &Limits::default());
            let instance = instance::instantiate(&mut store, &module, &[], &[])
                .unwrap()
                .instance;
            (store, instance)
        })
        .collect();
    for (i, (store, instance)) in guests.iter_mut().enumerate() {
        call(
            store,
            *instance,
            "store",
            &[(i as i64 * 131) % PAGE as i64, (i % 255) as i64 + 1],
        );
    }
    for (i, (store, instance)) in guests.iter_mut().enumerate() {
        let addr = (i as i64 * 131) % PAGE as i64;
        assert_eq!(
            call(store, *instance, "load", &[addr]),
            [(i % 255) as i32 + 1]
        );
        assert_eq!(
            call(store, *instance, "load", &[(addr + 1) % PAGE as i64]),
            [0]
        );
    }
}
