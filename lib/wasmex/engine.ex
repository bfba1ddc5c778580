defmodule Wasmex.Engine do
  @moduledoc ~S"""
  An engine: the context modules are compiled in, shared by the stores made with it.

  A module can be instantiated only in a store of the engine it was compiled with.
  `Wasmex.Store.new/0` makes a fresh engine for each store, as Wasmex does, so compiled
  code is freed with the store and its modules. To use one compiled module in many
  stores, make an engine once and pass it to `Wasmex.Store.new/2`.

  Code compiled into an engine is freed only when the engine and every module, store and
  instance made with it are gone: do not compile an unbounded stream of new modules into
  one long-lived engine.

  ## Example

      iex> {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
      iex> {:ok, store_a} = Wasmex.Store.new(nil, engine)
      iex> {:ok, store_b} = Wasmex.Store.new(nil, engine)
      iex> {:ok, module} = Wasmex.Module.compile(store_a, "(module)")
      iex> {:ok, %Wasmex.Instance{}} = Wasmex.Instance.new(store_b, module, %{})
  """

  alias Wasmex.{Args, EngineConfig, Native}

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @doc """
  Creates an engine with `config`.

      iex> {:ok, %Wasmex.Engine{}} = Wasmex.Engine.new(%Wasmex.EngineConfig{consume_fuel: true})
  """
  @spec new(EngineConfig.t()) :: {:ok, t()} | {:error, String.t()}
  def new(%EngineConfig{} = config) do
    EngineConfig.validate!(config)
    {:ok, Native.engine_new(config)}
  end

  def new(config), do: Args.invalid!(config: {EngineConfig, config})

  @doc """
  Creates an engine with the default configuration. Like Wasmex, every call makes a new
  engine.

      iex> %Wasmex.Engine{} = Wasmex.Engine.default()
  """
  @spec default() :: t()
  def default do
    {:ok, engine} = new(%EngineConfig{})
    engine
  end

  @doc """
  Compiles `bytes` (a Wasm binary or WAT) with `engine` and returns the module serialized,
  as `Wasmex.Module.serialize/1` would: load it with `Wasmex.Module.unsafe_deserialize/2`.

  wasmi has no machine code to cache: the serialized module is the validated binary with
  the engine's feature fingerprint and a checksum, so it is portable across machines and
  CPU architectures, and loading it skips validation.

      iex> engine = Wasmex.Engine.default()
      iex> {:ok, serialized} = Wasmex.Engine.precompile_module(engine, ~S[(module
      ...>   (func (export "one") (result i32) (i32.const 1)))])
      iex> {:ok, module} = Wasmex.Module.unsafe_deserialize(serialized, engine)
      iex> Wasmex.Module.exports(module)
      %{"one" => {:fn, [], [:i32]}}
  """
  @spec precompile_module(t(), binary()) :: {:ok, binary()} | {:error, String.t()}
  def precompile_module(%__MODULE__{resource: engine}, bytes) when is_binary(bytes),
    do: Native.engine_precompile_module(engine, bytes)

  def precompile_module(engine, bytes),
    do: Args.invalid!(engine: {__MODULE__, engine}, bytes: {:binary, bytes})
end
