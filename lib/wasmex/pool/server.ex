defmodule Wasmex.Pool.Server do
  @moduledoc false
  # The process of a `Wasmex.Pool`: its workers, the callers waiting in line for one, and
  # its membership of a cluster-wide group (`Wasmex.Pool.Member`). The functions at the
  # top are the client side of its protocol, on one pool (a pid or a name; `Wasmex.Pool`
  # checks the arguments and routes calls on a group through `Wasmex.Pool.Group`); the
  # callbacks below are the pool's side.

  use GenServer

  alias Wasmex.{Deadline, Engine, EngineConfig, Module, Store}
  alias Wasmex.Pool.Member

  @doc false
  # Starts a pool of `size` workers (in `group`, if not nil) with the checked `options`
  # of `Wasmex.Pool.start_link/1`.
  @spec start_link(keyword(), pos_integer(), term()) :: GenServer.on_start()
  def start_link(options, size, group) do
    # The module is compiled here and init/1 reports a worker that fails to start back to
    # here: bad options are this caller's ArgumentError or {:error, reason}, never an exit
    # signal from the linked pool.
    with {:ok, start} <- worker_start(options) do
      ref = make_ref()

      case GenServer.start_link(
             __MODULE__,
             {start, size, group, self(), ref},
             Keyword.take(options, [:name])
           ) do
        :ignore -> receive(do: ({^ref, failure} -> failed(failure)))
        started -> started
      end
    end
  end

  defp failed({:error, _reason} = error), do: error
  defp failed({:raise, kind, reason, stacktrace}), do: :erlang.raise(kind, reason, stacktrace)

  @doc false
  # Calls `name` on a free worker; the whole call, waiting included, within `timeout`.
  @spec call_function(GenServer.server(), String.t() | atom(), list(), timeout()) ::
          {:ok, list()} | {:error, term()}
  def call_function(pool, name, params, timeout) do
    deadline = Deadline.from_timeout(timeout)
    call = &Wasmex.call_function(&1, name, params, Deadline.remaining(deadline))
    transaction(pool, call, timeout)
  end

  @doc false
  # Runs `fun` with a worker checked out for it.
  @spec transaction(GenServer.server(), (pid() -> result), timeout()) :: result
        when result: term()
  def transaction(pool, fun, timeout) do
    worker = checkout(pool, timeout)

    try do
      fun.(worker)
    after
      checkin(pool, worker)
    end
  end

  @doc false
  @spec checkout(GenServer.server(), timeout()) :: pid()
  def checkout(pool, timeout) do
    ref = make_ref()

    try do
      GenServer.call(pool, {:checkout, ref}, timeout)
    catch
      :exit, reason ->
        # Leave the line, or give back a worker that was handed out as the call gave up.
        GenServer.cast(pool, {:cancel, ref, self()})
        exit(reason)
    end
  end

  @doc false
  @spec checkin(GenServer.server(), pid()) :: :ok
  def checkin(pool, worker), do: GenServer.cast(pool, {:checkin, worker})

  @doc false
  @spec size(GenServer.server()) :: pos_integer()
  def size(pool), do: GenServer.call(pool, :size)

  @doc false
  @spec workers(GenServer.server()) :: [pid()]
  def workers(pool), do: GenServer.call(pool, :workers)

  # The pool's side

  @impl true
  def init({start, size, group, caller, ref}) do
    Process.flag(:trap_exit, true)

    state = %{
      start: start,
      size: size,
      # every live worker
      workers: MapSet.new(),
      idle: :queue.new(),
      # worker pid => {caller pid, caller monitor, checkout ref} while checked out
      busy: %{},
      # callers waiting for a worker: {from, ref}
      waiting: :queue.new(),
      # its membership of a cluster-wide group (a Wasmex.Pool.Member), if any
      group: nil
    }

    case start_workers(state, size) do
      {:ok, state} ->
        {:ok,
         if(group == nil, do: state, else: %{state | group: Member.join(group, free(state))})}

      {failure, state} ->
        # Tell start_link/1 why, and end without an exit signal to the caller.
        for worker <- state.workers, do: Process.exit(worker, :shutdown)
        send(caller, {ref, failure})
        :ignore
    end
  end

  defp start_workers(state, 0), do: {:ok, state}

  defp start_workers(state, count) do
    case start_one(state.start) do
      {:ok, worker} -> start_workers(add_worker(state, worker), count - 1)
      failure -> {failure, state}
    end
  end

  defp start_one(start) do
    case start.() do
      {:ok, worker} when is_pid(worker) -> {:ok, worker}
      {:error, _reason} = error -> error
      other -> {:error, {:bad_start_result, other}}
    end
  catch
    kind, reason -> {:raise, kind, reason, __STACKTRACE__}
  end

  # Compiles the module once; every default worker gets a store of the same engine.
  defp worker_start(options) do
    case Keyword.fetch(options, :worker) do
      {:ok, {module, args}} when is_atom(module) ->
        unless Code.ensure_loaded?(module) and function_exported?(module, :start_link, 1) do
          raise ArgumentError,
                "expected the :worker module #{inspect(module)} to define start_link/1"
        end

        {:ok, fn -> module.start_link(args) end}

      {:ok, other} ->
        raise ArgumentError, "expected :worker to be {module, args}, got: #{inspect(other)}"

      :error ->
        engine = Keyword.get_lazy(options, :engine, fn -> shared_engine() end)

        with {:ok, module} <- pool_module(options, engine) do
          worker_options =
            options
            |> Keyword.take([:imports, :links, :wasi])
            |> Map.new()
            |> Map.put(:module, module)

          {:ok, fn -> start_default_worker(engine, worker_options) end}
        end
    end
  end

  defp shared_engine do
    {:ok, engine} = Engine.new(%EngineConfig{})
    engine
  end

  defp pool_module(options, engine) do
    case Keyword.take(options, [:module, :bytes]) do
      [module: %Module{} = module] ->
        {:ok, module}

      [bytes: bytes] when is_binary(bytes) ->
        {:ok, store} = Store.new(nil, engine)
        Module.compile(store, bytes)

      other ->
        raise ArgumentError, "expected :bytes or :module (or :worker), got: #{inspect(other)}"
    end
  end

  defp start_default_worker(engine, options) do
    store =
      case Map.get(options, :wasi, false) do
        false -> Store.new(nil, engine)
        true -> Store.new_wasi(%Wasmex.Wasi.WasiOptions{}, nil, engine)
        wasi -> Store.new_wasi(wasi, nil, engine)
      end

    with {:ok, store} <- store, do: Wasmex.start_link(Map.put(options, :store, store))
  end

  defp start_worker(state) do
    case state.start.() do
      {:ok, worker} -> add_worker(state, worker)
      {:error, reason} -> exit({:worker_start_failed, reason})
    end
  end

  defp add_worker(state, worker) do
    state = %{state | workers: MapSet.put(state.workers, worker)}
    hand_out(%{state | idle: :queue.in(worker, state.idle)})
  end

  @impl true
  def handle_call({:checkout, ref}, {caller, _} = from, state) do
    case :queue.out(state.idle) do
      {{:value, worker}, idle} ->
        if Process.alive?(worker) do
          {:reply, worker, loaded(lend(%{state | idle: idle}, worker, caller, ref))}
        else
          # Its exit signal is on its way and will replace it.
          handle_call({:checkout, ref}, from, %{state | idle: idle})
        end

      {:empty, _} ->
        {:noreply, loaded(%{state | waiting: :queue.in({from, ref}, state.waiting)})}
    end
  end

  def handle_call(:size, _from, state), do: {:reply, state.size, state}

  def handle_call(:workers, _from, state) do
    {:reply, MapSet.to_list(state.workers), state}
  end

  @impl true
  def handle_cast({:checkin, worker}, state), do: {:noreply, loaded(give_back(state, worker))}

  def handle_cast({:cancel, ref, caller}, state) do
    waiting = :queue.filter(fn {_from, waiting_ref} -> waiting_ref != ref end, state.waiting)

    lent =
      Enum.find_value(state.busy, fn
        {worker, {^caller, _, ^ref}} -> worker
        _ -> nil
      end)

    state = %{state | waiting: waiting}
    {:noreply, loaded(if(lent, do: give_back(state, lent), else: state))}
  end

  @impl true
  def handle_info({:DOWN, monitor, :process, _caller, _reason}, state) do
    # A caller died holding a worker: take the worker back.
    case Enum.find(state.busy, fn {_worker, {_, m, _}} -> m == monitor end) do
      {worker, _} -> {:noreply, loaded(give_back(state, worker))}
      nil -> {:noreply, state}
    end
  end

  def handle_info({:EXIT, worker, _reason}, state) do
    if MapSet.member?(state.workers, worker) do
      {lent, busy} = Map.pop(state.busy, worker)
      if lent, do: Process.demonitor(elem(lent, 1), [:flush])

      state = %{
        state
        | workers: MapSet.delete(state.workers, worker),
          busy: busy,
          idle: :queue.delete(worker, state.idle)
      }

      {:noreply, loaded(start_worker(state))}
    else
      {:noreply, state}
    end
  end

  def handle_info({Member, :publish}, state) do
    {:noreply, %{state | group: Member.publish(state.group, free(state), state.waiting)}}
  end

  def handle_info(_message, state), do: {:noreply, state}

  # The free workers: those alive and not lent (a worker that just died counts until its
  # exit signal arrives).
  defp free(state), do: MapSet.size(state.workers) - map_size(state.busy)

  # Tells the pool's group, if any, its load after a change.
  defp loaded(%{group: nil} = state), do: state

  defp loaded(state),
    do: %{state | group: Member.changed(state.group, free(state), state.waiting)}

  defp lend(state, worker, caller, ref) do
    monitor = Process.monitor(caller)
    %{state | busy: Map.put(state.busy, worker, {caller, monitor, ref})}
  end

  defp give_back(state, worker) do
    case Map.pop(state.busy, worker) do
      {nil, _} ->
        state

      {{_, monitor, _}, busy} ->
        Process.demonitor(monitor, [:flush])
        state = %{state | busy: busy}

        # A worker that died meanwhile is replaced when its exit signal arrives.
        if Process.alive?(worker) do
          hand_out(%{state | idle: :queue.in(worker, state.idle)})
        else
          state
        end
    end
  end

  # Gives idle workers to waiting callers that are still alive.
  defp hand_out(state) do
    with {{:value, worker}, idle} <- :queue.out(state.idle),
         {{:value, {{caller, _} = from, ref}}, waiting} <- :queue.out(state.waiting) do
      state = %{state | waiting: waiting}

      # A caller on another node is taken as alive: if it is not, the monitor `lend/4`
      # sets on it brings the worker back.
      if node(caller) != node() or Process.alive?(caller) do
        GenServer.reply(from, worker)
        hand_out(lend(%{state | idle: idle}, worker, caller, ref))
      else
        hand_out(state)
      end
    else
      _ -> state
    end
  end
end
