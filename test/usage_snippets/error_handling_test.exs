defmodule Wasmex.UsageSnippets.ErrorHandlingTest do
  # The "Error Handling" snippet of Wasmex usage, as written, against a guest that reaches each
  # branch.
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  defp handle(store, instance, ptr, len) do
    case Wasmex.Instance.call_function(store, instance, "process", [ptr, len]) do
      {:ok, [result]} ->
        {:ok, result}

      {:error, "unreachable" <> _} ->
        {:error, :wasm_trap}

      {:error, "out of bounds memory access" <> _} ->
        {:error, :memory_violation}

      {:error, "all fuel consumed" <> _} ->
        {:error, :fuel_exhausted}

      {:error, reason} ->
        {:error, {:wasm_error, reason}}
    end
  end

  test "each branch of the snippet's case" do
    %{store: store, instance: instance} = instantiate(example_wat(), %{}, %{fuel: 100_000})
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    :ok = Wasmex.Memory.write_binary(store, memory, 0, <<1, 2, 3>>)

    assert handle(store, instance, 0, 3) == {:ok, 6}
    assert handle(store, instance, 0, 0) == {:error, :wasm_trap}
    assert handle(store, instance, 65_530, 10) == {:error, :memory_violation}
    assert handle(store, instance, 0, 60_000) == {:error, :fuel_exhausted}

    assert handle(store, instance, 0, :three) ==
             {:error,
              {:wasm_error,
               "Cannot convert argument #2 to a WebAssembly i32 value: " <>
                 "expected an integer in -2147483648..2147483647, got: :three"}}
  end
end
