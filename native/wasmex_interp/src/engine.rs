//! `Wasmex.Engine` and `Wasmex.EngineConfig`.

use rustler::{Atom, NifStruct, ResourceArc};
use wasmex_core::engine::EngineOptions;

/// An engine: compiled code lives here, shared by the stores and modules made with it.
pub(crate) struct EngineResource {
    pub(crate) engine: wasmi::Engine,
    pub(crate) options: EngineOptions,
}

// rustler returns NIF results through `catch_unwind`. A panic cannot leave this resource
// broken in a way Elixir could observe: see `crate::store` for the one mutable part.
impl std::panic::RefUnwindSafe for EngineResource {}

#[rustler::resource_impl]
impl rustler::Resource for EngineResource {}

impl EngineResource {
    /// A new engine resource with `options`.
    pub(crate) fn new(options: &EngineOptions) -> ResourceArc<Self> {
        ResourceArc::new(Self {
            engine: options.engine(),
            options: options.clone(),
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
    memory64: bool,
    cranelift_opt_level: Atom,
    wasm_backtrace_details: bool,
    debug_info: bool,
    wasm_component_model: bool,
}

impl From<&ExEngineConfig> for EngineOptions {
    fn from(config: &ExEngineConfig) -> Self {
        EngineOptions {
            consume_fuel: config.consume_fuel,
            memory64: config.memory64,
            ..EngineOptions::default()
        }
    }
}

#[rustler::nif(name = "engine_new")]
fn new(config: ExEngineConfig) -> ExEngine {
    let options = EngineOptions::from(&config);
    ExEngine {
        resource: EngineResource::new(&options),
    }
}
