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
    * `:stream_buffer` - for output sent to a process: the most bytes held between two
      deliveries, and so the largest `chunk` of one message. A guest writing faster waits
      (without a thread) until its output is sent. Defaults to `65536`.
    * `:fd_limit` - the most file descriptors the guest may hold open at once, stdio and
      preopened directories included. Past it, opening a file fails in the guest with
      `EMFILE` ("Too many open files"). Defaults to `256`.
    * `:deterministic` - `true` for a deterministic run (see below). Defaults to `false`.
    * `:clock_start` - in a deterministic run, the time the guest's realtime clock starts
      at, in nanoseconds since the Unix epoch (e.g.
      `DateTime.to_unix(~U[2024-01-01 00:00:00Z], :nanosecond)`). Defaults to `0`.
    * `:random_seed` - in a deterministic run, the number the guest's random bytes are
      drawn from (the same number, the same bytes), an integer in `0..2^64-1`. Required with `deterministic: true`.

  Imports given to `Wasmex.Instance.new/4` under `"wasi_snapshot_preview1"` replace the
  WASI function of the same name, e.g. `clock_time_get` or `random_get` for a
  deterministic guest.

  A guest that sleeps (`poll_oneoff` on clocks) does not block a scheduler: its process
  waits for the time and the call goes on. No WASI call waits on a file: opening anything
  in a preopened directory that is not a regular file or a directory (a FIFO, a socket, a
  device) fails with `ENOTSUP`. Stdio is always ready for `poll_oneoff`.

  ## Deterministic runs

  With `deterministic: true`, a program given the same arguments, environment, stdin and
  files produces the same output, the same files and uses the same fuel on every run and
  every CPU:

    * the clocks are virtual: the realtime clock starts at `:clock_start`, the monotonic
      clock at 0, and both advance by one nanosecond per unit of fuel the store has used;
      a sleep moves them forward at once, without waiting;
    * random bytes (`random_get`) come from ChaCha20 seeded with `:random_seed`;
    * file timestamps read as `:clock_start`, device and inode numbers are numbered in the
      order the guest first sees them, directories list in name order and report size 0
      and one link (their real values depend on the host's filesystem);
    * WASI calls charge one unit of fuel per byte they read, write, generate or list
      (in every store, deterministic or not).

  File contents, sizes and types are the files' own: give the same files to get the same
  run.

  ## Example

      iex> {:ok, stdout} = Wasmex.Pipe.new()
      iex> options = %Wasmex.Wasi.WasiOptions{args: ["app", "--verbose"], env: %{"KEY" => "VALUE"}, stdout: stdout}
      iex> {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.Store.new_wasi(options)
  """

  alias Wasmex.Wasi.PreopenOptions

  defstruct [
    :stdin,
    :stdout,
    :stderr,
    :random_seed,
    args: [],
    env: %{},
    preopen: [],
    stream_buffer: 65_536,
    fd_limit: 256,
    deterministic: false,
    clock_start: 0
  ]

  @typedoc "Where standard output or error goes."
  @type output :: Wasmex.Pipe.t() | {:send, pid()} | {:send, pid(), term()} | nil

  @type t :: %__MODULE__{
          args: [String.t()],
          env: %{String.t() => String.t()},
          preopen: [PreopenOptions.t()],
          stdin: Wasmex.Pipe.t() | nil,
          stdout: output(),
          stderr: output(),
          stream_buffer: pos_integer(),
          fd_limit: non_neg_integer(),
          deterministic: boolean(),
          clock_start: non_neg_integer(),
          random_seed: non_neg_integer() | nil
        }
end
