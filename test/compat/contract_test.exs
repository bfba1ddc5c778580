defmodule Wasmex.CompatContractTest do
  # The compatibility contract (docs/compat.md): each point where this API and Wasmex 0.15
  # differ, checked in the mode the suite is compiled in. scripts/test runs this file in
  # both modes: the default one, and `config :wasmex_interp, compat: :wasmex`.
  use ExUnit.Case, async: true
  require Wasmex.Compat

  import Wasmex.Fixtures, only: [instantiate: 1, instantiate: 2, instantiate: 3]

  alias Wasmex.{Instance, Memory}

  @wasmex Wasmex.Compat.wasmex?()

  # A guest like the one of Wasmex's doc examples: 17 pages of memory, a string in it.
  @guest ~S"""
  (module
    (memory (export "memory") 17 20)
    (data (i32.const 1048576) "Hello, World!")
    (func (export "string") (result i32) (i32.const 1048576))
    (func (export "divide") (param i32 i32) (result i32)
      (if (i32.eqz (local.get 1)) (then unreachable))
      (i32.div_u (local.get 0) (local.get 1)))
    (func (export "div_s") (param i32 i32) (result i32)
      (i32.div_s (local.get 0) (local.get 1)))
    (func $deep (export "deep") (call $deep))
    (func (export "spin") (loop (br 0)))
    (func (export "oob") (result i32) (i32.load (i32.const -1))))
  """

  setup do
    %{store: store, instance: instance} = instantiate(@guest)
    {:ok, memory} = Instance.memory(store, instance)
    %{store: store, instance: instance, memory: memory}
  end

  # `default` in the default mode, `wasmex` in Wasmex compatibility mode.
  defp expected(default, wasmex), do: if(@wasmex, do: wasmex, else: default)

  describe "Wasmex's doc examples" do
    test "Memory.read_binary/4 and read_string/4", %{store: store, memory: memory} do
      assert Memory.write_binary(store, memory, 0, "hello") == :ok
      assert Memory.read_binary(store, memory, 0, 5) == expected({:ok, "hello"}, "hello")
      assert Memory.read_binary(store, memory, 3, 2) == expected({:ok, "lo"}, "lo")
      assert Memory.read_string(store, memory, 0, 5) == expected({:ok, "hello"}, "hello")
      assert Memory.read_string(store, memory, 3, 2) == expected({:ok, "lo"}, "lo")
    end

    test "Memory.size/2 and grow/3", %{store: store, memory: memory} do
      assert Memory.size(store, memory) == 1_114_112
      assert Memory.grow(store, memory, 1) == expected(:ok, 17)
      assert Memory.grow(store, memory, 2) == expected(:ok, 18)
      assert Memory.size(store, memory) == 20 * 65_536
    end

    test "a string returned through memory, by Wasmex.call_function/3" do
      {:ok, pid} = Wasmex.start_link(%{bytes: @guest})
      {:ok, store} = Wasmex.store(pid)
      {:ok, memory} = Wasmex.memory(pid)
      {:ok, [pointer]} = Wasmex.call_function(pid, "string", [])

      assert Memory.read_string(store, memory, pointer, 13) ==
               expected({:ok, "Hello, World!"}, "Hello, World!")
    end
  end

  describe "the same in both modes" do
    test "memory errors", %{store: store, memory: memory} do
      size = Memory.size(store, memory)
      assert Memory.read_binary(store, memory, size, 1) == {:error, "out of bounds memory access"}
      assert Memory.read_string(store, memory, size, 1) == {:error, "out of bounds memory access"}

      assert Memory.grow(store, memory, 4) ==
               {:error, "Failed to grow the memory: failed to grow memory by `4`."}
    end

    test "errors before a call starts", %{store: store, instance: instance} do
      assert Instance.call_function(store, instance, "divide", [1]) ==
               {:error, "number of params does not match. expected 2, got 1"}
    end

    test "unknown option keys raise", %{store: store, instance: instance} do
      assert_raise ArgumentError, ~r/^unknown keys \[:timout\]/, fn ->
        Instance.call_function(store, instance, "divide", [1, 1], timout: 5)
      end

      assert_raise ArgumentError, ~r/^unknown keys \[:imprts\]/, fn ->
        Wasmex.start_link(%{bytes: "(module)", imprts: %{}})
      end
    end
  end

  # The default API adds what helps to find the mistake; Wasmex's words stop before it.
  describe "error messages" do
    test "a missing export", %{store: store, instance: instance} do
      assert Instance.call_function(store, instance, "nope", []) ==
               {:error,
                expected(
                  "exported function `nope` not found: the module exports the functions " <>
                    "`deep`, `div_s`, `divide`, `oob`, `spin` and `string`",
                  "exported function `nope` not found"
                )}

      assert Instance.get_global_value(store, instance, "nope") ==
               {:error,
                expected(
                  "exported global `nope` not found: the module exports no globals",
                  "exported global `nope` not found"
                )}

      assert Instance.memory(store, instance, "mem") ==
               {:error,
                expected(
                  "The WebAssembly module has no exported memory `mem`: " <>
                    "the module exports the memory `memory`",
                  "The WebAssembly module has no exported memory."
                )}
    end

    test "a value that does not convert", %{store: store, instance: instance} do
      i32 = "expected an integer in -2147483648..2147483647"

      assert Instance.call_function(store, instance, "divide", [1, 2 ** 40]) ==
               {:error,
                expected(
                  "Cannot convert argument #2 to a WebAssembly i32 value: " <>
                    "#{i32}, got: 1099511627776",
                  "Cannot convert argument #2 to a WebAssembly i32 value."
                )}

      assert Instance.call_function(store, instance, "divide", [nil, 1]) ==
               {:error,
                expected(
                  "Cannot convert argument #1 to a WebAssembly i32 value: #{i32}, got: nil",
                  "Cannot convert argument #1 to a WebAssembly i32 value. Given `Atom`."
                )}

      %{store: store, instance: instance} =
        instantiate(~S[(module (global (export "g") (mut i32) (i32.const 0)))])

      assert Instance.set_global_value(store, instance, "g", "1") ==
               {:error,
                expected(
                  ~s[Cannot convert to a WebAssembly i32 value: #{i32}, got: "1"],
                  "Cannot convert to a WebAssembly i32 value. Given `Binary`."
                )}
    end

    test "an import of the wrong type", %{store: store} do
      {:ok, module} =
        Wasmex.Module.compile(
          store,
          ~S[(module (import "env" "f" (func (param i32) (result i32))))]
        )

      assert Instance.new(store, module, %{env: %{f: {:fn, [], [], fn _ -> nil end}}}) ==
               {:error,
                expected(
                  "incompatible import type for `env::f`: the module expects (i32) -> i32, " <>
                    "given () -> ()",
                  "incompatible import type for `env::f`"
                )}
    end

    test "a call past its timeout", %{store: store, instance: instance} do
      assert Instance.call_function(store, instance, "spin", [], timeout: 5) ==
               {:error, "timeout: the call did not finish within 5 ms"}
    end

    test "Wasmex 0.9's call_exported_function/5: the result goes back to the caller",
         %{store: store, instance: instance} do
      assert Instance.call_exported_function(store, instance, "div_s", [7, 2], :call) == :ok
      assert_receive {:returned_function_call, {:ok, [3]}, :call}, 5_000
    end
  end

  describe "failures during a guest call" do
    test "traps", %{store: store, instance: instance} do
      assert Instance.call_function(store, instance, "divide", [1, 0]) ==
               trap(
                 "unreachable: wasm `unreachable` instruction executed",
                 "wasm `unreachable` instruction executed"
               )

      assert Instance.call_function(store, instance, "div_s", [1, 0]) ==
               trap("integer divide by zero", "integer divide by zero")

      assert Instance.call_function(store, instance, "div_s", [-2_147_483_648, -1]) ==
               trap("integer overflow", "integer overflow")

      assert Instance.call_function(store, instance, "oob", []) ==
               trap("out of bounds memory access", "out of bounds memory access")

      assert Instance.call_function(store, instance, "deep", []) ==
               trap("call stack exhausted", "call stack exhausted")
    end

    test "running out of fuel" do
      %{store: store, instance: instance} = instantiate(@guest, %{}, %{fuel: 100})

      assert Instance.call_function(store, instance, "spin", []) ==
               trap("all fuel consumed by WebAssembly", "all fuel consumed by WebAssembly")
    end

    test "through Wasmex.call_function/3 and call_exported_function/5",
         %{store: store, instance: instance} do
      divide_by_zero = trap("integer divide by zero", "integer divide by zero")
      ref = make_ref()
      :ok = Instance.call_exported_function(store, instance, "div_s", [1, 0], {self(), ref})
      assert_receive {^ref, ^divide_by_zero}, 5_000

      {:ok, pid} = Wasmex.start_link(%{bytes: @guest})
      assert Wasmex.call_function(pid, "div_s", [1, 0]) == divide_by_zero
    end

    test "a callback that raises" do
      wat = ~S[(module (import "env" "f" (func $f)) (func (export "run") (call $f)))]

      %{store: store, instance: instance} =
        instantiate(wat, %{env: %{f: {:fn, [], [], fn _ -> raise "oops" end}}})

      message = "the elixir callback threw an exception: (RuntimeError) oops"

      assert Instance.call_function(store, instance, "run", []) ==
               {:error, expected(message, "Error during function excecution: " <> message)}
    end

    test "Pipe.write/2 of bytes that do not fit in the pipe" do
      {:ok, pipe} = Wasmex.Pipe.new(capacity: 4)

      assert Wasmex.Pipe.write(pipe, "12345") ==
               expected(
                 {:error, "the pipe is full: 5 bytes do not fit in its capacity of 4 bytes"},
                 :error
               )

      assert Wasmex.Pipe.write(pipe, "1234") == {:ok, 4}
    end

    test "a WASI guest's proc_exit" do
      wat = ~S[(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 3))))]

      {:ok, store} = Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{})
      {:ok, module} = Wasmex.Module.compile(store, wat)
      {:ok, instance} = Instance.new(store, module, %{})
      message = "Exited with i32 exit status 3"

      assert Instance.call_function(store, instance, "_start", []) ==
               {:error, expected(message, "Error during function excecution: " <> message)}
    end
  end

  test "call_exported_function/6 past its timeout replies (Wasmex, in compatibility mode: nothing)",
       %{store: store, instance: instance} do
    # Trace this process's spawns to learn which process runs the call, and when it ends.
    test = self()

    tracer =
      spawn_link(fn ->
        receive do
          {:trace, ^test, :spawn, runner, _} -> send(test, {:runner, runner})
        end
      end)

    :erlang.trace(self(), true, [:procs, {:tracer, tracer}])
    ref = make_ref()
    :ok = Instance.call_exported_function(store, instance, "spin", [], {self(), ref}, 5)
    :erlang.trace(self(), false, [:procs])
    assert_receive {:runner, runner}
    monitor = Process.monitor(runner)
    # (`:noproc` if it has already ended.)
    assert_receive {:DOWN, ^monitor, :process, ^runner, _}, 5_000

    if @wasmex do
      refute_received {^ref, _}
    else
      assert_received {^ref, {:error, "timeout: the call did not finish within 5 ms"}}
    end
  end

  defp trap(ours, wasmtime) do
    {:error,
     expected(
       ours,
       "Error during function excecution (wasm trap: #{wasmtime}): wasm trap: #{wasmtime}"
     )}
  end
end
