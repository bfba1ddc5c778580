defmodule Wasmex.Server.Runner do
  @moduledoc false
  # Runs the requests of a `Wasmex` server on its instance (calls, `function_exists`,
  # `memory`), in one of two places:
  #
  #   * in the server itself (`run/3`), for an instance without Elixir imports: nothing
  #     but guest code runs then, and `Wasmex.Instance.call_function/5` stops it at the
  #     call's deadline, so no call can get stuck and a request costs no extra message;
  #   * in a runner process (`start_link/3`), for an instance with Elixir imports: an
  #     import may never return, and only a process can be killed. The server hands it
  #     the requests and watches their deadlines (see `Wasmex.Server`).
  #
  # Either way a call is given its caller's deadline, and one that ends past it with an
  # error (the timeout's: the guest was stopped there) is not answered: its caller, who
  # gives up at that same deadline, exits as with `GenServer.call/3` and never gets a
  # timeout error instead. A request that expired while it waited in line is not run at
  # all, so a burst of callers that gave up costs next to nothing.
  #
  # A reply is `{:ok, result}`, or `{:raise, exception}` for an exception (an
  # ArgumentError, e.g. a function name that is not UTF-8): `Wasmex` raises it in the
  # caller, and a bad argument never takes the server down.

  alias Wasmex.{Deadline, Instance, Memory, StoreOrCaller}

  @type request ::
          {:call_function, String.t() | atom(), list(), Deadline.t()}
          | {:function_exists, String.t() | atom()}
          | :memory

  @type reply :: {:ok, term()} | {:raise, Exception.t()}

  # The slots of a runner's progress, an :atomics array the server reads: the sequence
  # number of the request the runner started last (only requests still before their
  # deadline are started) and of the last one it is done with (answered or skipped).
  @started 1
  @done 2

  @doc false
  # Whether the requests on `instance` need a runner process: only an Elixir import can
  # keep a call from stopping at its deadline.
  @spec needed?(Instance.t()) :: boolean()
  def needed?(%Instance{callbacks: callbacks}), do: tuple_size(callbacks) > 0

  @doc false
  # Runs `request` in this process: `{:reply, reply}`, or `:noreply` once its deadline
  # has passed (before or during the run).
  @spec run(request(), StoreOrCaller.t(), Instance.t()) :: {:reply, reply()} | :noreply
  def run({:call_function, name, params, deadline}, store, instance) do
    case Deadline.remaining(deadline) do
      0 -> :noreply
      timeout -> call_function(store, instance, name, params, timeout, deadline)
    end
  end

  def run({:function_exists, name}, store, instance) do
    {:reply, {:ok, Instance.function_export_exists(store, instance, name)}}
  rescue
    error -> {:reply, {:raise, error}}
  end

  def run(:memory, store, instance) do
    {:reply, {:ok, Memory.from_instance(store, instance)}}
  rescue
    error -> {:reply, {:raise, error}}
  end

  defp call_function(store, instance, name, params, timeout, deadline) do
    case Instance.call_function(store, instance, name, params, timeout: timeout) do
      # An error past the deadline is the timeout's (the guest was stopped, the store is
      # free) or came too late: the caller is leaving with a timeout exit.
      {:error, _} = error ->
        if Deadline.expired?(deadline), do: :noreply, else: {:reply, {:ok, error}}

      result ->
        {:reply, {:ok, result}}
    end
  rescue
    error -> {:reply, {:raise, error}}
  end

  @doc false
  @spec deadline(request()) :: Deadline.t()
  def deadline({:call_function, _name, _params, deadline}), do: deadline
  def deadline(_request), do: :infinity

  @doc false
  # A progress array for the runners of one server (it outlives each runner).
  @spec new_progress() :: :atomics.atomics_ref()
  def new_progress, do: :atomics.new(2, signed: true)

  @doc false
  # Whether the runner is inside request `seq`: started and not done with it.
  @spec running?(:atomics.atomics_ref(), pos_integer()) :: boolean()
  def running?(progress, seq) do
    # `started` first: if it is `seq` and `done` is still below it, the runner was inside
    # `seq` when `done` was read.
    :atomics.get(progress, @started) == seq and :atomics.get(progress, @done) < seq
  end

  @doc false
  # The last request the runner is done with.
  @spec done(:atomics.atomics_ref()) :: non_neg_integer()
  def done(progress), do: :atomics.get(progress, @done)

  @doc false
  # Starts a runner process for the calling server, linked to it: it dies with the
  # server, even inside a callback that does not return (its store is then freed).
  # It takes `{:run, seq, from, request}` messages, in order of `seq`, and answers each
  # caller directly. It never fails by itself (`run/3` rescues).
  @spec start_link(StoreOrCaller.t(), Instance.t(), :atomics.atomics_ref()) :: pid()
  def start_link(store, instance, progress) do
    server = self()
    spawn_link(fn -> loop(Process.monitor(server), server, {store, instance, progress}) end)
  end

  defp loop(ref, server, {store, instance, progress} = job) do
    receive do
      {:run, seq, from, request} ->
        serve(seq, from, request, store, instance, progress)
        loop(ref, server, job)

      # A server that exited normally (a link only carries abnormal exits).
      {:DOWN, ^ref, :process, ^server, _reason} ->
        :ok

      # Wake-ups for a store it stopped waiting for; messages sent to `context.pid`.
      _other ->
        loop(ref, server, job)
    end
  end

  defp serve(seq, from, request, store, instance, progress) do
    # Only a request still before its deadline counts as started: one skipped here can
    # never look stuck.
    unless Deadline.expired?(deadline(request)) do
      :atomics.put(progress, @started, seq)

      # Answered before it counts as done: a runner killed in between has answered (and
      # a second reply, the server's "stopped", is dropped: the caller no longer listens).
      with {:reply, reply} <- run(request, store, instance), do: GenServer.reply(from, reply)
    end

    :atomics.put(progress, @done, seq)
  end
end
