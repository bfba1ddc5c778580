defmodule Wasmex.PoolTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Pool

  import Wasmex.Fixtures

  defp pool(options) do
    start_supervised!({Wasmex.Pool, options})
  end

  describe "start_link/1" do
    test "compiles the module once for all workers" do
      pool = pool(size: 3, bytes: example_wat())
      workers = Wasmex.Pool.workers(pool)
      assert length(workers) == 3
      modules = Enum.map(workers, fn worker -> elem(Wasmex.module(worker), 1) end)
      assert length(Enum.uniq(modules)) == 1
      stores = Enum.map(workers, fn worker -> elem(Wasmex.store(worker), 1) end)
      assert length(Enum.uniq(stores)) == 3
    end

    test "takes a precompiled module with its engine, and imports" do
      {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
      {:ok, store} = Wasmex.Store.new(nil, engine)
      {:ok, module} = Wasmex.Module.compile(store, host_callbacks_wat())

      imports = %{
        "env" => %{
          "host_log" => {:fn, [:i32, :i32], [], fn _, _, _ -> nil end},
          "host_random" => {:fn, [], [:i32], fn _ -> 9 end}
        }
      }

      pool = pool(size: 2, module: module, engine: engine, imports: imports)
      assert Wasmex.Pool.call_function(pool, "roll", []) == {:ok, [9]}
    end

    test "rejects bad options" do
      assert_raise ArgumentError, fn ->
        Wasmex.Pool.start_link(size: 1, bytes: "(module)", color: :red)
      end

      assert_raise ArgumentError, ~r/:size/, fn ->
        Wasmex.Pool.start_link(size: 0, bytes: "(module)")
      end

      # Back to the caller as an error, without an exit signal from the pool.
      assert {:error, "Error while parsing bytes: " <> _} =
               Wasmex.Pool.start_link(size: 1, bytes: "nope")
    end
  end

  describe "call_function/3,4" do
    test "runs calls on free workers, queueing callers beyond the size" do
      test = self()
      imports = gate_imports(test)
      pool = pool(size: 2, bytes: gate_wat(), imports: imports)

      first = Task.async(fn -> Wasmex.Pool.call_function(pool, "gated", [], 5_000) end)
      second = Task.async(fn -> Wasmex.Pool.call_function(pool, "gated", [], 5_000) end)
      assert_receive {:in_gate, worker_a}
      assert_receive {:in_gate, worker_b}
      refute worker_a == worker_b

      third = Task.async(fn -> Wasmex.Pool.call_function(pool, "count", [3], 5_000) end)
      assert Task.yield(third, 100) == nil

      send(worker_a, :open)
      assert Task.await(third) == {:ok, [3]}
      send(worker_b, :open)
      assert Enum.sort([Task.await(first), Task.await(second)]) == [{:ok, [1]}, {:ok, [1]}]
    end

    test "a caller that waits past its timeout exits, and the pool stays whole" do
      pool = pool(size: 1, bytes: gate_wat(), imports: gate_imports(self()))
      [server] = Wasmex.Pool.workers(pool)
      holder = Task.async(fn -> Wasmex.Pool.call_function(pool, "gated", [], 5_000) end)
      # `worker` is the process running the worker's calls (and callbacks).
      assert_receive {:in_gate, worker}

      assert {:timeout, _} = catch_exit(Wasmex.Pool.call_function(pool, "count", [1], 50))

      send(worker, :open)
      assert Task.await(holder) == {:ok, [1]}
      assert Wasmex.Pool.call_function(pool, "count", [2]) == {:ok, [2]}
      assert Wasmex.Pool.workers(pool) == [server]
    end
  end

  describe "transaction/3" do
    test "gives the worker back when the function raises" do
      pool = pool(size: 1, bytes: example_wat())

      assert_raise RuntimeError, fn ->
        Wasmex.Pool.transaction(pool, fn _worker -> raise "boom" end)
      end

      assert Wasmex.Pool.call_function(pool, "add", [1, 1]) == {:ok, [2]}
    end

    test "gives the worker back when the caller dies holding it" do
      pool = pool(size: 1, bytes: example_wat())
      test = self()

      holder =
        spawn(fn ->
          Wasmex.Pool.transaction(pool, fn worker ->
            send(test, {:holding, worker})
            Process.sleep(:infinity)
          end)
        end)

      assert_receive {:holding, _}
      Process.exit(holder, :kill)
      assert Wasmex.Pool.call_function(pool, "add", [2, 2], 2_000) == {:ok, [4]}
    end
  end

  describe "workers" do
    test "a crashed worker is replaced" do
      pool = pool(size: 2, bytes: example_wat())
      [victim, survivor] = Wasmex.Pool.workers(pool)
      ref = Process.monitor(victim)
      Process.exit(victim, :kill)
      assert_receive {:DOWN, ^ref, :process, ^victim, :killed}

      workers = Wasmex.Pool.workers(pool)
      assert length(workers) == 2
      assert survivor in workers
      refute victim in workers

      results = for n <- 1..10, do: Wasmex.Pool.call_function(pool, "add", [n, 0])
      assert results == Enum.map(1..10, &{:ok, [&1]})
    end

    test "a worker that crashes while checked out is replaced; its caller exits" do
      pool = pool(size: 1, bytes: example_wat())
      worker = Wasmex.Pool.checkout(pool)
      Process.exit(worker, :kill)
      Wasmex.Pool.checkin(pool, worker)
      assert Wasmex.Pool.call_function(pool, "add", [1, 2]) == {:ok, [3]}
      refute worker in Wasmex.Pool.workers(pool)
    end

    test "can be processes of your own module" do
      pool = pool(size: 2, worker: {Agent, fn -> :state end})
      assert Wasmex.Pool.transaction(pool, &Agent.get(&1, fn state -> state end)) == :state
    end
  end
end
