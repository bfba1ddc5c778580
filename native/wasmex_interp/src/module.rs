//! `Wasmex.Module`: compiling, and describing imports and exports.

use crate::{
    atoms,
    engine::EngineResource,
    reply,
    schedule::{twin, Schedule, COMPILE_BYTES},
    store::StoreResource,
    value,
};
use rustler::{Binary, Encoder, Env, NifResult, NifStruct, ResourceArc, Term};
use std::collections::BTreeMap;
use wasmex_core::{
    module::{ExternInfo, Module},
    Error,
};

/// A compiled module; immutable, shared by every instance made from it.
pub(crate) struct ModuleResource {
    pub(crate) module: Module,
}

resource!(ModuleResource);

/// `%Wasmex.Module{}`.
#[derive(NifStruct)]
#[module = "Wasmex.Module"]
pub(crate) struct ExModule {
    resource: ResourceArc<ModuleResource>,
}

impl ExModule {
    pub(crate) fn new(module: Module) -> Self {
        Self {
            resource: ResourceArc::new(ModuleResource { module }),
        }
    }
}

twin!(compile(store, bytes) => "module_compile_nif", "module_compile_dirty_nif",
    (store: ResourceArc<StoreResource>, bytes: Binary<'a>) -> Term<'a>);

/// Compiles with the store's engine; the store itself is not used, so this never waits for
/// it.
fn compile<'a>(
    schedule: Schedule,
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    bytes: Binary<'a>,
) -> Term<'a> {
    let answer = schedule
        .admit(bytes.len() as u64, COMPILE_BYTES)
        .and_then(|()| Ok(Module::compile(&store.engine, bytes.as_slice())?));
    reply::ok(env, answer.map(ExModule::new))
}

#[rustler::nif(name = "module_serialize", schedule = "DirtyCpu")]
fn serialize(env: Env, module: ResourceArc<ModuleResource>) -> Binary {
    reply::binary(env, &module.module.serialize())
}

#[rustler::nif(name = "module_unsafe_deserialize", schedule = "DirtyCpu")]
fn unsafe_deserialize(
    bytes: Binary,
    engine: ResourceArc<EngineResource>,
) -> Result<ExModule, Error> {
    Ok(ExModule::new(Module::deserialize(
        &engine.engine,
        bytes.as_slice(),
    )?))
}

#[rustler::nif(name = "module_name")]
fn name(module: ResourceArc<ModuleResource>) -> Option<String> {
    module.module.name()
}

// Dirty: a module may have a hundred thousand exports.
#[rustler::nif(name = "module_exports", schedule = "DirtyCpu")]
fn exports(env: Env, module: ResourceArc<ModuleResource>) -> NifResult<Term> {
    let mut map = Term::map_new(env);
    for (name, info) in module.module.exports() {
        map = map.map_put(name, encode_info(env, &info)?)?;
    }
    Ok(map)
}

#[rustler::nif(name = "module_imports", schedule = "DirtyCpu")]
fn imports(env: Env, module: ResourceArc<ModuleResource>) -> NifResult<Term> {
    let mut namespaces: BTreeMap<String, Term> = BTreeMap::new();
    for (namespace, name, info) in module.module.imports() {
        let entries = namespaces
            .remove(&namespace)
            .unwrap_or_else(|| Term::map_new(env));
        namespaces.insert(namespace, entries.map_put(name, encode_info(env, &info)?)?);
    }
    let mut map = Term::map_new(env);
    for (namespace, entries) in namespaces {
        map = map.map_put(namespace, entries)?;
    }
    Ok(map)
}

/// `{:fn, params, results}`, `{:global, %{...}}`, `{:memory, %{...}}` or `{:table, %{...}}`.
fn encode_info<'a>(env: Env<'a>, info: &ExternInfo) -> NifResult<Term<'a>> {
    let term = match info {
        ExternInfo::Func { params, results } => (
            atoms::fn_(),
            value::encode_types(env, params),
            value::encode_types(env, results),
        )
            .encode(env),
        ExternInfo::Global { ty, mutable } => {
            let mutability = if *mutable {
                atoms::var()
            } else {
                atoms::const_()
            };
            let details = Term::map_new(env)
                .map_put(atoms::mutability(), mutability)?
                .map_put(atoms::type_(), value::encode_type(env, *ty))?;
            (atoms::global(), details).encode(env)
        }
        ExternInfo::Memory {
            minimum,
            maximum,
            shared,
            memory64,
        } => {
            let details = limits(env, *minimum, *maximum)?
                .map_put(atoms::shared(), shared)?
                .map_put(atoms::memory64(), memory64)?;
            (atoms::memory(), details).encode(env)
        }
        ExternInfo::Table {
            minimum,
            maximum,
            element,
        } => {
            let details = limits(env, *minimum, *maximum)?
                .map_put(atoms::type_(), value::encode_type(env, *element))?;
            (atoms::table(), details).encode(env)
        }
    };
    Ok(term)
}

/// `%{minimum: n, maximum: m}` of a memory or table. Wasmex compat: `maximum:` appears
/// only when the module declares one.
fn limits(env: Env<'_>, minimum: u64, maximum: Option<u64>) -> NifResult<Term<'_>> {
    let details = Term::map_new(env).map_put(atoms::minimum(), minimum)?;
    match maximum {
        Some(maximum) => details.map_put(atoms::maximum(), maximum),
        None => Ok(details),
    }
}
