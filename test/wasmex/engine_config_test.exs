defmodule Wasmex.EngineConfigTest do
  use ExUnit.Case, async: true
  doctest Wasmex.EngineConfig

  test "has Wasmex's defaults" do
    assert %Wasmex.EngineConfig{} == %Wasmex.EngineConfig{
             consume_fuel: false,
             cranelift_opt_level: :none,
             wasm_backtrace_details: false,
             debug_info: false,
             memory64: false,
             wasm_component_model: true
           }
  end

  test "setters validate their values" do
    config = %Wasmex.EngineConfig{}

    assert_raise ArgumentError, fn ->
      Wasmex.EngineConfig.cranelift_opt_level(config, :max)
    end

    assert_raise ArgumentError, fn -> Wasmex.EngineConfig.consume_fuel(config, :yes) end
  end

  test "memory64 decides whether 64-bit memories compile" do
    {:ok, plain} = Wasmex.Store.new()
    assert {:error, _} = Wasmex.Module.compile(plain, "(module (memory i64 1))")
    {:ok, engine} = Wasmex.Engine.new(Wasmex.EngineConfig.memory64(%Wasmex.EngineConfig{}, true))
    {:ok, store} = Wasmex.Store.new(nil, engine)
    assert {:ok, module} = Wasmex.Module.compile(store, "(module (memory (export \"m\") i64 1))")
    assert %{"m" => {:memory, %{memory64: true}}} = Wasmex.Module.exports(module)
  end
end

defmodule Wasmex.EngineConfigOptionsTest do
  # Each interpreter option, as a guest sees it.
  use ExUnit.Case, async: true

  defp store(config) do
    {:ok, engine} = Wasmex.Engine.new(config)
    {:ok, store} = Wasmex.Store.new(nil, engine)
    store
  end

  defp compile(config, wat), do: Wasmex.Module.compile(store(config), wat)

  test "floats off rejects modules with float code" do
    wat = ~S[(module (func (export "f") (result f32) (f32.const 1)))]
    assert {:ok, _} = compile(%Wasmex.EngineConfig{}, wat)

    assert {:error, "Could not compile module: " <> reason} =
             compile(%Wasmex.EngineConfig{floats: false}, wat)

    assert reason =~ "float"
  end

  test "simd off rejects modules with v128" do
    wat = ~S[(module (func (export "f") (param v128) (result v128) (local.get 0)))]
    assert {:ok, _} = compile(%Wasmex.EngineConfig{}, wat)

    assert {:error, "Could not compile module: " <> reason} =
             compile(%Wasmex.EngineConfig{simd: false}, wat)

    assert reason =~ "SIMD"
  end

  test "each proposal can be turned off" do
    cases = [
      {:tail_call, ~S[(module (func $f (return_call $f)))]},
      {:multi_value, ~S[(module (func (result i32 i32) (i32.const 1) (i32.const 2)))]},
      {:bulk_memory,
       ~S[(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))]},
      {:sign_extension, ~S[(module (func (result i32) (i32.extend8_s (i32.const 1))))]},
      {:saturating_float_to_int,
       ~S[(module (func (result i32) (i32.trunc_sat_f32_s (f32.const 1))))]},
      {:multi_memory, ~S[(module (memory 1) (memory 1))]},
      {:reference_types, ~S[(module (func (result externref) (ref.null extern)))]}
    ]

    for {option, wat} <- cases do
      assert {:ok, _} = compile(%Wasmex.EngineConfig{}, wat), "#{option} on"
      off = Map.put(%Wasmex.EngineConfig{}, option, false)
      assert {:error, "Could not compile module: " <> _} = compile(off, wat), "#{option} off"
    end
  end

  test "wide arithmetic and custom page sizes are off unless turned on" do
    wat = ~S[(module (memory 1 (pagesize 1)))]
    assert {:error, _} = compile(%Wasmex.EngineConfig{}, wat)
    assert {:ok, _} = compile(%Wasmex.EngineConfig{custom_page_sizes: true}, wat)
  end

  test "max_recursion_depth decides when recursion traps" do
    wat = ~S[(module (func $down (export "down") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (call $down (i32.sub (local.get 0) (i32.const 1)))))))]

    store = store(%Wasmex.EngineConfig{max_recursion_depth: 50})
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    assert Wasmex.Instance.call_function(store, instance, "down", [40]) == {:ok, [0]}

    assert Wasmex.Instance.call_function(store, instance, "down", [60]) ==
             {:error, "call stack exhausted"}

    store = store(%Wasmex.EngineConfig{})
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    assert Wasmex.Instance.call_function(store, instance, "down", [900]) == {:ok, [0]}

    assert Wasmex.Instance.call_function(store, instance, "down", [100_000]) ==
             {:error, "call stack exhausted"}
  end

  test "max_stack_height bounds the value stack of a call" do
    # Each frame of `deep` holds 50 locals.
    locals = String.duplicate(" i64", 50)

    wat = ~s[(module (func $deep (export "deep") (param i32) (result i32) (local#{locals})
      (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (call $deep (i32.sub (local.get 0) (i32.const 1)))))))]

    store = store(%Wasmex.EngineConfig{max_stack_height: 20_000})
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    assert Wasmex.Instance.call_function(store, instance, "deep", [5]) == {:ok, [0]}

    assert Wasmex.Instance.call_function(store, instance, "deep", [500]) ==
             {:error, "call stack exhausted"}
  end

  test "eager compilation works like lazy translation, and finds the same errors" do
    wat = ~S[(module (func (export "f") (result i32) (i32.const 7)))]
    store = store(%Wasmex.EngineConfig{compilation_mode: :eager})
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    assert Wasmex.Instance.call_function(store, instance, "f", []) == {:ok, [7]}

    bad = ~S[(module (func (result i32) (i64.const 1)))]

    assert {:error, "Could not compile module: " <> _} =
             compile(%Wasmex.EngineConfig{compilation_mode: :eager}, bad)

    assert {:error, "Could not compile module: " <> _} = compile(%Wasmex.EngineConfig{}, bad)
  end

  test "NaN results are canonical" do
    wat = ~S[(module (func (export "nan_bits") (result i32)
      (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0)))))]

    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    # 0x7FC00000 on every CPU (x86 would produce 0xFFC00000 without canonicalisation).
    assert Wasmex.Instance.call_function(store, instance, "nan_bits", []) == {:ok, [0x7FC00000]}
  end

  test "a field of no such name raises, naming it" do
    config = Map.put(%Wasmex.EngineConfig{}, :consume_fule, true)
    error = assert_raise ArgumentError, fn -> Wasmex.Engine.new(config) end
    assert error.message =~ "unknown fields [:consume_fule] in a %Wasmex.EngineConfig{}, "
    assert error.message =~ ~r/ \(did you mean :consume_fuel\?\)$/
  end

  test "invalid field values raise ArgumentError" do
    assert_raise ArgumentError, fn ->
      Wasmex.Engine.new(%Wasmex.EngineConfig{compilation_mode: :fast})
    end

    assert_raise ArgumentError, fn ->
      Wasmex.Engine.new(%Wasmex.EngineConfig{max_recursion_depth: -1})
    end

    assert_raise ArgumentError, fn -> Wasmex.Engine.new(%Wasmex.EngineConfig{floats: :yes}) end

    assert_raise ArgumentError, fn ->
      Wasmex.EngineConfig.max_stack_height(%Wasmex.EngineConfig{}, 0)
    end

    assert_raise ArgumentError, fn ->
      Wasmex.EngineConfig.compilation_mode(%Wasmex.EngineConfig{}, :fast)
    end
  end
end
