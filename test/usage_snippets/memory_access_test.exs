defmodule Wasmex.UsageSnippets.MemoryAccessTest do
  # The "Memory Access" snippets of Wasmex usage, as written.
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  setup do
    instantiate(example_wat())
  end

  test "reading from guest memory", %{store: store, instance: instance} do
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    :ok = Wasmex.Memory.write_binary(store, memory, 64, "guest data")
    offset = 64
    length = 10

    # Read binary data
    {:ok, binary} = Wasmex.Memory.read_binary(store, memory, offset, length)
    assert binary == "guest data"

    # Read string
    {:ok, binary} = Wasmex.Memory.read_binary(store, memory, offset, length)
    string = binary |> :binary.bin_to_list() |> to_string()
    assert string == "guest data"
  end

  test "writing to guest memory", %{store: store, instance: instance} do
    offset = 128
    binary_data = <<0, 1, 2, 255>>

    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")

    # Write binary data
    :ok = Wasmex.Memory.write_binary(store, memory, offset, binary_data)

    # Write a string
    :ok = Wasmex.Memory.write_binary(store, memory, offset, "hello")

    assert {:ok, <<"hello">>} = Wasmex.Memory.read_binary(store, memory, offset, 5)
  end

  test "memory size", %{store: store, instance: instance} do
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")

    # Get size in bytes
    size = Wasmex.Memory.size(store, memory)
    assert size == 65_536

    # Grow memory (in pages, 1 page = 64KB)
    :ok = Wasmex.Memory.grow(store, memory, 1)
    assert Wasmex.Memory.size(store, memory) == 2 * 65_536
  end
end
