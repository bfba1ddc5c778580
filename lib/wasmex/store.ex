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

  require Wasmex.Compat, as: Compat
  alias Wasmex.{Args, Engine, Native, Pipe, StoreLimits, StoreOrCaller}
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @typedoc """
  The map form of store options, as in `Wasmex.Store.new(%{fuel: 100_000})`: `:fuel` (fuel
  metering on, with that much fuel), and optionally `:limits` and `:engine`.
  """
  @type options :: %{
          optional(:fuel) => non_neg_integer(),
          optional(:limits) => StoreLimits.t() | nil,
          optional(:engine) => Engine.t() | nil
        }

  @doc """
  Creates a store.

  `limits` is a `Wasmex.StoreLimits` struct, or `nil`. It may also be a plain map with
  `:fuel` (the map form, `Wasmex.Store.new(%{fuel: 100_000})`): the store then meters fuel
  and starts with that much; such a map may carry `:limits` and `:engine` too.

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
  def new(limits \\ nil, engine \\ nil) do
    {limits, engine, fuel} = store_options(limits, engine)
    {:ok, Native.store_new(limits, engine, fuel)}
  end

  # `{limits, engine resource, fuel}` from the `limits` and `engine` of `new/2` and
  # `new_wasi/3`.
  defp store_options(%StoreLimits{} = limits, engine) do
    Args.whole!(limits)
    {limits, engine_resource(engine), nil}
  end

  defp store_options(nil, engine), do: {nil, engine_resource(engine), nil}

  defp store_options(%{} = options, engine) when not is_struct(options) do
    Args.keys!(options, [:fuel, :limits, :engine])

    fuel = Map.get(options, :fuel)

    unless is_nil(fuel) or (is_integer(fuel) and fuel >= 0 and fuel < 2 ** 64) do
      raise ArgumentError,
            "expected :fuel to be a non-negative integer below 2^64, got: #{inspect(fuel)}"
    end

    limits = Map.get(options, :limits)

    unless is_nil(limits) or is_struct(limits, StoreLimits) do
      raise ArgumentError,
            "expected :limits to be a %Wasmex.StoreLimits{} or nil, got: #{inspect(limits)}"
    end

    if limits, do: Args.whole!(limits)

    # The `engine` argument, if given, wins over the map's (checked all the same).
    map_engine = engine_resource(Map.get(options, :engine))
    {limits, if(is_nil(engine), do: map_engine, else: engine_resource(engine)), fuel}
  end

  defp store_options(other, _engine) do
    raise ArgumentError,
          "expected a %Wasmex.StoreLimits{}, a map with :fuel, or nil, got: #{inspect(other)}"
  end

  @doc """
  Creates a WASI store: guests instantiated in it may import WASI preview 1
  (`wasi_snapshot_preview1`) with the arguments, environment, directories and standard
  streams of `options`. See `Wasmex.Wasi.WasiOptions`.

  `limits` and `engine` are as in `new/2`; `limits` may also be the map form with
  `:fuel`. A preopened directory that cannot be opened gives `{:error, reason}`.

      iex> {:ok, store} = Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{args: ["app"]})
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      ...>   (memory (export "memory") 1)
      ...>   (func (export "_start") (call $exit (i32.const 3))))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.call_function(store, instance, "_start", [])
      #{Compat.doc(~S|{:error, "Exited with i32 exit status 3"}|, ~S|{:error, "Error during function excecution: Exited with i32 exit status 3"}|)}
  """
  @spec new_wasi(WasiOptions.t(), StoreLimits.t() | options() | nil, Engine.t() | nil) ::
          {:ok, StoreOrCaller.t()} | {:error, String.t()}
  def new_wasi(options, limits \\ nil, engine \\ nil)

  def new_wasi(%WasiOptions{} = options, limits, engine) do
    check_wasi!(options)
    {limits, engine, fuel} = store_options(limits, engine)
    Native.store_new_wasi(options, limits, engine, fuel)
  end

  def new_wasi(options, _limits, _engine), do: Args.invalid!(options: {WasiOptions, options})

  # Strings cross to WASI as Rust strings: UTF-8.
  defp string?(value), do: is_binary(value) and String.valid?(value)

  defp preopen?(%PreopenOptions{path: path, alias: alias}),
    do: string?(path) and (is_nil(alias) or string?(alias))

  defp preopen?(_other), do: false

  defp engine_resource(nil), do: nil
  defp engine_resource(%Engine{resource: resource}) when is_reference(resource), do: resource

  defp engine_resource(other) do
    raise ArgumentError, "expected a %Wasmex.Engine{} or nil, got: #{inspect(other)}"
  end

  defp check_wasi!(%WasiOptions{} = options) do
    Args.whole!(options)

    unless Args.proper_list?(options.args) and Enum.all?(options.args, &string?/1) do
      raise ArgumentError, "expected :args to be a list of strings, got: #{inspect(options.args)}"
    end

    unless is_map(options.env) and
             Enum.all?(options.env, fn {k, v} -> string?(k) and string?(v) end) do
      raise ArgumentError, "expected :env to be a map of strings, got: #{inspect(options.env)}"
    end

    unless Args.proper_list?(options.preopen) and Enum.all?(options.preopen, &preopen?/1) do
      raise ArgumentError,
            "expected :preopen to be a list of %Wasmex.Wasi.PreopenOptions{}, got: #{inspect(options.preopen)}"
    end

    Enum.each(options.preopen, &Args.whole!/1)

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
