//! No JIT: compiling, instantiating and running guests maps no executable memory.
//!
//! W^X-hardened Linux and iOS refuse writable-then-executable pages, so the interpreter
//! must never create one. This runs in a plain Rust test process (its own binary, one
//! test), not in the BEAM, whose own JIT maps code whenever an Erlang module loads.
//! The executable mappings of the process are read from `/proc/self/maps` before and
//! after running a set of guests, the 5 MB start-up module among them, in both
//! compilation modes, and growing linear memories; no mapping may be new, and none may
//! ever be writable and executable at once.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use wasmex_core::{
    call::{Step, Suspended},
    engine::{CompilationMode, EngineOptions},
    instance,
    module::Module,
    store::{Limits, Store},
    value::Input,
    wasi::{self, Output, WasiOptions},
};

/// The executable mappings: `start-end perms path`.
fn executable_mappings() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3).unwrap_or("[anonymous]");
            perms
                .contains('x')
                .then(|| format!("{range} {perms} {path}"))
        })
        .collect()
}

/// A call: export name and i32 arguments.
type Invoke = (&'static str, &'static [i32]);

fn guest(name: &str) -> Vec<u8> {
    let path = format!("{}/../../bench/guests/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn run(store: &mut Store, instance: wasmi::Instance, name: &str, args: &[i32]) {
    let func = instance::func(store, instance, name).unwrap();
    let inputs: Vec<Input> = args.iter().map(|n| Input::Int((*n).into())).collect();
    let mut step = store.call(func, inputs.into_iter()).unwrap();
    loop {
        step = match step {
            Step::Done(_) => return,
            Step::Suspended(Suspended::Yield(call)) => call.resume(store).unwrap(),
            Step::Suspended(Suspended::Heavy(call)) => call.resume(store).unwrap(),
            other => panic!("unexpected step {other:?}"),
        }
    }
}

/// Compiles, instantiates and runs every guest once with `mode`.
fn run_guests(mode: CompilationMode) {
    let engine = EngineOptions {
        compilation_mode: mode,
        ..EngineOptions::default()
    }
    .engine();
    let calls: &[(&str, &[Invoke])] = &[
        ("fib.wasm", &[("fib", &[20])]),
        (
            "sha256.wasm",
            &[("fill", &[1 << 20, 3]), ("sha256", &[1 << 20])],
        ),
        ("mix.wasm", &[("run", &[2])]),
        ("startup_100k.wasm", &[("entry", &[7])]),
        ("startup_big.wasm", &[]),
    ];
    for (file, invocations) in calls {
        let module = Module::compile(&engine, &guest(file)).unwrap();
        // Serialized and loaded back, as a module cache would.
        let module = Module::deserialize(&engine, &module.serialize()).unwrap();
        let mut store = Store::new(&engine, None, &Limits::default());
        let instance = instance::instantiate(&mut store, &module, &[], &[])
            .unwrap()
            .instance;
        for (name, args) in *invocations {
            run(&mut store, instance, name, args);
        }
    }

    // Linear memories, declared big and grown step by step by the guest and by the host:
    // their pages are mapped readable and writable, never executable.
    let grows = r#"(module
      (memory (export "memory") 4096)
      (func (export "grow") (param $pages i32)
        (if (i32.ne (memory.grow (local.get $pages)) (i32.const -1))
          (then (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
                            (i32.const 1))))))"#;
    let module = Module::compile(&engine, grows.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let instance = instance::instantiate(&mut store, &module, &[], &[])
        .unwrap()
        .instance;
    for pages in [1, 16, 256, 4096] {
        run(&mut store, instance, "grow", &[pages]);
    }
    let memory = instance::memory(&store, instance, Some("memory")).unwrap();
    wasmex_core::memory::grow(&mut store, memory, 1024).unwrap();

    // A WASI program: the host side of WASI (files, clocks, stdio) maps no code either.
    let wasm = std::fs::read(format!(
        "{}/../../test/fixtures/wasi/wasi_tool.wasm",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let module = Module::compile(&engine, &wasm).unwrap();
    let stdout = wasi::Pipe::default();
    let options = WasiOptions {
        args: vec!["wasi_tool".into(), "args".into(), "x".into()],
        stdout: Output::Pipe(stdout.clone()),
        ..WasiOptions::default()
    };
    let mut store = Store::new_wasi(&engine, None, &Limits::default(), &options).unwrap();
    let instance = instance::instantiate(&mut store, &module, &[], &[])
        .unwrap()
        .instance;
    run(&mut store, instance, "_start", &[]);
    assert!(stdout.size() > 0);
}

#[test]
fn running_guests_maps_no_executable_memory() {
    let before = executable_mappings();
    // The test binary's own code is mapped executable: the check sees real mappings.
    assert!(
        !before.is_empty(),
        "no executable mapping found in /proc/self/maps"
    );

    run_guests(CompilationMode::Eager);
    run_guests(CompilationMode::LazyTranslation);

    let after = executable_mappings();
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(new.is_empty(), "new executable mappings: {new:#?}");
    let writable: Vec<&String> = after
        .iter()
        .filter(|mapping| {
            mapping
                .split(' ')
                .nth(1)
                .is_some_and(|perms| perms.contains('w'))
        })
        .collect();
    assert!(
        writable.is_empty(),
        "writable and executable mappings: {writable:#?}"
    );
}
