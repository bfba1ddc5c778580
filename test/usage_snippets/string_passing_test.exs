defmodule Wasmex.UsageSnippets.StringPassingTest do
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  # The "String Passing Pattern" module of Wasmex usage, exactly as written. It binds `binary`
  # and never uses it; compiled here so that its warning does not fail
  # `mix test --warnings-as-errors`.
  @helper ~S'''
  defmodule WasmStringHelper do
  @doc """
  Write a string to guest memory and return {pointer, length}.
  Requires the guest to export an `allocate(size) -> ptr` function.
  """
  def write_string(store, instance, string) do
    binary = string |> :binary.bin_to_list()
    length = byte_size(string)

    # Ask guest to allocate memory
    {:ok, [ptr]} = Wasmex.Instance.call_function(store, instance, "allocate", [length])

    # Write string into allocated memory
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    :ok = Wasmex.Memory.write_binary(store, memory, ptr, string)

    {ptr, length}
  end

  @doc """
  Read a string from guest memory at the given pointer and length.
  """
  def read_string(store, instance, ptr, length) do
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    {:ok, binary} = Wasmex.Memory.read_binary(store, memory, ptr, length)
    binary
  end
  end
  '''

  setup_all do
    warnings = ExUnit.CaptureIO.capture_io(:stderr, fn -> Code.compile_string(@helper) end)
    assert warnings =~ ~s(variable "binary" is unused)
    # Called through a variable: the module exists only from here on, and a direct call
    # would be reported as undefined whenever the compiler checks this file first.
    %{helper: WasmStringHelper}
  end

  test "strings go in through allocate and come back out", %{helper: helper} do
    %{store: store, instance: instance} = instantiate(example_wat())

    {ptr, length} = helper.write_string(store, instance, "hello, wasm")
    assert length == 11
    assert {:ok, []} = Wasmex.Instance.call_function(store, instance, "upcase", [ptr, length])
    assert helper.read_string(store, instance, ptr, length) == "HELLO, WASM"

    {ptr2, _} = helper.write_string(store, instance, "second")
    assert ptr2 >= ptr + length
    assert helper.read_string(store, instance, ptr, length) == "HELLO, WASM"
    assert helper.read_string(store, instance, ptr2, 6) == "second"
  end

  test "non-UTF-8 bytes pass unchanged", %{helper: helper} do
    %{store: store, instance: instance} = instantiate(example_wat())
    bytes = <<0, 255, 128, 10, 0>>
    {ptr, length} = helper.write_string(store, instance, bytes)
    assert helper.read_string(store, instance, ptr, length) == bytes
  end
end
