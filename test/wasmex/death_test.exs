defmodule Wasmex.DeathTest do
  # A process using a store is killed (`Process.exit(pid, :kill)`) at every point of a call:
  # while the guest runs, inside an Elixir callback, in a nested call, while it waits for
  # the store, and at random moments. Each time the store must serve the next call (from
  # another process, within a timeout) and no process may be left behind.
  #
  # Synchronisation is by messages from the guest's imports, monitors, and call tracing
  # of `Wasmex.Native.await/3` (a caller queued for a busy store) and
  # `Wasmex.Native.call_resume(store)` (a guest resumed after a full slice): never
  # by sleeping. Not async: call trace patterns are global, and the tests count processes.
  use ExUnit.Case, async: false

  import Wasmex.TestProcesses

  alias Wasmex.Instance

  # `gate(mode)` is an Elixir import (see `imports/1`); `gated` returns after it,
  # `gated_spin` loops forever after it.
  @wat ~S[(module
    (import "env" "gate" (func $gate (param i32)))
    (memory (export "memory") 80)
    (func (export "gated") (param i32) (result i32) (call $gate (local.get 0)) (i32.const 1))
    (func (export "gated_spin") (param i32) (call $gate (local.get 0)) (loop (br 0)))
    (func (export "spin") (loop (br 0)))
    (func (export "count") (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $i)))]

  # The gate tells `test` `{:gate, pid, mode}`, then: 0 returns; 1 blocks until sent
  # `:open`; 2 calls `gated_spin(0)` (nested, never returns); 3 calls `gated(1)` (nested,
  # blocks in the nested gate); 4 calls `count(1000)` (nested) and returns.
  defp imports(test) do
    gate = fn context, mode ->
      send(test, {:gate, self(), mode})

      case mode do
        0 ->
          :ok

        1 ->
          receive do: (:open -> :ok)

        2 ->
          Instance.call_function(context.caller, context.instance, "gated_spin", [0])

        3 ->
          {:ok, [1]} = Instance.call_function(context.caller, context.instance, "gated", [1])

        4 ->
          {:ok, [1000]} =
            Instance.call_function(context.caller, context.instance, "count", [1000])
      end

      nil
    end

    %{"env" => %{"gate" => {:fn, [:i32], [], gate}}}
  end

  setup do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, @wat)
    {:ok, instance} = Instance.new(store, module, imports(self()))
    {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
    trace_store_waits()
    trace_guest_slices()
    on_exit(&untrace/0)
    gc_all()

    %{
      store: store,
      module: module,
      instance: instance,
      memory: memory,
      before: Process.list()
    }
  end

  # A Wasmex GenServer on the test's store and instance, not linked (tests kill it).
  defp server(ctx) do
    {:ok, server} =
      Wasmex.start_link(%{store: ctx.store, module: ctx.module, instance: ctx.instance})

    Process.unlink(server)
    server
  end

  # The process that runs the server's calls and callbacks (see `Wasmex.Server`).
  defp runner(server), do: elem(:sys.get_state(server).runner, 0)

  # Kills a Wasmex GenServer, and returns once its runner (linked to it) is dead too.
  defp kill_server(server) do
    runner = runner(server)
    ref = Process.monitor(runner)
    reason = kill(server)
    assert_receive {:DOWN, ^ref, :process, ^runner, _}, 5_000
    reason
  end

  # Starts a process calling `name` directly; it sends `{:result, pid, result}` when done.
  defp call(ctx, name, params), do: start(fn -> direct(ctx, name, params) end)

  defp direct(ctx, name, params),
    do: Instance.call_function(ctx.store, ctx.instance, name, params)

  # After a death: the store answers calls from other processes (guest code, and an
  # import with a nested call), and the test process too.
  defp assert_store_usable(ctx) do
    assert call_from_new_process(ctx.store, ctx.instance, "count", [1234]) == {:ok, [1234]}
    assert call_from_new_process(ctx.store, ctx.instance, "gated", [4]) == {:ok, [1]}
    assert_receive {:gate, _, 4}
    assert Instance.call_function(ctx.store, ctx.instance, "count", [99]) == {:ok, [99]}
  end

  # Nothing left running, no result or wake-up message that should not be there.
  defp assert_clean(ctx) do
    assert_no_new_processes(ctx.before)
    flush_gates()
    refute_received {:result, _, _}
    refute_received {:"$wasmex_store_free", _}
  end

  defp flush_gates do
    receive do
      {:gate, _, _} -> flush_gates()
    after
      0 -> :ok
    end
  end

  # Starts a call and returns once it is at the position: the gate messages it sends on
  # the way are awaited, and for a spinning position a full guest slice after them.
  defp start_at(ctx, {name, params, gates, spinning?}) do
    pid = call(ctx, name, params)
    for mode <- gates, do: assert_receive({:gate, ^pid, ^mode}, 5_000)
    if spinning?, do: await_guest_running(pid)
    pid
  end

  # Where a killed caller can be: {function, params, gate messages sent on the way, whether
  # guest code runs there}.
  @positions [
    {"in the guest, after an import returned", {"gated_spin", [0], [0], true}},
    {"inside an Elixir callback", {"gated", [1], [1], false}},
    {"in the guest of a nested call", {"gated", [2], [2, 0], true}},
    {"inside the callback of a nested call", {"gated", [3], [3, 1], false}}
  ]

  describe "a direct caller killed" do
    for {where, position} <- @positions do
      test where, ctx do
        pid = start_at(ctx, unquote(Macro.escape(position)))
        assert kill(pid) == :killed
        refute_received {:result, ^pid, _}
        assert_store_usable(ctx)
        assert_clean(ctx)
      end
    end

    test "in a guest without imports", ctx do
      pid =
        spawn(fn ->
          receive do: (:go -> Instance.call_function(ctx.store, ctx.instance, "spin", []))
        end)

      await_guest_running(pid, fn -> send(pid, :go) end)
      assert kill(pid) == :killed
      assert_store_usable(ctx)
      assert_clean(ctx)
    end
  end

  test "a caller killed during a memory write on a dirty scheduler", ctx do
    # Writes above 4 MB run on a dirty scheduler, with the store checked out meanwhile.
    big = :binary.copy(<<7>>, 5 * 1024 * 1024)
    Code.ensure_loaded!(Wasmex.Native)
    1 = :erlang.trace_pattern({Wasmex.Native, :memory_write_binary_dirty_nif, 4}, true, [:local])

    on_exit(fn ->
      :erlang.trace_pattern({Wasmex.Native, :memory_write_binary_dirty_nif, 4}, false, [:local])
    end)

    writer =
      spawn(fn ->
        receive(do: (:go -> Wasmex.Memory.write_binary(ctx.store, ctx.memory, 0, big)))
      end)

    1 = :erlang.trace(writer, true, [:call])
    send(writer, :go)

    assert_receive {:trace, ^writer, :call, {Wasmex.Native, :memory_write_binary_dirty_nif, _}},
                   5_000

    waiter = call(ctx, "count", [11])
    assert kill(writer) == :killed

    assert_receive {:result, ^waiter, {:ok, [11]}}, 5_000
    assert_store_usable(ctx)
    assert_clean(ctx)
  end

  describe "a Wasmex GenServer on the store killed" do
    for {where, position} <- @positions do
      test where, ctx do
        server = server(ctx)
        {name, params, gates, spinning?} = unquote(Macro.escape(position))
        runner = runner(server)
        client = start(fn -> server_call(server, name, params) end)
        for mode <- gates, do: assert_receive({:gate, ^runner, ^mode}, 5_000)
        if spinning?, do: await_guest_running(runner)

        assert kill_server(server) == :killed
        assert_receive {:result, ^client, {:exit, {:killed, {GenServer, :call, _}}}}, 5_000
        assert_store_usable(ctx)
        assert_clean(ctx)
      end
    end
  end

  describe "the client of a Wasmex GenServer on the store killed" do
    test "inside a callback: the server finishes the call and serves the next", ctx do
      server = server(ctx)
      runner = runner(server)
      client = start(fn -> server_call(server, "gated", [1]) end)
      assert_receive {:gate, ^runner, 1}, 5_000
      assert kill(client) == :killed

      send(runner, :open)
      assert Wasmex.call_function(server, "count", [21]) == {:ok, [21]}
      assert_store_usable(ctx)
      GenServer.stop(server)
      assert_clean(ctx)
    end

    test "while the guest runs: the server stops it at the call's deadline", ctx do
      server = server(ctx)
      runner = runner(server)
      client = start(fn -> server_call(server, "gated_spin", [0], 200) end)
      assert_receive {:gate, ^runner, 0}, 5_000
      await_guest_running(runner)
      assert kill(client) == :killed

      # Waits in the server's queue until the endless call reaches its deadline.
      assert Wasmex.call_function(server, "count", [22], 10_000) == {:ok, [22]}
      assert_store_usable(ctx)
      GenServer.stop(server)
      assert_clean(ctx)
    end
  end

  describe "the process of an asynchronous call (call_exported_function) killed" do
    for {where, position} <- @positions do
      test where, ctx do
        {name, params, gates, spinning?} = unquote(Macro.escape(position))
        tag = make_ref()

        :ok =
          Instance.call_exported_function(ctx.store, ctx.instance, name, params, {self(), tag})

        assert_receive {:gate, worker, mode} when mode == hd(gates), 5_000
        for mode <- tl(gates), do: assert_receive({:gate, ^worker, ^mode}, 5_000)
        if spinning?, do: await_guest_running(worker)

        assert kill(worker) == :killed
        refute_received {^tag, _}
        assert_store_usable(ctx)
        assert_clean(ctx)
      end
    end
  end

  describe "a dirty operation inside a callback, its caller killed" do
    # The callback writes 64 MiB to memory (on a dirty scheduler, with the store checked
    # out) once told to; its process is killed meanwhile. The store must not be released
    # before the write is done: a waiter gets it then, never "the store is checked out".
    @big_wat ~S[(module
      (import "env" "write" (func $write))
      (memory (export "memory") 1100)
      (func (export "run") (call $write))
      (func (export "one") (result i32) (i32.const 1)))]

    test "keeps the store until the write is done; waiters then get it", ctx do
      test = self()
      big = :binary.copy(<<7>>, 64 * 1024 * 1024)

      write = fn context ->
        send(test, {:ready, self()})
        receive do: (:write -> Wasmex.Memory.write_binary(context.caller, context.memory, 0, big))
        nil
      end

      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, @big_wat)

      {:ok, instance} =
        Instance.new(store, module, %{"env" => %{"write" => {:fn, [], [], write}}})

      nif = {Wasmex.Native, :memory_write_binary_dirty_nif, 4}
      :erlang.trace_pattern(nif, true, [:local])
      on_exit(fn -> :erlang.trace_pattern(nif, false, [:local]) end)

      owner = start(fn -> Instance.call_function(store, instance, "run", []) end)
      assert_receive {:ready, ^owner}, 5_000
      waiter = start_waiter(fn -> Instance.call_function(store, instance, "one", []) end)
      1 = :erlang.trace(owner, true, [:call])
      send(owner, :write)

      assert_receive {:trace, ^owner, :call, {Wasmex.Native, :memory_write_binary_dirty_nif, _}},
                     5_000

      assert kill(owner) == :killed
      assert_receive {:result, ^waiter, {:ok, [1]}}, 5_000
      assert Instance.call_function(store, instance, "one", []) == {:ok, [1]}
      assert_clean(ctx)
    end
  end

  describe "waiting for a busy store" do
    test "a waiter that dies after the store was handed to it passes it on", ctx do
      owner = start_at(ctx, {"gated", [1], [1], false})
      handed = start_waiter(fn -> direct(ctx, "count", [5]) end)
      next = start_waiter(fn -> direct(ctx, "count", [6]) end)
      # Suspended, the first waiter cannot take the store when it is handed to it.
      :erlang.suspend_process(handed)
      send(owner, :open)
      assert_receive {:result, ^owner, {:ok, [1]}}, 5_000
      assert kill(handed) == :killed
      assert_receive {:result, ^next, {:ok, [6]}}, 5_000
      assert_store_usable(ctx)
      assert_clean(ctx)
    end

    test "the store is handed over in arrival order, past waiters that died", ctx do
      wat = ~S[(module
        (import "env" "gate" (func $gate (param i32)))
        (global $tickets (mut i32) (i32.const 0))
        (func (export "gated") (param i32) (result i32) (call $gate (local.get 0)) (i32.const 1))
        (func (export "ticket") (result i32)
          (global.set $tickets (i32.add (global.get $tickets) (i32.const 1)))
          (global.get $tickets)))]

      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wat)
      {:ok, instance} = Instance.new(store, module, imports(self()))
      ctx = %{ctx | store: store, instance: instance}
      owner = start_at(ctx, {"gated", [1], [1], false})
      waiters = for n <- 1..6, do: {n, start_waiter(fn -> direct(ctx, "ticket", []) end)}
      for {n, pid} <- waiters, rem(n, 3) == 0, do: kill(pid)
      send(owner, :open)
      assert_receive {:result, ^owner, {:ok, [1]}}, 5_000

      # The live waiters, in arrival order, took tickets 1, 2, 3, 4.
      live = for {n, pid} <- waiters, rem(n, 3) != 0, do: pid

      for {pid, ticket} <- Enum.zip(live, 1..4) do
        assert_receive {:result, ^pid, {:ok, [^ticket]}}, 5_000
      end

      assert_clean(ctx)
    end

    test "killed waiters do not hold it up: the owner finishes, the live waiters follow",
         ctx do
      owner = start_at(ctx, {"gated", [1], [1], false})
      killed_caller = start_waiter(fn -> direct(ctx, "count", [5]) end)
      caller = start_waiter(fn -> direct(ctx, "count", [6]) end)

      killed_writer =
        start_waiter(fn -> Wasmex.Memory.write_binary(ctx.store, ctx.memory, 0, "x") end)

      writer = start_waiter(fn -> Wasmex.Memory.write_binary(ctx.store, ctx.memory, 0, "y") end)

      assert kill(killed_caller) == :killed
      assert kill(killed_writer) == :killed
      send(owner, :open)

      assert_receive {:result, ^owner, {:ok, [1]}}, 5_000
      assert_receive {:result, ^caller, {:ok, [6]}}, 5_000
      assert_receive {:result, ^writer, :ok}, 5_000
      assert Wasmex.Memory.read_binary(ctx.store, ctx.memory, 0, 1) == {:ok, "y"}
      assert_store_usable(ctx)
      assert_clean(ctx)
    end

    test "a Wasmex GenServer killed while it waits for the store", ctx do
      owner = start_at(ctx, {"gated", [1], [1], false})
      server = server(ctx)
      client = make_ref()

      await_store_wait(runner(server), fn ->
        send(
          self(),
          {client, start(fn -> server_call(server, "count", [3]) end)}
        )
      end)

      assert_received {^client, client}
      assert kill_server(server) == :killed
      assert_receive {:result, ^client, {:exit, {:killed, {GenServer, :call, _}}}}, 5_000
      send(owner, :open)
      assert_receive {:result, ^owner, {:ok, [1]}}, 5_000
      assert_store_usable(ctx)
      assert_clean(ctx)
    end

    for {where, position} <- @positions do
      test "the owner killed #{where}: every kind of waiter goes on", ctx do
        owner = start_at(ctx, unquote(Macro.escape(position)))
        server = server(ctx)
        direct = start_waiter(fn -> direct(ctx, "count", [7]) end)
        reader = start_waiter(fn -> Wasmex.Memory.read_binary(ctx.store, ctx.memory, 8, 2) end)
        first_killed = start_waiter(fn -> direct(ctx, "count", [8]) end)
        nested = start_waiter(fn -> direct(ctx, "gated", [4]) end)
        via_server = make_ref()

        await_store_wait(runner(server), fn ->
          send(self(), {via_server, start(fn -> Wasmex.call_function(server, "count", [9]) end)})
        end)

        assert_received {^via_server, client}
        tag = make_ref()

        :ok =
          Instance.call_exported_function(ctx.store, ctx.instance, "count", [10], {self(), tag})

        # A waiter dies too, before the owner: the owner's death must skip it.
        assert kill(first_killed) == :killed
        assert kill(owner) == :killed

        assert_receive {:result, ^direct, {:ok, [7]}}, 5_000
        assert_receive {:result, ^reader, {:ok, <<0, 0>>}}, 5_000
        assert_receive {:result, ^nested, {:ok, [1]}}, 5_000
        assert_receive {:result, ^client, {:ok, [9]}}, 5_000
        assert_receive {^tag, {:ok, [10]}}, 5_000
        refute_received {:result, ^owner, _}
        GenServer.stop(server)
        assert_store_usable(ctx)
        assert_clean(ctx)
      end
    end
  end

  describe "random kill timings" do
    # Each round: a caller starts one of several calls (guest loops, finite loops,
    # callbacks that return or block, nested calls), sometimes through a GenServer, and
    # sometimes a second process queues for the store; after a random amount of spin work
    # (not sleeping) the caller, and sometimes the second process, are killed. Calls that
    # finished before the kill must have the right result, the others none; the store
    # must then answer a call from a new process.
    @rounds 200

    test "#{@rounds} rounds on one store", ctx do
      seed = ExUnit.configuration()[:seed]
      :rand.seed(:exsss, {seed, 200, 7})

      outcomes =
        for round <- 1..@rounds do
          try do
            random_round(ctx, round)
          rescue
            error ->
              reraise ExUnit.AssertionError,
                      [
                        message:
                          "round #{round} (ExUnit seed #{seed}): " <> Exception.message(error)
                      ],
                      __STACKTRACE__
          end
        end

      # The random timings hit both sides: calls killed midway, and calls that ended first.
      frequencies = Enum.frequencies(outcomes)
      assert frequencies[:killed] > 0 and frequencies[:finished] > 0, inspect(frequencies)
      assert_store_usable(ctx)
      assert_clean(ctx)
    end
  end

  # Calls and their result when they finish (`nil`: they never do).
  @random_calls [
    {"count", :n},
    {"spin", []},
    {"gated", [0]},
    {"gated", [1]},
    {"gated", [2]},
    {"gated", [3]},
    {"gated", [4]},
    {"gated_spin", [0]},
    {"gated_spin", [4]}
  ]

  defp random_call do
    case Enum.random(@random_calls) do
      {"count", :n} ->
        n = :rand.uniform(300_000)
        {"count", [n], {:ok, [n]}}

      {"gated", [mode]} when mode in [0, 4] ->
        {"gated", [mode], {:ok, [1]}}

      {name, params} ->
        {name, params, nil}
    end
  end

  defp server_call(server, name, params, timeout \\ :infinity) do
    Wasmex.call_function(server, name, params, timeout)
  catch
    :exit, reason -> {:exit, reason}
  end

  # 0 to ~100,000 steps, log-uniformly: from "at once" to well into a call.
  defp random_spin, do: trunc(:math.pow(10, :rand.uniform() * 5)) - 1

  defp spin_work(0), do: :ok

  defp spin_work(n) do
    _ = :erlang.phash2(n)
    spin_work(n - 1)
  end

  defp random_round(ctx, round) do
    {name, params, expected} = random_call()
    via_server? = :rand.uniform(4) == 1
    waiter? = :rand.uniform(2) == 1
    kill_waiter? = waiter? and :rand.uniform(3) == 1
    waiter_count = :rand.uniform(50_000)
    {delay, waiter_delay} = {random_spin(), random_spin()}

    {target, client} =
      if via_server? do
        server = server(ctx)
        {server, start(fn -> server_call(server, name, params) end)}
      else
        {call(ctx, name, params), nil}
      end

    waiter = if waiter?, do: call(ctx, "count", [waiter_count])
    spin_work(delay)
    if via_server?, do: kill_server(target), else: kill(target)

    if kill_waiter? do
      spin_work(waiter_delay)
      kill(waiter)
    end

    # The caller's result, if it finished before it was killed (a result is sent before
    # its sender dies, so it is in the mailbox by now).
    direct_outcome =
      unless via_server? do
        receive do
          {:result, ^target, result} ->
            assert expected != nil, "#{name}#{inspect(params)} returned #{inspect(result)}"
            assert result == expected
            :finished
        after
          0 -> :killed
        end
      end

    if waiter? and not kill_waiter? do
      assert_receive {:result, ^waiter, {:ok, [^waiter_count]}}, 5_000
    end

    assert call_from_new_process(ctx.store, ctx.instance, "count", [round]) == {:ok, [round]}

    # The GenServer's client: it got the result or the server's death.
    server_outcome =
      if via_server? do
        assert_receive {:result, ^client, outcome}, 5_000
        # (`:noproc`: the server was killed before the client called it.)
        assert outcome == expected or
                 match?({:exit, {reason, _}} when reason in [:killed, :noproc], outcome),
               inspect(outcome)

        if outcome == expected, do: :finished, else: :killed
      end

    # A killed waiter may have finished first.
    receive do
      {:result, ^waiter, result} -> assert result == {:ok, [waiter_count]}
    after
      0 -> :ok
    end

    flush_gates()
    direct_outcome || server_outcome
  end
end
