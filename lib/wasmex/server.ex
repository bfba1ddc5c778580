defmodule Wasmex.Server do
  @moduledoc false
  # The GenServer behind `Wasmex` (the Agent / Agent.Server split): the client functions
  # are in `Wasmex`, the callbacks here.

  use GenServer

  alias Wasmex.{Deadline, Instance, Memory, Module, Store}
  alias Wasmex.Wasi.WasiOptions

  @doc false
  # Builds the store, module, links and instance in the caller of `Wasmex.start_link/1`,
  # so that a bad module is an `{:error, reason}` there rather than a crash in `init/1`.
  @spec prepare(map()) :: {:ok, map()} | {:error, term()}
  def prepare(options) do
    imports = Map.get(options, :imports, %{})

    with {:ok, store} <- store(options),
         {:ok, module} <- module(store, options),
         {:ok, links} <- compile_links(store, Map.get(options, :links, %{})),
         {:ok, instance} <- instance(store, module, imports, links, options) do
      {:ok, %{store: store, module: module, instance: instance}}
    end
  end

  defp store(%{store: store}), do: {:ok, store}

  defp store(options) do
    case Map.get(options, :wasi, false) do
      false ->
        Store.new()

      true ->
        Store.new_wasi(%WasiOptions{})

      %WasiOptions{} = wasi ->
        Store.new_wasi(wasi)

      other ->
        raise ArgumentError,
              "expected :wasi to be a boolean or %Wasmex.Wasi.WasiOptions{}, got: #{inspect(other)}"
    end
  end

  defp module(_store, %{module: %Module{} = module}), do: {:ok, module}
  defp module(store, %{bytes: bytes}) when is_binary(bytes), do: Module.compile(store, bytes)

  defp module(_store, options) do
    raise ArgumentError,
          "expected :bytes (a binary) or :module (a %Wasmex.Module{}), got: " <>
            inspect(Map.take(options, [:bytes, :module]))
  end

  defp instance(_store, _module, _imports, _links, %{instance: %Instance{} = instance}),
    do: {:ok, instance}

  defp instance(_store, _module, _imports, _links, %{instance: other}) when other != nil do
    raise ArgumentError, "expected :instance to be a %Wasmex.Instance{}, got: #{inspect(other)}"
  end

  defp instance(store, module, imports, links, _options),
    do: Instance.new(store, module, imports, links)

  # Wasmex compat: nested links are flattened, the deepest first, and a name that appears
  # more than once is linked once (its last occurrence).
  defp compile_links(store, links) do
    links
    |> flatten_links()
    |> Enum.reverse()
    |> Enum.uniq_by(fn {name, _} -> to_string(name) end)
    |> Enum.reduce_while({:ok, []}, fn {name, link}, {:ok, compiled} ->
      case link_module(store, link) do
        {:ok, module} -> {:cont, {:ok, compiled ++ [%{name: to_string(name), module: module}]}}
        {:error, _} = error -> {:halt, error}
      end
    end)
  end

  defp flatten_links(links) when is_map(links) or is_list(links) do
    Enum.flat_map(links, fn
      {name, %{} = link} when is_binary(name) or is_atom(name) ->
        [{name, Map.delete(link, :links)} | flatten_links(Map.get(link, :links, %{}))]

      other ->
        raise ArgumentError,
              "expected a link to be {name, %{bytes: wasm} | %{module: module}}, got: " <>
                inspect(other, limit: 10)
    end)
  end

  defp flatten_links(other) do
    raise ArgumentError,
          "expected :links to be a map of name => link, got: #{inspect(other, limit: 10)}"
  end

  defp link_module(_store, %{module: %Module{} = module}), do: {:ok, module}
  defp link_module(store, %{bytes: bytes}) when is_binary(bytes), do: Module.compile(store, bytes)

  defp link_module(_store, link) do
    raise ArgumentError,
          "expected a link to be %{bytes: wasm} or %{module: module}, got: #{inspect(link)}"
  end

  # Calls run in a runner process, not in the server: the server hands each request to
  # the runner and keeps the requests in flight, with their deadlines. The guest of a call
  # past its deadline is stopped by the runner itself; what the runner cannot stop is an
  # Elixir import that never returns. When the oldest request is still running
  # `@stuck_ms` after its deadline, the server kills the runner (the store's monitor frees
  # the store), starts another and hands it the requests that were waiting. The instance
  # is kept; the server stays up and answers its other calls meanwhile.
  @stuck_ms 100

  # The replies to :call_function, :function_exists and :memory are `{:ok, result}`, or
  # `{:raise, error}` for an exception (an ArgumentError, e.g. a function name that is not
  # UTF-8): the client raises it (`Wasmex`), and a bad argument never takes the server down.
  @impl true
  def init(state) do
    done = :counters.new(1, [])
    state = Map.merge(state, %{done: done, sent: 0, in_flight: :queue.new(), runner: nil})
    {:ok, start_runner(state)}
  end

  @impl true
  def handle_call({:call_function, _name, _params, deadline} = request, from, state),
    do: run(request, from, deadline, state)

  def handle_call({:function_exists, _name} = request, from, state),
    do: run(request, from, :infinity, state)

  def handle_call(:memory = request, from, state), do: run(request, from, :infinity, state)

  def handle_call(key, _from, state) when key in [:store, :module, :instance] do
    {:reply, {:ok, Map.fetch!(state, key)}, state, next_check(state)}
  end

  @impl true
  # `GenServer.stop/1`: the runner goes with the server (an exit signal would do it for
  # any other reason, through the link).
  def terminate(_reason, state), do: stop_runner(state)

  @impl true
  def handle_info(:timeout, state), do: noreply(check_stuck(state))

  # A wake-up for a store this server stopped waiting for (see `Wasmex.Native`).
  def handle_info({:"$wasmex_store_free", _id}, state), do: noreply(state)

  def handle_info(message, state) do
    # What GenServer's default does (calling `super` for it is deprecated).
    require Logger
    Logger.error("#{inspect(self())} received an unexpected message: #{inspect(message)}")
    noreply(state)
  end

  defp run(request, from, deadline, state) do
    %{runner: {runner, _}, sent: sent, in_flight: in_flight} = state
    message = {:run, from, request}
    send(runner, message)
    in_flight = :queue.in({sent + 1, deadline, message}, in_flight)
    noreply(%{state | sent: sent + 1, in_flight: in_flight})
  end

  defp noreply(state) do
    state = drop_answered(state)
    {:noreply, state, next_check(state)}
  end

  # How long until the oldest request in flight counts as stuck.
  defp next_check(state) do
    case :queue.peek(state.in_flight) do
      {:value, {_, :infinity, _}} ->
        :infinity

      # A GenServer timeout is at most 2^32 - 1 ms (a call's own timeout may be that).
      {:value, {_, deadline, _}} ->
        min(max(deadline + @stuck_ms - Deadline.now(), 0), 4_294_967_295)

      :empty ->
        :infinity
    end
  end

  defp check_stuck(state) do
    state = drop_answered(state)

    case :queue.peek(state.in_flight) do
      {:value, {_, deadline, _}} when deadline != :infinity ->
        if Deadline.now() >= deadline + @stuck_ms, do: restart_runner(state), else: state

      _ ->
        state
    end
  end

  # Forgets the requests the runner has answered.
  defp drop_answered(%{in_flight: in_flight, done: done} = state) do
    answered = :counters.get(done, 1)

    case :queue.peek(in_flight) do
      {:value, {seq, _, _}} when seq <= answered ->
        drop_answered(%{state | in_flight: :queue.drop(in_flight)})

      _ ->
        state
    end
  end

  # Kills the runner, tells the caller of the request it was running that it was stopped
  # (it has normally given up already), and hands the other requests to a new runner.
  defp restart_runner(state) do
    stop_runner(state)
    state = drop_answered(state)

    in_flight =
      case :queue.out(state.in_flight) do
        {{:value, {_, _, {:run, from, _}}}, rest} ->
          # Normally the stuck call itself; if the runner got past it just before it was
          # killed, the call after it.
          stopped =
            {:error,
             "the call was stopped: a call on this server did not return in time " <>
               "(an Elixir import that did not return), and its runner was restarted"}

          GenServer.reply(from, {:ok, stopped})
          rest

        {:empty, rest} ->
          rest
      end

    state = start_runner(%{state | in_flight: in_flight})
    {runner, _} = state.runner
    :queue.fold(fn {_, _, message}, :ok -> send(runner, message) && :ok end, :ok, in_flight)
    :counters.put(state.done, 1, state.sent - :queue.len(in_flight))
    state
  end

  defp start_runner(state) do
    %{store: store, instance: instance, done: done} = state
    server = self()
    # Linked: the runner dies with the server, even inside a callback that does not return
    # (its store is then freed). It never fails by itself: `catching/1`.
    runner = spawn_link(fn -> runner(server, Process.monitor(server), store, instance, done) end)
    %{state | runner: {runner, Process.monitor(runner)}}
  end

  defp stop_runner(%{runner: {runner, ref}}) do
    Process.unlink(runner)
    Process.exit(runner, :kill)
    receive do: ({:DOWN, ^ref, :process, ^runner, _} -> :ok)
  end

  # The runner's loop: one request at a time, answered straight to its caller.
  defp runner(server, ref, store, instance, done) do
    receive do
      {:run, from, request} ->
        reply = catching(fn -> perform(request, store, instance) end)
        # Counted before the reply: a runner killed in between only loses the reply to a
        # call that is past its deadline, whose caller has given up.
        :counters.add(done, 1, 1)
        GenServer.reply(from, reply)
        runner(server, ref, store, instance, done)

      {:DOWN, ^ref, :process, ^server, _reason} ->
        :ok

      # Wake-ups for a store it stopped waiting for; messages sent to `context.pid`.
      _other ->
        runner(server, ref, store, instance, done)
    end
  end

  defp perform({:call_function, name, params, deadline}, store, instance) do
    Instance.call_function(store, instance, name, params, timeout: Deadline.remaining(deadline))
  end

  defp perform({:function_exists, name}, store, instance),
    do: Instance.function_export_exists(store, instance, name)

  defp perform(:memory, store, instance), do: Memory.from_instance(store, instance)

  defp catching(fun) do
    {:ok, fun.()}
  rescue
    error -> {:raise, error}
  end
end
