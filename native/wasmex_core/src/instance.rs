//! Instantiating modules (with Elixir imports and linked modules), export look-ups and
//! globals.

use crate::{
    engine::Engine,
    error::{ExportKind, Exports},
    imports::{self, ImportSpec},
    module::Module,
    store::Store,
    value::{self, extern_type_text, Input},
    Error,
};
use wasmi::{
    errors::{ErrorKind, InstantiationError, LinkerError},
    Extern, ExternType, Func, Instance, Linker, Memory, Val,
};

/// An instance, of the same store, whose exports a module's imports from `name` find.
///
/// Linked modules are instantiated one at a time, each one's start function run before
/// the next is instantiated (the spec's order: a start function may write memory that a
/// later module's data segments overwrite).
#[derive(Debug, Clone)]
pub struct Link {
    /// The import module name the linked instance's exports are found under.
    pub name: String,
    /// The linked instance.
    pub instance: Instance,
    /// Its module: which of the instance's exports users see (not the hidden start export).
    pub module: Module,
}

/// The result of [`instantiate`].
#[derive(Debug)]
pub struct Instantiated {
    /// The instance.
    pub instance: Instance,
    /// Its start function, still to run (as an ordinary call) before the instance is used
    /// or anything else is instantiated.
    pub start: Option<Func>,
}

/// Instantiates `module` in `store`, with `imports` (Elixir callbacks) and the exports of
/// `links`.
///
/// The start function does not run here: see [`Instantiated::start`].
///
/// # Errors
///
/// [`Error::ForeignEngine`] for a module of another engine; [`Error::UnknownImport`]
/// for the first import nobody provides (in import order), then
/// [`Error::IncompatibleImport`] for the first provided with the wrong type; other
/// instantiation errors as wasmi words them.
pub fn instantiate(
    store: &mut Store,
    module: &Module,
    imports: &[ImportSpec],
    links: &[Link],
) -> Result<Instantiated, Error> {
    let engine = store.engine().clone();
    if !Engine::same(&engine, &module.engine) {
        return Err(Error::ForeignEngine);
    }
    let mut linker = Linker::new(engine.wasmi());
    // Later definitions win: Elixir imports override built-in ones (WASI) of the same name.
    linker.allow_shadowing(true);
    if store.is_wasi() {
        crate::wasi::add_to_linker(&mut linker)?;
    }
    imports::define(&mut linker, store.wasmi_mut(), imports)?;
    for link in links {
        // Not `Linker::instance`: it would offer the hidden start export too, and a module
        // importing it could run the link's start function again.
        for export in link.instance.exports(store.wasmi()) {
            if link.module.is_visible(export.name()) {
                linker
                    .define(&link.name, export.name(), export.into_extern())
                    .map_err(wasmi::Error::from)?;
            }
        }
    }
    let instance = instantiate_one(&linker, store, module)?;
    let start = start_func(store, instance, module)?;
    Ok(Instantiated { instance, start })
}

fn instantiate_one(
    linker: &Linker<crate::store::Host>,
    store: &mut Store,
    module: &Module,
) -> Result<Instance, Error> {
    // Start functions were moved out of the module at compile time, so instantiation runs
    // no guest code and needs no fuel.
    let memory_size = store.limits().memory_size;
    linker
        .instantiate_and_start(store.wasmi_mut(), &module.wasmi)
        .map_err(|error| match (error.kind(), memory_size) {
            // Wasmex compat: Wasmtime's wording, with the size of the memory refused.
            (
                ErrorKind::Instantiation(InstantiationError::FailedToInstantiateMemory(_)),
                Some(limit),
            ) => match module.memory_over(limit) {
                Some(pages) => Error::Wasm(format!(
                    "memory minimum size of {pages} pages exceeds memory limits"
                )),
                None => Error::from(error),
            },
            _ => import_error(store, error),
        })
}

/// Words import errors as Wasmex does, adding the two types of a mismatch; wasmi resolves
/// imports in order, reporting missing definitions before it compares signatures.
fn import_error(store: &Store, error: wasmi::Error) -> Error {
    use InstantiationError as E;
    let (name, expected, given) = match error.kind() {
        ErrorKind::Linker(LinkerError::MissingDefinition { name, .. }) => {
            return Error::UnknownImport(name.module().into(), name.name().into())
        }
        ErrorKind::Linker(LinkerError::InvalidTypeDefinition {
            name,
            expected,
            found,
        }) => (name, expected.clone(), found.clone()),
        ErrorKind::Instantiation(E::ImportTypeMismatch {
            name,
            expected,
            actual,
        }) => (name, expected.clone(), actual.ty(store.wasmi())),
        ErrorKind::Instantiation(E::FuncTypeMismatch {
            name,
            expected,
            actual,
        }) => (
            name,
            ExternType::from(expected.clone()),
            ExternType::from(actual.clone()),
        ),
        ErrorKind::Instantiation(E::GlobalTypeMismatch {
            name,
            expected,
            actual,
        }) => (name, ExternType::from(*expected), ExternType::from(*actual)),
        ErrorKind::Instantiation(E::TableTypeMismatch {
            name,
            expected,
            actual,
        }) => (name, ExternType::from(*expected), ExternType::from(*actual)),
        ErrorKind::Instantiation(E::MemoryTypeMismatch {
            name,
            expected,
            actual,
        }) => (name, ExternType::from(*expected), ExternType::from(*actual)),
        _ => return Error::from(error),
    };
    Error::IncompatibleImport {
        module: name.module().into(),
        name: name.name().into(),
        expected: extern_type_text(&expected),
        given: extern_type_text(&given),
    }
}

/// The exports of `kind` that `instance` has, those `visible` to users, for the message
/// about one it lacks.
fn exports(
    store: &Store,
    instance: Instance,
    kind: ExportKind,
    visible: &dyn Fn(&str) -> bool,
) -> Exports {
    let names = instance
        .exports(store.wasmi())
        .filter(|export| visible(export.name()))
        .filter(|export| {
            matches!(
                (kind, export.clone().into_extern()),
                (ExportKind::Function, Extern::Func(_))
                    | (ExportKind::Global, Extern::Global(_))
                    | (ExportKind::Memory, Extern::Memory(_))
            )
        })
        .map(|export| export.name());
    Exports::new(kind, names)
}

fn missing_function(
    store: &Store,
    instance: Instance,
    name: &str,
    visible: &dyn Fn(&str) -> bool,
) -> Error {
    Error::MissingFunction {
        name: name.into(),
        exports: exports(store, instance, ExportKind::Function, visible),
    }
}

fn missing_global(store: &Store, instance: Instance, name: &str) -> Error {
    Error::MissingGlobal {
        name: name.into(),
        exports: exports(store, instance, ExportKind::Global, &|_| true),
    }
}

/// The exported function `name` of `instance`, the hidden start export included (users
/// look functions up with [`exported_func`]).
///
/// # Errors
///
/// [`Error::MissingFunction`] when there is no such function export.
pub fn func(store: &Store, instance: Instance, name: &str) -> Result<Func, Error> {
    instance
        .get_func(store.wasmi(), name)
        .ok_or_else(|| missing_function(store, instance, name, &|_| true))
}

/// The exported function `name` of `instance` of `module`, as users see the exports:
/// the hidden start export is not one ([`Module::is_visible`]).
///
/// # Errors
///
/// [`Error::MissingFunction`], naming the functions users see, when there is no such
/// function export.
pub fn exported_func(
    store: &Store,
    instance: Instance,
    module: &Module,
    name: &str,
) -> Result<Func, Error> {
    let visible = |name: &str| module.is_visible(name);
    instance
        .get_func(store.wasmi(), name)
        .filter(|_| visible(name))
        .ok_or_else(|| missing_function(store, instance, name, &visible))
}

/// The start function of `instance` of `module`, moved to [`Module::start_export`] at
/// compile time; `None` when the module has none.
///
/// # Errors
///
/// [`Error::MissingFunction`] when the hidden export is missing (a module of another
/// kind than `instance`'s).
fn start_func(store: &Store, instance: Instance, module: &Module) -> Result<Option<Func>, Error> {
    module
        .start_export()
        .map(|name| func(store, instance, name))
        .transpose()
}

/// The exported memory `name` of `instance`, or its first exported memory for `None`.
///
/// # Errors
///
/// [`Error::NoMemory`] when there is no memory export, [`Error::MissingMemory`] when
/// there is none called `name`.
pub fn memory(store: &Store, instance: Instance, name: Option<&str>) -> Result<Memory, Error> {
    match name {
        Some(name) => {
            instance
                .get_memory(store.wasmi(), name)
                .ok_or_else(|| Error::MissingMemory {
                    name: name.into(),
                    exports: exports(store, instance, ExportKind::Memory, &|_| true),
                })
        }
        None => instance
            .exports(store.wasmi())
            .find_map(|export| export.into_memory())
            .ok_or(Error::NoMemory),
    }
}

/// The value of the exported global `name`.
///
/// # Errors
///
/// [`Error::MissingGlobal`] when there is no such global export;
/// [`Error::ReferenceGlobal`] for a `funcref` or `externref` global.
pub fn global_value(store: &Store, instance: Instance, name: &str) -> Result<Val, Error> {
    let global = instance
        .get_global(store.wasmi(), name)
        .ok_or_else(|| missing_global(store, instance, name))?;
    // Wasmex compat: a reference global is not read (Wasmex returns the same errors).
    match global.get(store.wasmi()) {
        Val::FuncRef(_) => Err(Error::ReferenceGlobal("func")),
        Val::ExternRef(_) => Err(Error::ReferenceGlobal("extern")),
        value => Ok(value),
    }
}

/// Sets the exported global `name` to `input`.
///
/// # Errors
///
/// [`Error::MissingGlobal`], [`Error::ImmutableGlobal`], or [`Error::GlobalValue`] when the
/// input does not fit the global's type.
pub fn set_global_value(
    store: &mut Store,
    instance: Instance,
    name: &str,
    input: Input,
) -> Result<(), Error> {
    let global = instance
        .get_global(store.wasmi(), name)
        .ok_or_else(|| missing_global(store, instance, name))?;
    let ty = global.ty(store.wasmi());
    if ty.mutability().is_const() {
        return Err(Error::ImmutableGlobal);
    }
    let value = value::to_val(input, ty.content()).map_err(Error::GlobalValue)?;
    global
        .set(store.wasmi_mut(), value)
        .map_err(|error| Error::Wasm(error.to_string()))
}
