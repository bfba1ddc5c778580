defmodule Wasmex.UsageSnippets.BasicUsageTest do
  # The "Basic Usage" snippets of Wasmex usage, as written. Not async: one test changes directory.
  use ExUnit.Case, async: false

  import Wasmex.Fixtures

  @moduletag :tmp_dir

  test "loading from a file and from a binary, then calling add", %{tmp_dir: dir} do
    {:ok, wasm_bytes} = Wasmex.Wat.to_wasm(example_wat())
    File.write!(Path.join(dir, "module.wasm"), wasm_bytes)
    {:ok, store} = Wasmex.Store.new()

    File.cd!(dir, fn ->
      # Load from file
      {:ok, bytes} = File.read("module.wasm")
      {:ok, module} = Wasmex.Module.compile(store, bytes)
      assert %Wasmex.Module{} = module
    end)

    # Or load from binary
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})

    # Call an exported function
    {:ok, [result]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])
    # result => 5
    assert result == 5
  end
end
