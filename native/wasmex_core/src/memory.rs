//! Host access to linear memories, bounds-checked.

use crate::{store::Store, Error};
use wasmi::Memory;

/// The size of `memory` in bytes.
pub fn size(store: &Store, memory: Memory) -> u64 {
    memory.data(store.wasmi()).len() as u64
}

/// Grows `memory` by `pages` pages; returns the previous size in pages.
///
/// # Errors
///
/// [`Error::MemoryGrow`] when the memory's maximum, the store limits or the host refuse.
pub fn grow(store: &mut Store, memory: Memory, pages: u64) -> Result<u64, Error> {
    memory
        .grow(store.wasmi_mut(), pages)
        .map_err(|_| Error::MemoryGrow(format!("failed to grow memory by `{pages}`.")))
}

/// The bytes `offset..offset + len` of `memory`.
///
/// # Errors
///
/// [`Error::MemoryOutOfBounds`] when the range does not lie inside the memory.
pub fn read(store: &Store, memory: Memory, offset: u64, len: u64) -> Result<&[u8], Error> {
    let range = range(offset, len)?;
    memory
        .data(store.wasmi())
        .get(range)
        .ok_or(Error::MemoryOutOfBounds)
}

/// Writes `bytes` to `memory` starting at `offset`.
///
/// # Errors
///
/// [`Error::MemoryOutOfBounds`] when the range does not lie inside the memory; nothing is
/// written then.
pub fn write(store: &mut Store, memory: Memory, offset: u64, bytes: &[u8]) -> Result<(), Error> {
    let range = range(offset, bytes.len() as u64)?;
    let target = memory
        .data_mut(store.wasmi_mut())
        .get_mut(range)
        .ok_or(Error::MemoryOutOfBounds)?;
    target.copy_from_slice(bytes);
    Ok(())
}

fn range(offset: u64, len: u64) -> Result<core::ops::Range<usize>, Error> {
    let start = usize::try_from(offset).map_err(|_| Error::MemoryOutOfBounds)?;
    let len = usize::try_from(len).map_err(|_| Error::MemoryOutOfBounds)?;
    let end = start.checked_add(len).ok_or(Error::MemoryOutOfBounds)?;
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{engine::EngineOptions, instance, module::Module};

    fn memory_store() -> (Store, Memory) {
        let engine = EngineOptions::default().engine();
        let module =
            Module::compile(&engine, br#"(module (memory (export "memory") 1 2))"#).unwrap();
        let mut store = Store::new(&engine, None, &Default::default());
        let instance = instance::instantiate(&mut store, &module, &[], &[])
            .unwrap()
            .instance;
        let memory = instance::memory(&store, instance, Some("memory")).unwrap();
        (store, memory)
    }

    #[test]
    fn reads_and_writes_inside_bounds_only() {
        let (mut store, memory) = memory_store();
        write(&mut store, memory, 65_533, b"abc").unwrap();
        assert_eq!(read(&store, memory, 65_533, 3).unwrap(), b"abc");
        assert!(matches!(
            read(&store, memory, 65_534, 3),
            Err(Error::MemoryOutOfBounds)
        ));
        assert!(matches!(
            write(&mut store, memory, u64::MAX, b"a"),
            Err(Error::MemoryOutOfBounds)
        ));
        assert!(matches!(
            read(&store, memory, u64::MAX, u64::MAX),
            Err(Error::MemoryOutOfBounds)
        ));
        assert_eq!(read(&store, memory, 65_536, 0).unwrap(), b"");
    }

    #[test]
    fn grows_up_to_the_maximum() {
        let (mut store, memory) = memory_store();
        assert_eq!(grow(&mut store, memory, 1).unwrap(), 1);
        assert_eq!(size(&store, memory), 2 * 65_536);
        let error = grow(&mut store, memory, 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Failed to grow the memory: failed to grow memory by `1`."
        );
    }
}
