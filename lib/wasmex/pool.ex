defmodule Wasmex.Pool do
  @moduledoc ~S"""
  A pool of Wasm workers: several instances of one module, each in its own store and
  server process, handed out one caller at a time.

  A single `Wasmex` server runs one call at a time. A pool runs up to `:size` calls at
  once, one per worker: the module is compiled once (the workers share an engine) and
  each worker instantiates it. Callers beyond `:size` wait in line, first come first
  served, until a worker is free or their timeout passes. A worker that crashes is
  restarted; a caller that dies returns its worker to the pool.

  It takes the place of poolboy (a hex package) for the pattern in which poolboy is used
  with Wasmex, without its overflow workers: the pool does not grow past `:size`.

  ## Options

    * `:bytes` or `:module` - the module (a Wasm binary or WAT, or a compiled module whose
      engine is given as `:engine`), for the default workers.
    * `:engine` - the engine `:module` was compiled with. Defaults to a new engine.
    * `:imports`, `:links`, `:wasi` - as in `Wasmex.start_link/1`, for every worker.
    * `:worker` - `{module, args}` to run your own worker processes instead of `Wasmex`
      servers: the pool starts each with `module.start_link(args)`. Defaults to `Wasmex`.
    * `:size` - the number of workers. Defaults to `System.schedulers_online()`.
    * `:name` - registers the pool, as in `GenServer.start_link/3`.
    * `:group` - a cluster-wide group (any term) the pool joins: see below.

  ## Across a cluster

  Pools started with the same `:group` on several connected nodes act as one:
  `call_function({:group, group}, ...)` and `transaction({:group, group}, ...)`, from any
  node, run on a pool of the group. The pool of the caller's node is used when it has a
  free worker; otherwise the pool with the most free workers, wherever it is (when every
  pool is busy, the caller waits in its own node's pool, or, on a node without one, in
  the shortest line). Arguments and results cross nodes as terms; imports run on the
  worker's node.

  Pools join the group through OTP's `:pg` (scope `Wasmex.Pool.Group`, started by this
  application): a pool leaves it when it stops or its node disconnects, and new calls
  then go to the others at once. A call in flight on a node that goes down returns
  `{:error, "node down: ..."}`; it is not retried, as a guest call may have effects.
  Each node reads the other pools' loads from a local table, which each pool updates
  from its own node every few milliseconds while its load changes; calls that choose a
  pool send no other message. Finding and connecting nodes is left to you (`Node.connect/1`,
  libcluster and the like).

  ## Example

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 2, bytes: ~S[(module
      ...>   (func (export "add") (param i32 i32) (result i32)
      ...>     (i32.add (local.get 0) (local.get 1))))])
      iex> Wasmex.Pool.call_function(pool, "add", [2, 3])
      {:ok, [5]}
      iex> Wasmex.Pool.transaction(pool, fn worker -> Wasmex.call_function(worker, :add, [1, 1]) end)
      {:ok, [2]}
  """

  import Wasmex.Args, only: [is_server: 1, is_timeout: 1]

  alias Wasmex.Args
  alias Wasmex.Pool.{Group, Member, Server}

  @typedoc "A pool: its pid or registered name."
  @type pool :: GenServer.server()

  @typedoc "The pools of a cluster-wide group, on every connected node (the `:group` option)."
  @type group :: {:group, term()}

  @doc """
  Returns a child specification, so that `{Wasmex.Pool, options}` can be supervised.

      iex> %{id: Wasmex.Pool, type: :supervisor} = Wasmex.Pool.child_spec(size: 1)
  """
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(options) when is_list(options) do
    unless Keyword.keyword?(options), do: Args.invalid!(options: {:keyword, options})

    %{
      id: Keyword.get(options, :name, __MODULE__),
      start: {__MODULE__, :start_link, [options]},
      type: :supervisor
    }
  end

  def child_spec(options), do: Args.invalid!(options: {:keyword, options})

  @doc """
  Starts a pool; see the module documentation for the options.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 3, bytes: "(module)")
      iex> Wasmex.Pool.size(pool)
      3

  A module that does not compile, or a worker that does not start, gives
  `{:error, reason}`; malformed options raise `ArgumentError`.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(options) when is_list(options) do
    unless Keyword.keyword?(options), do: Args.invalid!(options: {:keyword, options})

    options =
      Keyword.validate!(options, [
        :bytes,
        :module,
        :engine,
        :imports,
        :links,
        :wasi,
        :worker,
        :size,
        :name,
        :group
      ])

    Args.name!(Keyword.get(options, :name))
    size = Keyword.get(options, :size, System.schedulers_online())

    unless is_integer(size) and size > 0 do
      raise ArgumentError, "expected :size to be a positive integer, got: #{inspect(size)}"
    end

    group = Keyword.get(options, :group)

    if group != nil and Process.whereis(Member.scope()) == nil do
      raise ArgumentError,
            "a pool with a :group needs the :wasmex_interp application to be started"
    end

    Server.start_link(options, size, group)
  end

  def start_link(options), do: Args.invalid!(options: {:keyword, options})

  @doc """
  Calls the exported function `name` on a free worker (a default, `Wasmex`, worker).

  Waits for a free worker if all are busy. If the whole call, waiting included, takes
  longer than `timeout`, the caller exits as with `GenServer.call/3`.

  With `{:group, group}`, the call runs on a pool of that group, on this node or another
  (see "Across a cluster" above). It returns `{:error, "node down: ..."}` if the node it
  runs on goes down before it answers, and `{:error, "no pool in the group ..."}` if the
  group has no pool.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 1, bytes: ~S[(module
      ...>   (func (export "answer") (result i32) (i32.const 42)))])
      iex> Wasmex.Pool.call_function(pool, :answer, [])
      {:ok, [42]}
      iex> {:ok, _} = Wasmex.Pool.start_link(size: 1, group: :doc_answers, bytes: ~S[(module
      ...>   (func (export "answer") (result i32) (i32.const 42)))])
      iex> Wasmex.Pool.call_function({:group, :doc_answers}, :answer, [])
      {:ok, [42]}
      iex> Wasmex.Pool.call_function({:group, :doc_nobody}, :answer, [])
      {:error, "no pool in the group :doc_nobody"}
  """
  @spec call_function(pool() | group(), String.t() | atom(), list(), timeout()) ::
          {:ok, list()} | {:error, term()}
  def call_function(pool, name, params, timeout \\ 5000)

  def call_function({:group, group}, name, params, timeout)
      when (is_binary(name) or is_atom(name)) and is_list(params) and is_timeout(timeout) do
    # Checked here: a bad argument is this caller's ArgumentError, on any node.
    unless Args.proper_list?(params), do: Args.invalid!(params: {:list, params})

    case Group.call_function(group, name, params, timeout) do
      # As a local call exits (`GenServer.call/3`'s way).
      {:exit, reason} ->
        exit({reason, {__MODULE__, :call_function, [{:group, group}, name, params, timeout]}})

      result ->
        result
    end
  end

  def call_function({:group, _}, name, params, timeout) do
    Args.invalid!(
      name: {:name, name},
      params: {:list, params},
      timeout: {:timeout, timeout}
    )
  end

  def call_function(pool, name, params, timeout) when is_server(pool) and is_timeout(timeout),
    do: Server.call_function(pool, name, params, timeout)

  def call_function(pool, _name, _params, timeout),
    do: Args.invalid!(pool: {:server, pool}, timeout: {:timeout, timeout})

  @doc """
  Checks a worker out, runs `fun` with its pid and checks the worker back in, as
  `:poolboy.transaction/3` does.

  If no worker is free within `timeout`, the caller exits with `{:timeout, _}`.

  With `{:group, group}`, the worker is taken from a pool of that group (see "Across a
  cluster" above) and `fun` runs in the caller, on this node, with a worker that may be on
  another: if that node goes down under a call `fun` makes to the worker (a
  `GenServer.call/3` exit), the transaction returns `{:error, "node down: ..."}`. It
  returns `{:error, "no pool in the group ..."}` if the group has no pool.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 1, bytes: "(module)")
      iex> Wasmex.Pool.transaction(pool, fn worker -> is_pid(worker) end)
      true
  """
  @spec transaction(pool() | group(), (pid() -> result), timeout()) ::
          result | {:error, String.t()}
        when result: term()
  def transaction(pool, fun, timeout \\ 5000)

  def transaction({:group, group}, fun, timeout) when is_function(fun, 1) and is_timeout(timeout),
    do: Group.transaction(group, fun, timeout)

  def transaction({:group, _}, fun, timeout),
    do: Args.invalid!(fun: {:fun1, fun}, timeout: {:timeout, timeout})

  def transaction(pool, fun, timeout)
      when is_server(pool) and is_function(fun, 1) and is_timeout(timeout),
      do: Server.transaction(pool, fun, timeout)

  def transaction(pool, fun, timeout),
    do: Args.invalid!(pool: {:server, pool}, fun: {:fun1, fun}, timeout: {:timeout, timeout})

  @doc """
  Takes a free worker out of the pool, waiting up to `timeout` for one.

  Give it back with `checkin/2`; if the caller dies first, the pool takes it back.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 1, bytes: "(module)")
      iex> worker = Wasmex.Pool.checkout(pool)
      iex> Wasmex.Pool.checkin(pool, worker)
      :ok
  """
  @spec checkout(pool(), timeout()) :: pid()
  def checkout(pool, timeout \\ 5000)

  def checkout({:group, _} = group, _timeout), do: not_for_groups!(group)

  def checkout(pool, timeout) when is_server(pool) and is_timeout(timeout),
    do: Server.checkout(pool, timeout)

  def checkout(pool, timeout),
    do: Args.invalid!(pool: {:server, pool}, timeout: {:timeout, timeout})

  @doc """
  Gives a worker taken with `checkout/2` back to the pool.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 1, bytes: "(module)")
      iex> Wasmex.Pool.checkin(pool, Wasmex.Pool.checkout(pool))
      :ok
  """
  @spec checkin(pool(), pid()) :: :ok
  def checkin({:group, _} = group, _worker), do: not_for_groups!(group)

  def checkin(pool, worker) when is_server(pool) and is_pid(worker),
    do: Server.checkin(pool, worker)

  def checkin(pool, worker), do: Args.invalid!(pool: {:server, pool}, worker: {:pid, worker})

  @doc """
  Returns the number of workers.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 2, bytes: "(module)")
      iex> Wasmex.Pool.size(pool)
      2
  """
  @spec size(pool()) :: pos_integer()
  def size({:group, _} = group), do: not_for_groups!(group)

  def size(pool) when is_server(pool), do: Server.size(pool)
  def size(pool), do: Args.invalid!(pool: {:server, pool})

  @doc """
  Returns the pids of the workers.

      iex> {:ok, pool} = Wasmex.Pool.start_link(size: 2, bytes: "(module)")
      iex> [_, _] = Wasmex.Pool.workers(pool)
  """
  @spec workers(pool()) :: [pid()]
  def workers({:group, _} = group), do: not_for_groups!(group)

  def workers(pool) when is_server(pool), do: Server.workers(pool)
  def workers(pool), do: Args.invalid!(pool: {:server, pool})

  defp not_for_groups!(group) do
    raise ArgumentError,
          "expected a pool, got: #{inspect(group)} (a group takes call_function/4 and transaction/3)"
  end
end
