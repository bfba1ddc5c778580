defmodule WasmexInterp.PackageTest do
  # The package builds from exactly the files mix.exs publishes: copied into an empty
  # directory, compiled from source (cargo included) and run. Slow (the NIF's own crates
  # are built again: about a minute and a half), so it runs in scripts/test, not by
  # default. Cargo's dependencies come from this project's target/ (CARGO_TARGET_DIR).
  use ExUnit.Case, async: true

  @moduletag :tmp_dir
  @moduletag :slow
  @moduletag timeout: 900_000

  test "the package's files build and run", %{tmp_dir: tmp} do
    package = WasmexInterp.Package.copy!(Path.join(tmp, "wasmex_interp"))
    root = Path.dirname(Mix.Project.project_file())

    env = [
      {"MIX_ENV", "prod"},
      {"WASMEX_INTERP_BUILD", "1"},
      {"WASMEX_INTERP_PRECOMPILED_URL", nil},
      {"WASMEX_INTERP_NIF_PATH", nil},
      {"CARGO_TARGET_DIR", System.get_env("CARGO_TARGET_DIR", Path.join(root, "target"))}
    ]

    {output, status} = WasmexInterp.Package.run_add(package, env)
    assert status == 0, output
    assert output =~ "Compiling NIF wasmex_interp (cargo build --release"
    assert output =~ "add: {:ok, [5]}"
    refute output =~ "warning"
  end
end
