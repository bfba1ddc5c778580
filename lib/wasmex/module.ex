defmodule Wasmex.Module do
  @moduledoc ~S"""
  A compiled WebAssembly module, ready to be instantiated with `Wasmex.Instance.new/3`.

  A module is immutable and may be instantiated any number of times, in stores of the
  engine it was compiled with. wasmi validates the whole module when it is compiled and
  translates each function to its bytecode on the function's first call, so even large
  modules are ready in milliseconds.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module $adder
      ...>   (func (export "add") (param i32 i32) (result i32)
      ...>     (i32.add (local.get 0) (local.get 1))))])
      iex> Wasmex.Module.name(module)
      "adder"
      iex> Wasmex.Module.exports(module)
      %{"add" => {:fn, [:i32, :i32], [:i32]}}
  """

  alias Wasmex.{Native, StoreOrCaller}

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @typedoc "A value type as it appears in type descriptions."
  @type value_type :: :i32 | :i64 | :f32 | :f64 | :v128 | {:reference, String.t()}

  @typedoc """
  What an import or export is: `{:fn, params, results}`,
  `{:global, %{mutability: :const | :var, type: t}}`,
  `{:memory, %{minimum: pages, shared: bool, memory64: bool}}` (plus `:maximum` when the
  module declares one) or `{:table, %{minimum: n, type: t}}` (plus `:maximum`).
  """
  @type extern_type ::
          {:fn, [value_type()], [value_type()]}
          | {:global, %{mutability: :const | :var, type: value_type()}}
          | {:memory, map()}
          | {:table, map()}

  @doc """
  Compiles `bytes`, a Wasm binary or WAT text, with the engine of `store`.

  Invalid WAT gives `{:error, "Error while parsing bytes: <reason>."}`; a binary that does
  not validate gives `{:error, "Could not compile module: <reason>"}`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, %Wasmex.Module{}} = Wasmex.Module.compile(store, "(module)")
      iex> {:error, "Error while parsing bytes: expected `(`" <> _} =
      ...>   Wasmex.Module.compile(store, "wat is this? not WAT for sure")
      iex> {:error, "Could not compile module: " <> _} =
      ...>   Wasmex.Module.compile(store, <<0, "asm", 1, 0, 0, 0, 1>>)
  """
  @spec compile(StoreOrCaller.t(), binary()) :: {:ok, t()} | {:error, String.t()}
  def compile(%StoreOrCaller{resource: store}, bytes) when is_binary(bytes),
    do: Native.module_compile(store, bytes)

  @doc """
  Returns the module's name (from its `name` section), or `nil`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module $hiFromTheDocs)")
      iex> Wasmex.Module.name(module)
      "hiFromTheDocs"
  """
  @spec name(t()) :: String.t() | nil
  def name(%__MODULE__{resource: module}), do: Native.module_name(module)

  @doc """
  Returns the module's exports: a map of export name to `t:extern_type/0`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (memory (export "memory") 1 2)
      ...>   (global (export "count") (mut i64) (i64.const 0))
      ...>   (table (export "table") 3 funcref))])
      iex> Wasmex.Module.exports(module)
      %{
        "memory" => {:memory, %{minimum: 1, maximum: 2, shared: false, memory64: false}},
        "count" => {:global, %{mutability: :var, type: :i64}},
        "table" => {:table, %{minimum: 3, type: {:reference, "(ref null func)"}}}
      }
  """
  @spec exports(t()) :: %{String.t() => extern_type()}
  def exports(%__MODULE__{resource: module}), do: Native.module_exports(module)

  @doc """
  Returns the module's imports, grouped by namespace:
  `%{namespace => %{name => extern_type}}`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (import "env" "log" (func (param i32 i32)))
      ...>   (import "env" "memory" (memory 1)))])
      iex> Wasmex.Module.imports(module)
      %{
        "env" => %{
          "log" => {:fn, [:i32, :i32], []},
          "memory" => {:memory, %{minimum: 1, shared: false, memory64: false}}
        }
      }
  """
  @spec imports(t()) :: %{String.t() => %{String.t() => extern_type()}}
  def imports(%__MODULE__{resource: module}), do: Native.module_imports(module)
end
