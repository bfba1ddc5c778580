defmodule Wasmex.Pool.Group do
  @moduledoc false
  # Pools across a BEAM cluster: the caller's side of the `:group` option of `Wasmex.Pool`,
  # `Wasmex.Pool.call_function({:group, name}, ...)` / `transaction/3`.
  #
  # Membership is OTP's `:pg` (the scope `Wasmex.Pool.Group`, started by the application):
  # a pool joins its group, and leaves it when it exits or its node goes down. A pool's
  # side (joining, reporting its load) is `Wasmex.Pool.Member`.
  #
  # Load. Every caller picks a pool by itself, so it needs the pools' loads without asking
  # anyone. Each node keeps them in an ETS table (`Wasmex.Pool.Loads`):
  #   * a pool writes its own row, its free workers, at every change: the local choice
  #     ("the local pool when it has a free worker") reads the pool's current count, for
  #     one ETS write per checkout and checkin;
  #   * a pool sends its load to the other nodes at most once per `@publish_ms`
  #     (`Wasmex.Pool.Member`) after a change (none while idle, none without other nodes):
  #     a burst of calls costs each node at most 1000 / @publish_ms messages a second per
  #     pool, not one per call. The load is its free workers, or minus its waiting
  #     callers when it has none, so that between full pools the shortest line wins;
  #   * a caller that sends a call to a pool takes one from the pool's row at once, so
  #     that the callers of a burst spread out before the pool's next report arrives, and
  #     gives it back when a call on another node returns: between reports, a node's view
  #     of a remote pool follows its own calls there (without that, it could send a pool
  #     only as many calls per report as it had free workers).
  # Pulling loads per call would add a round trip to every remote call; a shared counter
  # cannot be read across nodes. The cost of this choice is that a remote load may be up
  # to @publish_ms (plus the network) old: a call may then wait in a pool's line while
  # another pool has just freed a worker. It is never a wrong answer, only a later one.
  #
  # A remote call runs in a process spawned on the pool's node (`serve/5`, as `:erpc`
  # does): the checkout, the call and the checkin are local there, the caller sends one
  # message and gets one back (the process's exit reason), and the guest's deadline is
  # computed on that node (monotonic clocks differ between nodes). If the node goes down
  # meanwhile, the monitor says `:noconnection` and the caller gets
  # `{:error, "node down: ..."}`: the call may or may not have run, so it is never
  # retried. A pool that turns out to be gone before the call started (it left the group
  # while the caller chose it) is skipped, and the next best pool is tried.

  alias Wasmex.Deadline
  alias Wasmex.Pool.{Loads, Member, Server}

  # The load of a pool of another node that has not reported yet: it has just joined, so
  # as far as anyone knows it has a free worker. (Its report is on its way.)
  @unknown 1

  @doc false
  # The caller side of `Wasmex.Pool.call_function({:group, group}, ...)`: the call's result,
  # or `{:exit, reason}` for `Wasmex.Pool` to exit with as a local call would.
  @spec call_function(term(), String.t() | atom(), list(), timeout()) ::
          {:ok, list()} | {:error, term()} | {:exit, term()}
  def call_function(group, name, params, timeout) do
    call(group, name, params, Deadline.from_timeout(timeout), [])
  end

  defp call(group, name, params, deadline, skip) do
    case choose(group, skip) do
      nil ->
        no_pool(group)

      pool when node(pool) == node() ->
        if Process.alive?(pool),
          do: Server.call_function(pool, name, params, Deadline.remaining(deadline)),
          else: call(group, name, params, deadline, [pool | skip])

      pool ->
        reply =
          try do
            remote_call(pool, name, params, deadline)
          after
            give_back(pool)
          end

        case reply do
          {:reply, reply} -> reply
          :gone -> call(group, name, params, deadline, [pool | skip])
          {:exit, _reason} = exit -> exit
        end
    end
  end

  defp remote_call(pool, name, params, deadline) do
    tag = make_ref()
    args = [tag, pool, name, params, Deadline.remaining(deadline)]

    request =
      :erlang.spawn_request(node(pool), __MODULE__, :serve, args, [:monitor, reply: :error_only])

    receive do
      {:DOWN, ^request, :process, _, {^tag, {:ok, reply}}} ->
        {:reply, reply}

      {:DOWN, ^request, :process, _, {^tag, :gone}} ->
        :gone

      # What the call raised or exited with there, raised here as a local call would.
      {:DOWN, ^request, :process, _, {^tag, {:raise, kind, reason, stack}}} ->
        :erlang.raise(kind, reason, stack)

      {:DOWN, ^request, :process, _, :noconnection} ->
        {:reply, node_down(node(pool))}

      {:DOWN, ^request, :process, _, reason} ->
        {:exit, reason}

      {:spawn_reply, ^request, :error, :noconnection} ->
        {:reply, node_down(node(pool))}

      {:spawn_reply, ^request, :error, reason} ->
        {:exit, reason}
    after
      Deadline.remaining(deadline) ->
        # The process there stops the guest at the same deadline and then ends.
        :erlang.spawn_request_abandon(request)
        Process.demonitor(request, [:flush])
        {:exit, :timeout}
    end
  end

  @doc false
  # Runs on the pool's node, in a process of its own that ends with the reply as its exit
  # reason (the caller's monitor brings it back).
  @spec serve(reference(), pid(), String.t() | atom(), list(), timeout()) :: no_return()
  def serve(tag, pool, name, params, timeout) do
    reply =
      if Process.alive?(pool) do
        try do
          {:ok, Server.call_function(pool, name, params, timeout)}
        catch
          kind, reason -> {:raise, kind, reason, __STACKTRACE__}
        end
      else
        :gone
      end

    exit({tag, reply})
  end

  @doc false
  # The caller side of `Wasmex.Pool.transaction({:group, group}, fun, timeout)`: `fun`
  # runs in the caller, with a worker that may be on another node.
  @spec transaction(term(), (pid() -> result), timeout()) :: result | {:error, String.t()}
        when result: term()
  def transaction(group, fun, timeout) do
    case checkout(group, Deadline.from_timeout(timeout), []) do
      nil ->
        no_pool(group)

      {pool, worker} ->
        try do
          fun.(worker)
        catch
          # The worker's node went down under a call to it (`GenServer.call/3`'s exit).
          :exit, {{:nodedown, down}, _} when down == node(worker) and down != node() ->
            node_down(down)
        after
          Server.checkin(pool, worker)
          give_back(pool)
        end
    end
  end

  # A checkout runs no guest code: when the pool or its node is gone before it answers,
  # the next best pool is tried.
  defp checkout(group, deadline, skip) do
    case choose(group, skip) do
      nil ->
        nil

      pool ->
        try do
          {pool, Server.checkout(pool, Deadline.remaining(deadline))}
        catch
          :exit, reason ->
            give_back(pool)

            case reason do
              {gone, _} when gone in [:noproc, :noconnection] ->
                checkout(group, deadline, [pool | skip])

              {{:nodedown, _}, _} ->
                checkout(group, deadline, [pool | skip])

              _ ->
                exit(reason)
            end
        end
    end
  end

  # The pool for the next call: a pool of this node with a free worker (the one with the
  # most), else the pool of another (connected) node with the most free workers, else,
  # all pools being busy, this node's pool or, without one, the shortest line.
  defp choose(group, skip) do
    here = node()

    {local, remote} =
      Member.scope()
      |> :pg.get_members(group)
      |> Kernel.--(skip)
      |> Enum.split_with(&(node(&1) == here))

    pool =
      case most_free(local, 0) do
        {pool, free} when free > 0 ->
          pool

        local_best ->
          connected = Node.list()
          remote = Enum.filter(remote, &(node(&1) in connected))

          case {most_free(remote, @unknown), local_best} do
            {{pool, load}, _} when load > 0 -> pool
            {_, {pool, _}} -> pool
            {{pool, _}, nil} -> pool
            {nil, nil} -> nil
          end
      end

    if pool, do: Loads.add(pool, -1)
    pool
  end

  # Gives back the worker `choose/2` took from the load of `pool` as this node sees it,
  # when the call is done, if the pool is on another node (a pool of this node writes its
  # own load, also when the worker comes back). A report of the pool that arrives while
  # the call is on its way may already count it as done: the view is then one too high
  # until the next report, a few ms later.
  defp give_back(pool) do
    if node(pool) != node(), do: Loads.add(pool, 1)
    :ok
  end

  # The pool with the highest load figure (the most free workers), with that figure.
  defp most_free(pools, default) do
    Enum.reduce(pools, nil, fn pool, best ->
      load = Loads.get(pool, default)

      case best do
        {_, best_load} when best_load >= load -> best
        _ -> {pool, load}
      end
    end)
  end

  defp no_pool(group), do: {:error, "no pool in the group #{inspect(group)}"}

  defp node_down(node) do
    {:error, "node down: #{node} disconnected during the call, which may or may not have run"}
  end
end
