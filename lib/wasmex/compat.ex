defmodule Wasmex.Compat do
  @moduledoc false
  # The Wasmex compatibility mode, decided when the library is compiled:
  #
  #     config :wasmex_interp, compat: :wasmex
  #
  # makes the functions return Wasmex 0.15's shapes where this API differs (the contract
  # is docs/compat.md). It is read with `Application.compile_env/3` here only: each
  # function below is compiled for one mode, so the mode costs nothing at run time, and
  # Mix recompiles this module (and the modules whose docs use `doc/2`) when it changes.

  @mode Application.compile_env(:wasmex_interp, :compat, :default)

  unless @mode in [:default, :wasmex] do
    raise ArgumentError,
          "expected `config :wasmex_interp, compat:` to be :wasmex (or unset), got: " <>
            inspect(@mode)
  end

  # `wasmex?/0`: `true` when compiled in Wasmex compatibility mode. `doc/2`: the text of a
  # doc example's result for the compiled mode, so that a module's doctests show (and
  # test) the shapes it was compiled with. Each defined for one mode, so that no code
  # compares constants (which dialyzer would rightly point out).
  if @mode == :wasmex do
    @doc false
    defmacro wasmex?, do: true
    @doc false
    defmacro doc(_default, wasmex), do: wasmex
  else
    @doc false
    defmacro wasmex?, do: false
    @doc false
    defmacro doc(default, _wasmex), do: default
  end

  if @mode == :wasmex do
    # Our trap texts (the prefix of the message, see `trap_message` in
    # native/wasmex_core/src/error.rs) and Wasmtime's words for the same trap.
    @traps [
      {"unreachable: wasm `unreachable` instruction executed",
       "wasm `unreachable` instruction executed"},
      {"out of bounds memory access", "out of bounds memory access"},
      {"out of bounds table access: undefined element",
       "undefined element: out of bounds table access"},
      {"uninitialized element", "uninitialized element"},
      {"integer divide by zero", "integer divide by zero"},
      {"integer overflow", "integer overflow"},
      {"invalid conversion to integer", "invalid conversion to integer"},
      {"call stack exhausted", "call stack exhausted"},
      {"indirect call type mismatch", "indirect call type mismatch"},
      {"all fuel consumed by WebAssembly", "all fuel consumed by WebAssembly"}
    ]

    # Failures during a guest call that are not traps (Wasmtime reports them as host errors).
    @call_failures [
      "the elixir callback threw an exception",
      "Exited with i32 exit status",
      "growth operation limited",
      "out of system memory",
      "wasmi panicked"
    ]

    @doc false
    # `Memory.read_binary/4`, `read_string/4`: Wasmex returns the bytes bare.
    def read({:ok, binary}), do: binary
    def read(error), do: error

    @doc false
    # `Memory.grow/3`: Wasmex returns the size before growing, in pages.
    def grow({:ok, previous_pages}), do: previous_pages
    def grow(error), do: error

    @doc false
    # A guest call's result: Wasmex words a failure during the call as
    # "Error during function excecution (wasm trap: <trap>): <reason>" for a trap and
    # "Error during function excecution: <reason>" for any other failure. (Wasmtime adds a
    # backtrace to the reason; wasmi has none, so the reason is the trap alone.) Errors
    # before the call starts (no such function, wrong arguments) are worded alike.
    def call({:error, message}) when is_binary(message), do: {:error, call_failure(message)}
    def call(result), do: result

    @doc false
    # `Instance.call_exported_function`'s reply: `reply.(result)`, except that Wasmex drops
    # the result of a call that timed out.
    def reply(reply, result), do: unless(Wasmex.Call.timeout?(result), do: reply.(result))

    @doc false
    # `Pipe.write/2`: Wasmex returns a bare `:error` when a write fails (its pipes never
    # fill; ours hold at most their capacity).
    def pipe_write({:error, _message}), do: :error
    def pipe_write(result), do: result

    for {ours, wasmtime} <- @traps do
      defp call_failure(unquote(ours) <> rest),
        do:
          "Error during function excecution (wasm trap: #{unquote(wasmtime)}): " <>
            "wasm trap: #{unquote(wasmtime)}#{rest}"
    end

    for prefix <- @call_failures do
      defp call_failure(unquote(prefix) <> _ = message),
        do: "Error during function excecution: " <> message
    end

    defp call_failure(message), do: message
  else
    @doc false
    def read(result), do: result

    @doc false
    def grow({:ok, _previous_pages}), do: :ok
    def grow(error), do: error

    @doc false
    def call(result), do: result

    @doc false
    def reply(reply, result), do: reply.(result)

    @doc false
    def pipe_write(result), do: result
  end
end
