defmodule Wasmex.Wat do
  @moduledoc ~S"""
  Turns WebAssembly text (WAT) into a Wasm binary.

  `Wasmex.Module.compile/2` accepts WAT directly; this is for when the binary itself is
  wanted (to store it, or to hand it to another tool).

  ## Example

      iex> {:ok, <<0, "asm", _::binary>>} = Wasmex.Wat.to_wasm("(module)")
  """

  @doc """
  Parses `wat` and returns the Wasm binary.

      iex> {:ok, wasm} = Wasmex.Wat.to_wasm("(module)")
      iex> wasm
      <<0, 97, 115, 109, 1, 0, 0, 0>>
      iex> {:error, "Failed to parse WAT: expected `(`" <> _} = Wasmex.Wat.to_wasm("not a wat file")
  """
  @spec to_wasm(String.t()) :: {:ok, binary()} | {:error, String.t()}
  def to_wasm(wat) when is_binary(wat) do
    unless String.valid?(wat) do
      raise ArgumentError, "expected wat to be UTF-8 text, got: #{inspect(wat, limit: 10)}"
    end

    Wasmex.Native.wat_to_wasm(wat)
  end

  def to_wasm(wat), do: Wasmex.Args.invalid!(wat: {:binary, wat})
end
