defmodule Wasmex.StoreLimits do
  @moduledoc ~S"""
  Limits on the resources a store's guests may take, given to `Wasmex.Store.new/2`.

  A field left `nil` is not limited, except the counts of instances, tables and
  memories, which default to 10,000 each.

  ## Options

    * `:memory_size` - the most bytes one linear memory may grow to. An instance whose
      initial memory is larger fails to instantiate; `memory.grow` past it returns -1 to
      the guest; `Wasmex.Memory.grow/3` returns an error. Defaults to `nil`.
    * `:table_elements` - the most elements one table may grow to. Defaults to `nil`.
    * `:instances` - the most instances in the store. Defaults to 10,000.
    * `:tables` - the most tables in the store. Defaults to 10,000.
    * `:memories` - the most linear memories in the store. Defaults to 10,000.

  ## Example

      iex> limits = %Wasmex.StoreLimits{memory_size: 65_536, instances: 2}
      iex> {:ok, store} = Wasmex.Store.new(limits)
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module (memory 2))")
      iex> Wasmex.Instance.new(store, module, %{})
      {:error, "memory minimum size of 2 pages exceeds memory limits"}
  """

  defstruct [:memory_size, :table_elements, :instances, :tables, :memories]

  @type t :: %__MODULE__{
          memory_size: non_neg_integer() | nil,
          table_elements: non_neg_integer() | nil,
          instances: non_neg_integer() | nil,
          tables: non_neg_integer() | nil,
          memories: non_neg_integer() | nil
        }
end
