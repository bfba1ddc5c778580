defmodule Wasmex.UsageSnippets.FuelMeteringTest do
  # The "Fuel Metering" and "Store Configuration" (fuel) snippets of Wasmex usage, as
  # written.
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  test "an expensive operation runs out of fuel" do
    # Create store with fuel
    {:ok, store} = Wasmex.Store.new(%{fuel: 1_000_000})
    {:ok, module} = Wasmex.Module.compile(store, example_wat())
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})

    # Execute with fuel limit
    result =
      case Wasmex.Instance.call_function(store, instance, "expensive_op", []) do
        {:ok, result} -> {:ok, result}
        {:error, "all fuel consumed" <> _} -> {:error, :timeout}
      end

    assert result == {:error, :timeout}
    # Fuel is charged per block of instructions: what is left cannot pay for the next one.
    assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 8}
    # The store stays usable: refuel and call again.
    :ok = Wasmex.StoreOrCaller.set_fuel(store, 1_000)
    assert Wasmex.Instance.call_function(store, instance, "add", [1, 2]) == {:ok, [3]}
  end

  test "store configuration: a basic store and a store with fuel metering" do
    # Basic store
    {:ok, store} = Wasmex.Store.new()

    assert Wasmex.StoreOrCaller.get_fuel(store) ==
             {:error, "Could not get fuel: fuel is not configured in this store"}

    # Store with fuel metering
    {:ok, store} = Wasmex.Store.new(%{fuel: 100_000})
    assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 100_000}
  end
end
