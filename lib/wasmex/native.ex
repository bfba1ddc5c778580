defmodule Wasmex.Native do
  @moduledoc false
  # The NIF stubs, in the order of the Rust files (native/wasmex_interp/src/*.rs).
  #
  # The library is loaded with :erlang.load_nif/2 (no rustler Mix package: hex is not
  # needed). WASMEX_INTERP_NIF_PATH may point at a prebuilt library; otherwise it is
  # priv/native/libwasmex_interp.so, built by `mix compile`.

  @on_load :load_nif

  @doc false
  def load_nif do
    case :erlang.load_nif(String.to_charlist(library_path()), 0) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        :persistent_term.put({__MODULE__, :load_error}, "#{reason}: #{text}")
        IO.warn(not_loaded_message(), [])
        # Load the module anyway: every call then raises the message above.
        :ok
    end
  end

  defp library_path do
    case System.get_env("WASMEX_INTERP_NIF_PATH") do
      path when path in [nil, ""] ->
        :wasmex_interp |> :code.priv_dir() |> Path.join("native/libwasmex_interp")

      path ->
        path |> Path.rootname(".so") |> Path.rootname(".dylib")
    end
  end

  defp not_loaded_message do
    error = :persistent_term.get({__MODULE__, :load_error}, "not loaded")

    "the wasmex_interp NIF could not be loaded (#{error}). " <>
      "Build it with `mix compile` (needs Rust's cargo), " <>
      "or set WASMEX_INTERP_NIF_PATH to a prebuilt libwasmex_interp.so"
  end

  defp nif_error, do: :erlang.nif_error(not_loaded_message())

  # call.rs
  def instance_call_function(_store, _instance, _name, _params), do: nif_error()
  def instance_call_start(_store, _instance), do: nif_error()
  def call_resume(_store, _results), do: nif_error()
  def call_abort(_store, _reason), do: nif_error()
  def call_noop, do: nif_error()

  # engine.rs
  def engine_new(_config), do: nif_error()
  def engine_precompile_module(_engine, _bytes), do: nif_error()

  # instance.rs
  def instance_new(_store, _module, _imports, _links), do: nif_error()
  def instance_new_dirty(_store, _module, _imports, _links), do: nif_error()
  def instance_function_export_exists(_store, _instance, _name), do: nif_error()
  def instance_get_global_value(_store, _instance, _name), do: nif_error()
  def instance_set_global_value(_store, _instance, _name, _value), do: nif_error()

  # memory.rs
  def memory_from_instance(_store, _instance, _name), do: nif_error()
  def memory_size(_store, _memory), do: nif_error()
  def memory_grow(_store, _memory, _pages), do: nif_error()
  def memory_read_binary(_store, _memory, _offset, _len), do: nif_error()
  def memory_read_binary_dirty(_store, _memory, _offset, _len), do: nif_error()
  def memory_write_binary(_store, _memory, _offset, _binary), do: nif_error()
  def memory_write_binary_dirty(_store, _memory, _offset, _binary), do: nif_error()
  def memory_get_byte(_store, _memory, _index), do: nif_error()
  def memory_set_byte(_store, _memory, _index, _value), do: nif_error()

  # module.rs
  def module_compile(_store, _bytes), do: nif_error()
  def module_compile_dirty(_store, _bytes), do: nif_error()
  def module_serialize(_module), do: nif_error()
  def module_unsafe_deserialize(_bytes, _engine), do: nif_error()
  def module_name(_module), do: nif_error()
  def module_exports(_module), do: nif_error()
  def module_imports(_module), do: nif_error()

  # pipe.rs
  def pipe_new(_capacity), do: nif_error()
  def pipe_size(_pipe), do: nif_error()
  def pipe_seek(_pipe, _position), do: nif_error()
  def pipe_read_binary(_pipe), do: nif_error()
  def pipe_read_binary_dirty(_pipe), do: nif_error()
  def pipe_write_binary(_pipe, _binary), do: nif_error()
  def pipe_write_binary_dirty(_pipe, _binary), do: nif_error()

  # store.rs
  def store_new(_limits, _engine, _fuel), do: nif_error()
  def store_new_wasi(_options, _limits, _engine, _fuel), do: nif_error()
  def store_or_caller_get_fuel(_store), do: nif_error()
  def store_or_caller_set_fuel(_store, _fuel), do: nif_error()
  def store_set_slice(_store, _fuel), do: nif_error()
  def store_unwait(_store), do: nif_error()

  # wat.rs
  def wat_to_wasm(_text), do: nif_error()
end
