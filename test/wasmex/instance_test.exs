defmodule Wasmex.InstanceTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Instance

  import Wasmex.Fixtures

  describe "new/3" do
    test "instantiates a module without imports" do
      assert %{instance: %Wasmex.Instance{}} = instantiate(example_wat())
    end

    test "reports the first missing import, in import order" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (import "imports" "imported_func" (func (param i32)))
          (import "env" "other" (func)))])

      assert Wasmex.Instance.new(store, module, %{}) ==
               {:error, "unknown import: `imports::imported_func` has not been defined"}

      ok = {:fn, [:i32], [], fn _ctx, _ -> nil end}

      assert Wasmex.Instance.new(store, module, %{"imports" => %{"imported_func" => ok}}) ==
               {:error, "unknown import: `env::other` has not been defined"}
    end

    test "reports a missing import before a mismatched one" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "first" (func (param i32)))
          (import "env" "second" (func)))])

      wrong = {:fn, [:i64], [], fn _ctx, _ -> nil end}

      assert Wasmex.Instance.new(store, module, %{env: %{first: wrong}}) ==
               {:error, "unknown import: `env::second` has not been defined"}

      right = {:fn, [], [], fn _ctx -> nil end}

      assert Wasmex.Instance.new(store, module, %{env: %{first: wrong, second: right}}) ==
               {:error,
                "incompatible import type for `env::first`: the module expects (i32) -> (), " <>
                  "given (i64) -> ()"}
    end

    test "reports a function import with the wrong result type as incompatible" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} =
        Wasmex.Module.compile(store, ~S[(module (import "env" "f" (func (result i32))))])

      imports = %{"env" => %{"f" => {:fn, [], [:f32], fn _ -> 1.0 end}}}

      assert Wasmex.Instance.new(store, module, imports) ==
               {:error,
                "incompatible import type for `env::f`: the module expects () -> i32, " <>
                  "given () -> f32"}
    end

    test "names the expected and the given type of an import of another kind" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "f" (func (param i32 i32) (result i32 i64)))
          (import "lib" "memory" (memory 2 3))
          (import "lib" "count" (global (mut i32)))
          (import "lib" "table" (table 1 funcref)))])

      f = {:fn, [:i32, :i32], [:i32, :i64], fn _ -> [1, 2] end}

      # A module `lib` exporting the three with these declarations.
      new = fn imports, memory, global, table ->
        {:ok, lib} = Wasmex.Module.compile(store, ~s[(module
            (memory (export "memory") #{memory})
            (global (export "count") #{global} (i32.const 0))
            (table (export "table") #{table}))])

        Wasmex.Instance.new(store, module, imports, [%{name: "lib", module: lib}])
      end

      assert {:ok, _} = new.(%{env: %{f: f}}, "2 3", "(mut i32)", "1 funcref")

      assert new.(%{env: %{f: f}}, "1", "(mut i32)", "1 funcref") ==
               {:error,
                "incompatible import type for `lib::memory`: the module expects (memory 2 3), " <>
                  "given (memory 1)"}

      assert new.(%{env: %{f: f}}, "2 3", "i32", "1 funcref") ==
               {:error,
                "incompatible import type for `lib::count`: the module expects " <>
                  "(global (mut i32)), given (global i32)"}

      assert new.(%{env: %{f: f}}, "2 3", "(mut i32)", "1 2 externref") ==
               {:error,
                "incompatible import type for `lib::table`: the module expects " <>
                  "(table 1 funcref), given (table 1 2 externref)"}

      # An Elixir import where the module imports a memory.
      {:ok, module} =
        Wasmex.Module.compile(store, ~S[(module (import "env" "memory" (memory 1)))])

      assert Wasmex.Instance.new(store, module, %{env: %{memory: f}}) ==
               {:error,
                "incompatible import type for `env::memory`: the module expects (memory 1), " <>
                  "given (i32, i32) -> (i32, i64)"}
    end

    test "names the expected and the given signature of a function import" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "f" (func (param i32 i32) (result i32 i64))))])

      assert Wasmex.Instance.new(store, module, %{env: %{f: {:fn, [], [], fn _ -> [] end}}}) ==
               {:error,
                "incompatible import type for `env::f`: the module expects " <>
                  "(i32, i32) -> (i32, i64), given () -> ()"}
    end

    test "rejects malformed import maps with ArgumentError" do
      %{store: store, module: module} = instantiate("(module)")

      assert_raise ArgumentError, ~r/to be a map/, fn ->
        Wasmex.Instance.new(store, module, %{"env" => [:not_a_map]})
      end

      assert_raise ArgumentError, ~r/to be \{:fn, params, results, callback\}/, fn ->
        Wasmex.Instance.new(store, module, %{"env" => %{"f" => {:fn, [:i32], []}}})
      end

      assert_raise ArgumentError, ~r/to take 1 argument/, fn ->
        Wasmex.Instance.new(store, module, %{
          "env" => %{"f" => {:fn, [:i32], [], fn _, _, _ -> 1 end}}
        })
      end

      assert_raise ArgumentError, ~r/a string or an atom/, fn ->
        Wasmex.Instance.new(store, module, %{1 => %{}})
      end

      assert_raise ArgumentError, fn -> Wasmex.Instance.new(store, module, [:imports]) end
    end

    test "reports unknown value types in imports" do
      %{store: store, module: module} = instantiate("(module)")
      imports = %{"env" => %{"f" => {:fn, [:i33], [], fn _ -> nil end}}}

      assert {:error, "invalid import `env::f`: types must be :i32, :i64, :f32, :f64 or :v128"} =
               Wasmex.Instance.new(store, module, imports)
    end

    test "runs the start function, which may call Elixir imports" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "hello" (func $hello (param i32)))
          (global $started (export "started") (mut i32) (i32.const 0))
          (func $start (global.set $started (i32.const 1)) (call $hello (i32.const 7)))
          (start $start))])

      test = self()

      imports = %{
        "env" => %{"hello" => {:fn, [:i32], [], fn _ctx, n -> send(test, {:hello, n}) end}}
      }

      assert {:ok, instance} = Wasmex.Instance.new(store, module, imports)
      assert_received {:hello, 7}
      assert Wasmex.Instance.get_global_value(store, instance, "started") == {:ok, 1}
      refute Wasmex.Instance.function_export_exists(store, instance, "\0wasmex_start")
    end

    test "a module may export any name, even one like the hidden start export" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (global $started (export "started") (mut i32) (i32.const 0))
          (func $start (global.set $started (i32.const 1)))
          (func $own (result i32) (i32.const 42))
          (export "\00wasmex_start" (func $own))
          (start $start))])

      assert Wasmex.Module.exports(module) |> Map.keys() |> Enum.sort() ==
               ["\0wasmex_start", "started"]

      assert {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      assert Wasmex.Instance.get_global_value(store, instance, "started") == {:ok, 1}
      assert Wasmex.Instance.function_export_exists(store, instance, "\0wasmex_start")
      assert Wasmex.Instance.call_function(store, instance, "\0wasmex_start", []) == {:ok, [42]}
      # The start function itself is not an export: it ran once, and stays run.
      refute Wasmex.Instance.function_export_exists(store, instance, "\0wasmex_start\0")
      assert {:error, _} = Wasmex.Instance.call_function(store, instance, "\0wasmex_start\0", [])
    end

    test "a linked instance must be of the same store (the NIF checks what Elixir passes)" do
      {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
      {:ok, store} = Wasmex.Store.new(nil, engine)
      {:ok, other} = Wasmex.Store.new(nil, engine)
      {:ok, lib} = Wasmex.Module.compile(store, ~S[(module (func (export "f")))])

      {:ok, main} =
        Wasmex.Module.compile(store, ~S[(module (import "lib" "f" (func)) (func (export "g")))])

      {:ok, foreign} = Wasmex.Instance.new(other, lib, %{})

      assert Wasmex.Native.instance_new(store.resource, main.resource, [], [
               {"lib", foreign.resource}
             ]) == {:error, "linked instance does not belong to this store"}

      assert {:ok, _} = Wasmex.Instance.new(store, main, %{}, [%{name: "lib", module: lib}])
    end

    test "a name that is not UTF-8 is an ArgumentError saying so" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
          (global (export "g") (mut i32) (i32.const 1)) (memory (export "m") 1)
          (func (export "f")))])

      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      bad = <<255, 0>>
      message = &"expected #{&1} to be UTF-8, as WebAssembly names are, got: <<255, 0>>"

      for {what, call} <- [
            {"a function name",
             fn -> Wasmex.Instance.call_function(store, instance, bad, []) end},
            {"a function name",
             fn -> Wasmex.Instance.function_export_exists(store, instance, bad) end},
            {"a global name", fn -> Wasmex.Instance.get_global_value(store, instance, bad) end},
            {"a global name",
             fn -> Wasmex.Instance.set_global_value(store, instance, bad, 2) end},
            {"a memory name", fn -> Wasmex.Instance.memory(store, instance, bad) end},
            {"an import name",
             fn -> Wasmex.Instance.new(store, module, %{"env" => %{bad => nil}}) end}
          ] do
        assert_raise ArgumentError, message.(what), call
      end

      assert Wasmex.Instance.call_function(store, instance, "f", []) == {:ok, []}
    end

    test "a linked module's start function runs before the next module is instantiated" do
      {:ok, store} = Wasmex.Store.new()
      test = self()
      log = fn name -> {:fn, [], [], fn _ctx -> send(test, {:started, name}) end} end
      imports = %{"env" => %{"lib" => log.(:lib), "main" => log.(:main)}}

      # `lib`'s start writes 1 at address 0 of its memory; `main` imports that memory and
      # has a data segment writing 2 there. In the spec's order the segment comes last.
      {:ok, lib} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "lib" (func $log))
          (memory (export "memory") 1)
          (func $start (call $log) (i32.store8 (i32.const 0) (i32.const 1)))
          (start $start))])

      {:ok, main} = Wasmex.Module.compile(store, ~S[(module
          (import "env" "main" (func $log))
          (import "lib" "memory" (memory 1))
          (data (i32.const 0) "\02")
          (func $start (call $log))
          (func (export "first") (result i32) (i32.load8_u (i32.const 0)))
          (start $start))])

      assert {:ok, instance} =
               Wasmex.Instance.new(store, main, imports, [%{name: "lib", module: lib}])

      assert Wasmex.Instance.call_function(store, instance, "first", []) == {:ok, [2]}
      assert_received {:started, :lib}
      assert_received {:started, :main}
      {:messages, messages} = Process.info(self(), :messages)
      assert messages == []
    end

    test "a later link imports from an earlier one, and a failing start stops the rest" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, a} = Wasmex.Module.compile(store, ~S[(module
          (func (export "seven") (result i32) (i32.const 7)))])

      {:ok, b} = Wasmex.Module.compile(store, ~S[(module
          (import "a" "seven" (func $seven (result i32)))
          (func (export "fourteen") (result i32) (i32.mul (call $seven) (i32.const 2))))])

      {:ok, main} = Wasmex.Module.compile(store, ~S[(module
          (import "b" "fourteen" (func $fourteen (result i32)))
          (func (export "f") (result i32) (call $fourteen)))])

      links = [%{name: "a", module: a}, %{name: "b", module: b}]
      assert {:ok, instance} = Wasmex.Instance.new(store, main, %{}, links)
      assert Wasmex.Instance.call_function(store, instance, "f", []) == {:ok, [14]}

      {:ok, trapping} = Wasmex.Module.compile(store, "(module (func $s unreachable) (start $s))")
      links = [%{name: "t", module: trapping}, %{name: "a", module: a}]
      assert {:error, "unreachable" <> _} = Wasmex.Instance.new(store, main, %{}, links)
    end

    test "a linked module's start function is not an export its importers find" do
      {:ok, store} = Wasmex.Store.new()

      {:ok, lib} = Wasmex.Module.compile(store, ~S[(module
          (global $runs (mut i32) (i32.const 0))
          (func $start (global.set $runs (i32.add (global.get $runs) (i32.const 1))))
          (func (export "runs") (result i32) (global.get $runs))
          (start $start))])

      # Importing the hidden name would let `main` run `lib`'s start function again.
      {:ok, main} = Wasmex.Module.compile(store, ~S[(module
          (import "lib" "\00wasmex_start" (func $start))
          (import "lib" "runs" (func $runs (result i32)))
          (func (export "f") (result i32) (call $start) (call $runs)))])

      assert Wasmex.Instance.new(store, main, %{}, [%{name: "lib", module: lib}]) ==
               {:error, "unknown import: `lib::\0wasmex_start` has not been defined"}

      # The exports users see are linked as before.
      {:ok, user} = Wasmex.Module.compile(store, ~S[(module
          (import "lib" "runs" (func $runs (result i32)))
          (func (export "f") (result i32) (call $runs)))])

      assert {:ok, instance} =
               Wasmex.Instance.new(store, user, %{}, [%{name: "lib", module: lib}])

      assert Wasmex.Instance.call_function(store, instance, "f", []) == {:ok, [1]}
    end

    test "fails when the start function traps" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, "(module (func $s unreachable) (start $s))")
      assert {:error, "unreachable" <> _} = Wasmex.Instance.new(store, module, %{})
    end

    test "refuses a module compiled for another engine" do
      {:ok, store_a} = Wasmex.Store.new()
      {:ok, store_b} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store_a, "(module)")

      assert Wasmex.Instance.new(store_b, module, %{}) ==
               {:error, "module was compiled for a different engine than the store's"}
    end
  end

  describe "call_function/4" do
    setup do
      instantiate(types_wat())
    end

    test "passes and returns every value type", %{store: store, instance: instance} do
      call = &Wasmex.Instance.call_function(store, instance, &1, &2)
      assert call.("i32", [-3]) == {:ok, [-3]}
      assert call.("i32", [2_147_483_647]) == {:ok, [2_147_483_647]}
      assert call.("i64", [-9_223_372_036_854_775_808]) == {:ok, [-9_223_372_036_854_775_808]}
      assert {:ok, [f32]} = call.("f32", [3.14])
      assert_in_delta f32, 3.14, 0.000001
      assert call.("f64", [3.14]) == {:ok, [3.14]}
      max_v128 = 340_282_366_920_938_463_463_374_607_431_768_211_455
      assert call.("v128", [max_v128]) == {:ok, [max_v128]}
      assert call.("v128", [0]) == {:ok, [0]}
      assert call.("swap", [1, 2]) == {:ok, [2, 1]}
      assert {:ok, [mixed]} = call.("mixed", [1, 2, 3.5, 4.25])
      assert_in_delta mixed, 10.75, 0.000001
      assert call.("void", []) == {:ok, []}
    end

    test "returns NaN and infinities as atoms, and accepts them", %{
      store: store,
      instance: instance
    } do
      call = &Wasmex.Instance.call_function(store, instance, &1, &2)
      assert call.("nan32", []) == {:ok, [:nan]}
      assert call.("nan64", []) == {:ok, [:nan]}
      assert call.("inf", []) == {:ok, [:infinity]}
      assert call.("neg_inf", []) == {:ok, [:neg_infinity]}
      assert call.("f64", [:infinity]) == {:ok, [:infinity]}
      assert call.("f32", [:neg_infinity]) == {:ok, [:neg_infinity]}
      assert call.("is_nan", [:nan]) == {:ok, [1]}
      assert call.("is_nan", [1.0]) == {:ok, [0]}
    end

    test "returns a null reference as nil", %{store: store, instance: instance} do
      assert Wasmex.Instance.call_function(store, instance, "null_ref", []) == {:ok, [nil]}
    end

    test "accepts atom names", %{store: store, instance: instance} do
      assert Wasmex.Instance.call_function(store, instance, :i32, [1]) == {:ok, [1]}
    end

    test "reports a missing function and a wrong number of params", %{
      store: store,
      instance: instance
    } do
      assert Wasmex.Instance.call_function(store, instance, "nope", []) ==
               {:error,
                "exported function `nope` not found: the module exports the functions " <>
                  "`f32`, `f64`, `i32`, `i64`, `inf`, `is_nan`, `mixed`, `nan32`, `nan64`, " <>
                  "`neg_inf` and 4 more"}

      assert Wasmex.Instance.call_function(store, instance, "swap", [1]) ==
               {:error, "number of params does not match. expected 2, got 1"}

      assert Wasmex.Instance.call_function(store, instance, "void", [1]) ==
               {:error, "number of params does not match. expected 0, got 1"}
    end

    test "rejects values out of range or of the wrong kind", %{store: store, instance: instance} do
      error = fn n, type, given ->
        {:error,
         "Cannot convert argument ##{n} to a WebAssembly #{type} value: " <>
           "expected #{takes(type)}, got: #{given}"}
      end

      call = &Wasmex.Instance.call_function(store, instance, &1, &2)
      assert call.("i32", [3_000_000_000]) == error.(1, "i32", "3000000000")
      assert call.("i32", [2 ** 40]) == error.(1, "i32", "1099511627776")
      assert call.("i32", [-2_147_483_649]) == error.(1, "i32", "-2147483649")
      assert call.("i32", [1.0]) == error.(1, "i32", "1.0")
      assert call.("i32", [nil]) == error.(1, "i32", "nil")
      assert call.("i32", ["5"]) == error.(1, "i32", ~S["5"])
      assert call.("i32", [:nan]) == error.(1, "i32", ":nan")
      assert call.("i64", [9_223_372_036_854_775_808]) == error.(1, "i64", "9223372036854775808")
      assert call.("i64", [2 ** 200]) == error.(1, "i64", "an integer of more than 128 bits")
      assert call.("f32", [3.5e38]) == error.(1, "f32", "3.5e38")
      assert call.("f32", [1.0e300]) == error.(1, "f32", "1.0e300")
      assert call.("f64", [1]) == error.(1, "f64", "1")
      assert call.("v128", [-1]) == error.(1, "v128", "-1")

      assert call.("v128", [2 ** 128]) ==
               error.(1, "v128", "an integer of more than 128 bits")

      assert call.("swap", [1, 2.5]) == error.(2, "i64", "2.5")
    end

    test "shows a non-numeric argument as Elixir writes it, or names its kind", %{
      store: store,
      instance: instance
    } do
      long = String.duplicate("x", 50)

      for {term, shown} <- [
            {:foo, ":foo"},
            {:"two words", ~S[:"two words"]},
            {true, "true"},
            {Enum, "Enum"},
            {"1", ~S["1"]},
            {"a \"quote\"", ~S["a \"quote\""]},
            {long, ~s["#{String.duplicate("x", 40)}"...]},
            {<<255, 0>>, "<<255, 0>>"},
            {<<1::size(3)>>, "a bitstring"},
            {[1], "a list"},
            {[], "a list"},
            {%{}, "a map"},
            {{1}, "a tuple"},
            {self(), "a pid"},
            {make_ref(), "a reference"},
            {fn -> 1 end, "a function"},
            {hd(Port.list()), "a port"}
          ] do
        assert Wasmex.Instance.call_function(store, instance, "i32", [term]) ==
                 {:error,
                  "Cannot convert argument #1 to a WebAssembly i32 value: " <>
                    "expected #{takes("i32")}, got: #{shown}"}
      end
    end

    test "raises ArgumentError for params that are not a list, or a bad timeout", ctx do
      %{store: store, instance: instance} = ctx

      assert_raise ArgumentError, fn ->
        Wasmex.Instance.call_function(store, instance, "i32", 1)
      end

      assert_raise ArgumentError, fn ->
        Wasmex.Instance.call_function(store, instance, "i32", [1 | 2])
      end

      assert_raise ArgumentError, fn ->
        Wasmex.Instance.call_function(store, instance, "i32", [1], timeout: -1)
      end

      assert_raise ArgumentError, fn ->
        Wasmex.Instance.call_function(store, instance, 42, [1])
      end
    end

    test "refuses an instance of another store", %{instance: instance} do
      {:ok, other} = Wasmex.Store.new()

      assert Wasmex.Instance.call_function(other, instance, "i32", [1]) ==
               {:error, "instance does not belong to this store"}
    end
  end

  describe "call_function/4 traps" do
    setup do
      instantiate(traps_wat())
    end

    test "start with the trap's canonical text", %{store: store, instance: instance} do
      for {function, prefix} <- [
            {"unreachable", "unreachable"},
            {"out_of_bounds", "out of bounds memory access"},
            {"divide_by_zero", "integer divide by zero"},
            {"overflow", "integer overflow"},
            {"bad_conversion", "invalid conversion to integer"},
            {"signature_mismatch", "indirect call type mismatch"},
            {"null_element", "uninitialized element"},
            {"table_out_of_bounds", "out of bounds table access"}
          ] do
        assert {:error, message} = Wasmex.Instance.call_function(store, instance, function, [])
        assert String.starts_with?(message, prefix), "#{function}: #{message}"
      end

      assert {:error, "call stack exhausted"} =
               Wasmex.Instance.call_function(store, instance, "recurse", [0])
    end

    test "leave the store usable", %{store: store, instance: instance} do
      assert {:error, _} = Wasmex.Instance.call_function(store, instance, "unreachable", [])
      assert {:error, _} = Wasmex.Instance.call_function(store, instance, "recurse", [0])
      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      assert :ok = Wasmex.Memory.write_binary(store, memory, 0, "still fine")
      assert {:ok, "still fine"} = Wasmex.Memory.read_binary(store, memory, 0, 10)
    end
  end

  describe "call_function/5" do
    test "an unknown option raises, naming it and the known one" do
      %{store: store, instance: instance} = instantiate(loop_wat())

      assert_raise ArgumentError,
                   "unknown keys [:timout] in [timout: 100], the allowed keys are: [:timeout] " <>
                     "(did you mean :timeout?)",
                   fn ->
                     Wasmex.Instance.call_function(store, instance, "count", [1], timout: 100)
                   end
    end

    test "stops an endless loop at its timeout, and the store stays usable" do
      %{store: store, instance: instance} = instantiate(loop_wat())
      started = System.monotonic_time(:millisecond)

      assert Wasmex.Instance.call_function(store, instance, "spin", [], timeout: 100) ==
               {:error, "timeout: the call did not finish within 100 ms"}

      # Stopped at the deadline, not by running out of anything else: the loop is endless.
      # (A loose bound: on a loaded machine this process itself may wait to run.)
      assert System.monotonic_time(:millisecond) - started < 1_000
      assert Wasmex.Instance.call_function(store, instance, "count", [10]) == {:ok, [10]}
    end

    test "finishes a call that takes many slices within its timeout" do
      %{store: store, instance: instance} = instantiate(loop_wat())

      assert Wasmex.Instance.call_function(store, instance, "count", [5_000_000], timeout: 60_000) ==
               {:ok, [5_000_000]}
    end
  end

  describe "function_export_exists/3" do
    test "is true for function exports only" do
      %{store: store, instance: instance} = instantiate(example_wat())
      assert Wasmex.Instance.function_export_exists(store, instance, "add")
      assert Wasmex.Instance.function_export_exists(store, instance, :add)
      refute Wasmex.Instance.function_export_exists(store, instance, "memory")
      refute Wasmex.Instance.function_export_exists(store, instance, "nope")
    end

    test "raises for an instance of another store" do
      %{instance: instance} = instantiate(example_wat())
      {:ok, other} = Wasmex.Store.new()

      assert_raise ArgumentError, "instance does not belong to this store", fn ->
        Wasmex.Instance.function_export_exists(other, instance, "add")
      end
    end
  end

  describe "memory/2 and memory/3" do
    test "find the first memory, or a memory by name" do
      %{store: store, instance: instance} =
        instantiate(~S[(module (memory (export "a") 1) (memory (export "b") 2))])

      assert {:ok, first} = Wasmex.Instance.memory(store, instance)
      assert Wasmex.Memory.size(store, first) == 65_536
      assert {:ok, second} = Wasmex.Instance.memory(store, instance, "b")
      assert Wasmex.Memory.size(store, second) == 131_072
    end

    test "report a module without memory" do
      %{store: store, instance: instance} = instantiate("(module)")

      assert Wasmex.Instance.memory(store, instance) ==
               {:error, "The WebAssembly module has no exported memory."}

      assert Wasmex.Instance.memory(store, instance, "memory") ==
               {:error,
                "The WebAssembly module has no exported memory `memory`: " <>
                  "the module exports no memories"}
    end

    test "by name, report the memories there are" do
      %{store: store, instance: instance} = instantiate(~S[(module (memory (export "memory") 1))])

      assert Wasmex.Instance.memory(store, instance, "mem") ==
               {:error,
                "The WebAssembly module has no exported memory `mem`: " <>
                  "the module exports the memory `memory`"}

      wat = "(module #{for n <- 1..12, do: ~s[(memory (export "m#{n}") 0)]})"
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wat)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})

      assert Wasmex.Instance.memory(store, instance, "memory") ==
               {:error,
                "The WebAssembly module has no exported memory `memory`: the module exports " <>
                  "the memories `m1`, `m10`, `m11`, `m12`, `m2`, `m3`, `m4`, `m5`, `m6`, `m7` " <>
                  "and 2 more"}
    end
  end

  describe "get_global_value/3 and set_global_value/4" do
    setup do
      instantiate(globals_wat())
    end

    test "read every type", %{store: store, instance: instance} do
      get = &Wasmex.Instance.get_global_value(store, instance, &1)
      assert get.("meaning_of_life") == {:ok, 42}
      assert get.("count_32") == {:ok, -32}
      assert get.("count_64") == {:ok, -64}
      assert {:ok, pi32} = get.("bad_pi_32")
      assert_in_delta pi32, 3.14, 0.000001
      assert get.("bad_pi_64") == {:ok, 3.14}
      assert get.("vector") == {:ok, 2 * 2 ** 64 + 1}

      assert get.("nope") ==
               {:error,
                "exported global `nope` not found: the module exports the globals " <>
                  "`bad_pi_32`, `bad_pi_64`, `count_32`, `count_64`, `meaning_of_life` and `vector`"}

      %{store: store, instance: instance} = instantiate(~S[(module (func (export "f")))])

      assert Wasmex.Instance.get_global_value(store, instance, "nope") ==
               {:error, "exported global `nope` not found: the module exports no globals"}
    end

    test "a reference global is not read, as in Wasmex" do
      %{store: store, instance: instance} = instantiate(~S[(module
          (func $f)
          (elem declare func $f)
          (global (export "externref") externref (ref.null extern))
          (global (export "funcref") (mut funcref) (ref.func $f)))])

      assert Wasmex.Instance.get_global_value(store, instance, "externref") ==
               {:error, "unable_to_return_extern_ref_type"}

      assert Wasmex.Instance.get_global_value(store, instance, "funcref") ==
               {:error, "unable_to_return_func_ref_type"}
    end

    test "write mutable globals of every type", %{store: store, instance: instance} do
      set = &Wasmex.Instance.set_global_value(store, instance, &1, &2)
      get = &Wasmex.Instance.get_global_value(store, instance, &1)
      assert set.("count_32", 99) == :ok
      assert get.("count_32") == {:ok, 99}
      assert set.("count_64", -(2 ** 63)) == :ok
      assert get.("count_64") == {:ok, -(2 ** 63)}
      assert set.("bad_pi_64", 2.5) == :ok
      assert get.("bad_pi_64") == {:ok, 2.5}
      assert set.("bad_pi_32", :nan) == :ok
      assert get.("bad_pi_32") == {:ok, :nan}
      assert set.("vector", 7) == :ok
      assert get.("vector") == {:ok, 7}
    end

    test "report immutable, missing and mistyped globals", %{store: store, instance: instance} do
      set = &Wasmex.Instance.set_global_value(store, instance, &1, &2)

      assert set.("meaning_of_life", 1) ==
               {:error, "Could not set global: immutable global cannot be set"}

      assert {:error, "exported global `unknown_global` not found: the module exports " <> _} =
               set.("unknown_global", 1)

      error = fn type, given ->
        {:error,
         "Cannot convert to a WebAssembly #{type} value: expected #{takes(type)}, got: #{given}"}
      end

      assert set.("count_32", :one) == error.("i32", ":one")
      assert set.("count_32", 2 ** 31) == error.("i32", "2147483648")
      assert set.("count_64", 2 ** 63) == error.("i64", "9223372036854775808")
      assert set.("bad_pi_32", 1.0e39) == error.("f32", "1.0e39")
      assert set.("bad_pi_64", 1) == error.("f64", "1")
      assert set.("vector", -1) == error.("v128", "-1")
      assert Wasmex.Instance.get_global_value(store, instance, "count_32") == {:ok, -32}
    end

    test "refuse an instance of another store", %{instance: instance} do
      {:ok, other} = Wasmex.Store.new()

      assert Wasmex.Instance.get_global_value(other, instance, "count_32") ==
               {:error, "instance does not belong to this store"}

      assert Wasmex.Instance.set_global_value(other, instance, "count_32", 1) ==
               {:error, "instance does not belong to this store"}
    end
  end

  # What a message says a value type takes.
  defp takes("i32"), do: "an integer in -2147483648..2147483647"
  defp takes("i64"), do: "an integer in -9223372036854775808..9223372036854775807"

  defp takes("f32"),
    do:
      "a float in -3.4028234663852886e38..3.4028234663852886e38, :nan, :infinity or :neg_infinity"

  defp takes("f64"), do: "a float, :nan, :infinity or :neg_infinity"
  defp takes("v128"), do: "an integer in 0..340282366920938463463374607431768211455"
end

defmodule Wasmex.InstanceAsyncTest do
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  describe "call_exported_function/5,6" do
    test "returns :ok at once and sends {tag, result} to the pid of from" do
      %{store: store, instance: instance} = instantiate(example_wat())
      ref = make_ref()

      assert Wasmex.Instance.call_exported_function(store, instance, "add", [1, 2], {self(), ref}) ==
               :ok

      assert_receive {^ref, {:ok, [3]}}

      :ok = Wasmex.Instance.call_exported_function(store, instance, :add, [1], {self(), ref})
      assert_receive {^ref, {:error, "number of params does not match. expected 2, got 1"}}
    end

    test "stops a call past its timeout" do
      %{store: store, instance: instance} = instantiate(loop_wat())
      ref = make_ref()
      :ok = Wasmex.Instance.call_exported_function(store, instance, "spin", [], {self(), ref}, 50)
      assert_receive {^ref, {:error, "timeout" <> _}}, 2_000
      assert Wasmex.Instance.call_function(store, instance, "count", [1]) == {:ok, [1]}
    end

    test "runs callbacks in the process that runs the call" do
      test = self()

      imports = %{
        "env" => %{"gate" => {:fn, [], [], fn ctx -> send(test, {:callback, ctx.pid}) end}}
      }

      %{store: store, instance: instance} = instantiate(gate_wat(), imports)
      ref = make_ref()
      :ok = Wasmex.Instance.call_exported_function(store, instance, "gated", [], {self(), ref})
      assert_receive {^ref, {:ok, [1]}}
      assert_received {:callback, pid}
      refute pid == self()
    end

    # Wasmex's test "call exported function in imported function callback using instance
    # in callback": the outer call holds the store until the callback returns.
    test "from an import callback, with the callback's caller and instance, replies" do
      wat = ~S[(module
        (import "env" "callback" (func $callback (result i32)))
        (func (export "outer") (result i32) (call $callback))
        (func (export "inner") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))]

      callback = fn context ->
        ref = make_ref()
        from = {self(), ref}

        :ok =
          Wasmex.Instance.call_exported_function(
            context.caller,
            context.instance,
            "inner",
            [21],
            from
          )

        receive do: ({^ref, {:ok, [result]}} -> result)
      end

      imports = %{"env" => %{"callback" => {:fn, [], [:i32], callback}}}
      %{store: store, instance: instance} = instantiate(wat, imports)

      assert Wasmex.Instance.call_function(store, instance, "outer", [], timeout: 5_000) ==
               {:ok, [42]}

      # Outside a callback, it still runs in a new process.
      ref = make_ref()
      :ok = Wasmex.Instance.call_exported_function(store, instance, "inner", [1], {self(), ref})
      assert_receive {^ref, {:ok, [2]}}
    end
  end
end

defmodule Wasmex.InstanceScheduleTest do
  # Instantiation runs on a dirty scheduler when what it does is big, not when the module
  # is: its memories, tables, segments and imports.
  use ExUnit.Case, async: true

  import Wasmex.TestProcesses, only: [native_calls: 2]

  @twins [instance_new_nif: 4, instance_new_dirty_nif: 4]

  defp instantiate(wat, imports \\ %{}) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {result, calls} = native_calls(fn -> Wasmex.Instance.new(store, module, imports) end, @twins)
    assert {:ok, %Wasmex.Instance{}} = result
    calls
  end

  test "a small module instantiates on a normal scheduler" do
    assert instantiate(~S[(module (memory 1) (table 10 funcref) (data (i32.const 0) "hi"))]) ==
             [:instance_new_nif]
  end

  test "a tiny module declaring a big memory or table instantiates on a dirty scheduler" do
    dirty = [:instance_new_nif, :instance_new_dirty_nif]
    assert instantiate(~S[(module (memory 512))]) == dirty
    assert instantiate(~S[(module (table 1000000 funcref))]) == dirty
  end

  test "big data segments and many imports instantiate on a dirty scheduler" do
    dirty = [:instance_new_nif, :instance_new_dirty_nif]
    data = String.duplicate("x", 2 * 1024 * 1024)
    assert instantiate(~s[(module (memory 40) (data (i32.const 0) "#{data}"))]) == dirty

    assert instantiate(imports_wat(2_000), imports(2_000)) == dirty
  end

  test "a few imports instantiate on a normal scheduler" do
    assert instantiate(imports_wat(100), imports(100)) == [:instance_new_nif]
  end

  defp imports(count),
    do: %{"env" => Map.new(1..count, &{"f#{&1}", {:fn, [], [], fn _ -> nil end}})}

  defp imports_wat(count),
    do: "(module " <> Enum.map_join(1..count, " ", &~s[(import "env" "f#{&1}" (func))]) <> ")"
end
