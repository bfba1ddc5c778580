defmodule Wasmex.Wasi.WasiOptionsTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Wasi.WasiOptions
  doctest Wasmex.Wasi.PreopenOptions
end
