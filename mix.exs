defmodule Mix.Tasks.Compile.WasmexInterp do
  @shortdoc "Builds the wasmex_interp NIF with cargo"
  @moduledoc """
  Builds the Rust NIF (`native/wasmex_interp`) with cargo and copies it to
  `priv/native/libwasmex_interp.so`.

  This replaces rustler's Mix package, which needs hex. The crate is always built with the
  release profile (wasmi is many times slower unoptimised), also in dev and test. Cargo
  is not run when the library in `priv/native/` is newer than every Rust source.

  ## Environment

    * `WASMEX_INTERP_NIF_PATH` - use this prebuilt library instead of building one.
    * `WASMEX_INTERP_FORCE_BUILD` - run cargo even if the library looks up to date.
    * `CARGO` - the cargo executable. Defaults to `cargo`.
  """
  use Mix.Task.Compiler

  @crate "wasmex_interp"
  @library "priv/native/libwasmex_interp.so"

  @impl true
  def run(_args) do
    cond do
      System.get_env("WASMEX_INTERP_NIF_PATH") not in [nil, ""] -> {:noop, []}
      up_to_date?() and System.get_env("WASMEX_INTERP_FORCE_BUILD") in [nil, ""] -> {:noop, []}
      true -> build()
    end
  end

  defp build do
    cargo = System.get_env("CARGO", "cargo")

    unless System.find_executable(cargo) do
      Mix.raise("""
      cargo was not found, so the wasmex_interp NIF cannot be built.
      Install Rust (https://rustup.rs), or set WASMEX_INTERP_NIF_PATH to a prebuilt
      libwasmex_interp.so.
      """)
    end

    Mix.shell().info("Compiling NIF #{@crate} (cargo build --release)")
    args = ["build", "--release", "--locked", "-p", @crate]

    case System.cmd(cargo, args, stderr_to_stdout: true, into: IO.stream(:stdio, :line)) do
      {_, 0} -> install()
      {_, status} -> Mix.raise("cargo build failed with exit status #{status}")
    end
  end

  defp install do
    built =
      ["libwasmex_interp.so", "libwasmex_interp.dylib"]
      |> Enum.map(&Path.join(target_dir(), &1))
      |> Enum.find(&File.exists?/1) ||
        Mix.raise("cargo succeeded but no library was found in #{target_dir()}")

    File.mkdir_p!(Path.dirname(@library))
    # Copy to a temporary name first: a running BEAM may have the old library mapped.
    File.cp!(built, @library <> ".tmp")
    File.rename!(@library <> ".tmp", @library)
    {:ok, []}
  end

  defp target_dir do
    Path.join(System.get_env("CARGO_TARGET_DIR", "target"), "release")
  end

  defp up_to_date? do
    case File.stat(@library, time: :posix) do
      {:ok, %{mtime: built}} -> Enum.all?(sources(), &(mtime(&1) <= built))
      {:error, _} -> false
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
    [extra_applications: [:logger]]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  defp aliases do
    [demo: ["run examples/demo.exs"]]
  end
end
