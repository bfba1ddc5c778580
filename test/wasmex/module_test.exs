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
      {:ok, wasm} = Wasmex.Wat.to_wasm(example_wat())
      assert {:ok, %Wasmex.Module{}} = Wasmex.Module.compile(store, wasm)
      assert {:ok, %Wasmex.Module{}} = Wasmex.Module.compile(store, example_wat())
    end

    test "compiles more than 16 KiB on a dirty scheduler, and less on a normal one", ctx do
      twins = [module_compile_nif: 2, module_compile_dirty_nif: 2]
      compile = fn wat -> Wasmex.Module.compile(ctx.store, wat) end
      # 18,008 and 15,008 bytes of WAT.
      big = "(module " <> String.duplicate("(func)", 3_000) <> ")"
      small = "(module " <> String.duplicate("(func)", 2_500) <> ")"

      assert {{:ok, %Wasmex.Module{}}, [:module_compile_nif, :module_compile_dirty_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> compile.(big) end, twins)

      assert {{:ok, %Wasmex.Module{}}, [:module_compile_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> compile.(small) end, twins)
    end

    test "rejects text that is not WAT with the parser's message", %{store: store} do
      assert {:error, message} = Wasmex.Module.compile(store, "wat is this? not WAT for sure")

      assert message ==
               "Error while parsing bytes: expected `(`\n     --> <anon>:1:1\n      |\n" <>
                 "    1 | wat is this? not WAT for sure\n      | ^."
    end

    test "rejects garbage, truncated and invalid binaries", %{store: store} do
      {:ok, wasm} = Wasmex.Wat.to_wasm(example_wat())

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
      assert_raise ArgumentError, fn -> Wasmex.Module.compile(store, 42) end
      assert_raise ArgumentError, fn -> Wasmex.Module.compile(:store, "(module)") end
    end
  end

  describe "name/1" do
    test "is the name section's module name, or nil", %{store: store} do
      {:ok, named} = Wasmex.Module.compile(store, example_wat())
      assert Wasmex.Module.name(named) == "example"
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

defmodule Wasmex.ModuleSerializeTest do
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  setup do
    engine = Wasmex.Engine.default()
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, example_wat())
    %{engine: engine, store: store, module: module}
  end

  describe "serialize/1 and unsafe_deserialize/2" do
    test "round-trip to a module with the same exports and behaviour", ctx do
      {:ok, bytes} = Wasmex.Module.serialize(ctx.module)
      assert {:ok, copy} = Wasmex.Module.unsafe_deserialize(bytes, ctx.engine)
      assert Wasmex.Module.exports(copy) == Wasmex.Module.exports(ctx.module)
      assert Wasmex.Module.imports(copy) == Wasmex.Module.imports(ctx.module)
      assert Wasmex.Module.name(copy) == "example"
      {:ok, instance} = Wasmex.Instance.new(ctx.store, copy, %{})
      assert Wasmex.Instance.call_function(ctx.store, instance, "add", [20, 22]) == {:ok, [42]}
      # Serializing the copy gives the same bytes.
      assert Wasmex.Module.serialize(copy) == {:ok, bytes}
    end

    test "keep start functions and their imports", ctx do
      wat = ~S[(module (import "env" "hello" (func $hello))
        (global (export "g") (mut i32) (i32.const 0))
        (func $start (call $hello) (global.set 0 (i32.const 5))) (start $start))]

      {:ok, module} = Wasmex.Module.compile(ctx.store, wat)
      {:ok, bytes} = Wasmex.Module.serialize(module)
      {:ok, copy} = Wasmex.Module.unsafe_deserialize(bytes, ctx.engine)
      test = self()
      imports = %{"env" => %{"hello" => {:fn, [], [], fn _ -> send(test, :hello) end}}}
      {:ok, instance} = Wasmex.Instance.new(ctx.store, copy, imports)
      assert_received :hello
      assert Wasmex.Instance.get_global_value(ctx.store, instance, "g") == {:ok, 5}
    end

    test "load in an engine with the same features, not in one with others", ctx do
      {:ok, bytes} = Wasmex.Module.serialize(ctx.module)

      {:ok, fuel_engine} =
        Wasmex.Engine.new(%Wasmex.EngineConfig{consume_fuel: true, max_recursion_depth: 5})

      assert {:ok, _} = Wasmex.Module.unsafe_deserialize(bytes, fuel_engine)

      {:ok, no_simd} = Wasmex.Engine.new(%Wasmex.EngineConfig{simd: false})

      assert {:error,
              "Could not deserialize module: the module was compiled for an engine with other Wasm features" <>
                _} = Wasmex.Module.unsafe_deserialize(bytes, no_simd)
    end

    test "refuse damaged, truncated and foreign bytes", ctx do
      {:ok, bytes} = Wasmex.Module.serialize(ctx.module)
      size = byte_size(bytes)
      <<head::binary-size(size - 10), byte, tail::binary>> = bytes
      damaged = <<head::binary, Bitwise.bxor(byte, 1), tail::binary>>

      assert Wasmex.Module.unsafe_deserialize(damaged, ctx.engine) ==
               {:error,
                "Could not deserialize module: the module is damaged: its checksum does not match"}

      for cut <- [0, 5, 9, 12, 20, size - 1] do
        assert {:error, "Could not deserialize module: " <> _} =
                 Wasmex.Module.unsafe_deserialize(binary_part(bytes, 0, cut), ctx.engine)
      end

      {:ok, wasm} = Wasmex.Wat.to_wasm(example_wat())

      assert Wasmex.Module.unsafe_deserialize(wasm, ctx.engine) ==
               {:error, "Could not deserialize module: not a serialized module"}

      assert_raise ArgumentError, fn -> Wasmex.Module.unsafe_deserialize(:bytes) end
    end

    test "without an engine, use a new default one", ctx do
      {:ok, bytes} = Wasmex.Module.serialize(ctx.module)
      assert {:ok, copy} = Wasmex.Module.unsafe_deserialize(bytes)
      # A module of another engine cannot be instantiated in this store.
      assert {:error, "module was compiled for a different engine than the store's"} =
               Wasmex.Instance.new(ctx.store, copy, %{})
    end
  end

  describe "Engine.precompile_module/2" do
    test "compiles and serializes in one step", ctx do
      assert {:ok, bytes} = Wasmex.Engine.precompile_module(ctx.engine, example_wat())
      {:ok, module} = Wasmex.Module.unsafe_deserialize(bytes, ctx.engine)
      {:ok, instance} = Wasmex.Instance.new(ctx.store, module, %{})
      assert Wasmex.Instance.call_function(ctx.store, instance, "add", [1, 1]) == {:ok, [2]}

      assert {:error, "Error while parsing bytes: " <> _} =
               Wasmex.Engine.precompile_module(ctx.engine, "nope")
    end
  end
end

defmodule Wasmex.ModuleHugeTest do
  # Huge and adversarial modules compile on dirty schedulers: the BEAM stays responsive.
  use ExUnit.Case, async: false

  alias Wasmex.WasmBuilder

  @tag :slow
  test "100k functions, a 50 MB data section and deep nesting compile without stalling the BEAM" do
    modules = [
      WasmBuilder.many_functions(100_000),
      WasmBuilder.big_data(50 * 1024 * 1024),
      WasmBuilder.nested_blocks(100_000)
    ]

    compiles =
      for bytes <- modules, _ <- 1..System.schedulers_online() do
        Task.async(fn ->
          {:ok, store} = Wasmex.Store.new()
          {:ok, module} = Wasmex.Module.compile(store, bytes)
          {:ok, instance} = Wasmex.Instance.new(store, module, %{})
          {store, instance}
        end)
      end

    # Meanwhile, this process gets replies from fresh processes promptly.
    latencies =
      for _ <- 1..20 do
        started = System.monotonic_time(:microsecond)
        parent = self()
        spawn(fn -> send(parent, :pong) end)
        assert_receive :pong, 5_000
        System.monotonic_time(:microsecond) - started
      end

    results = Task.await_many(compiles, 60_000)
    assert Enum.max(latencies) < 50_000, "latencies (µs): #{inspect(latencies)}"

    [{store, many} | _] = results
    assert Wasmex.Instance.call_function(store, many, "last", []) == {:ok, []}
    {store, data} = Enum.at(results, System.schedulers_online())
    {:ok, memory} = Wasmex.Memory.from_instance(store, data)
    assert Wasmex.Memory.get_byte(store, memory, 50 * 1024 * 1024 - 1) == 0xAB
    {store, deep} = List.last(results)
    assert Wasmex.Instance.call_function(store, deep, "deep", []) == {:ok, []}
  end
end
