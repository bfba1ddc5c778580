defmodule Wasmex.CallTest do
  # How calls share the BEAM: slicing, killing, and one store used by several processes.
  # Not async: these tests load every scheduler on purpose.
  use ExUnit.Case, async: false

  import Wasmex.Fixtures

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
