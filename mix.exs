# The NIF's compile step (a Mix compiler) lives in mix/: loaded here, so that it can
# build this very project as well as a project that depends on it.
for file <- ~w(target cargo precompiled) do
  Code.require_file("mix/wasmex_interp/#{file}.ex", __DIR__)
end

Code.require_file("mix/compile.wasmex_interp.ex", __DIR__)

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
      package: package()
    ]
  end

  def application do
    [mod: {Wasmex.Application, []}, extra_applications: [:logger]]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  # Exactly what is needed to build the package from source (test/mix/package_test.exs
  # checks that these files alone build). bench/raw, fuzz and tools/spectest are members of
  # the cargo workspace: cargo reads their manifests even to build only the NIF.
  defp package do
    [
      files: ~w(lib mix native Cargo.toml Cargo.lock bench/raw/Cargo.toml bench/raw/src
           fuzz/Cargo.toml fuzz/src tools/spectest/Cargo.toml tools/spectest/src mix.exs .formatter.exs checksum-Elixir.Wasmex.Native.exs
           README.md CHANGELOG.md LICENSE) ++ vendored(),
      licenses: ["MIT"],
      links: %{
        "Wasmex (the API)" => "https://github.com/tessi/wasmex",
        "wasmi (the interpreter)" => "https://github.com/wasmi-labs/wasmi"
      }
    ]
  end

  # Patched crates that Cargo.toml's [patch.crates-io] points at, when there are any.
  defp vendored, do: if(File.dir?(Path.join(__DIR__, "vendor")), do: ["vendor"], else: [])

  defp aliases do
    [demo: ["run examples/demo.exs"]]
  end
end
