defmodule Wasmex do
  @moduledoc ~S"""
  WebAssembly for Elixir, with the Wasmex API, on the wasmi interpreter.

  Swap the `:wasmex` dependency for `:wasmex_interp` and keep your code: the modules and
  calls are Wasmex's. What differs is underneath: guests run in the calling process in
  fuel slices (no JIT, no background threads), Elixir imports are called in that same
  process, and the same guest uses the same fuel on every run and every CPU.

    * `Wasmex.Store` - creates stores, with optional fuel and limits.
    * `Wasmex.Module` - compiles Wasm binaries or WAT.
    * `Wasmex.Instance` - instantiates modules with Elixir imports; calls functions.
    * `Wasmex.Memory` - reads and writes guest memory.
    * `Wasmex.Pool` - a pool of instances of one module.

  This module is the convenience API: a GenServer that owns one instance. Calls to it run
  one at a time, in order, in a runner process of the server, and so do the instance's
  Elixir imports (`context.pid` is the runner). A call past its timeout is stopped, even
  inside an Elixir import that never returns, and the server goes on with the next.

  ## Example

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: ~S[(module
      ...>   (func (export "add") (param i32 i32) (result i32)
      ...>     (i32.add (local.get 0) (local.get 1))))]})
      iex> Wasmex.call_function(pid, "add", [2, 3])
      {:ok, [5]}
      iex> Wasmex.call_function(pid, :add, [40, 2])
      {:ok, [42]}
  """

  alias Wasmex.{Instance, Memory, Module, StoreOrCaller}

  @grace_ms 10

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
  def child_spec(options) do
    %{id: __MODULE__, start: {__MODULE__, :start_link, [options]}}
  end

  @doc """
  Starts a GenServer that owns one instance of a module.

  ## Options

    * `:bytes` - the module as a Wasm binary or WAT text, compiled in the server's store.
    * `:module` - an already compiled `Wasmex.Module`; needs the `:store` it was compiled
      with (or one of the same engine).
    * `:store` - the store to use. Defaults to a new store (a WASI store with `:wasi`).
    * `:instance` - an existing instance; needs its `:store` and `:module`.
    * `:imports` - Elixir imports, as in `Wasmex.Instance.new/4`. Their callbacks run in the
      server process. Defaults to `%{}`.
    * `:links` - modules to link, by import namespace: `%{"utils" => %{bytes: wasm}}` or
      `%{"utils" => %{module: module}}`; a link may have `:links` of its own. Nested links
      are instantiated first. Defaults to `%{}`.
    * `:wasi` - `true`, or a `Wasmex.Wasi.WasiOptions`, for a WASI store (ignored with
      `:store`). Defaults to `false`.
    * `:name` - registers the server, as in `GenServer.start_link/3`.

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
  def start_link(options) when is_list(options), do: start_link(Map.new(options))

  def start_link(%{} = options)
      when is_map_key(options, :module) and not is_map_key(options, :store),
      do: {:error, :must_specify_store_used_to_compile_module}

  def start_link(%{} = options)
      when is_map_key(options, :instance) and
             (not is_map_key(options, :store) or not is_map_key(options, :module)),
      do: {:error, :must_specify_store_and_module_used_to_instantiate_instance}

  def start_link(%{} = options) do
    with {:ok, state} <- Wasmex.Server.prepare(options) do
      GenServer.start_link(Wasmex.Server, state, Keyword.take(Map.to_list(options), [:name]))
    end
  end

  @doc """
  Calls the exported function `name` (a string or an atom) with `params`.

  Calls run one at a time, in order. If one does not finish within `timeout`
  milliseconds, the caller exits as with `GenServer.call/3`, and the guest is stopped (an
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
  def call_function(server, name, params, timeout \\ 5000) do
    # The guest gets a little longer than the caller waits, so that a call past its timeout
    # always ends with the caller's exit (and the guest stopped right after), never with
    # a race between the two.
    deadline = if timeout == :infinity, do: :infinity, else: now() + timeout + @grace_ms
    GenServer.call(server, {:call_function, stringify(name), params, deadline}, timeout)
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
  def function_exists(server, name),
    do: GenServer.call(server, {:function_exists, stringify(name)})

  @doc """
  Returns the instance's first exported memory.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: ~S[(module (memory (export "memory") 1))]})
      iex> {:ok, %Wasmex.Memory{}} = Wasmex.memory(pid)
  """
  @spec memory(GenServer.server()) :: {:ok, Memory.t()} | {:error, String.t()}
  def memory(server), do: GenServer.call(server, :memory)

  @doc """
  Returns the server's store.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: "(module)"})
      iex> {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.store(pid)
  """
  @spec store(GenServer.server()) :: {:ok, StoreOrCaller.t()}
  def store(server), do: GenServer.call(server, :store)

  @doc """
  Returns the server's module.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: "(module)"})
      iex> {:ok, %Wasmex.Module{}} = Wasmex.module(pid)
  """
  @spec module(GenServer.server()) :: {:ok, Module.t()}
  def module(server), do: GenServer.call(server, :module)

  @doc """
  Returns the server's instance.

      iex> {:ok, pid} = Wasmex.start_link(%{bytes: "(module)"})
      iex> {:ok, %Wasmex.Instance{}} = Wasmex.instance(pid)
  """
  @spec instance(GenServer.server()) :: {:ok, Instance.t()}
  def instance(server), do: GenServer.call(server, :instance)

  defp stringify(name) when is_binary(name), do: name
  defp stringify(name) when is_atom(name), do: Atom.to_string(name)

  defp now, do: System.monotonic_time(:millisecond)
end
