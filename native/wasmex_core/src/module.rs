//! Compiling, serializing and describing modules.
//!
//! A module's `start` function would run inside wasmi's instantiation as a plain,
//! unsliced call that cannot reach Elixir imports. So compile moves it: the start section
//! is taken out and the start function exported under a hidden name
//! ([`Module::start_export`]); instantiation then runs it through the ordinary sliced,
//! resumable call machinery.
//!
//! The hidden name is one the module does not use: [`START_EXPORT`], followed by one NUL
//! more than the longest name of that form the module exports itself (any UTF-8 string is
//! a valid export name, so no fixed name would do). A module's own exports stay as they are.
//!
//! wasmi has no machine code to cache, so a serialized module ([`Module::serialize`]) is
//! the validated binary with what it takes to trust it again: the engine fingerprint it
//! was validated under, and a checksum. Deserializing skips validation (the costly part
//! of compiling) when both match. It is portable across machines and CPUs.

use crate::{engine::Engine, error::catch_panic, Error};
use std::sync::Arc;
use wasmi::{ExternType, Mutability, RefType, ValType};

/// The stem of the hidden export under which a module's start function is run after
/// instantiation (see the module docs for the whole name).
pub const START_EXPORT: &str = "\0wasmex_start";

/// A compiled module and what the host needs to know about it.
#[derive(Debug, Clone)]
pub struct Module {
    /// The wasmi module.
    pub wasmi: wasmi::Module,
    /// The engine the module was compiled with.
    pub engine: Engine,
    /// The binary wasmi parsed (WAT already turned into a binary; the start section moved).
    pub wasm: Arc<[u8]>,
    /// The hidden export of the module's start function, if it has one.
    start_export: Option<Arc<str>>,
}

/// What an import or export is, in the shape Wasmex describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternInfo {
    /// A function.
    Func {
        /// Parameter types.
        params: Vec<ValType>,
        /// Result types.
        results: Vec<ValType>,
    },
    /// A global.
    Global {
        /// Its value type.
        ty: ValType,
        /// `true` for `(mut ...)`.
        mutable: bool,
    },
    /// A linear memory (sizes in pages).
    Memory {
        /// Initial pages.
        minimum: u64,
        /// Maximum pages, when declared.
        maximum: Option<u64>,
        /// Shared memory (threads proposal; never true in wasmi).
        shared: bool,
        /// A 64-bit memory.
        memory64: bool,
    },
    /// A table.
    Table {
        /// Initial elements.
        minimum: u64,
        /// Maximum elements, when declared.
        maximum: Option<u64>,
        /// Element type (`funcref` or `externref`).
        element: ValType,
    },
}

impl Module {
    /// Compiles `bytes`, a Wasm binary or WAT text, with `engine`.
    ///
    /// # Errors
    ///
    /// [`Error::ParseBytes`] for text that is not valid WAT, [`Error::Compile`] for a binary
    /// that does not validate.
    pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Self, Error> {
        let binary =
            wat::parse_bytes(bytes).map_err(|error| Error::ParseBytes(error.to_string()))?;
        let (wasm, start_export): (Arc<[u8]>, _) = match start::rewrite(&binary) {
            Some((rewritten, name)) => {
                // The rewrite would hide what makes a start section invalid (a start
                // function with params or results, a second start section, a `ref.func`
                // that only the new export declares): validate the module as given first.
                catch_panic(|| {
                    wasmi::Module::validate(engine.wasmi(), &binary)
                        .map_err(|error| Error::Compile(error.to_string()))
                })
                .map_err(|error| match error {
                    Error::Panic(_) => Error::Compile(error.to_string()),
                    error => error,
                })?;
                (rewritten.into(), Some(name.into()))
            }
            // One copy, straight into the shared buffer (not a `Vec` first).
            None => (Arc::from(&*binary), None),
        };
        let wasmi = build(Error::Compile, || {
            wasmi::Module::new(engine.wasmi(), &*wasm)
        })?;
        Ok(Self {
            wasmi,
            engine: engine.clone(),
            wasm,
            start_export,
        })
    }

    /// The module as bytes that [`Module::deserialize`] turns back into a module, on
    /// any machine, without validating it again.
    pub fn serialize(&self) -> Vec<u8> {
        serialized::encode(self)
    }

    /// Rebuilds a module from [`Module::serialize`]'s bytes for `engine`.
    ///
    /// The binary is not validated again: it was validated when it was compiled, under the
    /// same engine fingerprint, and its checksum proves it unchanged since.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialize`] for bytes that are not a serialized module, were damaged, or
    /// were made for an engine that accepts other Wasm features than `engine`.
    pub fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Self, Error> {
        let decoded = serialized::decode(bytes)?;
        let fingerprint = engine.options().fingerprint();
        if decoded.fingerprint != fingerprint {
            return Err(Error::Deserialize(format!(
                "the module was compiled for an engine with other Wasm features \
                 (`{}`), not this one's (`{fingerprint}`)",
                decoded.fingerprint
            )));
        }
        // SAFETY: the binary validated when it was compiled (serialize only encodes compiled
        // modules) under engine options with this same fingerprint, which covers every
        // option validation depends on; the checksum shows the bytes are those bytes. A
        // forged file can defeat this, which is why Elixir calls it `unsafe_deserialize`.
        #[allow(unsafe_code)]
        let wasmi = build(Error::Deserialize, || unsafe {
            wasmi::Module::new_unchecked(engine.wasmi(), decoded.wasm)
        })?;
        let start_export = decoded
            .has_start
            .then(|| start::longest_name(wasmi.exports().map(|export| export.name())).into());
        Ok(Self {
            wasmi,
            engine: engine.clone(),
            wasm: decoded.wasm.into(),
            start_export,
        })
    }

    /// The hidden export of the module's start function (see the module docs), if the
    /// module has a start function.
    pub fn start_export(&self) -> Option<&str> {
        self.start_export.as_deref()
    }

    /// Whether users see the export `name`: every export but the hidden start export. The
    /// one place that hides it.
    pub fn is_visible(&self, name: &str) -> bool {
        self.start_export() != Some(name)
    }

    /// `true` when the module exports a function `name` that users see.
    pub fn is_func_export(&self, name: &str) -> bool {
        self.is_visible(name) && matches!(self.wasmi.get_export(name), Some(ExternType::Func(_)))
    }

    /// The pages of the first memory the module defines that is larger than `limit` bytes
    /// (a 64 KiB page each).
    pub fn memory_over(&self, limit: usize) -> Option<u64> {
        memories::minimum_bytes(&self.wasm)?
            .into_iter()
            .find(|bytes| *bytes > limit as u128)
            .map(|bytes| (bytes / 65_536) as u64)
    }

    /// What instantiating the module writes, in bytes: the minimum sizes of the memories
    /// and tables it defines, and its data and element segments. For choosing where
    /// instantiation runs.
    pub fn instantiation_bytes(&self) -> u64 {
        work::instantiation_bytes(&self.wasm)
    }

    /// The module's name from its `name` custom section, if it has one.
    pub fn name(&self) -> Option<String> {
        let section = self
            .wasmi
            .custom_sections()
            .find(|section| section.name() == "name")?;
        names::module_name(section.data())
    }

    /// The module's exports, in order (the hidden start export left out).
    pub fn exports(&self) -> Vec<(String, ExternInfo)> {
        self.wasmi
            .exports()
            .filter(|export| self.is_visible(export.name()))
            .map(|export| (export.name().to_string(), extern_info(export.ty())))
            .collect()
    }

    /// The module's imports as `(module, name, info)`, in order.
    pub fn imports(&self) -> Vec<(String, String, ExternInfo)> {
        self.wasmi
            .imports()
            .map(|import| {
                (
                    import.module().to_string(),
                    import.name().to_string(),
                    extern_info(import.ty()),
                )
            })
            .collect()
    }
}

/// Builds a wasmi module, reporting its errors, and its panics, with `wrap`.
fn build(
    wrap: fn(String) -> Error,
    f: impl FnOnce() -> Result<wasmi::Module, wasmi::Error>,
) -> Result<wasmi::Module, Error> {
    catch_panic(|| f().map_err(|error| wrap(error.to_string()))).map_err(|error| match error {
        Error::Panic(_) => wrap(error.to_string()),
        error => error,
    })
}

/// Describes an import or export type.
pub fn extern_info(ty: &ExternType) -> ExternInfo {
    match ty {
        ExternType::Func(func) => ExternInfo::Func {
            params: func.params().to_vec(),
            results: func.results().to_vec(),
        },
        ExternType::Global(global) => ExternInfo::Global {
            ty: global.content(),
            mutable: global.mutability() == Mutability::Var,
        },
        ExternType::Memory(memory) => ExternInfo::Memory {
            minimum: memory.minimum(),
            maximum: memory.maximum(),
            shared: false,
            memory64: memory.is_64(),
        },
        ExternType::Table(table) => ExternInfo::Table {
            minimum: table.minimum(),
            maximum: table.maximum(),
            element: match table.element() {
                RefType::Func => ValType::FuncRef,
                RefType::Extern => ValType::ExternRef,
            },
        },
    }
}

/// Turns WAT into a Wasm binary.
///
/// # Errors
///
/// [`Error::Wat`] with the parser's message.
pub fn wat_to_wasm(text: &str) -> Result<Vec<u8>, Error> {
    wat::parse_str(text).map_err(|error| Error::Wat(error.to_string()))
}

/// Reading LEB128 integers and sections of a Wasm binary, just enough for [`start`] and
/// [`names`]. Every read is bounds-checked: malformed input yields `None`, never a panic.
mod reader {
    /// Reads an unsigned LEB128 `u32` at `*pos`, advancing it.
    pub fn u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
        u32::try_from(u64(bytes, pos)?).ok()
    }

    /// Reads an unsigned LEB128 `u64` at `*pos`, advancing it.
    pub fn u64(bytes: &[u8], pos: &mut usize) -> Option<u64> {
        let mut result: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*pos)?;
            *pos += 1;
            result |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(result);
            }
        }
        None
    }

    /// Reads a length-prefixed name at `*pos`, advancing it.
    pub fn name<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
        let len = usize::try_from(u32(bytes, pos)?).ok()?;
        let name = bytes.get(*pos..pos.checked_add(len)?)?;
        *pos += len;
        Some(name)
    }

    /// A section: its id, the range of the whole section and the range of its payload.
    pub type Section = (u8, core::ops::Range<usize>, core::ops::Range<usize>);

    /// The sections of a Wasm binary.
    pub fn sections(bytes: &[u8]) -> Option<Vec<Section>> {
        if bytes.get(..4)? != b"\0asm" {
            return None;
        }
        let mut sections = Vec::new();
        let mut pos = 8;
        while pos < bytes.len() {
            let start = pos;
            let id = *bytes.get(pos)?;
            pos += 1;
            let len = usize::try_from(u32(bytes, &mut pos)?).ok()?;
            let payload = pos..pos.checked_add(len)?;
            if payload.end > bytes.len() {
                return None;
            }
            pos = payload.end;
            sections.push((id, start..pos, payload));
        }
        Some(sections)
    }

    /// Appends `value` as unsigned LEB128.
    pub fn write_u32(out: &mut Vec<u8>, mut value: u32) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
}

/// Moving the start function to an export.
mod start {
    use super::{reader, START_EXPORT};

    const EXPORT: u8 = 7;
    const START: u8 = 8;

    /// The binary with its start section removed and the start function exported under a
    /// hidden name ([`hidden_name`] of the module's exports), and that name; `None` when
    /// there is no start section or the binary is malformed (wasmi then reports the
    /// problem on the original bytes).
    pub fn rewrite(bytes: &[u8]) -> Option<(Vec<u8>, String)> {
        let sections = reader::sections(bytes)?;
        let (_, _, start_payload) = sections.iter().find(|(id, _, _)| *id == START)?;
        let start_func = reader::u32(bytes, &mut start_payload.start.clone())?;
        let export_names = match sections.iter().find(|(id, _, _)| *id == EXPORT) {
            Some((_, _, payload)) => export_names(bytes, payload.clone())?,
            None => Vec::new(),
        };
        let name = hidden_name(export_names.into_iter());
        let mut out = Vec::with_capacity(bytes.len() + 32);
        out.extend_from_slice(bytes.get(..8)?);
        let mut exported = false;
        for (id, whole, payload) in &sections {
            match *id {
                EXPORT => {
                    let mut pos = payload.start;
                    let count = reader::u32(bytes, &mut pos)?;
                    let mut body = Vec::new();
                    reader::write_u32(&mut body, count.checked_add(1)?);
                    body.extend_from_slice(bytes.get(pos..payload.end)?);
                    push_start_export(&mut body, &name, start_func);
                    push_section(&mut out, EXPORT, &body);
                    exported = true;
                }
                START => {
                    // The export section, if any, came before the start section.
                    if !exported {
                        let mut body = Vec::new();
                        reader::write_u32(&mut body, 1);
                        push_start_export(&mut body, &name, start_func);
                        push_section(&mut out, EXPORT, &body);
                        exported = true;
                    }
                }
                _ => out.extend_from_slice(bytes.get(whole.clone())?),
            }
        }
        Some((out, name))
    }

    /// The hidden name for a module exporting `names`: [`START_EXPORT`] followed by one NUL
    /// more than the longest name of that form among them. Of a module's exports after the
    /// rewrite, it is the longest of that form.
    pub fn hidden_name<'a>(names: impl Iterator<Item = &'a str>) -> String {
        with_nuls(nuls(names).map_or(0, |nuls| nuls + 1))
    }

    /// The longest name of the hidden name's form among `names`: in a rewritten module,
    /// the hidden name.
    pub fn longest_name<'a>(names: impl Iterator<Item = &'a str>) -> String {
        with_nuls(nuls(names).unwrap_or(0))
    }

    /// The most NULs after [`START_EXPORT`] among `names` of the form `START_EXPORT` + NULs.
    fn nuls<'a>(names: impl Iterator<Item = &'a str>) -> Option<usize> {
        names
            .filter_map(|name| name.strip_prefix(START_EXPORT))
            .filter(|rest| rest.bytes().all(|byte| byte == 0))
            .map(str::len)
            .max()
    }

    fn with_nuls(nuls: usize) -> String {
        format!("{START_EXPORT}{}", "\0".repeat(nuls))
    }

    /// The names in an export section's `payload` (names that are not UTF-8 are left out:
    /// wasmi refuses such a module anyway).
    fn export_names(bytes: &[u8], payload: core::ops::Range<usize>) -> Option<Vec<&str>> {
        let mut pos = payload.start;
        let count = reader::u32(bytes, &mut pos)?;
        let mut names = Vec::new();
        for _ in 0..count {
            let name = reader::name(bytes, &mut pos)?;
            pos = pos.checked_add(1)?; // the export's kind
            reader::u32(bytes, &mut pos)?; // its index
            names.extend(std::str::from_utf8(name).ok());
        }
        (pos <= payload.end).then_some(names)
    }

    fn push_start_export(body: &mut Vec<u8>, name: &str, func: u32) {
        reader::write_u32(body, name.len() as u32);
        body.extend_from_slice(name.as_bytes());
        body.push(0x00); // func
        reader::write_u32(body, func);
    }

    fn push_section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
        out.push(id);
        reader::write_u32(out, body.len() as u32);
        out.extend_from_slice(body);
    }
}

/// The serialized form: magic, format version, flags, the engine fingerprint, a
/// checksum, then the binary.
mod serialized {
    use super::{Error, Module};

    const MAGIC: &[u8; 8] = b"\0wasmexm";
    const VERSION: u8 = 1;
    const HAS_START: u8 = 1;

    pub struct Decoded<'a> {
        pub fingerprint: &'a str,
        pub has_start: bool,
        pub wasm: &'a [u8],
    }

    pub fn encode(module: &Module) -> Vec<u8> {
        let fingerprint = module.engine.options().fingerprint();
        let mut out = Vec::with_capacity(module.wasm.len() + fingerprint.len() + 32);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(if module.start_export.is_some() {
            HAS_START
        } else {
            0
        });
        out.extend_from_slice(&(fingerprint.len() as u32).to_le_bytes());
        out.extend_from_slice(fingerprint.as_bytes());
        out.extend_from_slice(&checksum(&module.wasm).to_le_bytes());
        out.extend_from_slice(&module.wasm);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Error> {
        let invalid = |why: &str| Error::Deserialize(why.into());
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| invalid("not a serialized module"))?;
        let [version, flags, rest @ ..] = rest else {
            return Err(invalid("truncated"));
        };
        if *version != VERSION {
            return Err(invalid(&format!("unsupported format version {version}")));
        }
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("truncated"))?;
        let len = u32::from_le_bytes(*len) as usize;
        let fingerprint = rest.get(..len).ok_or_else(|| invalid("truncated"))?;
        let fingerprint = std::str::from_utf8(fingerprint).map_err(|_| invalid("damaged"))?;
        let rest = &rest[len..];
        let (sum, wasm) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| invalid("truncated"))?;
        if u64::from_le_bytes(*sum) != checksum(wasm) {
            return Err(invalid(
                "the module is damaged: its checksum does not match",
            ));
        }
        Ok(Decoded {
            fingerprint,
            has_start: flags & HAS_START != 0,
            wasm,
        })
    }

    /// FNV-1a, 64 bits: against damage, not forgery.
    fn checksum(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// Reading the memory section.
mod memories {
    use super::reader;

    const MEMORY: u8 = 5;

    /// The minimum size in bytes of each memory the module defines (not imports).
    pub fn minimum_bytes(bytes: &[u8]) -> Option<Vec<u128>> {
        let sections = reader::sections(bytes)?;
        let Some((_, _, payload)) = sections.iter().find(|(id, _, _)| *id == MEMORY) else {
            return Some(Vec::new());
        };
        let mut pos = payload.start;
        let count = reader::u32(bytes, &mut pos)?;
        let mut minimums = Vec::new();
        for _ in 0..count {
            let flags = *bytes.get(pos)?;
            pos += 1;
            let minimum = reader::u64(bytes, &mut pos)?;
            if flags & 0x01 != 0 {
                reader::u64(bytes, &mut pos)?;
            }
            let page_size_log2 = if flags & 0x08 != 0 {
                reader::u32(bytes, &mut pos)?
            } else {
                16
            };
            minimums.push(u128::from(minimum) << page_size_log2.min(16));
        }
        Some(minimums)
    }
}

/// What instantiation writes, read from the sections (malformed input counts as nothing:
/// it does not instantiate).
mod work {
    use super::{memories, reader};

    const TABLE: u8 = 4;
    const ELEMENT: u8 = 9;
    const DATA: u8 = 11;
    /// Bytes wasmi keeps per table element.
    const ELEMENT_BYTES: u64 = 8;

    pub fn instantiation_bytes(bytes: &[u8]) -> u64 {
        let Some(sections) = reader::sections(bytes) else {
            return 0;
        };
        let memories: u128 = memories::minimum_bytes(bytes)
            .unwrap_or_default()
            .iter()
            .sum();
        let mut total = u64::try_from(memories).unwrap_or(u64::MAX);
        for (id, _, payload) in &sections {
            let len = payload.len() as u64;
            let work = match *id {
                TABLE => table_elements(bytes, payload.start).saturating_mul(ELEMENT_BYTES),
                // Each element item takes at least a byte of the section.
                ELEMENT => len.saturating_mul(ELEMENT_BYTES),
                DATA => len,
                _ => 0,
            };
            total = total.saturating_add(work);
        }
        total
    }

    /// The sum of the minimum sizes of the tables a table section defines.
    fn table_elements(bytes: &[u8], mut pos: usize) -> u64 {
        let Some(count) = reader::u32(bytes, &mut pos) else {
            return 0;
        };
        let mut total: u64 = 0;
        for _ in 0..count {
            // A table with an initializer expression (0x40 0x00 ...) is left at that:
            // reading the expression is not worth it here.
            let Some(&kind) = bytes.get(pos) else { break };
            if kind == 0x40 {
                break;
            }
            pos += 1;
            let Some(&flags) = bytes.get(pos) else { break };
            pos += 1;
            let Some(minimum) = reader::u64(bytes, &mut pos) else {
                break;
            };
            if flags & 0x01 != 0 && reader::u64(bytes, &mut pos).is_none() {
                break;
            }
            total = total.saturating_add(minimum);
        }
        total
    }
}

/// Reading the module name from a `name` custom section.
mod names {
    use super::reader;

    /// The module name (subsection 0) of a `name` section's payload.
    pub fn module_name(data: &[u8]) -> Option<String> {
        let mut pos = 0;
        while pos < data.len() {
            let id = *data.get(pos)?;
            pos += 1;
            let len = usize::try_from(reader::u32(data, &mut pos)?).ok()?;
            let end = pos.checked_add(len)?;
            if id == 0 {
                let name = reader::name(data, &mut pos)?;
                return String::from_utf8(name.to_vec()).ok();
            }
            pos = end;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        crate::engine::EngineOptions::default().engine()
    }

    #[test]
    fn compiles_wat_and_binaries() {
        let binary = wat_to_wasm("(module)").unwrap();
        assert!(Module::compile(&engine(), &binary).is_ok());
        assert!(Module::compile(&engine(), b"(module)").is_ok());
    }

    #[test]
    fn bad_wat_and_bad_binaries_have_distinct_messages() {
        let error = Module::compile(&engine(), b"wat is this? not WAT for sure").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("Error while parsing bytes: expected `(`"),
            "{error}"
        );
        assert!(error.to_string().ends_with('.'));
        let error = Module::compile(&engine(), b"\0asm\x01\0\0\0\x01").unwrap_err();
        assert!(
            error.to_string().starts_with("Could not compile module: "),
            "{error}"
        );
    }

    #[test]
    fn reads_the_module_name() {
        let module = Module::compile(&engine(), b"(module $hiFromTheDocs)").unwrap();
        assert_eq!(module.name().as_deref(), Some("hiFromTheDocs"));
        let module = Module::compile(&engine(), b"(module)").unwrap();
        assert_eq!(module.name(), None);
    }

    #[test]
    fn moves_the_start_function_to_a_hidden_export() {
        let wat = br#"(module (func $init) (func (export "f")) (start $init))"#;
        let module = Module::compile(&engine(), wat).unwrap();
        assert_eq!(module.start_export(), Some(START_EXPORT));
        assert!(module.wasmi.get_export(START_EXPORT).is_some());
        let names: Vec<_> = module.exports().into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["f"]);

        let module = Module::compile(&engine(), br#"(module (func $init) (start $init))"#).unwrap();
        assert!(module.start_export().is_some());
        assert!(module.exports().is_empty());
    }

    #[test]
    fn the_hidden_start_export_is_a_name_the_module_does_not_use() {
        // The module's own exports of the stem's form stay, and stay visible.
        let wat = br#"(module (func $init) (func $f)
          (export "\00wasmex_start" (func $f)) (export "\00wasmex_start\00\00" (func $f))
          (start $init))"#;
        let module = Module::compile(&engine(), wat).unwrap();
        let hidden = "\0wasmex_start\0\0\0";
        assert_eq!(module.start_export(), Some(hidden));
        let names: Vec<_> = module.exports().into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["\0wasmex_start", "\0wasmex_start\0\0"]);
        assert!(module.is_func_export("\0wasmex_start") && !module.is_func_export(hidden));
        // The serialized module finds the same name again.
        let again = Module::deserialize(&engine(), &module.serialize()).unwrap();
        assert_eq!(again.start_export(), Some(hidden));
        // Without a start function nothing is hidden.
        let wat = br#"(module (func (export "\00wasmex_start")))"#;
        let module = Module::compile(&engine(), wat).unwrap();
        assert_eq!(module.start_export(), None);
        assert!(module.is_func_export(START_EXPORT));
    }

    #[test]
    fn a_start_section_is_validated_as_given() {
        // Each would validate once the start function is moved to an export.
        for wat in [
            "(module (func $main (result i32) (i32.const 0)) (start $main))",
            "(module (func $main (param i32)) (start $main))",
            "(module (start $f) (func $f (drop (ref.func $f))))",
        ] {
            let error = Module::compile(&engine(), wat.as_bytes()).err();
            assert!(
                matches!(error, Some(Error::Compile(_))),
                "{wat} compiled: {error:?}"
            );
        }
        // A second start section (`8, size 1, function 0`), which the rewrite would drop.
        let mut twice = wat::parse_str("(module (func $f) (start $f))").unwrap();
        twice.extend_from_slice(&[8, 1, 0]);
        assert!(Module::compile(&engine(), &twice).is_err());
    }

    #[test]
    fn describes_exports() {
        let wat = br#"(module
            (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
            (global (export "g") (mut i64) (i64.const 0))
            (memory (export "mem") 1 2)
            (table (export "t") 3 funcref))"#;
        let exports = Module::compile(&engine(), wat).unwrap().exports();
        assert_eq!(
            exports[0],
            (
                "add".into(),
                ExternInfo::Func {
                    params: vec![ValType::I32; 2],
                    results: vec![ValType::I32]
                }
            )
        );
        assert_eq!(
            exports[1],
            (
                "g".into(),
                ExternInfo::Global {
                    ty: ValType::I64,
                    mutable: true
                }
            )
        );
        assert_eq!(
            exports[2],
            (
                "mem".into(),
                ExternInfo::Memory {
                    minimum: 1,
                    maximum: Some(2),
                    shared: false,
                    memory64: false
                }
            )
        );
        assert_eq!(
            exports[3],
            (
                "t".into(),
                ExternInfo::Table {
                    minimum: 3,
                    maximum: None,
                    element: ValType::FuncRef
                }
            )
        );
    }
}
