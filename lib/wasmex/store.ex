defmodule Wasmex.Store do
  @moduledoc ~S"""
  Creates stores (`Wasmex.StoreOrCaller`), the worlds instances live in.

  There is no `%Wasmex.Store{}` struct: as in Wasmex, the functions here return a
  `%Wasmex.StoreOrCaller{}`.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module)")
      iex> {:ok, %Wasmex.Instance{}} = Wasmex.Instance.new(store, module, %{})
  """

  alias Wasmex.{Engine, Native, Pipe, StoreLimits, StoreOrCaller}
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @typedoc """
  The seed's form of store options: a plain map with `:fuel` (fuel metering on, with that
  much fuel), and optionally `:limits` and `:engine`.
  """
  @type options :: %{
          optional(:fuel) => non_neg_integer(),
          optional(:limits) => StoreLimits.t() | nil,
          optional(:engine) => Engine.t() | nil
        }

  @doc """
  Creates a store.

  `limits` is a `Wasmex.StoreLimits` struct, or `nil`. It may also be a plain map with
  `:fuel` (the seed's form): the store then meters fuel and starts with that much, e.g.
  `Wasmex.Store.new(%{fuel: 100_000})`; such a map may carry `:limits` and `:engine` too.

  `engine` defaults to a new engine (`Wasmex.Engine.default/0`). A module compiled in this
  store can be instantiated only in stores of the same engine.

      iex> {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new()
      iex> {:ok, store} = Wasmex.Store.new(%{fuel: 100_000})
      iex> Wasmex.StoreOrCaller.get_fuel(store)
      {:ok, 100000}
      iex> {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new(%Wasmex.StoreLimits{memory_size: 1_000_000})
  """
  @spec new(StoreLimits.t() | options() | nil, Engine.t() | nil) ::
          {:ok, StoreOrCaller.t()} | {:error, String.t()}
  def new(limits \\ nil, engine \\ nil)

  def new(%StoreLimits{} = limits, engine), do: new_store(limits, engine, nil)
  def new(nil, engine), do: new_store(nil, engine, nil)

  def new(%{} = options, engine) when not is_struct(options) do
    fuel = Map.get(options, :fuel)

    unless is_nil(fuel) or (is_integer(fuel) and fuel >= 0) do
      raise ArgumentError, "expected :fuel to be a non-negative integer, got: #{inspect(fuel)}"
    end

    new_store(Map.get(options, :limits), engine || Map.get(options, :engine), fuel)
  end

  def new(other, _engine) do
    raise ArgumentError,
          "expected a %Wasmex.StoreLimits{}, a map with :fuel, or nil, got: #{inspect(other)}"
  end

  defp new_store(limits, engine, fuel) do
    {:ok, Native.store_new(limits, engine_resource(engine), fuel)}
  end

  @doc """
  Creates a WASI store: guests instantiated in it may import WASI preview 1
  (`wasi_snapshot_preview1`) with the arguments, environment, directories and standard
  streams of `options`. See `Wasmex.Wasi.WasiOptions`.

  `limits` and `engine` are as in `new/2`; `limits` may also be the seed's map with
  `:fuel`. A preopened directory that cannot be opened gives `{:error, reason}`.

      iex> {:ok, store} = Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{args: ["app"]})
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      ...>   (memory (export "memory") 1)
      ...>   (func (export "_start") (call $exit (i32.const 3))))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.call_function(store, instance, "_start", [])
      {:error, "Exited with i32 exit status 3"}
  """
  @spec new_wasi(WasiOptions.t(), StoreLimits.t() | options() | nil, Engine.t() | nil) ::
          {:ok, StoreOrCaller.t()} | {:error, String.t()}
  def new_wasi(%WasiOptions{} = options, limits \\ nil, engine \\ nil) do
    check_wasi!(options)

    {limits, engine, fuel} =
      case limits do
        %{} = map when not is_struct(map) ->
          {Map.get(map, :limits), engine || Map.get(map, :engine), Map.get(map, :fuel)}

        limits ->
          {limits, engine, nil}
      end

    Native.store_new_wasi(options, limits, engine_resource(engine), fuel)
  end

  defp engine_resource(nil), do: nil
  defp engine_resource(%Engine{resource: resource}), do: resource

  defp engine_resource(other) do
    raise ArgumentError, "expected a %Wasmex.Engine{} or nil, got: #{inspect(other)}"
  end

  defp check_wasi!(%WasiOptions{} = options) do
    unless is_list(options.args) and Enum.all?(options.args, &is_binary/1) do
      raise ArgumentError, "expected :args to be a list of strings, got: #{inspect(options.args)}"
    end

    unless is_map(options.env) and
             Enum.all?(options.env, fn {k, v} -> is_binary(k) and is_binary(v) end) do
      raise ArgumentError, "expected :env to be a map of strings, got: #{inspect(options.env)}"
    end

    unless is_list(options.preopen) and
             Enum.all?(options.preopen, &match?(%PreopenOptions{path: p} when is_binary(p), &1)) do
      raise ArgumentError,
            "expected :preopen to be a list of %Wasmex.Wasi.PreopenOptions{}, got: #{inspect(options.preopen)}"
    end

    unless match?(nil, options.stdin) or match?(%Pipe{}, options.stdin) do
      raise ArgumentError,
            "expected :stdin to be a %Wasmex.Pipe{} or nil, got: #{inspect(options.stdin)}"
    end

    for key <- [:stdout, :stderr] do
      case Map.fetch!(options, key) do
        nil ->
          :ok

        %Pipe{} ->
          :ok

        {:send, pid} when is_pid(pid) ->
          :ok

        {:send, pid, _tag} when is_pid(pid) ->
          :ok

        other ->
          raise ArgumentError,
                "expected #{inspect(key)} to be a %Wasmex.Pipe{}, {:send, pid}, {:send, pid, tag} or nil, got: #{inspect(other)}"
      end
    end
  end
end
