defmodule Wasmex.StoreLimits do
  @moduledoc ~S"""
  Limits on the resources a store's guests may take, given to `Wasmex.Store.new/2`.

  A field left `nil` is not limited, except the counts of instances, tables and
  memories, which default to 10,000 each, and nested calls, which default to 1,000.

  ## Options

    * `:memory_size` - the most bytes one linear memory may grow to. An instance whose
      initial memory is larger fails to instantiate; `memory.grow` past it returns -1 to
      the guest; `Wasmex.Memory.grow/3` returns an error. Defaults to `nil`.
    * `:table_elements` - the most elements one table may grow to. Defaults to `nil`.
    * `:instances` - the most instances in the store. Defaults to 10,000.
    * `:tables` - the most tables in the store. Defaults to 10,000.
    * `:memories` - the most linear memories in the store. Defaults to 10,000.
    * `:nested_calls` - the most calls into the store from its own Elixir imports in
      progress at once (a callback calling the guest, whose import calls back, ...). The
      call past it fails with `"call stack exhausted: more than N nested calls into the
      store"`. Each level holds a suspended call (about 2 KB), so this bounds what a
      guest recursing through the host can take. Defaults to 1,000.

  ## Example

      iex> limits = %Wasmex.StoreLimits{memory_size: 65_536, instances: 2}
      iex> {:ok, store} = Wasmex.Store.new(limits)
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module (memory 2))")
      iex> Wasmex.Instance.new(store, module, %{})
      {:error, "memory minimum size of 2 pages exceeds memory limits"}
  """

  defstruct [:memory_size, :table_elements, :instances, :tables, :memories, :nested_calls]

  @type t :: %__MODULE__{
          memory_size: non_neg_integer() | nil,
          table_elements: non_neg_integer() | nil,
          instances: non_neg_integer() | nil,
          tables: non_neg_integer() | nil,
          memories: non_neg_integer() | nil,
          nested_calls: non_neg_integer() | nil
        }
end
