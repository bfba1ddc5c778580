defmodule Mix.Tasks.Compile.WasmexInterp do
  @shortdoc "Builds the wasmex_interp NIF with cargo"
  @moduledoc """
  Builds the Rust NIF (`native/wasmex_interp`) with cargo and copies it to
  `priv/native/libwasmex_interp.so`.

  This replaces rustler's Mix package, which needs hex. The crate is always built with the
  release profile (wasmi is many times slower unoptimised), also in dev and test. Cargo
  is not run when the library in `priv/native/` is newer than every Rust source and was
  built for the same target.

  ## Environment

    * `WASMEX_INTERP_NIF_PATH` - use this prebuilt library instead of building one: it is
      copied to `priv/native/` (and so into releases), and `Wasmex.Native` also loads it
      from this path when the variable is set at run time.
    * `WASMEX_INTERP_FORCE_BUILD` - run cargo even if the library looks up to date.
    * `WASMEX_INTERP_TARGET` - build for this Rust target triple (cross-compiling).
    * `WASMEX_INTERP_LIBATOMIC` - `0` to not link libatomic on 32-bit ARM (see below).
    * `CARGO` - the cargo executable. Defaults to `cargo`.

  ## Cross-compiling, and Nerves

  When `TARGET_ARCH` is set, as Nerves sets it for a `MIX_TARGET` other than `host`
  (with `TARGET_CPU`, `TARGET_OS`, `TARGET_ABI` and `CC`), the crate is built for the
  matching Rust target (see `rust_target/1`) with `cargo build --target` and linked with
  `CC`, unless `CARGO_TARGET_<TRIPLE>_LINKER` already names a linker. The Rust standard
  library for the target must be installed (`rustup target add <triple>`).
  On 32-bit ARM, libatomic is linked if (and only if) the library needs it
  (`--as-needed`). Rust has native 32- and 64-bit atomics on ARMv6 and later, so today it
  does not; the flag is there for C code a dependency might bring.
  """
  use Mix.Task.Compiler

  @crate "wasmex_interp"
  @library "priv/native/libwasmex_interp.so"
  # Which target the library in priv/native was built for: host and Nerves builds share it.
  @stamp "priv/native/libwasmex_interp.target"

  @impl true
  def run(_args) do
    target = rust_target(System.get_env())

    prebuilt = System.get_env("WASMEX_INTERP_NIF_PATH")

    cond do
      prebuilt not in [nil, ""] ->
        install_prebuilt(prebuilt)

      up_to_date?(target) and System.get_env("WASMEX_INTERP_FORCE_BUILD") in [nil, ""] ->
        {:noop, []}

      true ->
        build(target)
    end
  end

  @doc """
  The Rust target triple to build for, from the environment; `nil` for this machine.

  `WASMEX_INTERP_TARGET` wins; otherwise the Nerves variables decide. 32-bit ARM is
  `armv7` unless `TARGET_CPU` is an ARMv6 core (Raspberry Pi 0 and 1: `arm1176jzf_s`) or
  an ARMv5 one (`arm926ej_s`), and `riscv64` is Rust's `riscv64gc`.

      iex> Mix.Tasks.Compile.WasmexInterp.rust_target(%{})
      nil
      iex> Mix.Tasks.Compile.WasmexInterp.rust_target(%{"TARGET_ARCH" => "aarch64",
      ...>   "TARGET_OS" => "linux", "TARGET_ABI" => "gnu"})
      "aarch64-unknown-linux-gnu"
      iex> Mix.Tasks.Compile.WasmexInterp.rust_target(%{"TARGET_ARCH" => "arm",
      ...>   "TARGET_CPU" => "cortex_a7", "TARGET_OS" => "linux", "TARGET_ABI" => "gnueabihf"})
      "armv7-unknown-linux-gnueabihf"
      iex> Mix.Tasks.Compile.WasmexInterp.rust_target(%{"TARGET_ARCH" => "arm",
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
  The environment variables cargo needs to build for `target`, given the environment
  `env`: the linker (`CC`) and, on 32-bit ARM, libatomic.

      iex> Mix.Tasks.Compile.WasmexInterp.cargo_env(nil, %{"CC" => "gcc"})
      []
      iex> Mix.Tasks.Compile.WasmexInterp.cargo_env("aarch64-unknown-linux-gnu",
      ...>   %{"CC" => "/nerves/bin/aarch64-nerves-linux-gnu-gcc"})
      [{"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "/nerves/bin/aarch64-nerves-linux-gnu-gcc"}]
  """
  @spec cargo_env(String.t() | nil, %{optional(String.t()) => String.t()}) ::
          [{String.t(), String.t()}]
  def cargo_env(nil, _env), do: []

  def cargo_env(target, env) do
    prefix = "CARGO_TARGET_" <> String.upcase(String.replace(target, ~r/[-.]/, "_"))
    linker = prefix <> "_LINKER"
    rustflags = prefix <> "_RUSTFLAGS"

    linker_env =
      if non_empty(env[linker], nil) == nil and non_empty(env["CC"], nil) != nil,
        do: [{linker, env["CC"]}],
        else: []

    atomic_env =
      if String.starts_with?(target, "arm") and env["WASMEX_INTERP_LIBATOMIC"] != "0" do
        flag = "-C link-arg=-Wl,--push-state,--as-needed,-latomic,--pop-state"
        [{rustflags, String.trim("#{env[rustflags]} #{flag}")}]
      else
        []
      end

    linker_env ++ atomic_env
  end

  defp build(target) do
    cargo = System.get_env("CARGO", "cargo")

    unless System.find_executable(cargo) do
      Mix.raise("""
      cargo was not found, so the wasmex_interp NIF cannot be built.
      Install Rust (https://rustup.rs), or set WASMEX_INTERP_NIF_PATH to a prebuilt
      libwasmex_interp.so.
      """)
    end

    target_args = if target, do: ["--target", target], else: []

    Mix.shell().info(
      "Compiling NIF #{@crate} (cargo build --release #{Enum.join(target_args, " ")})"
    )

    args = ["build", "--release", "--locked", "-p", @crate] ++ target_args
    env = cargo_env(target, System.get_env())

    case System.cmd(cargo, args, env: env, stderr_to_stdout: true, into: IO.stream(:stdio, :line)) do
      {_, 0} -> install(target)
      {_, status} -> Mix.raise("cargo build failed with exit status #{status}")
    end
  end

  defp install(target) do
    dir = target_dir(target)

    built =
      ["libwasmex_interp.so", "libwasmex_interp.dylib"]
      |> Enum.map(&Path.join(dir, &1))
      |> Enum.find(&File.exists?/1) ||
        Mix.raise("cargo succeeded but no library was found in #{dir}")

    copy(built, stamp(target))
  end

  # A prebuilt library is copied to priv/native, so that a release (a Nerves firmware)
  # carries it like a built one.
  defp install_prebuilt(path) do
    unless File.regular?(path) do
      Mix.raise("WASMEX_INTERP_NIF_PATH is #{path}, which is not a file")
    end

    if File.read(@library) == File.read(path) do
      {:noop, []}
    else
      Mix.shell().info("Using the prebuilt NIF #{path}")
      copy(path, "prebuilt")
    end
  end

  defp copy(built, stamp) do
    File.mkdir_p!(Path.dirname(@library))
    # Copy to a temporary name first: a running BEAM may have the old library mapped.
    File.cp!(built, @library <> ".tmp")
    File.rename!(@library <> ".tmp", @library)
    File.write!(@stamp, stamp)
    copy_to_build(Path.join(Mix.Project.app_path(), "priv"))
    {:ok, []}
  end

  # Mix links priv/ into _build, or copies it (`build_embedded: true`, as in many Nerves
  # projects) before compilers run: then the copy must get the new library too.
  defp copy_to_build(build_priv) do
    case File.lstat(build_priv) do
      {:ok, %File.Stat{type: :directory}} ->
        File.mkdir_p!(Path.join(build_priv, "native"))

        for file <- [@library, @stamp] do
          File.cp!(file, Path.join(build_priv, Path.relative_to(file, "priv")))
        end

      _ ->
        :ok
    end
  end

  defp target_dir(target) do
    Path.join([System.get_env("CARGO_TARGET_DIR", "target"), target || "", "release"])
  end

  defp stamp(target), do: target || "host"

  defp up_to_date?(target) do
    with {:ok, %{mtime: built}} <- File.stat(@library, time: :posix),
         {:ok, stamp} <- File.read(@stamp),
         true <- stamp == stamp(target) do
      Enum.all?(sources(), &(mtime(&1) <= built))
    else
      _ -> false
    end
  end

  defp sources do
    ["Cargo.toml", "Cargo.lock"] ++
      Path.wildcard("native/*/Cargo.toml") ++ Path.wildcard("native/*/src/**/*.rs")
  end

  defp mtime(path) do
    case File.stat(path, time: :posix) do
      {:ok, %{mtime: mtime}} -> mtime
      {:error, _} -> 0
    end
  end
end

defmodule WasmexInterp.MixProject do
  use Mix.Project

  @version "0.1.0"

  def project do
    [
      app: :wasmex_interp,
      version: @version,
      elixir: "~> 1.14",
      compilers: [:wasmex_interp | Mix.compilers()],
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: Mix.env() == :prod,
      deps: [],
      aliases: aliases(),
      description: "The Wasmex API (WebAssembly for Elixir) on the wasmi interpreter",
      package: [files: ~w(lib native priv/.gitkeep Cargo.toml Cargo.lock mix.exs README.md)]
    ]
  end

  def application do
    [mod: {Wasmex.Application, []}, extra_applications: [:logger]]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  defp aliases do
    [demo: ["run examples/demo.exs"]]
  end
end
