//! Engines: a wasmi engine and the options it was made with; the one place that turns
//! options into a [`wasmi::Config`].
//!
//! Fuel metering is always on inside the engine: it is how a call is cut into slices that
//! each fit a BEAM scheduler's time budget. Whether the *user* meters fuel is a separate,
//! per-store matter ([`crate::store::Store`]).
//!
//! NaN results are canonical on every CPU (wasmi's `deterministic` feature is always on in
//! this build): float code gives the same bits on x86 and ARM.

use std::sync::Arc;
use wasmi::CustomFuelCosts;

/// How Wasm function bodies are turned into wasmi bytecode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CompilationMode {
    /// Validate the whole module up front, translate each function on its first call
    /// (functions bigger than [`LAZY_TRANSLATION_MAX_BYTES`] when the module is compiled).
    ///
    /// Start-up of big modules is fast and, because translation is charged no fuel here,
    /// the fuel a guest uses is the same as with [`CompilationMode::Eager`].
    #[default]
    LazyTranslation,
    /// Validate and translate everything when the module is compiled.
    Eager,
}

/// The Wasm proposals an engine accepts (`Wasmex.EngineConfig`), with wasmi's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Features {
    /// `f32`/`f64` types and instructions.
    pub floats: bool,
    /// 128-bit SIMD.
    pub simd: bool,
    /// Relaxed SIMD.
    pub relaxed_simd: bool,
    /// 64-bit memories.
    pub memory64: bool,
    /// Several memories per module.
    pub multi_memory: bool,
    /// Bulk memory operations.
    pub bulk_memory: bool,
    /// Reference types.
    pub reference_types: bool,
    /// Tail calls.
    pub tail_call: bool,
    /// Extended constant expressions.
    pub extended_const: bool,
    /// Several results per function or block.
    pub multi_value: bool,
    /// Mutable imported and exported globals.
    pub mutable_global: bool,
    /// Sign-extension operators.
    pub sign_extension: bool,
    /// Non-trapping float-to-int conversions.
    pub saturating_float_to_int: bool,
    /// Custom page sizes.
    pub custom_page_sizes: bool,
    /// Wide arithmetic (128-bit results).
    pub wide_arithmetic: bool,
}

impl Default for Features {
    fn default() -> Self {
        Self {
            floats: true,
            simd: true,
            relaxed_simd: true,
            memory64: false,
            multi_memory: true,
            bulk_memory: true,
            reference_types: true,
            tail_call: true,
            extended_const: true,
            multi_value: true,
            mutable_global: true,
            sign_extension: true,
            saturating_float_to_int: true,
            custom_page_sizes: false,
            wide_arithmetic: false,
        }
    }
}

/// The options of an engine, as `Wasmex.EngineConfig` carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EngineOptions {
    /// Stores made with this engine meter fuel for the user (Wasmex's `consume_fuel`).
    pub consume_fuel: bool,
    /// How function bodies are compiled.
    pub compilation_mode: CompilationMode,
    /// The deepest a call chain may nest before it traps (`call stack exhausted`);
    /// `None` keeps wasmi's 1,000.
    pub max_recursion_depth: Option<usize>,
    /// The most bytes of value stack a call may use before it traps; `None` keeps wasmi's
    /// 1,000,000.
    pub max_stack_height: Option<usize>,
    /// The accepted Wasm proposals.
    pub features: Features,
}

/// wasmi's initial value-stack height; a maximum below it lowers it too.
const MIN_STACK_HEIGHT: usize = 1_000;

/// Function bodies bigger than this (in bytes) are translated when their module is
/// compiled, also with [`CompilationMode::LazyTranslation`]; smaller ones on first call,
/// and a call suspends (as if out of fuel, but charged nothing) once it has translated
/// more than this many bytes in one slice.
///
/// A lazily translated function is translated inside the call slice that first calls it,
/// on the caller's scheduler, at about 10 ns a byte on this project's x86-64 machine (a
/// 7.5 MB function took 54-129 ms there): 16 KiB is about 0.15 ms, well inside a slice's
/// time budget even on a board several times slower. Big modules are compiled on a dirty
/// scheduler, where translating their big functions costs nothing to the BEAM; real-world
/// functions are rarely this big (none in this project's benchmark guests), so lazy
/// start-up stays as fast.
pub const LAZY_TRANSLATION_MAX_BYTES: usize = 16 * 1024;

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
        config.eager_translation_threshold(LAZY_TRANSLATION_MAX_BYTES);
        // Translation costs no fuel, so one slice could otherwise translate a whole module
        // (code in branches not taken costs nothing to run): a call suspends, as if out of
        // fuel, after each 16 KiB translated, and goes on with the same fuel.
        config.translation_yield(LAZY_TRANSLATION_MAX_BYTES as u64);
        if let Some(depth) = self.max_recursion_depth {
            config.set_max_recursion_depth(depth.max(1));
        }
        if let Some(height) = self.max_stack_height {
            // wasmi panics on a maximum below its minimum: lower the minimum first.
            let height = height.max(1);
            if height < MIN_STACK_HEIGHT {
                config.set_min_stack_height(height);
            }
            config.set_max_stack_height(height);
        }
        let f = &self.features;
        config
            .floats(f.floats)
            .wasm_simd(f.simd)
            .wasm_relaxed_simd(f.relaxed_simd && f.simd)
            .wasm_memory64(f.memory64)
            .wasm_multi_memory(f.multi_memory)
            .wasm_bulk_memory(f.bulk_memory)
            .wasm_reference_types(f.reference_types)
            .wasm_tail_call(f.tail_call)
            .wasm_extended_const(f.extended_const)
            .wasm_multi_value(f.multi_value)
            .wasm_mutable_global(f.mutable_global)
            .wasm_sign_extension(f.sign_extension)
            .wasm_saturating_float_to_int(f.saturating_float_to_int)
            .wasm_custom_page_sizes(f.custom_page_sizes)
            .wasm_wide_arithmetic(f.wide_arithmetic);
        config
    }

    /// A new engine with these options.
    pub fn engine(&self) -> Engine {
        Engine {
            wasmi: wasmi::Engine::new(&self.config()),
            options: Arc::new(self.clone()),
        }
    }

    /// What a module's validation depends on, as text: two engines with the same
    /// fingerprint accept exactly the same modules. Part of every serialized module.
    pub fn fingerprint(&self) -> String {
        let f = &self.features;
        let flags = [
            ("floats", f.floats),
            ("simd", f.simd),
            ("relaxed_simd", f.relaxed_simd && f.simd),
            ("memory64", f.memory64),
            ("multi_memory", f.multi_memory),
            ("bulk_memory", f.bulk_memory),
            ("reference_types", f.reference_types),
            ("tail_call", f.tail_call),
            ("extended_const", f.extended_const),
            ("multi_value", f.multi_value),
            ("mutable_global", f.mutable_global),
            ("sign_extension", f.sign_extension),
            ("saturating_float_to_int", f.saturating_float_to_int),
            ("custom_page_sizes", f.custom_page_sizes),
            ("wide_arithmetic", f.wide_arithmetic),
        ];
        let on: Vec<&str> = flags
            .iter()
            .filter(|(_, enabled)| *enabled)
            .map(|(name, _)| *name)
            .collect();
        format!("wasmi 2.0.0; {}", on.join(","))
    }
}

/// An engine: compiled code lives here, shared by the stores and modules made with it.
///
/// # Note
///
/// wasmi frees compiled code only when the engine is dropped, that is when every store
/// and module made with it is gone.
#[derive(Debug, Clone)]
pub struct Engine {
    wasmi: wasmi::Engine,
    options: Arc<EngineOptions>,
}

impl Engine {
    /// The wasmi engine.
    pub fn wasmi(&self) -> &wasmi::Engine {
        &self.wasmi
    }

    /// The options the engine was made with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// `true` if `a` and `b` are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        wasmi::Engine::same(&a.wasmi, &b.wasmi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_the_features_only() {
        let default = EngineOptions::default();
        let fuel = EngineOptions {
            consume_fuel: true,
            max_recursion_depth: Some(10),
            ..EngineOptions::default()
        };
        assert_eq!(default.fingerprint(), fuel.fingerprint());
        let no_simd = EngineOptions {
            features: Features {
                simd: false,
                ..Features::default()
            },
            ..EngineOptions::default()
        };
        assert_ne!(default.fingerprint(), no_simd.fingerprint());
        assert!(!no_simd.fingerprint().contains("simd"));
    }

    #[test]
    fn small_stack_heights_do_not_panic() {
        for height in [0, 1, 999, 1_000, 1_001, 10_000_000] {
            let options = EngineOptions {
                max_stack_height: Some(height),
                max_recursion_depth: Some(height),
                ..EngineOptions::default()
            };
            let _ = options.engine();
        }
    }
}
