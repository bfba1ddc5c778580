defmodule Wasmex.WatTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Wat

  describe "to_wasm/1" do
    test "turns a module into its binary" do
      assert {:ok, <<0, "asm", 1, 0, 0, 0, _::binary>>} =
               Wasmex.Wat.to_wasm(~S[(module (func (export "f")))])
    end

    test "reports parse errors with the parser's message" do
      assert Wasmex.Wat.to_wasm("not a wat file") ==
               {:error,
                "Failed to parse WAT: expected `(`\n     --> <anon>:1:1\n      |\n    1 | not a wat file\n      | ^"}
    end

    test "rejects non-binaries and invalid UTF-8" do
      assert_raise ArgumentError, fn -> Wasmex.Wat.to_wasm(:atom) end
      assert_raise ArgumentError, fn -> Wasmex.Wat.to_wasm(<<255, 0>>) end
    end
  end
end
