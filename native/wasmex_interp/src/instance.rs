//! `Wasmex.Instance`: instantiation with Elixir imports and links, export look-ups,
//! globals. Calls are in [`crate::call`].

use crate::{
    module::ModuleResource,
    reply::{self, Answer, Refusal},
    schedule::{self, twin, Schedule, INSTANTIATE_BYTES},
    store::StoreResource,
    value,
};
use rustler::{Encoder, Env, NifResult, ResourceArc, Term};
use wasmex_core::{
    imports::ImportSpec,
    instance::{self, Link},
    module::{self, Module},
    Error,
};
use wasmi::FuncType;

/// An instance, tied to the store it lives in.
pub(crate) struct InstanceResource {
    pub(crate) store_id: u64,
    pub(crate) instance: wasmi::Instance,
    /// The instance's module, for questions that need no store (which exports exist).
    module: wasmi::Module,
}

resource!(InstanceResource);

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

twin!(new(store, module, imports, links) => "instance_new_nif", "instance_new_dirty_nif",
    (store: ResourceArc<StoreResource>, module: ResourceArc<ModuleResource>,
     imports: Term<'a>, links: Vec<(String, ResourceArc<ModuleResource>)>)
    -> NifResult<Term<'a>>);

/// Instantiates on a normal scheduler only when what instantiation allocates and copies is
/// small (see `crate::schedule::instantiation_work`). The imports are counted before they
/// are decoded, and only up to [`schedule::NORMAL_IMPORTS`]: decoding, or even counting,
/// 200,000 of them is work for the dirty twin.
fn new<'a>(
    schedule: Schedule,
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    module: ResourceArc<ModuleResource>,
    imports: Term<'a>,
    links: Vec<(String, ResourceArc<ModuleResource>)>,
) -> NifResult<Term<'a>> {
    let import_count = imports
        .into_list_iterator()?
        .take(schedule::NORMAL_IMPORTS + 1)
        .count();
    let bytes = links
        .iter()
        .map(|(_, linked)| &linked.module)
        .chain([&module.module])
        .map(Module::instantiation_bytes)
        .fold(0, u64::saturating_add);
    let work = schedule::instantiation_work(bytes, import_count);
    if let Err(refusal) = schedule.admit(work, INSTANTIATE_BYTES) {
        return Ok(refusal.encode(env));
    }
    let imports: Vec<ImportTerm> = imports.decode()?;
    let specs: Vec<ImportSpec> = match imports.into_iter().map(import_spec).collect() {
        Ok(specs) => specs,
        Err(error) => return Ok(Refusal::from(error).encode(env)),
    };
    let answer = instantiate(env, &store, &module, &specs, links);
    Ok(reply::ok(env, answer))
}

fn instantiate(
    env: Env,
    store: &ResourceArc<StoreResource>,
    module: &ModuleResource,
    specs: &[ImportSpec],
    links: Vec<(String, ResourceArc<ModuleResource>)>,
) -> Answer<Instantiated> {
    let links: Vec<Link> = links
        .into_iter()
        .map(|(name, module)| Link {
            name,
            module: module.module.clone(),
        })
        .collect();
    let instantiated = StoreResource::with_checked_out(store, env, |checked_out| {
        instance::instantiate(checked_out, &module.module, specs, &links)
    })?;
    let instance = InstanceResource::new(store, instantiated.instance, module.module.wasmi.clone());
    let starts = instantiated
        .pending_starts
        .into_iter()
        .map(|(start, module)| InstanceResource::new(store, start, module))
        .collect();
    Ok((instance, starts))
}

#[rustler::nif(name = "instance_function_export_exists")]
fn function_export_exists(
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
) -> Result<bool, Error> {
    store.check(instance.store_id, "instance")?;
    Ok(module::is_func_export(&instance.module, name))
}

#[rustler::nif(name = "instance_get_global_value_nif")]
fn get_global_value<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
) -> Term<'a> {
    let handle = (instance.store_id, "instance");
    let answer = StoreResource::with_handle(&store, env, handle, |store| {
        instance::global_value(store, instance.instance, name)
    });
    reply::ok(env, answer.map(|value| value::encode(env, &value)))
}

#[rustler::nif(name = "instance_set_global_value_nif")]
fn set_global_value<'a>(
    env: Env<'a>,
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
    new_value: Term<'a>,
) -> Term<'a> {
    let input = value::input(new_value);
    let handle = (instance.store_id, "instance");
    let answer = StoreResource::with_handle(&store, env, handle, |store| {
        instance::set_global_value(store, instance.instance, name, input)
    });
    reply::done(env, answer)
}
