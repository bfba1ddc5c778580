defmodule WasmexInterp.Build.Target do
  @moduledoc """
  Which machine the NIF is for, as a Rust target triple: this machine's, or the one a
  cross build (Nerves, or `WASMEX_INTERP_TARGET`) asks for.
  """

  @doc """
  The Rust target triple to build or fetch for, from the environment `env`; `nil` for
  this machine.

  `WASMEX_INTERP_TARGET` wins; otherwise the Nerves variables decide. 32-bit ARM is
  `armv7` unless `TARGET_CPU` is an ARMv6 core (Raspberry Pi 0 and 1: `arm1176jzf_s`) or
  an ARMv5 one (`arm926ej_s`), and `riscv64` is Rust's `riscv64gc`.

      iex> WasmexInterp.Build.Target.rust_target(%{})
      nil
      iex> WasmexInterp.Build.Target.rust_target(%{"TARGET_ARCH" => "aarch64",
      ...>   "TARGET_OS" => "linux", "TARGET_ABI" => "gnu"})
      "aarch64-unknown-linux-gnu"
      iex> WasmexInterp.Build.Target.rust_target(%{"TARGET_ARCH" => "arm",
      ...>   "TARGET_CPU" => "cortex_a7", "TARGET_OS" => "linux", "TARGET_ABI" => "gnueabihf"})
      "armv7-unknown-linux-gnueabihf"
      iex> WasmexInterp.Build.Target.rust_target(%{"TARGET_ARCH" => "arm",
      ...>   "TARGET_CPU" => "arm1176jzf_s", "TARGET_OS" => "linux", "TARGET_ABI" => "gnueabihf"})
      "arm-unknown-linux-gnueabihf"
  """
  @spec rust_target(%{optional(String.t()) => String.t()}) :: String.t() | nil
  def rust_target(env) do
    case env do
      %{"WASMEX_INTERP_TARGET" => target} when target != "" ->
        target

      %{"TARGET_ARCH" => arch} when arch != "" ->
        os = non_empty(env["TARGET_OS"], "linux")
        abi = non_empty(env["TARGET_ABI"], if(arch == "arm", do: "gnueabihf", else: "gnu"))
        "#{rust_arch(arch, non_empty(env["TARGET_CPU"], ""))}-unknown-#{os}-#{abi}"

      _ ->
        nil
    end
  end

  defp rust_arch("arm", "arm1176" <> _), do: "arm"
  defp rust_arch("arm", "arm1136" <> _), do: "arm"
  defp rust_arch("arm", "arm926" <> _), do: "armv5te"
  defp rust_arch("arm", _cpu), do: "armv7"
  defp rust_arch("riscv64", _cpu), do: "riscv64gc"
  defp rust_arch(arch, _cpu), do: arch

  defp non_empty(value, default) when value in [nil, ""], do: default
  defp non_empty(value, _default), do: value

  @doc """
  The Rust target triple of the machine this BEAM runs on, from the architecture OTP
  was built for (`:erlang.system_info(:system_architecture)`), as rustler_precompiled
  derives it: Linux vendors become `unknown`, 32-bit ARM hosts `armv7`.

      iex> WasmexInterp.Build.Target.host("x86_64-pc-linux-gnu")
      "x86_64-unknown-linux-gnu"
      iex> WasmexInterp.Build.Target.host("arm-unknown-linux-gnueabihf")
      "armv7-unknown-linux-gnueabihf"
      iex> WasmexInterp.Build.Target.host("x86_64-alpine-linux-musl")
      "x86_64-unknown-linux-musl"
      iex> WasmexInterp.Build.Target.host("aarch64-apple-darwin23.4.0")
      "aarch64-apple-darwin"
  """
  @spec host(String.t()) :: String.t()
  def host(system_architecture \\ to_string(:erlang.system_info(:system_architecture))) do
    case String.split(system_architecture, "-") do
      [arch, _vendor, "linux" | abi] ->
        "#{host_arch(arch)}-unknown-linux-#{Enum.join(abi, "-") |> non_empty("gnu")}"

      [arch, "apple", "darwin" <> _ | _] ->
        "#{host_arch(arch)}-apple-darwin"

      [arch, vendor, os | _] ->
        "#{host_arch(arch)}-#{vendor}-#{os}"

      _ ->
        system_architecture
    end
  end

  defp host_arch("amd64"), do: "x86_64"
  defp host_arch("arm64"), do: "aarch64"
  defp host_arch("riscv64"), do: "riscv64gc"
  defp host_arch("arm" <> _), do: "armv7"
  defp host_arch(arch), do: arch

  @doc """
  Whether a library for `target` (`nil`: this machine) can be loaded by this BEAM.
  A cross build's library cannot, and must not be loaded or warned about while building.
  """
  @spec native?(String.t() | nil) :: boolean()
  def native?(nil), do: true
  def native?(target), do: target == host()
end
