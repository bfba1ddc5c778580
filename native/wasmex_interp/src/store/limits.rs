//! `%Wasmex.StoreLimits{}`, decoded into the engine's [`Limits`].

use rustler::NifStruct;
use wasmex_core::store::Limits;

/// `%Wasmex.StoreLimits{}`.
#[derive(NifStruct)]
#[module = "Wasmex.StoreLimits"]
pub(crate) struct ExStoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: Option<usize>,
    tables: Option<usize>,
    memories: Option<usize>,
    nested_calls: Option<usize>,
}

impl From<ExStoreLimits> for Limits {
    fn from(limits: ExStoreLimits) -> Self {
        Limits {
            memory_size: limits.memory_size,
            table_elements: limits.table_elements,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
            nested_calls: limits.nested_calls,
        }
    }
}
