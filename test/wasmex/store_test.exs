defmodule Wasmex.StoreTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Store

  describe "new/0,1,2" do
    test "makes stores, with fuel in the map form" do
      assert {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new()
      assert {:ok, store} = Wasmex.Store.new(%{fuel: 100_000})
      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 100_000}
      engine = Wasmex.Engine.default()

      assert {:ok, store} =
               Wasmex.Store.new(%{fuel: 5, engine: engine, limits: %Wasmex.StoreLimits{}})

      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 5}
      assert {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new(nil, engine)
    end

    test "a map without :fuel makes a store without fuel" do
      assert {:ok, store} = Wasmex.Store.new(%{})
      assert {:error, _} = Wasmex.StoreOrCaller.get_fuel(store)
    end

    test "rejects bad arguments with ArgumentError" do
      assert_raise ArgumentError, ~r/:fuel/, fn -> Wasmex.Store.new(%{fuel: -1}) end
      assert_raise ArgumentError, ~r/:fuel/, fn -> Wasmex.Store.new(%{fuel: 1.5}) end
      assert_raise ArgumentError, ~r/StoreLimits/, fn -> Wasmex.Store.new(:limits) end
      assert_raise ArgumentError, ~r/Engine/, fn -> Wasmex.Store.new(nil, :engine) end
      assert_raise ArgumentError, fn -> Wasmex.Store.new(%{fuel: 2 ** 64}) end
    end
  end
end
