defmodule Wasmex.Call do
  @moduledoc false
  # Drives guest calls in the calling process (see native/wasmex_interp/src/call.rs):
  #
  #   * `:yield` - the NIF ran guest code for its time budget (0.2 ms); check the deadline,
  #     resume.
  #   * `{:host_call, index, params, memory}` - the guest called an Elixir import: run the
  #     callback here, resume with its results (or abort the call if it failed).
  #   * `{:error, :busy}` - another process owns the store: wait for
  #     `{:"$wasmex_store_free", id}` and retry.
  #
  # Between NIF calls the BEAM can preempt this process, so a long guest call never
  # holds a scheduler thread for more than a slice.

  alias Wasmex.{Deadline, Instance, Native, StoreOrCaller}

  # A waiter re-polls the store this often, in case the process it was woken after died
  # before using the store (its wake-up would otherwise be lost).
  @repoll_ms 100

  @doc false
  @spec call_function(StoreOrCaller.t(), Instance.t(), String.t(), list(), timeout()) ::
          {:ok, list()} | {:error, String.t()}
  def call_function(store, %Instance{resource: instance} = i, name, params, timeout) do
    run(store, i, timeout, fn s -> Native.instance_call_function(s, instance, name, params) end)
  end

  @doc false
  @spec call_start(StoreOrCaller.t(), Instance.t()) :: {:ok, list()} | {:error, String.t()}
  def call_start(store, %Instance{resource: instance} = i) do
    run(store, i, :infinity, fn s -> Native.instance_call_start(s, instance) end)
  end

  defp run(store, instance, timeout, start) do
    start(store, instance, Deadline.from_timeout(timeout), timeout, start)
  end

  defp start(%StoreOrCaller{resource: store} = s, instance, deadline, timeout, start) do
    case start.(store) do
      {:ok, _} = done ->
        done

      {:error, :busy} ->
        case await(store, deadline) do
          :ok -> start(s, instance, deadline, timeout, start)
          :timeout -> timeout_error(timeout)
        end

      {:error, _} = error ->
        error

      suspended ->
        drive(suspended, {s, instance, deadline, timeout})
    end
  end

  defp drive({:ok, _} = done, _call), do: done
  defp drive({:error, _} = error, _call), do: error

  defp drive(:yield, {%StoreOrCaller{resource: store}, _, deadline, timeout} = call) do
    if Deadline.expired?(deadline) do
      abort(store, timeout)
    else
      drive(Native.call_resume(store, nil), call)
    end
  end

  # The guest sleeps (WASI): wait here, then go on, or stop at the deadline.
  defp drive(
         {:sleep, microseconds},
         {%StoreOrCaller{resource: store}, _, deadline, timeout} = call
       ) do
    ms = div(microseconds + 999, 1000)

    if Deadline.remaining(deadline) <= ms do
      Process.sleep(Deadline.remaining(deadline))
      abort(store, timeout)
    else
      Process.sleep(ms)
      drive(Native.call_resume(store, nil), call)
    end
  end

  defp drive({:host_call, index, params, memory}, call) do
    {%StoreOrCaller{resource: store} = s, instance, deadline, timeout} = call
    {fun, result_count} = elem(instance.callbacks, index)

    context = %{
      store: s,
      caller: s,
      instance: instance,
      memory: memory,
      params: params,
      pid: self()
    }

    reply =
      try do
        results = fun |> invoke(context, params) |> results(result_count)

        if Deadline.expired?(deadline),
          do: abort(store, timeout),
          else: Native.call_resume(store, results)
      catch
        kind, reason -> Native.call_abort(store, callback_error(kind, reason, __STACKTRACE__))
      end

    drive(reply, call)
  end

  # Seed style: `fn context -> ... end` with the arguments in `context.params`;
  # Wasmex style: `fn context, a, b -> ... end`. With no params both are `fn context`.
  defp invoke(fun, context, _params) when is_function(fun, 1), do: fun.(context)
  defp invoke(fun, context, params), do: apply(fun, [context | params])

  # No results: the return value is ignored (`IO.puts/1`'s `:ok` is fine). Otherwise a
  # list, or a bare value for a single result.
  defp results(_value, 0), do: []
  defp results(values, _count) when is_list(values), do: values
  defp results(value, _count), do: [value]

  defp callback_error(kind, reason, stacktrace) do
    kind |> Exception.format_banner(reason, stacktrace) |> String.trim_leading("** ")
  end

  defp abort(store, timeout) do
    Native.call_abort(store, nil)
    timeout_error(timeout)
  end

  defp timeout_error(timeout) do
    {:error, "timeout: the call did not finish within #{timeout} ms"}
  end

  @doc false
  # Whether a call's result is the timeout error above.
  @spec timeout?(term()) :: boolean()
  def timeout?({:error, "timeout: the call did not finish within " <> _}), do: true
  def timeout?(_result), do: false

  @doc false
  # Runs a store operation that may find the store busy, waiting as long as it takes.
  @spec on_store(reference(), (() -> result)) :: result when result: term()
  def on_store(store, operation) do
    case operation.() do
      {:error, :busy} ->
        await(store, :infinity)
        on_store(store, operation)

      result ->
        result
    end
  end

  # Waits for a wake-up after the NIF queued this process as a waiter of `store`.
  @spec await(reference(), Deadline.t()) :: :ok | :timeout
  defp await(store, deadline) do
    receive do
      {:"$wasmex_store_free", _id} -> :ok
    after
      min(@repoll_ms, Deadline.remaining(deadline)) ->
        # Leave the queue; a wake-up sent meanwhile is already in the mailbox: drop it.
        Native.store_unwait(store)

        receive do
          {:"$wasmex_store_free", _id} -> :ok
        after
          0 -> :ok
        end

        if Deadline.expired?(deadline), do: :timeout, else: :ok
    end
  end
end
