defmodule Wasmex.Server do
  @moduledoc false
  # The GenServer behind `Wasmex` (the Agent / Agent.Server split): the client functions
  # are in `Wasmex`, the callbacks here. What it owns is built by `Wasmex.Server.Setup`;
  # its requests run as `Wasmex.Server.Runner` says: in the server itself for an instance
  # without Elixir imports, otherwise in a runner process that the server watches.
  #
  # Watching a runner: the server numbers the requests it hands over and keeps them, with
  # their deadlines, until the runner is done with them (it reads the runner's progress
  # after every message, and at a timeout when idle). The runner stops the guest of a call
  # at its deadline by itself; what it cannot stop is an Elixir import that never returns.
  # When the runner is still inside a request `@stuck_ms` after that request's deadline,
  # the server kills it (the store's monitor frees the store), starts another and hands it
  # the requests still waiting, less those past their deadline. Requests waiting in line
  # never count as stuck, and expired ones are skipped: a burst of callers that give up
  # costs one pass over the queue, not a restart each. The instance is kept; the server
  # answers its other calls meanwhile.

  use GenServer

  alias Wasmex.Deadline
  alias Wasmex.Server.Runner

  @stuck_ms 100

  # How soon to look again when the oldest request is past its stuck time but the runner
  # has not reached it (it is working through a backlog): it is not stuck, only late.
  @recheck_ms 10

  # A GenServer timeout is at most 2^32 - 1 ms (a call's own timeout may be that).
  @max_timeout 4_294_967_295

  @stopped {:error,
            "the call was stopped: a call on this server did not return in time " <>
              "(an Elixir import that did not return), and its runner was restarted"}

  @impl true
  def init(%{instance: instance} = state) do
    if Runner.needed?(instance) do
      watched = %{progress: Runner.new_progress(), sent: 0, in_flight: :queue.new(), restarts: 0}
      {:ok, start_runner(Map.merge(state, watched))}
    else
      {:ok, Map.put(state, :runner, nil)}
    end
  end

  @impl true
  def handle_call({:call_function, name, params, deadline}, from, state),
    do: run({:call_function, name, params, Deadline.from_request(deadline)}, from, state)

  def handle_call({:function_exists, _name} = request, from, state),
    do: run(request, from, state)

  def handle_call(:memory, from, state), do: run(:memory, from, state)

  def handle_call(key, _from, state) when key in [:store, :module, :instance],
    do: reply({:ok, Map.fetch!(state, key)}, state)

  @impl true
  def handle_info(:timeout, state), do: noreply(state)

  # A wake-up for a store this server stopped waiting for (see `Wasmex.Native`).
  def handle_info({:"$wasmex_store_free", _id}, state), do: noreply(state)

  def handle_info(message, state) do
    # What GenServer's default does (calling `super` for it is deprecated).
    require Logger
    Logger.error("#{inspect(self())} received an unexpected message: #{inspect(message)}")
    noreply(state)
  end

  @impl true
  # `GenServer.stop/1`: the runner goes with the server (an exit signal would do it for
  # any other reason, through the link).
  def terminate(_reason, %{runner: nil}), do: :ok
  def terminate(_reason, state), do: stop_runner(state)

  defp run(request, _from, %{runner: nil, store: store, instance: instance} = state) do
    case Runner.run(request, store, instance) do
      {:reply, reply} -> {:reply, reply, state}
      :noreply -> {:noreply, state}
    end
  end

  defp run(request, from, state) do
    %{runner: {runner, _}, sent: sent, in_flight: in_flight} = state
    seq = sent + 1
    message = {:run, seq, from, request}
    send(runner, message)
    in_flight = :queue.in({seq, Runner.deadline(request), message}, in_flight)
    noreply(%{state | sent: seq, in_flight: in_flight})
  end

  defp reply(reply, %{runner: nil} = state), do: {:reply, reply, state}

  defp reply(reply, state) do
    {state, timeout} = watch(state)
    {:reply, reply, state, timeout}
  end

  defp noreply(%{runner: nil} = state), do: {:noreply, state}

  defp noreply(state) do
    {state, timeout} = watch(state)
    {:noreply, state, timeout}
  end

  # Forgets the requests the runner is done with, replaces it if it is stuck, and returns
  # how long until the oldest request left could count as stuck (the GenServer timeout).
  defp watch(state) do
    state = drop_done(state)

    case :queue.peek(state.in_flight) do
      {:value, {seq, deadline, _}} when deadline != :infinity ->
        case deadline + @stuck_ms - Deadline.now() do
          wait when wait > 0 ->
            {state, min(wait, @max_timeout)}

          _ ->
            if Runner.running?(state.progress, seq),
              do: watch(restart_runner(state)),
              else: {state, @recheck_ms}
        end

      _ ->
        {state, :infinity}
    end
  end

  defp drop_done(%{in_flight: in_flight} = state),
    do: %{state | in_flight: drop_done(in_flight, Runner.done(state.progress))}

  defp drop_done(in_flight, done) do
    case :queue.peek(in_flight) do
      {:value, {seq, _, _}} when seq <= done -> drop_done(:queue.drop(in_flight), done)
      _ -> in_flight
    end
  end

  # Kills the runner and hands the requests still waiting to a new one.
  defp restart_runner(state) do
    stop_runner(state)
    in_flight = drop_done(state.in_flight, Runner.done(state.progress))

    # The request the runner was killed in: normally the stuck one, whose caller has
    # given up; if the runner got past it just before it was killed, the one after it,
    # whose caller is told.
    in_flight =
      case :queue.peek(in_flight) do
        {:value, {seq, deadline, {:run, _, from, _}}} ->
          if Runner.running?(state.progress, seq) do
            unless Deadline.expired?(deadline), do: GenServer.reply(from, {:ok, @stopped})
            :queue.drop(in_flight)
          else
            in_flight
          end

        :empty ->
          in_flight
      end

    # Requests past their deadline would only be skipped: their callers have given up.
    now = Deadline.now()
    in_flight = :queue.filter(fn {_, d, _} -> d == :infinity or d > now end, in_flight)
    state = start_runner(%{state | in_flight: in_flight, restarts: state.restarts + 1})
    {runner, _} = state.runner
    :queue.fold(fn {_, _, message}, :ok -> send(runner, message) && :ok end, :ok, in_flight)
    state
  end

  defp start_runner(%{store: store, instance: instance, progress: progress} = state) do
    runner = Runner.start_link(store, instance, progress)
    Map.put(state, :runner, {runner, Process.monitor(runner)})
  end

  defp stop_runner(%{runner: {runner, ref}}) do
    Process.unlink(runner)
    Process.exit(runner, :kill)
    receive do: ({:DOWN, ^ref, :process, ^runner, _} -> :ok)
  end
end
