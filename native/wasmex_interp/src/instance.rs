//! `Wasmex.Instance`: instantiation with Elixir imports and links, export look-ups,
//! globals. Calls are in [`crate::call`].

use crate::{module::ModuleResource, reply::Done, store::StoreResource, value};
use rustler::{Env, ResourceArc, Term};
use wasmex_core::{
    imports::ImportSpec,
    instance::{self, Link},
    module::START_EXPORT,
    Error,
};
use wasmi::{ExternType, FuncType};

/// An instance, tied to the store it lives in.
pub(crate) struct InstanceResource {
    pub(crate) store_id: u64,
    pub(crate) instance: wasmi::Instance,
    /// The instance's module, for questions that need no store (which exports exist).
    module: wasmi::Module,
}

// rustler returns NIF results through `catch_unwind`. A panic cannot leave this resource
// broken in a way Elixir could observe: see `crate::store` for the one mutable part.
impl std::panic::RefUnwindSafe for InstanceResource {}

#[rustler::resource_impl]
impl rustler::Resource for InstanceResource {}

impl InstanceResource {
    fn new(
        store: &StoreResource,
        instance: wasmi::Instance,
        module: wasmi::Module,
    ) -> ResourceArc<Self> {
        ResourceArc::new(Self {
            store_id: store.id,
            instance,
            module,
        })
    }
}

/// An Elixir import as Elixir sends it: `{namespace, name, param_types, result_types}`.
type ImportTerm<'a> = (String, String, Term<'a>, Term<'a>);

/// The most parameters or results wasmi accepts in a function type.
const MAX_TYPES: usize = 1_000;

fn import_spec((module, name, params, results): ImportTerm) -> Result<ImportSpec, Error> {
    let invalid = |why: &str| Error::InvalidImport(module.clone(), name.clone(), why.into());
    let types = |terms: Term| -> Result<Vec<_>, Error> {
        let types = value::list(terms)
            .map_err(|_| invalid("params and results must be lists of types"))?
            .map(|term| {
                value::decode_type(term)
                    .ok_or_else(|| invalid("types must be :i32, :i64, :f32, :f64 or :v128"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if types.len() > MAX_TYPES {
            return Err(invalid("too many params or results"));
        }
        Ok(types)
    };
    let ty = FuncType::new(types(params)?, types(results)?);
    Ok(ImportSpec { module, name, ty })
}

/// An instance and the instances whose start functions must run (see `wasmex_core::module`).
type Instantiated = (
    ResourceArc<InstanceResource>,
    Vec<ResourceArc<InstanceResource>>,
);

fn new(
    env: Env,
    store: ResourceArc<StoreResource>,
    module: ResourceArc<ModuleResource>,
    imports: Vec<ImportTerm>,
    links: Vec<(String, ResourceArc<ModuleResource>)>,
) -> Result<Instantiated, Error> {
    let specs = imports
        .into_iter()
        .map(import_spec)
        .collect::<Result<Vec<_>, _>>()?;
    let links: Vec<Link> = links
        .into_iter()
        .map(|(name, module)| Link {
            name,
            module: module.module.clone(),
        })
        .collect();
    let instantiated = StoreResource::with_checked_out(&store, env, |checked_out| {
        instance::instantiate(checked_out, &module.module, &specs, &links)
    })?;

    let instance =
        InstanceResource::new(&store, instantiated.instance, module.module.wasmi.clone());
    let starts = instantiated
        .pending_starts
        .into_iter()
        .map(|(start, module)| InstanceResource::new(&store, start, module))
        .collect();
    Ok((instance, starts))
}

// Two schedules: the Elixir side instantiates modules of more than 64 KB (their data and
// element segments are copied) on a dirty scheduler.

#[rustler::nif(name = "instance_new")]
fn new_normal(
    env: Env,
    store: ResourceArc<StoreResource>,
    module: ResourceArc<ModuleResource>,
    imports: Vec<ImportTerm>,
    links: Vec<(String, ResourceArc<ModuleResource>)>,
) -> Result<Instantiated, Error> {
    new(env, store, module, imports, links)
}

#[rustler::nif(name = "instance_new_dirty", schedule = "DirtyCpu")]
fn new_dirty(
    env: Env,
    store: ResourceArc<StoreResource>,
    module: ResourceArc<ModuleResource>,
    imports: Vec<ImportTerm>,
    links: Vec<(String, ResourceArc<ModuleResource>)>,
) -> Result<Instantiated, Error> {
    new(env, store, module, imports, links)
}

#[rustler::nif(name = "instance_function_export_exists")]
fn function_export_exists(
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
) -> Result<bool, Error> {
    store.check(instance.store_id, "instance")?;
    let exists = name != START_EXPORT
        && matches!(instance.module.get_export(name), Some(ExternType::Func(_)));
    Ok(exists)
}

#[rustler::nif(name = "instance_get_global_value")]
fn get_global_value<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
) -> Result<Term<'a>, Error> {
    store.check(instance.store_id, "instance")?;
    let value = store.with(env, |store| {
        instance::global_value(store, instance.instance, name)
    })?;
    Ok(value::encode(env, &value))
}

#[rustler::nif(name = "instance_set_global_value")]
fn set_global_value(
    env: Env,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
    new_value: Term,
) -> Done {
    let input = value::input(new_value);
    Done(store.check(instance.store_id, "instance").and_then(|()| {
        store.with(env, |store| {
            instance::set_global_value(store, instance.instance, name, input)
        })
    }))
}
