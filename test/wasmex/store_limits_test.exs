defmodule Wasmex.StoreLimitsTest do
  use ExUnit.Case, async: true
  doctest Wasmex.StoreLimits

  defp instantiate(limits, wat) do
    {:ok, store} = Wasmex.Store.new(limits)
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {store, Wasmex.Instance.new(store, module, %{})}
  end

  @grower ~S[(module
    (memory (export "memory") 1)
    (table 1 funcref)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "grow_table") (param i32) (result i32)
      (table.grow (ref.null func) (local.get 0))))]

  describe "memory_size" do
    test "refuses an instance whose initial memory is larger" do
      limits = %Wasmex.StoreLimits{memory_size: 16 * 65_536}

      assert {_, {:error, "memory minimum size of 17 pages exceeds memory limits"}} =
               instantiate(limits, "(module (memory 17))")

      assert {_, {:ok, _}} = instantiate(limits, "(module (memory 16))")
    end

    test "makes memory.grow past it return -1 to the guest" do
      {store, {:ok, instance}} =
        instantiate(%Wasmex.StoreLimits{memory_size: 3 * 65_536}, @grower)

      assert Wasmex.Instance.call_function(store, instance, "grow", [2]) == {:ok, [1]}
      assert Wasmex.Instance.call_function(store, instance, "grow", [1]) == {:ok, [-1]}
      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      assert Wasmex.Memory.size(store, memory) == 3 * 65_536
    end

    test "makes Memory.grow past it an error" do
      {store, {:ok, instance}} =
        instantiate(%Wasmex.StoreLimits{memory_size: 2 * 65_536}, @grower)

      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      assert Wasmex.Memory.grow(store, memory, 1) == :ok

      assert Wasmex.Memory.grow(store, memory, 1) ==
               {:error, "Failed to grow the memory: failed to grow memory by `1`."}
    end
  end

  describe "table_elements" do
    test "limits tables at instantiation and on table.grow" do
      limits = %Wasmex.StoreLimits{table_elements: 5}
      assert {_, {:error, message}} = instantiate(limits, "(module (table 10 funcref))")
      assert message =~ "table"
      {store, {:ok, instance}} = instantiate(limits, @grower)
      assert Wasmex.Instance.call_function(store, instance, "grow_table", [4]) == {:ok, [1]}
      assert Wasmex.Instance.call_function(store, instance, "grow_table", [1]) == {:ok, [-1]}
    end
  end

  describe "instances" do
    test "limits the instances in a store" do
      {:ok, store} = Wasmex.Store.new(%Wasmex.StoreLimits{instances: 2})
      {:ok, module} = Wasmex.Module.compile(store, "(module)")
      assert {:ok, _} = Wasmex.Instance.new(store, module, %{})
      assert {:ok, _} = Wasmex.Instance.new(store, module, %{})

      assert {:error, "tried to instantiate too many instances"} =
               Wasmex.Instance.new(store, module, %{})
    end
  end

  describe "memories and tables" do
    test "limit the memories and tables in a store" do
      assert {_, {:error, "tried to instantiate too many linear memories"}} =
               instantiate(%Wasmex.StoreLimits{memories: 0}, "(module (memory 1))")

      assert {_, {:error, "tried to instantiate too many tables"}} =
               instantiate(%Wasmex.StoreLimits{tables: 0}, "(module (table 1 funcref))")
    end
  end

  test "rejects negative limits with ArgumentError" do
    assert_raise ArgumentError, fn -> Wasmex.Store.new(%Wasmex.StoreLimits{memory_size: -1}) end
  end
end
