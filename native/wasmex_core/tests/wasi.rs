//! WASI stores without the BEAM: stdio pipes and streams, exit codes, sleeping guests.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use wasmex_core::{
    call::{Step, Suspended},
    engine::EngineOptions,
    instance,
    module::Module,
    store::{Limits, Store},
    value::Input,
    wasi::{self, Output, Pipe, Preopen, WasiOptions},
    Error,
};
use wasmi::Val;

const GUEST: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello")
  ;; iovec at 0: {ptr 100, len 5}
  (func (export "say_hello") (param $fd i32) (result i32)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 5))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  ;; reads up to 64 bytes of stdin to 200; returns the count
  (func (export "read_stdin") (result i32)
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
    (i32.load (i32.const 24)))
  (func (export "exit") (param i32) (call $proc_exit (local.get 0)))
  ;; one relative clock subscription of $ns nanoseconds, userdata 7, at 1000;
  ;; the event goes to 2000, the count to 3000. Returns the errno.
  (func (export "sleep") (param $ns i64) (result i32)
    (i64.store (i32.const 1000) (i64.const 7))
    (i32.store8 (i32.const 1008) (i32.const 0))
    (i32.store (i32.const 1016) (i32.const 1))
    (i64.store (i32.const 1024) (local.get $ns))
    (i64.store (i32.const 1032) (i64.const 0))
    (i32.store16 (i32.const 1040) (i32.const 0))
    (call $poll (i32.const 1000) (i32.const 2000) (i32.const 1) (i32.const 3000)))
  ;; the same sleep, tail-calling poll_oneoff: no Wasm frame is left to resume
  (func (export "sleep_tail") (param $ns i64) (result i32)
    (i64.store (i32.const 1000) (i64.const 7))
    (i32.store8 (i32.const 1008) (i32.const 0))
    (i32.store (i32.const 1016) (i32.const 1))
    (i64.store (i32.const 1024) (local.get $ns))
    (i64.store (i32.const 1032) (i64.const 0))
    (i32.store16 (i32.const 1040) (i32.const 0))
    (return_call $poll (i32.const 1000) (i32.const 2000) (i32.const 1) (i32.const 3000)))
  (func (export "event_userdata") (result i64) (i64.load (i32.const 2000)))
  (func (export "nevents") (result i32) (i32.load (i32.const 3000))))"#;

fn wasi_guest(options: &WasiOptions) -> (Store, wasmi::Instance) {
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, GUEST.as_bytes()).unwrap();
    let mut store = Store::new_wasi(&engine, None, &Limits::default(), options).unwrap();
    let instance = instance::instantiate(&mut store, &module, &[], &[])
        .unwrap()
        .instance;
    (store, instance)
}

fn call(
    store: &mut Store,
    instance: wasmi::Instance,
    name: &str,
    args: &[Input],
) -> Result<Step, Error> {
    let func = instance::func(store, instance, name)?;
    store.call(func, args.iter().cloned())
}

fn done(step: Result<Step, Error>) -> Vec<Val> {
    match step.unwrap() {
        Step::Done(results) => results,
        other => panic!("expected the call to end, got {other:?}"),
    }
}

#[test]
fn stdout_and_stderr_go_to_pipes_and_stdin_comes_from_one() {
    let (stdin, stdout, stderr) = (Pipe::default(), Pipe::default(), Pipe::default());
    stdin.write_all(b"from the host").unwrap();
    stdin.seek(0).unwrap();
    let options = WasiOptions {
        stdin: Some(stdin),
        stdout: Output::Pipe(stdout.clone()),
        stderr: Output::Pipe(stderr.clone()),
        ..WasiOptions::default()
    };
    let (mut store, instance) = wasi_guest(&options);
    assert_eq!(
        done(call(&mut store, instance, "say_hello", &[Input::Int(1)]))[0].i32(),
        Some(0)
    );
    assert_eq!(
        done(call(&mut store, instance, "say_hello", &[Input::Int(2)]))[0].i32(),
        Some(0)
    );
    assert_eq!(
        done(call(&mut store, instance, "read_stdin", &[]))[0].i32(),
        Some(13)
    );
    for pipe in [stdout, stderr] {
        assert_eq!(pipe.contents(), b"hello");
    }
}

#[test]
fn streamed_output_is_collected_for_the_host() {
    let stream = wasi::Stream::default();
    let options = WasiOptions {
        stdout: Output::Stream(stream),
        ..WasiOptions::default()
    };
    let (mut store, instance) = wasi_guest(&options);
    done(call(&mut store, instance, "say_hello", &[Input::Int(1)]));
    done(call(&mut store, instance, "say_hello", &[Input::Int(1)]));
    assert_eq!(store.take_streams(), [Some(b"hellohello".to_vec()), None]);
    assert_eq!(store.take_streams(), [None, None]);
}

#[test]
fn proc_exit_zero_is_success_and_other_codes_are_errors() {
    let (mut store, instance) = wasi_guest(&WasiOptions::default());
    assert!(done(call(&mut store, instance, "exit", &[Input::Int(0)])).is_empty());
    let error = call(&mut store, instance, "exit", &[Input::Int(3)]).unwrap_err();
    assert_eq!(error.to_string(), "Exited with i32 exit status 3");
}

#[test]
fn sleeping_suspends_the_guest_instead_of_blocking() {
    let (mut store, instance) = wasi_guest(&WasiOptions::default());
    assert_sleeps(&mut store, instance, "sleep", 50);
    assert_eq!(
        done(call(&mut store, instance, "nevents", &[]))[0].i32(),
        Some(1)
    );
}

/// Found by fuzzing (see `imports_called_with_no_frame_left_are_host_calls_too`): a
/// tail-called `poll_oneoff` sleeps like any other.
#[test]
fn a_tail_called_sleep_suspends_too() {
    let (mut store, instance) = wasi_guest(&WasiOptions::default());
    assert_sleeps(&mut store, instance, "sleep_tail", 5);
}

/// Calls `export` to sleep `ms`: the call suspends for that long, and once resumed,
/// poll_oneoff reports the clock event (the host waits however it likes).
fn assert_sleeps(store: &mut Store, instance: wasmi::Instance, export: &str, ms: u64) {
    let nanos = i128::from(ms) * 1_000_000;
    let step = call(store, instance, export, &[Input::Int(nanos)]).unwrap();
    let Step::Suspended(Suspended::Sleep(sleeping)) = step else {
        panic!("expected the guest to sleep, got {step:?}")
    };
    assert_eq!(sleeping.duration(), Duration::from_millis(ms));
    assert_eq!(done(sleeping.resume(store))[0].i32(), Some(0));
    assert_eq!(
        done(call(store, instance, "event_userdata", &[]))[0].i64(),
        Some(7)
    );
}

#[test]
fn a_zero_sleep_does_not_suspend() {
    let (mut store, instance) = wasi_guest(&WasiOptions::default());
    assert_eq!(
        done(call(&mut store, instance, "sleep", &[Input::Int(0)]))[0].i32(),
        Some(0)
    );
    assert_eq!(
        done(call(&mut store, instance, "nevents", &[]))[0].i32(),
        Some(1)
    );
}

#[test]
fn a_preopen_that_does_not_open_is_an_error() {
    let options = WasiOptions {
        preopens: vec![Preopen {
            path: "/nonexistent/wasmex".into(),
            guest: "data".into(),
        }],
        ..WasiOptions::default()
    };
    let engine = EngineOptions::default().engine();
    let error = Store::new_wasi(&engine, None, &Limits::default(), &options)
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("could not open the preopened directory `/nonexistent/wasmex`"),
        "{error}"
    );
}

#[test]
fn wasi_imports_are_unknown_in_a_plain_store() {
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, GUEST.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let error = instance::instantiate(&mut store, &module, &[], &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown import: `wasi_snapshot_preview1::fd_write` has not been defined"
    );
}
