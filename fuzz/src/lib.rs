//! A fuzz driver for the engine layer (`wasmex_core`), on stable Rust.
//!
//! [`run_case`] turns arbitrary bytes into a whole session the way the NIF drives the
//! engine: engine options, a module (raw bytes, a `wasm-smith` module, a mutated one, or a
//! mutated serialized one), a store with limits and user fuel (sometimes a WASI store),
//! generated Elixir-style imports, then calls of every export with arbitrary arguments,
//! answering host calls with arbitrary results, nested calls or abandonment, plus memory,
//! global and fuel operations. Every step may fail with an [`wasmex_core::Error`]; what it
//! must never do is panic, abort, hang or take unbounded memory.
//!
//! [`run_memory_case`] is a focused target for linear memories, checked against a model.
//!
//! `src/main.rs` runs either for a fixed time over generated inputs (`scripts/fuzz`);
//! `tests/regressions.rs` replays the inputs of past findings.

use arbitrary::{Result, Unstructured};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use wasmex_core::{
    call::{HostCall, Step, Suspended},
    engine::{CompilationMode, EngineOptions, Features},
    imports::ImportSpec,
    instance::{self, Instantiated, Link},
    memory,
    module::{self, ExternInfo, Module},
    store::{Limits, Store},
    value::{Input, TermKind},
    wasi::{Deterministic, Output, Pipe, WasiOptions},
};
use wasmi::{FuncType, ValType};

mod memory_model;
pub use memory_model::run_memory_case;

/// The most bytes a linear memory may take in a fuzzed store.
pub const MEMORY_LIMIT: usize = 64 << 20;
/// The most elements a table may take in a fuzzed store.
pub const TABLE_LIMIT: usize = 100_000;
/// The most fuel one fuzzed store gets in all.
const FUEL_LIMIT: u64 = 20_000_000;
/// Function imports a generated module may take: the imports of this module.
const AVAILABLE_IMPORTS: &str = r#"(module
  (import "env" "f0" (func))
  (import "env" "f1" (func (param i32) (result i32)))
  (import "env" "f2" (func (param i64 i32) (result i64)))
  (import "env" "f3" (func (param f32 f64) (result f64)))
  (import "env" "f4" (func (param i32 i32 i32) (result i32 i32)))
  (import "env" "f5" (func (param v128) (result v128)))
  (import "env" "f6" (func (param funcref externref) (result externref))))"#;

fn available_imports() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| module::wat_to_wasm(AVAILABLE_IMPORTS).unwrap_or_default())
}

/// How deep host calls may nest calls back into the guest.
const MAX_NESTING: u32 = 4;
/// The most steps (slices, host calls, sleeps) one call may take.
const MAX_STEPS: u32 = 10_000;

/// What a case got to: for statistics only.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// The module compiled.
    pub compiled: bool,
    /// It instantiated.
    pub instantiated: bool,
    /// Export calls made.
    pub calls: u32,
    /// Calls that returned results.
    pub returned: u32,
    /// Host calls answered.
    pub host_calls: u32,
    /// Operations on a linear memory checked against a model (`--target memory`).
    pub memory_operations: u32,
    /// Growths of a linear memory that succeeded (`--target memory`).
    pub memory_growths: u32,
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The input of case `case` of a run seeded with `seed`: at most `max_len` bytes, from a
/// SplitMix64 generator, so that a case is reproduced from its number alone.
#[must_use]
pub fn case_input(seed: u64, case: u64, max_len: usize) -> Vec<u8> {
    let mut rng = SplitMix(seed ^ case.wrapping_mul(0x2545_f491_4f6c_dd1d));
    // Mostly short inputs, sometimes long ones: wasm-smith builds bigger modules from more.
    let len = match rng.next() % 4 {
        0 => rng.next() as usize % 256,
        1 | 2 => rng.next() as usize % 4096,
        _ => rng.next() as usize % max_len.max(1),
    };
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Runs one case from `data`. Errors of the engine are expected and ignored; only running
/// out of input ends a case early.
#[must_use]
pub fn run_case(data: &[u8]) -> Reached {
    let mut reached = Reached::default();
    // The module takes what it is given, so it gets its own part of the input; the rest
    // steers the session (options, arguments, answers).
    let split = (data.len() / 2).clamp(data.len().min(64), 8192);
    let (control, module) = data.split_at(split);
    let _ = session(
        &mut Unstructured::new(control),
        &mut Unstructured::new(module),
        &mut reached,
    );
    reached
}

fn session(
    u: &mut Unstructured,
    module_input: &mut Unstructured,
    reached: &mut Reached,
) -> Result<()> {
    let options = engine_options(u)?;
    let engine = options.engine();
    let bytes = module_bytes(module_input, &options)?;
    if let Some(path) = std::env::var_os("WASMEX_FUZZ_DUMP") {
        // For minimizing a finding: the module and the engine options it ran with.
        let _ = std::fs::write(&path, &bytes);
        eprintln!("{options:?}");
    }

    let module = match u.int_in_range(0..=9)? {
        // Through a serialized copy, sometimes damaged: the loader must refuse garbage
        // without trusting it.
        0 => {
            let Ok(module) = Module::compile(&engine, &bytes) else {
                return Ok(());
            };
            let mut serialized = module.serialize();
            if u.arbitrary()? {
                mutate(u, &mut serialized)?;
            }
            match Module::deserialize(&engine, &serialized) {
                Ok(module) => module,
                Err(_) => return Ok(()),
            }
        }
        _ => match Module::compile(&engine, &bytes) {
            Ok(module) => module,
            Err(_) => return Ok(()),
        },
    };
    reached.compiled = true;
    let exports = module.exports();
    let imports = module.imports();
    let _ = module.name();

    let limits = Limits {
        memory_size: Some(MEMORY_LIMIT),
        table_elements: Some(TABLE_LIMIT),
        instances: Some(u.int_in_range(1..=20)?),
        tables: Some(u.int_in_range(1..=20)?),
        memories: Some(u.int_in_range(1..=20)?),
        nested_calls: None,
    };
    let fuel = u.int_in_range(0..=FUEL_LIMIT)?;
    let mut store = if u.ratio(1, 4)? {
        let options = WasiOptions {
            args: u.arbitrary()?,
            env: u.arbitrary()?,
            preopens: Vec::new(),
            stdin: Some(Pipe::default()),
            stdout: Output::Pipe(Pipe::new(u.int_in_range(0..=1 << 20)?)),
            stderr: Output::Discard,
            fd_limit: u.int_in_range(0..=300)?,
            deterministic: if u.ratio(1, 2)? {
                Some(Deterministic {
                    clock_start: u.arbitrary()?,
                    random_seed: Some(u.arbitrary()?),
                })
            } else {
                None
            },
        };
        match Store::new_wasi(&engine, Some(fuel), &limits, &options) {
            Ok(store) => store,
            Err(_) => return Ok(()),
        }
    } else {
        Store::new(&engine, Some(fuel), &limits)
    };
    // Small slices, the largest slice calibration allows (a case that needs one must not
    // depend on how fast the machine is to be reproduced), or the calibrated slice.
    match u.int_in_range(0..=5)? {
        0 | 1 => store.set_slice(Some(u.int_in_range(1..=100_000)?)),
        2 => store.set_slice(Some(wasmex_core::slice::MAX)),
        _ => {}
    }

    // Every function import is offered as an Elixir callback, sometimes with a wrong type.
    let mut specs = Vec::new();
    for (module_name, name, info) in &imports {
        if let ExternInfo::Func { params, results } = info {
            let mut ty = FuncType::new(params.iter().copied(), results.iter().copied());
            if u.ratio(1, 20)? {
                ty = FuncType::new([ValType::I32], []);
            }
            specs.push(ImportSpec {
                module: module_name.clone(),
                name: name.clone(),
                ty,
            });
        }
    }
    // A linked copy of the module first, started before the main one is instantiated.
    let mut links = Vec::new();
    if u.ratio(1, 10)? {
        let Ok(linked) = instance::instantiate(&mut store, &module, &specs, &[]) else {
            return Ok(());
        };
        if let Some(start) = linked.start {
            let step = store.call(start, std::iter::empty());
            drive(u, &mut store, linked.instance, &specs, step, 0, reached)?;
        }
        links.push(Link {
            name: "linked".into(),
            instance: linked.instance,
            module: module.clone(),
        });
    }
    let Ok(Instantiated { instance, start }) =
        instance::instantiate(&mut store, &module, &specs, &links)
    else {
        return Ok(());
    };
    reached.instantiated = true;
    if let Some(start) = start {
        let step = store.call(start, std::iter::empty());
        drive(u, &mut store, instance, &specs, step, 0, reached)?;
    }

    for _ in 0..u.int_in_range(0..=30)? {
        if u.is_empty() {
            break;
        }
        let Some((name, info)) = pick(u, &exports)? else {
            break;
        };
        match info {
            ExternInfo::Func { params, .. } => {
                let Ok(func) = instance::func(&store, instance, name) else {
                    continue;
                };
                let count = if u.ratio(1, 10)? {
                    u.int_in_range(0..=4)?
                } else {
                    params.len()
                };
                let inputs = (0..count)
                    .map(|i| input(u, params.get(i).copied()))
                    .collect::<Result<Vec<_>>>()?;
                reached.calls += 1;
                let step = store.call(func, inputs.into_iter());
                if drive(u, &mut store, instance, &specs, step, 0, reached)? {
                    reached.returned += 1;
                }
            }
            ExternInfo::Memory { .. } => {
                let Ok(mem) = instance::memory(&store, instance, Some(name)) else {
                    continue;
                };
                let size = memory::size(&store, mem);
                let offset = near(u, size)?;
                match u.int_in_range(0..=3)? {
                    0 => {
                        let _ = memory::read(&store, mem, offset, near(u, 1 << 16)?);
                    }
                    1 => {
                        let bytes: Vec<u8> = u.arbitrary()?;
                        let _ = memory::write(&mut store, mem, offset, &bytes);
                    }
                    2 => {
                        let _ = memory::grow(&mut store, mem, near(u, 64)?);
                    }
                    _ => {
                        let _ = memory::grow(&mut store, mem, u.arbitrary()?);
                    }
                }
            }
            ExternInfo::Global { ty, .. } => {
                let _ = instance::global_value(&store, instance, name);
                let _ =
                    instance::set_global_value(&mut store, instance, name, input(u, Some(*ty))?);
            }
            ExternInfo::Table { .. } => {}
        }
        if u.ratio(1, 8)? {
            let _ = store.set_fuel(u.int_in_range(0..=FUEL_LIMIT)?);
        }
        let _ = store.fuel();
    }
    let _ = store.take_streams();
    Ok(())
}

/// Drives a call to its end as the Elixir side would. `Ok(true)` when it returned results.
fn drive(
    u: &mut Unstructured,
    store: &mut Store,
    instance: wasmi::Instance,
    specs: &[ImportSpec],
    mut step: std::result::Result<Step, wasmex_core::Error>,
    depth: u32,
    reached: &mut Reached,
) -> Result<bool> {
    for _ in 0..MAX_STEPS {
        step = match step {
            Err(error) => {
                count_error(&error);
                return Ok(false);
            }
            Ok(Step::Done(_)) => return Ok(true),
            Ok(Step::Suspended(Suspended::Yield(call))) => call.resume(store),
            Ok(Step::Suspended(Suspended::Heavy(call))) => call.resume(store),
            Ok(Step::Suspended(Suspended::Sleep(call))) => {
                // A real caller waits; here the sleep is over at once.
                call.resume(store)
            }
            Ok(Step::Suspended(Suspended::Host(call))) => {
                reached.host_calls += 1;
                match answer(u, store, instance, specs, call, depth, reached)? {
                    Some(step) => step,
                    None => return Ok(false),
                }
            }
        };
    }
    Ok(false)
}

/// Answers a host call: with results of the right types, with arbitrary values, after a
/// nested call into the guest, or by dropping the call.
fn answer(
    u: &mut Unstructured,
    store: &mut Store,
    instance: wasmi::Instance,
    specs: &[ImportSpec],
    call: HostCall,
    depth: u32,
    reached: &mut Reached,
) -> Result<Option<std::result::Result<Step, wasmex_core::Error>>> {
    let import = call.request().import;
    let choice = u.int_in_range(0..=9)?;
    if choice <= 1 {
        // The caller died: the suspended call is dropped.
        return Ok(None);
    }
    if choice <= 3 && depth < MAX_NESTING {
        // A nested call into an export while this call waits.
        let names: Vec<String> = instance
            .exports(store.wasmi())
            .filter(|export| export.clone().into_func().is_some())
            .map(|export| export.name().to_string())
            .collect();
        if let Some(name) = pick(u, &names)? {
            if let Ok(func) = instance::func(store, instance, name) {
                let ty = func.ty(store.wasmi());
                let inputs = ty
                    .params()
                    .iter()
                    .map(|ty| input(u, Some(*ty)))
                    .collect::<Result<Vec<_>>>()?;
                let step = store.call(func, inputs.into_iter());
                drive(u, store, instance, specs, step, depth + 1, reached)?;
            }
        }
    }
    let results = if u.ratio(1, 10)? {
        // Arbitrary values: wrong count or types must be refused.
        let count = u.int_in_range(0..=3)?;
        (0..count)
            .map(|_| input(u, None))
            .collect::<Result<Vec<_>>>()?
    } else {
        let types = specs
            .get(import as usize)
            .map(|spec| spec.ty.results().to_vec())
            .unwrap_or_default();
        types
            .iter()
            .map(|ty| input(u, Some(*ty)))
            .collect::<Result<Vec<_>>>()?
    };
    Ok(Some(call.resume(store, results.into_iter())))
}

/// How often each error (its first words) ended a call: to see what the fuzzer reaches.
pub fn error_counts() -> Vec<(String, u64)> {
    let counts = ERRORS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut counts: Vec<(String, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    counts.sort_by_key(|count| std::cmp::Reverse(count.1));
    counts
}

static ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn count_error(error: &wasmex_core::Error) {
    let text: String = error.to_string().chars().take(48).collect();
    let mut counts = ERRORS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *counts.entry(text).or_default() += 1;
}

fn engine_options(u: &mut Unstructured) -> Result<EngineOptions> {
    let features = Features {
        floats: u.ratio(9, 10)?,
        simd: u.ratio(9, 10)?,
        relaxed_simd: u.ratio(9, 10)?,
        memory64: u.ratio(1, 3)?,
        multi_memory: u.ratio(9, 10)?,
        bulk_memory: u.ratio(9, 10)?,
        reference_types: u.ratio(9, 10)?,
        tail_call: u.ratio(9, 10)?,
        extended_const: u.ratio(9, 10)?,
        multi_value: u.ratio(9, 10)?,
        mutable_global: u.ratio(9, 10)?,
        sign_extension: u.ratio(9, 10)?,
        saturating_float_to_int: u.ratio(9, 10)?,
        custom_page_sizes: u.ratio(1, 3)?,
        wide_arithmetic: u.ratio(1, 3)?,
    };
    Ok(EngineOptions {
        consume_fuel: u.arbitrary()?,
        compilation_mode: if u.arbitrary()? {
            CompilationMode::Eager
        } else {
            CompilationMode::LazyTranslation
        },
        max_recursion_depth: if u.ratio(1, 4)? {
            Some(u.int_in_range(0..=5_000)?)
        } else {
            None
        },
        max_stack_height: if u.ratio(1, 4)? {
            Some(u.int_in_range(0..=4_000_000)?)
        } else {
            None
        },
        features,
    })
}

fn module_bytes(u: &mut Unstructured, options: &EngineOptions) -> Result<Vec<u8>> {
    Ok(match u.int_in_range(0..=9)? {
        0 => u.arbitrary()?,
        1 => {
            let mut bytes = b"\0asm\x01\0\0\0".to_vec();
            bytes.extend(u.arbitrary::<Vec<u8>>()?);
            bytes
        }
        choice => {
            let mut bytes = smith_module(u, options)?;
            if choice == 2 {
                mutate(u, &mut bytes)?;
            }
            bytes
        }
    })
}

fn smith_module(u: &mut Unstructured, options: &EngineOptions) -> Result<Vec<u8>> {
    let mut config: wasm_smith::Config = u.arbitrary()?;
    let features = options.features;
    // Proposals wasmi does not implement.
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.custom_descriptors_enabled = false;
    config.compact_imports_enabled = false;
    config.acquire_release_atomics_enabled = false;
    config.multibyte_array_access_enabled = false;
    // Mostly what the engine accepts; sometimes not, to exercise validation.
    if u.ratio(9, 10)? {
        config.allow_floats &= features.floats;
        config.simd_enabled &= features.simd;
        config.relaxed_simd_enabled &= features.relaxed_simd && features.simd;
        config.memory64_enabled &= features.memory64;
        config.bulk_memory_enabled &= features.bulk_memory;
        config.reference_types_enabled &= features.reference_types;
        config.tail_call_enabled &= features.tail_call;
        config.extended_const_enabled &= features.extended_const;
        config.multi_value_enabled &= features.multi_value;
        config.sign_extension_ops_enabled &= features.sign_extension;
        config.saturating_float_to_int_enabled &= features.saturating_float_to_int;
        config.custom_page_sizes_enabled &= features.custom_page_sizes;
        config.wide_arithmetic_enabled &= features.wide_arithmetic;
        if !features.multi_memory {
            config.max_memories = config.max_memories.min(1);
        }
    }
    // Sizes around the store's limits, above and below.
    config.max_memory32_bytes = config.max_memory32_bytes.min(4 * MEMORY_LIMIT as u64);
    config.max_memory64_bytes = config.max_memory64_bytes.min(4 * MEMORY_LIMIT as u128);
    config.max_table_elements = config.max_table_elements.min(4 * TABLE_LIMIT as u64);
    // Half the modules import only functions (from these), so they instantiate with
    // Elixir-style imports and call them; the others import anything and mostly fail to.
    if u.arbitrary()? {
        config.available_imports = Some(available_imports().to_vec());
        config.max_imports = config.max_imports.max(4);
    }
    let module = wasm_smith::Module::new(config, u)?;
    Ok(module.to_bytes())
}

/// Flips, inserts or removes a few bytes.
fn mutate(u: &mut Unstructured, bytes: &mut Vec<u8>) -> Result<()> {
    for _ in 0..u.int_in_range(1..=8)? {
        if bytes.is_empty() {
            bytes.push(u.arbitrary()?);
            continue;
        }
        let at = u.choose_index(bytes.len())?;
        match u.int_in_range(0..=2)? {
            0 => bytes[at] = u.arbitrary()?,
            1 => bytes.insert(at, u.arbitrary()?),
            _ => {
                bytes.remove(at);
            }
        }
    }
    Ok(())
}

/// A value as an Elixir caller might give it for `ty`: usually fitting, sometimes not.
fn input(u: &mut Unstructured, ty: Option<ValType>) -> Result<Input> {
    let fitting = ty.is_some() && u.ratio(29, 30)?;
    Ok(match (fitting, ty) {
        (true, Some(ValType::I32)) => Input::Int(u.arbitrary::<i32>()?.into()),
        (true, Some(ValType::I64)) => Input::Int(u.arbitrary::<i64>()?.into()),
        (true, Some(ValType::F32 | ValType::F64)) => Input::Float(u.arbitrary()?),
        (true, Some(ValType::V128)) => Input::Uint(u.arbitrary()?),
        _ => match u.int_in_range(0..=9)? {
            0 => Input::Int(u.arbitrary()?),
            1 => Input::Uint(u.arbitrary()?),
            2 => Input::BigInt,
            3 => Input::Float(u.arbitrary()?),
            4 => Input::Nan,
            5 => Input::Infinity,
            6 => Input::NegInfinity,
            7 => Input::Other(TermKind::Atom, "nil".into()),
            8 => Input::Other(TermKind::List, "a list".into()),
            _ => Input::Int(u.int_in_range(-2..=2)?),
        },
    })
}

/// A number near `around`: below, at or just past it, or anything.
fn near(u: &mut Unstructured, around: u64) -> Result<u64> {
    Ok(match u.int_in_range(0..=3)? {
        0 => u.int_in_range(0..=around)?,
        1 => around.saturating_add(u.int_in_range(0..=16)?),
        2 => around.saturating_sub(u.int_in_range(0..=16)?),
        _ => u.arbitrary()?,
    })
}

fn pick<'a, T>(u: &mut Unstructured, items: &'a [T]) -> Result<Option<&'a T>> {
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(&items[u.choose_index(items.len())?]))
}
