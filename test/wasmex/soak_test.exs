defmodule Wasmex.SoakTest do
  # A short soak (bench/soak.exs is the long one): many create-call-drop cycles and
  # callback calls must not grow memory or leave processes; and 1,000 processes hammering
  # one store, directly and through a Wasmex GenServer on it, with callbacks and nested
  # calls, must all get their own results without a deadlock.
  #
  # Not async: it measures the memory of the whole VM and counts its processes.
  use ExUnit.Case, async: false

  import Wasmex.TestProcesses

  alias Wasmex.Instance

  @add_wat ~S[(module
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]

  # run(x) = inc(x) + 1, through an Elixir import.
  @inc_wat ~S[(module
    (import "env" "inc" (func $inc (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "run") (param i32) (result i32)
      (i32.add (call $inc (local.get 0)) (i32.const 1))))]

  defp inc_imports, do: %{"env" => %{"inc" => {:fn, [:i32], [:i32], fn _context, x -> x + 1 end}}}

  describe "short soak" do
    @cycles 20_000
    @calls 20_000

    # Measured on a 2-core machine, after the warm-up: RSS moves by -6 MB to +0.1 MB over
    # these runs (the allocator returns memory to the OS, or keeps it), :erlang.memory by
    # -1.1 MB to +0.1 MB. A leak of 1 KB per cycle or call (20 MB) fails the bounds.
    @rss_bound 8 * 1024 * 1024
    @erlang_bound 2 * 1024 * 1024

    test "#{@cycles} create-call-drop cycles and #{@calls} callback calls of each kind leak nothing" do
      {:ok, add_wasm} = Wasmex.Wat.to_wasm(@add_wat)
      {:ok, inc_wasm} = Wasmex.Wat.to_wasm(@inc_wat)

      # Warm-up: allocators grow to their working size; that is not a leak.
      in_new_process(fn -> cycles(add_wasm, 5_000) end)
      in_new_process(fn -> callback_calls(inc_wasm, 5_000) end)

      processes = Process.list()
      start = measure()
      in_new_process(fn -> cycles(add_wasm, @cycles) end)
      after_cycles = measure()
      assert_no_new_processes(processes)
      in_new_process(fn -> callback_calls(inc_wasm, @calls) end)
      after_calls = measure()
      assert_no_new_processes(processes)

      for {what, from, to} <- [
            {"#{@cycles} cycles", start, after_cycles},
            {"#{@calls} calls of each kind", after_cycles, after_calls}
          ] do
        assert to.rss - from.rss < @rss_bound,
               "RSS grew by #{div(to.rss - from.rss, 1024)} KB over #{what}"

        assert to.erlang - from.erlang < @erlang_bound,
               ":erlang.memory(:total) grew by #{div(to.erlang - from.erlang, 1024)} KB over #{what}"

        assert to.ports == from.ports
      end

      assert length(Process.list()) <= length(processes)
    end
  end

  # Runs `fun` in a new process and waits for it to end (taking its heap with it).
  defp in_new_process(fun) do
    {pid, ref} = spawn_monitor(fun)
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 60_000
  end

  defp cycles(wasm, n) do
    for i <- 1..n do
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wasm)
      {:ok, instance} = Instance.new(store, module, %{})
      x = rem(i, 1000)
      {:ok, [sum]} = Instance.call_function(store, instance, "add", [x, 3])
      ^sum = x + 3
    end

    :ok
  end

  # `n` calls with an Elixir import each: through a Wasmex GenServer, asynchronously
  # (call_exported_function: a process per call) and directly.
  defp callback_calls(wasm, n) do
    {:ok, server} = Wasmex.start_link(%{bytes: wasm, imports: inc_imports()})
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm)
    {:ok, instance} = Instance.new(store, module, inc_imports())

    for i <- 1..n do
      {:ok, [r]} = Wasmex.call_function(server, "run", [i])
      ^r = i + 2
      tag = make_ref()
      :ok = Instance.call_exported_function(store, instance, "run", [i], {self(), tag})
      receive do: ({^tag, {:ok, [r]}} -> ^r = i + 2)
      {:ok, [r]} = Instance.call_function(store, instance, "run", [i])
      ^r = i + 2
    end

    GenServer.stop(server)
  end

  defp measure do
    gc_all()
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, File.read!("/proc/self/status"))

    %{
      rss: String.to_integer(kb) * 1024,
      erlang: :erlang.memory(:total),
      ports: :erlang.system_info(:port_count)
    }
  end

  describe "1,000 processes on one store" do
    # run(x, d) = host(x, d) + 1, where host (an Elixir import) calls back into the guest
    # through the caller: host(x, 0) = leaf(x) = 3x (and writes and reads it back through
    # memory), host(x, d) = 2 * run(x, d - 1).
    @nested_wat ~S[(module
      (import "env" "host" (func $host (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "run") (param i32 i32) (result i32)
        (i32.add (call $host (local.get 0) (local.get 1)) (i32.const 1)))
      (func (export "leaf") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))]

    defp nested_imports do
      host = fn
        context, x, 0 ->
          {:ok, [leaf]} = Instance.call_function(context.caller, context.instance, "leaf", [x])
          offset = 4 * rem(x, 16_384)
          :ok = Wasmex.Memory.write_binary(context.caller, context.memory, offset, <<leaf::32>>)
          # The store is this process's until the call ends: nobody else wrote meanwhile.
          {:ok, <<^leaf::32>>} =
            Wasmex.Memory.read_binary(context.caller, context.memory, offset, 4)

          leaf

        context, x, d ->
          {:ok, [r]} = Instance.call_function(context.caller, context.instance, "run", [x, d - 1])
          2 * r
      end

      %{"env" => %{"host" => {:fn, [:i32, :i32], [:i32], host}}}
    end

    defp hammer(store, instance, server, x) do
      tag = make_ref()
      :ok = Instance.call_exported_function(store, instance, "run", [x, rem(x, 4)], {self(), tag})
      via_server = Wasmex.call_function(server, "run", [x, rem(x + 1, 4)], 60_000)
      direct = Instance.call_function(store, instance, "run", [x, rem(x + 2, 4)])
      async = receive do: ({^tag, result} -> result)
      {async, via_server, direct}
    end

    defp count_waits(counts) do
      receive do
        {:trace, pid, :call, {Wasmex.Native, :await, _}} ->
          count_waits(Map.update(counts, pid, 1, &(&1 + 1)))
      after
        0 -> counts
      end
    end

    defp hammer_expected(x) do
      {{:ok, [expected(x, rem(x, 4))]}, {:ok, [expected(x, rem(x + 1, 4))]},
       {:ok, [expected(x, rem(x + 2, 4))]}}
    end

    defp expected(x, 0), do: 3 * x + 1
    defp expected(x, d), do: 2 * expected(x, d - 1) + 1

    @processes 1_000
    @rounds 5

    test "#{@processes} processes call it directly, asynchronously and through a GenServer on it" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, @nested_wat)
      {:ok, instance} = Instance.new(store, module, nested_imports())
      {:ok, server} = Wasmex.start_link(%{store: store, module: module, instance: instance})
      before = Process.list()
      test = self()
      # To show that callers did wait for the store: trace each caller's waits.
      trace_store_waits()
      on_exit(&untrace/0)
      1 = :erlang.trace(server, true, [:call])
      :erlang.trace(:new_processes, true, [:call])

      # Each process, #{@rounds} times, makes an asynchronous call (run by another process),
      # then, while that one runs, a call through the GenServer and a direct call: about
      # 3,000 callers of one store at a time, each call with 1 to 4 levels of nested calls.
      workers =
        for i <- 1..@processes do
          spawn_monitor(fn ->
            receive do: (:go -> :ok)
            results = for round <- 1..@rounds, do: hammer(store, instance, server, i + round)
            send(test, {:hammered, self(), results})
          end)
        end

      started = System.monotonic_time(:millisecond)
      for {pid, _} <- workers, do: send(pid, :go)

      # The test process joins in as one more caller.
      mine = for x <- 1..200, do: Instance.call_function(store, instance, "run", [x, 3])
      assert mine == for(x <- 1..200, do: {:ok, [expected(x, 3)]})

      for {{pid, ref}, i} <- Enum.with_index(workers, 1) do
        wait = max(60_000 - (System.monotonic_time(:millisecond) - started), 0)

        receive do
          {:hammered, ^pid, results} ->
            assert results == for(round <- 1..@rounds, do: hammer_expected(i + round)),
                   "process #{i}"
        after
          wait -> flunk("process #{i} had no results after 60 s: a deadlock?")
        end

        assert_receive {:DOWN, ^ref, :process, ^pid, :normal}
      end

      :erlang.trace(:new_processes, false, [:call])
      :erlang.trace(server, false, [:call])
      ref = :erlang.trace_delivered(:all)
      assert_receive {:trace_delivered, :all, ^ref}, 5_000
      waits = count_waits(%{})
      assert waits[server] > 0 and map_size(waits) > @processes, inspect(Enum.take(waits, 5))

      # The store, and the GenServer on it, serve the next calls.
      assert Instance.call_function(store, instance, "run", [7, 2]) == {:ok, [expected(7, 2)]}
      assert Wasmex.call_function(server, "run", [8, 3]) == {:ok, [expected(8, 3)]}
      assert_no_new_processes(before)
      refute_received {:"$wasmex_store_free", _}
      GenServer.stop(server)
    end
  end
end
