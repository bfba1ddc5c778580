# C1: pools across a cluster (`Wasmex.Pool` with `:group`), on `:peer` nodes of this
# machine: calls/s through `{:group, ...}` with 1, 2 and 3 nodes, and the latency a call
# on a pool of another node adds to one on this node's pool.

# What runs on every node of the workload. Its code is loaded on the peers by Bench.C1
# (the module exists only in this VM's memory), so it is kept here, as a binary.
{:module, _, beam, _} =
  defmodule Bench.C1.Node do
    @moduledoc false

    # Starts a pool of `group` on this node; it outlives the `:erpc` call that starts it.
    def start_pool(group, size, wat) do
      {:ok, sup} =
        Supervisor.start_link([{Wasmex.Pool, size: size, group: group, bytes: wat}],
          strategy: :one_for_one
        )

      Process.unlink(sup)
      [{_, pool, _, _}] = Supervisor.which_children(sup)
      pool
    end
  end

:persistent_term.put({Bench.C1, :node_beam}, beam)

defmodule Bench.C1 do
  @moduledoc false
  @host ~c"127.0.0.1"
  # Callers on this node, against pools of `System.schedulers_online()` workers: more
  # callers than this node's workers, so that calls go to the other nodes' pools.
  @callers 32

  def run(opts) do
    seconds = Keyword.get(opts, :seconds, 3)
    distribute!()
    peers = for name <- [:c1_b, :c1_c], do: start_peer!(name)
    nodes = [node() | Enum.map(peers, &elem(&1, 1))]

    try do
      rates = for n <- 1..3, do: {n, rate(Enum.take(nodes, n), seconds)}
      {_, {one, _}} = hd(rates)
      {_, {three, _}} = List.last(rates)

      throughput =
        for {n, {rate, remote}} <- rates do
          [
            Bench.row(
              "C1",
              "calls/s via {:group, _}, pools on #{n} node(s)",
              rate,
              "calls/s",
              nil
            ),
            Bench.row("C1", "share run on other nodes, #{n} node(s)", 100 * remote, "%", nil)
          ]
        end

      List.flatten(throughput) ++
        [
          Bench.row(
            "C1",
            "calls/s 3 nodes / 1 node (2 cores: routing only)",
            three / one,
            "x",
            nil
          )
        ] ++
        latency(Enum.at(nodes, 1))
    after
      for {peer, _} <- peers, do: :peer.stop(peer)
    end
  end

  # `where` returns the index of the node whose pool runs it (0 for this one).
  defp where_wat(index),
    do: ~s[(module (func (export "where") (result i32) (i32.const #{index})))]

  # Calls/s of @callers processes of this node on a group with a pool on each of `nodes`,
  # and the share of the calls that ran on another node.
  defp rate(nodes, seconds) do
    group = {__MODULE__, make_ref()}
    pools = for {node, index} <- Enum.with_index(nodes), do: pool(node, group, where_wat(index))
    await_members(group, pools)
    # A short run first, so that this node has heard every pool's load.
    load(group, 200)
    {calls, remote} = load(group, seconds * 1000)
    {calls / seconds, remote / calls}
  end

  defp load(group, ms) do
    stop_at = System.monotonic_time(:millisecond) + ms
    parent = self()

    for _ <- 1..@callers,
        do: spawn_link(fn -> send(parent, {:calls, calls(group, stop_at, 0, 0)}) end)

    for _ <- 1..@callers, reduce: {0, 0} do
      {calls, remote} -> receive(do: ({:calls, {n, r}} -> {calls + n, remote + r}))
    end
  end

  defp calls(group, stop_at, n, remote) do
    if rem(n, 100) == 0 and System.monotonic_time(:millisecond) >= stop_at do
      {n, remote}
    else
      {:ok, [where]} = Wasmex.Pool.call_function({:group, group}, "where", [])
      calls(group, stop_at, n + 1, if(where == 0, do: remote, else: remote + 1))
    end
  end

  # One caller, one call at a time: the local pool directly, the local pool through its
  # group, and a pool of `remote` through its group.
  defp latency(remote) do
    local = {__MODULE__, :local}
    far = {__MODULE__, :far}
    local_pool = pool(node(), local, Bench.Guests.add_wat())
    await_members(local, [local_pool])
    await_members(far, [pool(remote, far, Bench.Guests.add_wat())])

    call = fn pool -> {:ok, [5]} = Wasmex.Pool.call_function(pool, "add", [2, 3]) end
    direct = Bench.per_call(fn -> call.(local_pool) end, 1_000, 30)
    here = Bench.per_call(fn -> call.({:group, local}) end, 1_000, 30)
    there = Bench.per_call(fn -> call.({:group, far}) end, 200, 30)

    [
      Bench.row("C1", "one call, local pool directly", direct, "µs", nil),
      Bench.row("C1", "one call via {:group, _}, pool on this node", here, "µs", nil),
      Bench.row("C1", "one call via {:group, _}, pool on another node", there, "µs", nil),
      Bench.row(
        "C1",
        "group routing, added to a local call",
        here.median - direct.median,
        "µs",
        nil
      ),
      Bench.row("C1", "remote call, added to a local one", there.median - here.median, "µs", nil)
    ]
  end

  defp pool(node, group, wat) do
    :erpc.call(node, Bench.C1.Node, :start_pool, [group, System.schedulers_online(), wat])
  end

  # Waits (on `:pg`'s join messages) until this node sees every pool of the group.
  defp await_members(group, pools) do
    {ref, members} = :pg.monitor(Wasmex.Pool.Member.scope(), group)
    await_joins(ref, pools -- members)
    :pg.demonitor(Wasmex.Pool.Member.scope(), ref)
  end

  defp await_joins(_ref, []), do: :ok

  defp await_joins(ref, missing) do
    receive do
      {^ref, :join, _group, pools} -> await_joins(ref, missing -- pools)
    after
      10_000 -> raise "pools #{inspect(missing)} did not join"
    end
  end

  # Makes this node distributed. `epmd -daemon` returns before epmd listens, so the start
  # is tried again (briefly) until it does.
  defp distribute!(attempts \\ 50) do
    if Node.alive?() do
      :ok
    else
      if attempts == 50, do: System.cmd("epmd", ["-daemon"])

      case :net_kernel.start([:"bench_#{System.pid()}@127.0.0.1", :longnames]) do
        {:ok, _} ->
          :ok

        {:error, _} when attempts > 0 ->
          Process.sleep(50)
          distribute!(attempts - 1)

        {:error, reason} ->
          raise "cannot start distribution: #{inspect(reason)}"
      end
    end
  end

  defp start_peer!(name) do
    {:ok, peer, node} =
      :peer.start(%{
        name: :peer.random_name(name),
        host: @host,
        longnames: true,
        args: [~c"-setcookie", Atom.to_charlist(Node.get_cookie())]
      })

    :ok = :erpc.call(node, :code, :add_paths, [:code.get_path()])
    beam = :persistent_term.get({__MODULE__, :node_beam})

    {:module, _} =
      :erpc.call(node, :code, :load_binary, [Bench.C1.Node, ~c"bench/cluster.exs", beam])

    {:ok, _} = :erpc.call(node, Application, :ensure_all_started, [:wasmex_interp])
    {peer, node}
  end
end
