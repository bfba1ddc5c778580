defmodule Wasmex.StoreOrCallerTest do
  use ExUnit.Case, async: true
  doctest Wasmex.StoreOrCaller

  describe "set_fuel/2 and get_fuel/1" do
    test "set and read the fuel of a fuel store" do
      {:ok, store} = Wasmex.Store.new(%{fuel: 0})
      assert Wasmex.StoreOrCaller.set_fuel(store, 2 ** 64 - 1) == :ok
      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 2 ** 64 - 1}
    end

    test "report a store without fuel" do
      {:ok, store} = Wasmex.Store.new()

      assert Wasmex.StoreOrCaller.set_fuel(store, 1) ==
               {:error, "Could not set fuel: fuel is not configured in this store"}

      assert Wasmex.StoreOrCaller.get_fuel(store) ==
               {:error, "Could not get fuel: fuel is not configured in this store"}
    end

    test "raise ArgumentError for negative or huge fuel" do
      {:ok, store} = Wasmex.Store.new(%{fuel: 0})
      assert_raise ArgumentError, fn -> Wasmex.StoreOrCaller.set_fuel(store, -1) end
      assert_raise ArgumentError, fn -> Wasmex.StoreOrCaller.set_fuel(store, 2 ** 64) end
    end
  end
end
