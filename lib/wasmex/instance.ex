defmodule Wasmex.Instance do
  @moduledoc ~S"""
  An instance of a `Wasmex.Module` in a store: its functions can be called, its memory
  and globals read and written.

  Calls run in the calling process, in slices of about 0.2 ms, so a long
  or endless guest call never blocks a scheduler and can be stopped by a timeout or by
  killing the process. Elixir imports (see `new/4`) also run in the calling process.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (func (export "add") (param i32 i32) (result i32)
      ...>     (i32.add (local.get 0) (local.get 1))))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.call_function(store, instance, "add", [2, 3])
      {:ok, [5]}
  """

  require Wasmex.Compat, as: Compat
  alias Wasmex.{Args, Call, Memory, Module, Native, StoreOrCaller}

  defstruct [:resource, callbacks: {}]

  @type t :: %__MODULE__{resource: reference(), callbacks: tuple()}

  @typedoc """
  A value passed to or returned from WebAssembly: an integer for `i32`, `i64` and `v128`
  (unsigned), a float for `f32` and `f64`. Floats that Erlang cannot hold come out of Wasm
  as `:nan`, `:infinity` or `:neg_infinity`, and are accepted going in.
  """
  @type value :: integer() | float() | :nan | :infinity | :neg_infinity

  @typedoc """
  A callback for an imported function: `fn context, arg1, ..., argN -> result end`
  (Wasmex style: one result bare, several as a list) or `fn context -> results end` with
  the arguments in `context.params` (results as a list). The context has `:store` and
  `:caller` (the store, usable for memory, globals, fuel and calls into the instance),
  `:instance`, `:memory` (the calling instance's export `"memory"`, or `nil`), `:params`
  and `:pid`.
  """
  @type callback :: (... -> value() | [value()] | term())

  @typedoc """
  The imports of `new/4`: `%{namespace => %{name => {:fn, param_types, result_types,
  callback}}}`, with atom or string keys at both levels.
  """
  @type imports :: %{
          optional(String.t() | atom()) => %{
            optional(String.t() | atom()) => {:fn, [atom()], [atom()], callback()}
          }
        }

  @typedoc "A module to link: its exports satisfy imports from the namespace `name`."
  @type link :: %{name: String.t() | atom(), module: Module.t()}

  @doc """
  Instantiates `module` in `store` with Elixir `imports` and linked modules.

  Each import is `{:fn, param_types, result_types, callback}`; types are `:i32`, `:i64`,
  `:f32`, `:f64` and `:v128`. The callback runs in the process that makes the call into
  the guest; see `t:callback/0`. Imports under `"wasi_snapshot_preview1"` take the place
  of the built-in WASI functions of the same name.

  `links` are instantiated first, in order, each under its `name`, and satisfy the
  module's imports from that namespace (the Elixir imports, and the links before it, are
  offered to each of them too). Each module's start function runs right after it is
  instantiated, before the next one is.

  A module whose import nobody provides fails with
  `unknown import: `ns::name` has not been defined`; one provided with the wrong type
  fails with `incompatible import type for `ns::name`: the module expects (i32) -> i32,
  given () -> ()` (in Wasmex compatibility mode, as in Wasmex, the message ends before the
  colon). A module's start function runs before `new/4` returns, as an ordinary call.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (import "env" "double" (func $double (param i32) (result i32)))
      ...>   (func (export "quadruple") (param i32) (result i32)
      ...>     (call $double (call $double (local.get 0)))))])
      iex> imports = %{env: %{double: {:fn, [:i32], [:i32], fn _context, x -> 2 * x end}}}
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, imports)
      iex> Wasmex.Instance.call_function(store, instance, "quadruple", [5])
      {:ok, [20]}
      iex> Wasmex.Instance.new(store, module, %{})
      {:error, "unknown import: `env::double` has not been defined"}
  """
  @spec new(StoreOrCaller.t(), Module.t(), imports(), [link()]) ::
          {:ok, t()} | {:error, String.t()}
  def new(store, module, imports, links \\ [])

  def new(%StoreOrCaller{} = store, %Module{resource: m}, imports, links)
      when is_map(imports) and not is_struct(imports) and is_list(links) do
    unless Args.proper_list?(links), do: Args.invalid!(links: {:list, links})
    # Built without a `for` or `Enum.unzip/1` (they reverse the whole list at the end, and
    # with 200,000 imports that held a scheduler for milliseconds): body-recursive passes.
    entries = imports |> Map.to_list() |> import_entries()
    specs = Enum.map(entries, &elem(&1, 0))
    callbacks = entries |> Enum.map(&elem(&1, 1)) |> List.to_tuple()
    links = Enum.map(links, &link/1)

    with {:ok, linked} <- instantiate_links(store, links, specs, callbacks, []) do
      instantiate(store, m, specs, linked, callbacks)
    end
  end

  def new(store, module, imports, links) do
    Args.invalid!(
      store: {StoreOrCaller, store},
      module: {Module, module},
      imports: {:map, imports},
      links: {:list, links}
    )
  end

  defp import_entries([]), do: []

  defp import_entries([{namespace, entries} | namespaces]) do
    namespace = Args.name_string!(namespace, "an import namespace")
    entries = namespace |> import_namespace(entries) |> Map.to_list()
    import_entries(namespace, entries, namespaces)
  end

  defp import_entries(namespace, [{name, entry} | entries], namespaces) do
    entry = import_entry(namespace, Args.name_string!(name, "an import name"), entry)
    [entry | import_entries(namespace, entries, namespaces)]
  end

  defp import_entries(_namespace, [], namespaces), do: import_entries(namespaces)

  defp import_namespace(_namespace, entries) when is_map(entries), do: entries

  defp import_namespace(namespace, entries) do
    raise ArgumentError,
          "expected the imports of #{inspect(namespace)} to be a map, got: #{inspect(entries)}"
  end

  defp import_entry(namespace, name, {:fn, params, results, fun} = entry)
       when is_list(params) and is_list(results) and is_function(fun) do
    unless Args.proper_list?(params) and Args.proper_list?(results) do
      raise ArgumentError,
            "expected the types of #{namespace}::#{name} to be lists, got: #{inspect(entry)}"
    end

    {:arity, arity} = Function.info(fun, :arity)

    unless arity == 1 or arity == length(params) + 1 do
      raise ArgumentError,
            "expected the callback of #{namespace}::#{name} to take 1 argument (the context) " <>
              "or #{length(params) + 1} (the context and each param), got: #{inspect(entry)}"
    end

    {{namespace, name, params, results}, {fun, length(results)}}
  end

  defp import_entry(namespace, name, entry) do
    raise ArgumentError,
          "expected #{namespace}::#{name} to be {:fn, params, results, callback}, " <>
            "got: #{inspect(entry)}"
  end

  defp link(%{name: name, module: %Module{resource: module}}),
    do: {Args.name_string!(name, "a link name"), module}

  defp link(other) do
    raise ArgumentError,
          "expected a link to be %{name: name, module: %Wasmex.Module{}}, got: #{inspect(other)}"
  end

  # Each linked module is instantiated, and its start function run, before the next: the
  # spec's order (a start function may write memory that a later data segment overwrites).
  defp instantiate_links(_store, [], _specs, _callbacks, linked),
    do: {:ok, Enum.reverse(linked)}

  defp instantiate_links(store, [{name, module} | links], specs, callbacks, linked) do
    with {:ok, instance} <- instantiate(store, module, specs, Enum.reverse(linked), callbacks) do
      instantiate_links(store, links, specs, callbacks, [{name, instance.resource} | linked])
    end
  end

  defp instantiate(%{resource: s} = store, module, specs, linked, callbacks) do
    case Native.instance_new(s, module, specs, linked) do
      {:ok, {resource, start?}} ->
        instance = %__MODULE__{resource: resource, callbacks: callbacks}
        if start?, do: run_start(store, instance), else: {:ok, instance}

      {:error, _} = error ->
        error
    end
  end

  defp run_start(store, instance) do
    case Call.call_start(store, instance) do
      {:ok, _} -> {:ok, instance}
      {:error, _} = error -> error
    end
  end

  @doc """
  Calls the exported function `name` with `params` and returns its results.

  The call runs in the calling process, in fuel slices, so other processes keep running
  meanwhile. Traps return `{:error, message}` where the message starts with the trap,
  e.g. `"unreachable"`, `"out of bounds memory access"`, `"integer divide by zero"`,
  `"call stack exhausted"` or `"all fuel consumed"`. (In Wasmex compatibility mode, a
  failure during the call is worded as in Wasmex: `"Error during function excecution
  (wasm trap: integer divide by zero): ..."`, or `"Error during function excecution: ..."`
  when it is not a trap.)

  ## Options

    * `:timeout` - milliseconds the call may run, or `:infinity`. A call still running
      then stops within a slice and returns
      `{:error, "timeout: the call did not finish within <timeout> ms"}`; the store stays
      usable. Defaults to `:infinity`.

  Any other option raises an `ArgumentError` naming it (`timout: 100` does not run the
  call without a timeout).

  ## Examples

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (func (export "div") (param i32 i32) (result i32)
      ...>     (i32.div_s (local.get 0) (local.get 1)))
      ...>   (func (export "spin") (loop (br 0))))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.call_function(store, instance, "div", [7, 2])
      {:ok, [3]}
      iex> Wasmex.Instance.call_function(store, instance, "div", [1, 0])
      #{Compat.doc(~S|{:error, "integer divide by zero"}|, ~S|{:error, "Error during function excecution (wasm trap: integer divide by zero): wasm trap: integer divide by zero"}|)}
      iex> Wasmex.Instance.call_function(store, instance, :div, [1])
      {:error, "number of params does not match. expected 2, got 1"}
      iex> Wasmex.Instance.call_function(store, instance, "spin", [], timeout: 10)
      {:error, "timeout: the call did not finish within 10 ms"}
  """
  @spec call_function(StoreOrCaller.t(), t(), String.t() | atom(), [value()], keyword()) ::
          {:ok, [value()]} | {:error, String.t()}
  def call_function(store, instance, name, params, opts \\ [])

  def call_function(%StoreOrCaller{} = store, %__MODULE__{} = instance, name, params, opts)
      when is_list(params) and is_list(opts) do
    unless Keyword.keyword?(opts), do: Args.invalid!(opts: {:keyword, opts})
    Args.keys!(opts, [:timeout])
    timeout = Args.timeout!(Keyword.get(opts, :timeout, :infinity))
    Compat.call(Call.call_function(store, instance, function_name(name), params, timeout))
  end

  def call_function(store, instance, _name, params, opts),
    do: invalid!(store, instance, params: {:list, params}, opts: {:keyword, opts})

  @doc """
  Calls the exported function `name` in the background, Wasmex's asynchronous form:
  returns `:ok` at once and sends the result when the call ends.

    * `from = {pid, tag}` (Wasmex 0.10 and later; a `GenServer` `from` works): `pid` gets
      `{tag, result}`, a reply to `from`.
    * any other `from` (Wasmex 0.9): the calling process gets
      `{:returned_function_call, result, from}`.

  The call runs in a new process, which is where the instance's Elixir imports are then
  called. With a `timeout` (ms), a call that runs longer is stopped and the result is a
  timeout error (in Wasmex compatibility mode, as in Wasmex, nothing is sent then).

  From inside an import callback of a call on the same store (with `context.caller`), the
  call runs in the calling process instead, as the store is in use by the outer call until
  the callback returns; the reply is in `pid`'s mailbox when this returns.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (func (export "answer") (result i32) (i32.const 42)))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> ref = make_ref()
      iex> Wasmex.Instance.call_exported_function(store, instance, "answer", [], {self(), ref})
      :ok
      iex> receive do {^ref, result} -> result end
      {:ok, [42]}
      iex> Wasmex.Instance.call_exported_function(store, instance, "answer", [], :my_call)
      :ok
      iex> receive do {:returned_function_call, result, :my_call} -> result end
      {:ok, [42]}
  """
  @spec call_exported_function(
          StoreOrCaller.t(),
          t(),
          String.t() | atom(),
          [value()],
          GenServer.from() | term(),
          timeout() | nil
        ) :: :ok
  def call_exported_function(store, instance, name, params, from, timeout \\ nil)

  def call_exported_function(
        %StoreOrCaller{} = store,
        %__MODULE__{} = instance,
        name,
        params,
        from,
        timeout
      )
      when is_list(params) do
    name = function_name(name)
    timeout = Args.timeout!(if is_nil(timeout), do: :infinity, else: timeout)
    # Checked here, as the caller hears of nothing but the result once the call has started.
    unless Args.proper_list?(params), do: Args.invalid!(params: {:list, params})
    reply = reply_to(from)

    call = fn ->
      result = Compat.call(reply_to_call(store, instance, name, params, timeout))
      Compat.reply(reply, result)
    end

    # Inside an import callback of a call on this store, the store is this process's until
    # the callback returns: a new process would wait for it, and the callback for the
    # reply, for ever. The call runs here instead; its reply is sent before this returns.
    if owned?(store), do: call.(), else: spawn(call)
    :ok
  end

  def call_exported_function(store, instance, _name, params, _from, _timeout),
    do: invalid!(store, instance, params: {:list, params})

  # Wasmex 0.10+ replies to a `GenServer` `from`; Wasmex 0.9 sends any other `from` back to
  # the caller with the result.
  defp reply_to({pid, _tag} = from) when is_pid(pid), do: &GenServer.reply(from, &1)

  defp reply_to(from) do
    caller = self()
    &send(caller, {:returned_function_call, &1, from})
  end

  defp owned?(%StoreOrCaller{resource: store}) do
    Native.store_owned(store)
  rescue
    # Not a store: the call fails in the new process, and `from` hears of it.
    ArgumentError -> false
  end

  defp reply_to_call(store, instance, name, params, timeout) do
    Call.call_function(store, instance, name, params, timeout)
  rescue
    # A handle the NIF does not take (e.g. a resource of another kind): `from` still gets
    # a reply.
    error in ArgumentError -> {:error, Exception.message(error)}
  end

  defp function_name(name), do: Args.name_string!(name, "a function name")

  @doc """
  Returns whether the instance exports a function called `name`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (func (export "f")))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.function_export_exists(store, instance, "f")
      true
      iex> Wasmex.Instance.function_export_exists(store, instance, "g")
      false
  """
  @spec function_export_exists(StoreOrCaller.t(), t(), String.t() | atom()) :: boolean()
  def function_export_exists(%StoreOrCaller{resource: s}, %__MODULE__{resource: i}, name) do
    case Native.instance_function_export_exists(s, i, function_name(name)) do
      {:ok, exists} -> exists
      {:error, reason} -> raise ArgumentError, reason
    end
  end

  def function_export_exists(store, instance, _name), do: invalid!(store, instance)

  @doc """
  Returns the instance's exported memory: the first one (`memory/2`), or the one exported
  as `name` (`memory/3`).

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, %Wasmex.Memory{}} = Wasmex.Instance.memory(store, instance, "memory")
      iex> Wasmex.Instance.memory(store, instance, "mem")
      #{Compat.doc(~S|{:error, "The WebAssembly module has no exported memory `mem`: the module exports the memory `memory`"}|, ~S|{:error, "The WebAssembly module has no exported memory."}|)}
  """
  @spec memory(StoreOrCaller.t(), t(), String.t() | nil) ::
          {:ok, Memory.t()} | {:error, String.t()}
  def memory(store, instance, name \\ nil)

  def memory(%StoreOrCaller{resource: s}, %__MODULE__{resource: i}, name)
      when is_binary(name) or is_nil(name),
      do: Native.memory_from_instance(s, i, name && Args.name_string!(name, "a memory name"))

  def memory(store, instance, name), do: invalid!(store, instance, name: {:string_or_nil, name})

  @doc """
  Returns the value of the exported global `name`. A `funcref` or `externref` global gives
  `{:error, "unable_to_return_func_ref_type"}` or `"unable_to_return_extern_ref_type"`,
  as in Wasmex.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (global (export "answer") i32 (i32.const 42)))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.get_global_value(store, instance, "answer")
      {:ok, 42}
      iex> Wasmex.Instance.get_global_value(store, instance, "question")
      #{Compat.doc(~S|{:error, "exported global `question` not found: the module exports the global `answer`"}|, ~S|{:error, "exported global `question` not found"}|)}
  """
  @spec get_global_value(StoreOrCaller.t(), t(), String.t()) ::
          {:ok, value()} | {:error, String.t()}
  def get_global_value(%StoreOrCaller{resource: s}, %__MODULE__{resource: i}, name)
      when is_binary(name),
      do: Native.instance_get_global_value(s, i, Args.name_string!(name, "a global name"))

  def get_global_value(store, instance, name),
    do: invalid!(store, instance, name: {:binary, name})

  @doc """
  Sets the exported mutable global `name` to `value`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module
      ...>   (global (export "count") (mut i32) (i32.const 0))
      ...>   (global (export "fixed") i32 (i32.const 0)))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> Wasmex.Instance.set_global_value(store, instance, "count", 7)
      :ok
      iex> Wasmex.Instance.get_global_value(store, instance, "count")
      {:ok, 7}
      iex> Wasmex.Instance.set_global_value(store, instance, "fixed", 7)
      {:error, "Could not set global: immutable global cannot be set"}
      iex> Wasmex.Instance.set_global_value(store, instance, "count", :seven)
      #{Compat.doc(~S|{:error, "Cannot convert to a WebAssembly i32 value: expected an integer in -2147483648..2147483647, got: :seven"}|, ~S|{:error, "Cannot convert to a WebAssembly i32 value. Given `Atom`."}|)}
  """
  @spec set_global_value(StoreOrCaller.t(), t(), String.t(), value()) ::
          :ok | {:error, String.t()}
  def set_global_value(%StoreOrCaller{resource: s}, %__MODULE__{resource: i}, name, value)
      when is_binary(name),
      do: Native.instance_set_global_value(s, i, Args.name_string!(name, "a global name"), value)

  def set_global_value(store, instance, name, _value),
    do: invalid!(store, instance, name: {:binary, name})

  # Raises for the first bad one of `store`, `instance` and the `checks` of the other
  # arguments (see `Wasmex.Args.invalid!/1`).
  @spec invalid!(term(), term()) :: no_return()
  @spec invalid!(term(), term(), keyword()) :: no_return()
  defp invalid!(store, instance, checks \\ []),
    do: Args.invalid!([store: {StoreOrCaller, store}, instance: {__MODULE__, instance}] ++ checks)
end
