defmodule Wasmex.Call do
  @moduledoc false
  # Drives a guest call in the calling process: the Elixir half of the call protocol, which
  # is described once, in native/wasmex_core/src/call.rs. Each NIF step answers
  #
  #   * `{:ok, results}` or `{:error, reason}` - the call is over;
  #   * `:yield` - it ran for its time budget: check the deadline, `call_resume/1`;
  #   * `{:sleep, microseconds}` - the guest sleeps: wait here, then `call_resume/1`;
  #   * `{:host_call, index, params, memory}` - run the Elixir import here, then
  #     `call_resume_host/2` with its results (or `call_abort/2` if it failed).
  #
  # Between two steps the BEAM can preempt this process, so a guest call never holds a
  # scheduler for more than a time budget. Waiting for a store that another process uses,
  # and moving heavy work to a dirty scheduler, happen below this module (`Wasmex.Native`).

  alias Wasmex.{Deadline, Native}

  # A call being driven: the store (`%Wasmex.StoreOrCaller{}`), the instance
  # (`%Wasmex.Instance{}`, for its callbacks), the deadline and the timeout it came from.
  @typep call :: {map(), map(), Deadline.t(), timeout()}

  @doc false
  # `store` and `instance` are `%Wasmex.StoreOrCaller{}` and `%Wasmex.Instance{}` (matched
  # as maps: `Wasmex.Instance` calls this module).
  @spec call_function(map(), map(), String.t(), list(), timeout()) ::
          {:ok, list()} | {:error, String.t()}
  def call_function(%{resource: store} = s, %{resource: instance} = i, name, params, timeout) do
    deadline = Deadline.from_timeout(timeout)

    store
    |> Native.instance_call_function(instance, name, params, deadline)
    |> run({s, i, deadline, timeout})
  end

  @doc false
  # Runs the start function of an instance made by `Wasmex.Instance.new/4`.
  @spec call_start(map(), map()) :: {:ok, list()} | {:error, String.t()}
  def call_start(%{resource: store} = s, %{resource: instance} = i) do
    store
    |> Native.instance_call_start(instance)
    |> run({s, i, :infinity, :infinity})
  end

  # The deadline passed while the call waited for the store.
  @spec run(term(), call()) :: {:ok, list()} | {:error, String.t()}
  defp run(:timeout, {_, _, _, timeout}), do: timeout_error(timeout)

  defp run(reply, {%{resource: store}, _, _, _} = call) do
    drive(reply, call)
  catch
    kind, reason ->
      # Never leave a suspended call behind: the store would stay this process's.
      Native.call_abort(store, nil)
      :erlang.raise(kind, reason, __STACKTRACE__)
  end

  defp drive({:ok, _} = done, _call), do: done
  defp drive({:error, _} = error, _call), do: error

  defp drive(:yield, {%{resource: store}, _, deadline, timeout} = call) do
    if Deadline.expired?(deadline),
      do: abort(store, timeout),
      else: drive(Native.call_resume(store), call)
  end

  # The guest sleeps (WASI): wait here, then go on, or stop at the deadline.
  defp drive({:sleep, microseconds}, {%{resource: store}, _, deadline, timeout} = call) do
    ms = div(microseconds + 999, 1000)

    case Deadline.remaining(deadline) do
      remaining when remaining <= ms ->
        Deadline.sleep(remaining)
        abort(store, timeout)

      _later_or_never ->
        Deadline.sleep(ms)
        drive(Native.call_resume(store), call)
    end
  end

  defp drive({:host_call, index, params, memory}, call) do
    {%{resource: store} = s, instance, deadline, timeout} = call
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
          else: Native.call_resume_host(store, results)
      catch
        kind, reason -> Native.call_abort(store, callback_error(kind, reason, __STACKTRACE__))
      end

    drive(reply, call)
  end

  # `fn context -> ... end` with the arguments in `context.params`, or Wasmex's form
  # `fn context, a, b -> ... end`. With no params both are `fn context`.
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
end
