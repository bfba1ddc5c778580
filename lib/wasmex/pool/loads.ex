defmodule Wasmex.Pool.Loads do
  @moduledoc false
  # This node's view of how busy the pools of the cluster-wide groups are: an ETS table
  # of `{pool, load}` rows that a caller reads to pick a pool without sending a message
  # (see `Wasmex.Pool.Group` for how the rows are used and why they are kept this way).
  #
  # A pool of this node writes its own row (its free workers) whenever that changes. A
  # pool of another node sends its load here (`{:load, pool, load}`, at most once per
  # publish interval), and this process writes it. There is one such process per node,
  # each with a copy of the loads it hears of: none is in charge of the others.
  #
  # Every pool with a row is monitored, so that its row goes when it does, also when its
  # node goes down (`:noconnection`). A message from a pool is always ordered before the
  # monitor's `:DOWN` (both are signals from the pool), so a row is never written back
  # after its pool is gone. A node that connects is told the loads of this node's pools
  # (`:hello`), so it needs no change on them to know.

  use GenServer

  @table __MODULE__

  @doc false
  # The table, created by `Wasmex.Application` before this process starts.
  @spec new_table() :: :ok
  def new_table do
    :ets.new(@table, [:set, :public, :named_table, read_concurrency: true])
    :ok
  end

  @doc false
  # The load of `pool` as this node last heard it, or `default` if it has heard nothing.
  @spec get(pid(), default) :: integer() | default when default: term()
  def get(pool, default) do
    :ets.lookup_element(@table, pool, 2)
  rescue
    ArgumentError -> default
  end

  @doc false
  # Writes the load of a pool of this node; the pool calls this (and `watch/0` first).
  @spec put(integer()) :: :ok
  def put(load) do
    :ets.insert(@table, {self(), load})
    :ok
  end

  @doc false
  # Adds `n` to the load of `pool` as seen here: a caller takes one (-1) when it sends a
  # call to the pool, and gives it back (+1), for a pool of another node, when the call
  # returns. Between two reports of the pool, this node's view then follows its own calls.
  @spec add(pid(), integer()) :: :ok
  def add(pool, n) do
    :ets.update_counter(@table, pool, {2, n})
    :ok
  rescue
    # The row went with its pool meanwhile.
    ArgumentError -> :ok
  end

  @doc false
  # Asks this node's process to drop the caller's row when the caller exits.
  @spec watch() :: :ok
  def watch, do: GenServer.cast(__MODULE__, {:watch, self()})

  @doc false
  # Sends `load`, the load of the calling pool, to the other connected nodes.
  @spec publish(integer()) :: :ok
  def publish(load) do
    message = {:load, self(), load}
    # `:noconnect`: never wait on (or cause) a connection for a load report.
    for node <- Node.list(), do: :erlang.send({__MODULE__, node}, message, [:noconnect])
    :ok
  end

  @doc false
  @spec start_link(term()) :: GenServer.on_start()
  def start_link(_arg), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @impl true
  def init([]) do
    :ok = :net_kernel.monitor_nodes(true)
    # After a restart: watch the pools whose rows are already here.
    watched = :ets.foldl(fn {pool, _}, watched -> watch(watched, pool) end, MapSet.new(), @table)
    for node <- Node.list(), do: hello(node)
    {:ok, watched}
  end

  @impl true
  def handle_cast({:watch, pool}, watched), do: {:noreply, watch(watched, pool)}

  @impl true
  def handle_info({:load, pool, load}, watched) when is_pid(pool) and is_integer(load) do
    :ets.insert(@table, {pool, load})
    {:noreply, watch(watched, pool)}
  end

  def handle_info({:hello, from}, watched) when is_pid(from) do
    local = node()

    for {pool, load} <- :ets.tab2list(@table),
        node(pool) == local,
        do: send(from, {:load, pool, load})

    {:noreply, watched}
  end

  def handle_info({:DOWN, _ref, :process, pool, _reason}, watched) do
    :ets.delete(@table, pool)
    {:noreply, MapSet.delete(watched, pool)}
  end

  def handle_info({:nodeup, node}, watched) do
    hello(node)
    {:noreply, watched}
  end

  def handle_info(_other, watched), do: {:noreply, watched}

  defp watch(watched, pool) do
    if MapSet.member?(watched, pool) do
      watched
    else
      Process.monitor(pool)
      MapSet.put(watched, pool)
    end
  end

  defp hello(node), do: :erlang.send({__MODULE__, node}, {:hello, self()}, [:noconnect])
end
