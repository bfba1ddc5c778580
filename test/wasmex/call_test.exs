defmodule Wasmex.CallTest do
  # How calls share the BEAM: slicing, killing, and one store used by several processes.
  # Not async: these tests load every scheduler on purpose.
  use ExUnit.Case, async: false

  import Wasmex.Fixtures
  import Wasmex.TestProcesses, only: [trace_guest_slices: 0, untrace: 0, await_guest_running: 2]

  # Starts a process that calls `function` on `instance` and tells the test its result.
  # Returns once the call is inside the gate: the process then owns the store.
  defp start_in_gate(store, instance, function, opts \\ []) do
    test = self()

    pid =
      spawn(fn ->
        result = Wasmex.Instance.call_function(store, instance, function, [], opts)
        send(test, {:done, self(), result})
      end)

    assert_receive {:in_gate, ^pid}, 5_000
    pid
  end

  defp gated(wait \\ true), do: instantiate(gate_wat(), gate_imports(self(), wait))

  test "guests in endless loops on every scheduler leave the BEAM responsive" do
    spinners =
      for _ <- 1..(2 * System.schedulers_online()) do
        %{store: store, instance: instance} = gated(false)
        %{pid: start_in_gate(store, instance, "gated_spin"), store: store, instance: instance}
      end

    latencies =
      for _ <- 1..50 do
        started = System.monotonic_time(:microsecond)
        parent = self()
        spawn(fn -> send(parent, :pong) end)
        assert_receive :pong, 5_000
        (System.monotonic_time(:microsecond) - started) / 1000
      end

    # A NIF that never returned would starve this process for good; sliced guests delay
    # it by about a slice. The bound is loose because CI machines are shared.
    assert Enum.max(latencies) < 100, "probe latencies (ms): #{inspect(latencies)}"

    for %{pid: pid, store: store, instance: instance} <- spinners do
      ref = Process.monitor(pid)
      Process.exit(pid, :kill)
      assert_receive {:DOWN, ^ref, :process, ^pid, :killed}
      # Killing the caller mid-call frees its store.
      assert Wasmex.Instance.call_function(store, instance, "count", [3]) == {:ok, [3]}
    end
  end

  test "a second process waits for the store until the first call ends" do
    %{store: store, instance: instance} = gated()
    owner = start_in_gate(store, instance, "gated")
    second = Task.async(fn -> Wasmex.Instance.call_function(store, instance, "count", [5]) end)
    assert Task.yield(second, 100) == nil

    send(owner, :open)
    assert_receive {:done, ^owner, {:ok, [1]}}
    assert Task.await(second) == {:ok, [5]}
  end

  test "killing the owner of a store wakes the process waiting for it" do
    %{store: store, instance: instance} = gated()
    owner = start_in_gate(store, instance, "gated")
    waiter = Task.async(fn -> Wasmex.Instance.call_function(store, instance, "count", [7]) end)
    assert Task.yield(waiter, 100) == nil

    Process.exit(owner, :kill)
    assert Task.await(waiter) == {:ok, [7]}
  end

  test "killing the latest of several callers of a store frees it" do
    %{store: store, instance: instance} = gated()
    # Two processes in turn suspend a call on the store (and are monitored in turn);
    # the store follows the one that owns it now.
    first = start_in_gate(store, instance, "gated")
    send(first, :open)
    assert_receive {:done, ^first, {:ok, [1]}}
    second = start_in_gate(store, instance, "gated")
    Process.exit(second, :kill)
    assert Wasmex.Instance.call_function(store, instance, "count", [2]) == {:ok, [2]}
    # The test process itself suspends now; a dead earlier owner changes nothing.
    third = start_in_gate(store, instance, "gated")
    send(third, :open)
    assert_receive {:done, ^third, {:ok, [1]}}
  end

  test "memory access from another process waits for the running call" do
    %{store: store, instance: instance} =
      instantiate(
        ~S[(module (import "env" "gate" (func $gate)) (memory (export "memory") 1)
            (func (export "gated") (call $gate) (i32.store8 (i32.const 0) (i32.const 1))))],
        gate_imports(self())
      )

    {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
    owner = start_in_gate(store, instance, "gated")
    writer = Task.async(fn -> Wasmex.Memory.write_binary(store, memory, 0, <<2>>) end)
    assert Task.yield(writer, 100) == nil

    send(owner, :open)
    assert_receive {:done, ^owner, {:ok, []}}
    assert Task.await(writer) == :ok
    # The guest's store came first, the waiting writer's second.
    assert Wasmex.Memory.get_byte(store, memory, 0) == 2
  end

  test "many processes calling into one store all get their own results" do
    %{store: store, instance: instance} = instantiate(loop_wat())

    results =
      1..200
      |> Task.async_stream(
        fn n -> Wasmex.Instance.call_function(store, instance, "count", [n * 1000]) end,
        max_concurrency: 200,
        timeout: 30_000
      )
      |> Enum.map(fn {:ok, result} -> result end)

    assert results == Enum.map(1..200, &{:ok, [&1 * 1000]})
  end

  test "a waiter whose deadline passes gives up and leaves no message behind" do
    %{store: store, instance: instance} = gated()
    owner = start_in_gate(store, instance, "gated")

    assert Wasmex.Instance.call_function(store, instance, "count", [1], timeout: 50) ==
             {:error, "timeout: the call did not finish within 50 ms"}

    send(owner, :open)
    assert_receive {:done, ^owner, {:ok, [1]}}
    assert Wasmex.Instance.call_function(store, instance, "count", [1]) == {:ok, [1]}
    refute_received {:"$wasmex_store_free", _}
  end

  describe "a crowd waiting for a busy store" do
    @crowd ~S[(module
      (global $tickets (mut i32) (i32.const 0))
      (func (export "busy") (param $n i32) (result i32)
        (local $i i32)
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $i))
      (func (export "ticket") (result i32)
        (global.set $tickets (i32.add (global.get $tickets) (i32.const 1)))
        (global.get $tickets)))]

    @waiters 10_000

    # Wall time (ms) of `busy(n)` on `instance`, run here.
    defp busy_ms(store, instance, n) do
      {us, {:ok, [^n]}} =
        :timer.tc(fn -> Wasmex.Instance.call_function(store, instance, "busy", [n]) end)

      us / 1000
    end

    test "#{@waiters} waiters cost the owner nothing and are served in arrival order" do
      %{store: store, instance: instance} = instantiate(@crowd)
      # A call of about 200 ms on this machine, and its time alone (the best of three).
      n = trunc(1_000_000 * 200 / busy_ms(store, instance, 1_000_000))
      alone = Enum.min(for _ <- 1..3, do: busy_ms(store, instance, n))

      Code.ensure_loaded!(Wasmex.Native)
      :erlang.trace_pattern({Wasmex.Native, :await, 3}, true, [:call_count])
      :erlang.trace_pattern({Wasmex.Native, :instance_call_function_nif, 4}, true, [:call_count])

      on_exit(fn ->
        :erlang.trace_pattern({Wasmex.Native, :await, 3}, false, [:call_count])

        :erlang.trace_pattern({Wasmex.Native, :instance_call_function_nif, 4}, false, [
          :call_count
        ])
      end)

      test = self()
      trace_guest_slices()
      on_exit(&untrace/0)

      owner =
        spawn(fn ->
          receive do: (:go -> send(test, {:owner, self(), busy_ms(store, instance, n)}))
        end)

      # Once its guest runs, the owner holds the store.
      await_guest_running(owner, fn -> send(owner, :go) end)

      # Each waiter is queued before the next one starts: the arrival order is known.
      waiters =
        for i <- 1..@waiters do
          pid =
            spawn(fn ->
              {:ok, [ticket]} = Wasmex.Instance.call_function(store, instance, "ticket", [])
              send(test, {:ticket, i, ticket})
            end)

          await_waiting(pid)
          pid
        end

      assert_receive {:owner, ^owner, with_crowd}, 60_000
      # The owner's call is not slowed by the crowd (a polling crowd slowed it ten-fold).
      assert with_crowd <= 2 * alone,
             "alone #{alone} ms, with #{@waiters} waiters #{with_crowd} ms"

      tickets = for _ <- waiters, do: assert_receive({:ticket, i, ticket}, 60_000) && {i, ticket}
      # Served in arrival order: the i-th waiter took the i-th ticket.
      assert Enum.sort(tickets) == Enum.map(1..@waiters, &{&1, &1})

      # No polling: each waiter slept once, and asked for the store twice (refused, then
      # handed it); the owner asked once.
      {:call_count, waits} = :erlang.trace_info({Wasmex.Native, :await, 3}, :call_count)

      {:call_count, asks} =
        :erlang.trace_info({Wasmex.Native, :instance_call_function_nif, 4}, :call_count)

      assert waits == @waiters
      assert asks == 2 * @waiters + 1
    end
  end

  # Returns once `pid` waits in `receive` (here: for a busy store), or is gone.
  defp await_waiting(pid) do
    case Process.info(pid, :status) do
      {:status, :waiting} ->
        :ok

      nil ->
        :ok

      _ ->
        :erlang.yield()
        await_waiting(pid)
    end
  end

  test "a guest sleeping longer than a receive can wait sleeps on, and holds its store" do
    # 50 days: longer than the 2^32 - 1 ms (49.7 days) a `receive ... after` waits.
    wat = ~S[(module
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "sleep") (result i32)
        (i32.store8 (i32.const 1008) (i32.const 0))
        (i64.store (i32.const 1024) (i64.const 4320000000000000))
        (call $poll (i32.const 1000) (i32.const 2000) (i32.const 1) (i32.const 3000)))
      (func (export "one") (result i32) (i32.const 1)))]

    {:ok, store} = Wasmex.Store.new_wasi(%Wasmex.Wasi.WasiOptions{})
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    sleeper = spawn(fn -> Wasmex.Instance.call_function(store, instance, "sleep", []) end)
    ref = Process.monitor(sleeper)
    await_waiting(sleeper)

    # Asleep, not crashed, and still holding the store: another caller times out waiting.
    refute_received {:DOWN, ^ref, _, _, _}

    assert Wasmex.Instance.call_function(store, instance, "one", [], timeout: 20) ==
             {:error, "timeout: the call did not finish within 20 ms"}

    Process.exit(sleeper, :kill)
    assert_receive {:DOWN, ^ref, :process, ^sleeper, :killed}
    assert Wasmex.Instance.call_function(store, instance, "one", []) == {:ok, [1]}
  end

  test "an instruction too big for a slice runs on a dirty scheduler, with the same result and fuel" do
    # memory.fill of 32 MiB: 524,288 fuel, more than a slice holds.
    wat = ~S[(module
      (memory (export "memory") 600)
      (func (export "fill") (result i32)
        (memory.fill (i32.const 0) (i32.const 7) (i32.const 33554432))
        (i32.load8_u (i32.const 33554431))))]

    run = fn slice ->
      %{store: store, instance: instance} = instantiate(wat, %{}, %{fuel: 10_000_000})
      :ok = Wasmex.Native.hook_set_slice(store.resource, slice)
      {:ok, [7]} = Wasmex.Instance.call_function(store, instance, "fill", [])
      {:ok, left} = Wasmex.StoreOrCaller.get_fuel(store)
      10_000_000 - left
    end

    calls = [call_resume_nif: 1, call_resume_dirty_nif: 1]

    {used, [:call_resume_nif, :call_resume_dirty_nif]} =
      Wasmex.TestProcesses.native_calls(fn -> run.(100_000) end, calls)

    # One slice big enough for it: no dirty scheduler, the same fuel.
    assert {^used, []} = Wasmex.TestProcesses.native_calls(fn -> run.(100_000_000) end, calls)
  end

  test "resuming or aborting without a suspended call is refused" do
    %{store: store} = instantiate(loop_wat())

    assert {:error, "no suspended call of this process on this store"} =
             Wasmex.Native.call_resume(store.resource)

    assert {:error, "no suspended call of this process on this store"} =
             Wasmex.Native.call_resume_host(store.resource, [])

    assert {:error, "no suspended call of this process on this store"} =
             Wasmex.Native.call_abort(store.resource, nil)
  end
end
