defmodule Wasmex.WasmiFixesTest do
  # Fixes of the patched wasmi (vendor/patches/), seen through the Elixir API: the BEAM
  # itself is what broke. The engine-level regression tests are in
  # native/wasmex_core/tests/wasmi_fixes.rs.
  use ExUnit.Case, async: true

  @grow_loops Wasmex.Fixtures.fixture_wat("grow_loops.wat")

  test "a guest looping on a failing memory.grow or table.grow runs to its end" do
    # wasmi 2.0.0's grow handlers left a native stack frame per grow until the slice
    # ended: a loop of failing grows in one slice overflowed the scheduler thread's stack
    # and the BEAM segfaulted (found by fuzzing). 200,000 grows (8-9 fuel each) in one
    # slice of 10,000,000 fuel: megabytes of stack then, far past any scheduler's.
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, @grow_loops)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    :ok = Wasmex.Native.hook_set_slice(store.resource, 10_000_000)

    # The memory and the table stay at their maximum of one.
    assert {:ok, [1]} = Wasmex.Instance.call_function(store, instance, "memory_fails", [200_000])
    assert {:ok, [1]} = Wasmex.Instance.call_function(store, instance, "table_fails", [200_000])
  end
end
