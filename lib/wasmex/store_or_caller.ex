defmodule Wasmex.StoreOrCaller do
  @moduledoc ~S"""
  A store: the world instances live in, with their memories, globals and fuel.

  `Wasmex.Store.new/2` returns one. Inside an import callback, `context.store` and
  `context.caller` are this same store: a callback can read and write memory, change fuel
  and call back into the guest through them.

  Only one process uses a store at a time. A process that calls into a store owns it
  until the call ends (its callbacks included); other processes that use the store
  meanwhile wait, without blocking a scheduler.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new(%{fuel: 100})
      iex> Wasmex.StoreOrCaller.get_fuel(store)
      {:ok, 100}
  """

  alias Wasmex.{Args, Native}

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @doc """
  Sets the fuel left in `store`.

  Fuel must be on: the store was made with `Wasmex.Store.new(%{fuel: n})` or with an
  engine configured with `Wasmex.EngineConfig.consume_fuel/2`.

      iex> {:ok, store} = Wasmex.Store.new(%{fuel: 0})
      iex> Wasmex.StoreOrCaller.set_fuel(store, 10_000)
      :ok
      iex> {:ok, plain} = Wasmex.Store.new()
      iex> Wasmex.StoreOrCaller.set_fuel(plain, 10_000)
      {:error, "Could not set fuel: fuel is not configured in this store"}
  """
  @spec set_fuel(t(), non_neg_integer()) :: :ok | {:error, String.t()}
  def set_fuel(%__MODULE__{resource: store}, fuel),
    do: Native.store_or_caller_set_fuel(store, fuel)

  def set_fuel(store, _fuel), do: Args.invalid!(store: {__MODULE__, store})

  @doc """
  Returns the fuel left in `store`.

      iex> {:ok, store} = Wasmex.Store.new(%{fuel: 42})
      iex> Wasmex.StoreOrCaller.get_fuel(store)
      {:ok, 42}
      iex> {:ok, plain} = Wasmex.Store.new()
      iex> Wasmex.StoreOrCaller.get_fuel(plain)
      {:error, "Could not get fuel: fuel is not configured in this store"}
  """
  @spec get_fuel(t()) :: {:ok, non_neg_integer()} | {:error, String.t()}
  def get_fuel(%__MODULE__{resource: store}),
    do: Native.store_or_caller_get_fuel(store)

  def get_fuel(store), do: Args.invalid!(store: {__MODULE__, store})
end
