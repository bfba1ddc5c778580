defmodule Wasmex do
  @moduledoc ~S"""
  WebAssembly for Elixir, with the Wasmex API, on the wasmi interpreter.

  Swap the `:wasmex` dependency for `:wasmex_interp` and keep your code: the modules and
  calls are Wasmex's. What differs is underneath: guests run in the calling process in
  fuel slices (no JIT, no background threads), Elixir imports are called in that same
  process, and the same guest uses the same fuel on every run and every CPU.

    * `Wasmex.Store` - creates stores, with optional fuel and limits.
    * `Wasmex.Module` - compiles Wasm binaries or WAT.
    * `Wasmex.Instance` - instantiates modules with Elixir imports; calls functions.
    * `Wasmex.Memory` - reads and writes guest memory.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (func (export "add") (param i32 i32) (result i32)
      ...>     (i32.add (local.get 0) (local.get 1))))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.call_function(store, instance, "add", [2, 3])
      {:ok, [5]}
  """
end
