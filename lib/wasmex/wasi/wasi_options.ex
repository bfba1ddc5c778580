defmodule Wasmex.Wasi.WasiOptions do
  @moduledoc ~S"""
  Configures WASI (preview 1) for a store made with `Wasmex.Store.new_wasi/3`.

  ## Options

    * `:args` - the program's arguments, `argv[0]` included. Defaults to `[]`.
    * `:env` - environment variables, a map of strings. Defaults to `%{}`.
    * `:preopen` - the directories the guest may use, a list of
      `Wasmex.Wasi.PreopenOptions`; it can reach nothing else. Defaults to `[]`.
    * `:stdin` - a `Wasmex.Pipe` to read, or `nil` for an empty input. Defaults to `nil`.
    * `:stdout`, `:stderr` - where output goes. Default to `nil`, which discards it.
      * a `Wasmex.Pipe`: output is written into it;
      * `{:send, pid}` or `{:send, pid, tag}`: output is sent to `pid` as the guest
        writes it (after at most one slice, a fraction of a millisecond), as messages
        `{:wasi_stdout, tag, chunk}` or `{:wasi_stderr, tag, chunk}` with `chunk` a
        binary. `tag` defaults to the store (the `%Wasmex.StoreOrCaller{}`). All output
        of a call arrives before the call returns. (Not in Wasmex.)

  Imports given to `Wasmex.Instance.new/4` under `"wasi_snapshot_preview1"` replace the
  WASI function of the same name, e.g. `clock_time_get` or `random_get` for a
  deterministic guest.

  A guest that sleeps (`poll_oneoff` on clocks) does not block a scheduler: its process
  waits for the time and the call goes on.

  ## Example

      iex> {:ok, stdout} = Wasmex.Pipe.new()
      iex> options = %Wasmex.Wasi.WasiOptions{args: ["app", "--verbose"], env: %{"KEY" => "VALUE"}, stdout: stdout}
      iex> {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new_wasi(options)
  """

  alias Wasmex.Wasi.PreopenOptions

  defstruct [:stdin, :stdout, :stderr, args: [], env: %{}, preopen: []]

  @typedoc "Where standard output or error goes."
  @type output :: Wasmex.Pipe.t() | {:send, pid()} | {:send, pid(), term()} | nil

  @type t :: %__MODULE__{
          args: [String.t()],
          env: %{String.t() => String.t()},
          preopen: [PreopenOptions.t()],
          stdin: Wasmex.Pipe.t() | nil,
          stdout: output(),
          stderr: output()
        }
end
