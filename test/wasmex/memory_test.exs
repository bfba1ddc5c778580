defmodule Wasmex.MemoryTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Memory

  import Wasmex.Fixtures
  import Wasmex.TestProcesses, only: [native_calls: 2]

  setup do
    %{store: store, instance: instance} = instantiate(~S[(module (memory (export "memory") 1 3))])
    {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
    %{store: store, instance: instance, memory: memory}
  end

  describe "from_instance/2" do
    test "returns the first exported memory, or an error", %{store: store} do
      %{instance: no_memory} = instantiate("(module)")
      # An instance of another store is refused before the memory is looked up.
      assert {:error, _} = Wasmex.Memory.from_instance(store, no_memory)
      %{store: store, instance: no_memory} = instantiate("(module)")

      assert Wasmex.Memory.from_instance(store, no_memory) ==
               {:error, "The WebAssembly module has no exported memory."}
    end
  end

  describe "size/2 and grow/3" do
    test "grow by pages up to the maximum", %{store: store, memory: memory} do
      assert Wasmex.Memory.size(store, memory) == 65_536
      assert Wasmex.Memory.grow(store, memory, 2) == :ok
      assert Wasmex.Memory.size(store, memory) == 3 * 65_536
      assert Wasmex.Memory.grow(store, memory, 0) == :ok

      assert Wasmex.Memory.grow(store, memory, 1) ==
               {:error, "Failed to grow the memory: failed to grow memory by `1`."}

      assert Wasmex.Memory.grow(store, memory, 999_999_999) ==
               {:error, "Failed to grow the memory: failed to grow memory by `999999999`."}
    end

    test "raise ArgumentError for negative pages", %{store: store, memory: memory} do
      assert_raise ArgumentError, fn -> Wasmex.Memory.grow(store, memory, -1) end
    end
  end

  describe "read_binary/4 and write_binary/4" do
    test "round-trip any bytes", %{store: store, memory: memory} do
      bytes = :crypto.strong_rand_bytes(1000)
      assert Wasmex.Memory.write_binary(store, memory, 500, bytes) == :ok
      assert Wasmex.Memory.read_binary(store, memory, 500, 1000) == {:ok, bytes}
      assert Wasmex.Memory.read_binary(store, memory, 8, 0) == {:ok, ""}
      assert Wasmex.Memory.write_binary(store, memory, 65_536, "") == :ok
    end

    test "refuse ranges outside the memory", %{store: store, memory: memory} do
      oob = {:error, "out of bounds memory access"}
      assert Wasmex.Memory.read_binary(store, memory, 65_536, 1) == oob
      assert Wasmex.Memory.read_binary(store, memory, 999_999_999_999, 1) == oob
      assert Wasmex.Memory.read_binary(store, memory, 0, 2 ** 64 - 1) == oob
      assert Wasmex.Memory.write_binary(store, memory, 65_535, "ab") == oob
      assert Wasmex.Memory.write_binary(store, memory, 2 ** 64 - 1, "ab") == oob
      # Nothing was written by the refused write.
      assert Wasmex.Memory.read_binary(store, memory, 65_535, 1) == {:ok, <<0>>}
    end

    test "raise ArgumentError for negative, huge or non-integer offsets", ctx do
      %{store: store, memory: memory} = ctx
      assert_raise ArgumentError, fn -> Wasmex.Memory.read_binary(store, memory, -1, 1) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.read_binary(store, memory, 0, -1) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.read_binary(store, memory, 2 ** 64, 1) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.read_binary(store, memory, 1.0, 1) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.write_binary(store, memory, -5, "a") end

      assert_raise ArgumentError, fn ->
        Wasmex.Memory.write_binary(store, memory, 0, 'a')
      end
    end

    test "copy megabytes (on a dirty scheduler) the same way" do
      %{store: store, instance: instance} =
        instantiate(~S[(module (memory (export "memory") 200))])

      {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      bytes = :crypto.strong_rand_bytes(12 * 1024 * 1024)
      assert Wasmex.Memory.write_binary(store, memory, 7, bytes) == :ok
      assert Wasmex.Memory.read_binary(store, memory, 7, byte_size(bytes)) == {:ok, bytes}
      size = Wasmex.Memory.size(store, memory)

      assert Wasmex.Memory.read_binary(store, memory, size - 10, 5 * 1024 * 1024) ==
               {:error, "out of bounds memory access"}

      assert Wasmex.Memory.write_binary(store, memory, size - 10, bytes) ==
               {:error, "out of bounds memory access"}
    end

    test "copy more than a MiB on a dirty scheduler, and less on a normal one" do
      %{store: store, instance: instance} =
        Wasmex.Fixtures.instantiate(~S[(module (memory (export "memory") 40))])

      {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      big = :binary.copy(<<9>>, 1024 * 1024 + 1)
      twins = [memory_write_binary_nif: 4, memory_write_binary_dirty_nif: 4]
      write = fn bytes -> Wasmex.Memory.write_binary(store, memory, 0, bytes) end

      assert {:ok, [:memory_write_binary_nif, :memory_write_binary_dirty_nif]} =
               native_calls(fn -> write.(big) end, twins)

      small = fn -> Wasmex.Memory.write_binary(store, memory, 2_000_000, "small") end
      assert {:ok, [:memory_write_binary_nif]} = native_calls(small, twins)

      twins = [memory_read_binary_nif: 4, memory_read_binary_dirty_nif: 4]
      read = fn len -> Wasmex.Memory.read_binary(store, memory, 0, len) end

      assert {{:ok, read_back}, [:memory_read_binary_nif, :memory_read_binary_dirty_nif]} =
               native_calls(fn -> read.(byte_size(big)) end, twins)

      assert read_back == big, "the big read differs"

      assert {{:ok, <<9, 9>>}, [:memory_read_binary_nif]} =
               native_calls(fn -> read.(2) end, twins)

      twins = [memory_grow_nif: 3, memory_grow_dirty_nif: 3]
      grow = fn pages -> Wasmex.Memory.grow(store, memory, pages) end

      assert {:ok, [:memory_grow_nif, :memory_grow_dirty_nif]} =
               native_calls(fn -> grow.(17) end, twins)

      assert {:ok, [:memory_grow_nif]} = native_calls(fn -> grow.(1) end, twins)
      assert Wasmex.Memory.size(store, memory) == 58 * 65_536
    end

    test "read_string/4 is read_binary/4", %{store: store, memory: memory} do
      :ok = Wasmex.Memory.write_binary(store, memory, 0, "Hello, World!")
      assert Wasmex.Memory.read_string(store, memory, 0, 13) == {:ok, "Hello, World!"}
      assert Wasmex.Memory.read_string(store, memory, 8, 0) == {:ok, ""}
    end

    test "see the guest's writes, and the guest sees ours" do
      %{store: store, instance: instance} = instantiate(example_wat())
      {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      :ok = Wasmex.Memory.write_binary(store, memory, 10, "abc")
      assert {:ok, []} = Wasmex.Instance.call_function(store, instance, "upcase", [10, 3])
      assert Wasmex.Memory.read_binary(store, memory, 10, 3) == {:ok, "ABC"}
    end
  end

  describe "get_byte/3 and set_byte/4" do
    test "read and write single bytes", %{store: store, memory: memory} do
      assert Wasmex.Memory.set_byte(store, memory, 65_535, 255) == :ok
      assert Wasmex.Memory.get_byte(store, memory, 65_535) == 255
      assert Wasmex.Memory.get_byte(store, memory, 0) == 0
    end

    test "refuse indexes outside the memory", %{store: store, memory: memory} do
      oob = {:error, "out of bounds memory access"}
      assert Wasmex.Memory.get_byte(store, memory, 65_536) == oob
      assert Wasmex.Memory.set_byte(store, memory, 999_999_999_999, 1) == oob
    end

    test "raise ArgumentError for negative indexes and bytes outside 0..255", ctx do
      %{store: store, memory: memory} = ctx
      assert_raise ArgumentError, fn -> Wasmex.Memory.get_byte(store, memory, -42) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.set_byte(store, memory, -42, 0) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.set_byte(store, memory, 0, 256) end
      assert_raise ArgumentError, fn -> Wasmex.Memory.set_byte(store, memory, 0, -1) end
    end
  end

  describe "a memory of another store" do
    test "is refused by every function", %{memory: memory} do
      {:ok, other} = Wasmex.Store.new()
      foreign = {:error, "memory does not belong to this store"}
      assert Wasmex.Memory.read_binary(other, memory, 0, 1) == foreign
      assert Wasmex.Memory.write_binary(other, memory, 0, "a") == foreign
      assert Wasmex.Memory.get_byte(other, memory, 0) == foreign
      assert Wasmex.Memory.set_byte(other, memory, 0, 1) == foreign
      assert Wasmex.Memory.grow(other, memory, 1) == foreign

      assert_raise ArgumentError, "memory does not belong to this store", fn ->
        Wasmex.Memory.size(other, memory)
      end
    end

    test "is refused when wrong resources are swapped in", %{store: store, instance: instance} do
      assert_raise ArgumentError, fn ->
        Wasmex.Native.memory_read_binary(store.resource, instance.resource, 0, 1)
      end
    end
  end
end
