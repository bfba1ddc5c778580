defmodule Wasmex.Pipe do
  @moduledoc ~S"""
  An in-memory file for a WASI guest's standard input, output or error.

  A pipe holds bytes and one position, shared by reads and writes: `write/2` writes at
  the position and moves it past what it wrote; `read/1` reads from the position to the
  end and moves it to the end; `seek/2` moves it. So after writing a guest's input, seek
  back to 0 before the guest reads it; after a guest wrote its output, seek to 0 to read
  all of it. Pipes are binary-safe. A pipe may be given to several guests, and as stdin,
  stdout and stderr at once.

  A pipe holds at most its capacity (64 MiB unless given to `new/1`), so a guest cannot
  grow the host's memory through it: a guest write that does not fit is short, one that
  finds no room fails with `ENOSPC` (the guest sees "No space left on device"), and
  `write/2` returns an error (in Wasmex compatibility mode Wasmex's bare `:error`).
  Wasmex's pipes have no capacity.

  ## Example

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.write(pipe, "Hello, World!")
      {:ok, 13}
      iex> Wasmex.Pipe.seek(pipe, 7)
      :ok
      iex> Wasmex.Pipe.write(pipe, "Wasmex")
      {:ok, 6}
      iex> Wasmex.Pipe.seek(pipe, 0)
      :ok
      iex> Wasmex.Pipe.read(pipe)
      "Hello, Wasmex"
  """

  require Wasmex.Compat, as: Compat

  alias Wasmex.{Args, Native}

  @default_capacity 64 * 1024 * 1024

  @max_u64 18_446_744_073_709_551_615

  # Keep in step with `Pipe::MAX_CAPACITY` in native/wasmex_core/src/wasi/pipe.rs.
  @max_capacity 4_294_967_296

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @doc """
  Creates an empty pipe.

  ## Options

    * `:capacity` - the most bytes the pipe holds, at most 4294967296 (4 GiB). Defaults
      to 67108864 (64 MiB).

  ## Examples

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.size(pipe)
      0

      iex> {:ok, pipe} = Wasmex.Pipe.new(capacity: 4)
      iex> Wasmex.Pipe.write(pipe, "12345")
      #{Compat.doc(~S|{:error, "the pipe is full: 5 bytes do not fit in its capacity of 4 bytes"}|, ":error")}
  """
  @spec new(capacity: non_neg_integer()) :: {:ok, t()}
  def new(options \\ [])

  def new(options) when is_list(options) do
    options = Keyword.validate!(options, capacity: @default_capacity)

    case options[:capacity] do
      capacity when is_integer(capacity) and capacity >= 0 and capacity <= @max_capacity ->
        {:ok, Native.pipe_new(capacity)}

      other ->
        raise ArgumentError,
              "expected :capacity to be an integer in 0..#{@max_capacity}, got: #{inspect(other)}"
    end
  end

  def new(options), do: Args.invalid!(options: {:keyword, options})

  @doc """
  Returns the number of bytes in the pipe, wherever its position is.

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> {:ok, 3} = Wasmex.Pipe.write(pipe, "123")
      iex> Wasmex.Pipe.size(pipe)
      3
  """
  @spec size(t()) :: non_neg_integer()
  def size(%__MODULE__{resource: pipe}), do: Native.pipe_size(pipe)
  def size(pipe), do: Args.invalid!(pipe: {__MODULE__, pipe})

  @doc """
  Moves the position to `position` bytes from the start (it may pass the end: a write
  there fills the gap with zeros). A position past the pipe's capacity raises
  `ArgumentError`.

      iex> {:ok, pipe} = Wasmex.Pipe.new(capacity: 1024)
      iex> Wasmex.Pipe.seek(pipe, 0)
      :ok
      iex> Wasmex.Pipe.seek(pipe, 2 ** 40)
      ** (ArgumentError) expected position to be at most the pipe's capacity (1024), got: 1099511627776
  """
  @spec seek(t(), non_neg_integer()) :: :ok
  def seek(%__MODULE__{resource: pipe}, position)
      when is_integer(position) and position >= 0 do
    case Native.pipe_seek(pipe, min(position, @max_u64)) do
      :ok ->
        :ok

      {:error, capacity} ->
        raise ArgumentError,
              "expected position to be at most the pipe's capacity (#{capacity}), " <>
                "got: #{position}"
    end
  end

  def seek(%__MODULE__{}, position) do
    raise ArgumentError,
          "expected position to be a non-negative integer, got: #{inspect(position)}"
  end

  def seek(pipe, _position), do: Args.invalid!(pipe: {__MODULE__, pipe})

  @doc """
  Reads from the position to the end, and moves the position to the end.

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> {:ok, _} = Wasmex.Pipe.write(pipe, <<0, 255, 1>>)
      iex> Wasmex.Pipe.read(pipe)
      ""
      iex> :ok = Wasmex.Pipe.seek(pipe, 1)
      iex> Wasmex.Pipe.read(pipe)
      <<255, 1>>
  """
  @spec read(t()) :: binary()
  def read(%__MODULE__{resource: pipe}), do: Native.pipe_read_binary(pipe)
  def read(pipe), do: Args.invalid!(pipe: {__MODULE__, pipe})

  @doc """
  Writes `binary` at the position, and moves the position past it. When it does not fit
  in the pipe's capacity, nothing is written and `{:error, message}` is returned (`:error`
  in Wasmex compatibility mode, as Wasmex's shape for a failed write).

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.write(pipe, "abc")
      {:ok, 3}
  """
  @spec write(t(), binary()) :: {:ok, non_neg_integer()} | {:error, String.t()} | :error
  def write(%__MODULE__{resource: pipe}, binary) when is_binary(binary),
    do: Compat.pipe_write(Native.pipe_write_binary(pipe, binary))

  def write(pipe, binary), do: Args.invalid!(pipe: {__MODULE__, pipe}, binary: {:binary, binary})
end
