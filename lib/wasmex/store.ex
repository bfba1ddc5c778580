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

  alias Wasmex.{Engine, Native, StoreLimits, StoreOrCaller}

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
    engine_resource =
      case engine do
        nil -> nil
        %Engine{resource: resource} -> resource
        other -> raise ArgumentError, "expected a %Wasmex.Engine{} or nil, got: #{inspect(other)}"
      end

    {:ok, Native.store_new(limits, engine_resource, fuel)}
  end
end
