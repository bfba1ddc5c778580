defmodule Wasmex.EngineConfig do
  @moduledoc ~S"""
  Configures a `Wasmex.Engine`.

  The first options are Wasmex's. wasmi is an interpreter, so the fields that tune
  Wasmtime's Cranelift compiler are accepted (existing code keeps working) and have no
  effect. The others are the interpreter's: how modules are compiled, how deep guests may
  recurse, and which Wasm proposals are accepted.

  Whatever the configuration, NaN results are canonical on every CPU (float code gives
  the same bits on x86 and ARM), and no executable memory is ever mapped.

  ## Options

    * `:consume_fuel` - stores made with this engine meter fuel: they start with 0 fuel,
      set it with `Wasmex.StoreOrCaller.set_fuel/2`. Defaults to `false`.
    * `:compilation_mode` - `:lazy_translation` validates a module when it is compiled and
      translates each function on its first call (fast start-up); `:eager` translates
      everything up front. Fuel use is the same either way. Defaults to `:lazy_translation`.
    * `:max_recursion_depth` - how deep calls may nest before the guest traps with
      `call stack exhausted`. Defaults to `nil` (wasmi's 1,000).
    * `:max_stack_height` - how many bytes of value stack a call may use before it traps
      with `call stack exhausted`. Defaults to `nil` (wasmi's 1,000,000).
    * `:memory64` - 64-bit memories. Defaults to `false`.
    * `:floats` - `f32`/`f64`; off, modules with float code do not compile. Defaults to
      `true`.
    * `:simd`, `:relaxed_simd` - 128-bit SIMD (`v128`). Default to `true`.
    * `:multi_memory`, `:bulk_memory`, `:reference_types`, `:tail_call`,
      `:extended_const`, `:multi_value`, `:mutable_global`, `:sign_extension`,
      `:saturating_float_to_int` - the Wasm proposals of those names. Default to `true`.
    * `:custom_page_sizes`, `:wide_arithmetic` - the Wasm proposals of those names.
      Default to `false`.
    * `:cranelift_opt_level` - no effect (there is no compiler). Defaults to `:none`.
    * `:wasm_backtrace_details` - no effect. Defaults to `false`.
    * `:debug_info` - no effect. Defaults to `false`.
    * `:wasm_component_model` - no effect (wasmi runs core modules). Defaults to `true`.

  ## Example

      iex> config = %Wasmex.EngineConfig{}
      ...>          |> Wasmex.EngineConfig.consume_fuel(true)
      ...>          |> Wasmex.EngineConfig.cranelift_opt_level(:speed)
      ...>          |> Wasmex.EngineConfig.max_recursion_depth(100)
      iex> config.consume_fuel
      true
      iex> {:ok, %Wasmex.Engine{}} = Wasmex.Engine.new(config)
  """

  import Wasmex.Args, only: [is_pos_integer_or_nil: 1]

  alias Wasmex.Args

  # {field, argument name, what it limits, a doctest value} for the limits of a call.
  @limits [
    {:max_recursion_depth, :depth, "how deep calls may nest (wasmi: 1,000)", 50},
    {:max_stack_height, :height,
     "how many bytes of value stack a call may use (wasmi: 1,000,000)", 10_000}
  ]

  # {field, default, what it turns on} for the options that take a boolean.
  @booleans [
    {:consume_fuel, false, "fuel metering for the stores made with the engine"},
    {:wasm_backtrace_details, false,
     "trap backtraces with debug info (accepted for Wasmex compatibility; no effect)"},
    {:debug_info, false, "DWARF debug info (accepted for Wasmex compatibility; no effect)"},
    {:wasm_component_model, true,
     "the component model (accepted for Wasmex compatibility; no effect)"},
    {:memory64, false, "64-bit memories (the memory64 proposal)"},
    {:floats, true, "`f32` and `f64` types and instructions"},
    {:simd, true, "128-bit SIMD (`v128`)"},
    {:relaxed_simd, true, "relaxed SIMD (needs `simd`)"},
    {:multi_memory, true, "several memories per module"},
    {:bulk_memory, true, "bulk memory operations"},
    {:reference_types, true, "reference types"},
    {:tail_call, true, "tail calls"},
    {:extended_const, true, "extended constant expressions"},
    {:multi_value, true, "several results per function or block"},
    {:mutable_global, true, "mutable imported and exported globals"},
    {:sign_extension, true, "sign-extension operators"},
    {:saturating_float_to_int, true, "non-trapping float-to-int conversions"},
    {:custom_page_sizes, false, "custom page sizes"},
    {:wide_arithmetic, false, "wide arithmetic"}
  ]

  defstruct [
              cranelift_opt_level: :none,
              compilation_mode: :lazy_translation,
              max_recursion_depth: nil,
              max_stack_height: nil
            ] ++ Enum.map(@booleans, fn {field, default, _} -> {field, default} end)

  @type t :: %__MODULE__{
          consume_fuel: boolean(),
          cranelift_opt_level: :none | :speed | :speed_and_size,
          wasm_backtrace_details: boolean(),
          debug_info: boolean(),
          wasm_component_model: boolean(),
          compilation_mode: :lazy_translation | :eager,
          max_recursion_depth: pos_integer() | nil,
          max_stack_height: pos_integer() | nil,
          memory64: boolean(),
          floats: boolean(),
          simd: boolean(),
          relaxed_simd: boolean(),
          multi_memory: boolean(),
          bulk_memory: boolean(),
          reference_types: boolean(),
          tail_call: boolean(),
          extended_const: boolean(),
          multi_value: boolean(),
          mutable_global: boolean(),
          sign_extension: boolean(),
          saturating_float_to_int: boolean(),
          custom_page_sizes: boolean(),
          wide_arithmetic: boolean()
        }

  for {field, default, what} <- @booleans do
    @doc """
    Turns #{what} on or off. Defaults to `#{default}`.

        iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.#{field}(#{not default}) |> Map.get(:#{field})
        #{not default}
    """
    @spec unquote(field)(t(), boolean()) :: t()
    def unquote(field)(%__MODULE__{} = config, enabled) when is_boolean(enabled),
      do: Map.put(config, unquote(field), enabled)

    def unquote(field)(config, enabled),
      do: Args.invalid!(config: {__MODULE__, config}, enabled: {:boolean, enabled})
  end

  @doc false
  # Checks every field, so that a struct built by hand fails with a clear ArgumentError.
  @spec validate!(t()) :: :ok
  def validate!(config)

  def validate!(%__MODULE__{} = config) do
    Args.whole!(config)

    for {field, _, _} <- @booleans, not is_boolean(Map.fetch!(config, field)) do
      invalid!(field, "a boolean", Map.fetch!(config, field))
    end

    unless config.cranelift_opt_level in [:none, :speed, :speed_and_size],
      do:
        invalid!(
          :cranelift_opt_level,
          ":none, :speed or :speed_and_size",
          config.cranelift_opt_level
        )

    unless config.compilation_mode in [:lazy_translation, :eager],
      do: invalid!(:compilation_mode, ":lazy_translation or :eager", config.compilation_mode)

    for {field, _, _, _} <- @limits,
        value = Map.fetch!(config, field),
        not is_pos_integer_or_nil(value) do
      invalid!(field, "a positive integer or nil", value)
    end

    :ok
  end

  def validate!(config), do: Args.invalid!(config: {__MODULE__, config})

  defp invalid!(field, expected, value) do
    raise ArgumentError, "expected :#{field} to be #{expected}, got: #{inspect(value)}"
  end

  @doc """
  Sets the Cranelift optimisation level. Accepted for Wasmex compatibility; no effect.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.cranelift_opt_level(:speed)
      %Wasmex.EngineConfig{cranelift_opt_level: :speed}
  """
  @spec cranelift_opt_level(t(), :none | :speed | :speed_and_size) :: t()
  def cranelift_opt_level(%__MODULE__{} = config, level)
      when level in [:none, :speed, :speed_and_size],
      do: %{config | cranelift_opt_level: level}

  def cranelift_opt_level(config, level) do
    Args.invalid!(
      config: {__MODULE__, config},
      level: {{:in, [:none, :speed, :speed_and_size]}, level}
    )
  end

  @doc """
  Sets how modules are compiled: `:lazy_translation` (the default) or `:eager`.

      iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.compilation_mode(:eager)
      %Wasmex.EngineConfig{compilation_mode: :eager}
  """
  @spec compilation_mode(t(), :lazy_translation | :eager) :: t()
  def compilation_mode(%__MODULE__{} = config, mode) when mode in [:lazy_translation, :eager],
    do: %{config | compilation_mode: mode}

  def compilation_mode(config, mode) do
    Args.invalid!(
      config: {__MODULE__, config},
      mode: {{:in, [:lazy_translation, :eager]}, mode}
    )
  end

  for {field, argument, what, example} <- @limits do
    @doc """
    Sets #{what} before the guest traps; `nil` for wasmi's default.

        iex> %Wasmex.EngineConfig{} |> Wasmex.EngineConfig.#{field}(#{example})
        %Wasmex.EngineConfig{#{field}: #{example}}
    """
    @spec unquote(field)(t(), pos_integer() | nil) :: t()
    def unquote(field)(%__MODULE__{} = config, limit) when is_pos_integer_or_nil(limit),
      do: Map.put(config, unquote(field), limit)

    def unquote(field)(config, limit),
      do:
        Args.invalid!([
          {:config, {__MODULE__, config}},
          {unquote(argument), {:pos_integer_or_nil, limit}}
        ])
  end
end
