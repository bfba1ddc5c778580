defmodule Wasmex.EngineTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Engine

  describe "new/1" do
    test "makes an engine whose stores share modules" do
      assert {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
      {:ok, a} = Wasmex.Store.new(nil, engine)
      {:ok, b} = Wasmex.Store.new(nil, engine)
      {:ok, module} = Wasmex.Module.compile(a, Wasmex.Fixtures.example_wat())
      {:ok, instance} = Wasmex.Instance.new(b, module, %{})
      assert Wasmex.Instance.call_function(b, instance, "add", [1, 2]) == {:ok, [3]}
    end

    test "with consume_fuel makes stores that start without fuel" do
      config = Wasmex.EngineConfig.consume_fuel(%Wasmex.EngineConfig{}, true)
      {:ok, engine} = Wasmex.Engine.new(config)
      {:ok, store} = Wasmex.Store.new(nil, engine)
      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 0}
    end

    test "rejects anything but an EngineConfig" do
      assert_raise ArgumentError, fn -> Wasmex.Engine.new(%{}) end
    end
  end

  describe "default/0" do
    test "makes a new engine every time" do
      assert %Wasmex.Engine{resource: a} = Wasmex.Engine.default()
      assert %Wasmex.Engine{resource: b} = Wasmex.Engine.default()
      refute a == b
    end
  end
end
