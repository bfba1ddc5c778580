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

  alias Wasmex.{Args, Engine, Native, StoreOrCaller}

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

  def compile(store, bytes),
    do: Args.invalid!(store: {StoreOrCaller, store}, bytes: {:binary, bytes})

  @doc """
  Serializes the module, for `unsafe_deserialize/2` to load it again without validating
  it: the cheap way to keep compiled modules (in a file, in ETS) across restarts.

  wasmi has no machine code to cache: the bytes are the validated module with the
  engine's Wasm feature fingerprint and a checksum, so they are portable across machines
  and CPU architectures, unlike Wasmtime's `.cwasm` files.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module $named)")
      iex> {:ok, <<0, "wasmexm", _::binary>>} = Wasmex.Module.serialize(module)
  """
  @spec serialize(t()) :: {:ok, binary()} | {:error, String.t()}
  def serialize(%__MODULE__{resource: module}), do: {:ok, Native.module_serialize(module)}
  def serialize(module), do: Args.invalid!(module: {__MODULE__, module})

  @doc """
  Loads a module serialized by `serialize/1` or `Wasmex.Engine.precompile_module/2`, for
  stores of `engine` (default: a new engine, as in Wasmex).

  Validation is skipped: it passed when the module was compiled, under the same Wasm
  features (the engines' fingerprints must match) and the checksum shows the bytes are
  unchanged. Bytes from an untrusted source can be forged to pass both checks: load only
  bytes you made, hence the name.

  Errors are `{:error, "Could not deserialize module: ..."}`.

      iex> engine = Wasmex.Engine.default()
      iex> {:ok, store} = Wasmex.Store.new(nil, engine)
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module $named)")
      iex> {:ok, bytes} = Wasmex.Module.serialize(module)
      iex> {:ok, copy} = Wasmex.Module.unsafe_deserialize(bytes, engine)
      iex> Wasmex.Module.name(copy)
      "named"
      iex> Wasmex.Module.unsafe_deserialize("not a module")
      {:error, "Could not deserialize module: not a serialized module"}
  """
  @spec unsafe_deserialize(binary(), Engine.t() | nil) :: {:ok, t()} | {:error, String.t()}
  def unsafe_deserialize(bytes, engine \\ nil)

  def unsafe_deserialize(bytes, engine)
      when is_binary(bytes) and (is_nil(engine) or is_struct(engine, Engine)) do
    %Engine{resource: engine} = engine || Engine.default()
    Native.module_unsafe_deserialize(bytes, engine)
  end

  def unsafe_deserialize(bytes, engine),
    do: Args.invalid!(bytes: {:binary, bytes}, engine: {{:or_nil, Engine}, engine})

  @doc """
  Returns the module's name (from its `name` section), or `nil`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module $hiFromTheDocs)")
      iex> Wasmex.Module.name(module)
      "hiFromTheDocs"
  """
  @spec name(t()) :: String.t() | nil
  def name(%__MODULE__{resource: module}), do: Native.module_name(module)
  def name(module), do: Args.invalid!(module: {__MODULE__, module})

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
  def exports(module), do: Args.invalid!(module: {__MODULE__, module})

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
  def imports(module), do: Args.invalid!(module: {__MODULE__, module})
end
