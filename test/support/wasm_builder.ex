defmodule Wasmex.WasmBuilder do
  @moduledoc false
  # Builds large or hostile Wasm binaries directly (WAT text for them would be huge).

  def leb(n) when n < 128, do: <<n>>
  def leb(n), do: <<Bitwise.bor(Bitwise.band(n, 0x7F), 0x80)>> <> leb(Bitwise.bsr(n, 7))

  def section(id, payload), do: <<id>> <> leb(byte_size(payload)) <> payload

  def vec(items), do: leb(length(items)) <> IO.iodata_to_binary(items)

  defp name(text), do: leb(byte_size(text)) <> text

  @header <<0, "asm", 1, 0, 0, 0>>

  @doc "A module with `count` empty functions, the last exported as `last`."
  def many_functions(count) do
    types = section(1, vec([<<0x60, 0, 0>>]))
    functions = section(3, leb(count) <> :binary.copy(<<0>>, count))
    exports = section(7, vec([name("last") <> <<0>> <> leb(count - 1)]))
    codes = section(10, leb(count) <> :binary.copy(<<2, 0, 0x0B>>, count))
    @header <> types <> functions <> exports <> codes
  end

  @doc "A module with one memory and an active data segment of `size` bytes at 0."
  def big_data(size) do
    pages = div(size + 65_535, 65_536)
    memory = section(5, vec([<<0>> <> leb(pages)]))
    exports = section(7, vec([name("memory") <> <<2, 0>>]))
    segment = <<0, 0x41, 0, 0x0B>> <> leb(size) <> :binary.copy(<<0xAB>>, size)
    data = section(11, vec([segment]))
    @header <> memory <> exports <> data
  end

  @doc "A module whose function `deep` nests `depth` blocks."
  def nested_blocks(depth) do
    types = section(1, vec([<<0x60, 0, 0>>]))
    functions = section(3, vec([<<0>>]))
    exports = section(7, vec([name("deep") <> <<0>> <> leb(0)]))

    body =
      <<0>> <> :binary.copy(<<0x02, 0x40>>, depth) <> :binary.copy(<<0x0B>>, depth) <> <<0x0B>>

    codes = section(10, vec([leb(byte_size(body)) <> body]))
    @header <> types <> functions <> exports <> codes
  end
end
