defmodule Wasmex do
  # The moduledoc is the README's introduction (between its `<!-- MDOC -->` markers), so
  # that the two cannot drift; its example runs as a doctest (test/wasmex_test.exs).
  @external_resource readme = Path.join(__DIR__, "../README.md")
  @moduledoc readme |> File.read!() |> String.split("<!-- MDOC -->") |> Enum.fetch!(1)

  import Wasmex.Args, only: [is_server: 1, is_timeout: 1]

  alias Wasmex.{Args, Deadline, Instance, Memory, Module, StoreOrCaller}

  @typedoc """
  Options of `start_link/1`, as a map (or keyword list).
  """
  @type options :: %{
          optional(:bytes) => binary(),
          optional(:module) => Module.t(),
          optional(:store) => StoreOrCaller.t(),
          optional(:instance) => Instance.t(),
          optional(:imports) => Instance.imports(),
          optional(:links) => %{optional(String.t() | atom()) => map()},
          optional(:wasi) => boolean() | Wasmex.Wasi.WasiOptions.t(),
          optional(:name) => GenServer.name()
        }

  @doc """
  Returns a child specification, so that `{Wasmex, options}` can be supervised.

      iex> %{id: Wasmex, start: {Wasmex, :start_link, [%{bytes: "(module)"}]}} =
      ...>   Wasmex.child_spec(%{bytes: "(module)"})
  """
  @spec child_spec(options()) :: Supervisor.child_spec()
  def child_spec(options) when is_map(options) or is_list(options) do
    unless is_map(options) or Keyword.keyword?(options),
      do: Args.invalid!(options: {:options, options})

    %{id: __MODULE__, start: {__MODULE__, :start_link, [options]}}
  end

  def child_spec(options), do: Args.invalid!(options: {:options, options})

  @doc """
  Starts a GenServer that owns one instance of a module.

  ## Options

    * `:bytes` - the module as a Wasm binary or WAT text, compiled in the server's store.
    * `:module` - an already compiled `Wasmex.Module`; needs the `:store` it was compiled
      with (or one of the same engine).
    * `:store` - the store to use. Defaults to a new store (a WASI store with `:wasi`).
    * `:instance` - an existing instance; needs its `:store` and `:module`.
    * `:imports` - Elixir imports, as in `Wasmex.Instance.new/4`. Their callbacks run in the
      server's runner process (`context.pid`). Defaults to `%{}`.
    * `:links` - modules to link, by import namespace: `%{"utils" => %{bytes: wasm}}` or
      `%{"utils" => %{module: module}}`; a link may have `:links` of its own. Nested links
      are instantiated first. Defaults to `%{}`.
    * `:wasi` - `true`, or a `Wasmex.Wasi.WasiOptions`, for a WASI store (ignored with
      `:store`). Defaults to `false`.
    * `:name` - registers the server, as in `GenServer.start_link/3`.

  Any other key raises an `ArgumentError` naming it (Wasmex ignores it).

  Returns `{:error, :must_specify_store_used_to_compile_module}` for `:module` without
  `:store`, `{:error, :must_specify_store_and_module_used_to_instantiate_instance}` for
  `:instance` without both, and `{:error, reason}` when compiling or instantiating fails
  (Wasmex raises in those cases instead).

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, "(module)")
      iex> {:ok, _pid} = Wasmex.start_link(%{store: store, module: module})
      iex> Wasmex.start_link(%{module: module})
      {:error, :must_specify_store_used_to_compile_module}
  """
  @spec start_link(options() | keyword()) :: GenServer.on_start()
  def start_link(options) when is_list(options) do
    unless Keyword.keyword?(options), do: Args.invalid!(options: {:options, options})
    start_link(Map.new(options))
  end

  def start_link(%{} = options) do
    # Wasmex compat: Wasmex ignores keys it does not know; a misspelt one (`imprts:`)
    # raises here instead of starting a server without it.
    Args.keys!(options, [:bytes, :module, :store, :instance, :imports, :links, :wasi, :name])
    start(options)
  end

  def start_link(options), do: Args.invalid!(options: {:options, options})

  defp start(options) when is_map_key(options, :module) and not is_map_key(options, :store),
    do: {:error, :must_specify_store_used_to_compile_module}

  defp start(options)
       when is_map_key(options, :instance) and
              (not is_map_key(options, :store) or not is_map_key(options, :module)),
       do: {:error, :must_specify_store_and_module_used_to_instantiate_instance}

  defp start(options) do
    Args.name!(Map.get(options, :name))

    with {:ok, state} <- Wasmex.Server.Setup.prepare(options) do
      GenServer.start_link(Wasmex.Server, state, Keyword.take(Map.to_list(options), [:name]))
    end
  end

  @doc """
  Calls the exported function `name` (a string or an atom) with `params`.

  Calls run one at a time, in order. If one does not finish within `timeout`
  milliseconds, the caller exits as with `GenServer.call/3` (with
  `{:timeout, {GenServer, :call, _}}`, never a timeout error), and the guest is stopped (an
  Elixir import that has not returned 100 ms later is killed with its runner process): the
  server stays up, keeps the instance and serves the next call.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: ~S[(module
      ...>   (func (export "spin") (loop (br 0)))
      ...>   (func (export "one") (result i32) (i32.const 1)))]})
      iex> catch_exit(Wasmex.call_function(pid, "spin", [], 50)) |> elem(0)
      :timeout
      iex> Wasmex.call_function(pid, "one", [])
      {:ok, [1]}
  """
  @spec call_function(GenServer.server(), String.t() | atom(), [Instance.value()], timeout()) ::
          {:ok, [Instance.value()]} | {:error, term()}
  def call_function(server, name, params, timeout \\ 5000)

  def call_function(server, name, params, timeout)
      when is_server(server) and (is_binary(name) or is_atom(name)) and is_list(params) and
             is_timeout(timeout) do
    # Checked here: a bad argument is the caller's ArgumentError, never a crash of the server.
    unless Args.proper_list?(params), do: Args.invalid!(params: {:list, params})

    # The guest's deadline is the caller's: the server stops the guest there and does not
    # answer a call past it, so the caller always leaves with `GenServer.call/3`'s exit.
    server
    |> GenServer.call(
      {:call_function, Args.name_string!(name, "a function name"), params,
       Deadline.for_server(server, timeout)},
      timeout
    )
    |> unwrap!()
  end

  def call_function(server, name, params, timeout) do
    Args.invalid!(
      server: {:server, server},
      name: {:name, name},
      params: {:list, params},
      timeout: {:timeout, timeout}
    )
  end

  @doc """
  Returns whether the instance exports a function `name`.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: ~S[(module (func (export "f")))]})
      iex> Wasmex.function_exists(pid, :f)
      true
      iex> Wasmex.function_exists(pid, "g")
      false
  """
  @spec function_exists(GenServer.server(), String.t() | atom()) :: boolean()
  def function_exists(server, name) when is_server(server) and (is_binary(name) or is_atom(name)),
    do:
      server
      |> GenServer.call({:function_exists, Args.name_string!(name, "a function name")})
      |> unwrap!()

  def function_exists(server, name),
    do: Args.invalid!(server: {:server, server}, name: {:name, name})

  @doc """
  Returns the instance's first exported memory.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: ~S[(module (memory (export "memory") 1))]})
      iex> {:ok, %Wasmex.Memory{}} = Wasmex.memory(pid)
  """
  @spec memory(GenServer.server()) :: {:ok, Memory.t()} | {:error, String.t()}
  def memory(server), do: server |> get(:memory) |> unwrap!()

  # `store/1`, `module/1` and `instance/1`.
  for {part, struct} <- [store: StoreOrCaller, module: Module, instance: Instance] do
    @doc """
    Returns the server's #{part}.

        iex> {:ok, pid} = Wasmex.start_link(%{bytes: "(module)"})
        iex> {:ok, %#{inspect(struct)}{}} = Wasmex.#{part}(pid)
    """
    @spec unquote(part)(GenServer.server()) :: {:ok, unquote(struct).t()}
    def unquote(part)(server), do: get(server, unquote(part))
  end

  defp get(server, what) when is_server(server), do: GenServer.call(server, what)
  defp get(server, _what), do: Args.invalid!(server: {:server, server})

  # See `Wasmex.Server.Runner`: an exception in the server is raised here, in the caller.
  defp unwrap!({:ok, result}), do: result
  defp unwrap!({:raise, error}), do: raise(error)
end
