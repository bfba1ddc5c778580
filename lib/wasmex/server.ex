defmodule Wasmex.Server do
  @moduledoc false
  # The GenServer behind `Wasmex` (the Agent / Agent.Server split): the client functions
  # are in `Wasmex`, the callbacks here.

  use GenServer

  alias Wasmex.{Instance, Memory, Module, Store}
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

  @impl true
  def init(state), do: {:ok, state}

  # The replies to :call_function, :function_exists and :memory are `{:ok, result}`, or
  # `{:raise, error}` for an ArgumentError (e.g. a function name that is not UTF-8): the
  # client raises it (`Wasmex`), and a bad argument never takes the server down.
  @impl true
  def handle_call({:call_function, name, params, deadline}, _from, state) do
    timeout = remaining(deadline)

    reply =
      catching(fn ->
        Instance.call_function(state.store, state.instance, name, params, timeout: timeout)
      end)

    {:reply, reply, state}
  end

  def handle_call({:function_exists, name}, _from, state) do
    reply = catching(fn -> Instance.function_export_exists(state.store, state.instance, name) end)
    {:reply, reply, state}
  end

  def handle_call(:memory, _from, state) do
    {:reply, catching(fn -> Memory.from_instance(state.store, state.instance) end), state}
  end

  def handle_call(key, _from, state) when key in [:store, :module, :instance] do
    {:reply, {:ok, Map.fetch!(state, key)}, state}
  end

  @impl true
  # A wake-up for a store this server stopped waiting for (see `Wasmex.Call`).
  def handle_info({:"$wasmex_store_free", _id}, state), do: {:noreply, state}

  def handle_info(message, state) do
    # What GenServer's default does (calling `super` for it is deprecated).
    require Logger
    Logger.error("#{inspect(self())} received an unexpected message: #{inspect(message)}")
    {:noreply, state}
  end

  defp catching(fun) do
    {:ok, fun.()}
  rescue
    error in ArgumentError -> {:raise, error}
  end

  defp remaining(:infinity), do: :infinity
  defp remaining(deadline), do: max(deadline - System.monotonic_time(:millisecond), 0)
end
