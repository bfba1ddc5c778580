defmodule Wasmex.Server.Setup do
  @moduledoc false
  # Builds what a `Wasmex` server owns from the options of `Wasmex.start_link/1`: the
  # store, the module, its links and the instance. Runs in the caller of `start_link/1`,
  # so that a bad module is an `{:error, reason}` there rather than a crash in `init/1`.

  alias Wasmex.{Instance, Module, Store}
  alias Wasmex.Wasi.WasiOptions

  @doc false
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
      {name, %{} = link} when (is_binary(name) or is_atom(name)) and not is_struct(link) ->
        Wasmex.Args.keys!(link, [:bytes, :module, :links])
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
end
