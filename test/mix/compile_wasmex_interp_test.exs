# mix.exs loads the compile step (mix/) from source: its modules have no .beam file, so no
# docs for doctest. Compile them again into a directory on the code path.
build_ebin = Path.expand("tmp/build_ebin")
File.rm_rf!(build_ebin)
File.mkdir_p!(build_ebin)
options = Code.compiler_options()
Code.compiler_options(ignore_module_conflict: true, docs: true)
{:ok, _, _} = Kernel.ParallelCompiler.compile_to_path(Path.wildcard("mix/**/*.ex"), build_ebin)
Code.compiler_options(Map.take(options, [:ignore_module_conflict, :docs]))
Code.prepend_path(build_ebin)

defmodule Mix.Tasks.Compile.WasmexInterpTest do
  use ExUnit.Case, async: true

  alias WasmexInterp.Build.{Cargo, Precompiled, Target}

  doctest Target
  doctest Cargo
  doctest Precompiled

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
        assert Target.rust_target(env) == triple
      end
    end

    test "defaults the OS to linux and the ABI to gnu (gnueabihf on ARM)" do
      assert Target.rust_target(%{"TARGET_ARCH" => "aarch64"}) == "aarch64-unknown-linux-gnu"
      assert Target.rust_target(%{"TARGET_ARCH" => "arm"}) == "armv7-unknown-linux-gnueabihf"
      assert Target.rust_target(%{"TARGET_ARCH" => ""}) == nil
    end

    test "WASMEX_INTERP_TARGET wins" do
      env =
        Map.put(
          nerves("arm", "cortex_a7", "gnueabihf"),
          "WASMEX_INTERP_TARGET",
          "thumbv7neon-unknown-linux-gnueabihf"
        )

      assert Target.rust_target(env) == "thumbv7neon-unknown-linux-gnueabihf"
    end
  end

  describe "Target.host/1" do
    test "maps OTP's system architecture to a Rust triple" do
      for {arch, triple} <- [
            {"x86_64-pc-linux-gnu", "x86_64-unknown-linux-gnu"},
            {"aarch64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"},
            {"riscv64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu"},
            {"armv7l-unknown-linux-gnueabihf", "armv7-unknown-linux-gnueabihf"},
            {"aarch64-alpine-linux-musl", "aarch64-unknown-linux-musl"},
            {"x86_64-apple-darwin22.1.0", "x86_64-apple-darwin"}
          ] do
        assert Target.host(arch) == triple
      end

      assert Target.native?(nil)
      assert Target.native?(Target.host())
      refute Target.native?("armv7-unknown-linux-gnueabihf")
    end
  end

  describe "Cargo.check_version/2" do
    test "refuses a cargo older than rust-version, as Debian 12's 1.65" do
      assert Cargo.rust_version() =~ ~r/^1\.\d+$/
      assert Cargo.check_version("cargo 1.65.0", "1.85") == {:error, "1.65.0"}

      assert Cargo.check_version("cargo 1.84.1 (66221abde 2024-11-19)", "1.85") ==
               {:error, "1.84.1"}

      assert Cargo.check_version("cargo 1.85.0 (d73d2caf9 2024-12-31)", "1.85") == :ok
      assert Cargo.check_version("cargo 2.0.0", "1.85") == :ok
      assert Cargo.check_version("not cargo", "1.85") == {:error, "not cargo"}
    end
  end

  describe "Cargo.env/2" do
    test "is empty when building for this machine" do
      assert Cargo.env(nil, %{"CC" => "gcc"}) == []
    end

    test "links with CC unless a linker is configured" do
      assert Cargo.env("riscv64gc-unknown-linux-gnu", %{"CC" => "riscv64-gcc"}) ==
               [{"CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER", "riscv64-gcc"}]

      env = %{"CC" => "cc", "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER" => "mine"}
      assert Cargo.env("riscv64gc-unknown-linux-gnu", env) == []
      assert Cargo.env("riscv64gc-unknown-linux-gnu", %{}) == []
    end

    test "links libatomic as needed on 32-bit ARM, after the user's flags" do
      flag = "-C link-arg=-Wl,--push-state,--as-needed,-latomic,--pop-state"

      assert Cargo.env("armv7-unknown-linux-gnueabihf", %{"CC" => "arm-gcc"}) == [
               {"CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER", "arm-gcc"},
               {"CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS", flag}
             ]

      env = %{
        "CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS" => "-C target-cpu=arm1176jzf-s"
      }

      assert Cargo.env("arm-unknown-linux-gnueabihf", env) == [
               {"CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS",
                "-C target-cpu=arm1176jzf-s " <> flag}
             ]

      assert Cargo.env("arm-unknown-linux-gnueabihf", %{"WASMEX_INTERP_LIBATOMIC" => "0"}) ==
               []

      assert Cargo.env("aarch64-unknown-linux-gnu", %{}) == []
    end

    test "links musl's C runtime dynamically: a NIF is loaded into a dynamic BEAM" do
      assert Cargo.env("x86_64-unknown-linux-musl", %{"CC" => "musl-gcc"}) == [
               {"CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER", "musl-gcc"},
               {"CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
                "-C target-feature=-crt-static"}
             ]
    end
  end
end
