defmodule Wasmex.TestCluster do
  @moduledoc false
  # Nodes for the tests of pools across a cluster: this test node made distributed, and
  # `:peer` nodes on the loopback interface with this project's code and application.
  # Its functions also run on the peers (the modules of test/support are on their code
  # path), so the imports it builds run wherever a worker runs.
  #
  # Waiting is on messages and monitors: `:pg` membership, `:nodedown`, and (to see the
  # loads a node has heard of change) a trace of `Wasmex.Pool.Loads`'s messages.

  import ExUnit.Assertions

  @host ~c"127.0.0.1"

  @doc """
  Makes this node distributed (on 127.0.0.1, with long names) unless it is already,
  starting `epmd` if none runs.
  """
  def start_distribution! do
    unless Node.alive?() do
      ensure_epmd!()
      name = :"wasmex_test_#{System.pid()}_#{System.unique_integer([:positive])}@127.0.0.1"
      {:ok, _} = :net_kernel.start([name, :longnames])
    end

    :ok
  end

  # `epmd -daemon` returns before the daemon listens, and epmd tells no one when it
  # does: ask it, a bounded number of times. This waits for a program outside the BEAM,
  # not for anything a test checks.
  defp ensure_epmd!(attempts \\ 100) do
    case :erl_epmd.names(@host) do
      {:ok, _} ->
        :ok

      {:error, _} when attempts > 0 ->
        if attempts == 100, do: {_, 0} = System.cmd("epmd", ["-daemon"])
        Process.sleep(20)
        ensure_epmd!(attempts - 1)

      {:error, reason} ->
        flunk("epmd does not answer: #{inspect(reason)}")
    end
  end

  @doc """
  Starts a peer node with this project's code path and the `:wasmex_interp` application;
  returns `{peer, node}`. The peer is not linked to the caller: stop it with
  `stop_peers/1` (or `halt/1`).
  """
  def start_peer!(prefix) do
    {:ok, peer, node} =
      :peer.start(%{
        name: :peer.random_name(prefix),
        host: @host,
        longnames: true,
        # The nodes are connected here, as a user (or libcluster) would, rather than by
        # `:global`, which logs when a node it is connecting to goes away.
        args: [~c"-setcookie", Atom.to_charlist(Node.get_cookie()), ~c"-connect_all", ~c"false"]
      })

    for other <- Node.list(),
        other != node,
        do: true = :erpc.call(node, :net_kernel, :connect_node, [other])

    :ok = :erpc.call(node, :code, :add_paths, [:code.get_path()])
    {:ok, _} = :erpc.call(node, Application, :ensure_all_started, [:wasmex_interp])
    :ok = :erpc.call(node, __MODULE__, :start_pool_supervisor, [])
    {peer, node}
  end

  @doc """
  Stops peers started by `start_peer!/1` (those still running) and returns once this node
  has seen them go. `:global` may log that it disconnects from one (to prevent
  overlapping partitions) while another reports it gone: that log is captured.
  """
  def stop_peers(peers) do
    ExUnit.CaptureLog.capture_log(fn ->
      for {peer, node} <- peers, Node.ping(node) == :pong do
        Node.monitor(node, true)

        try do
          :peer.stop(peer)
        catch
          :exit, _ -> :ok
        end

        receive do
          {:nodedown, ^node} -> :ok
        after
          5_000 -> flunk("#{node} did not stop")
        end
      end
    end)

    :ok
  end

  @doc """
  Ends `node` at once, as a crash would (its connections drop), and returns when this node
  has seen it go down.
  """
  def halt(node) do
    Node.monitor(node, true)
    :erpc.cast(node, :erlang, :halt, [])

    receive do
      {:nodedown, ^node} -> :ok
    after
      5_000 -> flunk("#{node} did not go down")
    end
  end

  @doc false
  # On a peer: the supervisor its pools run under (alive after the `:erpc` call ends).
  def start_pool_supervisor do
    {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one, name: __MODULE__.Pools)
    Process.unlink(sup)
    :ok
  end

  @doc """
  Starts a pool with `options` on `node` (this node included), under a supervisor there;
  returns its pid.
  """
  def start_pool!(node, options) when node == node() do
    pid = ExUnit.Callbacks.start_supervised!({Wasmex.Pool, options}, id: make_ref())
    pid
  end

  def start_pool!(node, options) do
    {:ok, pid} =
      :erpc.call(node, DynamicSupervisor, :start_child, [__MODULE__.Pools, {Wasmex.Pool, options}])

    pid
  end

  @doc """
  The test guest: `gated(ticket)` calls the import `env.gate` with the ticket and then
  returns the id of the node it runs on, read by the import `env.node`; `node()` only
  does the latter; `echo` returns its arguments (an i64 and an f64); `fail` traps.
  """
  def wat do
    ~S"""
    (module
      (import "env" "gate" (func $gate (param i32)))
      (import "env" "node" (func $node (result i32)))
      (func (export "gated") (param i32) (result i32) (call $gate (local.get 0)) (call $node))
      (func (export "node") (result i32) (call $node))
      (func (export "echo") (param i64 f64) (result i64 f64) (local.get 0) (local.get 1))
      (func (export "spin") (loop (br 0)))
      (func (export "fail") unreachable))
    """
  end

  @doc """
  Imports for `wat/0`. With `gate: {:hold, test}`, the gate tells `test`
  `{:in_gate, ticket, node, pid}` and waits until the process is sent `:open`; with
  `gate: :open` it returns at once.
  """
  def imports(gate) do
    gate =
      case gate do
        :open ->
          fn _context, _ticket -> nil end

        {:hold, test} ->
          fn _context, ticket ->
            send(test, {:in_gate, ticket, node(), self()})
            receive(do: (:open -> nil))
          end
      end

    %{"env" => %{"gate" => {:fn, [:i32], [], gate}, "node" => {:fn, [], [:i32], &node_id/1}}}
  end

  @doc "The id `wat/0`'s `node` import returns on `node`."
  def node_id(node) when is_atom(node), do: :erlang.phash2(node)
  def node_id(_context), do: :erlang.phash2(node())

  @doc "The pools of `group` as this node sees them: `%{pool => load or :unknown}`."
  def view(group) do
    for pool <- :pg.get_members(Wasmex.Pool.Member.scope(), group), into: %{} do
      {pool, Wasmex.Pool.Loads.get(pool, :unknown)}
    end
  end

  @doc """
  Waits until `view(group)` on `node` is `expected`: it wakes on each load report and
  on each change of the group's membership there. Returns the view.
  """
  def await_view(node, group, expected) when node == node() do
    loads = Process.whereis(Wasmex.Pool.Loads)
    {ref, _} = :pg.monitor(Wasmex.Pool.Member.scope(), group)
    :erlang.trace(loads, true, [:receive])

    try do
      await_view(loads, ref, group, expected, System.monotonic_time(:millisecond) + 5_000)
    after
      :erlang.trace(loads, false, [:receive])
      :pg.demonitor(Wasmex.Pool.Member.scope(), ref)
    end
  end

  def await_view(node, group, expected),
    do: :erpc.call(node, __MODULE__, :await_view, [node, group, expected])

  defp await_view(loads, ref, group, expected, deadline) do
    # Every report it has received so far is written once it answers.
    :sys.get_state(loads)
    view = view(group)

    if view == expected do
      view
    else
      receive do
        {:trace, ^loads, :receive, {:load, _, _}} -> :ok
        {^ref, _join_or_leave, ^group, _pools} -> :ok
      after
        max(deadline - System.monotonic_time(:millisecond), 0) ->
          flunk("#{node()} sees #{inspect(view)}, not #{inspect(expected)}")
      end

      await_view(loads, ref, group, expected, deadline)
    end
  end

  @doc "Waits until `pool` is a member of `group` as this node sees it."
  def await_member(group, pool) do
    {ref, members} = :pg.monitor(Wasmex.Pool.Member.scope(), group)

    try do
      if pool in members, do: :ok, else: await_join(ref, group, pool)
    after
      :pg.demonitor(Wasmex.Pool.Member.scope(), ref)
    end
  end

  defp await_join(ref, group, pool) do
    receive do
      {^ref, :join, ^group, pools} ->
        if pool in pools, do: :ok, else: await_join(ref, group, pool)
    after
      5_000 -> flunk("#{inspect(pool)} did not join #{inspect(group)}")
    end
  end

  @doc """
  A caller under load, started on any node with `Node.spawn(node, Wasmex.TestCluster,
  :call_loop, [test, group, first_ticket, []])`: calls `gated` on the group with a new
  ticket each time until it is sent `:stop`, then sends `test`
  `{:results, pid, node, [{ticket, result}]}`.
  """
  def call_loop(test, group, ticket, results) do
    receive do
      :stop -> send(test, {:results, self(), node(), Enum.reverse(results)})
    after
      0 ->
        result = Wasmex.Pool.call_function({:group, group}, "gated", [ticket], 10_000)
        call_loop(test, group, ticket + 1, [{ticket, result} | results])
    end
  end

  @doc """
  Started on a node with `Node.spawn/4`: sends `test` `{:watching, node}` once it watches
  `down`, then `{:nodedown_seen, node}` when this node sees `down` go down.
  """
  def watch_node(test, down) do
    Node.monitor(down, true)
    send(test, {:watching, node()})
    receive(do: ({:nodedown, ^down} -> send(test, {:nodedown_seen, node()})))
  end

  @doc "Calls `echo` through a transaction on the group, from the node this runs on."
  def transaction_echo(group, params, timeout \\ 5_000) do
    Wasmex.Pool.transaction(
      {:group, group},
      fn worker -> {node(worker), Wasmex.call_function(worker, :echo, params, timeout)} end,
      timeout
    )
  end
end
