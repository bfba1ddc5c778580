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

    test "an unknown key of the map form raises, naming it and the known ones" do
      assert_raise ArgumentError,
                   "unknown keys [:fule] in %{fule: 1}, the allowed keys are: " <>
                     "[:fuel, :limits, :engine] (did you mean :fuel?)",
                   fn -> Wasmex.Store.new(%{fule: 1}) end

      assert_raise ArgumentError,
                   "unknown keys [:color] in %{color: :red, fuel: 1}, the allowed keys are: " <>
                     "[:fuel, :limits, :engine]",
                   fn -> Wasmex.Store.new(%{fuel: 1, color: :red}) end
    end

    test "a limits or WASI struct with a field of no such name raises, naming it" do
      limits = Map.put(%Wasmex.StoreLimits{}, :memory_sise, 1)

      message =
        "unknown fields [:memory_sise] in a %Wasmex.StoreLimits{}, the allowed fields are: " <>
          "[:instances, :memories, :memory_size, :nested_calls, :table_elements, :tables] " <>
          "(did you mean :memory_size?)"

      assert_raise ArgumentError, message, fn -> Wasmex.Store.new(limits) end
      assert_raise ArgumentError, message, fn -> Wasmex.Store.new(%{limits: limits}) end

      wasi = Map.put(%Wasmex.Wasi.WasiOptions{}, :argz, ["app"])
      error = assert_raise ArgumentError, fn -> Wasmex.Store.new_wasi(wasi) end
      assert error.message =~ "unknown fields [:argz] in a %Wasmex.Wasi.WasiOptions{}, "
      assert error.message =~ ~r/ \(did you mean :args\?\)$/

      preopen = Map.put(%Wasmex.Wasi.PreopenOptions{path: "."}, :alais, "data")

      assert_raise ArgumentError,
                   "unknown fields [:alais] in a %Wasmex.Wasi.PreopenOptions{}, " <>
                     "the allowed fields are: [:alias, :path] (did you mean :alias?)",
                   fn -> Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{preopen: [preopen]}) end
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
