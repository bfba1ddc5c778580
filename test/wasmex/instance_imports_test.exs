defmodule Wasmex.InstanceImportsTest do
  # Elixir imports: callbacks run in the calling process as resumable host traps.
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  # A guest that calls `env.f` with (i32, i64, f32, f64, v128) and returns its results.
  @all_types ~S[(module
    (import "env" "f" (func $f (param i32 i64 f32 f64 v128) (result i32 i64 f32 f64 v128)))
    (func (export "run") (param i32 i64 f32 f64 v128) (result i32 i64 f32 f64 v128)
      (call $f (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4))))]

  @max_v128 2 ** 128 - 1

  describe "callback styles" do
    test "Wasmex style: arguments after the context, one result bare" do
      imports = %{env: %{add: {:fn, [:i32, :i32], [:i32], fn _context, a, b -> a + b end}}}

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "add" (func $add (param i32 i32) (result i32)))
              (func (export "run") (result i32) (call $add (i32.const 40) (i32.const 2))))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", []) == {:ok, [42]}
    end

    test "both styles with every value type and several results" do
      args = [-7, -(2 ** 63), 1.5, -2.25, @max_v128]

      wasmex_style = fn _context, a, b, c, d, e -> [a, b, c, d, e] end
      context_style = fn context -> context.params end

      for callback <- [wasmex_style, context_style] do
        types = [:i32, :i64, :f32, :f64, :v128]
        imports = %{"env" => %{"f" => {:fn, types, types, callback}}}
        %{store: store, instance: instance} = instantiate(@all_types, imports)
        assert Wasmex.Instance.call_function(store, instance, "run", args) == {:ok, args}
      end
    end

    test "results may be NaN and infinities as atoms" do
      imports = %{"env" => %{"f" => {:fn, [], [:f64, :f32], fn _ -> [:nan, :neg_infinity] end}}}

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "f" (func $f (result f64 f32)))
              (func (export "run") (result f64 f32) (call $f)))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", []) ==
               {:ok, [:nan, :neg_infinity]}
    end

    test "a callback without results may return anything" do
      imports = %{"env" => %{"f" => {:fn, [:i32], [], fn _ctx, _x -> :whatever end}}}

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "f" (func $f (param i32)))
              (func (export "run") (call $f (i32.const 1))))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", []) == {:ok, []}
    end
  end

  describe "the context" do
    test "has the store, the caller, the instance, the memory, the params and the pid" do
      test = self()

      imports = %{
        "env" => %{
          "f" =>
            {:fn, [:i32], [],
             fn context ->
               send(test, {:context, context})
               []
             end}
        }
      }

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "f" (func $f (param i32))) (memory (export "memory") 1)
              (func (export "run") (call $f (i32.const 9))))],
          imports
        )

      assert {:ok, []} = Wasmex.Instance.call_function(store, instance, "run", [])
      assert_received {:context, context}
      assert context.store == store
      assert context.caller == store
      assert context.instance == instance
      assert %Wasmex.Memory{} = context.memory
      assert context.params == [9]
      assert context.pid == self()
    end

    test "memory is nil without a memory export" do
      test = self()
      imports = %{"env" => %{"f" => {:fn, [], [], fn context -> send(test, context.memory) end}}}

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "f" (func $f)) (func (export "run") (call $f)))],
          imports
        )

      assert {:ok, []} = Wasmex.Instance.call_function(store, instance, "run", [])
      assert_received nil
    end
  end

  describe "inside a callback" do
    test "memory can be read and written through context.memory and context.caller" do
      imports = %{
        "env" => %{
          "shout" =>
            {:fn, [:i32, :i32], [:i32],
             fn context, ptr, len ->
               {:ok, text} = Wasmex.Memory.read_binary(context.caller, context.memory, ptr, len)

               :ok =
                 Wasmex.Memory.write_binary(
                   context.caller,
                   context.memory,
                   ptr,
                   String.upcase(text)
                 )

               len
             end}
        }
      }

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "shout" (func $shout (param i32 i32) (result i32)))
              (memory (export "memory") 1) (data (i32.const 0) "quiet")
              (func (export "run") (result i32) (call $shout (i32.const 0) (i32.const 5))))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", []) == {:ok, [5]}
      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      assert Wasmex.Memory.read_binary(store, memory, 0, 5) == {:ok, "QUIET"}
    end

    test "globals can be read and written" do
      imports = %{
        "env" => %{
          "bump" =>
            {:fn, [], [],
             fn context ->
               {:ok, n} = Wasmex.Instance.get_global_value(context.store, context.instance, "n")

               :ok =
                 Wasmex.Instance.set_global_value(context.store, context.instance, "n", n + 10)
             end}
        }
      }

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "bump" (func $bump))
              (global $n (export "n") (mut i32) (i32.const 1))
              (func (export "run") (result i32) (call $bump) (global.get $n)))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", []) == {:ok, [11]}
    end

    test "the guest can be called again, two levels deep" do
      # run(n) -> host(n) -> depth2(n) -> host2(n) -> leaf(n) = n + 1000
      imports = %{
        "env" => %{
          "host" =>
            {:fn, [:i32], [:i32],
             fn context, n ->
               {:ok, [r]} =
                 Wasmex.Instance.call_function(context.store, context.instance, "depth2", [n])

               r + 1
             end},
          "host2" =>
            {:fn, [:i32], [:i32],
             fn context, n ->
               {:ok, [r]} =
                 Wasmex.Instance.call_function(context.caller, context.instance, "leaf", [n])

               r + 10
             end}
        }
      }

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module
              (import "env" "host" (func $host (param i32) (result i32)))
              (import "env" "host2" (func $host2 (param i32) (result i32)))
              (func (export "run") (param i32) (result i32) (call $host (local.get 0)))
              (func (export "depth2") (param i32) (result i32) (call $host2 (local.get 0)))
              (func (export "leaf") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1000))))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "run", [5]) == {:ok, [1016]}
    end

    test "a nested call may go as deep as the guest allows" do
      # countdown(n) calls host(n), which calls countdown(n - 1), down to 0.
      imports = %{
        "env" => %{
          "host" =>
            {:fn, [:i32], [:i32],
             fn
               _context, 0 ->
                 0

               context, n ->
                 {:ok, [r]} =
                   Wasmex.Instance.call_function(context.store, context.instance, "countdown", [
                     n - 1
                   ])

                 r + 1
             end}
        }
      }

      %{store: store, instance: instance} =
        instantiate(
          ~S[(module (import "env" "host" (func $host (param i32) (result i32)))
              (func (export "countdown") (param i32) (result i32) (call $host (local.get 0))))],
          imports
        )

      assert Wasmex.Instance.call_function(store, instance, "countdown", [300]) == {:ok, [300]}
    end
  end

  describe "a failing callback" do
    setup do
      test = self()

      behaviours = %{
        1 => fn -> raise "oops" end,
        2 => fn -> throw(:ball) end,
        3 => fn -> exit(:gone) end,
        4 => fn -> :not_a_number end,
        5 => fn -> [1, 2] end,
        6 => fn -> 1.5 end,
        7 => fn -> raise ArgumentError, "bad" end,
        8 => fn -> 2 ** 40 end
      }

      imports = %{
        "env" => %{
          "f" =>
            {:fn, [:i32], [:i32],
             fn _context, which ->
               send(test, :called)
               behaviours[which].()
             end}
        }
      }

      instantiate(
        ~S[(module (import "env" "f" (func $f (param i32) (result i32)))
            (func (export "run") (param i32) (result i32) (call $f (local.get 0)))
            (func (export "ok") (result i32) (i32.const 7)))],
        imports
      )
    end

    test "fails the guest call with the reason, and the store stays usable", ctx do
      %{store: store, instance: instance} = ctx
      prefix = "the elixir callback threw an exception: "

      result_error =
        "could not convert callback result #1 to a WebAssembly i32 value: " <>
          "expected an integer in -2147483648..2147483647, got:"

      for {which, reason} <- [
            {1, "(RuntimeError) oops"},
            {2, "(throw) :ball"},
            {3, "(exit) :gone"},
            {4, "#{result_error} :not_a_number"},
            {5, "expected 1 result(s), got 2"},
            {6, "#{result_error} 1.5"},
            {7, "(ArgumentError) bad"},
            {8, "#{result_error} 1099511627776"}
          ] do
        assert Wasmex.Instance.call_function(store, instance, "run", [which]) ==
                 {:error, prefix <> reason}

        assert_received :called
        assert Wasmex.Instance.call_function(store, instance, "ok", []) == {:ok, [7]}
      end
    end
  end

  test "a guest may call an import 100,000 times in one call" do
    imports = %{"env" => %{"inc" => {:fn, [:i32], [:i32], fn _context, x -> x + 1 end}}}

    %{store: store, instance: instance} =
      instantiate(
        ~S[(module (import "env" "inc" (func $inc (param i32) (result i32)))
            (func (export "run") (param $n i32) (result i32)
              (local $acc i32)
              (block $done
                (loop $next
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $acc (call $inc (local.get $acc)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $next)))
              (local.get $acc)))],
        imports
      )

    assert Wasmex.Instance.call_function(store, instance, "run", [100_000]) == {:ok, [100_000]}
  end

  test "an import called while another process waits for the same store" do
    test = self()

    imports = %{
      "env" => %{
        "gate" =>
          {:fn, [:i32], [:i32],
           fn _context, x ->
             send(test, {:in_gate, self()})
             receive(do: (:open -> x * 2))
           end}
      }
    }

    %{store: store, instance: instance} =
      instantiate(
        ~S[(module (import "env" "gate" (func $gate (param i32) (result i32)))
            (global $n (mut i32) (i32.const 0))
            (func (export "run") (param i32) (result i32)
              (global.set $n (i32.add (global.get $n) (i32.const 1)))
              (call $gate (local.get 0)))
            (func (export "n") (result i32) (global.get $n)))],
        imports
      )

    owner = Task.async(fn -> Wasmex.Instance.call_function(store, instance, "run", [21]) end)
    assert_receive {:in_gate, pid}
    waiter = Task.async(fn -> Wasmex.Instance.call_function(store, instance, "n", []) end)
    assert Task.yield(waiter, 100) == nil
    send(pid, :open)
    assert Task.await(owner) == {:ok, [42]}
    assert Task.await(waiter) == {:ok, [1]}
  end

  test "Elixir imports are offered to linked modules too" do
    {:ok, store} = Wasmex.Store.new()

    {:ok, utils} =
      Wasmex.Module.compile(store, ~S[(module (import "env" "ten" (func $ten (result i32)))
        (func (export "plus_ten") (param i32) (result i32) (i32.add (local.get 0) (call $ten))))])

    {:ok, main} = Wasmex.Module.compile(store, ~S[(module
        (import "utils" "plus_ten" (func $plus_ten (param i32) (result i32)))
        (func (export "run") (param i32) (result i32) (call $plus_ten (local.get 0))))])

    imports = %{"env" => %{"ten" => {:fn, [], [:i32], fn _ -> 10 end}}}
    {:ok, instance} = Wasmex.Instance.new(store, main, imports, [%{name: "utils", module: utils}])
    assert Wasmex.Instance.call_function(store, instance, "run", [5]) == {:ok, [15]}
  end

  # Found by fuzzing the engine: with no Wasm frame left to resume into, an import used to
  # fail with "an Elixir import was called outside of a resumable call".
  test "an exported import and a tail-called import are called like any other" do
    imports = %{env: %{double: {:fn, [:i32], [:i32], fn _context, x -> 2 * x end}}}

    %{store: store, instance: instance} =
      instantiate(fixture_wat("imports_without_frame.wat"), imports)

    for name <- ["double", "tail", "tail_indirect"] do
      assert Wasmex.Instance.call_function(store, instance, name, [21]) == {:ok, [42]}
    end
  end
end
