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

    assert_raise FunctionClauseError, fn ->
      Wasmex.EngineConfig.cranelift_opt_level(config, :max)
    end

    assert_raise FunctionClauseError, fn -> Wasmex.EngineConfig.consume_fuel(config, :yes) end
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
