defmodule Wasmex.UsageSnippets.HostCallbacksTest do
  # The "Host Callbacks (Imported Functions)" snippet of Wasmex usage, as written.
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO
  import Wasmex.Fixtures

  test "host_log reads guest memory through the context; host_random returns [value]" do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, host_callbacks_wat())

    imports = %{
      "env" => %{
        "host_log" =>
          {:fn, [:i32, :i32], [],
           fn context ->
             # Read string from guest memory
             {:ok, memory} = Wasmex.Instance.memory(context.store, context.instance, "memory")

             {:ok, data} =
               Wasmex.Memory.read_binary(
                 context.store,
                 memory,
                 context.params |> List.first(),
                 context.params |> List.last()
               )

             IO.puts("Guest says: #{data}")
             []
           end},
        "host_random" =>
          {:fn, [], [:i32],
           fn _context ->
             [:rand.uniform(1_000_000)]
           end}
      }
    }

    {:ok, instance} = Wasmex.Instance.new(store, module, imports)

    output =
      capture_io(fn ->
        assert Wasmex.Instance.call_function(store, instance, "greet", []) == {:ok, []}
      end)

    assert output == "Guest says: hello from wasm\n"
    assert {:ok, [roll]} = Wasmex.Instance.call_function(store, instance, "roll", [])
    assert roll in 1..1_000_000
  end

  test "the callback signature format" do
    # {:fn, param_types, return_types, callback_fn}; types :i32, :i64, :f32, :f64
    {:ok, store} = Wasmex.Store.new()

    {:ok, module} = Wasmex.Module.compile(store, ~S[(module
        (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
        (func (export "run") (result f64)
          (call $mix (i32.const 1) (i64.const 2) (f32.const 0.5) (f64.const 0.25))))])

    callback_fn = fn context -> [Enum.sum(context.params)] end
    imports = %{"env" => %{"mix" => {:fn, [:i32, :i64, :f32, :f64], [:f64], callback_fn}}}
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    assert Wasmex.Instance.call_function(store, instance, "run", []) == {:ok, [3.75]}
  end
end
