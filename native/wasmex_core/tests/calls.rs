//! The call state machine, without the BEAM: slices, host calls, nesting, fuel.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wasmex_core::{
    call::{HostCall, Step, Suspended},
    engine::EngineOptions,
    imports::ImportSpec,
    instance::{self, Instantiated},
    module::Module,
    store::{Limits, Store},
    value::Input,
    Error,
};
use wasmi::{FuncType, Val, ValType};

const GUEST: &str = r#"(module
  (import "env" "double" (func $double (param i32) (result i32)))
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (func (export "quadruple") (param i32) (result i32)
    (call $double (call $double (local.get 0))))
  (func (export "inc") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls))
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "spin") (loop (br 0))))"#;

fn double_import() -> Vec<ImportSpec> {
    vec![ImportSpec {
        module: "env".into(),
        name: "double".into(),
        ty: FuncType::new([ValType::I32], [ValType::I32]),
    }]
}

/// Drives a call to its end as the host would: resumes each suspension its own way, and
/// answers `double` host calls.
fn finish(store: &mut Store, mut step: Step) -> Result<Vec<Val>, Error> {
    loop {
        let Step::Suspended(suspended) = step else {
            let Step::Done(results) = step else {
                unreachable!()
            };
            return Ok(results);
        };
        step = match suspended {
            Suspended::Yield(call) => call.resume(store)?,
            Suspended::Heavy(call) => call.resume(store)?,
            Suspended::Sleep(call) => {
                std::thread::sleep(call.duration());
                call.resume(store)?
            }
            Suspended::Host(call) => {
                let Val::I32(n) = call.request().params[0] else {
                    panic!("not an i32")
                };
                let result = Input::Int((2 * n).into());
                call.resume(store, [result].into_iter())?
            }
        }
    }
}

/// The host call a step stopped at.
fn host_call(step: Result<Step, Error>) -> HostCall {
    match step {
        Ok(Step::Suspended(Suspended::Host(call))) => call,
        other => panic!("expected a host call, got {other:?}"),
    }
}

struct Guest {
    store: Store,
    instance: wasmi::Instance,
}

fn guest(options: &EngineOptions, fuel: Option<u64>) -> Guest {
    let engine = options.engine();
    let module = Module::compile(&engine, GUEST.as_bytes()).unwrap();
    let mut store = Store::new(&engine, fuel, &Limits::default());
    let Instantiated { instance, .. } =
        instance::instantiate(&mut store, &module, &double_import(), &[]).unwrap();
    Guest { store, instance }
}

impl Guest {
    /// Calls `name`, answering `double` host calls and resuming yields, to the end.
    fn call(&mut self, name: &str, args: &[i32]) -> Result<Vec<Val>, Error> {
        let func = instance::func(&self.store, self.instance, name)?;
        let inputs = args
            .iter()
            .map(|n| Input::Int((*n).into()))
            .collect::<Vec<_>>();
        let step = self.store.call(func, inputs.into_iter())?;
        finish(&mut self.store, step)
    }

    fn fuel_used(&mut self, name: &str, args: &[i32]) -> (Vec<i32>, u64) {
        self.store.set_fuel(u64::MAX).unwrap();
        let results = self.call(name, args).unwrap();
        let used = u64::MAX - self.store.fuel().unwrap();
        let ints = results.iter().map(|v| v.i32().unwrap()).collect();
        (ints, used)
    }
}

#[test]
fn host_calls_suspend_the_guest_and_resume_it_with_the_results() {
    let mut guest = guest(&EngineOptions::default(), None);
    let func = instance::func(&guest.store, guest.instance, "quadruple").unwrap();
    let call = host_call(guest.store.call(func, [Input::Int(5)].into_iter()));
    assert_eq!(call.request().import, 0);
    assert_eq!(call.request().params[0].i32(), Some(5));
    assert!(call.request().memory.is_none());
    let call = host_call(call.resume(&mut guest.store, [Input::Int(10)].into_iter()));
    assert_eq!(call.request().params[0].i32(), Some(10));
    let Step::Done(results) = call
        .resume(&mut guest.store, [Input::Int(20)].into_iter())
        .unwrap()
    else {
        panic!("expected the end")
    };
    assert_eq!(results[0].i32(), Some(20));
}

#[test]
fn a_guest_may_be_called_again_while_a_call_waits_for_the_host() {
    let mut guest = guest(&EngineOptions::default(), None);
    let quadruple = instance::func(&guest.store, guest.instance, "quadruple").unwrap();
    let inc = instance::func(&guest.store, guest.instance, "inc").unwrap();
    let outer = host_call(guest.store.call(quadruple, [Input::Int(1)].into_iter()));
    // A nested call from the "callback", two levels deep.
    assert_eq!(guest.call("inc", &[]).unwrap()[0].i32(), Some(1));
    let inner = host_call(guest.store.call(quadruple, [Input::Int(3)].into_iter()));
    assert!(matches!(
        guest.store.call(inc, std::iter::empty()).unwrap(),
        Step::Done(_)
    ));
    drop(inner); // the nested call is abandoned: the outer one goes on regardless
    let outer = host_call(outer.resume(&mut guest.store, [Input::Int(2)].into_iter()));
    let Step::Done(results) = outer
        .resume(&mut guest.store, [Input::Int(4)].into_iter())
        .unwrap()
    else {
        panic!("expected the end")
    };
    assert_eq!(results[0].i32(), Some(4));
    assert_eq!(guest.call("inc", &[]).unwrap()[0].i32(), Some(3));
}

#[test]
fn host_results_of_the_wrong_type_or_number_fail_the_call() {
    let mut guest = guest(&EngineOptions::default(), None);
    let func = instance::func(&guest.store, guest.instance, "quadruple").unwrap();
    let call = host_call(guest.store.call(func, [Input::Int(1)].into_iter()));
    let error = call
        .resume(&mut guest.store, [Input::Float(1.0)].into_iter())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the elixir callback threw an exception: could not convert callback result #1 to a \
         WebAssembly i32 value: expected an integer in -2147483648..2147483647, got: 1.0"
    );
    let call = host_call(guest.store.call(func, [Input::Int(1)].into_iter()));
    let error = call
        .resume(&mut guest.store, std::iter::empty())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the elixir callback threw an exception: expected 1 result(s), got 0"
    );
    assert_eq!(guest.call("count", &[3]).unwrap()[0].i32(), Some(3));
}

#[test]
fn long_calls_yield_once_their_time_budget_is_spent() {
    let mut guest = guest(&EngineOptions::default(), None);
    let func = instance::func(&guest.store, guest.instance, "spin").unwrap();
    let Step::Suspended(Suspended::Yield(call)) =
        guest.store.call(func, std::iter::empty()).unwrap()
    else {
        panic!("an endless loop must yield")
    };
    let spent = guest.store.spent();
    assert!(
        spent >= wasmex_core::slice::BUDGET,
        "yielded after {spent:?}"
    );
    assert!(matches!(
        call.resume(&mut guest.store).unwrap(),
        Step::Suspended(Suspended::Yield(_))
    ));
    // Dropping the suspended call cancels it; the store goes on.
    assert_eq!(guest.call("count", &[10]).unwrap()[0].i32(), Some(10));
}

#[test]
fn fuel_use_does_not_depend_on_the_slice_size_or_the_store() {
    let options = EngineOptions::default();
    let mut reference = guest(&options, Some(0));
    let expected = [
        reference.fuel_used("count", &[100_000]),
        reference.fuel_used("fib", &[20]),
        reference.fuel_used("quadruple", &[7]),
    ];
    assert_eq!(expected[0].0, [100_000]);
    assert_eq!(expected[1].0, [6_765]);
    assert_eq!(expected[2].0, [28]);

    for slice in [1_000, 100_000, 10_000_000] {
        let mut fresh = guest(&options, Some(0));
        fresh.store.set_slice(Some(slice));
        for _run in 0..2 {
            let used = [
                fresh.fuel_used("count", &[100_000]),
                fresh.fuel_used("fib", &[20]),
                fresh.fuel_used("quadruple", &[7]),
            ];
            assert_eq!(used, expected, "slice {slice}");
        }
    }
}

#[test]
fn eager_and_lazy_compilation_use_the_same_fuel() {
    let lazy = EngineOptions::default();
    let eager = EngineOptions {
        compilation_mode: wasmex_core::engine::CompilationMode::Eager,
        ..EngineOptions::default()
    };
    let mut lazy = guest(&lazy, Some(0));
    let mut eager = guest(&eager, Some(0));
    assert_eq!(lazy.fuel_used("fib", &[15]), eager.fuel_used("fib", &[15]));
    assert_eq!(
        lazy.fuel_used("count", &[1_000]),
        eager.fuel_used("count", &[1_000])
    );
}

#[test]
fn running_out_of_user_fuel_is_a_trap_and_refuelling_goes_on() {
    let mut guest = guest(&EngineOptions::default(), Some(0));
    let (_, needed) = guest.fuel_used("count", &[1_000]);

    guest.store.set_fuel(needed - 1).unwrap();
    let error = guest.call("count", &[1_000]).unwrap_err();
    assert_eq!(error.to_string(), "all fuel consumed by WebAssembly");

    guest.store.set_fuel(needed).unwrap();
    assert_eq!(guest.call("count", &[1_000]).unwrap()[0].i32(), Some(1_000));
    assert_eq!(guest.store.fuel().unwrap(), 0);
}

#[test]
fn stores_without_user_fuel_refuse_fuel_calls_but_still_slice() {
    let mut guest = guest(&EngineOptions::default(), None);
    assert!(matches!(guest.store.fuel(), Err(Error::GetFuelDisabled)));
    assert!(matches!(
        guest.store.set_fuel(1),
        Err(Error::SetFuelDisabled)
    ));
    guest.store.set_slice(Some(1_000));
    assert_eq!(
        guest.call("count", &[1_000_000]).unwrap()[0].i32(),
        Some(1_000_000)
    );
}

#[test]
fn start_functions_run_after_instantiation_as_ordinary_calls() {
    let engine = EngineOptions::default().engine();
    let wat = r#"(module
      (import "env" "double" (func $double (param i32) (result i32)))
      (global (export "g") (mut i32) (i32.const 0))
      (func $start (global.set 0 (call $double (i32.const 21))))
      (start $start))"#;
    let module = Module::compile(&engine, wat.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let Instantiated { instance, start } =
        instance::instantiate(&mut store, &module, &double_import(), &[]).unwrap();
    assert_eq!(
        instance::global_value(&store, instance, "g").unwrap().i32(),
        Some(0)
    );
    let start = start.expect("the module has a start function");
    let call = host_call(store.call(start, std::iter::empty()));
    assert_eq!(call.request().params[0].i32(), Some(21));
    assert!(matches!(
        call.resume(&mut store, [Input::Int(42)].into_iter())
            .unwrap(),
        Step::Done(_)
    ));
    assert_eq!(
        instance::global_value(&store, instance, "g").unwrap().i32(),
        Some(42)
    );
}

/// Found by fuzzing: an import called with no Wasm frame to resume into (an exported
/// import called directly, or tail-called by the entry function) failed with "an Elixir
/// import was called outside of a resumable call". Now it is a host call whose results
/// are the call's results.
#[test]
fn imports_called_with_no_frame_left_are_host_calls_too() {
    const LAST_CALLS: &str = include_str!("../../../test/fixtures/wat/imports_without_frame.wat");
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, LAST_CALLS.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let Instantiated { instance, .. } =
        instance::instantiate(&mut store, &module, &double_import(), &[]).unwrap();
    let mut guest = Guest { store, instance };
    for name in ["double", "tail", "tail_indirect"] {
        assert_eq!(
            guest.call(name, &[21]).unwrap()[0].i32(),
            Some(42),
            "{name}"
        );

        // The results are checked against the import's type like any other.
        let func = instance::func(&guest.store, instance, name).unwrap();
        let call = host_call(guest.store.call(func, [Input::Int(1)].into_iter()));
        assert_eq!(call.request().import, 0);
        assert!(matches!(
            call.resume(&mut guest.store, [Input::Float(1.5)].into_iter()),
            Err(Error::Callback(_))
        ));
    }
}

/// Stores whose address and value are one register (`local.tee`, then `local.get` of the
/// same local): wasmi 2.0.0's translator panicked (`unreachable!()`) on the integer ones to a
/// memory other than 0, or past a 16-bit offset (found by `fuzz/`; fixed by
/// `vendor/patches/0003-*`). `$store(x)` stores `x + 1` at `x + 1 + offset` and loads it back.
const SHARED_REGISTER_STORES: &str = r#"(module
  (memory $a 2)
  (memory $b 1)
  (func (export "i32.store mem0") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store offset=70000
    (i32.load offset=70000 (local.get 0)))
  (func (export "i32.store8 mem0") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store8 offset=70000
    (i32.load8_u offset=70000 (local.get 0)))
  (func (export "i32.store16 mem0") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store16 offset=70000
    (i32.load16_u offset=70000 (local.get 0)))
  (func (export "i32.store mem1") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store $b offset=8
    (i32.load $b offset=8 (local.get 0)))
  (func (export "i32.store8 mem1") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store8 $b offset=8
    (i32.load8_u $b offset=8 (local.get 0)))
  (func (export "i32.store16 mem1") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)) local.tee 0 local.get 0
    i32.store16 $b offset=8
    (i32.load16_u $b offset=8 (local.get 0)))
  ;; The module the fuzzer found: its store is out of bounds.
  (func (export "fuzzed") (param i32)
    memory.size 1 local.tee 0 local.get 0
    i32.store16 offset=1419244))"#;

#[test]
fn stores_whose_address_and_value_share_a_register_compile_and_run() {
    use wasmex_core::engine::CompilationMode;
    for mode in [CompilationMode::Eager, CompilationMode::LazyTranslation] {
        let options = EngineOptions {
            compilation_mode: mode,
            ..EngineOptions::default()
        };
        let engine = options.engine();
        let module = Module::compile(&engine, SHARED_REGISTER_STORES.as_bytes()).unwrap();
        let mut store = Store::new(&engine, None, &Limits::default());
        let Instantiated { instance, .. } =
            instance::instantiate(&mut store, &module, &[], &[]).unwrap();
        let mut call = |name: &str, arg: i32| {
            let func = instance::func(&store, instance, name).unwrap();
            match store.call(func, [Input::Int(arg.into())].into_iter()) {
                Ok(Step::Done(results)) => Ok(results.first().and_then(Val::i32)),
                Ok(step) => panic!("{name}: unexpected step {step:?}"),
                Err(error) => Err(error.to_string()),
            }
        };
        let x = 0x1234;
        for (name, stored) in [
            ("i32.store mem0", x + 1),
            ("i32.store8 mem0", (x + 1) & 0xff),
            ("i32.store16 mem0", x + 1),
            ("i32.store mem1", x + 1),
            ("i32.store8 mem1", (x + 1) & 0xff),
            ("i32.store16 mem1", x + 1),
        ] {
            assert_eq!(call(name, x), Ok(Some(stored)), "{name} ({mode:?})");
        }
        assert_eq!(
            call("fuzzed", 0),
            Err("out of bounds memory access".to_string())
        );
    }
}

#[test]
fn i64_stores_to_a_64_bit_memory_whose_address_and_value_share_a_register_run() {
    let options = EngineOptions {
        features: wasmex_core::engine::Features {
            memory64: true,
            ..wasmex_core::engine::Features::default()
        },
        ..EngineOptions::default()
    };
    let engine = options.engine();
    let wat = r#"(module
      (memory i64 2)
      (func (export "f") (param i64) (result i64)
        (i64.add (local.get 0) (i64.const 1)) local.tee 0 local.get 0
        i64.store32 offset=70000
        (i64.load32_u offset=70000 (local.get 0))))"#;
    let module = Module::compile(&engine, wat.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    let Instantiated { instance, .. } =
        instance::instantiate(&mut store, &module, &[], &[]).unwrap();
    let f = instance::func(&store, instance, "f").unwrap();
    let Ok(Step::Done(results)) = store.call(f, [Input::Int(41)].into_iter()) else {
        panic!("the call did not end");
    };
    assert_eq!(results[0].i64(), Some(42));
}

/// A guest whose import `env.boom` is a wasmi host function: `f` counts its argument
/// (at least 1) down to 0, then calls it.
const CALLS_BOOM: &str = r#"(module
  (import "env" "boom" (func $boom))
  (func (export "f") (param $n i32)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (call $boom))
  (func (export "one") (result i32) (i32.const 1)))"#;

/// A store of `engine` (with `fuel` for the user and `slice` fuel per slice), and the
/// functions `f` and `one` of an instance of [`CALLS_BOOM`] whose `env.boom` panics, or
/// traps if `panics` is false.
fn boom(
    engine: &wasmex_core::engine::Engine,
    fuel: Option<u64>,
    slice: u64,
    panics: bool,
) -> (Store, wasmi::Func, wasmi::Func) {
    let module = Module::compile(engine, CALLS_BOOM.as_bytes()).unwrap();
    let mut store = Store::new(engine, fuel, &Limits::default());
    store.set_slice(Some(slice));
    let mut linker = wasmi::Linker::new(engine.wasmi());
    linker
        .func_wrap("env", "boom", move || -> Result<(), wasmi::Error> {
            if panics {
                panic!("a host function panicked")
            }
            Err(wasmi::Error::new("a host function failed"))
        })
        .unwrap();
    let instance = linker
        .instantiate_and_start(store.wasmi_mut(), &module.wasmi)
        .unwrap();
    let f = instance::func(&store, instance, "f").unwrap();
    let one = instance::func(&store, instance, "one").unwrap();
    (store, f, one)
}

#[test]
fn a_wasmi_panic_fails_its_call_only() {
    // No valid module is known to make the patched wasmi panic; a host function that
    // panics inside wasmi's executor stands in for such a bug. The panic comes back as
    // the call's error; the store, its instance, the engine and its other stores go on.
    let engine = EngineOptions::default().engine();
    let (mut store, f, one) = boom(&engine, None, 10_000, true);
    let (mut other, _, other_one) = boom(&engine, None, 10_000, false);
    for _ in 0..2 {
        let Err(error) = store.call(f, [Input::Int(10)].into_iter()) else {
            panic!("the call did not fail");
        };
        assert_eq!(
            error.to_string(),
            "wasmi panicked: a host function panicked"
        );
        let Ok(Step::Done(results)) = store.call(one, [].into_iter()) else {
            panic!("the store refused a call after a panic");
        };
        assert_eq!(results[0].i32(), Some(1));
        let Ok(Step::Done(results)) = other.call(other_one, [].into_iter()) else {
            panic!("another store of the engine refused a call after a panic");
        };
        assert_eq!(results[0].i32(), Some(1));
    }
    // A store made after the panic, on the same engine, runs guests as any other.
    let module = Module::compile(&engine, GUEST.as_bytes()).unwrap();
    let mut fresh = Store::new(&engine, None, &Limits::default());
    let Instantiated { instance, .. } =
        instance::instantiate(&mut fresh, &module, &double_import(), &[]).unwrap();
    let quadruple = instance::func(&fresh, instance, "quadruple").unwrap();
    let step = fresh.call(quadruple, [Input::Int(3)].into_iter()).unwrap();
    assert_eq!(finish(&mut fresh, step).unwrap()[0].i32(), Some(12));
}

#[test]
fn a_call_that_panics_is_charged_its_fuel_as_a_trap_is() {
    // The fuel the guest used before the panic is charged, whatever the slicing: exactly
    // what the same call is charged when the host function traps instead.
    let engine = EngineOptions {
        consume_fuel: true,
        ..EngineOptions::default()
    }
    .engine();
    let fuel = 1_000_000;
    let fuel_left = |slice: u64, panics: bool| {
        let (mut store, f, _) = boom(&engine, Some(fuel), slice, panics);
        let mut step = store.call(f, [Input::Int(5_000)].into_iter());
        while let Ok(Step::Suspended(Suspended::Yield(call))) = step {
            step = call.resume(&mut store);
        }
        let error = step.err().unwrap().to_string();
        assert!(error.contains("a host function"), "{error}");
        store.fuel().unwrap()
    };
    let trapped = fuel_left(1_000_000, false);
    assert!(trapped < fuel - 5_000, "{trapped}");
    for slice in [97, 1_000, 1_000_000] {
        assert_eq!(fuel_left(slice, false), trapped, "trap, slice {slice}");
        assert_eq!(fuel_left(slice, true), trapped, "panic, slice {slice}");
    }
}

/// Bulk instructions that each need more fuel than a slice holds (with 10,000-fuel
/// slices: growing 4 MiB, filling and copying megabytes, filling a 200,000-element table).
const BULK: &str = r#"(module
  (memory (export "memory") 1 1000)
  (table $t 10 funcref)
  (func $grow_table (param i32) (drop (table.grow $t (ref.null func) (local.get 0))))
  (func (export "bulk") (param $pages i32) (result i32)
    (drop (memory.grow (local.get $pages)))
    (memory.fill (i32.const 0) (i32.const 7) (i32.mul (local.get $pages) (i32.const 65536)))
    (memory.copy (i32.const 65536) (i32.const 0) (i32.mul (local.get $pages) (i32.const 32768)))
    (call $grow_table (i32.mul (local.get $pages) (i32.const 2000)))
    (table.fill $t (i32.const 0) (ref.null func) (table.size $t))
    (table.copy $t $t (i32.const 1) (i32.const 0) (i32.sub (table.size $t) (i32.const 1)))
    (i32.add (i32.mul (memory.size) (i32.const 1000)) (i32.load8_u (i32.const 100000)))))"#;

/// A store with `fuel` for the user (if any) and `slice` fuel per slice, and the function
/// `name` of an instance of `wat` in it.
fn sliced(wat: &str, fuel: Option<u64>, slice: u64, name: &str) -> (Store, wasmi::Func) {
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, wat.as_bytes()).unwrap();
    let mut store = Store::new(&engine, fuel, &Limits::default());
    store.set_slice(Some(slice));
    let Instantiated { instance, .. } =
        instance::instantiate(&mut store, &module, &[], &[]).unwrap();
    let func = instance::func(&store, instance, name).unwrap();
    (store, func)
}

/// Runs `bulk(pages)` with `slice` fuel per slice: its result, the fuel it used, and how
/// many heavy suspensions it went through.
fn run_bulk(slice: u64, pages: i32) -> (i32, u64, usize) {
    let (mut store, func) = sliced(BULK, Some(u64::MAX), slice, "bulk");
    let mut step = store.call(func, [Input::Int(pages.into())].into_iter());
    let mut heavy = 0;
    let results = loop {
        step = match step.unwrap() {
            Step::Done(results) => break results,
            Step::Suspended(Suspended::Yield(call)) => call.resume(&mut store),
            Step::Suspended(Suspended::Heavy(call)) => {
                heavy += 1;
                call.resume(&mut store)
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    let used = u64::MAX - store.fuel().unwrap();
    (results[0].i32().unwrap(), used, heavy)
}

#[test]
fn instructions_too_big_for_a_slice_are_heavy_with_the_same_results_and_fuel() {
    let (result, used, heavy) = run_bulk(10_000, 64);
    assert_eq!(result, 65 * 1000 + 7);
    assert!(heavy >= 3, "{heavy} heavy suspensions");
    // One slice holds everything: nothing is heavy, and the results and fuel are the same.
    assert_eq!(run_bulk(100_000_000, 64), (result, used, 0));
    // User fuel short of a heavy instruction is a trap before it runs.
    let (mut store, func) = sliced(BULK, Some(50_000), 10_000, "bulk");
    let outcome = store
        .call(func, [Input::Int(64)].into_iter())
        .and_then(|step| finish(&mut store, step));
    assert_eq!(
        outcome.unwrap_err().to_string(),
        "all fuel consumed by WebAssembly"
    );
}

#[test]
fn a_heavy_instruction_runs_and_the_guest_stops_within_a_slice_after_it() {
    // A 4 MiB `memory.fill` (65,536 fuel) and a loop of 100,000 iterations after it.
    const FILL_THEN_COUNT: &str = r#"(module
      (memory 64)
      (func (export "run") (result i32)
        (local $i i32)
        (memory.fill (i32.const 0) (i32.const 7) (i32.const 4194304))
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (i32.const 100000))))
        (i32.add (local.get $i) (i32.load8_u (i32.const 4194303)))))"#;
    let slice = 10_000;
    let (mut store, func) = sliced(FILL_THEN_COUNT, Some(u64::MAX), slice, "run");
    let step = store.call(func, std::iter::empty()).unwrap();
    let Step::Suspended(Suspended::Heavy(call)) = step else {
        panic!("expected the fill to be heavy, got {step:?}")
    };
    let before = store.fuel().unwrap();
    let step = call.resume(&mut store).unwrap();
    let used = before - store.fuel().unwrap();
    // The fill ran; the loop after it did not run on: the next slices are ordinary ones.
    assert!(
        (65_536..65_536 + slice).contains(&used),
        "the heavy resume used {used} fuel"
    );
    let Step::Suspended(Suspended::Yield(_)) = step else {
        panic!("expected a yield after the heavy instruction, got {step:?}")
    };
    assert_eq!(finish(&mut store, step).unwrap()[0].i32(), Some(100_007));
}

/// Host work of a test-only host function: fills `len` bytes at `at` with `byte`.
#[derive(Debug)]
struct Fill {
    memory: wasmi::Memory,
    at: usize,
    len: usize,
    byte: u8,
}

impl wasmex_core::imports::HostWork for Fill {
    fn run(
        self: Box<Self>,
        store: &mut wasmi::Store<wasmex_core::store::Host>,
    ) -> Result<Vec<Val>, wasmi::Error> {
        let Some(bytes) = self
            .memory
            .data_mut(store)
            .get_mut(self.at..self.at + self.len)
        else {
            return Err(wasmi::Error::from(wasmi::TrapCode::MemoryOutOfBounds));
        };
        bytes.fill(self.byte);
        Ok(vec![Val::I32(self.len as i32)])
    }
}

#[test]
fn host_functions_hand_heavy_work_over_and_the_guest_gets_its_results() {
    const FILLER: &str = r#"(module
      (import "host" "fill" (func $fill (param i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (export "fill" (func $fill))
      (func (export "run") (result i32)
        (i32.add (call $fill (i32.const 8) (i32.const 1000) (i32.const 9))
                 (i32.load8_u (i32.const 500)))))"#;
    let engine = EngineOptions::default().engine();
    let module = Module::compile(&engine, FILLER.as_bytes()).unwrap();
    let mut store = Store::new(&engine, None, &Limits::default());
    // Set once instantiated: an exported import called directly has no caller instance.
    let memory = std::sync::Arc::new(std::sync::OnceLock::new());
    let memory_of_fill = memory.clone();
    let fill = wasmi::Func::wrap(
        store.wasmi_mut(),
        move |mut caller: wasmi::Caller<'_, wasmex_core::store::Host>,
              at: i32,
              len: i32,
              byte: i32|
              -> Result<i32, wasmi::Error> {
            let memory = *memory_of_fill.get().unwrap();
            let work = Fill {
                memory,
                at: at as usize,
                len: len as usize,
                byte: byte as u8,
            };
            Err(wasmex_core::imports::offload(&mut caller, work))
        },
    );
    let mut linker = wasmi::Linker::new(engine.wasmi());
    linker.define("host", "fill", fill).unwrap();
    let instance = linker
        .instantiate_and_start(store.wasmi_mut(), &module.wasmi)
        .unwrap();

    memory
        .set(instance::memory(&store, instance, Some("memory")).unwrap())
        .unwrap();
    let run = instance::func(&store, instance, "run").unwrap();
    let Step::Suspended(Suspended::Heavy(call)) = store.call(run, std::iter::empty()).unwrap()
    else {
        panic!("expected the host work to suspend the call")
    };
    // Nothing is done before the work runs.
    assert_eq!(memory.get().unwrap().data(store.wasmi())[500], 0);
    let Step::Done(results) = call.resume(&mut store).unwrap() else {
        panic!("expected the end")
    };
    assert_eq!(results[0].i32(), Some(1000 + 9));

    // Called with no Wasm frame left, the work's results are the call's.
    let direct = instance::func(&store, instance, "fill").unwrap();
    let inputs = [Input::Int(0), Input::Int(4), Input::Int(1)];
    let Step::Suspended(Suspended::Heavy(call)) = store.call(direct, inputs.into_iter()).unwrap()
    else {
        panic!("expected the host work to suspend the call")
    };
    assert!(
        matches!(call.resume(&mut store), Ok(Step::Done(results)) if results[0].i32() == Some(4))
    );

    // Work that fails ends the call with its error.
    let inputs = [Input::Int(65_000), Input::Int(1_000), Input::Int(1)];
    let step = store.call(direct, inputs.into_iter()).unwrap();
    assert_eq!(
        finish(&mut store, step).unwrap_err().to_string(),
        "out of bounds memory access"
    );
}

/// wasmi 2.0.0's `table.grow` resumes a few instructions before itself after running out
/// of fuel; a heavy resume with only the instruction's fuel then ran out again, for ever.
#[test]
fn a_heavy_table_grow_finishes() {
    const GROW: &str = r#"(module (table $t 0 funcref)
      (func (export "grow") (param i32) (result i32)
        (drop (table.grow $t (ref.null func) (local.get 0)))
        (table.size $t)))"#;
    let (mut store, func) = sliced(GROW, None, 10_000, "grow");
    let step = store
        .call(func, [Input::Int(1_000_000)].into_iter())
        .unwrap();
    assert!(matches!(step, Step::Suspended(Suspended::Heavy(_))));
    let results = finish(&mut store, step).unwrap();
    assert_eq!(results[0].i32(), Some(1_000_000));
}
