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
    instance::{self, Instantiated, Link},
    module::Module,
    store::Store,
    Error,
};
use wasmi::{Func, FuncType};

/// An instance, tied to the store it lives in.
pub(crate) struct InstanceResource {
    pub(crate) store_id: u64,
    pub(crate) instance: wasmi::Instance,
    /// The instance's module, for questions that need no store (which exports exist).
    module: Module,
    /// Its start function, run once by `instance_call_start` before the instance is used.
    pub(crate) start: Option<Func>,
}

resource!(InstanceResource);

impl InstanceResource {
    fn new(store: &StoreResource, instantiated: Instantiated, module: Module) -> ResourceArc<Self> {
        ResourceArc::new(Self {
            store_id: store.id,
            instance: instantiated.instance,
            module,
            start: instantiated.start,
        })
    }

    /// The exported function `name`, as users see the exports (the hidden start export is
    /// not one).
    pub(crate) fn func(&self, store: &Store, name: &str) -> Result<Func, Error> {
        instance::exported_func(store, self.instance, &self.module, name)
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

twin!(new(store, module, imports, links) => "instance_new_nif", "instance_new_dirty_nif",
    (store: ResourceArc<StoreResource>, module: ResourceArc<ModuleResource>,
     imports: Term<'a>, links: Vec<(String, ResourceArc<InstanceResource>)>)
    -> NifResult<Term<'a>>);

/// Instantiates one module, its imports found in `imports` and in the exports of `links`
/// (instances of the same store, under their names), and answers `{instance, start?}`:
/// whether its start function must run (`instance_call_start`) before it is used.
/// Elixir instantiates linked modules one at a time this way, in order, each one's start
/// function run before the next is instantiated.
///
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
    links: Vec<(String, ResourceArc<InstanceResource>)>,
) -> NifResult<Term<'a>> {
    let import_count = imports
        .into_list_iterator()?
        .take(schedule::NORMAL_IMPORTS + 1)
        .count();
    let bytes = module.module.instantiation_bytes();
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
    links: Vec<(String, ResourceArc<InstanceResource>)>,
) -> Answer<(ResourceArc<InstanceResource>, bool)> {
    let links = links
        .into_iter()
        .map(|(name, linked)| {
            store.check(linked.store_id, "linked instance")?;
            Ok(Link {
                name,
                instance: linked.instance,
                module: linked.module.clone(),
            })
        })
        .collect::<Result<Vec<Link>, Error>>()?;
    let instantiated = StoreResource::with_checked_out(store, env, |checked_out| {
        instance::instantiate(checked_out, &module.module, specs, &links)
    })?;
    let has_start = instantiated.start.is_some();
    let instance = InstanceResource::new(store, instantiated, module.module.clone());
    Ok((instance, has_start))
}

#[rustler::nif(name = "instance_function_export_exists")]
fn function_export_exists(
    store: ResourceArc<StoreResource>,
    instance: ResourceArc<InstanceResource>,
    name: &str,
) -> Result<bool, Error> {
    store.check(instance.store_id, "instance")?;
    Ok(instance.module.is_func_export(name))
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
