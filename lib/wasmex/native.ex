defmodule Wasmex.Native do
  @moduledoc false
  # The NIFs, in the order of the Rust files (native/wasmex_interp/src/*.rs), and the
  # Elixir half of the two replies a NIF may give instead of its result:
  #
  #   * `{:busy, id}` - another process is using the store (native/wasmex_interp/src/store/owner.rs).
  #     This process was queued: it sleeps in `receive` until the store is handed to it
  #     (`{:"$wasmex_store_free", id}`, no polling), then asks again, now as the owner.
  #     The wait ends at the deadline the caller gives (`:infinity` unless stated), with
  #     `:timeout`.
  #   * `:dirty` - the work is too big for a normal scheduler (native/wasmex_interp/src/schedule.rs):
  #     the NIF's dirty twin does it.
  #
  # The NIFs that may give them are private (`name_nif`, and `name_dirty_nif` for a twin)
  # and defined with `defnif/2` below, which defines the public `name` that handles both
  # replies: no caller can forget them. The other NIFs are public stubs.
  #
  # The library is loaded with :erlang.load_nif/2 (no rustler Mix package: hex is not
  # needed) from priv/native/libwasmex_interp.so, where `mix compile` installs it: built,
  # downloaded precompiled, or copied from WASMEX_INTERP_NIF_PATH at compile time. Nothing
  # in the environment changes the path at run time: a release loads the library it
  # carries.

  import Wasmex.Native.Defnif
  require Wasmex.Compat

  alias Wasmex.Deadline

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :wasmex_interp |> :code.priv_dir() |> Path.join("native/libwasmex_interp")

    # The load info tells the library to word its messages as Wasmex does.
    case :erlang.load_nif(String.to_charlist(path), Wasmex.Compat.wasmex?()) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        :persistent_term.put({__MODULE__, :load_error}, "#{reason}: #{text}")

        # The compile step of a cross build (a Nerves firmware) says so: the library is
        # for the board, and cannot load in the VM that builds it.
        unless :persistent_term.get({__MODULE__, :cross_build}, nil) do
          IO.warn(not_loaded_message(), [])
        end

        # Load the module anyway: every call then raises the message above.
        :ok
    end
  end

  defp not_loaded_message do
    error = :persistent_term.get({__MODULE__, :load_error}, "not loaded")

    case :persistent_term.get({__MODULE__, :cross_build}, nil) do
      nil ->
        "the wasmex_interp NIF could not be loaded (#{error}). " <>
          "Install it with `mix compile` (with Rust's cargo, " <>
          "or with WASMEX_INTERP_PRECOMPILED_URL set for a precompiled one)"

      target ->
        "the wasmex_interp NIF in this build is for #{target}, not for this machine (#{error})"
    end
  end

  defp nif_error, do: :erlang.nif_error(not_loaded_message())

  # Runs a NIF through its replies `{:busy, id}` and `:dirty` (see the top of this file).
  defp run(store, deadline, nif, dirty) do
    case nif.() do
      {:busy, id} ->
        with :ok <- await(store, id, deadline), do: run(store, deadline, nif, dirty)

      :dirty ->
        run(store, deadline, dirty, dirty)

      reply ->
        reply
    end
  end

  # Sleeps until the store `id` is handed to this process, or the deadline passes.
  @spec await(reference(), non_neg_integer(), Deadline.t()) :: :ok | :timeout
  defp await(store, id, deadline) do
    receive do
      {:"$wasmex_store_free", ^id} -> :ok
    after
      Deadline.remaining(deadline) ->
        # Off the queue. A store handed over meanwhile goes on to the next waiter; its
        # wake-up, already sent, is dropped here.
        store_unwait(store)

        receive do
          {:"$wasmex_store_free", ^id} -> :ok
        after
          0 -> :ok
        end

        :timeout
    end
  end

  # call.rs
  defnif(instance_call_function(store, instance, name, params), deadline: true)
  defnif(instance_call_start(store, instance))
  defnif(call_resume(store), twin: true)
  def call_resume_host(_store, _results), do: nif_error()
  def call_abort(_store, _reason), do: nif_error()

  # engine.rs
  def engine_new(_config), do: nif_error()
  def engine_precompile_module(_engine, _bytes), do: nif_error()

  # hooks.rs: test and bench hooks, no part of the API (no public module calls them).
  @doc false
  def hook_noop, do: nif_error()
  @doc false
  defnif(hook_set_slice(store, fuel))
  @doc false
  defnif(hook_panic_next_host_call(store))
  @doc false
  defnif(hook_call_raw(store, instance, name, params))
  @doc false
  def hook_cpu_time, do: nif_error()

  # instance.rs
  defnif(instance_new(store, module, imports, links), twin: true)
  def instance_function_export_exists(_store, _instance, _name), do: nif_error()
  defnif(instance_get_global_value(store, instance, name))
  defnif(instance_set_global_value(store, instance, name, value))

  # memory.rs
  defnif(memory_from_instance(store, instance, name))
  defnif(memory_size(store, memory))
  defnif(memory_grow(store, memory, pages), twin: true)
  defnif(memory_read_binary(store, memory, offset, len), twin: true)
  defnif(memory_write_binary(store, memory, offset, binary), twin: true)
  defnif(memory_get_byte(store, memory, index))
  defnif(memory_set_byte(store, memory, index, value))

  # module.rs
  defnif(module_compile(store, bytes), twin: true)
  def module_serialize(_module), do: nif_error()
  def module_unsafe_deserialize(_bytes, _engine), do: nif_error()
  def module_name(_module), do: nif_error()
  def module_exports(_module), do: nif_error()
  def module_imports(_module), do: nif_error()

  # pipe.rs
  def pipe_new(_capacity), do: nif_error()
  def pipe_size(_pipe), do: nif_error()
  def pipe_seek(_pipe, _position), do: nif_error()
  defnif(pipe_read_binary(pipe), twin: true)
  defnif(pipe_write_binary(pipe, binary), twin: true)

  # store/nifs.rs
  def store_new(_limits, _engine, _fuel), do: nif_error()
  def store_new_wasi(_options, _limits, _engine, _fuel), do: nif_error()
  defnif(store_or_caller_get_fuel(store))
  defnif(store_or_caller_set_fuel(store, fuel))
  defp store_unwait(_store), do: nif_error()
  def store_owned(_store), do: nif_error()

  # wat.rs
  def wat_to_wasm(_text), do: nif_error()
end
