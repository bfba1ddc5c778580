defmodule Wasmex.EngineConfig do
  @moduledoc ~S"""
  Configures a `Wasmex.Engine`.

  The fields are Wasmex's. wasmi is an interpreter, so the fields that tune Wasmtime's
  Cranelift compiler are accepted (existing code keeps working) and have no effect.

  ## Options

    * `:consume_fuel` - stores made with this engine meter fuel: they start with 0 fuel,
      set it with `Wasmex.StoreOrCaller.set_fuel/2`. Defaults to `false`.
    * `:memory64` - accept modules that use 64-bit memories. Defaults to `false`.
    * `:cranelift_opt_level` - no effect (there is no compiler). Defaults to `:none`.
    * `:wasm_backtrace_details` - no effect. Defaults to `false`.
    * `:debug_info` - no effect. Defaults to `false`.
    * `:wasm_component_model` - no effect (wasmi runs core modules). Defaults to `true`.

  ## Example

      iex> config = %Wasmex.EngineConfig{}
      ...>          |> Wasmex.EngineConfig.consume_fuel(true)
      ...>          |> Wasmex.EngineConfig.cranelift_opt_level(:speed)
      iex> config.consume_fuel
      true
      iex> {:ok, %Wasmex.Engine{}} = Wasmex.Engine.new(config)
  """

  defstruct consume_fuel: false,
            cranelift_opt_level: :none,
            wasm_backtrace_details: false,
            debug_info: false,
            memory64: false,
            wasm_component_model: true

  @type t :: %__MODULE__{
          consume_fuel: boolean(),
          cranelift_opt_level: :none | :speed | :speed_and_size,
          wasm_backtrace_details: boolean(),
          debug_info: boolean(),
          memory64: boolean(),
          wasm_component_model: boolean()
        }

  @doc """
  Sets whether stores made with the engine meter fuel.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.consume_fuel(true)
      %Wasmex.EngineConfig{consume_fuel: true}
  """
  @spec consume_fuel(t(), boolean()) :: t()
  def consume_fuel(%__MODULE__{} = config, consume_fuel) when is_boolean(consume_fuel),
    do: %{config | consume_fuel: consume_fuel}

  @doc """
  Sets the Cranelift optimisation level. Accepted for Wasmex compatibility; no effect.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.cranelift_opt_level(:speed)
      %Wasmex.EngineConfig{cranelift_opt_level: :speed}
  """
  @spec cranelift_opt_level(t(), :none | :speed | :speed_and_size) :: t()
  def cranelift_opt_level(%__MODULE__{} = config, level)
      when level in [:none, :speed, :speed_and_size],
      do: %{config | cranelift_opt_level: level}

  @doc """
  Sets whether trap backtraces read debug info. Accepted for Wasmex compatibility; no effect.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.wasm_backtrace_details(true)
      %Wasmex.EngineConfig{wasm_backtrace_details: true}
  """
  @spec wasm_backtrace_details(t(), boolean()) :: t()
  def wasm_backtrace_details(%__MODULE__{} = config, enabled) when is_boolean(enabled),
    do: %{config | wasm_backtrace_details: enabled}

  @doc """
  Sets whether DWARF debug info is emitted. Accepted for Wasmex compatibility; no effect.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.debug_info(true)
      %Wasmex.EngineConfig{debug_info: true}
  """
  @spec debug_info(t(), boolean()) :: t()
  def debug_info(%__MODULE__{} = config, enabled) when is_boolean(enabled),
    do: %{config | debug_info: enabled}

  @doc """
  Sets whether 64-bit memories (the memory64 proposal) are accepted.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.memory64(true)
      %Wasmex.EngineConfig{memory64: true}
  """
  @spec memory64(t(), boolean()) :: t()
  def memory64(%__MODULE__{} = config, enabled) when is_boolean(enabled),
    do: %{config | memory64: enabled}

  @doc """
  Sets whether the component model is on. Accepted for Wasmex compatibility; no effect.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.wasm_component_model(false)
      %Wasmex.EngineConfig{wasm_component_model: false}
  """
  @spec wasm_component_model(t(), boolean()) :: t()
  def wasm_component_model(%__MODULE__{} = config, enabled) when is_boolean(enabled),
    do: %{config | wasm_component_model: enabled}
end
