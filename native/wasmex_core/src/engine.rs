//! Engine options and the one place that turns them into a [`wasmi::Config`].
//!
//! Fuel metering is always on inside the engine: it is how a call is cut into slices that
//! each fit a BEAM scheduler's time budget. Whether the *user* meters fuel is a separate,
//! per-store matter ([`crate::store::Store`]).

use wasmi::{CustomFuelCosts, Engine};

/// How Wasm function bodies are turned into wasmi bytecode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CompilationMode {
    /// Validate the whole module up front, translate each function on its first call.
    ///
    /// Start-up of big modules is fast and, because translation is charged no fuel here,
    /// the fuel a guest uses is the same as with [`CompilationMode::Eager`].
    #[default]
    LazyTranslation,
    /// Validate and translate everything when the module is compiled.
    Eager,
}

/// The options of an engine, as `Wasmex.EngineConfig` carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EngineOptions {
    /// Stores made with this engine meter fuel for the user (Wasmex's `consume_fuel`).
    pub consume_fuel: bool,
    /// Accept the memory64 proposal.
    pub memory64: bool,
    /// How function bodies are compiled.
    pub compilation_mode: CompilationMode,
}

impl EngineOptions {
    /// The wasmi configuration these options stand for.
    pub fn config(&self) -> wasmi::Config {
        let mut config = wasmi::Config::default();
        // Always on: slices are fuel budgets. User metering is accounted per store.
        config.consume_fuel(true);
        // Compile work must cost no fuel: a lazily translated callee that ran out of fuel
        // while being translated could not be resumed, and fuel use would depend on
        // which functions happened to be translated already.
        config.fuel_cost(CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        });
        config.compilation_mode(match self.compilation_mode {
            CompilationMode::LazyTranslation => wasmi::CompilationMode::LazyTranslation,
            CompilationMode::Eager => wasmi::CompilationMode::Eager,
        });
        config.wasm_memory64(self.memory64);
        config
    }

    /// A new engine with these options.
    pub fn engine(&self) -> Engine {
        Engine::new(&self.config())
    }
}
