//! The one error type of wasmex_interp: every failure reaches Elixir as `{:error, message}`.
//!
//! Messages follow wasmi's style (lowercase, no trailing period, names in backticks) except
//! where Wasmex fixes a string verbatim (docs/compat.md): those are kept as Wasmex
//! words them, typos and capitals included.

use crate::value::Mismatch;
use core::sync::atomic::{AtomicBool, Ordering};
use std::collections::BinaryHeap;
use wasmi::TrapCode;

/// Every failure an operation can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wasmi error that is not a trap, already worded by wasmi (linking, instantiation).
    #[error("{0}")]
    Wasm(String),
    /// A trap, worded by [`trap_message`] so that it starts with the trap's canonical text.
    #[error("{0}")]
    Trap(String),
    /// `Module.compile` got text that is not valid WAT (and not a Wasm binary).
    #[error("Error while parsing bytes: {0}.")]
    ParseBytes(String),
    /// `Wat.to_wasm` got text that is not valid WAT.
    #[error("Failed to parse WAT: {0}")]
    Wat(String),
    /// A Wasm binary that does not validate.
    #[error("Could not compile module: {0}")]
    Compile(String),
    /// No function export of that name.
    #[error("{}: {exports}", missing_function(.name))]
    MissingFunction {
        /// The name asked for.
        name: String,
        /// The functions the instance exports.
        exports: Exports,
    },
    /// No global export of that name.
    #[error("{}: {exports}", missing_global(.name))]
    MissingGlobal {
        /// The name asked for.
        name: String,
        /// The globals the instance exports.
        exports: Exports,
    },
    /// A call with the wrong number of arguments.
    #[error("number of params does not match. expected {expected}, got {got}")]
    ParamCount {
        /// Parameters the function declares.
        expected: usize,
        /// Arguments given.
        got: usize,
    },
    /// A call argument that does not fit its parameter type (`position` counts from 1).
    #[error("{}{mismatch}", convert_argument(*.position))]
    Argument {
        /// Position of the argument, from 1.
        position: usize,
        /// What was expected and what was given.
        mismatch: Mismatch,
    },
    /// `get_global_value` of a `funcref` or `externref` global (`"func"`, `"extern"`):
    /// Wasmex's words.
    #[error("unable_to_return_{0}_ref_type")]
    ReferenceGlobal(&'static str),
    /// A value for `set_global_value` that does not fit the global's type.
    #[error("{CONVERT_GLOBAL}{0}")]
    GlobalValue(Mismatch),
    /// `set_global_value` on a `const` global.
    #[error("Could not set global: immutable global cannot be set")]
    ImmutableGlobal,
    /// An import the module needs and nobody provides.
    #[error("unknown import: `{0}::{1}` has not been defined")]
    UnknownImport(String, String),
    /// An import provided with the wrong kind or type.
    #[error("{}: the module expects {expected}, given {given}", incompatible_import(.module, .name))]
    IncompatibleImport {
        /// The import's module (namespace).
        module: String,
        /// The import's name.
        name: String,
        /// The type the module declares, as [`extern_type_text`](crate::value::extern_type_text) writes it.
        expected: String,
        /// The type of what was given.
        given: String,
    },
    /// An import map entry that is not `{:fn, params, results, fun}` with known types.
    #[error("invalid import `{0}::{1}`: {2}")]
    InvalidImport(String, String, String),
    /// `Instance.memory/2` on an instance that exports no memory.
    #[error("{NO_MEMORY}")]
    NoMemory,
    /// `Instance.memory/3` on an instance without a memory export of that name.
    #[error("The WebAssembly module has no exported memory `{name}`: {exports}")]
    MissingMemory {
        /// The name asked for.
        name: String,
        /// The memories the instance exports.
        exports: Exports,
    },
    /// A memory access from the host outside the memory.
    #[error("out of bounds memory access")]
    MemoryOutOfBounds,
    /// `Memory.grow` refused.
    #[error("Failed to grow the memory: {0}")]
    MemoryGrow(String),
    /// An Elixir callback raised, threw, exited or returned values of the wrong type.
    #[error("the elixir callback threw an exception: {0}")]
    Callback(String),
    /// `set_fuel` on a store without fuel metering.
    #[error("Could not set fuel: fuel is not configured in this store")]
    SetFuelDisabled,
    /// `get_fuel` on a store without fuel metering.
    #[error("Could not get fuel: fuel is not configured in this store")]
    GetFuelDisabled,
    /// A WASI context that cannot be built (a preopened directory that does not open).
    #[error("{0}")]
    Wasi(String),
    /// A handle (instance, memory, ...) used with a store it was not created in.
    #[error("{0} does not belong to this store")]
    ForeignHandle(&'static str),
    /// Bytes that `Module.unsafe_deserialize` cannot turn into a module.
    #[error("Could not deserialize module: {0}")]
    Deserialize(String),
    /// A module used with a store of another engine.
    #[error("module was compiled for a different engine than the store's")]
    ForeignEngine,
    /// A call from an Elixir import back into the store, past `StoreLimits` `nested_calls`.
    #[error("call stack exhausted: more than {0} nested calls into the store")]
    NestedCalls(usize),
    /// A call that ran past its deadline.
    #[error("timeout: the call did not finish within {0} ms")]
    Timeout(u64),
    /// A resume or abort without a suspended call of the calling process.
    #[error("no suspended call of this process on this store")]
    NoCall,
    /// A panic inside wasmi, caught before it reached the BEAM (see [`catch_panic`]).
    #[error("wasmi panicked: {0}")]
    Panic(String),
    /// A state this crate does not expect (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Wasmex's text of [`Error::NoMemory`].
const NO_MEMORY: &str = "The WebAssembly module has no exported memory.";
/// Wasmex's text of [`Error::GlobalValue`], before the type.
const CONVERT_GLOBAL: &str = "Cannot convert to a WebAssembly ";

fn missing_function(name: &str) -> String {
    format!("exported function `{name}` not found")
}

fn missing_global(name: &str) -> String {
    format!("exported global `{name}` not found")
}

fn convert_argument(position: usize) -> String {
    format!("Cannot convert argument #{position} to a WebAssembly ")
}

fn incompatible_import(module: &str, name: &str) -> String {
    format!("incompatible import type for `{module}::{name}`")
}

impl Error {
    /// The message in Wasmex 0.15's exact words, which Wasmex code may compare whole: the
    /// message without what [`Display`](core::fmt::Display) adds to help (the exports there
    /// are, the value given and what the type takes, the signatures of an import).
    pub fn wasmex_message(&self) -> String {
        match self {
            Error::MissingFunction { name, .. } => missing_function(name),
            Error::MissingGlobal { name, .. } => missing_global(name),
            Error::MissingMemory { .. } => NO_MEMORY.to_string(),
            Error::Argument { position, mismatch } => {
                convert_argument(*position) + &mismatch.wasmex()
            }
            Error::GlobalValue(mismatch) => format!("{CONVERT_GLOBAL}{}", mismatch.wasmex()),
            Error::IncompatibleImport { module, name, .. } => incompatible_import(module, name),
            other => other.to_string(),
        }
    }
}

/// Whether messages go to Elixir in Wasmex's words ([`Error::wasmex_message`]): set once,
/// when the NIF is loaded by wasmex_interp compiled in Wasmex compatibility mode (the mode
/// is the whole node's, as the library is).
static WASMEX_WORDING: AtomicBool = AtomicBool::new(false);

/// Makes every message encoded for Elixir from now on Wasmex's words (`true`) or the
/// default ones.
pub fn use_wasmex_wording(wasmex: bool) {
    WASMEX_WORDING.store(wasmex, Ordering::Relaxed);
}

/// The kinds of export a message may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Functions.
    Function,
    /// Globals.
    Global,
    /// Linear memories.
    Memory,
}

/// The exports of one kind an instance has, for the message about one it lacks: the first
/// [`Exports::SHOWN`] names in name order, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exports {
    /// What kind they are.
    pub kind: ExportKind,
    /// The first names, sorted.
    pub names: Vec<String>,
    /// How many there are.
    pub total: usize,
}

impl Exports {
    /// The most names a message lists (a module may export thousands).
    pub const SHOWN: usize = 10;

    /// The exports of `kind` among `names` (in any order).
    ///
    /// Keeps only the first [`Exports::SHOWN`] names (a heap of the smallest so far): one
    /// pass and no copy of the others, as a module may export hundreds of thousands.
    pub fn new<'a>(kind: ExportKind, names: impl Iterator<Item = &'a str>) -> Self {
        let mut first: BinaryHeap<&str> = BinaryHeap::with_capacity(Self::SHOWN + 1);
        let mut total = 0;
        for name in names {
            total += 1;
            if first.len() < Self::SHOWN {
                first.push(name);
            } else if first.peek().is_some_and(|last| name < *last) {
                first.pop();
                first.push(name);
            }
        }
        let names = first
            .into_sorted_vec()
            .into_iter()
            .map(str::to_string)
            .collect();
        Self { kind, names, total }
    }
}

impl core::fmt::Display for Exports {
    /// "the module exports the functions `a`, `b` and 3 more", "... exports no memories".
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (one, many) = match self.kind {
            ExportKind::Function => ("function", "functions"),
            ExportKind::Global => ("global", "globals"),
            ExportKind::Memory => ("memory", "memories"),
        };
        match self.total {
            0 => return write!(f, "the module exports no {many}"),
            1 => write!(f, "the module exports the {one} ")?,
            _ => write!(f, "the module exports the {many} ")?,
        }
        let quoted: Vec<String> = self.names.iter().map(|name| format!("`{name}`")).collect();
        let more = self.total - self.names.len();
        match quoted.split_last() {
            Some((last, rest)) if more == 0 && !rest.is_empty() => {
                write!(f, "{} and {last}", rest.join(", "))
            }
            _ if more > 0 => write!(f, "{} and {more} more", quoted.join(", ")),
            _ => f.write_str(&quoted.join(", ")),
        }
    }
}

impl From<wasmi::Error> for Error {
    fn from(error: wasmi::Error) -> Self {
        if let Some(code) = error.as_trap_code() {
            return Error::Trap(trap_message(code).to_string());
        }
        if let Some(status) = error.i32_exit_status() {
            return Error::Trap(format!("Exited with i32 exit status {status}"));
        }
        Error::Wasm(error.to_string().trim_end().to_string())
    }
}

/// Runs `f`, turning a panic inside it into [`Error::Panic`].
///
/// For calls into wasmi: the published wasmi 2.0.0 panicked translating some valid
/// modules (found by `fuzz/`, fixed in `vendor/`); a bug not found yet fails its compile
/// or call instead of the BEAM (see `a_wasmi_panic_fails_its_call_only` in
/// `tests/calls.rs`).
///
/// # Errors
///
/// What `f` returns, or [`Error::Panic`] with the panic's message.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(Error::Panic(panic_message(&*panic))))
}

/// The message a panic was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// The canonical text of a trap, the prefix that `{:error, "unreachable" <> _}` matches.
///
/// Classified by trap code, never by wasmi's wording (which differs between versions).
pub fn trap_message(code: TrapCode) -> &'static str {
    match code {
        TrapCode::UnreachableCodeReached => "unreachable: wasm `unreachable` instruction executed",
        TrapCode::MemoryOutOfBounds => "out of bounds memory access",
        // wasmi reports both `call_indirect` past the table end and table.{get,set,...}
        // out of range with this one code.
        TrapCode::TableOutOfBounds => "out of bounds table access: undefined element",
        // wasmi 2.0 words this "uninitialized element 2".
        TrapCode::IndirectCallToNull => "uninitialized element",
        TrapCode::IntegerDivisionByZero => "integer divide by zero",
        TrapCode::IntegerOverflow => "integer overflow",
        TrapCode::BadConversionToInteger => "invalid conversion to integer",
        TrapCode::StackOverflow => "call stack exhausted",
        TrapCode::BadSignature => "indirect call type mismatch",
        TrapCode::OutOfFuel => "all fuel consumed by WebAssembly",
        TrapCode::GrowthOperationLimited => "growth operation limited",
        TrapCode::OutOfSystemMemory => "out of system memory",
    }
}

#[cfg(feature = "rustler")]
impl rustler::Encoder for Error {
    /// The message, as a binary: in Wasmex's words after [`use_wasmex_wording`]`(true)`.
    fn encode<'a>(&self, env: rustler::Env<'a>) -> rustler::Term<'a> {
        if WASMEX_WORDING.load(Ordering::Relaxed) {
            self.wasmex_message().encode(env)
        } else {
            self.to_string().encode(env)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_start_with_their_canonical_text() {
        let error = Error::from(wasmi::Error::from(TrapCode::IndirectCallToNull));
        assert_eq!(error.to_string(), "uninitialized element");
        let error = Error::from(wasmi::Error::from(TrapCode::OutOfFuel));
        assert!(error.to_string().starts_with("all fuel consumed"));
    }

    #[test]
    fn missing_exports_name_the_ones_there_are() {
        let missing = |kind, names: &[&str]| Error::MissingFunction {
            name: "f".into(),
            exports: Exports::new(kind, names.iter().copied()),
        };
        let error = missing(ExportKind::Function, &["sub", "add"]);
        assert_eq!(
            error.to_string(),
            "exported function `f` not found: the module exports the functions `add` and `sub`"
        );
        assert_eq!(error.wasmex_message(), "exported function `f` not found");
        let error = missing(ExportKind::Function, &["add"]);
        assert!(error.to_string().ends_with("exports the function `add`"));
        let error = missing(ExportKind::Function, &[]);
        assert!(error.to_string().ends_with("exports no functions"));
        let names: Vec<String> = (0..1000).map(|n| format!("f{n:04}")).collect();
        let error = missing(
            ExportKind::Function,
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(error.to_string().ends_with(
            "`f0000`, `f0001`, `f0002`, `f0003`, `f0004`, `f0005`, `f0006`, `f0007`, `f0008`, \
             `f0009` and 990 more"
        ));
        let error = Error::MissingMemory {
            name: "mem".into(),
            exports: Exports::new(ExportKind::Memory, ["memory"].into_iter()),
        };
        assert_eq!(
            error.to_string(),
            "The WebAssembly module has no exported memory `mem`: \
             the module exports the memory `memory`"
        );
        assert_eq!(
            error.wasmex_message(),
            "The WebAssembly module has no exported memory."
        );
    }

    #[test]
    fn exit_status_has_no_trailing_newline() {
        let error = Error::from(wasmi::Error::i32_exit(3));
        assert_eq!(error.to_string(), "Exited with i32 exit status 3");
    }
}
