defmodule Mix.Tasks.Compile.WasmexInterpTest do
  use ExUnit.Case, async: true

  # The compiler is defined in mix.exs and has no BEAM file, so its @doc examples cannot
  # run as doctests; every one of them is among the cases here.
  alias Mix.Tasks.Compile.WasmexInterp, as: Compiler

  defp nerves(arch, cpu, abi),
    do: %{"TARGET_ARCH" => arch, "TARGET_CPU" => cpu, "TARGET_OS" => "linux", "TARGET_ABI" => abi}

  describe "rust_target/1 maps the Nerves environment" do
    test "for each system family" do
      # {TARGET_ARCH, TARGET_CPU, TARGET_ABI} as the Nerves systems set them.
      for {env, triple} <- [
            {nerves("arm", "arm1176jzf_s", "gnueabihf"), "arm-unknown-linux-gnueabihf"},
            {nerves("arm", "cortex_a7", "gnueabihf"), "armv7-unknown-linux-gnueabihf"},
            {nerves("arm", "cortex_a8", "gnueabihf"), "armv7-unknown-linux-gnueabihf"},
            {nerves("arm", "cortex_a53", "gnueabihf"), "armv7-unknown-linux-gnueabihf"},
            {nerves("arm", "arm926ej_s", "gnueabi"), "armv5te-unknown-linux-gnueabi"},
            {nerves("aarch64", "cortex_a72", "gnu"), "aarch64-unknown-linux-gnu"},
            {nerves("aarch64", "", "gnu"), "aarch64-unknown-linux-gnu"},
            {%{}, nil},
            {nerves("riscv64", "", "gnu"), "riscv64gc-unknown-linux-gnu"},
            {nerves("x86_64", "", "gnu"), "x86_64-unknown-linux-gnu"},
            {nerves("arm", "cortex_a7", "musleabihf"), "armv7-unknown-linux-musleabihf"}
          ] do
        assert Compiler.rust_target(env) == triple
      end
    end

    test "defaults the OS to linux and the ABI to gnu (gnueabihf on ARM)" do
      assert Compiler.rust_target(%{"TARGET_ARCH" => "aarch64"}) == "aarch64-unknown-linux-gnu"
      assert Compiler.rust_target(%{"TARGET_ARCH" => "arm"}) == "armv7-unknown-linux-gnueabihf"
      assert Compiler.rust_target(%{"TARGET_ARCH" => ""}) == nil
    end

    test "WASMEX_INTERP_TARGET wins" do
      env =
        Map.put(
          nerves("arm", "cortex_a7", "gnueabihf"),
          "WASMEX_INTERP_TARGET",
          "thumbv7neon-unknown-linux-gnueabihf"
        )

      assert Compiler.rust_target(env) == "thumbv7neon-unknown-linux-gnueabihf"
    end
  end

  describe "cargo_env/2" do
    test "is empty when building for this machine" do
      assert Compiler.cargo_env(nil, %{"CC" => "gcc"}) == []
    end

    test "links with CC unless a linker is configured" do
      assert Compiler.cargo_env("riscv64gc-unknown-linux-gnu", %{"CC" => "riscv64-gcc"}) ==
               [{"CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER", "riscv64-gcc"}]

      env = %{"CC" => "cc", "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER" => "mine"}
      assert Compiler.cargo_env("riscv64gc-unknown-linux-gnu", env) == []
      assert Compiler.cargo_env("riscv64gc-unknown-linux-gnu", %{}) == []
    end

    test "links libatomic as needed on 32-bit ARM, after the user's flags" do
      flag = "-C link-arg=-Wl,--push-state,--as-needed,-latomic,--pop-state"

      assert Compiler.cargo_env("armv7-unknown-linux-gnueabihf", %{"CC" => "arm-gcc"}) == [
               {"CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER", "arm-gcc"},
               {"CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS", flag}
             ]

      env = %{
        "CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS" => "-C target-cpu=arm1176jzf-s"
      }

      assert Compiler.cargo_env("arm-unknown-linux-gnueabihf", env) == [
               {"CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS",
                "-C target-cpu=arm1176jzf-s " <> flag}
             ]

      assert Compiler.cargo_env("arm-unknown-linux-gnueabihf", %{"WASMEX_INTERP_LIBATOMIC" => "0"}) ==
               []

      assert Compiler.cargo_env("aarch64-unknown-linux-gnu", %{}) == []
    end
  end
end
