defmodule Wasmex.Pipe do
  @moduledoc ~S"""
  An in-memory file for a WASI guest's standard input, output or error.

  A pipe holds bytes and one position, shared by reads and writes: `write/2` writes at
  the position and moves it past what it wrote; `read/1` reads from the position to the
  end and moves it to the end; `seek/2` moves it. So after writing a guest's input, seek
  back to 0 before the guest reads it; after a guest wrote its output, seek to 0 to read
  all of it. Pipes are binary-safe. A pipe may be given to several guests, and as stdin,
  stdout and stderr at once.

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

  alias Wasmex.{Args, Native}

  # Keep in step with `MAX_POSITION` in native/wasmex_interp/src/pipe.rs.
  @max_position 1_073_741_824

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @doc """
  Creates an empty pipe.

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.size(pipe)
      0
  """
  @spec new() :: {:ok, t()}
  def new, do: {:ok, Native.pipe_new()}

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
  there fills the gap with zeros). Positions past 1 GiB raise `ArgumentError`, so that a
  write cannot make the pipe allocate an arbitrary amount of memory.

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.seek(pipe, 0)
      :ok
      iex> Wasmex.Pipe.seek(pipe, 2 ** 40)
      ** (ArgumentError) expected position to be at most 1073741824 (1 GiB), got: 1099511627776
  """
  @spec seek(t(), non_neg_integer()) :: :ok
  def seek(%__MODULE__{}, position) when is_integer(position) and position > @max_position do
    raise ArgumentError,
          "expected position to be at most #{@max_position} (1 GiB), got: #{position}"
  end

  def seek(%__MODULE__{resource: pipe}, position), do: Native.pipe_seek(pipe, position)
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
  Writes `binary` at the position, and moves the position past it.

      iex> {:ok, pipe} = Wasmex.Pipe.new()
      iex> Wasmex.Pipe.write(pipe, "abc")
      {:ok, 3}
  """
  @spec write(t(), binary()) :: {:ok, non_neg_integer()}
  def write(%__MODULE__{resource: pipe}, binary) when is_binary(binary),
    do: Native.pipe_write_binary(pipe, binary)

  def write(pipe, binary), do: Args.invalid!(pipe: {__MODULE__, pipe}, binary: {:binary, binary})
end
