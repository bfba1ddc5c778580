defmodule Wasmex.Pool.GroupTest do
  # Pools across a cluster: this node and `:peer` nodes on 127.0.0.1. Not async: it makes
  # this node distributed and traces the application's `Wasmex.Pool.Loads`.
  use ExUnit.Case, async: false

  alias Wasmex.TestCluster, as: Cluster

  @scope Wasmex.Pool.Group

  setup_all do
    Cluster.start_distribution!()
    {b_peer, b} = Cluster.start_peer!(:wasmex_b)
    {c_peer, c} = Cluster.start_peer!(:wasmex_c)

    on_exit(fn -> Cluster.stop_peers([{b_peer, b}, {c_peer, c}]) end)

    %{b: b, c: c}
  end

  defp group, do: {__MODULE__, System.unique_integer([:positive])}

  defp open_pool(node, group, size) do
    Cluster.start_pool!(node,
      size: size,
      group: group,
      bytes: Cluster.wat(),
      imports: Cluster.imports(:open)
    )
  end

  defp held_pool(node, group, size) do
    Cluster.start_pool!(node,
      size: size,
      group: group,
      bytes: Cluster.wat(),
      imports: Cluster.imports({:hold, self()})
    )
  end

  defp call(node, group, name, params) when node == node(),
    do: Wasmex.Pool.call_function({:group, group}, name, params)

  defp call(node, group, name, params),
    do: :erpc.call(node, Wasmex.Pool, :call_function, [{:group, group}, name, params])

  # Starts a gated call from this node and waits until it is in the gate; returns the
  # task, the node it runs on and the process to open the gate with.
  defp hold_call(group, ticket) do
    task = Task.async(fn -> Wasmex.Pool.call_function({:group, group}, "gated", [ticket]) end)
    assert_receive {:in_gate, ^ticket, node, gate}, 5_000
    {task, node, gate}
  end

  describe "the :group option" do
    test "joins the group on every node, and leaves it when the pool stops", %{b: b} do
      group = group()
      pool = open_pool(b, group, 1)
      Cluster.await_member(group, pool)
      assert :erpc.call(b, :pg, :get_members, [@scope, group]) == [pool]

      {ref, [^pool]} = :pg.monitor(@scope, group)
      :ok = :erpc.call(b, DynamicSupervisor, :terminate_child, [Cluster.Pools, pool])
      assert_receive {^ref, :leave, ^group, [^pool]}, 5_000
      assert call(node(), group, "node", []) == {:error, "no pool in the group #{inspect(group)}"}
    end

    test "a pool without the application's scope is an ArgumentError" do
      # (Simulated: the scope is looked up by name.)
      assert :ok = Supervisor.terminate_child(Wasmex.Supervisor, :pg)

      try do
        assert_raise ArgumentError, ~r/application to be started/, fn ->
          Wasmex.Pool.start_link(size: 1, group: :g, bytes: "(module)")
        end
      after
        {:ok, _} = Supervisor.restart_child(Wasmex.Supervisor, :pg)
      end
    end

    test "groups take call_function and transaction only" do
      for fun <- [&Wasmex.Pool.checkout/1, &Wasmex.Pool.size/1, &Wasmex.Pool.workers/1] do
        assert_raise ArgumentError, ~r/a group takes call_function/, fn -> fun.({:group, :g}) end
      end

      assert_raise ArgumentError, ~r/expected params to be a list/, fn ->
        Wasmex.Pool.call_function({:group, :g}, "f", [1 | 2])
      end

      assert_raise ArgumentError, ~r/expected fun/, fn ->
        Wasmex.Pool.transaction({:group, :g}, :nope)
      end
    end
  end

  describe "call_function/4 on a group" do
    test "runs on the local pool while it has a free worker, then on a remote one", %{b: b} do
      group = group()
      local = held_pool(node(), group, 2)
      remote = open_pool(b, group, 2)
      Cluster.await_view(node(), group, %{local => 2, remote => 2})

      {first, here, gate_1} = hold_call(group, 1)
      {second, ^here, gate_2} = hold_call(group, 2)
      assert here == node()

      # Imports run where the worker runs.
      assert call(node(), group, "node", []) == {:ok, [Cluster.node_id(b)]}

      for gate <- [gate_1, gate_2], do: send(gate, :open)
      assert Task.await(first) == {:ok, [Cluster.node_id(node())]}
      assert Task.await(second) == {:ok, [Cluster.node_id(node())]}
      # The workers are back once the pool has had their checkins (casts).
      :sys.get_state(local)
      assert call(node(), group, "node", []) == {:ok, [Cluster.node_id(node())]}
    end

    test "runs on the pool with the most free workers, from every node", %{b: b, c: c} do
      group = group()
      small = open_pool(b, group, 1)
      big = open_pool(c, group, 3)

      # From a node without a pool of the group: the pool with the most free workers.
      Cluster.await_view(node(), group, %{small => 1, big => 3})
      assert call(node(), group, "node", []) == {:ok, [Cluster.node_id(c)]}

      # From a node with a pool that has a free worker: that pool.
      assert call(b, group, "node", []) == {:ok, [Cluster.node_id(b)]}
      assert call(c, group, "node", []) == {:ok, [Cluster.node_id(c)]}
    end

    test "spreads calls over the pools with free workers", %{b: b, c: c} do
      group = group()
      pools = [held_pool(b, group, 2), held_pool(c, group, 1)]
      Cluster.await_view(node(), group, Map.new(pools, &{&1, Wasmex.Pool.size(&1)}))

      # Each call goes to a pool with a free worker, so all three are in a gate at once.
      {held, _free} =
        Enum.map_reduce(1..3, %{b => 2, c => 1}, fn ticket, free ->
          {_, node, _} = held = hold_call(group, ticket)
          free = Map.update!(free, node, &(&1 - 1))
          # The next choice sees this call in the pools' own reports.
          Cluster.await_view(node(), group, Map.new(pools, &{&1, free[node(&1)]}))
          {held, free}
        end)

      assert Enum.frequencies(for {_, node, _} <- held, do: node) == %{b => 2, c => 1}

      for {task, node, gate} <- held do
        send(gate, :open)
        assert Task.await(task) == {:ok, [Cluster.node_id(node)]}
      end
    end

    test "terms cross nodes; errors and raises come back as from a local pool", %{b: b} do
      group = group()
      pool = open_pool(b, group, 1)
      Cluster.await_member(group, pool)

      assert call(node(), group, "echo", [-(2 ** 62), 1.5]) == {:ok, [-(2 ** 62), 1.5]}
      assert {:error, "unreachable" <> _} = call(node(), group, "fail", [])
      assert {:error, "exported function `nope` not found" <> _} = call(node(), group, "nope", [])
      assert {:error, "Cannot convert argument #1" <> _} = call(node(), group, "echo", [:x, 1.0])

      # A raise there is raised here (`Wasmex.Pool` checks the arguments before they
      # leave; its internal function does not).
      assert_raise ArgumentError, ~r/expected params to be a list/, fn ->
        Wasmex.Pool.Group.call_function(group, "echo", [1 | 2], 5_000)
      end
    end

    test "a call past its timeout exits the caller; the guest there is stopped", %{b: b} do
      group = group()
      pool = open_pool(b, group, 1)
      Cluster.await_member(group, pool)

      # `{:timeout, _}`, from the caller's own timer or the call's there, whichever ends
      # first (they end together).
      assert {:timeout, _} =
               catch_exit(Wasmex.Pool.call_function({:group, group}, "spin", [], 100))

      # The only worker is free again: its guest was stopped at the deadline.
      assert Wasmex.Pool.call_function({:group, group}, "node", [], 2_000) ==
               {:ok, [Cluster.node_id(b)]}
    end
  end

  describe "transaction/3 on a group" do
    test "lends a worker of another node, whose calls keep their deadline", %{b: b} do
      only_here = group()
      only_b = group()
      here = open_pool(node(), only_here, 1)
      there = open_pool(b, only_b, 1)
      Cluster.await_member(only_b, there)
      Cluster.await_member(only_here, here)
      :ok = :erpc.call(b, Cluster, :await_member, [only_here, here])

      # The monotonic clocks of two nodes differ (each starts with its node): timeouts
      # shorter than the difference show that each call keeps its own.
      ahead =
        System.monotonic_time(:millisecond) -
          :erpc.call(b, System, :monotonic_time, [:millisecond])

      assert ahead > 100
      timeout = div(ahead * 3, 4)

      assert :erpc.call(b, Cluster, :transaction_echo, [only_here, [1, 2.0], timeout]) ==
               {node(), {:ok, [1, 2.0]}}

      assert Cluster.transaction_echo(only_b, [1, 2.0], timeout) == {b, {:ok, [1, 2.0]}}

      spin = fn worker -> Wasmex.call_function(worker, :spin, [], 50) end
      assert {:timeout, _} = catch_exit(Wasmex.Pool.transaction({:group, only_b}, spin))
      # The guest there was stopped at the deadline: the worker serves the next call.
      assert Cluster.transaction_echo(only_b, [3, 4.0], timeout) == {b, {:ok, [3, 4.0]}}
    end
  end

  describe "a caller of another node" do
    test "waits in line for a worker like a local one", %{b: b} do
      group = group()
      pool = held_pool(node(), group, 1)
      :ok = :erpc.call(b, Cluster, :await_member, [group, pool])
      {task, _, gate} = hold_call(group, 1)

      # The peer's transaction waits in this node's pool.
      :erlang.trace(pool, true, [:receive])
      waiting = Task.async(fn -> :erpc.call(b, Cluster, :transaction_echo, [group, [5, 6.0]]) end)
      assert_receive {:trace, ^pool, :receive, {:"$gen_call", {caller, _}, {:checkout, _}}}, 5_000
      assert node(caller) == b
      :erlang.trace(pool, false, [:receive])

      send(gate, :open)
      assert Task.await(task) == {:ok, [Cluster.node_id(node())]}
      assert Task.await(waiting) == {node(), {:ok, [5, 6.0]}}
      assert Wasmex.Pool.workers(pool) |> length() == 1
    end
  end

  describe "a node that goes down" do
    # `:global` may log that it disconnects from the node that went down.
    @tag capture_log: true
    test "fails the calls in flight there with node down, and no other", %{b: b, c: c} do
      {d_peer, d} = Cluster.start_peer!(:wasmex_d)
      on_exit(fn -> Cluster.stop_peers([{d_peer, d}]) end)
      group = group()
      test = self()
      # Calls on `d` stay there until it goes down; those on `c` return at once.
      survivor = open_pool(c, group, 2)
      doomed = held_pool(d, group, 4)

      for node <- [node(), b, c],
          do: Cluster.await_view(node, group, %{survivor => 2, doomed => 4})

      # A transaction with a worker there, in a call.
      only_d = group()
      Cluster.await_member(only_d, held_pool(d, only_d, 1))

      transaction =
        Task.async(fn ->
          Wasmex.Pool.transaction({:group, only_d}, &Wasmex.call_function(&1, "gated", [-1]))
        end)

      assert_receive {:in_gate, -1, ^d, _}, 5_000

      # Callers on every node left: this one and `b` have no pool of the group.
      callers =
        for {node, first_ticket} <- [
              {node(), 0},
              {node(), 1_000_000},
              {b, 2_000_000},
              {b, 3_000_000},
              {c, 4_000_000}
            ] do
          Node.spawn(node, Cluster, :call_loop, [test, group, first_ticket, []])
        end

      # Every worker of `d` is in a call.
      held = for _ <- 1..4, do: assert_receive({:in_gate, _ticket, ^d, _}, 5_000) |> elem(1)

      for node <- [b, c] do
        Node.spawn(node, Cluster, :watch_node, [test, d])
        assert_receive {:watching, ^node}, 5_000
      end

      Cluster.halt(d)
      assert_receive {:nodedown_seen, ^b}, 5_000
      assert_receive {:nodedown_seen, ^c}, 5_000
      assert {:error, "node down: " <> _} = Task.await(transaction)

      # New calls, from every node, go to the pool left at once.
      for node <- [node(), b, c] do
        assert call(node, group, "node", []) == {:ok, [Cluster.node_id(c)]}
      end

      for caller <- callers, do: send(caller, :stop)

      results =
        for caller <- callers, reduce: [] do
          results ->
            assert_receive {:results, ^caller, _, caller_results}, 10_000
            caller_results ++ results
        end

      # The calls in flight on `d` (and those in its line) failed with node down...
      down = for {ticket, {:error, "node down: " <> message}} <- results, do: {ticket, message}
      assert Enum.all?(held, &List.keymember?(down, &1, 0))
      assert Enum.all?(down, fn {_, message} -> String.starts_with?(message, "#{d} ") end)

      # ... and every other answer is right, from the pool left.
      for {ticket, result} <- results, not List.keymember?(down, ticket, 0) do
        assert result == {:ok, [Cluster.node_id(c)]}, "ticket #{ticket}: #{inspect(result)}"
      end

      assert :pg.get_members(@scope, group) == [survivor]
    end
  end

  describe "a node that joins" do
    test "is used as soon as its pool is up", %{b: b} do
      group = group()
      busy = held_pool(b, group, 1)
      Cluster.await_view(node(), group, %{busy => 1})
      {task, ^b, gate} = hold_call(group, 1)

      {e_peer, e} = Cluster.start_peer!(:wasmex_e)
      on_exit(fn -> Cluster.stop_peers([{e_peer, e}]) end)
      fresh = open_pool(e, group, 1)
      Cluster.await_member(group, fresh)

      assert call(node(), group, "node", []) == {:ok, [Cluster.node_id(e)]}

      send(gate, :open)
      assert Task.await(task) == {:ok, [Cluster.node_id(b)]}
    end
  end
end
