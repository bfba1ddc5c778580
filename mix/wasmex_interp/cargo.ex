defmodule WasmexInterp.Build.Cargo do
  @moduledoc """
  Builds the NIF crate (`native/wasmex_interp`) from source with cargo, for this machine
  or, cross-compiling, for a Rust target triple.

  The crate is always built with the release profile (wasmi is many times slower
  unoptimised). Cargo is found as `CARGO` or `cargo` on `PATH`; it must be at least the
  `rust-version` of `Cargo.toml`, checked before building so that an old cargo fails
  with a clear message (Debian 12's cargo 1.65 cannot even read the lock file).
  """

  @crate "wasmex_interp"

  @doc """
  The oldest Rust that builds the crate: `rust-version` in `Cargo.toml` (in `root`).
  """
  @spec rust_version(Path.t()) :: String.t()
  def rust_version(root \\ File.cwd!()) do
    manifest = File.read!(Path.join(root, "Cargo.toml"))
    [_, version] = Regex.run(~r/^rust-version\s*=\s*"([\d.]+)"/m, manifest)
    version
  end

  @doc """
  Checks that `version_output` (what `cargo --version` printed) is at least `minimum`;
  returns `:ok` or `{:error, found}` with the version found.

      iex> WasmexInterp.Build.Cargo.check_version("cargo 1.95.0 (f2d3ce0bd 2026-03-21)", "1.85")
      :ok
      iex> WasmexInterp.Build.Cargo.check_version("cargo 1.65.0", "1.85")
      {:error, "1.65.0"}
  """
  @spec check_version(String.t(), String.t()) :: :ok | {:error, String.t()}
  def check_version(version_output, minimum) do
    with [_, found] <- Regex.run(~r/^cargo (\d+\.\d+\.\d+)/, version_output),
         :lt <- Version.compare(found, full_version(minimum)) do
      {:error, found}
    else
      nil -> {:error, String.trim(version_output)}
      _ -> :ok
    end
  end

  defp full_version(version) do
    case String.split(version, ".") do
      [_, _] -> version <> ".0"
      _ -> version
    end
  end

  @doc """
  The environment variables cargo needs to build for `target` (`nil`: this machine),
  given the environment `env`: the linker (`CC`, as Nerves sets it), on 32-bit ARM
  libatomic, and on musl a dynamically linked C runtime (a NIF is a shared library
  loaded into a dynamically linked BEAM).

      iex> WasmexInterp.Build.Cargo.env(nil, %{"CC" => "gcc"})
      []
      iex> WasmexInterp.Build.Cargo.env("aarch64-unknown-linux-gnu",
      ...>   %{"CC" => "/nerves/bin/aarch64-nerves-linux-gnu-gcc"})
      [{"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "/nerves/bin/aarch64-nerves-linux-gnu-gcc"}]
  """
  @spec env(String.t() | nil, %{optional(String.t()) => String.t()}) ::
          [{String.t(), String.t()}]
  def env(nil, _env), do: []

  def env(target, env) do
    prefix = "CARGO_TARGET_" <> String.upcase(String.replace(target, ~r/[-.]/, "_"))
    linker = prefix <> "_LINKER"
    rustflags = prefix <> "_RUSTFLAGS"

    linker_env =
      if env[linker] in [nil, ""] and env["CC"] not in [nil, ""],
        do: [{linker, env["CC"]}],
        else: []

    extra =
      Enum.filter(
        [
          String.starts_with?(target, "arm") and env["WASMEX_INTERP_LIBATOMIC"] != "0" &&
            "-C link-arg=-Wl,--push-state,--as-needed,-latomic,--pop-state",
          String.contains?(target, "-musl") && "-C target-feature=-crt-static"
        ],
        &is_binary/1
      )

    # Appended to the user's own flags for the target: cargo reads only one variable.
    flags_env =
      if extra == [],
        do: [],
        else: [
          {rustflags, Enum.join(Enum.reject([env[rustflags] | extra], &(&1 in [nil, ""])), " ")}
        ]

    linker_env ++ flags_env
  end

  @doc """
  Builds the crate for `target` (`nil`: this machine) and returns the path of the
  library cargo made. Raises with a message saying what to do when cargo is missing,
  too old, or fails.
  """
  @spec build!(String.t() | nil) :: Path.t()
  def build!(target) do
    cargo = cargo!()
    target_args = if target, do: ["--target", target], else: []

    Mix.shell().info(
      "Compiling NIF #{@crate} (cargo build --release #{Enum.join(target_args, " ")})"
    )

    args = ["build", "--release", "--locked", "-p", @crate] ++ target_args

    opts = [
      env: env(target, System.get_env()),
      stderr_to_stdout: true,
      into: IO.stream(:stdio, :line)
    ]

    case System.cmd(cargo, args, opts) do
      {_, 0} ->
        library!(target)

      {_, status} ->
        Mix.raise("cargo build of the wasmex_interp NIF failed (exit status #{status})")
    end
  end

  defp cargo! do
    cargo = System.get_env("CARGO", "cargo")
    minimum = rust_version()

    path =
      System.find_executable(cargo) ||
        Mix.raise("""
        cargo was not found, so the wasmex_interp NIF cannot be built from source.
        Either install Rust #{minimum} or newer (https://rustup.rs), or use a precompiled
        NIF: set WASMEX_INTERP_PRECOMPILED_URL (or `config :wasmex_interp, precompiled_url:`)
        to where its archives are published, or WASMEX_INTERP_NIF_PATH to a built
        libwasmex_interp.so.
        """)

    {output, _} = System.cmd(path, ["--version"], stderr_to_stdout: true)

    case check_version(output, minimum) do
      :ok ->
        path

      {:error, found} ->
        Mix.raise("""
        the wasmex_interp NIF needs Rust #{minimum} or newer to build, but #{path} is \
        cargo #{found}.
        Install a current Rust with rustup (https://rustup.rs) and put its cargo first in
        PATH (or set CARGO), or use a precompiled NIF (WASMEX_INTERP_PRECOMPILED_URL).
        """)
    end
  end

  defp library!(target) do
    dir = Path.join([System.get_env("CARGO_TARGET_DIR", "target"), target || "", "release"])

    ["lib#{@crate}.so", "lib#{@crate}.dylib"]
    |> Enum.map(&Path.join(dir, &1))
    |> Enum.find(&File.exists?/1) ||
      Mix.raise("cargo succeeded but no library was found in #{dir}")
  end

  @doc """
  Every file whose change means the library must be built again.
  """
  @spec sources() :: [Path.t()]
  def sources do
    ["Cargo.toml", "Cargo.lock"] ++
      Path.wildcard("native/*/Cargo.toml") ++
      Path.wildcard("native/*/src/**/*.rs") ++ Path.wildcard("vendor/**/*.{rs,toml}")
  end
end
