//! Runs one WebAssembly spec testsuite `.wast` file through plain wasmi, with the
//! library's engine configuration, and writes its commands out for
//! `scripts/spec-testsuite.exs`, which runs the same commands through the Elixir API and
//! compares the two.
//!
//! ```text
//! spectest WAST OUT_DIR
//! ```
//!
//! writes `OUT_DIR/commands.terms`, one Erlang term per command (read with
//! `:file.consult/1`), each carrying wasmi's verdict (`pass` or `{fail, Reason}`), and the
//! modules as `OUT_DIR/<n>.wasm` (or `<n>.wat`: text that is not a valid module). The
//! terms are described in `scripts/spec-testsuite.exs`.

use std::{collections::HashMap, fmt, fs, path::Path};
use wasmex_core::engine::EngineOptions;
use wasmi::{
    Engine, Extern, ExternRef, Func, Global, Instance, Linker, Memory, MemoryType, Module,
    Mutability, Nullable, Ref, RefType, Store, Table, TableType, Val, F32, F64, V128,
};
use wast::{
    core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore},
    lexer::Lexer,
    parser::{self, ParseBuffer},
    token::Id,
    QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat,
};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, wast, out] = args.as_slice() else {
        return Err("usage: spectest WAST OUT_DIR".into());
    };
    let text = fs::read_to_string(wast)?;
    fs::create_dir_all(out)?;
    let mut lexer = Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer)?;
    let wast: Wast = parser::parse(&buffer)?;
    let mut run = Run::new(Path::new(out))?;
    let mut terms = String::new();
    for directive in wast.directives {
        let line = directive.span().linecol_in(&text).0 + 1;
        let term = run.directive(line, directive)?;
        terms.push_str(&format!("{term}.\n"));
    }
    fs::write(Path::new(out).join("commands.terms"), terms)?;
    Ok(())
}

/// An Erlang term, written in Erlang's syntax.
enum Term {
    Atom(&'static str),
    Int(i128),
    Uint(u128),
    /// A binary, written byte by byte (any bytes are safe that way).
    Bin(Vec<u8>),
    Tuple(Vec<Term>),
    List(Vec<Term>),
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Term]| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Term::Atom(atom) => f.write_str(atom),
            Term::Int(n) => write!(f, "{n}"),
            Term::Uint(n) => write!(f, "{n}"),
            Term::Bin(bytes) => {
                f.write_str("<<")?;
                for (i, byte) in bytes.iter().enumerate() {
                    write!(f, "{}{byte}", if i > 0 { "," } else { "" })?;
                }
                f.write_str(">>")
            }
            Term::Tuple(items) => {
                f.write_str("{")?;
                join(f, items)?;
                f.write_str("}")
            }
            Term::List(items) => {
                f.write_str("[")?;
                join(f, items)?;
                f.write_str("]")
            }
        }
    }
}

fn atom(name: &'static str) -> Term {
    Term::Atom(name)
}

fn bin(text: &str) -> Term {
    Term::Bin(text.as_bytes().to_vec())
}

fn int(n: impl Into<i128>) -> Term {
    Term::Int(n.into())
}

/// A module's `$name`, or `none`.
fn name(id: Option<Id<'_>>) -> Term {
    id.map_or(atom("none"), |id| bin(id.name()))
}

/// What wasmi made of a command.
type Verdict = Result<(), String>;

fn outcome(verdict: Verdict) -> Term {
    match verdict {
        Ok(()) => atom("pass"),
        Err(reason) => Term::Tuple(vec![atom("fail"), bin(&reason)]),
    }
}

/// A module as the testsuite gives it.
enum Source {
    /// A binary module (from binary or valid text).
    Binary(Vec<u8>),
    /// Text that is not a valid module (`assert_malformed` of a quoted module).
    Text(Vec<u8>),
    /// A module the text parser accepted but could not encode.
    Unencodable(String),
}

impl Source {
    fn of(module: &mut QuoteWat<'_>) -> Self {
        match module {
            QuoteWat::Wat(wat) => match wat.encode() {
                Ok(bytes) => Source::Binary(bytes),
                Err(error) => Source::Unencodable(error.to_string()),
            },
            quoted => match quoted.to_test() {
                Ok(wast::QuoteWatTest::Text(text)) => match quoted.encode() {
                    Ok(bytes) => Source::Binary(bytes),
                    Err(_) => Source::Text(text),
                },
                Ok(wast::QuoteWatTest::Binary(bytes)) => Source::Binary(bytes),
                Err(error) => Source::Unencodable(error.to_string()),
            },
        }
    }
}

/// The state of a run: the output directory, and wasmi's store with the instances so far.
struct Run<'dir> {
    dir: &'dir Path,
    files: usize,
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    current: Option<Instance>,
    named: HashMap<String, Instance>,
}

impl<'dir> Run<'dir> {
    fn new(dir: &'dir Path) -> Result<Self, BoxError> {
        let engine = Engine::new(&EngineOptions::default().config());
        let mut store = Store::new(&engine, ());
        store.set_fuel(u64::MAX)?;
        let mut linker = Linker::new(&engine);
        linker.allow_shadowing(true);
        let mut run = Self {
            dir,
            files: 0,
            engine,
            store,
            linker,
            current: None,
            named: HashMap::new(),
        };
        run.define_spectest()?;
        Ok(run)
    }

    /// The `spectest` module every `.wast` file may import from.
    fn define_spectest(&mut self) -> Result<(), wasmi::Error> {
        let store = &mut self.store;
        let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
        let table = Table::new(
            &mut *store,
            TableType::new(RefType::Func, 10, Some(20)),
            Ref::default_for_ty(RefType::Func),
        )?;
        let globals = [
            ("global_i32", Val::I32(666)),
            ("global_i64", Val::I64(666)),
            ("global_f32", Val::F32(F32::from_bits(0x4426_a666))),
            (
                "global_f64",
                Val::F64(F64::from_bits(0x4084_d4cc_cccc_cccd)),
            ),
        ];
        for (name, value) in globals {
            let global = Global::new(&mut *store, value, Mutability::Const);
            self.linker.define("spectest", name, global)?;
        }
        self.linker.define("spectest", "memory", memory)?;
        self.linker.define("spectest", "table", table)?;
        self.linker.func_wrap("spectest", "print", || {})?;
        self.linker
            .func_wrap("spectest", "print_i32", |_: i32| {})?;
        self.linker
            .func_wrap("spectest", "print_i64", |_: i64| {})?;
        self.linker
            .func_wrap("spectest", "print_f32", |_: F32| {})?;
        self.linker
            .func_wrap("spectest", "print_f64", |_: F64| {})?;
        self.linker
            .func_wrap("spectest", "print_i32_f32", |_: i32, _: F32| {})?;
        self.linker
            .func_wrap("spectest", "print_f64_f64", |_: F64, _: F64| {})?;
        Ok(())
    }

    /// Writes `source` to the next file: its name as a term, or `none`.
    fn write(&mut self, source: &Source) -> Result<Term, BoxError> {
        let (extension, bytes) = match source {
            Source::Binary(bytes) => ("wasm", bytes),
            Source::Text(text) => ("wat", text),
            Source::Unencodable(_) => return Ok(atom("none")),
        };
        self.files += 1;
        let file = format!("{}.{extension}", self.files);
        fs::write(self.dir.join(&file), bytes)?;
        Ok(bin(&file))
    }

    fn directive(&mut self, line: usize, directive: WastDirective<'_>) -> Result<Term, BoxError> {
        let line = Term::Int(line as i128);
        let term = match directive {
            WastDirective::Module(mut module) => {
                let id = module.name();
                let source = Source::of(&mut module);
                let file = self.write(&source)?;
                let verdict = self.module(&source, id.map(|id| id.name()));
                let stateful = match &source {
                    Source::Binary(bytes) => stateful(bytes),
                    _ => true,
                };
                let stateful = atom(if stateful { "true" } else { "false" });
                Term::Tuple(vec![
                    atom("module"),
                    line,
                    name(id),
                    file,
                    stateful,
                    outcome(verdict),
                ])
            }
            WastDirective::Register {
                name: as_name,
                module,
                ..
            } => {
                let verdict = self.register(as_name, module);
                Term::Tuple(vec![
                    atom("register"),
                    line,
                    bin(as_name),
                    name(module),
                    outcome(verdict),
                ])
            }
            WastDirective::Invoke(invoke) => {
                let verdict = self.invoke(&invoke).map(|_| ()).map_err(Failure::text);
                Term::Tuple(vec![
                    atom("action"),
                    line,
                    invoke_term(&invoke),
                    outcome(verdict),
                ])
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let verdict = self.assert_return(&exec, &results);
                let expected = results.iter().map(expected_term).collect();
                Term::Tuple(vec![
                    atom("assert_return"),
                    line,
                    exec_term(&exec),
                    Term::List(expected),
                    outcome(verdict),
                ])
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let (exec, verdict) = match exec {
                    // A module whose instantiation traps (its start function, a segment).
                    WastExecute::Wat(mut wat) => {
                        let source = source_of_wat(&mut wat);
                        let file = self.write(&source)?;
                        let verdict = trapped(self.instantiate(&source).map(|_| ()));
                        (Term::Tuple(vec![atom("instantiate"), file]), verdict)
                    }
                    exec => (exec_term(&exec), trapped(self.exec(&exec).map(|_| ()))),
                };
                Term::Tuple(vec![
                    atom("assert_trap"),
                    line,
                    exec,
                    bin(message),
                    outcome(verdict),
                ])
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let verdict = trapped(self.invoke(&call).map(|_| ()));
                Term::Tuple(vec![
                    atom("assert_exhaustion"),
                    line,
                    invoke_term(&call),
                    bin(message),
                    outcome(verdict),
                ])
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let source = Source::of(&mut module);
                let file = self.write(&source)?;
                let verdict = match &source {
                    Source::Binary(bytes) => match Module::new(&self.engine, bytes) {
                        Ok(_) => Err("compiled".into()),
                        Err(_) => Ok(()),
                    },
                    Source::Text(_) | Source::Unencodable(_) => Ok(()),
                };
                Term::Tuple(vec![
                    atom("assert_invalid"),
                    line,
                    file,
                    bin(message),
                    outcome(verdict),
                ])
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let source = source_of_wat(&mut module);
                let file = self.write(&source)?;
                let verdict = trapped(self.instantiate(&source).map(|_| ()));
                Term::Tuple(vec![
                    atom("assert_unlinkable"),
                    line,
                    file,
                    bin(message),
                    outcome(verdict),
                ])
            }
            other => {
                let kind = format!("{other:?}");
                let kind = kind.split([' ', '(', '{']).next().unwrap_or("directive");
                Term::Tuple(vec![atom("unsupported"), line, bin(kind)])
            }
        };
        Ok(term)
    }

    /// Compiles and instantiates a module that must work.
    fn module(&mut self, source: &Source, id: Option<&str>) -> Verdict {
        let instance = self.instantiate(source).map_err(Failure::text)?;
        self.current = Some(instance);
        if let Some(id) = id {
            self.named.insert(id.to_string(), instance);
        }
        Ok(())
    }

    /// Compiles and instantiates (start function included): a failure to compile is a
    /// setup failure, one to link or start is a trap.
    fn instantiate(&mut self, source: &Source) -> Result<Instance, Failure> {
        let bytes = match source {
            Source::Binary(bytes) => bytes,
            Source::Text(_) => return Err(Failure::Setup("text that does not parse".into())),
            Source::Unencodable(error) => {
                return Err(Failure::Setup(format!("does not encode: {error}")))
            }
        };
        let module = Module::new(&self.engine, bytes)
            .map_err(|error| Failure::Setup(format!("does not compile: {error}")))?;
        self.linker
            .instantiate_and_start(&mut self.store, &module)
            .map_err(|error| Failure::Trap(error.to_string()))
    }

    fn instance(&self, id: Option<Id<'_>>) -> Result<Instance, Failure> {
        match id {
            Some(id) => self.named.get(id.name()).copied(),
            None => self.current,
        }
        .ok_or_else(|| Failure::Setup("no such module".into()))
    }

    fn register(&mut self, as_name: &str, id: Option<Id<'_>>) -> Verdict {
        let instance = self.instance(id).map_err(Failure::text)?;
        let exports: Vec<(String, Extern)> = instance
            .exports(&self.store)
            .map(|export| (export.name().to_string(), export.into_extern()))
            .collect();
        for (name, item) in exports {
            self.linker
                .define(as_name, &name, item)
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, Failure> {
        let instance = self.instance(invoke.module)?;
        let func: Func = instance
            .get_func(&self.store, invoke.name)
            .ok_or_else(|| Failure::Setup(format!("no function `{}`", invoke.name)))?;
        let params = invoke
            .args
            .iter()
            .map(|arg| self.arg(arg))
            .collect::<Option<Vec<Val>>>()
            .ok_or_else(|| Failure::Setup("an argument wasmi cannot take".into()))?;
        let mut results: Vec<Val> = func
            .ty(&self.store)
            .results()
            .iter()
            .map(|ty| Val::default_for_ty(*ty))
            .collect();
        func.call(&mut self.store, &params, &mut results)
            .map_err(|error| Failure::Trap(error.to_string()))?;
        Ok(results)
    }

    fn exec(&mut self, exec: &WastExecute<'_>) -> Result<Vec<Val>, Failure> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(*module)?;
                let global = instance
                    .get_global(&self.store, global)
                    .ok_or_else(|| Failure::Setup(format!("no global `{global}`")))?;
                Ok(vec![global.get(&self.store)])
            }
            WastExecute::Wat(_) => Err(Failure::Setup("a module is not an action".into())),
        }
    }

    fn assert_return(&mut self, exec: &WastExecute<'_>, expected: &[WastRet<'_>]) -> Verdict {
        let results = self.exec(exec).map_err(Failure::text)?;
        if results.len() != expected.len() {
            return Err(format!("{} results", results.len()));
        }
        for (i, (result, expected)) in results.iter().zip(expected).enumerate() {
            let WastRet::Core(expected) = expected else {
                return Err("a component value".into());
            };
            if !self.matches(expected, result) {
                return Err(format!("result {i}: {result:?}"));
            }
        }
        Ok(())
    }

    fn arg(&mut self, arg: &WastArg<'_>) -> Option<Val> {
        let WastArg::Core(arg) = arg else {
            return None;
        };
        Some(match arg {
            WastArgCore::I32(n) => Val::I32(*n),
            WastArgCore::I64(n) => Val::I64(*n),
            WastArgCore::F32(x) => Val::F32(F32::from_bits(x.bits)),
            WastArgCore::F64(x) => Val::F64(F64::from_bits(x.bits)),
            WastArgCore::V128(v) => Val::V128(V128::from(u128::from_le_bytes(v.to_le_bytes()))),
            WastArgCore::RefNull(heap) => match abstract_heap(heap)? {
                AbstractHeapType::Func => Val::FuncRef(Nullable::Null),
                AbstractHeapType::Extern => Val::ExternRef(Nullable::Null),
                _ => return None,
            },
            WastArgCore::RefExtern(n) => Val::from(ExternRef::new(&mut self.store, *n)),
            WastArgCore::RefHost(_) => return None,
        })
    }

    fn matches(&self, expected: &WastRetCore<'_>, val: &Val) -> bool {
        match (expected, val) {
            (WastRetCore::I32(e), Val::I32(v)) => e == v,
            (WastRetCore::I64(e), Val::I64(v)) => e == v,
            (WastRetCore::F32(e), Val::F32(v)) => f32_matches(e, v.to_bits()),
            (WastRetCore::F64(e), Val::F64(v)) => f64_matches(e, v.to_bits()),
            (WastRetCore::V128(pattern), Val::V128(v)) => v128_matches(pattern, v.as_u128()),
            (WastRetCore::RefNull(_), Val::FuncRef(r)) => r.is_null(),
            (WastRetCore::RefNull(_), Val::ExternRef(r)) => r.is_null(),
            (WastRetCore::RefFunc(_), Val::FuncRef(r)) => !r.is_null(),
            (WastRetCore::RefExtern(e), Val::ExternRef(r)) => match (e, r.val()) {
                (None, Some(_)) => true,
                (Some(n), Some(r)) => r.data(&self.store).downcast_ref::<u32>() == Some(n),
                _ => false,
            },
            (WastRetCore::Either(alternatives), val) => {
                alternatives.iter().any(|e| self.matches(e, val))
            }
            _ => false,
        }
    }
}

/// Why a command did not get as far as the Wasm it tests (`Setup`), or how the Wasm
/// failed (`Trap`: a trap, or a failure to link or start).
enum Failure {
    Setup(String),
    Trap(String),
}

impl Failure {
    fn text(self) -> String {
        match self {
            Failure::Setup(reason) | Failure::Trap(reason) => reason,
        }
    }
}

/// Whether instances of `wasm` hold state that a call can change: a memory, a table or a
/// mutable global, their own or imported. (A call the Elixir API cannot make on such an
/// instance leaves it out of step with wasmi's.)
fn stateful(wasm: &[u8]) -> bool {
    use wasmparser::{Parser, Payload, TypeRef};
    Parser::new(0).parse_all(wasm).any(|payload| match payload {
        Ok(Payload::ImportSection(imports)) => imports.into_iter().any(|import| match import {
            Ok(import) => match import.ty {
                TypeRef::Memory(_) | TypeRef::Table(_) => true,
                TypeRef::Global(global) => global.mutable,
                _ => false,
            },
            Err(_) => true,
        }),
        Ok(Payload::MemorySection(memories)) => memories.count() > 0,
        Ok(Payload::TableSection(tables)) => tables.count() > 0,
        Ok(Payload::GlobalSection(globals)) => globals
            .into_iter()
            .any(|global| global.map_or(true, |global| global.ty.mutable)),
        Ok(_) => false,
        Err(_) => true,
    })
}

/// An `assert_trap`-like verdict: the Wasm must fail, not the setup.
fn trapped(outcome: Result<(), Failure>) -> Verdict {
    match outcome {
        Err(Failure::Trap(_)) => Ok(()),
        Err(Failure::Setup(reason)) => Err(reason),
        Ok(()) => Err("did not fail".into()),
    }
}

fn source_of_wat(wat: &mut Wat<'_>) -> Source {
    match wat.encode() {
        Ok(bytes) => Source::Binary(bytes),
        Err(error) => Source::Unencodable(error.to_string()),
    }
}

fn abstract_heap(heap: &HeapType<'_>) -> Option<AbstractHeapType> {
    match heap {
        HeapType::Abstract { ty, shared: false } => Some(*ty),
        _ => None,
    }
}

/// `{invoke, Module, Name, Args}`.
fn invoke_term(invoke: &WastInvoke<'_>) -> Term {
    Term::Tuple(vec![
        atom("invoke"),
        name(invoke.module),
        bin(invoke.name),
        Term::List(invoke.args.iter().map(arg_term).collect()),
    ])
}

/// `{invoke, ...}` or `{get, Module, Name}` (a module is written by the caller).
fn exec_term(exec: &WastExecute<'_>) -> Term {
    match exec {
        WastExecute::Invoke(invoke) => invoke_term(invoke),
        WastExecute::Get { module, global, .. } => {
            Term::Tuple(vec![atom("get"), name(*module), bin(global)])
        }
        WastExecute::Wat(_) => Term::Tuple(vec![atom("unsupported"), bin("module")]),
    }
}

/// `{i32, N}`, `{i64, N}` (signed), `{f32, Bits}`, `{f64, Bits}`, `{v128, Bits}`,
/// `{ref_null, func | extern}`, `{ref_extern, N}`, or `{unsupported, What}`.
fn arg_term(arg: &WastArg<'_>) -> Term {
    let tagged = |tag, value| Term::Tuple(vec![atom(tag), value]);
    let WastArg::Core(arg) = arg else {
        return tagged("unsupported", bin("component value"));
    };
    match arg {
        WastArgCore::I32(n) => tagged("i32", int(*n)),
        WastArgCore::I64(n) => tagged("i64", int(*n)),
        WastArgCore::F32(x) => tagged("f32", int(x.bits)),
        WastArgCore::F64(x) => tagged("f64", int(x.bits)),
        WastArgCore::V128(v) => tagged("v128", Term::Uint(u128::from_le_bytes(v.to_le_bytes()))),
        WastArgCore::RefNull(heap) => match abstract_heap(heap) {
            Some(AbstractHeapType::Func) => tagged("ref_null", atom("func")),
            Some(AbstractHeapType::Extern) => tagged("ref_null", atom("extern")),
            _ => tagged("unsupported", bin("ref.null of another type")),
        },
        WastArgCore::RefExtern(n) => tagged("ref_extern", int(*n)),
        WastArgCore::RefHost(_) => tagged("unsupported", bin("ref.host")),
    }
}

/// A float pattern: the bits, `nan_canonical` or `nan_arithmetic`.
fn nan_term<T>(pattern: &NanPattern<T>, bits: impl Fn(&T) -> Term) -> Term {
    match pattern {
        NanPattern::CanonicalNan => atom("nan_canonical"),
        NanPattern::ArithmeticNan => atom("nan_arithmetic"),
        NanPattern::Value(x) => bits(x),
    }
}

/// As `arg_term/1` for an expected result, with float patterns, `{v128, Shape, Lanes}`
/// (integer lanes signed, float lanes as patterns), `{ref_null}`, `{ref_func}`,
/// `{ref_extern, N | any}` and `{either, Alternatives}`.
fn expected_term(expected: &WastRet<'_>) -> Term {
    let WastRet::Core(expected) = expected else {
        return Term::Tuple(vec![atom("unsupported"), bin("component value")]);
    };
    core_expected_term(expected)
}

fn core_expected_term(expected: &WastRetCore<'_>) -> Term {
    let tagged = |tag, value| Term::Tuple(vec![atom(tag), value]);
    let lanes =
        |shape, lanes: Vec<Term>| Term::Tuple(vec![atom("v128"), atom(shape), Term::List(lanes)]);
    match expected {
        WastRetCore::I32(n) => tagged("i32", int(*n)),
        WastRetCore::I64(n) => tagged("i64", int(*n)),
        WastRetCore::F32(p) => tagged("f32", nan_term(p, |x| int(x.bits))),
        WastRetCore::F64(p) => tagged("f64", nan_term(p, |x| int(x.bits))),
        WastRetCore::V128(V128Pattern::I8x16(v)) => {
            lanes("i8x16", v.iter().map(|n| int(*n)).collect())
        }
        WastRetCore::V128(V128Pattern::I16x8(v)) => {
            lanes("i16x8", v.iter().map(|n| int(*n)).collect())
        }
        WastRetCore::V128(V128Pattern::I32x4(v)) => {
            lanes("i32x4", v.iter().map(|n| int(*n)).collect())
        }
        WastRetCore::V128(V128Pattern::I64x2(v)) => {
            lanes("i64x2", v.iter().map(|n| int(*n)).collect())
        }
        WastRetCore::V128(V128Pattern::F32x4(v)) => lanes(
            "f32x4",
            v.iter().map(|p| nan_term(p, |x| int(x.bits))).collect(),
        ),
        WastRetCore::V128(V128Pattern::F64x2(v)) => lanes(
            "f64x2",
            v.iter().map(|p| nan_term(p, |x| int(x.bits))).collect(),
        ),
        WastRetCore::RefNull(_) => Term::Tuple(vec![atom("ref_null")]),
        WastRetCore::RefFunc(_) => Term::Tuple(vec![atom("ref_func")]),
        WastRetCore::RefExtern(Some(n)) => tagged("ref_extern", int(*n)),
        WastRetCore::RefExtern(None) => tagged("ref_extern", atom("any")),
        WastRetCore::Either(alternatives) => tagged(
            "either",
            Term::List(alternatives.iter().map(core_expected_term).collect()),
        ),
        other => tagged("unsupported", bin(&format!("{other:?}"))),
    }
}

fn f32_matches(expected: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match expected {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(x) => x.bits == bits,
    }
}

fn f64_matches(expected: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match expected {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(x) => x.bits == bits,
    }
}

/// Lane `i` of `width` bits of `v` (lane 0 is the lowest).
fn lane(v: u128, width: u32, i: usize) -> u128 {
    (v >> (width as usize * i)) & ((1u128 << width) - 1)
}

fn v128_matches(pattern: &V128Pattern, v: u128) -> bool {
    // Integer lanes compare as unsigned bits of their width.
    fn ints<const N: usize, T: Copy + Into<i128>>(lanes: &[T; N], v: u128, width: u32) -> bool {
        let mask = (1u128 << width) - 1;
        lanes
            .iter()
            .enumerate()
            .all(|(i, n)| ((*n).into() as u128) & mask == lane(v, width, i))
    }
    match pattern {
        V128Pattern::I8x16(lanes) => ints(lanes, v, 8),
        V128Pattern::I16x8(lanes) => ints(lanes, v, 16),
        V128Pattern::I32x4(lanes) => ints(lanes, v, 32),
        V128Pattern::I64x2(lanes) => ints(lanes, v, 64),
        V128Pattern::F32x4(lanes) => lanes
            .iter()
            .enumerate()
            .all(|(i, p)| f32_matches(p, lane(v, 32, i) as u32)),
        V128Pattern::F64x2(lanes) => lanes
            .iter()
            .enumerate()
            .all(|(i, p)| f64_matches(p, lane(v, 64, i) as u64)),
    }
}
