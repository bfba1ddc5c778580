defmodule Wasmex.ModuleTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Module

  import Wasmex.Fixtures

  setup do
    {:ok, store} = Wasmex.Store.new()
    %{store: store}
  end

  describe "compile/2" do
    test "takes WAT text and Wasm binaries", %{store: store} do
      {:ok, wasm} = Wasmex.Wat.to_wasm(seed_wat())
      assert {:ok, %Wasmex.Module{}} = Wasmex.Module.compile(store, wasm)
      assert {:ok, %Wasmex.Module{}} = Wasmex.Module.compile(store, seed_wat())
    end

    test "rejects text that is not WAT with the parser's message", %{store: store} do
      assert {:error, message} = Wasmex.Module.compile(store, "wat is this? not WAT for sure")

      assert message ==
               "Error while parsing bytes: expected `(`\n     --> <anon>:1:1\n      |\n" <>
                 "    1 | wat is this? not WAT for sure\n      | ^."
    end

    test "rejects garbage, truncated and invalid binaries", %{store: store} do
      {:ok, wasm} = Wasmex.Wat.to_wasm(seed_wat())

      assert {:error, "Error while parsing bytes: " <> _} =
               Wasmex.Module.compile(store, <<1, 2, 3, 255, 0>>)

      for cut <- [9, 20, div(byte_size(wasm), 2), byte_size(wasm) - 1] do
        truncated = binary_part(wasm, 0, cut)

        assert {:error, "Could not compile module: " <> _} =
                 Wasmex.Module.compile(store, truncated)
      end

      # Valid structure, invalid code: i32.add of an i64.
      assert {:error, "Could not compile module: " <> reason} =
               Wasmex.Module.compile(
                 store,
                 "(module (func (result i32) (i32.add (i64.const 1) (i32.const 2))))"
               )

      assert reason =~ "type mismatch"
      assert {:error, "Could not compile module: " <> _} = Wasmex.Module.compile(store, "\0asm")
    end

    test "rejects random bytes without crashing", %{store: store} do
      :rand.seed(:exsss, {1, 2, 3})

      for _ <- 1..200 do
        bytes = <<0, "asm", 1, 0, 0, 0>> <> :crypto.strong_rand_bytes(:rand.uniform(64))
        assert {:error, "Could not compile module: " <> _} = Wasmex.Module.compile(store, bytes)
      end
    end

    test "raises ArgumentError for non-binaries", %{store: store} do
      assert_raise FunctionClauseError, fn -> Wasmex.Module.compile(store, 42) end
      assert_raise FunctionClauseError, fn -> Wasmex.Module.compile(:store, "(module)") end
    end
  end

  describe "name/1" do
    test "is the name section's module name, or nil", %{store: store} do
      {:ok, named} = Wasmex.Module.compile(store, seed_wat())
      assert Wasmex.Module.name(named) == "seed"
      {:ok, unnamed} = Wasmex.Module.compile(store, "(module)")
      assert Wasmex.Module.name(unnamed) == nil
    end
  end

  describe "exports/1" do
    test "describes functions, globals, memories and tables", %{store: store} do
      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
        (func (export "f") (param i32 i64 f32 f64 v128) (result i64 i32) unreachable)
        (global (export "c") f64 (f64.const 0))
        (memory (export "MyMemory") 256 256)
        (table (export "MyTable") 10 10 funcref)
        (table (export "refs") 1 externref))])

      assert Wasmex.Module.exports(module) == %{
               "f" => {:fn, [:i32, :i64, :f32, :f64, :v128], [:i64, :i32]},
               "c" => {:global, %{mutability: :const, type: :f64}},
               "MyMemory" =>
                 {:memory, %{maximum: 256, minimum: 256, shared: false, memory64: false}},
               "MyTable" =>
                 {:table, %{maximum: 10, minimum: 10, type: {:reference, "(ref null func)"}}},
               "refs" => {:table, %{minimum: 1, type: {:reference, "(ref null extern)"}}}
             }
    end

    test "is empty for an empty module and hides the moved start function", %{store: store} do
      {:ok, module} = Wasmex.Module.compile(store, "(module)")
      assert Wasmex.Module.exports(module) == %{}
      {:ok, module} = Wasmex.Module.compile(store, "(module (func $s) (start $s))")
      assert Wasmex.Module.exports(module) == %{}
    end
  end

  describe "imports/1" do
    test "groups imports by namespace", %{store: store} do
      {:ok, module} = Wasmex.Module.compile(store, ~S[(module
        (import "env" "f" (func (param i32) (result i32)))
        (import "env" "g" (global (mut i32)))
        (import "js" "mem" (memory 1 2))
        (import "js" "table" (table 2 funcref)))])

      assert Wasmex.Module.imports(module) == %{
               "env" => %{
                 "f" => {:fn, [:i32], [:i32]},
                 "g" => {:global, %{mutability: :var, type: :i32}}
               },
               "js" => %{
                 "mem" => {:memory, %{minimum: 1, maximum: 2, shared: false, memory64: false}},
                 "table" => {:table, %{minimum: 2, type: {:reference, "(ref null func)"}}}
               }
             }

      {:ok, empty} = Wasmex.Module.compile(store, "(module)")
      assert Wasmex.Module.imports(empty) == %{}
    end
  end
end
