defmodule Wasmex.Memory do
  # The doc examples show the shapes of the mode the library is compiled in.
  require Wasmex.Compat, as: Compat

  @moduledoc """
  A linear memory of an instance: the bytes a guest works on, shared with the host.

  Wasm functions only take and return numbers, so strings and other data travel through
  memory: the host writes bytes where the guest expects them and reads what the guest
  wrote. Offsets are in bytes; sizes grow in pages of 64 KiB.

  Reads and writes out of the memory's bounds return
  `{:error, "out of bounds memory access"}`; a negative offset or a byte outside
  `0..255` raises `ArgumentError`.

  In Wasmex compatibility mode (`config :wasmex_interp, compat: :wasmex`, see
  docs/compat.md) `read_binary/4` and `read_string/4` return the bytes bare and `grow/3`
  the previous size in pages, as Wasmex does.

  ## Example

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
      iex> Wasmex.Memory.write_binary(store, memory, 100, "hello")
      :ok
      iex> Wasmex.Memory.read_binary(store, memory, 100, 5)
      #{Compat.doc(~S|{:ok, "hello"}|, ~S|"hello"|)}
  """

  alias Wasmex.{Args, Instance, Native, StoreOrCaller}

  defstruct [:resource]

  @type t :: %__MODULE__{resource: reference()}

  @doc """
  Returns the first memory `instance` exports.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "mem") 1))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, %Wasmex.Memory{}} = Wasmex.Memory.from_instance(store, instance)
  """
  @spec from_instance(StoreOrCaller.t(), Instance.t()) :: {:ok, t()} | {:error, String.t()}
  def from_instance(store, instance), do: Instance.memory(store, instance)

  @doc """
  Returns the size of `memory` in bytes.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 2))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.size(store, memory)
      131072
  """
  @spec size(StoreOrCaller.t(), t()) :: non_neg_integer()
  def size(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}) do
    case Native.memory_size(s, m) do
      {:ok, size} -> size
      {:error, reason} -> raise ArgumentError, reason
    end
  end

  def size(store, memory), do: invalid!(store, memory)

  @doc """
  Grows `memory` by `pages` pages of 64 KiB.

  Returns `:ok` (in Wasmex compatibility mode, as in Wasmex: the size before growing, in
  pages), or `{:error, "Failed to grow the memory: ..."}` past the memory's maximum or the
  store's limits.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1 2))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.grow(store, memory, 1)
      #{Compat.doc(":ok", "1")}
      iex> Wasmex.Memory.grow(store, memory, 1)
      {:error, "Failed to grow the memory: failed to grow memory by `1`."}
  """
  @spec grow(StoreOrCaller.t(), t(), non_neg_integer()) ::
          :ok | non_neg_integer() | {:error, String.t()}
  def grow(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}, pages),
    do: Compat.grow(Native.memory_grow(s, m, pages))

  def grow(store, memory, _pages), do: invalid!(store, memory)

  @doc """
  Reads `length` bytes starting at `offset`: `{:ok, binary}` (in Wasmex compatibility
  mode, as in Wasmex: the binary bare).

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1)
      ...>   (data (i32.const 8) "Hi!"))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.read_binary(store, memory, 8, 3)
      #{Compat.doc(~S|{:ok, "Hi!"}|, ~S|"Hi!"|)}
      iex> Wasmex.Memory.read_binary(store, memory, 65_535, 2)
      {:error, "out of bounds memory access"}
  """
  @spec read_binary(StoreOrCaller.t(), t(), non_neg_integer(), non_neg_integer()) ::
          {:ok, binary()} | binary() | {:error, String.t()}
  def read_binary(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}, offset, length),
    do: Compat.read(Native.memory_read_binary(s, m, offset, length))

  def read_binary(store, memory, _offset, _length), do: invalid!(store, memory)

  @doc """
  Reads `length` bytes starting at `offset`, as a string (the bytes are not checked to be
  UTF-8). The same as `read_binary/4`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1)
      ...>   (data (i32.const 0) "Hello, World!"))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.read_string(store, memory, 0, 13)
      #{Compat.doc(~S|{:ok, "Hello, World!"}|, ~S|"Hello, World!"|)}
  """
  @spec read_string(StoreOrCaller.t(), t(), non_neg_integer(), non_neg_integer()) ::
          {:ok, String.t()} | String.t() | {:error, String.t()}
  def read_string(store, memory, offset, length), do: read_binary(store, memory, offset, length)

  @doc """
  Writes `binary` starting at `offset`. Nothing is written if it does not fit.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.write_binary(store, memory, 0, "hello")
      :ok
      iex> Wasmex.Memory.write_binary(store, memory, 65_534, "hello")
      {:error, "out of bounds memory access"}
  """
  @spec write_binary(StoreOrCaller.t(), t(), non_neg_integer(), binary()) ::
          :ok | {:error, String.t()}
  def write_binary(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}, offset, binary)
      when is_binary(binary),
      do: Native.memory_write_binary(s, m, offset, binary)

  def write_binary(store, memory, _offset, binary),
    do: invalid!(store, memory, binary: {:binary, binary})

  @doc ~S"""
  Reads the byte at `index`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1)
      ...>   (data (i32.const 3) "\2a"))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.get_byte(store, memory, 3)
      42
  """
  @spec get_byte(StoreOrCaller.t(), t(), non_neg_integer()) :: byte() | {:error, String.t()}
  def get_byte(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}, index) do
    case Native.memory_get_byte(s, m, index) do
      {:ok, byte} -> byte
      {:error, _} = error -> error
    end
  end

  def get_byte(store, memory, _index), do: invalid!(store, memory)

  @doc """
  Writes the byte `value` at `index`.

      iex> {:ok, store} = Wasmex.Store.new()
      iex> {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 1))])
      iex> {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      iex> {:ok, memory} = Wasmex.Memory.from_instance(store, instance)
      iex> Wasmex.Memory.set_byte(store, memory, 3, 255)
      :ok
      iex> Wasmex.Memory.get_byte(store, memory, 3)
      255
  """
  @spec set_byte(StoreOrCaller.t(), t(), non_neg_integer(), byte()) :: :ok | {:error, String.t()}
  def set_byte(%StoreOrCaller{resource: s}, %__MODULE__{resource: m}, index, value),
    do: Native.memory_set_byte(s, m, index, value)

  def set_byte(store, memory, _index, _value), do: invalid!(store, memory)

  # Raises for the first bad one of `store`, `memory` and the `checks` of the other
  # arguments (see `Wasmex.Args.invalid!/1`).
  @spec invalid!(term(), term()) :: no_return()
  @spec invalid!(term(), term(), keyword()) :: no_return()
  defp invalid!(store, memory, checks \\ []),
    do: Args.invalid!([store: {StoreOrCaller, store}, memory: {__MODULE__, memory}] ++ checks)
end
