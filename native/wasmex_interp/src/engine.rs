//! `Wasmex.Engine` and `Wasmex.EngineConfig`.

use crate::reply;
use rustler::{Atom, Binary, Env, NifResult, NifStruct, ResourceArc};
use wasmex_core::{
    engine::{CompilationMode, Engine, EngineOptions, Features},
    module::Module,
    Error,
};

/// An engine: compiled code lives here, shared by the stores and modules made with it.
pub(crate) struct EngineResource {
    pub(crate) engine: Engine,
}

resource!(EngineResource);

impl EngineResource {
    /// A new engine resource with `options`.
    pub(crate) fn new(options: &EngineOptions) -> ResourceArc<Self> {
        ResourceArc::new(Self {
            engine: options.engine(),
        })
    }
}

/// `%Wasmex.Engine{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Engine"]
pub(crate) struct ExEngine {
    resource: ResourceArc<EngineResource>,
}

/// `%Wasmex.EngineConfig{}`. The Cranelift and debug fields are accepted and have no
/// effect on an interpreter.
#[derive(NifStruct)]
#[module = "Wasmex.EngineConfig"]
// Wasmex compat: the JIT-only fields are decoded (so the struct is checked) and ignored.
#[allow(dead_code)]
pub(crate) struct ExEngineConfig {
    consume_fuel: bool,
    cranelift_opt_level: Atom,
    wasm_backtrace_details: bool,
    debug_info: bool,
    wasm_component_model: bool,
    compilation_mode: Atom,
    max_recursion_depth: Option<usize>,
    max_stack_height: Option<usize>,
    memory64: bool,
    floats: bool,
    simd: bool,
    relaxed_simd: bool,
    multi_memory: bool,
    bulk_memory: bool,
    reference_types: bool,
    tail_call: bool,
    extended_const: bool,
    multi_value: bool,
    mutable_global: bool,
    sign_extension: bool,
    saturating_float_to_int: bool,
    custom_page_sizes: bool,
    wide_arithmetic: bool,
}

impl ExEngineConfig {
    fn options(&self) -> NifResult<EngineOptions> {
        let compilation_mode = match self.compilation_mode {
            mode if mode == crate::atoms::eager() => CompilationMode::Eager,
            mode if mode == crate::atoms::lazy_translation() => CompilationMode::LazyTranslation,
            _ => return Err(rustler::Error::BadArg),
        };
        Ok(EngineOptions {
            consume_fuel: self.consume_fuel,
            compilation_mode,
            max_recursion_depth: self.max_recursion_depth,
            max_stack_height: self.max_stack_height,
            features: Features {
                floats: self.floats,
                simd: self.simd,
                relaxed_simd: self.relaxed_simd,
                memory64: self.memory64,
                multi_memory: self.multi_memory,
                bulk_memory: self.bulk_memory,
                reference_types: self.reference_types,
                tail_call: self.tail_call,
                extended_const: self.extended_const,
                multi_value: self.multi_value,
                mutable_global: self.mutable_global,
                sign_extension: self.sign_extension,
                saturating_float_to_int: self.saturating_float_to_int,
                custom_page_sizes: self.custom_page_sizes,
                wide_arithmetic: self.wide_arithmetic,
            },
        })
    }
}

#[rustler::nif(name = "engine_new")]
fn new(config: ExEngineConfig) -> NifResult<ExEngine> {
    let options = config.options()?;
    Ok(ExEngine {
        resource: EngineResource::new(&options),
    })
}

/// Compiles `bytes` with `engine` and serializes the result (`Module.serialize/1`'s
/// format): what `Module.unsafe_deserialize/2` loads without validating again.
#[rustler::nif(name = "engine_precompile_module", schedule = "DirtyCpu")]
fn precompile_module<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    bytes: Binary,
) -> Result<Binary<'a>, Error> {
    let module = Module::compile(&engine.engine, bytes.as_slice())?;
    Ok(reply::binary(env, &module.serialize()))
}
