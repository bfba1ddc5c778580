defmodule Wasmex.TestProcesses do
  @moduledoc false
  # Synchronisation and leak checks for tests that start, kill and count processes, without
  # sleeping: monitors, messages and call tracing.
  #
  # Call tracing (`trace_store_waits/0`, `trace_guest_slices/0`) sets global trace
  # patterns: only use it from `async: false` test modules.

  import ExUnit.Assertions

  @doc "Garbage-collects every process, so that NIF resources only they held are released."
  def gc_all do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    :ok
  end

  @doc """
  Asserts that every process alive now that is not in `before` ends within `timeout` ms:
  processes on their way out are fine, a process left behind is a leak.
  """
  def assert_no_new_processes(before, timeout \\ 5_000) do
    before = MapSet.new(before)
    new = Enum.reject(Process.list(), &MapSet.member?(before, &1))
    monitors = for pid <- new, do: {pid, Process.monitor(pid)}
    deadline = System.monotonic_time(:millisecond) + timeout

    for {pid, ref} <- monitors do
      wait = max(deadline - System.monotonic_time(:millisecond), 0)

      receive do
        {:DOWN, ^ref, :process, ^pid, _} -> :ok
      after
        wait ->
          info = Process.info(pid, [:initial_call, :current_stacktrace, :dictionary])
          flunk("process #{inspect(pid)} was left behind: #{inspect(info)}")
      end
    end

    :ok
  end

  @doc "Kills `pid` and returns once it is dead (with the reason it died of)."
  def kill(pid) do
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^ref, :process, ^pid, reason}, 5_000
    reason
  end

  @doc """
  Calls `name` from a new process and returns its result; fails if there is none within
  `timeout` ms (a store that stays owned by a dead process never answers).
  """
  def call_from_new_process(store, instance, name, params, timeout \\ 5_000) do
    task = Task.async(fn -> Wasmex.Instance.call_function(store, instance, name, params) end)

    case Task.yield(task, timeout) || Task.shutdown(task, :brutal_kill) do
      {:ok, result} -> result
      nil -> flunk("#{name}#{inspect(params)} got no answer within #{timeout} ms")
    end
  end

  @doc """
  Starts a process that runs `fun` and sends `{:result, pid, value}` to the caller. Not
  linked; the caller may kill it.
  """
  def start(fun) do
    test = self()
    spawn(fn -> send(test, {:result, self(), fun.()}) end)
  end

  @doc "Makes `Wasmex.Native.await/3` (a caller waiting for a busy store) traceable."
  def trace_store_waits do
    Code.ensure_loaded!(Wasmex.Native)
    1 = :erlang.trace_pattern({Wasmex.Native, :await, 3}, true, [:local])
    :ok
  end

  @doc """
  Makes `Wasmex.Native.call_resume(store)` (the next slice of a guest that is running)
  traceable.
  """
  def trace_guest_slices do
    Code.ensure_loaded!(Wasmex.Native)
    1 = :erlang.trace_pattern({Wasmex.Native, :call_resume, 1}, true, [:local])
    :ok
  end

  def untrace do
    :erlang.trace_pattern({Wasmex.Native, :await, 3}, false, [:local])
    :erlang.trace_pattern({Wasmex.Native, :call_resume, 1}, false, [:local])
    :ok
  end

  @doc """
  Runs `fun` in a new process and returns `{result, calls}`: the names of the calls it made
  to the given private `Wasmex.Native` functions (`[memory_read_binary_dirty_nif: 4]`),
  in order. To see which NIF of a normal/dirty twin pair did the work.
  """
  def native_calls(fun, functions) do
    for {name, arity} <- functions do
      # Left on: other tests may trace the same function at the same time.
      :erlang.trace_pattern({Wasmex.Native, name, arity}, true, [:local])
    end

    test = self()
    pid = spawn(fn -> receive(do: (:go -> send(test, {:native_calls, self(), fun.()}))) end)
    1 = :erlang.trace(pid, true, [:call])
    send(pid, :go)
    assert_receive {:native_calls, ^pid, result}, 60_000
    ref = :erlang.trace_delivered(pid)
    assert_receive {:trace_delivered, ^pid, ^ref}, 5_000
    {result, collect_calls(pid, Keyword.keys(functions), [])}
  end

  defp collect_calls(pid, names, calls) do
    receive do
      {:trace, ^pid, :call, {Wasmex.Native, name, _args}} ->
        calls = if name in names, do: [name | calls], else: calls
        collect_calls(pid, names, calls)
    after
      0 -> Enum.reverse(calls)
    end
  end

  @doc """
  Like `start/1`, and returns once the new process waits for a busy store: it was refused
  and queued by the NIF. Needs `trace_store_waits/0`.
  """
  def start_waiter(fun) do
    test = self()

    pid =
      spawn(fn ->
        receive do: (:go -> :ok)
        send(test, {:result, self(), fun.()})
      end)

    await_call(pid, fn -> send(pid, :go) end, {Wasmex.Native, :await})
    pid
  end

  @doc """
  Runs `trigger` and returns once `pid` (which must not make the traced call before
  `trigger` runs) waits for a busy store. Needs `trace_store_waits/0`.
  """
  def await_store_wait(pid, trigger), do: await_call(pid, trigger, {Wasmex.Native, :await})

  @doc """
  Runs `trigger` and returns once `pid` is running guest code: it resumed a guest after a
  full slice. Needs `trace_guest_slices/0`.
  """
  def await_guest_running(pid, trigger \\ fn -> :ok end),
    do: await_call(pid, trigger, {Wasmex.Native, :call_resume})

  defp await_call(pid, trigger, {module, function}) do
    1 = :erlang.trace(pid, true, [:call])
    trigger.()
    assert_receive {:trace, ^pid, :call, {^module, ^function, _}}, 5_000

    # The process may be dead already (it is someone else's to kill).
    try do
      :erlang.trace(pid, false, [:call])
    rescue
      ArgumentError -> :ok
    end

    # Trace messages of calls made before tracing stopped may still be on their way.
    ref = :erlang.trace_delivered(pid)
    assert_receive {:trace_delivered, ^pid, ^ref}, 5_000
    flush_traces(pid)
  end

  defp flush_traces(pid) do
    receive do
      {:trace, ^pid, :call, _} -> flush_traces(pid)
    after
      0 -> :ok
    end
  end
end
